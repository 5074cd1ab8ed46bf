//! `tessera tenants delete`: what a tenant leaves in the table made harmless before its entry leaves the
//! signing-key document. Its items stay in the table (tokens until they expire; clients and trusted issuers
//! have no expiry), and a tenant created later under the same name would find them: so its tokens are revoked
//! (one watermark), its clients disabled and its trusted issuers removed first.

use serde::Serialize;
use tessera::domain::tenant::TenantId;
use tessera::domain::time::Timestamp;
use tessera::entropy::Entropy;
use tessera::events::RevocationEvent;
use tessera::store::{Record, TrustedIssuerSet};

use crate::clients::Registry;
use crate::revocation::RevokeRequest;

/// What [`retire`] did.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct RetiredTenant {
    /// The tenant.
    pub tenant: String,
    /// The id of the revocation event that revoked every token of the tenant.
    pub revocation_event_id: String,
    /// The clients disabled (those already disabled are left as they are).
    pub clients_disabled: Vec<String>,
    /// The trusted issuers removed.
    pub trusted_issuers_removed: Vec<String>,
}

/// Revokes every token of `tenant` issued up to `now`, disables its clients and removes its trusted issuers.
/// Safe to run again (a later watermark, nothing left to disable or remove). Refuses the default tenant.
pub async fn retire(
    store: &dyn Registry,
    tenant: &TenantId,
    now: Timestamp,
    entropy: &dyn Entropy,
) -> Result<RetiredTenant, String> {
    if *tenant == TenantId::default() {
        return Err("the default tenant cannot be deleted".into());
    }
    let request = RevokeRequest {
        tenant: tenant.to_string(),
        all_tokens: true,
        reason: "tenant_deleted".into(),
        ..Default::default()
    };
    let event = RevocationEvent::from_detail(request.detail(entropy)?, None).map_err(|e| e.to_string())?;
    event.apply(store, now).await.map_err(|e| e.to_string())?;
    let mut clients_disabled = Vec::new();
    for mut client in store.list_clients(tenant).await.map_err(|e| e.to_string())? {
        if !client.disabled {
            client.disabled = true;
            clients_disabled.push(client.client_id.to_string());
            store.put_client(client).await.map_err(|e| e.to_string())?;
        }
    }
    let issuers = store.list_trusted_issuers(tenant).await.map_err(|e| e.to_string())?;
    if !issuers.is_empty() {
        let empty = TrustedIssuerSet { tenant: tenant.clone(), entries: Vec::new() };
        store.put(Record::TrustedIssuers(empty)).await.map_err(|e| e.to_string())?;
    }
    Ok(RetiredTenant {
        tenant: tenant.to_string(),
        revocation_event_id: event.event_id.clone(),
        clients_disabled,
        trusted_issuers_removed: issuers.into_iter().map(|i| i.issuer).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera::config::Config;
    use tessera::domain::revocation::WatermarkTarget;
    use tessera::entropy::SystemEntropy;
    use tessera::store::memory::MemoryStore;
    use tessera::store::{ClientRegistry, StoreKey, TokenStore};

    #[tokio::test]
    async fn a_retired_tenant_leaves_nothing_usable_behind() {
        let toml = "[[tenants]]\nname = \"acme\"\n\n[[clients]]\ntenant = \"acme\"\nclient_id = \"svc\"\n\
                    client_secret = \"svc-secret-0123456789abcdef0123\"\n\n[[clients]]\nclient_id = \"other\"\n\
                    client_secret = \"other-secret-0123456789abcdef01\"\n\n[[trusted_issuers]]\ntenant = \"acme\"\n\
                    issuer = \"https://idp.example\"\naudiences = [\"https://api.example\"]\n\
                    algorithms = [\"ES256\"]\njwks = '{\"keys\": []}'\n";
        let config = Config::from_toml(toml).unwrap();
        let store = MemoryStore::with_clients(config.clients(&SystemEntropy).unwrap());
        store.put_trusted_issuer(config.trusted_issuers[0].clone()).await.unwrap();
        let acme = TenantId::parse("acme").unwrap();
        let now = Timestamp::from_micros(1_800_000_000_000_000);

        let retired = retire(&store, &acme, now, &SystemEntropy).await.unwrap();
        assert_eq!(retired.clients_disabled, ["svc"]);
        assert_eq!(retired.trusted_issuers_removed, ["https://idp.example"]);
        assert!(store.list_clients(&acme).await.unwrap().iter().all(|c| c.disabled));
        assert!(store.list_trusted_issuers(&acme).await.unwrap().is_empty());
        let watermark = store.get_many(&[StoreKey::watermark(&acme, &WatermarkTarget::Tenant)]).await.unwrap();
        assert_eq!(watermark.len(), 1, "every token of acme revoked");
        // The default tenant is untouched, and cannot be retired.
        let default = TenantId::default();
        assert!(store.list_clients(&default).await.unwrap().iter().all(|c| !c.disabled));
        assert!(retire(&store, &default, now, &SystemEntropy).await.is_err());
        // Again: nothing left to do, and no error.
        let again = retire(&store, &acme, now, &SystemEntropy).await.unwrap();
        assert!(again.clients_disabled.is_empty() && again.trusted_issuers_removed.is_empty());
    }
}

//! `tessera tenants delete`: what a tenant leaves in the table made harmless before its entry leaves the
//! signing-key document. Its clients and trusted issuers have no expiry and its tokens live until they expire,
//! and a tenant created later under the same name would find them: so its clients and trusted issuers are
//! deleted, then every token it issued is revoked (one watermark, reaching past the deletion for requests still
//! in flight).

use serde::Serialize;
use tessera::domain::tenant::TenantId;
use tessera::domain::time::Timestamp;
use tessera::entropy::Entropy;
use tessera::events::RevocationEvent;
use tessera::store::StoreKey;

use crate::clients::Registry;
use crate::revocation::RevokeRequest;

/// How far past the moment its clients were deleted the tenant's revocation reaches: a request that
/// authenticated a client just before may still be minting a token, and the operator's clock may run behind
/// the functions'. A tenant created again under the name within this margin has its first tokens revoked too.
pub const REVOCATION_MARGIN_SECS: u64 = 60;

/// What [`retire`] did.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct RetiredTenant {
    /// The tenant.
    pub tenant: String,
    /// The clients deleted.
    pub clients_deleted: Vec<String>,
    /// The trusted issuers deleted.
    pub trusted_issuers_deleted: Vec<String>,
    /// The id of the revocation event that revoked every token of the tenant.
    pub revocation_event_id: String,
    /// Every token of the tenant issued up to this time (epoch seconds) is inactive.
    pub revoked_before: u64,
}

/// Deletes the clients and trusted issuers of `tenant`, then revokes every token it issued up to `now()` (read
/// after the deletions) plus [`REVOCATION_MARGIN_SECS`]. Safe to run again. Refuses the default tenant. A failure
/// says which steps were done.
pub async fn retire(
    store: &dyn Registry,
    tenant: &TenantId,
    now: &dyn Fn() -> Timestamp,
    entropy: &dyn Entropy,
) -> Result<RetiredTenant, String> {
    if *tenant == TenantId::default() {
        return Err("the default tenant cannot be deleted".into());
    }
    let mut done = Vec::new();
    let failed = |done: &[String], err: String| {
        if done.is_empty() { err } else { format!("{err} (already done: {})", done.join("; ")) }
    };
    let clients = store.list_clients(tenant).await.map_err(|e| failed(&done, e.to_string()))?;
    let mut clients_deleted = Vec::with_capacity(clients.len());
    for client in clients {
        let key = StoreKey::client(tenant, &client.client_id);
        store.delete(&key).await.map_err(|e| failed(&done, e.to_string()))?;
        clients_deleted.push(client.client_id.to_string());
        done.push(format!("client {} deleted", client.client_id));
    }
    let issuers = store.list_trusted_issuers(tenant).await.map_err(|e| failed(&done, e.to_string()))?;
    if !issuers.is_empty() {
        store.delete(&StoreKey::trusted_issuers(tenant)).await.map_err(|e| failed(&done, e.to_string()))?;
        done.push("trusted issuers deleted".into());
    }
    let request = RevokeRequest {
        tenant: tenant.to_string(),
        all_tokens: true,
        reason: "tenant_deleted".into(),
        ..Default::default()
    };
    let event = RevocationEvent::from_detail(request.detail(entropy)?, None).map_err(|e| e.to_string())?;
    let revoked_before = now().plus_secs(REVOCATION_MARGIN_SECS);
    event.apply(store, revoked_before).await.map_err(|e| failed(&done, e.to_string()))?;
    Ok(RetiredTenant {
        tenant: tenant.to_string(),
        clients_deleted,
        trusted_issuers_deleted: issuers.into_iter().map(|i| i.issuer).collect(),
        revocation_event_id: event.event_id.clone(),
        revoked_before: revoked_before.as_secs(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera::config::Config;
    use tessera::domain::revocation::WatermarkTarget;
    use tessera::entropy::SystemEntropy;
    use tessera::store::memory::MemoryStore;
    use tessera::store::{RegistrationStore, TokenStore};

    #[tokio::test]
    async fn a_retired_tenant_leaves_nothing_usable_behind() {
        let toml = "[[tenants]]\nname = \"acme\"\n\n[[clients]]\ntenant = \"acme\"\nclient_id = \"svc\"\n\
                    client_secret = \"svc-secret-0123456789abcdef0123\"\n\n[[clients]]\nclient_id = \"other\"\n\
                    client_secret = \"other-secret-0123456789abcdef01\"\n\n[[trusted_issuers]]\ntenant = \"acme\"\n\
                    issuer = \"https://idp.example\"\naudiences = [\"https://api.example\"]\n\
                    algorithms = [\"ES256\"]\njwks = '{\"keys\": []}'\n";
        let config = Config::from_toml(toml).unwrap();
        let store = MemoryStore::with_clients(config.clients(&SystemEntropy).unwrap());
        store.put_trusted_issuer(config.trusted_issuers[0].to_registered().unwrap()).await.unwrap();
        let acme = TenantId::parse("acme").unwrap();
        let now = Timestamp::from_micros(1_800_000_000_000_000);

        let clock = || now;
        let retired = retire(&store, &acme, &clock, &SystemEntropy).await.unwrap();
        assert_eq!(retired.clients_deleted, ["svc"]);
        assert_eq!(retired.trusted_issuers_deleted, ["https://idp.example"]);
        assert_eq!(retired.revoked_before, now.as_secs() + REVOCATION_MARGIN_SECS);
        assert!(store.list_clients(&acme).await.unwrap().is_empty());
        assert!(store.list_trusted_issuers(&acme).await.unwrap().is_empty());
        // A token minted by a request that authenticated just before the deletion is inside the margin.
        let records = store.get_many(&[StoreKey::watermark(&acme, &WatermarkTarget::Tenant)]).await.unwrap();
        let fetched = tessera::store::Fetched::new(records, now);
        let marks = fetched.watermarks(&[StoreKey::watermark(&acme, &WatermarkTarget::Tenant)]);
        assert_eq!(marks, [now.plus_secs(REVOCATION_MARGIN_SECS)]);
        // The default tenant is untouched, and cannot be retired.
        let default = TenantId::default();
        assert_eq!(store.list_clients(&default).await.unwrap().len(), 1);
        assert!(retire(&store, &default, &clock, &SystemEntropy).await.is_err());
        // Again: nothing left to delete, and no error.
        let again = retire(&store, &acme, &clock, &SystemEntropy).await.unwrap();
        assert!(again.clients_deleted.is_empty() && again.trusted_issuers_deleted.is_empty());
    }
}

//! `tessera tenants`: create, list and delete tenants. A tenant is an entry of the signing-key document (its
//! issuer and keys, [`crate::keys`]); its clients and trusted issuers are in the table.
//!
//! Deletion makes what the tenant leaves in the table harmless before its entry leaves the document. Its
//! clients and trusted issuers have no expiry and its tokens live until they expire, and a tenant created later
//! under the same name would find them: so its clients and trusted issuers are deleted, then every token it
//! issued is revoked (one watermark, reaching past the deletion for requests still in flight), and only then is
//! it taken out of the document.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde::Serialize;
use tessera::announcement::{RevocationAnnouncer, RevocationCause};
use tessera::clock::{Clock, SystemClock};
use tessera::config::Config;
use tessera::domain::tenant::TenantId;
use tessera::domain::time::Timestamp;
use tessera::entropy::{Entropy, SystemEntropy};
use tessera::events::{ApplyError, RevocationEvent};
use tessera::jwt::keys::SigningAlgorithm;
use tessera::store::{StoreError, StoreKey};

use super::clients::Registry;
use super::keys::{KeyDocument, parse_alg};
use super::print_json_line;
use super::revoke::RevokeRequest;
use super::table::{EventBus, Table};
use crate::error::CliError;
use crate::keys;

/// `tessera tenants …`.
#[derive(Subcommand)]
pub enum TenantsCommand {
    /// Add a tenant, with a generated signing key, to the signing-key document. Its routes are /t/<name>/…;
    /// register its clients with `tessera clients register --tenant <name>`.
    Create {
        /// The tenant name (a-z, 0-9, '-').
        name: TenantId,
        /// Its issuer URL. Default: the default tenant's issuer followed by /t/<name>.
        #[arg(long)]
        issuer: Option<String>,
        /// The key's algorithm.
        #[arg(long, default_value = "ES256", value_parser = parse_alg)]
        alg: SigningAlgorithm,
        /// The key id. Default: <name>-1.
        #[arg(long)]
        kid: Option<String>,
        #[command(flatten)]
        document: KeyDocument,
    },
    /// List the tenants of the signing-key document, or of a configuration file: names, issuers, key ids.
    List {
        #[command(flatten)]
        document: KeyDocumentOrConfig,
    },
    /// Delete a tenant: delete its clients and trusted issuers from the table and revoke every token it issued (a
    /// tenant created later under the same name would otherwise find them), then take it out of the signing-key
    /// document. Its routes answer 404 once the functions re-read the document.
    Delete {
        /// The tenant name.
        name: TenantId,
        #[command(flatten)]
        table: Table,
        #[command(flatten)]
        document: KeyDocument,
        #[command(flatten)]
        event_bus: EventBus,
        /// Only delete what the tenant left in the table (for a tenant already taken out of the document).
        #[arg(long)]
        table_only: bool,
    },
}

/// The signing-key document, or a TOML configuration (default: as [`KeyDocument`]).
#[derive(Args)]
#[group(id = "source", multiple = false)]
pub struct KeyDocumentOrConfig {
    /// A local JSON signing-key document.
    #[arg(long)]
    keys_file: Option<PathBuf>,
    /// The Secrets Manager secret the functions read. Default: $SIGNING_KEYS_SECRET_ARN.
    #[arg(long)]
    secret_id: Option<String>,
    /// A TOML configuration (its [[tenants]]).
    #[arg(long)]
    config: Option<PathBuf>,
}

/// Runs a `tessera tenants` command, printing each tenant concerned as one JSON line.
pub async fn run(command: TenantsCommand) -> Result<(), CliError> {
    match command {
        TenantsCommand::Create { name, issuer, alg, kid, document } => {
            document.edit(|doc| keys::create_tenant(doc, &name, issuer, alg, kid)).await?;
        }
        TenantsCommand::List { document: KeyDocumentOrConfig { keys_file, secret_id, config } } => {
            let tenants = match config {
                Some(path) => keys::tenants_of_config(&Config::load(&path)?),
                None => {
                    keys::tenants_of_document(&KeyDocument { keys_file, secret_id }.location().await?.read().await?)
                }
            };
            for tenant in tenants {
                print_json_line(&tenant)?;
            }
        }
        TenantsCommand::Delete { name, table, document, event_bus, table_only } => {
            delete(name, table, document, &event_bus, table_only).await?
        }
    }
    Ok(())
}

/// `tenants delete`: the table part ([`retire`]), then the document's entry, unless `table_only`.
async fn delete(
    name: TenantId,
    table: Table,
    document: KeyDocument,
    event_bus: &EventBus,
    table_only: bool,
) -> Result<(), CliError> {
    if name == TenantId::default() {
        return Err(CliError::DefaultTenantUndeletable);
    }
    let location = document.location().await?;
    // Checked before the table is touched: a name the document does not have is a typo, or a tenant already
    // taken out by hand (then --table-only cleans its table data).
    if !table_only && !location.read().await?.tenants.contains_key(&name) {
        return Err(CliError::TenantNotInDocument(name));
    }
    let announcer = event_bus.announcer().await;
    let retired =
        retire(&table.open().await?, announcer.as_ref(), &name, &|| SystemClock.now(), &SystemEntropy).await?;
    if !table_only {
        // Read again just before the write: an edit made meanwhile (a key added elsewhere) is kept.
        let mut doc = location.read().await?;
        keys::delete_tenant(&mut doc, &name)
            .map_err(|e| CliError::DocumentNotUpdated { source: Box::new(e), retired: serde_json::json!(retired) })?;
        location.write(&doc).await?;
    }
    print_json_line(&retired)
}

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
    announcer: &dyn RevocationAnnouncer,
    tenant: &TenantId,
    now: &dyn Fn() -> Timestamp,
    entropy: &dyn Entropy,
) -> Result<RetiredTenant, CliError> {
    if *tenant == TenantId::default() {
        return Err(CliError::DefaultTenantUndeletable);
    }
    let mut done = Vec::new();
    let failed = |done: &[String], source: StoreError| {
        if done.is_empty() {
            CliError::Store(source)
        } else {
            CliError::RetirementInterrupted { source, done: done.to_vec() }
        }
    };
    let clients = store.list_clients(tenant).await.map_err(|e| failed(&done, e))?;
    let mut clients_deleted = Vec::with_capacity(clients.len());
    for client in clients {
        let key = StoreKey::client(tenant, &client.client_id);
        store.delete(&key).await.map_err(|e| failed(&done, e))?;
        clients_deleted.push(client.client_id.to_string());
        done.push(format!("client {} deleted", client.client_id));
    }
    let issuers = store.list_trusted_issuers(tenant).await.map_err(|e| failed(&done, e))?;
    if !issuers.is_empty() {
        store.delete(&StoreKey::trusted_issuers(tenant)).await.map_err(|e| failed(&done, e))?;
        done.push("trusted issuers deleted".into());
    }
    // Its Shared Signals transmitters go too: a deleted tenant takes no more pushes.
    if !store.list_ssf_transmitters(tenant).await.map_err(|e| failed(&done, e))?.is_empty() {
        store.delete(&StoreKey::ssf_transmitters(tenant)).await.map_err(|e| failed(&done, e))?;
        done.push("SSF transmitters deleted".into());
    }
    let request = RevokeRequest {
        tenant: tenant.to_string(),
        all_tokens: true,
        reason: "tenant_deleted".into(),
        ..Default::default()
    };
    let (_, event) = request.event(entropy)?;
    let event = RevocationEvent { cause: RevocationCause::Operator, ..event };
    let revoked_before = now().plus_secs(REVOCATION_MARGIN_SECS);
    event.apply(store, announcer, revoked_before).await.map_err(|e| match e {
        ApplyError::Store(e) => failed(&done, e),
        ApplyError::NotAnnounced(e) => CliError::NotAnnounced(e),
    })?;
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
        let announced = tessera::announcement::recent::RecentAnnouncements::default();
        let retired = retire(&store, &announced, &acme, &clock, &SystemEntropy).await.unwrap();
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
        let [announcement] = <[_; 1]>::try_from(announced.all()).unwrap();
        assert_eq!(announcement.kind, tessera::announcement::RevokedKind::Tenant);
        assert_eq!(announcement.cause, RevocationCause::Operator);
        assert_eq!(announcement.revoked_at, now.plus_secs(REVOCATION_MARGIN_SECS).as_micros());
        assert_eq!(announcement.event_id.as_deref(), Some(retired.revocation_event_id.as_str()));
        // The default tenant is untouched, and cannot be retired.
        let default = TenantId::default();
        assert_eq!(store.list_clients(&default).await.unwrap().len(), 1);
        assert!(retire(&store, &announced, &default, &clock, &SystemEntropy).await.is_err());
        // Again: nothing left to delete, and no error.
        let again = retire(&store, &announced, &acme, &clock, &SystemEntropy).await.unwrap();
        assert!(again.clients_deleted.is_empty() && again.trusted_issuers_deleted.is_empty());
    }
}

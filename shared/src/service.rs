//! `TokenService`: the ports (store, clock, entropy) and the per-tenant settings (issuer, keys, trusted
//! issuers), built once at init and shared by every request a function or the local runner serves.
//!
//! With a key document source ([`Sources`], [`build_service`]) the tenants and their keys are rebuilt from the
//! configuration and the document as it is now whenever the cache expires: a key added, promoted or removed, or
//! a tenant created or deleted, reaches running functions within the cache TTL, without a redeploy. A failed
//! re-read keeps the keys in hand and tries again soon, for at most the staleness bound; past it, requests fail
//! closed (503) until a read succeeds. Only the local runner generates keys for tenants that have none.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use http::StatusCode;

use crate::clock::Clock;
use crate::config::{Config, ConfigError, KeyConfig, KeySetDocument, key_ring};
use crate::domain::profile::PermissionMap;
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;
use crate::entropy::Entropy;
use crate::jwt::external::TrustedIssuer;
use crate::jwt::keys::{KeyRing, SigningAlgorithm, SigningKey};
use crate::key_source::{KeySource, KeySourceError};
#[cfg(any(test, feature = "test-support"))]
use crate::store::memory::MemoryStore;
use crate::store::{RegisteredIssuer, RegistrationStore, StoreError, TokenStore};
use crate::wire::{ErrorCode, OAuthError};

/// How long a failed key re-read waits before the next try, at most.
pub const KEY_RETRY_SECS: u64 = 30;

/// What differs per tenant: its issuer URL, its signing keys and its trusted issuers.
#[derive(Debug)]
pub struct TenantSettings {
    /// The `iss` of its tokens and the base of its endpoint URLs, without a trailing slash. `None`: taken
    /// from the API Gateway domain the request arrived on (`https://<domainName>`), for deployments without
    /// a configured issuer.
    pub issuer: Option<Arc<str>>,
    /// Its signing keys.
    pub keys: Arc<KeyRing>,
    /// The external issuers whose JWTs it accepts for token exchange and introspection.
    pub trusted_issuers: Arc<[TrustedIssuer]>,
    /// Its scope-to-resource permissions, for introspection profiles with `permissions`.
    pub permissions: PermissionMap,
    /// Its keys were generated (local runner): a re-read keeps them, or its tokens would stop verifying.
    generated_keys: bool,
}

impl TenantSettings {
    /// Settings with no trusted issuers and no permission mapping.
    pub fn new(issuer: Option<String>, keys: KeyRing) -> Self {
        Self {
            issuer: issuer.map(Arc::from),
            keys: Arc::new(keys),
            trusted_issuers: Arc::new([]),
            permissions: PermissionMap::default(),
            generated_keys: false,
        }
    }
}

/// A tenant as one request sees it: the issuer resolved, the settings of the moment held.
#[derive(Debug)]
pub struct Tenant<'a> {
    /// The tenant id.
    pub id: &'a TenantId,
    /// The issuer URL, without a trailing slash.
    pub issuer: Arc<str>,
    settings: Arc<TenantSettings>,
}

impl Tenant<'_> {
    /// The tenant's keys.
    pub fn keys(&self) -> &KeyRing {
        &self.settings.keys
    }

    /// The tenant's trusted external issuers.
    pub fn trusted_issuers(&self) -> &[TrustedIssuer] {
        &self.settings.trusted_issuers
    }

    /// The tenant's scope-to-resource permissions.
    pub fn permissions(&self) -> &PermissionMap {
        &self.settings.permissions
    }

    /// The trusted issuer whose `iss` is `issuer`.
    pub fn trusted_issuer(&self, issuer: &str) -> Option<&TrustedIssuer> {
        self.settings.trusted_issuers.iter().find(|t| t.issuer == issuer)
    }
}

type Tenants = HashMap<TenantId, Arc<TenantSettings>>;

/// Trusted issuers kept in the table, by tenant.
type TableIssuers = HashMap<TenantId, Vec<RegisteredIssuer>>;

/// Why a service could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The configuration (or the key document) is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The key document could not be read.
    #[error(transparent)]
    Keys(#[from] KeySourceError),
    /// The table's trusted issuers could not be read.
    #[error("cannot read the trusted issuers from the table: {0}")]
    Store(#[from] StoreError),
}

/// Where a service's tenants and keys come from besides its configuration, and how they are kept fresh.
#[derive(Clone, Default)]
pub struct Sources {
    /// The signing-key document (every tenant's keys, and tenants of its own), read when the service is built.
    pub keys: Option<KeyDocumentSource>,
    /// Trusted issuers registered in the table (`tessera issuers import`): read for every tenant at build time,
    /// and for each tenant that first appears on a re-read of the key document.
    pub registry: Option<Arc<dyn RegistrationStore>>,
    /// A tenant without keys gets a generated ES256 key of its own. For the local runner only: each process
    /// (each Lambda execution environment) would generate its own, and tokens would not verify across them.
    /// Off, a tenant without keys is a configuration error.
    pub generate_missing_keys: bool,
}

/// The key document's source and its cache.
#[derive(Clone)]
pub struct KeyDocumentSource {
    /// Where the document is read from.
    pub source: Arc<dyn KeySource>,
    /// Re-read it once this many seconds have passed since the last read (on the service's clock). `None`:
    /// read once.
    pub ttl_secs: Option<u64>,
    /// Once this many seconds have passed since the last successful read, the service answers 503 (fails
    /// closed) until a read succeeds: keys removed from the document while it could not be read must not stay
    /// valid forever. `None`: no bound.
    pub max_stale_secs: Option<u64>,
}

/// Re-reading the key document.
struct KeyRefresh {
    source: Arc<dyn KeySource>,
    /// The configuration the tenants are built from: without the document, the issuer resolved.
    base: Config,
    registry: Option<Arc<dyn RegistrationStore>>,
    generate_missing_keys: bool,
    ttl_micros: u64,
    max_stale_micros: Option<u64>,
    /// When the next re-read is due (clock microseconds).
    due: AtomicU64,
    /// When the document was last read successfully (clock microseconds).
    read_at: AtomicU64,
    reloading: tokio::sync::Mutex<()>,
}

/// Everything the OAuth operations need, handed in.
pub struct TokenService {
    /// The token store.
    pub store: Arc<dyn TokenStore>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The randomness source.
    pub entropy: Arc<dyn Entropy>,
    tenants: RwLock<Arc<Tenants>>,
    refresh: Option<KeyRefresh>,
}

impl TokenService {
    /// A service with no tenants yet.
    pub fn new(store: Arc<dyn TokenStore>, clock: Arc<dyn Clock>, entropy: Arc<dyn Entropy>) -> Self {
        Self { store, clock, entropy, tenants: RwLock::new(Arc::new(HashMap::new())), refresh: None }
    }

    /// Adds (or replaces) a tenant.
    pub fn with_tenant(self, tenant: TenantId, settings: TenantSettings) -> Self {
        let mut tenants = (*self.snapshot()).clone();
        tenants.insert(tenant, Arc::new(settings));
        self.replace(tenants);
        self
    }

    fn snapshot(&self) -> Arc<Tenants> {
        self.tenants.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn replace(&self, tenants: Tenants) {
        *self.tenants.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(tenants);
    }

    /// Whether this deployment serves `tenant`, re-reading the key document when due; `Err` when it is too
    /// stale to say (fail closed).
    pub async fn serves(&self, tenant: &TenantId) -> Result<bool, StoreError> {
        if self.refresh_keys_if_due(self.clock.now()).await.is_err() {
            return Err(StoreError::Unavailable {
                reason: "the key document, which declares the tenants, cannot be read".into(),
                retry_after_secs: KEY_RETRY_SECS as u32,
            });
        }
        Ok(self.snapshot().contains_key(tenant))
    }

    /// `tenant` as seen by a request that arrived on `gateway_domain` at `now` (the request's one instant):
    /// 404 for a tenant this deployment does not serve, 503 when the key document has not been read for longer
    /// than its bound, 500 when no issuer is configured and the request did not come through API Gateway.
    pub async fn tenant<'a>(
        &'a self,
        tenant: &'a TenantId,
        gateway_domain: Option<&str>,
        now: Timestamp,
    ) -> Result<Tenant<'a>, OAuthError> {
        self.refresh_keys_if_due(now).await?;
        let settings = self
            .snapshot()
            .get(tenant)
            .cloned()
            .ok_or_else(|| OAuthError::invalid_request("unknown tenant").with_status(StatusCode::NOT_FOUND))?;
        let issuer: Arc<str> = match (&settings.issuer, gateway_domain) {
            (Some(issuer), _) => issuer.clone(),
            (None, Some(domain)) if tenant.as_str() == TenantId::DEFAULT => format!("https://{domain}").into(),
            (None, Some(domain)) => format!("https://{domain}/t/{tenant}").into(),
            (None, None) => {
                tracing::error!("no issuer configured and no API Gateway domain on the request");
                return Err(OAuthError::server_error());
            }
        };
        Ok(Tenant { id: tenant, issuer, settings })
    }

    /// Re-reads the key document when it is due; one request re-reads while the others go on with the keys in
    /// hand. A failure keeps them, logs an error, and is retried after at most [`KEY_RETRY_SECS`]; once the last
    /// good read is older than the staleness bound, every request fails closed (503) until a read succeeds.
    async fn refresh_keys_if_due(&self, now: Timestamp) -> Result<(), OAuthError> {
        let Some(refresh) = &self.refresh else { return Ok(()) };
        let now = now.as_micros();
        let too_stale = |read_at: u64| {
            let stale_for = now.saturating_sub(read_at);
            refresh.max_stale_micros.is_some_and(|bound| stale_for > bound).then_some(stale_for / 1_000_000)
        };
        if now >= refresh.due.load(Ordering::Acquire)
            && let Ok(_reloading) = refresh.reloading.try_lock()
            && now >= refresh.due.load(Ordering::Acquire)
        {
            let next = match self.reread(refresh).await {
                Ok((tenants, complete)) => {
                    tracing::info!(tenants = tenants.len(), "signing keys re-read");
                    self.replace(tenants);
                    refresh.read_at.store(now, Ordering::Release);
                    next_read_in(refresh.ttl_micros, complete)
                }
                Err(err) => {
                    // Logged once per attempt, not per request: an alarm on these errors is the operator's cue.
                    match too_stale(refresh.read_at.load(Ordering::Acquire)) {
                        Some(stale_secs) => tracing::error!(
                            event = KEY_REREAD_FAILED,
                            error = %err,
                            stale_secs,
                            "signing keys not re-read and too stale to serve: every request fails closed (503)"
                        ),
                        None => tracing::error!(
                            event = KEY_REREAD_FAILED,
                            error = %err,
                            "signing keys not re-read; keeping the current ones"
                        ),
                    }
                    next_read_in(refresh.ttl_micros, false)
                }
            };
            refresh.due.store(now.saturating_add(next), Ordering::Release);
        }
        match too_stale(refresh.read_at.load(Ordering::Acquire)) {
            Some(_) => {
                Err(OAuthError::new(ErrorCode::TemporarilyUnavailable, "the signing keys cannot be read; retry later")
                    .with_header("retry-after", KEY_RETRY_SECS.to_string()))
            }
            None => Ok(()),
        }
    }

    /// The tenants rebuilt from the base configuration and the document as it is now ([`assemble`]).
    async fn reread(&self, refresh: &KeyRefresh) -> Result<(Tenants, bool), ServiceError> {
        let document = refresh.source.load().await?;
        let previous = self.snapshot();
        assemble(
            &refresh.base,
            Some(document),
            Some(&previous),
            refresh.registry.as_deref(),
            refresh.generate_missing_keys,
        )
        .await
    }
}

/// How long until the next read of the key document: the TTL after a complete read, at most
/// [`KEY_RETRY_SECS`] after a failed or incomplete one.
fn next_read_in(ttl_micros: u64, complete: bool) -> u64 {
    if complete { ttl_micros } else { ttl_micros.min(KEY_RETRY_SECS * 1_000_000) }
}

/// The `event` field of every log that says the key document (or what a re-read needs besides it) could not be
/// applied: one name to alarm on.
pub const KEY_REREAD_FAILED: &str = "key_reread_failed";

/// The tenants of `base` with `document` applied, at init (no `previous`) or on a re-read: tenants and keys
/// taken out of the document are gone, and so is what the configuration still says of them ([`prune`]).
/// Tenants in `previous` keep their trusted issuers (and their JWKS caches); the others read theirs from the
/// table. On a re-read, a table that cannot be read leaves the new tenants out until the next try; a new
/// tenant of the document that cannot be built is left out too ([`build_tenants`]). `false`: something was
/// left out, read again soon. An invalid change to a tenant in `previous` (or to `default`) is an error, so the
/// keys in hand keep serving.
async fn assemble(
    base: &Config,
    document: Option<KeySetDocument>,
    previous: Option<&Tenants>,
    registry: Option<&dyn RegistrationStore>,
    generate_missing_keys: bool,
) -> Result<(Tenants, bool), ServiceError> {
    let mut config = base.clone();
    let from_document: Vec<TenantId> = document.iter().flat_map(|d| d.tenants.keys().cloned()).collect();
    let with_document = document.is_some();
    if let Some(document) = document {
        config.apply_key_document(document);
        if !generate_missing_keys {
            drop_keyless_tenants(&mut config);
        }
    }
    let new: Vec<TenantId> =
        config.tenant_ids().into_iter().filter(|t| previous.is_none_or(|p| !p.contains_key(t))).collect();
    let mut waiting = Vec::new();
    let table = match table_issuers(registry, &new).await {
        Ok(table) => table,
        // At init there is nothing to serve without them.
        Err(err) if previous.is_none() => return Err(err.into()),
        Err(err) => {
            tracing::error!(
                event = KEY_REREAD_FAILED,
                error = %err,
                tenants = %names(&new),
                "trusted issuers of new tenants not read; they are not served until a re-read reads them"
            );
            config.tenants.retain(|t| !new.contains(&t.name));
            waiting = new;
            TableIssuers::new()
        }
    };
    if with_document {
        // The entries of the tenants waiting for the table wait with them: not leftovers, so not logged as such.
        prune(&mut config, &waiting);
    }
    let (tenants, complete) =
        build_tenants(&config, previous, &table, generate_missing_keys, &|t| from_document.contains(t))?;
    Ok((tenants, complete && waiting.is_empty()))
}

fn names(tenants: &[TenantId]) -> String {
    tenants.iter().map(TenantId::as_str).collect::<Vec<_>>().join(",")
}

/// Takes out (and logs) the configuration's keyless `[[tenants]]` entries next to a key document that has no
/// keys for them: deleted there, or never created. Not for the local runner, which generates their keys.
fn drop_keyless_tenants(config: &mut Config) {
    let (keyless, kept) = std::mem::take(&mut config.tenants).into_iter().partition(|t| t.signing_keys.is_empty());
    config.tenants = kept;
    for tenant in keyless {
        tracing::error!(
            event = "config_entry_ignored",
            tenant = %tenant.name,
            "configuration tenant without keys, and the key document has none for it (deleted there, or never \
             created): not served"
        );
    }
}

/// Takes out what the configuration still says of tenants the key document no longer declares (clients, trusted
/// issuers and permissions naming an undeclared tenant), and logs it except for the tenants in `quiet`. A
/// deleted tenant's leftovers, or a typo: either way they must not keep the other tenants' changes from
/// applying, nor a function from starting.
fn prune(config: &mut Config, quiet: &[TenantId]) {
    for (tenant, entry) in config.drop_undeclared_tenant_entries() {
        if !quiet.contains(&tenant) {
            tracing::error!(
                event = "config_entry_ignored",
                entry = %entry,
                "configuration entry of a tenant that is not declared (a deleted tenant's leftover, or a typo); ignored"
            );
        }
    }
}

/// The trusted issuers the table holds for each of `tenants`.
async fn table_issuers(
    registry: Option<&dyn RegistrationStore>,
    tenants: &[TenantId],
) -> Result<TableIssuers, StoreError> {
    match registry {
        Some(registry) if !tenants.is_empty() => registry.trusted_issuers_of(tenants).await,
        _ => Ok(TableIssuers::new()),
    }
}

/// Every tenant of `config` (its `issuer` already resolved): `default` with the top-level issuer and keys,
/// then each `[[tenants]]` entry, whose issuer defaults to `<issuer>/t/<name>`. A tenant found in `previous`
/// keeps its trusted issuers; the others get the configuration's, joined by (and overridden by) the table's.
///
/// A new tenant (one not in `previous`; without `previous`, any but `default`) for which `may_leave_out` holds
/// (the key document's tenants) and that cannot be built (an invalid key, issuer or trusted issuer, or an issuer
/// another tenant has) is left out and logged, and the result is incomplete (`false`): one bad entry of the
/// document must not take every tenant down, on a re-read nor at a cold start. Any other error is the caller's.
fn build_tenants(
    config: &Config,
    previous: Option<&Tenants>,
    table: &TableIssuers,
    generate_missing_keys: bool,
    may_leave_out: &dyn Fn(&TenantId) -> bool,
) -> Result<(Tenants, bool), ConfigError> {
    config.check_tenants()?;
    let seen = |tenant: &TenantId| match previous {
        Some(previous) => previous.contains_key(tenant),
        None => tenant.as_str() == TenantId::DEFAULT,
    };
    let default = TenantId::default();
    let entries = std::iter::once((&default, None, config.signing_keys.as_slice()))
        .chain(config.tenants.iter().map(|t| (&t.name, t.issuer.as_deref(), t.signing_keys.as_slice())));
    // Tenants seen before first, so that a new tenant never takes an issuer from one of them.
    let (known, new): (Vec<_>, Vec<_>) = entries.partition(|(name, _, _)| seen(name));
    let mut issuers: HashMap<String, TenantId> = HashMap::new();
    let mut tenants = Tenants::new();
    let mut left_out = Vec::new();
    for (name, own_issuer, signing_keys) in known.into_iter().chain(new) {
        let built = build_tenant(config, previous, table, generate_missing_keys, name, own_issuer, signing_keys)
            .and_then(|settings| match settings.issuer.as_deref() {
                Some(issuer) => match issuers.get(issuer) {
                    Some(other) => {
                        Err(ConfigError::Invalid(format!("tenants {other} and {name} have the same issuer {issuer}")))
                    }
                    None => {
                        issuers.insert(issuer.to_owned(), name.clone());
                        Ok(settings)
                    }
                },
                None => Ok(settings),
            });
        match built {
            Ok(settings) => {
                tenants.insert(name.clone(), Arc::new(settings));
            }
            Err(err) if !seen(name) && may_leave_out(name) => {
                tracing::error!(event = KEY_REREAD_FAILED, tenant = %name, error = %err, "new tenant not served");
                left_out.push(name.clone());
            }
            Err(err) => return Err(err),
        }
    }
    Ok((tenants, left_out.is_empty()))
}

/// One tenant's settings: its issuer validated (or derived from the configuration's), its keys (generated
/// ones kept from `previous`), its trusted issuers (kept from `previous`, else the configuration's and the
/// table's) and its permissions.
fn build_tenant(
    config: &Config,
    previous: Option<&Tenants>,
    table: &TableIssuers,
    generate_missing_keys: bool,
    name: &TenantId,
    own_issuer: Option<&str>,
    signing_keys: &[KeyConfig],
) -> Result<TenantSettings, ConfigError> {
    let before = previous.and_then(|p| p.get(name));
    let issuer = match (own_issuer, config.issuer.as_deref()) {
        (Some(own), _) => Some(Config::validate_tenant_issuer(name, own)?),
        (None, Some(base)) if name.as_str() == TenantId::DEFAULT => Some(base.to_owned()),
        (None, Some(base)) => Some(format!("{base}/t/{name}")),
        // From each request's API Gateway domain.
        (None, None) => None,
    };
    let (keys, generated_keys) = match signing_keys {
        [] if generate_missing_keys => match before.filter(|t| t.generated_keys) {
            Some(settings) => (settings.keys.clone(), true),
            None => {
                if before.is_some() {
                    tracing::warn!(
                        tenant = %name,
                        "the key document no longer has keys for this tenant, and the configuration declares it: \
                         it signs with a generated key from now on, and its earlier tokens no longer verify"
                    );
                }
                let key = SigningKey::generate(SigningAlgorithm::ES256, &format!("{name}-local-1"))?;
                (Arc::new(KeyRing::new(vec![key])?), true)
            }
        },
        [] => {
            return Err(ConfigError::Invalid(format!(
                "tenant {name} has no signing keys (a deployed function never generates one: each execution \
                 environment would sign with its own)"
            )));
        }
        keys => (Arc::new(key_ring(keys)?), false),
    };
    let trusted_issuers = match before {
        Some(settings) => settings.trusted_issuers.clone(),
        None => config.trusted_issuers(name, table.get(name).map_or(&[], Vec::as_slice))?.into(),
    };
    Ok(TenantSettings {
        issuer: issuer.map(Arc::from),
        keys,
        trusted_issuers,
        permissions: config.permission_map(name),
        generated_keys,
    })
}

/// Builds a service on `store` from a configuration and its [`Sources`]: the key document read (a failure is
/// an error), the table's trusted issuers read, keys parsed, issuers validated. The issuer is the configured
/// one, else `default_issuer`; with neither it comes from each request's API Gateway domain.
pub async fn build_service(
    store: Arc<dyn TokenStore>,
    config: &Config,
    default_issuer: Option<&str>,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    sources: Sources,
) -> Result<TokenService, ServiceError> {
    let mut base = config.clone();
    base.issuer = config.issuer.as_deref().or(default_issuer).map(Config::validate_issuer).transpose()?;
    let document = match &sources.keys {
        Some(keys) => Some(keys.source.load().await?),
        None => None,
    };
    // As on a re-read: a function must start, and agree with those already running.
    let (tenants, complete) =
        assemble(&base, document, None, sources.registry.as_deref(), sources.generate_missing_keys).await?;
    let mut service = TokenService::new(store, clock, entropy);
    service.replace(tenants);
    if let Some(KeyDocumentSource { source, ttl_secs: Some(ttl), max_stale_secs }) = sources.keys {
        let now = service.clock.now().as_micros();
        let ttl_micros = ttl.saturating_mul(1_000_000);
        service.refresh = Some(KeyRefresh {
            source,
            base,
            registry: sources.registry,
            generate_missing_keys: sources.generate_missing_keys,
            ttl_micros,
            max_stale_micros: max_stale_secs.map(|s| s.saturating_mul(1_000_000)),
            // A tenant left out is tried again soon, as after an incomplete re-read.
            due: AtomicU64::new(now.saturating_add(next_read_in(ttl_micros, complete))),
            read_at: AtomicU64::new(now),
            reloading: tokio::sync::Mutex::new(()),
        });
    }
    Ok(service)
}

/// A local service on `store` from a configuration alone: a tenant without keys gets a generated one. The
/// issuer is the configured one, else `default_issuer`. Tests and benches only (`test-support`).
#[cfg(any(test, feature = "test-support"))]
pub fn service_on(
    store: Arc<dyn TokenStore>,
    config: &Config,
    default_issuer: Option<&str>,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
) -> Result<TokenService, ConfigError> {
    let mut config = config.clone();
    config.issuer = config.issuer.as_deref().or(default_issuer).map(Config::validate_issuer).transpose()?;
    let (tenants, _) = build_tenants(&config, None, &TableIssuers::new(), true, &|_| false)?;
    let service = TokenService::new(store, clock, entropy);
    service.replace(tenants);
    Ok(service)
}

/// Builds a service on a fresh embedded store holding the configuration's clients. `issuer` is used when the
/// configuration names none. Tests and benches only (`test-support`).
#[cfg(any(test, feature = "test-support"))]
pub fn embedded_service(
    config: &Config,
    issuer: &str,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
) -> Result<(TokenService, Arc<MemoryStore>), ConfigError> {
    let store = Arc::new(MemoryStore::with_clients(config.clients(entropy.as_ref())?));
    let service = service_on(store.clone(), config, Some(issuer), clock, entropy)?;
    Ok((service, store))
}

#[async_trait::async_trait]
impl crate::events::TenantDirectory for TokenService {
    async fn serves(&self, tenant: &TenantId) -> Result<bool, StoreError> {
        TokenService::serves(self, tenant).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;
    use crate::entropy::SystemEntropy;

    fn build(toml: &str, generate: bool) -> Result<Tenants, ConfigError> {
        let mut config = Config::from_toml(toml)?;
        config.issuer.get_or_insert_with(|| "https://auth.example.com".into());
        build_tenants(&config, None, &TableIssuers::new(), generate, &|_| false).map(|(tenants, _)| tenants)
    }

    #[test]
    fn only_the_local_runner_generates_keys() {
        let toml = "[[tenants]]\nname = \"acme\"\n";
        let tenants = build(toml, true).unwrap();
        assert_eq!(tenants[&TenantId::parse("acme").unwrap()].keys.signing_key().kid(), "acme-local-1");
        let err = build(toml, false).unwrap_err().to_string();
        assert!(err.contains("tenant default has no signing keys"), "{err}");
        // Without a key document, a keyless tenant beside a keyed default is a configuration error too.
        let pem = SigningKey::generate(SigningAlgorithm::EdDSA, "d1").unwrap().to_pkcs8_pem();
        let keyed = format!("[[signing_keys]]\nkid = \"d1\"\nalg = \"EdDSA\"\nprivate_key_pem = '''{pem}'''\n\n{toml}");
        let err = build(&keyed, false).unwrap_err().to_string();
        assert!(err.contains("tenant acme has no signing keys"), "{err}");
    }

    #[test]
    fn tenant_issuers_end_with_their_route_and_are_unique() {
        let own = |issuer: &str| format!("[[tenants]]\nname = \"acme\"\nissuer = \"{issuer}\"\n");
        let tenants = build(&own("https://acme.example.com/t/acme/"), true).unwrap();
        let acme = &tenants[&TenantId::parse("acme").unwrap()];
        assert_eq!(acme.issuer.as_deref(), Some("https://acme.example.com/t/acme"));
        // Its endpoints would be served by the default tenant's routes.
        let err = build(&own("https://acme.example.com"), true).unwrap_err().to_string();
        assert!(err.contains("must end with /t/acme"), "{err}");
        // The default tenant's issuer taken by another tenant.
        let clash = format!("issuer = \"https://auth.example.com/t/acme\"\n{}", own("https://auth.example.com/t/acme"));
        let err = build(&clash, true).unwrap_err().to_string();
        assert!(err.contains("the same issuer"), "{err}");
    }

    #[tokio::test]
    async fn a_document_read_at_build_time_is_required_to_load() {
        let source = Arc::new(crate::key_source::MemoryKeys::default());
        let sources = Sources {
            keys: Some(KeyDocumentSource { source, ttl_secs: Some(60), max_stale_secs: None }),
            ..Default::default()
        };
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(FixedClock::at(crate::domain::time::Timestamp::from_micros(1_800_000_000_000_000)));
        let built = build_service(
            store,
            &Config::default(),
            Some("https://a.example"),
            clock,
            Arc::new(SystemEntropy),
            sources,
        )
        .await;
        assert!(matches!(built, Err(ServiceError::Keys(_))));
    }

    /// A key document whose default tenant has one EdDSA key, and `tenants` each with one of their own.
    fn document(kid: &str, tenants: &[&str]) -> crate::config::KeySetDocument {
        let entry = |kid: &str| {
            let pem = SigningKey::generate(SigningAlgorithm::EdDSA, kid).unwrap().to_pkcs8_pem();
            serde_json::json!({"kid": kid, "alg": "EdDSA", "private_key_pem": pem})
        };
        let tenants: serde_json::Map<String, serde_json::Value> = tenants
            .iter()
            .map(|t| ((*t).to_owned(), serde_json::json!({"keys": [entry(&format!("{t}-1"))]})))
            .collect();
        let json = serde_json::json!({"keys": [entry(kid)], "tenants": tenants});
        crate::config::KeySetDocument::parse(&json.to_string()).unwrap()
    }

    /// The key cache TTL of [`rereading`]: longer than [`KEY_RETRY_SECS`], so a retry and a re-read differ.
    const TTL: u64 = 60;

    /// A service on `config` and a document re-read every [`TTL`] seconds, its clock, and the document's source.
    async fn rereading(
        config: &str,
        document: crate::config::KeySetDocument,
        generate_missing_keys: bool,
    ) -> (TokenService, Arc<FixedClock>, Arc<crate::key_source::MemoryKeys>) {
        let source = Arc::new(crate::key_source::MemoryKeys::new(document));
        let sources = Sources {
            keys: Some(KeyDocumentSource { source: source.clone(), ttl_secs: Some(TTL), max_stale_secs: None }),
            registry: None,
            generate_missing_keys,
        };
        let clock = Arc::new(FixedClock::at(crate::domain::time::Timestamp::from_micros(1_800_000_000_000_000)));
        let config = Config::from_toml(config).unwrap();
        let store = Arc::new(MemoryStore::new());
        let service =
            build_service(store, &config, Some("https://a.example"), clock.clone(), Arc::new(SystemEntropy), sources)
                .await
                .unwrap();
        (service, clock, source)
    }

    fn signing_kid(service: &TokenService, tenant: &TenantId) -> String {
        service.snapshot()[tenant].keys.signing_key().kid().to_owned()
    }

    #[tokio::test]
    async fn a_re_read_keeps_the_keys_the_local_runner_generated() {
        // acme, declared by the configuration only, gets a generated key. Re-reading the document (which it
        // does: the default tenant's new key is there) must not replace it, or acme's tokens would stop verifying.
        let (service, clock, source) = rereading("[[tenants]]\nname = \"acme\"\n", document("doc-1", &[]), true).await;
        let acme = TenantId::parse("acme").unwrap();
        let jwks = |service: &TokenService| service.snapshot()[&acme].keys.jwks();
        let before = jwks(&service);
        source.set(document("doc-2", &[]));
        clock.advance_secs(TTL);
        service.tenant(&acme, None, service.clock.now()).await.unwrap();
        assert_eq!(signing_kid(&service, &TenantId::default()), "doc-2", "re-read");
        assert_eq!(jwks(&service), before);
    }

    #[tokio::test]
    async fn a_keyless_configuration_tenant_goes_with_its_keys() {
        // acme is declared in the configuration (with a client and a permission) and its keys are the
        // document's. Deleted from the document, it is no longer served, and the re-read applies the rest.
        let config = "[[tenants]]\nname = \"acme\"\n\n[[clients]]\ntenant = \"acme\"\nclient_id = \"svc\"\n\
                      client_secret = \"svc-secret-0123456789abcdef0123\"\n\n[[permissions]]\ntenant = \"acme\"\n\
                      scope = \"orders:read\"\nresource = \"orders\"\n";
        let (service, clock, source) = rereading(config, document("doc-1", &["acme"]), false).await;
        let acme = TenantId::parse("acme").unwrap();
        assert_eq!(signing_kid(&service, &acme), "acme-1");
        source.set(document("doc-2", &[]));
        clock.advance_secs(TTL);
        let err = service.tenant(&acme, None, service.clock.now()).await.expect_err("deleted");
        assert_eq!(err.status(), StatusCode::NOT_FOUND);
        assert_eq!(signing_kid(&service, &TenantId::default()), "doc-2");
        // Created again: served again.
        source.set(document("doc-3", &["acme"]));
        clock.advance_secs(TTL);
        service.tenant(&acme, None, service.clock.now()).await.unwrap();
        assert_eq!(signing_kid(&service, &acme), "acme-1");
    }

    #[tokio::test]
    async fn a_new_tenant_that_cannot_be_built_waits_while_the_rest_applies() {
        let (service, clock, source) = rereading("", document("doc-1", &[]), false).await;
        let globex = TenantId::parse("globex").unwrap();
        // globex's issuer would put its metadata on the default tenant's routes.
        let mut bad = document("doc-2", &["globex"]);
        bad.tenants.get_mut(&globex).unwrap().issuer = Some("https://a.example".into());
        source.set(bad);
        clock.advance_secs(TTL);
        assert_eq!(
            service.tenant(&globex, None, service.clock.now()).await.expect_err("left out").status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(signing_kid(&service, &TenantId::default()), "doc-2", "the rest applies");
        // Mended: served from the retry on, not a whole TTL later.
        source.set(document("doc-2", &["globex"]));
        clock.advance_secs(KEY_RETRY_SECS);
        service.tenant(&globex, None, service.clock.now()).await.unwrap();
        // The same mistake in a tenant served before fails the whole re-read: its keys in hand serve on.
        let mut bad = document("doc-3", &["globex"]);
        bad.tenants.get_mut(&globex).unwrap().issuer = Some("https://a.example".into());
        source.set(bad);
        clock.advance_secs(TTL);
        service.tenant(&globex, None, service.clock.now()).await.unwrap();
        assert_eq!(signing_kid(&service, &TenantId::default()), "doc-2", "nothing applied");
    }

    #[tokio::test]
    async fn a_bad_tenant_in_the_document_does_not_keep_a_function_from_starting() {
        // The default tenant's issuer ends with /t/acme, and the document gives acme that very issuer: acme is
        // left out at init (its metadata would be the default tenant's), the function starts and serves default.
        let mut bad = document("doc-1", &["acme"]);
        let acme = TenantId::parse("acme").unwrap();
        bad.tenants.get_mut(&acme).unwrap().issuer = Some("https://a.example/t/acme".into());
        let (service, clock, source) = rereading("issuer = \"https://a.example/t/acme\"\n", bad, false).await;
        assert_eq!(
            service.tenant(&acme, None, service.clock.now()).await.expect_err("left out").status(),
            StatusCode::NOT_FOUND
        );
        service.tenant(&TenantId::default(), None, service.clock.now()).await.unwrap();
        // Mended: served from the first retry on.
        source.set(document("doc-1", &["acme"]));
        clock.advance_secs(KEY_RETRY_SECS);
        let served = service.tenant(&acme, None, service.clock.now()).await.unwrap();
        assert_eq!(&*served.issuer, "https://a.example/t/acme/t/acme");
    }
}

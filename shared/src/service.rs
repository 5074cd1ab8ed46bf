//! `TokenService`: the ports (store, clock, entropy) and the per-tenant settings (issuer, keys, trusted
//! issuers), built once at init and shared by every request a function or the local runner serves.
//!
//! With a [`KeySource`] ([`TokenService::with_key_refresh`]) the tenants and their keys are re-read when the
//! cache expires: a key added, promoted or removed, or a tenant created, reaches running functions within the
//! cache TTL, without a redeploy. A failed re-read keeps the keys in hand and tries again soon.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use http::StatusCode;

use crate::clock::Clock;
use crate::config::{Config, ConfigError, key_ring_or_generated};
use crate::domain::profile::PermissionMap;
use crate::domain::tenant::TenantId;
use crate::entropy::Entropy;
use crate::jwt::external::TrustedIssuer;
use crate::jwt::keys::KeyRing;
use crate::key_source::KeySource;
use crate::store::TokenStore;
use crate::store::memory::MemoryStore;
use crate::wire::OAuthError;

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
    pub keys: KeyRing,
    /// The external issuers whose JWTs it accepts for token exchange and introspection.
    pub trusted_issuers: Arc<[TrustedIssuer]>,
    /// Its scope-to-resource permissions, for introspection profiles with `permissions`.
    pub permissions: PermissionMap,
}

impl TenantSettings {
    /// Settings with no trusted issuers and no permission mapping.
    pub fn new(issuer: Option<String>, keys: KeyRing) -> Self {
        Self {
            issuer: issuer.map(Arc::from),
            keys,
            trusted_issuers: Arc::new([]),
            permissions: PermissionMap::default(),
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

/// Re-reading the key document.
struct KeyRefresh {
    source: Arc<dyn KeySource>,
    /// The configuration the tenants were built from, without the keys (the issuer resolved).
    config: Config,
    ttl_micros: u64,
    /// When the next re-read is due (clock microseconds).
    due: AtomicU64,
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
        *self.tenants.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(tenants);
        self
    }

    /// Re-reads the tenants and their keys from `source` once `ttl_secs` have passed since the last read (on
    /// the service's clock), rebuilding them from `config` (the configuration the service was built from, its
    /// `issuer` resolved) and the document. Tenants keep their trusted issuers, and their JWKS caches.
    pub fn with_key_refresh(mut self, source: Arc<dyn KeySource>, config: Config, ttl_secs: u64) -> Self {
        let ttl_micros = ttl_secs.saturating_mul(1_000_000);
        let due = self.clock.now().as_micros().saturating_add(ttl_micros);
        self.refresh = Some(KeyRefresh {
            source,
            config,
            ttl_micros,
            due: AtomicU64::new(due),
            reloading: tokio::sync::Mutex::new(()),
        });
        self
    }

    fn snapshot(&self) -> Arc<Tenants> {
        self.tenants.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// `tenant` as seen by a request that arrived on `gateway_domain`: 404 for a tenant this deployment does
    /// not serve, 500 when no issuer is configured and the request did not come through API Gateway.
    pub async fn tenant<'a>(
        &'a self,
        tenant: &'a TenantId,
        gateway_domain: Option<&str>,
    ) -> Result<Tenant<'a>, OAuthError> {
        self.refresh_keys_if_due().await;
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
    /// hand. A failure keeps them, logs, and is retried after at most [`KEY_RETRY_SECS`].
    async fn refresh_keys_if_due(&self) {
        let Some(refresh) = &self.refresh else { return };
        let now = self.clock.now().as_micros();
        if now < refresh.due.load(Ordering::Acquire) {
            return;
        }
        let Ok(_reloading) = refresh.reloading.try_lock() else { return };
        if now < refresh.due.load(Ordering::Acquire) {
            return;
        }
        let outcome = match refresh.source.load().await {
            Ok(document) => {
                let mut config = refresh.config.clone();
                config.apply_key_document(document);
                build_tenants(&config, config.issuer.clone(), Some(&self.snapshot())).map_err(|e| e.to_string())
            }
            Err(err) => Err(err.to_string()),
        };
        let next = match outcome {
            Ok(tenants) => {
                tracing::info!(tenants = tenants.len(), "signing keys re-read");
                *self.tenants.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(tenants);
                refresh.ttl_micros
            }
            Err(err) => {
                tracing::warn!(error = %err, "signing keys not re-read; keeping the current ones");
                refresh.ttl_micros.min(KEY_RETRY_SECS * 1_000_000)
            }
        };
        refresh.due.store(now.saturating_add(next), Ordering::Release);
    }
}

/// Every tenant of `config`: `default` with the top-level issuer and keys, then each `[[tenants]]` entry (its
/// issuer defaults to `<issuer>/t/<name>`). A tenant found in `previous` keeps its trusted issuers.
fn build_tenants(config: &Config, issuer: Option<String>, previous: Option<&Tenants>) -> Result<Tenants, ConfigError> {
    config.check_tenants()?;
    let trusted = |tenant: &TenantId| -> Result<Arc<[TrustedIssuer]>, ConfigError> {
        match previous.and_then(|p| p.get(tenant)) {
            Some(settings) => Ok(settings.trusted_issuers.clone()),
            None => Ok(config.trusted_issuers(tenant.clone())?.into()),
        }
    };
    let mut tenants = Tenants::new();
    let default = TenantId::default();
    let settings = TenantSettings {
        issuer: issuer.as_deref().map(Arc::from),
        keys: config.key_ring("tessera-local-1")?,
        trusted_issuers: trusted(&default)?,
        permissions: config.permission_map(&default),
    };
    tenants.insert(default, Arc::new(settings));
    for tenant in &config.tenants {
        let tenant_issuer = match (&tenant.issuer, &issuer) {
            (Some(own), _) => Some(Config::validate_issuer(own)?),
            (None, Some(base)) => Some(format!("{base}/t/{}", tenant.name)),
            // From each request's API Gateway domain, as for the default tenant.
            (None, None) => None,
        };
        let settings = TenantSettings {
            issuer: tenant_issuer.map(Arc::from),
            keys: key_ring_or_generated(&tenant.signing_keys, &format!("{}-local-1", tenant.name))?,
            trusted_issuers: trusted(&tenant.name)?,
            permissions: config.permission_map(&tenant.name),
        };
        tenants.insert(tenant.name.clone(), Arc::new(settings));
    }
    Ok(tenants)
}

/// Builds a service on `store` from a configuration: keys parsed once, issuer validated. The issuer is the
/// configured one, else `default_issuer`; with neither it comes from each request's API Gateway domain.
pub fn service_on(
    store: Arc<dyn TokenStore>,
    config: &Config,
    default_issuer: Option<&str>,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
) -> Result<TokenService, ConfigError> {
    let issuer = config.issuer.as_deref().or(default_issuer).map(Config::validate_issuer).transpose()?;
    let tenants = build_tenants(config, issuer, None)?;
    let service = TokenService::new(store, clock, entropy);
    *service.tenants.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(tenants);
    Ok(service)
}

/// [`service_on`], with the tenants and keys re-read from `source` every `ttl_secs`.
pub fn refreshing_service_on(
    store: Arc<dyn TokenStore>,
    config: &Config,
    default_issuer: Option<&str>,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    source: Arc<dyn KeySource>,
    ttl_secs: u64,
) -> Result<TokenService, ConfigError> {
    let service = service_on(store, config, default_issuer, clock, entropy)?;
    let mut base = config.clone();
    base.issuer = base.issuer.as_deref().or(default_issuer).map(Config::validate_issuer).transpose()?;
    Ok(service.with_key_refresh(source, base, ttl_secs))
}

/// Builds a service on a fresh embedded store holding the configuration's clients. `issuer` is used when the
/// configuration names none.
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

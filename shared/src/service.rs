//! `TokenService`: the ports (store, clock, entropy) and the per-tenant settings (issuer, keys), built once
//! at init and shared by every request a function or the local runner serves.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use http::StatusCode;

use crate::clock::Clock;
use crate::config::{Config, ConfigError, key_ring_or_generated};
use crate::domain::tenant::TenantId;
use crate::entropy::Entropy;
use crate::jwt::external::TrustedIssuer;
use crate::jwt::keys::KeyRing;
use crate::store::TokenStore;
use crate::store::memory::MemoryStore;
use crate::wire::OAuthError;

/// What differs per tenant: its issuer URL and its signing keys.
#[derive(Debug)]
pub struct TenantSettings {
    /// The `iss` of its tokens and the base of its endpoint URLs, without a trailing slash. `None`: taken
    /// from the API Gateway domain the request arrived on (`https://<domainName>`), for deployments without
    /// a configured issuer.
    pub issuer: Option<String>,
    /// Its signing keys.
    pub keys: KeyRing,
    /// The external issuers whose JWTs it accepts for token exchange and introspection.
    pub trusted_issuers: Vec<TrustedIssuer>,
}

impl TenantSettings {
    /// Settings with no trusted issuers.
    pub fn new(issuer: Option<String>, keys: KeyRing) -> Self {
        Self { issuer, keys, trusted_issuers: Vec::new() }
    }
}

/// A tenant as one request sees it: the issuer resolved, the keys borrowed.
#[derive(Debug)]
pub struct Tenant<'a> {
    /// The tenant id.
    pub id: &'a TenantId,
    /// The issuer URL, without a trailing slash.
    pub issuer: Cow<'a, str>,
    /// The tenant's keys.
    pub keys: &'a KeyRing,
    /// The tenant's trusted external issuers.
    pub trusted_issuers: &'a [TrustedIssuer],
}

impl Tenant<'_> {
    /// The trusted issuer whose `iss` is `issuer`.
    pub fn trusted_issuer(&self, issuer: &str) -> Option<&TrustedIssuer> {
        self.trusted_issuers.iter().find(|t| t.issuer == issuer)
    }
}

/// Everything the OAuth operations need, handed in.
pub struct TokenService {
    /// The token store.
    pub store: Arc<dyn TokenStore>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The randomness source.
    pub entropy: Arc<dyn Entropy>,
    tenants: HashMap<TenantId, TenantSettings>,
}

impl TokenService {
    /// A service with no tenants yet.
    pub fn new(store: Arc<dyn TokenStore>, clock: Arc<dyn Clock>, entropy: Arc<dyn Entropy>) -> Self {
        Self { store, clock, entropy, tenants: HashMap::new() }
    }

    /// Adds (or replaces) a tenant.
    pub fn with_tenant(mut self, tenant: TenantId, settings: TenantSettings) -> Self {
        self.tenants.insert(tenant, settings);
        self
    }

    /// `tenant` as seen by a request that arrived on `gateway_domain`: 404 for a tenant this deployment does
    /// not serve, 500 when no issuer is configured and the request did not come through API Gateway.
    pub fn tenant<'a>(&'a self, tenant: &'a TenantId, gateway_domain: Option<&str>) -> Result<Tenant<'a>, OAuthError> {
        let settings = self
            .tenants
            .get(tenant)
            .ok_or_else(|| OAuthError::invalid_request("unknown tenant").with_status(StatusCode::NOT_FOUND))?;
        let issuer = match (&settings.issuer, gateway_domain) {
            (Some(issuer), _) => Cow::Borrowed(issuer.as_str()),
            (None, Some(domain)) if tenant.as_str() == TenantId::DEFAULT => Cow::Owned(format!("https://{domain}")),
            (None, Some(domain)) => Cow::Owned(format!("https://{domain}/t/{tenant}")),
            (None, None) => {
                tracing::error!("no issuer configured and no API Gateway domain on the request");
                return Err(OAuthError::server_error());
            }
        };
        Ok(Tenant { id: tenant, issuer, keys: &settings.keys, trusted_issuers: &settings.trusted_issuers })
    }
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
    config.check_tenants()?;
    let issuer = config.issuer.as_deref().or(default_issuer).map(Config::validate_issuer).transpose()?;
    let keys = config.key_ring("tessera-local-1")?;
    let mut service = TokenService::new(store, clock, entropy).with_tenant(
        TenantId::default(),
        TenantSettings { issuer: issuer.clone(), keys, trusted_issuers: config.trusted_issuers(TenantId::default())? },
    );
    for tenant in &config.tenants {
        let tenant_issuer = match (&tenant.issuer, &issuer) {
            (Some(own), _) => Some(Config::validate_issuer(own)?),
            (None, Some(base)) => Some(format!("{base}/t/{}", tenant.name)),
            // From each request's API Gateway domain, as for the default tenant.
            (None, None) => None,
        };
        let keys = key_ring_or_generated(&tenant.signing_keys, &format!("{}-local-1", tenant.name))?;
        let trusted_issuers = config.trusted_issuers(tenant.name.clone())?;
        service =
            service.with_tenant(tenant.name.clone(), TenantSettings { issuer: tenant_issuer, keys, trusted_issuers });
    }
    Ok(service)
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

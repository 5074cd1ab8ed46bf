//! Tenancy: the tenants a deployment serves, built from its configuration and its signing-key document, and kept
//! fresh while it runs.
//!
//! - [`assemble`]: the tenants of a configuration with the key document merged in: issuers resolved and unique,
//!   keys parsed (generated for the local runner only), trusted issuers and permissions built.
//! - [`key_document`]: the signing-key document (Secrets Manager's JSON) and the rule for which key signs.
//! - [`key_refresh`]: re-reading that document when its cache expires, and failing closed past its staleness bound.
//! - [`trusted_issuers`]: a tenant's trusted issuers as it serves them, from the configuration and the table.
//! - [`client_keys`]: its `private_key_jwt` clients' keys, their `jwks_uri` caches kept with the tenant.
//!
//! [`Tenants`] holds the result for the [`crate::TokenService`]. A request looks its tenant up once, at its one
//! instant ([`Tenants::get`]), and holds a [`Tenant`]: the [`ServedTenant`] of that moment, its issuer resolved. A
//! lookup answers with a [`TenantError`], never an HTTP status: the edge maps it.

pub mod assemble;
pub mod client_keys;
pub mod key_document;
pub mod key_refresh;
pub mod trusted_issuers;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::config::{Config, ConfigError};
use crate::domain::profile::PermissionMap;
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;
use crate::jwt::access_token::{JwtRejection, VerifiedAccessToken};
use crate::jwt::external::TrustedIssuer;
use crate::jwt::keys::KeyRing;
use crate::jwt::verified::VerifiedTokens;
use crate::key_source::{KeySource, KeySourceError};
use crate::store::{RegistrationStore, StoreError};

pub use key_document::{DocumentTenant, KeySetDocument};
pub use key_refresh::{KEY_REREAD_FAILED, KEY_RETRY_SECS};

/// What one tenant is served with: its issuer URL, its signing keys, its trusted issuers and its permissions.
#[derive(Debug)]
pub struct ServedTenant {
    /// The `iss` of its tokens and the base of its endpoint URLs, without a trailing slash. `None`: taken
    /// from the API Gateway domain the request arrived on (`https://<domainName>`), for deployments without
    /// a configured issuer.
    pub issuer: Option<Arc<str>>,
    /// Its signing keys.
    pub keys: Arc<KeyRing>,
    /// The access tokens those keys verified ([`crate::jwt::verified`]): made with the ring, and gone with it.
    pub verified_tokens: Arc<VerifiedTokens>,
    /// The external issuers whose JWTs it accepts for token exchange and introspection.
    pub trusted_issuers: Arc<[TrustedIssuer]>,
    /// Its scope-to-resource permissions, for introspection profiles with `permissions`.
    pub permissions: PermissionMap,
    /// Its `private_key_jwt` clients' keys: the caches of their `jwks_uri`s.
    pub client_keys: Arc<client_keys::ClientKeys>,
    /// Its keys were generated (local runner): a re-read keeps them, or its tokens would stop verifying.
    generated_keys: bool,
}

impl ServedTenant {
    /// A tenant with no trusted issuers and no permission mapping.
    pub fn new(issuer: Option<String>, keys: KeyRing) -> Self {
        Self {
            issuer: issuer.map(Arc::from),
            keys: Arc::new(keys),
            verified_tokens: Arc::default(),
            trusted_issuers: Arc::new([]),
            permissions: PermissionMap::default(),
            client_keys: Arc::default(),
            generated_keys: false,
        }
    }
}

/// A tenant as one request sees it: the issuer resolved, the [`ServedTenant`] of the moment held.
#[derive(Debug)]
pub struct Tenant<'a> {
    /// The tenant id.
    pub id: &'a TenantId,
    /// The issuer URL, without a trailing slash.
    pub issuer: Arc<str>,
    served: Arc<ServedTenant>,
}

impl Tenant<'_> {
    /// The tenant's keys.
    pub fn keys(&self) -> &KeyRing {
        &self.served.keys
    }

    /// Verifies a Tessera access token against the tenant's keys and the request's issuer
    /// ([`crate::jwt::access_token::verify`]), answered from the verified-token cache for a string that verified
    /// before ([`crate::jwt::verified`]). Expiry and revocation are the caller's, as ever.
    pub fn verify_access_token(&self, token: &str, now: Timestamp) -> Result<VerifiedAccessToken, JwtRejection> {
        self.served.verified_tokens.verify(token, self.id, &self.issuer, &self.served.keys, now)
    }

    /// The tenant's trusted external issuers.
    pub fn trusted_issuers(&self) -> &[TrustedIssuer] {
        &self.served.trusted_issuers
    }

    /// The tenant's scope-to-resource permissions.
    pub fn permissions(&self) -> &PermissionMap {
        &self.served.permissions
    }

    /// Whether any of the tenant's trusted issuers has a UserInfo endpoint: only then do introspections read the
    /// subject's cached user details.
    pub fn fetches_user_details(&self) -> bool {
        self.served.trusted_issuers.iter().any(|t| t.userinfo.is_some())
    }

    /// The keys of a `private_key_jwt` client registered with `jwks` ([`client_keys::ClientKeys::keys`]).
    pub fn client_keys(
        &self,
        jwks: &crate::domain::jwks::Jwks,
    ) -> Result<crate::jwt::jwks::VerificationKeys, client_keys::ClientKeysError> {
        self.served.client_keys.keys(jwks)
    }

    /// The trusted issuer whose `iss` is `issuer`.
    pub fn trusted_issuer(&self, issuer: &str) -> Option<&TrustedIssuer> {
        self.served.trusted_issuers.iter().find(|t| t.issuer == issuer)
    }
}

/// Why a request's tenant cannot be served. The edge maps each to its answer (`wire::error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenantError {
    /// This deployment does not serve the tenant.
    #[error("unknown tenant")]
    Unknown,
    /// The key document, which declares the tenants and holds their keys, has not been read for longer than its
    /// staleness bound: nothing is served until a read succeeds (fail closed).
    #[error("the key document cannot be read; retry in {retry_after_secs} s")]
    KeysUnreadable {
        /// When to try again.
        retry_after_secs: u32,
    },
    /// No issuer is configured, and the request did not come through API Gateway (whose domain would name it).
    #[error("no issuer configured and no API Gateway domain on the request")]
    NoIssuer,
}

/// Why the tenants could not be built.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
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

/// Where the tenants and their keys come from besides the configuration, and how they are kept fresh.
#[derive(Clone, Default)]
pub struct Sources {
    /// The signing-key document (every tenant's keys, and tenants of its own), read when the tenants are built.
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
    /// Re-read it once this many seconds have passed since the last read. `None`: read once.
    pub ttl_secs: Option<u64>,
    /// Once this many seconds have passed since the last successful read, every request fails closed
    /// ([`TenantError::KeysUnreadable`]) until a read succeeds: keys removed from the document while it could not
    /// be read must not stay valid forever. `None`: no bound.
    pub max_stale_secs: Option<u64>,
}

/// The served tenants by id.
type TenantMap = HashMap<TenantId, Arc<ServedTenant>>;

/// The tenants a deployment serves, and (with a key document re-read on a TTL) what keeps them fresh.
#[derive(Default)]
pub struct Tenants {
    current: RwLock<Arc<TenantMap>>,
    refresh: Option<key_refresh::KeyRefresh>,
}

impl Tenants {
    /// No tenants yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a tenant.
    pub fn with(self, tenant: TenantId, served: ServedTenant) -> Self {
        let mut tenants = (*self.snapshot()).clone();
        tenants.insert(tenant, Arc::new(served));
        self.replace(tenants);
        self
    }

    /// The tenants of `config` and its [`Sources`] at `now`: the key document read (a failure is an error), the
    /// table's trusted issuers read, keys parsed, issuers validated. The issuer is the configured one, else
    /// `default_issuer`; with neither it comes from each request's API Gateway domain.
    pub async fn load(
        config: &Config,
        default_issuer: Option<&str>,
        sources: Sources,
        now: Timestamp,
    ) -> Result<Self, LoadError> {
        let mut base = config.clone();
        base.issuer = config.issuer.as_deref().or(default_issuer).map(Config::validate_issuer).transpose()?;
        let document = match &sources.keys {
            Some(keys) => Some(keys.source.load().await?),
            None => None,
        };
        // As on a re-read: a function must start, and agree with those already running.
        let (tenants, complete) =
            assemble::assemble(&base, document, None, sources.registry.as_deref(), sources.generate_missing_keys)
                .await?;
        let refresh = key_refresh::KeyRefresh::after_first_read(base, sources, now, complete);
        Ok(Self { current: RwLock::new(Arc::new(tenants)), refresh })
    }

    /// `tenant` as seen by a request that arrived on `gateway_domain` at `now` (the request's one instant),
    /// re-reading the key document when due.
    pub async fn get<'a>(
        &self,
        tenant: &'a TenantId,
        gateway_domain: Option<&str>,
        now: Timestamp,
    ) -> Result<Tenant<'a>, TenantError> {
        self.refresh_if_due(now).await?;
        let served = self.snapshot().get(tenant).cloned().ok_or(TenantError::Unknown)?;
        let issuer: Arc<str> = match (&served.issuer, gateway_domain) {
            (Some(issuer), _) => issuer.clone(),
            (None, Some(domain)) if tenant.as_str() == TenantId::DEFAULT => format!("https://{domain}").into(),
            (None, Some(domain)) => format!("https://{domain}/t/{tenant}").into(),
            (None, None) => return Err(TenantError::NoIssuer),
        };
        Ok(Tenant { id: tenant, issuer, served })
    }

    /// The ids of the tenants served now, sorted (operator use: `tessera tokens inspect` looks for a token's
    /// tenant among them).
    pub fn ids(&self) -> Vec<TenantId> {
        let mut ids: Vec<TenantId> = self.snapshot().keys().cloned().collect();
        ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        ids
    }

    /// The trusted issuer `issuer` of `tenant` as served at `now` (re-reading the key document when due): `None`
    /// when the tenant is not served or does not trust that issuer.
    pub async fn trusted_issuer_of(
        &self,
        tenant: &TenantId,
        issuer: &str,
        now: Timestamp,
    ) -> Result<Option<TrustedIssuer>, TenantError> {
        self.refresh_if_due(now).await?;
        Ok(self
            .snapshot()
            .get(tenant)
            .and_then(|served| served.trusted_issuers.iter().find(|t| t.issuer == issuer).cloned()))
    }

    /// Whether `tenant` is served at `now`, re-reading the key document when due.
    pub async fn serves(&self, tenant: &TenantId, now: Timestamp) -> Result<bool, TenantError> {
        self.refresh_if_due(now).await?;
        Ok(self.snapshot().contains_key(tenant))
    }

    async fn refresh_if_due(&self, now: Timestamp) -> Result<(), TenantError> {
        match &self.refresh {
            Some(refresh) => refresh.refresh_if_due(self, now).await,
            None => Ok(()),
        }
    }

    fn snapshot(&self) -> Arc<TenantMap> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn replace(&self, tenants: TenantMap) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(tenants);
    }
}

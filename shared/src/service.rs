//! `TokenService`: the ports (store, clock, entropy, revocation announcer), the [`Tenants`] served and the routes the authorizer
//! protects, built once at init and shared by every request a function or the local runner serves. Which adapters it runs on is the wiring's choice: the
//! functions' `bootstrap`, the local runner, a test.
//!
//! The store is held twice, as the two views of one [`ReadPlan`]: [`TokenService::read_plan`], which decisions
//! (introspection) read through within the revocation bound B, and [`TokenService::store`], whose every read
//! reaches the store. Both write through the plan.

use std::sync::Arc;

use crate::announcement::RevocationAnnouncer;
use crate::announcement::recent::RecentAnnouncements;
use crate::clock::Clock;
use crate::config::Config;
use crate::config::ConfigError;
use crate::domain::route::ProtectedRoutes;
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;
use crate::entropy::Entropy;
use crate::events::identity_provider::IdentityEventSources;
use crate::events::ssf::{SsfTransmitter, SsfTransmitters};
use crate::metrics::MetricsEmitter;
use crate::store::RegisteredTransmitter;
use crate::store::metered::MeteredStore;
use crate::store::read_plan::{ReadPlan, RevocationBound, StrictReads};
use crate::store::{StoreError, TokenStore};
use crate::tenancy::{LoadError, ServedTenant, Sources, Tenant, TenantError, Tenants};

/// Everything the OAuth operations need, handed in.
pub struct TokenService {
    /// The token store, read strictly: every read reaches it (the token endpoint, revocation). Writes go through
    /// [`TokenService::read_plan`], so this environment's decisions see them at once.
    pub store: Arc<dyn TokenStore>,
    /// The same store as decisions read it: items at most B old from this environment's cache
    /// ([`crate::store::read_plan`]).
    pub read_plan: Arc<ReadPlan>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The randomness source.
    pub entropy: Arc<dyn Entropy>,
    /// Where each invocation's metrics go ([`crate::metrics`]); off unless [`TokenService::with_metrics`].
    pub metrics: Arc<MetricsEmitter>,
    /// Where revocations are announced ([`crate::announcement`]): logged and kept in a bounded list unless
    /// [`TokenService::with_announcer`] (Lambda: EventBridge).
    pub announcer: Arc<dyn RevocationAnnouncer>,
    tenants: Tenants,
    routes: ProtectedRoutes,
    identity_events: IdentityEventSources,
    ssf_transmitters: SsfTransmitters,
    client_certificate_chains_verified: bool,
    mutual_tls: bool,
    mtls_base_url: Option<String>,
}

impl TokenService {
    /// A service with no tenants yet, strict (B = 0).
    pub fn new(store: Arc<dyn TokenStore>, clock: Arc<dyn Clock>, entropy: Arc<dyn Entropy>) -> Self {
        Self::serving(store, clock, entropy, Tenants::new())
    }

    /// A service serving `tenants`, strict (B = 0).
    pub fn serving(
        store: Arc<dyn TokenStore>,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
        tenants: Tenants,
    ) -> Self {
        // Every store call is timed and its failures counted, beneath the read plan (a cache hit is no call).
        let store: Arc<dyn TokenStore> = Arc::new(MeteredStore::new(store));
        let read_plan = Arc::new(ReadPlan::new(store, clock.clone(), RevocationBound::STRICT));
        Self {
            store: Arc::new(StrictReads(read_plan.clone())),
            read_plan,
            metrics: Arc::new(MetricsEmitter::off(clock.clone())),
            announcer: Arc::new(RecentAnnouncements::default()),
            clock,
            entropy,
            tenants,
            routes: ProtectedRoutes::default(),
            identity_events: IdentityEventSources::default(),
            ssf_transmitters: SsfTransmitters::default(),
            client_certificate_chains_verified: true,
            mutual_tls: false,
            mtls_base_url: None,
        }
    }

    /// The service publishing `mtls_endpoint_aliases` (RFC 8705 §5) on the origin `base` (`https://host[:port]`,
    /// validated by [`mtls_base_url`]): the same endpoint paths on a host that asks for client certificates. With
    /// one, the service offers mutual TLS ([`TokenService::offers_mutual_tls`]).
    pub fn with_mtls_base_url(mut self, base: Option<String>) -> Self {
        self.mutual_tls |= base.is_some();
        self.mtls_base_url = base;
        self
    }

    /// The service behind a TLS terminator that asks clients for certificates on its own endpoints (the runner's
    /// `--tls-client-ca` or `--tls-client-any`): it offers mutual TLS ([`TokenService::offers_mutual_tls`]).
    pub fn with_mutual_tls(mut self) -> Self {
        self.mutual_tls = true;
        self
    }

    /// Whether clients can reach this service over mutual TLS (its own endpoints ask for certificates, or a
    /// mutual-TLS alias is configured): what the metadata says of RFC 8705 (its two client authentication methods
    /// and `tls_client_certificate_bound_access_tokens`). Requests are served the same either way: one without a
    /// certificate simply cannot authenticate by one.
    pub fn offers_mutual_tls(&self) -> bool {
        self.mutual_tls
    }

    /// The origin of the mutual-TLS endpoint aliases, if any.
    pub fn mtls_base_url(&self) -> Option<&str> {
        self.mtls_base_url.as_deref()
    }

    /// The service behind a TLS terminator whose verified chains prove nothing of a CA: one that accepts any
    /// client certificate (the runner's `--tls-client-any`), or whose trust store holds clients' own certificates
    /// (`mtls_truststore_holds = "client_certificates"`), each a trust anchor its holder could issue any name under.
    /// `tls_client_auth`, which trusts the chain, is then refused, and only `self_signed_tls_client_auth` (RFC 8705
    /// §2.2) authenticates by certificate.
    pub fn with_unverified_client_certificates(mut self) -> Self {
        self.client_certificate_chains_verified = false;
        self
    }

    /// Whether the client certificates requests carry were verified to chain to a trusted CA by whoever
    /// terminated TLS (RFC 8705 §2.1's premise for `tls_client_auth`).
    pub fn client_certificate_chains_verified(&self) -> bool {
        self.client_certificate_chains_verified
    }

    /// The service with its decisions read within `bound` (a fresh plan, with an empty cache, over the same store).
    pub fn with_revocation_bound(mut self, bound: RevocationBound) -> Self {
        self.read_plan = Arc::new(ReadPlan::new(self.read_plan.store().clone(), self.clock.clone(), bound));
        self.store = Arc::new(StrictReads(self.read_plan.clone()));
        self
    }

    /// The service writing each invocation's metrics with `metrics` (the handlers run in
    /// [`MetricsEmitter::invocation`]).
    pub fn with_metrics(mut self, metrics: MetricsEmitter) -> Self {
        self.metrics = Arc::new(metrics);
        self
    }

    /// The service announcing its revocations with `announcer`.
    pub fn with_announcer(mut self, announcer: Arc<dyn RevocationAnnouncer>) -> Self {
        self.announcer = announcer;
        self
    }

    /// The service protecting `routes` (the authorizer's; none by default, which denies every request).
    pub fn with_protected_routes(mut self, routes: ProtectedRoutes) -> Self {
        self.routes = routes;
        self
    }

    /// The routes the authorizer protects ([`crate::oauth::authorize`]).
    pub fn protected_routes(&self) -> &ProtectedRoutes {
        &self.routes
    }

    /// The service applying the identity-provider event `mappings` (none by default).
    pub fn with_identity_events(mut self, mappings: IdentityEventSources) -> Self {
        self.identity_events = mappings;
        self
    }

    /// The identity-provider event mappings the revocation-events function applies
    /// ([`crate::events::identity_provider`]).
    pub fn identity_events(&self) -> &IdentityEventSources {
        &self.identity_events
    }

    /// The Shared Signals transmitters the receiver accepts pushes from ([`crate::events::ssf`]).
    pub fn ssf_transmitters(&self) -> &SsfTransmitters {
        &self.ssf_transmitters
    }

    /// The service accepting pushes from `config`'s `[[ssf_transmitters]]` joined by `registered` (the table's,
    /// which replace same-issuer entries of their tenant), each resolved against its tenant's trusted issuers as
    /// served now: a transmitter of a tenant not served, or naming a subject issuer the tenant does not trust, is
    /// refused here, when the function starts, never at its first event.
    pub async fn with_ssf_transmitters(
        mut self,
        config: &Config,
        registered: &[RegisteredTransmitter],
    ) -> Result<Self, ConfigError> {
        let local = config
            .ssf_transmitters
            .iter()
            .filter(|c| !registered.iter().any(|r| r.tenant == c.tenant && r.issuer == c.issuer))
            .map(|c| c.to_registered(self.entropy.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        let entries: Vec<&RegisteredTransmitter> = local.iter().chain(registered).collect();
        let http = match entries.iter().any(|e| e.jwks.uri().is_some()) {
            true => Some(crate::tenancy::trusted_issuers::jwks_http_client()?),
            false => None,
        };
        let now = self.clock.now();
        let mut transmitters = Vec::with_capacity(entries.len());
        for entry in entries {
            if !self.serves(&entry.tenant).await.unwrap_or(false) {
                return Err(ConfigError::Invalid(format!(
                    "SSF transmitter {:?} names tenant '{}', which is not served",
                    entry.issuer, entry.tenant
                )));
            }
            let mut trusted = Vec::with_capacity(entry.subject_issuers.len());
            for issuer in &entry.subject_issuers {
                if let Ok(Some(found)) = self.tenants.trusted_issuer_of(&entry.tenant, issuer, now).await {
                    trusted.push(found);
                }
            }
            transmitters.push(SsfTransmitter::new(entry, &trusted, http.clone())?);
        }
        self.ssf_transmitters = SsfTransmitters::new(transmitters)?;
        Ok(self)
    }

    /// [`Self::with_ssf_transmitters`] with the transmitters `registry` registers for the tenants served (one
    /// `BatchGetItem` per 100 tenants).
    pub async fn with_registered_ssf_transmitters(
        self,
        config: &Config,
        registry: &dyn crate::store::RegistrationStore,
    ) -> Result<Self, LoadError> {
        let read = registry.ssf_transmitters_of(&self.tenant_ids()).await?;
        let mut registered: Vec<RegisteredTransmitter> = read.into_values().flatten().collect();
        registered.sort_by(|a, b| (a.tenant.as_str(), &a.issuer).cmp(&(b.tenant.as_str(), &b.issuer)));
        Ok(self.with_ssf_transmitters(config, &registered).await?)
    }

    /// Adds (or replaces) a tenant.
    pub fn with_tenant(mut self, tenant: TenantId, served: ServedTenant) -> Self {
        self.tenants = self.tenants.with(tenant, served);
        self
    }

    /// Whether this deployment serves `tenant`, re-reading the key document when due; `Err` when it is too
    /// stale to say (fail closed).
    pub async fn serves(&self, tenant: &TenantId) -> Result<bool, TenantError> {
        self.tenants.serves(tenant, self.clock.now()).await
    }

    /// The ids of the tenants this service serves now, sorted.
    pub fn tenant_ids(&self) -> Vec<TenantId> {
        self.tenants.ids()
    }

    /// `tenant` as seen by a request that arrived on `gateway_domain` at `now` (the request's one instant)
    /// ([`Tenants::get`]).
    pub async fn tenant<'a>(
        &self,
        tenant: &'a TenantId,
        gateway_domain: Option<&str>,
        now: Timestamp,
    ) -> Result<Tenant<'a>, TenantError> {
        let found = self.tenants.get(tenant, gateway_domain, now).await?;
        // Served: from here on the invocation's metrics carry the tenant as a dimension.
        crate::metrics::served_tenant(found.id);
        Ok(found)
    }
}

/// Builds a service on `store` from a configuration and its [`Sources`] ([`Tenants::load`], at the clock's now),
/// protecting the configuration's `[authorizer]` routes, its decisions read within the configuration's
/// `revocation_max_staleness_ms`.
pub async fn build_service(
    store: Arc<dyn TokenStore>,
    config: &Config,
    default_issuer: Option<&str>,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    sources: Sources,
) -> Result<TokenService, LoadError> {
    let routes = config.authorizer.protected_routes()?;
    let bound = config.revocation_bound()?;
    let now = clock.now();
    let tenants = Tenants::load(config, default_issuer, sources, now).await?;
    // Each mapping is resolved against the issuer it names, as its tenant trusts it now: an issuer imported later
    // reaches the mappings when the function next starts.
    let mut subject_claims = std::collections::BTreeMap::new();
    for mapping in &config.identity_events {
        let trusted = tenants.trusted_issuer_of(&mapping.tenant, &mapping.issuer, now).await.ok().flatten();
        subject_claims.insert((mapping.tenant.clone(), mapping.issuer.clone()), trusted.map(|t| t.subject_claim));
    }
    let identity_events = IdentityEventSources::new(&config.identity_events, |tenant, issuer| {
        subject_claims.get(&(tenant.clone(), issuer.to_owned())).cloned().flatten()
    })
    .map_err(|e| ConfigError::Invalid(e.to_string()))?;
    let mtls_base = config.mtls_base_url.as_deref().map(mtls_base_url).transpose()?;
    let mut service = TokenService::serving(store, clock, entropy, tenants);
    if config.mtls_truststore_holds == crate::config::MtlsTruststoreHolds::ClientCertificates {
        service = service.with_unverified_client_certificates();
    }
    Ok(service
        .with_mtls_base_url(mtls_base)
        .with_protected_routes(routes)
        .with_revocation_bound(bound)
        .with_identity_events(identity_events)
        .with_ssf_transmitters(config, &[])
        .await?)
}

/// Validates `mtls_base_url`: an `https` origin (scheme, host, optional port; no path, query or credentials),
/// returned without a trailing slash.
pub fn mtls_base_url(base: &str) -> Result<String, ConfigError> {
    let invalid = || {
        ConfigError::Invalid(format!(
            "mtls_base_url {base:?} must be an https origin such as https://mtls.auth.example.com"
        ))
    };
    let url = url::Url::parse(base).map_err(|_| invalid())?;
    let origin_only = url.scheme() == "https"
        && url.host_str().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && matches!(url.path(), "" | "/")
        && url.query().is_none()
        && url.fragment().is_none();
    if !origin_only {
        return Err(invalid());
    }
    Ok(base.trim_end_matches('/').to_owned())
}

#[async_trait::async_trait]
impl crate::events::TenantDirectory for TokenService {
    async fn serves(&self, tenant: &TenantId) -> Result<bool, StoreError> {
        TokenService::serves(self, tenant).await.map_err(|err| StoreError::Unavailable {
            reason: format!("the tenants cannot be known: {err}"),
            retry_after_secs: match err {
                TenantError::KeysUnreadable { retry_after_secs } => retry_after_secs,
                _ => crate::tenancy::KEY_RETRY_SECS as u32,
            },
            throttled: false,
        })
    }
}

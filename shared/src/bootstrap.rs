//! Building a Lambda function's [`TokenService`] from its environment, once at init. This and the adapters
//! are the only places that touch AWS.
//!
//! | variable | meaning |
//! |---|---|
//! | `TABLE_NAME` | the DynamoDB table (template.yaml's `TokenTable`, or in a multi-Region stack the global table's name, whose replica in the function's `AWS_REGION` it reaches: docs/multi-region.md). Unset: the embedded store, seeded from `TESSERA_CONFIG` (local only) |
//! | `SIGNING_KEYS_SECRET_ARN` | Secrets Manager secret with the [`KeySetDocument`] JSON (every tenant's keys), read at init and again every `KEYS_CACHE_TTL_SECS` |
//! | `KEYS_CACHE_TTL_SECS` | how long the keys are kept before the secret is read again (default 300; at least 1) |
//! | `KEYS_MAX_STALE_SECS` | how long a function goes on with keys it failed to re-read before it answers 503 (default 3600; raised to the TTL + 60 if below; 0: no bound) |
//! | `SIGNING_KEYS_JSON` | the same document inline, for `sam local invoke` only; never in a deployed function |
//! | `ISSUER` | the issuer URL. Unset or empty: `https://<API Gateway domain>` of each request |
//! | `MTLS_BASE_URL` | the origin of the mutual-TLS custom domain (`https://mtls.auth.example.com`), published as RFC 8705 §5 `mtls_endpoint_aliases` (template.yaml sets it from `MtlsDomainName`). Unset: no aliases |
//! | `MTLS_TRUSTSTORE_HOLDS` | what the mutual-TLS truststore holds: `CertificateAuthorities` (default) or `ClientCertificates`, with which `tls_client_auth` is refused (template.yaml's `MtlsTruststoreHolds`) |
//! | `REVOCATION_MAX_STALENESS_MS` | the revocation propagation bound B, 0 to 60000 ms ([`crate::store::read_plan`]): how old an item a decision may answer from. Unset: the configuration's, else 0 (strict). template.yaml sets 1000 |
//! | (the table) | trusted issuers registered with `tessera issuers import`: every tenant's at init, and a tenant's first seen on a re-read of the secret |
//! | (the table, the SSF receiver) | Shared Signals transmitters registered with `tessera transmitters import`, every served tenant's at init, joining the file's `[[ssf_transmitters]]` |
//! | `IDENTITY_EVENT_SOURCES` | the revocation-events function's identity-provider event mappings: TOML, `identity_events = [{ preset = "auth0", issuer = "…" }]` ([`crate::events::identity_provider`]), replacing the file's `[[identity_events]]`; resolved at init against the trusted issuers (read from the table) |
//! | `AUTHORIZER_ROUTES` | the authorizer's protected routes: the body of the `[authorizer]` table as TOML ([`crate::config::authorizer`]), replacing the file's |
//! | `TESSERA_CONFIG` | a TOML configuration file (default `tessera.toml`), used only for what the variables above leave open |
//! | `TESSERA_METRICS` | where EMF metrics go: `stdout` (the default in Lambda), `stderr` or `off` (the default elsewhere) ([`crate::metrics`]) |
//! | `TESSERA_METRICS_NAMESPACE` | their CloudWatch namespace (default `Tessera`; template.yaml's `MetricsNamespace`) |
//! | `REVOCATION_EVENT_BUS` | the EventBridge bus (name or ARN) revocations are announced on ([`crate::announcement`]): set on the functions that revoke (template.yaml's `RevocationEventBusName`). Unset: announcements are only logged |
//! | `AWS_ENDPOINT_URL_DYNAMODB` | standard SDK variable: point the table at DynamoDB Local or an emulator |
//! | `AWS_ENDPOINT_URL_EVENTBRIDGE` | standard SDK variable: point the announcements at an emulator |

use std::path::Path;
use std::sync::Arc;

use crate::TokenService;
use crate::clock::{Clock, SystemClock};
use crate::config::{AuthorizerConfig, Config, ConfigError};
use crate::entropy::SystemEntropy;
use crate::key_source::{KeySource, MemoryKeys, SecretsManagerKeys};
use crate::metrics::MetricsEmitter;
use crate::service::build_service;
use crate::store::dynamodb::{self, DynamoStore};
use crate::store::memory::MemoryStore;
use crate::store::metered::MeteredStore;
use crate::store::read_plan::RevocationBound;
use crate::store::{RegistrationStore, TokenStore};
use crate::tenancy::KeySetDocument;
use crate::tenancy::{KEY_RETRY_SECS, KeyDocumentSource, LoadError, Sources};

/// The variable naming the bus revocations are announced on.
pub const REVOCATION_EVENT_BUS: &str = "REVOCATION_EVENT_BUS";

/// How long a function keeps the signing-key secret before reading it again (`KEYS_CACHE_TTL_SECS`): the bound
/// on how long an added, promoted or removed key takes to reach running functions.
pub const DEFAULT_KEYS_CACHE_TTL_SECS: u64 = 300;

/// How long a function goes on with keys it could not re-read (`KEYS_MAX_STALE_SECS`) before it fails closed:
/// the bound on how long a removed key can stay valid while Secrets Manager cannot be read.
pub const DEFAULT_KEYS_MAX_STALE_SECS: u64 = 3600;

/// Init failed; the message says which variable or resource is at fault, never a secret.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The key document or the table could not be read, or what they hold is invalid.
    #[error(transparent)]
    Service(#[from] LoadError),
}

/// Reads the environment and builds the service, with the SDK configuration built once: the token,
/// introspection, revocation and metadata functions (the last reads the table only for the trusted issuers).
pub async fn service_from_env() -> Result<TokenService, BootstrapError> {
    build_from_env(true, Arc::new(SystemClock)).await
}

/// The Shared Signals receiver's service ([`crate::events::ssf`]): [`service_from_env`], and the transmitters the
/// table registers for its tenants (`tessera transmitters import`), read once at init with one `BatchGetItem` per
/// 100 tenants, joining the configuration's `[[ssf_transmitters]]`. It writes watermarks and used `jti`s; it signs
/// nothing (it reads the key document for the tenants it declares, as the revocation-events function does).
pub async fn ssf_receiver_from_env() -> Result<TokenService, BootstrapError> {
    let sdk = sdk_from_env().await;
    let config = read_config()?;
    let (service, registry) = build_parts(true, Arc::new(SystemClock), sdk, config.clone()).await?;
    Ok(match registry {
        Some(registry) => service.with_registered_ssf_transmitters(&config, registry.as_ref()).await?,
        None => service,
    })
}

/// [`service_from_env`] on another clock, which times token lifetimes and the key cache alike (tests).
pub async fn service_from_env_on_clock(clock: Arc<dyn Clock>) -> Result<TokenService, BootstrapError> {
    build_from_env(true, clock).await
}

/// The SDK configuration, loaded once, when the environment names a table or a secret.
async fn sdk_from_env() -> Option<aws_config::SdkConfig> {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    match set("TABLE_NAME") || set("SIGNING_KEYS_SECRET_ARN") || set(REVOCATION_EVENT_BUS) {
        true => Some(crate::aws_sdk::sdk_config().await),
        false => None,
    }
}

async fn build_from_env(table_access: bool, clock: Arc<dyn Clock>) -> Result<TokenService, BootstrapError> {
    build_with_sdk(table_access, clock, sdk_from_env().await).await
}

async fn build_with_sdk(
    table_access: bool,
    clock: Arc<dyn Clock>,
    sdk: Option<aws_config::SdkConfig>,
) -> Result<TokenService, BootstrapError> {
    Ok(build_parts(table_access, clock, sdk, read_config()?).await?.0)
}

/// The configuration: `TESSERA_CONFIG` (else `tessera.toml` if present), with the variables that override it.
fn read_config() -> Result<Config, BootstrapError> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let config_path = var("TESSERA_CONFIG");
    let mut config = match &config_path {
        Some(path) => Config::load(Path::new(path))?,
        None if Path::new("tessera.toml").exists() => Config::load(Path::new("tessera.toml"))?,
        None => Config::default(),
    };
    if let Some(issuer) = var("ISSUER") {
        config.issuer = Some(issuer);
    }
    if let Some(base) = var("MTLS_BASE_URL") {
        config.mtls_base_url = Some(base);
    }
    if let Some(holds) = var("MTLS_TRUSTSTORE_HOLDS") {
        config.mtls_truststore_holds = crate::config::MtlsTruststoreHolds::parse(&holds).ok_or_else(|| {
            ConfigError::Invalid(format!(
                "MTLS_TRUSTSTORE_HOLDS {holds:?} is not CertificateAuthorities or ClientCertificates"
            ))
        })?;
    }
    if let Some(routes) = var("AUTHORIZER_ROUTES") {
        config.authorizer = AuthorizerConfig::from_toml(&routes).map_err(|err| match err {
            ConfigError::Toml(message) => ConfigError::Toml(format!("AUTHORIZER_ROUTES: {message}")),
            other => other,
        })?;
    }
    if let Some(mappings) = var("IDENTITY_EVENT_SOURCES") {
        config.identity_events = identity_event_sources(&mappings)?;
    }
    if let Some(millis) = var("REVOCATION_MAX_STALENESS_MS") {
        let bound = RevocationBound::parse_millis("REVOCATION_MAX_STALENESS_MS", &millis)?;
        config.revocation_max_staleness_ms = Some(bound.as_millis());
    }
    Ok(config)
}

/// The service of `config`, and the table as the registry when one is used.
async fn build_parts(
    table_access: bool,
    clock: Arc<dyn Clock>,
    sdk: Option<aws_config::SdkConfig>,
    config: Config,
) -> Result<(TokenService, Option<Arc<dyn RegistrationStore>>), BootstrapError> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let seconds = |name: &str, default: u64| -> Result<u64, ConfigError> {
        match var(name) {
            Some(value) => value
                .trim()
                .parse()
                .map_err(|_| ConfigError::Invalid(format!("{name} must be a number of seconds, not {value:?}"))),
            None => Ok(default),
        }
    };
    let table = var("TABLE_NAME").filter(|_| table_access);
    let secret_arn = var("SIGNING_KEYS_SECRET_ARN");
    let keys = match (&sdk, &secret_arn, var("SIGNING_KEYS_JSON")) {
        (Some(sdk), Some(arn), _) => {
            let ttl = seconds("KEYS_CACHE_TTL_SECS", DEFAULT_KEYS_CACHE_TTL_SECS)?;
            let max_stale = key_cache_bound(ttl, seconds("KEYS_MAX_STALE_SECS", DEFAULT_KEYS_MAX_STALE_SECS)?)?;
            let source = SecretsManagerKeys::new(aws_sdk_secretsmanager::Client::new(sdk), arn.clone());
            Some(KeyDocumentSource { source: Arc::new(source), ttl_secs: Some(ttl), max_stale_secs: max_stale })
        }
        (_, _, Some(json)) => {
            let source: Arc<dyn KeySource> = Arc::new(MemoryKeys::new(KeySetDocument::parse(&json)?));
            Some(KeyDocumentSource { source, ttl_secs: None, max_stale_secs: None })
        }
        _ if config.signing_keys.is_empty() => {
            // Every execution environment would generate its own key, and tokens would not verify across them.
            return Err(ConfigError::Invalid(
                "no signing keys: set SIGNING_KEYS_SECRET_ARN (or SIGNING_KEYS_JSON locally)".into(),
            )
            .into());
        }
        _ => None,
    };
    let entropy = Arc::new(SystemEntropy);
    let (store, registry): (Arc<dyn TokenStore>, Option<Arc<dyn RegistrationStore>>) = match (&sdk, &table) {
        (Some(sdk), Some(table)) => {
            let store = Arc::new(DynamoStore::new(dynamodb::client(sdk, None), table.clone()));
            (store.clone(), Some(store))
        }
        _ if !table_access => (Arc::new(MemoryStore::new()), None),
        _ => {
            tracing::warn!("TABLE_NAME is not set: embedded store, state is per execution environment");
            (Arc::new(MemoryStore::with_clients(config.clients(entropy.as_ref())?)), None)
        }
    };
    let sources = Sources { keys, registry: registry.clone(), generate_missing_keys: false };
    let metrics = MetricsEmitter::from_env(clock.clone(), true);
    let service = build_service(store, &config, None, clock, entropy, sources).await?.with_metrics(metrics);
    let service = match (&sdk, var(REVOCATION_EVENT_BUS)) {
        (Some(sdk), Some(bus)) => {
            let client = crate::announcement::eventbridge::client(sdk);
            service.with_announcer(Arc::new(crate::announcement::eventbridge::EventBridgeAnnouncer::new(client, bus)))
        }
        // Logged (and kept in a small bounded list nobody reads): a function that revokes is given the variable.
        _ => service,
    };
    Ok((service, registry))
}

/// `IDENTITY_EVENT_SOURCES`: TOML naming the mappings as the file's `[[identity_events]]` would, on one line
/// (`identity_events = [{ preset = "auth0", issuer = "https://example.eu.auth0.com/" }]`).
fn identity_event_sources(
    text: &str,
) -> Result<Vec<crate::events::identity_provider::IdentityEventSourceConfig>, ConfigError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Mappings {
        identity_events: Vec<crate::events::identity_provider::IdentityEventSourceConfig>,
    }
    crate::config::parse_toml::<Mappings>(text).map(|m| m.identity_events).map_err(|err| match err {
        ConfigError::Toml(message) => ConfigError::Toml(format!("IDENTITY_EVENT_SOURCES: {message}")),
        other => other,
    })
}

/// The staleness bound for a cache TTL of `ttl` (at least a second: 0 would read the secret on every request)
/// and a configured `max_stale` (0: no bound). A bound that leaves no room for the re-read due at the TTL and two
/// retries after it is raised to that, with a warning: a function must not fail closed over one slow read, nor
/// refuse to start over a template parameter CloudFormation cannot compare with the other. `tessera keys` applies
/// the same rule to find when a retired key may go.
pub fn key_cache_bound(ttl: u64, max_stale: u64) -> Result<Option<u64>, ConfigError> {
    let least = ttl.saturating_add(2 * KEY_RETRY_SECS);
    match max_stale {
        _ if ttl == 0 => Err(ConfigError::Invalid("KEYS_CACHE_TTL_SECS must be at least 1".into())),
        0 => Ok(None),
        bound if bound < least => {
            tracing::warn!(
                "KEYS_MAX_STALE_SECS ({bound}) is below KEYS_CACHE_TTL_SECS + {} ({least}); using {least}",
                2 * KEY_RETRY_SECS
            );
            Ok(Some(least))
        }
        bound => Ok(Some(bound)),
    }
}

/// The store alone, for the revocation-events function: it needs no keys, clients or issuer, only the table
/// (`TABLE_NAME`). Without it, an embedded store under `sam local invoke` (`AWS_SAM_LOCAL`) or outside Lambda,
/// and an init error in a deployed function: acknowledging revocations into a store nobody reads would lose them.
pub async fn store_from_env() -> Result<Arc<dyn TokenStore>, BootstrapError> {
    store_with_sdk(sdk_from_env().await.as_ref())
}

/// The revocation-events function's dependencies, from one SDK configuration: the table ([`store_from_env`]),
/// and a service for the tenants the deployment serves, read from the key document exactly as the other functions
/// read it (re-read every `KEYS_CACHE_TTL_SECS`, failing closed past `KEYS_MAX_STALE_SECS`). An event naming
/// another tenant is refused ([`crate::events::TenantDirectory`]). With `IDENTITY_EVENT_SOURCES`, that service
/// also reads the tenants' trusted issuers from the table once, at init, to resolve each mapping against the
/// issuer it names ([`TokenService::identity_events`]); without it, it never reads the table.
pub async fn revocation_events_from_env() -> Result<(Arc<dyn TokenStore>, Arc<TokenService>), BootstrapError> {
    let sdk = sdk_from_env().await;
    let store = store_with_sdk(sdk.as_ref())?;
    let identity_events = std::env::var("IDENTITY_EVENT_SOURCES").is_ok_and(|v| !v.trim().is_empty());
    let tenants = build_with_sdk(identity_events, Arc::new(SystemClock), sdk).await?;
    Ok((store, Arc::new(tenants)))
}

fn store_with_sdk(sdk: Option<&aws_config::SdkConfig>) -> Result<Arc<dyn TokenStore>, BootstrapError> {
    let deployed =
        std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() && std::env::var_os("AWS_SAM_LOCAL").is_none();
    match (std::env::var("TABLE_NAME").ok().filter(|v| !v.trim().is_empty()), sdk) {
        // Timed and counted like the other functions' stores (theirs are, inside the service).
        (Some(table), Some(sdk)) => {
            Ok(Arc::new(MeteredStore::new(DynamoStore::new(dynamodb::client(sdk, None), table))))
        }
        _ if deployed => Err(ConfigError::Invalid("TABLE_NAME is not set".into()).into()),
        _ => {
            tracing::warn!("TABLE_NAME is not set: embedded store, revocations stay in this process");
            Ok(Arc::new(MemoryStore::new()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_staleness_bound_leaves_room_for_the_re_read_and_two_retries() {
        assert!(key_cache_bound(0, 3600).unwrap_err().to_string().contains("at least 1"));
        assert_eq!(key_cache_bound(300, 0).unwrap(), None, "0: no bound");
        assert_eq!(key_cache_bound(300, 3600).unwrap(), Some(3600));
        assert_eq!(key_cache_bound(300, 360).unwrap(), Some(360));
        assert_eq!(key_cache_bound(300, 359).unwrap(), Some(360), "raised");
        assert_eq!(key_cache_bound(1800, 60).unwrap(), Some(1860), "raised");
        assert_eq!(key_cache_bound(u64::MAX, 1).unwrap(), Some(u64::MAX));
    }
}

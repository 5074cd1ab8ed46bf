//! Building a Lambda function's [`TokenService`] from its environment, once at init. This and the adapters
//! are the only places that touch AWS.
//!
//! | variable | meaning |
//! |---|---|
//! | `TABLE_NAME` | the DynamoDB table (template.yaml's `TokenTable`). Unset: the embedded store, seeded from `TESSERA_CONFIG` (local only) |
//! | `SIGNING_KEYS_SECRET_ARN` | Secrets Manager secret with the [`KeySetDocument`] JSON (every tenant's keys), read at init and again every `KEYS_CACHE_TTL_SECS` |
//! | `KEYS_CACHE_TTL_SECS` | how long the keys are kept before the secret is read again (default 300) |
//! | `SIGNING_KEYS_JSON` | the same document inline, for `sam local invoke` only; never in a deployed function |
//! | `ISSUER` | the issuer URL. Unset or empty: `https://<API Gateway domain>` of each request |
//! | (the table) | trusted issuers registered with `tessera issuers import`, every tenant's, read once at init |
//! | `TESSERA_CONFIG` | a TOML configuration file (default `tessera.toml`), used only for what the variables above leave open |
//! | `AWS_ENDPOINT_URL_DYNAMODB` | standard SDK variable: point the table at DynamoDB Local or an emulator |

use std::path::Path;
use std::sync::Arc;

use crate::TokenService;
use crate::clock::SystemClock;
use crate::config::{Config, ConfigError, KeySetDocument};
use crate::entropy::SystemEntropy;
use crate::key_source::{KeySource, SecretsManagerKeys};
use crate::service::{refreshing_service_on, service_on};

/// How long a function keeps the signing-key secret before reading it again (`KEYS_CACHE_TTL_SECS`): the bound
/// on how long a promoted or removed key takes to reach running functions.
pub const DEFAULT_KEYS_CACHE_TTL_SECS: u64 = 300;
use crate::store::dynamodb::{self, DynamoStore};
use crate::store::memory::MemoryStore;
use crate::store::{ClientRegistry, TokenStore};

/// Init failed; the message says which variable or resource is at fault, never a secret.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The table could not be read at init.
    #[error("cannot read the trusted issuers from the table: {0}")]
    Store(#[from] crate::store::StoreError),
    /// The signing-key secret could not be read.
    #[error("cannot read SIGNING_KEYS_SECRET_ARN: {0}")]
    Secret(String),
}

/// Reads the environment and builds the service, with the SDK configuration built once.
pub async fn service_from_env() -> Result<TokenService, BootstrapError> {
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
    let table = var("TABLE_NAME");
    let secret_arn = var("SIGNING_KEYS_SECRET_ARN");
    let sdk = match (&table, &secret_arn) {
        (None, None) => None,
        _ => Some(dynamodb::sdk_config().await),
    };
    let key_source = match (&sdk, &secret_arn) {
        (Some(sdk), Some(arn)) => {
            let source = SecretsManagerKeys::new(aws_sdk_secretsmanager::Client::new(sdk), arn.clone());
            config.apply_key_document(source.load().await.map_err(|e| BootstrapError::Secret(e.0))?);
            Some(source)
        }
        _ => None,
    };
    if secret_arn.is_none()
        && let Some(json) = var("SIGNING_KEYS_JSON")
    {
        config.apply_key_document(KeySetDocument::parse(&json)?);
    }
    if config.signing_keys.is_empty() {
        // Every execution environment would generate its own key, and tokens would not verify across them.
        return Err(ConfigError::Invalid(
            "no signing keys: set SIGNING_KEYS_SECRET_ARN (or SIGNING_KEYS_JSON locally)".into(),
        )
        .into());
    }
    let entropy = Arc::new(SystemEntropy);
    let store: Arc<dyn TokenStore> = match (&sdk, &table) {
        (Some(sdk), Some(table)) => {
            let store = DynamoStore::new(dynamodb::client(sdk, None), table.clone());
            add_table_issuers(&mut config, &store).await?;
            Arc::new(store)
        }
        _ => {
            tracing::warn!("TABLE_NAME is not set: embedded store, state is per execution environment");
            Arc::new(MemoryStore::with_clients(config.clients(entropy.as_ref())?))
        }
    };
    let issuer = config.issuer.clone();
    let clock = Arc::new(SystemClock);
    Ok(match key_source {
        Some(source) => {
            let ttl = match var("KEYS_CACHE_TTL_SECS") {
                Some(ttl) => ttl.parse().map_err(|_| {
                    ConfigError::Invalid(format!("KEYS_CACHE_TTL_SECS must be a number of seconds, not {ttl:?}"))
                })?,
                None => DEFAULT_KEYS_CACHE_TTL_SECS,
            };
            refreshing_service_on(store, &config, issuer.as_deref(), clock, entropy, Arc::new(source), ttl)?
        }
        None => service_on(store, &config, issuer.as_deref(), clock, entropy)?,
    })
}

/// The store alone, for the revocation-events function: it needs no keys, clients or issuer, only the table
/// (`TABLE_NAME`). Without it, an embedded store under `sam local invoke` (`AWS_SAM_LOCAL`) or outside Lambda,
/// and an init error in a deployed function: acknowledging revocations into a store nobody reads would lose them.
pub async fn store_from_env() -> Result<Arc<dyn TokenStore>, BootstrapError> {
    let deployed =
        std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() && std::env::var_os("AWS_SAM_LOCAL").is_none();
    match std::env::var("TABLE_NAME").ok().filter(|v| !v.trim().is_empty()) {
        Some(table) => {
            let sdk = dynamodb::sdk_config().await;
            Ok(Arc::new(DynamoStore::new(dynamodb::client(&sdk, None), table)))
        }
        None if deployed => Err(ConfigError::Invalid("TABLE_NAME is not set".into()).into()),
        None => {
            tracing::warn!("TABLE_NAME is not set: embedded store, revocations stay in this process");
            Ok(Arc::new(MemoryStore::new()))
        }
    }
}

/// Adds every tenant's trusted issuers kept in the table (registered with `tessera issuers import`) to the
/// configuration's. Read once at init: a function sees a new issuer from its next cold start on.
pub async fn add_table_issuers(
    config: &mut Config,
    registry: &dyn ClientRegistry,
) -> Result<(), crate::store::StoreError> {
    for tenant in config.tenant_ids() {
        let stored = registry.list_trusted_issuers(&tenant).await?;
        config
            .trusted_issuers
            .retain(|local| !stored.iter().any(|s| s.tenant == local.tenant && s.issuer == local.issuer));
        config.trusted_issuers.extend(stored);
    }
    Ok(())
}

//! The DynamoDB adapter: single-table design, one round trip per [`TokenStore`] operation.
//!
//! The item shape lives here, and only here:
//!
//! | attribute | type | on | meaning |
//! |---|---|---|---|
//! | `pk` | S | all | partition key `<tenant>#<kind>#<id>`; there is no sort key and no index |
//! | `kind` | S | all | `client`, `token`, `revoked_jti` or `watermark` |
//! | `expires_at` | N | all but clients | epoch seconds, the table's TTL attribute (rounded up, so never early) |
//! | `token_hash`, `token_kind`, `grant` (M), `revoked_at`, `rotated_at` (N, µs) | | token | an opaque access or refresh token |
//! | `tenant`, `jti`, `revoked_at` (N, µs) | | revoked_jti | a JWT revoked one by one |
//! | `tenant`, `target` (M), `revoked_before` (N, µs), `event_ids` (SS) | | watermark | everything of `target` issued at or before is revoked; the revocation events that raised it |
//! | `client` (M) | | client | a registered client; its secret only as `sha256$salt$digest` |
//! | `entry` (M) | | trusted_issuer | a trusted issuer's configuration, JWKS inline or as a URL |
//! | `token` (M: tenant, token_hash, issuer, subject, issued_at, expires_at), `revoked_at` | | external_token | a recorded external JWT |
//!
//! TTL deletion is lazy (up to days late), so expired items are still returned and [`super::Fetched`] drops
//! them on read. Reads are strongly consistent: a revocation that returned is seen by the next
//! introspection. Throttling, timeouts and unreachable endpoints become [`StoreError::Unavailable`] after the
//! SDK's bounded retries; the edge turns that into 503 `temporarily_unavailable`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client as DynamoClient;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnConsumedCapacity};
use serde::{Deserialize, Serialize};

use super::{ClientRegistry, ItemKind, Record, StoreError, StoreKey, TokenStore};
use crate::domain::client::Client;
use crate::domain::grant::Grant;
use crate::domain::revocation::{RevocationWatermark, RevokedJti, WatermarkTarget};
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;
use crate::domain::token::{ExternalTokenRecord, TokenHash, TokenKind, TokenRecord};
use crate::store::TrustedIssuerSet;

/// The partition key attribute.
pub const PARTITION_KEY: &str = "pk";
/// The TTL attribute (epoch seconds).
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// Attempts per operation, first try included, before the store counts as unavailable.
pub const MAX_ATTEMPTS: u32 = 3;
/// Seconds a client is told to wait after the store was unavailable.
pub const RETRY_AFTER_SECS: u32 = 1;
/// BatchGetItem returns unprocessed keys under throttling; they are retried this many times.
const UNPROCESSED_RETRIES: usize = 2;

/// The default time one DynamoDB attempt may take; an operation gets [`MAX_ATTEMPTS`] times as long.
pub const ATTEMPT_TIMEOUT_MS: u64 = 1_000;

/// Builds the shared AWS configuration once per process: standard retries bounded to [`MAX_ATTEMPTS`],
/// tight timeouts, and the endpoint from `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL` when set.
/// `TESSERA_DYNAMODB_ATTEMPT_TIMEOUT_MS` raises the attempt timeout for slow emulators (the test command
/// runs moto one request at a time); production keeps the default.
pub async fn sdk_config() -> aws_config::SdkConfig {
    let attempt_ms = std::env::var("TESSERA_DYNAMODB_ATTEMPT_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(ATTEMPT_TIMEOUT_MS);
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(amazon_roots_https_client())
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_millis(500))
                .operation_attempt_timeout(Duration::from_millis(attempt_ms))
                .operation_timeout(Duration::from_millis(attempt_ms * u64::from(MAX_ATTEMPTS)))
                .build(),
        )
        .load()
        .await
}

/// The Amazon Trust Services roots (Amazon Root CA 1 to 4, and the Starfield root they are cross-signed by): every
/// DynamoDB and Secrets Manager endpoint chains to one of them.
const AMAZON_ROOTS: [&str; 5] = [
    include_str!("../../certs/amazon-root-ca-1.pem"),
    include_str!("../../certs/amazon-root-ca-2.pem"),
    include_str!("../../certs/amazon-root-ca-3.pem"),
    include_str!("../../certs/amazon-root-ca-4.pem"),
    include_str!("../../certs/starfield-services-root-ca-g2.pem"),
];

/// The SDK's HTTPS client (rustls on aws-lc, like the default) trusting only [`AMAZON_ROOTS`]. The default client
/// reads every certificate under `/etc/ssl/certs` at init, about 300 files on a Debian host; this one reads none
/// (`scripts/bench` measures the difference in cold start).
fn amazon_roots_https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
    let trust = AMAZON_ROOTS.iter().fold(TrustStore::empty(), |store, pem| store.with_pem_certificate(pem.as_bytes()));
    let builder = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc));
    match TlsContext::builder().with_trust_store(trust).build() {
        Ok(context) => builder.tls_context(context).build_https(),
        // `build` cannot fail today; should it, the SDK's own roots are the safe fallback.
        Err(_) => builder.build_https(),
    }
}

/// A DynamoDB client from the shared configuration, optionally pointed at another endpoint (an emulator:
/// DynamoDB Local, moto). For such an endpoint, placeholder credentials are used when the environment has none
/// (`AWS_ACCESS_KEY_ID` unset) and `us-east-1` when no region is configured: emulators ignore both.
pub fn client(sdk: &aws_config::SdkConfig, endpoint: Option<&str>) -> DynamoClient {
    let mut builder = aws_sdk_dynamodb::config::Builder::from(sdk);
    if let Some(endpoint) = endpoint {
        builder = builder.endpoint_url(endpoint);
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            let local = aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "tessera-local");
            builder = builder.credentials_provider(local);
        }
        if sdk.region().is_none() {
            builder = builder.region(aws_sdk_dynamodb::config::Region::new("us-east-1"));
        }
    }
    DynamoClient::from_conf(builder.build())
}

/// A [`TokenStore`] and [`ClientRegistry`] on one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: DynamoClient,
    table: String,
    consumed: Arc<CapacityMeter>,
}

/// Capacity units DynamoDB reported as consumed (`ReturnConsumedCapacity: TOTAL` on every call), summed per
/// process: reads (`BatchGetItem`) and writes (everything else). Each call also logs its units at DEBUG.
#[derive(Debug, Default)]
pub struct CapacityMeter {
    read_milli: AtomicU64,
    write_milli: AtomicU64,
}

/// Capacity units consumed since the last [`DynamoStore::take_consumed`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ConsumedCapacity {
    /// Read capacity units.
    pub read_units: f64,
    /// Write capacity units.
    pub write_units: f64,
}

impl CapacityMeter {
    fn add(&self, operation: &'static str, write: bool, reported: &[aws_sdk_dynamodb::types::ConsumedCapacity]) {
        let units: f64 = reported.iter().filter_map(|c| c.capacity_units).sum();
        tracing::debug!(operation, capacity_units = units, "dynamodb consumed capacity");
        let counter = if write { &self.write_milli } else { &self.read_milli };
        // Units come in multiples of 0.5; thousandths keep them exact in an integer.
        counter.fetch_add((units * 1000.0).round() as u64, Ordering::Relaxed);
    }

    fn take(&self) -> ConsumedCapacity {
        ConsumedCapacity {
            read_units: self.read_milli.swap(0, Ordering::Relaxed) as f64 / 1000.0,
            write_units: self.write_milli.swap(0, Ordering::Relaxed) as f64 / 1000.0,
        }
    }
}

/// One item, as stored. `kind` is the tag.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Item {
    Client {
        pk: String,
        client: Client,
    },
    Token {
        pk: String,
        expires_at: u64,
        token_hash: TokenHash,
        token_kind: TokenKind,
        grant: Grant,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        revoked_at: Option<Timestamp>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rotated_at: Option<Timestamp>,
    },
    ExternalToken {
        pk: String,
        expires_at: u64,
        // Top level, like an opaque token's, so `mark_revoked` is one expression for both kinds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        revoked_at: Option<Timestamp>,
        token: ExternalTokenRecord,
    },
    RevokedJti {
        pk: String,
        expires_at: u64,
        tenant: TenantId,
        jti: String,
        revoked_at: Timestamp,
    },
    TrustedIssuers {
        pk: String,
        set: TrustedIssuerSet,
    },
    Watermark {
        pk: String,
        expires_at: u64,
        tenant: TenantId,
        target: WatermarkTarget,
        revoked_before: Timestamp,
    },
}

/// Epoch seconds for the TTL attribute, rounded up so DynamoDB never deletes an item early.
fn ttl_secs(at: Timestamp) -> u64 {
    at.as_micros().div_ceil(1_000_000)
}

impl From<Record> for Item {
    fn from(record: Record) -> Self {
        let pk = record.key().as_str().to_owned();
        match record {
            Record::Client(client) => Item::Client { pk, client },
            Record::Token(t) => Item::Token {
                pk,
                expires_at: ttl_secs(t.grant.expires_at),
                token_hash: t.token_hash,
                token_kind: t.kind,
                grant: t.grant,
                revoked_at: t.revoked_at,
                rotated_at: t.rotated_at,
            },
            Record::ExternalToken(mut token) => {
                let revoked_at = token.revoked_at.take();
                Item::ExternalToken { pk, expires_at: ttl_secs(token.expires_at), revoked_at, token }
            }
            Record::RevokedJti(j) => Item::RevokedJti {
                pk,
                expires_at: ttl_secs(j.expires_at),
                tenant: j.tenant,
                jti: j.jti,
                revoked_at: j.revoked_at,
            },
            Record::TrustedIssuers(set) => Item::TrustedIssuers { pk, set },
            Record::Watermark(w) => Item::Watermark {
                pk,
                expires_at: ttl_secs(w.expires_at),
                tenant: w.tenant,
                target: w.target,
                revoked_before: w.revoked_before,
            },
        }
    }
}

impl From<Item> for Record {
    fn from(item: Item) -> Self {
        match item {
            Item::Client { client, .. } => Record::Client(client),
            Item::Token { token_hash, token_kind, grant, revoked_at, rotated_at, .. } => {
                Record::Token(TokenRecord { token_hash, kind: token_kind, grant, revoked_at, rotated_at })
            }
            Item::ExternalToken { revoked_at, mut token, .. } => {
                token.revoked_at = revoked_at.or(token.revoked_at);
                Record::ExternalToken(token)
            }
            Item::RevokedJti { expires_at, tenant, jti, revoked_at, .. } => {
                Record::RevokedJti(RevokedJti { tenant, jti, revoked_at, expires_at: Timestamp::from_secs(expires_at) })
            }
            Item::TrustedIssuers { set, .. } => Record::TrustedIssuers(set),
            Item::Watermark { expires_at, tenant, target, revoked_before, .. } => {
                Record::Watermark(RevocationWatermark {
                    tenant,
                    target,
                    revoked_before,
                    expires_at: Timestamp::from_secs(expires_at),
                })
            }
        }
    }
}

fn to_item(record: Record) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let key = record.key().to_string();
    serde_dynamo::to_item(Item::from(record)).map_err(|e| StoreError::Corrupt { key, reason: e.to_string() })
}

fn from_item(item: HashMap<String, AttributeValue>) -> Result<Record, StoreError> {
    let key = match item.get(PARTITION_KEY) {
        Some(AttributeValue::S(pk)) => pk.clone(),
        _ => "(no pk)".to_owned(),
    };
    let item: Item = serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt { key, reason: e.to_string() })?;
    Ok(item.into())
}

/// The item's size as DynamoDB bills it (attribute names plus values; strings and binaries by length,
/// numbers about one byte per two digits plus one, 3 bytes of overhead per list or map plus 1 per element).
/// Items are kept under 1 KB, so a strongly consistent read of one costs 1 RCU (0.5 eventually consistent).
pub fn item_size(record: &Record) -> Result<usize, StoreError> {
    fn value_size(value: &AttributeValue) -> usize {
        match value {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => n.trim_start_matches('-').len().div_ceil(2) + 1,
            AttributeValue::B(b) => b.as_ref().len(),
            AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
            AttributeValue::L(items) => 3 + items.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
            AttributeValue::M(map) => 3 + map.iter().map(|(k, v)| 1 + k.len() + value_size(v)).sum::<usize>(),
            AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
            AttributeValue::Ns(set) => set.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
            AttributeValue::Bs(set) => set.iter().map(|b| b.as_ref().len()).sum(),
            _ => 0,
        }
    }
    Ok(to_item(record.clone())?.iter().map(|(name, value)| name.len() + value_size(value)).sum())
}

fn pk_value(key: &StoreKey) -> HashMap<String, AttributeValue> {
    HashMap::from([(PARTITION_KEY.to_owned(), AttributeValue::S(key.as_str().to_owned()))])
}

/// Whether a conditional write failed its condition.
fn condition_failed<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    matches!(err, SdkError::ServiceError(ctx) if ctx.err().code() == Some("ConditionalCheckFailedException"))
}

/// Maps an SDK failure: throttling, server errors, timeouts and connection failures are `Unavailable`
/// (the SDK has already retried them); anything else (a missing table, a validation error) is a fault.
fn classify<E, R>(err: SdkError<E, R>, key: &str) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let unavailable = |reason: String| StoreError::Unavailable { reason, retry_after_secs: RETRY_AFTER_SECS };
    match &err {
        SdkError::ServiceError(ctx) => {
            let code = ctx.err().code().unwrap_or("Unknown");
            match code {
                "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "InternalServerError"
                | "ServiceUnavailable" => unavailable(format!("{code} on {key}")),
                _ => StoreError::Rejected {
                    key: key.to_owned(),
                    reason: format!("{code}: {}", ctx.err().message().unwrap_or("")),
                },
            }
        }
        _ => unavailable(format!("{} on {key}", aws_sdk_dynamodb::error::DisplayErrorContext(&err))),
    }
}

impl DynamoStore {
    /// A store on `table` through `client`.
    pub fn new(client: DynamoClient, table: impl Into<String>) -> Self {
        Self { client, table: table.into(), consumed: Arc::default() }
    }

    /// The capacity DynamoDB reported since the last call, resetting it (clones share one meter).
    pub fn take_consumed(&self) -> ConsumedCapacity {
        self.consumed.take()
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// A transaction item putting `record` on condition that its key is free.
    fn conditional_put(&self, record: Record) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
        use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
        let key = record.key().to_string();
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(record)?))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| StoreError::Corrupt { key, reason: e.to_string() })?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Runs one `TransactWriteItems`. A failed condition or a transaction conflict on `guarded` (the first
    /// item) is a [`StoreError::Conflict`]; on any other item, [`StoreError::AlreadyExists`].
    async fn transact(
        &self,
        items: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
        keys: &[String],
        guarded: Option<&StoreKey>,
    ) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        let err = match result {
            Ok(output) => {
                self.consumed.add("TransactWriteItems", true, output.consumed_capacity());
                return Ok(());
            }
            Err(err) => err,
        };
        if let SdkError::ServiceError(ctx) = &err
            && let TransactWriteItemsError::TransactionCanceledException(cancelled) = ctx.err()
        {
            let failed: Vec<usize> = cancelled
                .cancellation_reasons()
                .iter()
                .enumerate()
                // A concurrent transaction on the same item (`TransactionConflict`) lost the race just the
                // same as a failed condition: the other rotation wins.
                .filter(|(_, r)| matches!(r.code(), Some("ConditionalCheckFailed" | "TransactionConflict")))
                .map(|(i, _)| i)
                .collect();
            match (failed.first(), guarded) {
                (Some(0), Some(old)) => return Err(StoreError::Conflict(old.to_string())),
                (Some(&i), _) => {
                    return Err(StoreError::AlreadyExists(keys.get(i).cloned().unwrap_or_default()));
                }
                (None, _) => {}
            }
        }
        Err(classify(err, keys.first().map(String::as_str).unwrap_or(&self.table)))
    }

    /// Creates the table as `template.yaml` defines it (on-demand, `pk` hash key, TTL on `expires_at`), for
    /// the local runner and the emulator. Does nothing if it exists.
    pub async fn create_table_if_missing(&self) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TimeToLiveSpecification,
        };
        let corrupt = |reason: String| StoreError::Corrupt { key: self.table.clone(), reason };
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(PARTITION_KEY)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(|e| corrupt(e.to_string()))?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(PARTITION_KEY)
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(|e| corrupt(e.to_string()))?,
            )
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(err) if err.code() == Some("ResourceInUseException") => return Ok(()),
            Err(err) => return Err(classify(err, &self.table)),
        }
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(TTL_ATTRIBUTE)
                    .build()
                    .map_err(|e| corrupt(e.to_string()))?,
            )
            .send()
            .await
            .map_err(|err| classify(err, &self.table))?;
        Ok(())
    }
}

#[async_trait]
impl TokenStore for DynamoStore {
    async fn get_many(&self, keys: &[StoreKey]) -> Result<Vec<Record>, StoreError> {
        // BatchGetItem refuses duplicate keys.
        let mut seen = HashSet::new();
        let unique: Vec<_> = keys.iter().filter(|k| seen.insert(k.as_str())).map(pk_value).collect();
        if unique.is_empty() {
            return Ok(Vec::new());
        }
        let mut pending = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(unique))
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::Corrupt { key: self.table.clone(), reason: e.to_string() })?,
        );
        let mut records = Vec::with_capacity(keys.len());
        let mut attempt = 0;
        while let Some(request) = pending.take() {
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(|err| classify(err, &self.table))?;
            self.consumed.add("BatchGetItem", false, output.consumed_capacity());
            for item in output.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default() {
                records.push(from_item(item)?);
            }
            pending = output.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).filter(|k| !k.keys.is_empty());
            if pending.is_some() {
                attempt += 1;
                if attempt > UNPROCESSED_RETRIES {
                    return Err(StoreError::Unavailable {
                        reason: "BatchGetItem left keys unprocessed".into(),
                        retry_after_secs: RETRY_AFTER_SECS,
                    });
                }
                tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
            }
        }
        Ok(records)
    }

    async fn put_new(&self, record: Record) -> Result<(), StoreError> {
        let key = record.key().to_string();
        let output = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(record)?))
            .condition_expression("attribute_not_exists(pk)")
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|err| {
                if condition_failed(&err) { StoreError::AlreadyExists(key.clone()) } else { classify(err, &key) }
            })?;
        self.consumed.add("PutItem", true, output.consumed_capacity.as_slice());
        Ok(())
    }

    async fn mark_revoked(&self, key: &StoreKey, at: Timestamp) -> Result<(), StoreError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(pk_value(key)))
            .update_expression("SET revoked_at = if_not_exists(revoked_at, :at)")
            .condition_expression("attribute_exists(pk) AND #kind IN (:token, :external)")
            .expression_attribute_names("#kind", "kind")
            .expression_attribute_values(":at", AttributeValue::N(at.as_micros().to_string()))
            .expression_attribute_values(":token", AttributeValue::S("token".into()))
            .expression_attribute_values(":external", AttributeValue::S("external_token".into()))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|err| {
                if condition_failed(&err) { StoreError::NotFound(key.to_string()) } else { classify(err, key.as_str()) }
            })?;
        self.consumed.add("UpdateItem", true, output.consumed_capacity.as_slice());
        Ok(())
    }

    async fn put_new_all(&self, records: Vec<Record>) -> Result<(), StoreError> {
        let keys: Vec<String> = records.iter().map(|r| r.key().to_string()).collect();
        let items = records.into_iter().map(|r| self.conditional_put(r)).collect::<Result<Vec<_>, _>>()?;
        self.transact(items, &keys, None).await
    }

    async fn rotate(&self, old: &StoreKey, at: Timestamp, new: Vec<Record>) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
        let mut keys = vec![old.to_string()];
        keys.extend(new.iter().map(|r| r.key().to_string()));
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(pk_value(old)))
            .update_expression("SET rotated_at = :at")
            .condition_expression(
                "attribute_exists(pk) AND #kind = :token AND attribute_not_exists(rotated_at) \
                 AND attribute_not_exists(revoked_at)",
            )
            .expression_attribute_names("#kind", "kind")
            .expression_attribute_values(":at", AttributeValue::N(at.as_micros().to_string()))
            .expression_attribute_values(":token", AttributeValue::S("token".into()))
            .build()
            .map_err(|e| StoreError::Corrupt { key: old.to_string(), reason: e.to_string() })?;
        let mut items = vec![TransactWriteItem::builder().update(update).build()];
        for record in new {
            items.push(self.conditional_put(record)?);
        }
        self.transact(items, &keys, Some(old)).await
    }

    async fn raise_watermark(
        &self,
        watermark: RevocationWatermark,
        event_id: Option<&str>,
    ) -> Result<bool, StoreError> {
        let record = Record::Watermark(watermark);
        let key = record.key();
        // One conditional update that sets every attribute of the watermark item: it lands only if it raises
        // the mark and, with an event id, only if the item has not seen that event (kept in `event_ids`).
        let mut update = self.client.update_item().table_name(&self.table).set_key(Some(pk_value(&key)));
        let mut assignments = Vec::new();
        for (i, (name, value)) in to_item(record)?.into_iter().filter(|(name, _)| name != PARTITION_KEY).enumerate() {
            assignments.push(format!("#a{i} = :a{i}"));
            if name == "revoked_before" {
                update = update.expression_attribute_values(":mark", value.clone());
            }
            update = update
                .expression_attribute_names(format!("#a{i}"), name)
                .expression_attribute_values(format!(":a{i}"), value);
        }
        let mut expression = format!("SET {}", assignments.join(", "));
        let mut condition = "(attribute_not_exists(pk) OR revoked_before < :mark)".to_owned();
        if let Some(id) = event_id {
            expression.push_str(" ADD event_ids :event_set");
            condition.push_str(" AND NOT contains(event_ids, :event_id)");
            update = update
                .expression_attribute_values(":event_set", AttributeValue::Ss(vec![id.to_owned()]))
                .expression_attribute_values(":event_id", AttributeValue::S(id.to_owned()));
        }
        let result = update
            .update_expression(expression)
            .condition_expression(condition)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(output) => {
                self.consumed.add("UpdateItem", true, output.consumed_capacity.as_slice());
                Ok(true)
            }
            Err(err) if condition_failed(&err) => {
                // A higher mark is there (or the event was seen). Remember the id anyway, so a re-delivery of
                // this event cannot raise the mark later: one more write, only on this path.
                if let Some(id) = event_id {
                    let output = self
                        .client
                        .update_item()
                        .table_name(&self.table)
                        .set_key(Some(pk_value(&key)))
                        .update_expression("ADD event_ids :event_set")
                        .condition_expression("attribute_exists(pk)")
                        .expression_attribute_values(":event_set", AttributeValue::Ss(vec![id.to_owned()]))
                        .return_consumed_capacity(ReturnConsumedCapacity::Total)
                        .send()
                        .await
                        .map_err(|err| classify(err, key.as_str()))?;
                    self.consumed.add("UpdateItem", true, output.consumed_capacity.as_slice());
                }
                Ok(false)
            }
            Err(err) => Err(classify(err, key.as_str())),
        }
    }
}

#[async_trait]
impl ClientRegistry for DynamoStore {
    async fn put(&self, record: Record) -> Result<(), StoreError> {
        let key = record.key().to_string();
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(record)?))
            .send()
            .await
            .map_err(|err| classify(err, &key))?;
        Ok(())
    }

    async fn list(&self, tenant: &TenantId, kind: ItemKind) -> Result<Vec<Record>, StoreError> {
        let mut records = Vec::new();
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("begins_with(pk, :prefix)")
            .expression_attribute_values(":prefix", AttributeValue::S(StoreKey::prefix(tenant, kind)))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            records.push(from_item(item.map_err(|err| classify(err, &self.table))?)?);
        }
        Ok(records)
    }

    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(key.to_string()))
            .send()
            .await
            .map_err(|err| classify(err, key.as_str()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::client::{ClientId, GrantType, SecretHash, TokenFormat};
    use crate::domain::id::FamilyId;
    use crate::domain::profile::ProfileAttribute;
    use crate::domain::scope::ScopeSet;
    use crate::domain::token::{OpaqueToken, TokenKind};

    fn grant() -> Grant {
        Grant {
            tenant: TenantId::default(),
            client_id: ClientId::parse("orders-service-production-eu-west-1").unwrap(),
            subject: "auth0|6740d1c03f1c2b9a7e5d4c3b".into(),
            username: Some("alice@example.com".into()),
            user_details: std::collections::BTreeMap::from([(
                "email".to_owned(),
                serde_json::json!("alice@example.com"),
            )]),
            amr: vec!["pwd".into(), "mfa".into()],
            scope: ScopeSet::parse("orders:read orders:write invoices:read customers:read").unwrap(),
            audience: vec!["https://orders.api.example.com".into()],
            family: FamilyId::from_bytes([7; 16]),
            issued_at: Timestamp::from_micros(1_800_000_000_123_456),
            expires_at: Timestamp::from_secs(1_800_003_600),
        }
    }

    #[test]
    fn every_item_kind_round_trips_and_stays_under_1_kb() {
        let token = OpaqueToken::mint(TokenKind::RefreshToken, &grant(), [9; 32]);
        let client = Client {
            tenant: TenantId::default(),
            client_id: ClientId::parse("orders-service-production-eu-west-1").unwrap(),
            secret_hash: SecretHash::new("s", [1; 16]),
            scopes: ScopeSet::parse("orders:read orders:write invoices:read customers:read admin:audit").unwrap(),
            default_scopes: ScopeSet::parse("orders:read").unwrap(),
            grant_types: GrantType::ALL.into_iter().collect(),
            access_token_format: TokenFormat::Opaque,
            access_token_ttl_secs: 300,
            refresh_token_ttl_secs: 86_400,
            may_introspect: true,
            audiences: vec!["https://orders.api.example.com".into(), "https://invoices.api.example.com".into()],
            disabled: false,
            introspection_profile: [
                ProfileAttribute::UserDetails,
                ProfileAttribute::Amr,
                ProfileAttribute::Permissions,
            ]
            .into(),
        };
        let records = [
            Record::Client(client),
            Record::Token(TokenRecord {
                token_hash: token.hash(),
                kind: TokenKind::RefreshToken,
                grant: grant(),
                revoked_at: Some(Timestamp::from_micros(1_800_000_001_000_000)),
                rotated_at: Some(Timestamp::from_micros(1_800_000_000_500_000)),
            }),
            Record::RevokedJti(RevokedJti {
                tenant: TenantId::default(),
                jti: "LkTfv-FW_d045kDVa9GJQw".into(),
                revoked_at: Timestamp::from_micros(1_800_000_000_000_001),
                expires_at: Timestamp::from_secs(1_800_000_300),
            }),
            Record::Watermark(RevocationWatermark {
                tenant: TenantId::default(),
                target: WatermarkTarget::subject("auth0|6740d1c03f1c2b9a7e5d4c3b"),
                revoked_before: Timestamp::from_micros(1_800_000_000_000_001),
                expires_at: Timestamp::from_secs(1_800_086_400),
            }),
        ];
        for record in records {
            let size = item_size(&record).unwrap();
            eprintln!("{}: {size} bytes", record.key().as_str().split('#').nth(1).unwrap_or(""));
            assert!(size <= 1024, "{record:?} is {size} bytes");
            let item = to_item(record.clone()).unwrap();
            assert!(matches!(item.get(PARTITION_KEY), Some(AttributeValue::S(pk)) if pk == record.key().as_str()));
            if let Some(expires) = record.expires_at() {
                let ttl = item.get(TTL_ATTRIBUTE).and_then(|v| v.as_n().ok()).unwrap().parse::<u64>().unwrap();
                assert!(ttl >= expires.as_secs() && ttl <= expires.as_secs() + 1, "TTL never early");
            }
            assert_eq!(from_item(item).unwrap(), record);
        }
    }

    #[test]
    fn a_foreign_item_is_reported_not_panicked() {
        let item = HashMap::from([
            (PARTITION_KEY.to_owned(), AttributeValue::S("default#tok#x".into())),
            ("kind".to_owned(), AttributeValue::S("token".into())),
        ]);
        assert!(matches!(from_item(item), Err(StoreError::Corrupt { .. })));
    }
}

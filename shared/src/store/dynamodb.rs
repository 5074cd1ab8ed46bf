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
//! SDK's bounded retries ([`crate::aws_sdk`]); the edge turns that into 503 `temporarily_unavailable`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
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
/// Seconds a client is told to wait after the store was unavailable.
pub const RETRY_AFTER_SECS: u32 = 1;
/// BatchGetItem returns unprocessed keys under throttling; they are retried this many times.
const UNPROCESSED_RETRIES: usize = 2;

/// A DynamoDB client from the shared configuration ([`crate::aws_sdk::sdk_config`]), optionally pointed at another endpoint (an emulator:
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
    use crate::domain::id::{FamilyId, IdTag};
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

    // The pins: every item kind exactly as the table holds it, attribute by attribute (names, DynamoDB types,
    // values). Rows written by earlier releases live in users' tables for months, so a change here is a data
    // migration, never a refactor: each of these must keep reading back to its record, and each record must keep
    // writing exactly these attributes.

    fn s(value: &str) -> AttributeValue {
        AttributeValue::S(value.to_owned())
    }

    fn n(value: &str) -> AttributeValue {
        AttributeValue::N(value.to_owned())
    }

    fn l(values: &[AttributeValue]) -> AttributeValue {
        AttributeValue::L(values.to_vec())
    }

    fn ss(values: &[&str]) -> AttributeValue {
        AttributeValue::Ss(values.iter().map(|v| (*v).to_owned()).collect())
    }

    fn strings(values: &[&str]) -> AttributeValue {
        l(&values.iter().map(|v| s(v)).collect::<Vec<_>>())
    }

    fn m(pairs: &[(&str, AttributeValue)]) -> AttributeValue {
        AttributeValue::M(attributes(pairs))
    }

    fn attributes(pairs: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
        let map: HashMap<_, _> = pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
        assert_eq!(map.len(), pairs.len(), "an attribute named twice in a pin");
        map
    }

    const ACME: &str = "acme";
    const SECRET_HASH: &str = "sha256$AQEBAQEBAQEBAQEBAQEBAQ$AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI";
    const FAMILY: &str = "BwcHBwcHBwcHBwcHBwcHBw";
    const SUBJECT_TAG: &str = "CAgICAgICAgICAgICAgICA";
    const CLIENT_TAG: &str = "CQkJCQkJCQkJCQkJCQkJCQ";
    const ACCESS_HASH: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    const REFRESH_HASH: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8";
    const EXTERNAL_HASH: &str = "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8";

    fn acme() -> TenantId {
        TenantId::parse(ACME).unwrap()
    }

    fn token_hash(hash: &str) -> TokenHash {
        serde_json::from_value(serde_json::json!(hash)).unwrap()
    }

    fn pinned_client(profile: bool) -> (Record, HashMap<String, AttributeValue>) {
        let client = Client {
            tenant: acme(),
            client_id: ClientId::parse("orders-service").unwrap(),
            secret_hash: SecretHash::try_from(SECRET_HASH.to_owned()).unwrap(),
            scopes: ScopeSet::parse("orders:write orders:read").unwrap(),
            default_scopes: ScopeSet::parse("orders:read").unwrap(),
            grant_types: GrantType::ALL.into_iter().collect(),
            access_token_format: if profile { TokenFormat::Opaque } else { TokenFormat::Jwt },
            access_token_ttl_secs: 300,
            refresh_token_ttl_secs: 86_400,
            may_introspect: profile,
            audiences: vec!["https://orders.example".into(), "https://invoices.example".into()],
            disabled: !profile,
            introspection_profile: if profile {
                [ProfileAttribute::Permissions, ProfileAttribute::UserDetails, ProfileAttribute::Amr].into()
            } else {
                Default::default()
            },
        };
        let mut inner = vec![
            ("tenant", s(ACME)),
            ("client_id", s("orders-service")),
            ("secret_hash", s(SECRET_HASH)),
            ("scopes", strings(&["orders:read", "orders:write"])),
            ("default_scopes", strings(&["orders:read"])),
            (
                "grant_types",
                strings(&["client_credentials", "refresh_token", "urn:ietf:params:oauth:grant-type:token-exchange"]),
            ),
            ("access_token_format", s(if profile { "opaque" } else { "jwt" })),
            ("access_token_ttl_secs", n("300")),
            ("refresh_token_ttl_secs", n("86400")),
            ("may_introspect", AttributeValue::Bool(profile)),
            ("audiences", strings(&["https://orders.example", "https://invoices.example"])),
            ("disabled", AttributeValue::Bool(!profile)),
        ];
        if profile {
            inner.push(("introspection_profile", strings(&["user_details", "amr", "permissions"])));
        }
        let item = attributes(&[("pk", s("acme#client#orders-service")), ("kind", s("client")), ("client", m(&inner))]);
        (Record::Client(client), item)
    }

    /// A user token's grant (username, user details, amr) or a client-credentials one (none of them).
    fn pinned_grant(user: bool) -> (Grant, AttributeValue) {
        let grant = Grant {
            tenant: acme(),
            client_id: ClientId::parse("orders-service").unwrap(),
            subject: if user { "auth0|alice" } else { "orders-service" }.into(),
            username: user.then(|| "alice@example.com".into()),
            user_details: if user {
                [
                    ("email", serde_json::json!("alice@example.com")),
                    ("age", serde_json::json!(42)),
                    ("verified", serde_json::json!(true)),
                    ("groups", serde_json::json!(["admins", "staff"])),
                    ("address", serde_json::json!({"city": "Oslo"})),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect()
            } else {
                Default::default()
            },
            amr: if user { vec!["pwd".into(), "mfa".into()] } else { Vec::new() },
            scope: ScopeSet::parse("orders:read").unwrap(),
            audience: vec!["https://orders.example".into()],
            family: FamilyId::try_from(FAMILY.to_owned()).unwrap(),
            issued_at: Timestamp::from_micros(1_800_000_000_123_456),
            expires_at: Timestamp::from_micros(1_800_003_600_123_456),
        };
        let mut attrs = vec![
            ("tenant", s(ACME)),
            ("client_id", s("orders-service")),
            ("subject", s(if user { "auth0|alice" } else { "orders-service" })),
            ("scope", strings(&["orders:read"])),
            ("audience", strings(&["https://orders.example"])),
            ("family", s(FAMILY)),
            ("issued_at", n("1800000000123456")),
            ("expires_at", n("1800003600123456")),
        ];
        if user {
            attrs.push(("username", s("alice@example.com")));
            attrs.push((
                "user_details",
                m(&[
                    ("email", s("alice@example.com")),
                    ("age", n("42")),
                    ("verified", AttributeValue::Bool(true)),
                    ("groups", strings(&["admins", "staff"])),
                    ("address", m(&[("city", s("Oslo"))])),
                ]),
            ));
            attrs.push(("amr", strings(&["pwd", "mfa"])));
        }
        (grant, m(&attrs))
    }

    /// An opaque access token (client credentials, live), or a refresh token (a user's, rotated then revoked).
    fn pinned_token(refresh: bool) -> (Record, HashMap<String, AttributeValue>) {
        let (grant, grant_attrs) = pinned_grant(refresh);
        let hash = if refresh { REFRESH_HASH } else { ACCESS_HASH };
        let record = TokenRecord {
            token_hash: token_hash(hash),
            kind: if refresh { TokenKind::RefreshToken } else { TokenKind::AccessToken },
            grant,
            revoked_at: refresh.then(|| Timestamp::from_micros(1_800_000_002_000_002)),
            rotated_at: refresh.then(|| Timestamp::from_micros(1_800_000_001_000_001)),
        };
        let pk = format!("acme#tok#{hash}");
        let mut attrs = vec![
            ("pk", s(&pk)),
            ("kind", s("token")),
            // The TTL in whole seconds, rounded up from the grant's microseconds.
            ("expires_at", n("1800003601")),
            ("token_hash", s(hash)),
            ("token_kind", s(if refresh { "refresh_token" } else { "access_token" })),
            ("grant", grant_attrs),
        ];
        if refresh {
            attrs.push(("revoked_at", n("1800000002000002")));
            attrs.push(("rotated_at", n("1800000001000001")));
        }
        (Record::Token(record), attributes(&attrs))
    }

    fn pinned_revoked_jti() -> (Record, HashMap<String, AttributeValue>) {
        let record = Record::RevokedJti(RevokedJti {
            tenant: acme(),
            jti: "LkTfv-FW_d045kDVa9GJQw".into(),
            revoked_at: Timestamp::from_micros(1_800_000_000_000_001),
            expires_at: Timestamp::from_secs(1_800_000_300),
        });
        let item = attributes(&[
            ("pk", s("acme#jti#LkTfv-FW_d045kDVa9GJQw")),
            ("kind", s("revoked_jti")),
            ("expires_at", n("1800000300")),
            ("tenant", s(ACME)),
            ("jti", s("LkTfv-FW_d045kDVa9GJQw")),
            ("revoked_at", n("1800000000000001")),
        ]);
        (record, item)
    }

    /// The watermark of each kind of target.
    fn pinned_watermarks() -> Vec<(Record, HashMap<String, AttributeValue>)> {
        let targets = [
            (WatermarkTarget::Family(FamilyId::try_from(FAMILY.to_owned()).unwrap()), "fam:", "family", FAMILY),
            (
                WatermarkTarget::Subject(IdTag::try_from(SUBJECT_TAG.to_owned()).unwrap()),
                "sub:",
                "subject",
                SUBJECT_TAG,
            ),
            (WatermarkTarget::Client(IdTag::try_from(CLIENT_TAG.to_owned()).unwrap()), "cli:", "client", CLIENT_TAG),
            (WatermarkTarget::Tenant, "all", "tenant", ""),
        ];
        targets
            .into_iter()
            .map(|(target, prefix, kind, id)| {
                let record = Record::Watermark(RevocationWatermark {
                    tenant: acme(),
                    target,
                    revoked_before: Timestamp::from_micros(1_800_000_000_000_001),
                    expires_at: Timestamp::from_secs(1_807_779_601),
                });
                let target = match id {
                    "" => m(&[("kind", s(kind))]),
                    id => m(&[("kind", s(kind)), ("id", s(id))]),
                };
                let item = attributes(&[
                    ("pk", s(&format!("acme#wm#{prefix}{id}"))),
                    ("kind", s("watermark")),
                    ("expires_at", n("1807779601")),
                    ("tenant", s(ACME)),
                    ("target", target),
                    ("revoked_before", n("1800000000000001")),
                ]);
                (record, item)
            })
            .collect()
    }

    /// A tenant's trusted issuers: one with its JWKS inline and every optional field set, one with a JWKS URL and
    /// the defaults.
    fn pinned_trusted_issuers() -> (Record, HashMap<String, AttributeValue>) {
        let toml = r#"
            [[trusted_issuers]]
            tenant = "acme"
            issuer = "https://idp.acme.example/"
            audiences = ["https://orders.example", "orders"]
            algorithms = ["ES256", "RS256"]
            jwks = '{"keys":[]}'
            subject_claim = "oid"
            username_claim = "email"
            claims_mapping = { email = "email", given_name = "first_name" }
            record_tokens = true

            [[trusted_issuers]]
            tenant = "acme"
            issuer = "https://login.partner.example/"
            audiences = []
            algorithms = ["EdDSA"]
            jwks_uri = "https://login.partner.example/jwks.json"
        "#;
        let entries = crate::config::Config::from_toml(toml).unwrap().trusted_issuers;
        let record = Record::TrustedIssuers(TrustedIssuerSet { tenant: acme(), entries });
        let inline = m(&[
            ("tenant", s(ACME)),
            ("issuer", s("https://idp.acme.example/")),
            ("audiences", strings(&["https://orders.example", "orders"])),
            ("algorithms", strings(&["ES256", "RS256"])),
            ("jwks", s(r#"{"keys":[]}"#)),
            ("subject_claim", s("oid")),
            ("username_claim", s("email")),
            ("claims_mapping", m(&[("email", s("email")), ("given_name", s("first_name"))])),
            ("record_tokens", AttributeValue::Bool(true)),
        ]);
        let by_uri = m(&[
            ("tenant", s(ACME)),
            ("issuer", s("https://login.partner.example/")),
            ("audiences", l(&[])),
            ("algorithms", strings(&["EdDSA"])),
            ("jwks_uri", s("https://login.partner.example/jwks.json")),
            ("subject_claim", s("sub")),
            ("claims_mapping", m(&[])),
            ("record_tokens", AttributeValue::Bool(false)),
        ]);
        let item = attributes(&[
            ("pk", s("acme#iss#set")),
            ("kind", s("trusted_issuers")),
            ("set", m(&[("tenant", s(ACME)), ("entries", l(&[inline, by_uri]))])),
        ]);
        (record, item)
    }

    /// A trusted issuer's JWT recorded at introspection, live or revoked (`revoked_at` at the top level, where
    /// `mark_revoked` sets it for both token kinds).
    fn pinned_external_token(revoked: bool) -> (Record, HashMap<String, AttributeValue>) {
        let record = ExternalTokenRecord {
            tenant: acme(),
            token_hash: token_hash(EXTERNAL_HASH),
            issuer: "https://idp.acme.example/".into(),
            subject: "auth0|alice".into(),
            issued_at: Timestamp::from_secs(1_800_000_000),
            expires_at: Timestamp::from_secs(1_800_003_600),
            revoked_at: revoked.then(|| Timestamp::from_micros(1_800_000_100_000_001)),
        };
        let mut attrs = vec![
            ("pk", s(&format!("acme#tok#{EXTERNAL_HASH}"))),
            ("kind", s("external_token")),
            ("expires_at", n("1800003600")),
            (
                "token",
                m(&[
                    ("tenant", s(ACME)),
                    ("token_hash", s(EXTERNAL_HASH)),
                    ("issuer", s("https://idp.acme.example/")),
                    ("subject", s("auth0|alice")),
                    ("issued_at", n("1800000000000000")),
                    ("expires_at", n("1800003600000000")),
                ]),
            ),
        ];
        if revoked {
            attrs.push(("revoked_at", n("1800000100000001")));
        }
        (Record::ExternalToken(record), attributes(&attrs))
    }

    /// Every item kind, with and without its optional attributes.
    fn pins() -> Vec<(Record, HashMap<String, AttributeValue>)> {
        let mut pins = vec![
            pinned_client(true),
            pinned_client(false),
            pinned_token(false),
            pinned_token(true),
            pinned_revoked_jti(),
            pinned_trusted_issuers(),
            pinned_external_token(false),
            pinned_external_token(true),
        ];
        pins.extend(pinned_watermarks());
        pins
    }

    #[test]
    fn every_item_kind_is_written_and_read_exactly_as_pinned() {
        for (record, item) in pins() {
            assert_eq!(to_item(record.clone()).unwrap(), item, "{record:?} writes other attributes");
            assert_eq!(from_item(item).unwrap(), record);
        }
    }

    #[test]
    fn items_with_attributes_other_writers_add_read_as_pinned() {
        // `raise_watermark` adds the ids of the events that raised a watermark (a string set) to the item.
        for (record, mut item) in pinned_watermarks() {
            item.insert("event_ids".into(), ss(&["password-changed-0001", "evt-2"]));
            assert_eq!(from_item(item).unwrap(), record);
        }
        // `mark_revoked` sets `revoked_at` on a token item; `rotate` sets `rotated_at` (both microseconds).
        let (Record::Token(mut revoked), mut item) = pinned_token(false) else { unreachable!() };
        item.insert("revoked_at".into(), n("1800000002000002"));
        item.insert("rotated_at".into(), n("1800000001000001"));
        revoked.revoked_at = Some(Timestamp::from_micros(1_800_000_002_000_002));
        revoked.rotated_at = Some(Timestamp::from_micros(1_800_000_001_000_001));
        assert_eq!(from_item(item).unwrap(), Record::Token(revoked));
        // A recorded external token whose revocation sits inside `token` (how it was once written) reads revoked.
        let (revoked, _) = pinned_external_token(true);
        let (_, mut item) = pinned_external_token(false);
        let Some(AttributeValue::M(token)) = item.get_mut("token") else { unreachable!() };
        token.insert("revoked_at".into(), n("1800000100000001"));
        assert_eq!(from_item(item).unwrap(), revoked);
    }

    #[test]
    fn a_ttl_is_rounded_up_to_whole_seconds_and_read_back_as_them() {
        // Denylist entries and watermarks keep no expiry but the TTL attribute: a sub-second one reads back
        // rounded up (never early). Token records keep theirs in full in the grant.
        let (Record::Watermark(mut mark), item) = pinned_watermarks().remove(0) else { unreachable!() };
        let whole = mark.expires_at;
        mark.expires_at = Timestamp::from_micros(1_807_779_600_000_001);
        assert_eq!(to_item(Record::Watermark(mark.clone())).unwrap(), item);
        assert_eq!(from_item(item).unwrap(), Record::Watermark(RevocationWatermark { expires_at: whole, ..mark }));
        let (Record::RevokedJti(mut jti), item) = pinned_revoked_jti() else { unreachable!() };
        let whole = jti.expires_at;
        jti.expires_at = Timestamp::from_micros(1_800_000_299_000_001);
        assert_eq!(to_item(Record::RevokedJti(jti.clone())).unwrap(), item);
        assert_eq!(from_item(item).unwrap(), Record::RevokedJti(RevokedJti { expires_at: whole, ..jti }));
    }

    #[test]
    fn items_without_optional_attributes_read_with_their_defaults() {
        // A trusted issuer entry with only the required attributes: tenant `default`, subject claim `sub`, no
        // username claim, no claims mapping, tokens not recorded.
        let item = attributes(&[
            ("pk", s("default#iss#set")),
            ("kind", s("trusted_issuers")),
            (
                "set",
                m(&[
                    ("tenant", s("default")),
                    (
                        "entries",
                        l(&[m(&[
                            ("issuer", s("https://idp.example/")),
                            ("audiences", strings(&["api"])),
                            ("algorithms", strings(&["RS256"])),
                            ("jwks_uri", s("https://idp.example/jwks")),
                        ])]),
                    ),
                ]),
            ),
        ]);
        let toml = "[[trusted_issuers]]\nissuer = \"https://idp.example/\"\naudiences = [\"api\"]\n\
                    algorithms = [\"RS256\"]\njwks_uri = \"https://idp.example/jwks\"\n";
        let entries = crate::config::Config::from_toml(toml).unwrap().trusted_issuers;
        let expected = Record::TrustedIssuers(TrustedIssuerSet { tenant: TenantId::default(), entries });
        assert_eq!(from_item(item).unwrap(), expected);
    }

    /// The pins on a real table (the emulator `scripts/test` starts), read back raw with `GetItem`: what `PutItem`
    /// writes, and what the update expressions of `rotate`, `mark_revoked` and `raise_watermark` add. On a table of
    /// its own, since the pinned tenant-wide watermark would revoke the tokens of tests sharing the test table.
    /// Skipped without the emulator; a failure in CI.
    #[tokio::test]
    async fn the_table_holds_exactly_the_pinned_items() {
        let Ok(shared) = std::env::var("TESSERA_TEST_TABLE") else {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true: the DynamoDB emulator must be running");
            return;
        };
        let dynamo = client(&crate::aws_sdk::sdk_config().await, None);
        let store = DynamoStore::new(dynamo.clone(), format!("{shared}-items-{}", std::process::id()));
        store.create_table_if_missing().await.unwrap();
        let raw = async |key: &StoreKey| {
            let read = dynamo.get_item().table_name(store.table()).set_key(Some(pk_value(key))).consistent_read(true);
            read.send().await.unwrap().item.unwrap_or_default()
        };
        for (record, item) in pins() {
            let key = record.key();
            store.delete(&key).await.unwrap();
            match &record {
                Record::Client(_) | Record::TrustedIssuers(_) => store.put(record.clone()).await.unwrap(),
                Record::Token(t) if t.rotated_at.is_some() => {
                    let fresh = TokenRecord { revoked_at: None, rotated_at: None, ..t.clone() };
                    store.put_new(Record::Token(fresh)).await.unwrap();
                    store.rotate(&key, t.rotated_at.unwrap(), Vec::new()).await.unwrap();
                    store.mark_revoked(&key, t.revoked_at.unwrap()).await.unwrap();
                }
                Record::ExternalToken(t) if t.revoked_at.is_some() => {
                    let live = ExternalTokenRecord { revoked_at: None, ..t.clone() };
                    store.put_new(Record::ExternalToken(live)).await.unwrap();
                    store.mark_revoked(&key, t.revoked_at.unwrap()).await.unwrap();
                }
                Record::Watermark(mark) => assert!(store.raise_watermark(mark.clone(), None).await.unwrap()),
                _ => store.put_new(record.clone()).await.unwrap(),
            }
            assert_eq!(raw(&key).await, item, "{record:?} on the table");
            assert_eq!(store.get_many(std::slice::from_ref(&key)).await.unwrap(), vec![record]);
        }
        // A watermark raised by an event remembers the event's id, whether it raised the mark or not.
        for (record, mut item) in pinned_watermarks() {
            let (key, Record::Watermark(mark)) = (record.key(), record.clone()) else { unreachable!() };
            store.delete(&key).await.unwrap();
            assert!(store.raise_watermark(mark.clone(), Some("evt-1")).await.unwrap());
            assert!(!store.raise_watermark(mark, Some("evt-2")).await.unwrap(), "not raised, but remembered");
            let Some(AttributeValue::Ss(mut ids)) = raw(&key).await.remove("event_ids") else { panic!("no event ids") };
            ids.sort();
            item.insert("event_ids".into(), ss(&["evt-1", "evt-2"]));
            let mut stored = raw(&key).await;
            stored.insert("event_ids".into(), AttributeValue::Ss(ids));
            assert_eq!(stored, item);
            assert_eq!(store.get_many(std::slice::from_ref(&key)).await.unwrap(), vec![record]);
        }
        dynamo.delete_table().table_name(store.table()).send().await.unwrap();
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

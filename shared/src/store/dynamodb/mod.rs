//! The DynamoDB adapter: one table, one round trip per [`TokenStore`] operation. Beside this file, `item.rs` holds
//! the items, owned by the adapter (each kind's attributes, in a table, pinned by its tests), and `table.rs` the
//! table's definition (checked against `template.yaml`).
//!
//! TTL deletion is lazy (up to days late), so expired items are still returned and [`super::Fetched`] drops
//! them on read, and a write of a new item is conditional on its key being free at the request's `now`, which an
//! expired item leaves it (`KEY_FREE`). Reads are strongly consistent: a revocation that returned is seen by the
//! next introspection. Throttling, timeouts and unreachable endpoints become [`StoreError::Unavailable`] after the
//! SDK's bounded retries ([`crate::aws_sdk`]); the edge turns that into 503 `temporarily_unavailable`.

mod item;
mod table;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client as DynamoClient;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnConsumedCapacity, TransactWriteItem, Update};
pub use item::item_size;
use item::{from_item, key_attribute, to_item};
pub use table::{PARTITION_KEY, TTL_ATTRIBUTE};

use super::{ItemKind, Record, RegistrationStore, SeenEvent, StoreError, StoreKey, TokenStore};
use crate::domain::revocation::{RefreshedFamily, RevocationWatermark};
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;
use crate::domain::user_details::UserDetailsRecord;

/// Seconds a client is told to wait after the store was unavailable.
pub const RETRY_AFTER_SECS: u32 = 1;
/// An event's watermark transaction is tried this many times while concurrent writes to the same items cancel it.
const TRANSACTION_CONFLICT_RETRIES: usize = 3;
/// The `now` of an event's [`SeenEvent`] write: at the epoch nothing has expired, so an event stays seen until its
/// item is deleted, even past its expiry (a late re-delivery is still refused; the watermark call has no `now`).
const SEEN_UNTIL_DELETED: Timestamp = Timestamp::EPOCH;
/// BatchGetItem returns unprocessed keys under throttling; they are retried this many times.
const UNPROCESSED_RETRIES: usize = 2;

/// A DynamoDB client from the shared configuration ([`crate::aws_sdk::sdk_config`]), optionally pointed at another
/// endpoint (an emulator: DynamoDB Local, moto). For such an endpoint, placeholder credentials are used when the
/// environment has none (`AWS_ACCESS_KEY_ID` unset) and `us-east-1` when no region is configured: emulators ignore
/// both.
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

/// A [`TokenStore`] and [`RegistrationStore`] on one DynamoDB table.
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

/// The condition of a new item's write at `now` (`put_new`, `put_new_all`, a rotation's new tokens): no item under
/// its key, or one that every reader drops at `now` ([`Record::is_live_at`]: past `expires_at`, a recorded external
/// token past it plus its issuer's skew), which DynamoDB's TTL has not deleted yet. The TTL attribute is in whole
/// seconds rounded up, so it is compared with `now` rounded down ([`key_free_values`]): a live item is never
/// replaced, and an expired one is replaced from at most a second after its expiry. Items without `expires_at`
/// (clients) always hold their key. `#free_kind` names the attribute `kind`.
const KEY_FREE: &str = "attribute_not_exists(pk) OR (expires_at <= :free_at AND #free_kind <> :free_external) \
                        OR expires_at <= :free_external_at";

/// The values of [`KEY_FREE`] at `now`.
fn key_free_values(now: Timestamp) -> [(&'static str, AttributeValue); 3] {
    let now_secs = now.as_secs();
    let external_secs = now_secs.saturating_sub(crate::jwt::external::EXTERNAL_LEEWAY_SECS);
    [
        (":free_at", AttributeValue::N(now_secs.to_string())),
        (":free_external", AttributeValue::S("external_token".into())),
        (":free_external_at", AttributeValue::N(external_secs.to_string())),
    ]
}

/// Whether a conditional write failed its condition.
fn condition_failed<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    matches!(err, SdkError::ServiceError(ctx) if ctx.err().code() == Some("ConditionalCheckFailedException"))
}

/// The DynamoDB error codes that mean the request was throttled: a table or index over its provisioned (or
/// on-demand) throughput, the control plane's rate limit, or the account's request limit.
pub const THROTTLING_CODES: [&str; 3] =
    ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"];

/// What a failed DynamoDB call was, from its error code (`None`: no response, a timeout or a connection failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// Throttled ([`THROTTLING_CODES`]): retry later, and count it as a throttle.
    Throttled,
    /// DynamoDB failed, timed out or could not be reached, or a transaction in flight held the item: retry later.
    Unavailable,
    /// The request was refused for what it is (a missing table, a denied permission, a validation error).
    Rejected,
}

/// Classifies a failure by its error code ([`FailureClass`]).
pub fn failure_class(code: Option<&str>) -> FailureClass {
    match code {
        Some(code) if THROTTLING_CODES.contains(&code) => FailureClass::Throttled,
        None | Some("InternalServerError" | "ServiceUnavailable" | "TransactionConflictException") => {
            FailureClass::Unavailable
        }
        Some(_) => FailureClass::Rejected,
    }
}

/// Whether a write was refused because a transaction in flight holds the item.
fn transaction_conflict<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    matches!(err, SdkError::ServiceError(ctx) if ctx.err().code() == Some("TransactionConflictException"))
}

/// Maps an SDK failure: throttling, server errors, timeouts and connection failures are `Unavailable`
/// (the SDK has already retried them), throttling marked as such; anything else (a missing table, a
/// validation error) is a fault.
fn classify<E, R>(err: SdkError<E, R>, key: &str) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let unavailable =
        |reason: String, throttled| StoreError::Unavailable { reason, retry_after_secs: RETRY_AFTER_SECS, throttled };
    match &err {
        SdkError::ServiceError(ctx) => {
            let code = ctx.err().code().unwrap_or("Unknown");
            match failure_class(Some(code)) {
                FailureClass::Throttled => unavailable(format!("{code} on {key}"), true),
                FailureClass::Unavailable => unavailable(format!("{code} on {key}"), false),
                FailureClass::Rejected => StoreError::Rejected {
                    key: key.to_owned(),
                    reason: format!("{code}: {}", ctx.err().message().unwrap_or("")),
                },
            }
        }
        _ => unavailable(format!("{} on {key}", aws_sdk_dynamodb::error::DisplayErrorContext(&err)), false),
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

    /// A transaction item putting `record` on condition that its key is free at `now` ([`KEY_FREE`]).
    fn conditional_put(
        &self,
        record: Record,
        now: Timestamp,
    ) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
        use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
        let key = record.key().to_string();
        let mut put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(record)?))
            .condition_expression(KEY_FREE)
            .expression_attribute_names("#free_kind", "kind");
        for (name, value) in key_free_values(now) {
            put = put.expression_attribute_values(name, value);
        }
        let put = put.build().map_err(|e| StoreError::Corrupt { key, reason: e.to_string() })?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Runs one `TransactWriteItems`. A failed condition or a transaction conflict on one of the first `guarded`
    /// items (a rotation's old token and family item) is a [`StoreError::Conflict`] on `old`; on any other item,
    /// [`StoreError::AlreadyExists`].
    async fn transact(
        &self,
        items: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
        keys: &[String],
        old: Option<&StoreKey>,
        guarded: usize,
    ) -> Result<(), StoreError> {
        let Some(codes) = self.transact_or_reasons(items, keys).await? else { return Ok(()) };
        // A concurrent transaction on the same item (`TransactionConflict`) lost the race just the same as a
        // failed condition: the other rotation wins.
        let failed =
            codes.iter().position(|c| matches!(c.as_deref(), Some("ConditionalCheckFailed" | "TransactionConflict")));
        match (failed.unwrap_or_default(), old) {
            (i, Some(old)) if i < guarded => Err(StoreError::Conflict(old.to_string())),
            (i, _) => Err(StoreError::AlreadyExists(keys.get(i).cloned().unwrap_or_default())),
        }
    }

    /// The update that sets a family's refresh mark on its watermark item, in a rotation's transaction: the mark
    /// and the expiry set, `revoked_before` kept (the epoch on a new item). Unconditional, so it never cancels
    /// the rotation; rotations of one family are ordered by their refresh tokens, so no lower mark lands later.
    fn refresh_mark(&self, mark: RefreshedFamily) -> Result<(String, Update), StoreError> {
        let watermark = RevocationWatermark {
            tenant: mark.tenant.clone(),
            target: mark.target(),
            revoked_before: Timestamp::EPOCH,
            access_revoked_before: Some(mark.access_revoked_before),
            expires_at: mark.expires_at,
        };
        let record = Record::Watermark(watermark);
        let key = record.key();
        let mut update = Update::builder().table_name(&self.table).set_key(Some(key_attribute(&key)));
        let mut assignments = Vec::new();
        for (i, (name, value)) in to_item(record)?.into_iter().filter(|(name, _)| name != PARTITION_KEY).enumerate() {
            assignments.push(match name.as_str() {
                "revoked_before" => format!("#a{i} = if_not_exists(#a{i}, :a{i})"),
                _ => format!("#a{i} = :a{i}"),
            });
            update = update
                .expression_attribute_names(format!("#a{i}"), name)
                .expression_attribute_values(format!(":a{i}"), value);
        }
        let update = update
            .update_expression(format!("SET {}", assignments.join(", ")))
            .build()
            .map_err(|e| StoreError::Corrupt { key: key.to_string(), reason: e.to_string() })?;
        Ok((key.to_string(), update))
    }

    /// Runs one `TransactWriteItems`: `None` when it committed, or the cancellation reason code of each item
    /// (`ConditionalCheckFailed`, `TransactionConflict`, `None`, ...) when a condition or a concurrent
    /// transaction cancelled it.
    async fn transact_or_reasons(
        &self,
        items: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
        keys: &[String],
    ) -> Result<Option<Vec<Option<String>>>, StoreError> {
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
                return Ok(None);
            }
            Err(err) => err,
        };
        if let SdkError::ServiceError(ctx) = &err
            && let TransactWriteItemsError::TransactionCanceledException(cancelled) = ctx.err()
        {
            let codes: Vec<Option<String>> =
                cancelled.cancellation_reasons().iter().map(|r| r.code().map(str::to_owned)).collect();
            // Cancelled for what was in the table; anything else (throttling, validation) is classified below.
            if codes.iter().flatten().any(|c| c == "ConditionalCheckFailed" || c == "TransactionConflict") {
                return Ok(Some(codes));
            }
        }
        Err(classify(err, keys.first().map(String::as_str).unwrap_or(&self.table)))
    }
}

#[async_trait]
impl TokenStore for DynamoStore {
    async fn get_many(&self, keys: &[StoreKey]) -> Result<Vec<Record>, StoreError> {
        // BatchGetItem refuses duplicate keys.
        let mut seen = HashSet::new();
        let unique: Vec<_> = keys.iter().filter(|k| seen.insert(k.as_str())).map(key_attribute).collect();
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
                    // DynamoDB leaves keys unprocessed when it throttles their partitions.
                    return Err(StoreError::Unavailable {
                        reason: "BatchGetItem left keys unprocessed".into(),
                        retry_after_secs: RETRY_AFTER_SECS,
                        throttled: true,
                    });
                }
                tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
            }
        }
        Ok(records)
    }

    async fn put_new(&self, record: Record, now: Timestamp) -> Result<(), StoreError> {
        let key = record.key().to_string();
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(record)?))
            .condition_expression(KEY_FREE)
            .expression_attribute_names("#free_kind", "kind")
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        for (name, value) in key_free_values(now) {
            request = request.expression_attribute_values(name, value);
        }
        let output = request.send().await.map_err(|err| {
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
            .set_key(Some(key_attribute(key)))
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

    async fn put_new_all(&self, records: Vec<Record>, now: Timestamp) -> Result<(), StoreError> {
        let keys: Vec<String> = records.iter().map(|r| r.key().to_string()).collect();
        let items = records.into_iter().map(|r| self.conditional_put(r, now)).collect::<Result<Vec<_>, _>>()?;
        self.transact(items, &keys, None, 0).await
    }

    async fn rotate(
        &self,
        old: &StoreKey,
        at: Timestamp,
        new: Vec<Record>,
        refreshed: Option<RefreshedFamily>,
    ) -> Result<(), StoreError> {
        let mut keys = vec![old.to_string()];
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_attribute(old)))
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
        // The family's item second: a transaction conflict on it (another rotation of the family, a revocation
        // of it) is a lost race like one on the old token.
        let guarded = match refreshed {
            Some(mark) => {
                let (key, update) = self.refresh_mark(mark)?;
                keys.push(key);
                items.push(TransactWriteItem::builder().update(update).build());
                2
            }
            None => 1,
        };
        keys.extend(new.iter().map(|r| r.key().to_string()));
        for record in new {
            items.push(self.conditional_put(record, at)?);
        }
        self.transact(items, &keys, Some(old), guarded).await
    }

    async fn raise_watermark(
        &self,
        watermark: RevocationWatermark,
        event_id: Option<&str>,
    ) -> Result<bool, StoreError> {
        let seen = event_id.map(|id| SeenEvent::of(&watermark, id));
        let record = Record::Watermark(watermark);
        let key = record.key();
        // One conditional update that sets every attribute of the watermark item: it lands only if it raises
        // the mark (and the item's legacy `event_ids`, if it has them, do not hold the event).
        let mut update = Update::builder().table_name(&self.table).set_key(Some(key_attribute(&key)));
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
        let mut condition = "(attribute_not_exists(pk) OR revoked_before < :mark)".to_owned();
        if let Some(id) = event_id {
            condition.push_str(" AND NOT contains(event_ids, :event_id)");
            update = update.expression_attribute_values(":event_id", AttributeValue::S(id.to_owned()));
        }
        let update = update
            .update_expression(format!("SET {}", assignments.join(", ")))
            .condition_expression(condition)
            .build()
            .map_err(|e| StoreError::Corrupt { key: key.to_string(), reason: e.to_string() })?;
        let Some(seen) = seen else {
            // Not an event: the update alone, one UpdateItem. A transaction in flight on the item (a rotation
            // setting the family's refresh mark) refuses it with TransactionConflictException: it is tried again,
            // briefly, so that reuse detection's final mark is not lost to the very rotation it races.
            for attempt in 0..TRANSACTION_CONFLICT_RETRIES {
                let mut request = self.client.update_item().return_consumed_capacity(ReturnConsumedCapacity::Total);
                request = request
                    .table_name(update.table_name())
                    .set_key(Some(update.key().clone()))
                    .update_expression(update.update_expression())
                    .set_condition_expression(update.condition_expression().map(str::to_owned))
                    .set_expression_attribute_names(update.expression_attribute_names().cloned())
                    .set_expression_attribute_values(update.expression_attribute_values().cloned());
                match request.send().await {
                    Ok(output) => {
                        self.consumed.add("UpdateItem", true, output.consumed_capacity.as_slice());
                        return Ok(true);
                    }
                    Err(err) if condition_failed(&err) => return Ok(false),
                    Err(err) if transaction_conflict(&err) && attempt + 1 < TRANSACTION_CONFLICT_RETRIES => {
                        tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
                    }
                    Err(err) => return Err(classify(err, key.as_str())),
                }
            }
            // Not reached: the last attempt returns whatever its outcome.
            return Err(StoreError::Unavailable {
                reason: format!("watermark {key}: {TRANSACTION_CONFLICT_RETRIES} transaction conflicts in a row"),
                retry_after_secs: RETRY_AFTER_SECS,
                throttled: false,
            });
        };
        // An event: the update and the event's SeenEvent item (new, or the event was seen) in one transaction,
        // so a re-delivery finds the event seen whatever the mark did.
        let seen = Record::SeenEvent(seen);
        let seen_key = seen.key().to_string();
        let both = vec![
            TransactWriteItem::builder().update(update).build(),
            self.conditional_put(seen.clone(), SEEN_UNTIL_DELETED)?,
        ];
        let keys = [key.to_string(), seen_key.clone()];
        for _ in 0..TRANSACTION_CONFLICT_RETRIES {
            let codes = match self.transact_or_reasons(both.clone(), &keys).await? {
                None => return Ok(true),
                Some(codes) => codes,
            };
            let failed = |i: usize, code: &str| codes.get(i).is_some_and(|c| c.as_deref() == Some(code));
            if failed(1, "ConditionalCheckFailed") {
                return Ok(false); // the event was seen
            }
            if failed(0, "ConditionalCheckFailed") {
                // A higher mark is there. Remember the event alone, so that its re-delivery cannot raise the
                // mark later.
                // One conditional PutItem; finding the event's item there already is seen all the same.
                return match self.put_new(seen, SEEN_UNTIL_DELETED).await {
                    Ok(()) | Err(StoreError::AlreadyExists(_)) => Ok(false),
                    Err(other) => Err(other),
                };
            }
            // A concurrent write to the watermark or the event's item (`TransactionConflict`): it may have been a
            // lower mark, so try again rather than give up the raise.
        }
        Err(StoreError::Unavailable {
            reason: format!("watermark {key}: {TRANSACTION_CONFLICT_RETRIES} transaction conflicts in a row"),
            retry_after_secs: RETRY_AFTER_SECS,
            throttled: false,
        })
    }

    async fn put_user_details(
        &self,
        record: UserDetailsRecord,
        expected: Option<Timestamp>,
    ) -> Result<bool, StoreError> {
        let now_secs = record.attempted_at.as_secs();
        let record = Record::UserDetails(record);
        let key = record.key().to_string();
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(record)?))
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        request = match expected {
            // No item, or one past its TTL that DynamoDB has not deleted yet (live means `expires_at` > now).
            None => request
                .condition_expression("attribute_not_exists(pk) OR expires_at <= :now")
                .expression_attribute_values(":now", AttributeValue::N(now_secs.to_string())),
            Some(attempted_at) => request
                .condition_expression("attempted_at = :expected")
                .expression_attribute_values(":expected", AttributeValue::N(attempted_at.as_micros().to_string())),
        };
        match request.send().await {
            Ok(output) => {
                self.consumed.add("PutItem", true, output.consumed_capacity.as_slice());
                Ok(true)
            }
            Err(err) if condition_failed(&err) => Ok(false),
            Err(err) => Err(classify(err, &key)),
        }
    }
}

#[async_trait]
impl RegistrationStore for DynamoStore {
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
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemError;

    use super::*;

    /// An SDK service error as the SDK's deserializer builds it from DynamoDB's `__type`.
    fn service_error(code: &str) -> SdkError<BatchGetItemError, ()> {
        let meta = ErrorMetadata::builder().code(code).message("from the test").build();
        SdkError::service_error(BatchGetItemError::generic(meta), ())
    }

    #[test]
    fn throttling_codes_are_unavailable_and_throttled_other_failures_are_not() {
        for code in THROTTLING_CODES {
            let err = classify(service_error(code), "t");
            assert!(matches!(err, StoreError::Unavailable { throttled: true, .. }), "{code}: {err:?}");
        }
        for code in ["InternalServerError", "ServiceUnavailable"] {
            let err = classify(service_error(code), "t");
            assert!(matches!(err, StoreError::Unavailable { throttled: false, .. }), "{code}: {err:?}");
        }
        for code in ["ResourceNotFoundException", "AccessDeniedException", "ValidationException"] {
            assert!(matches!(classify(service_error(code), "t"), StoreError::Rejected { .. }), "{code}");
        }
        let timeout: SdkError<BatchGetItemError, ()> = SdkError::timeout_error("attempt timed out");
        assert!(matches!(classify(timeout, "t"), StoreError::Unavailable { throttled: false, .. }));
    }
}

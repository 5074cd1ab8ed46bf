//! A [`TokenStore`] decorator that measures every call for [`crate::metrics`]: `StoreLatency.<Operation>` in
//! milliseconds, and `StoreThrottles` or `StoreErrors` for a failed call. The adapters only classify their
//! failures ([`StoreError::Unavailable`]'s `throttled`, set by the DynamoDB adapter from the error code); the
//! timing lives here, once, rather than in each adapter. A failed condition (an item that already exists, or is
//! missing, a lost rotation) is an outcome the caller expected, not an error.
//!
//! Latency is read from a monotonic [`Instant`], not from the [`crate::clock::Clock`]: it is a duration, never a
//! timestamp anything decides on, and a pinned test clock would report every call as 0 ms.

use std::time::Instant;

use async_trait::async_trait;

use super::{Record, StoreError, StoreKey, TokenStore};
use crate::domain::revocation::{RefreshedFamily, RevocationWatermark};
use crate::domain::time::Timestamp;
use crate::domain::user_details::UserDetailsRecord;
use crate::metrics::{self, Metric, StoreOperation};

/// Wraps a store and records each call's latency and failure.
#[derive(Debug)]
pub struct MeteredStore<S> {
    inner: S,
}

impl<S> MeteredStore<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self { inner }
    }
}

/// Records one call that started at `started`.
fn measured<T>(operation: StoreOperation, started: Instant, result: Result<T, StoreError>) -> Result<T, StoreError> {
    metrics::record_duration(Metric::StoreLatency(operation), started.elapsed());
    match &result {
        Err(StoreError::Unavailable { throttled: true, .. }) => metrics::count(Metric::StoreThrottles),
        Err(StoreError::Unavailable { .. } | StoreError::Rejected { .. } | StoreError::Corrupt { .. }) => {
            metrics::count(Metric::StoreErrors)
        }
        Ok(_) | Err(StoreError::AlreadyExists(_) | StoreError::NotFound(_) | StoreError::Conflict(_)) => {}
    }
    result
}

#[async_trait]
impl<S: TokenStore> TokenStore for MeteredStore<S> {
    async fn get_many(&self, keys: &[StoreKey]) -> Result<Vec<Record>, StoreError> {
        let started = Instant::now();
        measured(StoreOperation::GetMany, started, self.inner.get_many(keys).await)
    }

    async fn put_new(&self, record: Record, now: Timestamp) -> Result<(), StoreError> {
        let started = Instant::now();
        measured(StoreOperation::PutNew, started, self.inner.put_new(record, now).await)
    }

    async fn mark_revoked(&self, key: &StoreKey, at: Timestamp) -> Result<(), StoreError> {
        let started = Instant::now();
        measured(StoreOperation::MarkRevoked, started, self.inner.mark_revoked(key, at).await)
    }

    async fn put_new_all(&self, records: Vec<Record>, now: Timestamp) -> Result<(), StoreError> {
        let started = Instant::now();
        measured(StoreOperation::PutNewAll, started, self.inner.put_new_all(records, now).await)
    }

    async fn rotate(
        &self,
        old: &StoreKey,
        at: Timestamp,
        new: Vec<Record>,
        refreshed: Option<RefreshedFamily>,
    ) -> Result<(), StoreError> {
        let started = Instant::now();
        measured(StoreOperation::Rotate, started, self.inner.rotate(old, at, new, refreshed).await)
    }

    async fn raise_watermark(
        &self,
        watermark: RevocationWatermark,
        event_id: Option<&str>,
    ) -> Result<bool, StoreError> {
        let started = Instant::now();
        measured(StoreOperation::RaiseWatermark, started, self.inner.raise_watermark(watermark, event_id).await)
    }

    async fn put_user_details(
        &self,
        record: UserDetailsRecord,
        expected: Option<Timestamp>,
    ) -> Result<bool, StoreError> {
        let started = Instant::now();
        measured(StoreOperation::PutUserDetails, started, self.inner.put_user_details(record, expected).await)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::clock::FixedClock;
    use crate::domain::client::ClientId;
    use crate::domain::tenant::TenantId;
    use crate::metrics::{MetricsEmitter, MetricsSink};
    use crate::store::memory::MemoryStore;

    /// A store whose every call fails with the error it was built with.
    struct Failing(fn() -> StoreError);

    #[async_trait]
    impl TokenStore for Failing {
        async fn get_many(&self, _: &[StoreKey]) -> Result<Vec<Record>, StoreError> {
            Err((self.0)())
        }
        async fn put_new(&self, _: Record, _: Timestamp) -> Result<(), StoreError> {
            Err((self.0)())
        }
        async fn mark_revoked(&self, _: &StoreKey, _: Timestamp) -> Result<(), StoreError> {
            Err((self.0)())
        }
        async fn put_new_all(&self, _: Vec<Record>, _: Timestamp) -> Result<(), StoreError> {
            Err((self.0)())
        }
        async fn rotate(
            &self,
            _: &StoreKey,
            _: Timestamp,
            _: Vec<Record>,
            _: Option<RefreshedFamily>,
        ) -> Result<(), StoreError> {
            Err((self.0)())
        }
        async fn raise_watermark(&self, _: RevocationWatermark, _: Option<&str>) -> Result<bool, StoreError> {
            Err((self.0)())
        }
        async fn put_user_details(&self, _: UserDetailsRecord, _: Option<Timestamp>) -> Result<bool, StoreError> {
            Err((self.0)())
        }
    }

    async fn documents_of(store: &dyn TokenStore, calls: usize) -> Vec<serde_json::Value> {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let clock = Arc::new(FixedClock::at(Timestamp::from_secs(1_700_000_000)));
        let emitter = MetricsEmitter::new("Test", "f", MetricsSink::Memory(lines.clone()), clock);
        let key = StoreKey::client(&TenantId::default_tenant(), &ClientId::parse("c").unwrap());
        emitter
            .invocation(async {
                for _ in 0..calls {
                    let _ = store.get_many(std::slice::from_ref(&key)).await;
                }
                let _ = store.mark_revoked(&key, Timestamp::from_secs(1)).await;
            })
            .await;
        let lines = lines.lock().unwrap();
        lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    #[tokio::test]
    async fn every_call_is_timed_and_failures_are_counted_by_class() {
        let ok = documents_of(&MeteredStore::new(MemoryStore::new()), 2).await;
        assert_eq!(ok[0]["StoreLatency.GetMany"].as_array().map(Vec::len), Some(2));
        assert_eq!(ok[0]["StoreLatency.MarkRevoked"].as_array().map(Vec::len), Some(1));
        assert!(ok[0].get("StoreErrors").is_none(), "a missing record is an outcome: {}", ok[0]);

        let throttled = || StoreError::Unavailable { reason: "t".into(), retry_after_secs: 1, throttled: true };
        let docs = documents_of(&MeteredStore::new(Failing(throttled)), 2).await;
        assert_eq!(docs[0]["StoreThrottles"], serde_json::json!(3.0));
        assert!(docs[0].get("StoreErrors").is_none());

        let rejected = || StoreError::Rejected { key: "t".into(), reason: "AccessDeniedException".into() };
        let docs = documents_of(&MeteredStore::new(Failing(rejected)), 1).await;
        assert_eq!(docs[0]["StoreErrors"], serde_json::json!(2.0));
        assert!(docs[0].get("StoreThrottles").is_none());
    }
}

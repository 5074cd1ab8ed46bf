//! A [`TokenStore`] wrapper that counts calls per operation, so tests assert round trips per request
//! instead of trusting a reading of the code. Each call of the inner store is one round trip.

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use super::{Record, StoreError, StoreKey, TokenStore};
use crate::domain::revocation::RevocationWatermark;
use crate::domain::time::Timestamp;

/// Calls per operation since the last [`CountingStore::take`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundTrips {
    /// `get_many` calls (reads).
    pub reads: usize,
    /// `put_new`, `put_new_all`, `rotate`, `mark_revoked` and `raise_watermark` calls (writes).
    pub writes: usize,
}

/// Wraps a store and counts its calls.
#[derive(Debug)]
pub struct CountingStore<S> {
    inner: S,
    reads: AtomicUsize,
    writes: AtomicUsize,
}

impl<S> CountingStore<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self { inner, reads: AtomicUsize::new(0), writes: AtomicUsize::new(0) }
    }

    /// The counts so far, resetting them to zero.
    pub fn take(&self) -> RoundTrips {
        RoundTrips { reads: self.reads.swap(0, Ordering::SeqCst), writes: self.writes.swap(0, Ordering::SeqCst) }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn wrote(&self) {
        self.writes.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl<S: TokenStore> TokenStore for CountingStore<S> {
    async fn get_many(&self, keys: &[StoreKey]) -> Result<Vec<Record>, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.get_many(keys).await
    }

    async fn put_new(&self, record: Record) -> Result<(), StoreError> {
        self.wrote();
        self.inner.put_new(record).await
    }

    async fn mark_revoked(&self, key: &StoreKey, at: Timestamp) -> Result<(), StoreError> {
        self.wrote();
        self.inner.mark_revoked(key, at).await
    }

    async fn put_new_all(&self, records: Vec<Record>) -> Result<(), StoreError> {
        self.wrote();
        self.inner.put_new_all(records).await
    }

    async fn rotate(&self, old: &StoreKey, at: Timestamp, new: Vec<Record>) -> Result<(), StoreError> {
        self.wrote();
        self.inner.rotate(old, at, new).await
    }

    async fn raise_watermark(
        &self,
        watermark: RevocationWatermark,
        event_id: Option<&str>,
    ) -> Result<bool, StoreError> {
        self.wrote();
        self.inner.raise_watermark(watermark, event_id).await
    }
}

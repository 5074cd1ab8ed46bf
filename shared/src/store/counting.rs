//! A [`TokenStore`] wrapper that counts calls per operation, so tests assert round trips per request
//! instead of trusting a reading of the code. Each call of the inner store is one round trip. It also tallies
//! the items behind them (keys read, items written, in transactions or not, the largest item's size as
//! DynamoDB bills it): the capacity benchmark derives DynamoDB's read and write units from those. Built with
//! [`CountingStore::tallying_keys`], it also counts the reads of each key, so the load model finds the busiest
//! item.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use super::{Record, StoreError, StoreKey, TokenStore};
use crate::domain::revocation::{RefreshedFamily, RevocationWatermark};
use crate::domain::time::Timestamp;
use crate::domain::user_details::UserDetailsRecord;

/// Calls per operation since the last [`CountingStore::take`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundTrips {
    /// `get_many` calls (reads).
    pub reads: usize,
    /// `put_new`, `put_new_all`, `rotate`, `mark_revoked`, `raise_watermark` and `put_user_details` calls (writes).
    pub writes: usize,
}

/// The items behind the calls since the last [`CountingStore::take_items`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Items {
    /// Keys asked for by reads (found or not: DynamoDB bills a missing item's read too).
    pub keys_read: usize,
    /// Items written by single-item writes (`put_new`, `mark_revoked`, `raise_watermark`, `put_user_details`).
    pub written: usize,
    /// Items written inside transactions (`put_new_all`, `rotate`): DynamoDB bills them twice.
    pub written_in_transactions: usize,
    /// The largest item written, in bytes as DynamoDB sizes it ([`super::dynamodb::item_size`]); 0 when the
    /// writes only updated existing items.
    pub largest_item_bytes: usize,
}

/// Wraps a store and counts its calls.
#[derive(Debug)]
pub struct CountingStore<S> {
    inner: S,
    reads: AtomicUsize,
    writes: AtomicUsize,
    items: Mutex<Items>,
    /// Reads per key, when tallied.
    reads_by_key: Option<Mutex<HashMap<StoreKey, u64>>>,
}

impl<S> CountingStore<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            reads: AtomicUsize::new(0),
            writes: AtomicUsize::new(0),
            items: Mutex::default(),
            reads_by_key: None,
        }
    }

    /// Wraps `inner`, and counts the reads of each key too ([`CountingStore::take_reads_by_key`]).
    pub fn tallying_keys(inner: S) -> Self {
        Self { reads_by_key: Some(Mutex::default()), ..Self::new(inner) }
    }

    /// How many reads asked for each key since the last call, resetting the tally (empty unless built with
    /// [`CountingStore::tallying_keys`]).
    pub fn take_reads_by_key(&self) -> HashMap<StoreKey, u64> {
        match &self.reads_by_key {
            Some(tally) => tally.lock().map(|mut tally| std::mem::take(&mut *tally)).unwrap_or_default(),
            None => HashMap::new(),
        }
    }

    /// The item tally so far, resetting it.
    pub fn take_items(&self) -> Items {
        self.items.lock().map(|mut items| std::mem::take(&mut *items)).unwrap_or_default()
    }

    fn tally(&self, update: impl FnOnce(&mut Items), written: &[&Record]) {
        let largest = written.iter().filter_map(|r| super::dynamodb::item_size(r).ok()).max().unwrap_or(0);
        if let Ok(mut items) = self.items.lock() {
            update(&mut items);
            items.largest_item_bytes = items.largest_item_bytes.max(largest);
        }
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
        self.tally(|items| items.keys_read += keys.len(), &[]);
        if let Some(Ok(mut tally)) = self.reads_by_key.as_ref().map(Mutex::lock) {
            for key in keys {
                *tally.entry(key.clone()).or_default() += 1;
            }
        }
        self.inner.get_many(keys).await
    }

    async fn put_new(&self, record: Record, now: Timestamp) -> Result<(), StoreError> {
        self.wrote();
        self.tally(|items| items.written += 1, &[&record]);
        self.inner.put_new(record, now).await
    }

    async fn mark_revoked(&self, key: &StoreKey, at: Timestamp) -> Result<(), StoreError> {
        self.wrote();
        self.tally(|items| items.written += 1, &[]);
        self.inner.mark_revoked(key, at).await
    }

    async fn put_new_all(&self, records: Vec<Record>, now: Timestamp) -> Result<(), StoreError> {
        self.wrote();
        self.tally(|items| items.written_in_transactions += records.len(), &records.iter().collect::<Vec<_>>());
        self.inner.put_new_all(records, now).await
    }

    async fn rotate(
        &self,
        old: &StoreKey,
        at: Timestamp,
        new: Vec<Record>,
        refreshed: Option<RefreshedFamily>,
    ) -> Result<(), StoreError> {
        self.wrote();
        // The rotated token's update is a transaction item too, and so is a family's refresh mark.
        let updates = 1 + usize::from(refreshed.is_some());
        self.tally(|items| items.written_in_transactions += updates + new.len(), &new.iter().collect::<Vec<_>>());
        self.inner.rotate(old, at, new, refreshed).await
    }

    async fn raise_watermark(
        &self,
        watermark: RevocationWatermark,
        event_id: Option<&str>,
    ) -> Result<bool, StoreError> {
        self.wrote();
        self.tally(|items| items.written += 1, &[&Record::Watermark(watermark.clone())]);
        self.inner.raise_watermark(watermark, event_id).await
    }

    async fn put_user_details(
        &self,
        record: UserDetailsRecord,
        expected: Option<Timestamp>,
    ) -> Result<bool, StoreError> {
        self.wrote();
        self.tally(|items| items.written += 1, &[&Record::UserDetails(record.clone())]);
        self.inner.put_user_details(record, expected).await
    }
}

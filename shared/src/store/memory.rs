//! The embedded adapter: a process-local map with the same semantics as the DynamoDB adapter, including
//! conditional failures. Used by the local runner and the tests.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::{ClientRegistry, ItemKind, Record, StoreError, StoreKey, TokenStore};
use crate::domain::client::Client;
use crate::domain::revocation::RevocationWatermark;
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;

/// An in-memory [`TokenStore`] and [`ClientRegistry`]. Like DynamoDB, it never deletes expired items on its
/// own, so expiry-on-read is exercised for real.
#[derive(Debug, Default)]
pub struct MemoryStore {
    /// A B-tree, not a hash map: a hash map doubles its table under a long run of issues (hundreds of thousands
    /// of tokens in a load test) and holds the lock for tens of milliseconds while it rehashes.
    items: Mutex<BTreeMap<String, Record>>,
    /// The event ids each watermark has seen (DynamoDB keeps them in the watermark item). Locked after `items`.
    event_ids: Mutex<HashMap<String, HashSet<String>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding `clients`.
    pub fn with_clients(clients: impl IntoIterator<Item = Client>) -> Self {
        let items = clients
            .into_iter()
            .map(|c| (StoreKey::client(&c.tenant, &c.client_id).as_str().to_owned(), Record::Client(c)))
            .collect();
        Self { items: Mutex::new(items), event_ids: Mutex::default() }
    }

    fn items(&self) -> MutexGuard<'_, BTreeMap<String, Record>> {
        // A panic while holding the lock cannot leave a half-written map (every write is one insert),
        // so a poisoned lock is still safe to use.
        self.items.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The number of items held, expired ones included.
    pub fn len(&self) -> usize {
        self.items().len()
    }

    /// Whether the store holds no items.
    pub fn is_empty(&self) -> bool {
        self.items().is_empty()
    }
}

#[async_trait]
impl TokenStore for MemoryStore {
    async fn get_many(&self, keys: &[StoreKey]) -> Result<Vec<Record>, StoreError> {
        let items = self.items();
        Ok(keys.iter().filter_map(|k| items.get(k.as_str()).cloned()).collect())
    }

    async fn put_new(&self, record: Record) -> Result<(), StoreError> {
        let key = record.key();
        let mut items = self.items();
        if items.contains_key(key.as_str()) {
            return Err(StoreError::AlreadyExists(key.to_string()));
        }
        items.insert(key.as_str().to_owned(), record);
        Ok(())
    }

    async fn mark_revoked(&self, key: &StoreKey, at: Timestamp) -> Result<(), StoreError> {
        match self.items().get_mut(key.as_str()) {
            Some(Record::Token(token)) => {
                token.revoked_at.get_or_insert(at);
                Ok(())
            }
            Some(Record::ExternalToken(token)) => {
                token.revoked_at.get_or_insert(at);
                Ok(())
            }
            _ => Err(StoreError::NotFound(key.to_string())),
        }
    }

    async fn put_new_all(&self, records: Vec<Record>) -> Result<(), StoreError> {
        let mut items = self.items();
        insert_all_new(&mut items, records)
    }

    async fn rotate(&self, old: &StoreKey, at: Timestamp, new: Vec<Record>) -> Result<(), StoreError> {
        let mut items = self.items();
        let rotatable = matches!(items.get(old.as_str()),
            Some(Record::Token(t)) if t.rotated_at.is_none() && t.revoked_at.is_none());
        if !rotatable {
            return Err(StoreError::Conflict(old.to_string()));
        }
        insert_all_new(&mut items, new)?;
        if let Some(Record::Token(t)) = items.get_mut(old.as_str()) {
            t.rotated_at = Some(at);
        }
        Ok(())
    }

    async fn raise_watermark(
        &self,
        watermark: RevocationWatermark,
        event_id: Option<&str>,
    ) -> Result<bool, StoreError> {
        let key = StoreKey::watermark(&watermark.tenant, &watermark.target);
        let mut items = self.items();
        let mut event_ids = self.event_ids.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let seen = event_ids.entry(key.as_str().to_owned()).or_default();
        // Like the DynamoDB conditional update: the new mark lands only if it is higher and its event is new.
        let raises = match items.get(key.as_str()) {
            Some(Record::Watermark(existing)) => existing.revoked_before < watermark.revoked_before,
            _ => true,
        };
        let duplicate = event_id.is_some_and(|id| seen.contains(id));
        // The id is remembered even when a higher mark won, so its re-delivery cannot raise the mark later.
        seen.extend(event_id.map(str::to_owned));
        if !raises || duplicate {
            return Ok(false);
        }
        items.insert(key.as_str().to_owned(), Record::Watermark(watermark));
        Ok(true)
    }
}

/// Inserts every record, or none if any key is taken (the lock is held by the caller).
fn insert_all_new(items: &mut BTreeMap<String, Record>, records: Vec<Record>) -> Result<(), StoreError> {
    if let Some(taken) = records.iter().map(Record::key).find(|k| items.contains_key(k.as_str())) {
        return Err(StoreError::AlreadyExists(taken.to_string()));
    }
    for record in records {
        items.insert(record.key().as_str().to_owned(), record);
    }
    Ok(())
}

#[async_trait]
impl ClientRegistry for MemoryStore {
    async fn put(&self, record: Record) -> Result<(), StoreError> {
        self.items().insert(record.key().as_str().to_owned(), record);
        Ok(())
    }

    async fn list(&self, tenant: &TenantId, kind: ItemKind) -> Result<Vec<Record>, StoreError> {
        let prefix = StoreKey::prefix(tenant, kind);
        Ok(self.items().iter().filter(|(pk, _)| pk.starts_with(&prefix)).map(|(_, r)| r.clone()).collect())
    }

    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        self.items().remove(key.as_str());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passes_the_store_conformance_suite() {
        super::super::conformance::run_all(&MemoryStore::new()).await;
    }
}

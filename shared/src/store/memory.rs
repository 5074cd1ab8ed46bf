//! The embedded adapter: a process-local map with the same semantics as the DynamoDB adapter, including
//! conditional failures. Used by the local runner and the tests.
//!
//! Like DynamoDB, it keeps expired items until something deletes them, and every read drops them
//! ([`super::Fetched`]), so expiry-on-read is exercised for real. Two things delete, and neither changes an
//! answer a reader could get:
//! - [`MemoryStore::sweep_expired`] removes items whose `expires_at` has passed at the `now` it is given, soonest
//!   expiring first and at most `max_items` per call under one short hold of the lock: what DynamoDB's TTL
//!   deletion does. An expiry index (`(expires_at, key)`, ordered) makes each removal O(log n). The local runner
//!   calls it in the background (`tessera_cli::expiry_sweep`); the store starts no task of its own.
//! - A store built [`MemoryStore::with_max_items`] holds at most that many items (clients and configuration
//!   included). An insert that would go past the bound first makes room, in this order:
//!   1. expired items of any kind, soonest expired first (no answer changes);
//!   2. live token records whose loss only makes a token inactive, soonest expiring first: opaque access
//!      tokens, refresh tokens not yet rotated (revoked or not), and external JWTs recorded unrevoked (the next
//!      introspection records them again), and subjects' cached user details (the next exchange fetches them
//!      again). These are counted as evictions ([`MemoryStore::evictions`]):
//!      dropping one fails closed, it never makes a token active;
//!   3. nothing else. Denylist entries, watermarks, revoked external-JWT records and rotated refresh-token
//!      records (the evidence that detects refresh reuse) are revocation state: dropping one could make a revoked
//!      token active again, so they are never evicted before they expire. Clients and trusted issuers never
//!      expire and are never evicted. When only such items are left, the write is refused with
//!      [`StoreError::Unavailable`] (503 at the edge: fail closed) and counted ([`MemoryStore::refused_writes`]).
//!
//! A new item's write ([`TokenStore::put_new`], `put_new_all`, a rotation's new tokens) finds its key free when the
//! item there has expired at the request's `now`, as on DynamoDB: the expired item is removed, then the new one
//! written.
//!
//! Replacing an item in place (revoking a token, raising a watermark, re-registering a client) never counts
//! against the bound. Each item costs about 1 KB (the record, its key, one index entry).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use super::{ItemKind, Record, RegistrationStore, SeenEvent, StoreError, StoreKey, TokenStore};
use crate::clock::Clock;
use crate::domain::client::Client;
use crate::domain::revocation::{RefreshedFamily, RevocationWatermark};
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;
use crate::domain::user_details::UserDetailsRecord;

/// An item's key, shared by the map and the expiry index (stored once).
type Key = Arc<str>;

/// An in-memory [`TokenStore`] and [`RegistrationStore`], unbounded unless built [`MemoryStore::with_max_items`].
#[derive(Default)]
pub struct MemoryStore {
    items: Mutex<Items>,
    bound: Option<Bound>,
}

/// The memory bound: the most items held, and the clock that tells which items have expired when room is made.
struct Bound {
    max_items: usize,
    clock: Arc<dyn Clock>,
}

/// Everything behind the store's one lock.
#[derive(Debug, Default)]
struct Items {
    /// A B-tree, not a hash map: a hash map doubles its table under a long run of issues (hundreds of thousands
    /// of tokens in a load test) and holds the lock for tens of milliseconds while it rehashes.
    records: BTreeMap<Key, Record>,
    /// `(expires_at, key)` of every item the bound may evict (see the module doc), soonest expiring first.
    evictable: BTreeSet<(Timestamp, Key)>,
    /// `(expires_at, key)` of every other item that expires: kept until it has expired.
    kept_until_expiry: BTreeSet<(Timestamp, Key)>,
    /// Live items dropped to respect the bound.
    evictions: u64,
    /// Writes refused because the bound was reached and nothing could be evicted.
    refused_writes: u64,
}

/// Where an expiring item's entry lives in the expiry index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retention {
    /// Its loss only makes a token inactive: the bound may evict it.
    Evictable,
    /// Revocation state: dropping it early could make a revoked token active.
    KeptUntilExpiry,
}

/// The item's place in the expiry index; `None` for items that never expire (clients, trusted issuers).
fn retention(record: &Record) -> Option<(Retention, Timestamp)> {
    let expires_at = record.expires_at()?;
    let evictable = match record {
        // An absent record introspects inactive and refreshes to `invalid_grant`; a rotated one is what
        // detects a reuse of its refresh token, which revokes the family.
        Record::Token(token) => token.rotated_at.is_none(),
        // Introspection records an external JWT again when its record is missing, unrevoked.
        Record::ExternalToken(token) => token.revoked_at.is_none(),
        // Losing one can only revoke more: a re-delivery of its event raises the watermark again, revoking the
        // target's tokens issued since the first delivery. Never fewer.
        Record::SeenEvent(_) => true,
        // Cached user details: losing them only means the next exchange fetches them again.
        Record::UserDetails(_) => true,
        // A used one-time JWT id: dropping it early would let a replay of its client assertion, DPoP proof or
        // SET through.
        Record::RevokedJti(_)
        | Record::UsedJti(_)
        | Record::Watermark(_)
        | Record::Client(_)
        | Record::TrustedIssuers(_)
        | Record::SsfTransmitters(_) => false,
    };
    Some((if evictable { Retention::Evictable } else { Retention::KeptUntilExpiry }, expires_at))
}

impl Items {
    fn index_of(&mut self, retention: Retention) -> &mut BTreeSet<(Timestamp, Key)> {
        match retention {
            Retention::Evictable => &mut self.evictable,
            Retention::KeptUntilExpiry => &mut self.kept_until_expiry,
        }
    }

    fn index(&mut self, key: &Key, record: &Record) {
        if let Some((retention, expires_at)) = retention(record) {
            self.index_of(retention).insert((expires_at, key.clone()));
        }
    }

    fn unindex(&mut self, key: &Key, record: &Record) {
        if let Some((retention, expires_at)) = retention(record) {
            self.index_of(retention).remove(&(expires_at, key.clone()));
        }
    }

    /// Inserts or replaces the item under `pk`, keeping the index in step.
    fn insert(&mut self, pk: &str, record: Record) {
        let key = match self.records.remove_entry(pk) {
            Some((key, old)) => {
                self.unindex(&key, &old);
                key
            }
            None => Key::from(pk),
        };
        self.index(&key, &record);
        self.records.insert(key, record);
    }

    /// Changes the item under `pk` in place (its retention may change), if there is one.
    fn update<T>(&mut self, pk: &str, change: impl FnOnce(&mut Record) -> T) -> Option<T> {
        let (key, mut record) = self.records.remove_entry(pk)?;
        self.unindex(&key, &record);
        let result = change(&mut record);
        self.index(&key, &record);
        self.records.insert(key, record);
        Some(result)
    }

    /// Removes the item under `pk` and its index entry.
    fn remove(&mut self, pk: &str) -> Option<Record> {
        let (key, record) = self.records.remove_entry(pk)?;
        self.unindex(&key, &record);
        Some(record)
    }

    /// Frees `keys` for new items at `now`: [`StoreError::AlreadyExists`] on the first that holds an item live at
    /// `now` (and nothing removed), else removes the expired items under them, as DynamoDB's TTL would have.
    fn free_keys(&mut self, keys: &[StoreKey], now: Timestamp) -> Result<(), StoreError> {
        let live = |key: &&StoreKey| self.records.get(key.as_str()).is_some_and(|record| record.is_live_at(now));
        if let Some(taken) = keys.iter().find(live) {
            return Err(StoreError::AlreadyExists(taken.to_string()));
        }
        for key in keys {
            self.remove(key.as_str());
        }
        Ok(())
    }

    /// Removes up to `max_items` items expired at `now`, soonest expired first.
    fn sweep(&mut self, now: Timestamp, max_items: usize) -> usize {
        let expired = |index: &BTreeSet<(Timestamp, Key)>| index.first().filter(|(at, _)| *at <= now).cloned();
        let mut swept = 0;
        while swept < max_items {
            let next = match (expired(&self.evictable), expired(&self.kept_until_expiry)) {
                (Some(a), Some(b)) => a.min(b),
                (Some(one), None) | (None, Some(one)) => one,
                (None, None) => break,
            };
            self.remove(&next.1);
            swept += 1;
        }
        swept
    }

    /// Makes room for `incoming` new items under `bound`: expired items first, then evictable ones soonest
    /// expiring first (never `keep`); refuses when neither is left.
    fn make_room(&mut self, incoming: usize, bound: &Bound, keep: Option<&str>) -> Result<(), StoreError> {
        let mut over = (self.records.len() + incoming).saturating_sub(bound.max_items);
        if over == 0 {
            return Ok(());
        }
        over -= self.sweep(bound.clock.now(), over);
        while over > 0 {
            let Some(key) = self.evictable.iter().map(|(_, key)| key).find(|key| Some(&***key) != keep).cloned() else {
                self.refused_writes += 1;
                return Err(StoreError::Unavailable {
                    reason: format!(
                        "the embedded store holds its maximum of {} items and every one of them is revocation \
                         state or configuration, which it never evicts",
                        bound.max_items
                    ),
                    retry_after_secs: 1,
                    throttled: false,
                });
            };
            self.remove(&key);
            self.evictions += 1;
            over -= 1;
        }
        Ok(())
    }
}

impl MemoryStore {
    /// An empty, unbounded store.
    pub fn new() -> Self {
        Self::default()
    }

    /// An unbounded store holding `clients`.
    pub fn with_clients(clients: impl IntoIterator<Item = Client>) -> Self {
        let mut items = Items::default();
        for client in clients {
            items.insert(StoreKey::client(&client.tenant, &client.client_id).as_str(), Record::Client(client));
        }
        Self { items: Mutex::new(items), bound: None }
    }

    /// The same store, holding at most `max_items` items from now on (items already in it count). A write
    /// that would go past it makes room as the module doc says, reading `clock` to tell expired items;
    /// when nothing may go, the write fails with [`StoreError::Unavailable`]. Clients count against the
    /// bound, so it must leave room above them.
    pub fn with_max_items(self, max_items: NonZeroUsize, clock: Arc<dyn Clock>) -> Self {
        Self { bound: Some(Bound { max_items: max_items.get(), clock }), ..self }
    }

    fn items(&self) -> MutexGuard<'_, Items> {
        // A panic while holding the lock cannot leave a half-written map (each write is a few inserts, none
        // of which can fail once started), so a poisoned lock is still safe to use.
        self.items.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Removes up to `max_items` items whose `expires_at` is at or before `now`, soonest expired first, under
    /// one hold of the lock (O(log n) per item); returns how many it removed. Reads already treat those items
    /// as absent, so no answer changes. Call it again while it returns `max_items`.
    pub fn sweep_expired(&self, now: Timestamp, max_items: usize) -> usize {
        self.items().sweep(now, max_items)
    }

    /// The bound given to [`MemoryStore::with_max_items`], if any.
    pub fn max_items(&self) -> Option<usize> {
        self.bound.as_ref().map(|bound| bound.max_items)
    }

    /// How many live items the bound has evicted so far (expired items removed to make room are not counted).
    pub fn evictions(&self) -> u64 {
        self.items().evictions
    }

    /// How many writes the bound has refused so far, finding nothing it may evict.
    pub fn refused_writes(&self) -> u64 {
        self.items().refused_writes
    }

    /// The number of items held, expired ones included.
    pub fn len(&self) -> usize {
        self.items().records.len()
    }

    /// Whether the store holds no items.
    pub fn is_empty(&self) -> bool {
        self.items().records.is_empty()
    }

    /// Makes room for `incoming` new items if the store is bounded.
    fn make_room(&self, items: &mut Items, incoming: usize, keep: Option<&str>) -> Result<(), StoreError> {
        match &self.bound {
            Some(bound) => items.make_room(incoming, bound, keep),
            None => Ok(()),
        }
    }

    /// Inserts every record, or none if any key holds an item live at `now` (the lock is held by the caller).
    fn insert_all_new(&self, items: &mut Items, records: Vec<Record>, now: Timestamp) -> Result<(), StoreError> {
        let keys: Vec<StoreKey> = records.iter().map(Record::key).collect();
        items.free_keys(&keys, now)?;
        self.make_room(items, records.len(), None)?;
        for (key, record) in keys.iter().zip(records) {
            items.insert(key.as_str(), record);
        }
        Ok(())
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore").field("len", &self.len()).field("max_items", &self.max_items()).finish()
    }
}

#[async_trait]
impl TokenStore for MemoryStore {
    async fn get_many(&self, keys: &[StoreKey]) -> Result<Vec<Record>, StoreError> {
        let items = self.items();
        Ok(keys.iter().filter_map(|k| items.records.get(k.as_str()).cloned()).collect())
    }

    async fn put_new(&self, record: Record, now: Timestamp) -> Result<(), StoreError> {
        let mut items = self.items();
        self.insert_all_new(&mut items, vec![record], now)
    }

    async fn mark_revoked(&self, key: &StoreKey, at: Timestamp) -> Result<(), StoreError> {
        let revoked = self.items().update(key.as_str(), |record| {
            let revoked_at = match record {
                Record::Token(token) => &mut token.revoked_at,
                Record::ExternalToken(token) => &mut token.revoked_at,
                _ => return false,
            };
            revoked_at.get_or_insert(at);
            true
        });
        match revoked {
            Some(true) => Ok(()),
            _ => Err(StoreError::NotFound(key.to_string())),
        }
    }

    async fn put_new_all(&self, records: Vec<Record>, now: Timestamp) -> Result<(), StoreError> {
        let mut items = self.items();
        self.insert_all_new(&mut items, records, now)
    }

    async fn rotate(
        &self,
        old: &StoreKey,
        at: Timestamp,
        new: Vec<Record>,
        refreshed: Option<RefreshedFamily>,
    ) -> Result<(), StoreError> {
        let mut items = self.items();
        let rotatable = |items: &Items| {
            matches!(items.records.get(old.as_str()),
                Some(Record::Token(t)) if t.rotated_at.is_none() && t.revoked_at.is_none())
        };
        if !rotatable(&items) {
            return Err(StoreError::Conflict(old.to_string()));
        }
        let keys: Vec<StoreKey> = new.iter().map(Record::key).collect();
        items.free_keys(&keys, at)?;
        let family_key = refreshed.as_ref().map(|mark| StoreKey::watermark(&mark.tenant, &mark.target()));
        let new_family_item = family_key.as_ref().is_some_and(|k| !items.records.contains_key(k.as_str()));
        // Making room never evicts the token being rotated, but may sweep it if it has expired: then it is gone,
        // as after DynamoDB's TTL deletion.
        self.make_room(&mut items, new.len() + usize::from(new_family_item), Some(old.as_str()))?;
        if !rotatable(&items) {
            return Err(StoreError::Conflict(old.to_string()));
        }
        for (key, record) in keys.iter().zip(new) {
            items.insert(key.as_str(), record);
        }
        items.update(old.as_str(), |record| {
            if let Record::Token(t) = record {
                t.rotated_at = Some(at);
            }
        });
        if let (Some(mark), Some(key)) = (refreshed, family_key) {
            // Like the DynamoDB update: the refresh mark and its expiry are set, `revoked_before` kept (the epoch
            // on a new item).
            let marked = items.update(key.as_str(), |record| {
                if let Record::Watermark(w) = record {
                    w.access_revoked_before = Some(mark.access_revoked_before);
                    w.expires_at = mark.expires_at;
                }
            });
            if marked.is_none() {
                let item = RevocationWatermark {
                    tenant: mark.tenant.clone(),
                    target: mark.target(),
                    revoked_before: Timestamp::EPOCH,
                    access_revoked_before: Some(mark.access_revoked_before),
                    expires_at: mark.expires_at,
                };
                items.insert(key.as_str(), Record::Watermark(item));
            }
        }
        Ok(())
    }

    async fn raise_watermark(
        &self,
        watermark: RevocationWatermark,
        event_id: Option<&str>,
    ) -> Result<bool, StoreError> {
        let key = StoreKey::watermark(&watermark.tenant, &watermark.target);
        let seen = event_id.map(|id| SeenEvent::of(&watermark, id));
        let mut items = self.items();
        // Like the DynamoDB transaction: the new mark lands only if it is higher and its event is new, and the
        // event is remembered either way (a re-delivery must not raise the mark later).
        let now = self.bound.as_ref().map(|bound| bound.clock.now());
        let live = |record: &Record| now.is_none_or(|now| record.expires_at().is_none_or(|at| at > now));
        // A family's refresh mark is kept beside the raised one, as DynamoDB's update keeps the attribute.
        let (raises, exists, refreshed) = match items.records.get(key.as_str()) {
            Some(Record::Watermark(existing)) => {
                (existing.revoked_before < watermark.revoked_before, true, existing.access_revoked_before)
            }
            _ => (true, false, None),
        };
        let watermark = RevocationWatermark { access_revoked_before: refreshed, ..watermark };
        let seen_key = seen.as_ref().map(|seen| Record::SeenEvent(seen.clone()).key());
        let duplicate = seen_key.as_ref().is_some_and(|k| items.records.get(k.as_str()).is_some_and(live));
        if duplicate {
            return Ok(false);
        }
        let new_items = usize::from(raises && !exists) + usize::from(seen.is_some());
        if new_items > 0 {
            // Room is made before anything is written, so a refused write leaves nothing half-done and stays
            // retryable under the same event id.
            self.make_room(&mut items, new_items, None)?;
        }
        if raises {
            items.insert(key.as_str(), Record::Watermark(watermark));
        }
        if let (Some(seen), Some(seen_key)) = (seen, seen_key) {
            items.insert(seen_key.as_str(), Record::SeenEvent(seen));
        }
        let writes = raises;
        Ok(writes)
    }

    async fn put_user_details(
        &self,
        record: UserDetailsRecord,
        expected: Option<Timestamp>,
    ) -> Result<bool, StoreError> {
        let key = Record::UserDetails(record.clone()).key();
        let mut items = self.items();
        // Like the DynamoDB condition: an expired item (TTL deletes lazily) counts as absent.
        let now = record.attempted_at;
        let holds = match (items.records.get(key.as_str()), expected) {
            (Some(Record::UserDetails(stored)), Some(expected)) => stored.attempted_at == expected,
            (Some(stored), None) => stored.expires_at().is_some_and(|at| at <= now),
            (None, expected) => expected.is_none(),
            (Some(_), Some(_)) => false,
        };
        if !holds {
            return Ok(false);
        }
        if !items.records.contains_key(key.as_str()) {
            self.make_room(&mut items, 1, None)?;
        }
        items.insert(key.as_str(), Record::UserDetails(record));
        Ok(true)
    }
}

#[async_trait]
impl RegistrationStore for MemoryStore {
    async fn put(&self, record: Record) -> Result<(), StoreError> {
        let key = record.key();
        let mut items = self.items();
        if !items.records.contains_key(key.as_str()) {
            self.make_room(&mut items, 1, None)?;
        }
        items.insert(key.as_str(), record);
        Ok(())
    }

    async fn list(&self, tenant: &TenantId, kind: ItemKind) -> Result<Vec<Record>, StoreError> {
        let prefix = StoreKey::prefix(tenant, kind);
        let items = self.items();
        Ok(items.records.iter().filter(|(pk, _)| pk.starts_with(&prefix)).map(|(_, r)| r.clone()).collect())
    }

    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        self.items().remove(key.as_str());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::conformance::{client, fresh_tenant, token_record};
    use super::*;
    use crate::clock::FixedClock;
    use crate::domain::revocation::{RevokedJti, WatermarkTarget};
    use crate::domain::token::{ExternalTokenRecord, TokenHash, TokenRecord};
    use crate::store::Fetched;

    const NOW: Timestamp = Timestamp::from_secs(1_800_000_000);

    /// A store bounded to `max_items`, its clock pinned at [`NOW`].
    fn bounded(max_items: usize) -> (MemoryStore, Arc<FixedClock>) {
        let clock = Arc::new(FixedClock::at(NOW));
        let max_items = NonZeroUsize::new(max_items).expect("a positive bound");
        (MemoryStore::new().with_max_items(max_items, clock.clone()), clock)
    }

    fn token_key(record: &TokenRecord) -> StoreKey {
        StoreKey::token(&record.grant.tenant, &record.token_hash)
    }

    /// Stores a fresh token expiring `expires_in_secs` after [`NOW`]; its key.
    async fn put_token(store: &MemoryStore, tenant: &TenantId, expires_in_secs: u64) -> StoreKey {
        let record = token_record(tenant, NOW.plus_secs(expires_in_secs));
        let key = token_key(&record);
        store.put_new(Record::Token(record), NOW).await.expect("put token");
        key
    }

    fn revoked_jti(tenant: &TenantId, jti: &str, expires_in_secs: u64) -> Record {
        Record::RevokedJti(RevokedJti {
            tenant: tenant.clone(),
            jti: jti.into(),
            revoked_at: NOW,
            expires_at: NOW.plus_secs(expires_in_secs),
        })
    }

    #[tokio::test]
    async fn user_details_count_against_the_bound_and_go_before_revocation_state() {
        use crate::domain::id::IdTag;
        use crate::domain::user_details::UserDetailsRecord;
        let (store, _clock) = bounded(2);
        let tenant = fresh_tenant();
        store.raise_watermark(watermark(&tenant, "alice", 60), None).await.expect("watermark");
        let details = |subject: &str| {
            let attempt = UserDetailsRecord::attempt(None, &tenant, IdTag::of(subject), "https://idp.example/", NOW);
            attempt.fetched([("email".to_owned(), serde_json::json!("a@example.com"))].into(), NOW, 3_600)
        };
        assert!(store.put_user_details(details("alice"), None).await.expect("alice's details"));
        assert_eq!(store.len(), 2);
        // Replacing an item in place takes no room.
        let again = UserDetailsRecord { attempted_at: NOW.plus_secs(60), ..details("alice") };
        assert!(store.put_user_details(again, Some(NOW)).await.expect("replaced"));
        assert_eq!((store.len(), store.evictions()), (2, 0));
        // A new subject's details evict alice's (their loss costs a fetch), never the watermark.
        assert!(store.put_user_details(details("bob"), None).await.expect("bob's details"));
        assert_eq!((store.len(), store.evictions()), (2, 1));
        let alice = StoreKey::user_details(&tenant, &IdTag::of("alice"));
        assert!(store.get_many(&[alice]).await.expect("read").is_empty());
    }

    fn watermark(tenant: &TenantId, subject: &str, expires_in_secs: u64) -> RevocationWatermark {
        RevocationWatermark {
            tenant: tenant.clone(),
            target: WatermarkTarget::subject(subject),
            revoked_before: NOW,
            access_revoked_before: None,
            expires_at: NOW.plus_secs(expires_in_secs),
        }
    }

    fn external(tenant: &TenantId, name: &str, expires_in_secs: u64) -> ExternalTokenRecord {
        ExternalTokenRecord {
            tenant: tenant.clone(),
            token_hash: TokenHash::of(name),
            issuer: "https://idp.example/".into(),
            subject: "auth0|alice".into(),
            issued_at: NOW,
            expires_at: NOW.plus_secs(expires_in_secs),
            revoked_at: None,
        }
    }

    async fn present(store: &MemoryStore, key: &StoreKey) -> bool {
        !store.get_many(std::slice::from_ref(key)).await.expect("read").is_empty()
    }

    #[tokio::test]
    async fn passes_the_store_conformance_suite() {
        super::super::conformance::run_all(&MemoryStore::new()).await;
    }

    #[tokio::test]
    async fn a_bounded_store_passes_the_store_conformance_suite() {
        let (store, _clock) = bounded(10_000);
        super::super::conformance::run_all(&store).await;
        assert_eq!((store.evictions(), store.refused_writes()), (0, 0));
    }

    #[tokio::test]
    async fn a_sweep_removes_only_expired_items_soonest_first_and_at_most_max_per_call() {
        let store = MemoryStore::new();
        let tenant = fresh_tenant();
        let kept_client = client(&tenant, "kept");
        let client_key = StoreKey::client(&tenant, &kept_client.client_id);
        store.put_client(kept_client).await.expect("client");
        let mut soon = Vec::new();
        for _ in 0..3 {
            soon.push(put_token(&store, &tenant, 10).await);
        }
        let later = put_token(&store, &tenant, 20).await;
        store.raise_watermark(watermark(&tenant, "alice", 15), Some("evt-1")).await.expect("watermark");
        store.put_new(revoked_jti(&tenant, "jti-1", 30), NOW).await.expect("denylist entry");
        assert_eq!(store.len(), 8, "the watermark and, beside it, its event");

        assert_eq!(store.sweep_expired(NOW.plus_secs(9), 100), 0, "nothing has expired yet");
        assert_eq!(store.sweep_expired(NOW.plus_secs(10), 2), 2, "at most max_items per sweep");
        assert_eq!(store.sweep_expired(NOW.plus_secs(10), 100), 1);
        for key in &soon {
            assert!(!present(&store, key).await, "every token expired at +10 s is gone");
        }
        assert!(present(&store, &later).await, "a live token stays");
        assert_eq!(store.sweep_expired(NOW.plus_secs(15), 100), 2, "the watermark and its event, at their expiry");
        assert_eq!(store.sweep_expired(NOW.plus_secs(10_000), 100), 2, "the later token and the denylist entry");
        assert_eq!(store.sweep_expired(Timestamp::from_micros(u64::MAX), 100), 0);
        assert_eq!(store.len(), 1, "the client never expires");
        assert!(present(&store, &client_key).await);
        // The swept watermark's event went with it, as DynamoDB's TTL takes both at the same expiry.
        assert!(store.raise_watermark(watermark(&tenant, "alice", 20_000), Some("evt-1")).await.expect("again"));
    }

    #[tokio::test]
    async fn events_count_against_the_bound_and_only_ever_make_room_for_revocation() {
        // A thousand events on one watermark: each is an item beside it, counted and evictable (losing one can
        // only make a re-delivery revoke again), so the store stays within its bound and refuses nothing.
        let (store, _clock) = bounded(10);
        let tenant = fresh_tenant();
        let target = WatermarkTarget::subject("alice");
        for i in 0..1_000u64 {
            let mark = RevocationWatermark::at(&tenant, target.clone(), NOW.plus_secs(i));
            assert!(store.raise_watermark(mark, Some(&format!("evt-{i}"))).await.expect("raised"));
        }
        assert_eq!(store.len(), 10);
        assert_eq!((store.evictions(), store.refused_writes()), (991, 0));
        let key = StoreKey::watermark(&tenant, &target);
        let read = store.get_many(std::slice::from_ref(&key)).await.expect("read");
        let Some(Record::Watermark(mark)) = read.first() else { panic!("the watermark is kept: {read:?}") };
        assert_eq!(mark.revoked_before, NOW.plus_secs(999));
        let newest = StoreKey::seen_event(&tenant, &target, "evt-999");
        assert_eq!(store.get_many(std::slice::from_ref(&newest)).await.expect("read").len(), 1, "newest kept");
    }

    #[tokio::test]
    async fn the_bound_evicts_the_soonest_expiring_token_first_and_counts_it() {
        let (store, _clock) = bounded(3);
        let tenant = fresh_tenant();
        let late = put_token(&store, &tenant, 30).await;
        let soonest = put_token(&store, &tenant, 10).await;
        let middle = put_token(&store, &tenant, 20).await;
        let newest = put_token(&store, &tenant, 40).await;
        assert_eq!(store.len(), 3);
        assert!(!present(&store, &soonest).await, "the soonest-expiring token made room");
        for key in [&late, &middle, &newest] {
            assert!(present(&store, key).await);
        }
        assert_eq!((store.evictions(), store.refused_writes()), (1, 0));
    }

    #[tokio::test]
    async fn the_bound_removes_expired_items_of_any_kind_before_evicting_a_live_one() {
        let (store, clock) = bounded(3);
        let tenant = fresh_tenant();
        store.raise_watermark(watermark(&tenant, "alice", 5), None).await.expect("watermark");
        store.put_new(revoked_jti(&tenant, "jti-1", 6), NOW).await.expect("denylist entry");
        let live = put_token(&store, &tenant, 60).await;
        clock.advance_secs(6);
        let first = put_token(&store, &tenant, 60).await;
        let second = put_token(&store, &tenant, 60).await;
        assert_eq!(store.len(), 3);
        for key in [&live, &first, &second] {
            assert!(present(&store, key).await, "no live item was evicted while expired ones were left");
        }
        assert_eq!(store.evictions(), 0, "dropping expired items is no eviction");
    }

    #[tokio::test]
    async fn the_bound_never_evicts_revocation_state_and_refuses_the_write_instead() {
        let (store, _clock) = bounded(6);
        let tenant = fresh_tenant();
        // Revocation state that expires soonest, and a client: nothing the bound may evict.
        store.put_client(client(&tenant, "kept")).await.expect("client");
        store.put_new(revoked_jti(&tenant, "jti-1", 10), NOW).await.expect("denylist entry");
        store.raise_watermark(watermark(&tenant, "alice", 10), None).await.expect("watermark");
        let revoked_external = external(&tenant, "external-1", 10);
        let external_key = StoreKey::token(&tenant, &revoked_external.token_hash);
        store.put_new(Record::ExternalToken(revoked_external), NOW).await.expect("external");
        store.mark_revoked(&external_key, NOW).await.expect("revoke external");
        let refresh = put_token(&store, &tenant, 10).await;
        let successor = token_record(&tenant, NOW.plus_secs(60));
        store.rotate(&refresh, NOW, vec![Record::Token(successor.clone())], None).await.expect("rotate");
        // Full: six items, only the successor evictable. The next write evicts it, the ones after are refused.
        store.put_new(revoked_jti(&tenant, "jti-2", 90), NOW).await.expect("a second denylist entry");
        assert!(!present(&store, &token_key(&successor)).await);
        assert_eq!(store.evictions(), 1);
        let refused = store.put_new(Record::Token(token_record(&tenant, NOW.plus_secs(90))), NOW).await;
        assert!(matches!(refused, Err(StoreError::Unavailable { .. })), "{refused:?}");
        let refused = store.raise_watermark(watermark(&tenant, "bob", 60), None).await;
        assert!(matches!(refused, Err(StoreError::Unavailable { .. })), "{refused:?}");
        assert_eq!((store.len(), store.refused_writes()), (6, 2));

        let keys = [
            StoreKey::revoked_jti(&tenant, "jti-1"),
            StoreKey::watermark(&tenant, &WatermarkTarget::subject("alice")),
            external_key.clone(),
            refresh.clone(),
        ];
        let got = Fetched::new(store.get_many(&keys).await.expect("read"), NOW);
        assert!(got.has_revoked_jti(&keys[0]));
        assert_eq!(got.watermarks(&keys[1..2]), vec![NOW]);
        assert!(got.external_token(&external_key).is_some_and(|t| t.revoked_at.is_some()));
        assert!(got.token(&refresh).is_some_and(|t| t.rotated_at.is_some()), "the reuse evidence stays");
        assert!(present(&store, &StoreKey::revoked_jti(&tenant, "jti-2")).await);
        // Replacing an item in place needs no room.
        store.put_client(client(&tenant, "kept")).await.expect("re-register a client");
        let higher = RevocationWatermark { revoked_before: NOW.plus_secs(1), ..watermark(&tenant, "alice", 10) };
        assert!(store.raise_watermark(higher, None).await.expect("raise in place"));
    }

    #[tokio::test]
    async fn a_used_jti_is_never_evicted_and_a_full_store_refuses_the_next_use() {
        use crate::store::{JtiPurpose, JtiUse, UsedJti};
        let (store, _clock) = bounded(2);
        let tenant = fresh_tenant();
        let used = |jti: &str| UsedJti::new(tenant.clone(), JtiPurpose::ClientAssertion, "c", jti, NOW.plus_secs(60));
        let token = put_token(&store, &tenant, 10).await;
        assert_eq!(store.use_jti_once(used("a"), NOW).await.expect("first"), JtiUse::First);
        // The token goes to make room; the used id stays, so its replay is still refused.
        assert_eq!(store.use_jti_once(used("b"), NOW).await.expect("second"), JtiUse::First);
        assert!(!present(&store, &token).await);
        assert_eq!(store.use_jti_once(used("a"), NOW).await.expect("replay"), JtiUse::Replayed);
        // Full of used ids: a new one is refused (503 at the edge), never let through by forgetting another.
        let refused = store.use_jti_once(used("c"), NOW).await;
        assert!(matches!(refused, Err(StoreError::Unavailable { .. })), "{refused:?}");
        assert_eq!(store.use_jti_once(used("b"), NOW).await.expect("replay"), JtiUse::Replayed);
    }

    #[tokio::test]
    async fn a_revocation_evicts_a_live_token_to_land() {
        let (store, _clock) = bounded(2);
        let tenant = fresh_tenant();
        let first = put_token(&store, &tenant, 10).await;
        put_token(&store, &tenant, 20).await;
        assert!(store.raise_watermark(watermark(&tenant, "alice", 600), None).await.expect("lands"));
        store.put_new(revoked_jti(&tenant, "jti-1", 600), NOW).await.expect("lands");
        assert!(!present(&store, &first).await);
        assert_eq!((store.len(), store.evictions()), (2, 2));
    }

    #[tokio::test]
    async fn a_refused_event_stays_retryable_under_its_id() {
        let (store, clock) = bounded(2);
        let tenant = fresh_tenant();
        store.put_new(revoked_jti(&tenant, "jti-1", 10), NOW).await.expect("denylist entry");
        let refused = store.raise_watermark(watermark(&tenant, "alice", 600), Some("evt-1")).await;
        assert!(matches!(refused, Err(StoreError::Unavailable { .. })), "{refused:?}");
        clock.advance_secs(10);
        assert!(store.raise_watermark(watermark(&tenant, "alice", 600), Some("evt-1")).await.expect("retry lands"));
    }

    #[tokio::test]
    async fn a_rotation_never_evicts_the_token_it_rotates() {
        let (store, _clock) = bounded(2);
        let tenant = fresh_tenant();
        let refresh = put_token(&store, &tenant, 10).await;
        let other = put_token(&store, &tenant, 20).await;
        let successor = token_record(&tenant, NOW.plus_secs(60));
        store.rotate(&refresh, NOW, vec![Record::Token(successor.clone())], None).await.expect("rotate");
        let got = Fetched::new(store.get_many(&[refresh.clone(), token_key(&successor)]).await.expect("read"), NOW);
        assert!(got.token(&refresh).is_some_and(|t| t.rotated_at == Some(NOW)));
        assert!(got.token(&token_key(&successor)).is_some());
        assert!(!present(&store, &other).await, "the other token made room");
    }

    #[tokio::test]
    async fn the_bound_holds_over_many_writes() {
        let (store, clock) = bounded(100);
        let tenant = fresh_tenant();
        store.put_client(client(&tenant, "kept")).await.expect("client");
        for i in 0..1_000u64 {
            put_token(&store, &tenant, 60 + i % 7).await;
            if i % 50 == 0 {
                store
                    .put_new(revoked_jti(&tenant, &format!("jti-{i}"), 30), clock.now())
                    .await
                    .expect("denylist entry");
                clock.advance_secs(1);
            }
            assert!(store.len() <= 100);
        }
        assert_eq!(store.len(), 100);
        let keys: Vec<StoreKey> =
            (0..1_000).step_by(50).map(|i| StoreKey::revoked_jti(&tenant, &format!("jti-{i}"))).collect();
        let got = Fetched::new(store.get_many(&keys).await.expect("read"), clock.now());
        assert!(keys.iter().all(|k| got.has_revoked_jti(k)), "every live denylist entry is kept");
    }
}

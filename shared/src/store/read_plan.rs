//! The read plan: where each item of a decision comes from. Every introspection (and every authorizer decision)
//! reads the same kinds of items: the caller's client record, the token's record or denylist entry, and four
//! watermarks. Several are the same item for every request of a tenant, a client or a resource server, and one
//! DynamoDB partition serves at most 3,000 read units a second. So each execution environment keeps the items
//! it read, present or missing, for at most the revocation propagation bound B ([`RevocationBound`]), and a hot
//! item is read at most once per B per environment.
//!
//! - [`ReadPlan`] is the [`TokenStore`] decisions read through: an item younger than B comes from the cache,
//!   the others from one strongly consistent read of the store (the cache is then filled with what it found,
//!   and with a negative entry for each key it did not). B = 0 keeps no cache at all: every read reaches the
//!   store, exactly as without the plan.
//! - [`StrictReads`] is the same store with every read reaching it: the token endpoint (a refresh, reuse
//!   detection, a token exchange's subject token) and revocation read through it, because what they write
//!   depends on the current state.
//!
//! Both views write through the plan: after a write (whatever its outcome) the keys it touched are forgotten,
//! so the environment that wrote a revocation reads it back at once. A read that was in flight while this
//! environment wrote does not fill the cache: it may have read the state before the write.
//!
//! The bounds: an item is served from the cache while its age (from the moment its read was sent, by the
//! injected clock) is below B, so a change written by another environment (a revocation, a disabled client, a
//! rotated secret) is seen within B of being written. A clock that steps back makes every entry stale. Memory:
//! at most [`ITEM_CACHE_LIMITS`] entries and bytes, least recently used first out; an entry is charged its
//! item's size as DynamoDB counts it, its key, and [`ENTRY_OVERHEAD_BYTES`].
//!
//! Reads stay strongly consistent for every B: an eventually consistent read can return a state older than
//! itself by an unbounded replication lag (AWS states no bound), which would add that lag to B.

use std::mem::size_of;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use super::{Record, StoreError, StoreKey, TokenStore};
use crate::bounded_cache::{BoundedCache, CacheLimits};
use crate::clock::Clock;
use crate::config::ConfigError;
use crate::domain::revocation::{RefreshedFamily, RevocationWatermark};
use crate::domain::time::Timestamp;
use crate::domain::user_details::UserDetailsRecord;
use crate::metrics::Metric;

/// The largest revocation propagation bound accepted, in milliseconds: a minute. Beyond that a revocation
/// would go unseen for longer than most access tokens are worth caching for.
pub const MAX_REVOCATION_STALENESS_MS: u64 = 60_000;

/// The item cache's bounds in each execution environment: 50,000 entries and 16 MiB as charged. At 2,000
/// introspections a second in one environment (100,000 a second over 50), B = 1 s and six items each, the
/// working set is at most 12,000 entries.
pub const ITEM_CACHE_LIMITS: CacheLimits =
    CacheLimits { max_entries: NonZeroUsize::new(50_000).expect("positive"), max_bytes: 16 * 1024 * 1024 };

/// What an entry costs besides its item and its key: the entry itself and the list node and hash slot that
/// hold it.
pub const ENTRY_OVERHEAD_BYTES: usize = size_of::<StoreKey>() + size_of::<CachedItem>() + 64;

/// The revocation propagation bound B: how old an answer about an item may be when a decision uses it. It
/// bounds how long a revocation, a disabled client or a rotated client secret written elsewhere can go unseen.
/// 0 is strict: every decision reads every item.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct RevocationBound {
    millis: u64,
}

impl RevocationBound {
    /// B = 0: no cache, every item read for every decision.
    pub const STRICT: Self = Self { millis: 0 };

    /// B of `millis` milliseconds, from the setting `name` (named in the error): at most
    /// [`MAX_REVOCATION_STALENESS_MS`].
    pub fn from_millis(name: &str, millis: u64) -> Result<Self, ConfigError> {
        match millis {
            0..=MAX_REVOCATION_STALENESS_MS => Ok(Self { millis }),
            _ => Err(Self::invalid(name, &millis.to_string())),
        }
    }

    /// B from the text of the setting `name` (an environment variable): a whole number of milliseconds.
    pub fn parse_millis(name: &str, text: &str) -> Result<Self, ConfigError> {
        let millis = text.trim().parse::<u64>().map_err(|_| Self::invalid(name, text))?;
        Self::from_millis(name, millis)
    }

    fn invalid(name: &str, value: &str) -> ConfigError {
        ConfigError::Invalid(format!(
            "{name} must be a whole number of milliseconds from 0 to {MAX_REVOCATION_STALENESS_MS}, not {value:?}"
        ))
    }

    /// B in milliseconds.
    pub const fn as_millis(self) -> u64 {
        self.millis
    }

    /// B in microseconds, the clock's unit.
    pub const fn as_micros(self) -> u64 {
        self.millis * 1_000
    }

    /// Whether B = 0.
    pub const fn is_strict(self) -> bool {
        self.millis == 0
    }
}

/// An item as read, or the fact that it was missing, and when the read that found it was sent.
#[derive(Debug)]
struct CachedItem {
    read_at: Timestamp,
    record: Option<Record>,
}

impl CachedItem {
    /// Younger than `bound` at `now`; an entry from the future (the clock stepped back) is stale.
    fn fresh_at(&self, now: Timestamp, bound: RevocationBound) -> bool {
        now >= self.read_at && now.as_micros() - self.read_at.as_micros() < bound.as_micros()
    }
}

struct ItemCache {
    items: BoundedCache<StoreKey, CachedItem>,
    /// Writes made through the plan so far: a read that overlapped one leaves the cache as it is.
    writes: u64,
}

/// How much the item cache holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheUsage {
    /// Entries, missing items included.
    pub entries: usize,
    /// Bytes, as charged.
    pub bytes: usize,
}

/// The store as decisions read it: items younger than B from this environment's cache, the rest from the store
/// ([module docs](self)). Writes go to the store and forget the keys they touched.
pub struct ReadPlan {
    store: Arc<dyn TokenStore>,
    clock: Arc<dyn Clock>,
    bound: RevocationBound,
    /// `None` when B = 0.
    cache: Option<Mutex<ItemCache>>,
}

impl ReadPlan {
    /// A plan over `store` with bound `bound`, its ages read from `clock`, within [`ITEM_CACHE_LIMITS`].
    pub fn new(store: Arc<dyn TokenStore>, clock: Arc<dyn Clock>, bound: RevocationBound) -> Self {
        Self::with_limits(store, clock, bound, ITEM_CACHE_LIMITS)
    }

    /// [`ReadPlan::new`] within other limits.
    pub fn with_limits(
        store: Arc<dyn TokenStore>,
        clock: Arc<dyn Clock>,
        bound: RevocationBound,
        limits: CacheLimits,
    ) -> Self {
        let cache = (!bound.is_strict()).then(|| Mutex::new(ItemCache { items: BoundedCache::new(limits), writes: 0 }));
        Self { store, clock, bound, cache }
    }

    /// The bound B.
    pub fn bound(&self) -> RevocationBound {
        self.bound
    }

    /// The store behind the plan.
    pub fn store(&self) -> &Arc<dyn TokenStore> {
        &self.store
    }

    /// What the item cache holds now (nothing when B = 0).
    pub fn usage(&self) -> CacheUsage {
        match &self.cache {
            Some(cache) => {
                let cache = lock(cache);
                CacheUsage { entries: cache.items.len(), bytes: cache.items.bytes() }
            }
            None => CacheUsage { entries: 0, bytes: 0 },
        }
    }

    /// Forgets `keys` after a write that touched them (succeeded or not: a write that timed out may have
    /// committed), and marks reads in flight as overlapping a write.
    fn forget(&self, keys: &[StoreKey]) {
        if let Some(cache) = &self.cache {
            let mut cache = lock(cache);
            cache.writes += 1;
            for key in keys {
                cache.items.remove(key);
            }
        }
    }

    /// The keys a write of `records` touches, when there is a cache to keep right.
    fn keys_of<'a>(&self, records: impl IntoIterator<Item = &'a Record>) -> Vec<StoreKey> {
        match self.cache {
            Some(_) => records.into_iter().map(Record::key).collect(),
            None => Vec::new(),
        }
    }
}

fn lock(cache: &Mutex<ItemCache>) -> MutexGuard<'_, ItemCache> {
    cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What an entry is charged: its key, its item as DynamoDB sizes it, and [`ENTRY_OVERHEAD_BYTES`]. `None` for an
/// item that cannot be sized (it is then not cached).
fn charge(key: &StoreKey, record: Option<&Record>) -> Option<usize> {
    let item = match record {
        Some(record) => super::dynamodb::item_size(record).ok()?,
        None => 0,
    };
    Some(ENTRY_OVERHEAD_BYTES + key.as_str().len() + item)
}

#[async_trait]
impl TokenStore for ReadPlan {
    /// Each key from the cache when its entry is younger than B, the others in one read of the store, whose
    /// answer (and each key it did not find) is then cached, unless a write went through the plan meanwhile.
    async fn get_many(&self, keys: &[StoreKey]) -> Result<Vec<Record>, StoreError> {
        let Some(cache) = &self.cache else {
            return self.store.get_many(keys).await;
        };
        let now = self.clock.now();
        let mut records = Vec::with_capacity(keys.len());
        let mut missing = Vec::new();
        let writes_before = {
            let mut cache = lock(cache);
            for key in keys {
                match cache.items.get(key) {
                    Some(item) if item.fresh_at(now, self.bound) => records.extend(item.record.clone()),
                    _ => missing.push(key.clone()),
                }
            }
            cache.writes
        };
        crate::metrics::add(Metric::ReadPlanCacheHits, (keys.len() - missing.len()) as u64);
        crate::metrics::add(Metric::ReadPlanCacheMisses, missing.len() as u64);
        if missing.is_empty() {
            return Ok(records);
        }
        let fetched = self.store.get_many(&missing).await?;
        {
            let mut cache = lock(cache);
            if cache.writes == writes_before {
                let mut found: Vec<(StoreKey, &Record)> = fetched.iter().map(|r| (r.key(), r)).collect();
                for key in missing {
                    let record = found.iter().position(|(k, _)| *k == key).map(|at| found.swap_remove(at).1.clone());
                    if let Some(bytes) = charge(&key, record.as_ref()) {
                        cache.items.insert(key, CachedItem { read_at: now, record }, bytes);
                    }
                }
            }
        }
        records.extend(fetched);
        Ok(records)
    }

    async fn put_new(&self, record: Record, now: Timestamp) -> Result<(), StoreError> {
        let keys = self.keys_of([&record]);
        let result = self.store.put_new(record, now).await;
        self.forget(&keys);
        result
    }

    async fn mark_revoked(&self, key: &StoreKey, at: Timestamp) -> Result<(), StoreError> {
        let result = self.store.mark_revoked(key, at).await;
        self.forget(std::slice::from_ref(key));
        result
    }

    async fn put_new_all(&self, records: Vec<Record>, now: Timestamp) -> Result<(), StoreError> {
        let keys = self.keys_of(&records);
        let result = self.store.put_new_all(records, now).await;
        self.forget(&keys);
        result
    }

    async fn rotate(
        &self,
        old: &StoreKey,
        at: Timestamp,
        new: Vec<Record>,
        refreshed: Option<RefreshedFamily>,
    ) -> Result<(), StoreError> {
        let mut keys = self.keys_of(&new);
        keys.push(old.clone());
        keys.extend(refreshed.as_ref().map(|mark| StoreKey::watermark(&mark.tenant, &mark.target())));
        let result = self.store.rotate(old, at, new, refreshed).await;
        self.forget(&keys);
        result
    }

    async fn raise_watermark(
        &self,
        watermark: RevocationWatermark,
        event_id: Option<&str>,
    ) -> Result<bool, StoreError> {
        let key = StoreKey::watermark(&watermark.tenant, &watermark.target);
        let result = self.store.raise_watermark(watermark, event_id).await;
        self.forget(&[key]);
        result
    }

    async fn put_user_details(
        &self,
        record: UserDetailsRecord,
        expected: Option<Timestamp>,
    ) -> Result<bool, StoreError> {
        let keys = self.keys_of([&Record::UserDetails(record.clone())]);
        let result = self.store.put_user_details(record, expected).await;
        self.forget(&keys);
        result
    }
}

/// The plan's store with every read reaching it, strongly consistent, whatever B; its writes go through the plan,
/// so they keep its cache right ([module docs](self)).
pub struct StrictReads(pub Arc<ReadPlan>);

#[async_trait]
impl TokenStore for StrictReads {
    async fn get_many(&self, keys: &[StoreKey]) -> Result<Vec<Record>, StoreError> {
        self.0.store.get_many(keys).await
    }

    async fn put_new(&self, record: Record, now: Timestamp) -> Result<(), StoreError> {
        self.0.put_new(record, now).await
    }

    async fn mark_revoked(&self, key: &StoreKey, at: Timestamp) -> Result<(), StoreError> {
        self.0.mark_revoked(key, at).await
    }

    async fn put_new_all(&self, records: Vec<Record>, now: Timestamp) -> Result<(), StoreError> {
        self.0.put_new_all(records, now).await
    }

    async fn rotate(
        &self,
        old: &StoreKey,
        at: Timestamp,
        new: Vec<Record>,
        refreshed: Option<RefreshedFamily>,
    ) -> Result<(), StoreError> {
        self.0.rotate(old, at, new, refreshed).await
    }

    async fn raise_watermark(
        &self,
        watermark: RevocationWatermark,
        event_id: Option<&str>,
    ) -> Result<bool, StoreError> {
        self.0.raise_watermark(watermark, event_id).await
    }

    async fn put_user_details(
        &self,
        record: UserDetailsRecord,
        expected: Option<Timestamp>,
    ) -> Result<bool, StoreError> {
        self.0.put_user_details(record, expected).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;
    use crate::domain::revocation::WatermarkTarget;
    use crate::domain::tenant::TenantId;
    use crate::store::Fetched;
    use crate::store::counting::CountingStore;
    use crate::store::memory::MemoryStore;

    const T0: Timestamp = Timestamp::from_secs(1_800_000_000);
    const BOUND_MS: u64 = 1_000;

    struct Setup {
        store: Arc<CountingStore<MemoryStore>>,
        clock: Arc<FixedClock>,
        plan: Arc<ReadPlan>,
    }

    fn setup_within(bound_ms: u64, limits: CacheLimits) -> Setup {
        let store = Arc::new(CountingStore::new(MemoryStore::new()));
        let clock = Arc::new(FixedClock::at(T0));
        let bound = RevocationBound::from_millis("B", bound_ms).unwrap();
        let plan = Arc::new(ReadPlan::with_limits(store.clone(), clock.clone(), bound, limits));
        Setup { store, clock, plan }
    }

    fn setup(bound_ms: u64) -> Setup {
        setup_within(bound_ms, ITEM_CACHE_LIMITS)
    }

    fn tenant() -> TenantId {
        TenantId::default()
    }

    fn tenant_mark(at: Timestamp) -> RevocationWatermark {
        RevocationWatermark::at(&tenant(), WatermarkTarget::Tenant, at)
    }

    fn subject_key(subject: &str) -> StoreKey {
        StoreKey::watermark(&tenant(), &WatermarkTarget::subject(subject))
    }

    fn tenant_key() -> StoreKey {
        StoreKey::watermark(&tenant(), &WatermarkTarget::Tenant)
    }

    /// The tenant watermark's mark as the plan answers now.
    async fn seen_mark(plan: &dyn TokenStore, now: Timestamp) -> Option<Timestamp> {
        let keys = [tenant_key()];
        Fetched::new(plan.get_many(&keys).await.unwrap(), now).watermarks(&keys).first().copied()
    }

    #[tokio::test]
    async fn strict_reads_every_item_every_time() {
        let Setup { store, plan, .. } = setup(0);
        assert_eq!(plan.bound(), RevocationBound::STRICT);
        for _ in 0..3 {
            plan.get_many(&[tenant_key()]).await.unwrap();
        }
        assert_eq!(store.take().reads, 3);
        assert_eq!(plan.usage(), CacheUsage { entries: 0, bytes: 0 });
    }

    #[tokio::test]
    async fn a_missing_item_is_cached_and_a_write_elsewhere_shows_at_b() {
        let Setup { store, clock, plan } = setup(BOUND_MS);
        assert_eq!(seen_mark(plan.as_ref(), clock.now()).await, None);
        assert_eq!(store.take().reads, 1);
        // Another environment revokes the tenant: written to the store behind this plan's back.
        store.inner().raise_watermark(tenant_mark(clock.now()), None).await.unwrap();
        clock.advance_micros(BOUND_MS * 1_000 - 1);
        assert_eq!(seen_mark(plan.as_ref(), clock.now()).await, None, "the negative entry holds until B");
        assert_eq!(store.take().reads, 0);
        clock.advance_micros(1);
        assert_eq!(seen_mark(plan.as_ref(), clock.now()).await, Some(T0), "at age B the item is read again");
        assert_eq!(store.take().reads, 1);
    }

    #[tokio::test]
    async fn present_items_are_cached_for_b_and_only_what_is_stale_is_read() {
        let Setup { store, clock, plan } = setup(BOUND_MS);
        store.inner().raise_watermark(tenant_mark(T0), None).await.unwrap();
        assert_eq!(seen_mark(plan.as_ref(), clock.now()).await, Some(T0));
        clock.advance_micros(500_000);
        let keys = [tenant_key(), subject_key("alice")];
        let records = plan.get_many(&keys).await.unwrap();
        assert_eq!(records.len(), 1, "the cached tenant mark; alice has none");
        assert_eq!(store.take_items().keys_read, 2, "the tenant mark, then only alice's");
        assert_eq!(plan.usage().entries, 2);
    }

    #[tokio::test]
    async fn cache_hits_and_misses_are_counted_per_item() {
        let Setup { clock, plan, .. } = setup(BOUND_MS);
        let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = crate::metrics::MetricsSink::Memory(lines.clone());
        let metrics = crate::metrics::MetricsEmitter::new("Test", "f", sink, clock.clone());
        metrics
            .invocation(async {
                plan.get_many(&[tenant_key()]).await.unwrap();
                plan.get_many(&[tenant_key(), subject_key("alice")]).await.unwrap();
            })
            .await;
        let lines = lines.lock().unwrap();
        let document: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(document["ReadPlanCacheHits"], serde_json::json!(1.0), "the tenant mark, the second time");
        assert_eq!(document["ReadPlanCacheMisses"], serde_json::json!(2.0), "the tenant mark, then alice's");
    }

    #[tokio::test]
    async fn a_write_through_the_plan_is_seen_by_it_at_once() {
        let Setup { store, clock, plan } = setup(BOUND_MS);
        assert_eq!(seen_mark(plan.as_ref(), clock.now()).await, None);
        plan.raise_watermark(tenant_mark(clock.now()), None).await.unwrap();
        assert_eq!(seen_mark(plan.as_ref(), clock.now()).await, Some(T0), "no wait for B");
        // Through the strict view too: its writes forget the plan's entries.
        let strict = StrictReads(plan.clone());
        clock.advance_secs(1);
        assert_eq!(seen_mark(plan.as_ref(), clock.now()).await, Some(T0), "read again at age B, and cached");
        strict.raise_watermark(tenant_mark(clock.now()), None).await.unwrap();
        assert_eq!(seen_mark(plan.as_ref(), clock.now()).await, Some(T0.plus_secs(1)));
        // The first read, one after each write, one at age B: never a cached answer to a writer.
        assert_eq!(store.take().reads, 4);
    }

    #[tokio::test]
    async fn every_kind_of_write_forgets_the_keys_it_touched() {
        use crate::domain::revocation::RevokedJti;
        let Setup { store, clock, plan } = setup(BOUND_MS);
        let jti = RevokedJti { tenant: tenant(), jti: "j-1".into(), revoked_at: T0, expires_at: T0.plus_secs(60) };
        let key = Record::RevokedJti(jti.clone()).key();
        assert!(plan.get_many(std::slice::from_ref(&key)).await.unwrap().is_empty(), "not revoked yet: cached");
        plan.put_new(Record::RevokedJti(jti), T0).await.unwrap();
        let fetched = Fetched::new(plan.get_many(std::slice::from_ref(&key)).await.unwrap(), clock.now());
        assert!(fetched.has_revoked_jti(&key), "the writer sees its denylist entry at once");
        // A failed write forgets too: what it found is not what this environment cached.
        let other = StoreKey::token(&tenant(), &crate::domain::token::TokenHash::of("tsr_at_nothing"));
        plan.get_many(std::slice::from_ref(&other)).await.unwrap();
        assert!(matches!(plan.mark_revoked(&other, T0).await, Err(StoreError::NotFound(_))));
        store.take();
        plan.get_many(std::slice::from_ref(&other)).await.unwrap();
        assert_eq!(store.take().reads, 1, "forgotten after the failed write");
    }

    #[tokio::test]
    async fn a_read_in_flight_during_a_write_does_not_fill_the_cache() {
        use tokio::sync::Notify;

        /// A store whose reads wait until released, so a write can land while one is in flight.
        struct HeldReads {
            inner: MemoryStore,
            arrived: Notify,
            release: Notify,
        }
        #[async_trait]
        impl TokenStore for HeldReads {
            async fn get_many(&self, keys: &[StoreKey]) -> Result<Vec<Record>, StoreError> {
                let records = self.inner.get_many(keys).await;
                self.arrived.notify_one();
                self.release.notified().await;
                records
            }
            async fn put_new(&self, record: Record, now: Timestamp) -> Result<(), StoreError> {
                self.inner.put_new(record, now).await
            }
            async fn mark_revoked(&self, key: &StoreKey, at: Timestamp) -> Result<(), StoreError> {
                self.inner.mark_revoked(key, at).await
            }
            async fn put_new_all(&self, records: Vec<Record>, now: Timestamp) -> Result<(), StoreError> {
                self.inner.put_new_all(records, now).await
            }
            async fn rotate(
                &self,
                old: &StoreKey,
                at: Timestamp,
                new: Vec<Record>,
                refreshed: Option<RefreshedFamily>,
            ) -> Result<(), StoreError> {
                self.inner.rotate(old, at, new, refreshed).await
            }
            async fn raise_watermark(&self, w: RevocationWatermark, id: Option<&str>) -> Result<bool, StoreError> {
                self.inner.raise_watermark(w, id).await
            }
            async fn put_user_details(
                &self,
                record: UserDetailsRecord,
                expected: Option<Timestamp>,
            ) -> Result<bool, StoreError> {
                self.inner.put_user_details(record, expected).await
            }
        }

        let store = Arc::new(HeldReads { inner: MemoryStore::new(), arrived: Notify::new(), release: Notify::new() });
        let clock = Arc::new(FixedClock::at(T0));
        let bound = RevocationBound::from_millis("B", BOUND_MS).unwrap();
        let plan = Arc::new(ReadPlan::new(store.clone(), clock.clone(), bound));
        let reader = tokio::spawn({
            let plan = plan.clone();
            async move { seen_mark(plan.as_ref(), T0).await }
        });
        store.arrived.notified().await;
        // The read found no mark; the revocation lands before its answer is back.
        plan.raise_watermark(tenant_mark(T0), None).await.unwrap();
        store.release.notify_one();
        assert_eq!(reader.await.unwrap(), None, "that request started before the revocation");
        assert_eq!(plan.usage().entries, 0, "its stale answer was not cached");
        let next = tokio::spawn({
            let plan = plan.clone();
            async move { seen_mark(plan.as_ref(), T0).await }
        });
        store.arrived.notified().await;
        store.release.notify_one();
        assert_eq!(next.await.unwrap(), Some(T0));
    }

    #[tokio::test]
    async fn a_clock_that_steps_back_makes_entries_stale() {
        let Setup { store, clock, .. } = setup(BOUND_MS);
        // A second plan on a clock ahead of the first: its entries are "from the future" for the first clock.
        let ahead = Arc::new(FixedClock::at(T0.plus_secs(10)));
        let bound = RevocationBound::from_millis("B", BOUND_MS).unwrap();
        let plan = ReadPlan::new(store.clone(), ahead.clone(), bound);
        plan.get_many(&[tenant_key()]).await.unwrap();
        store.take();
        let stepped_back = ReadPlan { clock: clock.clone(), ..plan };
        stepped_back.get_many(&[tenant_key()]).await.unwrap();
        assert_eq!(store.take().reads, 1);
    }

    #[tokio::test]
    async fn the_cache_holds_no_more_entries_nor_bytes_than_its_limits() {
        let limits = CacheLimits { max_entries: NonZeroUsize::new(3).unwrap(), max_bytes: 1_000_000 };
        let Setup { store, plan, .. } = setup_within(BOUND_MS, limits);
        for subject in ["a", "b", "c", "d", "e"] {
            plan.get_many(&[subject_key(subject)]).await.unwrap();
        }
        assert_eq!(plan.usage().entries, 3);
        store.take();
        plan.get_many(&[subject_key("e")]).await.unwrap();
        plan.get_many(&[subject_key("a")]).await.unwrap();
        assert_eq!(store.take().reads, 1, "e is held; a, the least recently used, was evicted");

        // The byte cap: each missing watermark is charged its key and the overhead.
        let per_entry = ENTRY_OVERHEAD_BYTES + subject_key("a").as_str().len();
        let limits = CacheLimits { max_entries: NonZeroUsize::new(1_000).unwrap(), max_bytes: 2 * per_entry + 1 };
        let Setup { plan, store, .. } = setup_within(BOUND_MS, limits);
        store.inner().raise_watermark(tenant_mark(T0), None).await.unwrap();
        for subject in ["a", "b", "c", "d"] {
            plan.get_many(&[subject_key(subject)]).await.unwrap();
        }
        assert_eq!(plan.usage(), CacheUsage { entries: 2, bytes: 2 * per_entry });
        // A present item is charged its size too, and pushes two missing ones out.
        plan.get_many(&[tenant_key()]).await.unwrap();
        let usage = plan.usage();
        assert!(usage.bytes <= 2 * per_entry + 1, "{usage:?}");
        assert_eq!(usage.entries, 1, "{usage:?}");
    }

    #[test]
    fn the_bound_is_whole_milliseconds_up_to_a_minute() {
        assert_eq!(RevocationBound::parse_millis("B", "0").unwrap(), RevocationBound::STRICT);
        assert_eq!(RevocationBound::parse_millis("B", " 1000 ").unwrap().as_micros(), 1_000_000);
        assert_eq!(RevocationBound::parse_millis("B", "60000").unwrap().as_millis(), 60_000);
        for bad in ["60001", "-1", "1.5", "1s", "", "ten"] {
            let err = RevocationBound::parse_millis("REVOCATION_MAX_STALENESS_MS", bad).unwrap_err().to_string();
            assert!(
                err.contains("REVOCATION_MAX_STALENESS_MS must be a whole number of milliseconds from 0 to 60000"),
                "{bad}: {err}"
            );
        }
    }
}

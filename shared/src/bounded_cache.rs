//! A least-recently-used map bounded twice: in entries and in bytes. The read plan's item cache
//! ([`crate::store::read_plan`]) and the verified-JWT cache ([`crate::jwt::verified`]) are both one of these behind a
//! mutex. The `lru` crate keeps the order; this adds the byte budget, charged per entry by the caller (an
//! estimate the caller states), so neither cache can grow past what its owner promised.

use std::hash::Hash;
use std::num::NonZeroUsize;

use lru::LruCache;

/// The two bounds of a [`BoundedCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLimits {
    /// The most entries held.
    pub max_entries: NonZeroUsize,
    /// The most bytes held, as the entries were charged.
    pub max_bytes: usize,
}

/// A map that forgets its least recently used entries once it holds more than [`CacheLimits::max_entries`]
/// entries or [`CacheLimits::max_bytes`] bytes. An entry charged more than the whole byte budget is not kept.
#[derive(Debug)]
pub struct BoundedCache<K: Hash + Eq, V> {
    entries: LruCache<K, Charged<V>>,
    bytes: usize,
    max_bytes: usize,
}

#[derive(Debug)]
struct Charged<V> {
    value: V,
    bytes: usize,
}

impl<K: Hash + Eq, V> BoundedCache<K, V> {
    /// An empty cache within `limits`.
    pub fn new(limits: CacheLimits) -> Self {
        Self { entries: LruCache::new(limits.max_entries), bytes: 0, max_bytes: limits.max_bytes }
    }

    /// The value under `key`, marked as the most recently used.
    pub fn get(&mut self, key: &K) -> Option<&V> {
        self.entries.get(key).map(|charged| &charged.value)
    }

    /// Keeps `value` under `key`, charged `bytes`, replacing what was there; then forgets the least recently used
    /// entries until both bounds hold again.
    pub fn insert(&mut self, key: K, value: V, bytes: usize) {
        if bytes > self.max_bytes {
            self.remove(&key);
            return;
        }
        // `push` returns the replaced entry, or the one it evicted to stay within the entry bound.
        if let Some((_, gone)) = self.entries.push(key, Charged { value, bytes }) {
            self.bytes -= gone.bytes;
        }
        self.bytes += bytes;
        while self.bytes > self.max_bytes {
            match self.entries.pop_lru() {
                Some((_, gone)) => self.bytes -= gone.bytes,
                None => break,
            }
        }
    }

    /// Forgets `key`; its value, if it was there.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let gone = self.entries.pop(key)?;
        self.bytes -= gone.bytes;
        Some(gone.value)
    }

    /// The number of entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The bytes held, as charged.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(max_entries: usize, max_bytes: usize) -> BoundedCache<u32, &'static str> {
        BoundedCache::new(CacheLimits { max_entries: NonZeroUsize::new(max_entries).unwrap(), max_bytes })
    }

    #[test]
    fn the_entry_bound_forgets_the_least_recently_used() {
        let mut cache = cache(2, 1_000);
        cache.insert(1, "one", 10);
        cache.insert(2, "two", 10);
        assert_eq!(cache.get(&1), Some(&"one"), "1 is now the most recently used");
        cache.insert(3, "three", 10);
        assert_eq!((cache.len(), cache.bytes()), (2, 20));
        assert_eq!(cache.get(&2), None, "2 was the least recently used");
        assert_eq!((cache.get(&1).copied(), cache.get(&3).copied()), (Some("one"), Some("three")));
    }

    #[test]
    fn the_byte_bound_forgets_as_many_as_it_takes() {
        let mut cache = cache(100, 100);
        for key in 0..5 {
            cache.insert(key, "small", 20);
        }
        assert_eq!((cache.len(), cache.bytes()), (5, 100));
        cache.insert(9, "large", 70);
        // 0, 1, 2 and 3 go (the oldest first) until 4 and 9 fit.
        assert_eq!((cache.len(), cache.bytes()), (2, 90));
        assert_eq!(
            (cache.get(&3).copied(), cache.get(&4).copied(), cache.get(&9).copied()),
            (None, Some("small"), Some("large"))
        );
        // Larger than the whole budget: not kept, and what it would replace is gone too.
        cache.insert(4, "huge", 101);
        assert_eq!((cache.len(), cache.bytes(), cache.get(&4).copied()), (1, 70, None));
    }

    #[test]
    fn replacing_and_removing_keep_the_byte_count() {
        let mut cache = cache(10, 1_000);
        cache.insert(1, "a", 30);
        cache.insert(1, "b", 50);
        assert_eq!((cache.len(), cache.bytes(), cache.get(&1).copied()), (1, 50, Some("b")));
        assert_eq!(cache.remove(&1), Some("b"));
        assert_eq!(cache.remove(&1), None);
        assert!(cache.is_empty());
        assert_eq!(cache.bytes(), 0);
    }
}

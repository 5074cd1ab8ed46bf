//! The embedded store's upkeep while the local runner serves: a background task that removes expired items
//! ([`MemoryStore::sweep_expired`]) every [`SWEEP_INTERVAL`], at most [`SWEEP_BATCH`] per hold of the store's
//! lock and [`MAX_BATCHES_PER_SWEEP`] batches per sweep, and warns when the store's memory bound evicted live
//! tokens or refused writes (at most once per [`WARN_EVERY_SWEEPS`] sweeps, never per request).
//!
//! The time comes from the runner's injected clock, so a test that pins it decides what has expired.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tessera::clock::Clock;
use tessera::store::memory::MemoryStore;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

/// How often the runner sweeps by default.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// The most items removed under one hold of the store's lock: about a millisecond of work, so a sweep never
/// stalls the requests waiting for the lock for longer.
pub const SWEEP_BATCH: usize = 1_000;

/// The most batches of one sweep (100,000 items a second at the default interval, above what the runner
/// can issue); what is left waits for the next sweep, or goes when an insert needs its room.
pub const MAX_BATCHES_PER_SWEEP: usize = 100;

/// The fewest sweeps between two warnings about the memory bound.
pub const WARN_EVERY_SWEEPS: u32 = 10;

/// Sweeps `store` every `every` with `clock`'s time until the store is dropped (the task holds it weakly).
pub fn spawn(store: &Arc<MemoryStore>, clock: Arc<dyn Clock>, every: Duration) -> JoinHandle<()> {
    let store: Weak<MemoryStore> = Arc::downgrade(store);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut warnings = BoundWarnings::default();
        loop {
            ticks.tick().await;
            let Some(store) = store.upgrade() else { return };
            sweep(&store, clock.as_ref()).await;
            warnings.after_sweep(&store);
        }
    })
}

/// One sweep: batches of [`SWEEP_BATCH`], yielding between them, until no expired item is left or
/// [`MAX_BATCHES_PER_SWEEP`] batches ran. Returns how many items it removed.
pub async fn sweep(store: &MemoryStore, clock: &dyn Clock) -> usize {
    let mut removed = 0;
    for _ in 0..MAX_BATCHES_PER_SWEEP {
        let swept = store.sweep_expired(clock.now(), SWEEP_BATCH);
        removed += swept;
        if swept < SWEEP_BATCH {
            break;
        }
        tokio::task::yield_now().await;
    }
    if removed > 0 {
        tracing::debug!(removed, held = store.len(), "expired items swept");
    }
    removed
}

/// What the last warning reported, and how long ago.
#[derive(Debug, Default)]
struct BoundWarnings {
    evictions: u64,
    refused_writes: u64,
    sweeps_since_warning: Option<u32>,
}

impl BoundWarnings {
    /// Warns when the bound evicted or refused since the last warning, unless that was too recent.
    fn after_sweep(&mut self, store: &MemoryStore) {
        if let Some(sweeps) = self.sweeps_since_warning.as_mut() {
            *sweeps += 1;
            if *sweeps < WARN_EVERY_SWEEPS {
                return;
            }
        }
        let (evictions, refused_writes) = (store.evictions(), store.refused_writes());
        if evictions == self.evictions && refused_writes == self.refused_writes {
            return;
        }
        tracing::warn!(
            event = "embedded_store_full",
            max_items = store.max_items(),
            evicted = evictions - self.evictions,
            evicted_total = evictions,
            refused = refused_writes - self.refused_writes,
            refused_total = refused_writes,
            "the embedded store reached --max-items: the soonest-expiring token records were evicted (those tokens \
             are now inactive) and, when only revocations were left, writes were refused with 503; raise \
             --max-items or shorten token lifetimes"
        );
        *self = Self { evictions, refused_writes, sweeps_since_warning: Some(0) };
    }
}

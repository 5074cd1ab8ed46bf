//! The local adapter of [`RevocationAnnouncer`]: each announcement is logged (its id, kind, cause and event id;
//! never a subject, which logs name by tag only) and kept in a list of the most recent ones, bounded in entries, so
//! the runner, a server that runs for days, holds at most [`RecentAnnouncements::capacity`] of them
//! (each under [`super::MAX_DETAIL_BYTES`]). The runner shows them at `GET /local/revocations`; tests read them
//! back with [`RecentAnnouncements::all`]. It never fails.

use std::collections::VecDeque;
use std::sync::Mutex;

use super::{AnnounceError, RevocationAnnouncement, RevocationAnnouncer};

/// How many announcements the runner keeps by default.
pub const DEFAULT_CAPACITY: usize = 1_000;

/// The most recent announcements, oldest first, at most `capacity` of them.
#[derive(Debug)]
pub struct RecentAnnouncements {
    capacity: usize,
    kept: Mutex<VecDeque<RevocationAnnouncement>>,
}

impl Default for RecentAnnouncements {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl RecentAnnouncements {
    /// A list keeping the last `capacity` announcements (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self { capacity, kept: Mutex::new(VecDeque::with_capacity(capacity.min(64))) }
    }

    /// How many it keeps at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The announcements kept, oldest first.
    pub fn all(&self) -> Vec<RevocationAnnouncement> {
        self.kept.lock().map(|kept| kept.iter().cloned().collect()).unwrap_or_default()
    }
}

#[async_trait::async_trait]
impl RevocationAnnouncer for RecentAnnouncements {
    async fn announce(&self, announcement: &RevocationAnnouncement) -> Result<(), AnnounceError> {
        tracing::info!(
            announcement_id = %announcement.id,
            tenant = %announcement.tenant,
            kind = ?announcement.kind,
            cause = announcement.cause.as_str(),
            event_id = announcement.event_id.as_deref().unwrap_or("(none)"),
            "revocation announced"
        );
        if let Ok(mut kept) = self.kept.lock() {
            if kept.len() == self.capacity {
                kept.pop_front();
            }
            kept.push_back(announcement.clone());
        }
        Ok(())
    }

    fn recent(&self) -> Option<Vec<RevocationAnnouncement>> {
        Some(self.all())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::announcement::{RevocationCause, Revoked};
    use crate::domain::tenant::TenantId;
    use crate::domain::time::Timestamp;

    #[tokio::test]
    async fn keeps_the_most_recent_within_its_capacity() {
        let recent = RecentAnnouncements::new(3);
        for i in 0..5 {
            let announcement = RevocationAnnouncement::new(
                &TenantId::default(),
                Revoked::Tenant,
                Timestamp::from_secs(i),
                RevocationCause::Operator,
                None,
            );
            recent.announce(&announcement).await.unwrap();
        }
        let kept: Vec<u64> = recent.all().iter().map(|a| a.revoked_at).collect();
        assert_eq!(kept, vec![2_000_000, 3_000_000, 4_000_000]);
    }
}

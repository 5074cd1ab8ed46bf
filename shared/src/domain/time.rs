//! Timestamps with microsecond resolution.
//!
//! Revocation compares issue times with watermarks; seconds are too coarse for "issued right after the
//! revocation" to stay valid, so records keep microseconds and wire formats round down to seconds.

use serde::{Deserialize, Serialize};

/// Microseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The epoch: no token is issued at or before it, so a mark there revokes nothing.
    pub const EPOCH: Self = Self(0);

    /// A timestamp `micros` microseconds after the epoch.
    pub const fn from_micros(micros: u64) -> Self {
        Self(micros)
    }

    /// A timestamp at whole second `secs`.
    pub const fn from_secs(secs: u64) -> Self {
        Self(secs.saturating_mul(1_000_000))
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Whole seconds since the epoch, rounded down (a JWT NumericDate).
    pub const fn as_secs(self) -> u64 {
        self.0 / 1_000_000
    }

    /// One microsecond later, saturating.
    pub const fn micro_after(self) -> Self {
        Self(self.0.saturating_add(1))
    }

    /// This timestamp minus `secs` seconds, saturating at the epoch.
    pub const fn minus_secs(self, secs: u64) -> Self {
        Self(self.0.saturating_sub(secs.saturating_mul(1_000_000)))
    }

    /// This timestamp plus `secs` seconds, saturating.
    pub const fn plus_secs(self, secs: u64) -> Self {
        Self(self.0.saturating_add(secs.saturating_mul(1_000_000)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_down() {
        let t = Timestamp::from_micros(1_700_000_000_999_999);
        assert_eq!(t.as_secs(), 1_700_000_000);
        assert_eq!(t.plus_secs(1).as_secs(), 1_700_000_001);
        assert_eq!(Timestamp::from_secs(5).as_micros(), 5_000_000);
    }
}

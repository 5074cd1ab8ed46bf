//! Revocation: watermarks, and the one rule that decides whether a token is still active.
//!
//! A single token is revoked by a state change on its record (opaque) or a denylist entry (JWT `jti`).
//! A whole family, subject or client is revoked by a watermark: every token of it issued at or before
//! `revoked_before` is inactive, whatever their number. Issue times are compared in microseconds, so a token
//! issued right after a revocation stays valid.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::client::ClientId;
use super::grant::FamilyId;
use super::tenant::TenantId;
use super::time::Timestamp;

/// What a watermark applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum WatermarkTarget {
    /// Every token of one grant family.
    Family(FamilyId),
    /// Every token of one subject.
    Subject(String),
    /// Every token issued to one client.
    Client(ClientId),
}

impl fmt::Display for WatermarkTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Family(id) => write!(f, "family {id}"),
            Self::Subject(_) => f.write_str("subject"),
            Self::Client(id) => write!(f, "client {id}"),
        }
    }
}

/// "Every token of `target` issued at or before `revoked_before` is revoked."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationWatermark {
    /// The tenant.
    pub tenant: TenantId,
    /// What it applies to.
    pub target: WatermarkTarget,
    /// Tokens issued at or before this instant are inactive.
    pub revoked_before: Timestamp,
    /// When the watermark may be forgotten: no token it could affect is alive after it.
    pub expires_at: Timestamp,
}

/// A JWT access token revoked one by one: its `jti` stays denied until the token would expire anyway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokedJti {
    /// The tenant.
    pub tenant: TenantId,
    /// The revoked token's `jti`.
    pub jti: String,
    /// When it was revoked.
    pub revoked_at: Timestamp,
    /// The token's `exp`: after it the entry is useless.
    pub expires_at: Timestamp,
}

/// Why a token is not active. Only ever logged: the wire answer is always `{"active": false}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inactive {
    /// Past its `exp`.
    Expired,
    /// Before its `nbf`.
    NotYetValid,
    /// Revoked individually.
    Revoked,
    /// Issued at or before a watermark that applies to it.
    Watermarked,
}

/// The facts about one token that the active rule needs.
#[derive(Debug, Clone, Copy)]
pub struct TokenValidity<'a> {
    /// When it was issued.
    pub issued_at: Timestamp,
    /// When it expires.
    pub expires_at: Timestamp,
    /// When it becomes valid, if later than issue.
    pub not_before: Option<Timestamp>,
    /// Whether its record or denylist entry says it was revoked.
    pub individually_revoked: bool,
    /// Every watermark that applies to it.
    pub watermarks: &'a [Timestamp],
}

/// The active rule, in one place: not expired (RFC 7519 `exp`: not accepted on or after it), not before
/// `nbf`, not individually revoked, and issued strictly after every applicable watermark.
pub fn check_active(token: TokenValidity<'_>, now: Timestamp) -> Result<(), Inactive> {
    if now >= token.expires_at {
        return Err(Inactive::Expired);
    }
    if token.not_before.is_some_and(|nbf| now < nbf) {
        return Err(Inactive::NotYetValid);
    }
    if token.individually_revoked {
        return Err(Inactive::Revoked);
    }
    if token.watermarks.iter().any(|&mark| token.issued_at <= mark) {
        return Err(Inactive::Watermarked);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validity(watermarks: &[Timestamp]) -> TokenValidity<'_> {
        TokenValidity {
            issued_at: Timestamp::from_micros(1_000_000_500),
            expires_at: Timestamp::from_secs(2_000),
            not_before: None,
            individually_revoked: false,
            watermarks,
        }
    }

    #[test]
    fn expiry_is_exclusive() {
        let now = Timestamp::from_secs(1_999);
        assert_eq!(check_active(validity(&[]), now), Ok(()));
        assert_eq!(check_active(validity(&[]), Timestamp::from_secs(2_000)), Err(Inactive::Expired));
    }

    #[test]
    fn watermark_boundary_is_microsecond_exact() {
        let now = Timestamp::from_secs(1_500);
        // A watermark in the same second but one microsecond before issue leaves the token active.
        assert_eq!(check_active(validity(&[Timestamp::from_micros(1_000_000_499)]), now), Ok(()));
        // At or after issue, it revokes it.
        for mark in [1_000_000_500, 1_000_000_501] {
            let marks = [Timestamp::from_micros(mark)];
            assert_eq!(check_active(validity(&marks), now), Err(Inactive::Watermarked));
        }
    }

    #[test]
    fn individually_revoked_and_not_yet_valid() {
        let now = Timestamp::from_secs(1_500);
        let mut v = validity(&[]);
        v.individually_revoked = true;
        assert_eq!(check_active(v, now), Err(Inactive::Revoked));
        let mut v = validity(&[]);
        v.not_before = Some(Timestamp::from_secs(1_600));
        assert_eq!(check_active(v, now), Err(Inactive::NotYetValid));
    }
}

//! Revocation: watermarks, and the one rule that decides whether a token is still active.
//!
//! A single token is revoked by a state change on its record (opaque) or a denylist entry (JWT `jti`).
//! A whole family, subject, client or tenant is revoked by a watermark: every token of it issued at or before
//! `revoked_before` is inactive, whatever their number. Issue times are compared in microseconds, so a token
//! issued right after a revocation stays valid.
//!
//! Every token is subject to four watermarks: its family's, its subject's, its client's and its tenant's.
//! Their keys come from the token alone (a JWT's claims; the ids an opaque token embeds), so one read fetches
//! them with the token's own state. Subjects and clients are named by an [`IdTag`], a hash, so no key, item or
//! opaque token carries the subject itself.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::client::ClientId;
use super::id::{FamilyId, IdTag};
use super::tenant::TenantId;
use super::time::Timestamp;

/// The longest any token Tessera honours can live: its refresh tokens (the longest-lived), access tokens, and
/// trusted issuers' JWTs (refused beyond it). A watermark kept this long outlives every token it revokes.
pub const MAX_TOKEN_LIFETIME_SECS: u32 = 90 * 86_400;

/// Kept on top of [`MAX_TOKEN_LIFETIME_SECS`] by every watermark: covers clock skew leeway on external tokens
/// and a rotation that commits a moment after a family's final watermark.
const WATERMARK_MARGIN_SECS: u64 = 3_600;

/// What a watermark applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum WatermarkTarget {
    /// Every token of one grant family.
    Family(FamilyId),
    /// Every token of one subject (by tag).
    Subject(IdTag),
    /// Every token issued to one client (by tag).
    Client(IdTag),
    /// Every token of the tenant.
    Tenant,
}

impl WatermarkTarget {
    /// The watermark of the subject `subject`.
    pub fn subject(subject: &str) -> Self {
        Self::Subject(IdTag::of(subject))
    }

    /// The watermark of the client `client_id`.
    pub fn client(client_id: &ClientId) -> Self {
        Self::Client(IdTag::of(client_id.as_str()))
    }

    /// The four watermarks that apply to a token of `family`, `subject` and `client` (tags).
    pub fn applicable(family: FamilyId, subject: IdTag, client: IdTag) -> [Self; 4] {
        [Self::Family(family), Self::Subject(subject), Self::Client(client), Self::Tenant]
    }
}

impl fmt::Display for WatermarkTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Family(id) => write!(f, "family {id}"),
            Self::Subject(tag) => write!(f, "subject {tag}"),
            Self::Client(tag) => write!(f, "client {tag}"),
            Self::Tenant => f.write_str("tenant"),
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

impl RevocationWatermark {
    /// Revokes every token of `target` issued at or before `now`. It is kept for
    /// [`MAX_TOKEN_LIFETIME_SECS`], so no token it revokes outlives it.
    pub fn at(tenant: &TenantId, target: WatermarkTarget, now: Timestamp) -> Self {
        Self {
            tenant: tenant.clone(),
            target,
            revoked_before: now,
            expires_at: now.plus_secs(u64::from(MAX_TOKEN_LIFETIME_SECS) + WATERMARK_MARGIN_SECS),
        }
    }

    /// Revokes a grant family for good. The mark is set as far ahead as any token of the family can live, not
    /// at `now`: a rotation that commits concurrently with a reuse (or a revocation) stamps its tokens a little
    /// after `now`, and those must die too. No token of the family is issued after (refreshes of a revoked
    /// family are refused), so a final mark loses nothing.
    pub fn final_for_family(tenant: &TenantId, family: FamilyId, now: Timestamp) -> Self {
        let until = now.plus_secs(u64::from(MAX_TOKEN_LIFETIME_SECS));
        Self {
            tenant: tenant.clone(),
            target: WatermarkTarget::Family(family),
            revoked_before: until,
            expires_at: until.plus_secs(WATERMARK_MARGIN_SECS),
        }
    }
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
    fn tags_are_stable_and_round_trip() {
        let tag = IdTag::of("auth0|alice");
        assert_eq!(tag, IdTag::of("auth0|alice"));
        assert_ne!(tag, IdTag::of("auth0|alice "));
        let text = tag.to_string();
        assert_eq!(text.len(), 22);
        assert_eq!(IdTag::try_from(text).unwrap(), tag);
        assert!(IdTag::try_from("short".to_owned()).is_err());
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

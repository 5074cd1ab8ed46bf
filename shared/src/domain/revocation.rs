//! Revocation: watermarks, and the one rule that decides whether a token is still active.
//!
//! A single token is revoked by a state change on its record (opaque) or a denylist entry (JWT `jti`).
//! A whole family, subject, client or tenant is revoked by a watermark: every token of it issued at or before
//! `revoked_before` is inactive, whatever their number. Issue times are compared in microseconds, so a token
//! issued right after a revocation stays valid.
//!
//! A refresh (RFC 6749 §6) retires the family's earlier access tokens when the client asks for it (WSO2's
//! INACTIVE, "refreshed using refresh_token grant"): the rotation writes a [`RefreshedFamily`] mark into the
//! family's watermark item, beside its `revoked_before`. That mark applies to access tokens only. A spent refresh
//! token stays under `revoked_before` alone, so replaying it is still found to be reuse (RFC 9700 §4.14.2), which
//! revokes the whole family, rather than merely revoked.
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
    /// Tokens issued at or before this instant are inactive ([`Timestamp::EPOCH`] on a family item that only a
    /// refresh wrote: it revokes nothing).
    pub revoked_before: Timestamp,
    /// On a family's item only: its access tokens issued at or before this instant were retired by a refresh
    /// ([`RefreshedFamily`]). Refresh tokens are not under it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_revoked_before: Option<Timestamp>,
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
            access_revoked_before: None,
            expires_at: now.plus_secs(u64::from(MAX_TOKEN_LIFETIME_SECS) + WATERMARK_MARGIN_SECS),
        }
    }

    /// When the revocation that set the mark `revoked_before` on `target` was made: the mark itself, or for a
    /// family, whose final mark is set ahead ([`RevocationWatermark::final_for_family`]), the instant it was set at.
    pub fn revoked_at(target: &WatermarkTarget, revoked_before: Timestamp) -> Timestamp {
        match target {
            WatermarkTarget::Family(_) => revoked_before.minus_secs(u64::from(MAX_TOKEN_LIFETIME_SECS)),
            _ => revoked_before,
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
            access_revoked_before: None,
            expires_at: until.plus_secs(WATERMARK_MARGIN_SECS),
        }
    }
}

/// What a refresh writes into its family's watermark item, in the rotation's own transaction, for a client that
/// retires access tokens on refresh: every access token of the family issued at or before the rotation instant is
/// inactive, even one issued in the same microsecond. The tokens the rotation issues are stamped one microsecond
/// later ([`RefreshedFamily::tokens_issued_at`]), so they outlive it. The mark replaces the previous one (rotations of a family are ordered: each spends the refresh
/// token the one before issued) and leaves `revoked_before` as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshedFamily {
    /// The tenant.
    pub tenant: TenantId,
    /// The family refreshed.
    pub family: FamilyId,
    /// Its access tokens issued at or before this instant are inactive.
    pub access_revoked_before: Timestamp,
    /// When the item may be forgotten: as for any watermark, after the longest-lived token it could affect.
    pub expires_at: Timestamp,
}

impl RefreshedFamily {
    /// The mark of a rotation at `now`.
    pub fn at_rotation(tenant: &TenantId, family: FamilyId, now: Timestamp) -> Self {
        Self {
            tenant: tenant.clone(),
            family,
            access_revoked_before: now,
            expires_at: now.plus_secs(u64::from(MAX_TOKEN_LIFETIME_SECS) + WATERMARK_MARGIN_SECS),
        }
    }

    /// When the tokens of a rotation at `now` are issued: one microsecond after it, so they outlive its mark.
    pub const fn tokens_issued_at(now: Timestamp) -> Timestamp {
        now.micro_after()
    }

    /// The family's watermark target.
    pub fn target(&self) -> WatermarkTarget {
        WatermarkTarget::Family(self.family)
    }
}

/// Which watermark a mark is: a watermark's target kind, or a family's refresh mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkKind {
    /// The grant family's watermark (refresh-token reuse, revocation of its refresh token, `tessera revoke`).
    Family,
    /// The family's refresh mark: a later refresh retired this access token.
    FamilyRefreshed,
    /// The subject's watermark.
    Subject,
    /// The client's watermark.
    Client,
    /// The tenant's watermark.
    Tenant,
}

impl MarkKind {
    /// The kind of `target`'s watermark.
    pub fn of(target: &WatermarkTarget) -> Self {
        match target {
            WatermarkTarget::Family(_) => Self::Family,
            WatermarkTarget::Subject(_) => Self::Subject,
            WatermarkTarget::Client(_) => Self::Client,
            WatermarkTarget::Tenant => Self::Tenant,
        }
    }

    /// Its name, as `tessera tokens inspect` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Family => "family",
            Self::FamilyRefreshed => "family_refreshed",
            Self::Subject => "subject",
            Self::Client => "client",
            Self::Tenant => "tenant",
        }
    }
}

/// One mark that applies to a token: which, and the instant at or before which it revokes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppliedMark {
    /// Which watermark.
    pub kind: MarkKind,
    /// Tokens issued at or before it are inactive.
    pub revoked_before: Timestamp,
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
    /// Issued at or before a watermark that applies to it: the latest such mark.
    Watermarked(AppliedMark),
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
    /// Every mark that applies to it.
    pub watermarks: &'a [AppliedMark],
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
    let hit = token.watermarks.iter().filter(|mark| token.issued_at <= mark.revoked_before);
    if let Some(&latest) = hit.max_by_key(|mark| mark.revoked_before) {
        return Err(Inactive::Watermarked(latest));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marks_revocation_instant_is_found_again_from_the_mark() {
        let tenant = TenantId::default();
        let now = Timestamp::from_micros(1_800_000_000_123_456);
        let family = RevocationWatermark::final_for_family(&tenant, FamilyId::from_bytes([1; 16]), now);
        assert_eq!(RevocationWatermark::revoked_at(&family.target, family.revoked_before), now);
        let subject = RevocationWatermark::at(&tenant, WatermarkTarget::subject("alice"), now);
        assert_eq!(RevocationWatermark::revoked_at(&subject.target, subject.revoked_before), now);
    }

    fn marks(at: &[u64]) -> Vec<AppliedMark> {
        at.iter().map(|&m| AppliedMark { kind: MarkKind::Subject, revoked_before: Timestamp::from_micros(m) }).collect()
    }

    fn validity(watermarks: &[AppliedMark]) -> TokenValidity<'_> {
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
        assert_eq!(check_active(validity(&marks(&[1_000_000_499])), now), Ok(()));
        // At or after issue, it revokes it.
        for mark in [1_000_000_500, 1_000_000_501] {
            let marks = marks(&[mark]);
            assert_eq!(check_active(validity(&marks), now), Err(Inactive::Watermarked(marks[0])));
        }
        // Of several that apply, the latest is the one reported.
        let several = [
            AppliedMark { kind: MarkKind::Tenant, revoked_before: Timestamp::from_micros(1_000_000_600) },
            AppliedMark { kind: MarkKind::FamilyRefreshed, revoked_before: Timestamp::from_micros(1_000_000_700) },
            AppliedMark { kind: MarkKind::Client, revoked_before: Timestamp::from_micros(1_000_000_100) },
        ];
        assert_eq!(check_active(validity(&several), now), Err(Inactive::Watermarked(several[1])));
    }

    #[test]
    fn a_refresh_mark_is_the_rotation_instant_and_its_tokens_outlive_it() {
        let now = Timestamp::from_micros(1_700_000_000_000_500);
        let mark = RefreshedFamily::at_rotation(&TenantId::default(), FamilyId::from_bytes([3; 16]), now);
        assert_eq!(mark.access_revoked_before, now);
        assert_eq!(RefreshedFamily::tokens_issued_at(now), Timestamp::from_micros(1_700_000_000_000_501));
        assert_eq!(mark.target(), WatermarkTarget::Family(FamilyId::from_bytes([3; 16])));
        // The rotation's tokens outlive it; one issued in the same microsecond, before the rotation, does not.
        let applied = [AppliedMark { kind: MarkKind::FamilyRefreshed, revoked_before: mark.access_revoked_before }];
        let token = |issued_at| TokenValidity {
            issued_at,
            expires_at: now.plus_secs(60),
            not_before: None,
            individually_revoked: false,
            watermarks: &applied,
        };
        assert_eq!(check_active(token(RefreshedFamily::tokens_issued_at(now)), now), Ok(()));
        assert_eq!(check_active(token(now), now), Err(Inactive::Watermarked(applied[0])));
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

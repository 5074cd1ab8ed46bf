//! A subject's user details from its identity provider's UserInfo endpoint (OpenID Connect Core §5.3), as
//! OneWelcome's introspection shows them (`user_details`, "cached after the first request"): fetched with the
//! user's access token as the bearer (an exchange's subject token, or a trusted issuer's `at+jwt` introspected),
//! mapped by the trusted issuer's `claims_mapping`, and kept in one item per subject ([`UserDetailsRecord`]) that
//! introspection reads in its one round trip.
//!
//! The rules here are pure: when a fetch is due ([`fetch_decision`]), what a fetch attempt records before it
//! goes out ([`UserDetailsRecord::attempt`], the per-subject rate limit), and how large the mapped details may be
//! ([`bounded_details`]). The HTTP side is `crate::userinfo`.

use std::collections::BTreeMap;

use super::id::IdTag;
use super::tenant::TenantId;
use super::time::Timestamp;

/// The most mapped claims kept for one subject.
pub const MAX_USER_DETAILS_CLAIMS: usize = 32;
/// The most bytes the mapped claims may take as JSON: the item then stays under 4 KB, one read unit
/// (strongly consistent) per introspection that reads it.
pub const MAX_USER_DETAILS_BYTES: usize = 2_048;
/// The least time between two UserInfo requests for one subject, whatever asked for them (a missing item,
/// expired details, `refresh_user_details=true`), and whether the last one succeeded: an outage of the endpoint,
/// or a client asking to refresh on every exchange, costs the endpoint at most one request per subject per this
/// many seconds.
pub const USER_DETAILS_MIN_REFETCH_SECS: u64 = 60;
/// How long fetched details are kept (and shown) by default: a change at the identity provider (a new email)
/// shows within this long of the next exchange; details older than it are shown nowhere.
pub const DEFAULT_USER_DETAILS_TTL_SECS: u32 = 86_400;
/// The longest `user_details_ttl_secs` accepted: the longest token lifetime Tessera honours.
pub const MAX_USER_DETAILS_TTL_SECS: u32 = super::revocation::MAX_TOKEN_LIFETIME_SECS;
/// The shortest `user_details_ttl_secs` accepted: the rate limit, so cached details never expire while a new fetch
/// is refused.
pub const MIN_USER_DETAILS_TTL_SECS: u32 = USER_DETAILS_MIN_REFETCH_SECS as u32;

/// One subject's cached user details: the item `<tenant>#ud#<subject tag>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDetailsRecord {
    /// The tenant.
    pub tenant: TenantId,
    /// The subject's tag (as its subject watermark names it: the item never holds the subject itself in its key).
    pub subject: IdTag,
    /// The trusted issuer whose UserInfo endpoint answered.
    pub issuer: String,
    /// The mapped claims: `user_details` attribute → value. Empty until a fetch succeeded.
    pub details: BTreeMap<String, serde_json::Value>,
    /// When `details` were fetched; `None` when no fetch has succeeded yet.
    pub fetched_at: Option<Timestamp>,
    /// When the last fetch was attempted: the per-subject rate limit, and the condition every write of the item is
    /// made on (the compare in compare-and-set).
    pub attempted_at: Timestamp,
    /// When the item may be deleted (the table's TTL attribute): `fetched_at` plus the issuer's TTL, and never
    /// before the rate limit of the last attempt has passed.
    pub expires_at: Timestamp,
}

/// What a request (a token exchange, or an introspection holding the user's access token) does about the subject's
/// user details.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchDecision {
    /// Fetch them: first claim the attempt with a write conditional on the item's `attempted_at` being `expected`
    /// (`None`: no live item).
    Fetch {
        /// The `attempted_at` of the item the decision was made on.
        expected: Option<Timestamp>,
    },
    /// The cached details are live and no refresh was asked for.
    Cached,
    /// A fetch is due, but one was attempted for this subject less than [`USER_DETAILS_MIN_REFETCH_SECS`] ago.
    RateLimited,
}

/// Whether a request at `now` fetches the subject's details, given its live item (`None`: absent or expired)
/// and whether the caller asked for `refresh_user_details`. Details are fetched when there are none yet, or when
/// asked to; never twice within [`USER_DETAILS_MIN_REFETCH_SECS`] for one subject.
pub fn fetch_decision(cached: Option<&UserDetailsRecord>, refresh: bool, now: Timestamp) -> FetchDecision {
    match cached {
        None => FetchDecision::Fetch { expected: None },
        Some(record) if record.fetched_at.is_some() && !refresh => FetchDecision::Cached,
        Some(record) if now < record.attempted_at.plus_secs(USER_DETAILS_MIN_REFETCH_SECS) => {
            FetchDecision::RateLimited
        }
        Some(record) => FetchDecision::Fetch { expected: Some(record.attempted_at) },
    }
}

impl UserDetailsRecord {
    /// The item recording an attempt at `now`: what `cached` held (nothing when absent), stamped with the
    /// attempt, kept at least until the rate limit has passed.
    pub fn attempt(
        cached: Option<&UserDetailsRecord>,
        tenant: &TenantId,
        subject: IdTag,
        issuer: &str,
        now: Timestamp,
    ) -> Self {
        let rate_limited_until = now.plus_secs(USER_DETAILS_MIN_REFETCH_SECS);
        match cached {
            Some(record) => {
                Self { attempted_at: now, expires_at: record.expires_at.max(rate_limited_until), ..record.clone() }
            }
            None => Self {
                tenant: tenant.clone(),
                subject,
                issuer: issuer.to_owned(),
                details: BTreeMap::new(),
                fetched_at: None,
                attempted_at: now,
                expires_at: rate_limited_until,
            },
        }
    }

    /// This attempt's item once its fetch returned `details` at `now`: kept `ttl_secs`.
    pub fn fetched(self, details: BTreeMap<String, serde_json::Value>, now: Timestamp, ttl_secs: u32) -> Self {
        Self { details, fetched_at: Some(now), expires_at: now.plus_secs(u64::from(ttl_secs)), ..self }
    }
}

/// Why fetched details are not kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DetailsRefusal {
    /// More than [`MAX_USER_DETAILS_CLAIMS`] mapped claims.
    #[error("more than {MAX_USER_DETAILS_CLAIMS} mapped claims")]
    TooMany,
    /// Over [`MAX_USER_DETAILS_BYTES`] as JSON.
    #[error("mapped claims over {MAX_USER_DETAILS_BYTES} bytes")]
    TooLarge,
}

/// `details` if they are within the bounds: at most [`MAX_USER_DETAILS_CLAIMS`] claims and
/// [`MAX_USER_DETAILS_BYTES`] as JSON. Over them, nothing is kept (never a truncated, partial set).
pub fn bounded_details(
    details: BTreeMap<String, serde_json::Value>,
) -> Result<BTreeMap<String, serde_json::Value>, DetailsRefusal> {
    if details.len() > MAX_USER_DETAILS_CLAIMS {
        return Err(DetailsRefusal::TooMany);
    }
    let bytes = serde_json::to_vec(&details).map(|json| json.len()).unwrap_or(usize::MAX);
    if bytes > MAX_USER_DETAILS_BYTES {
        return Err(DetailsRefusal::TooLarge);
    }
    Ok(details)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const T0: Timestamp = Timestamp::from_secs(1_800_000_000);

    fn fetched_at(at: Timestamp) -> UserDetailsRecord {
        let attempt = UserDetailsRecord::attempt(None, &TenantId::default(), IdTag::of("alice"), "https://idp/", at);
        attempt.fetched(BTreeMap::from([("email".into(), json!("alice@example.com"))]), at, 3_600)
    }

    #[test]
    fn details_are_fetched_once_then_cached_and_refreshed_at_most_once_a_minute() {
        assert_eq!(fetch_decision(None, false, T0), FetchDecision::Fetch { expected: None });
        let cached = fetched_at(T0);
        assert_eq!(cached.expires_at, T0.plus_secs(3_600));
        assert_eq!(fetch_decision(Some(&cached), false, T0.plus_secs(1)), FetchDecision::Cached);
        assert_eq!(fetch_decision(Some(&cached), true, T0.plus_secs(59)), FetchDecision::RateLimited);
        let due = T0.plus_secs(USER_DETAILS_MIN_REFETCH_SECS);
        assert_eq!(fetch_decision(Some(&cached), true, due), FetchDecision::Fetch { expected: Some(T0) });
    }

    #[test]
    fn a_failed_attempt_keeps_the_details_and_still_counts_against_the_rate_limit() {
        let cached = fetched_at(T0);
        let later = T0.plus_secs(600);
        let attempt = UserDetailsRecord::attempt(Some(&cached), &TenantId::default(), IdTag::of("alice"), "x", later);
        assert_eq!((attempt.details.clone(), attempt.fetched_at), (cached.details.clone(), Some(T0)));
        assert_eq!(attempt.expires_at, cached.expires_at, "an attempt never shortens or extends the details' life");
        assert_eq!(fetch_decision(Some(&attempt), true, later.plus_secs(59)), FetchDecision::RateLimited);
        // With no details yet, the attempt alone is what rate-limits the next exchanges.
        let first = UserDetailsRecord::attempt(None, &TenantId::default(), IdTag::of("bob"), "x", T0);
        assert_eq!(first.expires_at, T0.plus_secs(USER_DETAILS_MIN_REFETCH_SECS));
        assert_eq!(fetch_decision(Some(&first), false, T0.plus_secs(1)), FetchDecision::RateLimited);
        let due = T0.plus_secs(USER_DETAILS_MIN_REFETCH_SECS);
        assert_eq!(fetch_decision(Some(&first), false, due), FetchDecision::Fetch { expected: Some(T0) });
    }

    #[test]
    fn details_over_the_bounds_are_refused_whole() {
        let many: BTreeMap<_, _> = (0..=MAX_USER_DETAILS_CLAIMS).map(|i| (format!("c{i}"), json!(i))).collect();
        assert_eq!(bounded_details(many), Err(DetailsRefusal::TooMany));
        let large = BTreeMap::from([("bio".to_owned(), json!("x".repeat(MAX_USER_DETAILS_BYTES)))]);
        assert_eq!(bounded_details(large), Err(DetailsRefusal::TooLarge));
        let fine = BTreeMap::from([("email".to_owned(), json!("a@example.com"))]);
        assert_eq!(bounded_details(fine.clone()), Ok(fine));
    }
}

//! Bringing a subject's cached user details up to date from its identity provider's UserInfo endpoint (OpenID
//! Connect Core §5.3), the one way token exchange and introspection both do it: whenever Tessera holds a
//! credential the endpoint accepts, which is a trusted issuer's access token presented to it (the subject token of
//! an exchange typed `access_token`, or a trusted issuer's JWT introspected whose `typ` is `at+jwt`).
//!
//! The decision is the domain's ([`fetch_decision`]: none cached, or `refresh_user_details=true`; never twice
//! within the per-subject rate limit); the fetch is first claimed with a write conditional on the `attempted_at`
//! read, so of concurrent requests for one subject one fetches, and its result is written on the same condition.
//! Whatever the endpoint or the store does, the request it serves goes on: a failure is logged and the cached
//! details are kept. The bearer token is never logged and never stored.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::domain::id::IdTag;
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;
use crate::domain::user_details::{FetchDecision, UserDetailsRecord, fetch_decision};
use crate::jwt::external::{ExternalIdentity, TrustedIssuer};
use crate::store::{StoreKey, TokenStore};
use crate::userinfo::UserinfoEndpoint;
use crate::wire::OAuthError;
use crate::wire::http::OAuthRequest;

/// OneWelcome's parameter, on a token-exchange or an introspection request: `true` fetches the subject's details
/// again (within the rate limit) even when cached ones are live; `false` or absent does not. Any other value is
/// `invalid_request` (RFC 6749 §5.2, RFC 7662 §2.3: a malformed request), at both endpoints alike, before any I/O.
pub fn refresh_requested(request: &OAuthRequest) -> Result<bool, OAuthError> {
    match request.form.get("refresh_user_details") {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(OAuthError::invalid_request("refresh_user_details must be true or false")),
    }
}

/// A trusted issuer's token's way to its subject's user details: the issuer's UserInfo endpoint, the mapping, and
/// the subject's item.
#[derive(Clone)]
pub struct UserinfoLink {
    endpoint: Arc<UserinfoEndpoint>,
    claims_mapping: BTreeMap<String, String>,
    tenant: TenantId,
    /// The subject's user details item, read in the request's one read.
    pub key: StoreKey,
}

impl UserinfoLink {
    /// The link for `identity`'s subject in `tenant`, when `issuer` has a UserInfo endpoint. Whether the token is
    /// a credential the endpoint accepts is the caller's to say: an exchange by `subject_token_type`, introspection
    /// by the token's `typ` ([`ExternalIdentity::typed_access_token`]).
    pub fn of(issuer: &TrustedIssuer, tenant: &TenantId, identity: &ExternalIdentity) -> Option<Self> {
        issuer.userinfo.as_ref().map(|endpoint| Self {
            endpoint: endpoint.clone(),
            claims_mapping: issuer.claims_mapping.clone(),
            tenant: tenant.clone(),
            key: StoreKey::user_details(tenant, &IdTag::of(&identity.subject)),
        })
    }
}

impl std::fmt::Debug for UserinfoLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserinfoLink").field("key", &self.key).finish_non_exhaustive()
    }
}

/// What a request did about its subject's user details. Logged; never changes the request's answer, except that
/// introspection shows details it has just fetched.
#[derive(Clone, PartialEq, Eq)]
pub enum UserDetailsOutcome {
    /// Nothing to do: the issuer has no UserInfo endpoint, or the token is not a credential it accepts.
    NotApplicable,
    /// The cached details are live and no refresh was asked for.
    Cached,
    /// Fetched and cached: the details now in the subject's item.
    Fetched(BTreeMap<String, Value>),
    /// A fetch was due, but one was attempted for this subject within the rate limit.
    RateLimited,
    /// Another request for this subject claimed the attempt first (or wrote after it).
    LostRace,
    /// The fetch failed; the cached details (if any) are kept.
    Failed(String),
}

impl UserDetailsOutcome {
    /// Its name, for the log: never the details themselves (they are the user's personal data).
    fn label(&self) -> &'static str {
        match self {
            Self::NotApplicable => "not_applicable",
            Self::Cached => "cached",
            Self::Fetched(_) => "fetched",
            Self::RateLimited => "rate_limited",
            Self::LostRace => "lost_race",
            Self::Failed(_) => "failed",
        }
    }

    /// The details just fetched, when this request fetched them.
    pub fn fresh(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Self::Fetched(details) => Some(details),
            _ => None,
        }
    }
}

impl std::fmt::Debug for UserDetailsOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Failed(reason) => f.debug_tuple("Failed").field(reason).finish(),
            other => f.write_str(other.label()),
        }
    }
}

/// Brings the details of `identity`'s subject up to date with `bearer` (a token of that subject the endpoint
/// accepts), given `cached` (the subject's live item, as the request's one read found it) and whether the caller
/// asked to `refresh`: fetched when none are cached, or when asked to, never more often than the per-subject rate
/// limit. Writes through `store`. Never fails: a store or endpoint failure is logged and keeps what was cached.
pub async fn update_user_details(
    store: &dyn TokenStore,
    link: &UserinfoLink,
    identity: &ExternalIdentity,
    bearer: &str,
    cached: Option<&UserDetailsRecord>,
    refresh: bool,
    now: Timestamp,
) -> UserDetailsOutcome {
    let outcome = match fetch_decision(cached, refresh, now) {
        FetchDecision::Cached => UserDetailsOutcome::Cached,
        FetchDecision::RateLimited => UserDetailsOutcome::RateLimited,
        FetchDecision::Fetch { expected } => {
            let subject = IdTag::of(&identity.subject);
            let attempt = UserDetailsRecord::attempt(cached, &link.tenant, subject, &identity.issuer, now);
            match store.put_user_details(attempt.clone(), expected).await {
                Ok(true) => fetch_into(store, link, identity, bearer, attempt, now).await,
                Ok(false) => UserDetailsOutcome::LostRace,
                Err(err) => UserDetailsOutcome::Failed(format!("store: {err}")),
            }
        }
    };
    match &outcome {
        UserDetailsOutcome::Failed(reason) => {
            tracing::warn!(issuer = %identity.issuer, %reason, "user details not fetched; cached ones kept");
        }
        UserDetailsOutcome::Cached => tracing::debug!(issuer = %identity.issuer, "user details cached"),
        other => tracing::info!(issuer = %identity.issuer, outcome = other.label(), "user details"),
    }
    outcome
}

/// The fetch of a claimed attempt, and the write of what it found.
async fn fetch_into(
    store: &dyn TokenStore,
    link: &UserinfoLink,
    identity: &ExternalIdentity,
    bearer: &str,
    attempt: UserDetailsRecord,
    now: Timestamp,
) -> UserDetailsOutcome {
    let Some(sub) = identity.sub.as_deref() else {
        return UserDetailsOutcome::Failed("the token has no sub to match".into());
    };
    let details = match link.endpoint.fetch(bearer, sub, &link.claims_mapping, now).await {
        Ok(details) => details,
        Err(failure) => return UserDetailsOutcome::Failed(failure.to_string()),
    };
    let attempted_at = attempt.attempted_at;
    let record = attempt.fetched(details.clone(), now, link.endpoint.ttl_secs());
    match store.put_user_details(record, Some(attempted_at)).await {
        Ok(true) => UserDetailsOutcome::Fetched(details),
        Ok(false) => UserDetailsOutcome::LostRace,
        Err(err) => UserDetailsOutcome::Failed(format!("store: {err}")),
    }
}

//! Token introspection (RFC 7662). The caller authenticates as a client allowed to introspect; the token
//! is classified without I/O, then one store round trip fetches the caller's record and every item that
//! decides the token's state. Anything not active answers exactly `{"active": false}`; a store failure is
//! an error (503), never `active: true`. The caller's introspection profile decides which attributes beyond
//! RFC 7662's core members it gets ([`crate::domain::profile`]); with [`introspect_signed`] the answer is an
//! RFC 9701 JWT.
//!
//! One exception to the one round trip, off the common path: a trusted issuer's access token (`typ` `at+jwt`, or
//! any of its JWTs when its entry says `untyped_access_tokens`) introspected by a caller shown `user_details`, when
//! its subject has no cached details yet or the caller sends `refresh_user_details=true`, is presented to the
//! issuer's UserInfo endpoint, at most once per subject per
//! [`crate::domain::user_details::USER_DETAILS_MIN_REFETCH_SECS`] ([`super::user_details`]). That adds two
//! conditional writes and one HTTP request, bounded by [`crate::userinfo::USERINFO_FETCH_BUDGET`]; whatever it
//! meets, the answer is the same but for the details shown.

use std::collections::BTreeMap;

use http::StatusCode;
use serde_json::Value;
use tracing::instrument;

use super::authenticate::ClientEndpoint;
use super::presented::{Active, ExternalToken, PresentedRead, TokenCheck};
use super::user_details::{UserinfoLink, refresh_requested, update_user_details};
use crate::TokenService;
use crate::domain::profile::ProfileAttribute;
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;
use crate::metrics::{self, Metric};
use crate::store::{Record, StoreError};
use crate::tenancy::Tenant;
use crate::wire::http::OAuthRequest;
use crate::wire::response::IntrospectionResponse;
use crate::wire::{ErrorCode, OAuthError};

/// The `typ` of a signed introspection response (RFC 9701 §5).
pub const INTROSPECTION_JWT_TYP: &str = "token-introspection+jwt";

/// The media type a resource server asks for, and gets, a signed response with (RFC 9701 §4).
pub const INTROSPECTION_JWT_MEDIA_TYPE: &str = "application/token-introspection+jwt";

/// Answers an introspection request (RFC 7662 §2). `token_type_hint` is accepted and ignored: the token's
/// own structure says what it is, so a wrong hint still finds it.
pub async fn introspect(service: &TokenService, request: &OAuthRequest) -> Result<IntrospectionResponse, OAuthError> {
    Ok(evaluate(service, request).await?.response)
}

/// The claims of a signed introspection response (RFC 9701 §5).
#[derive(serde::Serialize)]
struct IntrospectionClaims<'a> {
    iss: &'a str,
    /// The resource server that asked.
    aud: &'a str,
    iat: u64,
    token_introspection: &'a IntrospectionResponse,
}

/// Answers an introspection request with a JWT signed by the tenant's signing key (RFC 9701): `typ`
/// `token-introspection+jwt`, `iss` the tenant's issuer, `aud` the calling resource server, `iat`, and the
/// RFC 7662 members under `token_introspection` (`{"active": false}` for anything not active).
pub async fn introspect_signed(service: &TokenService, request: &OAuthRequest) -> Result<String, OAuthError> {
    let evaluated = evaluate(service, request).await?;
    let claims = IntrospectionClaims {
        iss: &evaluated.tenant.issuer,
        aud: evaluated.caller,
        iat: evaluated.now.as_secs(),
        token_introspection: &evaluated.response,
    };
    Ok(evaluated.tenant.keys().signing_key().sign_jwt(INTROSPECTION_JWT_TYP, &claims)?)
}

/// An answer, with what a signed response needs besides it: the tenant (issuer, key), the caller, and the
/// instant the token was judged at (the signed answer's `iat`).
struct Evaluated<'a> {
    response: IntrospectionResponse,
    tenant: Tenant<'a>,
    caller: &'a str,
    now: Timestamp,
}

#[instrument(skip_all, fields(tenant = %request.tenant, client_id))]
async fn evaluate<'a>(service: &'a TokenService, request: &'a OAuthRequest) -> Result<Evaluated<'a>, OAuthError> {
    // Checked before any I/O, as the exchange checks it.
    let refresh_user_details = refresh_requested(request)?;
    // A decision: read through the plan, items at most B old.
    let read = PresentedRead::read(service, service.read_plan.as_ref(), request, ClientEndpoint::Introspection).await?;
    let caller = read.caller().await?;
    if !caller.may_introspect {
        tracing::info!("client may not introspect");
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "this client may not introspect tokens")
            .with_status(StatusCode::FORBIDDEN));
    }
    let now = read.now;
    let active = match read.judge() {
        Ok(active) => active,
        Err(reason) => {
            tracing::debug!(%reason, "token inactive");
            metrics::count(Metric::IntrospectionsInactive);
            let response = IntrospectionResponse::inactive();
            let caller = read.caller_id();
            return Ok(Evaluated { response, tenant: read.tenant, caller, now });
        }
    };
    let tenant = &read.tenant;
    let check = &read.check;
    // Permissions are derived, and user details fetched, only for callers whose profile shows them (the hot path
    // skips the mapping and never calls out).
    let wants_permissions = caller.introspection_profile.contains(&ProfileAttribute::Permissions);
    let wants_user_details = caller.introspection_profile.contains(&ProfileAttribute::UserDetails);
    let mut fresh_user_details = None;
    let response = match active {
        Active::Issued(active) => {
            let permissions = match wants_permissions {
                true => tenant.permissions().permissions(active.grant.scope.iter()),
                false => Vec::new(),
            };
            let iss = tenant.issuer.to_string();
            IntrospectionResponse::of_grant(&active.grant, active.kind, iss, active.jti, active.not_before, permissions)
        }
        Active::External(external) => {
            if check.token_keys.state.as_ref().is_some_and(|k| check.fetched.external_token(k).is_none()) {
                record_external(service, tenant.id, &external, now).await?;
            }
            if wants_user_details {
                let token = request.require("token")?;
                fresh_user_details =
                    update_with_external_token(service, tenant, &external, token, check, refresh_user_details, now)
                        .await;
            }
            let identity = external.identity;
            let permissions = match (wants_permissions, identity.scope.as_deref()) {
                (true, Some(scope)) => tenant.permissions().permissions(scope.split(' ')),
                _ => Vec::new(),
            };
            IntrospectionResponse::of_external(identity, permissions)
        }
    };
    // The subject's details from its identity provider's UserInfo endpoint, as just fetched, else as cached (read
    // in the same round trip); over the details the token itself carries. For a token Tessera issued,
    // `refresh_user_details` is answered from the cache: Tessera keeps no credential of the user that UserInfo
    // would accept (only hashes of its own tokens), so its subject's details are fetched only where one is presented.
    let cached = check.token_keys.user_details.as_ref().and_then(|k| check.fetched.user_details(k));
    let shown = fresh_user_details.as_ref().or(cached.map(|d| &d.details));
    let response = response.with_cached_user_details(shown);
    let response = response.only_profiled(&caller.introspection_profile);
    metrics::count(Metric::IntrospectionsActive);
    let caller = read.caller_id();
    Ok(Evaluated { response, tenant: read.tenant, caller, now })
}

/// Brings the subject's details up to date with the introspected token as the bearer, when it is a credential the
/// issuer's UserInfo endpoint accepts: a trusted issuer's JWT whose `typ` says it is an access token (RFC 9068
/// §2.1; an ID token never is one, OpenID Connect Core §5.3.1), or any of its JWTs when the issuer's entry says its
/// JWTs are access tokens untyped (`untyped_access_tokens`), of an issuer with a UserInfo endpoint. It fetches on
/// the first introspection (nothing cached) and on `refresh_user_details=true`, within the per-subject rate limit,
/// by the exchange's rules ([`update_user_details`]). The details it fetched, if any; a failure keeps the cached
/// ones and never changes the answer.
async fn update_with_external_token(
    service: &TokenService,
    tenant: &Tenant<'_>,
    external: &ExternalToken,
    token: &str,
    check: &TokenCheck,
    refresh: bool,
    now: Timestamp,
) -> Option<BTreeMap<String, Value>> {
    let identity = &external.identity;
    let issuer = tenant.trusted_issuer(&identity.issuer)?;
    let takes_untyped = issuer.userinfo.as_ref().is_some_and(|endpoint| endpoint.takes_untyped_access_tokens());
    if !(identity.typed_access_token || takes_untyped) {
        return None;
    }
    let link = UserinfoLink::of(issuer, tenant.id, identity)?;
    let cached = check.fetched.user_details(&link.key);
    let outcome = update_user_details(service.store.as_ref(), &link, identity, token, cached, refresh, now).await;
    outcome.fresh().cloned()
}

/// Records a trusted issuer's token under its identity (IndyKite's `perform_upsert`), with TTL = its `exp` plus the
/// issuer's skew, so that revocation by token or by subject reaches it, at `now` (an expired record of an earlier
/// token with the same identity is replaced). A concurrent recording is harmless.
async fn record_external(
    service: &TokenService,
    tenant: &TenantId,
    external: &ExternalToken,
    now: Timestamp,
) -> Result<(), OAuthError> {
    match service.store.put_new(Record::ExternalToken(external.record(tenant, None)), now).await {
        Ok(()) | Err(StoreError::AlreadyExists(_)) => Ok(()),
        Err(other) => Err(other.into()),
    }
}

//! Token introspection (RFC 7662). The caller authenticates as a client allowed to introspect; the token
//! is classified without I/O, then one store round trip fetches the caller's record and every item that
//! decides the token's state. Anything not active answers exactly `{"active": false}`; a store failure is
//! an error (503), never `active: true`. The caller's introspection profile decides which attributes beyond
//! RFC 7662's core members it gets ([`crate::domain::profile`]); with [`introspect_signed`] the answer is an
//! RFC 9701 JWT.

use crate::metrics::{self, Metric};
use http::StatusCode;
use tracing::instrument;

use super::presented::{Active, ExternalToken, PresentedRead};
use crate::TokenService;
use crate::domain::profile::ProfileAttribute;
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;
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
    // A decision: read through the plan, items at most B old.
    let read = PresentedRead::read(service, service.read_plan.as_ref(), request).await?;
    let caller = read.caller()?;
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
    // Permissions are derived only for callers whose profile shows them (the hot path skips the mapping).
    let wants_permissions = caller.introspection_profile.contains(&ProfileAttribute::Permissions);
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
            let check = &read.check;
            if check.token_keys.state.as_ref().is_some_and(|k| check.fetched.external_token(k).is_none()) {
                record_external(service, tenant.id, &external, now).await?;
            }
            let identity = external.identity;
            let permissions = match (wants_permissions, identity.scope.as_deref()) {
                (true, Some(scope)) => tenant.permissions().permissions(scope.split(' ')),
                _ => Vec::new(),
            };
            IntrospectionResponse::of_external(identity, permissions)
        }
    };
    // The subject's details from its identity provider's UserInfo endpoint, cached at token exchange and read in
    // the same round trip; over the details the token itself carries. `refresh_user_details` cannot fetch here:
    // Tessera keeps no credential of the user that UserInfo would accept (only hashes of its own tokens).
    let check = &read.check;
    let cached = check.token_keys.user_details.as_ref().and_then(|k| check.fetched.user_details(k));
    if request.form.get("refresh_user_details").is_some() {
        tracing::debug!("refresh_user_details on introspection: answered from the cache (no user credential here)");
    }
    let response = response.with_cached_user_details(cached.map(|d| &d.details));
    let response = response.only_profiled(&caller.introspection_profile);
    metrics::count(Metric::IntrospectionsActive);
    let caller = read.caller_id();
    Ok(Evaluated { response, tenant: read.tenant, caller, now })
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

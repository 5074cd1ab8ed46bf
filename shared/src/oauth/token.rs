//! The token endpoint (RFC 6749 §3.2): `client_credentials` (§4.4), token exchange (RFC 8693) and
//! `refresh_token` (§6) with rotation. The request is validated before any I/O; one read authenticates the
//! client (and, for a refresh, fetches the refresh token's record and its family watermark); at most one
//! write stores what must be stored: nothing for a lone JWT, one conditional put, or one transaction. A request
//! with a DPoP proof (RFC 9449 §5) gets DPoP-bound tokens: its proof is verified before the read, and spent by one
//! more conditional write before the tokens are minted. A client registered for certificate-bound tokens (RFC 8705
//! §3) gets its access tokens bound to the client certificate of the request's mutual-TLS connection, at no cost.

use crate::announcement::{self, RevocationAnnouncement, RevocationCause, Revoked};
use tracing::instrument;

use super::authenticate::{Authenticating, ClientEndpoint, authenticate, client_key};
use super::dpop::{self, ProofRefusal};
use super::exchange::{ExchangeRequest, TOKEN_TYPE_ACCESS_TOKEN};
use crate::TokenService;
use crate::domain::client::{Client, GrantType, ScopeRefusal, TokenFormat};
use crate::domain::grant::{Confirmation, Grant};
use crate::domain::id::FamilyId;
use crate::domain::refresh::{RefreshRefusal, check_refresh, narrowed_scope};
use crate::domain::revocation::{RefreshedFamily, RevocationWatermark};
use crate::domain::scope::ScopeSet;
use crate::domain::time::Timestamp;
use crate::domain::token::{OpaqueToken, TokenKind, TokenRecord};
use crate::entropy::random_bytes;
use crate::jwt::access_token;
use crate::jwt::dpop::VerifiedProof;
use crate::metrics::{self, Metric, RevocationKind};
use crate::store::{Fetched, Record, StoreError, StoreKey};
use crate::tenancy::Tenant;
use crate::wire::client_cert::ClientCertificate;
use crate::wire::http::OAuthRequest;
use crate::wire::response::TokenResponse;
use crate::wire::{ErrorCode, OAuthError};

/// Answers a token request. Other grant types are `unsupported_grant_type`.
#[instrument(skip_all, fields(tenant = %request.tenant, client_id, grant_type))]
pub async fn token(service: &TokenService, request: &OAuthRequest) -> Result<TokenResponse, OAuthError> {
    // The request's one instant: keys, expiry, revocation and what is written all agree on it.
    let now = service.clock.now();
    let tenant = service.tenant(&request.tenant, request.gateway_domain.as_deref(), now).await?;
    let grant_type = GrantType::parse(request.require("grant_type")?)
        .ok_or_else(|| OAuthError::new(ErrorCode::UnsupportedGrantType, "grant_type is not supported"))?;
    tracing::Span::current().record("grant_type", grant_type.as_str());
    let exchange = match grant_type {
        GrantType::TokenExchange => Some(ExchangeRequest::parse(request)?),
        _ => None,
    };
    let refresh_token = match grant_type {
        GrantType::RefreshToken => Some(request.require("refresh_token")?),
        _ => None,
    };
    let credentials = request.require_credentials()?;
    tracing::Span::current().record("client_id", credentials.client_id.as_str());
    let requested_scope = request
        .form
        .get("scope")
        .map(ScopeSet::parse)
        .transpose()
        .map_err(|_| OAuthError::new(ErrorCode::InvalidScope, "scope is malformed"))?;
    // RFC 6749 §3.3: a present scope holds at least one scope-token; blanks alone are malformed.
    if requested_scope.as_ref().is_some_and(ScopeSet::is_empty) {
        return Err(OAuthError::new(ErrorCode::InvalidScope, "scope is malformed"));
    }
    // RFC 9449 §4.3: a DPoP proof is checked before the read (CPU only); its `jti` is spent when tokens are minted.
    let proof = dpop::verify_header(&request.dpop, http::Method::POST.as_str(), request.url.as_deref(), now, None)?;

    // The subject token is verified before the read (CPU only), so its revocation state joins the one read;
    // its verdict is only told after the client has authenticated.
    let subject_token = match &exchange {
        Some(exchange) => Some(exchange.verify_subject(&tenant, now).await),
        None => None,
    };
    // One read: the client; for a refresh, the token's record and its four watermarks; for an exchange, the
    // subject token's record and its subject and tenant watermarks. Strict, not through the read plan: a disabled
    // client, a revoked grant or a reused refresh token must stop issuance at once, whatever B.
    let key = client_key(tenant.id, credentials)?;
    let presented_refresh = refresh_token.and_then(OpaqueToken::parse).filter(|t| t.kind() == TokenKind::RefreshToken);
    let mut keys = vec![key.clone()];
    if let Some(refresh) = &presented_refresh {
        keys.push(StoreKey::token(tenant.id, &refresh.hash()));
        keys.extend(StoreKey::watermarks(tenant.id, &refresh.watermark_targets()));
    }
    if let Some(Ok(subject)) = &subject_token {
        keys.extend(subject.state_keys(tenant.id));
    }
    let fetched = Fetched::new(service.store.get_many(&keys).await?, now);
    let certificate = request.certificate.as_ref();
    let at = Authenticating { service, tenant: &tenant, endpoint: ClientEndpoint::Token, certificate, now };
    let client = authenticate(&at, credentials, &key, &fetched).await?;
    if !client.allows_grant(grant_type) {
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "the client may not use this grant type"));
    }
    // RFC 9449 §5.2 (`dpop_bound_access_tokens`): such a client's requests without a proof are refused.
    if client.require_dpop && proof.is_none() {
        return Err(ProofRefusal::Missing.into());
    }
    let binding = binding(client, proof.as_ref(), request.certificate.as_ref())?;

    let targets = requested_targets(request)?;
    if grant_type == GrantType::RefreshToken {
        let requested = RequestedTerms { scope: requested_scope, targets };
        let presented = presented_refresh.as_ref();
        let bound = Bound { proof: proof.as_ref(), binding };
        return refresh(service, &tenant, client, presented, &fetched, requested, bound, now).await;
    }
    let scope = client.grant_scope(requested_scope).map_err(|refusal| {
        let description = match refusal {
            ScopeRefusal::NotAllowed => "the requested scope is not allowed for this client",
            ScopeRefusal::NoDefault => "no scope requested and the client has no default scope",
        };
        OAuthError::new(ErrorCode::InvalidScope, description)
    })?;
    let audience = client
        .audience_for(&targets, &tenant.issuer)
        .ok_or_else(|| OAuthError::new(ErrorCode::InvalidTarget, "a requested resource or audience is not allowed"))?;
    let (subject, username, user_details, amr) = match (subject_token, &exchange) {
        (Some(verified), Some(exchange)) => {
            let verified = verified?;
            verified.check_not_revoked(tenant.id, &fetched, now)?;
            exchange.update_user_details(service.store.as_ref(), &verified, &fetched, now).await;
            let identity = verified.identity;
            (identity.subject, identity.username, identity.user_details, identity.amr)
        }
        _ => (client.client_id.to_string(), None, Default::default(), Vec::new()),
    };
    let grant = Grant {
        tenant: tenant.id.clone(),
        client_id: client.client_id.clone(),
        subject,
        username,
        user_details,
        amr,
        app: client.app.clone(),
        scope,
        audience,
        family: FamilyId::from_bytes(random_bytes(service.entropy.as_ref())?),
        issued_at: now,
        expires_at: access_expiry(client, now),
        confirmation: binding,
    };
    // RFC 6749 §4.4.3: no refresh token for client credentials. An exchange gets one when the client may
    // refresh.
    let with_refresh = exchange.is_some() && client.allows_grant(GrantType::RefreshToken);
    let refresh_terms =
        with_refresh.then(|| RefreshTerms { scope: grant.scope.clone(), audience: grant.audience.clone() });
    let minted = mint(service, &tenant, client, &grant, refresh_terms, None, proof.as_ref()).await;
    let mut response = minted.map_err(|failure| {
        match failure {
            MintFailure::Refused(err) => err,
            // Only a rotation can lose, and this mint rotates nothing.
            MintFailure::RotationLost => OAuthError::server_error(),
        }
    })?;
    response.issued_token_type = exchange.is_some().then_some(TOKEN_TYPE_ACCESS_TOKEN);
    tracing::info!(format = ?client.access_token_format, refresh = with_refresh, "tokens issued");
    metrics::count(Metric::TokensIssued(grant_type, client.access_token_format));
    Ok(response)
}

/// A refresh request's proof of possession: its DPoP proof, verified and not yet spent, and what the new access
/// token is bound to.
struct Bound<'a> {
    proof: Option<&'a VerifiedProof>,
    binding: Option<Confirmation>,
}

/// What the access tokens of this request are bound to: the DPoP proof's key when a proof came (RFC 9449 §5), the
/// connection's client certificate when the client is registered for certificate-bound tokens (RFC 8705 §3), or
/// nothing. A client registered for certificate-bound tokens must come over mutual TLS, and may not also send a
/// DPoP proof: a token is bound to one thing, and quietly choosing would hand the client a token its resource
/// servers check differently than it expects.
fn binding(
    client: &Client,
    proof: Option<&VerifiedProof>,
    certificate: Option<&ClientCertificate>,
) -> Result<Option<Confirmation>, OAuthError> {
    match (proof, client.certificate_bound_access_tokens, certificate) {
        (Some(_), true, _) => Err(OAuthError::invalid_request(
            "this client's tokens are bound to its TLS client certificate (RFC 8705); send no DPoP proof",
        )),
        (Some(proof), false, _) => Ok(Some(Confirmation::Dpop(proof.jkt.clone()))),
        (None, true, Some(certificate)) => Ok(Some(Confirmation::Certificate(certificate.thumbprint().clone()))),
        (None, true, None) => Err(OAuthError::invalid_request(
            "this client's tokens are bound to its TLS client certificate (RFC 8705 section 3): use mutual TLS",
        )),
        (None, false, _) => Ok(None),
    }
}

/// The targets a token request names: every RFC 8707 `resource` (an absolute URI without a fragment, §2) and
/// every RFC 8693 `audience` (§2.1: a logical name), in order, each once. Both parameters may repeat and may be
/// combined; the token's `aud` is then all of them.
fn requested_targets(request: &OAuthRequest) -> Result<Vec<String>, OAuthError> {
    let mut targets: Vec<String> = Vec::new();
    for resource in request.form.get_all("resource") {
        let absolute = url::Url::parse(resource).is_ok_and(|url| url.fragment().is_none());
        if !absolute {
            return Err(OAuthError::new(
                ErrorCode::InvalidTarget,
                "resource must be an absolute URI without a fragment (RFC 8707 §2)",
            ));
        }
    }
    for target in request.form.get_all("resource").chain(request.form.get_all("audience")) {
        if !targets.iter().any(|t| t == target) {
            targets.push(target.to_owned());
        }
    }
    Ok(targets)
}

/// Whole seconds, so the JWT `exp`, introspection's `exp` and `expires_in` all agree.
fn access_expiry(client: &Client, now: Timestamp) -> Timestamp {
    Timestamp::from_secs(now.as_secs() + u64::from(client.access_token_ttl_secs))
}

fn invalid_grant(reason: &'static str) -> OAuthError {
    tracing::info!(reason, "refresh refused");
    OAuthError::new(ErrorCode::InvalidGrant, "the refresh token is invalid, expired or revoked")
}

/// The refresh grant (RFC 6749 §6) with rotation (RFC 9700 §4.14.2): the presented refresh token is
/// exchanged for a new one in the same family, atomically. Presenting an already rotated token is reuse:
/// the whole family, every refresh and access token descended from the same exchange, is revoked.
///
/// RFC 9449 §5: a confidential client's refresh token is not bound to a key. A family whose tokens were DPoP-bound
/// stays so: each of its refreshes must carry a proof (by any key the client holds), and the new access token is
/// bound to that proof's key. A proof at the refresh of an unbound family binds the family from then on.
///
/// RFC 8705 §3: a certificate-bound client's new access token is bound to the certificate of the refresh request's
/// connection, which may be a newer one than at the first issue (its refresh token is bound to the client, not to
/// a certificate, so the client can rotate its certificate without losing its refresh tokens).
#[allow(clippy::too_many_arguments)]
async fn refresh(
    service: &TokenService,
    tenant: &Tenant<'_>,
    client: &Client,
    presented: Option<&OpaqueToken>,
    fetched: &Fetched,
    requested: RequestedTerms,
    bound: Bound<'_>,
    now: Timestamp,
) -> Result<TokenResponse, OAuthError> {
    let Bound { proof, binding: confirmation } = bound;
    let presented = presented.ok_or_else(|| invalid_grant("not a refresh token"))?;
    let key = StoreKey::token(tenant.id, &presented.hash());
    let record = fetched.token(&key).ok_or_else(|| invalid_grant("unknown or expired"))?;
    if !presented.matches(&record.grant) {
        return Err(invalid_grant("record does not match the token"));
    }
    // The watermarks proper: a refresh's mark on the family's access tokens does not apply to a refresh token.
    let watermarks = fetched.marks(&StoreKey::watermarks(tenant.id, &presented.watermark_targets()));
    match check_refresh(record, &client.client_id, &watermarks, now) {
        Ok(()) => {}
        Err(RefreshRefusal::Reused) => return Err(revoke_family_for_reuse(service, tenant, &record.grant, now).await),
        Err(RefreshRefusal::Unknown) => return Err(invalid_grant("not a refresh token")),
        Err(RefreshRefusal::OtherClient) => return Err(invalid_grant("issued to another client")),
        Err(RefreshRefusal::Revoked) => return Err(invalid_grant("revoked")),
    }
    let scope = narrowed_scope(&record.grant.scope, requested.scope)
        .ok_or_else(|| OAuthError::new(ErrorCode::InvalidScope, "a refresh may only narrow the scope"))?;
    // RFC 8707 §2.2: `resource` at a refresh may narrow the access token's audience, never widen it.
    let audience = if requested.targets.is_empty() {
        record.grant.audience.clone()
    } else if requested.targets.iter().all(|t| record.grant.audience.contains(t)) {
        requested.targets
    } else {
        return Err(OAuthError::new(ErrorCode::InvalidTarget, "a refresh may only narrow the audience"));
    };
    let dpop_family = record.grant.confirmation.as_ref().is_some_and(|c| c.dpop_key().is_some());
    if dpop_family && proof.is_none() {
        return Err(ProofRefusal::Missing.into());
    }
    // Stamped a microsecond after the rotation instant, so the rotation's mark on the family's earlier access
    // tokens (at that instant) spares them, even on a clock that has not moved since the last refresh.
    let issued_at = RefreshedFamily::tokens_issued_at(now);
    // The app attributes are the client's now: a refresh issues anew.
    let app = client.app.clone();
    let expires_at = access_expiry(client, now);
    let grant = Grant { scope, audience, app, issued_at, expires_at, confirmation, ..record.grant.clone() };
    // RFC 6749 §6: the new refresh token keeps the scope (and audience) of the one it replaces; only the access
    // token narrows.
    let terms = RefreshTerms { scope: record.grant.scope.clone(), audience: record.grant.audience.clone() };
    let rotation = Rotation { old: &key, at: now };
    match mint(service, tenant, client, &grant, Some(terms), Some(rotation), proof).await {
        Ok(response) => {
            metrics::count(Metric::TokensIssued(GrantType::RefreshToken, client.access_token_format));
            Ok(response)
        }
        // The rotation lost: another request rotated this token first. That is reuse too.
        Err(MintFailure::RotationLost) => Err(revoke_family_for_reuse(service, tenant, &record.grant, now).await),
        Err(MintFailure::Refused(err)) => Err(err),
    }
}

/// Revokes every token of the family with one watermark and answers `invalid_grant`. The watermark lives as
/// long as the longest refresh token any client may hold, so no token of the family outlives it. The request whose
/// write revoked the family announces it ([`crate::announcement`], cause `refresh_reuse`); a failed announcement is
/// logged and counted, and the answer is the same.
async fn revoke_family_for_reuse(
    service: &TokenService,
    tenant: &Tenant<'_>,
    grant: &Grant,
    now: Timestamp,
) -> OAuthError {
    tracing::info!(family = %grant.family, "refresh token reuse: revoking the family");
    metrics::count(Metric::RefreshReuseDetected);
    match service.store.raise_watermark(RevocationWatermark::final_for_family(tenant.id, grant.family, now), None).await
    {
        Ok(written) => {
            metrics::count(Metric::Revocations(RevocationKind::Family));
            if written {
                let revoked = Revoked::Family { family: grant.family, client_id: Some(grant.client_id.clone()) };
                let announcement =
                    RevocationAnnouncement::new(tenant.id, revoked, now, RevocationCause::RefreshReuse, None);
                let _ = announcement::announce(service.announcer.as_ref(), &announcement).await;
            }
            OAuthError::new(ErrorCode::InvalidGrant, "the refresh token was already used; its grant is revoked")
        }
        Err(err) => err.into(),
    }
}

/// What a token request asked for beyond its grant: a scope, and targets (RFC 8707 `resource`, RFC 8693
/// `audience`).
struct RequestedTerms {
    scope: Option<ScopeSet>,
    targets: Vec<String>,
}

/// The scope and audience of a refresh token: at a rotation, those of the token it replaces, whatever the new
/// access token narrowed to.
struct RefreshTerms {
    scope: ScopeSet,
    audience: Vec<String>,
}

/// The refresh token a [`mint`] spends, and the rotation instant.
struct Rotation<'a> {
    old: &'a StoreKey,
    at: Timestamp,
}

/// Why [`mint`] issued nothing.
enum MintFailure {
    /// The rotation's condition failed: the old refresh token was rotated, revoked or gone first.
    RotationLost,
    /// Anything else, as the client is told it.
    Refused(OAuthError),
}

impl From<OAuthError> for MintFailure {
    fn from(err: OAuthError) -> Self {
        Self::Refused(err)
    }
}

impl From<ProofRefusal> for MintFailure {
    fn from(refusal: ProofRefusal) -> Self {
        Self::Refused(refusal.into())
    }
}

impl From<crate::jwt::keys::KeyError> for MintFailure {
    fn from(err: crate::jwt::keys::KeyError) -> Self {
        Self::Refused(err.into())
    }
}

impl From<crate::entropy::EntropyError> for MintFailure {
    fn from(err: crate::entropy::EntropyError) -> Self {
        Self::Refused(err.into())
    }
}

/// Spends the DPoP `proof` the grant is bound to, if any (one conditional write: a replay is
/// `invalid_dpop_proof`), mints the access token (client's format) and, when `refresh` is given, a refresh token
/// with those terms, then stores what must be stored
/// in one round trip: nothing, one conditional put, one transaction, or, when `rotate_from` is given, the
/// rotation of that refresh token, whose failed condition is [`MintFailure::RotationLost`].
async fn mint(
    service: &TokenService,
    tenant: &Tenant<'_>,
    client: &Client,
    grant: &Grant,
    refresh: Option<RefreshTerms>,
    rotate_from: Option<Rotation<'_>>,
    proof: Option<&VerifiedProof>,
) -> Result<TokenResponse, MintFailure> {
    if let Some(proof) = proof {
        dpop::spend(service.store.as_ref(), tenant.id, proof, grant.issued_at).await.map_err(OAuthError::from)??;
    }
    let mut records = Vec::with_capacity(2);
    let access_token = match client.access_token_format {
        TokenFormat::Jwt => access_token::sign(grant, &tenant.issuer, &new_jti(service)?, tenant.keys())?,
        TokenFormat::Opaque => {
            let token = OpaqueToken::mint(TokenKind::AccessToken, grant, random_bytes(service.entropy.as_ref())?);
            records.push(Record::Token(TokenRecord::new(&token, grant.clone())));
            token.expose().to_owned()
        }
    };
    let refresh_token = match refresh {
        Some(RefreshTerms { scope, audience }) => {
            let token = OpaqueToken::mint(TokenKind::RefreshToken, grant, random_bytes(service.entropy.as_ref())?);
            let expires_at = grant.issued_at.plus_secs(u64::from(client.refresh_token_ttl_secs));
            records
                .push(Record::Token(TokenRecord::new(&token, Grant { expires_at, scope, audience, ..grant.clone() })));
            Some(token.expose().to_owned())
        }
        None => None,
    };
    let stored = match (rotate_from, records.len()) {
        (Some(Rotation { old, at }), _) => {
            // WSO2's INACTIVE ("refreshed"): the family's earlier access tokens are retired in the same
            // transaction, by a mark at the rotation instant, which the new tokens outlive.
            let refreshed =
                client.revoke_access_on_refresh.then(|| RefreshedFamily::at_rotation(tenant.id, grant.family, at));
            service.store.rotate(old, at, records, refreshed).await
        }
        (None, 0) => Ok(()),
        // Not a refresh: the grant is issued at the request's instant.
        (None, 1) => service.store.put_new(records.remove(0), grant.issued_at).await,
        (None, _) => service.store.put_new_all(records, grant.issued_at).await,
    };
    match stored {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => return Err(MintFailure::RotationLost),
        Err(StoreError::AlreadyExists(_)) => {
            tracing::error!("opaque token hash collision; nothing was overwritten");
            return Err(OAuthError::server_error().into());
        }
        Err(other) => return Err(OAuthError::from(other).into()),
    }
    Ok(TokenResponse {
        access_token,
        // RFC 9449 §5: a DPoP-bound token's type is `DPoP`; RFC 8705 §3: a certificate-bound one stays `Bearer`.
        token_type: grant.confirmation.as_ref().map_or("Bearer", Confirmation::token_type),
        expires_in: u64::from(client.access_token_ttl_secs),
        scope: Some(grant.scope.to_string()).filter(|s| !s.is_empty()),
        refresh_token,
        issued_token_type: None,
    })
}

fn new_jti(service: &TokenService) -> Result<String, OAuthError> {
    use base64::Engine;
    let bytes: [u8; 16] = random_bytes(service.entropy.as_ref())?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

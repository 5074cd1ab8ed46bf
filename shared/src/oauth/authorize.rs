//! The authorizer's decision: may this request, on this route of one of our users' APIs, pass? Tessera acts as
//! the resource server here (RFC 6750, RFC 9068 §4): one bearer token, one of Tessera's own access tokens (JWT or
//! opaque) of the route's tenant, verified and judged by the very [`TokenCheck`] introspection uses (signature
//! with the algorithm pinned, `typ`, `iss`, `exp`, `nbf`, its record or denylist entry, four watermarks), then
//! the route's `audience` and every one of its scopes.
//!
//! A DPoP-bound token (RFC 9449 §7.1) passes only under the `DPoP` scheme, with one proof in the `DPoP` header by
//! the key the token is bound to (`cnf.jkt`), for this request's method and URL and this token (`ath`), spent once
//! (one conditional write, after every other check passed). Presented as `Bearer`, it is denied, and so is an
//! unbound token presented as `DPoP`. Where the event shows no headers but the identity source (a REST `TOKEN`
//! authorizer), no proof can be seen: a bound token is denied there.
//!
//! A certificate-bound token (RFC 8705 §3) passes only under the `Bearer` scheme, on a request that came over
//! mutual TLS with the certificate the token is bound to (`cnf.x5t#S256`): API Gateway's mutual-TLS custom domain
//! puts it in the authorizer's event (`requestContext.authentication.clientCert`). Anywhere else, with another
//! certificate or none, it is denied (§3: `invalid_token`).
//!
//! The answer is [`Decision::Allow`] with the context the integration receives, [`Decision::Deny`] with why, or
//! `Err` when it cannot be known ([`DecisionUnavailable`]: the store or the key document unreadable). That `Err`
//! is never an allow: the function turns it into an invocation error, which API Gateway answers with 500.

use serde::Serialize;
use tracing::instrument;

use super::dpop::{self, ProofRefusal};
use super::presented::{Accepted, Active, NotActive, TokenCheck};
use crate::TokenService;
use crate::domain::grant::{CertificateThumbprint, Confirmation};
use crate::domain::route::RouteRule;
use crate::store::StoreError;
use crate::tenancy::TenantError;
use crate::wire::bearer::{BearerError, PresentedToken, TokenScheme};
use crate::wire::dpop::DpopHeader;

/// How API Gateway names the route of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteName<'a> {
    /// A route key as the API defines it: an HTTP API's `routeKey` (`GET /orders/{id}`, `$default`), or a REST
    /// API's method and resource (`GET /orders/{id}`).
    Key(&'a str),
    /// A concrete method and path (`GET`, `/orders/42`): all a REST `TOKEN` authorizer's `methodArn` says.
    Request {
        /// The HTTP method, upper case.
        method: &'a str,
        /// The path, from `/`.
        path: &'a str,
    },
}

/// What the authorizer is asked.
#[derive(Debug, Clone)]
pub struct AccessRequest<'a> {
    /// The route.
    pub route: RouteName<'a>,
    /// The access token of the request's `Authorization` header and its scheme ([`crate::wire::bearer`]), or why
    /// there is none.
    pub credentials: Result<PresentedToken<'a>, BearerError>,
    /// What a DPoP proof is checked against, where the event shows the request's headers; `None` where it does not
    /// (a REST `TOKEN` authorizer), which denies every bound token.
    pub dpop: Option<ProofRequest<'a>>,
    /// The thumbprint of the client certificate of the request's mutual-TLS connection, from the event's request
    /// context; `None` without one, which denies every certificate-bound token.
    pub certificate: Option<CertificateThumbprint>,
}

/// The request as a DPoP proof must name it (RFC 9449 §4.3).
#[derive(Debug, Clone)]
pub struct ProofRequest<'a> {
    /// The `DPoP` header.
    pub header: DpopHeader,
    /// The request's method.
    pub method: &'a str,
    /// The request's URL as the client sent it, without query; `None` when the event does not tell.
    pub url: Option<String>,
}

/// What the integration behind an allowed request learns of its token, every value a string (API Gateway's
/// context values are flat): `sub`, `client_id`, `scope` (space-delimited, sorted), `tenant`, `jti` and
/// `username`. A fact the token does not carry is the empty string (`jti` of an opaque token, `username` of a
/// client's own token), so the context always has all six keys and a mapping of any of them resolves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessContext {
    /// The subject.
    pub sub: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// The granted scope.
    pub scope: String,
    /// The tenant that issued it.
    pub tenant: String,
    /// The JWT id; empty for an opaque token.
    pub jti: String,
    /// The subject's human-readable name; empty when the token names none.
    pub username: String,
}

/// Why a request is denied. Logged (at info); never shown to the caller, and never holding the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    /// No usable bearer token in the request.
    #[error("no bearer token: {0}")]
    NoToken(BearerError),
    /// The route is not configured: nothing may pass it.
    #[error("the route is not configured")]
    RouteNotConfigured,
    /// The route names a tenant this deployment does not serve.
    #[error("the route's tenant is not served")]
    UnknownTenant,
    /// Not an active access token of the route's tenant: malformed, forged, expired, not yet valid, revoked, a
    /// refresh token, another issuer's token.
    #[error("{0}")]
    InvalidToken(NotActive),
    /// The token's `aud` does not hold the route's audience (RFC 9068 §4: an `invalid_token`).
    #[error("the token is not for the route's audience")]
    WrongAudience,
    /// The token lacks a scope the route requires (RFC 6750 §3.1 `insufficient_scope`).
    #[error("the token lacks a scope the route requires")]
    InsufficientScope,
    /// A DPoP-bound token presented as `Bearer`, or an unbound one as `DPoP` (RFC 9449 §7.1: `invalid_token`).
    #[error("the token's binding does not match its scheme ({0:?})")]
    SchemeMismatch(TokenScheme),
    /// A bound token whose proof is missing, invalid, replayed or by another key (RFC 9449 §7.1:
    /// `invalid_dpop_proof`).
    #[error("DPoP proof refused: {0}")]
    InvalidDpopProof(ProofRefusal),
    /// A certificate-bound token on a request without mutual TLS, or with another certificate (RFC 8705 §3:
    /// `invalid_token`).
    #[error("the token is bound to a client certificate the request did not come with")]
    CertificateMismatch,
}

/// The two answers RFC 6750 §3.1 has for a refused request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No valid token: 401, where the event type lets the authorizer say so.
    Unauthenticated,
    /// A valid token, but not enough for this route: 403.
    Forbidden,
}

impl Denial {
    /// Whether the request lacks a valid token (401) or is not allowed with the one it has (403).
    pub fn refusal(&self) -> Refusal {
        match self {
            Self::NoToken(_)
            | Self::InvalidToken(_)
            | Self::WrongAudience
            | Self::SchemeMismatch(_)
            | Self::CertificateMismatch
            | Self::InvalidDpopProof(_) => Refusal::Unauthenticated,
            Self::RouteNotConfigured | Self::UnknownTenant | Self::InsufficientScope => Refusal::Forbidden,
        }
    }

    /// The RFC 6750 §3.1 (or RFC 9449 §7.1) error code a `WWW-Authenticate` challenge would carry (none for a
    /// request without credentials).
    pub fn error_code(&self) -> Option<&'static str> {
        match self {
            Self::NoToken(reason) => reason.error_code(),
            Self::InvalidToken(_) | Self::WrongAudience | Self::SchemeMismatch(_) | Self::CertificateMismatch => {
                Some("invalid_token")
            }
            Self::InvalidDpopProof(_) => Some("invalid_dpop_proof"),
            Self::RouteNotConfigured | Self::UnknownTenant | Self::InsufficientScope => Some("insufficient_scope"),
        }
    }
}

impl Denial {
    /// The `WWW-Authenticate` challenge of a DPoP refusal (RFC 9449 §7.1): the `DPoP` scheme with its error code
    /// and the algorithms a proof may use; `None` for every other denial (their `Bearer` challenge is API
    /// Gateway's own).
    pub fn dpop_challenge(&self) -> Option<String> {
        let code = match self {
            Self::InvalidDpopProof(_) => "invalid_dpop_proof",
            Self::SchemeMismatch(_) => "invalid_token",
            _ => return None,
        };
        let algs: Vec<&str> = crate::jwt::dpop::DPOP_SIGNING_ALGORITHMS.iter().map(|alg| alg.as_str()).collect();
        Some(format!("DPoP error=\"{code}\", algs=\"{}\"", algs.join(" ")))
    }
}

/// The decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The request may pass; the integration gets the context.
    Allow(Box<AccessContext>),
    /// It may not.
    Deny(Denial),
}

/// Why no decision could be made. Never an allow: the authorizer answers with an invocation error.
#[derive(Debug, thiserror::Error)]
pub enum DecisionUnavailable {
    /// The store failed (throttled, unreachable).
    #[error("the store is unavailable: {0}")]
    Store(#[from] StoreError),
    /// The tenant's keys cannot be known (the key document unread past its bound), or no issuer is configured.
    #[error("the tenant cannot be served: {0}")]
    Tenant(TenantError),
}

/// Decides one request: the bearer token (no I/O), the route's rule (no I/O), then the token checked against the
/// rule's tenant through [`TokenCheck`] (one store round trip for a well-formed token, none for anything else),
/// its audience and its scopes.
#[instrument(skip_all, fields(route, tenant, client_id))]
pub async fn authorize(service: &TokenService, request: &AccessRequest<'_>) -> Result<Decision, DecisionUnavailable> {
    let decision = decide(service, request).await;
    match &decision {
        Ok(Decision::Allow(_)) => tracing::debug!("access allowed"),
        Ok(Decision::Deny(denial)) => tracing::info!(reason = %denial, "access denied"),
        Err(unavailable) => tracing::warn!(error = %unavailable, "no decision: failing closed"),
    }
    decision
}

async fn decide(service: &TokenService, request: &AccessRequest<'_>) -> Result<Decision, DecisionUnavailable> {
    let deny = |denial| Ok(Decision::Deny(denial));
    let presented = match request.credentials {
        Ok(presented) => presented,
        Err(reason) => return deny(Denial::NoToken(reason)),
    };
    let token = presented.token;
    let routes = service.protected_routes();
    let rule = match request.route {
        RouteName::Key(key) => routes.by_route_key(key),
        RouteName::Request { method, path } => routes.by_request(method, path),
    };
    let Some(rule) = rule else { return deny(Denial::RouteNotConfigured) };
    let span = tracing::Span::current();
    span.record("route", rule.route.as_str());
    span.record("tenant", rule.tenant.as_str());
    let now = service.clock.now();
    // The issuer is the configured one: the request came in on the protected API's domain, not on Tessera's.
    let tenant = match service.tenant(&rule.tenant, None, now).await {
        Ok(tenant) => tenant,
        Err(TenantError::Unknown) => return deny(Denial::UnknownTenant),
        Err(other) => return Err(DecisionUnavailable::Tenant(other)),
    };
    // A decision, like introspection's: read through the plan, items at most B old.
    let check = TokenCheck::read(service.read_plan.as_ref(), &tenant, token, Accepted::AccessTokens, None, now).await?;
    let active = match check.judge(now) {
        Ok(Active::Issued(active)) => active,
        // Refused as presented: `Accepted::AccessTokens` lets no trusted issuer's token through.
        Ok(Active::External(_)) => {
            return deny(Denial::InvalidToken(NotActive::NotAccepted("a trusted issuer's token")));
        }
        Err(reason) => return deny(Denial::InvalidToken(reason)),
    };
    let grant = &active.grant;
    span.record("client_id", grant.client_id.as_str());
    let proof = match proof_of_binding(grant, presented, request, now) {
        Ok(proof) => proof,
        Err(denial) => return deny(denial),
    };
    if let Err(denial) = satisfies(rule, grant) {
        return deny(denial);
    }
    // Spent last, once the request would pass: a denied request costs no write.
    if let Some(proof) = proof
        && let Err(refusal) = dpop::spend(service.read_plan.as_ref(), tenant.id, &proof, now).await?
    {
        return deny(Denial::InvalidDpopProof(refusal));
    }
    Ok(Decision::Allow(Box::new(AccessContext {
        sub: grant.subject.clone(),
        client_id: grant.client_id.to_string(),
        scope: grant.scope.to_string(),
        tenant: grant.tenant.to_string(),
        jti: active.jti.clone().unwrap_or_default(),
        username: grant.username.clone().unwrap_or_default(),
    })))
}

/// RFC 9449 §7.1 and RFC 8705 §3: whether the token's scheme fits its binding and, for a DPoP-bound token, the
/// request's proof is by its key, for this request and this token; for a certificate-bound token, the request came
/// with its certificate. The proof, not yet spent, when there is one. CPU only.
fn proof_of_binding(
    grant: &crate::domain::grant::Grant,
    presented: PresentedToken<'_>,
    access: &AccessRequest<'_>,
    now: crate::domain::time::Timestamp,
) -> Result<Option<crate::jwt::dpop::VerifiedProof>, Denial> {
    let bound = match (presented.scheme, &grant.confirmation) {
        (TokenScheme::Bearer, None) => return Ok(None),
        (TokenScheme::Bearer, Some(Confirmation::Certificate(x5t))) => {
            return match access.certificate.as_ref() {
                Some(presented) if presented == x5t => Ok(None),
                _ => Err(Denial::CertificateMismatch),
            };
        }
        (TokenScheme::Bearer, Some(Confirmation::Dpop(_)))
        | (TokenScheme::Dpop, None | Some(Confirmation::Certificate(_))) => {
            return Err(Denial::SchemeMismatch(presented.scheme));
        }
        (TokenScheme::Dpop, Some(Confirmation::Dpop(jkt))) => jkt,
    };
    let request = access.dpop.as_ref().ok_or(Denial::InvalidDpopProof(ProofRefusal::Missing))?;
    let verified =
        dpop::verify_header(&request.header, request.method, request.url.as_deref(), now, Some(presented.token))
            .map_err(Denial::InvalidDpopProof)?
            .ok_or(Denial::InvalidDpopProof(ProofRefusal::Missing))?;
    if verified.jkt != *bound {
        return Err(Denial::InvalidDpopProof(ProofRefusal::OtherKey));
    }
    Ok(Some(verified))
}

/// Whether an active token's grant meets the route's rule: its tenant, its audience (RFC 9068 §4), every scope.
fn satisfies(rule: &RouteRule, grant: &crate::domain::grant::Grant) -> Result<(), Denial> {
    if grant.tenant != rule.tenant {
        return Err(Denial::InvalidToken(NotActive::NotAccepted("another tenant's token")));
    }
    if !grant.audience.contains(&rule.audience) {
        return Err(Denial::WrongAudience);
    }
    if !rule.scopes.is_subset(&grant.scope) {
        return Err(Denial::InsufficientScope);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    use super::*;
    use crate::clock::{Clock, FixedClock};
    use crate::config::AuthorizerConfig;
    use crate::domain::client::ClientId;
    use crate::domain::grant::Grant;
    use crate::domain::id::FamilyId;
    use crate::domain::revocation::{Inactive, MarkKind, RevocationWatermark, RevokedJti, WatermarkTarget};
    use crate::domain::scope::ScopeSet;
    use crate::domain::tenant::TenantId;
    use crate::domain::time::Timestamp;
    use crate::domain::token::{OpaqueToken, TokenKind, TokenRecord};
    use crate::entropy::SeededEntropy;
    use crate::jwt::access_token::{self, JwtRejection};
    use crate::jwt::keys::{KeyRing, SigningAlgorithm, SigningKey};
    use crate::store::counting::CountingStore;
    use crate::store::memory::MemoryStore;
    use crate::store::{Record, StoreKey, TokenStore};
    use crate::tenancy::ServedTenant;

    const ISSUER: &str = "https://auth.example.com";
    const ORDERS: &str = "https://orders.example.com";
    const NOW: u64 = 1_800_000_000;

    const ROUTES: &str = r#"routes = [
        { route = "GET /orders/{id}", scopes = ["orders:read"], audience = "https://orders.example.com" },
        { route = "POST /orders", scopes = ["orders:read", "orders:write"], audience = "https://orders.example.com" },
        { route = "GET /acme/orders", scopes = [], audience = "https://orders.example.com", tenant = "acme" },
        { route = "GET /ghost", scopes = [], audience = "https://orders.example.com", tenant = "ghost" },
    ]"#;

    struct Scenario {
        service: TokenService,
        clock: Arc<FixedClock>,
        store: Arc<CountingStore<MemoryStore>>,
    }

    fn ring(kid: &str) -> KeyRing {
        KeyRing::new(vec![SigningKey::generate(SigningAlgorithm::ES256, kid).unwrap()]).unwrap()
    }

    fn scenario() -> Scenario {
        let clock = Arc::new(FixedClock::at(Timestamp::from_secs(NOW)));
        let store = Arc::new(CountingStore::new(MemoryStore::new()));
        let routes = AuthorizerConfig::from_toml(ROUTES).unwrap().protected_routes().unwrap();
        let service = TokenService::new(store.clone(), clock.clone(), Arc::new(SeededEntropy::new(7)))
            .with_tenant(TenantId::default(), ServedTenant::new(Some(ISSUER.into()), ring("k1")))
            .with_tenant(acme(), ServedTenant::new(Some(format!("{ISSUER}/t/acme")), ring("acme-1")))
            .with_protected_routes(routes);
        Scenario { service, clock, store }
    }

    fn acme() -> TenantId {
        TenantId::parse("acme").unwrap()
    }

    fn grant(tenant: &TenantId, scope: &str, audience: &str) -> Grant {
        Grant {
            tenant: tenant.clone(),
            client_id: ClientId::parse("orders-app").unwrap(),
            subject: "alice".into(),
            username: Some("alice@example.com".into()),
            user_details: Default::default(),
            amr: Vec::new(),
            app: Default::default(),
            scope: ScopeSet::parse(scope).unwrap(),
            audience: vec![audience.into()],
            family: FamilyId::from_bytes([3; 16]),
            issued_at: Timestamp::from_micros(NOW * 1_000_000 - 5_000_000),
            expires_at: Timestamp::from_secs(NOW + 300),
            confirmation: None,
        }
    }

    impl Scenario {
        async fn jwt(&self, grant: &Grant, jti: &str) -> String {
            let tenant = self.service.tenant(&grant.tenant, None, self.clock.now()).await.unwrap();
            access_token::sign(grant, &tenant.issuer, jti, tenant.keys()).unwrap()
        }

        async fn opaque(&self, kind: TokenKind, grant: &Grant, seed: u8) -> String {
            let token = OpaqueToken::mint(kind, grant, [seed; 32]);
            self.store.put_new(Record::Token(TokenRecord::new(&token, grant.clone())), self.clock.now()).await.unwrap();
            token.expose().to_owned()
        }

        async fn decide(&self, route: RouteName<'_>, token: &str) -> Decision {
            self.store.take();
            let credentials = Ok(PresentedToken { scheme: TokenScheme::Bearer, token });
            authorize(&self.service, &AccessRequest { route, credentials, dpop: None, certificate: None })
                .await
                .unwrap()
        }

        async fn on_orders(&self, token: &str) -> Decision {
            self.decide(RouteName::Key("GET /orders/{id}"), token).await
        }
    }

    fn denied(decision: Decision) -> Denial {
        match decision {
            Decision::Deny(denial) => denial,
            Decision::Allow(context) => panic!("allowed: {context:?}"),
        }
    }

    #[tokio::test]
    async fn an_active_access_token_with_the_audience_and_scopes_passes_with_its_context() {
        let s = scenario();
        let grant = grant(&TenantId::default(), "orders:read orders:write", ORDERS);
        let jwt = s.jwt(&grant, "jti-1").await;
        let opaque = s.opaque(TokenKind::AccessToken, &grant, 1).await;
        for (token, jti) in [(jwt.as_str(), "jti-1"), (opaque.as_str(), "")] {
            let expected = AccessContext {
                sub: "alice".into(),
                client_id: "orders-app".into(),
                scope: "orders:read orders:write".into(),
                tenant: "default".into(),
                jti: jti.into(),
                username: "alice@example.com".into(),
            };
            assert_eq!(s.on_orders(token).await, Decision::Allow(Box::new(expected)));
            assert_eq!(s.store.take().reads, 1, "one round trip: the token's state and its four watermarks");
            let by_request = RouteName::Request { method: "GET", path: "/orders/42" };
            assert!(matches!(s.decide(by_request, token).await, Decision::Allow(_)));
            assert!(matches!(s.decide(RouteName::Key("POST /orders"), token).await, Decision::Allow(_)));
        }
        // Absent facts are empty strings: a client's own token has no username.
        let own = Grant { username: None, ..grant };
        let Decision::Allow(context) = s.on_orders(&s.jwt(&own, "jti-2").await).await else { panic!("denied") };
        assert_eq!((context.username.as_str(), context.jti.as_str()), ("", "jti-2"));
    }

    #[tokio::test]
    async fn every_scope_of_the_route_is_required() {
        // RFC 6750 §3.1: insufficient_scope, a 403.
        let s = scenario();
        let grant = grant(&TenantId::default(), "orders:read", ORDERS);
        for token in [s.jwt(&grant, "j").await, s.opaque(TokenKind::AccessToken, &grant, 2).await] {
            let denial = denied(s.decide(RouteName::Key("POST /orders"), &token).await);
            assert_eq!(denial, Denial::InsufficientScope);
            assert_eq!((denial.refusal(), denial.error_code()), (Refusal::Forbidden, Some("insufficient_scope")));
            assert!(matches!(s.on_orders(&token).await, Decision::Allow(_)), "the same token passes a route it covers");
        }
    }

    #[tokio::test]
    async fn the_audience_must_be_the_routes() {
        // RFC 9068 §4: a token whose aud is not the resource server's is an invalid_token.
        let s = scenario();
        let other = grant(&TenantId::default(), "orders:read", "https://billing.example.com");
        for token in [s.jwt(&other, "j").await, s.opaque(TokenKind::AccessToken, &other, 3).await] {
            let denial = denied(s.on_orders(&token).await);
            assert_eq!(denial, Denial::WrongAudience);
            assert_eq!((denial.refusal(), denial.error_code()), (Refusal::Unauthenticated, Some("invalid_token")));
        }
    }

    #[tokio::test]
    async fn a_revoked_token_is_denied_however_it_was_revoked() {
        let s = scenario();
        let default = TenantId::default();
        let now = s.clock.now();
        let by_jti = grant(&default, "orders:read", ORDERS);
        let jwt = s.jwt(&by_jti, "revoked-jti").await;
        let entry = RevokedJti {
            tenant: default.clone(),
            jti: "revoked-jti".into(),
            revoked_at: now,
            expires_at: by_jti.expires_at,
        };
        s.store.put_new(Record::RevokedJti(entry), now).await.unwrap();
        assert_eq!(denied(s.on_orders(&jwt).await), Denial::InvalidToken(NotActive::Inactive(Inactive::Revoked)));

        let opaque = s.opaque(TokenKind::AccessToken, &by_jti, 4).await;
        let key = StoreKey::token(&default, &OpaqueToken::parse(&opaque).unwrap().hash());
        assert!(matches!(s.on_orders(&opaque).await, Decision::Allow(_)));
        s.store.mark_revoked(&key, now).await.unwrap();
        assert_eq!(denied(s.on_orders(&opaque).await), Denial::InvalidToken(NotActive::Inactive(Inactive::Revoked)));

        // Each of the four watermarks.
        let targets = |g: &Grant| g.watermark_targets();
        for (i, target) in targets(&by_jti).into_iter().enumerate() {
            let g = Grant { family: FamilyId::from_bytes([10 + i as u8; 16]), ..by_jti.clone() };
            let target = match target {
                WatermarkTarget::Family(_) => WatermarkTarget::Family(g.family),
                other => other,
            };
            let s = scenario();
            let jwt = s.jwt(&g, &format!("w{i}")).await;
            let opaque = s.opaque(TokenKind::AccessToken, &g, 20 + i as u8).await;
            s.store
                .raise_watermark(RevocationWatermark::at(&default, target.clone(), s.clock.now()), None)
                .await
                .unwrap();
            for token in [&jwt, &opaque] {
                let denial = denied(s.on_orders(token).await);
                assert!(
                    matches!(denial, Denial::InvalidToken(NotActive::Inactive(Inactive::Watermarked(mark)))
                        if mark.kind == MarkKind::of(&target)),
                    "{target}: {denial:?}"
                );
            }
        }
    }

    #[tokio::test]
    async fn expired_and_not_yet_valid_tokens_are_denied() {
        let s = scenario();
        let grant = grant(&TenantId::default(), "orders:read", ORDERS);
        let jwt = s.jwt(&grant, "j").await;
        let opaque = s.opaque(TokenKind::AccessToken, &grant, 5).await;
        s.clock.advance_secs(300);
        for token in [&jwt, &opaque] {
            let denial = denied(s.on_orders(token).await);
            // The opaque record expires with the token, so it is simply gone.
            assert!(
                matches!(denial, Denial::InvalidToken(NotActive::Inactive(Inactive::Expired) | NotActive::NoRecord)),
                "{denial:?}"
            );
            assert_eq!(denial.refusal(), Refusal::Unauthenticated);
        }

        // RFC 7519 §4.1.5: nbf in the future.
        let s = scenario();
        let default = TenantId::default();
        let tenant = s.service.tenant(&default, None, s.clock.now()).await.unwrap();
        let mut claims = serde_json::to_value(access_token::AccessTokenClaims {
            iss: ISSUER.into(),
            sub: "alice".into(),
            aud: access_token::Audience::One(ORDERS.into()),
            exp: NOW + 300,
            iat: NOW - 5,
            nbf: Some(NOW + 60),
            jti: "early".into(),
            client_id: "orders-app".into(),
            scope: "orders:read".into(),
            username: None,
            user_details: Default::default(),
            amr: Vec::new(),
            app: Default::default(),
            tsr_fam: FamilyId::from_bytes([9; 16]),
            tsr_iat_us: (NOW - 5) * 1_000_000,
            cnf: None,
        })
        .unwrap();
        let early = tenant.keys().signing_key().sign_jwt("at+jwt", &claims).unwrap();
        assert_eq!(denied(s.on_orders(&early).await), Denial::InvalidToken(NotActive::Inactive(Inactive::NotYetValid)));
        claims["nbf"] = json!(NOW);
        let valid = tenant.keys().signing_key().sign_jwt("at+jwt", &claims).unwrap();
        assert!(matches!(s.on_orders(&valid).await, Decision::Allow(_)));
    }

    #[tokio::test]
    async fn only_access_tokens_of_the_routes_tenant_pass() {
        let s = scenario();
        let default = TenantId::default();
        // A refresh token is refused as presented, without a read.
        let refresh = s.opaque(TokenKind::RefreshToken, &grant(&default, "orders:read", ORDERS), 6).await;
        assert_eq!(
            denied(s.on_orders(&refresh).await),
            Denial::InvalidToken(NotActive::NotAccepted("a refresh token"))
        );
        assert_eq!(s.store.take().reads, 0);

        // acme's tokens, JWT and opaque, on a route of the default tenant; the default tenant's on acme's route.
        let acme_grant = grant(&acme(), "orders:read", ORDERS);
        let acme_jwt = s.jwt(&acme_grant, "a").await;
        let acme_opaque = s.opaque(TokenKind::AccessToken, &acme_grant, 7).await;
        assert_eq!(
            denied(s.on_orders(&acme_jwt).await),
            Denial::InvalidToken(NotActive::Jwt(JwtRejection::UnknownKey))
        );
        assert_eq!(denied(s.on_orders(&acme_opaque).await), Denial::InvalidToken(NotActive::NoRecord));
        let acme_route = RouteName::Key("GET /acme/orders");
        for token in [&acme_jwt, &acme_opaque] {
            assert!(matches!(s.decide(acme_route, token).await, Decision::Allow(_)));
        }
        let default_jwt = s.jwt(&grant(&default, "orders:read", ORDERS), "d").await;
        assert!(matches!(denied(s.decide(acme_route, &default_jwt).await), Denial::InvalidToken(NotActive::Jwt(_))));

        // A route naming a tenant that is not served.
        assert_eq!(denied(s.decide(RouteName::Key("GET /ghost"), &default_jwt).await), Denial::UnknownTenant);
    }

    #[tokio::test]
    async fn forged_tokens_are_denied_without_a_read() {
        // RFC 9068 §4 and RFC 8725 §3.1: the algorithm is the key's, never the header's choice.
        let s = scenario();
        let jwt = s.jwt(&grant(&TenantId::default(), "orders:read", ORDERS), "j").await;
        let parts: Vec<&str> = jwt.split('.').collect();
        let claims: serde_json::Value = jsonwebtoken::dangerous::insecure_decode_claims(&jwt).unwrap();
        let default = TenantId::default();
        let tenant = s.service.tenant(&default, None, s.clock.now()).await.unwrap();
        let public = serde_json::to_vec(tenant.keys().signing_key().public_jwk()).unwrap();
        let header = Header {
            typ: Some("at+jwt".into()),
            kid: Some("k1".into()),
            ..Header::new(jsonwebtoken::Algorithm::HS256)
        };
        let hs256 = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&public)).unwrap();
        let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0Iiwia2lkIjoiazEifQ.{}.", parts[1]);
        let altered = format!("{}.{}.{}", parts[0], parts[1], &parts[2][1..]);
        for forged in [hs256.as_str(), none.as_str(), altered.as_str(), "garbage", "tsr_at_notachecksum", "a.b.c"] {
            assert!(matches!(denied(s.on_orders(forged).await), Denial::InvalidToken(_)), "{forged}");
            assert_eq!(s.store.take().reads, 0, "{forged}: judged as presented");
        }
    }

    /// RFC 9449 §7.1: a bound token is denied as `Bearer`, and as `DPoP` without a proof (a REST `TOKEN` event shows
    /// none); an unbound token is denied as `DPoP`. Each denial carries its `WWW-Authenticate: DPoP` challenge. (The
    /// proofs themselves are checked end to end in `tests/e2e/dpop.rs`, signed by another JOSE library.)
    #[tokio::test]
    async fn a_bound_token_needs_the_dpop_scheme_and_a_proof() {
        let s = scenario();
        let jkt = crate::domain::grant::Jkt::from_thumbprint("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into());
        let unbound = grant(&TenantId::default(), "orders:read", ORDERS);
        let bound = Grant { confirmation: Some(Confirmation::Dpop(jkt)), ..unbound.clone() };
        let bound_tokens = [s.jwt(&bound, "bound").await, s.opaque(TokenKind::AccessToken, &bound, 8).await];
        let route = RouteName::Key("GET /orders/{id}");
        fn ask<'a>(route: RouteName<'a>, token: &'a str, scheme: TokenScheme) -> AccessRequest<'a> {
            AccessRequest { route, credentials: Ok(PresentedToken { scheme, token }), dpop: None, certificate: None }
        }
        for token in &bound_tokens {
            let denial = denied(s.on_orders(token).await);
            assert_eq!(denial, Denial::SchemeMismatch(TokenScheme::Bearer));
            assert_eq!((denial.refusal(), denial.error_code()), (Refusal::Unauthenticated, Some("invalid_token")));
            assert_eq!(
                denial.dpop_challenge().as_deref(),
                Some("DPoP error=\"invalid_token\", algs=\"ES256 EdDSA RS256 PS256\"")
            );
            let denial = denied(authorize(&s.service, &ask(route, token, TokenScheme::Dpop)).await.unwrap());
            assert_eq!(denial, Denial::InvalidDpopProof(ProofRefusal::Missing));
            assert!(denial.dpop_challenge().unwrap().starts_with("DPoP error=\"invalid_dpop_proof\""));
        }
        let plain = s.jwt(&unbound, "plain").await;
        let denial = denied(authorize(&s.service, &ask(route, &plain, TokenScheme::Dpop)).await.unwrap());
        assert_eq!(denial, Denial::SchemeMismatch(TokenScheme::Dpop));
        assert!(matches!(s.on_orders(&plain).await, Decision::Allow(_)), "a bearer token passes as before");
        assert_eq!(Denial::InsufficientScope.dpop_challenge(), None);
    }

    /// RFC 8705 §3: "the protected resource MUST obtain, from its TLS implementation layer, the client certificate
    /// used for mutual TLS and MUST verify that the certificate matches the certificate associated with the access
    /// token. If they do not match, the resource access attempt MUST be rejected with an error, per [RFC6750],
    /// using an HTTP 401 status code and the "invalid_token" error code." A certificate-bound token is used with the
    /// `Bearer` scheme; as `DPoP` it is a scheme mismatch.
    #[tokio::test]
    async fn a_certificate_bound_token_needs_its_certificate() {
        let s = scenario();
        let x5t = CertificateThumbprint::of_der(b"the client's certificate");
        let other = CertificateThumbprint::of_der(b"another certificate");
        let unbound = grant(&TenantId::default(), "orders:read", ORDERS);
        let bound = Grant { confirmation: Some(Confirmation::Certificate(x5t.clone())), ..unbound.clone() };
        let route = RouteName::Key("GET /orders/{id}");
        fn ask<'a>(
            route: RouteName<'a>,
            token: &'a str,
            scheme: TokenScheme,
            certificate: Option<&CertificateThumbprint>,
        ) -> AccessRequest<'a> {
            let credentials = Ok(PresentedToken { scheme, token });
            AccessRequest { route, credentials, dpop: None, certificate: certificate.cloned() }
        }
        for token in [s.jwt(&bound, "bound").await, s.opaque(TokenKind::AccessToken, &bound, 8).await] {
            let allowed = authorize(&s.service, &ask(route, &token, TokenScheme::Bearer, Some(&x5t))).await.unwrap();
            assert!(matches!(allowed, Decision::Allow(_)), "with its certificate");
            for certificate in [None, Some(&other)] {
                let request = ask(route, &token, TokenScheme::Bearer, certificate);
                let denial = denied(authorize(&s.service, &request).await.unwrap());
                assert_eq!(denial, Denial::CertificateMismatch, "{certificate:?}");
                assert_eq!((denial.refusal(), denial.error_code()), (Refusal::Unauthenticated, Some("invalid_token")));
            }
            let as_dpop = ask(route, &token, TokenScheme::Dpop, Some(&x5t));
            assert_eq!(
                denied(authorize(&s.service, &as_dpop).await.unwrap()),
                Denial::SchemeMismatch(TokenScheme::Dpop)
            );
        }
        let plain = s.jwt(&unbound, "plain").await;
        let with_certificate = ask(route, &plain, TokenScheme::Bearer, Some(&x5t));
        assert!(
            matches!(authorize(&s.service, &with_certificate).await.unwrap(), Decision::Allow(_)),
            "unbound passes"
        );
    }

    #[tokio::test]
    async fn no_token_and_unconfigured_routes_are_denied_without_a_read() {
        let s = scenario();
        let jwt = s.jwt(&grant(&TenantId::default(), "orders:read", ORDERS), "j").await;
        for route in [RouteName::Key("GET /orders"), RouteName::Key("DELETE /orders/{id}"), RouteName::Key("nonsense")]
        {
            assert_eq!(denied(s.decide(route, &jwt).await), Denial::RouteNotConfigured);
        }
        let unknown_path = RouteName::Request { method: "GET", path: "/admin" };
        assert_eq!(denied(s.decide(unknown_path, &jwt).await), Denial::RouteNotConfigured);
        for reason in [BearerError::Missing, BearerError::Repeated, BearerError::Empty, BearerError::Malformed] {
            let route = RouteName::Key("GET /orders/{id}");
            let request = AccessRequest { route, credentials: Err(reason), dpop: None, certificate: None };
            let denial = denied(authorize(&s.service, &request).await.unwrap());
            assert_eq!((denial.clone(), denial.refusal()), (Denial::NoToken(reason), Refusal::Unauthenticated));
        }
        assert_eq!(s.store.take().reads, 0);
    }
}

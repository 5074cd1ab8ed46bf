//! The authorizer function: a Lambda authorizer that lets API Gateway routes of our users' own APIs accept
//! Tessera's access tokens with revocation applied ([`tessera::oauth::authorize`] decides; this is the event
//! translation). One function serves three event types, told apart by their shape:
//!
//! | event | route from | allow | deny (valid token, not enough) | no valid token | no decision |
//! |---|---|---|---|---|---|
//! | HTTP API, payload 2.0, simple responses | `routeKey` | `isAuthorized: true` + `context` | `isAuthorized: false` (403) | `isAuthorized: false` (403) | error (500) |
//! | REST API `TOKEN` | `methodArn` (method and concrete path, matched against the route templates) | `Allow` policy on the `methodArn` + `context` | `Deny` policy (403) | error `Unauthorized` (401) | error (500) |
//! | REST API `REQUEST` | `httpMethod` and `resource` (the route as defined) | as `TOKEN` | as `TOKEN` | as `TOKEN` | as `TOKEN` |
//!
//! An HTTP API's simple response has no way to ask for a 401, so an invalid token is a 403 there; API Gateway
//! answers 401 itself when the identity source (the `Authorization` header) is missing. A REST authorizer that
//! fails with the message `Unauthorized` makes API Gateway answer 401. Any other error, an event of none of
//! these shapes included, is a 500: a store failure never allows. The token never reaches a log.
//!
//! DPoP (RFC 9449 §7.1): the HTTP API and REST `REQUEST` events carry the request's headers, so a bound token
//! passes there under `Authorization: DPoP` with its proof, checked against the event's method and URL (scheme and
//! host from `X-Forwarded-Proto` and `Host`, path as the client sent it: `rawPath`, or `requestContext.path`). A
//! REST `TOKEN` event carries the identity source only: a bound token is denied there. No authorizer answer can set
//! `WWW-Authenticate`: a DPoP refusal is a 403 on an HTTP API and a 401 on a REST API (whose `UNAUTHORIZED` gateway
//! response may add a static `WWW-Authenticate: DPoP`); the challenge goes into the deny's context, which the
//! local runner's demo route answers with.
//!
//! Mutual TLS (RFC 8705 §3): on an API Gateway custom domain with mutual TLS, the HTTP API event carries the
//! client's certificate at `requestContext.authentication.clientCert` and the REST `REQUEST` event at
//! `requestContext.identity.clientCert`; a certificate-bound token passes only with the certificate it is bound to.
//! A REST `TOKEN` event carries no certificate: a certificate-bound token is denied there.

use aws_lambda_events::event::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequest, ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayCustomAuthorizerResponse, ApiGatewayV2CustomAuthorizerSimpleResponse,
    ApiGatewayV2CustomAuthorizerV2Request,
};
use aws_lambda_events::event::iam::{IamPolicyEffect, IamPolicyStatement};
use serde_json::{Value, json};
use tessera::TokenService;
use tessera::oauth::authorize::{AccessRequest, Decision, ProofRequest, Refusal, RouteName, authorize};
use tessera::wire::bearer::{BearerError, access_token_in, parse_authorization};
use tessera::wire::client_cert::{CertificateThumbprint, ClientCertificate};
use tessera::wire::dpop::{DpopHeader, gateway_url};

/// Why an invocation failed: API Gateway answers 500, or 401 for [`Unauthorized`].
pub type Error = lambda_runtime::Error;

/// The error a REST API authorizer returns for a request without a valid token: API Gateway answers it with 401
/// (it matches the message `Unauthorized` exactly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Unauthorized")]
pub struct Unauthorized;

/// An invocation that is not an authorizer event this function knows, or lacks what its answer needs. The
/// authorizer is wired to the wrong thing: a 500, and a log line saying why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an authorizer event this function serves: {0}")]
pub struct MalformedEvent(pub &'static str);

/// The `principalId` of a REST deny policy, which names no principal.
pub const DENIED_PRINCIPAL: &str = "anonymous";

/// An authorizer event, by type.
enum AuthorizerEvent {
    /// HTTP API, payload format 2.0.
    HttpApi(Box<ApiGatewayV2CustomAuthorizerV2Request>),
    /// REST API, `TOKEN` authorizer.
    RestToken(ApiGatewayCustomAuthorizerRequest),
    /// REST API, `REQUEST` authorizer.
    RestRequest(Box<ApiGatewayCustomAuthorizerRequestTypeRequest>),
}

impl AuthorizerEvent {
    /// Tells the event types apart: `type: TOKEN`; `type: REQUEST` with `version: "2.0"` (HTTP API) or with a
    /// `methodArn` (REST).
    fn classify(event: Value) -> Result<Self, MalformedEvent> {
        let field = |name: &str| event.get(name).and_then(Value::as_str);
        let kind = match (field("type"), field("version"), field("methodArn")) {
            (Some("TOKEN"), _, _) => 0,
            (Some("REQUEST"), Some("2.0"), _) => 1,
            (Some("REQUEST"), _, Some(_)) => 2,
            _ => return Err(MalformedEvent("neither a REST TOKEN or REQUEST event nor an HTTP API 2.0 event")),
        };
        let malformed = |_| MalformedEvent("an authorizer event with fields of the wrong type");
        Ok(match kind {
            0 => Self::RestToken(serde_json::from_value(event).map_err(malformed)?),
            1 => Self::HttpApi(Box::new(serde_json::from_value(event).map_err(malformed)?)),
            _ => Self::RestRequest(Box::new(serde_json::from_value(event).map_err(malformed)?)),
        })
    }
}

/// Handles one invocation: the event's route and bearer token decided by [`authorize`], answered in the event
/// type's format (see the module table). Its metrics are written when it ends ([`tessera::metrics`]).
pub async fn handle(service: &TokenService, event: Value) -> Result<Value, Error> {
    service.metrics.invocation(decide(service, event)).await
}

async fn decide(service: &TokenService, event: Value) -> Result<Value, Error> {
    let event =
        AuthorizerEvent::classify(event).inspect_err(|e| tracing::error!(error = %e, "authorizer event refused"))?;
    match event {
        AuthorizerEvent::HttpApi(event) => {
            let route = event.route_key.as_deref().or(event.request_context.route_key.as_deref()).unwrap_or("");
            let gateway = &event.request_context;
            let raw_path = event.raw_path.as_deref().unwrap_or("");
            let dpop = ProofRequest {
                header: DpopHeader::of(&event.headers),
                method: gateway.http.method.as_str(),
                url: gateway_url(&event.headers, gateway.domain_name.as_deref(), raw_path),
            };
            let credentials = access_token_in(&event.headers);
            let pem = gateway.authentication.as_ref().and_then(|a| a.client_cert.as_ref()?.client_cert_pem.as_deref());
            let certificate = thumbprint_of(pem);
            let request = AccessRequest { route: RouteName::Key(route), credentials, dpop: Some(dpop), certificate };
            let decision = authorize(service, &request).await?;
            let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::<Value>::default();
            response.is_authorized = matches!(decision, Decision::Allow(_));
            response.context = context(&decision)?;
            Ok(serde_json::to_value(response)?)
        }
        AuthorizerEvent::RestToken(event) => {
            let method_arn = event.method_arn.as_deref().ok_or(MalformedEvent("a TOKEN event without methodArn"))?;
            let (method, path) = method_and_path(method_arn)?;
            let credentials =
                event.authorization_token.as_deref().map_or(Err(BearerError::Missing), parse_authorization);
            // A TOKEN event shows the identity source only: no DPoP header, so no bound token can pass here.
            let route = RouteName::Request { method, path: &path };
            let request = AccessRequest { route, credentials, dpop: None, certificate: None };
            rest_response(authorize(service, &request).await?, method_arn)
        }
        AuthorizerEvent::RestRequest(event) => {
            let method_arn = event.method_arn.as_deref().ok_or(MalformedEvent("a REQUEST event without methodArn"))?;
            let (arn_method, path) = method_and_path(method_arn)?;
            // `headers` keeps one value per name; `multiValueHeaders` shows a repeated Authorization header.
            let headers = match event.multi_value_headers.contains_key("authorization") {
                true => &event.multi_value_headers,
                false => &event.headers,
            };
            let method = event.http_method.as_ref().map_or(arn_method, |m| m.as_str());
            let key = event.resource.as_deref().map(|resource| format!("{method} {resource}"));
            let route = match &key {
                Some(key) => RouteName::Key(key),
                None => RouteName::Request { method, path: &path },
            };
            let dpop_headers = match event.multi_value_headers.contains_key("dpop") {
                true => &event.multi_value_headers,
                false => &event.headers,
            };
            // `requestContext.path` is the path the client sent: with the stage on the default endpoint, with the
            // base path on a custom domain. The event has no domain name of its own; its `Host` header names it.
            let client_path = event.request_context.path.as_deref().or(event.path.as_deref()).unwrap_or("");
            let dpop = ProofRequest {
                header: DpopHeader::of(dpop_headers),
                method,
                url: gateway_url(&event.headers, None, client_path),
            };
            let identity = event.request_context.identity.as_ref();
            let certificate = thumbprint_of(identity.and_then(|i| i.client_cert.as_ref()?.client_cert_pem.as_deref()));
            let request = AccessRequest { route, credentials: access_token_in(headers), dpop: Some(dpop), certificate };
            rest_response(authorize(service, &request).await?, method_arn)
        }
    }
}

/// The `x5t#S256` of the mutual-TLS client certificate an event carries (RFC 8705 §3.1); `None` without one. One
/// that cannot be read is logged and counts as none, so no certificate-bound token passes with it.
fn thumbprint_of(pem: Option<&str>) -> Option<CertificateThumbprint> {
    match ClientCertificate::from_pem(pem?) {
        Ok(certificate) => Some(certificate.thumbprint().clone()),
        Err(err) => {
            tracing::warn!(%err, "the event's client certificate cannot be read");
            None
        }
    }
}

/// The context of an allow (six strings); for a deny, the RFC 9449 §7.1 challenge of a DPoP refusal as
/// `www_authenticate`, or an empty object. API Gateway passes no deny context to the client (an HTTP API answers
/// 403, a REST API its gateway response); the local runner's demo route answers with it.
fn context(decision: &Decision) -> Result<Value, serde_json::Error> {
    match decision {
        Decision::Allow(context) => serde_json::to_value(context),
        Decision::Deny(denial) => Ok(match denial.dpop_challenge() {
            Some(challenge) => json!({ DPOP_CHALLENGE_KEY: challenge }),
            None => json!({}),
        }),
    }
}

/// The deny context's key holding a DPoP refusal's `WWW-Authenticate` challenge.
pub const DPOP_CHALLENGE_KEY: &str = "www_authenticate";

/// A REST authorizer's answer: an IAM policy allowing or denying `execute-api:Invoke` on the `methodArn` (this
/// method of this route only, so a cached policy never opens another route), or [`Unauthorized`] (401) when
/// the request has no valid token.
fn rest_response(decision: Decision, method_arn: &str) -> Result<Value, Error> {
    let (effect, principal) = match &decision {
        Decision::Allow(context) => (IamPolicyEffect::Allow, context.sub.clone()),
        Decision::Deny(denial) if denial.refusal() == Refusal::Unauthenticated => return Err(Box::new(Unauthorized)),
        Decision::Deny(_) => (IamPolicyEffect::Deny, DENIED_PRINCIPAL.to_owned()),
    };
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".to_owned()];
    statement.effect = effect;
    statement.resource = vec![method_arn.to_owned()];
    let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
    policy.version = Some("2012-10-17".to_owned());
    policy.statement = vec![statement];
    let mut response = ApiGatewayCustomAuthorizerResponse::<Value>::default();
    response.principal_id = Some(principal);
    response.policy_document = policy;
    response.context = context(&decision)?;
    let mut response = serde_json::to_value(response)?;
    // `usageIdentifierKey` is for API keys from the authorizer, which this one never hands out: left out, not null.
    if let Some(fields) = response.as_object_mut() {
        fields.retain(|_, value| !value.is_null());
    }
    Ok(response)
}

/// The method and the concrete path of a REST `methodArn`:
/// `arn:<partition>:execute-api:<region>:<account>:<api id>/<stage>/<METHOD>/<path>` gives `<METHOD>` and
/// `/<path>` (`/` when the path is empty).
pub fn method_and_path(method_arn: &str) -> Result<(&str, String), MalformedEvent> {
    let malformed = MalformedEvent("a methodArn that is not arn:…:execute-api:…:<api>/<stage>/<METHOD>/<path>");
    let parts: Vec<&str> = method_arn.splitn(6, ':').collect();
    let [arn, _partition, service, _region, _account, resource] = parts[..] else { return Err(malformed) };
    if arn != "arn" || service != "execute-api" {
        return Err(malformed);
    }
    let mut resource = resource.splitn(4, '/');
    let (Some(_api), Some(_stage), Some(method)) = (resource.next(), resource.next(), resource.next()) else {
        return Err(malformed);
    };
    if method.is_empty() {
        return Err(malformed);
    }
    Ok((method, format!("/{}", resource.next().unwrap_or(""))))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tessera::clock::{Clock, FixedClock};
    use tessera::config::AuthorizerConfig;
    use tessera::domain::client::ClientId;
    use tessera::domain::grant::Grant;
    use tessera::domain::id::FamilyId;
    use tessera::domain::scope::ScopeSet;
    use tessera::domain::tenant::TenantId;
    use tessera::domain::time::Timestamp;
    use tessera::domain::token::{OpaqueToken, TokenKind, TokenRecord};
    use tessera::entropy::SystemEntropy;
    use tessera::jwt::access_token;
    use tessera::jwt::keys::{KeyRing, SigningAlgorithm, SigningKey};
    use tessera::store::memory::MemoryStore;
    use tessera::store::{Record, TokenStore};
    use tessera::tenancy::ServedTenant;

    use super::*;

    const ISSUER: &str = "https://auth.example.com";
    const ORDERS: &str = "https://orders.example.com";
    const NOW: u64 = 1_800_000_000;
    const ARN: &str = "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod";

    struct Fixture {
        service: TokenService,
        jwt: String,
        opaque: String,
        refresh: String,
        expired: String,
        acme: String,
    }

    fn ring(kid: &str) -> KeyRing {
        KeyRing::new(vec![SigningKey::generate(SigningAlgorithm::ES256, kid).unwrap()]).unwrap()
    }

    fn grant(tenant: &TenantId, expires_in: u64) -> Grant {
        Grant {
            tenant: tenant.clone(),
            client_id: ClientId::parse("orders-app").unwrap(),
            subject: "alice".into(),
            username: None,
            user_details: Default::default(),
            amr: Vec::new(),
            app: Default::default(),
            scope: ScopeSet::parse("orders:read").unwrap(),
            audience: vec![ORDERS.into()],
            family: FamilyId::from_bytes([5; 16]),
            issued_at: Timestamp::from_secs(NOW - 10),
            expires_at: Timestamp::from_secs(NOW + expires_in),
            confirmation: None,
        }
    }

    async fn fixture() -> Fixture {
        let clock = Arc::new(FixedClock::at(Timestamp::from_secs(NOW)));
        let store = Arc::new(MemoryStore::new());
        let routes = AuthorizerConfig::from_toml(
            r#"routes = [{ route = "GET /orders/{id}", scopes = ["orders:read"], audience = "https://orders.example.com" },
                { route = "POST /orders", scopes = ["orders:write"], audience = "https://orders.example.com" }]"#,
        )
        .unwrap()
        .protected_routes()
        .unwrap();
        let acme_id = TenantId::parse("acme").unwrap();
        let service = TokenService::new(store.clone(), clock.clone(), Arc::new(SystemEntropy))
            .with_tenant(TenantId::default(), ServedTenant::new(Some(ISSUER.into()), ring("k1")))
            .with_tenant(acme_id.clone(), ServedTenant::new(Some(format!("{ISSUER}/t/acme")), ring("a1")))
            .with_protected_routes(routes);
        let default = TenantId::default();
        let now = clock.now();
        let sign = async |grant: &Grant, jti: &str| {
            let tenant = service.tenant(&grant.tenant, None, now).await.unwrap();
            access_token::sign(grant, &tenant.issuer, jti, tenant.keys()).unwrap()
        };
        let jwt = sign(&grant(&default, 300), "jti-1").await;
        let expired = sign(&Grant { issued_at: Timestamp::from_secs(NOW - 600), ..grant(&default, 0) }, "jti-2").await;
        let acme = sign(&grant(&acme_id, 300), "jti-3").await;
        let mut minted = Vec::new();
        for (kind, seed) in [(TokenKind::AccessToken, 1), (TokenKind::RefreshToken, 2)] {
            let token = OpaqueToken::mint(kind, &grant(&default, 300), [seed; 32]);
            store
                .put_new(Record::Token(TokenRecord::new(&token, grant(&default, 300))), Timestamp::from_secs(NOW))
                .await
                .unwrap();
            minted.push(token.expose().to_owned());
        }
        let [opaque, refresh] = <[String; 2]>::try_from(minted).unwrap();
        Fixture { service, jwt, opaque, refresh, expired, acme }
    }

    fn http_api(route_key: &str, authorization: Option<&str>) -> Value {
        let mut headers = serde_json::Map::new();
        headers.insert("accept".into(), json!("application/json"));
        if let Some(value) = authorization {
            headers.insert("authorization".into(), json!(value));
        }
        json!({
            "version": "2.0", "type": "REQUEST",
            "routeArn": format!("{ARN}/GET/orders/42"), "routeKey": route_key,
            "identitySource": authorization.map(|a| vec![a]),
            "rawPath": "/prod/orders/42", "rawQueryString": "", "headers": headers,
            "requestContext": {"accountId": "123456789012", "apiId": "abcdef1234", "domainName": "orders.example.com",
                "http": {"method": "GET", "path": "/prod/orders/42", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7",
                    "userAgent": "curl/8"}, "requestId": "r-1", "routeKey": route_key, "stage": "prod",
                "time": "12/Jan/2027:08:00:00 +0000", "timeEpoch": 1_800_000_000_000_u64},
            "pathParameters": {"id": "42"}
        })
    }

    fn rest_token(method: &str, path: &str, authorization: Option<&str>) -> Value {
        json!({"type": "TOKEN", "authorizationToken": authorization, "methodArn": format!("{ARN}/{method}{path}")})
    }

    fn rest_request(method: &str, resource: &str, path: &str, authorizations: &[&str]) -> Value {
        let last = authorizations.last().map(|a| json!({"Authorization": a})).unwrap_or(json!({}));
        let all = match authorizations {
            [] => json!({}),
            values => json!({ "Authorization": values }),
        };
        json!({
            "type": "REQUEST", "methodArn": format!("{ARN}/{method}{path}"), "resource": resource, "path": path,
            "httpMethod": method, "headers": last, "multiValueHeaders": all, "queryStringParameters": {},
            "pathParameters": {}, "stageVariables": {},
            "requestContext": {"path": format!("/prod{path}"), "accountId": "123456789012", "resourceId": "abc123",
                "stage": "prod", "requestId": "r-2", "resourcePath": resource, "httpMethod": method,
                "apiId": "abcdef1234"}
        })
    }

    fn bearer(token: &str) -> String {
        format!("Bearer {token}")
    }

    #[tokio::test]
    async fn http_api_events_get_simple_responses() {
        let f = fixture().await;
        for (token, jti) in [(&f.jwt, "jti-1"), (&f.opaque, "")] {
            let answer = handle(&f.service, http_api("GET /orders/{id}", Some(&bearer(token)))).await.unwrap();
            let context = json!({"sub": "alice", "client_id": "orders-app", "scope": "orders:read",
                "tenant": "default", "jti": jti, "username": ""});
            assert_eq!(answer, json!({"isAuthorized": true, "context": context}));
            // RFC 6750 §2.1 via RFC 9110 §11.1: the scheme is case-insensitive.
            let lower = handle(&f.service, http_api("GET /orders/{id}", Some(&format!("bearer {token}")))).await;
            assert_eq!(lower.unwrap()["isAuthorized"], true);
            let scope = handle(&f.service, http_api("POST /orders", Some(&bearer(token)))).await.unwrap();
            assert_eq!(scope, json!({"isAuthorized": false, "context": {}}));
        }
    }

    #[tokio::test]
    async fn bad_input_on_an_http_api_is_a_deny() {
        let f = fixture().await;
        let two = format!("Bearer {},Bearer {}", f.jwt, f.opaque);
        // The signature's first character, changed (its last may only carry padding bits, which decode alike).
        let at = f.jwt.rfind('.').unwrap() + 1;
        let flipped = if f.jwt[at..].starts_with('A') { "B" } else { "A" };
        let altered = format!("{}{flipped}{}", &f.jwt[..at], &f.jwt[at + 1..]);
        let cases = [
            ("no header", None),
            ("two tokens in one header", Some(format!("Bearer {} {}", f.jwt, f.opaque))),
            ("two headers, joined by API Gateway", Some(two)),
            ("Bearer with nothing after it", Some("Bearer".to_owned())),
            ("Bearer and spaces", Some("Bearer   ".to_owned())),
            ("another scheme", Some(format!("Basic {}", f.jwt))),
            ("a garbage token", Some("Bearer garbage".to_owned())),
            ("a refresh token", Some(bearer(&f.refresh))),
            ("an expired token", Some(bearer(&f.expired))),
            ("another tenant's token", Some(bearer(&f.acme))),
            ("a token with its signature altered", Some(bearer(&altered))),
        ];
        for (name, header) in cases {
            let answer = handle(&f.service, http_api("GET /orders/{id}", header.as_deref())).await.unwrap();
            assert_eq!(answer, json!({"isAuthorized": false, "context": {}}), "{name}");
        }
        for route in ["GET /admin", "$default", "", "GET /orders/42"] {
            let answer = handle(&f.service, http_api(route, Some(&bearer(&f.jwt)))).await.unwrap();
            assert_eq!(answer["isAuthorized"], false, "unconfigured route {route:?}");
        }
    }

    #[tokio::test]
    async fn rest_token_events_get_policies_or_unauthorized() {
        let f = fixture().await;
        let allowed = handle(&f.service, rest_token("GET", "/orders/42", Some(&bearer(&f.jwt)))).await.unwrap();
        let fields: Vec<&str> = allowed.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(fields, ["context", "policyDocument", "principalId"]);
        assert_eq!(allowed["principalId"], "alice");
        assert_eq!(
            allowed["policyDocument"],
            json!({"Version": "2012-10-17", "Statement": [{"Action": ["execute-api:Invoke"], "Effect": "Allow",
                "Resource": [format!("{ARN}/GET/orders/42")]}]})
        );
        assert_eq!(allowed["context"]["jti"], "jti-1");
        assert_eq!(allowed["context"]["scope"], "orders:read");

        let denied = handle(&f.service, rest_token("POST", "/orders", Some(&bearer(&f.opaque)))).await.unwrap();
        assert_eq!(denied["principalId"], DENIED_PRINCIPAL);
        assert_eq!(denied["policyDocument"]["Statement"][0]["Effect"], "Deny");
        assert_eq!(denied["policyDocument"]["Statement"][0]["Resource"][0], format!("{ARN}/POST/orders"));
        assert_eq!(denied["context"], json!({}));
        let unconfigured = handle(&f.service, rest_token("GET", "/admin", Some(&bearer(&f.jwt)))).await.unwrap();
        assert_eq!(unconfigured["policyDocument"]["Statement"][0]["Effect"], "Deny");

        let empty = "Bearer".to_owned();
        for header in [None, Some(empty.as_str()), Some("Bearer garbage"), Some(f.refresh.as_str())] {
            let err = handle(&f.service, rest_token("GET", "/orders/42", header)).await.unwrap_err();
            assert_eq!(err.to_string(), "Unauthorized", "{header:?}: API Gateway's 401");
            assert!(err.downcast_ref::<Unauthorized>().is_some());
        }
        for header in [bearer(&f.refresh), bearer(&f.expired), bearer(&f.acme)] {
            let err = handle(&f.service, rest_token("GET", "/orders/42", Some(&header))).await.unwrap_err();
            assert!(err.downcast_ref::<Unauthorized>().is_some());
        }
    }

    #[tokio::test]
    async fn rest_request_events_match_the_resource_and_see_repeated_headers() {
        let f = fixture().await;
        let token = bearer(&f.opaque);
        let allowed = handle(&f.service, rest_request("GET", "/orders/{id}", "/orders/42", &[&token])).await.unwrap();
        assert_eq!(allowed["policyDocument"]["Statement"][0]["Effect"], "Allow");
        assert_eq!(allowed["context"]["client_id"], "orders-app");
        assert_eq!(allowed["context"]["jti"], "");
        let denied = handle(&f.service, rest_request("POST", "/orders", "/orders", &[&token])).await.unwrap();
        assert_eq!(denied["policyDocument"]["Statement"][0]["Effect"], "Deny");
        let jwt = bearer(&f.jwt);
        for (name, headers) in [("two headers", vec![token.as_str(), jwt.as_str()]), ("none", vec![])] {
            let err = handle(&f.service, rest_request("GET", "/orders/{id}", "/orders/42", &headers)).await;
            assert!(err.unwrap_err().downcast_ref::<Unauthorized>().is_some(), "{name}");
        }
    }

    #[tokio::test]
    async fn events_of_no_known_type_are_errors_never_allows() {
        let f = fixture().await;
        let token = bearer(&f.jwt);
        let mut no_arn = rest_token("GET", "/orders/42", Some(&token));
        no_arn.as_object_mut().unwrap().remove("methodArn");
        let mut bad_arn = rest_token("GET", "/orders/42", Some(&token));
        bad_arn["methodArn"] = json!("arn:aws:lambda:eu-west-1:123456789012:function:orders");
        let mut wrong_types = http_api("GET /orders/{id}", Some(&token));
        wrong_types["headers"] = json!(["authorization", token]);
        let mut version_one = http_api("GET /orders/{id}", Some(&token));
        version_one["version"] = json!("1.0");
        let cases = [
            json!(null),
            json!([]),
            json!("TOKEN"),
            json!({}),
            json!({"type": "WEBSOCKET", "methodArn": format!("{ARN}/GET/orders/42")}),
            json!({"type": "token", "authorizationToken": token, "methodArn": format!("{ARN}/GET/orders/42")}),
            json!({"type": "TOKEN", "authorizationToken": 42, "methodArn": format!("{ARN}/GET/orders/42")}),
            json!({"Records": []}),
            no_arn,
            bad_arn,
            wrong_types,
            version_one,
        ];
        for event in cases {
            let err = handle(&f.service, event.clone()).await.unwrap_err();
            assert!(err.downcast_ref::<MalformedEvent>().is_some(), "{event}: {err}");
        }
    }

    #[test]
    fn a_method_arn_names_the_method_and_the_concrete_path() {
        let arn = |rest: &str| format!("arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/{rest}");
        assert_eq!(method_and_path(&arn("prod/GET/orders/42")).unwrap(), ("GET", "/orders/42".to_owned()));
        assert_eq!(method_and_path(&arn("prod/POST/")).unwrap(), ("POST", "/".to_owned()));
        assert_eq!(method_and_path(&arn("prod/DELETE")).unwrap(), ("DELETE", "/".to_owned()));
        assert_eq!(
            method_and_path("arn:aws-cn:execute-api:cn-north-1:123456789012:api/stage/GET/a/b/c").unwrap(),
            ("GET", "/a/b/c".to_owned())
        );
        for bad in
            ["", "arn:aws:lambda:eu-west-1:1:function:x", "arn:aws:execute-api:r:a:api/stage", "x:y", &arn("prod//x")]
        {
            assert!(method_and_path(bad).is_err(), "{bad}");
        }
    }
}

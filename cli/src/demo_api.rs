//! The runner's demo API, `/demo/orders`: a route of "our user's own API", protected by the authorizer function's
//! handler exactly as an API Gateway HTTP API protects a route with a Lambda authorizer (payload format 2.0,
//! simple responses). Its requirements are the `[[authorizer.routes]]` of the configuration (`examples/local.toml`:
//! `GET /demo/orders` needs `orders:read` for `https://orders.example.com`). The request becomes the authorizer's
//! event, route key `<METHOD> /demo/orders`, and:
//! - without an `Authorization` header: 401 `{"message":"Unauthorized"}` and `WWW-Authenticate: Bearer`, as
//!   API Gateway answers when the identity source is missing, without calling the authorizer;
//! - `isAuthorized: false`: 403 `{"message":"Forbidden"}`, as API Gateway answers; but for a DPoP refusal
//!   (RFC 9449 §7.1), 401 with the `WWW-Authenticate: DPoP` challenge the authorizer put in its deny context, as a
//!   resource server answers (API Gateway itself cannot: see the authorizer function's documentation);
//! - `isAuthorized: true`: 200 and a small JSON body holding the context the integration received;
//! - on a mutual-TLS connection (`tessera serve --tls-client-ca` or `--tls-client-any`), the event carries the
//!   client certificate at `requestContext.authentication.clientCert`, so certificate-bound tokens (RFC 8705 §3)
//!   are checked as on an API Gateway mutual-TLS domain;
//! - an authorizer error (the store unavailable): 500 `{"message":"Internal Server Error"}`.

use lambda_http::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, HOST, USER_AGENT, WWW_AUTHENTICATE};
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::{Map, Value, json};
use tessera::TokenService;

/// The demo route's path.
pub const DEMO_ORDERS_PATH: &str = "/demo/orders";

/// The `WWW-Authenticate` challenge of a request without credentials (RFC 6750 §3: no error code then).
pub const BEARER_CHALLENGE: &str = "Bearer realm=\"tessera\"";

/// Serves one request of the demo route through the authorizer's handler.
pub async fn serve(service: &TokenService, request: Request) -> Response<Body> {
    if !request.headers().contains_key(AUTHORIZATION) {
        let mut response = reply(StatusCode::UNAUTHORIZED, json!({"message": "Unauthorized"}));
        response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static(BEARER_CHALLENGE));
        return response;
    }
    let event = authorizer_event(&request, service.clock.now().as_micros() / 1_000);
    match tessera_authorizer::handle(service, event).await {
        Ok(answer) if answer["isAuthorized"] == true => {
            reply(StatusCode::OK, json!({"orders": [], "authorizer": answer["context"]}))
        }
        Ok(answer) => match answer["context"][tessera_authorizer::DPOP_CHALLENGE_KEY].as_str() {
            Some(challenge) => {
                let mut response = reply(StatusCode::UNAUTHORIZED, json!({"message": "Unauthorized"}));
                if let Ok(value) = HeaderValue::from_str(challenge) {
                    response.headers_mut().insert(WWW_AUTHENTICATE, value);
                }
                response
            }
            None => reply(StatusCode::FORBIDDEN, json!({"message": "Forbidden"})),
        },
        Err(err) => {
            tracing::error!(error = %err, "authorizer failed");
            reply(StatusCode::INTERNAL_SERVER_ERROR, json!({"message": "Internal Server Error"}))
        }
    }
}

/// The HTTP API (payload format 2.0) authorizer event API Gateway would send for `request`: header names in lower
/// case, repeated headers joined with commas, the `Authorization` header as the identity source, and
/// `X-Forwarded-Proto` set to the scheme the runner serves (`http`, or `https` over TLS), as API Gateway sets it to
/// its own.
pub fn authorizer_event(request: &Request, now_ms: u64) -> Value {
    let method = request.method().as_str();
    let route_key = format!("{method} {DEMO_ORDERS_PATH}");
    let mut headers = Map::new();
    for name in request.headers().keys() {
        let values: Vec<String> = request
            .headers()
            .get_all(name)
            .iter()
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .collect();
        headers.insert(name.as_str().to_owned(), Value::String(values.join(",")));
    }
    let scheme = request.uri().scheme_str().unwrap_or("http");
    headers.insert("x-forwarded-proto".to_owned(), Value::String(scheme.to_owned()));
    let header = |name| request.headers().get(name).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let path = request.uri().path();
    // On a mutual-TLS connection, the client certificate, where API Gateway's mutual TLS puts it (RFC 8705 §3).
    // (`validity` is a member API Gateway always sends, and its event type requires.)
    let authentication = tessera::wire::client_cert::presented_certificate_pem(request)
        .map(|pem| json!({"clientCert": {"clientCertPem": pem, "validity": {}}}));
    json!({
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": format!("arn:aws:execute-api:local:000000000000:local/$default/{method}{path}"),
        "identitySource": [headers.get("authorization")],
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": request.uri().query().unwrap_or(""),
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            // The runner's own name (the request's absolute URI: see the runner), as API Gateway names its domain.
            "domainName": request.uri().authority().map_or_else(|| header(HOST).unwrap_or_default(), |a| a.to_string()),
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                "userAgent": header(USER_AGENT).unwrap_or_default()},
            "requestId": format!("local-{now_ms}"),
            "routeKey": route_key,
            "stage": "$default",
            "timeEpoch": now_ms,
            "authentication": authentication,
        },
    })
}

/// A JSON answer, not cached.
fn reply(status: StatusCode, body: Value) -> Response<Body> {
    let mut response = Response::new(Body::Text(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

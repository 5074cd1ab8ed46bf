//! The routes API Gateway serves (see `template.yaml`), mapped to the function handlers, so the local runner
//! and Lambda run the very same code. Each route also exists under `/t/<tenant>/`. More routes exist only in the
//! runner: `POST /local/events` hands a revocation event (the JSON EventBridge or SQS would deliver) to the
//! revocation-events handler, `GET /local/revocations` shows the revocations the runner announced (what a
//! deployment puts on EventBridge: [`tessera::announcement`]), `POST /local/tokens/inspect` is `tessera tokens
//! inspect`, `GET /local/client-certificate` shows the mutual-TLS client certificate a request came with (what
//! handlers read: [`tessera::wire::client_cert::presented_certificate`]), and `/demo/orders` is a protected API's
//! route behind the authorizer's handler ([`crate::demo_api`]).

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Error, Request, Response};
use serde_json::Value;
use tessera::TokenService;
use tessera::events::{JsonRefusal, MalformedEvent};
use tessera::store::StoreError;
use tessera::wire::OAuthError;
use tessera::wire::http::METADATA_PATH;
use tessera::wire::response::json_response;

/// A function the API routes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /oauth2/token`.
    Token,
    /// `POST /oauth2/introspect`.
    Introspect,
    /// `POST /oauth2/revoke`.
    Revoke,
    /// `GET` and `HEAD` of `/.well-known/oauth-authorization-server` and `/.well-known/jwks.json`.
    Metadata,
    /// `POST /ssf/events`: Security Event Tokens pushed by a Shared Signals transmitter (RFC 8935).
    SsfEvents,
    /// `POST /local/events`: the local runner's door to the revocation-events function (never deployed).
    LocalEvents,
    /// `/demo/orders`: a demo API route the authorizer function protects (never deployed).
    DemoOrders,
    /// `POST /local/tokens/inspect`: `tessera tokens inspect` on the runner's store (never deployed).
    LocalTokenInspect,
    /// `GET /local/revocations`: the revocations the runner announced, most recent last (never deployed).
    LocalRevocations,
    /// `GET /local/client-certificate`: the client certificate of the request's TLS connection (never deployed).
    LocalClientCertificate,
}

/// The path of [`Route::LocalEvents`].
pub const LOCAL_EVENTS_PATH: &str = "/local/events";
/// The path of [`Route::LocalTokenInspect`].
pub const LOCAL_TOKEN_INSPECT_PATH: &str = "/local/tokens/inspect";
/// The path of [`Route::LocalRevocations`].
pub const LOCAL_REVOCATIONS_PATH: &str = "/local/revocations";
/// The path of [`Route::LocalClientCertificate`].
pub const LOCAL_CLIENT_CERTIFICATE_PATH: &str = "/local/client-certificate";

impl Route {
    /// The route for a path, or `None` (404).
    pub fn for_path(path: &str) -> Option<Self> {
        if path == LOCAL_EVENTS_PATH {
            return Some(Self::LocalEvents);
        }
        if path == LOCAL_TOKEN_INSPECT_PATH {
            return Some(Self::LocalTokenInspect);
        }
        if path == LOCAL_REVOCATIONS_PATH {
            return Some(Self::LocalRevocations);
        }
        if path == LOCAL_CLIENT_CERTIFICATE_PATH {
            return Some(Self::LocalClientCertificate);
        }
        if path == crate::demo_api::DEMO_ORDERS_PATH {
            return Some(Self::DemoOrders);
        }
        // RFC 8414 §3.1: a tenant's metadata at /.well-known/oauth-authorization-server/t/<tenant>.
        if let Some(tenant) = path.strip_prefix(METADATA_PATH).and_then(|rest| rest.strip_prefix("/t/")) {
            return (!tenant.is_empty() && !tenant.contains('/')).then_some(Self::Metadata);
        }
        let path = match path.strip_prefix("/t/") {
            Some(rest) => &rest[rest.find('/')?..],
            None => path,
        };
        match path {
            "/oauth2/token" => Some(Self::Token),
            "/oauth2/introspect" => Some(Self::Introspect),
            "/oauth2/revoke" => Some(Self::Revoke),
            "/.well-known/oauth-authorization-server" | "/.well-known/jwks.json" => Some(Self::Metadata),
            "/ssf/events" => Some(Self::SsfEvents),
            _ => None,
        }
    }

    /// Runs the route's handler.
    pub async fn handle(self, service: &TokenService, request: Request) -> Result<Response<Body>, Error> {
        match self {
            Self::Token => tessera_token::handle(service, request).await,
            Self::Introspect => tessera_introspect::handle(service, request).await,
            Self::Revoke => tessera_revoke::handle(service, request).await,
            Self::Metadata => tessera_metadata::handle(service, request).await,
            Self::SsfEvents => tessera_ssf_receiver::handle(service, request).await,
            Self::LocalEvents => Ok(deliver_event(service, request).await),
            Self::DemoOrders => Ok(crate::demo_api::serve(service, request).await),
            Self::LocalTokenInspect => Ok(inspect_token(service, request).await),
            Self::LocalRevocations => Ok(recent_announcements(service, &request)),
            Self::LocalClientCertificate => Ok(client_certificate(&request)),
        }
    }

    /// Whether the route is the runner's own, unauthenticated: it answers loopback callers naming the runner only.
    pub fn local_only(self) -> bool {
        matches!(
            self,
            Self::LocalEvents | Self::LocalTokenInspect | Self::LocalRevocations | Self::LocalClientCertificate
        )
    }
}

/// What `tessera tokens inspect` posts to the runner.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct InspectRequest {
    /// The token.
    pub token: String,
    /// The tenant asked about.
    pub tenant: String,
}

/// The refusal of a request to a local route that is not a JSON `POST` (405 naming `usage`, or 415): a web page
/// cannot post JSON cross-origin to the loopback runner without a CORS preflight.
fn refused_unless_json_post(request: &Request, usage: &'static str) -> Option<Response<Body>> {
    if request.method() != Method::POST {
        return Some(
            OAuthError::invalid_request(usage)
                .with_status(StatusCode::METHOD_NOT_ALLOWED)
                .with_header("allow", "POST".to_owned())
                .into_response(),
        );
    }
    let json = request.headers().get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(';').next().is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
    });
    if !json {
        return Some(
            OAuthError::invalid_request("Content-Type must be application/json")
                .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
                .into_response(),
        );
    }
    None
}

/// Inspects a posted token (`{"token","tenant"}`, JSON only, like `/local/events`) on the runner's store: 200 with
/// the [`tessera::oauth::inspect::Inspection`], 400 for a bad body or an unknown tenant, 503 when the store fails.
async fn inspect_token(service: &TokenService, request: Request) -> Response<Body> {
    if let Some(refused) = refused_unless_json_post(&request, "POST {\"token\": …, \"tenant\": …}") {
        return refused;
    }
    let Ok(asked) = serde_json::from_slice::<InspectRequest>(request.body().as_ref()) else {
        return OAuthError::invalid_request("the body must be {\"token\": \"…\", \"tenant\": \"…\"}").into_response();
    };
    let Ok(tenant) = tessera::domain::tenant::TenantId::parse(&asked.tenant) else {
        return OAuthError::invalid_request("tenant is not a valid tenant id").into_response();
    };
    match tessera::oauth::inspect::inspect(service, &tenant, &asked.token).await {
        Ok(inspection) => json_response(StatusCode::OK, &inspection),
        Err(tessera::oauth::inspect::InspectError::Tenant { tenant, .. }) => {
            OAuthError::invalid_request(format!("the runner does not serve tenant {tenant}")).into_response()
        }
        Err(tessera::oauth::inspect::InspectError::Store(StoreError::Unavailable { retry_after_secs, .. })) => {
            OAuthError::temporarily_unavailable(retry_after_secs).into_response()
        }
        Err(tessera::oauth::inspect::InspectError::Store(_)) => OAuthError::server_error().into_response(),
    }
}

/// The revocations the runner announced, oldest first (`{"announcements": [detail, …]}`, at most the announcer's
/// bound): `GET` only (405 otherwise); 404 when announcements go to a bus rather than stay here.
fn recent_announcements(service: &TokenService, request: &Request) -> Response<Body> {
    if request.method() != Method::GET {
        return OAuthError::invalid_request("GET the announced revocations")
            .with_status(StatusCode::METHOD_NOT_ALLOWED)
            .with_header("allow", "GET".to_owned())
            .into_response();
    }
    match service.announcer.recent() {
        // A struct, not a `json!` map: the details keep their schema's field order.
        Some(announcements) => {
            #[derive(serde::Serialize)]
            struct Listed {
                announcements: Vec<tessera::announcement::RevocationAnnouncement>,
            }
            json_response(StatusCode::OK, &Listed { announcements })
        }
        None => OAuthError::invalid_request("revocations are announced on an event bus, not kept here")
            .with_status(StatusCode::NOT_FOUND)
            .into_response(),
    }
}

/// The client certificate the request's TLS connection presented, as handlers read it (from the request context,
/// never a header): 200 with its `x5t#S256` thumbprint, RFC 4514 subject DN and subjectAltNames; 404 when there
/// was none; 400 when it is not a well-formed certificate; 405 for a method other than `GET`.
fn client_certificate(request: &Request) -> Response<Body> {
    use tessera::wire::client_cert::{SubjectAltName, presented_certificate};
    if request.method() != Method::GET {
        return OAuthError::invalid_request("GET the client certificate")
            .with_status(StatusCode::METHOD_NOT_ALLOWED)
            .with_header("allow", "GET".to_owned())
            .into_response();
    }
    match presented_certificate(request) {
        Ok(Some(certificate)) => {
            let names: Vec<Value> = certificate
                .subject_alt_names()
                .iter()
                .map(|name| match name {
                    SubjectAltName::Dns(dns) => serde_json::json!({ "dns": dns }),
                    SubjectAltName::Uri(uri) => serde_json::json!({ "uri": uri }),
                    SubjectAltName::Ip(ip) => serde_json::json!({ "ip": ip.to_string() }),
                    SubjectAltName::Email(email) => serde_json::json!({ "email": email }),
                })
                .collect();
            let shown = serde_json::json!({
                "x5t#S256": certificate.thumbprint().as_str(),
                "subject_dn": certificate.subject_dn(),
                "subject_alt_names": names,
            });
            json_response(StatusCode::OK, &shown)
        }
        Ok(None) => OAuthError::invalid_request("no client certificate came with this request's TLS connection")
            .with_status(StatusCode::NOT_FOUND)
            .into_response(),
        Err(err) => OAuthError::invalid_request(err.to_string()).into_response(),
    }
}

/// Delivers a posted event to the revocation-events handler: 200 with its answer (for an SQS batch, the
/// `batchItemFailures`), 400 for an event it rejects, 503 when the store is unavailable.
async fn deliver_event(service: &TokenService, request: Request) -> Response<Body> {
    if let Some(refused) = refused_unless_json_post(&request, "POST a revocation event") {
        return refused;
    }
    let event: Value = match tessera::events::parse_json_strictly(request.body().as_ref()) {
        Ok(event) => event,
        Err(twice @ JsonRefusal::DuplicateKey) => {
            return OAuthError::invalid_request(twice.to_string()).into_response();
        }
        // In our words: serde's parser text ("EOF while parsing an object at line 1 column 1") says nothing to
        // someone who posted a revocation event.
        Err(_) => {
            return OAuthError::invalid_request(
                "the body is not a JSON revocation event: post an EventBridge event or an SQS batch as JSON",
            )
            .into_response();
        }
    };
    let deps = tessera_revocation_events::Deps {
        store: service.store.as_ref(),
        clock: service.clock.as_ref(),
        tenants: service,
        identity_events: service.identity_events(),
        announcer: service.announcer.as_ref(),
    };
    match tessera_revocation_events::handle(deps, event).await {
        Ok(answer) => json_response(StatusCode::OK, &answer),
        Err(err) => {
            match err.downcast_ref::<StoreError>() {
                Some(StoreError::Unavailable { retry_after_secs, .. }) => {
                    return OAuthError::temporarily_unavailable(*retry_after_secs).into_response();
                }
                Some(_) => return OAuthError::server_error().into_response(),
                None => {}
            }
            // Applied, but not announced: a re-delivery announces it.
            if err.downcast_ref::<tessera::announcement::AnnounceError>().is_some() {
                return OAuthError::temporarily_unavailable(1).into_response();
            }
            let description = err.downcast_ref::<MalformedEvent>().map_or_else(|| err.to_string(), |m| m.to_string());
            OAuthError::invalid_request(description).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_plain_and_tenant_paths() {
        assert_eq!(Route::for_path("/oauth2/token"), Some(Route::Token));
        assert_eq!(Route::for_path("/t/acme/oauth2/introspect"), Some(Route::Introspect));
        assert_eq!(Route::for_path("/.well-known/jwks.json"), Some(Route::Metadata));
        assert_eq!(Route::for_path("/ssf/events"), Some(Route::SsfEvents));
        assert_eq!(Route::for_path("/t/acme/ssf/events"), Some(Route::SsfEvents));
        assert_eq!(Route::for_path("/oauth2/token/"), None);
        assert_eq!(Route::for_path("/t/acme"), None);
        assert_eq!(Route::for_path("/local/events"), Some(Route::LocalEvents));
        assert_eq!(Route::for_path("/local/revocations"), Some(Route::LocalRevocations));
        assert!(Route::LocalRevocations.local_only());
        assert_eq!(Route::for_path("/local/client-certificate"), Some(Route::LocalClientCertificate));
        assert!(Route::LocalClientCertificate.local_only());
        assert_eq!(Route::for_path("/t/acme/local/events"), None);
        assert_eq!(Route::for_path("/demo/orders"), Some(Route::DemoOrders));
        assert_eq!(Route::for_path("/t/acme/demo/orders"), None);
        assert_eq!(Route::for_path("/demo/orders/1"), None);
        assert_eq!(Route::for_path("/"), None);
        assert_eq!(Route::for_path("/.well-known/oauth-authorization-server/t/acme"), Some(Route::Metadata));
        assert_eq!(Route::for_path("/.well-known/oauth-authorization-server/t/"), None);
        assert_eq!(Route::for_path("/.well-known/oauth-authorization-server/t/acme/x"), None);
    }
}

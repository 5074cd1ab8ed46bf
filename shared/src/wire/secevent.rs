//! Push-based Security Event Token delivery (RFC 8935) on the wire: the request a transmitter makes (`POST` of an
//! `application/secevent+jwt` body, its bearer authorization) and the answers, `202 Accepted` with no body
//! (§2.2) or the §2.3 error body `{"err": …, "description": …}` with one of the §2.4 codes.

use std::borrow::Cow;

use http::StatusCode;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, WWW_AUTHENTICATE};
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use super::OAuthError;
use super::bearer::{BearerError, bearer_token_in};
use super::http::tenant_of;
use crate::domain::tenant::TenantId;
use crate::store::StoreError;

/// The media type of a SET (RFC 8417 §7.2), the only one a push request may carry (RFC 8935 §2.1).
pub const SECEVENT_MEDIA_TYPE: &str = "application/secevent+jwt";

/// The largest SET accepted, in bytes: a signed SET is a JWT, refused over the JWT limit anyway; the body is
/// refused with 413 before anything else reads it.
pub const MAX_SET_BYTES: usize = crate::jwt::access_token::MAX_JWT_LEN;

/// The realm of the `WWW-Authenticate` challenge a transmitter gets without valid authorization.
const REALM: &str = "tessera-ssf";

/// The Security Event Token error codes (RFC 8935 §2.4, the IANA "Security Event Token Error Codes" registry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetErrorCode {
    /// The request body cannot be parsed as a SET, or an event payload does not conform to its definition.
    InvalidRequest,
    /// A key used to sign the SET is invalid or unacceptable (unknown, wrong algorithm, bad signature, unsigned).
    InvalidKey,
    /// The SET issuer is invalid for this recipient.
    InvalidIssuer,
    /// The SET audience does not correspond to this recipient.
    InvalidAudience,
    /// The transmitter could not be authenticated.
    AuthenticationFailed,
    /// The transmitter is not authorized to transmit this SET.
    AccessDenied,
}

impl SetErrorCode {
    /// The code as the registry spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidKey => "invalid_key",
            Self::InvalidIssuer => "invalid_issuer",
            Self::InvalidAudience => "invalid_audience",
            Self::AuthenticationFailed => "authentication_failed",
            Self::AccessDenied => "access_denied",
        }
    }

    /// The status RFC 8935 §2.3 answers with: 400 for a SET that fails, 401 and 403 for a transmitter that does.
    pub fn status(self) -> StatusCode {
        match self {
            Self::AuthenticationFailed => StatusCode::UNAUTHORIZED,
            Self::AccessDenied => StatusCode::FORBIDDEN,
            Self::InvalidRequest | Self::InvalidKey | Self::InvalidIssuer | Self::InvalidAudience => {
                StatusCode::BAD_REQUEST
            }
        }
    }
}

impl Serialize for SetErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Why a push was not acknowledged: a refusal in RFC 8935's words, or a store failure (503 or 500, in Tessera's
/// usual error body: RFC 8935 leaves general HTTP errors to HTTP, and the transmitter retries either).
#[derive(Debug)]
pub enum SetError {
    /// Refused for good: the same SET will be refused again.
    Refused {
        /// The RFC 8935 §2.4 code.
        code: SetErrorCode,
        /// Why, for the transmitter's operator: never a subject, a token or a key.
        description: Cow<'static, str>,
        /// The HTTP status: the code's, or that of a general HTTP error (405, 413, 415, 404).
        status: StatusCode,
    },
    /// The store failed: the transmitter should retry.
    Store(OAuthError),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    err: SetErrorCode,
    description: &'a str,
}

impl SetError {
    /// A refusal with `code`'s status.
    pub fn new(code: SetErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self::Refused { code, description: description.into(), status: code.status() }
    }

    /// `invalid_request`.
    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(SetErrorCode::InvalidRequest, description)
    }

    /// The same refusal under another HTTP status (a general HTTP error).
    pub fn with_status(self, status: StatusCode) -> Self {
        match self {
            Self::Refused { code, description, .. } => Self::Refused { code, description, status },
            store => store,
        }
    }

    /// The RFC 8935 code, for a refusal.
    pub fn code(&self) -> Option<SetErrorCode> {
        match self {
            Self::Refused { code, .. } => Some(*code),
            Self::Store(_) => None,
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Refused { status, .. } => *status,
            Self::Store(err) => err.status(),
        }
    }

    /// The answer: the RFC 8935 §2.3 body (`Content-Type: application/json`, `Cache-Control: no-store`), a
    /// `WWW-Authenticate` challenge on 401 and `Allow: POST` on 405; a store failure as Tessera's 503 (with
    /// `Retry-After`) or 500.
    pub fn into_response(self) -> Response<Body> {
        let (code, description, status) = match self {
            Self::Refused { code, description, status } => (code, description, status),
            Self::Store(err) => return err.into_response(),
        };
        let body = serde_json::to_string(&ErrorBody { err: code, description: &description })
            .unwrap_or_else(|_| r#"{"err":"invalid_request"}"#.to_owned());
        let mut response = Response::new(Body::Text(body));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
        headers.insert(CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
        headers.insert(PRAGMA, http::HeaderValue::from_static("no-cache"));
        if status == StatusCode::UNAUTHORIZED
            && let Ok(value) = format!("Bearer realm=\"{REALM}\"").parse()
        {
            headers.insert(WWW_AUTHENTICATE, value);
        }
        if status == StatusCode::METHOD_NOT_ALLOWED {
            headers.insert(ALLOW, http::HeaderValue::from_static("POST"));
        }
        response
    }
}

impl From<StoreError> for SetError {
    fn from(err: StoreError) -> Self {
        Self::Store(err.into())
    }
}

impl std::fmt::Display for SetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refused { code, description, .. } => write!(f, "{}: {description}", code.as_str()),
            Self::Store(err) => write!(f, "{err}"),
        }
    }
}

/// The SET was received and will be acted on: `202 Accepted` with an empty body (RFC 8935 §2.2).
pub fn accepted() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::ACCEPTED;
    response.headers_mut().insert(CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    response
}

/// A push request as it arrived: its tenant, its bearer authorization (or why it has none), its SET. Its `Debug`
/// shows neither the transmitter's bearer token nor the SET.
pub struct SetDelivery {
    /// The tenant its path names (`/t/<tenant>/ssf/events`; `default` for `/ssf/events`).
    pub tenant: TenantId,
    /// The bearer token of its `Authorization` header (RFC 6750 §2.1), or why there is none.
    pub authorization: Result<String, BearerError>,
    /// The SET: the body, a compact JWS, surrounding whitespace trimmed.
    pub set: String,
}

impl std::fmt::Debug for SetDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetDelivery")
            .field("tenant", &self.tenant)
            .field("authorization", &self.authorization.as_ref().map(|_| "<redacted>"))
            .field("set_len", &self.set.len())
            .finish()
    }
}

impl SetDelivery {
    /// Reads a push request: `POST` (else 405), a tenant (else 404), `Content-Type: application/secevent+jwt`
    /// (parameters aside; else 415), at most [`MAX_SET_BYTES`] (else 413) of text.
    pub fn from_http(request: &Request) -> Result<Self, SetError> {
        if request.method() != http::Method::POST {
            return Err(SetError::invalid_request("POST the SET").with_status(StatusCode::METHOD_NOT_ALLOWED));
        }
        let tenant = tenant_of(request)
            .map_err(|_| SetError::invalid_request("unknown tenant").with_status(StatusCode::NOT_FOUND))?;
        let media_type =
            request.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).and_then(|v| v.split(';').next());
        if !media_type.is_some_and(|m| m.trim().eq_ignore_ascii_case(SECEVENT_MEDIA_TYPE)) {
            return Err(SetError::invalid_request(format!("Content-Type must be {SECEVENT_MEDIA_TYPE}"))
                .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        }
        let body: &[u8] = match request.body() {
            Body::Empty => &[],
            Body::Text(text) => text.as_bytes(),
            Body::Binary(bytes) => bytes,
            #[allow(unreachable_patterns)]
            _ => &[],
        };
        if body.len() > MAX_SET_BYTES {
            return Err(SetError::invalid_request(format!("the SET is larger than {MAX_SET_BYTES} bytes"))
                .with_status(StatusCode::PAYLOAD_TOO_LARGE));
        }
        let set = std::str::from_utf8(body)
            .map_err(|_| SetError::invalid_request("the body is not a compact JWS"))?
            .trim_matches(|c: char| c.is_ascii_whitespace())
            .to_owned();
        let authorization = bearer_token_in(request.headers()).map(str::to_owned);
        Ok(Self { tenant, authorization, set })
    }
}

#[cfg(test)]
mod tests {
    /// Neither the transmitter's bearer token nor the SET reaches a log through `Debug`.
    #[test]
    fn debug_shows_no_authorization_nor_set() {
        let delivery = SetDelivery {
            tenant: crate::domain::tenant::TenantId::default(),
            authorization: Ok("transmitter-bearer-token".into()),
            set: "eyJhbGciOiJFUzI1NiJ9.the-set.c2ln".into(),
        };
        let shown = format!("{delivery:?}");
        assert!(!shown.contains("transmitter-bearer-token") && !shown.contains("the-set"), "{shown}");
    }

    use super::*;

    fn request(method: &str, path: &str, content_type: Option<&str>, body: &str) -> Request {
        let mut builder = http::Request::builder().method(method).uri(path);
        if let Some(content_type) = content_type {
            builder = builder.header(CONTENT_TYPE, content_type);
        }
        builder.header("authorization", "Bearer abc").body(Body::Text(body.into())).unwrap()
    }

    /// RFC 8935 §2.1: the SET is POSTed as `application/secevent+jwt`; anything else is a general HTTP error.
    #[test]
    fn a_push_is_a_post_of_a_secevent_jwt_of_bounded_size() {
        let ok = SetDelivery::from_http(&request("POST", "/t/acme/ssf/events", Some(SECEVENT_MEDIA_TYPE), "a.b.c\n"))
            .unwrap();
        assert_eq!((ok.tenant.as_str(), ok.set.as_str(), ok.authorization.as_deref()), ("acme", "a.b.c", Ok("abc")));
        let with_charset = request("POST", "/ssf/events", Some("Application/SecEvent+JWT; charset=utf-8"), "a.b.c");
        assert_eq!(SetDelivery::from_http(&with_charset).unwrap().tenant, TenantId::default());
        let status = |r: Request| SetDelivery::from_http(&r).unwrap_err().status();
        assert_eq!(status(request("GET", "/ssf/events", None, "")), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            status(request("POST", "/ssf/events", Some("application/jwt"), "a.b.c")),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        assert_eq!(status(request("POST", "/ssf/events", None, "a.b.c")), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let huge = "a".repeat(MAX_SET_BYTES + 1);
        assert_eq!(
            status(request("POST", "/ssf/events", Some(SECEVENT_MEDIA_TYPE), &huge)),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            status(request("POST", "/t/Not%20A%20Tenant/ssf/events", Some(SECEVENT_MEDIA_TYPE), "a")),
            StatusCode::NOT_FOUND
        );
    }

    /// RFC 8935 §2.3: a JSON body with `err` and `description`; 401 carries a challenge.
    #[test]
    fn refusals_render_the_rfc_8935_body() {
        let response = SetError::new(SetErrorCode::AuthenticationFailed, "no valid authorization").into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[WWW_AUTHENTICATE], "Bearer realm=\"tessera-ssf\"");
        assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
        let Body::Text(body) = response.body() else { panic!() };
        assert_eq!(body, r#"{"err":"authentication_failed","description":"no valid authorization"}"#);
        assert_eq!(SetError::new(SetErrorCode::AccessDenied, "x").status(), StatusCode::FORBIDDEN);
        assert_eq!(SetError::new(SetErrorCode::InvalidKey, "x").status(), StatusCode::BAD_REQUEST);
        let unavailable =
            SetError::from(StoreError::Unavailable { reason: "x".into(), retry_after_secs: 2, throttled: false });
        assert_eq!(unavailable.into_response().headers()["retry-after"], "2");
        assert_eq!(accepted().status(), StatusCode::ACCEPTED);
        let refused = SetError::new(SetErrorCode::InvalidAudience, "aud does not name this receiver");
        assert_eq!(refused.to_string(), "invalid_audience: aud does not name this receiver");
    }
}

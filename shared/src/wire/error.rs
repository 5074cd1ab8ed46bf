//! `OAuthError`: every error code of RFC 6749 §5.2, RFC 7009 §2.2.1 and RFC 8707 §2, rendered as the RFC
//! body (`error`, `error_description`) with the right status and headers. Store, key and entropy failures
//! are separate types, mapped here at the edge; their details go to logs, never to the client.

use std::borrow::Cow;
use std::fmt;

use http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;

use super::response::json_response;
use crate::entropy::EntropyError;
use crate::jwt::keys::KeyError;
use crate::store::StoreError;
use crate::tenancy::TenantError;

/// The realm announced in `WWW-Authenticate` on 401.
pub const REALM: &str = "tessera";

/// An RFC error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// RFC 6749 §5.2: missing, repeated or malformed parameter.
    InvalidRequest,
    /// RFC 6749 §5.2: client authentication failed.
    InvalidClient,
    /// RFC 6749 §5.2: the grant is invalid, expired or revoked.
    InvalidGrant,
    /// RFC 6749 §5.2: the client may not use this grant type (or endpoint).
    UnauthorizedClient,
    /// RFC 6749 §5.2: the grant type is not supported.
    UnsupportedGrantType,
    /// RFC 6749 §5.2: the scope is invalid, unknown or malformed.
    InvalidScope,
    /// RFC 7009 §2.2.1: the server cannot revoke this token type.
    UnsupportedTokenType,
    /// RFC 8707 §2: the requested resource is not allowed.
    InvalidTarget,
    /// RFC 9449 §5, §7.1: the DPoP proof is missing where required, malformed or invalid.
    InvalidDpopProof,
    /// RFC 6749 §4.1.2.1: an unexpected condition.
    ServerError,
    /// RFC 6749 §4.1.2.1: temporarily overloaded or unavailable.
    TemporarilyUnavailable,
}

impl ErrorCode {
    /// The wire value of `error`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::InvalidTarget => "invalid_target",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }

    /// The status an error with this code gets unless stated otherwise.
    pub const fn default_status(self) -> StatusCode {
        match self {
            Self::InvalidClient => StatusCode::UNAUTHORIZED,
            Self::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            Self::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error answer: code, human-readable description, status, and any extra header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    code: ErrorCode,
    description: Cow<'static, str>,
    status: StatusCode,
    header: Option<(&'static str, String)>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorCode,
    error_description: &'a str,
}

impl OAuthError {
    /// An error with `code`'s default status.
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self { code, description: description.into(), status: code.default_status(), header: None }
    }

    /// `invalid_request`.
    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    /// `invalid_client`, 401 with `WWW-Authenticate`. The description never says which part was wrong.
    pub fn invalid_client() -> Self {
        Self::new(ErrorCode::InvalidClient, "client authentication failed")
    }

    /// `server_error`: details belong in the log line the caller writes, not here.
    pub fn server_error() -> Self {
        Self::new(ErrorCode::ServerError, "the server could not complete the request")
    }

    /// `temporarily_unavailable`, 503 with `Retry-After`.
    pub fn temporarily_unavailable(retry_after_secs: u32) -> Self {
        Self::new(ErrorCode::TemporarilyUnavailable, "the token store is unavailable; retry later")
            .with_header("retry-after", retry_after_secs.to_string())
    }

    /// The same error with another status (e.g. 403 for a client that may not introspect).
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// The same error with one extra response header (`Allow`, `Retry-After`).
    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.header = Some((name, value));
        self
    }

    /// The error code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The description sent to the client.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The RFC 6749 §5.2 response: JSON body, `Cache-Control: no-store`, and `WWW-Authenticate` on 401.
    pub fn into_response(self) -> Response<Body> {
        let body = ErrorBody { error: self.code, error_description: &self.description };
        let mut response = json_response(self.status, &body);
        let headers = response.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            let challenge = format!("Basic realm=\"{REALM}\", charset=\"UTF-8\"");
            if let Ok(value) = challenge.parse() {
                headers.insert(http::header::WWW_AUTHENTICATE, value);
            }
        }
        if let Some((name, value)) = self.header
            && let Ok(value) = value.parse()
        {
            headers.insert(name, value);
        }
        response
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl std::error::Error for OAuthError {}

impl From<StoreError> for OAuthError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable { reason, retry_after_secs, .. } => {
                tracing::warn!(%reason, "token store unavailable");
                Self::temporarily_unavailable(retry_after_secs)
            }
            other => {
                tracing::error!(error = %other, "token store failed");
                Self::server_error()
            }
        }
    }
}

impl From<EntropyError> for OAuthError {
    fn from(err: EntropyError) -> Self {
        tracing::error!(error = %err, "entropy failure");
        Self::server_error()
    }
}

impl From<KeyError> for OAuthError {
    fn from(err: KeyError) -> Self {
        tracing::error!(error = %err, "signing failed");
        Self::server_error()
    }
}

impl From<TenantError> for OAuthError {
    /// An unknown tenant is 404 (its routes do not exist); keys too stale to serve are 503 with `Retry-After`
    /// (fail closed); no issuer to name is the deployment's fault, 500.
    fn from(err: TenantError) -> Self {
        match err {
            TenantError::Unknown => Self::invalid_request("unknown tenant").with_status(StatusCode::NOT_FOUND),
            TenantError::KeysUnreadable { retry_after_secs } => {
                Self::new(ErrorCode::TemporarilyUnavailable, "the signing keys cannot be read; retry later")
                    .with_header("retry-after", retry_after_secs.to_string())
            }
            TenantError::NoIssuer => {
                tracing::error!("no issuer configured and no API Gateway domain on the request");
                Self::server_error()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(response: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(response.body().as_ref()).unwrap()
    }

    #[test]
    fn invalid_client_is_401_with_a_basic_challenge_and_no_store() {
        let response = OAuthError::invalid_client().into_response();
        assert_eq!(response.status(), 401);
        assert!(response.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic realm=\"tessera\""));
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert_eq!(response.headers()["pragma"], "no-cache");
        assert_eq!(body(&response)["error"], "invalid_client");
    }

    #[test]
    fn every_code_renders_its_rfc_name() {
        let codes = [
            (ErrorCode::InvalidRequest, "invalid_request", 400),
            (ErrorCode::InvalidGrant, "invalid_grant", 400),
            (ErrorCode::UnauthorizedClient, "unauthorized_client", 400),
            (ErrorCode::UnsupportedGrantType, "unsupported_grant_type", 400),
            (ErrorCode::InvalidScope, "invalid_scope", 400),
            (ErrorCode::UnsupportedTokenType, "unsupported_token_type", 400),
            (ErrorCode::InvalidTarget, "invalid_target", 400),
            (ErrorCode::InvalidDpopProof, "invalid_dpop_proof", 400),
            (ErrorCode::ServerError, "server_error", 500),
            (ErrorCode::TemporarilyUnavailable, "temporarily_unavailable", 503),
        ];
        for (code, name, status) in codes {
            let response = OAuthError::new(code, "why").into_response();
            assert_eq!(response.status(), status);
            assert_eq!(body(&response), serde_json::json!({"error": name, "error_description": "why"}));
            assert!(response.headers().get("www-authenticate").is_none());
        }
    }

    #[test]
    fn store_unavailable_becomes_503_with_retry_after() {
        let err = OAuthError::from(StoreError::Unavailable {
            reason: "throttled".into(),
            retry_after_secs: 2,
            throttled: true,
        });
        let response = err.into_response();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "2");
        assert!(!String::from_utf8_lossy(response.body().as_ref()).contains("throttled"));
    }

    #[test]
    fn tenant_errors_become_404_503_and_500() {
        let unknown = OAuthError::from(TenantError::Unknown).into_response();
        assert_eq!(unknown.status(), 404);
        assert_eq!(body(&unknown)["error"], "invalid_request");
        let stale = OAuthError::from(TenantError::KeysUnreadable { retry_after_secs: 30 }).into_response();
        assert_eq!(
            (stale.status(), &stale.headers()["retry-after"]),
            (StatusCode::SERVICE_UNAVAILABLE, &"30".parse().unwrap())
        );
        assert_eq!(body(&stale)["error"], "temporarily_unavailable");
        assert_eq!(OAuthError::from(TenantError::NoIssuer).into_response().status(), 500);
    }
}

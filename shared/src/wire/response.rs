//! Response bodies: the RFC 6749 §5.1 token response, the RFC 7662 §2.2 introspection response, and the
//! JSON response builder every endpoint uses (`Cache-Control: no-store`, `Pragma: no-cache`).

use http::StatusCode;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, PRAGMA};
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::domain::client::AppAttributes;
use crate::domain::grant::Grant;
use crate::domain::profile::{Permission, Profile, ProfileAttribute};
use crate::domain::time::Timestamp;
use crate::domain::token::TokenKind;
use crate::jwt::access_token::{Audience, Confirmation};
use crate::jwt::external::ExternalIdentity;

/// A JSON response that no cache may keep (RFC 6749 §5.1).
pub fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response<Body> {
    let (status, bytes) = match serde_json::to_vec(body) {
        Ok(bytes) => (status, bytes),
        Err(err) => {
            tracing::error!(error = %err, "response serialization failed");
            let fallback = br#"{"error":"server_error","error_description":"response serialization failed"}"#;
            (StatusCode::INTERNAL_SERVER_ERROR, fallback.to_vec())
        }
    };
    let mut response = Response::new(Body::Text(String::from_utf8(bytes).unwrap_or_default()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, http::HeaderValue::from_static("application/json;charset=UTF-8"));
    headers.insert(CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, http::HeaderValue::from_static("no-cache"));
    response
}

/// A successful token response (RFC 6749 §5.1). Deliberately not `Debug`: it holds live tokens.
#[derive(Serialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// `Bearer` (RFC 6750), or `DPoP` for a DPoP-bound token (RFC 9449 §5).
    pub token_type: &'static str,
    /// Lifetime of the access token in seconds.
    pub expires_in: u64,
    /// The granted scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// A refresh token, for grants that issue one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// RFC 8693 §2.2.1, for token exchange.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<&'static str>,
}

/// An introspection response (RFC 7662 §2.2). Inactive tokens answer exactly `{"active": false}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IntrospectionResponse {
    /// Whether the token is active.
    pub active: bool,
    /// Granted scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The client the token was issued to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Human-readable subject identifier, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// `Bearer` for access tokens, `DPoP` for DPoP-bound ones (RFC 9449 §6.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    /// Expiry, seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<u64>,
    /// Issue time, seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Not-before, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Audience.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    /// Issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Token id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// What a bound access token is bound to: `cnf.jkt` (RFC 9449 §6.2) or `cnf.x5t#S256` (RFC 8705 §3.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
    /// Attributes mapped from the subject's external token (OneWelcome-style `user_details`). Profile
    /// attribute `user_details` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_details: Option<std::collections::BTreeMap<String, serde_json::Value>>,
    /// The subject token's authentication methods (RFC 8176). Profile attribute `amr` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// Resource permissions from the token's scopes (Keycloak RPT). Profile attribute `permissions` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<Permission>>,
    /// `app_identifier`, `app_platform`, `app_version` of the client the token was issued to (OneWelcome), each
    /// when registered. Profile attribute `app` only.
    #[serde(flatten)]
    pub app: AppAttributes,
}

impl IntrospectionResponse {
    /// `{"active": false}`: the one answer for anything that is not an active token.
    pub fn inactive() -> Self {
        Self::default()
    }

    /// The answer for an active token Tessera issued: what `grant` grants, under `iss`. A refresh token has no
    /// `token_type` (RFC 7662 §2.2 names RFC 6749 §7.1's access token types) and no `cnf` (it is never bound,
    /// RFC 9449 §5); a DPoP-bound access token is of type `DPoP` with its `cnf.jkt` (RFC 9449 §6.2), a
    /// certificate-bound one of type `Bearer` with its `cnf.x5t#S256` (RFC 8705 §3.2).
    pub fn of_grant(
        grant: &Grant,
        kind: TokenKind,
        iss: String,
        jti: Option<String>,
        not_before: Option<Timestamp>,
        permissions: Vec<Permission>,
    ) -> Self {
        Self {
            active: true,
            scope: Some(grant.scope.to_string()).filter(|s| !s.is_empty()),
            client_id: Some(grant.client_id.to_string()),
            username: grant.username.clone(),
            token_type: (kind == TokenKind::AccessToken)
                .then_some(grant.confirmation.as_ref().map_or("Bearer", Confirmation::token_type)),
            exp: Some(grant.expires_at.as_secs()),
            iat: Some(grant.issued_at.as_secs()),
            nbf: not_before.map(|t| t.as_secs()),
            sub: Some(grant.subject.clone()),
            aud: Some(Audience::from_list(&grant.audience)),
            iss: Some(iss),
            user_details: Some(grant.user_details.clone()).filter(|d| !d.is_empty()),
            amr: Some(grant.amr.clone()).filter(|m| !m.is_empty()),
            permissions: Some(permissions).filter(|p| !p.is_empty()),
            app: grant.app.clone(),
            jti,
            cnf: grant.confirmation.clone().filter(|_| kind == TokenKind::AccessToken),
        }
    }

    /// The answer for an active trusted issuer's JWT: its mapped identity, under its own `iss`.
    pub fn of_external(identity: ExternalIdentity, permissions: Vec<Permission>) -> Self {
        Self {
            active: true,
            scope: identity.scope,
            client_id: identity.client_id,
            username: identity.username,
            token_type: Some("Bearer"),
            exp: Some(identity.expires_at.as_secs()),
            iat: Some(identity.issued_at.as_secs()),
            nbf: None,
            sub: Some(identity.subject),
            aud: Some(Audience::from_list(&identity.audience)),
            iss: Some(identity.issuer),
            user_details: Some(identity.user_details).filter(|d| !d.is_empty()),
            amr: Some(identity.amr).filter(|m| !m.is_empty()),
            permissions: Some(permissions).filter(|p| !p.is_empty()),
            // A trusted issuer's token: its client is not one of ours.
            app: AppAttributes::default(),
            jti: identity.jti,
            cnf: None,
        }
    }

    /// The same answer with `cached` (a subject's details from its identity provider's UserInfo endpoint) added
    /// to `user_details`, over the attributes of the same name the token carries.
    pub fn with_cached_user_details(
        mut self,
        cached: Option<&std::collections::BTreeMap<String, serde_json::Value>>,
    ) -> Self {
        if let Some(cached) = cached.filter(|c| !c.is_empty()) {
            let details = self.user_details.get_or_insert_with(Default::default);
            details.extend(cached.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        self
    }

    /// The same answer with the attributes beyond RFC 7662's core members kept only where `profile` has them.
    pub fn only_profiled(mut self, profile: &Profile) -> Self {
        if !profile.contains(&ProfileAttribute::UserDetails) {
            self.user_details = None;
        }
        if !profile.contains(&ProfileAttribute::Amr) {
            self.amr = None;
        }
        if !profile.contains(&ProfileAttribute::Permissions) {
            self.permissions = None;
        }
        if !profile.contains(&ProfileAttribute::App) {
            self.app = AppAttributes::default();
        }
        self
    }
}

/// A 200 whose body is a signed JWT of `media_type` (RFC 9701's `application/token-introspection+jwt`),
/// uncacheable like every other answer.
pub fn jwt_response(media_type: &'static str, jwt: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(jwt));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, http::HeaderValue::from_static(media_type));
    headers.insert(CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, http::HeaderValue::from_static("no-cache"));
    response
}

/// An empty 200 with `Cache-Control: no-store`: the RFC 7009 §2.2 revocation answer.
pub fn empty_ok() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    response.headers_mut().insert(CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    response.headers_mut().insert(PRAGMA, http::HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inactive_is_exactly_active_false() {
        let json = serde_json::to_string(&IntrospectionResponse::inactive()).unwrap();
        assert_eq!(json, r#"{"active":false}"#);
    }
}

//! RFC 8693 token exchange: a JWT from a trusted external issuer (the subject token) is traded for Tessera
//! tokens for the subject it names. The request is checked before any I/O; the subject token after the
//! client has authenticated, so unauthenticated callers learn nothing about it. Every reason a subject token
//! is refused goes to the log; the client sees `invalid_grant`.

use crate::domain::time::Timestamp;
use crate::jwt::external::{ExternalIdentity, ExternalRejection, peek_issuer};
use crate::service::Tenant;
use crate::wire::http::OAuthRequest;
use crate::wire::{ErrorCode, OAuthError};

/// RFC 8693 §3: a JWT.
pub const TOKEN_TYPE_JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
/// RFC 8693 §3: an OAuth 2.0 access token.
pub const TOKEN_TYPE_ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";

/// The validated parameters of an exchange request.
#[derive(Debug)]
pub struct ExchangeRequest<'a> {
    subject_token: &'a str,
}

impl<'a> ExchangeRequest<'a> {
    /// Checks the RFC 8693 §2.1 parameters: `subject_token` and a supported `subject_token_type` are
    /// required, `requested_token_type` may only ask for an access token, `actor_token` (delegation) is not
    /// supported.
    pub fn parse(request: &'a OAuthRequest) -> Result<Self, OAuthError> {
        let subject_token = request.require("subject_token")?;
        let subject_token_type = request.require("subject_token_type")?;
        if subject_token_type != TOKEN_TYPE_JWT && subject_token_type != TOKEN_TYPE_ACCESS_TOKEN {
            return Err(OAuthError::invalid_request("subject_token_type must be the jwt or access_token type"));
        }
        if request.form.get("requested_token_type").is_some_and(|t| t != TOKEN_TYPE_ACCESS_TOKEN) {
            return Err(OAuthError::invalid_request("only access tokens can be requested"));
        }
        if request.form.get("actor_token").is_some() || request.form.get("actor_token_type").is_some() {
            return Err(OAuthError::invalid_request("delegation (actor_token) is not supported"));
        }
        Ok(Self { subject_token })
    }

    /// Validates the subject token against the tenant's trusted issuer for its `iss`.
    pub async fn verify_subject(&self, tenant: &Tenant<'_>, now: Timestamp) -> Result<ExternalIdentity, OAuthError> {
        let result = match peek_issuer(self.subject_token).and_then(|iss| tenant.trusted_issuer(&iss)) {
            Some(issuer) => issuer.validate(self.subject_token, now).await,
            None => Err(ExternalRejection::UntrustedIssuer),
        };
        result.map_err(|rejection| {
            tracing::info!(reason = %rejection, "subject token refused");
            OAuthError::new(ErrorCode::InvalidGrant, "the subject token is invalid, expired or not trusted")
        })
    }
}

//! RFC 8693 token exchange: a JWT from a trusted external issuer (the subject token) is traded for Tessera
//! tokens for the subject it names. The request is checked before any I/O; the subject token after the
//! client has authenticated, so unauthenticated callers learn nothing about it. Every reason a subject token
//! is refused goes to the log; the client sees `invalid_grant`.
//!
//! When the subject token is an access token (`subject_token_type` `access_token`) of an issuer with a UserInfo
//! endpoint, the exchange also brings the subject's cached user details up to date
//! ([`ExchangeRequest::update_user_details`], by the rules introspection shares: [`super::user_details`]). An ID
//! token or a bare JWT is not a bearer credential for UserInfo (OpenID Connect Core §5.3.1), so it never triggers
//! a fetch. Whatever the endpoint does, the exchange succeeds: a failed fetch is logged and keeps the details
//! already cached.

use super::user_details::{UserDetailsOutcome, UserinfoLink, refresh_requested, update_user_details};
use crate::domain::revocation::{TokenValidity, check_active};
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;
use crate::jwt::external::{ExternalIdentity, ExternalRejection, peek_issuer};
use crate::store::{Fetched, StoreKey, TokenStore};
use crate::tenancy::Tenant;
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
    /// `subject_token_type` is `access_token`: the token may be a bearer credential for the issuer's UserInfo.
    access_token: bool,
    /// `refresh_user_details=true` (OneWelcome's parameter): fetch the subject's details again, within the rate
    /// limit, even when cached ones are live.
    refresh_user_details: bool,
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
        let refresh_user_details = refresh_requested(request)?;
        Ok(Self { subject_token, access_token: subject_token_type == TOKEN_TYPE_ACCESS_TOKEN, refresh_user_details })
    }

    /// Validates the subject token against the tenant's trusted issuer for its `iss`. No store I/O (a
    /// JWKS URL may be read); whether the token or its subject was revoked is checked by the caller with
    /// [`SubjectToken::state_keys`] in its one read.
    pub async fn verify_subject(&self, tenant: &Tenant<'_>, now: Timestamp) -> Result<SubjectToken, OAuthError> {
        let issuer = peek_issuer(self.subject_token).and_then(|iss| tenant.trusted_issuer(&iss));
        let result = match issuer {
            Some(issuer) => issuer.validate(self.subject_token, now).await.map(|identity| SubjectToken {
                userinfo: match self.access_token {
                    true => UserinfoLink::of(issuer, tenant.id, &identity),
                    false => None,
                },
                // Its identity's record, and where releases up to 0.1 recorded it (`legacy_hashes`).
                record_keys: match issuer.record_tokens {
                    true => std::iter::once(&identity.token_id)
                        .chain(&identity.legacy_hashes)
                        .map(|hash| StoreKey::token(tenant.id, hash))
                        .collect(),
                    false => Vec::new(),
                },
                identity,
            }),
            None => Err(ExternalRejection::UntrustedIssuer),
        };
        result.map_err(|rejection| {
            tracing::info!(reason = %rejection, "subject token refused");
            subject_refused()
        })
    }
}

impl ExchangeRequest<'_> {
    /// Brings the subject's cached user details up to date, after the subject token was found valid and not
    /// revoked, with the subject token as the bearer ([`update_user_details`], the rules introspection follows
    /// too). Never fails the exchange: a store or endpoint failure is logged.
    pub async fn update_user_details(
        &self,
        store: &dyn TokenStore,
        subject: &SubjectToken,
        fetched: &Fetched,
        now: Timestamp,
    ) -> UserDetailsOutcome {
        let Some(link) = &subject.userinfo else { return UserDetailsOutcome::NotApplicable };
        let cached = fetched.user_details(&link.key);
        let (identity, bearer) = (&subject.identity, self.subject_token);
        update_user_details(store, link, identity, bearer, cached, self.refresh_user_details, now).await
    }
}

fn subject_refused() -> OAuthError {
    OAuthError::new(ErrorCode::InvalidGrant, "the subject token is invalid, expired, revoked or not trusted")
}

/// A verified subject token, and where its revocation state lives.
#[derive(Debug)]
pub struct SubjectToken {
    /// Who it names.
    pub identity: ExternalIdentity,
    /// Its record, under its identity and where releases up to 0.1 kept it, when its issuer records tokens.
    pub record_keys: Vec<StoreKey>,
    /// Its issuer's UserInfo endpoint, when the token is an access token for it.
    pub userinfo: Option<UserinfoLink>,
}

impl SubjectToken {
    /// The watermarks that apply to it: its subject's and its tenant's.
    fn watermark_keys(&self, tenant: &TenantId) -> Vec<StoreKey> {
        StoreKey::watermarks(tenant, &self.identity.watermark_targets())
    }

    /// The keys to read with the client's record: the watermarks, the token's record, and the subject's user
    /// details when they may be fetched.
    pub fn state_keys(&self, tenant: &TenantId) -> Vec<StoreKey> {
        let user_details = self.userinfo.iter().map(|link| link.key.clone());
        self.watermark_keys(tenant).into_iter().chain(self.record_keys.iter().cloned()).chain(user_details).collect()
    }

    /// Refuses a subject token that Tessera revoked (recorded and revoked, or its subject revoked after it was
    /// issued): an exchange must not outlive a revocation.
    pub fn check_not_revoked(&self, tenant: &TenantId, fetched: &Fetched, now: Timestamp) -> Result<(), OAuthError> {
        let watermarks = fetched.marks(&self.watermark_keys(tenant));
        let validity = TokenValidity {
            issued_at: self.identity.issued_no_later_than(now),
            expires_at: self.identity.accepted_until(),
            not_before: None,
            individually_revoked: self
                .record_keys
                .iter()
                .filter_map(|k| fetched.external_token(k))
                .any(|r| r.revoked_at.is_some()),
            watermarks: &watermarks,
        };
        check_active(validity, now).map_err(|inactive| {
            tracing::info!(reason = ?inactive, "subject token revoked");
            subject_refused()
        })
    }
}

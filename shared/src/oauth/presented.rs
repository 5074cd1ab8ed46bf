//! A token presented to introspection or revocation: classified by its structure without I/O, then judged
//! against the store records whose keys it yields. Every key is derived from the token itself, so one
//! store round trip answers.

use crate::domain::grant::Grant;
use crate::domain::revocation::{Inactive, TokenValidity, WatermarkTarget, check_active};
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;
use crate::domain::token::{OpaqueToken, TokenKind};
use crate::jwt::access_token::{self, VerifiedAccessToken};
use crate::service::Tenant;
use crate::store::{Fetched, StoreKey};

/// What a presented string turned out to be.
#[derive(Debug)]
pub enum Presented {
    /// A well-formed opaque token (prefix and checksum valid); its record may or may not exist.
    Opaque(OpaqueToken),
    /// A JWT access token whose signature, header and issuer verified.
    Jwt(Box<VerifiedAccessToken>),
    /// Anything else: inactive without a store read.
    Unrecognised(String),
}

/// A token that is active, with what introspection reports about it.
#[derive(Debug, Clone)]
pub struct ActiveToken {
    /// What it grants.
    pub grant: Grant,
    /// Access or refresh.
    pub kind: TokenKind,
    /// The JWT id, for JWTs.
    pub jti: Option<String>,
    /// Not-before, when set.
    pub not_before: Option<Timestamp>,
}

impl Presented {
    /// Classifies `token` for `tenant`. Pure: no I/O, no clock.
    pub fn classify(token: &str, tenant: &Tenant<'_>) -> Self {
        if let Some(opaque) = OpaqueToken::parse(token) {
            return Self::Opaque(opaque);
        }
        if token.bytes().filter(|&b| b == b'.').count() == 2 {
            return match access_token::verify(token, tenant.id, &tenant.issuer, tenant.keys) {
                Ok(verified) => Self::Jwt(Box::new(verified)),
                Err(rejection) => Self::Unrecognised(format!("jwt rejected: {rejection}")),
            };
        }
        Self::Unrecognised("neither an opaque token nor a JWT".into())
    }

    /// The key of the token's own state: its record (opaque) or its denylist entry (JWT).
    pub fn state_key(&self, tenant: &TenantId) -> Option<StoreKey> {
        match self {
            Self::Opaque(token) => Some(StoreKey::token(tenant, &token.hash())),
            Self::Jwt(jwt) => Some(StoreKey::revoked_jti(tenant, &jwt.jti)),
            Self::Unrecognised(_) => None,
        }
    }

    /// The watermarks that apply to the token.
    pub fn watermark_keys(&self, tenant: &TenantId) -> Vec<StoreKey> {
        let family = match self {
            Self::Opaque(token) => token.family(),
            Self::Jwt(jwt) => jwt.grant.family,
            Self::Unrecognised(_) => return Vec::new(),
        };
        vec![StoreKey::watermark(tenant, &WatermarkTarget::Family(family))]
    }

    /// Every key whose item decides whether the token is active.
    pub fn keys(&self, tenant: &TenantId) -> Vec<StoreKey> {
        self.state_key(tenant).into_iter().chain(self.watermark_keys(tenant)).collect()
    }

    /// Applies the active rule to the token and the fetched records. The `Err` reason is for logs only.
    pub fn judge(&self, tenant: &TenantId, fetched: &Fetched, now: Timestamp) -> Result<ActiveToken, String> {
        let watermarks = fetched.watermarks(&self.watermark_keys(tenant));
        let key = self.state_key(tenant);
        let (active, revoked) = match self {
            Self::Unrecognised(reason) => return Err(reason.clone()),
            Self::Opaque(token) => {
                let record = key.as_ref().and_then(|k| fetched.token(k)).ok_or("no live record")?;
                if record.kind != token.kind() {
                    return Err("record kind differs from token prefix".into());
                }
                let active =
                    ActiveToken { grant: record.grant.clone(), kind: record.kind, jti: None, not_before: None };
                // A rotated refresh token is spent: presenting it is reuse, never an active token.
                (active, record.revoked_at.is_some() || record.rotated_at.is_some())
            }
            Self::Jwt(jwt) => {
                let active = ActiveToken {
                    grant: jwt.grant.clone(),
                    kind: TokenKind::AccessToken,
                    jti: Some(jwt.jti.clone()),
                    not_before: jwt.not_before,
                };
                (active, key.as_ref().is_some_and(|k| fetched.has_revoked_jti(k)))
            }
        };
        let validity = TokenValidity {
            issued_at: active.grant.issued_at,
            expires_at: active.grant.expires_at,
            not_before: active.not_before,
            individually_revoked: revoked,
            watermarks: &watermarks,
        };
        check_active(validity, now).map_err(|inactive: Inactive| format!("{inactive:?}"))?;
        Ok(active)
    }
}

//! A token presented to introspection or revocation: classified by its structure without I/O, then judged
//! against the store records whose keys it yields. Every key is derived from the token itself, so one
//! store round trip answers.

use crate::domain::grant::Grant;
use crate::domain::revocation::{Inactive, TokenValidity, check_active};
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;
use crate::domain::token::{ExternalTokenRecord, OpaqueToken, TokenKind};
use crate::jwt::access_token::{self, VerifiedAccessToken};
use crate::jwt::external::{ExternalIdentity, peek_issuer};
use crate::service::Tenant;
use crate::store::{Fetched, StoreKey};

/// What a presented string turned out to be.
#[derive(Debug)]
pub enum Presented {
    /// A well-formed opaque token (prefix and checksum valid); its record may or may not exist.
    Opaque(OpaqueToken),
    /// A JWT access token whose signature, header and issuer verified.
    Jwt(Box<VerifiedAccessToken>),
    /// A JWT from one of the tenant's trusted issuers, validated offline against its JWKS.
    External(Box<ExternalToken>),
    /// Anything else: inactive without a store read.
    Unrecognised(String),
}

/// A validated external JWT.
#[derive(Debug, Clone)]
pub struct ExternalToken {
    /// Who it names, the mapped claims, and the token's identity (the key of its record).
    pub identity: ExternalIdentity,
    /// Whether its issuer records tokens (so Tessera can revoke them one by one).
    pub record: bool,
}

impl ExternalToken {
    /// The store record of this token, linked to its mapped subject, expiring with it.
    pub fn record(&self, tenant: &TenantId, revoked_at: Option<Timestamp>) -> ExternalTokenRecord {
        ExternalTokenRecord {
            tenant: tenant.clone(),
            token_hash: self.identity.token_id.clone(),
            issuer: self.identity.issuer.clone(),
            subject: self.identity.subject.clone(),
            issued_at: self.identity.issued_at,
            // Kept while the token is accepted, skew included, so a revocation never lapses before the token.
            expires_at: self.identity.accepted_until(),
            revoked_at,
        }
    }
}

/// The store keys of a presented token ([`Presented::keys`]).
#[derive(Debug, Clone, Default)]
pub struct TokenKeys {
    /// The token's own record or denylist entry; `None` when it has none to read.
    pub state: Option<StoreKey>,
    /// A recorded external token's records as releases up to 0.1 keyed them (by the spelling presented, and its
    /// ECDSA twin: [`ExternalIdentity::legacy_hashes`]), read beside `state`. Such records are gone 90 days after
    /// the upgrade (the longest lifetime Tessera accepts); the release after that stops reading them.
    pub legacy_state: Vec<StoreKey>,
    /// The revocation watermarks that apply to it.
    pub watermarks: Vec<StoreKey>,
}

impl TokenKeys {
    /// Every key, for the one read.
    pub fn iter(&self) -> impl Iterator<Item = &StoreKey> {
        self.state.iter().chain(&self.legacy_state).chain(&self.watermarks)
    }
}

/// What the active rule found active.
#[derive(Debug, Clone)]
pub enum Active {
    /// A token Tessera issued.
    Issued(Box<ActiveToken>),
    /// A trusted issuer's JWT.
    External(Box<ExternalToken>),
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
    /// Classifies `token` for `tenant`: no store I/O (a JWKS URL may be read). A JWT whose unverified `iss` is a trusted issuer's is
    /// validated against that issuer (its time claims against `now`); any other JWT must be Tessera's own.
    pub async fn classify(token: &str, tenant: &Tenant<'_>, now: Timestamp) -> Self {
        if let Some(opaque) = OpaqueToken::parse(token) {
            return Self::Opaque(opaque);
        }
        if token.bytes().filter(|&b| b == b'.').count() != 2 {
            return Self::Unrecognised("neither an opaque token nor a JWT".into());
        }
        let trusted =
            peek_issuer(token).filter(|iss| **iss != *tenant.issuer).and_then(|iss| tenant.trusted_issuer(&iss));
        if let Some(issuer) = trusted {
            return match issuer.validate(token, now).await {
                Ok(identity) => Self::External(Box::new(ExternalToken { identity, record: issuer.record_tokens })),
                Err(rejection) => Self::Unrecognised(format!("external jwt rejected: {rejection}")),
            };
        }
        match access_token::verify(token, tenant.id, &tenant.issuer, tenant.keys()) {
            Ok(verified) => Self::Jwt(Box::new(verified)),
            Err(rejection) => Self::Unrecognised(format!("jwt rejected: {rejection}")),
        }
    }

    /// The keys whose items decide whether the token is active, computed once per request: the token's own
    /// state (its record for an opaque token, its denylist entry for a JWT) and the watermarks that apply to it
    /// (family, subject, client and tenant for Tessera's tokens; subject and tenant for an external token: it
    /// has no family, and its client is not ours).
    pub fn keys(&self, tenant: &TenantId) -> TokenKeys {
        let watermarks = |targets: &[_]| StoreKey::watermarks(tenant, targets);
        match self {
            Self::Opaque(token) => TokenKeys {
                state: Some(StoreKey::token(tenant, &token.hash())),
                legacy_state: Vec::new(),
                watermarks: watermarks(&token.watermark_targets()),
            },
            Self::Jwt(jwt) => TokenKeys {
                state: Some(StoreKey::revoked_jti(tenant, &jwt.jti)),
                legacy_state: Vec::new(),
                watermarks: watermarks(&jwt.grant.watermark_targets()),
            },
            Self::External(external) => TokenKeys {
                state: external.record.then(|| StoreKey::token(tenant, &external.identity.token_id)),
                legacy_state: match external.record {
                    true => external.identity.legacy_hashes.iter().map(|h| StoreKey::token(tenant, h)).collect(),
                    false => Vec::new(),
                },
                watermarks: watermarks(&external.identity.watermark_targets()),
            },
            Self::Unrecognised(_) => TokenKeys::default(),
        }
    }

    /// Applies the active rule to the token and the fetched records. The `Err` reason is for logs only.
    pub fn judge(&self, keys: &TokenKeys, fetched: &Fetched, now: Timestamp) -> Result<Active, String> {
        let watermarks = fetched.watermarks(&keys.watermarks);
        let key = keys.state.as_ref();
        let (active, revoked) = match self {
            Self::Unrecognised(reason) => return Err(reason.clone()),
            Self::External(external) => {
                let revoked = key
                    .into_iter()
                    .chain(&keys.legacy_state)
                    .filter_map(|k| fetched.external_token(k))
                    .any(|r| r.revoked_at.is_some());
                let validity = TokenValidity {
                    issued_at: external.identity.issued_at,
                    expires_at: external.identity.accepted_until(),
                    not_before: None,
                    individually_revoked: revoked,
                    watermarks: &watermarks,
                };
                check_active(validity, now).map_err(|inactive| format!("{inactive:?}"))?;
                return Ok(Active::External(external.clone()));
            }
            Self::Opaque(token) => {
                let record = key.and_then(|k| fetched.token(k)).ok_or("no live record")?;
                if record.kind != token.kind() {
                    return Err("record kind differs from token prefix".into());
                }
                if !token.matches(&record.grant) {
                    return Err("record does not match the ids the token embeds".into());
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
                (active, key.is_some_and(|k| fetched.has_revoked_jti(k)))
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
        Ok(Active::Issued(Box::new(active)))
    }
}

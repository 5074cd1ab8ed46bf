//! A token's state for operators (`tessera tokens inspect`): WSO2's token states (ACTIVE; INACTIVE, "refreshed";
//! EXPIRED; REVOKED) and the reason, which introspection rightly keeps off the wire (RFC 7662 answers only
//! `active`). The verdict is the one introspection reaches: the same [`TokenCheck`] (classification, keys, one
//! strict read) and the same judgement ([`TokenCheck::judge`], whose typed [`NotActive`] carries which watermark
//! and its mark). This module only names that outcome and adds what the judgement needs not look for: when an
//! individually revoked token was revoked, whether an opaque token's record is there but expired (a read drops
//! those), and whether the token belongs to another tenant of the deployment.
//!
//! An [`Inspection`] never holds a secret: not the token, not its hash, not a `jti`; only the claims an operator
//! needs (client, subject, scope, times, kind, format, family).

use serde::{Deserialize, Serialize};

use super::presented::{Accepted, Active, NotActive, Presented, TokenCheck};
use crate::TokenService;
use crate::domain::grant::Grant;
use crate::domain::revocation::{Inactive, MarkKind};
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;
use crate::domain::token::TokenKind;
use crate::jwt::external::peek_issuer;
use crate::store::{Fetched, Record, StoreError, StoreKey};
use crate::tenancy::TenantError;

/// A token's state, as an operator names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TokenState {
    /// Introspection answers `active: true`.
    Active,
    /// Issued at or before a watermark that applies to it (WSO2's INACTIVE), [`Inspection::watermark`] says which.
    Inactive,
    /// Past its `exp`.
    Expired,
    /// Before its `nbf`.
    NotYetValid,
    /// Revoked one by one: an opaque or recorded token's record, or a JWT's `jti` on the denylist.
    Revoked,
    /// A refresh token already rotated: presenting it again is reuse, which revokes its family.
    Spent,
    /// Not a token the store holds, or not a token at all.
    Unknown,
    /// A token of another tenant than the one asked about ([`Inspection::token_tenant`]).
    WrongTenant,
    /// A JWT (or a record) that does not verify as a token of the tenant: bad signature, unknown key, wrong
    /// `typ`, a trusted issuer's token that fails validation, a record that does not match the token.
    Invalid,
}

impl TokenState {
    /// The state's name, as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Inactive => "INACTIVE",
            Self::Expired => "EXPIRED",
            Self::NotYetValid => "NOT_YET_VALID",
            Self::Revoked => "REVOKED",
            Self::Spent => "SPENT",
            Self::Unknown => "UNKNOWN",
            Self::WrongTenant => "WRONG_TENANT",
            Self::Invalid => "INVALID",
        }
    }
}

/// The watermark that made a token inactive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatermarkReport {
    /// Which: `family`, `family_refreshed` (a later refresh retired this access token), `subject`, `client`,
    /// `tenant`.
    pub kind: MarkKind,
    /// Tokens issued at or before this instant are inactive (µs since the epoch).
    pub revoked_before_us: u64,
    /// Whether the mark lies ahead of now: a family revoked for good (refresh-token reuse, or revocation of its
    /// refresh token), whose mark is set as far ahead as any of its tokens can live.
    pub final_mark: bool,
}

/// What the token says about itself and its grant: never a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenFacts {
    /// `jwt`, `opaque` or `external_jwt` (a trusted issuer's).
    pub format: String,
    /// `access_token` or `refresh_token`; absent for an external JWT.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The client it was issued to, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The subject, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The scope, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The issuer of an external JWT.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Issued at (µs since the epoch), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat_us: Option<u64>,
    /// Expires at (µs since the epoch), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp_us: Option<u64>,
    /// The grant family (the `tsr_fam` claim; embedded in an opaque token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
}

/// A token's state, its reason, and what it says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inspection {
    /// The state.
    pub state: TokenState,
    /// Why, in a sentence.
    pub reason: String,
    /// The tenant asked about.
    pub tenant: String,
    /// For [`TokenState::WrongTenant`]: the tenant the token belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_tenant: Option<String>,
    /// For [`TokenState::Inactive`]: the watermark.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watermark: Option<WatermarkReport>,
    /// For [`TokenState::Revoked`] and [`TokenState::Spent`]: when (µs since the epoch), when the store says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_us: Option<u64>,
    /// The instant it was judged at (µs since the epoch).
    pub judged_at_us: u64,
    /// What the token says about itself, when it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenFacts>,
}

/// Why a token could not be inspected at all.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// The tenant asked about is not served (or its keys cannot be read now).
    #[error("tenant {tenant}: {source}")]
    Tenant {
        /// The tenant.
        tenant: TenantId,
        /// Why.
        source: TenantError,
    },
    /// The store failed: nothing can be said about the token (never "active").
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Inspects `token` as a token of `tenant`, judged at the service clock's now through the strict store (every item
/// read, whatever the read plan's bound). Reads: the token's own one read; then, for an opaque token without a live
/// record, that record raw (is it there but expired?) and its key in each other tenant; for a JWT that fails, its
/// issuer among the other tenants (no read).
pub async fn inspect(service: &TokenService, tenant_id: &TenantId, token: &str) -> Result<Inspection, InspectError> {
    let now = service.clock.now();
    let tenant_error = |source| InspectError::Tenant { tenant: tenant_id.clone(), source };
    let tenant = service.tenant(tenant_id, None, now).await.map_err(tenant_error)?;
    let check = TokenCheck::read(service.store.as_ref(), &tenant, token, Accepted::Any, None, now).await?;
    let facts = facts(&check);
    let verdict = check.judge(now);
    let mut inspection = Inspection {
        state: TokenState::Active,
        reason: String::new(),
        tenant: tenant_id.to_string(),
        token_tenant: None,
        watermark: None,
        at_us: None,
        judged_at_us: now.as_micros(),
        token: facts,
    };
    let reason = match verdict {
        Ok(Active::Issued(_)) => "introspection answers active: true".to_owned(),
        Ok(Active::External(_)) => "a trusted issuer's JWT that validates and that Tessera has not revoked".into(),
        Err(NotActive::Inactive(Inactive::Expired)) => {
            inspection.state = TokenState::Expired;
            "past its exp".into()
        }
        Err(NotActive::Inactive(Inactive::NotYetValid)) => {
            inspection.state = TokenState::NotYetValid;
            "before its nbf".into()
        }
        Err(NotActive::Inactive(Inactive::Revoked)) => {
            inspection.state = TokenState::Revoked;
            inspection.at_us = revoked_at(&check).map(Timestamp::as_micros);
            match check.presented {
                Presented::Jwt(_) => "revoked one by one: its jti is on the denylist (RFC 7009)".into(),
                _ => "revoked one by one: its record is marked revoked (RFC 7009)".into(),
            }
        }
        Err(NotActive::Inactive(Inactive::Watermarked(mark))) => {
            inspection.state = TokenState::Inactive;
            let final_mark = mark.revoked_before > now;
            inspection.watermark = Some(WatermarkReport {
                kind: mark.kind,
                revoked_before_us: mark.revoked_before.as_micros(),
                final_mark,
            });
            watermark_reason(mark.kind, final_mark).into()
        }
        Err(NotActive::Spent) => {
            inspection.state = TokenState::Spent;
            inspection.at_us = spent_at(&check).map(Timestamp::as_micros);
            "a refresh token already rotated: presenting it again is reuse, which revokes its family".into()
        }
        Err(NotActive::NoRecord) => match elsewhere(service, &check, tenant_id, now).await? {
            Elsewhere::Expired => {
                inspection.state = TokenState::Expired;
                "past its exp (its record awaits the table's TTL deletion)".into()
            }
            Elsewhere::Tenant(other) => {
                inspection.state = TokenState::WrongTenant;
                inspection.token_tenant = Some(other.to_string());
                format!("a token of tenant {other}, not of {tenant_id}")
            }
            Elsewhere::Nowhere => {
                inspection.state = TokenState::Unknown;
                "a well-formed opaque token that the store does not hold (never issued, or its record expired and \
                 was deleted)"
                    .into()
            }
        },
        Err(NotActive::NotAToken) => {
            inspection.state = TokenState::Unknown;
            "neither an opaque Tessera token (prefix and checksum) nor a JWT".into()
        }
        Err(rejected @ NotActive::Jwt(_)) => match jwt_tenant(service, token, tenant_id, now).await {
            Some(other) => {
                inspection.state = TokenState::WrongTenant;
                inspection.token_tenant = Some(other.to_string());
                format!("a JWT of tenant {other}, not of {tenant_id}")
            }
            None => {
                inspection.state = TokenState::Invalid;
                format!("not a valid access token of tenant {tenant_id}: {rejected}")
            }
        },
        Err(other) => {
            inspection.state = TokenState::Invalid;
            other.to_string()
        }
    };
    inspection.reason = reason;
    Ok(inspection)
}

fn watermark_reason(kind: MarkKind, final_mark: bool) -> &'static str {
    match (kind, final_mark) {
        (MarkKind::FamilyRefreshed, _) => {
            "refreshed: a later refresh of its grant family retired it (WSO2's INACTIVE; the client's \
             revoke_access_on_refresh)"
        }
        (MarkKind::Family, true) => {
            "its grant family is revoked for good: refresh-token reuse, or revocation of its refresh token"
        }
        (MarkKind::Family, false) => {
            "its grant family's watermark (a revocation event or `tessera revoke --family-id`)"
        }
        (MarkKind::Subject, _) => "its subject's watermark: every token of the user issued up to the mark is revoked",
        (MarkKind::Client, _) => "its client's watermark: every token of the client issued up to the mark is revoked",
        (MarkKind::Tenant, _) => "the tenant's watermark: every token of the tenant issued up to the mark is revoked",
    }
}

/// What the token and its record say, without a secret.
fn facts(check: &TokenCheck) -> Option<TokenFacts> {
    let kind_name = |kind: TokenKind| match kind {
        TokenKind::AccessToken => "access_token",
        TokenKind::RefreshToken => "refresh_token",
    };
    let of_grant = |format: &str, kind, grant: &Grant| TokenFacts {
        format: format.to_owned(),
        kind: Some(kind_name(kind).to_owned()),
        client_id: Some(grant.client_id.to_string()),
        sub: Some(grant.subject.clone()),
        scope: Some(grant.scope.to_string()),
        iss: None,
        iat_us: Some(grant.issued_at.as_micros()),
        exp_us: Some(grant.expires_at.as_micros()),
        family: Some(grant.family.to_string()),
    };
    match &check.presented {
        Presented::Jwt(jwt) => Some(of_grant("jwt", TokenKind::AccessToken, &jwt.grant)),
        Presented::Opaque(token) => {
            let record = check.token_keys.state.as_ref().and_then(|k| check.fetched.token(k));
            Some(match record.filter(|r| token.matches(&r.grant)) {
                Some(record) => of_grant("opaque", record.kind, &record.grant),
                None => TokenFacts {
                    format: "opaque".into(),
                    kind: Some(kind_name(token.kind()).to_owned()),
                    client_id: None,
                    sub: None,
                    scope: None,
                    iss: None,
                    iat_us: None,
                    exp_us: None,
                    family: Some(token.family().to_string()),
                },
            })
        }
        Presented::External(external) => {
            let identity = &external.identity;
            Some(TokenFacts {
                format: "external_jwt".into(),
                kind: None,
                client_id: identity.client_id.clone(),
                sub: Some(identity.subject.clone()),
                scope: identity.scope.clone(),
                iss: Some(identity.issuer.clone()),
                iat_us: Some(identity.issued_at.as_micros()),
                exp_us: Some(identity.expires_at.as_micros()),
                family: None,
            })
        }
        Presented::Unrecognised(_) => None,
    }
}

/// When the token was revoked one by one, as its record or denylist entry says.
fn revoked_at(check: &TokenCheck) -> Option<Timestamp> {
    let key = check.token_keys.state.as_ref()?;
    let fetched = &check.fetched;
    fetched
        .token(key)
        .and_then(|r| r.revoked_at)
        .or_else(|| fetched.external_token(key).and_then(|r| r.revoked_at))
        .or_else(|| fetched.revoked_jti_at(key))
}

/// When a spent refresh token was rotated.
fn spent_at(check: &TokenCheck) -> Option<Timestamp> {
    check.token_keys.state.as_ref().and_then(|k| check.fetched.token(k)).and_then(|r| r.rotated_at)
}

/// Where an opaque token without a live record in its tenant is.
enum Elsewhere {
    /// Its record is in the tenant, expired (a read drops it; TTL deletion is lazy).
    Expired,
    /// Its record is in another tenant.
    Tenant(TenantId),
    /// Nowhere this deployment serves.
    Nowhere,
}

async fn elsewhere(
    service: &TokenService,
    check: &TokenCheck,
    tenant: &TenantId,
    now: Timestamp,
) -> Result<Elsewhere, StoreError> {
    let Presented::Opaque(token) = &check.presented else { return Ok(Elsewhere::Nowhere) };
    let hash = token.hash();
    let own = StoreKey::token(tenant, &hash);
    let raw = service.store.get_many(std::slice::from_ref(&own)).await?;
    if raw.iter().any(|r| matches!(r, Record::Token(t) if token.matches(&t.grant) && t.grant.expires_at <= now)) {
        return Ok(Elsewhere::Expired);
    }
    for other in service.tenant_ids().into_iter().filter(|t| t != tenant) {
        let key = StoreKey::token(&other, &hash);
        let fetched = Fetched::new(service.store.get_many(std::slice::from_ref(&key)).await?, now);
        if fetched.token(&key).is_some_and(|r| token.matches(&r.grant)) {
            return Ok(Elsewhere::Tenant(other));
        }
    }
    Ok(Elsewhere::Nowhere)
}

/// The other tenant whose access token this JWT is (its `iss` theirs, and it verifies under their keys), if any.
async fn jwt_tenant(service: &TokenService, token: &str, asked: &TenantId, now: Timestamp) -> Option<TenantId> {
    let issuer = peek_issuer(token)?;
    for other in service.tenant_ids().into_iter().filter(|t| t != asked) {
        let Ok(tenant) = service.tenant(&other, None, now).await else { continue };
        if *tenant.issuer == *issuer && tenant.verify_access_token(token, now).is_ok() {
            return Some(other);
        }
    }
    None
}

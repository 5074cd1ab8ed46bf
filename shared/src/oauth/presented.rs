//! A token presented to introspection, revocation or the authorizer: classified by its structure without I/O
//! (a JWT verified: signature with the algorithm pinned to its key, `typ`, `iss`), then judged against the store
//! records whose keys it yields (`exp`, `nbf`, its record or denylist entry, four watermarks). Every key is derived
//! from the token itself, so one store round trip answers. [`TokenCheck`] is that check, the one all three share.

use super::authenticate::{Authenticating, ClientEndpoint, authenticate, client_key};
use crate::TokenService;
use crate::domain::client::Client;
use crate::domain::grant::Grant;
use crate::domain::id::IdTag;
use crate::domain::revocation::{AppliedMark, Inactive, TokenValidity, check_active};
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;
use crate::domain::token::{ExternalTokenRecord, OpaqueToken, TokenKind};
use crate::jwt::access_token::{JwtRejection, VerifiedAccessToken};
use crate::jwt::external::{ExternalIdentity, ExternalRejection, peek_issuer};
use crate::store::{Fetched, StoreError, StoreKey, TokenStore};
use crate::tenancy::Tenant;
use crate::wire::OAuthError;
use crate::wire::client_auth::ClientCredentials;
use crate::wire::client_cert::ClientCertificate;
use crate::wire::http::OAuthRequest;

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
    Unrecognised(NotActive),
}

/// Why a presented token is not active. Logged, never sent: introspection answers `{"active": false}`, revocation
/// 200 (RFC 7009 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotActive {
    /// Neither an opaque token (prefix and checksum) nor a compact JWS.
    #[error("neither an opaque token nor a JWT")]
    NotAToken,
    /// A JWT that is not a valid Tessera access token of the tenant.
    #[error("jwt rejected: {0}")]
    Jwt(#[from] JwtRejection),
    /// A JWT of a trusted issuer that does not validate.
    #[error("external jwt rejected: {0}")]
    External(#[from] ExternalRejection),
    /// A well-formed opaque token without a live record.
    #[error("no live record")]
    NoRecord,
    /// The record is of the other kind (access against refresh) than the token's prefix says.
    #[error("record kind differs from token prefix")]
    KindMismatch,
    /// The record's grant is not the one whose ids the token embeds.
    #[error("record does not match the ids the token embeds")]
    IdsMismatch,
    /// The active rule refused it: expired, not yet valid, revoked or under a watermark (which one, and its mark).
    #[error("inactive: {0:?}")]
    Inactive(Inactive),
    /// A refresh token already rotated: presenting it again is reuse. Unexpired, unrevoked and under no
    /// watermark, or one of those would be the reason.
    #[error("a spent (rotated) refresh token")]
    Spent,
    /// A token of a kind this check does not accept ([`Accepted`]), judged without a store read.
    #[error("not accepted here: {0}")]
    NotAccepted(&'static str),
}

/// Which tokens a [`TokenCheck`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// Every token Tessera can judge: its own access and refresh tokens, and its trusted issuers' JWTs
    /// (introspection, revocation).
    Any,
    /// Tessera's own access tokens only, JWT or opaque (the authorizer, a resource server's check): a refresh
    /// token or a trusted issuer's JWT is refused as presented, before any store read or JWKS fetch.
    AccessTokens,
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
    /// Its subject's cached user details, read in the same round trip when the tenant has a trusted issuer with a
    /// UserInfo endpoint and the token is a user's (not a client's own). Shown, never judged on.
    pub user_details: Option<StoreKey>,
}

impl TokenKeys {
    /// Every key, for the one read.
    pub fn iter(&self) -> impl Iterator<Item = &StoreKey> {
        self.state.iter().chain(&self.legacy_state).chain(&self.watermarks).chain(&self.user_details)
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
    /// Classifies `token` for `tenant`: no store I/O (a JWKS URL may be read). A JWT whose unverified `iss` is a
    /// trusted issuer's is validated against that issuer (its time claims against `now`); any other JWT must be
    /// Tessera's own. What `accepted` leaves out is [`NotActive::NotAccepted`], without a JWKS read.
    pub async fn classify(token: &str, tenant: &Tenant<'_>, accepted: Accepted, now: Timestamp) -> Self {
        if let Some(opaque) = OpaqueToken::parse(token) {
            if accepted == Accepted::AccessTokens && opaque.kind() == TokenKind::RefreshToken {
                return Self::Unrecognised(NotActive::NotAccepted("a refresh token"));
            }
            return Self::Opaque(opaque);
        }
        if token.bytes().filter(|&b| b == b'.').count() != 2 {
            return Self::Unrecognised(NotActive::NotAToken);
        }
        let trusted =
            peek_issuer(token).filter(|iss| **iss != *tenant.issuer).and_then(|iss| tenant.trusted_issuer(&iss));
        if let Some(issuer) = trusted {
            if accepted == Accepted::AccessTokens {
                return Self::Unrecognised(NotActive::NotAccepted("a trusted issuer's token"));
            }
            return match issuer.validate(token, now).await {
                Ok(identity) => Self::External(Box::new(ExternalToken { identity, record: issuer.record_tokens })),
                Err(rejection) => Self::Unrecognised(rejection.into()),
            };
        }
        match tenant.verify_access_token(token, now) {
            Ok(verified) => Self::Jwt(Box::new(verified)),
            Err(rejection) => Self::Unrecognised(rejection.into()),
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
                user_details: None,
            },
            Self::Jwt(jwt) => TokenKeys {
                state: Some(StoreKey::revoked_jti(tenant, &jwt.jti)),
                legacy_state: Vec::new(),
                watermarks: watermarks(&jwt.grant.watermark_targets()),
                user_details: None,
            },
            Self::External(external) => TokenKeys {
                state: external.record.then(|| StoreKey::token(tenant, &external.identity.token_id)),
                legacy_state: match external.record {
                    true => external.identity.legacy_hashes.iter().map(|h| StoreKey::token(tenant, h)).collect(),
                    false => Vec::new(),
                },
                watermarks: watermarks(&external.identity.watermark_targets()),
                user_details: None,
            },
            Self::Unrecognised(_) => TokenKeys::default(),
        }
    }

    /// The key of the token's subject's cached user details, from the token alone: the subject tag an opaque token
    /// embeds, a JWT's `sub`, an external token's mapped subject. `None` for a client's own token (client
    /// credentials: its subject is the client, whose tag the token embeds twice) and for what is not a token.
    pub fn user_details_key(&self, tenant: &TenantId) -> Option<StoreKey> {
        let user =
            |subject: IdTag, client: IdTag| (subject != client).then(|| StoreKey::user_details(tenant, &subject));
        match self {
            Self::Opaque(token) => user(token.subject_tag(), token.client_tag()),
            Self::Jwt(jwt) => user(jwt.grant.subject_tag(), jwt.grant.client_tag()),
            Self::External(external) => Some(StoreKey::user_details(tenant, &IdTag::of(&external.identity.subject))),
            Self::Unrecognised(_) => None,
        }
    }

    /// Applies the active rule to the token and the fetched records.
    pub fn judge(&self, keys: &TokenKeys, fetched: &Fetched, now: Timestamp) -> Result<Active, NotActive> {
        // A refresh's mark on its family applies to the family's access tokens only (a refresh token is judged
        // by the watermarks proper, so its replay stays reuse).
        let access_token = match self {
            Self::Opaque(token) => token.kind() == TokenKind::AccessToken,
            Self::Jwt(_) => true,
            Self::External(_) | Self::Unrecognised(_) => false,
        };
        let watermarks = match access_token {
            true => fetched.access_token_marks(&keys.watermarks),
            false => fetched.marks(&keys.watermarks),
        };
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
                    issued_at: external.identity.issued_no_later_than(now),
                    expires_at: external.identity.accepted_until(),
                    not_before: None,
                    individually_revoked: revoked,
                    watermarks: &watermarks,
                };
                check_active(validity, now).map_err(NotActive::Inactive)?;
                return Ok(Active::External(external.clone()));
            }
            Self::Opaque(token) => {
                let record = key.and_then(|k| fetched.token(k)).ok_or(NotActive::NoRecord)?;
                if record.kind != token.kind() {
                    return Err(NotActive::KindMismatch);
                }
                if !token.matches(&record.grant) {
                    return Err(NotActive::IdsMismatch);
                }
                let active =
                    ActiveToken { grant: record.grant.clone(), kind: record.kind, jti: None, not_before: None };
                if record.revoked_at.is_none() && record.rotated_at.is_some() {
                    // A rotated refresh token is spent: presenting it is reuse, never an active token. The active
                    // rule still says first whether it is expired or revoked besides.
                    let validity = active.validity(false, &watermarks);
                    check_active(validity, now).map_err(NotActive::Inactive)?;
                    return Err(NotActive::Spent);
                }
                (active, record.revoked_at.is_some())
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
        check_active(active.validity(revoked, &watermarks), now).map_err(NotActive::Inactive)?;
        Ok(Active::Issued(Box::new(active)))
    }
}

impl ActiveToken {
    /// What the active rule needs of it, given its own revocation state and the marks that apply.
    fn validity<'a>(&self, individually_revoked: bool, watermarks: &'a [AppliedMark]) -> TokenValidity<'a> {
        TokenValidity {
            issued_at: self.grant.issued_at,
            expires_at: self.grant.expires_at,
            not_before: self.not_before,
            individually_revoked,
            watermarks,
        }
    }
}

/// A presented token, checked: what it is ([`Presented::classify`]), the keys of its state, and that state as one
/// store round trip read it, through the view the caller names: the service's read plan for a decision
/// (introspection, the authorizer: items at most B old), its strict store for what writes (revocation). [`TokenCheck::judge`] then applies the active rule. Introspection, revocation and the authorizer
/// all decide on this.
#[derive(Debug)]
pub struct TokenCheck {
    /// What the token turned out to be.
    pub presented: Presented,
    /// The keys of its state and watermarks.
    pub token_keys: TokenKeys,
    /// What the read returned, expired items dropped.
    pub fetched: Fetched,
}

impl TokenCheck {
    /// Classifies `token` for `tenant` at `now` and reads its state, together with the item under `with` (the
    /// caller's record, for introspection and revocation) in the same round trip. Nothing to read (a token refused
    /// as presented, and no `with`): no store call at all.
    pub async fn read(
        reads: &dyn TokenStore,
        tenant: &Tenant<'_>,
        token: &str,
        accepted: Accepted,
        with: Option<&StoreKey>,
        now: Timestamp,
    ) -> Result<Self, StoreError> {
        let presented = Presented::classify(token, tenant, accepted, now).await;
        let mut token_keys = presented.keys(tenant.id);
        // Introspection shows user details; the authorizer (access tokens only) has no use for them.
        if accepted == Accepted::Any && tenant.fetches_user_details() {
            token_keys.user_details = presented.user_details_key(tenant.id);
        }
        let keys: Vec<StoreKey> = with.into_iter().chain(token_keys.iter()).cloned().collect();
        let records = match keys.is_empty() {
            true => Vec::new(),
            false => reads.get_many(&keys).await?,
        };
        Ok(Self { presented, token_keys, fetched: Fetched::new(records, now) })
    }

    /// The active rule applied to the token and what the read fetched, at `now` (the instant it was read at).
    pub fn judge(&self, now: Timestamp) -> Result<Active, NotActive> {
        self.presented.judge(&self.token_keys, &self.fetched, now)
    }
}

/// The common start of a request that presents a token to a client-authenticated endpoint (introspection,
/// revocation): the tenant at the request's one instant, and the [`TokenCheck`] whose read also fetches the
/// caller's record.
pub struct PresentedRead<'a> {
    /// The tenant, as the request sees it.
    pub tenant: Tenant<'a>,
    /// The request's one instant.
    pub now: Timestamp,
    /// The token, checked.
    pub check: TokenCheck,
    credentials: &'a ClientCredentials,
    certificate: Option<&'a ClientCertificate>,
    caller_key: StoreKey,
    service: &'a TokenService,
    endpoint: ClientEndpoint,
}

impl<'a> PresentedRead<'a> {
    /// Parses what every such request needs (client credentials, `token`), classifies the token and reads
    /// through `reads`: the service's read plan for a decision (introspection), its strict store for what writes
    /// (revocation). Records the caller's `client_id` on the current span. `endpoint` is the one that received the
    /// request (an assertion may name it as its audience).
    pub async fn read(
        service: &'a TokenService,
        reads: &dyn TokenStore,
        request: &'a OAuthRequest,
        endpoint: ClientEndpoint,
    ) -> Result<Self, OAuthError> {
        let id = &request.tenant;
        let now = service.clock.now();
        let tenant = service.tenant(id, request.gateway_domain.as_deref(), now).await?;
        let credentials = request.require_credentials()?;
        tracing::Span::current().record("client_id", credentials.client_id.as_str());
        let token = request.require("token")?;
        let caller_key = client_key(id, credentials)?;
        let check = TokenCheck::read(reads, &tenant, token, Accepted::Any, Some(&caller_key), now).await?;
        let certificate = request.certificate.as_ref();
        Ok(Self { tenant, now, check, credentials, certificate, caller_key, service, endpoint })
    }

    /// The caller, authenticated against the record the read fetched (`invalid_client` otherwise). Call it once:
    /// an assertion's `jti` is spent by the first call.
    pub async fn caller(&self) -> Result<&Client, OAuthError> {
        let at = Authenticating {
            service: self.service,
            tenant: &self.tenant,
            endpoint: self.endpoint,
            certificate: self.certificate,
            now: self.now,
        };
        authenticate(&at, self.credentials, &self.caller_key, &self.check.fetched).await
    }

    /// The caller's client id, as presented.
    pub fn caller_id(&self) -> &'a str {
        &self.credentials.client_id
    }

    /// The active rule applied to the token and what the read fetched.
    pub fn judge(&self) -> Result<Active, NotActive> {
        self.check.judge(self.now)
    }
}

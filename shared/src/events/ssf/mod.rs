//! An OpenID Shared Signals Framework receiver: Security Event Tokens (RFC 8417) pushed by a transmitter
//! (RFC 8935) to `POST /ssf/events` (`/t/<tenant>/ssf/events`), each CAEP or RISC event that means "this user's
//! sessions or credentials are no longer good" turned into a revocation of the user's tokens, through the one
//! revocation path ([`RevocationEvent::apply`]: a subject watermark, with the event's seen-event item).
//!
//! A push is taken in this order, and anything refused revokes nothing:
//! 1. the transmitter is authenticated by the bearer token it presents (stored hashed, compared in constant time
//!    against each of the tenant's transmitters): `authentication_failed` (401);
//! 2. the SET is verified against that transmitter ([`SsfTransmitter::verify`]): `alg` pinned (never `none`, never
//!    HS*) and the key found by `kid` in its JWKS (inline, file or `jwks_uri` through the trusted issuers' cache),
//!    `typ` `secevent+jwt` when present, no key named twice, `iss` its issuer, `aud` its audience, `iat` within
//!    [`SET_MAX_AGE_SECS`] (and not ahead by more than the skew), `exp` if present not past, a `jti`, and `events`;
//! 3. each event is read ([`SsfTransmitter::read`]): a revoking type's subject identifier (the event's `subject`,
//!    else the SET's `sub_id`) is mapped to a Tessera subject through the trusted issuer it names (or the
//!    transmitter's first subject issuer), [`subject`]: an identifier that maps to no subject is refused
//!    (`invalid_request`), one naming an issuer the transmitter may not speak for is `access_denied` (403);
//! 4. the `jti` is used once ([`TokenStore::use_jti_once`], scope: the transmitter's issuer, kept until the SET is
//!    too old to be accepted anyway);
//! 5. each revocation is applied, with the event id `set:` + base64url(SHA-256(`iss` NUL `jti`)), so two
//!    transmitters' equal `jti`s never pass for one event.
//!
//! A replayed SET (its `jti` already used) is acknowledged again with 202 and changes nothing: RFC 8935 lets a
//! transmitter retry a push whose answer it did not get, and a refusal would have it retry forever or report a
//! failure for a SET that was applied. Its revocations are applied again, which the seen-event items make a no-op,
//! so a push whose first attempt failed between the `jti` and the watermark completes on its retry.
//!
//! | event type | reason logged | revokes |
//! |---|---|---|
//! | CAEP `session-revoked` | `session_revoked` | every token of the subject |
//! | CAEP `credential-change` | `credential_changed` | every token of the subject |
//! | RISC `account-disabled` | `account_disabled` | every token of the subject |
//! | RISC `account-purged` | `account_purged` | every token of the subject |
//! | RISC `credential-compromise` | `credential_compromised` | every token of the subject |
//! | RISC `sessions-revoked` | `sessions_revoked` | every token of the subject |
//! | anything else (SSF `verification`, CAEP `token-claims-change`, …) | | nothing: acknowledged, logged |

pub mod subject;

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use self::subject::{SubjectIdentifier, SubjectIssuer};
use super::{ApplyError, JsonRefusal, MAX_EVENT_ID_LEN, RevocationEvent, RevocationTarget, parse_json_strictly};
use crate::announcement::{RevocationAnnouncer, RevocationCause};
use crate::config::ConfigError;
use crate::domain::client::SecretHash;
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;
use crate::jwt::external::{EXTERNAL_LEEWAY_SECS, ExternalRejection, IssuerKeys, TrustedIssuer, VerifiedJws};
use crate::store::{JtiPurpose, JtiUse, RegisteredTransmitter, TokenStore, UsedJti};
use crate::wire::secevent::{SetError, SetErrorCode};

/// CAEP Session Revoked: the subject's session is gone.
pub const CAEP_SESSION_REVOKED: &str = "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
/// CAEP Credential Change: a credential was created, changed, revoked or deleted.
pub const CAEP_CREDENTIAL_CHANGE: &str = "https://schemas.openid.net/secevent/caep/event-type/credential-change";
/// RISC Account Disabled.
pub const RISC_ACCOUNT_DISABLED: &str = "https://schemas.openid.net/secevent/risc/event-type/account-disabled";
/// RISC Account Purged: the account is deleted.
pub const RISC_ACCOUNT_PURGED: &str = "https://schemas.openid.net/secevent/risc/event-type/account-purged";
/// RISC Credential Compromise.
pub const RISC_CREDENTIAL_COMPROMISE: &str =
    "https://schemas.openid.net/secevent/risc/event-type/credential-compromise";
/// RISC Sessions Revoked (superseded by CAEP Session Revoked, still sent).
pub const RISC_SESSIONS_REVOKED: &str = "https://schemas.openid.net/secevent/risc/event-type/sessions-revoked";
/// SSF Verification: a transmitter checking the stream; acknowledged, revokes nothing.
pub const SSF_VERIFICATION: &str = "https://schemas.openid.net/secevent/ssf/event-type/verification";

/// The event types that revoke every token of their subject, each with the reason it logs.
pub const REVOKING_EVENT_TYPES: [(&str, &str); 6] = [
    (CAEP_SESSION_REVOKED, "session_revoked"),
    (CAEP_CREDENTIAL_CHANGE, "credential_changed"),
    (RISC_ACCOUNT_DISABLED, "account_disabled"),
    (RISC_ACCOUNT_PURGED, "account_purged"),
    (RISC_CREDENTIAL_COMPROMISE, "credential_compromised"),
    (RISC_SESSIONS_REVOKED, "sessions_revoked"),
];

/// How old a SET may be (by its `iat`) and still be accepted: retries of a push whose answer was lost fit in it,
/// and its `jti` is kept this long (plus the skew), after which the SET is refused as too old anyway.
pub const SET_MAX_AGE_SECS: u64 = 3600;

/// The most events one SET may carry (SSF sends one).
pub const MAX_EVENTS_PER_SET: usize = 8;

/// A Shared Signals transmitter of a tenant, validated, its keys parsed once, its subject issuers resolved
/// against the tenant's trusted issuers.
#[derive(Debug, Clone)]
pub struct SsfTransmitter {
    tenant: TenantId,
    issuer: String,
    audience: String,
    keys: IssuerKeys,
    authorization: SecretHash,
    subject_issuers: Vec<SubjectIssuer>,
}

/// A verified SET: what its events are read from.
#[derive(Debug, Clone)]
pub struct SecurityEventToken {
    /// `jti`.
    pub jti: String,
    /// `iat`.
    pub issued_at: Timestamp,
    /// `events`: each event type and its payload, in the SET's order.
    pub events: Vec<(String, Map<String, Value>)>,
    /// `sub_id` (SSF): the subject of every event that names none itself.
    pub sub_id: Option<Value>,
}

/// What one event of a SET comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetEvent {
    /// Every token of `subject` is revoked.
    Revoke {
        /// The Tessera subject.
        subject: String,
        /// Why (the event type's reason).
        reason: &'static str,
    },
    /// A type that revokes nothing: acknowledged and logged.
    Ignored {
        /// The event type (at most 256 characters of it).
        event_type: String,
    },
}

/// What a received SET came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetReceipt {
    /// The transmitter's issuer.
    pub issuer: String,
    /// The SET's `jti`.
    pub jti: String,
    /// It had been received before: nothing new was applied.
    pub replayed: bool,
    /// Its events, as read.
    pub events: Vec<SetEvent>,
    /// How many watermarks were raised (0 on a replay).
    pub written: usize,
}

impl SsfTransmitter {
    /// Validates `registered` against `trusted`, the tenant's trusted issuers (each subject issuer must be one);
    /// a JWKS URL is read with `http`.
    pub fn new(
        registered: &RegisteredTransmitter,
        trusted: &[TrustedIssuer],
        http: Option<reqwest::Client>,
    ) -> Result<Self, ConfigError> {
        let invalid = |what: String| ConfigError::Invalid(format!("SSF transmitter {:?}: {what}", registered.issuer));
        if registered.issuer.is_empty() || registered.audience.is_empty() {
            return Err(invalid("issuer and audience must not be empty".into()));
        }
        let (algorithms, source) = crate::tenancy::trusted_issuers::key_settings(
            "SSF transmitter",
            &registered.issuer,
            &registered.algorithms,
            registered.jwks.clone(),
        )?;
        let keys = IssuerKeys::new(&registered.issuer, algorithms, source, http)
            .map_err(|e| ConfigError::Invalid(format!("SSF transmitter: {e}")))?;
        if registered.subject_issuers.is_empty() {
            return Err(invalid("subject_issuers is empty: its events could revoke nobody".into()));
        }
        let subject_issuers = registered
            .subject_issuers
            .iter()
            .map(|name| {
                trusted
                    .iter()
                    .find(|t| t.issuer == *name)
                    .map(|t| SubjectIssuer {
                        issuer: t.issuer.clone(),
                        subject_claim: t.subject_claim.clone(),
                        claims_mapping: t.claims_mapping.clone(),
                    })
                    .ok_or_else(|| {
                        invalid(format!(
                            "subject issuer {name:?} is not a trusted issuer of tenant '{}' (set subject_issuers to \
                             the trusted issuers whose users its events name)",
                            registered.tenant
                        ))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            tenant: registered.tenant.clone(),
            issuer: registered.issuer.clone(),
            audience: registered.audience.clone(),
            keys,
            authorization: registered.authorization_hash.clone(),
            subject_issuers,
        })
    }

    /// The tenant it pushes to.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// Its issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The JWKS cache, for keys configured with `jwks_uri`.
    pub fn remote_jwks(&self) -> Option<&crate::jwt::external::RemoteJwks> {
        self.keys.remote()
    }

    /// Verifies `set` (RFC 8417; RFC 8935 §2): see the module's step 2.
    pub async fn verify(&self, set: &str, now: Timestamp) -> Result<SecurityEventToken, SetError> {
        let header = protected_header(set)?;
        match header.get("alg").and_then(Value::as_str) {
            None => return Err(SetError::invalid_request("the SET's header has no alg")),
            Some(alg) if alg.eq_ignore_ascii_case("none") => {
                return Err(SetError::new(SetErrorCode::InvalidKey, "unsigned SETs (alg none) are refused"));
            }
            Some(_) => {}
        }
        // RFC 8417 §2.3: explicit typing, where the transmitter uses it.
        match header.get("typ") {
            None => {}
            Some(Value::String(typ))
                if typ.eq_ignore_ascii_case("secevent+jwt") || typ.eq_ignore_ascii_case("application/secevent+jwt") => {
            }
            Some(_) => return Err(SetError::invalid_request("typ is not secevent+jwt")),
        }
        let VerifiedJws { .. } = self.keys.verify(set, now).await.map_err(refusal)?;
        // The claims as signed, a key named twice refused (serde keeps the last of two, a reader the first).
        let payload = set.split('.').nth(1).unwrap_or_default();
        let payload =
            URL_SAFE_NO_PAD.decode(payload).map_err(|_| SetError::invalid_request("the payload is not base64url"))?;
        let claims = match parse_json_strictly(&payload) {
            Ok(Value::Object(claims)) => claims,
            Ok(_) | Err(JsonRefusal::NotJson) => {
                return Err(SetError::invalid_request("the claims are not a JSON object"));
            }
            Err(JsonRefusal::DuplicateKey) => {
                return Err(SetError::invalid_request(JsonRefusal::DuplicateKey.to_string()));
            }
        };
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err(SetError::new(SetErrorCode::InvalidIssuer, "iss is not this transmitter's issuer"));
        }
        let audience_named = match claims.get("aud") {
            Some(Value::String(one)) => *one == self.audience,
            Some(Value::Array(many)) => many.iter().any(|a| a.as_str() == Some(self.audience.as_str())),
            _ => false,
        };
        if !audience_named {
            return Err(SetError::new(SetErrorCode::InvalidAudience, "aud does not name this receiver"));
        }
        let numeric = |name: &'static str| match claims.get(name) {
            None => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or(SetError::invalid_request(format!("{name} is not a NumericDate"))),
        };
        let now_secs = now.as_secs();
        let iat = numeric("iat")?.ok_or(SetError::invalid_request("the SET has no iat"))?;
        if iat > now_secs.saturating_add(EXTERNAL_LEEWAY_SECS) {
            return Err(SetError::invalid_request("iat is in the future"));
        }
        if now_secs.saturating_sub(iat) > SET_MAX_AGE_SECS {
            return Err(SetError::invalid_request(format!(
                "the SET was issued more than {SET_MAX_AGE_SECS} seconds ago"
            )));
        }
        if numeric("exp")?.is_some_and(|exp| now_secs >= exp.saturating_add(EXTERNAL_LEEWAY_SECS)) {
            return Err(SetError::invalid_request("the SET has expired"));
        }
        let jti = claims
            .get("jti")
            .and_then(Value::as_str)
            .filter(|j| !j.is_empty() && j.len() <= MAX_EVENT_ID_LEN && !j.chars().any(char::is_control))
            .ok_or(SetError::invalid_request(format!("jti must be a string of 1 to {MAX_EVENT_ID_LEN} bytes")))?
            .to_owned();
        let events = match claims.get("events") {
            Some(Value::Object(events)) if !events.is_empty() && events.len() <= MAX_EVENTS_PER_SET => events,
            _ => {
                return Err(SetError::invalid_request(format!(
                    "events must be an object of 1 to {MAX_EVENTS_PER_SET} events"
                )));
            }
        };
        let events = events
            .iter()
            .map(|(event_type, payload)| match payload {
                Value::Object(payload) => Ok((event_type.clone(), payload.clone())),
                _ => Err(SetError::invalid_request("an event's payload is not a JSON object")),
            })
            .collect::<Result<_, _>>()?;
        Ok(SecurityEventToken {
            jti,
            issued_at: Timestamp::from_secs(iat),
            events,
            sub_id: claims.get("sub_id").cloned(),
        })
    }

    /// What each event of `set` comes to: see the module's step 3.
    pub fn read(&self, set: &SecurityEventToken) -> Result<Vec<SetEvent>, SetError> {
        set.events
            .iter()
            .map(|(event_type, payload)| {
                let Some((_, reason)) = REVOKING_EVENT_TYPES.iter().find(|(t, _)| t == event_type) else {
                    return Ok(SetEvent::Ignored { event_type: event_type.chars().take(256).collect() });
                };
                let subject = payload
                    .get("subject")
                    .or(set.sub_id.as_ref())
                    .ok_or(SetError::invalid_request("the event names no subject (no subject, no sub_id)"))?;
                let id = SubjectIdentifier::parse(subject).map_err(|e| SetError::invalid_request(e.to_string()))?;
                let issuer = match id.issuer() {
                    Some(named) => self.subject_issuers.iter().find(|s| s.issuer == named).ok_or_else(|| {
                        SetError::new(
                            SetErrorCode::AccessDenied,
                            "the subject's issuer is not one whose users this transmitter may revoke",
                        )
                    })?,
                    None => &self.subject_issuers[0],
                };
                let subject = issuer.subject_of(&id).ok_or_else(|| {
                    SetError::invalid_request(format!(
                        "the {} subject identifier maps to no subject of issuer {:?} (its subject claim is {:?})",
                        id.format(),
                        issuer.issuer,
                        issuer.subject_claim
                    ))
                })?;
                Ok(SetEvent::Revoke { subject, reason })
            })
            .collect()
    }

    /// The id the revocations of the SET `jti` are applied under: `set:` + base64url(SHA-256(`iss` NUL `jti`)).
    pub fn event_id(&self, jti: &str) -> String {
        let mut digest = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        digest.update(self.issuer.as_bytes());
        digest.update(&[0]);
        digest.update(jti.as_bytes());
        format!("set:{}", URL_SAFE_NO_PAD.encode(digest.finish()))
    }
}

/// The protected header of a compact JWS, parsed strictly (a key named twice is refused).
fn protected_header(set: &str) -> Result<Map<String, Value>, SetError> {
    let malformed = || SetError::invalid_request("the body is not a compact JWS");
    if set.split('.').count() != 3 {
        return Err(malformed());
    }
    let header = URL_SAFE_NO_PAD.decode(set.split('.').next().unwrap_or_default()).map_err(|_| malformed())?;
    match parse_json_strictly(&header) {
        Ok(Value::Object(header)) => Ok(header),
        Err(JsonRefusal::DuplicateKey) => Err(SetError::invalid_request("the header names a key twice")),
        _ => Err(malformed()),
    }
}

/// A key-side rejection in RFC 8935's words: the key or algorithm is unacceptable (`invalid_key`), or the JWS is
/// not one (`invalid_request`).
fn refusal(rejection: ExternalRejection) -> SetError {
    match rejection {
        ExternalRejection::AlgorithmNotAllowed
        | ExternalRejection::UnknownKey
        | ExternalRejection::AlgorithmMismatch
        | ExternalRejection::BadSignature => SetError::new(SetErrorCode::InvalidKey, rejection.to_string()),
        ExternalRejection::TooLong => SetError::invalid_request("the SET is too long"),
        ExternalRejection::Critical => SetError::invalid_request("the SET has a crit header"),
        _ => SetError::invalid_request("the body is not a compact JWS"),
    }
}

/// Every tenant's transmitters, as the receiver serves them.
#[derive(Debug, Clone, Default)]
pub struct SsfTransmitters {
    by_tenant: HashMap<TenantId, Vec<SsfTransmitter>>,
}

impl SsfTransmitters {
    /// The transmitters, grouped by tenant; two of one tenant with the same issuer are refused.
    pub fn new(transmitters: Vec<SsfTransmitter>) -> Result<Self, ConfigError> {
        let mut by_tenant: HashMap<TenantId, Vec<SsfTransmitter>> = HashMap::new();
        for transmitter in transmitters {
            let of_tenant = by_tenant.entry(transmitter.tenant.clone()).or_default();
            if of_tenant.iter().any(|t| t.issuer == transmitter.issuer) {
                return Err(ConfigError::Invalid(format!(
                    "SSF transmitter {:?} of tenant '{}' is listed twice",
                    transmitter.issuer, transmitter.tenant
                )));
            }
            of_tenant.push(transmitter);
        }
        Ok(Self { by_tenant })
    }

    /// Whether any transmitter is configured.
    pub fn is_empty(&self) -> bool {
        self.by_tenant.is_empty()
    }

    /// The transmitters of `tenant`.
    pub fn of(&self, tenant: &TenantId) -> &[SsfTransmitter] {
        self.by_tenant.get(tenant).map(Vec::as_slice).unwrap_or_default()
    }

    /// The transmitter of `tenant` whose bearer token `presented` is: every one is compared (in constant time), so
    /// the answer's time says nothing about which, or how many, there are.
    pub fn authenticate(&self, tenant: &TenantId, presented: &str) -> Option<&SsfTransmitter> {
        let transmitters = self.of(tenant);
        if transmitters.is_empty() {
            SecretHash::verify_nothing(presented);
            return None;
        }
        transmitters.iter().fold(None, |found, t| match t.authorization.verify(presented) {
            true => Some(t),
            false => found,
        })
    }
}

/// A revocation not written (the store failed) or not announced: either way the transmitter is to deliver the SET
/// again, as RFC 8935 §2.4 lets it after a 5xx.
fn not_applied(err: ApplyError) -> SetError {
    match err {
        ApplyError::Store(store) => store.into(),
        ApplyError::NotAnnounced(announce) => {
            tracing::error!(error = %announce, "security event applied but not announced; the transmitter retries");
            SetError::Store(crate::wire::error::OAuthError::temporarily_unavailable(1))
        }
    }
}

/// Receives one pushed SET for `tenant`, presented with the bearer token `authorization`: authenticates the
/// transmitter, verifies and reads the SET, uses its `jti` once and applies its revocations to `store` at `now`
/// (the module's steps 1 to 5), each announced through `announcer`. A store failure, or a revocation that stands
/// but was not announced, is [`SetError::Store`] (503): the transmitter retries, and the retry, its `jti` already
/// used, changes nothing but announces again.
pub async fn receive(
    transmitters: &SsfTransmitters,
    store: &dyn TokenStore,
    announcer: &dyn RevocationAnnouncer,
    tenant: &TenantId,
    authorization: Option<&str>,
    set: &str,
    now: Timestamp,
) -> Result<SetReceipt, SetError> {
    let unauthenticated = || SetError::new(SetErrorCode::AuthenticationFailed, "no valid transmitter authorization");
    let transmitter =
        transmitters.authenticate(tenant, authorization.ok_or_else(unauthenticated)?).ok_or_else(unauthenticated)?;
    let token = transmitter.verify(set, now).await?;
    let events = transmitter.read(&token)?;
    // A transmitter revokes users, never a service: a subject that is one of the tenant's client ids would revoke
    // that client's own tokens. Refused before anything is written (one read, of those client records).
    let subjects: Vec<String> = events
        .iter()
        .filter_map(|event| match event {
            SetEvent::Revoke { subject, .. } => Some(subject.clone()),
            SetEvent::Ignored { .. } => None,
        })
        .collect();
    if crate::events::names_a_client(store, tenant, &subjects, now).await? {
        return Err(SetError::new(
            SetErrorCode::AccessDenied,
            "a subject is the id of a client of this tenant: a transmitter may revoke users, not clients",
        ));
    }
    let expires_at = token.issued_at.plus_secs(SET_MAX_AGE_SECS + EXTERNAL_LEEWAY_SECS);
    let used = UsedJti::new(tenant.clone(), JtiPurpose::SecurityEvent, &transmitter.issuer, &token.jti, expires_at);
    let replayed = store.use_jti_once(used, now).await? == JtiUse::Replayed;
    let event_id = transmitter.event_id(&token.jti);
    let mut written = 0;
    for event in &events {
        if let SetEvent::Revoke { subject, reason } = event {
            let revocation = RevocationEvent {
                event_id: event_id.clone(),
                tenant: tenant.clone(),
                target: RevocationTarget::Subject(subject.clone()),
                reason: format!("ssf {reason}"),
                cause: RevocationCause::SharedSignals,
            };
            if revocation.apply(store, announcer, now).await.map_err(not_applied)? {
                written += 1;
                crate::metrics::count_for_served(
                    crate::metrics::Metric::Revocations(crate::metrics::RevocationKind::Subject),
                    tenant,
                );
            }
        }
    }
    let receipt = SetReceipt { issuer: transmitter.issuer.clone(), jti: token.jti, replayed, events, written };
    for event in &receipt.events {
        if let SetEvent::Ignored { event_type } = event {
            tracing::info!(tenant = %tenant, transmitter = %receipt.issuer, jti = %receipt.jti, event_type,
                "security event ignored: its type revokes nothing");
        }
    }
    tracing::info!(tenant = %tenant, transmitter = %receipt.issuer, jti = %receipt.jti, replayed, written,
        "security event token received");
    Ok(receipt)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::revocation::WatermarkTarget;
    use crate::jwt::keys::{SigningAlgorithm, SigningKey};
    use crate::store::memory::MemoryStore;
    use crate::store::{Fetched, IssuerJwks, StoreKey};

    const NOW: u64 = 1_800_000_000;
    const TOKEN: &str = "transmitter-token-0123456789abcdefghij";
    const OTHER_TOKEN: &str = "other-transmitter-token-0123456789abcd";

    /// A transmitter for `issuer`, signing with `key`, whose subjects are those of the trusted issuer of the same name.
    fn transmitter(issuer: &str, key: &SigningKey, token: &str) -> SsfTransmitter {
        let jwks = json!({"keys": [key.public_jwk()]}).to_string();
        let toml = format!(
            "[[trusted_issuers]]\nissuer = \"{issuer}\"\naudiences = [\"api\"]\nalgorithms = [\"ES256\"]\njwks = '{jwks}'\n"
        );
        let config = crate::config::Config::from_toml(&toml).unwrap();
        let trusted = crate::tenancy::trusted_issuers::trusted_issuers_of(&config, &TenantId::default(), &[]).unwrap();
        let registered = RegisteredTransmitter {
            tenant: TenantId::default(),
            issuer: issuer.into(),
            audience: "https://auth.example.com/ssf/events".into(),
            algorithms: vec!["ES256".into()],
            jwks: IssuerJwks::Inline(jwks),
            authorization_hash: SecretHash::new(token, [1; 16]),
            subject_issuers: vec![issuer.into()],
        };
        SsfTransmitter::new(&registered, &trusted, None).unwrap()
    }

    fn session_revoked(issuer: &str, jti: &str, sub: &str) -> Value {
        json!({"iss": issuer, "aud": "https://auth.example.com/ssf/events", "iat": NOW - 5, "jti": jti,
            "events": {CAEP_SESSION_REVOKED: {"subject": {"format": "iss_sub", "iss": issuer, "sub": sub}}}})
    }

    /// RFC 8417 §2.2 (`jti`) and RFC 8935 §2.2: a SET received twice is acknowledged twice and applied once; the
    /// same `jti` from another transmitter is a SET of its own, applied under its own event id.
    #[tokio::test]
    async fn a_set_is_applied_once_per_transmitter_and_jti() {
        let (one, two) = ("https://one.example/", "https://two.example/");
        let (key_one, key_two) = (
            SigningKey::generate(SigningAlgorithm::ES256, "k1").unwrap(),
            SigningKey::generate(SigningAlgorithm::ES256, "k2").unwrap(),
        );
        let transmitters =
            SsfTransmitters::new(vec![transmitter(one, &key_one, TOKEN), transmitter(two, &key_two, OTHER_TOKEN)])
                .unwrap();
        let store = MemoryStore::new();
        let announced = crate::announcement::recent::RecentAnnouncements::default();
        let tenant = TenantId::default();
        let now = Timestamp::from_secs(NOW);
        let set = key_one.sign_jwt("secevent+jwt", &session_revoked(one, "j-1", "alice")).unwrap();
        let first = receive(&transmitters, &store, &announced, &tenant, Some(TOKEN), &set, now).await.unwrap();
        assert_eq!((first.replayed, first.written, first.issuer.as_str()), (false, 1, one));
        let again =
            receive(&transmitters, &store, &announced, &tenant, Some(TOKEN), &set, now.plus_secs(60)).await.unwrap();
        assert_eq!((again.replayed, again.written), (true, 0), "a replay writes nothing");
        let key = StoreKey::watermark(&tenant, &WatermarkTarget::subject("alice"));
        let fetched = Fetched::new(store.get_many(std::slice::from_ref(&key)).await.unwrap(), now);
        assert_eq!(fetched.watermarks(&[key]), vec![now], "the mark of the first delivery");
        // The bearer token picks the transmitter, and the SET must be signed by its key (then be its issuer's).
        let other = key_two.sign_jwt("secevent+jwt", &session_revoked(two, "j-1", "bob")).unwrap();
        let refused = receive(&transmitters, &store, &announced, &tenant, Some(TOKEN), &other, now).await.unwrap_err();
        assert_eq!(refused.code(), Some(SetErrorCode::InvalidKey));
        let other = receive(&transmitters, &store, &announced, &tenant, Some(OTHER_TOKEN), &other, now).await.unwrap();
        assert_eq!((other.replayed, other.written, other.issuer.as_str()), (false, 1, two));
        assert_ne!(transmitters.of(&tenant)[0].event_id("j-1"), transmitters.of(&tenant)[1].event_id("j-1"));
        // Each delivery is announced, the replay again under the first one's id (a consumer de-duplicates on it).
        let announcements = announced.all();
        assert_eq!(announcements.len(), 3, "{announcements:?}");
        assert_eq!(announcements[0].id, announcements[1].id);
        assert!(announcements.iter().all(|a| a.cause == crate::announcement::RevocationCause::SharedSignals));
    }

    /// A transmitter revokes users, not services: a SET whose subject is the id of one of the tenant's clients
    /// (whose client-credentials tokens carry that id as their subject) is refused with `access_denied` (RFC 8935
    /// §2.3) and writes nothing, not even its `jti`, so the transmitter may correct it and send it again. A subject
    /// that is no client's id is revoked as before.
    #[tokio::test]
    async fn a_subject_that_is_a_client_id_is_refused() {
        let issuer = "https://one.example/";
        let key = SigningKey::generate(SigningAlgorithm::ES256, "k1").unwrap();
        let transmitters = SsfTransmitters::new(vec![transmitter(issuer, &key, TOKEN)]).unwrap();
        let tenant = TenantId::default();
        let store = MemoryStore::with_clients(vec![crate::store::conformance::client(&tenant, "billing")]);
        let announced = crate::announcement::recent::RecentAnnouncements::default();
        let now = Timestamp::from_secs(NOW);
        let set = key.sign_jwt("secevent+jwt", &session_revoked(issuer, "j-1", "billing")).unwrap();
        let refused = receive(&transmitters, &store, &announced, &tenant, Some(TOKEN), &set, now).await.unwrap_err();
        assert_eq!(refused.code(), Some(SetErrorCode::AccessDenied));
        let key_of = |subject: &str| StoreKey::watermark(&tenant, &WatermarkTarget::subject(subject));
        let fetched = Fetched::new(store.get_many(&[key_of("billing")]).await.unwrap(), now);
        assert!(fetched.watermarks(&[key_of("billing")]).is_empty(), "nothing revoked");
        assert!(announced.all().is_empty());
        let user = key.sign_jwt("secevent+jwt", &session_revoked(issuer, "j-1", "billing-user")).unwrap();
        let applied = receive(&transmitters, &store, &announced, &tenant, Some(TOKEN), &user, now).await.unwrap();
        assert_eq!((applied.replayed, applied.written), (false, 1), "the jti was not spent by the refusal");
    }
}

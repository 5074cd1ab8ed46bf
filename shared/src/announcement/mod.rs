//! Revocation announcements: the event Tessera puts on an EventBridge bus each time it revokes, so that systems
//! downstream (sessions, caches, SIEMs) hear of it. The inbound side is [`crate::events`].
//!
//! Every place that revokes announces, after its write succeeded: refresh-token reuse and `/oauth2/revoke`
//! ([`crate::oauth`]), and every revocation event, whoever sent it ([`crate::events::RevocationEvent::apply`], the
//! one path events, identity-provider events and `tessera revoke --table` revoke through). Introspection and the
//! authorizer never announce, and neither does a refresh's retirement of its family's earlier access tokens: that
//! is the grant going on, not a revocation.
//!
//! The event: `source` [`SOURCE`], `detail-type` [`DETAIL_TYPE`], and as `detail` a [`RevocationAnnouncement`]
//! (README, "Revocation announcements", has the schema and an example). It never carries a token or a secret: a
//! JWT is named by its `jti` (a trusted issuer's, by its issuer and `jti`), an opaque token by the SHA-256 of the
//! token (what the table keys it by; a token has 256 random bits, so the hash cannot be turned back into it, and a
//! cache keyed by it can drop the token), a subject and a client by their ids.
//!
//! Idempotent: [`RevocationAnnouncement::id`] is a hash of everything else in the detail, so a revocation event
//! delivered twice is announced twice with one id, and consumers drop the second. Bounded: fixed fields, each
//! bounded in length ([`MAX_DETAIL_BYTES`]), far below EventBridge's 256 KB.
//!
//! A failure to announce never undoes the revocation, which is committed first: on the HTTP paths it is logged
//! and counted ([`Metric::RevocationAnnouncementFailures`], alarmed in template.yaml) and the answer is unchanged;
//! a revocation event fails, so EventBridge or SQS delivers it again, and the re-delivery, which writes nothing,
//! announces again.

pub mod eventbridge;
pub mod recent;

use serde::{Deserialize, Serialize};

use crate::domain::client::ClientId;
use crate::domain::id::FamilyId;
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;
use crate::domain::token::TokenHash;
use crate::metrics::{self, Metric};

/// The EventBridge `source` of an announcement.
pub const SOURCE: &str = "tessera";

/// The EventBridge `detail-type` of an announcement. Not [`crate::events::DETAIL_TYPE`]: a rule that takes
/// revocation events in never takes Tessera's own announcements back.
pub const DETAIL_TYPE: &str = "Tessera Revocation";

/// The longest trusted issuer's `jti` an announcement carries; a longer one is left out (the issuer's tokens are
/// not Tessera's to bound).
pub const MAX_EXTERNAL_JTI_LEN: usize = 256;

/// The detail's schema version; a change that is not an added optional field raises it.
pub const SCHEMA_VERSION: u32 = 1;

/// A bound on a detail's JSON size: a subject or an issuer, and a reason (at most 1,024 bytes each, at most 2 bytes
/// of JSON per byte once escaped, as control characters are refused), an event id (128) or a `jti` (256), and
/// fixed fields.
pub const MAX_DETAIL_BYTES: usize = 16 * 1024;

/// What a revocation revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevokedKind {
    /// One token: a JWT's `jti` denylisted, an opaque or recorded external token's record marked revoked.
    Token,
    /// Every token of one grant family.
    Family,
    /// Every token of one subject issued up to `revoked_at`.
    Subject,
    /// Every token issued to one client up to `revoked_at`.
    Client,
    /// Every token of the tenant issued up to `revoked_at`.
    Tenant,
}

/// Why Tessera revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationCause {
    /// A spent refresh token was presented again (RFC 9700 §4.14.2): its family is revoked.
    RefreshReuse,
    /// A client revoked a token at `/oauth2/revoke` (RFC 7009).
    Rfc7009,
    /// A `tessera.revoke` event (EventBridge, SQS, the runner's `/local/events`).
    Event,
    /// An identity provider's event (Auth0, Okta, a mapped source: [`crate::events::identity_provider`]).
    IdentityProvider,
    /// An operator, with `tessera revoke --table` or `tessera tenants delete`.
    Operator,
    /// A Security Event Token a Shared Signals transmitter pushed (RFC 8935: [`crate::events::ssf`]).
    SharedSignals,
}

impl RevocationCause {
    /// Its name in the detail.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::RefreshReuse => "refresh_reuse",
            Self::Rfc7009 => "rfc7009",
            Self::Event => "event",
            Self::IdentityProvider => "identity_provider",
            Self::Operator => "operator",
            Self::SharedSignals => "shared_signals",
        }
    }
}

/// What was revoked, with the identifiers that name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoked {
    /// A JWT access token, by its `jti`, issued to `client_id`.
    Jwt {
        /// Its `jti`.
        jti: String,
        /// The client it was issued to.
        client_id: ClientId,
    },
    /// An opaque token of Tessera's, by the SHA-256 its record is kept under, issued to `client_id`.
    Opaque {
        /// SHA-256 of the token.
        token_hash: TokenHash,
        /// The client it was issued to.
        client_id: ClientId,
    },
    /// A trusted issuer's JWT, recorded revoked at the request of the resource server `client_id`.
    External {
        /// Its issuer.
        issuer: String,
        /// Its `jti`, when it has one no longer than [`MAX_EXTERNAL_JTI_LEN`].
        jti: Option<String>,
        /// The resource server that revoked it.
        client_id: ClientId,
    },
    /// A grant family; `client_id` when the revocation knew it (reuse, `/oauth2/revoke`).
    Family {
        /// The family.
        family: FamilyId,
        /// Its client.
        client_id: Option<ClientId>,
    },
    /// A subject.
    Subject(String),
    /// A client.
    Client(ClientId),
    /// The whole tenant.
    Tenant,
}

/// The `detail` of an announcement ([module docs](self)). Optional fields are left out when absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationAnnouncement {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The announcement's id: base64url SHA-256 of every other field. The same revocation announced again (a
    /// re-delivered revocation event) has the same id: de-duplicate by it, not by EventBridge's event `id`.
    pub id: String,
    /// The tenant.
    pub tenant: TenantId,
    /// What was revoked.
    pub kind: RevokedKind,
    /// `subject`: the subject revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// `client`: the client revoked; `token`, `family`: the client the token was issued to, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// `family`: the grant family (its JWTs' `tsr_fam` claim).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_id: Option<String>,
    /// `token`, a trusted issuer's JWT: its issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// `token`, a JWT: its `jti`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// `token`, an opaque token: base64url SHA-256 of the token, never the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_sha256: Option<String>,
    /// When it was revoked, in microseconds since the epoch. For a subject, client or tenant, the watermark:
    /// their tokens issued at or before it are revoked, later ones are not. A family is revoked whole.
    pub revoked_at: u64,
    /// Why.
    pub cause: RevocationCause,
    /// The revocation event's `reason` (events only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The revocation event's `event_id` (events only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
}

/// The revocation event an announcement comes from: its id and reason.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The event's id.
    pub event_id: &'a str,
    /// Its reason.
    pub reason: &'a str,
}

impl RevocationAnnouncement {
    /// The announcement of `revoked` in `tenant` at `revoked_at`, for `cause`, from the revocation event `origin`
    /// if there was one; its [`RevocationAnnouncement::id`] is computed from all of it.
    pub fn new(
        tenant: &TenantId,
        revoked: Revoked,
        revoked_at: Timestamp,
        cause: RevocationCause,
        origin: Option<Origin<'_>>,
    ) -> Self {
        let mut announcement = Self {
            schema_version: SCHEMA_VERSION,
            id: String::new(),
            tenant: tenant.clone(),
            kind: RevokedKind::Tenant,
            subject: None,
            client_id: None,
            family_id: None,
            issuer: None,
            jti: None,
            token_sha256: None,
            revoked_at: revoked_at.as_micros(),
            cause,
            reason: origin.map(|o| o.reason.to_owned()),
            event_id: origin.map(|o| o.event_id.to_owned()),
        };
        match revoked {
            Revoked::Jwt { jti, client_id } => {
                announcement.kind = RevokedKind::Token;
                announcement.jti = Some(jti);
                announcement.client_id = Some(client_id.to_string());
            }
            Revoked::Opaque { token_hash, client_id } => {
                announcement.kind = RevokedKind::Token;
                announcement.token_sha256 = Some(token_hash.as_str().to_owned());
                announcement.client_id = Some(client_id.to_string());
            }
            Revoked::External { issuer, jti, client_id } => {
                announcement.kind = RevokedKind::Token;
                announcement.issuer = Some(issuer).filter(|issuer| issuer.len() <= crate::events::MAX_FIELD_LEN);
                announcement.jti = jti.filter(|jti| jti.len() <= MAX_EXTERNAL_JTI_LEN);
                announcement.client_id = Some(client_id.to_string());
            }
            Revoked::Family { family, client_id } => {
                announcement.kind = RevokedKind::Family;
                announcement.family_id = Some(family.to_string());
                announcement.client_id = client_id.map(|c| c.to_string());
            }
            Revoked::Subject(subject) => {
                announcement.kind = RevokedKind::Subject;
                announcement.subject = Some(subject);
            }
            Revoked::Client(client) => {
                announcement.kind = RevokedKind::Client;
                announcement.client_id = Some(client.to_string());
            }
            Revoked::Tenant => {}
        }
        announcement.id = announcement.content_hash();
        announcement
    }

    /// Base64url SHA-256 of every field but `id`, each length-prefixed (and absent ones marked), so no two
    /// announcements that differ in any field share an id.
    fn content_hash(&self) -> String {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        context.update(b"tessera revocation announcement\0");
        context.update(&self.schema_version.to_be_bytes());
        let kind = match self.kind {
            RevokedKind::Token => "token",
            RevokedKind::Family => "family",
            RevokedKind::Subject => "subject",
            RevokedKind::Client => "client",
            RevokedKind::Tenant => "tenant",
        };
        let revoked_at = self.revoked_at.to_string();
        let fields = [
            Some(self.tenant.as_str()),
            Some(kind),
            self.subject.as_deref(),
            self.client_id.as_deref(),
            self.family_id.as_deref(),
            self.issuer.as_deref(),
            self.jti.as_deref(),
            self.token_sha256.as_deref(),
            Some(revoked_at.as_str()),
            Some(self.cause.as_str()),
            self.reason.as_deref(),
            self.event_id.as_deref(),
        ];
        for field in fields {
            match field {
                None => context.update(&[0]),
                Some(value) => {
                    context.update(&[1]);
                    context.update(&(value.len() as u64).to_be_bytes());
                    context.update(value.as_bytes());
                }
            }
        }
        URL_SAFE_NO_PAD.encode(context.finish())
    }

    /// The detail as JSON text.
    pub fn to_json(&self) -> String {
        // A struct of strings, numbers and unit enums always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Why an announcement was not made. The revocation it announces stands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnnounceError {
    /// The bus could not be reached, or did not answer in time, after the SDK's retries.
    #[error("the revocation announcement could not be sent: {0}")]
    Unavailable(String),
    /// The bus refused the event (a missing bus, a denied permission, a failed entry).
    #[error("the revocation announcement was refused: {0}")]
    Refused(String),
}

/// The outbound port: where announcements go. Adapters: [`eventbridge::EventBridgeAnnouncer`] (Lambda),
/// [`recent::RecentAnnouncements`] (the local runner, and tests, which read it back).
#[async_trait::async_trait]
pub trait RevocationAnnouncer: Send + Sync {
    /// Puts one announcement on the bus. `Err` when it is not known to be there.
    async fn announce(&self, announcement: &RevocationAnnouncement) -> Result<(), AnnounceError>;

    /// The announcements an in-process adapter keeps, oldest first (the runner's `GET /local/revocations`);
    /// `None` for a bus, which keeps nothing here.
    fn recent(&self) -> Option<Vec<RevocationAnnouncement>> {
        None
    }
}

#[async_trait::async_trait]
impl<T: RevocationAnnouncer + ?Sized> RevocationAnnouncer for std::sync::Arc<T> {
    async fn announce(&self, announcement: &RevocationAnnouncement) -> Result<(), AnnounceError> {
        (**self).announce(announcement).await
    }

    fn recent(&self) -> Option<Vec<RevocationAnnouncement>> {
        (**self).recent()
    }
}

/// Announces, and on failure logs it (ids only: the announcement's, the event's, the kind and the cause) and
/// counts [`Metric::RevocationAnnouncementFailures`]. The caller decides what the failure means: nothing for an
/// HTTP answer, a retry for a revocation event.
pub async fn announce(
    announcer: &dyn RevocationAnnouncer,
    announcement: &RevocationAnnouncement,
) -> Result<(), AnnounceError> {
    let result = announcer.announce(announcement).await;
    if let Err(err) = &result {
        tracing::error!(
            announcement_id = %announcement.id,
            event_id = announcement.event_id.as_deref().unwrap_or("(none)"),
            kind = ?announcement.kind,
            cause = announcement.cause.as_str(),
            error = %err,
            "revocation not announced; the revocation itself stands"
        );
        metrics::count_for_served(Metric::RevocationAnnouncementFailures, &announcement.tenant);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> TenantId {
        TenantId::parse("acme").unwrap()
    }

    const AT: Timestamp = Timestamp::from_micros(1_800_000_000_123_456);

    #[test]
    fn the_id_is_the_same_for_the_same_revocation_and_differs_otherwise() {
        let origin = Some(Origin { event_id: "evt-1", reason: "password_changed" });
        let subject = |s: &str| Revoked::Subject(s.into());
        let one = RevocationAnnouncement::new(&tenant(), subject("alice"), AT, RevocationCause::Event, origin);
        let again = RevocationAnnouncement::new(&tenant(), subject("alice"), AT, RevocationCause::Event, origin);
        assert_eq!(one, again);
        assert_eq!(one.id.len(), 43, "base64url SHA-256");
        let others = [
            RevocationAnnouncement::new(&tenant(), subject("bob"), AT, RevocationCause::Event, origin),
            RevocationAnnouncement::new(&tenant(), subject("alice"), AT.micro_after(), RevocationCause::Event, origin),
            RevocationAnnouncement::new(&tenant(), subject("alice"), AT, RevocationCause::Operator, origin),
            RevocationAnnouncement::new(&TenantId::default(), subject("alice"), AT, RevocationCause::Event, origin),
            RevocationAnnouncement::new(
                &tenant(),
                subject("alice"),
                AT,
                RevocationCause::Event,
                Some(Origin { event_id: "evt-2", reason: "password_changed" }),
            ),
            // A value moved from one field to another is another announcement.
            RevocationAnnouncement::new(
                &tenant(),
                subject("alice"),
                AT,
                RevocationCause::Event,
                Some(Origin { event_id: "password_changed", reason: "evt-1" }),
            ),
            RevocationAnnouncement::new(&tenant(), Revoked::Tenant, AT, RevocationCause::Event, origin),
        ];
        for other in others {
            assert_ne!(other.id, one.id, "{other:?}");
        }
    }

    #[test]
    fn the_detail_names_only_what_its_kind_needs() {
        let client = ClientId::parse("orders").unwrap();
        let jwt = RevocationAnnouncement::new(
            &tenant(),
            Revoked::Jwt { jti: "j-1".into(), client_id: client.clone() },
            AT,
            RevocationCause::Rfc7009,
            None,
        );
        let json: serde_json::Value = serde_json::from_str(&jwt.to_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"schema_version": 1, "id": jwt.id, "tenant": "acme", "kind": "token",
                "client_id": "orders", "jti": "j-1", "revoked_at": 1_800_000_000_123_456_u64, "cause": "rfc7009"})
        );
        let family = FamilyId::from_bytes([7; 16]);
        let reuse = RevocationAnnouncement::new(
            &tenant(),
            Revoked::Family { family, client_id: Some(client) },
            AT,
            RevocationCause::RefreshReuse,
            None,
        );
        let parsed: RevocationAnnouncement = serde_json::from_str(&reuse.to_json()).unwrap();
        assert_eq!(parsed, reuse, "the detail reads back");
        assert_eq!(parsed.family_id.as_deref(), Some(family.to_string().as_str()));
        assert_eq!(parsed.kind, RevokedKind::Family);
    }

    #[test]
    fn the_largest_detail_stays_within_its_bound() {
        // Every bounded field at its longest, in the characters JSON escapes the most.
        let subject = "\"".repeat(crate::events::MAX_FIELD_LEN);
        let reason = "\"".repeat(crate::events::MAX_FIELD_LEN);
        let event_id = "\\".repeat(crate::events::MAX_EVENT_ID_LEN);
        let origin = Some(Origin { event_id: &event_id, reason: &reason });
        let largest = RevocationAnnouncement::new(
            &tenant(),
            Revoked::Subject(subject),
            Timestamp::from_micros(u64::MAX),
            RevocationCause::IdentityProvider,
            origin,
        );
        let size = largest.to_json().len();
        assert!(size < MAX_DETAIL_BYTES, "{size} bytes");
    }
}

//! Revocation events: the message that revokes every token of a subject, a client, a grant family or a whole
//! tenant with one watermark write, its wire format, and applying it.
//!
//! The message is the `detail` of an EventBridge event with `detail-type` [`DETAIL_TYPE`], or the body of an
//! SQS message (that event whole, or its `detail` alone):
//!
//! ```json
//! {"event_id": "pwd-change-8f14e45f", "tenant": "default", "subject": "auth0|alice", "reason": "password_changed"}
//! ```
//!
//! Exactly one target: `subject`, `client_id`, `family_id`, or `"all_tokens": true` (the tenant). `reason` is
//! required (it is logged); `tenant` defaults to `default`; `event_id` defaults to the envelope's id. The
//! watermark is set at the time the event is applied, not at the time it was sent, so a token minted while
//! the event was in flight (say, by refreshing a stolen refresh token) dies too. Re-delivery is harmless: each
//! event leaves an item saying the watermark has seen it ([`crate::store::SeenEvent`], written with the mark by
//! [`TokenStore::raise_watermark`]), so the watermark item itself never grows.
//!
//! Applying an event announces it ([`crate::announcement`]), every delivery of it under one announcement id: a
//! re-delivery writes nothing but reads back the mark its first delivery set, so an announcement that failed the
//! first time is made when EventBridge or SQS delivers the event again.

pub mod identity_provider;
pub mod ssf;

use std::fmt;

use serde::Deserialize;
use serde_json::Value;

use crate::announcement::{
    AnnounceError, Origin, RevocationAnnouncement, RevocationAnnouncer, RevocationCause, Revoked,
};
use crate::domain::client::ClientId;
use crate::domain::id::FamilyId;
use crate::domain::revocation::{RevocationWatermark, WatermarkTarget};
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;
use crate::store::{Fetched, StoreError, StoreKey, TokenStore};

/// The EventBridge `detail-type` of a revocation event.
pub const DETAIL_TYPE: &str = "tessera.revoke";

/// The longest accepted `reason` or `subject`, in bytes.
pub const MAX_FIELD_LEN: usize = 1024;

/// The longest accepted `event_id`, in bytes: each is kept in a seen-event item, and logged.
pub const MAX_EVENT_ID_LEN: usize = 128;

/// The tenants a deployment serves, as the revocation-events function sees them. An event naming any other is
/// refused like a misspelt target ([`RevocationEvent::check`]), so it never passes as an event that revokes
/// nothing.
#[async_trait::async_trait]
pub trait TenantDirectory: Send + Sync {
    /// Whether `tenant` is served. `Err` when that cannot be known now (the key document could not be read for
    /// longer than its staleness bound): the event is retried, never dropped.
    async fn serves(&self, tenant: &TenantId) -> Result<bool, StoreError>;
}

/// What [`RevocationEvent::check`] found.
#[derive(Debug)]
pub enum EventCheck {
    /// The tenant is served, and the event may revoke what it names: apply it.
    Applicable,
    /// The event can never apply, like a malformed one: its tenant is not served, or an identity provider's event
    /// names one of the tenant's clients as a user.
    Refused(MalformedEvent),
    /// The tenants, or the tenant's clients, cannot be known now: retry the event later, never drop it.
    Unknown(StoreError),
}

/// Whether one of `subjects` is the id of a client of `tenant` (one read of their client records): a client's own
/// tokens (client credentials) have its id as their subject, so revoking that subject revokes a service's tokens.
/// The sources outside Tessera that name users (identity providers' events, Shared Signals transmitters) may revoke
/// users only; a client is revoked by an operator (a `client` target), never by an identity provider's say-so.
pub async fn names_a_client(
    store: &dyn TokenStore,
    tenant: &TenantId,
    subjects: &[String],
    now: Timestamp,
) -> Result<bool, StoreError> {
    let keys: Vec<StoreKey> = subjects
        .iter()
        .filter_map(|subject| ClientId::parse(subject).ok())
        .map(|id| StoreKey::client(tenant, &id))
        .collect();
    if keys.is_empty() {
        return Ok(false);
    }
    let fetched = Fetched::new(store.get_many(&keys).await?, now);
    Ok(keys.iter().any(|key| fetched.client(key).is_some()))
}

/// Parses JSON text, refusing an object that names a key twice at any depth. serde_json keeps the last of two
/// equal keys, so `{"tenant": "a", "tenant": "b"}` would revoke in `b` what a producer or a validator reading the
/// first key saw as `a`: a revocation message must mean one thing.
pub fn parse_json_strictly(text: &[u8]) -> Result<Value, JsonRefusal> {
    use serde::de::{Error as _, MapAccess, SeqAccess, Visitor};

    struct Strict(Value);
    struct StrictVisitor;

    impl<'de> Deserialize<'de> for Strict {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(StrictVisitor).map(Strict)
        }
    }

    impl<'de> Visitor<'de> for StrictVisitor {
        type Value = Value;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("JSON")
        }
        fn visit_unit<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
            Ok(Value::Bool(v))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
            Ok(Value::from(v))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
            Ok(Value::from(v))
        }
        fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
            Ok(Value::from(v))
        }
        fn visit_str<E>(self, v: &str) -> Result<Value, E> {
            Ok(Value::String(v.to_owned()))
        }
        fn visit_string<E>(self, v: String) -> Result<Value, E> {
            Ok(Value::String(v))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            let mut items = Vec::new();
            while let Some(Strict(item)) = seq.next_element()? {
                items.push(item);
            }
            Ok(Value::Array(items))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            let mut object = serde_json::Map::new();
            while let Some(key) = map.next_key::<String>()? {
                let Strict(value) = map.next_value()?;
                if object.insert(key, value).is_some() {
                    return Err(A::Error::custom("a JSON object names the same key twice"));
                }
            }
            Ok(Value::Object(object))
        }
    }

    let mut deserializer = serde_json::Deserializer::from_slice(text);
    let parsed = Strict::deserialize(&mut deserializer).and_then(|Strict(value)| deserializer.end().map(|()| value));
    parsed.map_err(|e| match e.classify() {
        serde_json::error::Category::Data => JsonRefusal::DuplicateKey,
        _ => JsonRefusal::NotJson,
    })
}

/// Why [`parse_json_strictly`] refused a text, in our words (serde's parser text is not for senders).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JsonRefusal {
    /// Not JSON at all.
    #[error("the body is not JSON")]
    NotJson,
    /// An object names a key twice.
    #[error("a JSON object names the same key twice")]
    DuplicateKey,
}

impl From<JsonRefusal> for MalformedEvent {
    fn from(refusal: JsonRefusal) -> Self {
        malformed(refusal.to_string())
    }
}

/// An event that can never be applied: it goes to the dead-letter queue, with this message in the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed revocation event: {0}")]
pub struct MalformedEvent(pub String);

fn malformed(message: impl Into<String>) -> MalformedEvent {
    MalformedEvent(message.into())
}

/// The JSON shape of a revocation message. Unknown fields are refused, so a misspelt target never passes
/// as an event that revokes nothing.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Detail {
    #[serde(default)]
    event_id: Option<String>,
    #[serde(default)]
    tenant: Option<String>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    family_id: Option<String>,
    #[serde(default)]
    all_tokens: bool,
    reason: String,
}

/// What a revocation event revokes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationTarget {
    /// Every token of a subject (the `sub` of Tessera's tokens; the mapped subject of external ones).
    Subject(String),
    /// Every token issued to a client.
    Client(ClientId),
    /// Every token of one grant family (a token exchange and its refreshes).
    Family(FamilyId),
    /// Every token of the tenant.
    Tenant,
}

impl fmt::Display for RevocationTarget {
    /// Never the subject itself: logs carry its tag.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Subject(subject) => write!(f, "{}", WatermarkTarget::subject(subject)),
            Self::Client(client) => write!(f, "client {client}"),
            Self::Family(family) => write!(f, "family {family}"),
            Self::Tenant => f.write_str("every token of the tenant"),
        }
    }
}

/// A validated revocation event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationEvent {
    /// Its id, for idempotency and logs.
    pub event_id: String,
    /// The tenant.
    pub tenant: TenantId,
    /// What it revokes.
    pub target: RevocationTarget,
    /// Why, for the log and the announcement.
    pub reason: String,
    /// Who sent it, as its announcement says: [`RevocationCause::Event`] for a `tessera.revoke` message,
    /// [`RevocationCause::IdentityProvider`] for a mapped identity-provider event, [`RevocationCause::Operator`]
    /// for `tessera revoke --table`.
    pub cause: RevocationCause,
}

/// Why [`RevocationEvent::apply`] failed: the event is to be delivered again.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The watermark could not be written (or the seen event read): nothing is revoked yet.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The revocation stands, but it was not announced: a re-delivery announces it.
    #[error(transparent)]
    NotAnnounced(#[from] AnnounceError),
}

impl ApplyError {
    /// The cause itself, boxed, so that a caller can tell a store failure (`downcast_ref::<StoreError>`).
    pub fn into_cause(self) -> Box<dyn std::error::Error + Send + Sync> {
        match self {
            Self::Store(store) => Box::new(store),
            Self::NotAnnounced(announce) => Box::new(announce),
        }
    }
}

fn checked_text(name: &str, value: String, max: usize) -> Result<String, MalformedEvent> {
    if value.trim().is_empty() {
        return Err(malformed(format!("{name} is empty")));
    }
    if value.len() > max {
        return Err(malformed(format!("{name} is longer than {max} bytes")));
    }
    if value.chars().any(char::is_control) {
        return Err(malformed(format!("{name} contains control characters")));
    }
    Ok(value)
}

/// A serde error message with every quoted value blanked (`invalid type: string "…"`), so a rejection log
/// never carries a subject; field names (in backticks) stay.
fn without_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quoted = false;
    for c in message.chars() {
        match (c, quoted) {
            ('"', false) => {
                out.push_str("\"…\"");
                quoted = true;
            }
            ('"', true) => quoted = false,
            (_, true) => {}
            (c, false) => out.push(c),
        }
    }
    out
}

impl RevocationEvent {
    /// Validates a message's `detail`. `envelope_id` (the EventBridge event id, or the SQS message id) is
    /// the event id when the detail carries none.
    pub fn from_detail(detail: Value, envelope_id: Option<&str>) -> Result<Self, MalformedEvent> {
        if !detail.is_object() {
            return Err(malformed("the detail is not a JSON object"));
        }
        let detail: Detail = serde_json::from_value(detail).map_err(|e| malformed(without_values(&e.to_string())))?;
        let event_id = detail
            .event_id
            .or_else(|| envelope_id.map(str::to_owned))
            .ok_or_else(|| malformed("no event_id, and no envelope id to fall back on"))?;
        let event_id = checked_text("event_id", event_id, MAX_EVENT_ID_LEN)?;
        let reason = checked_text("reason", detail.reason, MAX_FIELD_LEN)?;
        let tenant = match detail.tenant {
            None => TenantId::default(),
            Some(name) => TenantId::parse(&name).map_err(|e| malformed(format!("tenant: {e}")))?,
        };
        let mut targets = Vec::new();
        if let Some(subject) = detail.subject {
            targets.push(RevocationTarget::Subject(checked_text("subject", subject, MAX_FIELD_LEN)?));
        }
        if let Some(client) = detail.client_id {
            targets.push(RevocationTarget::Client(
                ClientId::parse(&client).map_err(|e| malformed(format!("client_id: {e}")))?,
            ));
        }
        if let Some(family) = detail.family_id {
            targets.push(RevocationTarget::Family(
                FamilyId::try_from(family).map_err(|e| malformed(format!("family_id: {e}")))?,
            ));
        }
        if detail.all_tokens {
            targets.push(RevocationTarget::Tenant);
        }
        let target = match <[RevocationTarget; 1]>::try_from(targets) {
            Ok([target]) => target,
            Err(_) => return Err(malformed("name exactly one of subject, client_id, family_id or all_tokens: true")),
        };
        Ok(Self { event_id, tenant, target, reason, cause: RevocationCause::Event })
    }

    /// Validates an SQS message body or a JSON document sent to the local runner: either a whole EventBridge
    /// event (what an EventBridge rule delivers to a queue) or a bare `detail`.
    pub fn from_message(body: &str, message_id: Option<&str>) -> Result<Self, MalformedEvent> {
        Self::from_value(parse_json_strictly(body.as_bytes())?, message_id)
    }

    /// Validates a parsed message: an EventBridge event (its `detail-type` checked, its `id` the event id
    /// when the detail has none) or a bare `detail` (with `fallback_id`).
    pub fn from_value(value: Value, fallback_id: Option<&str>) -> Result<Self, MalformedEvent> {
        match value.get("detail-type") {
            Some(detail_type) => {
                if detail_type != DETAIL_TYPE {
                    return Err(malformed(format!("detail-type is {detail_type}, not {DETAIL_TYPE:?}")));
                }
                let id = value.get("id").and_then(Value::as_str).map(str::to_owned);
                let detail = value.get("detail").cloned().ok_or_else(|| malformed("no detail"))?;
                Self::from_detail(detail, id.as_deref().or(fallback_id))
            }
            None => Self::from_detail(value, fallback_id),
        }
    }

    /// The watermark that carries out the event at `now`: a family is revoked for good (see
    /// [`RevocationWatermark::final_for_family`]); a subject, client or tenant up to `now`, so its tokens
    /// issued afterwards stay valid.
    pub fn watermark(&self, now: Timestamp) -> RevocationWatermark {
        let at = |target| RevocationWatermark::at(&self.tenant, target, now);
        match &self.target {
            RevocationTarget::Family(family) => RevocationWatermark::final_for_family(&self.tenant, *family, now),
            RevocationTarget::Subject(subject) => at(WatermarkTarget::subject(subject)),
            RevocationTarget::Client(client) => at(WatermarkTarget::client(client)),
            RevocationTarget::Tenant => at(WatermarkTarget::Tenant),
        }
    }

    /// Whether the event may be applied: the deployment serves its tenant (an event for any other would write a
    /// watermark no token reads, and answer as if it had revoked something), and an event from outside (an
    /// identity provider's: [`RevocationCause::IdentityProvider`]) does not name one of the tenant's clients as its
    /// user ([`names_a_client`]; one read, on that path only).
    pub async fn check(&self, tenants: &dyn TenantDirectory, store: &dyn TokenStore, now: Timestamp) -> EventCheck {
        match tenants.serves(&self.tenant).await {
            Ok(true) => {}
            Ok(false) => {
                let undeclared = format!("tenant '{}' is not declared in this deployment", self.tenant);
                return EventCheck::Refused(malformed(undeclared));
            }
            Err(unknown) => return EventCheck::Unknown(unknown),
        }
        let RevocationTarget::Subject(subject) = &self.target else { return EventCheck::Applicable };
        if self.cause != RevocationCause::IdentityProvider {
            return EventCheck::Applicable;
        }
        match names_a_client(store, &self.tenant, std::slice::from_ref(subject), now).await {
            Ok(false) => EventCheck::Applicable,
            Ok(true) => EventCheck::Refused(malformed(format!(
                "the user of an identity provider's event is the id of a client of tenant '{}': its tokens are a \
                 service's, which only an operator revokes",
                self.tenant
            ))),
            Err(unknown) => EventCheck::Unknown(unknown),
        }
    }

    /// Applies the event: one conditional watermark write, then its announcement. `Ok(false)` when it was a
    /// re-delivery (or a later revocation already covers it): nothing changed, and the announcement is made again
    /// with the mark the event's first delivery set, read back from its seen item (one more read, on this path
    /// only), so it has the same id. An event seen by a release before announcements is not announced.
    /// [`ApplyError::NotAnnounced`] leaves the revocation in place: deliver the event again to announce it.
    pub async fn apply(
        &self,
        store: &dyn TokenStore,
        announcer: &dyn RevocationAnnouncer,
        now: Timestamp,
    ) -> Result<bool, ApplyError> {
        let watermark = self.watermark(now);
        let (target, proposed) = (watermark.target.clone(), watermark.revoked_before);
        let written = store.raise_watermark(watermark, Some(&self.event_id)).await?;
        tracing::info!(
            event_id = %self.event_id,
            tenant = %self.tenant,
            target = %self.target,
            reason = %self.reason,
            written,
            "revocation event applied"
        );
        let mark = match written {
            true => Some(proposed),
            false => {
                let key = StoreKey::seen_event(&self.tenant, &target, &self.event_id);
                let fetched = Fetched::new(store.get_many(std::slice::from_ref(&key)).await?, now);
                fetched.seen_event(&key).and_then(|seen| seen.revoked_before)
            }
        };
        let Some(mark) = mark else {
            tracing::warn!(event_id = %self.event_id, "revocation event seen before announcements: not announced");
            return Ok(written);
        };
        let revoked_at = RevocationWatermark::revoked_at(&target, mark);
        crate::announcement::announce(announcer, &self.announcement(revoked_at)).await?;
        Ok(written)
    }

    /// The event's announcement, for a revocation made at `revoked_at`.
    pub fn announcement(&self, revoked_at: Timestamp) -> RevocationAnnouncement {
        let revoked = match &self.target {
            RevocationTarget::Subject(subject) => Revoked::Subject(subject.clone()),
            RevocationTarget::Client(client) => Revoked::Client(client.clone()),
            RevocationTarget::Family(family) => Revoked::Family { family: *family, client_id: None },
            RevocationTarget::Tenant => Revoked::Tenant,
        };
        let origin = Origin { event_id: &self.event_id, reason: &self.reason };
        RevocationAnnouncement::new(&self.tenant, revoked, revoked_at, self.cause, Some(origin))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn strict_json_refuses_a_key_named_twice_at_any_depth() {
        let same = parse_json_strictly(br#"{"a": [1, -2, 3.5, "x", null, true, {"b": {}}]}"#).unwrap();
        assert_eq!(same, json!({"a": [1, -2, 3.5, "x", null, true, {"b": {}}]}));
        for twice in [
            &br#"{"subject": "a", "subject": "b"}"#[..],
            br#"{"detail": {"tenant": "a", "tenant": "b"}}"#,
            br#"[{"x": 1, "x": 1}]"#,
        ] {
            assert_eq!(
                parse_json_strictly(twice),
                Err(JsonRefusal::DuplicateKey),
                "{}",
                String::from_utf8_lossy(twice)
            );
        }
        assert_eq!(parse_json_strictly(b"{"), Err(JsonRefusal::NotJson));
        assert_eq!(parse_json_strictly(b"{} trailing"), Err(JsonRefusal::NotJson));
        let message = RevocationEvent::from_message(r#"{"subject": "a", "subject": "b", "reason": "r"}"#, Some("m"));
        assert_eq!(
            message.unwrap_err().to_string(),
            "malformed revocation event: a JSON object names the same key twice"
        );
    }
    use crate::announcement::recent::RecentAnnouncements;
    use crate::store::memory::MemoryStore;

    fn detail(value: Value) -> Result<RevocationEvent, MalformedEvent> {
        RevocationEvent::from_detail(value, Some("envelope-1"))
    }

    #[test]
    fn each_target_parses() {
        let subject = detail(json!({"subject": "auth0|alice", "reason": "password_changed"})).unwrap();
        assert_eq!(subject.target, RevocationTarget::Subject("auth0|alice".into()));
        assert_eq!(subject.event_id, "envelope-1");
        assert_eq!(subject.tenant, TenantId::default());
        let client = detail(json!({"client_id": "orders", "reason": "leaked", "event_id": "e2"})).unwrap();
        assert_eq!(client.target, RevocationTarget::Client(ClientId::parse("orders").unwrap()));
        assert_eq!(client.event_id, "e2");
        let family = detail(json!({"family_id": "AAAAAAAAAAAAAAAAAAAAAA", "reason": "x", "tenant": "acme"})).unwrap();
        assert_eq!(family.target, RevocationTarget::Family(FamilyId::from_bytes([0; 16])));
        assert_eq!(family.tenant.as_str(), "acme");
        let tenant = detail(json!({"all_tokens": true, "reason": "key compromise"})).unwrap();
        assert_eq!(tenant.target, RevocationTarget::Tenant);
    }

    #[test]
    fn malformed_details_say_why() {
        let cases = [
            (json!({"reason": "no target"}), "exactly one"),
            (json!({"subject": "a", "client_id": "b", "reason": "two targets"}), "exactly one"),
            (json!({"all_tokens": false, "reason": "false is no target"}), "exactly one"),
            (json!({"subject": "a"}), "reason"),
            (json!({"subject": "a", "reason": " "}), "reason is empty"),
            (json!({"subjet": "a", "reason": "typo"}), "unknown field"),
            (json!({"subject": "", "reason": "r"}), "subject is empty"),
            (json!({"subject": "a\u{0}b", "reason": "r"}), "control"),
            (json!({"subject": "a".repeat(MAX_FIELD_LEN + 1), "reason": "r"}), "longer"),
            (json!({"client_id": "caf\u{e9}", "reason": "r"}), "client_id"),
            (json!({"family_id": "short", "reason": "r"}), "family_id"),
            (json!({"tenant": "Not A Tenant!", "subject": "a", "reason": "r"}), "tenant"),
            (json!({"subject": 7, "reason": "r"}), "invalid type"),
            (json!({"subject": "a", "reason": "r", "event_id": "e".repeat(129)}), "event_id is longer"),
            (json!(["not", "an", "object"]), "not a JSON object"),
        ];
        for (value, expected) in cases {
            let err = detail(value.clone()).expect_err(&value.to_string());
            assert!(err.0.contains(expected), "{value}: {err}");
        }
        let no_id = RevocationEvent::from_detail(json!({"subject": "a", "reason": "r"}), None).unwrap_err();
        assert!(no_id.0.contains("event_id"), "{no_id}");
    }

    #[test]
    fn a_message_is_an_eventbridge_event_or_a_bare_detail() {
        let envelope = json!({"version": "0", "id": "eb-1", "detail-type": DETAIL_TYPE, "source": "idp",
            "detail": {"subject": "alice", "reason": "locked"}});
        let event = RevocationEvent::from_message(&envelope.to_string(), Some("sqs-1")).unwrap();
        assert_eq!(event.event_id, "eb-1", "the EventBridge id wins over the SQS message id");
        let bare = RevocationEvent::from_message(r#"{"subject": "alice", "reason": "locked"}"#, Some("sqs-1")).unwrap();
        assert_eq!(bare.event_id, "sqs-1");
        let wrong = json!({"detail-type": "other", "detail": {}}).to_string();
        assert!(RevocationEvent::from_message(&wrong, None).unwrap_err().0.contains("detail-type"));
        assert!(RevocationEvent::from_message("{not json", None).unwrap_err().0.contains("not JSON"));
    }

    #[test]
    fn logs_name_the_subject_by_tag_only() {
        let target = RevocationTarget::Subject("alice@example.com".into());
        assert!(!target.to_string().contains("alice"));
        let err = detail(json!({"all_tokens": "alice@example.com", "reason": "r"}));
        let message = err.unwrap_err().to_string();
        assert!(message.contains("invalid type") && !message.contains("alice"), "{message}");
    }

    #[tokio::test]
    async fn applying_writes_one_watermark_once_per_event() {
        let store = MemoryStore::new();
        let now = Timestamp::from_secs(1_800_000_000);
        let event = detail(json!({"subject": "alice", "reason": "password_changed"})).unwrap();
        let announced = RecentAnnouncements::default();
        assert!(event.apply(&store, &announced, now).await.unwrap());
        assert!(!event.apply(&store, &announced, now.plus_secs(60)).await.unwrap(), "re-delivery changes nothing");
        let [first, again] = <[_; 2]>::try_from(announced.all()).unwrap();
        assert_eq!(first, again, "a re-delivery is announced again, as the first delivery was");
        assert_eq!(first.revoked_at, now.as_micros());
        assert_eq!((first.cause, first.event_id.as_deref()), (RevocationCause::Event, Some("envelope-1")));
        let key = StoreKey::watermark(&TenantId::default(), &WatermarkTarget::subject("alice"));
        let fetched = Fetched::new(store.get_many(std::slice::from_ref(&key)).await.unwrap(), now);
        assert_eq!(fetched.watermarks(&[key]), vec![now]);
        assert_eq!(store.len(), 2, "the watermark, and beside it the event it has seen");
    }
}

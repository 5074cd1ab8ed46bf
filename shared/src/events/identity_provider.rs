//! Identity-provider events: an identity provider's own events (Auth0's and Okta's log streams on Amazon
//! EventBridge, or any EventBridge source) turned into revocation events, by a mapping in configuration.
//!
//! A mapping ([`IdentityEventSource`]) names the EventBridge `source` prefix it takes, where in the event its type
//! is, which types revoke (each with the reason kept in the log), where the user is, the tenant, and the trusted
//! issuer whose tokens' subjects the events name. That issuer decides which of the event's user identifiers is a
//! Tessera subject: a token exchanged from it has as subject the issuer's `subject_claim`, so the mapping reads the
//! identifier that equals that claim (for Okta, the user id for `uid`, the login for `sub`). A mapping whose issuer
//! the tenant does not trust, or whose preset has no identifier for the issuer's subject claim, is refused when
//! the function starts, never at the first event: an event must never revoke nothing silently.
//!
//! Presets ([`IdentityProviderPreset`]) carry the vendors' documented shapes:
//!
//! | preset | `source` prefix | type at | revoking types (reason) | user at |
//! |---|---|---|---|---|
//! | `auth0` | `aws.partner/auth0.com/` | `$.detail.data.type` | `scp` (password_changed), `sdu` (user_deleted), `limit_wc` (account_blocked) | `$.detail.data.user_id` (= `sub`) |
//! | `okta` | `aws.partner/okta.com/` | `$.detail.eventType` | `user.session.end` (session_ended), `user.session.clear` (sessions_cleared), `user.lifecycle.deactivate` (user_deactivated), `user.lifecycle.suspend` (user_suspended), `user.lifecycle.delete.initiated` (user_deleted), `user.account.lock` (account_locked), `user.account.update_password` (password_changed), `user.account.reset_password` (password_reset) | the first `User` of `$.detail.target`, else `$.detail.actor` if it is a `User`: its `id` (= `uid`) or `alternateId` (the login, = an access token's `sub`) |
//!
//! An event from a mapped source whose type does not revoke is acknowledged and logged (`ignored`); one whose user
//! cannot be found, or is not a single string, is malformed: it goes to the dead-letter queue, revoking nothing.
//! Paths are RFC 9535 JSONPath.

use std::collections::BTreeMap;

use serde_json::Value;
use serde_json_path::JsonPath;

use super::{MAX_EVENT_ID_LEN, MAX_FIELD_LEN, MalformedEvent, RevocationEvent, RevocationTarget};
use crate::announcement::RevocationCause;
use crate::domain::tenant::TenantId;

/// An identity provider whose EventBridge events Tessera knows the shape of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityProviderPreset {
    /// Auth0 log streams (partner event source `aws.partner/auth0.com/…`, detail-type `Auth0 log`).
    Auth0,
    /// Okta log streaming (partner event source `aws.partner/okta.com/…`, the System Log event as detail).
    Okta,
}

/// Where an event names its user: paths tried in order, `{field}` standing for the identifier the issuer's subject
/// claim corresponds to.
struct PresetShape {
    source_prefix: &'static str,
    type_at: &'static str,
    user_at: &'static [&'static str],
    /// Subject claim of the issuer's tokens → the identifier field in the event that equals it.
    field_for_claim: &'static [(&'static str, &'static str)],
    revoking: &'static [(&'static str, &'static str)],
}

impl IdentityProviderPreset {
    fn shape(self) -> PresetShape {
        match self {
            Self::Auth0 => PresetShape {
                source_prefix: "aws.partner/auth0.com/",
                type_at: "$.detail.data.type",
                user_at: &["$.detail.data.{field}"],
                field_for_claim: &[("sub", "user_id")],
                revoking: &[("scp", "password_changed"), ("sdu", "user_deleted"), ("limit_wc", "account_blocked")],
            },
            Self::Okta => PresetShape {
                source_prefix: "aws.partner/okta.com/",
                type_at: "$.detail.eventType",
                user_at: &["$.detail.target[?@.type == 'User'].{field}", "$.detail[?@.type == 'User'].{field}"],
                field_for_claim: &[("uid", "id"), ("sub", "alternateId")],
                revoking: &[
                    ("user.session.end", "session_ended"),
                    ("user.session.clear", "sessions_cleared"),
                    ("user.lifecycle.deactivate", "user_deactivated"),
                    ("user.lifecycle.suspend", "user_suspended"),
                    ("user.lifecycle.delete.initiated", "user_deleted"),
                    ("user.account.lock", "account_locked"),
                    ("user.account.update_password", "password_changed"),
                    ("user.account.reset_password", "password_reset"),
                ],
            },
        }
    }
}

/// One mapping as configured: a preset's defaults, each overridable, or everything given for another source.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityEventSourceConfig {
    /// The vendor whose shape fills in what is not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<IdentityProviderPreset>,
    /// The tenant whose tokens the events revoke; `default` when omitted.
    #[serde(default)]
    pub tenant: TenantId,
    /// The trusted issuer (its exact `iss`) whose tokens' subjects the events name.
    pub issuer: String,
    /// The EventBridge `source` prefix taken (with a preset, its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_prefix: Option<String>,
    /// Where the event's type is (JSONPath; with a preset, its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_at: Option<String>,
    /// Where the user is (JSONPath to one string), for every revoking type; with a preset, found from the issuer's
    /// subject claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_at: Option<String>,
    /// Revoking types and the reason each one logs, added to the preset's (or replacing one of them).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub revoke: BTreeMap<String, String>,
    /// Types of the preset that do not revoke here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<String>,
}

/// Why a mapping was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[[identity_events]] for {issuer:?}: {reason}")]
pub struct IdentityEventConfigError {
    /// The mapping's issuer.
    pub issuer: String,
    /// Why.
    pub reason: String,
}

/// A mapping, checked and compiled.
#[derive(Debug, Clone)]
pub struct IdentityEventSource {
    tenant: TenantId,
    issuer: String,
    source_prefix: String,
    type_at: JsonPath,
    user_at: Vec<JsonPath>,
    revoking: BTreeMap<String, String>,
}

/// What an identity-provider event comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityEventOutcome {
    /// It revokes every token of a subject.
    Revoke(RevocationEvent),
    /// Its type does not revoke: acknowledge it.
    Ignored {
        /// The event's type, for the log (or why it has none that is a string).
        event_type: String,
    },
}

impl IdentityEventSource {
    /// Checks and compiles `config`. `subject_claim` is the subject claim of the issuer the mapping names, as the
    /// tenant trusts it (`None`: the tenant does not trust that issuer).
    pub fn new(
        config: &IdentityEventSourceConfig,
        subject_claim: Option<&str>,
    ) -> Result<Self, IdentityEventConfigError> {
        let refuse = |reason: String| IdentityEventConfigError { issuer: config.issuer.clone(), reason };
        let Some(claim) = subject_claim else {
            return Err(refuse(format!("not a trusted issuer of tenant '{}'", config.tenant)));
        };
        let shape = config.preset.map(IdentityProviderPreset::shape);
        let path = |text: &str| JsonPath::parse(text).map_err(|e| refuse(format!("{text:?} is not JSONPath: {e}")));
        let source_prefix = config
            .source_prefix
            .clone()
            .or_else(|| shape.as_ref().map(|s| s.source_prefix.to_owned()))
            .filter(|p| !p.trim().is_empty())
            .ok_or_else(|| refuse("source_prefix is required without a preset".into()))?;
        let type_at = match (&config.type_at, &shape) {
            (Some(text), _) => path(text)?,
            (None, Some(shape)) => path(shape.type_at)?,
            (None, None) => return Err(refuse("type_at is required without a preset".into())),
        };
        let user_at = match (&config.subject_at, &shape) {
            (Some(text), _) => vec![path(text)?],
            (None, Some(shape)) => {
                let field = shape.field_for_claim.iter().find(|(c, _)| *c == claim).map(|(_, f)| *f).ok_or_else(|| {
                    let known: Vec<&str> = shape.field_for_claim.iter().map(|(c, _)| *c).collect();
                    refuse(format!(
                        "the issuer's subject_claim is {claim:?}, which these events do not carry (they carry {known:?}): \
                         set subject_at"
                    ))
                })?;
                shape
                    .user_at
                    .iter()
                    .map(|template| path(&template.replace("{field}", field)))
                    .collect::<Result<_, _>>()?
            }
            (None, None) => return Err(refuse("subject_at is required without a preset".into())),
        };
        let mut revoking: BTreeMap<String, String> = shape
            .iter()
            .flat_map(|s| s.revoking.iter())
            .map(|(t, reason)| ((*t).to_owned(), (*reason).to_owned()))
            .collect();
        for ignored in &config.ignore {
            if revoking.remove(ignored).is_none() {
                return Err(refuse(format!("ignore names {ignored:?}, which does not revoke anyway")));
            }
        }
        for (event_type, reason) in &config.revoke {
            if event_type.trim().is_empty() || reason.trim().is_empty() || reason.len() > MAX_FIELD_LEN {
                return Err(refuse(format!(
                    "revoke {event_type:?}: a type and a reason of at most {MAX_FIELD_LEN} bytes"
                )));
            }
            revoking.insert(event_type.clone(), reason.clone());
        }
        if revoking.is_empty() {
            return Err(refuse("no event type revokes".into()));
        }
        Ok(Self {
            tenant: config.tenant.clone(),
            issuer: config.issuer.clone(),
            source_prefix,
            type_at,
            user_at,
            revoking,
        })
    }

    /// Whether `event` (an EventBridge event) comes from this mapping's source.
    pub fn takes(&self, event: &Value) -> bool {
        event.get("source").and_then(Value::as_str).is_some_and(|source| source.starts_with(&self.source_prefix))
    }

    /// The tenant.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// The issuer whose subjects the events name.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// What `event` (taken by [`Self::takes`]) comes to. Its EventBridge `id` is the revocation's event id.
    pub fn read(&self, event: &Value) -> Result<IdentityEventOutcome, MalformedEvent> {
        let malformed = |m: String| MalformedEvent(format!("identity-provider event: {m}"));
        let event_type = match self.type_at.query(event).exactly_one().ok().and_then(Value::as_str) {
            Some(event_type) => event_type,
            None => return Ok(IdentityEventOutcome::Ignored { event_type: "(no type)".into() }),
        };
        let Some(reason) = self.revoking.get(event_type) else {
            return Ok(IdentityEventOutcome::Ignored { event_type: event_type.chars().take(128).collect() });
        };
        let event_id = event
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty() && id.len() <= MAX_EVENT_ID_LEN && !id.chars().any(char::is_control))
            .ok_or_else(|| malformed("no EventBridge id of at most 128 bytes".into()))?;
        let subject = self
            .user_at
            .iter()
            .find_map(|path| match path.query(event).all().as_slice() {
                [one] => Some(one.as_str()),
                _ => None,
            })
            .flatten()
            .ok_or_else(|| malformed(format!("a {event_type:?} event that names no single user")))?;
        if subject.is_empty() || subject.len() > MAX_FIELD_LEN || subject.chars().any(char::is_control) {
            return Err(malformed(format!("the user of a {event_type:?} event is empty, too long or not text")));
        }
        Ok(IdentityEventOutcome::Revoke(RevocationEvent {
            event_id: event_id.to_owned(),
            tenant: self.tenant.clone(),
            target: RevocationTarget::Subject(subject.to_owned()),
            reason: reason.clone(),
            cause: RevocationCause::IdentityProvider,
        }))
    }
}

/// Every configured mapping.
#[derive(Debug, Clone, Default)]
pub struct IdentityEventSources {
    sources: Vec<IdentityEventSource>,
}

/// What a message to the revocation-events function comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventMessage {
    /// A revocation to apply: a `tessera.revoke` event, or a mapped identity-provider event that revokes.
    Revoke(RevocationEvent),
    /// A mapped identity-provider event whose type does not revoke: acknowledged, logged.
    Ignored {
        /// The EventBridge `source`.
        source: String,
        /// The event's type.
        event_type: String,
    },
}

impl IdentityEventSources {
    /// The mappings, each checked against the subject claim `subject_claim(tenant, issuer)` of the issuer it names.
    /// Two mappings for one source prefix are refused: an event would mean two things.
    pub fn new(
        configs: &[IdentityEventSourceConfig],
        subject_claim: impl Fn(&TenantId, &str) -> Option<String>,
    ) -> Result<Self, IdentityEventConfigError> {
        let mut sources: Vec<IdentityEventSource> = Vec::with_capacity(configs.len());
        for config in configs {
            let source = IdentityEventSource::new(config, subject_claim(&config.tenant, &config.issuer).as_deref())?;
            if let Some(other) = sources.iter().find(|s| {
                s.source_prefix.starts_with(&source.source_prefix) || source.source_prefix.starts_with(&s.source_prefix)
            }) {
                return Err(IdentityEventConfigError {
                    issuer: config.issuer.clone(),
                    reason: format!("its source prefix overlaps the one of the mapping for {:?}", other.issuer),
                });
            }
            sources.push(source);
        }
        Ok(Self { sources })
    }

    /// Whether any mapping is configured.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// The mapping whose source `event` comes from, if any.
    pub fn source_of(&self, event: &Value) -> Option<&IdentityEventSource> {
        self.sources.iter().find(|s| s.takes(event))
    }

    /// What a parsed message is: a `tessera.revoke` event or its bare detail ([`RevocationEvent::from_value`]),
    /// or an event from a mapped identity-provider source. An EventBridge event of another type from no mapped
    /// source is malformed, as before.
    pub fn read(&self, message: Value, fallback_id: Option<&str>) -> Result<EventMessage, MalformedEvent> {
        let revocation_type = message.get("detail-type").and_then(Value::as_str) == Some(super::DETAIL_TYPE);
        match self.source_of(&message).filter(|_| !revocation_type) {
            Some(source) => Ok(match source.read(&message)? {
                IdentityEventOutcome::Revoke(event) => EventMessage::Revoke(event),
                IdentityEventOutcome::Ignored { event_type } => EventMessage::Ignored {
                    source: message
                        .get("source")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .chars()
                        .take(256)
                        .collect(),
                    event_type,
                },
            }),
            None => RevocationEvent::from_value(message, fallback_id).map(EventMessage::Revoke),
        }
    }

    /// [`Self::read`] of an SQS body or a document posted to the local runner.
    pub fn read_text(&self, body: &str, fallback_id: Option<&str>) -> Result<EventMessage, MalformedEvent> {
        self.read(super::parse_json_strictly(body.as_bytes())?, fallback_id)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn auth0(config: IdentityEventSourceConfig) -> IdentityEventSource {
        IdentityEventSource::new(&config, Some("sub")).unwrap()
    }

    fn preset(preset: IdentityProviderPreset) -> IdentityEventSourceConfig {
        IdentityEventSourceConfig { preset: Some(preset), issuer: "https://idp.example/".into(), ..Default::default() }
    }

    /// An Auth0 log event as Auth0's EventBridge log stream delivers it.
    fn auth0_event(log_type: &str) -> Value {
        json!({"version": "0", "id": "8c1d2b0e-auth0", "detail-type": "Auth0 log",
            "source": "aws.partner/auth0.com/acme-dev-5c1a/auth0.logs", "account": "111122223333",
            "time": "2026-12-02T10:00:00Z", "region": "us-east-1", "resources": [],
            "detail": {"log_id": "90020261202100000", "data": {"date": "2026-12-02T10:00:00.000Z", "type": log_type,
                "description": "", "client_id": "AaiyAPdpYdesoKnqjj8HJqRn4T5titww", "ip": "192.0.2.1",
                "user_id": "auth0|6740d1c03f1c2b9a", "user_name": "alice@example.com"}}})
    }

    /// An Okta System Log event as Okta's log streaming delivers it.
    fn okta_event(event_type: &str, user_is_actor: bool) -> Value {
        let user = json!({"id": "00u1abcdEFGHijkl5d7", "type": "User", "alternateId": "alice@example.com",
            "displayName": "Alice"});
        let admin = json!({"id": "00u9adminXYZ", "type": "User", "alternateId": "admin@example.com"});
        let (actor, target) = if user_is_actor { (user, json!([])) } else { (admin, json!([user])) };
        json!({"version": "0", "id": "5f0e-okta", "detail-type": "SystemLog",
            "source": "aws.partner/okta.com/example-org/okta-logs", "detail": {"uuid": "d3bd1b5c", "eventType": event_type,
            "published": "2026-12-02T10:00:00.000Z", "actor": actor, "target": target,
            "outcome": {"result": "SUCCESS"}}})
    }

    fn revoked_subject(outcome: IdentityEventOutcome) -> (String, String) {
        match outcome {
            IdentityEventOutcome::Revoke(RevocationEvent { target: RevocationTarget::Subject(s), reason, .. }) => {
                (s, reason)
            }
            other => panic!("not a subject revocation: {other:?}"),
        }
    }

    #[test]
    fn auth0_password_change_deletion_and_block_revoke_the_user() {
        let source = auth0(preset(IdentityProviderPreset::Auth0));
        for (log_type, reason) in
            [("scp", "password_changed"), ("sdu", "user_deleted"), ("limit_wc", "account_blocked")]
        {
            let event = auth0_event(log_type);
            assert!(source.takes(&event));
            let outcome = source.read(&event).unwrap();
            assert_eq!(revoked_subject(outcome.clone()), ("auth0|6740d1c03f1c2b9a".into(), reason.into()));
            let IdentityEventOutcome::Revoke(revocation) = outcome else { unreachable!() };
            assert_eq!(revocation.event_id, "8c1d2b0e-auth0", "the EventBridge id");
            assert_eq!(revocation.tenant, TenantId::default());
        }
        assert_eq!(
            source.read(&auth0_event("s")).unwrap(),
            IdentityEventOutcome::Ignored { event_type: "s".into() },
            "a successful login revokes nothing"
        );
    }

    #[test]
    fn okta_finds_the_user_in_the_target_or_as_the_actor_by_the_issuers_subject_claim() {
        let by_uid = IdentityEventSource::new(&preset(IdentityProviderPreset::Okta), Some("uid")).unwrap();
        let by_login = IdentityEventSource::new(&preset(IdentityProviderPreset::Okta), Some("sub")).unwrap();
        let deactivated = okta_event("user.lifecycle.deactivate", false);
        assert_eq!(
            revoked_subject(by_uid.read(&deactivated).unwrap()).0,
            "00u1abcdEFGHijkl5d7",
            "the target, not the admin"
        );
        assert_eq!(revoked_subject(by_login.read(&deactivated).unwrap()).0, "alice@example.com");
        let logged_out = okta_event("user.session.end", true);
        assert_eq!(
            revoked_subject(by_uid.read(&logged_out).unwrap()),
            ("00u1abcdEFGHijkl5d7".into(), "session_ended".into())
        );
        assert!(matches!(
            by_uid.read(&okta_event("user.session.start", true)),
            Ok(IdentityEventOutcome::Ignored { .. })
        ));
        let mut no_user = okta_event("user.account.lock", false);
        no_user["detail"]["target"] = json!([{"id": "0oa1app", "type": "AppInstance"}]);
        no_user["detail"]["actor"]["type"] = json!("SystemPrincipal");
        let err = by_uid.read(&no_user).unwrap_err();
        assert!(err.0.contains("names no single user"), "{err}");
    }

    #[test]
    fn a_mapping_is_checked_against_its_issuer_when_built() {
        let err = IdentityEventSource::new(&preset(IdentityProviderPreset::Auth0), None).unwrap_err();
        assert!(err.reason.contains("not a trusted issuer"), "{err}");
        let err = IdentityEventSource::new(&preset(IdentityProviderPreset::Auth0), Some("email")).unwrap_err();
        assert!(err.reason.contains("subject_claim is \"email\"") && err.reason.contains("subject_at"), "{err}");
        let explicit = IdentityEventSourceConfig {
            subject_at: Some("$.detail.data.user_name".into()),
            ..preset(IdentityProviderPreset::Auth0)
        };
        let by_email = IdentityEventSource::new(&explicit, Some("email")).unwrap();
        assert_eq!(revoked_subject(by_email.read(&auth0_event("scp")).unwrap()).0, "alice@example.com");
        let custom = IdentityEventSourceConfig { issuer: "https://idp.example/".into(), ..Default::default() };
        assert!(IdentityEventSource::new(&custom, Some("sub")).unwrap_err().reason.contains("source_prefix"));
        let bad_path =
            IdentityEventSourceConfig { type_at: Some("detail.type".into()), ..preset(IdentityProviderPreset::Auth0) };
        assert!(IdentityEventSource::new(&bad_path, Some("sub")).unwrap_err().reason.contains("not JSONPath"));
        let nothing = IdentityEventSourceConfig {
            ignore: vec!["scp".into(), "sdu".into(), "limit_wc".into()],
            ..preset(IdentityProviderPreset::Auth0)
        };
        assert!(IdentityEventSource::new(&nothing, Some("sub")).unwrap_err().reason.contains("no event type revokes"));
        let typo = IdentityEventSourceConfig { ignore: vec!["scpp".into()], ..preset(IdentityProviderPreset::Auth0) };
        assert!(IdentityEventSource::new(&typo, Some("sub")).unwrap_err().reason.contains("does not revoke anyway"));
        let twice = [preset(IdentityProviderPreset::Auth0), preset(IdentityProviderPreset::Auth0)];
        let err = IdentityEventSources::new(&twice, |_, _| Some("sub".into())).unwrap_err();
        assert!(err.reason.contains("overlaps"), "{err}");
    }

    #[test]
    fn a_custom_source_and_the_presets_overrides() {
        let config = IdentityEventSourceConfig {
            issuer: "https://login.example.com/".into(),
            tenant: TenantId::parse("acme").unwrap(),
            source_prefix: Some("com.example.identity".into()),
            type_at: Some("$.detail.kind".into()),
            subject_at: Some("$.detail.user.sub".into()),
            revoke: [("password.changed".to_owned(), "password_changed".to_owned())].into(),
            ..Default::default()
        };
        let source = IdentityEventSource::new(&config, Some("sub")).unwrap();
        let event = json!({"id": "e-1", "source": "com.example.identity", "detail-type": "user",
            "detail": {"kind": "password.changed", "user": {"sub": "u-42"}}});
        assert!(source.takes(&event));
        assert!(!source.takes(&auth0_event("scp")));
        let IdentityEventOutcome::Revoke(revocation) = source.read(&event).unwrap() else { panic!() };
        assert_eq!((revocation.tenant.as_str(), revocation.target), ("acme", RevocationTarget::Subject("u-42".into())));
        let mut two_users = event.clone();
        two_users["detail"]["user"] = json!({"sub": ["u-1", "u-2"]});
        assert!(source.read(&two_users).is_err(), "not a single string");
        let mut no_id = event;
        no_id.as_object_mut().unwrap().remove("id");
        assert!(source.read(&no_id).unwrap_err().0.contains("id"));

        let fewer = IdentityEventSourceConfig {
            ignore: vec!["limit_wc".into()],
            revoke: [("slo".to_owned(), "logged_out".to_owned())].into(),
            ..preset(IdentityProviderPreset::Auth0)
        };
        let source = IdentityEventSource::new(&fewer, Some("sub")).unwrap();
        assert!(matches!(source.read(&auth0_event("limit_wc")), Ok(IdentityEventOutcome::Ignored { .. })));
        assert_eq!(revoked_subject(source.read(&auth0_event("slo")).unwrap()).1, "logged_out");
    }
}

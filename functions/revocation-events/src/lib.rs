//! The revocation-events function: revocation events from EventBridge (one event per invocation) and from SQS
//! (batches), each applied with one watermark write ([`tessera::events`]).
//!
//! - EventBridge (`detail-type` `tessera.revoke`): a malformed event or a store failure is an invocation
//!   error, so Lambda retries the asynchronous invocation and then hands the event to the function's
//!   dead-letter queue.
//! - SQS: every message is applied on its own; the ones that fail (malformed, or the store unavailable) are
//!   reported in `batchItemFailures`, so the others are deleted and only the failures return to the queue,
//!   whose redrive policy moves them to the dead-letter queue after `maxReceiveCount` receives.
//!
//! - Identity-provider events (Auth0's or Okta's log stream, or another mapped source:
//!   [`tessera::events::identity_provider`]): an event type that revokes becomes a revocation of its user, applied
//!   as above; any other type is acknowledged and logged; an event of a revoking type that names no user is
//!   malformed.
//!
//! Each applied event is announced ([`tessera::announcement`]), a re-delivery too (with the same announcement
//! id). An announcement that fails fails the event as a store failure does (the invocation, or its batch item):
//! the revocation is already written, and the re-delivery, which writes nothing, announces it.
//!
//! An event naming a tenant the deployment does not serve ([`TenantDirectory`]) is rejected like a malformed
//! one: it would write a watermark no token reads. Nothing is dropped silently: every rejection is logged at
//! `error` with the event or message id and why.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use serde_json::{Value, json};
use tessera::announcement::RevocationAnnouncer;
use tessera::clock::Clock;
use tessera::events::identity_provider::{EventMessage, IdentityEventSources};
use tessera::events::{EventCheck, MalformedEvent, RevocationEvent, RevocationTarget, TenantDirectory};
use tessera::metrics::{self, Metric, RevocationKind};
use tessera::store::TokenStore;

/// Why an invocation failed; Lambda retries it, then dead-letters it.
pub type Error = lambda_runtime::Error;

/// What the handler needs beside the event: the table, the clock, the tenants served, the identity-provider
/// event mappings, and where revocations are announced.
#[derive(Clone, Copy)]
pub struct Deps<'a> {
    /// Where the watermarks go.
    pub store: &'a dyn TokenStore,
    /// The time a watermark is set at.
    pub clock: &'a dyn Clock,
    /// The tenants an event may name.
    pub tenants: &'a dyn TenantDirectory,
    /// Which identity-provider events revoke whom.
    pub identity_events: &'a IdentityEventSources,
    /// Where applied events are announced.
    pub announcer: &'a dyn RevocationAnnouncer,
}

/// Handles one invocation: an SQS batch (answered with `batchItemFailures`) or an EventBridge event.
pub async fn handle(deps: Deps<'_>, event: Value) -> Result<Value, Error> {
    let Deps { store, clock, tenants, identity_events, announcer } = deps;
    if event.get("Records").is_some() {
        // In our words: serde's text ("invalid type: string, expected a sequence") says nothing to the sender.
        let batch: SqsEvent = serde_json::from_value(event).map_err(|_| {
            rejected(None, &MalformedEvent("`Records` is not a list of SQS messages with string bodies".into()))
        })?;
        return Ok(serde_json::to_value(handle_batch(deps, batch).await)?);
    }
    if event.get("detail-type").is_some() {
        let id = event.get("id").and_then(Value::as_str).map(str::to_owned);
        let revocation = match identity_events.read(event, None).map_err(|e| rejected(id.as_deref(), &e))? {
            EventMessage::Revoke(revocation) => revocation,
            EventMessage::Ignored { source, event_type } => {
                ignored(id.as_deref(), &source, &event_type);
                return Ok(json!({"event_id": id, "ignored": event_type}));
            }
        };
        match revocation.check(tenants, store, clock.now()).await {
            EventCheck::Applicable => {}
            EventCheck::Refused(refused) => return Err(rejected(Some(&revocation.event_id), &refused)),
            EventCheck::Unknown(unknown) => {
                tracing::error!(event_id = %revocation.event_id, error = %unknown,
                    "revocation event not applied; it will be retried");
                return Err(unknown.into());
            }
        }
        let written = revocation.apply(store, announcer, clock.now()).await.map_err(|e| {
            tracing::error!(event_id = %revocation.event_id, error = %e,
                "revocation event not applied or not announced; it will be retried");
            e.into_cause()
        })?;
        count_applied(&revocation, written);
        return Ok(json!({"event_id": revocation.event_id, "written": written}));
    }
    Err(rejected(None, &MalformedEvent("neither an SQS batch nor an EventBridge event".into())))
}

/// Applies every message of an SQS batch, concurrently (so a slow table costs one write's time, not ten), and
/// reports the ones that failed.
pub async fn handle_batch(deps: Deps<'_>, batch: SqsEvent) -> SqsBatchResponse {
    let outcomes = futures_util::future::join_all(batch.records.into_iter().map(|m| apply_message(deps, m)));
    let mut response = SqsBatchResponse::default();
    for failed in outcomes.await.into_iter().flatten() {
        response.add_failure(failed);
    }
    response
}

/// Applies one SQS message; `Some(message id)` when it failed and must return to the queue.
async fn apply_message(deps: Deps<'_>, message: SqsMessage) -> Option<String> {
    let Some(message_id) = message.message_id else {
        // Cannot happen with SQS; without an id the failure could not be reported, so it is only logged.
        tracing::error!("SQS message without a messageId skipped");
        return None;
    };
    let parsed = message
        .body
        .as_deref()
        .ok_or_else(|| MalformedEvent("the message has no body".into()))
        .and_then(|body| deps.identity_events.read_text(body, Some(&message_id)));
    let failed = match parsed {
        Err(malformed) => {
            rejected(Some(&message_id), &malformed);
            true
        }
        Ok(EventMessage::Ignored { source, event_type }) => {
            ignored(Some(&message_id), &source, &event_type);
            false
        }
        Ok(EventMessage::Revoke(event)) => match event.check(deps.tenants, deps.store, deps.clock.now()).await {
            EventCheck::Refused(refused) => {
                rejected(Some(&message_id), &refused);
                true
            }
            EventCheck::Unknown(unknown) => {
                tracing::error!(message_id, event_id = %event.event_id, error = %unknown,
                    "revocation event not applied; the message returns to the queue");
                true
            }
            EventCheck::Applicable => apply(deps, &message_id, &event).await,
        },
    };
    failed.then_some(message_id)
}

/// Writes one message's watermark; `true` when it failed.
async fn apply(deps: Deps<'_>, message_id: &str, event: &RevocationEvent) -> bool {
    match event.apply(deps.store, deps.announcer, deps.clock.now()).await {
        Ok(written) => {
            count_applied(event, written);
            false
        }
        Err(err) => {
            tracing::error!(message_id, event_id = %event.event_id, error = %err,
                "revocation event not applied or not announced; the message returns to the queue");
            true
        }
    }
}

/// Counts an applied event's revocation under its tenant, which [`RevocationEvent::check`] found served
/// ([`tessera::metrics`]); a re-delivery that wrote nothing is not counted.
fn count_applied(event: &RevocationEvent, written: bool) {
    let kind = match event.target {
        RevocationTarget::Subject(_) => RevocationKind::Subject,
        RevocationTarget::Client(_) => RevocationKind::Client,
        RevocationTarget::Family(_) => RevocationKind::Family,
        RevocationTarget::Tenant => RevocationKind::Tenant,
    };
    if written {
        metrics::count_for_served(Metric::Revocations(kind), &event.tenant);
    }
}

/// Logs an identity-provider event that revokes nothing (its type is not one that revokes).
fn ignored(id: Option<&str>, source: &str, event_type: &str) {
    tracing::info!(
        id = id.unwrap_or("(none)"),
        source,
        event_type,
        "identity-provider event ignored: its type revokes nothing"
    );
}

/// Logs a rejected event and turns it into the invocation's error.
fn rejected(id: Option<&str>, malformed: &MalformedEvent) -> Error {
    tracing::error!(id = id.unwrap_or("(none)"), error = %malformed,
        "revocation event rejected; it goes to the dead-letter queue after its retries");
    malformed.clone().into()
}

//! Operator revocation from the command line: `tessera revoke` builds a revocation event and applies it to a
//! table directly, or sends it to a running `tessera serve`; `tessera events send` sends an event file (the
//! JSON EventBridge or SQS delivers, as in `events/`) to the runner's `/local/events` route, which hands it to
//! the revocation-events handler.

use serde_json::{Value, json};
use tessera::entropy::{Entropy, random_bytes};
use tessera::events::{DETAIL_TYPE, RevocationEvent};

use crate::error::CliError;
use crate::routes::LOCAL_EVENTS_PATH;

/// What to revoke, as `tessera revoke` takes it.
#[derive(Debug, Default, Clone)]
pub struct RevokeRequest {
    /// The tenant.
    pub tenant: String,
    /// A subject.
    pub subject: Option<String>,
    /// A client.
    pub client_id: Option<String>,
    /// A grant family.
    pub family_id: Option<String>,
    /// Every token of the tenant.
    pub all_tokens: bool,
    /// Why.
    pub reason: String,
    /// The event id; generated when absent.
    pub event_id: Option<String>,
}

impl RevokeRequest {
    /// The revocation `detail`, with an event id (`cli-` and 16 random hex digits unless one was given), and
    /// the event the revocation-events handler reads from it: what the handler would refuse is refused here.
    pub fn event(&self, entropy: &dyn Entropy) -> Result<(Value, RevocationEvent), CliError> {
        let event_id = match &self.event_id {
            Some(id) => id.clone(),
            None => {
                let bytes: [u8; 8] = random_bytes(entropy)?;
                format!("cli-{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
            }
        };
        let mut detail = json!({"event_id": event_id, "tenant": self.tenant, "reason": self.reason});
        for (name, value) in
            [("subject", &self.subject), ("client_id", &self.client_id), ("family_id", &self.family_id)]
        {
            if let Some(value) = value {
                detail[name] = json!(value);
            }
        }
        if self.all_tokens {
            detail["all_tokens"] = json!(true);
        }
        let event = RevocationEvent::from_detail(detail.clone(), None).map_err(CliError::Revocation)?;
        Ok((detail, event))
    }
}

/// The EventBridge event an identity system would put on the bus for `detail`.
pub fn eventbridge_envelope(detail: Value) -> Value {
    let id = detail["event_id"].clone();
    json!({"version": "0", "id": id, "detail-type": DETAIL_TYPE, "source": "tessera.cli", "resources": [], "detail": detail})
}

/// Posts an event to the runner at `base_url` and returns its answer. An HTTP error, or an SQS batch with
/// failures, is an `Err` carrying the answer.
pub async fn send(base_url: &str, event: &str) -> Result<Value, CliError> {
    let url = format!("{}{LOCAL_EVENTS_PATH}", base_url.trim_end_matches('/'));
    let response = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .body(event.to_owned())
        .send()
        .await
        .map_err(|source| CliError::RunnerUnreachable { url: url.clone(), source })?;
    let status = response.status();
    let text = response.text().await.map_err(CliError::RunnerAnswer)?;
    let answer: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if !status.is_success() {
        return Err(CliError::RunnerRefused { status, answer });
    }
    match answer.get("batchItemFailures").and_then(Value::as_array) {
        Some(failures) if !failures.is_empty() => Err(CliError::MessagesFailed(answer)),
        _ => Ok(answer),
    }
}

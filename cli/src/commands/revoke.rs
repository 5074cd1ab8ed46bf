//! `tessera revoke`: every token of a subject, a client, a grant family or the tenant, with one watermark write.
//! It builds the revocation event an identity system would send, and applies it to a table directly, or sends
//! it to a running `tessera serve` (as [`super::events`] sends an event file).

use clap::Args;
use serde_json::{Value, json};
use tessera::announcement::RevocationCause;
use tessera::clock::{Clock, SystemClock};
use tessera::domain::tenant::TenantId;
use tessera::entropy::{Entropy, SystemEntropy, random_bytes};
use tessera::events::{DETAIL_TYPE, RevocationEvent};

use super::events::{self, DEFAULT_RUNNER_URL};
use super::table::{Endpoint, EventBus};
use crate::error::CliError;

/// What `tessera revoke` revokes: exactly one target.
#[derive(Args)]
#[group(id = "target", required = true, multiple = false)]
pub struct RevokeTarget {
    /// Every token of this subject (`sub`).
    #[arg(long)]
    subject: Option<String>,
    /// Every token issued to this client.
    #[arg(long)]
    client_id: Option<String>,
    /// Every token of this grant family (the `tsr_fam` claim of its JWTs).
    #[arg(long)]
    family_id: Option<String>,
    /// Every token of the tenant.
    #[arg(long)]
    all_tokens: bool,
}

/// The arguments of `tessera revoke`.
#[derive(Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    target: RevokeTarget,
    /// Why (logged).
    #[arg(long)]
    reason: String,
    #[arg(long, default_value = TenantId::DEFAULT)]
    tenant: TenantId,
    /// The event id (idempotency: the same id never raises a watermark twice). Default: generated.
    #[arg(long)]
    event_id: Option<String>,
    /// Write to this DynamoDB table directly (TABLE_NAME works too) instead of sending to the runner.
    #[arg(long, env = "TABLE_NAME", conflicts_with = "url")]
    table: Option<String>,
    #[command(flatten)]
    endpoint: Endpoint,
    #[command(flatten)]
    event_bus: EventBus,
    /// Without a table: the running `tessera serve` (default http://127.0.0.1:9000).
    #[arg(long)]
    url: Option<String>,
}

/// Runs `tessera revoke`, printing the answer as JSON: `{"event_id","written"}` from the table, or the
/// runner's.
pub async fn run(args: RevokeArgs) -> Result<(), CliError> {
    let RevokeTarget { subject, client_id, family_id, all_tokens } = args.target;
    let request = RevokeRequest {
        tenant: args.tenant.to_string(),
        subject,
        client_id,
        family_id,
        all_tokens,
        reason: args.reason,
        event_id: args.event_id,
    };
    let (detail, event) = request.event(&SystemEntropy)?;
    let answer = match &args.table {
        Some(table) => {
            eprintln!("revoking in DynamoDB table {table}");
            let store = args.endpoint.open(table).await?;
            // Announced as an operator's revocation (the runner announces what it is sent as an event).
            let event = RevocationEvent { cause: RevocationCause::Operator, ..event };
            let announcer = args.event_bus.announcer().await;
            let written = event.apply(&store, announcer.as_ref(), SystemClock.now()).await?;
            json!({"event_id": event.event_id, "written": written})
        }
        None => {
            let url = args.url.as_deref().unwrap_or(DEFAULT_RUNNER_URL);
            eprintln!("sending the revocation event to the runner at {url}");
            events::send(url, &eventbridge_envelope(detail).to_string()).await?
        }
    };
    println!("{answer}");
    Ok(())
}

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

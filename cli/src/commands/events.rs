//! `tessera events send`: posts an event file (the JSON EventBridge or SQS delivers, as in `events/`) to the
//! runner's `/local/events` route, which hands it to the revocation-events handler.

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::Value;

use crate::error::CliError;
use crate::routes::LOCAL_EVENTS_PATH;

/// Where `tessera serve` listens by default.
pub const DEFAULT_RUNNER_URL: &str = "http://127.0.0.1:9000";

/// `tessera events …`.
#[derive(Subcommand)]
pub enum EventsCommand {
    /// POST an event file (an EventBridge event or an SQS batch, as in events/) to the runner's /local/events,
    /// which runs the revocation-events handler on it. Fails if the runner rejects it or any message fails.
    Send {
        /// The event JSON.
        file: PathBuf,
        /// The running `tessera serve`.
        #[arg(long, default_value = DEFAULT_RUNNER_URL)]
        url: String,
    },
}

/// Runs a `tessera events` command, printing the runner's answer.
pub async fn run(command: EventsCommand) -> Result<(), CliError> {
    let EventsCommand::Send { file, url } = command;
    let event = std::fs::read_to_string(&file).map_err(|source| CliError::Read { path: file, source })?;
    println!("{}", send(&url, &event).await?);
    Ok(())
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

//! The Amazon EventBridge adapter of [`RevocationAnnouncer`]: one `PutEvents` of one entry per announcement, on
//! the bus `REVOCATION_EVENT_BUS` names (template.yaml's `RevocationEventBusName`, the account's `default` bus
//! unless set).
//!
//! Its client is made from the one [`crate::aws_sdk::sdk_config`] with a tighter budget of its own: the
//! revocation it announces is already committed and `/oauth2/revoke` or the token endpoint is waiting to answer,
//! so an attempt gets [`ATTEMPT_TIMEOUT_MS`] and the call [`MAX_ATTEMPTS`] attempts (the SDK's standard retry,
//! with its backoff), about a second at worst. `TESSERA_EVENTBRIDGE_ATTEMPT_TIMEOUT_MS` raises the attempt timeout
//! for a slow emulator. The endpoint comes from `AWS_ENDPOINT_URL_EVENTBRIDGE` / `AWS_ENDPOINT_URL` when set, as
//! for DynamoDB.

use std::time::Duration;

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::config::retry::RetryConfig;
use aws_sdk_eventbridge::config::timeout::TimeoutConfig;
use aws_sdk_eventbridge::primitives::DateTime;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::{AnnounceError, DETAIL_TYPE, RevocationAnnouncement, RevocationAnnouncer, SOURCE};

/// The default time one `PutEvents` attempt may take.
pub const ATTEMPT_TIMEOUT_MS: u64 = 300;

/// Attempts per announcement, the first included.
pub const MAX_ATTEMPTS: u32 = 2;

/// An EventBridge client for announcements, from the shared SDK configuration, with the announcement budget.
pub fn client(sdk: &aws_config::SdkConfig) -> Client {
    let attempt_ms = std::env::var("TESSERA_EVENTBRIDGE_ATTEMPT_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(ATTEMPT_TIMEOUT_MS);
    let config = aws_sdk_eventbridge::config::Builder::from(sdk)
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_millis(attempt_ms.min(500)))
                .operation_attempt_timeout(Duration::from_millis(attempt_ms))
                .operation_timeout(Duration::from_millis(attempt_ms * u64::from(MAX_ATTEMPTS) + 200))
                .build(),
        )
        .build();
    Client::from_conf(config)
}

/// Announces on one EventBridge bus.
#[derive(Debug, Clone)]
pub struct EventBridgeAnnouncer {
    client: Client,
    bus: String,
}

impl EventBridgeAnnouncer {
    /// Announces on `bus` (a name or an ARN) with `client` ([`client`]).
    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        Self { client, bus: bus.into() }
    }

    /// The bus.
    pub fn bus(&self) -> &str {
        &self.bus
    }
}

#[async_trait::async_trait]
impl RevocationAnnouncer for EventBridgeAnnouncer {
    async fn announce(&self, announcement: &RevocationAnnouncement) -> Result<(), AnnounceError> {
        let micros = i64::try_from(announcement.revoked_at).unwrap_or(i64::MAX);
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(SOURCE)
            .detail_type(DETAIL_TYPE)
            .detail(announcement.to_json())
            .time(DateTime::from_millis(micros / 1_000))
            .build();
        let output = self.client.put_events().entries(entry).send().await.map_err(|err| {
            use aws_sdk_eventbridge::error::SdkError;
            let text = aws_sdk_eventbridge::error::DisplayErrorContext(&err).to_string();
            match err {
                SdkError::ServiceError(_) => AnnounceError::Refused(text),
                _ => AnnounceError::Unavailable(text),
            }
        })?;
        if output.failed_entry_count() > 0 {
            // One entry: its error says why (a throttle, an internal failure, a bad entry).
            let failed = output.entries().iter().find(|e| e.error_code().is_some());
            let code = failed.and_then(|e| e.error_code()).unwrap_or("unknown");
            let message = failed.and_then(|e| e.error_message()).unwrap_or("");
            return Err(AnnounceError::Refused(format!("{code}: {message}")));
        }
        Ok(())
    }
}

//! Where a command's DynamoDB table is (`--table`, `--dynamodb-endpoint`, `--create-table`), and opening it; and
//! where a command that revokes in it announces that (`--event-bus`).

use std::sync::Arc;

use clap::Args;
use tessera::announcement::RevocationAnnouncer;
use tessera::store::dynamodb::DynamoStore;

use crate::error::CliError;

/// Where the table is.
#[derive(Args, Clone)]
pub struct Table {
    /// The DynamoDB table (template.yaml's TableName output).
    #[arg(long, env = "TABLE_NAME")]
    table: String,
    #[command(flatten)]
    endpoint: Endpoint,
}

impl Table {
    /// Opens the table, creating it if asked.
    pub async fn open(&self) -> Result<DynamoStore, CliError> {
        self.endpoint.open(&self.table).await
    }
}

/// The table, when it is optional.
#[derive(Args, Clone)]
pub struct OptionalTable {
    /// The DynamoDB table (template.yaml's TableName output).
    #[arg(long)]
    pub table: Option<String>,
    #[command(flatten)]
    pub endpoint: Endpoint,
}

/// How the table is reached.
#[derive(Args, Clone)]
pub struct Endpoint {
    /// A DynamoDB-compatible endpoint (DynamoDB Local, moto). AWS_ENDPOINT_URL_DYNAMODB works too. Without AWS
    /// credentials in the environment, local placeholder credentials are used for it.
    #[arg(long)]
    dynamodb_endpoint: Option<String>,
    /// Create the table (as template.yaml defines it) if it does not exist.
    #[arg(long)]
    create_table: bool,
}

impl Endpoint {
    /// Opens `table` at this endpoint, creating it if asked.
    pub async fn open(&self, table: &str) -> Result<DynamoStore, CliError> {
        let sdk = tessera::aws_sdk::sdk_config().await;
        let client = tessera::store::dynamodb::client(&sdk, self.dynamodb_endpoint.as_deref());
        let store = DynamoStore::new(client, table);
        if self.create_table {
            store.create_table_if_missing().await?;
        }
        Ok(store)
    }
}

/// Where a command that revokes in the table announces it ([`tessera::announcement`]), as the functions do.
#[derive(Args, Clone, Default)]
pub struct EventBus {
    /// The EventBridge bus to announce the revocation on (the stack's RevocationEventBusName; AWS_ENDPOINT_URL_EVENTBRIDGE
    /// reaches an emulator). Unset: the announcement is only logged.
    #[arg(long, env = tessera::bootstrap::REVOCATION_EVENT_BUS)]
    event_bus: Option<String>,
}

impl EventBus {
    /// The announcer: EventBridge on the bus, or the log.
    pub async fn announcer(&self) -> Arc<dyn RevocationAnnouncer> {
        use tessera::announcement::eventbridge::{EventBridgeAnnouncer, client};
        match self.event_bus.as_deref().filter(|bus| !bus.trim().is_empty()) {
            Some(bus) => {
                let sdk = tessera::aws_sdk::sdk_config().await;
                Arc::new(EventBridgeAnnouncer::new(client(&sdk), bus))
            }
            None => Arc::new(tessera::announcement::recent::RecentAnnouncements::new(1)),
        }
    }
}

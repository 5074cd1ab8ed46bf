//! Lambda entry point of `tessera_revocation_events`: wiring only. The store is built once at init.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;
use tessera::clock::SystemClock;
use tessera::store::TokenStore;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tessera::telemetry::init();
    // Built once and kept for the life of the execution environment.
    let store: &'static Arc<dyn TokenStore> = Box::leak(Box::new(tessera::bootstrap::store_from_env().await?));
    run(service_fn(|event: LambdaEvent<Value>| {
        tessera_revocation_events::handle(store.as_ref(), &SystemClock, event.payload)
    }))
    .await
}

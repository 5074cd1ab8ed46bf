//! Lambda entry point of `tessera_authorizer`: wiring only. Configuration (the protected routes included), keys
//! and store are built once at init.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tessera::telemetry::init();
    // Built once and shared by every invocation of the execution environment: `run` never returns while it
    // serves, so a borrow lives long enough (the runtime's shared-data pattern).
    let service = tessera::bootstrap::service_from_env().await?;
    let service = &service;
    run(service_fn(move |event: LambdaEvent<Value>| tessera_authorizer::handle(service, event.payload))).await
}

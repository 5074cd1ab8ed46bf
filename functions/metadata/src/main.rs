//! Lambda entry point of `tessera_metadata`: wiring only. Configuration and keys are built once at init; the
//! function never touches the table.

use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tessera::telemetry::init();
    // Built once and kept for the life of the execution environment.
    let service: &'static tessera::TokenService =
        Box::leak(Box::new(tessera::bootstrap::keys_service_from_env().await?));
    run(service_fn(|request| tessera_metadata::handle(service, request))).await
}

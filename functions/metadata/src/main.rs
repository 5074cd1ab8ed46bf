//! Lambda entry point of `tessera_metadata`: wiring only. Configuration, keys and the tenants' trusted issuers (one
//! table read) are built once at init.

use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tessera::telemetry::init();
    // Built once and shared by every invocation of the execution environment: `run` never returns while it
    // serves, so a borrow lives long enough (the runtime's shared-data pattern).
    let service = tessera::bootstrap::service_from_env().await?;
    let service = &service;
    run(service_fn(move |request| tessera_metadata::handle(service, request))).await
}

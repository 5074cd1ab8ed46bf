//! Lambda entry point of `tessera_metadata`: wiring only. Configuration, keys and the tenants' trusted issuers (one
//! table read) are built once at init.

use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tessera::telemetry::init();
    // Built once and kept for the life of the execution environment.
    let service: &'static tessera::TokenService = Box::leak(Box::new(tessera::bootstrap::service_from_env().await?));
    run(service_fn(|request| tessera_metadata::handle(service, request))).await
}

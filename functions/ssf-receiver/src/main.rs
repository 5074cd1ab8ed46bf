//! Lambda entry point of `tessera_ssf_receiver`: wiring only. Configuration, tenants, trusted issuers,
//! transmitters and the store are built once at init.

use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tessera::telemetry::init();
    // Built once and shared by every invocation of the execution environment: `run` never returns while it
    // serves, so a borrow lives long enough (the runtime's shared-data pattern).
    let service = tessera::bootstrap::ssf_receiver_from_env().await?;
    let service = &service;
    run(service_fn(move |request| tessera_ssf_receiver::handle(service, request))).await
}

//! Lambda entry point of `tessera_revocation_events`: wiring only. The store and the tenant directory (the key
//! document's tenants) are built once at init.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};

use serde_json::Value;
use tessera::clock::SystemClock;
use tessera_revocation_events::Deps;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tessera::telemetry::init();
    // Built once and shared by every invocation of the execution environment: `run` never returns while it
    // serves, so a borrow lives long enough (the runtime's shared-data pattern).
    let (store, service) = tessera::bootstrap::revocation_events_from_env().await?;
    let deps = Deps {
        store: store.as_ref(),
        clock: &SystemClock,
        tenants: service.as_ref(),
        identity_events: service.identity_events(),
        announcer: service.announcer.as_ref(),
    };
    // Each invocation's metrics, written when it ends (tessera::metrics).
    let metrics = service.metrics.as_ref();
    run(service_fn(move |event: LambdaEvent<Value>| {
        metrics.invocation(tessera_revocation_events::handle(deps, event.payload))
    }))
    .await
}

//! Lambda entry point of `tessera_revocation_events`: wiring only. The store and the tenant directory (the key
//! document's tenants) are built once at init.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;
use tessera::clock::SystemClock;
use tessera_revocation_events::Deps;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tessera::telemetry::init();
    // Built once and kept for the life of the execution environment.
    let (store, tenants) = tessera::bootstrap::revocation_events_from_env().await?;
    let (store, tenants) = (Box::leak(Box::new(store)), Box::leak(Box::new(tenants)));
    run(service_fn(|event: LambdaEvent<Value>| {
        let deps = Deps { store: store.as_ref(), clock: &SystemClock, tenants: tenants.as_ref() };
        tessera_revocation_events::handle(deps, event.payload)
    }))
    .await
}

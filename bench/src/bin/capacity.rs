//! `capacity`: DynamoDB round trips and capacity units per operation, against a real DynamoDB API (the
//! emulator in scripts/bench, or AWS). Each operation runs through its handler on a [`CountingStore`] around
//! the [`DynamoStore`]; it prints one JSON line per operation with
//! - the round trips (store calls) and the items behind them (keys read, items written, in transactions or not,
//!   the largest item written),
//! - the capacity the endpoint reported (`ReturnConsumedCapacity: TOTAL`; moto reports fixed figures, so these
//!   are the emulator's, not AWS's),
//! - the capacity DynamoDB's pricing rules give for those items: a strongly consistent read is 1 RCU per item up
//!   to 4 KB (a missing item too), a write 1 WCU per KB, a transactional write twice that.
//!
//! Environment: `AWS_ENDPOINT_URL_DYNAMODB` (or real AWS credentials) and `TABLE_NAME` (created if missing).

use std::process::ExitCode;
use std::sync::Arc;

use tessera::events::RevocationEvent;
use tessera::store::counting::CountingStore;
use tessera::store::dynamodb::{self, DynamoStore};
use tessera::store::{Record, RegistrationStore};
use tessera_bench::{Operation, Scenario, demo_clients};

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("no runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("capacity: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let table = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME is not set".to_owned())?;
    let sdk = tessera::aws_sdk::sdk_config().await;
    let dynamo = DynamoStore::new(dynamodb::client(&sdk, None), table);
    dynamo.create_table_if_missing().await.map_err(|e| e.to_string())?;
    for client in demo_clients() {
        dynamo.put(Record::Client(client)).await.map_err(|e| e.to_string())?;
    }
    let counting = Arc::new(CountingStore::new(dynamo));
    let scenario = Scenario::on(counting.clone()).await;
    let reset = || {
        counting.take();
        counting.take_items();
        counting.inner().take_consumed();
    };

    for op in Operation::ALL.into_iter().filter(|op| !op.is_form_stress()) {
        let prepared = scenario.setup(op).await;
        let request = scenario.request(op, prepared.as_deref());
        reset();
        let status = scenario.run(op, request).await;
        if status != 200 {
            return Err(format!("{} answered {status}", op.name()));
        }
        println!("{}", report(op.name(), &counting));
    }

    // A revocation event (one subject): what the revocation-events function does per event.
    let detail = serde_json::json!({"event_id": "capacity-bench-1", "subject": "demo-jwt", "reason": "bench"});
    let event = RevocationEvent::from_detail(detail, None).map_err(|e| e.to_string())?;
    reset();
    // Announced into the runner's list: the capacity measured is the table's.
    let announced = tessera::announcement::recent::RecentAnnouncements::new(1);
    event
        .apply(counting.as_ref(), &announced, tessera::domain::time::Timestamp::from_secs(1_800_000_100))
        .await
        .map_err(|e| e.to_string())?;
    println!("{}", report("revocation_event", &counting));
    Ok(())
}

fn report(op: &str, counting: &CountingStore<DynamoStore>) -> String {
    let trips = counting.take();
    let items = counting.take_items();
    let reported = counting.inner().take_consumed();
    // The pricing rules, for items of this size (checked against the limits the rules assume).
    let per_write = items.largest_item_bytes.div_ceil(1024).max(1);
    let rcu = items.keys_read;
    let wcu = (items.written + 2 * items.written_in_transactions) * per_write;
    serde_json::json!({
        "op": op,
        "reads": trips.reads,
        "writes": trips.writes,
        "keys_read": items.keys_read,
        "items_written": items.written,
        "items_written_in_transactions": items.written_in_transactions,
        "largest_item_bytes": items.largest_item_bytes,
        "rcu": rcu,
        "wcu": wcu,
        "emulator_rcu": reported.read_units,
        "emulator_wcu": reported.write_units,
    })
    .to_string()
}

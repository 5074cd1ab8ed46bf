//! Handler CPU, in-process, on the embedded store: each operation from a `lambda_http::Request` to its response,
//! as the Lambda function runs it (form parsing, client authentication, token work, the store, the JSON answer).
//! Building the request is inside the measurement only where a handler would receive it anyway (no).

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use tessera_bench::{Operation, Scenario};

fn handlers(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let scenario = runtime.block_on(Scenario::new());
    let mut group = c.benchmark_group("handler");
    for op in Operation::ALL {
        group.bench_function(op.name(), |b| {
            b.iter_batched(
                || {
                    let prepared = runtime.block_on(scenario.setup(op));
                    scenario.request(op, prepared.as_deref())
                },
                |request| {
                    let status = runtime.block_on(scenario.run(op, request));
                    assert_eq!(status, op.expected_status(), "{}", op.name());
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, handlers);
criterion_main!(benches);

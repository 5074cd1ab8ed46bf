//! `instructions <operation> <n> <prepared>`: builds the scenario, prepares `prepared` requests (a fresh token
//! each, for revocation), runs `operation` once to warm up, then `n` more times. Building the requests is
//! outside the difference (both runs build `prepared` of them), as it is outside criterion's measurement. Run under
//! `valgrind --tool=callgrind` twice, with `n` and with `0` and the same `prepared`, the difference divided by
//! `n` is the instruction count of one operation, which, unlike time, repeats on a noisy machine.
//! `scripts/bench` does exactly that. It also prints the wall time per operation of the `n` runs as JSON, which
//! `scripts/bench_profiles` uses to compare build profiles without a criterion build per profile.

use std::process::ExitCode;

use tessera_bench::{Operation, Scenario};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let number = |i: usize| args.get(i).and_then(|a| a.parse::<usize>().ok());
    let (Some(op), Some(n), Some(prepared)) = (args.get(1).and_then(|a| Operation::parse(a)), number(2), number(3))
    else {
        eprintln!("usage: instructions <operation> <n> <prepared>   (prepared > n)");
        return ExitCode::FAILURE;
    };
    if prepared <= n {
        eprintln!("prepared must exceed n (one input warms up)");
        return ExitCode::FAILURE;
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let scenario = Scenario::new().await;
        let mut requests = Vec::with_capacity(prepared);
        for _ in 0..prepared {
            let input = scenario.setup(op).await;
            requests.push(scenario.request(op, input.as_deref()));
        }
        let mut requests = requests.into_iter().take(n + 1);
        if let Some(warm_up) = requests.next() {
            assert_eq!(scenario.run(op, warm_up).await, op.expected_status(), "{}", op.name());
        }
        let started = std::time::Instant::now();
        for request in requests {
            assert_eq!(scenario.run(op, request).await, op.expected_status(), "{}", op.name());
        }
        let ns_per_op = started.elapsed().as_nanos() / n.max(1) as u128;
        println!("{{\"op\": \"{}\", \"n\": {n}, \"ns_per_op\": {ns_per_op}}}", op.name());
    });
    ExitCode::SUCCESS
}

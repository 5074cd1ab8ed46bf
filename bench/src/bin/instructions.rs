//! `instructions <operation> <n> <prepared>`: builds the scenario, prepares `prepared` inputs (a fresh token
//! each, for revocation), runs `operation` once to warm up, then `n` more times. Run under
//! `valgrind --tool=callgrind` twice, with `n` and with `0` and the same `prepared`, the difference divided by
//! `n` is the instruction count of one operation, which, unlike time, repeats on a noisy machine.
//! `scripts/bench` does exactly that.

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
        let mut inputs = Vec::with_capacity(prepared);
        for _ in 0..prepared {
            inputs.push(scenario.setup(op).await);
        }
        for input in inputs.iter().take(n + 1) {
            let request = scenario.request(op, input.as_deref());
            assert_eq!(scenario.run(op, request).await, 200, "{}", op.name());
        }
    });
    ExitCode::SUCCESS
}

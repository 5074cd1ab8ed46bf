//! Tracing setup: JSON lines in Lambda (CloudWatch adds timestamps), compact text on stderr locally (stdout
//! stays for the `tessera` command's output), coloured only when stderr is a terminal (a file or a pipe gets
//! plain text). Level from `RUST_LOG`, `info` by default.
//!
//! Redaction policy: tokens, secrets and keys never enter a span or an event. Handlers use
//! `#[instrument(skip_all)]` and record only client ids, tenants and reasons; the types that hold secrets
//! (`ClientCredentials`, `Form`, `OpaqueToken`, `SecretHash`, `SigningKey`) redact themselves in `Debug`.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls are no-ops.
pub fn init() {
    // lambda_runtime logs whole events (Authorization headers, secrets, tokens) at TRACE: whatever RUST_LOG
    // says, the runtime crates stay at INFO.
    let filter = filter(&std::env::var("RUST_LOG").unwrap_or_default());
    let in_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let result = if in_lambda {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_current_span(true)
            .with_ansi(false)
            .without_time()
            .try_init()
    } else {
        tracing_subscriber::fmt()
            .compact()
            .with_env_filter(filter)
            .with_target(false)
            .with_ansi(colour_logs())
            .with_writer(std::io::stderr)
            .try_init()
    };
    // Err means a subscriber is already installed (tests, or a second call): keep it.
    let _ = result;
}

/// The log filter for `directives` (`RUST_LOG` syntax; empty or invalid is `info`), with `<crate>=info` added
/// for the crates that would log requests whole at DEBUG or TRACE: `lambda_runtime` and `lambda_http` (events with
/// their Authorization headers and bodies), `aws_smithy_runtime` (DynamoDB requests and responses), and the HTTP
/// stack under them (`hyper`, `hyper_util`, `h2`). An added directive replaces one with the same target, so
/// `RUST_LOG=trace` or `lambda_runtime=trace` leave these crates at INFO; a directive naming a module inside one
/// of them (`lambda_runtime::layers=trace`) or a span is more specific and is not overridden: do not set one in
/// production. `aws_config::imds` is held at ERROR (its region lookup warns, with a debug dump, wherever there is
/// no instance metadata). Tessera's own code never logs a secret at any level (`tests/tests/log_redaction.rs`, at
/// TRACE).
pub fn filter(directives: &str) -> EnvFilter {
    let directives = if directives.trim().is_empty() { "info" } else { directives };
    EnvFilter::try_new(directives)
        .unwrap_or_else(|_| EnvFilter::new("info"))
        .add_directive(quiet("lambda_runtime=info"))
        .add_directive(quiet("lambda_http=info"))
        .add_directive(quiet("aws_smithy_runtime=info"))
        .add_directive(quiet("hyper=info"))
        .add_directive(quiet("hyper_util=info"))
        .add_directive(quiet("h2=info"))
        // Off EC2 and Lambda, the SDK's region lookup asks the instance metadata service and warns, with a debug
        // dump, when there is none: noise for the `tessera` command run on a laptop. Its failures still show.
        .add_directive(quiet("aws_config::imds=error"))
}

fn quiet(directive: &'static str) -> tracing_subscriber::filter::Directive {
    // The directives are literals and always parse; fall back to a harmless one rather than panic.
    directive.parse().unwrap_or_else(|_| tracing_subscriber::filter::LevelFilter::INFO.into())
}

/// Whether local logs are coloured: only on a terminal, and never with `NO_COLOR` set (no-color.org), which
/// tracing-subscriber would honour by itself but an explicit choice overrides.
fn colour_logs() -> bool {
    std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

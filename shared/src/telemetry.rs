//! Tracing setup: JSON lines in Lambda (CloudWatch adds timestamps), compact text on stderr locally (stdout
//! stays for the `tessera` command's output). Level from `RUST_LOG`, `info` by default.
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
            .with_writer(std::io::stderr)
            .try_init()
    };
    // Err means a subscriber is already installed (tests, or a second call): keep it.
    let _ = result;
}

/// The log filter for `directives` (`RUST_LOG` syntax; empty is `info`), with the crates that would log
/// requests whole (`lambda_runtime` and `lambda_http` log events with their Authorization headers and bodies at
/// TRACE; `aws_smithy_runtime` logs DynamoDB requests) held at INFO whatever `directives` say.
pub fn filter(directives: &str) -> EnvFilter {
    let directives = if directives.trim().is_empty() { "info" } else { directives };
    EnvFilter::try_new(directives)
        .unwrap_or_else(|_| EnvFilter::new("info"))
        .add_directive(quiet("lambda_runtime=info"))
        .add_directive(quiet("lambda_http=info"))
        .add_directive(quiet("aws_smithy_runtime=info"))
}

fn quiet(directive: &'static str) -> tracing_subscriber::filter::Directive {
    // The directives are literals and always parse; fall back to a harmless one rather than panic.
    directive.parse().unwrap_or_else(|_| tracing_subscriber::filter::LevelFilter::INFO.into())
}

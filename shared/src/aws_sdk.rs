//! The AWS SDK configuration: the one place the SDK's HTTP client, retries, timeouts and TLS roots are set. It is
//! built once per process ([`sdk_config`]) and every AWS client is made from it: the DynamoDB table
//! ([`crate::store::dynamodb::client`]), the Secrets Manager key document ([`crate::key_source`]) and the
//! EventBridge revocation announcements ([`crate::announcement::eventbridge::client`], with a tighter budget).

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

/// Attempts per operation, first try included, before a call fails (for the store: unavailable).
pub const MAX_ATTEMPTS: u32 = 3;

/// The default time one attempt may take; an operation gets [`MAX_ATTEMPTS`] times as long.
pub const ATTEMPT_TIMEOUT_MS: u64 = 1_000;

/// Builds the shared AWS configuration: standard retries bounded to [`MAX_ATTEMPTS`], tight timeouts, HTTPS
/// trusting only the Amazon roots, and the endpoint from `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL` when
/// set. `TESSERA_DYNAMODB_ATTEMPT_TIMEOUT_MS` raises the attempt timeout for slow emulators (the test command runs
/// moto one request at a time); production keeps the default.
pub async fn sdk_config() -> aws_config::SdkConfig {
    let attempt_ms = std::env::var("TESSERA_DYNAMODB_ATTEMPT_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(ATTEMPT_TIMEOUT_MS);
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(amazon_roots_https_client())
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_millis(500))
                .operation_attempt_timeout(Duration::from_millis(attempt_ms))
                .operation_timeout(Duration::from_millis(attempt_ms * u64::from(MAX_ATTEMPTS)))
                .build(),
        )
        .load()
        .await
}

/// The Amazon Trust Services roots (Amazon Root CA 1 to 4, and the Starfield root they are cross-signed by): every
/// DynamoDB and Secrets Manager endpoint chains to one of them.
const AMAZON_ROOTS: [&str; 5] = [
    include_str!("../certs/amazon-root-ca-1.pem"),
    include_str!("../certs/amazon-root-ca-2.pem"),
    include_str!("../certs/amazon-root-ca-3.pem"),
    include_str!("../certs/amazon-root-ca-4.pem"),
    include_str!("../certs/starfield-services-root-ca-g2.pem"),
];

/// The SDK's HTTPS client (rustls on aws-lc, like the default) trusting only [`AMAZON_ROOTS`]. The default client
/// reads every certificate under `/etc/ssl/certs` at init, about 300 files on a Debian host; this one reads none
/// (`scripts/bench` measures the difference in cold start).
fn amazon_roots_https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
    let trust = AMAZON_ROOTS.iter().fold(TrustStore::empty(), |store, pem| store.with_pem_certificate(pem.as_bytes()));
    let builder = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc));
    match TlsContext::builder().with_trust_store(trust).build() {
        Ok(context) => builder.tls_context(context).build_https(),
        // `build` cannot fail today; should it, the SDK's own roots are the safe fallback.
        Err(_) => builder.build_https(),
    }
}

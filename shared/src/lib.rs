//! Tessera's shared core: everything the Lambda functions and the local runner have in common.
//!
//! - [`domain`]: clients, scopes, tokens, grants and the revocation rule. Pure: no I/O, no clock reads.
//! - [`oauth`]: the token, introspection and revocation operations as plain functions over ports.
//! - [`wire`]: the RFC wire formats: form parsing, client authentication, responses, `OAuthError` → HTTP.
//! - [`jwt`]: signing keys (parsed once), JWKS and RFC 9068 access tokens.
//! - [`store`]: the `TokenStore` port and its adapters.
//! - [`clock`] and [`entropy`]: time and randomness, handed in so tests can pin them.
//! - [`config`]: configuration from TOML or the environment, validated once.
//! - [`events`]: revocation events (EventBridge, SQS, the runner): one watermark write per event.
//! - [`announcement`]: revocation announcements, the events Tessera puts on EventBridge each time it revokes.
//! - [`tenancy`]: the tenants served: assembled from the configuration and the signing-key document, kept fresh.
//! - [`service`]: the [`service::TokenService`] that bundles the ports and the tenants for the handlers.
//! - [`key_source`]: the port the signing-key document is read (and re-read) from, and its adapters.
//! - [`bootstrap`]: building that service from a Lambda function's environment (DynamoDB, Secrets Manager).
//! - [`metrics`]: CloudWatch metrics as EMF log lines, one batch per invocation, with no call on the request path.
//! - [`bounded_cache`]: the LRU map bounded in entries and bytes behind every cache (the read plan, verified JWTs).
//! - [`userinfo`]: a trusted issuer's OpenID Connect UserInfo endpoint (discovery, the fetch, its bounds).
//! - [`aws_sdk`]: the one AWS SDK configuration (HTTP client, retries, timeouts, TLS roots) every AWS client uses.

pub mod announcement;
pub mod aws_sdk;
pub mod bootstrap;
pub mod bounded_cache;
pub mod clock;
pub mod config;
pub mod domain;
pub mod entropy;
pub mod events;
pub mod jwt;
pub mod key_source;
pub mod metrics;
pub mod oauth;
pub mod service;
pub mod store;
pub mod telemetry;
pub mod tenancy;
pub mod userinfo;
pub mod wire;

pub use service::TokenService;

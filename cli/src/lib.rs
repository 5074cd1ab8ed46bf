//! The `tessera` command's library: its commands ([`commands`], one module per family, failing with
//! [`error::CliError`]), the signing-key document they edit ([`keys`]), and the local runner ([`runner`], with TLS: [`tls`]) with its
//! routing ([`routes`]) and its demo API behind the authorizer ([`demo_api`]), exposed so end-to-end tests start
//! the very server a user starts.

pub mod commands;
pub mod demo_api;
pub mod error;
pub mod expiry_sweep;
pub mod keys;
pub mod routes;
pub mod runner;
pub mod tls;

/// The demo configuration used when `serve` is given no `--config`: `examples/local.toml`, built in.
pub const DEMO_CONFIG: &str = include_str!("../../examples/local.toml");

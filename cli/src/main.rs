//! `tessera`: the local runner and operator tools. Dispatch only: each command's arguments and steps are in
//! `tessera_cli::commands`, the runner in `tessera_cli::runner`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tessera_cli::commands::{clients, events, issuers, keys, revoke, serve, tenants, tokens, transmitters};
use tessera_cli::error::CliError;

#[derive(Parser)]
#[command(name = "tessera", version, about = "Tessera OAuth 2.0 token service")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve every function on localhost over HTTP: on the embedded store, or on a DynamoDB table.
    Serve(serve::ServeArgs),
    /// Manage registered clients in a DynamoDB table.
    #[command(subcommand)]
    Clients(clients::ClientsCommand),
    /// Manage trusted external issuers in a DynamoDB table.
    #[command(subcommand)]
    Issuers(issuers::IssuersCommand),
    /// Manage OpenID Shared Signals transmitters (RFC 8935 push to /ssf/events) in a DynamoDB table.
    #[command(subcommand)]
    Transmitters(transmitters::TransmittersCommand),
    /// Rotate signing keys in the signing-key document: add, promote, remove, list.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Create and list tenants: each is an entry of the signing-key document (its issuer and keys).
    #[command(subcommand)]
    Tenants(tenants::TenantsCommand),
    /// Revoke every token of a subject, a client, a grant family or the tenant, with one watermark write: in a
    /// DynamoDB table (--table), or in a running `tessera serve` (--url).
    Revoke(revoke::RevokeArgs),
    /// A token's state and why: active, inactive (which watermark, and when), revoked, spent, expired, unknown, or
    /// another tenant's. In a DynamoDB table (--table), or in a running `tessera serve`. Exit 0 when active, 3 when
    /// not, 1 on an error.
    #[command(subcommand)]
    Tokens(tokens::TokensCommand),
    /// Send revocation events to a running `tessera serve`.
    #[command(subcommand)]
    Events(events::EventsCommand),
    /// Generate a signing key: PKCS#8 PEM for `[[signing_keys]]`, or the Secrets Manager JSON document.
    GenerateKey(keys::GenerateKeyArgs),
}

impl Command {
    async fn run(self) -> Result<ExitCode, CliError> {
        let done = match self {
            Self::Serve(args) => serve::run(args).await,
            Self::Clients(command) => clients::run(command).await,
            Self::Issuers(command) => issuers::run(command).await,
            Self::Transmitters(command) => transmitters::run(command).await,
            Self::Keys(command) => keys::run(command).await,
            Self::Tenants(command) => tenants::run(command).await,
            Self::Revoke(args) => revoke::run(args).await,
            Self::Events(command) => events::run(command).await,
            Self::GenerateKey(args) => keys::generate_key(args),
            Self::Tokens(command) => return tokens::run(command).await,
        };
        done.map(|()| ExitCode::SUCCESS)
    }
}

/// Exit status 0, or 1 with the error on stderr (clap exits 2 on a usage error before any command runs);
/// `tokens inspect` exits 3 for a token that is not active.
#[tokio::main]
async fn main() -> ExitCode {
    tessera::telemetry::init();
    match Cli::parse().command.run().await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

//! `tessera`: the local runner and operator tools. Wiring only; the work lives in the library crates.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use tessera::clock::SystemClock;
use tessera::config::Config;
use tessera::entropy::SystemEntropy;
use tessera::jwt::keys::{SigningAlgorithm, SigningKey};
use tessera_cli::{DEMO_CONFIG, runner};

#[derive(Parser)]
#[command(name = "tessera", version, about = "Tessera OAuth 2.0 token service")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve every function on localhost over HTTP, on the embedded store.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9000")]
        addr: SocketAddr,
        /// TOML configuration (issuer, signing keys, clients). Default: the demo clients of examples/local.toml.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Generate a signing key and print it as PKCS#8 PEM, for `[[signing_keys]]`.
    GenerateKey {
        /// `ES256` or `EdDSA`.
        #[arg(long, default_value = "ES256", value_parser = parse_alg)]
        alg: SigningAlgorithm,
    },
}

fn parse_alg(value: &str) -> Result<SigningAlgorithm, String> {
    match value {
        "ES256" => Ok(SigningAlgorithm::ES256),
        "EdDSA" => Ok(SigningAlgorithm::EdDSA),
        other => Err(format!("{other} is not ES256 or EdDSA")),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tessera::telemetry::init();
    let result = match Cli::parse().command {
        Command::Serve { addr, config } => serve(addr, config).await,
        Command::GenerateKey { alg } => SigningKey::generate(alg, "generated")
            .map(|key| print!("{}", key.to_pkcs8_pem()))
            .map_err(|e| e.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(addr: SocketAddr, config_path: Option<PathBuf>) -> Result<(), String> {
    let config = match &config_path {
        Some(path) => Config::load(path),
        None => Config::from_toml(DEMO_CONFIG),
    }
    .map_err(|e| e.to_string())?;
    let (server, _) = runner::serve_embedded(addr, &config, Arc::new(SystemClock), Arc::new(SystemEntropy)).await?;
    let base = format!("http://{}", server.addr);
    println!("Tessera listening on {base}");
    match &config_path {
        Some(path) => println!("configuration: {}", path.display()),
        None => print_demo_help(&base),
    }
    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
    server.task.abort();
    println!("stopped");
    Ok(())
}

fn print_demo_help(base: &str) {
    println!(
        "No --config given: serving the demo clients of examples/local.toml.\n\
         Get a token:  curl -s -u demo-jwt:jwt-demo-secret-please-change-me -d grant_type=client_credentials {base}/oauth2/token\n\
         Introspect:   curl -s -u demo-resource-server:resource-server-secret-change-me -d token=<access_token> {base}/oauth2/introspect\n\
         Revoke:       curl -s -u demo-jwt:jwt-demo-secret-please-change-me -d token=<access_token> {base}/oauth2/revoke\n\
         Discovery:    curl -s {base}/.well-known/oauth-authorization-server"
    );
}

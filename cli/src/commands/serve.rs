//! `tessera serve`: every function on localhost over HTTP or HTTPS ([`crate::runner`], [`crate::tls`]), on the embedded store or on a
//! DynamoDB table, until SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use tessera::clock::SystemClock;
use tessera::config::Config;
use tessera::entropy::SystemEntropy;
use tessera::store::read_plan::MAX_REVOCATION_STALENESS_MS;

use super::clients;
use super::table::OptionalTable;
use crate::error::CliError;
use crate::{DEMO_CONFIG, runner};

/// The arguments of `tessera serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9000")]
    addr: SocketAddr,
    /// TOML configuration (issuer, signing keys, clients). Default: the demo clients of examples/local.toml.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Serve from this DynamoDB table instead of the embedded store.
    #[command(flatten)]
    store: OptionalTable,
    /// With --table: write the configuration's [[clients]] into the table at start (create or replace).
    #[arg(long, requires = "table")]
    import_clients: bool,
    /// A signing-key document (JSON, as in Secrets Manager): its keys and tenants replace the configuration's,
    /// and it is re-read every --keys-ttl seconds, so `tessera keys` rotations show up without a restart.
    #[arg(long)]
    keys_file: Option<PathBuf>,
    /// How often --keys-file is re-read, in seconds.
    #[arg(long, default_value_t = 5, requires = "keys_file")]
    keys_ttl: u64,
    /// The revocation propagation bound B, in milliseconds (0 to 60000): how old the items an introspection
    /// answers from may be (a revocation, a disabled client or a rotated secret written by another process sharing
    /// the table is seen within B; this runner's own at once). Default: the configuration's
    /// `revocation_max_staleness_ms`, else 0 (every item read every time).
    #[arg(long, env = "REVOCATION_MAX_STALENESS_MS", value_name = "MS",
        value_parser = clap::value_parser!(u64).range(0..=MAX_REVOCATION_STALENESS_MS))]
    revocation_max_staleness_ms: Option<u64>,
    #[command(flatten)]
    limits: ServeLimits,
    #[command(flatten)]
    embedded: runner::EmbeddedStoreOptions,
    #[command(flatten)]
    tls: crate::tls::TlsOptions,
}

/// The runner's connection bounds `serve` exposes (the timeouts keep `runner::RunnerLimits`' defaults).
#[derive(Args, Clone, Copy)]
struct ServeLimits {
    /// Connections served at once; at the cap, the next waits until one closes.
    #[arg(long, default_value_t = runner::RunnerLimits::default().max_connections as u32,
        value_parser = clap::value_parser!(u32).range(1..=runner::MAX_CONNECTIONS_CEILING as i64))]
    max_connections: u32,
}

impl From<ServeLimits> for runner::RunnerLimits {
    fn from(limits: ServeLimits) -> Self {
        Self { max_connections: limits.max_connections as usize, ..Self::default() }
    }
}

/// Starts the runner, prints where it listens (and, on the demo clients, how to use them), and serves until a
/// signal, then drains the requests in flight.
pub async fn run(args: ServeArgs) -> Result<(), CliError> {
    // Installed before the runner starts, so a SIGTERM that comes early still stops it gracefully.
    let stop_signal = runner::shutdown_signal().map_err(CliError::Signals)?;
    let mut config = match &args.config {
        Some(path) => Config::load(path),
        None => Config::from_toml(DEMO_CONFIG),
    }?;
    if let Some(millis) = args.revocation_max_staleness_ms {
        config.revocation_max_staleness_ms = Some(millis);
    }
    let limits = runner::RunnerLimits::from(args.limits);
    let listen = runner::ListenOn {
        addr: args.addr,
        tls: args.tls.server_config()?,
        client_certificates: args.tls.client_certificate_checks(),
    };
    let scheme = if listen.tls.is_some() { "https" } else { "http" };
    let keys = args.keys_file.map(|file| tessera::tenancy::KeyDocumentSource {
        source: Arc::new(tessera::key_source::FileKeys(file)),
        ttl_secs: Some(args.keys_ttl),
        max_stale_secs: None,
    });
    let (clock, entropy) = (Arc::new(SystemClock), Arc::new(SystemEntropy));
    let table = &args.store;
    let server = match &table.table {
        None => {
            let sources = tessera::tenancy::Sources { keys, ..Default::default() };
            runner::serve_embedded(listen, &config, clock, entropy, sources, limits, args.embedded).await?.0
        }
        Some(name) => {
            let store = Arc::new(table.endpoint.open(name).await?);
            if args.import_clients {
                let ids = clients::import(store.as_ref(), &config, entropy.as_ref()).await?;
                println!("imported clients: {}", ids.join(", "));
            }
            // Trusted issuers kept in the table join the configuration's, as in a deployed function.
            let sources = tessera::tenancy::Sources { keys, registry: Some(store.clone()), ..Default::default() };
            runner::serve(listen, &config, store, clock, entropy, sources, limits).await?
        }
    };
    let base = format!("{scheme}://{}", server.addr);
    println!("Tessera listening on {base}");
    match (&args.config, &table.table) {
        (_, Some(name)) => println!("store: DynamoDB table {name}"),
        (Some(path), None) => println!("configuration: {}", path.display()),
        (None, None) => print_demo_help(&base),
    }
    let signal = stop_signal.await;
    let grace = limits.shutdown_grace.as_secs();
    println!("{signal}: shutting down (requests in flight have {grace} s to finish)");
    match server.shutdown().await {
        0 => println!("stopped"),
        cut => println!("stopped; {cut} connections were still open after {grace} s and were cut"),
    }
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

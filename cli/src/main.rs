//! `tessera`: the local runner and operator tools. Wiring only; the work lives in the library crates.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use tessera::bootstrap::{DEFAULT_KEYS_CACHE_TTL_SECS, DEFAULT_KEYS_MAX_STALE_SECS, key_cache_bound};
use tessera::clock::Clock;
use tessera::clock::SystemClock;
use tessera::config::{ClientConfig, Config, KeySetDocument};
use tessera::domain::client::{GrantType, TokenFormat};
use tessera::domain::profile::ProfileAttribute;
use tessera::domain::tenant::TenantId;
use tessera::entropy::SystemEntropy;
use tessera::events::RevocationEvent;
use tessera::jwt::keys::SigningAlgorithm;
use tessera::store::RegistrationStore;
use tessera::store::dynamodb::DynamoStore;
use tessera_cli::revocation::{self, RevokeRequest};
use tessera_cli::{DEMO_CONFIG, clients, keys, runner};

#[derive(Parser)]
#[command(name = "tessera", version, about = "Tessera OAuth 2.0 token service")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve every function on localhost over HTTP: on the embedded store, or on a DynamoDB table.
    Serve {
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
        #[command(flatten)]
        limits: ServeLimits,
        #[command(flatten)]
        embedded: runner::EmbeddedStoreOptions,
    },
    /// Manage registered clients in a DynamoDB table.
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// Manage trusted external issuers in a DynamoDB table.
    #[command(subcommand)]
    Issuers(IssuersCommand),
    /// Rotate signing keys in the signing-key document: add, promote, remove, list.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Create and list tenants: each is an entry of the signing-key document (its issuer and keys).
    #[command(subcommand)]
    Tenants(TenantsCommand),
    /// Revoke every token of a subject, a client, a grant family or the tenant, with one watermark write: in a
    /// DynamoDB table (--table), or in a running `tessera serve` (--url).
    Revoke(RevokeArgs),
    /// Send revocation events to a running `tessera serve`.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Generate a signing key: PKCS#8 PEM for `[[signing_keys]]`, or the Secrets Manager JSON document.
    GenerateKey {
        /// `ES256` or `EdDSA`.
        #[arg(long, default_value = "ES256", value_parser = parse_alg)]
        alg: SigningAlgorithm,
        /// The key id.
        #[arg(long, default_value = "key-1")]
        kid: String,
        /// Print `{"keys":[{"kid","alg","private_key_pem"}]}`, the value of SIGNING_KEYS_SECRET_ARN's secret.
        #[arg(long)]
        secret_json: bool,
    },
}

#[derive(Args)]
#[group(id = "target", required = true, multiple = false)]
struct RevokeTarget {
    /// Every token of this subject (`sub`).
    #[arg(long)]
    subject: Option<String>,
    /// Every token issued to this client.
    #[arg(long)]
    client_id: Option<String>,
    /// Every token of this grant family (the `tsr_fam` claim of its JWTs).
    #[arg(long)]
    family_id: Option<String>,
    /// Every token of the tenant.
    #[arg(long)]
    all_tokens: bool,
}

#[derive(Args)]
struct RevokeArgs {
    #[command(flatten)]
    target: RevokeTarget,
    /// Why (logged).
    #[arg(long)]
    reason: String,
    #[arg(long, default_value = TenantId::DEFAULT)]
    tenant: TenantId,
    /// The event id (idempotency: the same id never raises a watermark twice). Default: generated.
    #[arg(long)]
    event_id: Option<String>,
    /// Write to this DynamoDB table directly (TABLE_NAME works too) instead of sending to the runner.
    #[arg(long, env = "TABLE_NAME", conflicts_with = "url")]
    table: Option<String>,
    #[command(flatten)]
    endpoint: Endpoint,
    /// Without a table: the running `tessera serve` (default http://127.0.0.1:9000).
    #[arg(long)]
    url: Option<String>,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// List a tenant's keys: kid, algorithm, state (active, next, retired), when retired, when removable.
    List {
        #[command(flatten)]
        target: KeysTarget,
        #[command(flatten)]
        staleness: Staleness,
    },
    /// Add a generated key as `next`: published in JWKS at once, signing nothing until promoted.
    Add {
        #[command(flatten)]
        target: KeysTarget,
        /// The key's algorithm.
        #[arg(long, default_value = "ES256", value_parser = parse_alg)]
        alg: SigningAlgorithm,
        /// The key id. Default: <tenant>-<n>.
        #[arg(long)]
        kid: Option<String>,
    },
    /// Make a key the signing key; the one that signed until now is retired (it keeps verifying).
    Promote {
        #[command(flatten)]
        target: KeysTarget,
        #[arg(long)]
        kid: String,
    },
    /// Take a retired (or never used) key out: tokens it signed introspect inactive from then on. Refuses a key
    /// retired less than a day (the longest access-token lifetime), the staleness bound and 5 minutes ago,
    /// unless --force.
    Remove {
        #[command(flatten)]
        target: KeysTarget,
        #[arg(long)]
        kid: String,
        #[command(flatten)]
        staleness: Staleness,
        #[arg(long)]
        force: bool,
    },
}

/// The functions' key cache settings, from which `removable_from` is computed.
#[derive(Args)]
struct Staleness {
    /// The deployment's KeysMaxStaleSeconds (KEYS_MAX_STALE_SECS): how long a function may go on signing with
    /// a retired key while it cannot re-read the secret. 0: no bound.
    #[arg(long, env = "KEYS_MAX_STALE_SECS", default_value_t = DEFAULT_KEYS_MAX_STALE_SECS)]
    max_stale_secs: u64,
    /// The deployment's KeysCacheTtlSeconds (KEYS_CACHE_TTL_SECS): a staleness bound below it + 60 is raised to
    /// that by the functions, and here.
    #[arg(long, env = "KEYS_CACHE_TTL_SECS", default_value_t = DEFAULT_KEYS_CACHE_TTL_SECS)]
    keys_cache_ttl_secs: u64,
}

impl Staleness {
    /// The bound the functions apply (`None`: no bound).
    fn effective(&self) -> Result<Option<u64>, String> {
        key_cache_bound(self.keys_cache_ttl_secs, self.max_stale_secs).map_err(|e| e.to_string())
    }
}

/// A tenant's keys in the signing-key document.
#[derive(Args)]
struct KeysTarget {
    #[arg(long, default_value = TenantId::DEFAULT)]
    tenant: TenantId,
    #[command(flatten)]
    document: KeyDocument,
}

async fn run_keys(command: KeysCommand) -> Result<(), String> {
    let now = SystemClock.now().as_secs();
    match command {
        KeysCommand::List { target, staleness } => {
            let doc = location(target.document.keys_file, target.document.secret_id).await?.read().await?;
            for key in keys::list_keys(&doc, &target.tenant, staleness.effective()?)? {
                print(&key);
            }
        }
        KeysCommand::Add { target, alg, kid } => {
            let location = location(target.document.keys_file, target.document.secret_id).await?;
            let mut doc = location.read().await?;
            let added = keys::add_key(&mut doc, &target.tenant, alg, kid)?;
            location.write(&doc).await?;
            print(&added);
        }
        KeysCommand::Promote { target, kid } => {
            let location = location(target.document.keys_file, target.document.secret_id).await?;
            let mut doc = location.read().await?;
            let promoted = keys::promote_key(&mut doc, &target.tenant, &kid, now)?;
            location.write(&doc).await?;
            print(&promoted);
        }
        KeysCommand::Remove { target, kid, staleness, force } => {
            let location = location(target.document.keys_file, target.document.secret_id).await?;
            let mut doc = location.read().await?;
            let removed = keys::remove_key(&mut doc, &target.tenant, &kid, now, staleness.effective()?, force)?;
            location.write(&doc).await?;
            print(&removed);
        }
    }
    Ok(())
}

/// Prints one JSON line.
fn print<T: serde::Serialize>(value: &T) {
    println!("{}", serde_json::to_string(value).unwrap_or_default());
}

#[derive(Subcommand)]
enum TenantsCommand {
    /// Add a tenant, with a generated signing key, to the signing-key document. Its routes are /t/<name>/…;
    /// register its clients with `tessera clients register --tenant <name>`.
    Create {
        /// The tenant name (a-z, 0-9, '-').
        name: TenantId,
        /// Its issuer URL. Default: the default tenant's issuer followed by /t/<name>.
        #[arg(long)]
        issuer: Option<String>,
        /// The key's algorithm.
        #[arg(long, default_value = "ES256", value_parser = parse_alg)]
        alg: SigningAlgorithm,
        /// The key id. Default: <name>-1.
        #[arg(long)]
        kid: Option<String>,
        #[command(flatten)]
        document: KeyDocument,
    },
    /// List the tenants of the signing-key document, or of a configuration file: names, issuers, key ids.
    List {
        #[command(flatten)]
        document: KeyDocumentOrConfig,
    },
    /// Delete a tenant: delete its clients and trusted issuers from the table and revoke every token it issued (a
    /// tenant created later under the same name would otherwise find them), then take it out of the signing-key
    /// document. Its routes answer 404 once the functions re-read the document.
    Delete {
        /// The tenant name.
        name: TenantId,
        #[command(flatten)]
        table: Table,
        #[command(flatten)]
        document: KeyDocument,
        /// Only delete what the tenant left in the table (for a tenant already taken out of the document).
        #[arg(long)]
        table_only: bool,
    },
}

/// Where the signing-key document is. Without either option, the secret named by SIGNING_KEYS_SECRET_ARN (an
/// exported variable never conflicts with --keys-file: the option wins).
#[derive(Args)]
#[group(id = "document", multiple = false)]
struct KeyDocument {
    /// A local JSON file (as `tessera generate-key --secret-json` writes it); written back with mode 0600.
    #[arg(long)]
    keys_file: Option<PathBuf>,
    /// The Secrets Manager secret the functions read. Default: $SIGNING_KEYS_SECRET_ARN.
    #[arg(long)]
    secret_id: Option<String>,
}

/// The signing-key document, or a TOML configuration (default: as [`KeyDocument`]).
#[derive(Args)]
#[group(id = "source", multiple = false)]
struct KeyDocumentOrConfig {
    /// A local JSON signing-key document.
    #[arg(long)]
    keys_file: Option<PathBuf>,
    /// The Secrets Manager secret the functions read. Default: $SIGNING_KEYS_SECRET_ARN.
    #[arg(long)]
    secret_id: Option<String>,
    /// A TOML configuration (its [[tenants]]).
    #[arg(long)]
    config: Option<PathBuf>,
}

/// The document the options name: --keys-file, else --secret-id, else $SIGNING_KEYS_SECRET_ARN.
async fn location(keys_file: Option<PathBuf>, secret_id: Option<String>) -> Result<keys::DocumentLocation, String> {
    let exported = || std::env::var("SIGNING_KEYS_SECRET_ARN").ok().filter(|v| !v.trim().is_empty());
    match (keys_file, secret_id.or_else(exported)) {
        (Some(file), _) => Ok(keys::DocumentLocation::File(file)),
        (None, Some(id)) => Ok(keys::DocumentLocation::secret(id).await),
        (None, None) => Err("give --keys-file or --secret-id (or export SIGNING_KEYS_SECRET_ARN)".into()),
    }
}

async fn run_tenants(command: TenantsCommand) -> Result<(), String> {
    match command {
        TenantsCommand::Create { name, issuer, alg, kid, document } => {
            let location = location(document.keys_file, document.secret_id).await?;
            let mut doc = location.read().await?;
            let created = keys::create_tenant(&mut doc, &name, issuer, alg, kid)?;
            location.write(&doc).await?;
            println!("{}", serde_json::to_string(&created).map_err(|e| e.to_string())?);
        }
        TenantsCommand::List { document } => {
            let tenants = match document.config {
                Some(path) => keys::tenants_of_config(&Config::load(&path).map_err(|e| e.to_string())?),
                None => {
                    keys::tenants_of_document(&location(document.keys_file, document.secret_id).await?.read().await?)
                }
            };
            for tenant in tenants {
                println!("{}", serde_json::to_string(&tenant).map_err(|e| e.to_string())?);
            }
        }
        TenantsCommand::Delete { name, table, document, table_only } => {
            if name == TenantId::default() {
                return Err("the default tenant cannot be deleted".into());
            }
            let location = location(document.keys_file, document.secret_id).await?;
            if !table_only {
                // Checked before the table is touched: a name the document does not have is a typo, or a tenant
                // already taken out by hand (then --table-only cleans its table data).
                if !location.read().await?.tenants.contains_key(&name) {
                    return Err(format!(
                        "no tenant {name} in the signing-key document (taken out already? --table-only deletes \
                         what it left in the table)"
                    ));
                }
            }
            let store = open_table(&table.table, &table.endpoint).await?;
            let retired = tessera_cli::tenants::retire(&store, &name, &|| SystemClock.now(), &SystemEntropy).await?;
            if !table_only {
                // Read again just before the write: an edit made meanwhile (a key added elsewhere) is kept.
                let mut doc = location.read().await?;
                keys::delete_tenant(&mut doc, &name)
                    .map_err(|e| format!("{e} (the table part is done: {})", serde_json::json!(retired)))?;
                location.write(&doc).await?;
            }
            print(&retired);
        }
    }
    Ok(())
}

#[derive(Subcommand)]
enum EventsCommand {
    /// POST an event file (an EventBridge event or an SQS batch, as in events/) to the runner's /local/events,
    /// which runs the revocation-events handler on it. Fails if the runner rejects it or any message fails.
    Send {
        /// The event JSON.
        file: PathBuf,
        /// The running `tessera serve`.
        #[arg(long, default_value = DEFAULT_RUNNER_URL)]
        url: String,
    },
}

/// Where `tessera serve` listens by default.
const DEFAULT_RUNNER_URL: &str = "http://127.0.0.1:9000";

/// Where the table is.
#[derive(Args, Clone)]
struct Table {
    /// The DynamoDB table (template.yaml's TableName output).
    #[arg(long, env = "TABLE_NAME")]
    table: String,
    #[command(flatten)]
    endpoint: Endpoint,
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

/// The table, when it is optional.
#[derive(Args, Clone)]
struct OptionalTable {
    /// The DynamoDB table (template.yaml's TableName output).
    #[arg(long)]
    table: Option<String>,
    #[command(flatten)]
    endpoint: Endpoint,
}

#[derive(Args, Clone)]
struct Endpoint {
    /// A DynamoDB-compatible endpoint (DynamoDB Local, moto). AWS_ENDPOINT_URL_DYNAMODB works too. Without AWS
    /// credentials in the environment, local placeholder credentials are used for it.
    #[arg(long)]
    dynamodb_endpoint: Option<String>,
    /// Create the table (as template.yaml defines it) if it does not exist.
    #[arg(long)]
    create_table: bool,
}

#[derive(Subcommand)]
enum ClientsCommand {
    /// Register a client with a generated 256-bit secret, printed once as JSON; only its hash is stored.
    Register {
        #[command(flatten)]
        table: Table,
        #[command(flatten)]
        client: NewClient,
    },
    /// List the clients of a tenant (never their secrets).
    List {
        #[command(flatten)]
        table: Table,
        #[arg(long, default_value = TenantId::DEFAULT)]
        tenant: TenantId,
    },
    /// Replace a client's secret with a new generated one, printed once as JSON.
    RotateSecret {
        #[command(flatten)]
        table: Table,
        #[command(flatten)]
        client: ClientRef,
    },
    /// Disable a client: it can no longer authenticate.
    Disable {
        #[command(flatten)]
        table: Table,
        #[command(flatten)]
        client: ClientRef,
    },
    /// Re-enable a disabled client.
    Enable {
        #[command(flatten)]
        table: Table,
        #[command(flatten)]
        client: ClientRef,
    },
    /// Set a resource server's introspection profile (none given: the core members only); its secret is kept.
    SetProfile {
        #[command(flatten)]
        table: Table,
        #[command(flatten)]
        client: ClientRef,
        /// An attribute its introspection answers carry beyond RFC 7662's members (repeat): user_details, amr,
        /// permissions.
        #[arg(long = "introspection-profile", value_parser = parse_profile)]
        introspection_profile: Vec<ProfileAttribute>,
    },
    /// Create or replace every [[clients]] entry of a configuration file.
    Import {
        #[command(flatten)]
        table: Table,
        /// The TOML configuration.
        #[arg(long)]
        config: PathBuf,
    },
}

/// One existing client.
#[derive(Args)]
struct ClientRef {
    #[arg(long, default_value = TenantId::DEFAULT)]
    tenant: TenantId,
    #[arg(long)]
    client_id: String,
}

#[derive(Subcommand)]
enum IssuersCommand {
    /// Create or replace every [[trusted_issuers]] entry of a configuration file (a jwks_file is stored inline).
    Import {
        #[command(flatten)]
        table: Table,
        /// The TOML configuration.
        #[arg(long)]
        config: PathBuf,
    },
    /// List the trusted issuers of a tenant.
    List {
        #[command(flatten)]
        table: Table,
        #[arg(long, default_value = TenantId::DEFAULT)]
        tenant: TenantId,
    },
}

#[derive(Args)]
struct NewClient {
    #[arg(long)]
    client_id: String,
    #[arg(long, default_value = TenantId::DEFAULT)]
    tenant: TenantId,
    /// An allowed scope (repeat for several).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// A default scope, granted when a request names none (repeat; default: all allowed scopes).
    #[arg(long = "default-scope")]
    default_scopes: Vec<String>,
    /// An allowed grant type (repeat; default client_credentials).
    #[arg(long = "grant-type", value_parser = parse_grant)]
    grant_types: Vec<GrantType>,
    /// Access-token format.
    #[arg(long, default_value = "jwt", value_parser = parse_format)]
    format: TokenFormat,
    /// Access-token lifetime in seconds.
    #[arg(long, default_value_t = 300)]
    access_token_ttl: u32,
    /// Allow this client to call the introspection endpoint.
    #[arg(long)]
    may_introspect: bool,
    /// An audience the client may request with `resource` (repeat; the first is the default `aud`).
    #[arg(long = "audience")]
    audiences: Vec<String>,
    /// For a resource server: an attribute its introspection answers carry beyond RFC 7662's members
    /// (repeat): user_details, amr, permissions.
    #[arg(long = "introspection-profile", value_parser = parse_profile, requires = "may_introspect")]
    introspection_profile: Vec<ProfileAttribute>,
}

fn parse_alg(value: &str) -> Result<SigningAlgorithm, String> {
    match value {
        "ES256" => Ok(SigningAlgorithm::ES256),
        "EdDSA" => Ok(SigningAlgorithm::EdDSA),
        other => Err(format!("{other} is not ES256 or EdDSA")),
    }
}

fn parse_profile(value: &str) -> Result<ProfileAttribute, String> {
    serde_json::from_value(serde_json::Value::String(value.to_owned()))
        .map_err(|_| format!("{value:?} is not one of user_details, amr, permissions"))
}

fn parse_grant(value: &str) -> Result<GrantType, String> {
    GrantType::parse(value).ok_or_else(|| format!("unknown grant type {value}"))
}

fn parse_format(value: &str) -> Result<TokenFormat, String> {
    match value {
        "jwt" => Ok(TokenFormat::Jwt),
        "opaque" => Ok(TokenFormat::Opaque),
        other => Err(format!("{other} is not jwt or opaque")),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tessera::telemetry::init();
    let result = match Cli::parse().command {
        Command::Serve { addr, config, store, import_clients, keys_file, keys_ttl, limits, embedded } => {
            let keys_file = keys_file.map(|file| (file, keys_ttl));
            serve(addr, config, store, import_clients, keys_file, limits.into(), embedded).await
        }
        Command::Keys(command) => run_keys(command).await,
        Command::Clients(command) => run_clients(command).await,
        Command::Issuers(command) => run_issuers(command).await,
        Command::Tenants(command) => run_tenants(command).await,
        Command::Revoke(args) => revoke(args).await,
        Command::Events(EventsCommand::Send { file, url }) => send_event(&file, &url).await,
        Command::GenerateKey { alg, kid, secret_json } => generate_key(alg, &kid, secret_json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn generate_key(alg: SigningAlgorithm, kid: &str, secret_json: bool) -> Result<(), String> {
    let key = keys::generated_key(alg, kid, None)?;
    if secret_json {
        println!("{}", KeySetDocument { keys: vec![key], ..Default::default() }.to_json());
    } else {
        print!("{}", key.private_key_pem.unwrap_or_default());
    }
    Ok(())
}

async fn revoke(args: RevokeArgs) -> Result<(), String> {
    let RevokeTarget { subject, client_id, family_id, all_tokens } = args.target;
    let request = RevokeRequest {
        tenant: args.tenant.to_string(),
        subject,
        client_id,
        family_id,
        all_tokens,
        reason: args.reason,
        event_id: args.event_id,
    };
    let detail = request.detail(&SystemEntropy)?;
    let answer = match &args.table {
        Some(table) => {
            eprintln!("revoking in DynamoDB table {table}");
            let store = open_table(table, &args.endpoint).await?;
            let event = RevocationEvent::from_detail(detail, None).map_err(|e| e.to_string())?;
            let written = event.apply(&store, SystemClock.now()).await.map_err(|e| e.to_string())?;
            serde_json::json!({"event_id": event.event_id, "written": written})
        }
        None => {
            let url = args.url.as_deref().unwrap_or(DEFAULT_RUNNER_URL);
            eprintln!("sending the revocation event to the runner at {url}");
            revocation::send(url, &revocation::eventbridge_envelope(detail).to_string()).await?
        }
    };
    println!("{answer}");
    Ok(())
}

async fn send_event(file: &std::path::Path, url: &str) -> Result<(), String> {
    let event = std::fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    println!("{}", revocation::send(url, &event).await?);
    Ok(())
}

/// Opens the table, creating it if asked.
async fn open_table(table: &str, endpoint: &Endpoint) -> Result<DynamoStore, String> {
    let sdk = tessera::aws_sdk::sdk_config().await;
    let client = tessera::store::dynamodb::client(&sdk, endpoint.dynamodb_endpoint.as_deref());
    let store = DynamoStore::new(client, table);
    if endpoint.create_table {
        store.create_table_if_missing().await.map_err(|e| e.to_string())?;
    }
    Ok(store)
}

async fn serve(
    addr: SocketAddr,
    path: Option<PathBuf>,
    table: OptionalTable,
    import_clients: bool,
    keys_file: Option<(PathBuf, u64)>,
    limits: runner::RunnerLimits,
    embedded: runner::EmbeddedStoreOptions,
) -> Result<(), String> {
    // Installed before the runner starts, so a SIGTERM that comes early still stops it gracefully.
    let stop_signal = runner::shutdown_signal().map_err(|e| format!("cannot listen for signals: {e}"))?;
    let config = match &path {
        Some(path) => Config::load(path),
        None => Config::from_toml(DEMO_CONFIG),
    }
    .map_err(|e| e.to_string())?;
    let keys = keys_file.map(|(file, ttl)| tessera::service::KeyDocumentSource {
        source: Arc::new(tessera::key_source::FileKeys(file)),
        ttl_secs: Some(ttl),
        max_stale_secs: None,
    });
    let (clock, entropy) = (Arc::new(SystemClock), Arc::new(SystemEntropy));
    let server = match &table.table {
        None => {
            let sources = tessera::service::Sources { keys, ..Default::default() };
            runner::serve_embedded(addr, &config, clock, entropy, sources, limits, embedded).await?.0
        }
        Some(name) => {
            let store = Arc::new(open_table(name, &table.endpoint).await?);
            if import_clients {
                let ids = clients::import(store.as_ref(), &config, entropy.as_ref()).await?;
                println!("imported clients: {}", ids.join(", "));
            }
            // Trusted issuers kept in the table join the configuration's, as in a deployed function.
            let sources = tessera::service::Sources { keys, registry: Some(store.clone()), ..Default::default() };
            runner::serve(addr, &config, store, clock, entropy, sources, limits).await?
        }
    };
    let base = format!("http://{}", server.addr);
    println!("Tessera listening on {base}");
    match (&path, &table.table) {
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

async fn run_issuers(command: IssuersCommand) -> Result<(), String> {
    match command {
        IssuersCommand::Import { table, config } => {
            let store = open_table(&table.table, &table.endpoint).await?;
            let config = Config::load(&config).map_err(|e| e.to_string())?;
            let mut imported = Vec::new();
            for entry in &config.trusted_issuers {
                let entry = entry.to_registered().map_err(|e| e.to_string())?;
                // Validate before storing: a bad entry must fail here, not at a function's cold start.
                Config::default()
                    .trusted_issuers(&entry.tenant, std::slice::from_ref(&entry))
                    .map_err(|e| e.to_string())?;
                imported.push(format!("{}/{}", entry.tenant, entry.issuer));
                store.put_trusted_issuer(entry).await.map_err(|e| e.to_string())?;
            }
            println!("imported {} trusted issuers: {}", imported.len(), imported.join(", "));
        }
        IssuersCommand::List { table, tenant } => {
            let store = open_table(&table.table, &table.endpoint).await?;
            println!("ISSUER\tAUDIENCES\tALGORITHMS\tKEYS\tRECORD_TOKENS");
            for entry in store.list_trusted_issuers(&tenant).await.map_err(|e| e.to_string())? {
                let keys = entry.jwks.uri().unwrap_or("inline");
                println!(
                    "{}\t{}\t{}\t{keys}\t{}",
                    entry.issuer,
                    entry.audiences.join(","),
                    entry.algorithms.join(","),
                    entry.record_tokens
                );
            }
        }
    }
    Ok(())
}

async fn set_disabled(table: &Table, client: &ClientRef, disabled: bool) -> Result<(), String> {
    let store = open_table(&table.table, &table.endpoint).await?;
    clients::set_disabled(&store, &client.tenant, &client.client_id, disabled).await?;
    println!("{} {}/{}", if disabled { "disabled" } else { "enabled" }, client.tenant, client.client_id);
    Ok(())
}

async fn run_clients(command: ClientsCommand) -> Result<(), String> {
    let entropy = SystemEntropy;
    match command {
        ClientsCommand::Register { table, client } => {
            let store = open_table(&table.table, &table.endpoint).await?;
            let entry = ClientConfig {
                tenant: client.tenant,
                client_id: client.client_id,
                client_secret: None,
                client_secret_hash: None,
                default_scopes: (!client.default_scopes.is_empty()).then_some(client.default_scopes),
                scopes: client.scopes,
                grant_types: if client.grant_types.is_empty() {
                    vec![GrantType::ClientCredentials]
                } else {
                    client.grant_types
                },
                access_token_format: client.format,
                access_token_ttl_secs: client.access_token_ttl,
                refresh_token_ttl_secs: 30 * 86_400,
                may_introspect: client.may_introspect,
                audiences: client.audiences,
                disabled: false,
                introspection_profile: client.introspection_profile,
            };
            let issued = clients::register(&store, &entry, &entropy).await?;
            println!("{}", serde_json::to_string_pretty(&issued).map_err(|e| e.to_string())?);
        }
        ClientsCommand::List { table, tenant } => {
            let store = open_table(&table.table, &table.endpoint).await?;
            let listed = store.list_clients(&tenant).await.map_err(|e| e.to_string())?;
            print!("{}", clients::render_list(&listed));
        }
        ClientsCommand::RotateSecret { table, client: ClientRef { tenant, client_id } } => {
            let store = open_table(&table.table, &table.endpoint).await?;
            let issued = clients::rotate_secret(&store, &tenant, &client_id, &entropy).await?;
            println!("{}", serde_json::to_string_pretty(&issued).map_err(|e| e.to_string())?);
        }
        ClientsCommand::Disable { table, client } => set_disabled(&table, &client, true).await?,
        ClientsCommand::Enable { table, client } => set_disabled(&table, &client, false).await?,
        ClientsCommand::SetProfile { table, client, introspection_profile } => {
            let store = open_table(&table.table, &table.endpoint).await?;
            let profile = introspection_profile.into_iter().collect();
            clients::set_profile(&store, &client.tenant, &client.client_id, profile).await?;
            let stored = clients::get(&store, &client.tenant, &client.client_id).await?;
            println!(
                "{}/{}: {}",
                client.tenant,
                client.client_id,
                clients::profile_text(&stored.introspection_profile)
            );
        }
        ClientsCommand::Import { table, config } => {
            let store = open_table(&table.table, &table.endpoint).await?;
            let config = Config::load(&config).map_err(|e| e.to_string())?;
            let ids = clients::import(&store, &config, &entropy).await?;
            println!("imported {} clients: {}", ids.len(), ids.join(", "));
        }
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

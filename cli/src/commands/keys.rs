//! `tessera keys` (rotate a tenant's signing keys: list, add, promote, remove) and `tessera generate-key`, on
//! the signing-key document the functions read ([`crate::keys`] edits it). [`KeyDocument`] is how every
//! command names that document.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde::Serialize;
use tessera::bootstrap::{DEFAULT_KEYS_CACHE_TTL_SECS, DEFAULT_KEYS_MAX_STALE_SECS, key_cache_bound};
use tessera::clock::{Clock, SystemClock};
use tessera::domain::tenant::TenantId;
use tessera::jwt::keys::SigningAlgorithm;
use tessera::tenancy::KeySetDocument;

use super::print_json_line;
use crate::error::CliError;
use crate::keys::{self, DocumentLocation};

/// `tessera keys …`.
#[derive(Subcommand)]
pub enum KeysCommand {
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
pub struct Staleness {
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
    fn effective(&self) -> Result<Option<u64>, CliError> {
        Ok(key_cache_bound(self.keys_cache_ttl_secs, self.max_stale_secs)?)
    }
}

/// A tenant's keys in the signing-key document.
#[derive(Args)]
pub struct KeysTarget {
    #[arg(long, default_value = TenantId::DEFAULT)]
    tenant: TenantId,
    #[command(flatten)]
    document: KeyDocument,
}

/// Where the signing-key document is. Without either option, the secret named by SIGNING_KEYS_SECRET_ARN (an
/// exported variable never conflicts with --keys-file: the option wins).
#[derive(Args)]
#[group(id = "document", multiple = false)]
pub struct KeyDocument {
    /// A local JSON file (as `tessera generate-key --secret-json` writes it); written back with mode 0600.
    #[arg(long)]
    pub keys_file: Option<PathBuf>,
    /// The Secrets Manager secret the functions read. Default: $SIGNING_KEYS_SECRET_ARN.
    #[arg(long)]
    pub secret_id: Option<String>,
}

impl KeyDocument {
    /// The document the options name: --keys-file, else --secret-id, else $SIGNING_KEYS_SECRET_ARN.
    pub async fn location(self) -> Result<DocumentLocation, CliError> {
        let exported = || std::env::var("SIGNING_KEYS_SECRET_ARN").ok().filter(|v| !v.trim().is_empty());
        match (self.keys_file, self.secret_id.or_else(exported)) {
            (Some(file), _) => Ok(DocumentLocation::File(file)),
            (None, Some(id)) => Ok(DocumentLocation::secret(id).await),
            (None, None) => Err(CliError::NoKeyDocument),
        }
    }

    /// Reads the document, changes it with `change`, writes it back, and prints what `change` returned as one
    /// JSON line.
    pub async fn edit<T: Serialize>(
        self,
        change: impl FnOnce(&mut KeySetDocument) -> Result<T, CliError>,
    ) -> Result<(), CliError> {
        let location = self.location().await?;
        let mut doc = location.read().await?;
        let changed = change(&mut doc)?;
        location.write(&doc).await?;
        print_json_line(&changed)
    }
}

/// The arguments of `tessera generate-key`.
#[derive(Args)]
pub struct GenerateKeyArgs {
    /// `ES256` or `EdDSA`.
    #[arg(long, default_value = "ES256", value_parser = parse_alg)]
    alg: SigningAlgorithm,
    /// The key id.
    #[arg(long, default_value = "key-1")]
    kid: String,
    /// Print `{"keys":[{"kid","alg","private_key_pem"}]}`, the value of SIGNING_KEYS_SECRET_ARN's secret.
    #[arg(long)]
    secret_json: bool,
}

/// The `--alg` of the commands that generate a key.
pub fn parse_alg(value: &str) -> Result<SigningAlgorithm, String> {
    match value {
        "ES256" => Ok(SigningAlgorithm::ES256),
        "EdDSA" => Ok(SigningAlgorithm::EdDSA),
        other => Err(format!("{other} is not ES256 or EdDSA")),
    }
}

/// Runs a `tessera keys` command: reads the document, changes it, writes it back, and prints the key concerned
/// as one JSON line (never its material).
pub async fn run(command: KeysCommand) -> Result<(), CliError> {
    let now = SystemClock.now().as_secs();
    match command {
        KeysCommand::List { target, staleness } => {
            let doc = target.document.location().await?.read().await?;
            for key in keys::list_keys(&doc, &target.tenant, staleness.effective()?)? {
                print_json_line(&key)?;
            }
        }
        KeysCommand::Add { target: KeysTarget { tenant, document }, alg, kid } => {
            document.edit(|doc| keys::add_key(doc, &tenant, alg, kid)).await?;
        }
        KeysCommand::Promote { target: KeysTarget { tenant, document }, kid } => {
            document.edit(|doc| keys::promote_key(doc, &tenant, &kid, now)).await?;
        }
        KeysCommand::Remove { target: KeysTarget { tenant, document }, kid, staleness, force } => {
            document.edit(|doc| keys::remove_key(doc, &tenant, &kid, now, staleness.effective()?, force)).await?;
        }
    }
    Ok(())
}

/// Runs `tessera generate-key`: prints the key as PKCS#8 PEM, or as the Secrets Manager JSON document.
pub fn generate_key(args: GenerateKeyArgs) -> Result<(), CliError> {
    let key = keys::generated_key(args.alg, &args.kid, None)?;
    if args.secret_json {
        println!("{}", KeySetDocument { keys: vec![key], ..Default::default() }.to_json());
    } else {
        print!("{}", key.private_key_pem.unwrap_or_default());
    }
    Ok(())
}

//! `tessera transmitters`: the OpenID Shared Signals transmitters of a DynamoDB table, which may push Security Event
//! Tokens to a tenant's `/ssf/events` (RFC 8935). An imported entry is validated as the receiver would load it (its
//! keys parsed, its subject issuers trusted by its tenant), so a bad one fails here and not at a cold start; its
//! bearer token is stored only as a hash.

use std::path::PathBuf;

use clap::Subcommand;
use tessera::config::Config;
use tessera::domain::tenant::TenantId;
use tessera::entropy::SystemEntropy;
use tessera::events::ssf::SsfTransmitter;
use tessera::store::RegistrationStore;

use super::table::Table;
use crate::error::CliError;

/// `tessera transmitters …`.
#[derive(Subcommand)]
pub enum TransmittersCommand {
    /// Create or replace every [[ssf_transmitters]] entry of a configuration file (a jwks_file is stored inline, a
    /// plain-text authorization hashed). Its subject issuers must be trusted issuers of its tenant, in the table or
    /// in the same file.
    Import {
        #[command(flatten)]
        table: Table,
        /// The TOML configuration.
        #[arg(long)]
        config: PathBuf,
    },
    /// List the transmitters of a tenant (never their authorization).
    List {
        #[command(flatten)]
        table: Table,
        #[arg(long, default_value = TenantId::DEFAULT)]
        tenant: TenantId,
    },
    /// Remove a transmitter: its pushes are refused once the receiver next starts.
    Remove {
        #[command(flatten)]
        table: Table,
        #[arg(long, default_value = TenantId::DEFAULT)]
        tenant: TenantId,
        /// The transmitter's issuer.
        #[arg(long)]
        issuer: String,
    },
}

/// Runs a `tessera transmitters` command on its table.
pub async fn run(command: TransmittersCommand) -> Result<(), CliError> {
    match command {
        TransmittersCommand::Import { table, config } => {
            let store = table.open().await?;
            let config = Config::load(&config)?;
            let mut imported = Vec::new();
            for entry in &config.ssf_transmitters {
                let entry = entry.to_registered(&SystemEntropy)?;
                // Validate before storing, against the trusted issuers its tenant will serve.
                let mut issuers = store.list_trusted_issuers(&entry.tenant).await?;
                for local in config.trusted_issuers.iter().filter(|t| t.tenant == entry.tenant) {
                    if !issuers.iter().any(|i| i.issuer == local.issuer) {
                        issuers.push(local.to_registered()?);
                    }
                }
                let trusted =
                    tessera::tenancy::trusted_issuers::trusted_issuers_of(&Config::default(), &entry.tenant, &issuers)?;
                SsfTransmitter::new(&entry, &trusted, Some(reqwest::Client::new()))?;
                imported.push(format!("{}/{}", entry.tenant, entry.issuer));
                store.put_ssf_transmitter(entry).await?;
            }
            println!("imported {} SSF transmitters: {}", imported.len(), imported.join(", "));
        }
        TransmittersCommand::List { table, tenant } => {
            let store = table.open().await?;
            println!("ISSUER\tAUDIENCE\tALGORITHMS\tKEYS\tSUBJECT_ISSUERS");
            for entry in store.list_ssf_transmitters(&tenant).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    entry.issuer,
                    entry.audience,
                    entry.algorithms.join(","),
                    entry.jwks.uri().unwrap_or("inline"),
                    entry.subject_issuers.join(",")
                );
            }
        }
        TransmittersCommand::Remove { table, tenant, issuer } => {
            let store = table.open().await?;
            match store.remove_ssf_transmitter(&tenant, &issuer).await? {
                true => println!("removed SSF transmitter {tenant}/{issuer}"),
                false => return Err(CliError::NoTransmitter { tenant, issuer }),
            }
        }
    }
    Ok(())
}

//! `tessera issuers`: the trusted external issuers of a DynamoDB table (token exchange, third-party JWT
//! introspection). An imported entry is validated as a function would load it, so a bad one fails here and not
//! at a function's cold start.

use std::path::PathBuf;

use clap::Subcommand;
use tessera::config::Config;
use tessera::domain::tenant::TenantId;
use tessera::store::{RegistrationStore, UserinfoLocation};

use super::table::Table;
use crate::error::CliError;

/// `tessera issuers …`.
#[derive(Subcommand)]
pub enum IssuersCommand {
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

/// Runs a `tessera issuers` command on its table.
pub async fn run(command: IssuersCommand) -> Result<(), CliError> {
    match command {
        IssuersCommand::Import { table, config } => {
            let store = table.open().await?;
            let config = Config::load(&config)?;
            let mut imported = Vec::new();
            for entry in &config.trusted_issuers {
                let entry = entry.to_registered()?;
                // Validate before storing: a bad entry must fail here, not at a function's cold start.
                tessera::tenancy::trusted_issuers::trusted_issuers_of(
                    &Config::default(),
                    &entry.tenant,
                    std::slice::from_ref(&entry),
                )?;
                imported.push(format!("{}/{}", entry.tenant, entry.issuer));
                store.put_trusted_issuer(entry).await?;
            }
            println!("imported {} trusted issuers: {}", imported.len(), imported.join(", "));
        }
        IssuersCommand::List { table, tenant } => {
            let store = table.open().await?;
            println!("ISSUER\tAUDIENCES\tALGORITHMS\tKEYS\tRECORD_TOKENS\tUSERINFO");
            for entry in store.list_trusted_issuers(&tenant).await? {
                let keys = entry.jwks.uri().unwrap_or("inline");
                let userinfo = match entry.userinfo.as_ref().map(|u| &u.endpoint) {
                    Some(UserinfoLocation::Url(url)) => url.as_str(),
                    Some(UserinfoLocation::Discovered) => "discovered",
                    None => "-",
                };
                println!(
                    "{}\t{}\t{}\t{keys}\t{}\t{userinfo}",
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

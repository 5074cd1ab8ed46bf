//! `tessera tokens inspect`: a token's state and why (WSO2's ACTIVE, INACTIVE, EXPIRED, REVOKED, and the rest),
//! for operators. The judgement is introspection's own ([`tessera::oauth::inspect`]); this module only finds the
//! store (a DynamoDB table with `--table`, else the running `tessera serve`, whose embedded store holds the
//! tokens) and prints the answer. Nothing printed is a secret: not the token, not its hash, not a `jti`.
//!
//! Exit status: 0 when the token is ACTIVE, 3 when it is not (any other state), 1 on an error (no answer could be
//! had: an unreachable store or runner, an unknown tenant, a bad configuration), 2 on a usage error.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Subcommand};
use tessera::clock::SystemClock;
use tessera::config::Config;
use tessera::domain::tenant::TenantId;
use tessera::entropy::SystemEntropy;
use tessera::oauth::inspect::{Inspection, TokenState};

use super::events::DEFAULT_RUNNER_URL;
use super::table::Endpoint;
use crate::DEMO_CONFIG;
use crate::error::CliError;
use crate::routes::{InspectRequest, LOCAL_TOKEN_INSPECT_PATH};

/// The exit status of an inspected token that is not active.
pub const NOT_ACTIVE_EXIT: u8 = 3;

/// `tessera tokens …`.
#[derive(Subcommand)]
pub enum TokensCommand {
    /// Print a token's state and the reason (exit 0 when ACTIVE, 3 when not, 1 on an error). Never prints a
    /// secret.
    Inspect(InspectArgs),
}

/// The arguments of `tessera tokens inspect`.
#[derive(Args)]
pub struct InspectArgs {
    /// The token, or `-` to read it from the first line of stdin (keeps it out of the shell history).
    token: String,
    /// The tenant to judge it in.
    #[arg(long, default_value = TenantId::DEFAULT)]
    tenant: TenantId,
    /// Print the answer as JSON (times in microseconds since the epoch).
    #[arg(long)]
    json: bool,
    /// Read this DynamoDB table (TABLE_NAME works too) instead of asking the running `tessera serve`.
    #[arg(long, env = "TABLE_NAME", conflicts_with = "url")]
    table: Option<String>,
    #[command(flatten)]
    endpoint: Endpoint,
    /// With --table: the TOML configuration whose issuer, signing keys and trusted issuers the deployment uses
    /// (default: the demo configuration). A JWT verifies only with the keys that signed it: give them here or
    /// with --keys-file, or it is INVALID.
    #[arg(long, requires = "table")]
    config: Option<PathBuf>,
    /// With --table: the issuer of the tenant's JWTs when the configuration names none (the deployment's API
    /// Gateway URL, or the runner's).
    #[arg(long, requires = "table", default_value = DEFAULT_RUNNER_URL)]
    issuer: String,
    /// With --table: the signing-key document (the Secrets Manager JSON, in a file), as `tessera serve` takes it.
    #[arg(long, requires = "table")]
    keys_file: Option<PathBuf>,
    /// Without --table: the running `tessera serve` (default http://127.0.0.1:9000).
    #[arg(long)]
    url: Option<String>,
}

/// Runs a `tessera tokens` command: its exit status.
pub async fn run(command: TokensCommand) -> Result<ExitCode, CliError> {
    match command {
        TokensCommand::Inspect(args) => inspect(args).await,
    }
}

async fn inspect(args: InspectArgs) -> Result<ExitCode, CliError> {
    let token = match args.token.as_str() {
        "-" => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).map_err(CliError::Stdin)?;
            line.trim().to_owned()
        }
        token => token.to_owned(),
    };
    if token.is_empty() {
        return Err(CliError::NoToken("it is empty"));
    }
    let inspection = match &args.table {
        Some(table) => {
            let config = match &args.config {
                Some(path) => Config::load(path),
                None => Config::from_toml(DEMO_CONFIG),
            }?;
            let store = Arc::new(args.endpoint.open(table).await?);
            let keys = args.keys_file.map(|file| tessera::tenancy::KeyDocumentSource {
                source: Arc::new(tessera::key_source::FileKeys(file)),
                ttl_secs: None,
                max_stale_secs: None,
            });
            // Without the deployment's keys (a tenant the configuration gives none), a generated one stands in:
            // opaque tokens are judged all the same, and a JWT is INVALID (unknown kid), as it should be here.
            let generate_missing_keys = keys.is_none();
            let sources = tessera::tenancy::Sources { keys, registry: Some(store.clone()), generate_missing_keys };
            let service = tessera::service::build_service(
                store,
                &config,
                Some(&args.issuer),
                Arc::new(SystemClock),
                Arc::new(SystemEntropy),
                sources,
            )
            .await?;
            tessera::oauth::inspect::inspect(&service, &args.tenant, &token).await?
        }
        None => ask_runner(args.url.as_deref().unwrap_or(DEFAULT_RUNNER_URL), &args.tenant, token).await?,
    };
    match args.json {
        true => println!("{}", serde_json::to_string_pretty(&inspection)?),
        false => print!("{}", render(&inspection)),
    }
    Ok(match inspection.state {
        TokenState::Active => ExitCode::SUCCESS,
        _ => ExitCode::from(NOT_ACTIVE_EXIT),
    })
}

/// Asks the runner at `base_url` to inspect `token` in `tenant`.
async fn ask_runner(base_url: &str, tenant: &TenantId, token: String) -> Result<Inspection, CliError> {
    let url = format!("{}{LOCAL_TOKEN_INSPECT_PATH}", base_url.trim_end_matches('/'));
    let body = InspectRequest { token, tenant: tenant.to_string() };
    let response = reqwest::Client::new()
        .post(&url)
        .json(&body)
        .send()
        .await
        .map_err(|source| CliError::RunnerUnreachable { url: url.clone(), source })?;
    let status = response.status();
    let text = response.text().await.map_err(CliError::RunnerAnswer)?;
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    if !status.is_success() {
        return Err(CliError::RunnerRefused { status, answer });
    }
    Ok(serde_json::from_value(answer)?)
}

/// An instant in microseconds since the epoch, as RFC 3339 UTC with microseconds.
pub fn rfc3339(micros: u64) -> String {
    let secs = micros / 1_000_000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60,
        micros % 1_000_000
    )
}

/// The human-readable answer: the state and reason first, then what the token says about itself.
pub fn render(inspection: &Inspection) -> String {
    let mut out = format!("{}: {}\n", inspection.state.as_str(), inspection.reason);
    let mut line = |name: &str, value: String| out.push_str(&format!("  {name:<14}{value}\n"));
    line("tenant", inspection.tenant.clone());
    if let Some(other) = &inspection.token_tenant {
        line("token tenant", other.clone());
    }
    if let Some(mark) = &inspection.watermark {
        line("watermark", mark.kind.as_str().to_owned());
        let when = rfc3339(mark.revoked_before_us);
        line("revokes up to", if mark.final_mark { format!("{when} (final: ahead of now)") } else { when });
    }
    if let Some(at) = inspection.at_us {
        let name = if inspection.state == TokenState::Spent { "rotated at" } else { "revoked at" };
        line(name, rfc3339(at));
    }
    if let Some(token) = &inspection.token {
        line("format", token.format.clone());
        let texts = [
            ("kind", token.kind.clone()),
            ("client_id", token.client_id.clone()),
            ("sub", token.sub.clone()),
            ("scope", token.scope.clone()),
            ("iss", token.iss.clone()),
            ("issued at", token.iat_us.map(rfc3339)),
            ("expires at", token.exp_us.map(rfc3339)),
            ("family", token.family.clone()),
        ];
        for (name, value) in texts {
            if let Some(value) = value {
                line(name, value);
            }
        }
    }
    line("judged at", rfc3339(inspection.judged_at_us));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_print_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(rfc3339(1_800_000_000_123_456), "2027-01-15T08:00:00.123456Z");
        assert_eq!(rfc3339(951_782_400_000_000), "2000-02-29T00:00:00.000000Z");
    }
}

//! Why a `tessera` command failed. `main` prints the message once (`error: …`) and exits 1; clap's own usage
//! errors exit 2 before a command runs. No message holds a secret or key material: variants carry names, paths,
//! kids and the errors of the libraries below, never a document or a client's secret.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde_json::Value;
use tessera::config::ConfigError;
use tessera::domain::client::InvalidClientId;
use tessera::domain::tenant::TenantId;
use tessera::entropy::EntropyError;
use tessera::events::MalformedEvent;
use tessera::jwt::keys::KeyError;
use tessera::store::StoreError;
use tessera::tenancy::LoadError;

/// An AWS SDK failure, kept whole so its message shows the full chain of causes.
pub type SdkFailure = Box<dyn std::error::Error + Send + Sync>;

/// A failed command or runner start.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    // What the command line asks for, beyond what clap checks.
    /// No signing-key document named.
    #[error("give --keys-file or --secret-id (or export SIGNING_KEYS_SECRET_ARN)")]
    NoKeyDocument,
    /// `clients rotate-secret` of a client that has keys, not a secret.
    #[error("{tenant}/{client_id} authenticates with private_key_jwt: it has no secret to rotate")]
    NoSecret {
        /// The tenant.
        tenant: tessera::domain::tenant::TenantId,
        /// The client id.
        client_id: String,
    },
    /// `serve --max-items` too small for the configuration's clients.
    #[error("--max-items {max_items} leaves no room for tokens above the configuration's {clients} clients")]
    NoRoomForTokens {
        /// The bound asked for.
        max_items: usize,
        /// The clients the embedded store starts with.
        clients: usize,
    },

    // Files, sockets and the Secrets Manager secret.
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file could not be created.
    #[error("cannot write {path}: {source}")]
    Create {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Writing or syncing an open file failed.
    #[error("{path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The written temporary file could not take the document's place.
    #[error("cannot replace {path}: {source}")]
    Replace {
        /// The document's file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The secret could not be read.
    #[error("cannot read secret {id}: {}", aws_sdk_secretsmanager::error::DisplayErrorContext(.source.as_ref()))]
    SecretRead {
        /// The secret id or ARN.
        id: String,
        /// The SDK's error.
        source: SdkFailure,
    },
    /// The secret holds binary data, not the JSON document.
    #[error("secret {id} has no string value")]
    SecretNotText {
        /// The secret id or ARN.
        id: String,
    },
    /// A new version of the secret could not be written.
    #[error("cannot write secret {id}: {}", aws_sdk_secretsmanager::error::DisplayErrorContext(.source.as_ref()))]
    SecretWrite {
        /// The secret id or ARN.
        id: String,
        /// The SDK's error.
        source: SdkFailure,
    },
    /// The runner's address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The bound listener failed.
    #[error(transparent)]
    Socket(std::io::Error),
    /// The runner's TLS files (`serve --tls-cert`, `--tls-key`, `--tls-client-ca`) are unusable: which and why.
    #[error("TLS: {0}")]
    Tls(String),
    /// SIGTERM and SIGINT could not be caught.
    #[error("cannot listen for signals: {0}")]
    Signals(std::io::Error),

    // A running `tessera serve`, as `revoke` and `events send` reach it.
    /// No answer from the runner.
    #[error("cannot reach the runner at {url} (is `tessera serve` running?): {source}")]
    RunnerUnreachable {
        /// The `/local/events` URL.
        url: String,
        /// Why.
        source: reqwest::Error,
    },
    /// The runner's answer could not be read.
    #[error(transparent)]
    RunnerAnswer(reqwest::Error),
    /// The runner refused the event.
    #[error("{status}: {answer}")]
    RunnerRefused {
        /// Its HTTP status.
        status: reqwest::StatusCode,
        /// Its body (JSON, or the text it sent).
        answer: Value,
    },
    /// The runner applied an SQS batch, but not all of its messages.
    #[error("some messages failed: {0}")]
    MessagesFailed(Value),

    // What the signing-key document, the table and the rules refuse.
    /// The tenant is not in the signing-key document.
    #[error("no tenant {0} in the document")]
    NoTenant(TenantId),
    /// `tenants delete` of a tenant the document does not have (a typo, or deleted by hand already).
    #[error(
        "no tenant {0} in the signing-key document (taken out already? --table-only deletes what it left in the table)"
    )]
    TenantNotInDocument(TenantId),
    /// `tenants create` of a tenant that exists.
    #[error("tenant {0} already exists")]
    TenantExists(TenantId),
    /// The default tenant is the deployment itself.
    #[error("the default tenant cannot be deleted")]
    DefaultTenantUndeletable,
    /// A kid names one key across tenants.
    #[error("kid {0} is already in the document")]
    KidTaken(String),
    /// The tenant has no such key.
    #[error("no key {kid} in tenant {tenant}")]
    NoKey {
        /// The key id.
        kid: String,
        /// The tenant.
        tenant: TenantId,
    },
    /// `keys promote` of the key that signs.
    #[error("{0} is already the signing key")]
    AlreadySigning(String),
    /// `keys remove` of the key that signs.
    #[error("{0} signs: promote another key first")]
    RemovingSigningKey(String),
    /// `keys remove` of a retired key whose tokens may still be live.
    #[error("{kid} may have signed tokens that are still live until {until} (epoch seconds); wait, or use --force")]
    KeyMayBeLive {
        /// The key id.
        kid: String,
        /// When they have all expired (epoch seconds).
        until: u64,
    },
    /// `keys remove` under no staleness bound, when no wait is ever enough.
    #[error(
        "with no staleness bound a function may sign with {0} until its execution environment ends; once every \
         function has restarted, use --force"
    )]
    KeyUnbounded(String),
    /// `keys remove` of a key never retired through `keys promote`.
    #[error("{0} has no retirement time, so its tokens may be live; use --force")]
    KeyNotDated(String),
    /// `clients register` of an existing client.
    #[error("client {client_id} already exists in tenant {tenant}")]
    ClientExists {
        /// The tenant.
        tenant: TenantId,
        /// The client id.
        client_id: String,
    },
    /// `transmitters remove` of a transmitter the tenant does not have.
    #[error("no SSF transmitter {issuer:?} in tenant {tenant}")]
    NoTransmitter {
        /// The tenant.
        tenant: TenantId,
        /// The transmitter's issuer.
        issuer: String,
    },
    /// The tenant has no such client.
    #[error("no client {client_id} in tenant {tenant}")]
    NoClient {
        /// The tenant.
        tenant: TenantId,
        /// The client id.
        client_id: String,
    },
    /// A revocation the revocation-events handler would refuse.
    #[error("{}", .0.0)]
    Revocation(MalformedEvent),
    /// `tokens inspect` without a token to inspect.
    #[error("no token to inspect: {0}")]
    NoToken(&'static str),
    /// `tokens inspect -` could not read stdin.
    #[error("cannot read the token from stdin: {0}")]
    Stdin(std::io::Error),
    /// `tokens inspect` could not judge the token: its tenant is not served, or the store failed.
    #[error("cannot inspect the token: {0}")]
    Inspect(#[from] tessera::oauth::inspect::InspectError),

    // A sequence that failed after some of its steps.
    /// `tenants delete` failed in the table after deleting some of the tenant's items.
    #[error("{source} (already done: {})", .done.join("; "))]
    RetirementInterrupted {
        /// The store's error.
        source: StoreError,
        /// The steps done, in order.
        done: Vec<String>,
    },
    /// `tenants delete` cleaned the table but could not take the tenant out of the document.
    #[error("{source} (the table part is done: {retired})")]
    DocumentNotUpdated {
        /// Why the document was not updated.
        source: Box<CliError>,
        /// What was deleted and revoked in the table.
        retired: Value,
    },

    // The libraries' own errors.
    /// An invalid configuration or signing-key document.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The service could not be built from the configuration.
    #[error(transparent)]
    Service(#[from] LoadError),
    /// A store operation failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The revocation was written but not announced.
    #[error("{0}; the revocation stands: run the command again with the same --event-id to announce it")]
    NotAnnounced(#[from] tessera::announcement::AnnounceError),
    /// A key could not be generated.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// No randomness for a secret, a salt or an event id.
    #[error(transparent)]
    Entropy(#[from] EntropyError),
    /// A client id that breaks RFC 6749's rules.
    #[error(transparent)]
    ClientId(#[from] InvalidClientId),
    /// Output that could not be rendered as JSON.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

impl From<tessera::events::ApplyError> for CliError {
    fn from(err: tessera::events::ApplyError) -> Self {
        match err {
            tessera::events::ApplyError::Store(store) => Self::Store(store),
            tessera::events::ApplyError::NotAnnounced(announce) => Self::NotAnnounced(announce),
        }
    }
}

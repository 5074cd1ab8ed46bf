//! `tessera clients`: the client registry in a DynamoDB table. Register (a generated secret, shown once, stored
//! hashed; or, for `private_key_jwt`, the client's public keys and no secret), list, rotate a secret, disable or enable, set an introspection profile, and import the `[[clients]]`
//! of a configuration file. The operations work on any store that is both a [`TokenStore`] and a
//! [`RegistrationStore`]: DynamoDB in production, the embedded store in tests.

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::{Args, Subcommand};
use serde::Serialize;
use tessera::config::{
    ClientConfig, Config, DEFAULT_ACCESS_TOKEN_TTL_SECS, DEFAULT_GRANT_TYPES, DEFAULT_REFRESH_TOKEN_TTL_SECS,
};
use tessera::domain::client::{
    AppAttributes, Client, ClientAuthentication, ClientId, GrantType, SecretHash, TokenEndpointAuthMethod, TokenFormat,
};
use tessera::domain::profile::ProfileAttribute;
use tessera::domain::tenant::TenantId;
use tessera::entropy::{Entropy, SystemEntropy, random_bytes};
use tessera::store::{Fetched, Record, RegistrationStore, StoreError, StoreKey, TokenStore};

use super::table::Table;
use crate::error::CliError;

/// `tessera clients …`.
#[derive(Subcommand)]
pub enum ClientsCommand {
    /// Register a client with a generated 256-bit secret, printed once as JSON; only its hash is stored. With
    /// `--auth-method private_key_jwt`, register its public keys (`--jwks FILE` or `--jwks-uri URL`) instead; with
    /// `--auth-method tls_client_auth`, how its CA-issued certificate names it (one `--tls-*` flag); with
    /// `--auth-method self_signed_tls_client_auth`, its certificates (`x5c` in `--jwks` or `--jwks-uri`): no secret
    /// exists for those.
    Register {
        #[command(flatten)]
        table: Table,
        #[command(flatten)]
        client: Box<NewClient>,
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
        /// permissions, app.
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
pub struct ClientRef {
    #[arg(long, default_value = TenantId::DEFAULT)]
    tenant: TenantId,
    #[arg(long)]
    client_id: String,
}

/// A client to register. What it leaves out takes the defaults of a `[[clients]]` entry.
#[derive(Args)]
pub struct NewClient {
    #[arg(long)]
    client_id: String,
    #[arg(long, default_value = TenantId::DEFAULT)]
    tenant: TenantId,
    /// How it authenticates (RFC 7591): client_secret_basic or client_secret_post (a generated secret, which it
    /// may present either way), private_key_jwt (RFC 7523: JWTs signed with its key; needs --jwks or --jwks-uri),
    /// tls_client_auth (RFC 8705: mutual TLS with a CA-issued certificate; needs one --tls-* flag) or
    /// self_signed_tls_client_auth (RFC 8705: mutual TLS with a certificate in its JWKS; needs --jwks or
    /// --jwks-uri).
    #[arg(long, value_name = "METHOD", default_value = "client_secret_basic", value_parser = parse_auth_method)]
    auth_method: TokenEndpointAuthMethod,
    /// For private_key_jwt and self_signed_tls_client_auth: a file holding its public keys (with their
    /// certificates in x5c, for the latter) as a JWK Set (stored inline, at most 8 KiB).
    #[arg(long, value_name = "FILE", conflicts_with = "jwks_uri")]
    jwks: Option<PathBuf>,
    /// For private_key_jwt and self_signed_tls_client_auth: the https URL of its JWK Set, fetched and cached as a
    /// trusted issuer's is.
    #[arg(long, value_name = "URL")]
    jwks_uri: Option<String>,
    /// For tls_client_auth: its certificate's subject DN (RFC 4514, e.g. "CN=billing,O=Example").
    #[arg(long, value_name = "DN", group = "tls_subject")]
    tls_subject_dn: Option<String>,
    /// For tls_client_auth: a DNS name in its certificate's subjectAltName.
    #[arg(long, value_name = "NAME", group = "tls_subject")]
    tls_san_dns: Option<String>,
    /// For tls_client_auth: a URI in its certificate's subjectAltName.
    #[arg(long, value_name = "URI", group = "tls_subject")]
    tls_san_uri: Option<String>,
    /// For tls_client_auth: an IP address in its certificate's subjectAltName.
    #[arg(long, value_name = "IP", group = "tls_subject")]
    tls_san_ip: Option<String>,
    /// For tls_client_auth: an email address in its certificate's subjectAltName.
    #[arg(long, value_name = "EMAIL", group = "tls_subject")]
    tls_san_email: Option<String>,
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
    #[arg(long, default_value_t = DEFAULT_ACCESS_TOKEN_TTL_SECS)]
    access_token_ttl: u32,
    /// Allow this client to call the introspection endpoint.
    #[arg(long)]
    may_introspect: bool,
    /// An audience the client may request with `resource` (repeat; the first is the default `aud`).
    #[arg(long = "audience")]
    audiences: Vec<String>,
    /// For a resource server: an attribute its introspection answers carry beyond RFC 7662's members
    /// (repeat): user_details, amr, permissions, app.
    #[arg(long = "introspection-profile", value_parser = parse_profile, requires = "may_introspect")]
    introspection_profile: Vec<ProfileAttribute>,
    /// Whether a refresh retires the family's earlier access tokens (WSO2's "INACTIVE: refreshed"): true or
    /// false. Off, they stay active until they expire.
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new())]
    revoke_access_on_refresh: bool,
    /// OneWelcome's app attributes: the app's identifier, a bundle or package id (ASCII letters, digits, '.', '-',
    /// '_'; at most 255).
    #[arg(long, value_parser = parse_app_identifier)]
    app_identifier: Option<String>,
    /// The app's platform: ios, android, web, ... (ASCII letters, digits, '-', '_'; at most 32).
    #[arg(long, value_parser = parse_app_platform)]
    app_platform: Option<String>,
    /// The app's version (ASCII letters, digits, '.', '-', '_', '+'; at most 64).
    #[arg(long, value_parser = parse_app_version)]
    app_version: Option<String>,
    /// Refuse this client's token requests without a DPoP proof (RFC 9449 §5.2), so every access token it gets
    /// is DPoP-bound.
    #[arg(long, conflicts_with = "certificate_bound")]
    require_dpop: bool,
    /// Bind this client's access tokens to the TLS client certificate of its token requests (RFC 8705 §3:
    /// tls_client_certificate_bound_access_tokens); its token requests must then come over mutual TLS.
    #[arg(long)]
    certificate_bound: bool,
}

impl From<NewClient> for ClientConfig {
    /// The entry [`register`] takes: no secret yet, enabled.
    fn from(client: NewClient) -> Self {
        Self {
            tenant: client.tenant,
            client_id: client.client_id,
            client_secret: None,
            client_secret_hash: None,
            token_endpoint_auth_method: Some(client.auth_method),
            jwks: None,
            jwks_file: client.jwks,
            jwks_uri: client.jwks_uri,
            default_scopes: (!client.default_scopes.is_empty()).then_some(client.default_scopes),
            scopes: client.scopes,
            grant_types: if client.grant_types.is_empty() { DEFAULT_GRANT_TYPES.to_vec() } else { client.grant_types },
            access_token_format: client.format,
            access_token_ttl_secs: client.access_token_ttl,
            refresh_token_ttl_secs: DEFAULT_REFRESH_TOKEN_TTL_SECS,
            may_introspect: client.may_introspect,
            audiences: client.audiences,
            disabled: false,
            introspection_profile: client.introspection_profile,
            revoke_access_on_refresh: client.revoke_access_on_refresh,
            app_identifier: client.app_identifier,
            app_platform: client.app_platform,
            app_version: client.app_version,
            require_dpop: client.require_dpop,
            tls_client_certificate_bound_access_tokens: client.certificate_bound,
            tls_client_auth_subject_dn: client.tls_subject_dn,
            tls_client_auth_san_dns: client.tls_san_dns,
            tls_client_auth_san_uri: client.tls_san_uri,
            tls_client_auth_san_ip: client.tls_san_ip,
            tls_client_auth_san_email: client.tls_san_email,
        }
    }
}

/// Each app attribute checked on its own, so that clap names the flag and the rule.
fn parse_app_identifier(value: &str) -> Result<String, String> {
    AppAttributes::new(Some(value.to_owned()), None, None).map(|_| value.to_owned()).map_err(|e| e.to_string())
}

fn parse_app_platform(value: &str) -> Result<String, String> {
    AppAttributes::new(None, Some(value.to_owned()), None).map(|_| value.to_owned()).map_err(|e| e.to_string())
}

fn parse_app_version(value: &str) -> Result<String, String> {
    AppAttributes::new(None, None, Some(value.to_owned())).map(|_| value.to_owned()).map_err(|e| e.to_string())
}

fn parse_profile(value: &str) -> Result<ProfileAttribute, String> {
    serde_json::from_value(serde_json::Value::String(value.to_owned()))
        .map_err(|_| format!("{value:?} is not one of user_details, amr, permissions, app"))
}

fn parse_auth_method(value: &str) -> Result<TokenEndpointAuthMethod, String> {
    TokenEndpointAuthMethod::parse(value).ok_or_else(|| {
        let all: Vec<&str> = TokenEndpointAuthMethod::ALL.iter().map(|m| m.as_str()).collect();
        format!("{value} is not one of {}", all.join(", "))
    })
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

/// Runs a `tessera clients` command on its table. A new secret is printed once, as JSON, and never again.
pub async fn run(command: ClientsCommand) -> Result<(), CliError> {
    let entropy = SystemEntropy;
    match command {
        ClientsCommand::Register { table, client } => {
            let issued = register(&table.open().await?, &(*client).into(), &entropy).await?;
            println!("{}", serde_json::to_string_pretty(&issued)?);
        }
        ClientsCommand::List { table, tenant } => {
            let listed = table.open().await?.list_clients(&tenant).await?;
            print!("{}", render_list(&listed));
        }
        ClientsCommand::RotateSecret { table, client: ClientRef { tenant, client_id } } => {
            let issued = rotate_secret(&table.open().await?, &tenant, &client_id, &entropy).await?;
            println!("{}", serde_json::to_string_pretty(&issued)?);
        }
        ClientsCommand::Disable { table, client } => disable_or_enable(&table, &client, true).await?,
        ClientsCommand::Enable { table, client } => disable_or_enable(&table, &client, false).await?,
        ClientsCommand::SetProfile { table, client, introspection_profile } => {
            let store = table.open().await?;
            let profile = introspection_profile.into_iter().collect();
            set_profile(&store, &client.tenant, &client.client_id, profile).await?;
            let stored = get(&store, &client.tenant, &client.client_id).await?;
            println!("{}/{}: {}", client.tenant, client.client_id, profile_text(&stored.introspection_profile));
        }
        ClientsCommand::Import { table, config } => {
            let store = table.open().await?;
            let ids = import(&store, &Config::load(&config)?, &entropy).await?;
            println!("imported {} clients: {}", ids.len(), ids.join(", "));
        }
    }
    Ok(())
}

/// `clients disable` and `clients enable`.
async fn disable_or_enable(table: &Table, client: &ClientRef, disabled: bool) -> Result<(), CliError> {
    set_disabled(&table.open().await?, &client.tenant, &client.client_id, disabled).await?;
    println!("{} {}/{}", if disabled { "disabled" } else { "enabled" }, client.tenant, client.client_id);
    Ok(())
}

/// A store the operator commands can use.
pub trait Registry: TokenStore + RegistrationStore {}
impl<T: TokenStore + RegistrationStore> Registry for T {}

impl std::fmt::Debug for IssuedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedSecret")
            .field("tenant", &self.tenant)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// What `register` prints: the client, its method, and its secret if it has one (the only time it is shown).
#[derive(Serialize)]
pub struct Registered {
    /// The tenant.
    pub tenant: String,
    /// The client id.
    pub client_id: String,
    /// The RFC 7591 method it is registered with.
    pub token_endpoint_auth_method: &'static str,
    /// The new secret (256 bits, base64url), for a secret client. Not stored anywhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

impl std::fmt::Debug for Registered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registered")
            .field("tenant", &self.tenant)
            .field("client_id", &self.client_id)
            .field("token_endpoint_auth_method", &self.token_endpoint_auth_method)
            .finish_non_exhaustive()
    }
}

/// What `rotate-secret` prints: the only time the secret is ever shown.
#[derive(Serialize)]
pub struct IssuedSecret {
    /// The tenant.
    pub tenant: String,
    /// The client id.
    pub client_id: String,
    /// The new secret (256 bits, base64url). Not stored anywhere.
    pub client_secret: String,
}

/// A generated secret: 32 random bytes, base64url (43 characters).
pub fn generate_secret(entropy: &dyn Entropy) -> Result<String, CliError> {
    let bytes: [u8; 32] = random_bytes(entropy)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

fn hash(secret: &str, entropy: &dyn Entropy) -> Result<SecretHash, CliError> {
    Ok(SecretHash::new(secret, random_bytes(entropy)?))
}

/// Registers a new client from `entry` (its secret fields are ignored): a secret client with a generated secret,
/// or a `private_key_jwt` client with the keys the entry names (no secret). Refuses to replace an existing client.
pub async fn register(
    store: &dyn Registry,
    entry: &ClientConfig,
    entropy: &dyn Entropy,
) -> Result<Registered, CliError> {
    let mut entry = entry.clone();
    entry.client_secret = None;
    let secret = match entry.token_endpoint_auth_method {
        Some(
            TokenEndpointAuthMethod::PrivateKeyJwt
            | TokenEndpointAuthMethod::TlsClientAuth
            | TokenEndpointAuthMethod::SelfSignedTlsClientAuth,
        ) => None,
        _ => {
            let secret = generate_secret(entropy)?;
            entry.client_secret_hash = Some(String::from(hash(&secret, entropy)?));
            Some(secret)
        }
    };
    let client = entry.to_client(entropy)?;
    let (tenant, client_id) = (client.tenant.clone(), client.client_id.to_string());
    let method = entry.token_endpoint_auth_method.unwrap_or(TokenEndpointAuthMethod::ClientSecretBasic);
    // Clients never expire, so no instant finds one expired: the epoch will do.
    match store.put_new(Record::Client(client), tessera::domain::time::Timestamp::EPOCH).await {
        Ok(()) => Ok(Registered {
            tenant: tenant.to_string(),
            client_id,
            token_endpoint_auth_method: method.as_str(),
            client_secret: secret,
        }),
        Err(StoreError::AlreadyExists(_)) => Err(CliError::ClientExists { tenant, client_id }),
        Err(other) => Err(other.into()),
    }
}

/// Reads one client.
pub async fn get(store: &dyn Registry, tenant: &TenantId, client_id: &str) -> Result<Client, CliError> {
    let id = ClientId::parse(client_id)?;
    let key = StoreKey::client(tenant, &id);
    let records = store.get_many(std::slice::from_ref(&key)).await?;
    // Clients never expire, so the clock reading does not matter here.
    let fetched = Fetched::new(records, tessera::domain::time::Timestamp::from_secs(0));
    let missing = || CliError::NoClient { tenant: tenant.clone(), client_id: client_id.to_owned() };
    fetched.client(&key).cloned().ok_or_else(missing)
}

/// Replaces a client's secret with a new generated one. The old secret stops working at once on the store;
/// functions see it at their next read of the client record (every request reads it).
pub async fn rotate_secret(
    store: &dyn Registry,
    tenant: &TenantId,
    client_id: &str,
    entropy: &dyn Entropy,
) -> Result<IssuedSecret, CliError> {
    let mut client = get(store, tenant, client_id).await?;
    if !matches!(client.authentication, ClientAuthentication::Secret(_)) {
        return Err(CliError::NoSecret { tenant: tenant.clone(), client_id: client_id.to_owned() });
    }
    let secret = generate_secret(entropy)?;
    client.authentication = ClientAuthentication::Secret(hash(&secret, entropy)?);
    store.put_client(client).await?;
    Ok(IssuedSecret { tenant: tenant.to_string(), client_id: client_id.to_owned(), client_secret: secret })
}

/// Disables or re-enables a client. A disabled client cannot authenticate from its next request on.
pub async fn set_disabled(
    store: &dyn Registry,
    tenant: &TenantId,
    client_id: &str,
    disabled: bool,
) -> Result<(), CliError> {
    let mut client = get(store, tenant, client_id).await?;
    client.disabled = disabled;
    Ok(store.put_client(client).await?)
}

/// Replaces a client's introspection profile, keeping everything else (its secret hash included).
pub async fn set_profile(
    store: &dyn Registry,
    tenant: &TenantId,
    client_id: &str,
    profile: tessera::domain::profile::Profile,
) -> Result<(), CliError> {
    let mut client = get(store, tenant, client_id).await?;
    client.introspection_profile = profile;
    Ok(store.put_client(client).await?)
}

/// Creates or replaces every `[[clients]]` entry of `config`. Returns the ids written.
pub async fn import(store: &dyn Registry, config: &Config, entropy: &dyn Entropy) -> Result<Vec<String>, CliError> {
    let clients = config.clients(entropy)?;
    let mut ids = Vec::with_capacity(clients.len());
    for client in clients {
        ids.push(format!("{}/{}", client.tenant, client.client_id));
        store.put_client(client).await?;
    }
    Ok(ids)
}

/// One line per client: id, format, grants, scopes, flags, app, how it authenticates (`METHOD`: the RFC 7591
/// methods it may use), and what its tokens must be bound to (`DPOP`, `CERT_BOUND`: `required` or `-`). Secrets
/// and keys are never listed, not even hashed.
pub fn render_list(clients: &[Client]) -> String {
    let mut out = String::from(
        "CLIENT_ID\tFORMAT\tGRANT_TYPES\tSCOPES\tINTROSPECT\tDISABLED\tPROFILE\tREFRESH_RETIRES_ACCESS\tAPP\tMETHOD\tDPOP\tCERT_BOUND\n",
    );
    for c in clients {
        let grants: Vec<&str> = c.grant_types.iter().map(|g| g.as_str()).collect();
        let format = match c.access_token_format {
            tessera::domain::client::TokenFormat::Jwt => "jwt",
            tessera::domain::client::TokenFormat::Opaque => "opaque",
        };
        let methods: Vec<&str> = c.authentication.methods().iter().map(|m| m.as_str()).collect();
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            c.client_id,
            format,
            if grants.is_empty() { "-".to_owned() } else { grants.join(",") },
            if c.scopes.is_empty() { "-".to_owned() } else { c.scopes.to_string().replace(' ', ",") },
            c.may_introspect,
            c.disabled,
            profile_text(&c.introspection_profile),
            c.revoke_access_on_refresh,
            app_text(&c.app),
            methods.join(","),
            if c.require_dpop { "required" } else { "-" },
            if c.certificate_bound_access_tokens { "required" } else { "-" },
        ));
    }
    out
}

/// App attributes as `identifier/platform/version` (`-` for a part not registered), or `-` when none is.
pub fn app_text(app: &AppAttributes) -> String {
    if app.is_empty() {
        return "-".to_owned();
    }
    let part = |p: &Option<String>| p.clone().unwrap_or_else(|| "-".to_owned());
    format!("{}/{}/{}", part(&app.app_identifier), part(&app.app_platform), part(&app.app_version))
}

/// A profile as `user_details,amr`, or `-` when empty.
pub fn profile_text(profile: &tessera::domain::profile::Profile) -> String {
    let names: Vec<String> = profile
        .iter()
        .map(|a| serde_json::to_value(a).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default())
        .collect();
    if names.is_empty() { "-".to_owned() } else { names.join(",") }
}

#[cfg(test)]
mod tests {
    use tessera::entropy::SystemEntropy;
    use tessera::store::memory::MemoryStore;

    use super::*;

    fn entry(id: &str) -> ClientConfig {
        let toml = format!("[[clients]]\nclient_id = \"{id}\"\nclient_secret = \"ignored\"\nscopes = [\"read\"]");
        Config::from_toml(&toml).unwrap().clients[0].clone()
    }

    #[tokio::test]
    async fn register_rotate_disable_list() {
        let store = MemoryStore::new();
        let tenant = TenantId::default();
        let issued = register(&store, &entry("svc"), &SystemEntropy).await.unwrap();
        assert_eq!(issued.token_endpoint_auth_method, "client_secret_basic");
        let issued = IssuedSecret {
            tenant: issued.tenant,
            client_id: issued.client_id,
            client_secret: issued.client_secret.expect("a secret client gets a secret"),
        };
        assert_eq!(issued.client_secret.len(), 43);
        assert!(get(&store, &tenant, "svc").await.unwrap().authenticate(&issued.client_secret));
        assert!(
            register(&store, &entry("svc"), &SystemEntropy).await.unwrap_err().to_string().contains("already exists")
        );

        let rotated = rotate_secret(&store, &tenant, "svc", &SystemEntropy).await.unwrap();
        let client = get(&store, &tenant, "svc").await.unwrap();
        assert!(client.authenticate(&rotated.client_secret));
        assert!(!client.authenticate(&issued.client_secret), "the old secret stops working");

        set_disabled(&store, &tenant, "svc", true).await.unwrap();
        assert!(!get(&store, &tenant, "svc").await.unwrap().authenticate(&rotated.client_secret));
        let listed = render_list(&store.list_clients(&tenant).await.unwrap());
        assert!(listed.contains("svc\tjwt\tclient_credentials\tread\tfalse\ttrue"), "{listed}");
        assert!(!listed.contains(&rotated.client_secret) && !listed.contains("sha256$"));
        assert!(rotate_secret(&store, &tenant, "nobody", &SystemEntropy).await.is_err());
    }

    /// The new flags parse as documented, and bad values get a clear error naming the flag and the rule.
    /// `tessera clients register` with `args`, parsed as the command line would be.
    #[derive(clap::Parser)]
    struct Register {
        #[command(flatten)]
        client: NewClient,
    }

    fn parse_register(args: &[&str]) -> Result<Register, clap::Error> {
        use clap::Parser;
        Register::try_parse_from([&["register"][..], args].concat())
    }

    #[tokio::test]
    async fn register_flags_app_attributes_and_refresh_setting() {
        let parse = |args: &[&str]| parse_register(&[&["--client-id", "app"][..], args].concat());
        let store = MemoryStore::new();
        let flags = ["--app-identifier", "com.example.orders", "--app-platform", "ios", "--app-version", "2.1.0"];
        let parsed = parse(&[&flags[..], &["--revoke-access-on-refresh", "false", "--require-dpop"]].concat()).unwrap();
        register(&store, &parsed.client.into(), &SystemEntropy).await.unwrap();
        let client = get(&store, &TenantId::default(), "app").await.unwrap();
        assert!(!client.revoke_access_on_refresh);
        assert!(client.require_dpop);
        assert_eq!(client.app.app_identifier.as_deref(), Some("com.example.orders"));
        let listed = render_list(&store.list_clients(&TenantId::default()).await.unwrap());
        assert!(
            listed.contains(
                "\t-\tfalse\tcom.example.orders/ios/2.1.0\tclient_secret_basic,client_secret_post\trequired\t-\n"
            ),
            "{listed}"
        );
        assert!(parse(&[]).unwrap().client.revoke_access_on_refresh, "on by default");
        assert!(!parse(&[]).unwrap().client.require_dpop, "off by default");

        for (args, says) in [
            (&["--app-identifier", "com example"][..], "app_identifier must be 1 to 255 characters of ASCII letters"),
            (&["--app-platform", "i/os"], "app_platform must be 1 to 32 characters"),
            (&["--app-version", ""], "app_version must be 1 to 64 characters"),
            (&["--revoke-access-on-refresh", "maybe"], "invalid value 'maybe' for '--revoke-access-on-refresh"),
        ] {
            let err = parse(args).err().expect("refused").to_string();
            assert!(err.contains(says), "{args:?}: {err}");
        }
    }

    /// `--auth-method private_key_jwt` with `--jwks FILE` or `--jwks-uri URL` registers the keys and no secret
    /// (RFC 7591 §2: one method per client); `clients list` shows the method; bad combinations are refused.
    #[tokio::test]
    async fn register_a_private_key_jwt_client() {
        let parse = |args: &[&str]| parse_register(args);
        let store = MemoryStore::new();
        let tenant = TenantId::default();
        let key = tessera::jwt::keys::SigningKey::generate(tessera::jwt::keys::SigningAlgorithm::EdDSA, "k1").unwrap();
        let file = std::env::temp_dir().join(format!("tessera-client-jwks-{}.json", std::process::id()));
        std::fs::write(&file, serde_json::json!({"keys": [key.public_jwk()]}).to_string()).unwrap();
        let file_arg = file.to_str().unwrap();
        let inline = ["--client-id", "batch", "--auth-method", "private_key_jwt", "--jwks", file_arg];
        let registered = register(&store, &parse(&inline).unwrap().client.into(), &SystemEntropy).await.unwrap();
        assert_eq!((registered.token_endpoint_auth_method, registered.client_secret), ("private_key_jwt", None));
        let client = get(&store, &tenant, "batch").await.unwrap();
        assert!(matches!(
            client.authentication,
            ClientAuthentication::PrivateKeyJwt(tessera::domain::jwks::Jwks::Inline(_))
        ));
        assert!(
            rotate_secret(&store, &tenant, "batch", &SystemEntropy)
                .await
                .unwrap_err()
                .to_string()
                .contains("no secret")
        );
        let by_url =
            ["--client-id", "batch-2", "--auth-method", "private_key_jwt", "--jwks-uri", "https://batch.example/jwks"];
        register(&store, &parse(&by_url).unwrap().client.into(), &SystemEntropy).await.unwrap();
        let listed = render_list(&store.list_clients(&tenant).await.unwrap());
        assert!(listed.lines().next().unwrap().ends_with("\tAPP\tMETHOD\tDPOP\tCERT_BOUND"), "{listed}");
        assert!(
            listed.contains("batch\tjwt\tclient_credentials\t-\tfalse\tfalse\t-\ttrue\t-\tprivate_key_jwt\t-\t-\n"),
            "{listed}"
        );
        assert!(!listed.contains(&key.public_jwk().to_string()), "keys are not listed");

        for (args, says) in [
            (
                &["--client-id", "x", "--auth-method", "private_key_jwt"][..],
                "needs one of jwks, jwks_file and jwks_uri",
            ),
            (
                &["--client-id", "x", "--auth-method", "client_secret_basic", "--jwks", file_arg],
                "are for private_key_jwt and self_signed_tls_client_auth clients",
            ),
            (
                &["--client-id", "x", "--auth-method", "private_key_jwt", "--jwks-uri", "http://batch.example/jwks"],
                "must be https",
            ),
        ] {
            let entry: ClientConfig = parse(args).unwrap().client.into();
            let err = register(&store, &entry, &SystemEntropy).await.unwrap_err().to_string();
            assert!(err.contains(says), "{args:?}: {err}");
        }
        for (args, says) in [
            (&["--client-id", "x", "--auth-method", "client_secret_jwt"][..], "is not one of client_secret_basic"),
            (&["--client-id", "x", "--jwks", file_arg, "--jwks-uri", "https://a.example/j"], "cannot be used with"),
        ] {
            let err = parse(args).err().expect("refused").to_string();
            assert!(err.contains(says), "{args:?}: {err}");
        }
        std::fs::remove_file(file).unwrap();
    }

    /// RFC 8705: `--auth-method tls_client_auth` with one `--tls-*` match registers no secret (§2.1.2), and
    /// `--certificate-bound` binds its tokens (§3.4); `clients list` shows both; `rotate-secret` refuses it (it has
    /// no secret to rotate), and a second match or `--require-dpop` beside `--certificate-bound` is refused.
    #[tokio::test]
    async fn register_a_mutual_tls_client() {
        let parse = |args: &[&str]| parse_register(args);
        let store = MemoryStore::new();
        let tenant = TenantId::default();
        let args =
            ["--client-id", "billing", "--auth-method", "tls_client_auth", "--tls-subject-dn", "CN=billing, O=Example"];
        let bound = [&args[..], &["--certificate-bound"]].concat();
        let registered = register(&store, &parse(&bound).unwrap().client.into(), &SystemEntropy).await.unwrap();
        assert_eq!((registered.token_endpoint_auth_method, registered.client_secret), ("tls_client_auth", None));
        let client = get(&store, &tenant, "billing").await.unwrap();
        assert_eq!(
            client.authentication,
            ClientAuthentication::TlsClientAuth(tessera::domain::client::CertificateSubject::SubjectDn(
                "CN=billing,O=Example".into()
            ))
        );
        assert!(client.certificate_bound_access_tokens);
        let listed = render_list(&store.list_clients(&tenant).await.unwrap());
        assert!(listed.contains("\ttls_client_auth\t-\trequired\n"), "{listed}");
        let err = rotate_secret(&store, &tenant, "billing", &SystemEntropy).await.unwrap_err().to_string();
        assert!(err.contains("no secret"), "{err}");
        let by_san = ["--client-id", "b2", "--auth-method", "tls_client_auth", "--tls-san-ip", "10.0.0.7"];
        register(&store, &parse(&by_san).unwrap().client.into(), &SystemEntropy).await.unwrap();
        for (args, says) in [
            (&[&args[..], &["--tls-san-dns", "billing.example.com"]].concat(), "cannot be used with"),
            (&[&bound[..], &["--require-dpop"]].concat(), "cannot be used with"),
        ] {
            let err = parse(args).err().expect("refused").to_string();
            assert!(err.contains(says), "{args:?}: {err}");
        }
        let no_match: ClientConfig = parse(&args[..4]).unwrap().client.into();
        let err = register(&store, &no_match, &SystemEntropy).await.unwrap_err().to_string();
        assert!(err.contains("set exactly one of tls_client_auth_subject_dn"), "{err}");
    }
}

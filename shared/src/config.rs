//! Configuration: one [`Config`] type read from TOML (the local runner's `--config`, or a file bundled with
//! a function) and validated once, before anything serves.
//!
//! ```toml
//! issuer = "http://127.0.0.1:9000"          # optional for the local runner: defaults to its address
//!
//! [[signing_keys]]                           # the local runner generates an ES256 key when absent; functions refuse to start
//! kid = "2026-11"
//! alg = "ES256"                              # or "EdDSA"
//! private_key_file = "keys/2026-11.pem"      # PKCS#8 PEM; or private_key_pem = """…"""
//!
//! [[clients]]
//! client_id = "orders-service"
//! client_secret = "…"                        # or client_secret_hash = "sha256$…$…"
//! scopes = ["orders:read", "orders:write"]
//! default_scopes = ["orders:read"]           # optional: defaults to all of `scopes`
//! grant_types = ["client_credentials"]
//! access_token_format = "jwt"                # or "opaque"
//! access_token_ttl_secs = 300
//! may_introspect = false
//! audiences = ["https://orders.example.com"] # optional: allowed `resource` values, first is the default
//! tenant = "default"                         # optional: a tenant declared under [[tenants]]
//!
//! [[tenants]]                                # more tenants, served under /t/<name>/…
//! name = "acme"
//! issuer = "https://auth.example.com/t/acme" # optional: <issuer>/t/<name>
//! [[tenants.signing_keys]]                   # optional locally: an ES256 key is generated at start
//! kid = "acme-2026-11"
//! alg = "ES256"
//! private_key_file = "keys/acme-2026-11.pem"
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domain::client::{Client, ClientId, GrantType, SecretHash, TokenFormat};
use crate::domain::profile::{PermissionMap, ProfileAttribute, ResourceScopes};
use crate::domain::scope::ScopeSet;
use crate::domain::tenant::TenantId;
use crate::entropy::{Entropy, EntropyError, random_bytes};
use crate::jwt::external::{JwksSource, TrustedIssuer, asymmetric_algorithm};
use crate::jwt::keys::{KeyError, KeyRing, KeyRingError, SigningAlgorithm, SigningKey};
use crate::store::{IssuerJwks, RegisteredIssuer};

/// The longest access-token lifetime accepted, one day: long-lived access tokens defeat revocation.
pub const MAX_ACCESS_TOKEN_TTL_SECS: u32 = 86_400;
/// The longest refresh-token lifetime accepted, 90 days.
pub const MAX_REFRESH_TOKEN_TTL_SECS: u32 = crate::domain::revocation::MAX_TOKEN_LIFETIME_SECS;
/// Secrets shorter than this are accepted from config files with a warning.
pub const RECOMMENDED_SECRET_LEN: usize = 32;

/// A configuration that cannot be used. The message names the offending entry.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML does not parse or has unknown keys. Only the message and line are kept: the parser's
    /// snippet of the offending line could hold a secret.
    #[error("invalid configuration: {0}")]
    Toml(String),
    /// A value breaks a rule.
    #[error("invalid configuration: {0}")]
    Invalid(String),
    /// A signing key could not be loaded.
    #[error("invalid configuration: {0}")]
    Key(#[from] KeyError),
    /// The key ring is empty or has duplicate kids.
    #[error("invalid configuration: {0}")]
    KeyRing(#[from] KeyRingError),
    /// No randomness for salts.
    #[error(transparent)]
    Entropy(#[from] EntropyError),
}

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The issuer URL (`iss`, and the base of every endpoint URL).
    pub issuer: Option<String>,
    /// Signing keys: the `active` one signs (without states, the first); all verify. Empty: the local runner
    /// generates one ES256 key at start; a deployed function refuses to start.
    #[serde(default)]
    pub signing_keys: Vec<KeyConfig>,
    /// Registered clients.
    #[serde(default)]
    pub clients: Vec<ClientConfig>,
    /// External issuers whose JWTs are accepted for token exchange and introspection.
    #[serde(default)]
    pub trusted_issuers: Vec<TrustedIssuerConfig>,
    /// Tenants besides `default`, each with its own issuer and keys.
    #[serde(default)]
    pub tenants: Vec<TenantConfig>,
    /// Scope-to-resource permissions, for introspection profiles with `permissions`.
    #[serde(default)]
    pub permissions: Vec<PermissionConfig>,
}

/// A tenant besides `default` (WSO2's `/t/<tenant>/`): its routes are `/t/<name>/oauth2/…` and
/// `/t/<name>/.well-known/…`; its clients and trusted issuers name it in their `tenant` field.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// The tenant name, as it appears in `/t/<name>/`.
    pub name: TenantId,
    /// Its issuer URL. Default: the `default` tenant's issuer followed by `/t/<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Its signing keys, as `signing_keys` above. Empty: generated at start by the local runner only.
    #[serde(default)]
    pub signing_keys: Vec<KeyConfig>,
}

/// One trusted external issuer, matched by `issuer` and `audiences` (IndyKite's `jwt_matcher`).
///
/// ```toml
/// [[trusted_issuers]]
/// issuer = "https://example.eu.auth0.com/"
/// audiences = ["https://api.example.com"]
/// algorithms = ["RS256"]                    # asymmetric only: never none, never HS*
/// jwks_uri = "https://example.eu.auth0.com/.well-known/jwks.json"   # or jwks_file, or jwks inline
/// subject_claim = "sub"                     # default
/// username_claim = "email"                  # optional: reported as `username`
/// claims_mapping = { email = "email", given_name = "given_name" }   # external claim → user_details key
/// record_tokens = false                     # record introspected tokens so Tessera can revoke them
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedIssuerConfig {
    /// The tenant; `default` when omitted.
    #[serde(default)]
    pub tenant: TenantId,
    /// The exact `iss`.
    pub issuer: String,
    /// Accepted `aud` values.
    pub audiences: Vec<String>,
    /// Allowed algorithms.
    pub algorithms: Vec<String>,
    /// The JWKS inline, as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<String>,
    /// A file holding the JWKS, relative to the config file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_file: Option<PathBuf>,
    /// The issuer's JWKS URL (https), fetched and cached with a TTL, refreshed on an unknown `kid`, and
    /// rate-limited (see `jwt::external::RemoteJwks`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The claim holding the subject.
    #[serde(default = "default_subject_claim")]
    pub subject_claim: String,
    /// The claim reported as `username`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_claim: Option<String>,
    /// External claim → `user_details` attribute.
    #[serde(default)]
    pub claims_mapping: BTreeMap<String, String>,
    /// Record introspected tokens under their hash (TTL = their `exp`), so revocation applies to them.
    #[serde(default)]
    pub record_tokens: bool,
}

fn default_subject_claim() -> String {
    "sub".to_owned()
}

/// One signing key. `Debug` leaves the private key out.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// The key id published in JWKS and set as `kid`.
    pub kid: String,
    /// `ES256` or `EdDSA`.
    pub alg: SigningAlgorithm,
    /// The PKCS#8 PEM inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key_pem: Option<String>,
    /// A file holding the PKCS#8 PEM, relative to the config file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key_file: Option<PathBuf>,
    /// Where the key is in its rotation. In a list where no key has a state, the first key signs and the others
    /// verify ([`signing_index`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<KeyState>,
    /// When the key was retired (epoch seconds): tokens it signed live at most one access-token lifetime
    /// longer, after which `tessera keys remove` takes it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<u64>,
}

/// A signing key's place in a rotation. Every state is published in JWKS and verifies; only `active` signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// Published ahead of use, so resource servers that cache the JWKS know it before it signs.
    Next,
    /// Signs new tokens (one per tenant).
    Active,
    /// Signed tokens that may still be live: verifies, signs nothing.
    Retired,
}

/// One client entry. `Debug` leaves the secret out.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// The tenant; `default` when omitted.
    #[serde(default)]
    pub tenant: TenantId,
    /// The client id.
    pub client_id: String,
    /// The secret in plain text (hashed at load; local use).
    pub client_secret: Option<String>,
    /// The secret's hash, as the operator CLI prints it.
    pub client_secret_hash: Option<String>,
    /// Allowed scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Scopes granted when a request names none; all of `scopes` when omitted.
    pub default_scopes: Option<Vec<String>>,
    /// Allowed grant types; empty for a resource server that only introspects.
    #[serde(default = "default_grant_types")]
    pub grant_types: Vec<GrantType>,
    /// `jwt` or `opaque`.
    #[serde(default)]
    pub access_token_format: TokenFormat,
    /// Access-token lifetime.
    #[serde(default = "default_access_ttl")]
    pub access_token_ttl_secs: u32,
    /// Refresh-token lifetime.
    #[serde(default = "default_refresh_ttl")]
    pub refresh_token_ttl_secs: u32,
    /// Whether the client may introspect.
    #[serde(default)]
    pub may_introspect: bool,
    /// Allowed `resource` values; the first is the default `aud`.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// A disabled client cannot authenticate.
    #[serde(default)]
    pub disabled: bool,
    /// For a resource server: the attributes its introspection answers carry beyond RFC 7662's core members
    /// (`user_details`, `amr`, `permissions`).
    #[serde(default)]
    pub introspection_profile: Vec<ProfileAttribute>,
}

/// One OAuth scope's resource permissions, reported to resource servers whose introspection profile has
/// `permissions` (Keycloak's RPT `permissions`).
///
/// ```toml
/// [[permissions]]
/// scope = "orders:write"
/// resource = "orders"                 # the resource's name (`rsname`)
/// resource_id = "7f3c…"               # optional `rsid`; default: the name
/// resource_scopes = ["view", "edit"]  # optional; default: the OAuth scope itself
/// tenant = "default"                  # optional
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionConfig {
    /// The tenant; `default` when omitted.
    #[serde(default)]
    pub tenant: TenantId,
    /// The OAuth scope.
    pub scope: String,
    /// The resource's name.
    pub resource: String,
    /// The resource's id; its name when omitted.
    #[serde(default)]
    pub resource_id: Option<String>,
    /// The resource scopes the OAuth scope grants; the OAuth scope itself when omitted.
    #[serde(default)]
    pub resource_scopes: Option<Vec<String>>,
}

impl std::fmt::Debug for KeyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyConfig")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("private_key_file", &self.private_key_file)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("tenant", &self.tenant)
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .field("grant_types", &self.grant_types)
            .field("access_token_format", &self.access_token_format)
            .field("may_introspect", &self.may_introspect)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

fn default_grant_types() -> Vec<GrantType> {
    vec![GrantType::ClientCredentials]
}
fn default_access_ttl() -> u32 {
    300
}
fn default_refresh_ttl() -> u32 {
    30 * 86_400
}

impl Config {
    /// Parses TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|err| {
            let line = err.span().map(|span| text.get(..span.start).unwrap_or(text).matches('\n').count() + 1);
            let message = err.message().trim_end();
            ConfigError::Toml(match line {
                Some(line) => format!("{message} (line {line})"),
                None => message.to_owned(),
            })
        })
    }

    /// Reads and parses a TOML file; relative key files resolve against its folder.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        let mut config = Self::from_toml(&text)?;
        let base = path.parent().unwrap_or(Path::new("."));
        for issuer in &mut config.trusted_issuers {
            if let Some(file) = &issuer.jwks_file
                && file.is_relative()
            {
                issuer.jwks_file = Some(base.join(file));
            }
        }
        let tenant_keys = config.tenants.iter_mut().flat_map(|t| t.signing_keys.iter_mut());
        for key in config.signing_keys.iter_mut().chain(tenant_keys) {
            if let Some(file) = &key.private_key_file
                && file.is_relative()
            {
                key.private_key_file = Some(base.join(file));
            }
        }
        Ok(config)
    }

    /// Validates an issuer URL (RFC 8414 §2: https, no query or fragment; plain http is allowed for
    /// loopback and local development) and strips a trailing slash.
    pub fn validate_issuer(issuer: &str) -> Result<String, ConfigError> {
        let issuer = issuer.trim_end_matches('/');
        let scheme_ok = issuer.starts_with("https://") || issuer.starts_with("http://");
        if !scheme_ok || issuer.contains(['?', '#']) || issuer.len() <= "https://".len() {
            return Err(ConfigError::Invalid(format!(
                "issuer {issuer:?} must be an http(s) URL without query or fragment"
            )));
        }
        if let Some(rest) = issuer.strip_prefix("http://") {
            let loopback = rest.starts_with("localhost") || rest.starts_with("127.") || rest.starts_with("[::1]");
            if !loopback {
                tracing::warn!(issuer, "plain-http issuer outside loopback: RFC 8414 requires https in production");
            }
        }
        Ok(issuer.to_owned())
    }

    /// A tenant's own issuer, validated: its endpoints are `<issuer>/oauth2/…`, and requests for a tenant arrive
    /// on `/t/<name>/…`, so its path must end with `/t/<name>`.
    pub fn validate_tenant_issuer(tenant: &TenantId, issuer: &str) -> Result<String, ConfigError> {
        let issuer = Self::validate_issuer(issuer)?;
        if !issuer.ends_with(&format!("/t/{tenant}")) {
            return Err(ConfigError::Invalid(format!(
                "tenant {tenant}: issuer {issuer} must end with /t/{tenant}, where the tenant's routes are"
            )));
        }
        Ok(issuer)
    }

    /// Loads the configured keys, or generates one ES256 key named `kid_if_generated` (local use).
    pub fn key_ring(&self, kid_if_generated: &str) -> Result<KeyRing, ConfigError> {
        if self.signing_keys.is_empty() {
            return Ok(KeyRing::new(vec![SigningKey::generate(SigningAlgorithm::ES256, kid_if_generated)?])?);
        }
        key_ring(&self.signing_keys)
    }

    /// The permission mapping of `tenant`.
    pub fn permission_map(&self, tenant: &TenantId) -> PermissionMap {
        let mut map = PermissionMap::default();
        for entry in self.permissions.iter().filter(|p| p.tenant == *tenant) {
            let grants = ResourceScopes {
                rsid: entry.resource_id.clone().unwrap_or_else(|| entry.resource.clone()),
                rsname: entry.resource.clone(),
                scopes: entry.resource_scopes.clone().unwrap_or_else(|| vec![entry.scope.clone()]),
            };
            map.insert(entry.scope.clone(), grants);
        }
        map
    }

    /// Every tenant served: `default` first, then the `[[tenants]]` in order.
    pub fn tenant_ids(&self) -> Vec<TenantId> {
        std::iter::once(TenantId::default()).chain(self.tenants.iter().map(|t| t.name.clone())).collect()
    }

    /// Checks that tenants are declared once, that `default` is not redeclared (its settings are the top-level
    /// ones), and that every client, trusted issuer and permission names a declared tenant.
    pub fn check_tenants(&self) -> Result<(), ConfigError> {
        let mut declared = BTreeSet::from([TenantId::default()]);
        for tenant in &self.tenants {
            if !declared.insert(tenant.name.clone()) {
                return Err(ConfigError::Invalid(format!(
                    "tenant {} is declared twice (the default tenant's settings are the top-level ones)",
                    tenant.name
                )));
            }
        }
        match self.undeclared_tenant_entries(&declared).next() {
            Some((tenant, what)) => Err(ConfigError::Invalid(format!(
                "{what} names tenant {tenant}, which is not declared under [[tenants]]"
            ))),
            None => Ok(()),
        }
    }

    /// Takes out the clients, trusted issuers and permissions that name a tenant not declared, and says which
    /// (for a log: never a secret). For a configuration merged with a key document, where a tenant deleted
    /// from the document leaves the configuration's entries of it behind.
    pub fn drop_undeclared_tenant_entries(&mut self) -> Vec<(TenantId, String)> {
        let declared: BTreeSet<TenantId> = self.tenant_ids().into_iter().collect();
        let dropped: Vec<(TenantId, String)> = self
            .undeclared_tenant_entries(&declared)
            .map(|(tenant, what)| (tenant.clone(), format!("{what} of tenant {tenant}")))
            .collect();
        self.clients.retain(|c| declared.contains(&c.tenant));
        self.trusted_issuers.retain(|t| declared.contains(&t.tenant));
        self.permissions.retain(|p| declared.contains(&p.tenant));
        dropped
    }

    /// The entries naming a tenant outside `declared`: the tenant, and what the entry is.
    fn undeclared_tenant_entries<'a>(
        &'a self,
        declared: &'a BTreeSet<TenantId>,
    ) -> impl Iterator<Item = (&'a TenantId, String)> + 'a {
        let clients = self.clients.iter().map(|c| (&c.tenant, format!("client {:?}", c.client_id)));
        let issuers = self.trusted_issuers.iter().map(|t| (&t.tenant, format!("trusted issuer {:?}", t.issuer)));
        let permissions =
            self.permissions.iter().map(|p| (&p.tenant, format!("the permission of scope {:?}", p.scope)));
        clients.chain(issuers).chain(permissions).filter(|(tenant, _)| !declared.contains(*tenant))
    }

    /// Merges a signing-key document (Secrets Manager): its keys become the default tenant's, its tenants
    /// replace same-named `[[tenants]]` entries or join them. Apply it to the configuration as loaded (a
    /// re-read applies the new document to that again, so tenants taken out of the document go).
    pub fn apply_key_document(&mut self, document: KeySetDocument) {
        self.signing_keys = document.keys;
        for (name, keys) in document.tenants {
            self.tenants.retain(|t| t.name != name);
            self.tenants.push(TenantConfig { name, issuer: keys.issuer, signing_keys: keys.keys });
        }
    }

    /// The trusted issuers of `tenant`, validated, with their JWKS parsed: the configuration's, joined by
    /// `registered` (the table's entries of the tenant), which replace same-issuer configuration entries.
    pub fn trusted_issuers(
        &self,
        tenant: &TenantId,
        registered: &[RegisteredIssuer],
    ) -> Result<Vec<TrustedIssuer>, ConfigError> {
        let registered: Vec<TrustedIssuerConfig> = registered.iter().map(TrustedIssuerConfig::from).collect();
        let local = self
            .trusted_issuers
            .iter()
            .filter(|t| t.tenant == *tenant && !registered.iter().any(|r| r.issuer == t.issuer));
        let entries: Vec<_> = local.chain(registered.iter().filter(|r| r.tenant == *tenant)).collect();
        let http = if entries.iter().any(|t| t.jwks_uri.is_some()) { Some(jwks_http_client()?) } else { None };
        entries.into_iter().map(|entry| entry.load(http.clone())).collect()
    }

    /// Validates every client entry and hashes plain-text secrets with fresh salts.
    pub fn clients(&self, entropy: &dyn Entropy) -> Result<Vec<Client>, ConfigError> {
        let mut seen = BTreeSet::new();
        let mut clients = Vec::with_capacity(self.clients.len());
        for entry in &self.clients {
            let client = entry.to_client(entropy)?;
            if !seen.insert((client.tenant.clone(), client.client_id.clone())) {
                return Err(ConfigError::Invalid(format!("client {} is listed twice", client.client_id)));
            }
            clients.push(client);
        }
        Ok(clients)
    }
}

/// The signing-key document kept in AWS Secrets Manager (and printed by `tessera generate-key --secret-json`;
/// `tessera tenants create` adds tenants to it):
///
/// ```json
/// {"keys": [{"kid": "2026-11", "alg": "ES256", "private_key_pem": "-----BEGIN PRIVATE KEY-----\n…"}],
///  "tenants": {"acme": {"issuer": "https://auth.example.com/t/acme", "keys": [{"kid": "acme-1", …}]}}}
/// ```
///
/// `keys` are the default tenant's; each entry of `tenants` declares a tenant with its own keys (and optionally
/// its issuer). In each list the `active` key signs (in a list without states, the first); every key is published
/// in JWKS and verifies, `next` keys before they sign and `retired` ones until they are removed. Every list
/// has at least one key: a deployed function never generates one.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySetDocument {
    /// The default tenant's keys, signing key first.
    pub keys: Vec<KeyConfig>,
    /// The other tenants.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tenants: BTreeMap<TenantId, TenantKeySet>,
}

/// A tenant's entry in the [`KeySetDocument`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantKeySet {
    /// The tenant's issuer URL. Default: the `default` tenant's issuer followed by `/t/<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Its keys, signing key first.
    pub keys: Vec<KeyConfig>,
}

impl KeySetDocument {
    /// Parses the JSON document; errors name the problem, never the key material. Every tenant must have a
    /// key: a deployed function never generates one.
    pub fn parse(json: &str) -> Result<Self, ConfigError> {
        let document: Self = serde_json::from_str(json).map_err(|err| {
            ConfigError::Invalid(format!("signing-key document: {} at line {}", err.classify_name(), err.line()))
        })?;
        if document.keys.is_empty() {
            return Err(ConfigError::Invalid("signing-key document: `keys` (the default tenant's) is empty".into()));
        }
        if let Some((name, _)) = document.tenants.iter().find(|(_, t)| t.keys.is_empty()) {
            return Err(ConfigError::Invalid(format!("signing-key document: tenant {name} has no keys")));
        }
        if document.tenants.contains_key(&TenantId::default()) {
            return Err(ConfigError::Invalid("signing-key document: the default tenant's keys are `keys`".into()));
        }
        Ok(document)
    }

    /// The document as pretty JSON (it holds private keys: write it only where the secret belongs).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// Which of `keys` signs: the one `active` key; in a list where no key is `active`, the first key if it has no
/// state (a list written before key states). No key, more than one `active` key, or none among keys whose
/// first has a state, is an error. The one rule for the functions and for `tessera keys`.
pub fn signing_index(keys: &[KeyConfig]) -> Result<usize, ConfigError> {
    let mut active = keys.iter().enumerate().filter(|(_, k)| k.state == Some(KeyState::Active)).map(|(i, _)| i);
    match (active.next(), active.next()) {
        (Some(one), None) => Ok(one),
        (None, _) if keys.first().is_some_and(|k| k.state.is_none()) => Ok(0),
        (None, _) if keys.is_empty() => Err(ConfigError::Invalid("signing keys: there are none".into())),
        (None, _) => Err(ConfigError::Invalid("signing keys: no key is active".into())),
        (Some(_), Some(_)) => Err(ConfigError::Invalid("signing keys: more than one key is active".into())),
    }
}

/// A key ring from explicit key entries (none generated), the signing key ([`signing_index`]) first.
pub fn key_ring(keys: &[KeyConfig]) -> Result<KeyRing, ConfigError> {
    let signing = signing_index(keys)?;
    let ordered =
        keys.get(signing).into_iter().chain(keys.iter().enumerate().filter(|(i, _)| *i != signing).map(|(_, k)| k));
    let keys = ordered
        .map(|key| {
            let pem = match (&key.private_key_pem, &key.private_key_file) {
                (Some(pem), None) => pem.clone(),
                (None, Some(file)) => {
                    std::fs::read_to_string(file).map_err(|source| ConfigError::Read { path: file.clone(), source })?
                }
                _ => {
                    return Err(ConfigError::Invalid(format!(
                        "signing key {}: set exactly one of private_key_pem and private_key_file",
                        key.kid
                    )));
                }
            };
            Ok(SigningKey::from_pkcs8_pem(key.alg, &key.kid, &pem)?)
        })
        .collect::<Result<Vec<_>, ConfigError>>()?;
    Ok(KeyRing::new(keys)?)
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O error",
            serde_json::error::Category::Syntax => "invalid JSON",
            serde_json::error::Category::Data => "unexpected field or value",
            serde_json::error::Category::Eof => "truncated JSON",
        }
    }
}

/// The HTTP client for JWKS URLs: one per process, short timeouts, no redirects to elsewhere.
fn jwks_http_client() -> Result<reqwest::Client, ConfigError> {
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(2))
        .timeout(std::time::Duration::from_secs(3))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ConfigError::Invalid(format!("cannot build the JWKS HTTP client: {e}")))
}

/// The store's trusted issuer and the configuration entry, converted here and nowhere else: an entry becomes one to
/// register in the table ([`TrustedIssuerConfig::to_registered`]), and a registered one is loaded as an entry.
impl From<&RegisteredIssuer> for TrustedIssuerConfig {
    fn from(registered: &RegisteredIssuer) -> Self {
        Self {
            tenant: registered.tenant.clone(),
            issuer: registered.issuer.clone(),
            audiences: registered.audiences.clone(),
            algorithms: registered.algorithms.clone(),
            jwks: registered.jwks.inline().map(str::to_owned),
            jwks_file: None,
            jwks_uri: registered.jwks.uri().map(str::to_owned),
            subject_claim: registered.subject_claim.clone(),
            username_claim: registered.username_claim.clone(),
            claims_mapping: registered.claims_mapping.clone(),
            record_tokens: registered.record_tokens,
        }
    }
}

impl TrustedIssuerConfig {
    /// The entry as the table registers it (`tessera issuers import`): a `jwks_file` is read into the inline JWKS.
    pub fn to_registered(&self) -> Result<RegisteredIssuer, ConfigError> {
        Ok(RegisteredIssuer {
            tenant: self.tenant.clone(),
            issuer: self.issuer.clone(),
            audiences: self.audiences.clone(),
            algorithms: self.algorithms.clone(),
            jwks: self.jwks()?,
            subject_claim: self.subject_claim.clone(),
            username_claim: self.username_claim.clone(),
            claims_mapping: self.claims_mapping.clone(),
            record_tokens: self.record_tokens,
        })
    }

    fn invalid(&self, what: String) -> ConfigError {
        ConfigError::Invalid(format!("trusted issuer {:?}: {what}", self.issuer))
    }

    /// Where the entry's keys are: its inline JWKS (or the file's, read), or its URL.
    fn jwks(&self) -> Result<IssuerJwks, ConfigError> {
        match (&self.jwks, &self.jwks_file, &self.jwks_uri) {
            (Some(json), None, None) => Ok(IssuerJwks::Inline(json.clone())),
            (None, Some(file), None) => std::fs::read_to_string(file)
                .map(IssuerJwks::Inline)
                .map_err(|source| ConfigError::Read { path: file.clone(), source }),
            (None, None, Some(uri)) => Ok(IssuerJwks::Uri(uri.clone())),
            _ => Err(self.invalid("set exactly one of jwks, jwks_file and jwks_uri".into())),
        }
    }

    /// Validates the entry and parses its inline or file JWKS (a JWKS URL is read on first use).
    pub fn load(&self, http: Option<reqwest::Client>) -> Result<TrustedIssuer, ConfigError> {
        let source = match self.jwks()? {
            IssuerJwks::Inline(text) => JwksSource::Inline(
                serde_json::from_str(&text).map_err(|e| self.invalid(format!("JWKS is not a JWK Set: {e}")))?,
            ),
            IssuerJwks::Uri(uri) => JwksSource::Uri(uri),
        };
        let algorithms = self
            .algorithms
            .iter()
            .map(|a| asymmetric_algorithm(&self.issuer, a))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        TrustedIssuer::new(
            self.issuer.clone(),
            self.audiences.clone(),
            algorithms,
            self.subject_claim.clone(),
            self.username_claim.clone(),
            self.claims_mapping.clone(),
            self.record_tokens,
            source,
            http,
        )
        .map_err(|e| ConfigError::Invalid(e.to_string()))
    }
}

impl ClientConfig {
    /// Validates the entry and builds the client.
    pub fn to_client(&self, entropy: &dyn Entropy) -> Result<Client, ConfigError> {
        let id = &self.client_id;
        let invalid = |what: &str| ConfigError::Invalid(format!("client {id:?}: {what}"));
        let client_id = ClientId::parse(id).map_err(|e| invalid(&e.to_string()))?;
        let secret_hash = match (&self.client_secret, &self.client_secret_hash) {
            (Some(secret), None) => {
                if secret.len() < RECOMMENDED_SECRET_LEN {
                    tracing::warn!(client_id = %id, "client secret is shorter than {RECOMMENDED_SECRET_LEN} characters");
                }
                SecretHash::new(secret, random_bytes(entropy)?)
            }
            (None, Some(hash)) => SecretHash::try_from(hash.clone()).map_err(|e| invalid(&e.to_string()))?,
            _ => {
                return Err(invalid("set exactly one of client_secret and client_secret_hash"));
            }
        };
        let scopes = ScopeSet::from_tokens(&self.scopes).map_err(|e| invalid(&e.to_string()))?;
        let default_scopes = match &self.default_scopes {
            Some(defaults) => ScopeSet::from_tokens(defaults).map_err(|e| invalid(&e.to_string()))?,
            None => scopes.clone(),
        };
        if !default_scopes.is_subset(&scopes) {
            return Err(invalid("default_scopes must be a subset of scopes"));
        }
        if !(1..=MAX_ACCESS_TOKEN_TTL_SECS).contains(&self.access_token_ttl_secs) {
            return Err(invalid(&format!("access_token_ttl_secs must be 1..={MAX_ACCESS_TOKEN_TTL_SECS}")));
        }
        if !(1..=MAX_REFRESH_TOKEN_TTL_SECS).contains(&self.refresh_token_ttl_secs) {
            return Err(invalid(&format!("refresh_token_ttl_secs must be 1..={MAX_REFRESH_TOKEN_TTL_SECS}")));
        }
        Ok(Client {
            tenant: self.tenant.clone(),
            client_id,
            secret_hash,
            scopes,
            default_scopes,
            grant_types: self.grant_types.iter().copied().collect(),
            access_token_format: self.access_token_format,
            access_token_ttl_secs: self.access_token_ttl_secs,
            refresh_token_ttl_secs: self.refresh_token_ttl_secs,
            may_introspect: self.may_introspect,
            audiences: self.audiences.clone(),
            disabled: self.disabled,
            introspection_profile: self.introspection_profile.iter().copied().collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::SeededEntropy;

    #[test]
    fn entries_of_undeclared_tenants_are_refused_or_dropped() {
        let toml = "[[tenants]]\nname = \"acme\"\n\n[[clients]]\ntenant = \"gone\"\nclient_id = \"svc\"\n\
                    client_secret = \"svc-secret-0123456789abcdef0123\"\n\n[[permissions]]\ntenant = \"gone\"\n\
                    scope = \"orders:read\"\nresource = \"orders\"\n\n[[permissions]]\ntenant = \"acme\"\n\
                    scope = \"orders:read\"\nresource = \"orders\"\n";
        let mut config = Config::from_toml(toml).unwrap();
        let err = config.check_tenants().unwrap_err().to_string();
        assert!(err.contains("client \"svc\" names tenant gone"), "{err}");
        let dropped = config.drop_undeclared_tenant_entries();
        let gone = TenantId::parse("gone").unwrap();
        let expected = ["client \"svc\" of tenant gone", "the permission of scope \"orders:read\" of tenant gone"];
        assert_eq!(dropped, expected.map(|text| (gone.clone(), text.to_owned())));
        assert!(config.clients.is_empty());
        assert_eq!(config.permissions.len(), 1);
        config.check_tenants().unwrap();
    }

    const SAMPLE: &str = r#"
        issuer = "https://auth.example.com/"
        [[clients]]
        client_id = "svc"
        client_secret = "0123456789abcdef0123456789abcdef"
        scopes = ["read", "write"]
        default_scopes = ["read"]
        access_token_format = "opaque"
        may_introspect = true
    "#;

    #[test]
    fn a_trusted_issuer_registers_with_its_jwks_file_inline_and_loads_back_as_its_entry() {
        let file = std::env::temp_dir().join(format!("tessera-registered-jwks-{}.json", std::process::id()));
        std::fs::write(&file, r#"{"keys":[]}"#).unwrap();
        let toml = format!(
            "[[trusted_issuers]]\nissuer = \"https://idp.example/\"\naudiences = [\"api\"]\nalgorithms = [\"ES256\"]\n\
             jwks_file = {file:?}\nusername_claim = \"email\"\nrecord_tokens = true\n"
        );
        let entry = Config::from_toml(&toml).unwrap().trusted_issuers.remove(0);
        let registered = entry.to_registered().unwrap();
        std::fs::remove_file(&file).unwrap();
        assert_eq!(registered.jwks, IssuerJwks::Inline(r#"{"keys":[]}"#.into()));
        let inlined = TrustedIssuerConfig { jwks: Some(r#"{"keys":[]}"#.into()), jwks_file: None, ..entry };
        assert_eq!(TrustedIssuerConfig::from(&registered), inlined);
        assert_eq!(inlined.to_registered().unwrap(), registered);
        let both = TrustedIssuerConfig { jwks_uri: Some("https://idp.example/jwks".into()), ..inlined };
        assert!(
            both.to_registered().unwrap_err().to_string().contains("set exactly one of jwks, jwks_file and jwks_uri")
        );
    }

    #[test]
    fn parses_and_validates_a_client() {
        let config = Config::from_toml(SAMPLE).unwrap();
        assert_eq!(Config::validate_issuer(config.issuer.as_deref().unwrap()).unwrap(), "https://auth.example.com");
        let clients = config.clients(&SeededEntropy::new(1)).unwrap();
        assert_eq!(clients.len(), 1);
        let c = &clients[0];
        assert!(c.authenticate("0123456789abcdef0123456789abcdef"));
        assert_eq!(c.access_token_format, TokenFormat::Opaque);
        assert_eq!(c.grant_types, [GrantType::ClientCredentials].into());
        assert_eq!(c.access_token_ttl_secs, 300);
        assert_eq!(c.tenant, TenantId::default());
    }

    #[test]
    fn rejects_bad_entries_with_a_clear_message() {
        let cases = [
            ("unknown_key = 1", "unknown field"),
            ("[[clients]]\nclient_id = \"a\"", "exactly one of client_secret"),
            (
                "[[clients]]\nclient_id = \"a\"\nclient_secret = \"s\"\nscopes = [\"a\"]\ndefault_scopes = [\"b\"]",
                "subset",
            ),
            (
                "[[clients]]\nclient_id = \"a\"\nclient_secret = \"s\"\naccess_token_ttl_secs = 0",
                "access_token_ttl_secs",
            ),
            (
                "[[clients]]\nclient_id = \"a\"\nclient_secret = \"s\"\n[[clients]]\nclient_id = \"a\"\nclient_secret = \"t\"",
                "twice",
            ),
            (
                "[[clients]]\nclient_id = \"a\"\nclient_secret = \"s\"\naccess_token_format = \"saml\"",
                "unknown variant",
            ),
        ];
        for (toml, expected) in cases {
            let err = Config::from_toml(toml).and_then(|c| c.clients(&SeededEntropy::new(1)).map(|_| ())).unwrap_err();
            assert!(err.to_string().contains(expected), "{toml}: {err}");
        }
        assert!(Config::validate_issuer("ftp://x").is_err());
        assert!(Config::validate_issuer("https://x/?a=b").is_err());
    }

    #[test]
    fn errors_and_debug_never_show_secrets() {
        let typo = "[[clients]]\nclient_id = \"a\"\nclient_secrt = \"SUPER-SECRET-VALUE\"";
        let err = Config::from_toml(typo).unwrap_err().to_string();
        assert!(err.contains("unknown field") && err.contains("line 3"), "{err}");
        assert!(!err.contains("SUPER-SECRET-VALUE"), "{err}");
        let config = Config::from_toml(SAMPLE).unwrap();
        assert!(!format!("{config:?}").contains("0123456789abcdef"));
        let key = "[[signing_keys]]\nkid = \"k\"\nalg = \"ES256\"\nprivate_key_pem = \"PRIVATE-MATERIAL\"";
        assert!(!format!("{:?}", Config::from_toml(key).unwrap()).contains("PRIVATE-MATERIAL"));
    }

    #[test]
    fn generates_a_key_when_none_is_configured() {
        let ring = Config::default().key_ring("generated").unwrap();
        assert_eq!(ring.signing_key().kid(), "generated");
    }
}

//! Configuration: one [`Config`] type read from TOML (the local runner's `--config`, or a file bundled with
//! a function) and validated once, before anything serves. This module is the schema and its validation only:
//! what is built from it to serve (key rings, trusted issuers, the tenants) is [`crate::tenancy`]'s. The client
//! entries and their defaults are in `client`, the trusted-issuer entries in `trusted_issuer`, the authorizer's
//! protected routes in [`authorizer`].
//!
//! ```toml
//! issuer = "http://127.0.0.1:9000"          # optional for the local runner: defaults to its address
//! revocation_max_staleness_ms = 1000         # optional, 0 to 60000, default 0: the revocation bound B
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
//! [[clients]]                                # a private_key_jwt client (RFC 7523 §2.2): keys, never a secret
//! client_id = "billing-batch"
//! token_endpoint_auth_method = "private_key_jwt"   # default: a secret, by Basic or in the form
//! jwks_uri = "https://billing.example.com/jwks.json" # or jwks = '{"keys": […]}', or jwks_file = "billing.json"
//!
//! [[tenants]]                                # more tenants, served under /t/<name>/…
//! name = "acme"
//! issuer = "https://auth.example.com/t/acme" # optional: <issuer>/t/<name>
//! [[tenants.signing_keys]]                   # optional locally: an ES256 key is generated at start
//! kid = "acme-2026-11"
//! alg = "ES256"
//! private_key_file = "keys/acme-2026-11.pem"
//!
//! [[authorizer.routes]]                      # routes of your APIs the authorizer protects (see `authorizer`)
//! route = "GET /orders/{id}"
//! scopes = ["orders:read"]
//! audience = "https://orders.example.com"
//! ```

pub mod authorizer;
mod client;
mod ssf_transmitter;
mod trusted_issuer;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use authorizer::AuthorizerConfig;
pub use client::{
    ClientConfig, DEFAULT_ACCESS_TOKEN_TTL_SECS, DEFAULT_GRANT_TYPES, DEFAULT_REFRESH_TOKEN_TTL_SECS,
    MAX_ACCESS_TOKEN_TTL_SECS, MAX_REFRESH_TOKEN_TTL_SECS, RECOMMENDED_SECRET_LEN,
};
pub use ssf_transmitter::{MIN_AUTHORIZATION_LEN, SsfTransmitterConfig};
pub use trusted_issuer::TrustedIssuerConfig;

use crate::domain::client::Client;
use crate::domain::profile::{PermissionMap, ResourceScopes};
use crate::domain::tenant::TenantId;
use crate::entropy::{Entropy, EntropyError};
use crate::events::identity_provider::IdentityEventSourceConfig;
use crate::jwt::keys::{KeyError, KeyRingError, SigningAlgorithm};
use crate::store::read_plan::RevocationBound;

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

/// What a mutual-TLS trust store holds ([`Config::mtls_truststore_holds`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MtlsTruststoreHolds {
    /// CA certificates only.
    #[default]
    CertificateAuthorities,
    /// Clients' own certificates (self-signed), possibly beside CA certificates.
    ClientCertificates,
}

impl MtlsTruststoreHolds {
    /// Parses the `MTLS_TRUSTSTORE_HOLDS` value: the template's `CertificateAuthorities` or `ClientCertificates`, or
    /// the configuration's snake case.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim() {
            "CertificateAuthorities" | "certificate_authorities" => Some(Self::CertificateAuthorities),
            "ClientCertificates" | "client_certificates" => Some(Self::ClientCertificates),
            _ => None,
        }
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The issuer URL (`iss`, and the base of every endpoint URL).
    pub issuer: Option<String>,
    /// The origin (`https://host[:port]`) of a mutual-TLS alias of the endpoints (RFC 8705 §5): a second host that
    /// serves the same paths and asks for client certificates, published as `mtls_endpoint_aliases`. The
    /// issuer stays `issuer`. Unset: no aliases (the endpoints themselves serve mutual TLS, or nothing does).
    #[serde(default)]
    pub mtls_base_url: Option<String>,
    /// What the trust store of the mutual-TLS terminator holds: `certificate_authorities` (the default: CA
    /// certificates only, so a certificate that chains to one was issued by a CA) or `client_certificates` (any
    /// client's own certificate, each a trust anchor whose holder could issue a certificate naming anyone: then
    /// `tls_client_auth` is refused, and only `self_signed_tls_client_auth` authenticates by certificate).
    #[serde(default)]
    pub mtls_truststore_holds: MtlsTruststoreHolds,
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
    /// The routes the authorizer protects.
    #[serde(default)]
    pub authorizer: AuthorizerConfig,
    /// Identity-provider events that revoke (`[[identity_events]]`, [`crate::events::identity_provider`]): Auth0's
    /// and Okta's EventBridge log streams, or another source mapped field by field. The revocation-events
    /// function's `IDENTITY_EVENT_SOURCES` replaces them.
    #[serde(default)]
    pub identity_events: Vec<IdentityEventSourceConfig>,
    /// Shared Signals transmitters that may push Security Event Tokens to `/ssf/events` (`[[ssf_transmitters]]`,
    /// [`crate::events::ssf`]); the table's (`tessera transmitters import`) replace same-issuer entries.
    #[serde(default)]
    pub ssf_transmitters: Vec<SsfTransmitterConfig>,
    /// The revocation propagation bound B in milliseconds (0 to 60,000; `None`: 0, strict): how long each
    /// execution environment may answer decisions from the items it read ([`crate::store::read_plan`]). The
    /// functions' `REVOCATION_MAX_STALENESS_MS` and the runner's `--revocation-max-staleness-ms` override it.
    #[serde(default)]
    pub revocation_max_staleness_ms: Option<u64>,
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
    /// verify ([`crate::tenancy::key_document::signing_index`]).
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

/// Parses TOML text into `T`; an error keeps only the parser's message and the line ([`ConfigError::Toml`]).
pub(crate) fn parse_toml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|err| {
        let line = err.span().map(|span| text.get(..span.start).unwrap_or(text).matches('\n').count() + 1);
        let message = err.message().trim_end();
        ConfigError::Toml(match line {
            Some(line) => format!("{message} (line {line})"),
            None => message.to_owned(),
        })
    })
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

impl Config {
    /// Parses TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        parse_toml(text)
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
        for transmitter in &mut config.ssf_transmitters {
            if let Some(file) = &transmitter.jwks_file
                && file.is_relative()
            {
                transmitter.jwks_file = Some(base.join(file));
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

    /// The revocation bound B this configuration asks for ([`Config::revocation_max_staleness_ms`]).
    pub fn revocation_bound(&self) -> Result<RevocationBound, ConfigError> {
        match self.revocation_max_staleness_ms {
            Some(millis) => RevocationBound::from_millis("revocation_max_staleness_ms", millis),
            None => Ok(RevocationBound::STRICT),
        }
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
    /// ones), and that every client, trusted issuer, permission and protected route names a declared tenant.
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

    /// Takes out the clients, trusted issuers, permissions and protected routes that name a tenant not declared,
    /// and says which (for a log: never a secret). For a configuration merged with a key document, where a tenant
    /// deleted from the document leaves the configuration's entries of it behind.
    pub fn drop_undeclared_tenant_entries(&mut self) -> Vec<(TenantId, String)> {
        let declared: BTreeSet<TenantId> = self.tenant_ids().into_iter().collect();
        let dropped: Vec<(TenantId, String)> = self
            .undeclared_tenant_entries(&declared)
            .map(|(tenant, what)| (tenant.clone(), format!("{what} of tenant {tenant}")))
            .collect();
        self.clients.retain(|c| declared.contains(&c.tenant));
        self.trusted_issuers.retain(|t| declared.contains(&t.tenant));
        self.ssf_transmitters.retain(|t| declared.contains(&t.tenant));
        self.permissions.retain(|p| declared.contains(&p.tenant));
        self.authorizer.routes.retain(|r| declared.contains(&r.tenant));
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
        let routes = self.authorizer.routes.iter().map(|r| (&r.tenant, format!("authorizer route {:?}", r.route)));
        let transmitters = self.ssf_transmitters.iter().map(|t| (&t.tenant, format!("SSF transmitter {:?}", t.issuer)));
        clients
            .chain(issuers)
            .chain(permissions)
            .chain(routes)
            .chain(transmitters)
            .filter(|(tenant, _)| !declared.contains(*tenant))
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

/// Where an entry's keys are, from its `jwks` (inline), `jwks_file` (read now) and `jwks_uri`: `Ok(None)` when it
/// sets none of them; `Err(None)` when it sets more than one; `Err(Some(_))` when the file cannot be read. The one
/// rule of trusted issuers and `private_key_jwt` clients.
pub(crate) fn registered_jwks(
    jwks: &Option<String>,
    jwks_file: &Option<std::path::PathBuf>,
    jwks_uri: &Option<String>,
) -> Result<Option<crate::domain::jwks::Jwks>, Option<ConfigError>> {
    use crate::domain::jwks::Jwks;
    match (jwks, jwks_file, jwks_uri) {
        (None, None, None) => Ok(None),
        (Some(json), None, None) => Ok(Some(Jwks::Inline(json.clone()))),
        (None, Some(file), None) => std::fs::read_to_string(file)
            .map(|json| Some(Jwks::Inline(json)))
            .map_err(|source| Some(ConfigError::Read { path: file.clone(), source })),
        (None, None, Some(uri)) => Ok(Some(Jwks::Uri(uri.clone()))),
        _ => Err(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::client::{GrantType, TokenFormat};
    use crate::entropy::SeededEntropy;

    #[test]
    fn entries_of_undeclared_tenants_are_refused_or_dropped() {
        let toml = "[[tenants]]\nname = \"acme\"\n\n[[clients]]\ntenant = \"gone\"\nclient_id = \"svc\"\n\
                    client_secret = \"svc-secret-0123456789abcdef0123\"\n\n[[permissions]]\ntenant = \"gone\"\n\
                    scope = \"orders:read\"\nresource = \"orders\"\n\n[[permissions]]\ntenant = \"acme\"\n\
                    scope = \"orders:read\"\nresource = \"orders\"\n\n[[authorizer.routes]]\ntenant = \"gone\"\n\
                    route = \"GET /orders\"\nscopes = []\naudience = \"https://orders.example.com\"\n";
        let mut config = Config::from_toml(toml).unwrap();
        let err = config.check_tenants().unwrap_err().to_string();
        assert!(err.contains("client \"svc\" names tenant gone"), "{err}");
        let dropped = config.drop_undeclared_tenant_entries();
        let gone = TenantId::parse("gone").unwrap();
        let expected = [
            "client \"svc\" of tenant gone",
            "the permission of scope \"orders:read\" of tenant gone",
            "authorizer route \"GET /orders\" of tenant gone",
        ];
        assert_eq!(dropped, expected.map(|text| (gone.clone(), text.to_owned())));
        assert!(config.clients.is_empty() && config.authorizer.routes.is_empty());
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

    /// A public EC key (P-256) as a JWK Set, and the same key with its private part.
    const EC_JWKS: &str = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"rFlvkzfwx7fAnKJ-_LxD4YvZ9ZM3ScSOZ9rnA7f0nAY","y":"qDa5JJVGl4S0C4ceVbWH0qdq-2sLQiaUi3gvI9cSqP8"}]}"#;

    /// RFC 7591 §2: a client registers one `token_endpoint_auth_method`. A `private_key_jwt` client has keys and no
    /// secret; a secret client has no keys; an entry without the method keeps today's secret client.
    #[test]
    fn a_private_key_jwt_client_has_keys_and_never_a_secret() {
        use crate::domain::client::{ClientAuthentication, TokenEndpointAuthMethod};
        use crate::domain::jwks::Jwks;
        let entry = |rest: &str| format!("[[clients]]\nclient_id = \"kj\"\n{rest}");
        let pkj = "token_endpoint_auth_method = \"private_key_jwt\"\n";
        let load = |toml: &str| Config::from_toml(toml).and_then(|c| c.clients(&SeededEntropy::new(1)));
        let clients = load(&entry(&format!("{pkj}jwks = '{EC_JWKS}'"))).unwrap();
        assert_eq!(clients[0].authentication, ClientAuthentication::PrivateKeyJwt(Jwks::Inline(EC_JWKS.into())));
        assert!(!clients[0].authenticate(""));
        let clients = load(&entry(&format!("{pkj}jwks_uri = \"https://kj.example.com/jwks\""))).unwrap();
        assert_eq!(clients[0].authentication.methods(), [TokenEndpointAuthMethod::PrivateKeyJwt]);
        for method in ["", "token_endpoint_auth_method = \"client_secret_post\"\n"] {
            let clients =
                load(&entry(&format!("{method}client_secret = \"0123456789abcdef0123456789abcdef\""))).unwrap();
            assert!(clients[0].authentication.accepts(TokenEndpointAuthMethod::ClientSecretBasic), "as before");
            assert!(clients[0].authentication.accepts(TokenEndpointAuthMethod::ClientSecretPost), "as before");
        }
        let private = EC_JWKS.replace("\"kid\":\"k1\"", "\"kid\":\"k1\",\"d\":\"AAAA\"");
        let cases = [
            (format!("{pkj}jwks = '{EC_JWKS}'\nclient_secret = \"s\""), "never a secret"),
            (pkj.to_owned(), "needs one of jwks, jwks_file and jwks_uri"),
            (format!("{pkj}jwks = '{EC_JWKS}'\njwks_uri = \"https://kj.example.com/jwks\""), "exactly one of jwks"),
            (format!("{pkj}jwks_uri = \"http://kj.example.com/jwks\""), "jwks_uri must be https"),
            (format!("{pkj}jwks = '{{\"keys\": 1}}'"), "not a JWK Set"),
            (format!("{pkj}jwks = '{{\"keys\": []}}'"), "no usable asymmetric public key"),
            (format!("{pkj}jwks = '{{\"keys\": [{{\"kty\": \"oct\", \"k\": \"c2VjcmV0\"}}]}}'"), "no usable"),
            (format!("{pkj}jwks = '{private}'"), "private key"),
            (format!("{pkj}jwks = '{{\"keys\": [], \"pad\": \"{}\"}}'", "x".repeat(9000)), "over 8192 bytes"),
            (format!("jwks = '{EC_JWKS}'\nclient_secret = \"s\""), "are for private_key_jwt and self_signed_tls"),
            ("token_endpoint_auth_method = \"client_secret_jwt\"\nclient_secret = \"s\"".to_owned(), "unknown variant"),
            ("token_endpoint_auth_method = \"none\"".to_owned(), "unknown variant"),
        ];
        for (rest, expected) in cases {
            let err = load(&entry(&rest)).unwrap_err();
            assert!(err.to_string().contains(expected), "{rest}: {err}");
        }
    }

    /// RFC 8705 §2.1.2: a `tls_client_auth` client is named by exactly one of the five `tls_client_auth_*` entries;
    /// §2.2: a `self_signed_tls_client_auth` client registers its certificates in its JWKS (`x5c`). Neither has a
    /// secret; §3.4's `tls_client_certificate_bound_access_tokens` is any client's, but not with `require_dpop`.
    #[test]
    fn a_mutual_tls_client_is_named_by_one_certificate_match() {
        use crate::domain::client::{CertificateSubject, ClientAuthentication};
        use crate::domain::jwks::Jwks;
        let entry = |rest: &str| format!("[[clients]]\nclient_id = \"mt\"\n{rest}");
        let load = |toml: &str| Config::from_toml(toml).and_then(|c| c.clients(&SeededEntropy::new(1)));
        let tls = "token_endpoint_auth_method = \"tls_client_auth\"\n";
        for (rest, expected) in [
            (
                "tls_client_auth_subject_dn = \"CN=billing, O=Example\"",
                CertificateSubject::SubjectDn("CN=billing,O=Example".into()),
            ),
            ("tls_client_auth_subject_dn = \"commonName=billing\"", CertificateSubject::SubjectDn("CN=billing".into())),
            (
                "tls_client_auth_san_dns = \"billing.example.com\"",
                CertificateSubject::SanDns("billing.example.com".into()),
            ),
            (
                "tls_client_auth_san_uri = \"spiffe://example.com/billing\"",
                CertificateSubject::SanUri("spiffe://example.com/billing".into()),
            ),
            ("tls_client_auth_san_ip = \"2001:db8::1\"", CertificateSubject::SanIp("2001:db8::1".parse().unwrap())),
            (
                "tls_client_auth_san_email = \"billing@example.com\"",
                CertificateSubject::SanEmail("billing@example.com".into()),
            ),
        ] {
            let clients =
                load(&entry(&format!("{tls}{rest}\ntls_client_certificate_bound_access_tokens = true"))).unwrap();
            assert_eq!(clients[0].authentication, ClientAuthentication::TlsClientAuth(expected), "{rest}");
            assert!(clients[0].certificate_bound_access_tokens);
            assert!(!clients[0].authenticate(""), "no secret authenticates it");
        }
        let self_signed = "token_endpoint_auth_method = \"self_signed_tls_client_auth\"\n";
        let clients = load(&entry(&format!("{self_signed}jwks_uri = \"https://mt.example.com/jwks\""))).unwrap();
        let uri = Jwks::Uri("https://mt.example.com/jwks".into());
        assert_eq!(clients[0].authentication, ClientAuthentication::SelfSignedTlsClientAuth(uri));
        assert!(!clients[0].certificate_bound_access_tokens, "off by default");
        let cases = [
            (tls.to_owned(), "set exactly one of tls_client_auth_subject_dn"),
            (
                format!("{tls}tls_client_auth_san_dns = \"a.example\"\ntls_client_auth_san_ip = \"10.0.0.1\""),
                "exactly one",
            ),
            (format!("{tls}tls_client_auth_subject_dn = \"not a dn\""), "not a distinguished name"),
            (format!("{tls}tls_client_auth_san_ip = \"10.0.0\""), "not an IP address"),
            (format!("{tls}tls_client_auth_san_uri = \"relative/path\""), "not an absolute URI"),
            (format!("{tls}tls_client_auth_san_dns = \"bad name\""), "not a DNS name"),
            (format!("{tls}tls_client_auth_san_email = \"nobody\""), "not an email address"),
            (format!("{tls}tls_client_auth_san_dns = \"a.example\"\nclient_secret = \"s\""), "never a secret"),
            (
                format!("{tls}tls_client_auth_san_dns = \"a.example\"\njwks_uri = \"https://a.example/j\""),
                "not by keys",
            ),
            (
                "tls_client_auth_san_dns = \"a.example\"\nclient_secret = \"s\"".to_owned(),
                "for a tls_client_auth client only",
            ),
            (self_signed.to_owned(), "needs one of jwks, jwks_file and jwks_uri"),
            (format!("{self_signed}jwks = '{EC_JWKS}'"), "no key has x5c"),
            (
                format!(
                    "{tls}tls_client_auth_san_dns = \"a.example\"\nrequire_dpop = true\ntls_client_certificate_bound_access_tokens = true"
                ),
                "exclude each other",
            ),
        ];
        for (rest, expected) in cases {
            let err = load(&entry(&rest)).unwrap_err();
            assert!(err.to_string().contains(expected), "{rest}: {err}");
        }
    }

    /// What a mutual-TLS trust store holds: CA certificates by default; the template's and the configuration's
    /// spellings of both; nothing else.
    #[test]
    fn the_truststore_holds_certificate_authorities_unless_told_otherwise() {
        assert_eq!(Config::default().mtls_truststore_holds, MtlsTruststoreHolds::CertificateAuthorities);
        let holds = Config::from_toml("mtls_truststore_holds = \"client_certificates\"").unwrap().mtls_truststore_holds;
        assert_eq!(holds, MtlsTruststoreHolds::ClientCertificates);
        assert!(Config::from_toml("mtls_truststore_holds = \"both\"").is_err());
        assert_eq!(MtlsTruststoreHolds::parse("ClientCertificates"), Some(MtlsTruststoreHolds::ClientCertificates));
        assert_eq!(
            MtlsTruststoreHolds::parse("CertificateAuthorities"),
            Some(MtlsTruststoreHolds::CertificateAuthorities)
        );
        assert_eq!(MtlsTruststoreHolds::parse("Both"), None);
    }

    #[test]
    fn the_revocation_bound_defaults_to_strict_and_stops_at_a_minute() {
        assert_eq!(Config::default().revocation_bound().unwrap(), RevocationBound::STRICT);
        let bound = |toml: &str| Config::from_toml(toml).unwrap().revocation_bound();
        assert_eq!(bound("revocation_max_staleness_ms = 1000").unwrap().as_millis(), 1_000);
        let err = bound("revocation_max_staleness_ms = 60001").unwrap_err().to_string();
        assert!(
            err.contains("revocation_max_staleness_ms must be a whole number of milliseconds from 0 to 60000"),
            "{err}"
        );
        assert!(Config::from_toml("revocation_max_staleness_ms = -1").is_err());
        assert!(Config::from_toml("revocation_max_staleness_ms = \"1s\"").is_err());
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
}

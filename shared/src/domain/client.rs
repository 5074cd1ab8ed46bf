//! OAuth clients: identity, how they authenticate (a hashed secret or their public keys), what they may ask for,
//! and how their tokens look.

use std::collections::BTreeSet;
use std::fmt;

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::jwks::Jwks;
use super::scope::ScopeSet;
use super::tenant::TenantId;

/// A client identifier: 1 to 255 characters of `VSCHAR` (%x20-7E, RFC 6749 Appendix A.1).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(String);

/// A client id that breaks the [`ClientId`] rules.
#[derive(Debug, thiserror::Error)]
#[error("client_id must be 1 to 255 printable ASCII characters")]
pub struct InvalidClientId;

impl ClientId {
    /// Validates a client id.
    pub fn parse(id: &str) -> Result<Self, InvalidClientId> {
        let valid = (1..=255).contains(&id.len()) && id.bytes().all(|b| (0x20..=0x7E).contains(&b));
        if valid { Ok(Self(id.to_owned())) } else { Err(InvalidClientId) }
    }

    /// The identifier.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ClientId {
    type Error = InvalidClientId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ClientId> for String {
    fn from(value: ClientId) -> Self {
        value.0
    }
}

/// The grant types Tessera knows (RFC 6749 §4.4, §6; RFC 8693).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum GrantType {
    /// `client_credentials` (RFC 6749 §4.4).
    #[serde(rename = "client_credentials")]
    ClientCredentials,
    /// `refresh_token` (RFC 6749 §6).
    #[serde(rename = "refresh_token")]
    RefreshToken,
    /// `urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693).
    #[serde(rename = "urn:ietf:params:oauth:grant-type:token-exchange")]
    TokenExchange,
}

impl GrantType {
    /// Every grant type, in the order the metadata document lists them.
    pub const ALL: [GrantType; 3] = [Self::ClientCredentials, Self::RefreshToken, Self::TokenExchange];

    /// The `grant_type` parameter value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientCredentials => "client_credentials",
            Self::RefreshToken => "refresh_token",
            Self::TokenExchange => "urn:ietf:params:oauth:grant-type:token-exchange",
        }
    }

    /// Parses a `grant_type` value; `None` for one Tessera does not know.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == value)
    }
}

/// How a client's access tokens are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TokenFormat {
    /// A self-contained JWT (RFC 9068), verifiable offline and revocable through the `jti` denylist.
    #[default]
    Jwt,
    /// A random reference token, recorded in the store under its hash.
    Opaque,
}

/// A client secret hash: `sha256$<salt>$<digest>`, both base64url, digest = SHA-256(salt ‖ secret).
///
/// A fast hash is sufficient because Tessera generates client secrets with 256 bits of entropy; a
/// low-entropy secret from a config file is warned about at load time. The `sha256$` prefix versions the
/// format so a slower KDF can be added without migrating existing entries.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SecretHash {
    salt: Vec<u8>,
    digest: Vec<u8>,
}

/// A stored secret hash that is not `sha256$<salt>$<digest>`.
#[derive(Debug, thiserror::Error)]
#[error("client secret hash must look like sha256$<salt>$<digest>")]
pub struct InvalidSecretHash;

impl SecretHash {
    /// Hashes `secret` with `salt`.
    pub fn new(secret: &str, salt: [u8; 16]) -> Self {
        Self { digest: Self::digest(&salt, secret).to_vec(), salt: salt.to_vec() }
    }

    fn digest(salt: &[u8], secret: &str) -> [u8; 32] {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(salt);
        ctx.update(secret.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    }

    /// Whether `presented` is the secret, compared in constant time.
    pub fn verify(&self, presented: &str) -> bool {
        let candidate = Self::digest(&self.salt, presented);
        candidate.ct_eq(self.digest.as_slice()).into()
    }

    /// Spends the same work as [`SecretHash::verify`] for a client that does not exist, so response time
    /// does not reveal which client ids are registered.
    pub fn verify_nothing(presented: &str) -> bool {
        let _ = Self::digest(&[0u8; 16], presented);
        false
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

impl TryFrom<String> for SecretHash {
    type Error = InvalidSecretHash;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        let mut parts = value.split('$');
        let (Some("sha256"), Some(salt), Some(digest), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(InvalidSecretHash);
        };
        let salt = URL_SAFE_NO_PAD.decode(salt).map_err(|_| InvalidSecretHash)?;
        let digest = URL_SAFE_NO_PAD.decode(digest).map_err(|_| InvalidSecretHash)?;
        if digest.len() != 32 || salt.is_empty() {
            return Err(InvalidSecretHash);
        }
        Ok(Self { salt, digest })
    }
}

impl From<SecretHash> for String {
    fn from(value: SecretHash) -> Self {
        format!("sha256${}${}", URL_SAFE_NO_PAD.encode(&value.salt), URL_SAFE_NO_PAD.encode(&value.digest))
    }
}

/// The app a client is (OneWelcome's app attributes): which mobile or desktop app, on which platform, at which
/// version. Optional metadata, each part validated on registration ([`AppAttributes::new`]); copied into the grant
/// of every token issued to the client, so introspection returns them from its one read, as registered when the
/// token was issued, to resource servers whose profile has `app`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppAttributes {
    /// The app's identifier (a bundle or package id such as `com.example.orders`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_identifier: Option<String>,
    /// Its platform (`ios`, `android`, `web`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_platform: Option<String>,
    /// Its version (`1.0`, `2.14.3-beta+42`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
}

/// An app attribute that breaks its rule ([`AppAttributes::new`]).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{name} must be 1 to {max} characters of {charset}")]
pub struct InvalidAppAttribute {
    /// The attribute.
    pub name: &'static str,
    /// Its longest length.
    pub max: usize,
    /// The characters it may hold, in words.
    pub charset: &'static str,
}

impl AppAttributes {
    /// The longest app identifier: a reverse-DNS bundle id fits with room to spare.
    pub const MAX_IDENTIFIER_LEN: usize = 255;
    /// The longest platform name.
    pub const MAX_PLATFORM_LEN: usize = 32;
    /// The longest version.
    pub const MAX_VERSION_LEN: usize = 64;

    /// Validates each part given: an identifier of ASCII letters, digits, `.`, `-` and `_` (1 to 255, a bundle or
    /// package id); a platform of ASCII letters, digits, `-` and `_` (1 to 32); a version of ASCII letters,
    /// digits, `.`, `-`, `_` and `+` (1 to 64, SemVer's alphabet). Nothing else reaches an introspection answer.
    pub fn new(
        app_identifier: Option<String>,
        app_platform: Option<String>,
        app_version: Option<String>,
    ) -> Result<Self, InvalidAppAttribute> {
        fn check(
            value: Option<String>,
            name: &'static str,
            max: usize,
            charset: &'static str,
            extra: &[u8],
        ) -> Result<Option<String>, InvalidAppAttribute> {
            match value {
                Some(v)
                    if (1..=max).contains(&v.len())
                        && v.bytes().all(|b| b.is_ascii_alphanumeric() || extra.contains(&b)) =>
                {
                    Ok(Some(v))
                }
                Some(_) => Err(InvalidAppAttribute { name, max, charset }),
                None => Ok(None),
            }
        }
        Ok(Self {
            app_identifier: check(
                app_identifier,
                "app_identifier",
                Self::MAX_IDENTIFIER_LEN,
                "ASCII letters, digits, '.', '-' and '_'",
                b".-_",
            )?,
            app_platform: check(
                app_platform,
                "app_platform",
                Self::MAX_PLATFORM_LEN,
                "ASCII letters, digits, '-' and '_'",
                b"-_",
            )?,
            app_version: check(
                app_version,
                "app_version",
                Self::MAX_VERSION_LEN,
                "ASCII letters, digits, '.', '-', '_' and '+'",
                b".-_+",
            )?,
        })
    }

    /// Whether no part is set.
    pub fn is_empty(&self) -> bool {
        self.app_identifier.is_none() && self.app_platform.is_none() && self.app_version.is_none()
    }
}

/// A registered confidential client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    /// The tenant the client belongs to; it authenticates nowhere else.
    pub tenant: TenantId,
    /// The client identifier.
    pub client_id: ClientId,
    /// How it authenticates: its secret's hash (the secret itself is never stored), or its public keys.
    pub authentication: ClientAuthentication,
    /// Every scope the client may be granted.
    pub scopes: ScopeSet,
    /// What a request without `scope` is granted (RFC 6749 §3.3); a subset of `scopes`.
    pub default_scopes: ScopeSet,
    /// The grant types the client may use.
    pub grant_types: BTreeSet<GrantType>,
    /// How its access tokens are encoded.
    pub access_token_format: TokenFormat,
    /// Access-token lifetime in seconds.
    pub access_token_ttl_secs: u32,
    /// Refresh-token lifetime in seconds (user tokens only).
    pub refresh_token_ttl_secs: u32,
    /// Whether the client may call the introspection endpoint (a resource server).
    pub may_introspect: bool,
    /// Audiences the client may request with `resource` (RFC 8707); the first is the default `aud`.
    /// When empty, tokens are issued for the issuer itself.
    pub audiences: Vec<String>,
    /// A disabled client cannot authenticate.
    pub disabled: bool,
    /// What introspection tells this client beyond the RFC 7662 core members.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub introspection_profile: crate::domain::profile::Profile,
    /// Whether a refresh retires the family's earlier access tokens (WSO2: a refreshed token is INACTIVE). On by
    /// default; off, they stay active until they expire, and a request in flight with one never fails for it.
    #[serde(default = "enabled")]
    pub revoke_access_on_refresh: bool,
    /// The app it is, when registered as one (OneWelcome's `app_identifier`, `app_platform`, `app_version`).
    #[serde(default, skip_serializing_if = "AppAttributes::is_empty")]
    pub app: AppAttributes,
    /// Whether every token request of this client must carry a DPoP proof (RFC 9449 §5.2
    /// `dpop_bound_access_tokens`), so that all its access tokens are DPoP-bound. Off by default: a proof, when
    /// sent, binds the token anyway.
    #[serde(default)]
    pub require_dpop: bool,
    /// Whether its access tokens are bound to the client certificate of the token request's mutual-TLS connection
    /// (RFC 8705 §3.4 `tls_client_certificate_bound_access_tokens`): each token request must then come over mutual
    /// TLS, and its access tokens carry `cnf.x5t#S256`. Independent of how the client authenticates (§3: a
    /// client with a secret may still hold a certificate). Off by default; never together with `require_dpop`,
    /// as a token is bound to one thing.
    #[serde(default)]
    pub certificate_bound_access_tokens: bool,
}

fn enabled() -> bool {
    true
}

/// Why a scope request was refused (RFC 6749 §5.2 `invalid_scope`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScopeRefusal {
    /// The request asked for a scope the client is not allowed.
    #[error("the requested scope exceeds what the client is allowed")]
    NotAllowed,
    /// The request omitted `scope` and the client has no default.
    #[error("no scope was requested and the client has no default scope")]
    NoDefault,
}

/// How a client authenticates at the token, introspection and revocation endpoints: one method per client, as
/// RFC 7591 §2 registers one `token_endpoint_auth_method`. A client with keys or a certificate never has a secret,
/// and a client with a secret cannot sign in with an assertion or a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientAuthentication {
    /// A shared secret, presented with HTTP Basic (`client_secret_basic`) or in the form (`client_secret_post`),
    /// whichever the client likes (RFC 6749 §2.3.1): what every client registered before the method was recorded
    /// does, and still may.
    Secret(SecretHash),
    /// `private_key_jwt` (RFC 7523 §2.2, OpenID Connect Core §9): a short-lived JWT signed with one of the keys
    /// of this JWK Set.
    PrivateKeyJwt(Jwks),
    /// `tls_client_auth` (RFC 8705 §2.1): mutual TLS with a certificate that chains to a CA the TLS terminator
    /// trusts (API Gateway's truststore) and names this client, as registered.
    TlsClientAuth(CertificateSubject),
    /// `self_signed_tls_client_auth` (RFC 8705 §2.2): mutual TLS with a certificate registered in this JWK Set
    /// (the first certificate of a key's `x5c`), self-signed or not.
    SelfSignedTlsClientAuth(Jwks),
}

/// How a `tls_client_auth` client's certificate names it (RFC 8705 §2.1.2): exactly one of these, matched against
/// the certificate the client presents in the handshake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CertificateSubject {
    /// `tls_client_auth_subject_dn`: the certificate's subject DN, in the RFC 4514 string form, as parsed and
    /// rendered back (so `CN=a, O=b` and `CN=a,O=b` are one registration). Compared ignoring ASCII case, as X.520
    /// compares the attributes of a name (caseIgnoreMatch).
    SubjectDn(String),
    /// `tls_client_auth_san_dns`: a `dNSName` subjectAltName entry, compared ignoring ASCII case (RFC 4343).
    SanDns(String),
    /// `tls_client_auth_san_uri`: a `uniformResourceIdentifier` entry, compared exactly.
    SanUri(String),
    /// `tls_client_auth_san_ip`: an `iPAddress` entry, IPv4 or IPv6, compared as an address.
    SanIp(std::net::IpAddr),
    /// `tls_client_auth_san_email`: an `rfc822Name` entry, compared exactly.
    SanEmail(String),
}

impl CertificateSubject {
    /// The RFC 8705 §2.1.2 client metadata name of this kind of match.
    pub const fn metadata_name(&self) -> &'static str {
        match self {
            Self::SubjectDn(_) => "tls_client_auth_subject_dn",
            Self::SanDns(_) => "tls_client_auth_san_dns",
            Self::SanUri(_) => "tls_client_auth_san_uri",
            Self::SanIp(_) => "tls_client_auth_san_ip",
            Self::SanEmail(_) => "tls_client_auth_san_email",
        }
    }

    /// The registered value, as text.
    pub fn value(&self) -> String {
        match self {
            Self::SubjectDn(v) | Self::SanDns(v) | Self::SanUri(v) | Self::SanEmail(v) => v.clone(),
            Self::SanIp(ip) => ip.to_string(),
        }
    }
}

/// The RFC 7591 §2 `token_endpoint_auth_method` a client is registered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TokenEndpointAuthMethod {
    /// `client_secret_basic`: the secret in an HTTP Basic header (RFC 6749 §2.3.1).
    #[serde(rename = "client_secret_basic")]
    ClientSecretBasic,
    /// `client_secret_post`: the secret in the form (RFC 6749 §2.3.1).
    #[serde(rename = "client_secret_post")]
    ClientSecretPost,
    /// `private_key_jwt`: a JWT assertion signed with the client's key (RFC 7523 §2.2).
    #[serde(rename = "private_key_jwt")]
    PrivateKeyJwt,
    /// `tls_client_auth`: mutual TLS with a CA-issued certificate naming the client (RFC 8705 §2.1).
    #[serde(rename = "tls_client_auth")]
    TlsClientAuth,
    /// `self_signed_tls_client_auth`: mutual TLS with a certificate registered in the client's JWKS (RFC 8705 §2.2).
    #[serde(rename = "self_signed_tls_client_auth")]
    SelfSignedTlsClientAuth,
}

impl TokenEndpointAuthMethod {
    /// Every method, in the order the metadata document lists them (RFC 8414 §2).
    pub const ALL: [Self; 5] = [
        Self::ClientSecretBasic,
        Self::ClientSecretPost,
        Self::PrivateKeyJwt,
        Self::TlsClientAuth,
        Self::SelfSignedTlsClientAuth,
    ];

    /// The RFC 7591 / RFC 8414 name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::TlsClientAuth => "tls_client_auth",
            Self::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
        }
    }

    /// Whether the method is mutual TLS (RFC 8705 §2): the credential is the connection's client certificate.
    pub const fn is_mutual_tls(self) -> bool {
        matches!(self, Self::TlsClientAuth | Self::SelfSignedTlsClientAuth)
    }

    /// Parses an RFC 7591 name; `None` for one Tessera does not support.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }
}

impl ClientAuthentication {
    /// The methods this client may present: both secret methods for a secret, the one method otherwise.
    pub fn methods(&self) -> &'static [TokenEndpointAuthMethod] {
        match self {
            Self::Secret(_) => &[TokenEndpointAuthMethod::ClientSecretBasic, TokenEndpointAuthMethod::ClientSecretPost],
            Self::PrivateKeyJwt(_) => &[TokenEndpointAuthMethod::PrivateKeyJwt],
            Self::TlsClientAuth(_) => &[TokenEndpointAuthMethod::TlsClientAuth],
            Self::SelfSignedTlsClientAuth(_) => &[TokenEndpointAuthMethod::SelfSignedTlsClientAuth],
        }
    }

    /// Whether the client may present `method`.
    pub fn accepts(&self, method: TokenEndpointAuthMethod) -> bool {
        self.methods().contains(&method)
    }
}

impl Client {
    /// Whether `secret` authenticates this client: it is enabled, authenticates with a secret, and the secret
    /// matches. A client with keys spends the same hashing work and never matches.
    pub fn authenticate(&self, secret: &str) -> bool {
        // Verify before looking at `disabled` so both paths cost the same.
        let matches = match &self.authentication {
            ClientAuthentication::Secret(hash) => hash.verify(secret),
            ClientAuthentication::PrivateKeyJwt(_)
            | ClientAuthentication::TlsClientAuth(_)
            | ClientAuthentication::SelfSignedTlsClientAuth(_) => SecretHash::verify_nothing(secret),
        };
        matches & !self.disabled
    }

    /// Whether the client may use `grant`.
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// The scope to grant for a request: the requested scope when it is within the allowed set, the
    /// client's default scope when none was requested (RFC 6749 §3.3).
    pub fn grant_scope(&self, requested: Option<ScopeSet>) -> Result<ScopeSet, ScopeRefusal> {
        match requested {
            Some(requested) if requested.is_subset(&self.scopes) => Ok(requested),
            Some(_) => Err(ScopeRefusal::NotAllowed),
            None if self.default_scopes.is_empty() && !self.scopes.is_empty() => Err(ScopeRefusal::NoDefault),
            None => Ok(self.default_scopes.clone()),
        }
    }

    /// The `aud` of a token for the requested targets (RFC 8707 `resource` and RFC 8693 `audience` values,
    /// already de-duplicated): all of them when the client may request each, or the client's default (its first
    /// audience, else the issuer) when none was requested. `None` when one target is not the client's.
    pub fn audience_for(&self, targets: &[String], issuer: &str) -> Option<Vec<String>> {
        if targets.is_empty() {
            return Some(vec![self.audiences.first().cloned().unwrap_or_else(|| issuer.to_owned())]);
        }
        targets.iter().all(|t| self.audiences.contains(t)).then(|| targets.to_vec())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn client(id: &str, secret: &str) -> Client {
        Client {
            tenant: TenantId::default(),
            client_id: ClientId::parse(id).unwrap(),
            authentication: ClientAuthentication::Secret(SecretHash::new(secret, [7; 16])),
            scopes: ScopeSet::parse("read write").unwrap(),
            default_scopes: ScopeSet::parse("read").unwrap(),
            grant_types: [GrantType::ClientCredentials].into(),
            access_token_format: TokenFormat::Jwt,
            access_token_ttl_secs: 300,
            refresh_token_ttl_secs: 86_400,
            may_introspect: false,
            audiences: vec![],
            revoke_access_on_refresh: true,
            disabled: false,
            introspection_profile: Default::default(),
            app: AppAttributes::default(),
            require_dpop: false,
            certificate_bound_access_tokens: false,
        }
    }

    #[test]
    fn app_attributes_are_validated() {
        let ok =
            AppAttributes::new(Some("com.example.orders".into()), Some("ios".into()), Some("2.14.3-beta+42".into()));
        assert_eq!(ok.unwrap().app_version.as_deref(), Some("2.14.3-beta+42"));
        assert!(AppAttributes::new(None, None, None).unwrap().is_empty());
        for (id, platform, version, name) in [
            (Some(""), None, None, "app_identifier"),
            (Some("com.example/orders"), None, None, "app_identifier"),
            (Some(&*"a".repeat(256)), None, None, "app_identifier"),
            (None, Some("i os"), None, "app_platform"),
            (None, Some(&*"x".repeat(33)), None, "app_platform"),
            (None, None, Some("1.0\n"), "app_version"),
            (None, None, Some("é"), "app_version"),
        ] {
            let err = AppAttributes::new(id.map(Into::into), platform.map(Into::into), version.map(Into::into))
                .expect_err(name);
            assert_eq!(err.name, name);
            assert!(err.to_string().starts_with(&format!("{name} must be 1 to ")), "{err}");
        }
    }

    #[test]
    fn secret_hash_round_trips_and_verifies() {
        let hash = SecretHash::new("s3cret", [1; 16]);
        let rendered = String::from(hash.clone());
        assert!(rendered.starts_with("sha256$"));
        let parsed = SecretHash::try_from(rendered).unwrap();
        assert!(parsed.verify("s3cret"));
        assert!(!parsed.verify("s3cret "));
        assert!(!parsed.verify(""));
        assert!(SecretHash::try_from("md5$a$b".to_owned()).is_err());
        assert!(!format!("{hash:?}").contains("s3cret"));
    }

    #[test]
    fn disabled_client_does_not_authenticate() {
        let mut c = client("svc", "pw");
        assert!(c.authenticate("pw"));
        c.disabled = true;
        assert!(!c.authenticate("pw"));
    }

    #[test]
    fn a_client_with_keys_never_authenticates_with_a_secret() {
        let mut c = client("svc", "pw");
        assert!(c.authentication.accepts(TokenEndpointAuthMethod::ClientSecretPost));
        assert!(!c.authentication.accepts(TokenEndpointAuthMethod::PrivateKeyJwt));
        c.authentication = ClientAuthentication::PrivateKeyJwt(Jwks::Inline(r#"{"keys":[]}"#.into()));
        assert!(!c.authenticate("pw"));
        assert!(!c.authenticate(""));
        assert_eq!(c.authentication.methods(), [TokenEndpointAuthMethod::PrivateKeyJwt]);
        for method in TokenEndpointAuthMethod::ALL {
            assert_eq!(TokenEndpointAuthMethod::parse(method.as_str()), Some(method));
        }
        assert_eq!(TokenEndpointAuthMethod::parse("none"), None);
        assert_eq!(TokenEndpointAuthMethod::parse("client_secret_jwt"), None);
    }

    #[test]
    fn scope_narrowing_follows_rfc6749_3_3() {
        let c = client("svc", "pw");
        assert_eq!(c.grant_scope(None).unwrap().to_string(), "read");
        assert_eq!(c.grant_scope(Some(ScopeSet::parse("write").unwrap())).unwrap().to_string(), "write");
        assert_eq!(c.grant_scope(Some(ScopeSet::parse("admin").unwrap())), Err(ScopeRefusal::NotAllowed));
    }

    #[test]
    fn audience_defaults_to_issuer_and_resource_must_be_allowed() {
        let mut c = client("svc", "pw");
        let list = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(c.audience_for(&[], "https://iss"), Some(list(&["https://iss"])));
        c.audiences = list(&["https://api", "https://other"]);
        assert_eq!(c.audience_for(&[], "https://iss"), Some(list(&["https://api"])));
        assert_eq!(c.audience_for(&list(&["https://api"]), "https://iss"), Some(list(&["https://api"])));
        let both = list(&["https://other", "https://api"]);
        assert_eq!(c.audience_for(&both, "https://iss"), Some(both.clone()));
        assert_eq!(c.audience_for(&list(&["https://api", "https://third"]), "https://iss"), None);
    }

    #[test]
    fn grant_types_parse_by_wire_name() {
        assert_eq!(GrantType::parse("client_credentials"), Some(GrantType::ClientCredentials));
        assert_eq!(GrantType::parse("password"), None);
    }
}

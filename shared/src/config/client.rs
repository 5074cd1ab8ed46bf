//! A `[[clients]]` entry: its schema, its defaults and limits, and its validation into a domain [`Client`].

use serde::Deserialize;

use super::ConfigError;
use crate::domain::client::{
    AppAttributes, CertificateSubject, Client, ClientAuthentication, ClientId, GrantType, SecretHash,
    TokenEndpointAuthMethod, TokenFormat,
};
use crate::domain::jwks::Jwks;
use crate::domain::profile::ProfileAttribute;
use crate::domain::scope::ScopeSet;
use crate::domain::tenant::TenantId;
use crate::entropy::{Entropy, random_bytes};

/// The longest access-token lifetime accepted, one day: long-lived access tokens defeat revocation.
pub const MAX_ACCESS_TOKEN_TTL_SECS: u32 = 86_400;
/// The longest refresh-token lifetime accepted, 90 days.
pub const MAX_REFRESH_TOKEN_TTL_SECS: u32 = crate::domain::revocation::MAX_TOKEN_LIFETIME_SECS;
/// Secrets shorter than this are accepted from config files with a warning.
pub const RECOMMENDED_SECRET_LEN: usize = 32;
/// The largest inline JWK Set a `private_key_jwt` client may register: it is read with the client on every
/// request, so it stays a small part of one read unit's worth. Larger sets belong at a `jwks_uri`.
pub const MAX_CLIENT_JWKS_BYTES: usize = 8 * 1024;

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
    /// How it authenticates (RFC 7591 §2): `client_secret_basic` or `client_secret_post` (the default; either
    /// way of presenting the secret is accepted), `private_key_jwt` (RFC 7523 §2.2: keys, no secret),
    /// `tls_client_auth` (RFC 8705 §2.1: a CA-issued certificate, named by one `tls_client_auth_*` entry) or
    /// `self_signed_tls_client_auth` (RFC 8705 §2.2: a certificate in the client's JWKS).
    pub token_endpoint_auth_method: Option<TokenEndpointAuthMethod>,
    /// A `tls_client_auth` client's certificate subject DN (RFC 8705 §2.1.2, the RFC 4514 string form).
    pub tls_client_auth_subject_dn: Option<String>,
    /// ... or a `dNSName` in its subjectAltName.
    pub tls_client_auth_san_dns: Option<String>,
    /// ... or a `uniformResourceIdentifier` in its subjectAltName.
    pub tls_client_auth_san_uri: Option<String>,
    /// ... or an `iPAddress` in its subjectAltName.
    pub tls_client_auth_san_ip: Option<String>,
    /// ... or an `rfc822Name` in its subjectAltName.
    pub tls_client_auth_san_email: Option<String>,
    /// A `private_key_jwt` client's public keys, or a `self_signed_tls_client_auth` client's certificates (each
    /// the first of a key's `x5c`): a JWK Set inline.
    pub jwks: Option<String>,
    /// ... or a file holding it (read at load, then registered inline).
    pub jwks_file: Option<std::path::PathBuf>,
    /// ... or its URL, fetched and cached as a trusted issuer's is (https; plain http only to a loopback host).
    pub jwks_uri: Option<String>,
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
    /// Whether a refresh retires the family's earlier access tokens (WSO2's "INACTIVE: refreshed"); on unless
    /// set to `false`.
    #[serde(default = "default_revoke_access_on_refresh")]
    pub revoke_access_on_refresh: bool,
    /// OneWelcome's app attributes: the app's identifier (a bundle or package id), platform and version; each
    /// optional, validated ([`AppAttributes::new`]).
    pub app_identifier: Option<String>,
    /// The app's platform (`ios`, `android`, ...).
    pub app_platform: Option<String>,
    /// The app's version.
    pub app_version: Option<String>,
    /// RFC 9449 §5.2: every token request of this client must carry a DPoP proof.
    #[serde(default)]
    pub require_dpop: bool,
    /// RFC 8705 §3.4: every token request of this client must come over mutual TLS, and its access tokens are
    /// bound to the certificate (`cnf.x5t#S256`). Not with `require_dpop`.
    #[serde(default)]
    pub tls_client_certificate_bound_access_tokens: bool,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("tenant", &self.tenant)
            .field("client_id", &self.client_id)
            .field("token_endpoint_auth_method", &self.token_endpoint_auth_method)
            .field("scopes", &self.scopes)
            .field("grant_types", &self.grant_types)
            .field("access_token_format", &self.access_token_format)
            .field("may_introspect", &self.may_introspect)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// A client's grant types when its entry names none.
pub const DEFAULT_GRANT_TYPES: &[GrantType] = &[GrantType::ClientCredentials];
/// A client's access-token lifetime when its entry names none: 5 minutes.
pub const DEFAULT_ACCESS_TOKEN_TTL_SECS: u32 = 300;
/// A client's refresh-token lifetime when its entry names none: 30 days.
pub const DEFAULT_REFRESH_TOKEN_TTL_SECS: u32 = 30 * 86_400;

fn default_revoke_access_on_refresh() -> bool {
    true
}
fn default_grant_types() -> Vec<GrantType> {
    DEFAULT_GRANT_TYPES.to_vec()
}
fn default_access_ttl() -> u32 {
    DEFAULT_ACCESS_TOKEN_TTL_SECS
}
fn default_refresh_ttl() -> u32 {
    DEFAULT_REFRESH_TOKEN_TTL_SECS
}

/// Checks a `private_key_jwt` client's keys: an inline set parses as a JWK Set, holds at least one usable
/// asymmetric public key and stays within [`MAX_CLIENT_JWKS_BYTES`]; a URL follows the JWKS URL rule.
pub fn client_jwks(jwks: Jwks) -> Result<Jwks, String> {
    use crate::jwt::client_assertion::CLIENT_ASSERTION_ALGORITHMS;
    use crate::jwt::jwks::{KeySet, jwks_uri_allowed};
    match jwks {
        Jwks::Inline(text) => {
            let text = text.trim().to_owned();
            if text.len() > MAX_CLIENT_JWKS_BYTES {
                return Err(format!("jwks is over {MAX_CLIENT_JWKS_BYTES} bytes; publish it at a jwks_uri"));
            }
            let value: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| format!("jwks is not a JWK Set: {e}"))?;
            // RFC 7518 §6.2.2 and §6.3.2, RFC 8037 §2: a private key has `d`.
            if value["keys"].as_array().is_some_and(|keys| keys.iter().any(|k| k.get("d").is_some())) {
                return Err("jwks holds a private key: register the public keys only".into());
            }
            let set: jsonwebtoken::jwk::JwkSet =
                serde_json::from_value(value).map_err(|e| format!("jwks is not a JWK Set: {e}"))?;
            if KeySet::parse(&set, &CLIENT_ASSERTION_ALGORITHMS).is_empty() {
                return Err("jwks has no usable asymmetric public key (RSA, EC or OKP, for signing)".into());
            }
            Ok(Jwks::Inline(text))
        }
        Jwks::Uri(uri) if jwks_uri_allowed(&uri) => Ok(Jwks::Uri(uri)),
        Jwks::Uri(_) => Err("jwks_uri must be https (plain http only on a loopback address)".into()),
    }
}

/// Checks a `self_signed_tls_client_auth` client's keys: as [`client_jwks`], and an inline set registers at least
/// one certificate (the first of a key's `x5c`) that parses as X.509.
pub fn client_certificates_jwks(jwks: Jwks) -> Result<Jwks, String> {
    use base64::Engine;
    let jwks = client_jwks(jwks)?;
    if let Jwks::Inline(text) = &jwks {
        let set: jsonwebtoken::jwk::JwkSet = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let certificates = set.keys.iter().filter_map(|jwk| jwk.common.x509_chain.as_ref()?.first().cloned());
        let mut usable = 0;
        for b64 in certificates {
            let der = base64::engine::general_purpose::STANDARD
                .decode(&b64)
                .map_err(|_| "an x5c certificate is not standard base64 (RFC 7517 section 4.7)".to_owned())?;
            crate::wire::client_cert::ClientCertificate::from_der(&der).map_err(|e| format!("an x5c {e}"))?;
            usable += 1;
        }
        if usable == 0 {
            return Err("a self_signed_tls_client_auth client's jwks registers its certificates: no key has x5c".into());
        }
    }
    Ok(jwks)
}

/// The one `tls_client_auth_*` entry of a `tls_client_auth` client (RFC 8705 §2.1.2: exactly one), validated:
/// a DN that parses as RFC 4514, a DNS name, an absolute URI, an IP address, an email address.
fn certificate_subject(entry: &ClientConfig) -> Result<CertificateSubject, String> {
    let given = [
        &entry.tls_client_auth_subject_dn,
        &entry.tls_client_auth_san_dns,
        &entry.tls_client_auth_san_uri,
        &entry.tls_client_auth_san_ip,
        &entry.tls_client_auth_san_email,
    ];
    let exactly_one = "set exactly one of tls_client_auth_subject_dn, tls_client_auth_san_dns, \
                       tls_client_auth_san_uri, tls_client_auth_san_ip and tls_client_auth_san_email";
    if given.iter().filter(|v| v.is_some()).count() != 1 {
        return Err(exactly_one.into());
    }
    let printable = |v: &str| !v.is_empty() && v.len() <= 1024 && !v.chars().any(char::is_control);
    if let Some(dn) = &entry.tls_client_auth_subject_dn {
        return crate::wire::client_cert::canonical_subject_dn(dn)
            .filter(|dn| printable(dn))
            .map(CertificateSubject::SubjectDn)
            .ok_or_else(|| "tls_client_auth_subject_dn is not a distinguished name in RFC 4514 form".into());
    }
    if let Some(dns) = &entry.tls_client_auth_san_dns {
        let valid = printable(dns) && dns.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.*".contains(&b));
        return valid
            .then(|| CertificateSubject::SanDns(dns.clone()))
            .ok_or_else(|| "tls_client_auth_san_dns is not a DNS name".into());
    }
    if let Some(uri) = &entry.tls_client_auth_san_uri {
        let valid = printable(uri) && url::Url::parse(uri).is_ok();
        return valid
            .then(|| CertificateSubject::SanUri(uri.clone()))
            .ok_or_else(|| "tls_client_auth_san_uri is not an absolute URI".into());
    }
    if let Some(ip) = &entry.tls_client_auth_san_ip {
        return ip
            .parse()
            .map(CertificateSubject::SanIp)
            .map_err(|_| "tls_client_auth_san_ip is not an IP address".into());
    }
    match &entry.tls_client_auth_san_email {
        Some(email) if printable(email) && email.contains('@') => Ok(CertificateSubject::SanEmail(email.clone())),
        Some(_) => Err("tls_client_auth_san_email is not an email address".into()),
        None => Err(exactly_one.into()),
    }
}

impl ClientConfig {
    /// Whether any `tls_client_auth_*` entry is set.
    fn names_a_certificate_subject(&self) -> bool {
        self.tls_client_auth_subject_dn.is_some()
            || self.tls_client_auth_san_dns.is_some()
            || self.tls_client_auth_san_uri.is_some()
            || self.tls_client_auth_san_ip.is_some()
            || self.tls_client_auth_san_email.is_some()
    }

    /// The secret's hash: the plain secret's, hashed now, or the hash given.
    fn secret_hash(&self, entropy: &dyn Entropy) -> Result<SecretHash, ConfigError> {
        let id = &self.client_id;
        let invalid = |what: &str| ConfigError::Invalid(format!("client {id:?}: {what}"));
        match (&self.client_secret, &self.client_secret_hash) {
            (Some(secret), None) => {
                if secret.len() < RECOMMENDED_SECRET_LEN {
                    tracing::warn!(client_id = %id, "client secret is shorter than {RECOMMENDED_SECRET_LEN} characters");
                }
                Ok(SecretHash::new(secret, random_bytes(entropy)?))
            }
            (None, Some(hash)) => SecretHash::try_from(hash.clone()).map_err(|e| invalid(&e.to_string())),
            _ => Err(invalid("set exactly one of client_secret and client_secret_hash")),
        }
    }

    /// Validates the entry and builds the client.
    pub fn to_client(&self, entropy: &dyn Entropy) -> Result<Client, ConfigError> {
        let id = &self.client_id;
        let invalid = |what: &str| ConfigError::Invalid(format!("client {id:?}: {what}"));
        let client_id = ClientId::parse(id).map_err(|e| invalid(&e.to_string()))?;
        let has_secret = self.client_secret.is_some() || self.client_secret_hash.is_some();
        let has_keys = self.jwks.is_some() || self.jwks_file.is_some() || self.jwks_uri.is_some();
        let method = self.token_endpoint_auth_method.unwrap_or(TokenEndpointAuthMethod::ClientSecretBasic);
        if self.names_a_certificate_subject() && method != TokenEndpointAuthMethod::TlsClientAuth {
            return Err(invalid("tls_client_auth_* entries are for a tls_client_auth client only"));
        }
        let keys = || {
            super::registered_jwks(&self.jwks, &self.jwks_file, &self.jwks_uri)
                .map_err(|e| e.unwrap_or_else(|| invalid("set exactly one of jwks, jwks_file and jwks_uri")))?
                .ok_or_else(|| {
                    invalid(&format!("a {} client needs one of jwks, jwks_file and jwks_uri", method.as_str()))
                })
        };
        let authentication = match method {
            _ if has_secret
                && method != TokenEndpointAuthMethod::ClientSecretBasic
                && method != TokenEndpointAuthMethod::ClientSecretPost =>
            {
                return Err(invalid(&format!(
                    "a {} client authenticates by key or certificate, never a secret",
                    method.as_str()
                )));
            }
            TokenEndpointAuthMethod::PrivateKeyJwt => {
                ClientAuthentication::PrivateKeyJwt(client_jwks(keys()?).map_err(|what| invalid(&what))?)
            }
            TokenEndpointAuthMethod::SelfSignedTlsClientAuth => ClientAuthentication::SelfSignedTlsClientAuth(
                client_certificates_jwks(keys()?).map_err(|what| invalid(&what))?,
            ),
            TokenEndpointAuthMethod::TlsClientAuth => {
                if has_keys {
                    return Err(invalid("a tls_client_auth client is named by its certificate, not by keys"));
                }
                ClientAuthentication::TlsClientAuth(certificate_subject(self).map_err(|what| invalid(&what))?)
            }
            TokenEndpointAuthMethod::ClientSecretBasic | TokenEndpointAuthMethod::ClientSecretPost => {
                if has_keys {
                    return Err(invalid(
                        "keys (jwks, jwks_file, jwks_uri) are for private_key_jwt and self_signed_tls_client_auth clients",
                    ));
                }
                ClientAuthentication::Secret(self.secret_hash(entropy)?)
            }
        };
        if self.require_dpop && self.tls_client_certificate_bound_access_tokens {
            return Err(invalid(
                "require_dpop and tls_client_certificate_bound_access_tokens exclude each other: a token is bound to one thing",
            ));
        }
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
        let app = AppAttributes::new(self.app_identifier.clone(), self.app_platform.clone(), self.app_version.clone())
            .map_err(|e| invalid(&e.to_string()))?;
        Ok(Client {
            tenant: self.tenant.clone(),
            client_id,
            authentication,
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
            revoke_access_on_refresh: self.revoke_access_on_refresh,
            app,
            require_dpop: self.require_dpop,
            certificate_bound_access_tokens: self.tls_client_certificate_bound_access_tokens,
        })
    }
}

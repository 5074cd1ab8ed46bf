//! An `[[ssf_transmitters]]` entry: an OpenID Shared Signals transmitter that may push Security Event Tokens
//! (RFC 8935) to a tenant's `/ssf/events`, as the configuration file and `tessera transmitters import` read it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ConfigError;
use crate::domain::client::SecretHash;
use crate::domain::tenant::TenantId;
use crate::entropy::{Entropy, random_bytes};
use crate::store::RegisteredTransmitter;

/// The shortest bearer token a transmitter may present: the token is its only credential, and it is hashed with
/// one fast SHA-256 like a client secret, so it must carry enough entropy of its own.
pub const MIN_AUTHORIZATION_LEN: usize = 32;

/// One transmitter. `Debug` leaves the authorization out.
///
/// ```toml
/// [[ssf_transmitters]]
/// issuer = "https://ssf.example.com/"             # the exact `iss` of its SETs
/// audience = "https://tessera.example.com/ssf/events"   # the `aud` its SETs must name
/// algorithms = ["ES256"]                          # asymmetric only: never none, never HS*
/// jwks_uri = "https://ssf.example.com/jwks"       # or jwks_file, or jwks inline
/// authorization_hash = "sha256$…$…"               # or authorization = "…" (plain text, hashed at load; local use)
/// subject_issuers = ["https://example.eu.auth0.com/"]   # trusted issuers whose users its events revoke
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsfTransmitterConfig {
    /// The tenant it pushes to; `default` when omitted.
    #[serde(default)]
    pub tenant: TenantId,
    /// The exact `iss` of its SETs.
    pub issuer: String,
    /// The `aud` its SETs must name (RFC 8417 §2.2): this receiver, as the stream was configured.
    pub audience: String,
    /// Allowed algorithms.
    pub algorithms: Vec<String>,
    /// Its JWKS inline, as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<String>,
    /// A file holding its JWKS, relative to the config file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_file: Option<PathBuf>,
    /// Its JWKS URL (https), read through the trusted issuers' JWKS cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The bearer token it presents in `Authorization`, in plain text (hashed at load; local use).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<String>,
    /// The hash of that token (`sha256$salt$digest`, as `tessera transmitters import` prints it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_hash: Option<String>,
    /// The tenant's trusted issuers whose users its events may revoke; the first is the one an identifier that
    /// names no issuer (`email`, `phone_number`, `opaque`) is read against. Default: its own issuer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_issuers: Vec<String>,
}

impl std::fmt::Debug for SsfTransmitterConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsfTransmitterConfig")
            .field("tenant", &self.tenant)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("subject_issuers", &self.subject_issuers)
            .finish_non_exhaustive()
    }
}

/// The table's transmitter and the configuration entry, converted here and nowhere else.
impl From<&RegisteredTransmitter> for SsfTransmitterConfig {
    fn from(registered: &RegisteredTransmitter) -> Self {
        Self {
            tenant: registered.tenant.clone(),
            issuer: registered.issuer.clone(),
            audience: registered.audience.clone(),
            algorithms: registered.algorithms.clone(),
            jwks: registered.jwks.inline().map(str::to_owned),
            jwks_file: None,
            jwks_uri: registered.jwks.uri().map(str::to_owned),
            authorization: None,
            authorization_hash: Some(registered.authorization_hash.clone().into()),
            subject_issuers: registered.subject_issuers.clone(),
        }
    }
}

impl SsfTransmitterConfig {
    /// The entry as the table registers it and the receiver serves it: a `jwks_file` read into the inline JWKS,
    /// a plain-text authorization hashed with a fresh salt, the subject issuers defaulted to its own.
    pub fn to_registered(&self, entropy: &dyn Entropy) -> Result<RegisteredTransmitter, ConfigError> {
        if self.issuer.trim().is_empty() || self.audience.trim().is_empty() {
            return Err(self.invalid("issuer and audience must not be empty".into()));
        }
        let one = || self.invalid("set exactly one of jwks, jwks_file and jwks_uri".into());
        let jwks = super::registered_jwks(&self.jwks, &self.jwks_file, &self.jwks_uri)
            .map_err(|e| e.unwrap_or_else(one))?
            .ok_or_else(one)?;
        let authorization_hash = match (&self.authorization, &self.authorization_hash) {
            (Some(token), None) if token.len() < MIN_AUTHORIZATION_LEN => {
                return Err(self.invalid(format!("authorization must be at least {MIN_AUTHORIZATION_LEN} characters")));
            }
            (Some(token), None) => SecretHash::new(token, random_bytes(entropy)?),
            (None, Some(hash)) => SecretHash::try_from(hash.clone()).map_err(|e| self.invalid(e.to_string()))?,
            _ => return Err(self.invalid("set exactly one of authorization and authorization_hash".into())),
        };
        let subject_issuers = match self.subject_issuers.is_empty() {
            true => vec![self.issuer.clone()],
            false => self.subject_issuers.clone(),
        };
        Ok(RegisteredTransmitter {
            tenant: self.tenant.clone(),
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            algorithms: self.algorithms.clone(),
            jwks,
            authorization_hash,
            subject_issuers,
        })
    }

    fn invalid(&self, what: String) -> ConfigError {
        ConfigError::Invalid(format!("SSF transmitter {:?}: {what}", self.issuer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::entropy::SystemEntropy;

    const TOKEN: &str = "c2hhcmVkLXNpZ25hbHMtdHJhbnNtaXR0ZXItdG9rZW4";

    fn entry(extra: &str) -> SsfTransmitterConfig {
        let toml = format!(
            "[[ssf_transmitters]]\nissuer = \"https://ssf.example/\"\naudience = \"tessera\"\n\
             algorithms = [\"ES256\"]\n{extra}\n"
        );
        Config::from_toml(&toml).unwrap().ssf_transmitters.remove(0)
    }

    #[test]
    fn an_entry_registers_with_its_token_hashed_and_loads_back() {
        let plain = entry(&format!("jwks_uri = \"https://ssf.example/jwks\"\nauthorization = \"{TOKEN}\""));
        let registered = plain.to_registered(&SystemEntropy).unwrap();
        assert!(registered.authorization_hash.verify(TOKEN));
        assert_eq!(registered.subject_issuers, ["https://ssf.example/"], "its own issuer by default");
        assert!(!format!("{plain:?}").contains(TOKEN), "Debug leaves the token out");
        let loaded = SsfTransmitterConfig::from(&registered);
        assert_eq!(loaded.to_registered(&SystemEntropy).unwrap(), registered);
    }

    #[test]
    fn an_entry_has_one_key_source_one_authorization_and_a_long_token() {
        let refused = [
            (format!("authorization = \"{TOKEN}\""), "exactly one of jwks"),
            ("jwks_uri = \"https://ssf.example/jwks\"".to_owned(), "exactly one of authorization"),
            ("jwks_uri = \"https://ssf.example/jwks\"\nauthorization = \"short\"".to_owned(), "at least 32"),
            ("jwks_uri = \"https://ssf.example/jwks\"\nauthorization_hash = \"plain\"".to_owned(), "sha256$"),
        ];
        for (extra, reason) in refused {
            let err = entry(&extra).to_registered(&SystemEntropy).unwrap_err().to_string();
            assert!(err.contains(reason), "{extra}: {err}");
        }
    }
}

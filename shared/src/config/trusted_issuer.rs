//! A `[[trusted_issuers]]` entry: the schema of an external issuer whose JWTs a tenant accepts, as the
//! configuration file and `tessera issuers import` read it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ConfigError;
use crate::domain::tenant::TenantId;
use crate::store::{IssuerJwks, RegisteredIssuer};

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

/// The store's trusted issuer and the configuration entry, converted here and nowhere else: an entry becomes one
/// to register in the table ([`TrustedIssuerConfig::to_registered`]), and a registered one is loaded as an entry.
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

    /// An invalid-entry error naming the issuer.
    pub(crate) fn invalid(&self, what: String) -> ConfigError {
        ConfigError::Invalid(format!("trusted issuer {:?}: {what}", self.issuer))
    }

    /// Where the entry's keys are: its inline JWKS (or the file's, read), or its URL.
    pub(crate) fn jwks(&self) -> Result<IssuerJwks, ConfigError> {
        match (&self.jwks, &self.jwks_file, &self.jwks_uri) {
            (Some(json), None, None) => Ok(IssuerJwks::Inline(json.clone())),
            (None, Some(file), None) => std::fs::read_to_string(file)
                .map(IssuerJwks::Inline)
                .map_err(|source| ConfigError::Read { path: file.clone(), source }),
            (None, None, Some(uri)) => Ok(IssuerJwks::Uri(uri.clone())),
            _ => Err(self.invalid("set exactly one of jwks, jwks_file and jwks_uri".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

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
}

//! A `[[trusted_issuers]]` entry: the schema of an external issuer whose JWTs a tenant accepts, as the
//! configuration file and `tessera issuers import` read it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ConfigError;
use crate::domain::tenant::TenantId;

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

impl TrustedIssuerConfig {
    /// The same entry with a `jwks_file` read into inline `jwks`, as the table stores it.
    pub fn with_jwks_inlined(&self) -> Result<Self, ConfigError> {
        let mut entry = self.clone();
        if let Some(file) = entry.jwks_file.take() {
            entry.jwks =
                Some(std::fs::read_to_string(&file).map_err(|source| ConfigError::Read { path: file, source })?);
        }
        Ok(entry)
    }
}

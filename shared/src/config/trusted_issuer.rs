//! A `[[trusted_issuers]]` entry: the schema of an external issuer whose JWTs a tenant accepts, as the
//! configuration file and `tessera issuers import` read it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ConfigError;
use crate::domain::tenant::TenantId;
use crate::domain::user_details::{
    DEFAULT_USER_DETAILS_TTL_SECS, MAX_USER_DETAILS_TTL_SECS, MIN_USER_DETAILS_TTL_SECS,
};
use crate::store::{IssuerJwks, IssuerUserinfo, RegisteredIssuer, UserinfoLocation};

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
/// userinfo_endpoint = "https://example.eu.auth0.com/userinfo"   # or userinfo_discovery = true; optional
/// user_details_ttl_secs = 86400             # how long fetched user details are kept (default one day)
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
    /// The issuer's OpenID Connect UserInfo endpoint (https): at token exchange of one of its access tokens, the
    /// user's claims are fetched from it, mapped by `claims_mapping`, and cached per subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_endpoint: Option<String>,
    /// Find the UserInfo endpoint in the issuer's metadata (OpenID Connect Discovery, else RFC 8414) instead.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub userinfo_discovery: bool,
    /// How long fetched user details are kept and shown; default [`DEFAULT_USER_DETAILS_TTL_SECS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_details_ttl_secs: Option<u32>,
    /// This issuer's JWTs at `audiences` are access tokens even without `typ: at+jwt` (RFC 9068 §2.1): introspection
    /// may present them to the UserInfo endpoint. Only for an issuer whose ID tokens never carry one of `audiences`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub untyped_access_tokens: bool,
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
            userinfo_endpoint: registered.userinfo.as_ref().and_then(|u| match &u.endpoint {
                UserinfoLocation::Url(url) => Some(url.clone()),
                UserinfoLocation::Discovered => None,
            }),
            userinfo_discovery: registered
                .userinfo
                .as_ref()
                .is_some_and(|u| u.endpoint == UserinfoLocation::Discovered),
            user_details_ttl_secs: registered.userinfo.as_ref().map(|u| u.ttl_secs),
            untyped_access_tokens: registered.userinfo.as_ref().is_some_and(|u| u.untyped_access_tokens),
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
            userinfo: self.userinfo()?,
        })
    }

    /// The entry's UserInfo endpoint, when it has one: exactly one of `userinfo_endpoint` and
    /// `userinfo_discovery`, a `claims_mapping` to keep anything from it, and a TTL within bounds.
    pub(crate) fn userinfo(&self) -> Result<Option<IssuerUserinfo>, ConfigError> {
        let endpoint = match (&self.userinfo_endpoint, self.userinfo_discovery) {
            (Some(url), false) => UserinfoLocation::Url(url.clone()),
            (None, true) => UserinfoLocation::Discovered,
            (None, false) if self.user_details_ttl_secs.is_some() => {
                return Err(self.invalid("user_details_ttl_secs needs userinfo_endpoint or userinfo_discovery".into()));
            }
            (None, false) if self.untyped_access_tokens => {
                return Err(self.invalid("untyped_access_tokens needs userinfo_endpoint or userinfo_discovery".into()));
            }
            (None, false) => return Ok(None),
            (Some(_), true) => {
                return Err(self.invalid("set at most one of userinfo_endpoint and userinfo_discovery".into()));
            }
        };
        if self.claims_mapping.is_empty() {
            return Err(self.invalid(
                "a UserInfo endpoint needs a claims_mapping: only mapped claims are kept as user_details".into(),
            ));
        }
        let ttl_secs = self.user_details_ttl_secs.unwrap_or(DEFAULT_USER_DETAILS_TTL_SECS);
        if !(MIN_USER_DETAILS_TTL_SECS..=MAX_USER_DETAILS_TTL_SECS).contains(&ttl_secs) {
            return Err(self.invalid(format!(
                "user_details_ttl_secs must be from {MIN_USER_DETAILS_TTL_SECS} to {MAX_USER_DETAILS_TTL_SECS}"
            )));
        }
        Ok(Some(IssuerUserinfo { endpoint, ttl_secs, untyped_access_tokens: self.untyped_access_tokens }))
    }

    /// An invalid-entry error naming the issuer.
    pub(crate) fn invalid(&self, what: String) -> ConfigError {
        ConfigError::Invalid(format!("trusted issuer {:?}: {what}", self.issuer))
    }

    /// Where the entry's keys are: its inline JWKS (or the file's, read), or its URL.
    pub(crate) fn jwks(&self) -> Result<IssuerJwks, ConfigError> {
        let one = || self.invalid("set exactly one of jwks, jwks_file and jwks_uri".into());
        super::registered_jwks(&self.jwks, &self.jwks_file, &self.jwks_uri)
            .map_err(|e| e.unwrap_or_else(one))?
            .ok_or_else(one)
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
        let with_userinfo = TrustedIssuerConfig {
            userinfo_endpoint: Some("https://idp.example/userinfo".into()),
            claims_mapping: [("email".to_owned(), "email".to_owned())].into(),
            ..inlined.clone()
        };
        let registered = with_userinfo.to_registered().unwrap();
        let userinfo = registered.userinfo.clone().unwrap();
        assert_eq!(userinfo.endpoint, UserinfoLocation::Url("https://idp.example/userinfo".into()));
        assert_eq!(userinfo.ttl_secs, DEFAULT_USER_DETAILS_TTL_SECS);
        let loaded = TrustedIssuerConfig::from(&registered);
        assert_eq!(loaded.to_registered().unwrap(), registered);
        let both = TrustedIssuerConfig { jwks_uri: Some("https://idp.example/jwks".into()), ..inlined };
        assert!(
            both.to_registered().unwrap_err().to_string().contains("set exactly one of jwks, jwks_file and jwks_uri")
        );
    }
}

#[cfg(test)]
mod userinfo_tests {
    use super::*;
    use crate::config::Config;

    fn entry(extra: &str) -> Result<Option<IssuerUserinfo>, ConfigError> {
        let toml = format!(
            "[[trusted_issuers]]\nissuer = \"https://idp.example/\"\naudiences = [\"api\"]\nalgorithms = [\"ES256\"]\n\
             jwks_uri = \"https://idp.example/jwks\"\n{extra}\n"
        );
        Config::from_toml(&toml).map(|mut c| c.trusted_issuers.remove(0))?.userinfo()
    }

    #[test]
    fn a_userinfo_endpoint_is_one_of_url_or_discovery_with_a_mapping_and_a_bounded_ttl() {
        assert_eq!(entry("").unwrap(), None);
        let mapped = "claims_mapping = { email = \"email\" }\n";
        let discovered = entry(&format!("{mapped}userinfo_discovery = true\nuser_details_ttl_secs = 600")).unwrap();
        assert_eq!(
            discovered,
            Some(IssuerUserinfo {
                endpoint: UserinfoLocation::Discovered,
                ttl_secs: 600,
                untyped_access_tokens: false
            })
        );
        let refused = [
            ("userinfo_endpoint = \"https://idp.example/userinfo\"", "needs a claims_mapping"),
            (
                &format!("{mapped}userinfo_endpoint = \"https://idp.example/u\"\nuserinfo_discovery = true"),
                "at most one of userinfo_endpoint and userinfo_discovery",
            ),
            (&format!("{mapped}user_details_ttl_secs = 600"), "needs userinfo_endpoint or userinfo_discovery"),
            (&format!("{mapped}userinfo_discovery = true\nuser_details_ttl_secs = 59"), "must be from 60"),
        ];
        for (extra, reason) in refused {
            let err = entry(extra).unwrap_err().to_string();
            assert!(err.contains(reason), "{extra}: {err}");
        }
    }
}

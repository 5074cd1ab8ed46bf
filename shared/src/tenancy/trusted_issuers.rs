//! A tenant's trusted issuers as it serves them: the configuration's `[[trusted_issuers]]` entries and the
//! table's (`tessera issuers import`) validated, their JWKS parsed or their JWKS URL given the one HTTP client.

use crate::config::{Config, ConfigError, TrustedIssuerConfig};
use crate::domain::tenant::TenantId;
use jsonwebtoken::Algorithm;

use crate::jwt::external::{JwksSource, TrustedIssuer, asymmetric_algorithm};
use crate::store::{IssuerJwks, RegisteredIssuer};
use crate::userinfo::UserinfoEndpoint;

/// The trusted issuers of `tenant`, validated, with their JWKS parsed: the configuration's, joined by
/// `registered` (the table's entries of the tenant), which replace same-issuer configuration entries.
pub fn trusted_issuers_of(
    config: &Config,
    tenant: &TenantId,
    registered: &[RegisteredIssuer],
) -> Result<Vec<TrustedIssuer>, ConfigError> {
    let registered: Vec<TrustedIssuerConfig> = registered.iter().map(TrustedIssuerConfig::from).collect();
    let local = config
        .trusted_issuers
        .iter()
        .filter(|t| t.tenant == *tenant && !registered.iter().any(|r| r.issuer == t.issuer));
    let entries: Vec<_> = local.chain(registered.iter().filter(|r| r.tenant == *tenant)).collect();
    let remote =
        |t: &&TrustedIssuerConfig| t.jwks_uri.is_some() || t.userinfo_endpoint.is_some() || t.userinfo_discovery;
    let http = if entries.iter().any(remote) { Some(jwks_http_client()?) } else { None };
    entries.into_iter().map(|entry| trusted_issuer(entry, http.clone())).collect()
}

/// Validates `entry` and parses its inline or file JWKS; a JWKS URL is read on first use, with `http`.
pub fn trusted_issuer(
    entry: &TrustedIssuerConfig,
    http: Option<reqwest::Client>,
) -> Result<TrustedIssuer, ConfigError> {
    let (algorithms, source) = key_settings("trusted issuer", &entry.issuer, &entry.algorithms, entry.jwks()?)?;
    let userinfo = entry.userinfo()?;
    let issuer = TrustedIssuer::new(
        entry.issuer.clone(),
        entry.audiences.clone(),
        algorithms,
        entry.subject_claim.clone(),
        entry.username_claim.clone(),
        entry.claims_mapping.clone(),
        entry.record_tokens,
        source,
        http.clone(),
    )
    .map_err(|e| ConfigError::Invalid(e.to_string()))?;
    match (userinfo, http) {
        (None, _) => Ok(issuer),
        (Some(settings), Some(http)) => UserinfoEndpoint::new(&entry.issuer, &settings, http)
            .map(|endpoint| issuer.with_userinfo(endpoint))
            .map_err(|e| ConfigError::Invalid(e.to_string())),
        (Some(_), None) => Err(entry.invalid("no HTTP client for the UserInfo endpoint".into())),
    }
}

/// The algorithms (by name, asymmetric only) and the keys (a JWK Set's JSON, or its URL) of `issuer`'s entry,
/// parsed: a trusted issuer's, or an SSF transmitter's (`what` names which, for the error).
pub fn key_settings(
    what: &str,
    issuer: &str,
    algorithms: &[String],
    jwks: IssuerJwks,
) -> Result<(Vec<Algorithm>, JwksSource), ConfigError> {
    let algorithms = algorithms
        .iter()
        .map(|a| asymmetric_algorithm(issuer, a))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ConfigError::Invalid(e.to_string()))?;
    let source = match jwks {
        IssuerJwks::Inline(text) => JwksSource::Inline(
            serde_json::from_str(&text)
                .map_err(|e| ConfigError::Invalid(format!("{what} {issuer:?}: JWKS is not a JWK Set: {e}")))?,
        ),
        IssuerJwks::Uri(uri) => JwksSource::Uri(uri),
    };
    Ok((algorithms, source))
}

/// The HTTP client for a tenant's trusted issuers' and SSF transmitters' URLs (JWKS, metadata, UserInfo): one per
/// tenant's entries ([`crate::jwt::jwks::jwks_http_client`]).
pub(crate) fn jwks_http_client() -> Result<reqwest::Client, ConfigError> {
    crate::jwt::jwks::jwks_http_client().map_err(ConfigError::Invalid)
}

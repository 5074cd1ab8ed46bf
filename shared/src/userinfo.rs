//! A trusted issuer's OpenID Connect UserInfo endpoint (Core §5.3), as token exchange and introspection call it
//! ([`crate::oauth::user_details`]): where it is (configured, or discovered from the issuer's metadata), the
//! request (`GET` with `Authorization: Bearer` and the user's access token), and what is kept of the answer (JSON whose `sub` equals the token's, §5.3.2, mapped by the
//! issuer's `claims_mapping` and bounded by [`crate::domain::user_details`]).
//!
//! It uses the one HTTP client of the trusted issuers (the JWKS client: 2 s to connect, 3 s in all, no
//! redirects) and the rules of their documents: https only (plain http on a loopback address), a bounded body
//! ([`MAX_USERINFO_BYTES`], [`MAX_METADATA_BYTES`]), and for discovery the JWKS cache's TTL and least refetch
//! interval. How often one subject's details are fetched is the per-subject rate limit of the domain
//! ([`crate::domain::user_details::USER_DETAILS_MIN_REFETCH_SECS`]), enforced in the store. The bearer token is
//! never logged, and never stored in any form.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::domain::time::Timestamp;
use crate::domain::user_details::{DetailsRefusal, bounded_details};
use crate::jwt::external::{IssuerConfigError, JWKS_MIN_REFETCH_SECS, JWKS_TTL_SECS, bounded_body, jwks_uri_allowed};
use crate::store::{IssuerUserinfo, UserinfoLocation};

/// The largest UserInfo response read (before mapping, which keeps far less).
pub const MAX_USERINFO_BYTES: usize = 64 * 1024;
/// The largest metadata document read at discovery.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;
/// The longest one fetch of a subject's details may take, discovery of the endpoint included: the shared HTTP
/// client's total timeout (3 s; 2 s to connect). Without it, a discovery that meets two slow metadata URLs and then a
/// slow endpoint could take three times as long, past the introspection function's 5 s timeout, and fail an
/// introspection the outage rules say must not fail. What a fetch adds to a request, at worst.
pub const USERINFO_FETCH_BUDGET: std::time::Duration = std::time::Duration::from_secs(3);

/// Why a UserInfo fetch kept nothing. Logged only: the exchange or introspection goes on without fresh details.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserinfoFailure {
    /// The endpoint could not be found in the issuer's metadata.
    #[error("discovery failed: {0}")]
    Discovery(String),
    /// No answer, a timeout, a non-2xx status, or a body over [`MAX_USERINFO_BYTES`].
    #[error("request failed: {0}")]
    Request(String),
    /// Not a JSON object (a signed or encrypted UserInfo response, `application/jwt`, is not supported).
    #[error("not a JSON object: {0}")]
    NotJson(String),
    /// The response's `sub` is missing or differs from the bearer token's (OpenID Connect Core §5.3.2: the
    /// response must then not be used; it may be a token substitution).
    #[error("sub does not match the bearer token's")]
    SubjectMismatch,
    /// The mapped claims are over the bounds.
    #[error(transparent)]
    Refused(#[from] DetailsRefusal),
}

/// A trusted issuer's UserInfo endpoint, with the discovered URL cached.
pub struct UserinfoEndpoint {
    issuer: String,
    location: UserinfoLocation,
    ttl_secs: u32,
    untyped_access_tokens: bool,
    http: reqwest::Client,
    discovered: tokio::sync::Mutex<Discovered>,
}

/// What discovery found, and when it last tried.
#[derive(Default)]
struct Discovered {
    url: Option<String>,
    fetched_at: Option<Timestamp>,
    attempted_at: Option<Timestamp>,
    fetches: u64,
}

impl UserinfoEndpoint {
    /// The endpoint of `issuer` as `settings` say, fetched with `http`. A configured URL must be https (plain http
    /// only on a loopback address), like a `jwks_uri`; so must the metadata URL discovery reads.
    pub fn new(issuer: &str, settings: &IssuerUserinfo, http: reqwest::Client) -> Result<Self, IssuerConfigError> {
        let invalid =
            |reason: &str| IssuerConfigError::Invalid { issuer: issuer.to_owned(), reason: reason.to_owned() };
        match &settings.endpoint {
            UserinfoLocation::Url(url) if !jwks_uri_allowed(url) => {
                return Err(invalid("userinfo_endpoint must be https (plain http only on a loopback address)"));
            }
            UserinfoLocation::Discovered if !jwks_uri_allowed(&openid_configuration_url(issuer)) => {
                return Err(invalid(
                    "userinfo_discovery needs an https issuer (plain http only on a loopback address)",
                ));
            }
            _ => {}
        }
        Ok(Self {
            issuer: issuer.to_owned(),
            location: settings.endpoint.clone(),
            ttl_secs: settings.ttl_secs,
            untyped_access_tokens: settings.untyped_access_tokens,
            http,
            discovered: tokio::sync::Mutex::new(Discovered::default()),
        })
    }

    /// How long fetched details are kept.
    pub fn ttl_secs(&self) -> u32 {
        self.ttl_secs
    }

    /// Whether the issuer's word is that its JWTs are access tokens even without `typ: at+jwt`
    /// ([`IssuerUserinfo::untyped_access_tokens`]).
    pub fn takes_untyped_access_tokens(&self) -> bool {
        self.untyped_access_tokens
    }

    /// How many times the issuer's metadata was requested (for tests).
    pub async fn discovery_fetches(&self) -> u64 {
        self.discovered.lock().await.fetches
    }

    /// Fetches the user's claims with `bearer` (an access token of this issuer: an exchange's subject token, or a
    /// JWT introspected), checks that their `sub` is `expected_sub`, and keeps the claims `mapping` names (claim →
    /// `user_details` attribute), within the bounds. Discovery included, it takes at most
    /// [`USERINFO_FETCH_BUDGET`].
    pub async fn fetch(
        &self,
        bearer: &str,
        expected_sub: &str,
        mapping: &BTreeMap<String, String>,
        now: Timestamp,
    ) -> Result<BTreeMap<String, Value>, UserinfoFailure> {
        tokio::time::timeout(USERINFO_FETCH_BUDGET, self.fetch_unbounded(bearer, expected_sub, mapping, now))
            .await
            .unwrap_or_else(|_| Err(UserinfoFailure::Request("over the fetch budget".into())))
    }

    async fn fetch_unbounded(
        &self,
        bearer: &str,
        expected_sub: &str,
        mapping: &BTreeMap<String, String>,
        now: Timestamp,
    ) -> Result<BTreeMap<String, Value>, UserinfoFailure> {
        let url = self.url(now).await?;
        let response = self
            .http
            .get(&url)
            .bearer_auth(bearer)
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| UserinfoFailure::Request(e.without_url().to_string()))?;
        let media_type = response.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        if media_type.is_some_and(|t| t.trim_start().to_ascii_lowercase().starts_with("application/jwt")) {
            return Err(UserinfoFailure::NotJson(
                "signed or encrypted responses (application/jwt) are not supported".into(),
            ));
        }
        let body =
            bounded_body(response, MAX_USERINFO_BYTES, "UserInfo response").await.map_err(UserinfoFailure::Request)?;
        let claims: Map<String, Value> =
            serde_json::from_slice(&body).map_err(|e| UserinfoFailure::NotJson(e.to_string()))?;
        if claims.get("sub").and_then(Value::as_str) != Some(expected_sub) {
            return Err(UserinfoFailure::SubjectMismatch);
        }
        let mapped = mapping
            .iter()
            .filter_map(|(claim, attribute)| claims.get(claim).map(|v| (attribute.clone(), v.clone())))
            .collect();
        Ok(bounded_details(mapped)?)
    }

    /// The endpoint's URL: the configured one, or the one discovery found (read again after [`JWKS_TTL_SECS`], never
    /// more often than every [`JWKS_MIN_REFETCH_SECS`]; a failed read keeps what it had).
    async fn url(&self, now: Timestamp) -> Result<String, UserinfoFailure> {
        if let UserinfoLocation::Url(url) = &self.location {
            return Ok(url.clone());
        }
        let mut state = self.discovered.lock().await;
        let stale = state.fetched_at.is_none_or(|at| now >= at.plus_secs(JWKS_TTL_SECS));
        let may_fetch = state.attempted_at.is_none_or(|at| now >= at.plus_secs(JWKS_MIN_REFETCH_SECS));
        if stale && may_fetch {
            state.attempted_at = Some(now);
            state.fetches += 1;
            match self.discover().await {
                Ok(url) => {
                    state.url = Some(url);
                    state.fetched_at = Some(now);
                }
                Err(reason) => tracing::warn!(issuer = %self.issuer, %reason, "UserInfo discovery failed"),
            }
        }
        state.url.clone().ok_or_else(|| UserinfoFailure::Discovery("no userinfo_endpoint known yet".into()))
    }

    /// The `userinfo_endpoint` of the issuer's metadata: OpenID Connect Discovery 1.0 §4 first, then RFC 8414 §3.
    /// The metadata's `issuer` must be the issuer's (Discovery §4.3, RFC 8414 §3.3), and the endpoint https.
    async fn discover(&self) -> Result<String, String> {
        let mut reasons = Vec::new();
        for url in
            [Some(openid_configuration_url(&self.issuer)), oauth_metadata_url(&self.issuer)].into_iter().flatten()
        {
            match self.metadata(&url).await {
                Ok(endpoint) => return Ok(endpoint),
                Err(reason) => reasons.push(format!("{url}: {reason}")),
            }
        }
        Err(reasons.join("; "))
    }

    async fn metadata(&self, url: &str) -> Result<String, String> {
        if !jwks_uri_allowed(url) {
            return Err("not https".into());
        }
        let response = self.http.get(url).send().await.map_err(|e| e.without_url().to_string())?;
        let body = bounded_body(response, MAX_METADATA_BYTES, "metadata").await?;
        let metadata: Map<String, Value> = serde_json::from_slice(&body).map_err(|e| format!("not JSON: {e}"))?;
        if metadata.get("issuer").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err("its issuer is not this issuer".into());
        }
        let endpoint = metadata.get("userinfo_endpoint").and_then(Value::as_str).ok_or("no userinfo_endpoint")?;
        if !jwks_uri_allowed(endpoint) {
            return Err("userinfo_endpoint is not https".into());
        }
        Ok(endpoint.to_owned())
    }
}

/// OpenID Connect Discovery 1.0 §4.1: the issuer, without a trailing `/`, then `/.well-known/openid-configuration`.
fn openid_configuration_url(issuer: &str) -> String {
    format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'))
}

/// RFC 8414 §3.1: `/.well-known/oauth-authorization-server` inserted between the issuer's host and its path.
fn oauth_metadata_url(issuer: &str) -> Option<String> {
    let url = reqwest::Url::parse(issuer).ok()?;
    let path = url.path().trim_end_matches('/');
    let origin = url.origin().ascii_serialization();
    Some(format!("{origin}/.well-known/oauth-authorization-server{path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_urls_follow_oidc_discovery_and_rfc_8414() {
        assert_eq!(
            openid_configuration_url("https://idp.example/"),
            "https://idp.example/.well-known/openid-configuration"
        );
        assert_eq!(
            openid_configuration_url("https://idp.example/tenant1"),
            "https://idp.example/tenant1/.well-known/openid-configuration"
        );
        assert_eq!(
            oauth_metadata_url("https://idp.example/tenant1").as_deref(),
            Some("https://idp.example/.well-known/oauth-authorization-server/tenant1")
        );
        assert_eq!(
            oauth_metadata_url("https://idp.example/").as_deref(),
            Some("https://idp.example/.well-known/oauth-authorization-server")
        );
    }

    #[test]
    fn a_userinfo_endpoint_is_https_or_loopback_like_a_jwks_uri() {
        let http = reqwest::Client::new();
        let at = |url: &str| IssuerUserinfo {
            endpoint: UserinfoLocation::Url(url.into()),
            ttl_secs: 600,
            untyped_access_tokens: false,
        };
        assert!(
            UserinfoEndpoint::new("https://idp.example/", &at("https://idp.example/userinfo"), http.clone()).is_ok()
        );
        assert!(
            UserinfoEndpoint::new("https://idp.example/", &at("http://127.0.0.1:9/userinfo"), http.clone()).is_ok()
        );
        for refused in ["http://idp.example/userinfo", "https://user:pw@idp.example/userinfo", "ftp://idp.example/"] {
            assert!(UserinfoEndpoint::new("https://idp.example/", &at(refused), http.clone()).is_err(), "{refused}");
        }
        let discovered =
            IssuerUserinfo { endpoint: UserinfoLocation::Discovered, ttl_secs: 600, untyped_access_tokens: false };
        assert!(UserinfoEndpoint::new("http://idp.example/", &discovered, http.clone()).is_err());
        assert!(UserinfoEndpoint::new("http://localhost:8080/", &discovered, http).is_ok());
    }
}

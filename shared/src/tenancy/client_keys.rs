//! A tenant's `private_key_jwt` clients' keys as it verifies with them: an inline JWK Set parsed when used, a
//! `jwks_uri` fetched through a [`RemoteJwks`] cache (the trusted issuers' cache and rate limit), one per URL,
//! kept for as long as the tenant is served, with one HTTP client for all of them.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, OnceLock};

use jsonwebtoken::jwk::JwkSet;

use crate::bounded_cache::{BoundedCache, CacheLimits};
use crate::domain::jwks::Jwks;
use crate::jwt::client_assertion::CLIENT_ASSERTION_ALGORITHMS;
use crate::jwt::jwks::{KeySet, RemoteJwks, VerificationKeys, jwks_http_client, jwks_uri_allowed};

/// The most `jwks_uri` caches a tenant keeps; past it the least recently used is dropped (and fetched anew when
/// its client next authenticates).
pub const MAX_CLIENT_JWKS_URIS: usize = 256;

/// Why a client's registered keys cannot be used. Logged; the client sees `invalid_client`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientKeysError {
    /// The inline JWK Set does not parse.
    #[error("the client's JWKS is not a JWK Set: {0}")]
    NotAJwkSet(String),
    /// The `jwks_uri` breaks the URL rule ([`jwks_uri_allowed`]).
    #[error("the client's jwks_uri is not allowed")]
    UriNotAllowed,
    /// No HTTP client could be built.
    #[error("{0}")]
    Http(String),
}

/// The cache of a tenant's clients' remote key sets.
pub struct ClientKeys {
    http: OnceLock<Result<reqwest::Client, String>>,
    remote: Mutex<BoundedCache<String, Arc<RemoteJwks>>>,
}

impl Default for ClientKeys {
    fn default() -> Self {
        let limits = CacheLimits {
            max_entries: NonZeroUsize::new(MAX_CLIENT_JWKS_URIS).unwrap_or(NonZeroUsize::MIN),
            max_bytes: MAX_CLIENT_JWKS_URIS * 2048,
        };
        Self { http: OnceLock::new(), remote: Mutex::new(BoundedCache::new(limits)) }
    }
}

impl std::fmt::Debug for ClientKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientKeys").finish_non_exhaustive()
    }
}

impl ClientKeys {
    /// The keys of a client registered with `jwks`: parsed now when inline, the URL's cache otherwise.
    pub fn keys(&self, jwks: &Jwks) -> Result<VerificationKeys, ClientKeysError> {
        match jwks {
            Jwks::Inline(text) => {
                let set: JwkSet = serde_json::from_str(text).map_err(|e| ClientKeysError::NotAJwkSet(e.to_string()))?;
                Ok(VerificationKeys::Static(Arc::new(KeySet::parse(&set, &CLIENT_ASSERTION_ALGORITHMS))))
            }
            Jwks::Uri(uri) => {
                if !jwks_uri_allowed(uri) {
                    return Err(ClientKeysError::UriNotAllowed);
                }
                let mut remote = self.remote.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(cached) = remote.get(uri) {
                    return Ok(VerificationKeys::Remote(cached.clone()));
                }
                let http = self.http.get_or_init(jwks_http_client).clone().map_err(ClientKeysError::Http)?;
                let cache = Arc::new(RemoteJwks::new(uri.clone(), CLIENT_ASSERTION_ALGORITHMS.to_vec(), http));
                // The URL and the cache's bookkeeping; the keys themselves are bounded by the fetch limit.
                remote.insert(uri.clone(), cache.clone(), uri.len() + 1024);
                Ok(VerificationKeys::Remote(cache))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_cache_per_url_and_bad_registrations_refused() {
        let keys = ClientKeys::default();
        let uri = Jwks::Uri("https://client.example.com/jwks.json".into());
        let (VerificationKeys::Remote(a), VerificationKeys::Remote(b)) =
            (keys.keys(&uri).unwrap(), keys.keys(&uri).unwrap())
        else {
            panic!("a jwks_uri gives a remote key set");
        };
        assert!(Arc::ptr_eq(&a, &b), "one cache, so one rate limit, per URL");
        assert_eq!(
            keys.keys(&Jwks::Uri("http://client.example.com/jwks.json".into())).err(),
            Some(ClientKeysError::UriNotAllowed)
        );
        assert!(matches!(keys.keys(&Jwks::Inline("{".into())), Err(ClientKeysError::NotAJwkSet(_))));
        assert!(matches!(keys.keys(&Jwks::Inline(r#"{"keys":[]}"#.into())), Ok(VerificationKeys::Static(_))));
    }
}

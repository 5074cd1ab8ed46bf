//! A JWK Set as a verifier holds it: parsed once from its registration, or fetched from its URL with a cache and a
//! rate limit. The one implementation behind trusted issuers' tokens ([`crate::jwt::external`]) and
//! `private_key_jwt` client assertions ([`crate::jwt::client_assertion`]).
//!
//! Only asymmetric keys are ever parsed: a symmetric (`oct`) key in a JWK Set, and an encryption key, are left
//! out. A key that states its `alg` verifies only that algorithm; one that does not verifies the allowed
//! algorithms of its type.
//!
//! A set also tells which X.509 certificates it registers (the first certificate of each key's `x5c`, RFC 7517
//! §4.7), by their `x5t#S256` thumbprints: what `self_signed_tls_client_auth` compares the presented client
//! certificate with (RFC 8705 §2.2).

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};

use crate::domain::grant::CertificateThumbprint;
use crate::domain::time::Timestamp;

/// How long fetched keys are used before the JWKS URL is read again.
pub const JWKS_TTL_SECS: u64 = 600;
/// The least time between two fetches of one JWKS URL, whatever the reason (expired cache or unknown `kid`):
/// a flood of tokens with made-up `kid`s costs the key's owner at most one request per this many seconds.
pub const JWKS_MIN_REFETCH_SECS: u64 = 30;
/// The largest JWKS document accepted.
const JWKS_MAX_BYTES: usize = 256 * 1024;

/// One parsed public key.
#[derive(Clone)]
pub struct VerificationKey {
    /// The JWK's own `alg`, when it states one: then it verifies only that.
    pub stated_alg: Option<Algorithm>,
    /// The key's type.
    pub family: AlgorithmFamily,
    /// The key.
    pub key: DecodingKey,
}

impl VerificationKey {
    /// Whether this key may verify a signature made with `alg`: the key's type, and its stated `alg` if any.
    pub fn fits(&self, alg: Algorithm) -> bool {
        alg.family() == self.family && self.stated_alg.is_none_or(|stated| stated == alg)
    }
}

/// The usable keys of a JWK Set: by `kid`, and those without one.
#[derive(Clone, Default)]
pub struct KeySet {
    by_kid: HashMap<String, VerificationKey>,
    without_kid: Vec<VerificationKey>,
    certificates: std::collections::HashSet<CertificateThumbprint>,
}

impl KeySet {
    /// Parses every usable key of `jwks`: an asymmetric key type, not an encryption key, and (when it states no
    /// `alg`) a type one of `algorithms` fits.
    pub fn parse(jwks: &JwkSet, algorithms: &[Algorithm]) -> Self {
        let mut set = Self::default();
        for jwk in &jwks.keys {
            // RFC 7517 §4.7: `x5c` holds standard base64 (not base64url) DER, the key's own certificate first.
            let leaf = jwk.common.x509_chain.as_ref().and_then(|chain| chain.first());
            if let Some(der) = leaf.and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok()) {
                set.certificates.insert(CertificateThumbprint::of_der(&der));
            }
            if jwk.common.public_key_use == Some(jsonwebtoken::jwk::PublicKeyUse::Encryption) {
                continue;
            }
            let Some(family) = family_of(jwk) else { continue };
            let Ok(key) = DecodingKey::from_jwk(jwk) else { continue };
            let stated_alg = jwk.common.key_algorithm.and_then(|a| a.to_string().parse::<Algorithm>().ok());
            if stated_alg.is_none() && !algorithms.iter().any(|a| a.family() == family) {
                continue;
            }
            let key = VerificationKey { stated_alg, family, key };
            match jwk.common.key_id.clone() {
                Some(kid) => {
                    set.by_kid.insert(kid, key);
                }
                None => set.without_kid.push(key),
            }
        }
        set
    }

    /// Whether it holds no key with a `kid`.
    pub fn has_no_kid(&self) -> bool {
        self.by_kid.is_empty()
    }

    /// Whether it holds no key at all (certificates aside: a set of certificates only verifies nothing).
    pub fn is_empty(&self) -> bool {
        self.by_kid.is_empty() && self.without_kid.is_empty()
    }

    /// Whether it registers the certificate whose thumbprint is `thumbprint` (as the first certificate of a
    /// key's `x5c`).
    pub fn registers_certificate(&self, thumbprint: &CertificateThumbprint) -> bool {
        self.certificates.contains(thumbprint)
    }

    /// How many certificates it registers.
    pub fn certificate_count(&self) -> usize {
        self.certificates.len()
    }

    fn knows(&self, wanted: Wanted<'_>) -> bool {
        match wanted {
            Wanted::Kid(kid) => kid.is_none_or(|kid| self.by_kid.contains_key(kid)),
            Wanted::Certificate(thumbprint) => self.registers_certificate(thumbprint),
        }
    }

    /// The key a JWS header names: by `kid`; without one, the only key of the set that fits `alg` (none, or
    /// several, is no key: guessing would try keys the signer did not mean).
    pub fn select(&self, kid: Option<&str>, alg: Algorithm) -> Option<&VerificationKey> {
        match kid {
            Some(kid) => self.by_kid.get(kid),
            None => {
                let mut fitting = self.by_kid.values().chain(&self.without_kid).filter(|k| k.family == alg.family());
                match (fitting.next(), fitting.next()) {
                    (Some(only), None) => Some(only),
                    _ => None,
                }
            }
        }
    }
}

/// What a lookup in a fetched set is for: the key a JWS header names, or a registered certificate. A remote set
/// that lacks it is fetched again early (within the rate limit): the owner may have rotated.
#[derive(Debug, Clone, Copy)]
enum Wanted<'a> {
    Kid(Option<&'a str>),
    Certificate(&'a CertificateThumbprint),
}

/// A party's keys as a verifier holds them: parsed once, or fetched from a JWKS URL.
#[derive(Clone)]
pub enum VerificationKeys {
    /// Parsed from a registered JWK Set.
    Static(Arc<KeySet>),
    /// Fetched from a JWKS URL, cached.
    Remote(Arc<RemoteJwks>),
}

impl VerificationKeys {
    /// The keys to verify a JWS whose header names `kid`, at `now`: a remote set is fetched when its cache is
    /// empty, expired, or lacks `kid` (within the rate limit).
    pub async fn keys_for(&self, kid: Option<&str>, now: Timestamp) -> Arc<KeySet> {
        match self {
            Self::Static(keys) => keys.clone(),
            Self::Remote(remote) => remote.keys_for(Wanted::Kid(kid), now).await,
        }
    }

    /// Whether the set registers the certificate `thumbprint`, at `now`: a remote set is fetched when its cache is
    /// empty, expired, or lacks it (within the rate limit).
    pub async fn registers_certificate(&self, thumbprint: &CertificateThumbprint, now: Timestamp) -> bool {
        match self {
            Self::Static(keys) => keys.registers_certificate(thumbprint),
            Self::Remote(remote) => {
                remote.keys_for(Wanted::Certificate(thumbprint), now).await.registers_certificate(thumbprint)
            }
        }
    }

    /// The JWKS cache, for keys fetched from a URL.
    pub fn remote(&self) -> Option<&RemoteJwks> {
        match self {
            Self::Remote(remote) => Some(remote),
            Self::Static(_) => None,
        }
    }
}

/// A JWKS URL with its cache: keys are fetched on first use, reused for [`JWKS_TTL_SECS`], fetched again
/// early when a JWS names an unknown `kid` (the owner rotated), and never more often than every
/// [`JWKS_MIN_REFETCH_SECS`]. A failed fetch keeps the keys it had. Concurrent callers share one fetch.
pub struct RemoteJwks {
    uri: String,
    algorithms: Vec<Algorithm>,
    http: reqwest::Client,
    state: tokio::sync::Mutex<RemoteState>,
}

#[derive(Default)]
struct RemoteState {
    keys: Arc<KeySet>,
    fetched_at: Option<Timestamp>,
    attempted_at: Option<Timestamp>,
    fetches: u64,
}

impl RemoteJwks {
    /// A cache for `uri`, fetching with `http`.
    pub fn new(uri: String, algorithms: Vec<Algorithm>, http: reqwest::Client) -> Self {
        Self { uri, algorithms, http, state: tokio::sync::Mutex::new(RemoteState::default()) }
    }

    /// How many times the URL was requested (for tests and metrics).
    pub async fn fetches(&self) -> u64 {
        self.state.lock().await.fetches
    }

    async fn keys_for(&self, wanted: Wanted<'_>, now: Timestamp) -> Arc<KeySet> {
        let mut state = self.state.lock().await;
        let stale = state.fetched_at.is_none_or(|at| now >= at.plus_secs(JWKS_TTL_SECS));
        let unknown = !state.keys.knows(wanted);
        let may_fetch = state.attempted_at.is_none_or(|at| now >= at.plus_secs(JWKS_MIN_REFETCH_SECS));
        if (stale || unknown) && may_fetch {
            state.attempted_at = Some(now);
            state.fetches += 1;
            match self.fetch().await {
                // A set with no usable key or certificate would refuse everyone: keep what we had.
                Ok(keys) if keys.is_empty() && keys.certificate_count() == 0 => {
                    tracing::warn!(uri = %self.uri, "JWKS has no usable key; keeping the cached keys");
                }
                Ok(keys) => {
                    state.keys = Arc::new(keys);
                    state.fetched_at = Some(now);
                }
                Err(reason) => tracing::warn!(uri = %self.uri, %reason, "JWKS fetch failed; keeping the cached keys"),
            }
        }
        state.keys.clone()
    }

    async fn fetch(&self) -> Result<KeySet, String> {
        let response = self.http.get(&self.uri).send().await.map_err(|e| e.to_string())?;
        let body = bounded_body(response, JWKS_MAX_BYTES, "JWKS document").await?;
        let jwks: JwkSet = serde_json::from_slice(&body).map_err(|e| format!("not a JWK Set: {e}"))?;
        Ok(KeySet::parse(&jwks, &self.algorithms))
    }
}

/// The body of a successful answer fetched for verification (a JWKS, an issuer's metadata or UserInfo), refused
/// over `max_bytes` (by its `Content-Length` before reading, and by what was read): the one rule for every
/// document fetched with [`jwks_http_client`].
pub(crate) async fn bounded_body(response: reqwest::Response, max_bytes: usize, what: &str) -> Result<Vec<u8>, String> {
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    if response.content_length().is_some_and(|len| len > max_bytes as u64) {
        return Err(format!("{what} too large"));
    }
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    if body.len() > max_bytes {
        return Err(format!("{what} too large"));
    }
    Ok(body.into())
}

/// https anywhere; plain http only to a loopback host (tests, local IdPs); never with userinfo (credentials in
/// the URL). The rule for every URL keys or documents are fetched from: a trusted issuer's JWKS, metadata and
/// UserInfo endpoint, and a `private_key_jwt` client's `jwks_uri`.
pub fn jwks_uri_allowed(uri: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(uri) else { return false };
    if !url.username().is_empty() || url.password().is_some() {
        return false;
    }
    match (url.scheme(), url.host()) {
        ("https", Some(_)) => true,
        ("http", Some(url::Host::Domain(host))) => host == "localhost",
        ("http", Some(url::Host::Ipv4(ip))) => ip.is_loopback(),
        ("http", Some(url::Host::Ipv6(ip))) => ip.is_loopback(),
        _ => false,
    }
}

fn family_of(jwk: &Jwk) -> Option<AlgorithmFamily> {
    match jwk.algorithm {
        AlgorithmParameters::RSA(_) => Some(AlgorithmFamily::Rsa),
        AlgorithmParameters::EllipticCurve(_) => Some(AlgorithmFamily::Ec),
        AlgorithmParameters::OctetKeyPair(_) => Some(AlgorithmFamily::Ed),
        // Symmetric (`oct`) and unknown keys are never used: a shared secret in a JWKS is a misconfiguration.
        _ => None,
    }
}

/// The HTTP client for the URLs keys and documents are fetched from (JWKS, metadata, UserInfo): short
/// timeouts, no redirects.
pub fn jwks_http_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(2))
        .timeout(std::time::Duration::from_secs(3))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot build the JWKS HTTP client: {e}"))
}

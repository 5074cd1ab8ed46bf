//! JWTs from trusted external issuers (Auth0, Cognito, Okta, Entra), validated offline against the issuer's
//! JWKS, the way IndyKite's token introspection matches them: by `iss` and `aud`.
//!
//! Only asymmetric algorithms are ever accepted, and only those the issuer entry names: `none` and every
//! HS* algorithm are refused when the configuration is loaded, and a token's `alg` must equal the JWK's
//! `alg` (when the JWK states one) and fit the JWK's key type. Time claims are checked against the injected
//! clock with [`EXTERNAL_LEEWAY_SECS`] of skew, since the issuer's clock is not ours.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, AlgorithmFamily, Validation, decode, decode_header};
use serde_json::{Map, Value};

use super::access_token::{MAX_JWT_LEN, is_access_token_typ};
pub use super::jwks::{JWKS_MIN_REFETCH_SECS, JWKS_TTL_SECS, RemoteJwks};
use super::jwks::{KeySet, VerificationKeys};
pub(crate) use super::jwks::{bounded_body, jwks_uri_allowed};
use crate::domain::revocation::{MAX_TOKEN_LIFETIME_SECS, WatermarkTarget};
use crate::domain::time::Timestamp;
use crate::domain::token::{ExternalJwtIdentity, TokenHash};

/// Clock skew tolerated on an external token's `exp`, `nbf` and `iat`.
pub const EXTERNAL_LEEWAY_SECS: u64 = 30;

/// A trusted issuer entry that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum IssuerConfigError {
    /// An algorithm that is not asymmetric, or unknown.
    #[error("trusted issuer {issuer}: algorithm {alg} is not allowed (asymmetric algorithms only, never none or HS*)")]
    Algorithm {
        /// The issuer.
        issuer: String,
        /// The refused algorithm.
        alg: String,
    },
    /// Something else is wrong with the entry.
    #[error("trusted issuer {issuer}: {reason}")]
    Invalid {
        /// The issuer.
        issuer: String,
        /// What is wrong.
        reason: String,
    },
}

/// Why an external JWT was refused. Logged only: the client sees `invalid_grant` or `{"active": false}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExternalRejection {
    /// Over the size limit.
    #[error("token too long")]
    TooLong,
    /// Not a JWT, or claims of the wrong type.
    #[error("malformed: {0}")]
    Malformed(String),
    /// No trusted issuer has this `iss`.
    #[error("issuer not trusted")]
    UntrustedIssuer,
    /// `alg` is not one the issuer entry allows (this covers `none` and HS*).
    #[error("algorithm not allowed")]
    AlgorithmNotAllowed,
    /// A `crit` header: it names extensions that must be understood, and Tessera understands none
    /// (RFC 7515 §4.1.11: the JWS must then be rejected).
    #[error("unsupported crit header")]
    Critical,
    /// No `kid`, or one the issuer's JWKS does not hold.
    #[error("unknown kid")]
    UnknownKey,
    /// `alg` does not match the JWK.
    #[error("algorithm does not match the key")]
    AlgorithmMismatch,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// `aud` names none of the configured audiences.
    #[error("audience not accepted")]
    WrongAudience,
    /// Past `exp` (with leeway), or no `exp`.
    #[error("expired")]
    Expired,
    /// No `iat`, or `exp - iat` longer than the longest token lifetime Tessera honours (90 days): a watermark
    /// could expire before the token.
    #[error("no iat, or a lifetime over 90 days")]
    TooLongLived,
    /// Before `nbf`, or `iat` in the future (with leeway).
    #[error("not yet valid")]
    NotYetValid,
    /// The subject claim is missing or not a non-empty string.
    #[error("no subject")]
    NoSubject,
    /// A `cnf` claim (RFC 7800): the token is bound to a key or a certificate (RFC 9449 §6, RFC 8705 §3), and its
    /// holder must prove possession where it is used. Tessera cannot check that proof for another issuer's token, so
    /// it neither exchanges it nor vouches for it at introspection: taken as a bearer token, a stolen bound token
    /// would be good anywhere.
    #[error("sender-constrained (cnf): its proof of possession cannot be checked here")]
    SenderConstrained,
}

/// A verified external identity: who the token names and what the mapping extracts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIdentity {
    /// The issuer.
    pub issuer: String,
    /// The mapped subject (the `subject_claim`).
    pub subject: String,
    /// The `sub` claim itself, when a string: a UserInfo response's `sub` must equal it (OpenID Connect Core
    /// §5.3.2), whatever `subject_claim` maps.
    pub sub: Option<String>,
    /// The `username_claim`, when configured and present.
    pub username: Option<String>,
    /// Mapped claims: introspection attribute → value.
    pub user_details: BTreeMap<String, Value>,
    /// The `amr` claim's methods (RFC 8176), when it is an array of strings.
    pub amr: Vec<String>,
    /// The token's audiences.
    pub audience: Vec<String>,
    /// `iat` (required).
    pub issued_at: Timestamp,
    /// `exp`.
    pub expires_at: Timestamp,
    /// `jti`, when present.
    pub jti: Option<String>,
    /// The token's identity, the key of its record: `(iss, jti)`, or the signed claims when it has no `jti`
    /// ([`TokenHash::of_external_jwt`]). Every string that verifies to these claims has this identity.
    pub token_id: TokenHash,
    /// Where releases up to 0.1 kept its record (empty unless its issuer records tokens): SHA-256 of the string
    /// presented and, for ECDSA, of its twin (the same token with s replaced by n − s), since 0.1 recorded whichever
    /// spelling it was shown. Read, never written, so that a revocation recorded before the upgrade reaches every
    /// spelling until the token expires.
    pub legacy_hashes: Vec<TokenHash>,
    /// The client the issuer minted it for (`client_id`, else `azp`), when present.
    pub client_id: Option<String>,
    /// The `scope` claim, when it is a string.
    pub scope: Option<String>,
    /// Its header's `typ` says it is an access token (RFC 9068 §2.1, [`is_access_token_typ`]): the one kind of a
    /// trusted issuer's JWT that introspection presents to the issuer's UserInfo endpoint as a bearer credential.
    /// An ID token (`typ` `JWT` or none) never is one (OpenID Connect Core §5.3.1).
    pub typed_access_token: bool,
}

impl ExternalIdentity {
    /// The issue time a watermark is compared with: `iat`, but never later than `now`. An issuer whose clock runs
    /// ahead (within the tolerated skew) stamps a token with a future `iat`; compared as is, a token issued before a
    /// revocation would outlive it.
    pub fn issued_no_later_than(&self, now: Timestamp) -> Timestamp {
        self.issued_at.min(now)
    }

    /// The first instant the token is no longer accepted: `exp` plus the issuer's clock skew
    /// ([`EXTERNAL_LEEWAY_SECS`]). The one expiry rule for a trusted issuer's token: validation, introspection,
    /// token exchange and its record's TTL all use it, so none of them disagrees on whether it is live.
    pub fn accepted_until(&self) -> Timestamp {
        self.expires_at.plus_secs(EXTERNAL_LEEWAY_SECS)
    }

    /// The watermarks that apply to the token: its mapped subject's and its tenant's.
    pub fn watermark_targets(&self) -> [WatermarkTarget; 2] {
        [WatermarkTarget::subject(&self.subject), WatermarkTarget::Tenant]
    }
}

/// A trusted issuer, validated and with its keys parsed once.
#[derive(Clone)]
pub struct TrustedIssuer {
    /// The exact `iss` value.
    pub issuer: String,
    /// Accepted `aud` values; a token must name at least one.
    pub audiences: Vec<String>,
    /// Allowed algorithms, all asymmetric.
    pub algorithms: Vec<Algorithm>,
    /// The claim that holds the subject (default `sub`).
    pub subject_claim: String,
    /// The claim reported as `username`, if any.
    pub username_claim: Option<String>,
    /// External claim → introspection attribute.
    pub claims_mapping: BTreeMap<String, String>,
    /// Record validated tokens under their hash, so Tessera's revocation applies to them.
    pub record_tokens: bool,
    /// Its UserInfo endpoint, when user details are fetched (at token exchange, and at introspection of its access
    /// tokens).
    pub userinfo: Option<Arc<crate::userinfo::UserinfoEndpoint>>,
    keys: IssuerKeys,
}

/// Where an issuer's keys come from.
#[derive(Debug, Clone)]
pub enum JwksSource {
    /// A JWK Set given in the configuration (inline or from a file).
    Inline(JwkSet),
    /// A JWKS URL, fetched and cached (see [`RemoteJwks`]).
    Uri(String),
}

/// The keys an external issuer signs with, and the algorithms it may use: the one verifier of a JWS from outside,
/// for a trusted issuer's tokens ([`TrustedIssuer`]) and a Shared Signals transmitter's Security Event Tokens
/// ([`crate::events::ssf`]) alike. Verifying pins the algorithm (never `none`, never HS*), refuses `crit`, and
/// finds the key by `kid`, reading a JWKS URL through [`RemoteJwks`] when its cache is empty, stale or lacks it.
#[derive(Clone)]
pub struct IssuerKeys {
    algorithms: Vec<Algorithm>,
    keys: VerificationKeys,
}

/// A JWS whose signature verified: its protected header and its claims, not yet checked.
#[derive(Debug, Clone)]
pub struct VerifiedJws {
    /// The protected header.
    pub header: jsonwebtoken::Header,
    /// The claims, exactly as signed.
    pub claims: Map<String, Value>,
}

impl std::fmt::Debug for IssuerKeys {
    /// The algorithms and where the keys come from; never the keys.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerKeys")
            .field("algorithms", &self.algorithms)
            .field("remote", &self.remote().is_some())
            .finish_non_exhaustive()
    }
}

impl IssuerKeys {
    /// `issuer`'s keys: inline keys with a `kid` and an asymmetric key type are parsed now (at least one must be
    /// usable); a JWKS URL (https, or http on loopback) is fetched on first use with `http`. `algorithms` must all be
    /// asymmetric.
    pub fn new(
        issuer: &str,
        algorithms: Vec<Algorithm>,
        jwks: JwksSource,
        http: Option<reqwest::Client>,
    ) -> Result<Self, IssuerConfigError> {
        let invalid =
            |reason: &str| IssuerConfigError::Invalid { issuer: issuer.to_owned(), reason: reason.to_owned() };
        if algorithms.is_empty() || algorithms.iter().any(|a| a.family() == AlgorithmFamily::Hmac) {
            return Err(invalid("algorithms must list asymmetric algorithms only"));
        }
        let keys = match jwks {
            JwksSource::Inline(jwks) => {
                let keys = KeySet::parse(&jwks, &algorithms);
                if keys.has_no_kid() {
                    return Err(invalid("the JWKS has no usable asymmetric key with a kid"));
                }
                VerificationKeys::Static(Arc::new(keys))
            }
            JwksSource::Uri(uri) => {
                if !jwks_uri_allowed(&uri) {
                    return Err(invalid("jwks_uri must be https (plain http only on a loopback address)"));
                }
                let http = http.ok_or_else(|| invalid("no HTTP client for jwks_uri"))?;
                VerificationKeys::Remote(Arc::new(RemoteJwks::new(uri, algorithms.clone(), http)))
            }
        };
        Ok(Self { algorithms, keys })
    }

    /// The algorithms a JWS may be signed with.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// The JWKS cache, for keys configured with `jwks_uri`.
    pub fn remote(&self) -> Option<&RemoteJwks> {
        self.keys.remote()
    }

    /// Verifies the signature of the compact JWS `token` (at most [`MAX_JWT_LEN`] bytes) with a pinned algorithm
    /// and the key its `kid` names. No claim is checked: that is the caller's.
    pub async fn verify(&self, token: &str, now: Timestamp) -> Result<VerifiedJws, ExternalRejection> {
        if token.len() > MAX_JWT_LEN {
            return Err(ExternalRejection::TooLong);
        }
        let header = decode_header(token).map_err(|e| ExternalRejection::Malformed(e.to_string()))?;
        if !self.algorithms.contains(&header.alg) {
            return Err(ExternalRejection::AlgorithmNotAllowed);
        }
        if header.crit.is_some() {
            return Err(ExternalRejection::Critical);
        }
        let kid = header.kid.as_deref().ok_or(ExternalRejection::UnknownKey)?;
        let keys = self.keys.keys_for(Some(kid), now).await;
        let key = keys.select(Some(kid), header.alg).ok_or(ExternalRejection::UnknownKey)?;
        if !key.fits(header.alg) {
            return Err(ExternalRejection::AlgorithmMismatch);
        }
        let key = &key.key;
        let mut validation = Validation::new(header.alg);
        validation.required_spec_claims = HashSet::new();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        let claims = decode::<Map<String, Value>>(token, key, &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => ExternalRejection::BadSignature,
                _ => ExternalRejection::Malformed(e.to_string()),
            })?
            .claims;
        Ok(VerifiedJws { header, claims })
    }
}

impl std::fmt::Debug for TrustedIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedIssuer")
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .field("algorithms", &self.algorithms)
            .field("remote_jwks", &self.keys.remote().is_some())
            .field("userinfo", &self.userinfo.is_some())
            .finish_non_exhaustive()
    }
}

/// Parses an algorithm name, refusing `none` and every symmetric algorithm.
pub fn asymmetric_algorithm(issuer: &str, name: &str) -> Result<Algorithm, IssuerConfigError> {
    let refused = || IssuerConfigError::Algorithm { issuer: issuer.to_owned(), alg: name.to_owned() };
    let alg: Algorithm = name.parse().map_err(|_| refused())?;
    if alg.family() == AlgorithmFamily::Hmac { Err(refused()) } else { Ok(alg) }
}

impl TrustedIssuer {
    /// Builds an entry. Inline keys with a `kid` and an asymmetric key type are parsed now; a JWKS URL is
    /// fetched on first use with `http`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        issuer: String,
        audiences: Vec<String>,
        algorithms: Vec<Algorithm>,
        subject_claim: String,
        username_claim: Option<String>,
        claims_mapping: BTreeMap<String, String>,
        record_tokens: bool,
        jwks: JwksSource,
        http: Option<reqwest::Client>,
    ) -> Result<Self, IssuerConfigError> {
        let invalid = |reason: &str| IssuerConfigError::Invalid { issuer: issuer.clone(), reason: reason.to_owned() };
        if issuer.is_empty() {
            return Err(invalid("issuer is empty"));
        }
        if audiences.is_empty() {
            return Err(invalid("audiences is empty: a token must be matched by issuer and audience"));
        }
        let keys = IssuerKeys::new(&issuer, algorithms.clone(), jwks, http)?;
        Ok(Self {
            issuer,
            audiences,
            algorithms,
            subject_claim,
            username_claim,
            claims_mapping,
            record_tokens,
            userinfo: None,
            keys,
        })
    }

    /// The same issuer, fetching user details from `userinfo` at token exchange.
    pub fn with_userinfo(self, userinfo: crate::userinfo::UserinfoEndpoint) -> Self {
        Self { userinfo: Some(Arc::new(userinfo)), ..self }
    }

    /// The JWKS cache, for an issuer configured with `jwks_uri`.
    pub fn remote_jwks(&self) -> Option<&RemoteJwks> {
        self.keys.remote()
    }

    /// Validates `token`: signature with a pinned algorithm, `iss`, `aud`, time claims, subject. Offline,
    /// except that a JWKS URL is read when its cache is empty, expired, or lacks the token's `kid`.
    pub async fn validate(&self, token: &str, now: Timestamp) -> Result<ExternalIdentity, ExternalRejection> {
        let VerifiedJws { header, claims } = self.keys.verify(token, now).await?;

        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err(ExternalRejection::UntrustedIssuer);
        }
        let audience: Vec<String> = match claims.get("aud") {
            Some(Value::String(one)) => vec![one.clone()],
            Some(Value::Array(many)) => many.iter().filter_map(|a| a.as_str().map(str::to_owned)).collect(),
            _ => Vec::new(),
        };
        if !audience.iter().any(|a| self.audiences.contains(a)) {
            return Err(ExternalRejection::WrongAudience);
        }
        if claims.get("cnf").is_some() {
            return Err(ExternalRejection::SenderConstrained);
        }
        let numeric = |name: &str| -> Result<Option<u64>, ExternalRejection> {
            match claims.get(name) {
                None => Ok(None),
                Some(v) => v
                    .as_u64()
                    .map(Some)
                    .ok_or_else(|| ExternalRejection::Malformed(format!("{name} is not a NumericDate"))),
            }
        };
        let now_secs = now.as_secs();
        let exp = numeric("exp")?.ok_or(ExternalRejection::Expired)?;
        // The rule of `ExternalIdentity::accepted_until`.
        if now >= Timestamp::from_secs(exp).plus_secs(EXTERNAL_LEEWAY_SECS) {
            return Err(ExternalRejection::Expired);
        }
        if numeric("nbf")?.is_some_and(|nbf| now_secs.saturating_add(EXTERNAL_LEEWAY_SECS) < nbf) {
            return Err(ExternalRejection::NotYetValid);
        }
        // `iat` is required: a watermark revokes what was issued before it, and lives for the longest token
        // lifetime Tessera honours, so a token must say when it was issued and live no longer than that.
        let iat = numeric("iat")?.ok_or(ExternalRejection::TooLongLived)?;
        if now_secs.saturating_add(EXTERNAL_LEEWAY_SECS) < iat {
            return Err(ExternalRejection::NotYetValid);
        }
        if exp.saturating_sub(iat) > u64::from(MAX_TOKEN_LIFETIME_SECS) {
            return Err(ExternalRejection::TooLongLived);
        }
        let subject = claims
            .get(&self.subject_claim)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or(ExternalRejection::NoSubject)?
            .to_owned();
        let user_details = self
            .claims_mapping
            .iter()
            .filter_map(|(claim, attribute)| claims.get(claim).map(|v| (attribute.clone(), v.clone())))
            .collect();
        let jti = claims.get("jti").and_then(Value::as_str).map(str::to_owned);
        let token_id = match &jti {
            Some(jti) => TokenHash::of_external_jwt(ExternalJwtIdentity::IssuerAndJti { issuer: &self.issuer, jti }),
            None => TokenHash::of_external_jwt(ExternalJwtIdentity::SignedClaims(&signed_claims(token)?)),
        };
        // Only a recording issuer's tokens have records to look up: no hashing for the others.
        let legacy_hashes: Vec<TokenHash> = match self.record_tokens {
            true => std::iter::once(TokenHash::of(token))
                .chain(ecdsa_twin(token, header.alg).map(|twin| TokenHash::of(&twin)))
                .collect(),
            false => Vec::new(),
        };
        let username =
            self.username_claim.as_deref().and_then(|c| claims.get(c)).and_then(Value::as_str).map(str::to_owned);
        Ok(ExternalIdentity {
            issuer: self.issuer.clone(),
            subject,
            sub: claims.get("sub").and_then(Value::as_str).map(str::to_owned),
            username,
            user_details,
            amr: match claims.get("amr") {
                Some(Value::Array(methods)) => methods.iter().filter_map(|m| m.as_str().map(str::to_owned)).collect(),
                _ => Vec::new(),
            },
            audience,
            issued_at: Timestamp::from_secs(iat),
            expires_at: Timestamp::from_secs(exp),
            jti,
            token_id,
            legacy_hashes,
            client_id: ["client_id", "azp"]
                .iter()
                .find_map(|c| claims.get(*c).and_then(Value::as_str))
                .map(str::to_owned),
            scope: claims.get("scope").and_then(Value::as_str).map(str::to_owned),
            typed_access_token: is_access_token_typ(header.typ.as_deref()),
        })
    }
}

/// The order n of the P-256 group (SEC 2 §2.4.2), big-endian.
const P256_ORDER: [u8; 32] = hex(b"ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
/// The order n of the P-384 group (SEC 2 §2.5.1), big-endian.
const P384_ORDER: [u8; 48] =
    hex(b"ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973");

/// `N` bytes from `2 N` lowercase hex digits, at compile time.
const fn hex<const N: usize>(text: &[u8]) -> [u8; N] {
    const fn digit(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            _ => c - b'a' + 10,
        }
    }
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = digit(text[2 * i]) << 4 | digit(text[2 * i + 1]);
        i += 1;
    }
    out
}

/// The ECDSA twin of a verified compact JWS: its signature (r, s) replaced by (r, n − s), which verifies as well.
/// `None` for other algorithms, or a signature not of the curve's size. Only to find the records releases up to
/// 0.1 kept under a spelling's hash; identity never depends on it.
pub(crate) fn ecdsa_twin(token: &str, alg: Algorithm) -> Option<String> {
    use base64::Engine;
    let order: &[u8] = match alg {
        Algorithm::ES256 => &P256_ORDER,
        Algorithm::ES384 => &P384_ORDER,
        _ => return None,
    };
    let (signing_input, signature) = token.rsplit_once('.')?;
    let mut signature = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(signature).ok()?;
    if signature.len() != 2 * order.len() {
        return None;
    }
    let s = signature.split_off(order.len());
    // n − s, big-endian with a borrow; a verified signature has 0 < s < n.
    let mut twin = vec![0u8; order.len()];
    let mut borrow = 0u16;
    for i in (0..order.len()).rev() {
        let (digit, under) = u16::from(order[i]).overflowing_sub(u16::from(s[i]) + borrow);
        twin[i] = digit as u8;
        borrow = u16::from(under);
    }
    signature.extend_from_slice(&twin);
    Some(format!("{signing_input}.{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature)))
}

/// The decoded payload of a compact JWS: the claims exactly as its signature covers them.
fn signed_claims(token: &str) -> Result<Vec<u8>, ExternalRejection> {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| ExternalRejection::Malformed("payload is not base64url".into()))
}

/// The unverified `iss` of a JWT, to pick the trusted issuer entry that will verify it. Never trust it for
/// anything else.
pub fn peek_issuer(token: &str) -> Option<String> {
    if token.len() > MAX_JWT_LEN {
        return None;
    }
    let claims: Map<String, Value> = jsonwebtoken::dangerous::insecure_decode_claims(token).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;
    use crate::jwt::keys::{SigningAlgorithm, SigningKey};

    /// The algorithm-confusion forgery: `claims` as an HS256 JWT whose HMAC key is `key`'s public JWK, `kid` "k1".
    pub(crate) fn hs256_keyed_with_public_jwk(key: &SigningKey, claims: &Value) -> String {
        let public = serde_json::to_vec(key.public_jwk()).unwrap();
        let header = jsonwebtoken::Header { kid: Some("k1".into()), ..jsonwebtoken::Header::new(Algorithm::HS256) };
        jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_secret(&public)).unwrap()
    }

    const ISS: &str = "https://tenant.eu.auth0.com/";
    const NOW: u64 = 1_800_000_000;

    fn issuer_with(key: &SigningKey, algorithms: Vec<Algorithm>) -> TrustedIssuer {
        let jwks: JwkSet = serde_json::from_value(json!({"keys": [key.public_jwk()]})).unwrap();
        TrustedIssuer::new(
            ISS.into(),
            vec!["https://api.example.com".into()],
            algorithms,
            "sub".into(),
            Some("email".into()),
            BTreeMap::from([("email".into(), "email".into()), ("given_name".into(), "first_name".into())]),
            false,
            JwksSource::Inline(jwks),
            None,
        )
        .unwrap()
    }

    fn claims() -> Value {
        json!({"iss": ISS, "sub": "auth0|alice", "aud": ["https://api.example.com", "https://tenant/userinfo"],
               "iat": NOW - 10, "exp": NOW + 3600, "email": "alice@example.com", "given_name": "Alice", "jti": "j1"})
    }

    #[tokio::test]
    async fn a_valid_token_yields_the_mapped_identity() {
        let key = SigningKey::generate(SigningAlgorithm::ES256, "k1").unwrap();
        let issuer = issuer_with(&key, vec![Algorithm::ES256]);
        let token = key.sign_jwt("JWT", &claims()).unwrap();
        assert_eq!(peek_issuer(&token).as_deref(), Some(ISS));
        let identity = issuer.validate(&token, Timestamp::from_secs(NOW)).await.unwrap();
        assert_eq!(identity.subject, "auth0|alice");
        assert_eq!(identity.username.as_deref(), Some("alice@example.com"));
        assert_eq!(identity.user_details["first_name"], "Alice");
        assert_eq!(identity.user_details["email"], "alice@example.com");
        assert_eq!(identity.expires_at, Timestamp::from_secs(NOW + 3600));
    }

    #[tokio::test]
    async fn every_invalid_case_is_refused_with_its_reason() {
        let key = SigningKey::generate(SigningAlgorithm::ES256, "k1").unwrap();
        let issuer = issuer_with(&key, vec![Algorithm::ES256]);
        let now = Timestamp::from_secs(NOW);
        let with = |change: &dyn Fn(&mut Value)| {
            let mut c = claims();
            change(&mut c);
            key.sign_jwt("JWT", &c).unwrap()
        };
        let other = SigningKey::generate(SigningAlgorithm::ES256, "k1").unwrap();
        let unknown_kid = SigningKey::generate(SigningAlgorithm::ES256, "k2").unwrap();
        let b64 = |v: Value| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&v).unwrap())
        };
        let none = format!("{}.{}.", b64(json!({"alg": "none", "kid": "k1"})), b64(claims()));
        let hs = hs256_keyed_with_public_jwk(&key, &claims());
        let critical = {
            let header = jsonwebtoken::Header {
                kid: Some("k1".into()),
                crit: Some(vec!["urn:unknown".into()]),
                ..jsonwebtoken::Header::new(Algorithm::ES256)
            };
            let der = key.to_pkcs8_pem();
            jsonwebtoken::encode(&header, &claims(), &jsonwebtoken::EncodingKey::from_ec_pem(der.as_bytes()).unwrap())
                .unwrap()
        };
        let cases = [
            ("bad signature", other.sign_jwt("JWT", &claims()).unwrap(), ExternalRejection::BadSignature),
            ("unknown kid", unknown_kid.sign_jwt("JWT", &claims()).unwrap(), ExternalRejection::UnknownKey),
            ("HS256 with the public key", hs, ExternalRejection::AlgorithmNotAllowed),
            ("expired", with(&|c| c["exp"] = json!(NOW - EXTERNAL_LEEWAY_SECS)), ExternalRejection::Expired),
            (
                "too long-lived",
                with(&|c| c["exp"] = json!(NOW - 10 + 90 * 86_400 + 1)),
                ExternalRejection::TooLongLived,
            ),
            (
                "no iat",
                with(&|c| {
                    c.as_object_mut().unwrap().remove("iat");
                }),
                ExternalRejection::TooLongLived,
            ),
            (
                "no exp",
                with(&|c| {
                    c.as_object_mut().unwrap().remove("exp");
                }),
                ExternalRejection::Expired,
            ),
            ("nbf ahead", with(&|c| c["nbf"] = json!(NOW + 3600)), ExternalRejection::NotYetValid),
            ("wrong issuer", with(&|c| c["iss"] = json!("https://evil.example/")), ExternalRejection::UntrustedIssuer),
            (
                "wrong audience",
                with(&|c| c["aud"] = json!("https://other.example.com")),
                ExternalRejection::WrongAudience,
            ),
            ("no subject", with(&|c| c["sub"] = json!("")), ExternalRejection::NoSubject),
            ("crit", critical, ExternalRejection::Critical),
            (
                "DPoP-bound (RFC 9449 §6.1)",
                with(&|c| c["cnf"] = json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"})),
                ExternalRejection::SenderConstrained,
            ),
            (
                "certificate-bound (RFC 8705 §3.1)",
                with(&|c| c["cnf"] = json!({"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"})),
                ExternalRejection::SenderConstrained,
            ),
        ];
        for (name, token, expected) in cases {
            assert_eq!(issuer.validate(&token, now).await, Err(expected), "{name}");
        }
        // `none` cannot even be parsed as a JOSE algorithm here.
        assert!(matches!(issuer.validate(&none, now).await, Err(ExternalRejection::Malformed(_))));
        // Leeway: just expired within the tolerated skew is still accepted.
        let skewed = with(&|c| c["exp"] = json!(NOW - EXTERNAL_LEEWAY_SECS + 1));
        assert!(issuer.validate(&skewed, now).await.is_ok());
        let wrong_type = with(&|c| c["exp"] = json!("tomorrow"));
        assert!(matches!(issuer.validate(&wrong_type, now).await, Err(ExternalRejection::Malformed(_))));
    }

    #[test]
    fn configuration_refuses_symmetric_algorithms_and_empty_audiences() {
        assert!(asymmetric_algorithm(ISS, "HS256").is_err());
        assert!(asymmetric_algorithm(ISS, "none").is_err());
        assert_eq!(asymmetric_algorithm(ISS, "RS256").unwrap(), Algorithm::RS256);
        let key = SigningKey::generate(SigningAlgorithm::EdDSA, "k1").unwrap();
        let jwks: JwkSet = serde_json::from_value(json!({"keys": [key.public_jwk()]})).unwrap();
        let build = |aud: Vec<String>, algs| {
            TrustedIssuer::new(
                ISS.into(),
                aud,
                algs,
                "sub".into(),
                None,
                BTreeMap::new(),
                false,
                JwksSource::Inline(jwks.clone()),
                None,
            )
        };
        assert!(build(vec![], vec![Algorithm::EdDSA]).is_err());
        assert!(build(vec!["a".into()], vec![Algorithm::HS256]).is_err());
        assert!(build(vec!["a".into()], vec![Algorithm::EdDSA]).is_ok());
        let oct: JwkSet =
            serde_json::from_value(json!({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "s"}]})).unwrap();
        let only_secret = TrustedIssuer::new(
            ISS.into(),
            vec!["a".into()],
            vec![Algorithm::RS256],
            "sub".into(),
            None,
            BTreeMap::new(),
            false,
            JwksSource::Inline(oct),
            None,
        );
        assert!(only_secret.is_err(), "a symmetric key in a JWKS is never used");
    }
}

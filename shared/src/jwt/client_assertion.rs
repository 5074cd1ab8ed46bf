//! `private_key_jwt` client assertions (RFC 7523 §2.2 and §3, RFC 7521 §4.2, OpenID Connect Core §9): a short-lived
//! JWT the client signs with one of its registered keys, verified here against those keys ([`crate::jwt::jwks`]).
//!
//! Only asymmetric algorithms are accepted ([`CLIENT_ASSERTION_ALGORITHMS`]): `none` cannot even be parsed, and
//! every HS* algorithm is refused before any key is looked at, so a public key can never serve as an HMAC secret.
//! `iss` and `sub` must both be the client id, `aud` the tenant's issuer or the URL of the endpoint that received
//! it, `exp` present and at most [`MAX_ASSERTION_LIFETIME_SECS`] ahead, `jti` present. That the `jti` is used once
//! is the caller's to enforce, with the store ([`crate::store::TokenStore::use_jti_once`]).

use std::collections::HashSet;

use jsonwebtoken::{Algorithm, Validation, decode, decode_header};
use serde_json::{Map, Value};

use super::access_token::MAX_JWT_LEN;
use super::jwks::VerificationKeys;
use crate::domain::time::Timestamp;

/// The `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The longest an assertion may live: `exp` at most this far past now (and past `iat`, when present). RFC 7523
/// §3 leaves the bound to the server; a short one keeps the `jti` records few and a stolen assertion near useless.
pub const MAX_ASSERTION_LIFETIME_SECS: u64 = 300;

/// Clock skew tolerated on `exp`, `nbf` and `iat`: the client's clock is not ours.
pub const ASSERTION_LEEWAY_SECS: u64 = 30;

/// The longest `jti` accepted. The replay record is keyed by its hash, so this bounds only what is hashed.
pub const MAX_JTI_LEN: usize = 256;

/// The algorithms an assertion may be signed with: every asymmetric JWS algorithm Tessera verifies, never `none`
/// or HS*. Metadata publishes them (RFC 8414 `token_endpoint_auth_signing_alg_values_supported`).
pub const CLIENT_ASSERTION_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
];

/// The JOSE names of [`CLIENT_ASSERTION_ALGORITHMS`], for the metadata document.
pub fn algorithm_names() -> Vec<&'static str> {
    CLIENT_ASSERTION_ALGORITHMS
        .iter()
        .map(|alg| match alg {
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            _ => "RS512",
        })
        .collect()
}

/// The `typ` header values an assertion may carry (RFC 8725 §3.11): none, the generic `JWT`, or the explicit type of
/// draft-ietf-oauth-rfc7523bis. Any other type is a JWT made for something else (an access token, a DPoP proof).
const ACCEPTED_TYPES: [&str; 2] = ["jwt", "client-authentication+jwt"];

/// An assertion that verified: what the replay check needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    /// Its `jti`.
    pub jti: String,
    /// The first instant it is no longer accepted (`exp` plus the skew): the replay record lives until then.
    pub accepted_until: Timestamp,
}

/// Why an assertion was refused. Logged only: the client sees `invalid_client` (RFC 7523 §3.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertionRejection {
    /// Not a compact JWS, over [`MAX_JWT_LEN`], or claims of the wrong type.
    #[error("malformed: {0}")]
    Malformed(String),
    /// `alg` is not asymmetric ([`CLIENT_ASSERTION_ALGORITHMS`]).
    #[error("algorithm not allowed")]
    AlgorithmNotAllowed,
    /// A `typ` that says the JWT is something else.
    #[error("wrong typ")]
    WrongType,
    /// A `crit` header (RFC 7515 §4.1.11: Tessera understands no extension, so it must reject).
    #[error("unsupported crit header")]
    Critical,
    /// No key of the client's set matches the header (`kid`, or the one key of the algorithm's type).
    #[error("unknown key")]
    UnknownKey,
    /// The key states another algorithm, or is of another type.
    #[error("algorithm does not match the key")]
    AlgorithmMismatch,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// `iss` or `sub` is not the client id (RFC 7523 §3 items 1 and 2).
    #[error("iss and sub must be the client_id")]
    WrongClient,
    /// `aud` names neither the issuer nor the endpoint (RFC 7523 §3 item 3).
    #[error("audience not accepted")]
    WrongAudience,
    /// No `exp`, or past it (with the skew) (RFC 7523 §3 item 4).
    #[error("expired or no exp")]
    Expired,
    /// `exp` more than [`MAX_ASSERTION_LIFETIME_SECS`] ahead of now or of `iat`.
    #[error("lifetime over the limit")]
    TooLongLived,
    /// Before `nbf`, or `iat` in the future (with the skew).
    #[error("not yet valid")]
    NotYetValid,
    /// No `jti`, or not a short non-empty string (OpenID Connect Core §9 requires it).
    #[error("no usable jti")]
    NoJti,
}

/// The client an assertion claims to be, unverified: its `sub` (RFC 7523 §3 item 2: for client authentication,
/// the client id), so the client's record (and keys) can be read. `None` when there is none to read. Never trust
/// it for anything else.
pub fn claimed_client_id(assertion: &str) -> Option<String> {
    if assertion.len() > MAX_JWT_LEN {
        return None;
    }
    let claims: Map<String, Value> = jsonwebtoken::dangerous::insecure_decode_claims(assertion).ok()?;
    claims.get("sub")?.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
}

/// Verifies `assertion` as `client_id`'s, with `keys`, at `now`: signature with a pinned asymmetric algorithm,
/// `iss` = `sub` = `client_id`, `aud` one of `audiences`, `exp` present and near, `nbf` and `iat` honoured, `jti`
/// present. A remote key set is fetched when its cache is empty, expired, or lacks the header's `kid`.
pub async fn verify(
    assertion: &str,
    client_id: &str,
    keys: &VerificationKeys,
    audiences: &[&str],
    now: Timestamp,
) -> Result<VerifiedAssertion, AssertionRejection> {
    use AssertionRejection as R;
    if assertion.len() > MAX_JWT_LEN {
        return Err(R::Malformed("too long".into()));
    }
    let header = decode_header(assertion).map_err(|e| R::Malformed(e.to_string()))?;
    if !CLIENT_ASSERTION_ALGORITHMS.contains(&header.alg) {
        return Err(R::AlgorithmNotAllowed);
    }
    if header.typ.as_deref().is_some_and(|typ| !ACCEPTED_TYPES.iter().any(|t| typ.eq_ignore_ascii_case(t))) {
        return Err(R::WrongType);
    }
    if header.crit.is_some() {
        return Err(R::Critical);
    }
    let kid = header.kid.as_deref();
    let keys = keys.keys_for(kid, now).await;
    let key = keys.select(kid, header.alg).ok_or(R::UnknownKey)?;
    if !key.fits(header.alg) {
        return Err(R::AlgorithmMismatch);
    }
    let mut validation = Validation::new(header.alg);
    validation.required_spec_claims = HashSet::new();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let claims = decode::<Map<String, Value>>(assertion, &key.key, &validation)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => R::BadSignature,
            _ => R::Malformed(e.to_string()),
        })?
        .claims;

    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("iss") != Some(client_id) || text("sub") != Some(client_id) {
        return Err(R::WrongClient);
    }
    let named = |aud: &str| audiences.contains(&aud);
    let audience_ok = match claims.get("aud") {
        Some(Value::String(one)) => named(one),
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).any(named),
        _ => false,
    };
    if !audience_ok {
        return Err(R::WrongAudience);
    }
    let numeric = |name: &str| -> Result<Option<u64>, AssertionRejection> {
        match claims.get(name) {
            None => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or_else(|| R::Malformed(format!("{name} is not a NumericDate"))),
        }
    };
    let now_secs = now.as_secs();
    let exp = numeric("exp")?.ok_or(R::Expired)?;
    let accepted_until = Timestamp::from_secs(exp).plus_secs(ASSERTION_LEEWAY_SECS);
    if now >= accepted_until {
        return Err(R::Expired);
    }
    if exp.saturating_sub(now_secs) > MAX_ASSERTION_LIFETIME_SECS + ASSERTION_LEEWAY_SECS {
        return Err(R::TooLongLived);
    }
    if numeric("nbf")?.is_some_and(|nbf| now_secs.saturating_add(ASSERTION_LEEWAY_SECS) < nbf) {
        return Err(R::NotYetValid);
    }
    if let Some(iat) = numeric("iat")? {
        if now_secs.saturating_add(ASSERTION_LEEWAY_SECS) < iat {
            return Err(R::NotYetValid);
        }
        if exp.saturating_sub(iat) > MAX_ASSERTION_LIFETIME_SECS {
            return Err(R::TooLongLived);
        }
    }
    let jti = text("jti").filter(|j| (1..=MAX_JTI_LEN).contains(&j.len())).ok_or(R::NoJti)?;
    Ok(VerifiedAssertion { jti: jti.to_owned(), accepted_until })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use jsonwebtoken::jwk::JwkSet;
    use serde_json::json;

    use super::*;
    use crate::jwt::jwks::KeySet;
    use crate::jwt::keys::{SigningAlgorithm, SigningKey};

    const CLIENT: &str = "billing-batch";
    const ISSUER: &str = "https://auth.example.com";
    const ENDPOINT: &str = "https://auth.example.com/oauth2/token";
    const NOW: u64 = 1_800_000_000;

    fn keys_of(keys: &[&SigningKey]) -> VerificationKeys {
        let jwks: JwkSet =
            serde_json::from_value(json!({"keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>()})).unwrap();
        VerificationKeys::Static(Arc::new(KeySet::parse(&jwks, &CLIENT_ASSERTION_ALGORITHMS)))
    }

    fn claims() -> Value {
        json!({"iss": CLIENT, "sub": CLIENT, "aud": ENDPOINT, "exp": NOW + 60, "iat": NOW, "jti": "a-1"})
    }

    async fn check(keys: &VerificationKeys, assertion: &str) -> Result<VerifiedAssertion, AssertionRejection> {
        verify(assertion, CLIENT, keys, &[ISSUER, ENDPOINT], Timestamp::from_secs(NOW)).await
    }

    #[tokio::test]
    async fn a_valid_assertion_yields_its_jti_and_how_long_it_is_accepted() {
        let key = SigningKey::generate(SigningAlgorithm::ES256, "k1").unwrap();
        let keys = keys_of(&[&key]);
        let verified = check(&keys, &key.sign_jwt("JWT", &claims()).unwrap()).await.unwrap();
        assert_eq!(verified.jti, "a-1");
        assert_eq!(verified.accepted_until, Timestamp::from_secs(NOW + 60 + ASSERTION_LEEWAY_SECS));
        assert_eq!(claimed_client_id(&key.sign_jwt("JWT", &claims()).unwrap()).as_deref(), Some(CLIENT));
        // The issuer itself is an audience too (RFC 7523 §3 item 3), alone or among others.
        for aud in [json!(ISSUER), json!(["https://elsewhere", ENDPOINT])] {
            let mut c = claims();
            c["aud"] = aud;
            assert!(check(&keys, &key.sign_jwt("JWT", &c).unwrap()).await.is_ok());
        }
    }

    /// RFC 7523 §3: iss and sub are the client id, aud names the server, exp is required; §3.2: anything invalid
    /// is refused. The lifetime bound and the required `jti` are OpenID Connect Core §9's and this server's.
    #[tokio::test]
    async fn every_invalid_assertion_is_refused_with_its_reason() {
        let key = SigningKey::generate(SigningAlgorithm::ES256, "k1").unwrap();
        let keys = keys_of(&[&key]);
        let with = |change: &dyn Fn(&mut Value)| {
            let mut c = claims();
            change(&mut c);
            key.sign_jwt("JWT", &c).unwrap()
        };
        let remove = |name: &'static str| move |c: &mut Value| drop(c.as_object_mut().unwrap().remove(name));
        let hs = crate::jwt::external::tests::hs256_keyed_with_public_jwk(&key, &claims());
        use AssertionRejection as R;
        let cases: Vec<(&str, String, AssertionRejection)> = vec![
            ("HS256 with the public key", hs, R::AlgorithmNotAllowed),
            ("a DPoP proof's typ", key.sign_jwt("dpop+jwt", &claims()).unwrap(), R::WrongType),
            (
                "unknown kid",
                SigningKey::generate(SigningAlgorithm::ES256, "k2").unwrap().sign_jwt("JWT", &claims()).unwrap(),
                R::UnknownKey,
            ),
            (
                "another key, same kid",
                SigningKey::generate(SigningAlgorithm::ES256, "k1").unwrap().sign_jwt("JWT", &claims()).unwrap(),
                R::BadSignature,
            ),
            ("iss another client", with(&|c| c["iss"] = json!("other")), R::WrongClient),
            ("sub another client", with(&|c| c["sub"] = json!("other")), R::WrongClient),
            ("no sub", with(&remove("sub")), R::WrongClient),
            ("aud another server", with(&|c| c["aud"] = json!("https://other.example.com")), R::WrongAudience),
            (
                "aud the introspection endpoint",
                with(&|c| c["aud"] = json!(format!("{ISSUER}/oauth2/introspect"))),
                R::WrongAudience,
            ),
            ("no aud", with(&remove("aud")), R::WrongAudience),
            ("no exp", with(&remove("exp")), R::Expired),
            ("expired beyond the skew", with(&|c| c["exp"] = json!(NOW - ASSERTION_LEEWAY_SECS)), R::Expired),
            ("exp ten minutes ahead", with(&|c| c["exp"] = json!(NOW + 600)), R::TooLongLived),
            (
                "iat six minutes before exp",
                with(&|c| {
                    c["iat"] = json!(NOW - 100);
                    c["exp"] = json!(NOW + 261);
                }),
                R::TooLongLived,
            ),
            ("nbf ahead", with(&|c| c["nbf"] = json!(NOW + 120)), R::NotYetValid),
            ("iat ahead", with(&|c| c["iat"] = json!(NOW + 120)), R::NotYetValid),
            ("no jti", with(&remove("jti")), R::NoJti),
            ("empty jti", with(&|c| c["jti"] = json!("")), R::NoJti),
            ("numeric jti", with(&|c| c["jti"] = json!(7)), R::NoJti),
            ("long jti", with(&|c| c["jti"] = json!("j".repeat(MAX_JTI_LEN + 1))), R::NoJti),
        ];
        for (name, assertion, expected) in cases {
            assert_eq!(check(&keys, &assertion).await, Err(expected), "{name}");
        }
        let b64 = |v: Value| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&v).unwrap())
        };
        let none = format!("{}.{}.", b64(json!({"alg": "none", "kid": "k1"})), b64(claims()));
        for malformed in [none.as_str(), "", "a.b.c", &"x".repeat(MAX_JWT_LEN + 1)] {
            assert!(matches!(check(&keys, malformed).await, Err(R::Malformed(_))), "{malformed:.20}");
        }
        let wrong_type = with(&|c| c["exp"] = json!("soon"));
        assert!(matches!(check(&keys, &wrong_type).await, Err(R::Malformed(_))));
        // Within the skew is still accepted.
        assert!(check(&keys, &with(&|c| c["exp"] = json!(NOW - ASSERTION_LEEWAY_SECS + 1))).await.is_ok());
    }

    #[tokio::test]
    async fn without_a_kid_the_one_key_of_the_algorithms_type_verifies() {
        let ec = SigningKey::generate(SigningAlgorithm::ES256, "ec").unwrap();
        let ed = SigningKey::generate(SigningAlgorithm::EdDSA, "ed").unwrap();
        let mut jwk = serde_json::to_value(ec.public_jwk()).unwrap();
        jwk.as_object_mut().unwrap().remove("kid");
        let jwks: JwkSet =
            serde_json::from_value(json!({"keys": [jwk, serde_json::to_value(ed.public_jwk()).unwrap()]})).unwrap();
        let keys = VerificationKeys::Static(Arc::new(KeySet::parse(&jwks, &CLIENT_ASSERTION_ALGORITHMS)));
        let der = ec.to_pkcs8_pem();
        let encoding = jsonwebtoken::EncodingKey::from_ec_pem(der.as_bytes()).unwrap();
        let no_kid = jsonwebtoken::encode(&jsonwebtoken::Header::new(Algorithm::ES256), &claims(), &encoding).unwrap();
        assert!(check(&keys, &no_kid).await.is_ok());
        assert!(check(&keys, &ed.sign_jwt("JWT", &claims()).unwrap()).await.is_ok());
        // Two EC keys and no kid: which one was meant is not guessed.
        let other = SigningKey::generate(SigningAlgorithm::ES256, "ec2").unwrap();
        let two = keys_of(&[&ec, &other]);
        assert_eq!(check(&two, &no_kid).await, Err(AssertionRejection::UnknownKey));
    }

    #[test]
    fn only_asymmetric_algorithms_are_accepted() {
        use jsonwebtoken::AlgorithmFamily;
        assert!(CLIENT_ASSERTION_ALGORITHMS.iter().all(|a| a.family() != AlgorithmFamily::Hmac));
        let names = algorithm_names();
        assert_eq!(names.len(), CLIENT_ASSERTION_ALGORITHMS.len());
        for (name, alg) in names.iter().zip(CLIENT_ASSERTION_ALGORITHMS) {
            assert_eq!(name.parse::<Algorithm>().unwrap(), alg);
        }
    }
}

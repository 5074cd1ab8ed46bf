//! `private_key_jwt` clients for the tests (RFC 7523 §2.2): key pairs made here, their public JWK Set to register,
//! and client assertions signed with jwt-compact (RustCrypto's p256, ed25519-compact), a JOSE implementation
//! independent of the jsonwebtoken/aws-lc-rs code Tessera verifies with, so a shared bug cannot make both agree.

use std::sync::atomic::{AtomicU64, Ordering};

use jwt_compact::alg::{Ed25519, Es256, Hs256, Hs256Key};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{AlgorithmExt, Claims, Header};
use serde_json::{Value, json};

/// `client_assertion_type` for a JWT (RFC 7523 §2.2).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A client's signing key: ES256 (P-256) or EdDSA (Ed25519), with its `kid`.
pub enum ClientKey {
    /// ES256.
    Es256 {
        /// The key id.
        kid: String,
        /// The private key.
        key: <Es256 as jwt_compact::Algorithm>::SigningKey,
    },
    /// EdDSA over Ed25519.
    Ed25519 {
        /// The key id.
        kid: String,
        /// The private key.
        key: <Ed25519 as jwt_compact::Algorithm>::SigningKey,
    },
}

/// 32 random bytes from the system.
fn random32() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).expect("entropy");
    bytes
}

impl ClientKey {
    /// A fresh P-256 key.
    pub fn es256(kid: &str) -> Self {
        // A random scalar is below the group order but with negligible probability; try again then.
        let key = loop {
            if let Ok(key) = <Es256 as jwt_compact::Algorithm>::SigningKey::from_slice(&random32()) {
                break key;
            }
        };
        Self::Es256 { kid: kid.to_owned(), key }
    }

    /// A fresh Ed25519 key (its public half computed with aws-lc-rs, the signing done by ed25519-compact).
    pub fn ed25519(kid: &str) -> Self {
        use aws_lc_rs::signature::KeyPair;
        let seed = random32();
        let pair = aws_lc_rs::signature::Ed25519KeyPair::from_seed_unchecked(&seed).expect("Ed25519 seed");
        let secret = [&seed[..], pair.public_key().as_ref()].concat();
        let key = <Ed25519 as jwt_compact::Algorithm>::SigningKey::from_slice(&secret).expect("Ed25519 key");
        Self::Ed25519 { kid: kid.to_owned(), key }
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        match self {
            Self::Es256 { kid, .. } | Self::Ed25519 { kid, .. } => kid,
        }
    }

    /// The JOSE algorithm.
    pub fn alg(&self) -> &'static str {
        match self {
            Self::Es256 { .. } => "ES256",
            Self::Ed25519 { .. } => "EdDSA",
        }
    }

    /// The public key as a JWK, with `kid`, `alg` and `use`.
    pub fn public_jwk(&self) -> Value {
        let mut jwk = match self {
            Self::Es256 { key, .. } => serde_json::to_value(JsonWebKey::from(key.verifying_key())),
            Self::Ed25519 { key, .. } => {
                let public = key.public_key();
                serde_json::to_value(JsonWebKey::from(&public))
            }
        }
        .expect("a JWK");
        jwk["kid"] = json!(self.kid());
        jwk["alg"] = json!(self.alg());
        jwk["use"] = json!("sig");
        jwk
    }

    /// The JWK Set of `keys`, as JSON.
    pub fn jwks(keys: &[&ClientKey]) -> Value {
        json!({ "keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>() })
    }

    /// Signs `claims` with a header of `alg` and `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with(Header::empty().with_key_id(self.kid()), claims)
    }

    /// Signs `claims` with `header` (its `alg` is the key's).
    pub fn sign_with(&self, header: Header, claims: &Value) -> String {
        let claims = Claims::new(claims.clone());
        match self {
            Self::Es256 { key, .. } => Es256.token(&header, &claims, key),
            Self::Ed25519 { key, .. } => Ed25519.token(&header, &claims, key),
        }
        .expect("signed")
    }

    /// An HS256 JWT keyed with this key's public JWK as the HMAC secret: the algorithm-confusion attack.
    pub fn hs256_with_public_key(&self, claims: &Value) -> String {
        let secret = self.public_jwk().to_string();
        let header = Header::empty().with_key_id(self.kid());
        Hs256.token(&header, &Claims::new(claims.clone()), &Hs256Key::new(secret.as_bytes())).expect("signed")
    }
}

/// An unsigned JWT (`alg: none`, RFC 7519 §6) with `claims`.
pub fn unsigned(kid: &str, claims: &Value) -> String {
    use base64::Engine;
    let part = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.", part(json!({"alg": "none", "kid": kid})), part(claims.clone()))
}

/// A `jti` no other assertion of any run has: the DynamoDB suites share one table across runs.
pub fn fresh_jti() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let random = random32();
    let tag: String = random[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{tag}-{}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// The claims of an assertion by `client_id` for `audience` at `now_secs`: `iss` = `sub` = the client, a fresh
/// `jti`, one minute of life.
pub fn claims(client_id: &str, audience: &str, now_secs: u64) -> Value {
    json!({
        "iss": client_id, "sub": client_id, "aud": audience, "jti": fresh_jti(),
        "iat": now_secs, "exp": now_secs + 60,
    })
}

/// The form fields of `private_key_jwt` (RFC 7523 §2.2) for `assertion`, to add to a request's own.
pub fn fields(assertion: &str) -> [(&'static str, String); 2] {
    [("client_assertion_type", JWT_BEARER.to_owned()), ("client_assertion", assertion.to_owned())]
}

/// POSTs `pairs` with `assertion` as the client's credentials (and no `Authorization` header) to `path`.
pub async fn post(server: &crate::TestServer, path: &str, assertion: &str, pairs: &[(&str, &str)]) -> crate::Reply {
    let fields = fields(assertion);
    let all: Vec<(&str, &str)> = pairs.iter().copied().chain(fields.iter().map(|(k, v)| (*k, v.as_str()))).collect();
    server.post(path, None, &all).await
}

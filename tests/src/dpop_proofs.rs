//! DPoP proofs (RFC 9449) signed by a client's key with an independent JOSE implementation (jwt-compact on
//! RustCrypto's p256, not the jsonwebtoken/aws-lc-rs code Tessera verifies them with), for every suite that sends
//! DPoP-bound requests.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_compact::alg::Es256;
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{AlgorithmExt, Claims, Header};
use serde_json::{Value, json};

type EcKey = <Es256 as jwt_compact::Algorithm>::SigningKey;

/// A client's DPoP key pair, signing proofs with jwt-compact.
pub struct DpopKey {
    signing: EcKey,
    /// The public JWK, as the proofs carry it.
    pub jwk: Value,
    /// Its RFC 7638 thumbprint.
    pub jkt: String,
}

impl DpopKey {
    /// A key from a fixed secret scalar (`seed` repeated: below the P-256 order for any byte).
    pub fn new(seed: u8) -> Self {
        let signing = EcKey::from_slice(&[seed; 32]).expect("a P-256 scalar");
        let jwk = serde_json::to_value(JsonWebKey::from(signing.verifying_key())).expect("a JWK");
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["x"].as_str().expect("x"),
            jwk["y"].as_str().expect("y")
        );
        let jkt = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes()));
        Self { signing, jwk, jkt }
    }

    /// The private JWK (with `d`), which a proof must never carry.
    pub fn private_jwk(&self) -> Value {
        serde_json::to_value(JsonWebKey::from(&self.signing)).expect("a JWK")
    }

    /// A proof with this header (`jwk` and other members; `typ` apart) and these claims, signed ES256.
    pub fn sign(&self, typ: &str, header: Value, claims: Value) -> String {
        let header = Header::new(header).with_token_type(typ);
        Es256.token(&header, &Claims::new(claims), &self.signing).expect("a signed proof")
    }

    /// A well-formed proof for `htm` on `htu` at `iat`, with `ath` when given.
    pub fn proof(&self, htm: &str, htu: &str, iat: u64, ath: Option<&str>) -> String {
        self.sign("dpop+jwt", json!({"jwk": self.jwk}), claims(htm, htu, iat, ath))
    }
}

/// Proof claims with a fresh `jti`.
pub fn claims(htm: &str, htu: &str, iat: u64, ath: Option<&str>) -> Value {
    let jti = URL_SAFE_NO_PAD.encode(rand_bytes());
    let mut claims = json!({"jti": jti, "htm": htm, "htu": htu, "iat": iat});
    if let Some(token) = ath {
        claims["ath"] = json!(ath_of(token));
    }
    claims
}

/// `ath`: base64url(SHA-256(token)) (RFC 9449 §4.2).
pub fn ath_of(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes()))
}

fn rand_bytes() -> [u8; 16] {
    let mut bytes = [0; 16];
    aws_lc_rs::rand::fill(&mut bytes).expect("randomness");
    bytes
}

/// An unsigned proof (`alg: none`).
pub fn unsigned_proof(key: &DpopKey, claims: Value) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    format!("{}.{}.", part(&json!({"typ": "dpop+jwt", "alg": "none", "jwk": key.jwk})), part(&claims))
}

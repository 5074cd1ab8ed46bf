//! Signing keys and the key ring of a tenant. A key is parsed once, when it is loaded; JWKS publishes
//! every key the ring holds, so tokens signed by an older key keep verifying until it is removed.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The algorithms Tessera signs with (RFC 7518 §3.4, RFC 8037).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SigningAlgorithm {
    /// ECDSA with P-256 and SHA-256.
    ES256,
    /// Ed25519.
    EdDSA,
}

impl SigningAlgorithm {
    /// The JOSE `alg` name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }

    /// The `jsonwebtoken` algorithm, for verification.
    pub const fn jose(self) -> Algorithm {
        match self {
            Self::ES256 => Algorithm::ES256,
            Self::EdDSA => Algorithm::EdDSA,
        }
    }
}

/// A key that could not be loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The PEM or PKCS#8 document is not a key of the stated algorithm.
    #[error("key {kid}: not a PKCS#8 {alg} private key")]
    Rejected {
        /// The key id.
        kid: String,
        /// The algorithm it was loaded as.
        alg: &'static str,
    },
    /// The crypto library failed to generate or sign.
    #[error("key {0}: signing failed")]
    Crypto(String),
    /// Serializing the JWT failed.
    #[error("token encoding failed: {0}")]
    Encoding(#[from] serde_json::Error),
}

enum Pair {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A private signing key with its public half ready for verification and for JWKS.
pub struct SigningKey {
    kid: String,
    alg: SigningAlgorithm,
    pair: Pair,
    pkcs8: Vec<u8>,
    decoding: DecodingKey,
    jwk: Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("alg", &self.alg).finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a new key with the operating system's CSPRNG.
    pub fn generate(alg: SigningAlgorithm, kid: &str) -> Result<Self, KeyError> {
        let crypto = |_| KeyError::Crypto(kid.to_owned());
        let der = match alg {
            SigningAlgorithm::ES256 => {
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).map_err(crypto)?
            }
            SigningAlgorithm::EdDSA => Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(crypto)?,
        };
        Self::from_pkcs8_der(alg, kid, der.as_ref())
    }

    /// Loads a PKCS#8 private key in PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pkcs8_pem(alg: SigningAlgorithm, kid: &str, pem: &str) -> Result<Self, KeyError> {
        let rejected = || KeyError::Rejected { kid: kid.to_owned(), alg: alg.as_str() };
        let doc = pem::parse(pem).map_err(|_| rejected())?;
        if doc.tag() != "PRIVATE KEY" {
            return Err(rejected());
        }
        Self::from_pkcs8_der(alg, kid, doc.contents())
    }

    /// Loads a PKCS#8 private key in DER.
    pub fn from_pkcs8_der(alg: SigningAlgorithm, kid: &str, der: &[u8]) -> Result<Self, KeyError> {
        let rejected = |_| KeyError::Rejected { kid: kid.to_owned(), alg: alg.as_str() };
        let (pair, public) = match alg {
            SigningAlgorithm::ES256 => {
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der).map_err(rejected)?;
                let public = pair.public_key().as_ref().to_vec();
                (Pair::Ecdsa(pair), public)
            }
            SigningAlgorithm::EdDSA => {
                let pair = Ed25519KeyPair::from_pkcs8(der).map_err(rejected)?;
                let public = pair.public_key().as_ref().to_vec();
                (Pair::Ed25519(pair), public)
            }
        };
        let (decoding, jwk) = public_forms(alg, kid, &public)?;
        Ok(Self { kid: kid.to_owned(), alg, pair, pkcs8: der.to_vec(), decoding, jwk })
    }

    /// The key id (`kid`).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The signing algorithm.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.alg
    }

    /// The public key for `jsonwebtoken` verification.
    pub fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }

    /// The public key as a JWK (RFC 7517) with `kid`, `alg` and `use: sig`.
    pub fn public_jwk(&self) -> &Value {
        &self.jwk
    }

    /// The private key as PKCS#8 PEM, for operators saving a generated key. Never log it.
    pub fn to_pkcs8_pem(&self) -> String {
        pem::encode(&pem::Pem::new("PRIVATE KEY", self.pkcs8.clone()))
    }

    /// Signs `claims` as a compact JWS with header `{"alg", "typ", "kid"}`.
    pub fn sign_jwt<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, KeyError> {
        let header = json!({ "alg": self.alg.as_str(), "typ": typ, "kid": self.kid });
        let mut jwt = String::with_capacity(512);
        URL_SAFE_NO_PAD.encode_string(serde_json::to_vec(&header)?, &mut jwt);
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(serde_json::to_vec(claims)?, &mut jwt);
        let signature = match &self.pair {
            Pair::Ecdsa(pair) => pair
                .sign(&SystemRandom::new(), jwt.as_bytes())
                .map_err(|_| KeyError::Crypto(self.kid.clone()))?
                .as_ref()
                .to_vec(),
            Pair::Ed25519(pair) => pair.sign(jwt.as_bytes()).as_ref().to_vec(),
        };
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut jwt);
        Ok(jwt)
    }
}

fn public_forms(alg: SigningAlgorithm, kid: &str, public: &[u8]) -> Result<(DecodingKey, Value), KeyError> {
    let rejected = || KeyError::Rejected { kid: kid.to_owned(), alg: alg.as_str() };
    match alg {
        SigningAlgorithm::ES256 => {
            // Uncompressed SEC1 point: 0x04 ‖ x ‖ y.
            let (0x04, coords) = public.split_first().map(|(t, c)| (*t, c)).ok_or_else(rejected)? else {
                return Err(rejected());
            };
            let (x, y) = coords.split_at(coords.len() / 2);
            let (x, y) = (URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y));
            let decoding = DecodingKey::from_ec_components(&x, &y).map_err(|_| rejected())?;
            let jwk = json!({ "kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "alg": "ES256", "use": "sig" });
            Ok((decoding, jwk))
        }
        SigningAlgorithm::EdDSA => {
            let x = URL_SAFE_NO_PAD.encode(public);
            let decoding = DecodingKey::from_ed_components(&x).map_err(|_| rejected())?;
            let jwk = json!({ "kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig" });
            Ok((decoding, jwk))
        }
    }
}

/// A tenant's keys: one signs, all verify and are published.
#[derive(Debug)]
pub struct KeyRing {
    keys: Vec<SigningKey>,
}

/// A key ring with no keys, or two keys with one `kid`.
#[derive(Debug, thiserror::Error)]
pub enum KeyRingError {
    /// No keys were given.
    #[error("a key ring needs at least one key")]
    Empty,
    /// Two keys share a `kid`.
    #[error("duplicate kid {0}")]
    DuplicateKid(String),
}

impl KeyRing {
    /// A ring whose first key signs; every key verifies.
    pub fn new(keys: Vec<SigningKey>) -> Result<Self, KeyRingError> {
        if keys.is_empty() {
            return Err(KeyRingError::Empty);
        }
        for (i, key) in keys.iter().enumerate() {
            if keys[..i].iter().any(|k| k.kid == key.kid) {
                return Err(KeyRingError::DuplicateKid(key.kid.clone()));
            }
        }
        Ok(Self { keys })
    }

    /// The key that signs new tokens.
    pub fn signing_key(&self) -> &SigningKey {
        &self.keys[0]
    }

    /// The key with `kid`, if the ring holds it.
    pub fn find(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// The algorithms the ring can verify, for the metadata document.
    pub fn algorithms(&self) -> Vec<&'static str> {
        let mut algs: Vec<&'static str> = Vec::new();
        for key in &self.keys {
            if !algs.contains(&key.alg.as_str()) {
                algs.push(key.alg.as_str());
            }
        }
        algs
    }

    /// The public JWK Set (RFC 7517 §5).
    pub fn jwks(&self) -> Value {
        json!({ "keys": self.keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_round_trip_through_pem() {
        for alg in [SigningAlgorithm::ES256, SigningAlgorithm::EdDSA] {
            let key = SigningKey::generate(alg, "k1").unwrap();
            let pem = key.to_pkcs8_pem();
            let again = SigningKey::from_pkcs8_pem(alg, "k1", &pem).unwrap();
            assert_eq!(again.public_jwk(), key.public_jwk());
        }
    }

    #[test]
    fn a_key_of_the_wrong_algorithm_is_rejected() {
        let ec = SigningKey::generate(SigningAlgorithm::ES256, "k1").unwrap().to_pkcs8_pem();
        assert!(SigningKey::from_pkcs8_pem(SigningAlgorithm::EdDSA, "k1", &ec).is_err());
        assert!(SigningKey::from_pkcs8_pem(SigningAlgorithm::ES256, "k1", "not pem").is_err());
    }

    #[test]
    fn jwks_publishes_public_parts_only() {
        let ring = KeyRing::new(vec![
            SigningKey::generate(SigningAlgorithm::ES256, "a").unwrap(),
            SigningKey::generate(SigningAlgorithm::EdDSA, "b").unwrap(),
        ])
        .unwrap();
        let jwks = ring.jwks();
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0]["kty"], "EC");
        assert_eq!(keys[1]["crv"], "Ed25519");
        assert!(keys.iter().all(|k| k.get("d").is_none()));
        assert_eq!(ring.signing_key().kid(), "a");
        assert_eq!(ring.algorithms(), ["ES256", "EdDSA"]);
    }

    #[test]
    fn duplicate_kids_are_refused() {
        let dup = vec![
            SigningKey::generate(SigningAlgorithm::ES256, "a").unwrap(),
            SigningKey::generate(SigningAlgorithm::ES256, "a").unwrap(),
        ];
        assert!(matches!(KeyRing::new(dup), Err(KeyRingError::DuplicateKid(_))));
        assert!(matches!(KeyRing::new(vec![]), Err(KeyRingError::Empty)));
    }
}

//! DPoP proofs (RFC 9449 §4): a JWT the client signs with a key of its own, whose public half travels in the
//! header, for one HTTP request (`htm`, `htu`), once (`jti`), recently (`iat`), and at a resource server for one
//! access token (`ath`). [`verify_proof`] runs the checks of §4.3 that need nothing but the proof and the request,
//! and returns the key's RFC 7638 thumbprint ([`Jkt`], §6.1) and what replay detection keys on; the one-time use
//! of its `jti` (§11.1) is the caller's conditional write, and comparing the thumbprint with a token's `cnf.jkt`
//! (§7.1) is the resource side's.
//!
//! The algorithms are pinned ([`DPOP_SIGNING_ALGORITHMS`]): asymmetric only (never `none`, never HS*), each tied
//! to the one key type it fits, so an `alg` can never pick how the key is read. A `jwk` holding a private part is
//! refused, whatever else it holds. The cheap checks run first; the signature, the one costly step, runs last.
//! Verification is jsonwebtoken's, on aws-lc-rs. No server nonce (§8) is issued or required: see the README.

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::domain::grant::Jkt;
use crate::domain::time::Timestamp;

/// The `typ` header of a DPoP proof (RFC 9449 §4.2).
pub const DPOP_PROOF_TYP: &str = "dpop+jwt";

/// Proofs longer than this are refused before any parsing. An RSA-4096 key and a long `htu` fit in half of it.
pub const MAX_DPOP_PROOF_LEN: usize = 4096;

/// How old a proof's `iat` may be (RFC 9449 §4.3 check 11, §11.1: "a reasonable window"). A proof is one
/// request's: a client signs it just before sending.
pub const DPOP_MAX_AGE_SECS: u64 = 60;

/// How far ahead of our clock a proof's `iat` may be (client clock skew).
pub const DPOP_MAX_AHEAD_SECS: u64 = 5;

/// Longest `jti` accepted. RFC 9449 §4.2 asks for at least 96 bits of randomness; a bound keeps the replay item's
/// input small (it is hashed anyway).
pub const MAX_DPOP_JTI_LEN: usize = 256;

/// The algorithms a proof may be signed with, published as `dpop_signing_alg_values_supported` (RFC 9449 §5.1).
pub const DPOP_SIGNING_ALGORITHMS: [DpopAlgorithm; 4] =
    [DpopAlgorithm::ES256, DpopAlgorithm::EdDSA, DpopAlgorithm::RS256, DpopAlgorithm::PS256];

/// An algorithm a DPoP proof may use, with the one key type it fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpopAlgorithm {
    /// ECDSA P-256 with SHA-256: `kty: EC`, `crv: P-256`.
    ES256,
    /// Ed25519: `kty: OKP`, `crv: Ed25519`.
    EdDSA,
    /// RSASSA-PKCS1-v1_5 with SHA-256: `kty: RSA`, at least 2048 bits.
    RS256,
    /// RSASSA-PSS with SHA-256: `kty: RSA`, at least 2048 bits.
    PS256,
}

impl DpopAlgorithm {
    /// The JOSE `alg` name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
        }
    }

    fn jose(self) -> Algorithm {
        match self {
            Self::ES256 => Algorithm::ES256,
            Self::EdDSA => Algorithm::EdDSA,
            Self::RS256 => Algorithm::RS256,
            Self::PS256 => Algorithm::PS256,
        }
    }

    fn parse(name: &str) -> Option<Self> {
        DPOP_SIGNING_ALGORITHMS.into_iter().find(|alg| alg.as_str() == name)
    }
}

/// The request a proof must be for (RFC 9449 §4.3).
#[derive(Debug, Clone, Copy)]
pub struct ProofContext<'a> {
    /// The request's method (`htm`, check 8).
    pub method: &'a str,
    /// The request's URL as the client sent it (`htu`, check 9: compared without query and fragment).
    pub url: &'a str,
    /// The request's instant (`iat`, check 11).
    pub now: Timestamp,
    /// At a resource server, the access token presented with the proof: `ath` must be its hash (check 12).
    /// `None` at the token endpoint, where `ath` is not checked.
    pub access_token: Option<&'a str>,
    /// The algorithms accepted, a subset of [`DPOP_SIGNING_ALGORITHMS`].
    pub algorithms: &'a [DpopAlgorithm],
}

/// A proof that passed every check of [`verify_proof`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    /// The thumbprint of its key (RFC 9449 §6.1): what a token issued with it is bound to.
    pub jkt: Jkt,
    /// Its `jti`, to be used once (§11.1).
    pub jti: String,
    /// Its `iat`.
    pub issued_at: Timestamp,
}

impl VerifiedProof {
    /// Until when its `jti` must be remembered: past that instant the `iat` window refuses the proof anyway. The
    /// window compares whole seconds (a proof passes while `now` is before `iat + 61 s`), so one second more.
    pub fn replay_window_end(&self) -> Timestamp {
        self.issued_at.plus_secs(DPOP_MAX_AGE_SECS + 1)
    }
}

/// Why a proof is refused: `invalid_dpop_proof` (RFC 9449 §5, §7.1). Logged; the client gets the code and a
/// generic description. Never holds the proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProofRejection {
    /// Over [`MAX_DPOP_PROOF_LEN`].
    #[error("the proof is too long")]
    TooLong,
    /// Not a compact JWS of three base64url parts holding JSON objects, or a member of the wrong type.
    #[error("the proof is malformed: {0}")]
    Malformed(&'static str),
    /// `typ` is not `dpop+jwt` (check 4).
    #[error("typ is not dpop+jwt")]
    WrongType,
    /// `alg` is `none`, symmetric, unknown or not allowed here (check 5).
    #[error("alg is not an allowed asymmetric algorithm")]
    AlgorithmNotAllowed,
    /// A `crit` header: Tessera understands no extension (RFC 7515 §4.1.11).
    #[error("unsupported crit header")]
    Critical,
    /// No `jwk` header, or one that is not a public key of the type `alg` needs (check 3, 5).
    #[error("jwk is not a public key for alg: {0}")]
    BadKey(&'static str),
    /// The `jwk` holds a private key part (check 7).
    #[error("jwk holds a private key")]
    PrivateKey,
    /// A required claim is absent (check 3): `jti`, `htm`, `htu`, `iat`, or `ath` at a resource server.
    #[error("missing claim {0}")]
    MissingClaim(&'static str),
    /// `htm` is not the request's method (check 8).
    #[error("htm does not match the request's method")]
    MethodMismatch,
    /// `htu` is not the request's URL, query and fragment aside (check 9).
    #[error("htu does not match the request's URL")]
    UrlMismatch,
    /// `iat` is older than [`DPOP_MAX_AGE_SECS`] or further ahead than [`DPOP_MAX_AHEAD_SECS`] (check 11).
    #[error("iat is outside the accepted window")]
    Stale,
    /// `ath` is not the hash of the access token presented with it (check 12).
    #[error("ath does not match the access token")]
    AccessTokenHashMismatch,
    /// The signature does not verify with the header's key (check 6).
    #[error("the signature does not verify")]
    BadSignature,
}

/// The header members a proof may carry that Tessera reads. Duplicate members are malformed (serde refuses them).
#[derive(Deserialize)]
struct ProofHeader {
    typ: Option<Value>,
    alg: Option<Value>,
    jwk: Option<Value>,
    crit: Option<Value>,
}

/// The claims Tessera reads. `iat` may be any JSON number (RFC 7519 NumericDate).
#[derive(Deserialize)]
struct ProofClaims {
    jti: Option<Value>,
    htm: Option<Value>,
    htu: Option<Value>,
    iat: Option<Value>,
    ath: Option<Value>,
}

/// Members that only a private (or symmetric) JWK has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
const PRIVATE_JWK_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Verifies `proof` for the request `context` describes: RFC 9449 §4.3 checks 2 to 9, 11 and 12 (one header, the
/// nonce and the `jti`'s one-time use are the caller's). No I/O.
pub fn verify_proof(proof: &str, context: &ProofContext<'_>) -> Result<VerifiedProof, ProofRejection> {
    if proof.len() > MAX_DPOP_PROOF_LEN {
        return Err(ProofRejection::TooLong);
    }
    let mut parts = proof.split('.');
    let (Some(header_b64), Some(claims_b64), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ProofRejection::Malformed("not three dot-separated parts"));
    };
    let header: ProofHeader = json_part(header_b64, "header")?;
    let claims: ProofClaims = json_part(claims_b64, "claims")?;

    if header.typ.as_ref().and_then(Value::as_str) != Some(DPOP_PROOF_TYP) {
        return Err(ProofRejection::WrongType);
    }
    let alg = header.alg.as_ref().and_then(Value::as_str).ok_or(ProofRejection::AlgorithmNotAllowed)?;
    let alg = DpopAlgorithm::parse(alg)
        .filter(|alg| context.algorithms.contains(alg))
        .ok_or(ProofRejection::AlgorithmNotAllowed)?;
    if header.crit.is_some() {
        return Err(ProofRejection::Critical);
    }
    let jwk = match header.jwk {
        Some(Value::Object(jwk)) => jwk,
        Some(_) => return Err(ProofRejection::BadKey("jwk is not an object")),
        None => return Err(ProofRejection::BadKey("no jwk")),
    };
    if PRIVATE_JWK_MEMBERS.iter().any(|member| jwk.contains_key(*member)) {
        return Err(ProofRejection::PrivateKey);
    }
    let key = ProofKey::read(&jwk, alg)?;

    let jti = claims.jti.as_ref().ok_or(ProofRejection::MissingClaim("jti"))?;
    let jti = jti.as_str().filter(|j| !j.is_empty()).ok_or(ProofRejection::Malformed("jti is not a string"))?;
    if jti.len() > MAX_DPOP_JTI_LEN {
        return Err(ProofRejection::Malformed("jti is too long"));
    }
    let htm = claims.htm.as_ref().ok_or(ProofRejection::MissingClaim("htm"))?;
    let htm = htm.as_str().ok_or(ProofRejection::Malformed("htm is not a string"))?;
    let htu = claims.htu.as_ref().ok_or(ProofRejection::MissingClaim("htu"))?;
    let htu = htu.as_str().ok_or(ProofRejection::Malformed("htu is not a string"))?;
    let iat = claims.iat.as_ref().ok_or(ProofRejection::MissingClaim("iat"))?;
    let iat = numeric_date(iat).ok_or(ProofRejection::Malformed("iat is not a NumericDate"))?;

    // RFC 9110 §9.1: the method token is case-sensitive.
    if htm != context.method {
        return Err(ProofRejection::MethodMismatch);
    }
    if !same_target(htu, context.url) {
        return Err(ProofRejection::UrlMismatch);
    }
    let now = context.now.as_secs();
    if iat.saturating_add(DPOP_MAX_AGE_SECS) < now || iat > now.saturating_add(DPOP_MAX_AHEAD_SECS) {
        return Err(ProofRejection::Stale);
    }
    if let Some(access_token) = context.access_token {
        let ath = claims.ath.as_ref().ok_or(ProofRejection::MissingClaim("ath"))?;
        let ath = ath.as_str().ok_or(ProofRejection::Malformed("ath is not a string"))?;
        if ath != access_token_hash(access_token) {
            return Err(ProofRejection::AccessTokenHashMismatch);
        }
    }

    let message = &proof[..header_b64.len() + 1 + claims_b64.len()];
    match jsonwebtoken::crypto::verify(signature, message.as_bytes(), &key.decoding, alg.jose()) {
        Ok(true) => Ok(VerifiedProof { jkt: key.jkt, jti: jti.to_owned(), issued_at: Timestamp::from_secs(iat) }),
        Ok(false) | Err(_) => Err(ProofRejection::BadSignature),
    }
}

/// `ath` for an access token (RFC 9449 §4.2): base64url of the SHA-256 of its ASCII bytes.
pub fn access_token_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, access_token.as_bytes()))
}

fn json_part<T: serde::de::DeserializeOwned>(part: &str, name: &'static str) -> Result<T, ProofRejection> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| ProofRejection::Malformed(name))?;
    // A JSON object, no duplicate members; anything else is malformed.
    if bytes.first() != Some(&b'{') {
        return Err(ProofRejection::Malformed(name));
    }
    serde_json::from_slice(&bytes).map_err(|_| ProofRejection::Malformed(name))
}

/// A NumericDate in whole seconds: a non-negative JSON number, fractions rounded down.
fn numeric_date(value: &Value) -> Option<u64> {
    let number = value.as_number()?;
    number.as_u64().or_else(|| number.as_f64().filter(|f| f.is_finite() && *f >= 0.0).map(|f| f as u64))
}

/// Whether `htu` names the request's `url` (RFC 9449 §4.3 check 9): scheme, host, port and path equal after
/// RFC 3986 §6.2.2/§6.2.3 normalisation (the `url` crate's: case of scheme and host, default port, dot segments,
/// percent-encoding case), query and fragment ignored. Only `http` and `https` URLs match.
fn same_target(htu: &str, url: &str) -> bool {
    let (Ok(htu), Ok(url)) = (url::Url::parse(htu), url::Url::parse(url)) else { return false };
    let http = |u: &url::Url| matches!(u.scheme(), "https" | "http") && u.host().is_some();
    http(&htu)
        && http(&url)
        && htu.scheme() == url.scheme()
        && htu.host() == url.host()
        && htu.port_or_known_default() == url.port_or_known_default()
        && htu.path() == url.path()
        && htu.username().is_empty()
        && htu.password().is_none()
}

/// A proof's public key: how it verifies, and its thumbprint.
struct ProofKey {
    decoding: DecodingKey,
    jkt: Jkt,
}

impl ProofKey {
    /// Reads the JWK as the key `alg` needs: its type and curve must be the algorithm's, and its members exact
    /// base64url of the right lengths, so that every spelling of one key has one thumbprint (RFC 7638 §3.3).
    fn read(jwk: &Map<String, Value>, alg: DpopAlgorithm) -> Result<Self, ProofRejection> {
        let member = |name: &'static str| -> Result<&str, ProofRejection> {
            jwk.get(name).and_then(Value::as_str).ok_or(ProofRejection::BadKey(name))
        };
        let kty = member("kty")?;
        // RFC 7638 §3.2: the required members only, lexicographic order, no whitespace.
        let (decoding, canonical) = match alg {
            DpopAlgorithm::ES256 => {
                if kty != "EC" || member("crv")? != "P-256" {
                    return Err(ProofRejection::BadKey("ES256 needs an EC P-256 key"));
                }
                let (x, y) = (coordinate(member("x")?, 32)?, coordinate(member("y")?, 32)?);
                let decoding = DecodingKey::from_ec_components(x, y).map_err(|_| ProofRejection::BadKey("x, y"))?;
                (decoding, format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#))
            }
            DpopAlgorithm::EdDSA => {
                if kty != "OKP" || member("crv")? != "Ed25519" {
                    return Err(ProofRejection::BadKey("EdDSA needs an OKP Ed25519 key"));
                }
                let x = coordinate(member("x")?, 32)?;
                let decoding = DecodingKey::from_ed_components(x).map_err(|_| ProofRejection::BadKey("x"))?;
                (decoding, format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#))
            }
            DpopAlgorithm::RS256 | DpopAlgorithm::PS256 => {
                if kty != "RSA" {
                    return Err(ProofRejection::BadKey("RS256 and PS256 need an RSA key"));
                }
                let (n, e) = (member("n")?, member("e")?);
                let modulus = canonical_base64url(n).ok_or(ProofRejection::BadKey("n"))?;
                let exponent = canonical_base64url(e).ok_or(ProofRejection::BadKey("e"))?;
                // A leading zero octet would give one key two spellings; fewer than 2048 bits is too weak.
                if modulus.first() == Some(&0) || exponent.first() == Some(&0) || modulus.len() < 256 {
                    return Err(ProofRejection::BadKey("n, e"));
                }
                let decoding = DecodingKey::from_rsa_components(n, e).map_err(|_| ProofRejection::BadKey("n, e"))?;
                (decoding, format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#))
            }
        };
        let thumbprint = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes()));
        Ok(Self { decoding, jkt: Jkt::from_thumbprint(thumbprint) })
    }
}

/// An EC or OKP coordinate: canonical base64url of exactly `len` octets.
fn coordinate(text: &str, len: usize) -> Result<&str, ProofRejection> {
    match canonical_base64url(text) {
        Some(bytes) if bytes.len() == len => Ok(text),
        _ => Err(ProofRejection::BadKey("a coordinate is not base64url of the curve's size")),
    }
}

/// The octets of `text` when it is base64url without padding and canonical (it re-encodes to itself), which
/// also means it needs no JSON escaping.
fn canonical_base64url(text: &str) -> Option<Vec<u8>> {
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    (URL_SAFE_NO_PAD.encode(&bytes) == text).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
    use serde_json::json;

    use super::*;

    /// RFC 9449 §4.2, Figure 3: the example proof, for `POST https://server.example.com/token` at 1562262616.
    const RFC_PROOF: &str = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg";

    /// RFC 9449 §6.1: the thumbprint of the example key (the `cnf.jkt` of the tokens bound to it).
    const RFC_JKT: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";

    const NOW: u64 = 1_800_000_000;
    const URL: &str = "https://auth.example.com/oauth2/token";

    fn context(now: u64) -> ProofContext<'static> {
        ProofContext {
            method: "POST",
            url: URL,
            now: Timestamp::from_secs(now),
            access_token: None,
            algorithms: &DPOP_SIGNING_ALGORITHMS,
        }
    }

    fn b64(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
    }

    /// A client key, signing with aws-lc-rs directly (the e2e suites sign with an independent library).
    enum ClientKey {
        Ec(EcdsaKeyPair),
        Ed(Ed25519KeyPair),
        Rsa(Box<aws_lc_rs::rsa::KeyPair>, &'static signature::RsaSignatureEncoding, &'static str),
    }

    impl ClientKey {
        fn ec() -> Self {
            let rng = SystemRandom::new();
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
            Self::Ec(EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap())
        }

        fn ed() -> Self {
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
            Self::Ed(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap())
        }

        fn rsa(pss: bool) -> Self {
            let pair = Box::new(aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap());
            match pss {
                true => Self::Rsa(pair, &signature::RSA_PSS_SHA256, "PS256"),
                false => Self::Rsa(pair, &signature::RSA_PKCS1_SHA256, "RS256"),
            }
        }

        fn alg(&self) -> &'static str {
            match self {
                Self::Ec(_) => "ES256",
                Self::Ed(_) => "EdDSA",
                Self::Rsa(_, _, alg) => alg,
            }
        }

        fn jwk(&self) -> Value {
            match self {
                Self::Ec(pair) => {
                    let point = pair.public_key().as_ref();
                    json!({"kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                        "y": URL_SAFE_NO_PAD.encode(&point[33..65])})
                }
                Self::Ed(pair) => {
                    json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref())})
                }
                Self::Rsa(pair, _, _) => {
                    let public = pair.public_key();
                    json!({"kty": "RSA",
                        "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
                        "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero())})
                }
            }
        }

        fn sign_parts(&self, header: &Value, claims: &Value) -> String {
            let message = format!("{}.{}", b64(header), b64(claims));
            let signature = match self {
                Self::Ec(pair) => pair.sign(&SystemRandom::new(), message.as_bytes()).unwrap().as_ref().to_vec(),
                Self::Ed(pair) => pair.sign(message.as_bytes()).as_ref().to_vec(),
                Self::Rsa(pair, encoding, _) => {
                    let mut signature = vec![0; pair.public_modulus_len()];
                    pair.sign(*encoding, &SystemRandom::new(), message.as_bytes(), &mut signature).unwrap();
                    signature
                }
            };
            format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature))
        }

        fn header(&self) -> Value {
            json!({"typ": "dpop+jwt", "alg": self.alg(), "jwk": self.jwk()})
        }

        fn sign(&self, claims: &Value) -> String {
            self.sign_parts(&self.header(), claims)
        }
    }

    fn claims() -> Value {
        json!({"jti": "e1j3V_bKic8-LAEB", "htm": "POST", "htu": URL, "iat": NOW})
    }

    fn with(mut value: Value, name: &str, member: Value) -> Value {
        value[name] = member;
        value
    }

    fn without(mut value: Value, name: &str) -> Value {
        value.as_object_mut().unwrap().remove(name);
        value
    }

    /// RFC 9449 §4.2 (Figure 3) verifies, and its key's thumbprint is §6.1's `jkt`.
    #[test]
    fn the_rfc_example_proof_verifies_to_the_rfc_thumbprint() {
        let rfc = ProofContext { url: "https://server.example.com/token", ..context(1_562_262_616) };
        let verified = verify_proof(RFC_PROOF, &rfc).unwrap();
        assert_eq!(verified.jkt.as_str(), RFC_JKT);
        assert_eq!(verified.jti, "-BwC3ESc6acc2lTc");
        assert_eq!(verified.issued_at, Timestamp::from_secs(1_562_262_616));
        assert_eq!(verified.replay_window_end(), Timestamp::from_secs(1_562_262_616 + DPOP_MAX_AGE_SECS + 1));
        // Accepted up to the last microsecond before the replay window ends, so its jti is remembered as long
        // as the proof passes; refused from the window's end on.
        let end = verified.replay_window_end();
        let last = ProofContext { now: Timestamp::from_micros(end.as_micros() - 1), ..rfc };
        assert!(verify_proof(RFC_PROOF, &last).is_ok());
        let at_end = ProofContext { now: end, ..rfc };
        assert_eq!(verify_proof(RFC_PROOF, &at_end), Err(ProofRejection::Stale));
        // §4.3 check 11: the same proof a day later is stale.
        let later = ProofContext { now: Timestamp::from_secs(1_562_262_616 + 86_400), ..rfc };
        assert_eq!(verify_proof(RFC_PROOF, &later), Err(ProofRejection::Stale));
    }

    /// §4.3 check 6: ES256 and EdDSA proofs verify; thumbprints are RFC 7638's (one per key).
    #[test]
    fn es256_and_eddsa_proofs_verify_with_the_headers_key() {
        for key in [ClientKey::ec(), ClientKey::ed()] {
            let verified = verify_proof(&key.sign(&claims()), &context(NOW)).unwrap();
            assert_eq!(verified.jkt, verify_proof(&key.sign(&claims()), &context(NOW)).unwrap().jkt);
            assert_eq!(verified.jkt.as_str().len(), 43, "base64url of SHA-256");
            let other = if key.alg() == "ES256" { ClientKey::ec() } else { ClientKey::ed() };
            assert_ne!(verified.jkt, verify_proof(&other.sign(&claims()), &context(NOW)).unwrap().jkt);
        }
    }

    /// §4.3 check 6: RS256 and PS256 proofs with a 2048-bit key verify; the two are not interchangeable.
    #[test]
    fn rs256_and_ps256_proofs_verify() {
        for pss in [false, true] {
            let key = ClientKey::rsa(pss);
            assert!(verify_proof(&key.sign(&claims()), &context(NOW)).is_ok(), "{}", key.alg());
            let other = if pss { "RS256" } else { "PS256" };
            let swapped = key.sign_parts(&with(key.header(), "alg", json!(other)), &claims());
            assert_eq!(verify_proof(&swapped, &context(NOW)), Err(ProofRejection::BadSignature));
        }
    }

    /// §4.3 check 6: a signature by another key than the header's, or an altered claim, does not verify.
    #[test]
    fn a_signature_by_another_key_or_over_other_claims_fails() {
        let (key, thief) = (ClientKey::ec(), ClientKey::ec());
        let forged = thief.sign_parts(&key.header(), &claims());
        assert_eq!(verify_proof(&forged, &context(NOW)), Err(ProofRejection::BadSignature));
        let proof = key.sign(&claims());
        let parts: Vec<&str> = proof.split('.').collect();
        let altered = format!("{}.{}.{}", parts[0], b64(&with(claims(), "jti", json!("other"))), parts[2]);
        assert_eq!(verify_proof(&altered, &context(NOW)), Err(ProofRejection::BadSignature));
        let unsigned = format!("{}.{}.", parts[0], parts[1]);
        assert_eq!(verify_proof(&unsigned, &context(NOW)), Err(ProofRejection::BadSignature));
    }

    /// §4.3 check 4: `typ` must be `dpop+jwt`.
    #[test]
    fn a_wrong_or_missing_typ_is_refused() {
        let key = ClientKey::ec();
        for typ in [json!("JWT"), json!("at+jwt"), json!("DPOP+JWT"), json!(1)] {
            let proof = key.sign_parts(&with(key.header(), "typ", typ), &claims());
            assert_eq!(verify_proof(&proof, &context(NOW)), Err(ProofRejection::WrongType));
        }
        let proof = key.sign_parts(&without(key.header(), "typ"), &claims());
        assert_eq!(verify_proof(&proof, &context(NOW)), Err(ProofRejection::WrongType));
    }

    /// §4.3 check 5: `none`, HS*, unknown and unlisted algorithms are refused, and an `alg` must fit its key.
    #[test]
    fn none_symmetric_and_mismatched_algorithms_are_refused() {
        let key = ClientKey::ec();
        for alg in ["none", "HS256", "ES384", "RS512", "es256", ""] {
            let proof = key.sign_parts(&with(key.header(), "alg", json!(alg)), &claims());
            assert_eq!(verify_proof(&proof, &context(NOW)), Err(ProofRejection::AlgorithmNotAllowed), "{alg}");
        }
        let none = format!("{}.{}.", b64(&with(key.header(), "alg", json!("none"))), b64(&claims()));
        assert_eq!(verify_proof(&none, &context(NOW)), Err(ProofRejection::AlgorithmNotAllowed));
        // An EC key under EdDSA, an OKP key under ES256.
        let proof = key.sign_parts(&with(key.header(), "alg", json!("EdDSA")), &claims());
        assert!(matches!(verify_proof(&proof, &context(NOW)), Err(ProofRejection::BadKey(_))));
        let ed = ClientKey::ed();
        let proof = ed.sign_parts(&with(ed.header(), "alg", json!("ES256")), &claims());
        assert!(matches!(verify_proof(&proof, &context(NOW)), Err(ProofRejection::BadKey(_))));
        // A deployment that allows ES256 only.
        let es256_only = ProofContext { algorithms: &[DpopAlgorithm::ES256], ..context(NOW) };
        assert_eq!(verify_proof(&ed.sign(&claims()), &es256_only), Err(ProofRejection::AlgorithmNotAllowed));
    }

    /// §4.3 checks 3 and 7: a `jwk` must be there, public, and of the algorithm's key type; a symmetric key is
    /// never one.
    #[test]
    fn missing_private_and_malformed_keys_are_refused() {
        let key = ClientKey::ec();
        let proof = key.sign_parts(&without(key.header(), "jwk"), &claims());
        assert!(matches!(verify_proof(&proof, &context(NOW)), Err(ProofRejection::BadKey(_))));
        for private in ["d", "p", "k"] {
            let jwk = with(key.jwk(), private, json!("AAAA"));
            let proof = key.sign_parts(&with(key.header(), "jwk", jwk), &claims());
            assert_eq!(verify_proof(&proof, &context(NOW)), Err(ProofRejection::PrivateKey), "{private}");
        }
        let oct = json!({"kty": "oct", "k": "c2VjcmV0"});
        let proof = key.sign_parts(&with(key.header(), "jwk", oct), &claims());
        assert_eq!(verify_proof(&proof, &context(NOW)), Err(ProofRejection::PrivateKey));
        let padded = with(key.jwk(), "x", json!(format!("{}=", key.jwk()["x"].as_str().unwrap())));
        let short = with(key.jwk(), "y", json!("AAAA"));
        let p384 = with(key.jwk(), "crv", json!("P-384"));
        for jwk in [padded, short, p384, json!("a string"), json!({"kty": "EC"})] {
            let proof = key.sign_parts(&with(key.header(), "jwk", jwk.clone()), &claims());
            assert!(matches!(verify_proof(&proof, &context(NOW)), Err(ProofRejection::BadKey(_))), "{jwk}");
        }
        let proof = key.sign_parts(&with(key.header(), "crit", json!(["exp"])), &claims());
        assert_eq!(verify_proof(&proof, &context(NOW)), Err(ProofRejection::Critical));
    }

    /// §4.3 check 3: `jti`, `htm`, `htu` and `iat` are required, each of its type.
    #[test]
    fn each_required_claim_is_required() {
        let key = ClientKey::ed();
        for claim in ["jti", "htm", "htu", "iat"] {
            let proof = key.sign(&without(claims(), claim));
            assert_eq!(verify_proof(&proof, &context(NOW)), Err(ProofRejection::MissingClaim(claim)));
        }
        for (claim, value) in [("jti", json!(7)), ("jti", json!("")), ("htm", json!(["POST"])), ("iat", json!("now"))] {
            let proof = key.sign(&with(claims(), claim, value));
            assert!(matches!(verify_proof(&proof, &context(NOW)), Err(ProofRejection::Malformed(_))), "{claim}");
        }
        let long = key.sign(&with(claims(), "jti", json!("j".repeat(MAX_DPOP_JTI_LEN + 1))));
        assert!(matches!(verify_proof(&long, &context(NOW)), Err(ProofRejection::Malformed(_))));
    }

    /// §4.3 check 8: `htm` is the method, exactly.
    #[test]
    fn htm_must_be_the_requests_method() {
        let key = ClientKey::ec();
        for htm in ["GET", "post", "POST "] {
            let proof = key.sign(&with(claims(), "htm", json!(htm)));
            assert_eq!(verify_proof(&proof, &context(NOW)), Err(ProofRejection::MethodMismatch), "{htm}");
        }
    }

    /// §4.3 check 9: `htu` is the request's URL, query and fragment aside, after normalisation (§4.3 refers to
    /// RFC 3986 §6.2.2 and §6.2.3).
    #[test]
    fn htu_must_be_the_requests_url_without_query_and_fragment() {
        let key = ClientKey::ec();
        let same = [
            URL,
            "https://auth.example.com/oauth2/token?x=1",
            "https://auth.example.com/oauth2/token#frag",
            "HTTPS://AUTH.example.COM:443/oauth2/token",
            "https://auth.example.com/oauth2/./token",
        ];
        for htu in same {
            let proof = key.sign(&with(claims(), "htu", json!(htu)));
            assert!(verify_proof(&proof, &context(NOW)).is_ok(), "{htu}");
        }
        let request_with_query = ProofContext { url: "https://auth.example.com/oauth2/token?a=b", ..context(NOW) };
        assert!(verify_proof(&key.sign(&claims()), &request_with_query).is_ok());
        let other = [
            "http://auth.example.com/oauth2/token",
            "https://auth.example.com:8443/oauth2/token",
            "https://evil.example.com/oauth2/token",
            "https://auth.example.com/oauth2/token/",
            "https://auth.example.com/OAUTH2/token",
            "https://user@auth.example.com/oauth2/token",
            "/oauth2/token",
            "not a url",
        ];
        for htu in other {
            let proof = key.sign(&with(claims(), "htu", json!(htu)));
            assert_eq!(verify_proof(&proof, &context(NOW)), Err(ProofRejection::UrlMismatch), "{htu}");
        }
    }

    /// §4.3 check 11: `iat` within [`DPOP_MAX_AGE_SECS`] back and [`DPOP_MAX_AHEAD_SECS`] ahead.
    #[test]
    fn iat_must_be_within_the_window() {
        let key = ClientKey::ec();
        for (iat, ok) in [
            (json!(NOW - DPOP_MAX_AGE_SECS), true),
            (json!(NOW - DPOP_MAX_AGE_SECS - 1), false),
            (json!(NOW + DPOP_MAX_AHEAD_SECS), true),
            (json!(NOW + DPOP_MAX_AHEAD_SECS + 1), false),
            (json!(NOW as f64 + 0.5), true),
            (json!(-1), false),
            (json!(0), false),
        ] {
            let result = verify_proof(&key.sign(&with(claims(), "iat", iat.clone())), &context(NOW));
            match ok {
                true => assert!(result.is_ok(), "{iat}"),
                false => assert!(result.is_err(), "{iat}"),
            }
        }
    }

    /// §4.3 check 12 and §7.1: at a resource server, `ath` is required and must hash the presented token.
    #[test]
    fn ath_must_hash_the_access_token_at_a_resource_server() {
        let key = ClientKey::ec();
        let token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
        // §7.1, Figure 12's example hash of that token.
        assert_eq!(access_token_hash(token), "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo");
        let resource = ProofContext { method: "GET", access_token: Some(token), ..context(NOW) };
        let get = with(claims(), "htm", json!("GET"));
        assert_eq!(verify_proof(&key.sign(&get), &resource), Err(ProofRejection::MissingClaim("ath")));
        let wrong = with(get.clone(), "ath", json!(access_token_hash("another token")));
        assert_eq!(verify_proof(&key.sign(&wrong), &resource), Err(ProofRejection::AccessTokenHashMismatch));
        let right = with(get, "ath", json!(access_token_hash(token)));
        assert!(verify_proof(&key.sign(&right), &resource).is_ok());
    }

    /// Bad input: oversize, not three parts, not base64url, not JSON objects, duplicate members.
    #[test]
    fn malformed_proofs_are_refused_before_any_verification() {
        let key = ClientKey::ec();
        let proof = key.sign(&claims());
        assert_eq!(verify_proof(&"a".repeat(MAX_DPOP_PROOF_LEN + 1), &context(NOW)), Err(ProofRejection::TooLong));
        let duplicate = format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(br#"{"typ":"dpop+jwt","typ":"JWT","alg":"ES256"}"#),
            b64(&claims())
        );
        for bad in ["", "a.b", "a.b.c.d", "!!.??.**", &format!("{proof}.x"), "W10.W10.x", "bnVsbA.e30.x", &duplicate] {
            assert!(matches!(verify_proof(bad, &context(NOW)), Err(ProofRejection::Malformed(_))), "{bad}");
        }
    }
}

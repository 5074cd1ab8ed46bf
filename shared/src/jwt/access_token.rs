//! RFC 9068 JWT access tokens: signing a [`Grant`] and verifying a presented token back into one.
//!
//! Header `typ: at+jwt` with a `kid`; claims `iss sub aud exp iat jti client_id scope`, plus two private
//! claims: `tsr_fam` (the grant family, so its watermark can be checked) and `tsr_iat_us` (the issue time in
//! microseconds, so a revocation in the same second as the issue is ordered correctly). A DPoP-bound token carries
//! `cnf: {"jkt": …}` (RFC 9449 §6.1), a certificate-bound one `cnf: {"x5t#S256": …}` (RFC 8705 §3.1).

use std::collections::{BTreeMap, HashSet};

use jsonwebtoken::{Validation, decode, decode_header};
use serde::{Deserialize, Serialize};

use super::keys::{KeyError, KeyRing, SigningAlgorithm};
use crate::domain::client::{AppAttributes, ClientId};
use crate::domain::grant::Grant;
use crate::domain::id::FamilyId;
use crate::domain::scope::ScopeSet;
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;

/// The `typ` header of an RFC 9068 access token.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// Whether a JOSE header's `typ` says "an RFC 9068 access token": `at+jwt`, or its full media type
/// `application/at+jwt` (RFC 9068 §2.1; RFC 7515 §4.1.9 lets the `application/` prefix go, and media types compare
/// case-insensitively). The one rule for Tessera's own tokens and for a trusted issuer's.
pub fn is_access_token_typ(typ: Option<&str>) -> bool {
    typ.is_some_and(|t| t.eq_ignore_ascii_case(ACCESS_TOKEN_TYP) || t.eq_ignore_ascii_case("application/at+jwt"))
}

/// Tokens longer than this are rejected before any parsing.
pub const MAX_JWT_LEN: usize = 8 * 1024;

/// `aud`: one string or an array (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

impl Audience {
    /// One string for a single audience, an array otherwise.
    pub fn from_list(list: &[String]) -> Self {
        match list {
            [one] => Self::One(one.clone()),
            many => Self::Many(many.to_vec()),
        }
    }

    fn into_list(self) -> Vec<String> {
        match self {
            Self::One(one) => vec![one],
            Self::Many(many) => many,
        }
    }
}

/// The claims of a Tessera access token (RFC 9068 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// Issuer.
    pub iss: String,
    /// Subject.
    pub sub: String,
    /// Audience.
    pub aud: Audience,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Issue time, seconds since the epoch.
    pub iat: u64,
    /// Not-before, when the issuer set one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Unique token id; the key of its denylist entry.
    pub jti: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Space-delimited scope; absent when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// The subject's human-readable name, for user tokens whose issuer maps one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Attributes mapped from the subject token at exchange.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub user_details: BTreeMap<String, serde_json::Value>,
    /// Authentication methods of the subject token (RFC 8176), for user tokens whose subject token named them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// The app attributes of the client (`app_identifier`, `app_platform`, `app_version`), when it has any.
    #[serde(flatten)]
    pub app: AppAttributes,
    /// The grant family.
    pub tsr_fam: FamilyId,
    /// Issue time in microseconds.
    pub tsr_iat_us: u64,
    /// RFC 7800 confirmation: the DPoP key (RFC 9449 §6.1) or the client certificate (RFC 8705 §3.1) a bound token
    /// is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// The `cnf` claim (RFC 7800 §3.1) of a bound token: `jkt`, the DPoP key's RFC 7638 thumbprint (RFC 9449 §6.1),
/// or `x5t#S256`, the client certificate's (RFC 8705 §3.1). Exactly one member: Tessera issues no other, and a
/// `cnf` it cannot read is no token of its own.
pub use crate::domain::grant::Confirmation;

/// Signs an access token for `grant`.
pub fn sign(grant: &Grant, issuer: &str, jti: &str, keys: &KeyRing) -> Result<String, KeyError> {
    let claims = AccessTokenClaims {
        iss: issuer.to_owned(),
        sub: grant.subject.clone(),
        aud: Audience::from_list(&grant.audience),
        exp: grant.expires_at.as_secs(),
        iat: grant.issued_at.as_secs(),
        nbf: None,
        jti: jti.to_owned(),
        client_id: grant.client_id.to_string(),
        scope: grant.scope.to_string(),
        username: grant.username.clone(),
        user_details: grant.user_details.clone(),
        amr: grant.amr.clone(),
        app: grant.app.clone(),
        tsr_fam: grant.family,
        tsr_iat_us: grant.issued_at.as_micros(),
        cnf: grant.confirmation.clone(),
    };
    keys.signing_key().sign_jwt(ACCESS_TOKEN_TYP, &claims)
}

/// Why a presented JWT is not one of ours. Logged, never sent: introspection answers `{"active": false}`.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum JwtRejection {
    /// Over [`MAX_JWT_LEN`].
    #[error("token too long")]
    TooLong,
    /// Not three base64url JSON parts, or a claim of the wrong type.
    #[error("malformed: {0}")]
    Malformed(String),
    /// `typ` is not `at+jwt`.
    #[error("typ is not at+jwt")]
    WrongType,
    /// `crit` names extensions we do not understand (RFC 7515 §4.1.11).
    #[error("unsupported crit header")]
    Critical,
    /// No `kid`, or one we do not hold.
    #[error("unknown kid")]
    UnknownKey,
    /// `alg` is not the algorithm of the key named by `kid` (this covers `none` and HS/RS confusion).
    #[error("algorithm does not match the key")]
    AlgorithmMismatch,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// `iss` is not this tenant's issuer.
    #[error("foreign issuer")]
    ForeignIssuer,
    /// A claim is out of range (`client_id`, `scope`, `iat`).
    #[error("invalid claim {0}")]
    InvalidClaim(&'static str),
}

/// A verified access token: its grant, `jti` and `nbf`. Expiry and revocation are checked by the caller
/// through [`crate::domain::revocation::check_active`], with the store's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAccessToken {
    /// What the token grants.
    pub grant: Grant,
    /// The token id.
    pub jti: String,
    /// Not-before, if set.
    pub not_before: Option<Timestamp>,
    /// The issuer.
    pub issuer: String,
}

/// Verifies signature, header and issuer of a presented access token. No I/O, no clock: expiry is part of
/// the active rule.
pub fn verify(
    token: &str,
    tenant: &TenantId,
    issuer: &str,
    keys: &KeyRing,
) -> Result<VerifiedAccessToken, JwtRejection> {
    if token.len() > MAX_JWT_LEN {
        return Err(JwtRejection::TooLong);
    }
    let header = decode_header(token).map_err(|e| JwtRejection::Malformed(e.to_string()))?;
    if !is_access_token_typ(header.typ.as_deref()) {
        return Err(JwtRejection::WrongType);
    }
    if header.crit.is_some() {
        return Err(JwtRejection::Critical);
    }
    let key = header.kid.as_deref().and_then(|kid| keys.find(kid)).ok_or(JwtRejection::UnknownKey)?;
    if header.alg != key.algorithm().jose() {
        return Err(JwtRejection::AlgorithmMismatch);
    }
    let validation = pinned_validation(key.algorithm());
    let data = decode::<AccessTokenClaims>(token, key.decoding_key(), &validation).map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::InvalidSignature => JwtRejection::BadSignature,
        _ => JwtRejection::Malformed(e.to_string()),
    })?;
    let claims = data.claims;
    if claims.iss != issuer {
        return Err(JwtRejection::ForeignIssuer);
    }
    // The microsecond issue time must agree with `iat`, so a forged pair cannot dodge a watermark.
    if claims.tsr_iat_us / 1_000_000 != claims.iat {
        return Err(JwtRejection::InvalidClaim("tsr_iat_us"));
    }
    let grant = Grant {
        tenant: tenant.clone(),
        client_id: ClientId::parse(&claims.client_id).map_err(|_| JwtRejection::InvalidClaim("client_id"))?,
        subject: claims.sub,
        username: claims.username,
        user_details: claims.user_details,
        amr: claims.amr,
        app: claims.app,
        scope: ScopeSet::parse(&claims.scope).map_err(|_| JwtRejection::InvalidClaim("scope"))?,
        audience: claims.aud.into_list(),
        family: claims.tsr_fam,
        issued_at: Timestamp::from_micros(claims.tsr_iat_us),
        expires_at: Timestamp::from_secs(claims.exp),
        confirmation: claims.cnf,
    };
    Ok(VerifiedAccessToken {
        grant,
        jti: claims.jti,
        not_before: claims.nbf.map(Timestamp::from_secs),
        issuer: claims.iss,
    })
}

/// Signature-only validation pinned to one algorithm. Time claims are checked against the injected clock
/// by the active rule, not against the system clock inside `jsonwebtoken`.
fn pinned_validation(alg: SigningAlgorithm) -> Validation {
    let mut validation = Validation::new(alg.jose());
    validation.required_spec_claims = HashSet::new();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.leeway = 0;
    validation
}

/// The fixtures of these tests are the verified-token cache's too.
#[cfg(test)]
pub(crate) mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    use super::*;
    use crate::domain::grant::{CertificateThumbprint, Jkt};
    use crate::jwt::keys::SigningKey;

    pub(crate) const ISS: &str = "https://issuer.example";

    pub(crate) fn ring(alg: SigningAlgorithm) -> KeyRing {
        KeyRing::new(vec![SigningKey::generate(alg, "k1").unwrap()]).unwrap()
    }

    pub(crate) fn grant() -> Grant {
        Grant {
            tenant: TenantId::default(),
            client_id: ClientId::parse("svc").unwrap(),
            subject: "svc".into(),
            username: None,
            user_details: Default::default(),
            amr: Vec::new(),
            app: Default::default(),
            scope: ScopeSet::parse("read write").unwrap(),
            audience: vec!["https://api.example".into()],
            family: FamilyId::from_bytes([4; 16]),
            issued_at: Timestamp::from_micros(1_800_000_000_250_000),
            expires_at: Timestamp::from_secs(1_800_000_300),
            confirmation: None,
        }
    }

    fn part(value: serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&value).unwrap())
    }

    fn parts(token: &str) -> Vec<String> {
        token.split('.').map(str::to_owned).collect()
    }

    #[test]
    fn signs_rfc9068_shape_and_verifies_back() {
        for alg in [SigningAlgorithm::ES256, SigningAlgorithm::EdDSA] {
            let keys = ring(alg);
            let token = sign(&grant(), ISS, "jti-1", &keys).unwrap();
            let header = decode_header(&token).unwrap();
            assert_eq!(header.typ.as_deref(), Some("at+jwt"));
            assert_eq!(header.kid.as_deref(), Some("k1"));
            let verified = verify(&token, &TenantId::default(), ISS, &keys).unwrap();
            assert_eq!(verified.grant, grant());
            assert_eq!(verified.jti, "jti-1");
            let claims: serde_json::Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts(&token)[1].as_bytes()).unwrap()).unwrap();
            for claim in ["iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope"] {
                assert!(claims.get(claim).is_some(), "missing {claim}");
            }
            assert_eq!(claims["aud"], "https://api.example");
        }
    }

    /// RFC 9449 §6.1: a DPoP-bound token carries `cnf.jkt`; RFC 8705 §3.1: a certificate-bound one carries
    /// `cnf.x5t#S256`. Each verifies back to the same binding; an unbound one has no `cnf` at all.
    #[test]
    fn a_bound_token_carries_its_cnf() {
        let keys = ring(SigningAlgorithm::ES256);
        let jkt = Jkt::from_thumbprint("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into());
        let x5t = CertificateThumbprint::from_thumbprint("bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2".into());
        for (confirmation, cnf) in [
            (Confirmation::Dpop(jkt.clone()), json!({"jkt": jkt.as_str()})),
            (Confirmation::Certificate(x5t.clone()), json!({"x5t#S256": x5t.as_str()})),
        ] {
            let bound = Grant { confirmation: Some(confirmation), ..grant() };
            let token = sign(&bound, ISS, "j", &keys).unwrap();
            let claims: serde_json::Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts(&token)[1].as_bytes()).unwrap()).unwrap();
            assert_eq!(claims["cnf"], cnf);
            assert_eq!(verify(&token, &TenantId::default(), ISS, &keys).unwrap().grant, bound);
        }
        let unbound = sign(&grant(), ISS, "j", &keys).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts(&unbound)[1].as_bytes()).unwrap()).unwrap();
        assert!(claims.get("cnf").is_none());
    }

    #[test]
    fn alg_none_is_rejected() {
        let keys = ring(SigningAlgorithm::ES256);
        let token = sign(&grant(), ISS, "j", &keys).unwrap();
        let p = parts(&token);
        let none = format!("{}.{}.", part(json!({"alg": "none", "typ": "at+jwt", "kid": "k1"})), p[1]);
        assert!(verify(&none, &TenantId::default(), ISS, &keys).is_err());
    }

    #[test]
    fn hs256_signed_with_the_public_key_is_rejected() {
        let keys = ring(SigningAlgorithm::ES256);
        let token = sign(&grant(), ISS, "j", &keys).unwrap();
        let p = parts(&token);
        let public = serde_json::to_vec(keys.signing_key().public_jwk()).unwrap();
        let header = jsonwebtoken::Header {
            typ: Some("at+jwt".into()),
            kid: Some("k1".into()),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
        };
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p[1].as_bytes()).unwrap()).unwrap();
        let forged = jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_secret(&public)).unwrap();
        assert_eq!(verify(&forged, &TenantId::default(), ISS, &keys), Err(JwtRejection::AlgorithmMismatch));
    }

    #[test]
    fn tampering_unknown_kid_wrong_typ_and_foreign_issuer_are_rejected() {
        let keys = ring(SigningAlgorithm::EdDSA);
        let token = sign(&grant(), ISS, "j", &keys).unwrap();
        let p = parts(&token);
        let t = TenantId::default();

        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p[1].as_bytes()).unwrap()).unwrap();
        claims["scope"] = json!("admin");
        let altered = format!("{}.{}.{}", p[0], part(claims), p[2]);
        assert_eq!(verify(&altered, &t, ISS, &keys), Err(JwtRejection::BadSignature));

        let stripped = format!("{}.{}.", p[0], p[1]);
        assert!(verify(&stripped, &t, ISS, &keys).is_err());

        let other = ring(SigningAlgorithm::EdDSA);
        assert_eq!(verify(&token, &t, ISS, &other), Err(JwtRejection::BadSignature));
        let renamed = KeyRing::new(vec![SigningKey::generate(SigningAlgorithm::EdDSA, "k2").unwrap()]).unwrap();
        assert_eq!(verify(&token, &t, ISS, &renamed), Err(JwtRejection::UnknownKey));

        let jwt_typ = keys.signing_key().sign_jwt("JWT", &json!({"iss": ISS})).unwrap();
        assert_eq!(verify(&jwt_typ, &t, ISS, &keys), Err(JwtRejection::WrongType));

        assert_eq!(verify(&token, &t, "https://elsewhere", &keys), Err(JwtRejection::ForeignIssuer));
        assert_eq!(verify(&"a".repeat(MAX_JWT_LEN + 1), &t, ISS, &keys), Err(JwtRejection::TooLong));
    }

    #[test]
    fn claims_of_the_wrong_type_are_malformed() {
        let keys = ring(SigningAlgorithm::ES256);
        let mut claims = serde_json::to_value(AccessTokenClaims {
            iss: ISS.into(),
            sub: "s".into(),
            aud: Audience::One("a".into()),
            exp: 10,
            iat: 1,
            nbf: None,
            jti: "j".into(),
            client_id: "svc".into(),
            scope: String::new(),
            username: None,
            user_details: BTreeMap::new(),
            amr: Vec::new(),
            app: Default::default(),
            tsr_fam: FamilyId::from_bytes([1; 16]),
            tsr_iat_us: 1_000_000,
            cnf: None,
        })
        .unwrap();
        claims["exp"] = json!("tomorrow");
        let token = keys.signing_key().sign_jwt("at+jwt", &claims).unwrap();
        assert!(matches!(verify(&token, &TenantId::default(), ISS, &keys), Err(JwtRejection::Malformed(_))));
    }
}

//! Where a party's public keys are: a JWK Set (RFC 7517 §5) given inline, or the URL it is fetched from. A trusted
//! issuer's keys and a `private_key_jwt` client's keys are registered the same way, and verified by one
//! implementation ([`crate::jwt::jwks`]).

use serde::{Deserialize, Serialize};

/// A registered JWK Set: the set itself, or its URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Jwks {
    /// The JWK Set itself, as JSON.
    Inline(String),
    /// The JWKS URL (https; plain http only to a loopback host).
    Uri(String),
}

impl Jwks {
    /// The JWK Set's JSON, when inline.
    pub fn inline(&self) -> Option<&str> {
        match self {
            Self::Inline(json) => Some(json),
            Self::Uri(_) => None,
        }
    }

    /// The JWKS URL, when fetched.
    pub fn uri(&self) -> Option<&str> {
        match self {
            Self::Inline(_) => None,
            Self::Uri(uri) => Some(uri),
        }
    }
}

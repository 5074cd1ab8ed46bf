//! Grants: what an access or refresh token asserts, and the grant family that ties together every token
//! descended from one issue (one client-credentials issue, or one token exchange and its refreshes).

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::client::ClientId;
use super::scope::ScopeSet;
use super::tenant::TenantId;
use super::time::Timestamp;

/// A grant family id: 128 random bits. Opaque tokens embed it, so the family's revocation watermark can be
/// read in the same round trip as the token record.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FamilyId([u8; 16]);

/// A family id that is not 22 base64url characters.
#[derive(Debug, thiserror::Error)]
#[error("family id must be 16 bytes of base64url")]
pub struct InvalidFamilyId;

impl FamilyId {
    /// Wraps 16 random bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for FamilyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.0))
    }
}

impl fmt::Debug for FamilyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FamilyId({self})")
    }
}

impl TryFrom<String> for FamilyId {
    type Error = InvalidFamilyId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        let bytes = URL_SAFE_NO_PAD.decode(value).map_err(|_| InvalidFamilyId)?;
        Ok(Self(bytes.try_into().map_err(|_| InvalidFamilyId)?))
    }
}

impl From<FamilyId> for String {
    fn from(value: FamilyId) -> Self {
        value.to_string()
    }
}

/// What a token grants: the facts that both token formats carry and introspection returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The tenant that issued it.
    pub tenant: TenantId,
    /// The client it was issued to.
    pub client_id: ClientId,
    /// The subject: the client itself for client credentials, the mapped user for user tokens.
    pub subject: String,
    /// A human-readable identifier of the subject, when known (RFC 7662 `username`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Attributes mapped from the subject token at exchange (a trusted issuer's `claims_mapping`), returned
    /// by introspection as `user_details`. Empty for client credentials.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub user_details: BTreeMap<String, serde_json::Value>,
    /// The granted scope.
    pub scope: ScopeSet,
    /// The audience(s) (`aud`).
    pub audience: Vec<String>,
    /// The grant family.
    pub family: FamilyId,
    /// When it was issued, in microseconds.
    pub issued_at: Timestamp,
    /// When it stops being valid.
    pub expires_at: Timestamp,
}

//! Grants: what an access or refresh token asserts, and the grant family ([`FamilyId`]) that ties together every
//! token descended from one issue (one client-credentials issue, or one token exchange and its refreshes). How a
//! refresh token is rotated is in [`super::refresh`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::client::{AppAttributes, ClientId};
use super::id::{FamilyId, IdTag};
use super::revocation::WatermarkTarget;
use super::scope::ScopeSet;
use super::tenant::TenantId;
use super::time::Timestamp;

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
    /// The authentication methods the subject token named (RFC 8176 `amr`), kept from exchange through
    /// refresh. Empty for client credentials.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// The app attributes of the client it was issued to, as registered when it was issued (OneWelcome), returned
    /// by introspection to profiles with `app`. Empty for a client registered without them.
    #[serde(default, skip_serializing_if = "AppAttributes::is_empty")]
    pub app: AppAttributes,
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
    /// The key an access token is bound to (RFC 9449 §6: `cnf.jkt`), when it was issued with a DPoP proof. On a
    /// refresh token, which is never bound itself (§5: our clients are confidential), it marks a family that
    /// started DPoP-bound, whose refreshes must prove a key again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<Jkt>,
}

/// The RFC 7638 JWK SHA-256 thumbprint of a DPoP key, base64url (RFC 9449 §6.1 `jkt`): what a bound token names
/// its key by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Jkt(String);

impl Jkt {
    /// A thumbprint as computed from a verified proof's key, or as stored or signed before.
    pub fn from_thumbprint(thumbprint: String) -> Self {
        Self(thumbprint)
    }

    /// The base64url thumbprint.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Jkt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Grant {
    /// The tag of the subject.
    pub fn subject_tag(&self) -> IdTag {
        IdTag::of(&self.subject)
    }

    /// The tag of the client.
    pub fn client_tag(&self) -> IdTag {
        IdTag::of(self.client_id.as_str())
    }

    /// The four watermarks that apply to its tokens: family, subject, client and tenant.
    pub fn watermark_targets(&self) -> [WatermarkTarget; 4] {
        WatermarkTarget::applicable(self.family, self.subject_tag(), self.client_tag())
    }
}

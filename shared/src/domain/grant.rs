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
    /// What an access token is bound to (RFC 7800 `cnf`): a DPoP key (RFC 9449 §6, `cnf.jkt`) when it was issued
    /// with a DPoP proof, or a client certificate (RFC 8705 §3, `cnf.x5t#S256`) when its client is registered for
    /// certificate-bound tokens. On a refresh token, which is never bound itself (RFC 9449 §5, RFC 8705 §3: our
    /// clients are confidential), it records what the family was last bound to; a DPoP-bound family's refreshes
    /// must prove a key again, while a certificate-bound family's are bound as the client's registration says now
    /// (RFC 8705 §3 binds its refresh tokens to the client, so turning the registration off unbinds the next
    /// access token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<Confirmation>,
}

/// What a bound token is bound to: the RFC 7800 `cnf` claim, one member. Serialized as the claim itself
/// (`{"jkt": …}` or `{"x5t#S256": …}`), in the JWT and in introspection answers alike.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Confirmation {
    /// A DPoP key, by its RFC 7638 thumbprint (RFC 9449 §6.1). Presented with the `DPoP` scheme and a proof.
    #[serde(rename = "jkt")]
    Dpop(Jkt),
    /// A mutual-TLS client certificate, by its SHA-256 thumbprint (RFC 8705 §3.1). Presented with the `Bearer`
    /// scheme over a TLS connection authenticated with that certificate.
    #[serde(rename = "x5t#S256")]
    Certificate(CertificateThumbprint),
}

impl Confirmation {
    /// The DPoP key, when DPoP-bound.
    pub fn dpop_key(&self) -> Option<&Jkt> {
        match self {
            Self::Dpop(jkt) => Some(jkt),
            Self::Certificate(_) => None,
        }
    }

    /// The certificate, when certificate-bound.
    pub fn certificate(&self) -> Option<&CertificateThumbprint> {
        match self {
            Self::Certificate(thumbprint) => Some(thumbprint),
            Self::Dpop(_) => None,
        }
    }

    /// The RFC 6749 §7.1 access token type a token bound so is used with: `DPoP` (RFC 9449 §5), or `Bearer` for a
    /// certificate-bound token (RFC 8705 §3 keeps the scheme; the binding is checked at the TLS layer).
    pub fn token_type(&self) -> &'static str {
        match self {
            Self::Dpop(_) => "DPoP",
            Self::Certificate(_) => "Bearer",
        }
    }
}

/// The `x5t#S256` certificate thumbprint (RFC 8705 §3.1): base64url, without padding, of the SHA-256 of the
/// certificate's DER. 43 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CertificateThumbprint(String);

impl CertificateThumbprint {
    /// The thumbprint of a DER-encoded certificate.
    pub fn of_der(der: &[u8]) -> Self {
        use base64::Engine;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
        Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref()))
    }

    /// A thumbprint as stored or signed before.
    pub fn from_thumbprint(thumbprint: String) -> Self {
        Self(thumbprint)
    }

    /// The value of the `cnf` claim's `x5t#S256` member.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CertificateThumbprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
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

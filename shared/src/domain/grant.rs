//! Grants: what an access or refresh token asserts, the grant family that ties together every token
//! descended from one issue (one client-credentials issue, or one token exchange and its refreshes), and the
//! rules for rotating a refresh token ([`check_refresh`]).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::client::ClientId;
use super::revocation::{IdTag, WatermarkTarget};
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

    /// Its 22 base64url characters, written into `out` (no allocation).
    pub fn encode<'a>(&self, out: &'a mut [u8; 22]) -> &'a str {
        super::base64url_16(&self.0, out)
    }
}

impl fmt::Display for FamilyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.encode(&mut [0; 22]))
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
        super::parse_base64url_16(&value).map(Self).ok_or(InvalidFamilyId)
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
    /// The authentication methods the subject token named (RFC 8176 `amr`), kept from exchange through
    /// refresh. Empty for client credentials.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
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

/// Why a refresh token cannot be rotated (RFC 6749 §6, RFC 9700 §4.14.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshRefusal {
    /// Not a refresh token Tessera holds (unknown, expired, or an access token).
    Unknown,
    /// Issued to another client.
    OtherClient,
    /// Revoked, individually or through its family.
    Revoked,
    /// Already rotated: presenting it again is reuse, which revokes the family.
    Reused,
}

/// Whether `record` may be rotated by `client`, given the watermarks that apply to it. The order matters:
/// a revoked token is refused before reuse is considered, so replaying a token after its family was revoked
/// does not write another watermark.
pub fn check_refresh(
    record: &super::token::TokenRecord,
    client: &ClientId,
    watermarks: &[Timestamp],
) -> Result<(), RefreshRefusal> {
    if record.kind != super::token::TokenKind::RefreshToken {
        return Err(RefreshRefusal::Unknown);
    }
    if &record.grant.client_id != client {
        return Err(RefreshRefusal::OtherClient);
    }
    if record.revoked_at.is_some() || watermarks.iter().any(|&mark| record.grant.issued_at <= mark) {
        return Err(RefreshRefusal::Revoked);
    }
    if record.rotated_at.is_some() {
        return Err(RefreshRefusal::Reused);
    }
    Ok(())
}

/// The scope of a refreshed grant: the requested scope when it narrows the current one, the current one when
/// none is requested (RFC 6749 §6: a refresh may not widen). `None` when the request widens.
pub fn narrowed_scope(current: &ScopeSet, requested: Option<ScopeSet>) -> Option<ScopeSet> {
    match requested {
        Some(scope) if scope.is_subset(current) => Some(scope),
        Some(_) => None,
        None => Some(current.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::token::{OpaqueToken, TokenKind, TokenRecord};

    fn record(kind: TokenKind) -> TokenRecord {
        let grant = Grant {
            tenant: TenantId::default(),
            client_id: ClientId::parse("app").unwrap(),
            subject: "alice".into(),
            username: None,
            user_details: BTreeMap::new(),
            amr: Vec::new(),
            scope: ScopeSet::parse("a b").unwrap(),
            audience: vec![],
            family: FamilyId::from_bytes([1; 16]),
            issued_at: Timestamp::from_micros(1_000),
            expires_at: Timestamp::from_secs(10),
        };
        TokenRecord::new(&OpaqueToken::mint(kind, &grant, [2; 32]), grant)
    }

    #[test]
    fn refresh_rules_in_order() {
        let app = ClientId::parse("app").unwrap();
        let fresh = record(TokenKind::RefreshToken);
        assert_eq!(check_refresh(&fresh, &app, &[]), Ok(()));
        assert_eq!(check_refresh(&record(TokenKind::AccessToken), &app, &[]), Err(RefreshRefusal::Unknown));
        assert_eq!(check_refresh(&fresh, &ClientId::parse("other").unwrap(), &[]), Err(RefreshRefusal::OtherClient));
        assert_eq!(check_refresh(&fresh, &app, &[Timestamp::from_micros(1_000)]), Err(RefreshRefusal::Revoked));
        assert_eq!(check_refresh(&fresh, &app, &[Timestamp::from_micros(999)]), Ok(()));
        let mut spent = fresh.clone();
        spent.rotated_at = Some(Timestamp::from_micros(2_000));
        assert_eq!(check_refresh(&spent, &app, &[]), Err(RefreshRefusal::Reused));
        // Once the family is revoked, replaying a spent token is just revoked, not another reuse.
        assert_eq!(check_refresh(&spent, &app, &[Timestamp::from_micros(3_000)]), Err(RefreshRefusal::Revoked));
    }

    #[test]
    fn scope_only_narrows() {
        let current = ScopeSet::parse("a b").unwrap();
        assert_eq!(narrowed_scope(&current, None), Some(current.clone()));
        assert_eq!(narrowed_scope(&current, Some(ScopeSet::parse("a").unwrap())), Some(ScopeSet::parse("a").unwrap()));
        assert_eq!(narrowed_scope(&current, Some(ScopeSet::parse("a c").unwrap())), None);
    }
}

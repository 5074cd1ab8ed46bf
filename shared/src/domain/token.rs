//! Tokens: the opaque token format and the stored record of an opaque access or refresh token.
//!
//! An opaque token is `tsr_at_` (access) or `tsr_rt_` (refresh), then 107 base64url characters holding the
//! 16-byte grant family id, the 16-byte tags of its subject and client ([`IdTag`]) and 32 random bytes
//! (256 bits), then a 6-character base64url CRC-32 of everything before it. The prefix lets secret scanners
//! find leaked tokens; the checksum rejects typos and foreign strings without a store read; the embedded ids
//! name the token's four revocation watermarks, so they are read with its record in one round trip. Only
//! SHA-256 of the whole token is ever stored.

use std::fmt;

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::grant::Grant;
use super::id::{FamilyId, IdTag};
use super::revocation::WatermarkTarget;
use super::time::Timestamp;

/// Whether a token is an access or a refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// An access token.
    AccessToken,
    /// A refresh token.
    RefreshToken,
}

impl TokenKind {
    /// The opaque-token prefix of this kind.
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::AccessToken => "tsr_at_",
            Self::RefreshToken => "tsr_rt_",
        }
    }

    /// The RFC 7009 / RFC 7662 `token_type_hint` value.
    pub const fn hint(self) -> &'static str {
        match self {
            Self::AccessToken => "access_token",
            Self::RefreshToken => "refresh_token",
        }
    }
}

const PREFIX_LEN: usize = 7;
const PAYLOAD_LEN: usize = 80; // family 16, subject tag 16, client tag 16, secret 32
const BODY_LEN: usize = 107; // base64url of 80 bytes
const CHECKSUM_LEN: usize = 6; // base64url of 4 bytes
/// The exact length of every opaque token.
pub const OPAQUE_TOKEN_LEN: usize = PREFIX_LEN + BODY_LEN + CHECKSUM_LEN;

/// A freshly minted opaque token. Its `Display` is the secret: hand it to the client once, never log it.
pub struct OpaqueToken {
    kind: TokenKind,
    family: FamilyId,
    subject: IdTag,
    client: IdTag,
    encoded: String,
}

impl OpaqueToken {
    /// Mints a token of `kind` for `grant` (its family, subject and client) from 32 random bytes.
    pub fn mint(kind: TokenKind, grant: &Grant, secret: [u8; 32]) -> Self {
        let (family, subject, client) = (grant.family, grant.subject_tag(), grant.client_tag());
        let mut payload = [0u8; PAYLOAD_LEN];
        payload[..16].copy_from_slice(family.as_bytes());
        payload[16..32].copy_from_slice(subject.as_bytes());
        payload[32..48].copy_from_slice(client.as_bytes());
        payload[48..].copy_from_slice(&secret);
        let mut encoded = String::with_capacity(OPAQUE_TOKEN_LEN);
        encoded.push_str(kind.prefix());
        URL_SAFE_NO_PAD.encode_string(payload, &mut encoded);
        let checksum = crc32fast::hash(encoded.as_bytes());
        URL_SAFE_NO_PAD.encode_string(checksum.to_be_bytes(), &mut encoded);
        Self { kind, family, subject, client, encoded }
    }

    /// Recognises an opaque token by prefix, length and checksum; `None` for anything else. No I/O.
    pub fn parse(token: &str) -> Option<Self> {
        if token.len() != OPAQUE_TOKEN_LEN || !token.is_ascii() {
            return None;
        }
        let kind =
            [TokenKind::AccessToken, TokenKind::RefreshToken].into_iter().find(|k| token.starts_with(k.prefix()))?;
        let (signed, checksum) = token.split_at(PREFIX_LEN + BODY_LEN);
        let checksum: [u8; 4] = URL_SAFE_NO_PAD.decode(checksum).ok()?.try_into().ok()?;
        if u32::from_be_bytes(checksum) != crc32fast::hash(signed.as_bytes()) {
            return None;
        }
        let payload: [u8; PAYLOAD_LEN] = URL_SAFE_NO_PAD.decode(&signed[PREFIX_LEN..]).ok()?.try_into().ok()?;
        let part = |at: usize| -> [u8; 16] { payload[at..at + 16].try_into().unwrap_or_default() };
        Some(Self {
            kind,
            family: FamilyId::from_bytes(part(0)),
            subject: IdTag::from_bytes(part(16)),
            client: IdTag::from_bytes(part(32)),
            encoded: token.to_owned(),
        })
    }

    /// Access or refresh.
    pub fn kind(&self) -> TokenKind {
        self.kind
    }

    /// The tag of the subject embedded in the token.
    pub fn subject_tag(&self) -> IdTag {
        self.subject
    }

    /// The tag of the client embedded in the token.
    pub fn client_tag(&self) -> IdTag {
        self.client
    }

    /// The grant family embedded in the token.
    pub fn family(&self) -> FamilyId {
        self.family
    }

    /// The four watermarks that apply to the token, from the ids it embeds.
    pub fn watermark_targets(&self) -> [WatermarkTarget; 4] {
        WatermarkTarget::applicable(self.family, self.subject, self.client)
    }

    /// Whether `grant` is the grant this token was minted for (same family, subject and client): a record
    /// that does not match the ids the token embeds must not be trusted, since its watermarks were not read.
    pub fn matches(&self, grant: &Grant) -> bool {
        self.family == grant.family && self.subject == grant.subject_tag() && self.client == grant.client_tag()
    }

    /// The key the token is stored under.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.encoded)
    }

    /// The token string, to return to the client.
    pub fn expose(&self) -> &str {
        &self.encoded
    }
}

impl fmt::Debug for OpaqueToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpaqueToken")
            .field("kind", &self.kind)
            .field("family", &self.family)
            .field("subject", &self.subject)
            .field("client", &self.client)
            .finish()
    }
}

/// SHA-256 of a token, base64url: what the store keys an opaque token by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokenHash(String);

impl TokenHash {
    /// Hashes a token string.
    pub fn of(token: &str) -> Self {
        Self(URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, token.as_bytes())))
    }

    /// The identity of a trusted issuer's JWT, under which its record is kept ([`ExternalJwtIdentity`]). Never
    /// the presented string: ECDSA signatures are malleable ((r, s) and (r, n − s) both verify) and an issuer may
    /// sign the same claims twice, so every string that verifies to the same claims must name one record.
    /// Domain-separated from [`TokenHash::of`], so no token string hashes to it.
    pub fn of_external_jwt(identity: ExternalJwtIdentity<'_>) -> Self {
        let mut context = digest::Context::new(&digest::SHA256);
        match identity {
            ExternalJwtIdentity::IssuerAndJti { issuer, jti } => {
                context.update(b"tessera external jwt by iss and jti\0");
                // Lengths first, so no (iss, jti) pair can be cut differently into another.
                context.update(&(issuer.len() as u64).to_be_bytes());
                context.update(issuer.as_bytes());
                context.update(jti.as_bytes());
            }
            ExternalJwtIdentity::SignedClaims(claims) => {
                context.update(b"tessera external jwt by signed claims\0");
                context.update(claims);
            }
        }
        Self(URL_SAFE_NO_PAD.encode(context.finish()))
    }

    /// A hash as the store holds it, written from [`TokenHash::of`] or [`TokenHash::of_external_jwt`].
    pub fn from_stored(hash: String) -> Self {
        Self(hash)
    }

    /// The hash as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What names a trusted issuer's JWT, whatever string carries it ([`TokenHash::of_external_jwt`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExternalJwtIdentity<'a> {
    /// Its `iss` and `jti`: RFC 7519 §4.1.7 makes a `jti` unique per issuer.
    IssuerAndJti {
        /// The `iss`.
        issuer: &'a str,
        /// The `jti`.
        jti: &'a str,
    },
    /// Without a `jti`: the claims its signature covers, the decoded JWS payload.
    SignedClaims(&'a [u8]),
}

/// The stored state of an opaque access token or a refresh token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// SHA-256 of the token.
    pub token_hash: TokenHash,
    /// Access or refresh.
    pub kind: TokenKind,
    /// What the token grants.
    pub grant: Grant,
    /// Set once the token is revoked; a revoked token never becomes active again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Timestamp>,
    /// Set when a refresh token was exchanged for its successor. Presenting it again is reuse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_at: Option<Timestamp>,
}

/// A JWT from a trusted external issuer, recorded at introspection (the issuer's `record_tokens`) so that
/// Tessera's revocation, by token or by subject, applies to it. Keyed by its identity
/// ([`TokenHash::of_external_jwt`]), in the key space of opaque tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalTokenRecord {
    /// The tenant that trusts the issuer.
    pub tenant: super::tenant::TenantId,
    /// The token's identity ([`TokenHash::of_external_jwt`]; SHA-256 of the token string for records written
    /// before that).
    pub token_hash: TokenHash,
    /// The external issuer.
    pub issuer: String,
    /// The mapped subject the token is linked to.
    pub subject: String,
    /// The token's `iat`.
    pub issued_at: Timestamp,
    /// The token's `exp`: the record's TTL.
    pub expires_at: Timestamp,
    /// When it was revoked, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Timestamp>,
}

impl TokenRecord {
    /// The record of a freshly minted token: neither revoked nor rotated.
    pub fn new(token: &OpaqueToken, grant: Grant) -> Self {
        Self { token_hash: token.hash(), kind: token.kind(), grant, revoked_at: None, rotated_at: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn family() -> FamilyId {
        FamilyId::from_bytes([9; 16])
    }

    fn grant() -> Grant {
        Grant {
            tenant: super::super::tenant::TenantId::default(),
            client_id: super::super::client::ClientId::parse("app").unwrap(),
            subject: "alice".into(),
            username: None,
            user_details: Default::default(),
            amr: Vec::new(),
            app: Default::default(),
            scope: super::super::scope::ScopeSet::parse("a").unwrap(),
            audience: vec![],
            family: family(),
            issued_at: Timestamp::from_secs(1),
            expires_at: Timestamp::from_secs(2),
            confirmation: None,
        }
    }

    #[test]
    fn minted_tokens_parse_back() {
        let token = OpaqueToken::mint(TokenKind::AccessToken, &grant(), [3; 32]);
        assert_eq!(token.expose().len(), OPAQUE_TOKEN_LEN);
        assert!(token.expose().starts_with("tsr_at_"));
        let parsed = OpaqueToken::parse(token.expose()).unwrap();
        assert_eq!(parsed.kind(), TokenKind::AccessToken);
        assert_eq!(parsed.family(), family());
        assert_eq!(parsed.hash(), token.hash());
        assert!(parsed.matches(&grant()));
        assert_eq!(parsed.watermark_targets(), grant().watermark_targets());
        let other_subject = Grant { subject: "bob".into(), ..grant() };
        assert!(!parsed.matches(&other_subject));
        let refresh = OpaqueToken::mint(TokenKind::RefreshToken, &grant(), [3; 32]);
        assert_eq!(OpaqueToken::parse(refresh.expose()).unwrap().kind(), TokenKind::RefreshToken);
    }

    #[test]
    fn any_changed_character_fails_the_checksum() {
        let token = OpaqueToken::mint(TokenKind::AccessToken, &grant(), [5; 32]);
        let s = token.expose();
        for i in PREFIX_LEN..s.len() {
            let mut bytes = s.as_bytes().to_vec();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(bytes).unwrap();
            assert!(OpaqueToken::parse(&altered).is_none(), "position {i}");
        }
    }

    #[test]
    fn foreign_strings_are_not_opaque_tokens() {
        let token = OpaqueToken::mint(TokenKind::AccessToken, &grant(), [5; 32]);
        let foreign_prefix = token.expose().replacen("tsr_at_", "ghp_ab_", 1);
        for s in ["", "tsr_at_", "garbage", &foreign_prefix, &format!("{}x", token.expose()), "é".repeat(40).as_str()]
        {
            assert!(OpaqueToken::parse(s).is_none(), "{s:?}");
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let token = OpaqueToken::mint(TokenKind::AccessToken, &grant(), [5; 32]);
        // Characters 71.. encode only the 32 secret bytes (the three ids end at payload byte 48, char 71).
        assert!(!format!("{token:?}").contains(&token.expose()[71..113]));
    }
}

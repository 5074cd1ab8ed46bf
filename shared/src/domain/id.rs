//! 128-bit ids, written as 22 base64url characters: a grant family's id ([`FamilyId`], 128 random bits) and the
//! tag of a subject or client ([`IdTag`], the first 16 bytes of its SHA-256). One type, [`Id128`], with a kind
//! that keeps the two apart: a family id is never a tag.

use std::fmt;
use std::marker::PhantomData;

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// What a 128-bit id names; it gives the id its name in messages.
pub trait IdKind: Copy + Eq + std::hash::Hash + 'static {
    /// The id's name, for `Debug` and errors.
    const NAME: &'static str;
}

/// The kind of a grant family id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {}

impl IdKind for Family {
    const NAME: &'static str = "FamilyId";
}

/// The kind of a subject's or a client's tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tag {}

impl IdKind for Tag {
    const NAME: &'static str = "IdTag";
}

/// A 128-bit id of kind `K`, serialised as its 22 base64url characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String", bound = "")]
pub struct Id128<K: IdKind>([u8; 16], PhantomData<K>);

/// A grant family id: 128 random bits. Opaque tokens embed it, so the family's revocation watermark can be read in
/// the same round trip as the token record.
pub type FamilyId = Id128<Family>;

/// A 128-bit tag of a subject or client id: the first 16 bytes of its SHA-256 ([`IdTag::of`]). Watermark keys use
/// it, and opaque tokens embed it, so subject and client revocation reach opaque tokens in the same single read
/// without the token or the table holding the id itself. A tag is pseudonymous, not secret: whoever knows an id
/// can compute its tag (the revocation-events function and the CLI must, without any key).
pub type IdTag = Id128<Tag>;

/// A string that is not 22 base64url characters of 16 bytes.
#[derive(Debug, thiserror::Error)]
#[error("{kind} must be 16 bytes of base64url")]
pub struct InvalidId {
    kind: &'static str,
}

impl<K: IdKind> Id128<K> {
    /// Wraps 16 bytes (random ones, or taken from an opaque token).
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes, PhantomData)
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Its 22 base64url characters, written into `out` without allocating: store keys are built from these on
    /// every request.
    pub fn encode<'a>(&self, out: &'a mut [u8; 22]) -> &'a str {
        match URL_SAFE_NO_PAD.encode_slice(self.0, out) {
            // base64url is ASCII, so the slice is UTF-8.
            Ok(22) => std::str::from_utf8(out).unwrap_or_default(),
            _ => "",
        }
    }
}

impl IdTag {
    /// The tag of `id`.
    pub fn of(id: &str) -> Self {
        let hash = digest::digest(&digest::SHA256, id.as_bytes());
        let mut tag = [0u8; 16];
        tag.copy_from_slice(&hash.as_ref()[..16]);
        Self::from_bytes(tag)
    }
}

impl<K: IdKind> fmt::Display for Id128<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.encode(&mut [0; 22]))
    }
}

impl<K: IdKind> fmt::Debug for Id128<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({self})", K::NAME)
    }
}

impl<K: IdKind> TryFrom<String> for Id128<K> {
    type Error = InvalidId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        let bytes: Option<[u8; 16]> = URL_SAFE_NO_PAD.decode(&value).ok().and_then(|b| b.try_into().ok());
        bytes.map(Self::from_bytes).ok_or(InvalidId { kind: K::NAME })
    }
}

impl<K: IdKind> From<Id128<K>> for String {
    fn from(value: Id128<K>) -> Self {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_128_bit_id_round_trips_through_22_characters() {
        let bytes: [u8; 16] = std::array::from_fn(|i| (i * 17) as u8);
        let id = FamilyId::from_bytes(bytes);
        let text = id.to_string();
        assert_eq!(text, URL_SAFE_NO_PAD.encode(bytes));
        assert_eq!(FamilyId::try_from(text.clone()).unwrap(), id);
        assert_eq!(format!("{id:?}"), format!("FamilyId({text})"));
        assert!(IdTag::try_from("too-short".to_owned()).unwrap_err().to_string().starts_with("IdTag"));
        assert_eq!(
            serde_json::to_value(IdTag::of("alice")).unwrap(),
            serde_json::json!(IdTag::of("alice").to_string())
        );
    }
}

//! The pure domain: clients, scopes, tokens, grants and revocation. No AWS, no HTTP, no clock reads:
//! time and randomness are handed in by the caller.

pub mod client;
pub mod grant;
pub mod profile;
pub mod revocation;
pub mod scope;
pub mod tenant;
pub mod time;
pub mod token;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A 128-bit id ([`grant::FamilyId`], [`revocation::IdTag`]) as its 22 base64url characters, written into
/// `out` without allocating: store keys are built from these on every request.
pub fn base64url_16<'a>(bytes: &[u8; 16], out: &'a mut [u8; 22]) -> &'a str {
    match URL_SAFE_NO_PAD.encode_slice(bytes, out) {
        // base64url is ASCII, so the slice is UTF-8.
        Ok(22) => std::str::from_utf8(out).unwrap_or_default(),
        _ => "",
    }
}

/// The 16 bytes of a 22-character base64url id, if it is one.
pub fn parse_base64url_16(value: &str) -> Option<[u8; 16]> {
    URL_SAFE_NO_PAD.decode(value).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_128_bit_id_round_trips_through_22_characters() {
        let bytes: [u8; 16] = std::array::from_fn(|i| (i * 17) as u8);
        let mut out = [0u8; 22];
        let text = base64url_16(&bytes, &mut out);
        assert_eq!(text, URL_SAFE_NO_PAD.encode(bytes));
        assert_eq!(parse_base64url_16(text), Some(bytes));
        assert_eq!(parse_base64url_16("too-short"), None);
    }
}

//! Other spellings of one JWT, for the "one identity per token" property: a string a client may send instead of
//! the one it was given, hoping state keyed on the bytes that arrived misses it. Each variant either verifies
//! to the same claims (the ECDSA twin) or must be refused outright (base64 and whitespace variants).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;

/// The order of the P-256 group (SEC 2, §2.4.2), big-endian.
const P256_ORDER: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
/// The order of the P-384 group (SEC 2, §2.5.1), big-endian.
const P384_ORDER: &str =
    "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973";

/// The ECDSA twin of a JWS: the same header and payload with the signature (r, s) replaced by (r, n − s),
/// which verifies just as well (ECDSA signatures are malleable). `None` for other algorithms.
pub fn ecdsa_twin(token: &str, alg: Algorithm) -> Option<String> {
    let order = match alg {
        Algorithm::ES256 => P256_ORDER,
        Algorithm::ES384 => P384_ORDER,
        _ => return None,
    };
    let order: Vec<u8> =
        (0..order.len()).step_by(2).map(|i| u8::from_str_radix(&order[i..i + 2], 16).unwrap()).collect();
    let (signing_input, signature) = token.rsplit_once('.')?;
    let mut signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    let half = signature.len() / 2;
    assert_eq!(half, order.len(), "a JWS ECDSA signature is r || s, each the size of the group order");
    let s = &signature[half..];
    // n − s, big-endian, with borrow (0 < s < n, so no underflow).
    let mut twin = vec![0u8; half];
    let mut borrow = 0i16;
    for i in (0..half).rev() {
        let mut digit = i16::from(order[i]) - i16::from(s[i]) - borrow;
        borrow = i16::from(digit < 0);
        if digit < 0 {
            digit += 256;
        }
        twin[i] = digit as u8;
    }
    assert_eq!(borrow, 0);
    signature[half..].copy_from_slice(&twin);
    Some(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

/// Spellings of `token` that are not the string issued: padded or standard-alphabet base64, a signature whose
/// last character carries non-zero unused bits (it decodes to the same bytes in a lenient decoder), and
/// surrounding whitespace. Each is named, for assertion messages; variants equal to the token are left out.
pub fn alternative_encodings(token: &str) -> Vec<(&'static str, String)> {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a compact JWS");
    let pad = |part: &str| format!("{part}{}", "=".repeat((4 - part.len() % 4) % 4));
    let standard = |part: &str| part.replace('-', "+").replace('_', "/");
    let signature = parts[2];
    let trailing_bits = {
        // The last character of an unpadded base64 string holds 2 or 4 unused bits when len % 4 is 3 or 2:
        // setting them changes the string, not the bytes a lenient decoder yields.
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let unused = match signature.len() % 4 {
            2 => 0b1111,
            3 => 0b11,
            _ => 0,
        };
        let last = signature.as_bytes()[signature.len() - 1];
        let value = ALPHABET.iter().position(|&c| c == last).unwrap();
        let flipped = ALPHABET[value | unused] as char;
        format!("{}.{}.{}{flipped}", parts[0], parts[1], &signature[..signature.len() - 1])
    };
    let variants = vec![
        ("padded signature", format!("{}.{}.{}", parts[0], parts[1], pad(signature))),
        ("padded header and payload", format!("{}.{}.{}", pad(parts[0]), pad(parts[1]), signature)),
        ("standard base64 alphabet", standard(token)),
        ("standard alphabet, padded", format!("{}.{}.{}", parts[0], parts[1], pad(&standard(signature)))),
        ("non-zero unused bits in the signature", trailing_bits),
        ("leading space", format!(" {token}")),
        ("trailing space", format!("{token} ")),
        ("trailing newline", format!("{token}\n")),
        ("surrounding tabs", format!("\t{token}\t")),
        ("CRLF", format!("{token}\r\n")),
    ];
    variants.into_iter().filter(|(_, v)| v != token).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_twin_of_a_signature_is_n_minus_s_and_twice_is_the_original() {
        let issuer = crate::issuers::TestIssuer::generate("https://i", "a", Algorithm::ES256, "k");
        let token = issuer.sign(&serde_json::json!({"sub": "x"}));
        let twin = ecdsa_twin(&token, Algorithm::ES256).unwrap();
        assert_ne!(twin, token);
        assert_eq!(ecdsa_twin(&twin, Algorithm::ES256).unwrap(), token);
        assert!(ecdsa_twin(&token, Algorithm::EdDSA).is_none());
    }
}

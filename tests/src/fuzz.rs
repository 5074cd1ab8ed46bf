//! The fuzz bodies: each takes arbitrary bytes, drives one parser that faces the network, and panics only when
//! an invariant breaks. `fuzz/` (cargo fuzz, libFuzzer) calls them; `tests/fuzz_corpus.rs` replays the seeds
//! and every past finding through them on each test run, so a fixed finding stays fixed.
//!
//! | body | parser | invariants beyond "no panic" |
//! |------|--------|------------------------------|
//! | [`form`] | `Form::parse` | a parsed form has each name once; empty values read as absent |
//! | [`basic_auth`] | `ClientCredentials::extract` (header, then form body) | a Basic client has a non-empty id; both methods at once is never accepted |
//! | [`opaque_token`] | `OpaqueToken::parse` | parsing is canonical: a parsed token re-encodes to its input |
//! | [`jwt`] | `access_token::verify`, `external::peek_issuer` | an unsigned input never verifies; signed inputs reach the claim checks |
//! | [`revocation_event`] | the revocation-events handler | a rejected event writes nothing |

use std::sync::{Arc, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lambda_http::http::HeaderValue;
use tessera::clock::FixedClock;
use tessera::domain::tenant::TenantId;
use tessera::domain::time::Timestamp;
use tessera::domain::token::OpaqueToken;
use tessera::jwt::keys::{KeyRing, SigningAlgorithm, SigningKey};
use tessera::jwt::{access_token, external};
use tessera::store::memory::MemoryStore;
use tessera::wire::client_auth::{AuthMethod, ClientCredentials};
use tessera::wire::form::Form;

/// The issuer the [`jwt`] body verifies against.
pub const FUZZ_ISSUER: &str = "https://auth.example.com";

/// Form bodies.
pub fn form(data: &[u8]) {
    let Ok(form) = Form::parse(data) else { return };
    for pair in data.split(|&b| b == b'&') {
        let name = pair.split(|&b| b == b'=').next().unwrap_or_default();
        if let Ok(name) = tessera::wire::form::decode_component(name) {
            // Every name read back; an empty value is absent (RFC 6749 §3.1).
            assert!(form.get(&name).is_none_or(|v| !v.is_empty()));
        }
    }
}

/// An `Authorization` header and a form body, split at the first NUL byte.
pub fn basic_auth(data: &[u8]) {
    let (header, body) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let Ok(header) = HeaderValue::from_bytes(header) else { return };
    let Ok(form) = Form::parse(body) else { return };
    if let Ok(Some(credentials)) = ClientCredentials::extract(Some(&header), &form) {
        assert_eq!(credentials.method, AuthMethod::ClientSecretBasic);
        assert!(!credentials.client_id.is_empty());
        assert!(form.get("client_secret").is_none(), "two authentication methods accepted");
    }
}

/// Opaque tokens. A first byte of 1 or 2 turns the rest into a token with a valid checksum (access or refresh
/// prefix), so the fuzzer gets past the CRC to the payload decoding.
pub fn opaque_token(data: &[u8]) {
    let text = match data.split_first() {
        Some((&mode @ (1 | 2), rest)) => {
            let prefix = if mode == 1 { "tsr_at_" } else { "tsr_rt_" };
            let mut token = format!("{prefix}{}", String::from_utf8_lossy(rest));
            let checksum = crc32fast::hash(token.as_bytes());
            URL_SAFE_NO_PAD.encode_string(checksum.to_be_bytes(), &mut token);
            token
        }
        _ => String::from_utf8_lossy(data).into_owned(),
    };
    if let Some(token) = OpaqueToken::parse(&text) {
        assert_eq!(token.expose(), text);
        let again = OpaqueToken::parse(token.expose()).expect("a parsed token parses again");
        assert_eq!((again.kind(), again.family()), (token.kind(), token.family()));
        assert_eq!(again.hash(), token.hash());
    }
}

struct JwtKeys {
    ring: KeyRing,
    signer: jsonwebtoken::EncodingKey,
}

fn jwt_keys() -> &'static JwtKeys {
    static KEYS: OnceLock<JwtKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let key = SigningKey::generate(SigningAlgorithm::EdDSA, "fuzz-key").expect("Ed25519 key");
        let signer = jsonwebtoken::EncodingKey::from_ed_pem(key.to_pkcs8_pem().as_bytes()).expect("PEM reads back");
        JwtKeys { ring: KeyRing::new(vec![key]).expect("one key"), signer }
    })
}

/// The key ring the [`jwt`] body verifies with.
pub fn jwt_ring() -> &'static KeyRing {
    &jwt_keys().ring
}

/// `header JSON \n claims JSON`, base64url-encoded and signed with [`jwt_ring`]'s key.
pub fn signed_jwt(data: &[u8]) -> Option<String> {
    let (header, claims) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let message = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), &jwt_keys().signer, jsonwebtoken::Algorithm::EdDSA).ok()?;
    Some(format!("{message}.{signature}"))
}

/// JWTs. A first byte of 1 makes the rest `header JSON \n claims JSON`, signed with the ring's key (so the
/// claim checks run on arbitrary claims); anything else is a compact token as presented, which must never
/// verify (no signature can be guessed).
pub fn jwt(data: &[u8]) {
    let keys = jwt_keys();
    let tenant = TenantId::default();
    let signed = matches!(data.first(), Some(1));
    let token = if signed {
        let Some(token) = signed_jwt(&data[1..]) else { return };
        token
    } else {
        String::from_utf8_lossy(data).into_owned()
    };
    let _ = external::peek_issuer(&token);
    match access_token::verify(&token, &tenant, FUZZ_ISSUER, &keys.ring) {
        Ok(verified) => {
            assert!(signed, "an unsigned input verified: {token}");
            assert_eq!(verified.issuer, FUZZ_ISSUER);
            assert_eq!(verified.grant.issued_at.as_micros() / 1_000_000, verified.grant.issued_at.as_secs());
        }
        Err(rejection) => {
            // The reason is logged: it must render without panicking.
            let _ = rejection.to_string();
        }
    }
}

/// Revocation-function input: JSON as Lambda would hand it (an EventBridge event or an SQS batch), applied to
/// an embedded store. An event the handler rejects must leave the store untouched.
pub fn revocation_event(data: &[u8]) {
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(data) else {
        // Also the SQS message body path, which takes any text.
        if let Ok(text) = std::str::from_utf8(data) {
            let _ = tessera::events::RevocationEvent::from_message(text, Some("fuzz-message"));
        }
        return;
    };
    let store = Arc::new(MemoryStore::new());
    let clock = FixedClock::at(Timestamp::from_secs(1_800_000_000));
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a current-thread runtime");
    let outcome = runtime.block_on(tessera_revocation_events::handle(store.as_ref(), &clock, event.clone()));
    let is_batch = event.get("Records").is_some();
    if outcome.is_err() && !is_batch {
        assert_eq!(store.len(), 0, "a rejected event wrote to the store");
    }
}

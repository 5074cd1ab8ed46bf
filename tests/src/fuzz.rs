//! The fuzz bodies: each takes arbitrary bytes, drives one parser that faces the network, and panics only when
//! an invariant breaks. `fuzz/` (cargo fuzz, libFuzzer) calls them; `tests/e2e/fuzz_corpus.rs` replays the seeds
//! and every past finding through them on each test run, so a fixed finding stays fixed.
//!
//! | body | parser | invariants beyond "no panic" |
//! |------|--------|------------------------------|
//! | [`form`] | `Form::parse` | agrees with the `form_urlencoded` crate on every parameter it reads; each refusal's reason holds |
//! | [`basic_auth`] | `ClientCredentials::extract` (header, then form body) | a Basic client has a non-empty id; two methods at once (a secret or an assertion beside it) is never accepted; a body-only assertion is accepted only with the JWT type, names its `sub` as the client, and agrees with any `client_id` |
//! | [`opaque_token`] | `OpaqueToken::parse` | parsing is canonical: a parsed token re-encodes to its input |
//! | [`jwt`] | `access_token::verify`, `external::peek_issuer` | an unsigned input never verifies; signed inputs reach the claim checks |
//! | [`revocation_event`] | the revocation-events handler | a rejected event writes nothing |
//! | [`security_event_token`] | the SSF receiver (`events::ssf::receive`: SET verification, events, subjects) | an unsigned SET is never accepted; a refused SET writes nothing; an accepted one revokes only subjects |
//! | [`client_certificate`] | `ClientCertificate::from_der`, `from_pem` (RFC 8705's presented certificate) | a parsed certificate keeps its DER as given, re-parses to itself, and its `x5t#S256` is the 43-character hash of that DER |
//! | [`authorizer_event`] | the authorizer handler (event types, bearer header, route matching) | an allow only for the one valid token, on a configured route |
//! | [`dpop_proof`] | `dpop::verify_proof` (RFC 9449 §4.3) | an unsigned input never verifies; a verified proof names the request and its key, within the `iat` window |

use std::sync::{Arc, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lambda_http::http::HeaderValue;
use tessera::clock::FixedClock;
use tessera::domain::tenant::TenantId;
use tessera::domain::time::Timestamp;
use tessera::domain::token::OpaqueToken;
use tessera::jwt::client_assertion::{CLIENT_ASSERTION_TYPE as JWT_BEARER, claimed_client_id};
use tessera::jwt::keys::{KeyRing, SigningAlgorithm, SigningKey};
use tessera::jwt::{access_token, external};
use tessera::store::memory::MemoryStore;
use tessera::wire::client_auth::{AuthMethod, ClientCredentials};
use tessera::wire::form::Form;

/// The issuer the [`jwt`] body verifies against.
pub const FUZZ_ISSUER: &str = "https://auth.example.com";

/// Form bodies, checked against an independent parser: the `form_urlencoded` crate (the WHATWG URL
/// standard's lenient parser, which never fails). Where Tessera's strict parser accepts a body, every parameter
/// it reads has exactly the values `form_urlencoded` finds for that name (empty ones read as absent, RFC 6749
/// §3.1). Where it refuses one, the reason holds in `form_urlencoded`'s reading: a repeated name is there
/// twice, too many parameters are there, and a malformed body has a component that does not decode strictly.
pub fn form(data: &[u8]) {
    use tessera::wire::form::{FormError, MAX_FORM_BYTES, MAX_FORM_PARAMS, Param};
    let theirs: Vec<(String, String)> =
        form_urlencoded::parse(data).map(|(n, v)| (n.into_owned(), v.into_owned())).collect();
    let values_of = |param: Param| theirs.iter().filter(move |(n, _)| n == param.name()).map(|(_, v)| v.as_str());
    match Form::parse(data) {
        Ok(form) => {
            assert!(data.len() <= MAX_FORM_BYTES && theirs.len() <= MAX_FORM_PARAMS);
            for &param in Param::ALL {
                let expected: Vec<&str> = values_of(param).filter(|v| !v.is_empty()).collect();
                assert_eq!(form.get_all(param.name()).collect::<Vec<_>>(), expected, "{}", param.name());
                if !param.repeatable() {
                    assert!(values_of(param).count() <= 1, "{} accepted twice", param.name());
                }
            }
        }
        Err(FormError::TooLarge) => assert!(data.len() > MAX_FORM_BYTES),
        Err(FormError::TooManyParameters) => assert!(theirs.len() > MAX_FORM_PARAMS),
        Err(FormError::Repeated(param)) => {
            assert!(!param.repeatable() && values_of(param).count() >= 2, "{} is not repeated", param.name());
        }
        Err(FormError::Malformed) => {
            let strict = |raw: &[u8]| tessera::wire::form::decode_component(raw).is_ok();
            let components = data.split(|&b| b == b'&').flat_map(|pair| match pair.iter().position(|&b| b == b'=') {
                Some(i) => vec![&pair[..i], &pair[i + 1..]],
                None => vec![pair],
            });
            let mut bad = components.filter(|c| !strict(c));
            let component = bad.next().expect("a malformed body has a component that does not decode");
            // Independently of `decode_component`: a bad escape, or bytes that are not UTF-8 once decoded, which
            // the lenient parser turns into U+FFFD or leaves as a literal '%'.
            let text = String::from_utf8_lossy(component);
            let lenient: String = form_urlencoded::parse(component).map(|(n, _)| n.into_owned()).collect();
            assert!(text.contains('%') || text.contains('\u{FFFD}') || lenient.contains('\u{FFFD}'));
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
    if let Ok(Some(credentials)) = ClientCredentials::extract(Some(&header), &form, false) {
        assert_eq!(credentials.method, AuthMethod::ClientSecretBasic);
        assert!(!credentials.client_id.is_empty());
        assert!(form.get("client_secret").is_none(), "two authentication methods accepted");
        assert!(form.get("client_assertion").is_none(), "a Basic header beside an assertion accepted");
    }
    // The body alone: a secret in the form, or a client assertion (RFC 7523 §2.2) whose client is its `sub`.
    if let Ok(Some(credentials)) = ClientCredentials::extract(None, &form, false) {
        assert!(!credentials.by_certificate(), "mutual TLS without a certificate");
        match credentials.method {
            AuthMethod::PrivateKeyJwt => {
                let assertion = form.get("client_assertion").expect("an assertion");
                assert_eq!(form.get("client_assertion_type"), Some(JWT_BEARER));
                assert!(form.get("client_secret").is_none(), "an assertion beside a secret accepted");
                assert_eq!(claimed_client_id(assertion).as_deref(), Some(credentials.client_id.as_str()));
                assert!(form.get("client_id").is_none_or(|id| id == credentials.client_id));
            }
            _ => assert!(form.get("client_assertion").is_none() && form.get("client_assertion_type").is_none()),
        }
    }
    // Over mutual TLS (RFC 8705 §2): a client_id alone names the certificate's client; anything else is as above.
    if let Ok(Some(credentials)) = ClientCredentials::extract(None, &form, true)
        && credentials.by_certificate()
    {
        assert_eq!(form.get("client_id"), Some(credentials.client_id.as_str()));
        assert!(form.get("client_secret").is_none() && form.get("client_assertion").is_none());
        assert_eq!((credentials.secret(), credentials.assertion()), (None, None));
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

/// Client certificates, as `--tls-client-any` hands any well-formed one over and API Gateway's `clientCertPem`
/// carries one. A first byte of 0 reads the rest as PEM text, anything else as DER.
pub fn client_certificate(data: &[u8]) {
    use tessera::wire::client_cert::{CertificateThumbprint, ClientCertificate};
    let parsed = match data.split_first() {
        Some((0, rest)) => ClientCertificate::from_pem(&String::from_utf8_lossy(rest)),
        _ => ClientCertificate::from_der(data).inspect(|certificate| assert_eq!(certificate.der(), data)),
    };
    if let Ok(certificate) = parsed {
        assert_eq!(certificate.thumbprint(), &CertificateThumbprint::of_der(certificate.der()));
        assert_eq!(certificate.thumbprint().as_str().len(), 43);
        let again = ClientCertificate::from_der(certificate.der()).expect("a parsed certificate parses again");
        assert_eq!(again, certificate);
        assert_eq!(again.subject_dn(), certificate.subject_dn());
        assert_eq!(again.subject_alt_names(), certificate.subject_alt_names());
    }
}

struct JwtKeys {
    ring: KeyRing,
    signer: jsonwebtoken::EncodingKey,
    public_jwk: serde_json::Value,
}

fn jwt_keys() -> &'static JwtKeys {
    static KEYS: OnceLock<JwtKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let key = SigningKey::generate(SigningAlgorithm::EdDSA, "fuzz-key").expect("Ed25519 key");
        let signer = jsonwebtoken::EncodingKey::from_ed_pem(key.to_pkcs8_pem().as_bytes()).expect("PEM reads back");
        let public_jwk = key.public_jwk().clone();
        JwtKeys { ring: KeyRing::new(vec![key]).expect("one key"), signer, public_jwk }
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

/// The issuer of the [`security_event_token`] body's transmitter, also the trusted issuer its subjects belong to.
pub const FUZZ_TRANSMITTER: &str = "https://ssf.example.com/";
/// The audience its SETs must name.
pub const FUZZ_SET_AUDIENCE: &str = "https://auth.example.com/ssf/events";
/// The bearer token it presents.
pub const FUZZ_SET_AUTHORIZATION: &str = "fuzz-transmitter-token-0123456789abcdef";
/// The instant the [`security_event_token`] body receives at (a seed's `iat` must be within the hour before it).
pub const FUZZ_SET_NOW: u64 = 1_800_000_000;

/// The transmitters the [`security_event_token`] body receives from: one, of the default tenant, signing with
/// [`jwt_ring`]'s key, whose subjects are those of the trusted issuer of the same name (`sub`). Built once.
pub fn ssf_fuzz_transmitters() -> &'static tessera::events::ssf::SsfTransmitters {
    static TRANSMITTERS: OnceLock<tessera::events::ssf::SsfTransmitters> = OnceLock::new();
    TRANSMITTERS.get_or_init(|| {
        let jwks = serde_json::json!({"keys": [jwt_keys().public_jwk]}).to_string();
        let toml = format!(
            "[[trusted_issuers]]\nissuer = \"{FUZZ_TRANSMITTER}\"\naudiences = [\"api\"]\nalgorithms = [\"EdDSA\"]\n\
             jwks = '{jwks}'\n[[ssf_transmitters]]\nissuer = \"{FUZZ_TRANSMITTER}\"\naudience = \"{FUZZ_SET_AUDIENCE}\"\n\
             algorithms = [\"EdDSA\"]\njwks = '{jwks}'\nauthorization = \"{FUZZ_SET_AUTHORIZATION}\"\n"
        );
        let config = tessera::config::Config::from_toml(&toml).expect("the fuzz configuration");
        let trusted = tessera::tenancy::trusted_issuers::trusted_issuers_of(&config, &TenantId::default(), &[])
            .expect("the trusted issuer");
        let registered = config.ssf_transmitters[0].to_registered(&tessera::entropy::SystemEntropy).expect("entry");
        let transmitter = tessera::events::ssf::SsfTransmitter::new(&registered, &trusted, None).expect("transmitter");
        tessera::events::ssf::SsfTransmitters::new(vec![transmitter]).expect("one transmitter")
    })
}

/// Security Event Tokens pushed to the SSF receiver. A first byte of 1 makes the rest `header JSON \n claims JSON`,
/// signed with the transmitter's key (so the claim, event and subject checks run on arbitrary claims); anything
/// else is a SET as pushed, which must never be accepted. A refused SET writes nothing; an accepted one writes only
/// its `jti` and subject watermarks (with their seen-event items).
pub fn security_event_token(data: &[u8]) {
    let signed = matches!(data.first(), Some(1));
    let set = if signed {
        let Some(token) = signed_jwt(&data[1..]) else { return };
        token
    } else {
        String::from_utf8_lossy(data).into_owned()
    };
    let store = MemoryStore::new();
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a current-thread runtime");
    let announcer = tessera::announcement::recent::RecentAnnouncements::default();
    let received = runtime.block_on(tessera::events::ssf::receive(
        ssf_fuzz_transmitters(),
        &store,
        &announcer,
        &TenantId::default(),
        Some(FUZZ_SET_AUTHORIZATION),
        &set,
        Timestamp::from_secs(FUZZ_SET_NOW),
    ));
    match received {
        Ok(receipt) => {
            assert!(signed, "an unsigned SET was accepted: {set}");
            let revocations =
                receipt.events.iter().filter(|e| matches!(e, tessera::events::ssf::SetEvent::Revoke { .. })).count();
            assert!(store.len() <= 1 + 2 * revocations, "more items than the jti and the watermarks");
        }
        Err(refusal) => {
            assert_eq!(store.len(), 0, "a refused SET wrote to the store: {refusal}");
            // The answer renders without panicking.
            let _ = refusal.into_response();
        }
    }
}

/// The request [`dpop_proof`] verifies proofs for.
pub const FUZZ_DPOP_URL: &str = "https://auth.example.com/oauth2/token";

/// The instant [`dpop_proof`] verifies proofs at.
pub const FUZZ_DPOP_NOW: u64 = 1_800_000_000;

/// A DPoP proof for [`jwt_ring`]'s Ed25519 key, over `claims` (any bytes): the header is `typ: dpop+jwt`,
/// `alg: EdDSA` and the key's public JWK, so arbitrary claims reach the checks past the signature.
pub fn signed_dpop_proof(claims: &[u8]) -> Option<String> {
    let header = serde_json::json!({
        "typ": "dpop+jwt",
        "alg": "EdDSA",
        "jwk": jwt_ring().signing_key().public_jwk(),
    });
    let mut data = serde_json::to_vec(&header).ok()?;
    data.push(b'\n');
    data.extend_from_slice(claims);
    signed_jwt(&data)
}

/// The RFC 7638 thumbprint of [`jwt_ring`]'s key, computed here from its JWK.
pub fn fuzz_key_thumbprint() -> &'static str {
    static JKT: OnceLock<String> = OnceLock::new();
    JKT.get_or_init(|| {
        let x = jwt_ring().signing_key().public_jwk()["x"].as_str().expect("an OKP key").to_owned();
        let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
        URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes()))
    })
}

/// DPoP proofs (RFC 9449 §4.3). A first byte of 1 makes the rest a proof's claims, signed with [`jwt_ring`]'s key
/// and its JWK in the header ([`signed_dpop_proof`]); 2 makes the rest `header JSON \n claims JSON`, signed with
/// that key (arbitrary headers, a valid signature); anything else is a proof as presented, which must never verify.
/// Verified against `POST` [`FUZZ_DPOP_URL`] at [`FUZZ_DPOP_NOW`], with and without an access token (`ath`).
pub fn dpop_proof(data: &[u8]) {
    use tessera::jwt::dpop::{
        DPOP_MAX_AGE_SECS, DPOP_MAX_AHEAD_SECS, DPOP_SIGNING_ALGORITHMS, ProofContext, access_token_hash, verify_proof,
    };
    let signed = matches!(data.first(), Some(1 | 2));
    let proof = match data.first() {
        Some(1) => match signed_dpop_proof(&data[1..]) {
            Some(proof) => proof,
            None => return,
        },
        Some(2) => match signed_jwt(&data[1..]) {
            Some(proof) => proof,
            None => return,
        },
        _ => String::from_utf8_lossy(data).into_owned(),
    };
    let now = Timestamp::from_secs(FUZZ_DPOP_NOW);
    for access_token in [None, Some("tsr_at_fuzz")] {
        let context = ProofContext {
            method: "POST",
            url: FUZZ_DPOP_URL,
            now,
            access_token,
            algorithms: &DPOP_SIGNING_ALGORITHMS,
        };
        match verify_proof(&proof, &context) {
            Ok(verified) => {
                assert!(signed, "an unsigned proof verified: {proof}");
                assert_eq!(
                    verified.jkt.as_str(),
                    fuzz_key_thumbprint(),
                    "verified under another key than the signer's"
                );
                let claims: serde_json::Value =
                    jsonwebtoken::dangerous::insecure_decode_claims(&proof).expect("claims");
                assert_eq!(claims["htm"], "POST");
                assert!(!verified.jti.is_empty());
                let iat = verified.issued_at.as_secs();
                assert!(iat + DPOP_MAX_AGE_SECS >= FUZZ_DPOP_NOW && iat <= FUZZ_DPOP_NOW + DPOP_MAX_AHEAD_SECS);
                if let Some(token) = access_token {
                    assert_eq!(claims["ath"], access_token_hash(token));
                }
            }
            Err(rejection) => {
                let _ = rejection.to_string();
            }
        }
    }
}

/// Revocation-function input: JSON as Lambda would hand it (an EventBridge event or an SQS batch), applied to
/// an embedded store serving `default` and `acme`. An event the handler rejects (an undeclared tenant included)
/// must leave the store untouched.
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
    let tenants = crate::DeclaredTenants::with(&["acme"]);
    let deps = tessera_revocation_events::Deps {
        store: store.as_ref(),
        clock: &clock,
        tenants: &tenants,
        identity_events: &Default::default(),
        announcer: &tessera::announcement::recent::RecentAnnouncements::default(),
    };
    let outcome = runtime.block_on(tessera_revocation_events::handle(deps, event.clone()));
    let is_batch = event.get("Records").is_some();
    if outcome.is_err() && !is_batch {
        assert_eq!(store.len(), 0, "a rejected event wrote to the store");
    }
}

/// The one token [`authorizer_event`] may see allowed: an opaque access token of `demo-opaque`, `orders:read`, for
/// `https://orders.example.com`, live in the body's store. The seeds carry it.
pub const AUTHORIZER_FUZZ_TOKEN: &str = "tsr_at_CwLlNqFO1hqwSbhWrdY__FkmXf_6d-nd8xNdSHMVoDNZJl3_-nfp3fMTXUhzFaAzfVVryG2anILtwc1paZhsNHh_0MBz5yYMVkiU4C-axO0_1gTmA";

/// The authorizer's service for [`authorizer_event`]: one tenant, the routes `GET /orders/{id}` (`orders:read`)
/// and `POST /orders` (`orders:write`), and [`AUTHORIZER_FUZZ_TOKEN`] in its embedded store. Built once.
pub fn authorizer_fuzz_service() -> &'static tessera::TokenService {
    static SERVICE: OnceLock<tessera::TokenService> = OnceLock::new();
    SERVICE.get_or_init(|| {
        use tessera::domain::token::TokenRecord;
        use tessera::store::{Record, TokenStore};
        let now = Timestamp::from_secs(1_800_000_000);
        let store = Arc::new(MemoryStore::new());
        let routes = tessera::config::AuthorizerConfig::from_toml(
            r#"routes = [{ route = "GET /orders/{id}", scopes = ["orders:read"], audience = "https://orders.example.com" },
                { route = "POST /orders", scopes = ["orders:write"], audience = "https://orders.example.com" }]"#,
        )
        .expect("the routes parse")
        .protected_routes()
        .expect("the routes are valid");
        let token = OpaqueToken::parse(AUTHORIZER_FUZZ_TOKEN).expect("the fuzz token is well-formed");
        let grant = tessera::domain::grant::Grant {
            tenant: TenantId::default(),
            client_id: tessera::domain::client::ClientId::parse("demo-opaque").expect("a client id"),
            subject: "demo-opaque".into(),
            username: None,
            user_details: Default::default(),
            amr: Vec::new(),
            app: Default::default(),
            scope: tessera::domain::scope::ScopeSet::parse("orders:read").expect("a scope"),
            audience: vec!["https://orders.example.com".into()],
            family: token.family(),
            issued_at: now,
            expires_at: now.plus_secs(86_400),
            confirmation: None,
        };
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a current-thread runtime");
        runtime
            .block_on(store.put_new(Record::Token(TokenRecord::new(&token, grant)), now))
            .expect("the token is stored");
        let keys = KeyRing::new(vec![SigningKey::generate(SigningAlgorithm::ES256, "fuzz-1").expect("a key")])
            .expect("a key ring");
        tessera::TokenService::new(store, Arc::new(FixedClock::at(now)), Arc::new(tessera::entropy::SystemEntropy))
            .with_tenant(TenantId::default(), tessera::tenancy::ServedTenant::new(Some(FUZZ_ISSUER.into()), keys))
            .with_protected_routes(routes)
    })
}

/// Authorizer input: JSON as API Gateway would hand it (any event type, or none), decided on a store holding one
/// valid token. Never a panic; an allow only when the event carries [`AUTHORIZER_FUZZ_TOKEN`], and then with its
/// context; an error is `Unauthorized` or names why the event was refused, never an allow.
pub fn authorizer_event(data: &[u8]) {
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a current-thread runtime");
    let carries_the_token = event.to_string().contains(AUTHORIZER_FUZZ_TOKEN);
    let Ok(answer) = runtime.block_on(tessera_authorizer::handle(authorizer_fuzz_service(), event)) else { return };
    let allowed = answer["isAuthorized"] == true
        || answer["policyDocument"]["Statement"].as_array().is_some_and(|s| s.iter().any(|s| s["Effect"] == "Allow"));
    if allowed {
        assert!(carries_the_token, "allowed without the token: {answer}");
        assert_eq!(answer["context"]["client_id"], "demo-opaque", "{answer}");
        assert_eq!(answer["context"]["scope"], "orders:read", "{answer}");
    }
}

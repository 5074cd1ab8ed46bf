//! DPoP (RFC 9449) over HTTP: proofs signed here with an independent JOSE implementation (jwt-compact on
//! RustCrypto's p256, not the jsonwebtoken/aws-lc-rs code that verifies them), sent to the local runner's token
//! endpoint, introspection and the authorizer's demo route. Bound JWT and opaque tokens (`cnf.jkt`, `token_type:
//! DPoP`), a client that requires DPoP, and every bad proof refused with `invalid_dpop_proof` (400 at the token
//! endpoint; 401 with a `WWW-Authenticate: DPoP` challenge at the demo route). Runs on the store
//! `TESSERA_E2E_STORE` selects.

use serde_json::{Value, json};
use tessera::clock::Clock;
use tessera::config::Config;
use tessera_e2e::{Reply, TestServer, basic, creds, test_config_toml};

pub(crate) use tessera_e2e::dpop_proofs::{DpopKey, claims, unsigned_proof};

/// Clients that require DPoP: a JWT one and an opaque one, both with the demo route's scope and audience.
pub(crate) const DPOP_CLIENTS: &str = r#"
[[clients]]
client_id = "dpop-jwt"
client_secret = "dpop-jwt-secret-0123456789abcdef01"
scopes = ["orders:read"]
audiences = ["https://orders.example.com"]
require_dpop = true

[[clients]]
client_id = "dpop-opaque"
client_secret = "dpop-opaque-secret-0123456789abcdef"
scopes = ["orders:read"]
audiences = ["https://orders.example.com"]
access_token_format = "opaque"
require_dpop = true
"#;

/// The client of [`DPOP_CLIENTS`] issuing JWTs.
pub(crate) const DPOP_JWT: (&str, &str) = ("dpop-jwt", "dpop-jwt-secret-0123456789abcdef01");
/// The client of [`DPOP_CLIENTS`] issuing opaque tokens.
pub(crate) const DPOP_OPAQUE: (&str, &str) = ("dpop-opaque", "dpop-opaque-secret-0123456789abcdef");

/// The test config with [`DPOP_CLIENTS`].
pub(crate) fn config() -> Config {
    Config::from_toml(&format!("{}\n{DPOP_CLIENTS}", test_config_toml())).unwrap()
}

/// A client-credentials request with these `DPoP` header values.
pub(crate) async fn token_request(server: &TestServer, client: (&str, &str), proofs: &[String]) -> Reply {
    token_form(server, client, &[("grant_type", "client_credentials")], proofs).await
}

/// The demo route with this `Authorization` value and these `DPoP` header values.
async fn demo(server: &TestServer, authorization: String, proofs: &[String]) -> Reply {
    let mut headers = vec![("authorization", authorization)];
    headers.extend(proofs.iter().map(|proof| ("dpop", proof.clone())));
    server.send("GET", "/demo/orders", &headers, "").await
}

fn now(server: &TestServer) -> u64 {
    server.clock.now().as_secs()
}

fn token_url(server: &TestServer) -> String {
    format!("{}/oauth2/token", server.base)
}

fn demo_url(server: &TestServer) -> String {
    format!("{}/demo/orders", server.base)
}

/// A bound token, issued with a fresh proof by `key`.
async fn bound_token(server: &TestServer, client: (&str, &str), key: &DpopKey) -> String {
    let proof = key.proof("POST", &token_url(server), now(server), None);
    let reply = token_request(server, client, &[proof]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["token_type"], "DPoP");
    reply.json()["access_token"].as_str().unwrap().to_owned()
}

/// Asserts an RFC 9449 §7.1 refusal at the demo route: 401 with a `DPoP` challenge carrying `code`.
#[track_caller]
pub(crate) fn assert_dpop_challenge(reply: &Reply, code: &str) {
    assert_eq!(reply.status, 401, "{}", reply.text);
    let challenge = reply.header("www-authenticate").unwrap_or_default();
    assert!(challenge.starts_with(&format!("DPoP error=\"{code}\"")), "{challenge}");
    assert!(challenge.contains("algs=\"ES256 EdDSA RS256 PS256\""), "{challenge}");
    assert_eq!(reply.header("cache-control"), Some("no-store"));
}

/// RFC 9449 §5, §6: a proof binds the issued token, JWT (`cnf.jkt` claim) or opaque (in its record); the response
/// says `DPoP`; introspection returns `token_type: DPoP` and `cnf.jkt`; the metadata lists the algorithms.
#[tokio::test]
async fn a_proof_binds_jwt_and_opaque_tokens_to_its_key() {
    let server = TestServer::start_config(&config()).await;
    let metadata = server.send("GET", "/.well-known/oauth-authorization-server", &[], "").await.json();
    assert_eq!(metadata["dpop_signing_alg_values_supported"], json!(["ES256", "EdDSA", "RS256", "PS256"]));
    let key = DpopKey::new(7);
    for client in [DPOP_JWT, DPOP_OPAQUE, creds::JWT] {
        let token = bound_token(&server, client, &key).await;
        if token.contains('.') {
            let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(&token).unwrap();
            assert_eq!(claims["cnf"], json!({"jkt": key.jkt}), "RFC 9449 §6.1");
        }
        let introspected = server.introspect(&token).await.json();
        assert_eq!(introspected["active"], true, "{introspected}");
        assert_eq!(introspected["token_type"], "DPoP", "RFC 9449 §6.2");
        assert_eq!(introspected["cnf"], json!({"jkt": key.jkt}), "RFC 9449 §6.2");
    }
    // Without a proof, a client that does not require DPoP gets a bearer token, with no cnf.
    let bearer = server.issue(creds::JWT, &[]).await;
    let introspected = server.introspect(&bearer).await.json();
    assert_eq!((introspected["token_type"].as_str(), introspected.get("cnf")), (Some("Bearer"), None));
}

/// RFC 9449 §5.2 (`dpop_bound_access_tokens`): a client that requires DPoP is refused without a proof.
#[tokio::test]
async fn a_client_that_requires_dpop_is_refused_without_a_proof() {
    let server = TestServer::start_config(&config()).await;
    for client in [DPOP_JWT, DPOP_OPAQUE] {
        token_request(&server, client, &[]).await.assert_error(400, "invalid_dpop_proof");
    }
}

/// RFC 9449 §4.3, §11.1: each bad proof at the token endpoint is `invalid_dpop_proof` (400, no-store), and no
/// token is issued.
#[tokio::test]
async fn bad_proofs_at_the_token_endpoint_are_refused() {
    let server = TestServer::start_config(&config()).await;
    let (key, t, url) = (DpopKey::new(9), now(&server), token_url(&server));
    let replayed = key.proof("POST", &url, t, None);
    assert_eq!(token_request(&server, DPOP_JWT, std::slice::from_ref(&replayed)).await.status, 200);
    let jwk = json!({"jwk": key.jwk});
    let cases = [
        ("replayed", vec![replayed]),
        ("wrong htm", vec![key.proof("GET", &url, t, None)]),
        ("wrong htu", vec![key.proof("POST", &format!("{}/oauth2/introspect", server.base), t, None)]),
        ("https htu", vec![key.proof("POST", &url.replace("http://", "https://"), t, None)]),
        ("stale iat", vec![key.proof("POST", &url, t - 61, None)]),
        ("iat ahead", vec![key.proof("POST", &url, t + 6, None)]),
        ("typ JWT", vec![key.sign("JWT", jwk.clone(), claims("POST", &url, t, None))]),
        ("private jwk", vec![key.sign("dpop+jwt", json!({"jwk": key.private_jwk()}), claims("POST", &url, t, None))]),
        ("no jwk", vec![key.sign("dpop+jwt", json!({}), claims("POST", &url, t, None))]),
        (
            "another key's jwk",
            vec![key.sign("dpop+jwt", json!({"jwk": DpopKey::new(10).jwk}), claims("POST", &url, t, None))],
        ),
        ("alg none", vec![unsigned_proof(&key, claims("POST", &url, t, None))]),
        ("no jti", vec![key.sign("dpop+jwt", jwk.clone(), json!({"htm": "POST", "htu": url, "iat": t}))]),
        ("two DPoP headers", vec![key.proof("POST", &url, t, None), key.proof("POST", &url, t, None)]),
        ("garbage", vec!["garbage".to_owned()]),
    ];
    for (name, proofs) in cases {
        let reply = token_request(&server, DPOP_JWT, &proofs).await;
        assert_eq!(reply.json()["error"], "invalid_dpop_proof", "{name}: {}", reply.text);
        reply.assert_error(400, "invalid_dpop_proof");
        assert!(reply.json().get("access_token").is_none(), "{name}");
    }
}

/// RFC 9449 §7.1: at the authorizer, a bound token passes under `DPoP` with a proof by its key for this request and
/// token (`ath`), once; presented as `Bearer`, with another key's proof, without `ath`, replayed or for another
/// URL, it is refused with a `DPoP` challenge; an unbound token presented as `DPoP` is `invalid_token`.
#[tokio::test]
async fn the_authorizer_takes_a_bound_token_only_with_a_proof_of_its_key() {
    let server = TestServer::start_config(&config()).await;
    let key = DpopKey::new(11);
    let (t, url) = (now(&server), demo_url(&server));
    for client in [DPOP_JWT, DPOP_OPAQUE] {
        let token = bound_token(&server, client, &key).await;
        let proof = key.proof("GET", &url, t, Some(&token));
        let allowed = demo(&server, format!("DPoP {token}"), std::slice::from_ref(&proof)).await;
        assert_eq!(allowed.status, 200, "{}", allowed.text);
        assert_eq!(allowed.json()["authorizer"]["client_id"], client.0);

        assert_dpop_challenge(&demo(&server, format!("DPoP {token}"), &[proof]).await, "invalid_dpop_proof");
        assert_dpop_challenge(&demo(&server, format!("Bearer {token}"), &[]).await, "invalid_token");
        let fresh = |key: &DpopKey, htm: &str, url: &str, ath: Option<&str>| key.proof(htm, url, t, ath);
        for (name, proofs) in [
            ("no proof", vec![]),
            ("another key", vec![fresh(&DpopKey::new(12), "GET", &url, Some(&token))]),
            ("no ath", vec![fresh(&key, "GET", &url, None)]),
            ("another token's ath", vec![fresh(&key, "GET", &url, Some("another"))]),
            ("wrong htm", vec![fresh(&key, "POST", &url, Some(&token))]),
            ("wrong htu", vec![fresh(&key, "GET", &token_url(&server), Some(&token))]),
            ("stale", vec![key.proof("GET", &url, t - 120, Some(&token))]),
        ] {
            let reply = demo(&server, format!("DPoP {token}"), &proofs).await;
            assert_dpop_challenge(&reply, "invalid_dpop_proof");
            assert!(!reply.text.contains("orders\""), "{name}: {}", reply.text);
        }
    }
    let unbound = server.issue(creds::JWT, &[]).await;
    let proof = key.proof("GET", &url, t, Some(&unbound));
    assert_dpop_challenge(&demo(&server, format!("DPoP {unbound}"), &[proof]).await, "invalid_token");
    assert_eq!(demo(&server, format!("Bearer {unbound}"), &[]).await.status, 200, "bearer tokens are unchanged");
}

/// A token request with this form and these `DPoP` header values.
async fn token_form(server: &TestServer, client: (&str, &str), pairs: &[(&str, &str)], proofs: &[String]) -> Reply {
    let mut headers = vec![
        ("content-type", "application/x-www-form-urlencoded".to_owned()),
        ("authorization", basic(client.0, client.1)),
    ];
    headers.extend(proofs.iter().map(|proof| ("dpop", proof.clone())));
    server.send("POST", "/oauth2/token", &headers, tessera_e2e::form(pairs)).await
}

/// RFC 9449 §5: refresh tokens of confidential clients are not bound. Tessera's choice: a family whose tokens were
/// DPoP-bound stays so. A refresh without a proof is `invalid_dpop_proof` (and spends nothing: the refresh token
/// still works with a proof); with a proof by any key, the new access token is bound to that key.
#[tokio::test]
async fn a_dpop_bound_family_refreshes_only_with_a_proof_and_binds_to_its_key() {
    use tessera_e2e::issuers::{EXCHANGE, EXCHANGER, JWT_TYPE, cognito, exchange_config};
    let issuer = cognito();
    let server = TestServer::start_config(&exchange_config(&[&issuer])).await;
    let (first, second) = (DpopKey::new(31), DpopKey::new(32));
    let url = token_url(&server);
    let subject = issuer.sign(&issuer.claims("dpop-family-user", now(&server)));
    let exchange = [("grant_type", EXCHANGE), ("subject_token", subject.as_str()), ("subject_token_type", JWT_TYPE)];
    let proof = first.proof("POST", &url, now(&server), None);
    let exchanged = token_form(&server, EXCHANGER, &exchange, &[proof]).await;
    assert_eq!(exchanged.status, 200, "{}", exchanged.text);
    assert_eq!(exchanged.json()["token_type"], "DPoP");
    let refresh = exchanged.json()["refresh_token"].as_str().unwrap().to_owned();
    let introspected = server.introspect(&refresh).await.json();
    assert_eq!((introspected["active"].as_bool(), introspected.get("cnf")), (Some(true), None), "not bound itself");

    let refresh_form = [("grant_type", "refresh_token"), ("refresh_token", refresh.as_str())];
    token_form(&server, EXCHANGER, &refresh_form, &[]).await.assert_error(400, "invalid_dpop_proof");
    let proof = second.proof("POST", &url, now(&server), None);
    let refreshed = token_form(&server, EXCHANGER, &refresh_form, &[proof]).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    assert_eq!(refreshed.json()["token_type"], "DPoP");
    let access = refreshed.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(server.introspect(&access).await.json()["cnf"], json!({"jkt": second.jkt}));
}

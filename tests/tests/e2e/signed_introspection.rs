//! JWT introspection responses (RFC 9701) over HTTP: a resource server that sends
//! `Accept: application/token-introspection+jwt` gets the RFC 7662 answer signed by the tenant's key, and
//! verifies it here with an independent JOSE implementation (jwt-compact on RustCrypto's p256) against the key
//! the tenant publishes in its JWKS: header `typ`, `iss`, `aud` (the caller), `iat`, and `token_introspection`
//! equal to the JSON answer. Runs on the store `TESSERA_E2E_STORE` selects.

use jwt_compact::alg::Es256;
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{AlgorithmExt, UntrustedToken};
use serde_json::{Value, json};
use tessera::clock::Clock;
use tessera::config::Config;
use tessera_e2e::{Reply, TestServer, basic, creds, test_config_toml};

const JWT_TYPE: &str = "application/token-introspection+jwt";

fn config() -> Config {
    let toml = format!(
        "{}\n[[tenants]]\nname = \"acme\"\n\n[[clients]]\ntenant = \"acme\"\nclient_id = \"acme-rs\"\n\
         client_secret = \"acme-rs-secret-0123456789abcdef012\"\ngrant_types = []\nmay_introspect = true\n",
        test_config_toml()
    );
    Config::from_toml(&toml).unwrap()
}

async fn introspect_as(server: &TestServer, path: &str, caller: (&str, &str), token: &str, accept: &str) -> Reply {
    let headers = [
        ("content-type", "application/x-www-form-urlencoded".to_owned()),
        ("authorization", basic(caller.0, caller.1)),
        ("accept", accept.to_owned()),
    ];
    server.send("POST", path, &headers, tessera_e2e::form(&[("token", token)])).await
}

/// Verifies a signed response with the tenant's published JWKS and returns its claims.
async fn verified(server: &TestServer, prefix: &str, reply: &Reply) -> Value {
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("content-type"), Some(JWT_TYPE));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let untrusted = UntrustedToken::new(&reply.text).expect("a compact JWS");
    assert_eq!(untrusted.header().token_type.as_deref(), Some("token-introspection+jwt"));
    let kid = untrusted.header().key_id.clone().expect("kid");
    let jwks = server.send("GET", &format!("{prefix}/.well-known/jwks.json"), &[], "").await.json();
    let jwk = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid.as_str()).expect("kid in JWKS");
    let jwk: JsonWebKey<'_> = serde_json::from_value(jwk.clone()).unwrap();
    let key = p256_key(&jwk);
    let token = Es256.validator::<Value>(&key).validate(&untrusted).expect("the signature verifies");
    let mut claims = token.claims().custom.clone();
    let iat = token.claims().issued_at.expect("iat").timestamp();
    claims["iat"] = json!(iat);
    claims
}

fn p256_key(jwk: &JsonWebKey<'_>) -> <Es256 as jwt_compact::Algorithm>::VerifyingKey {
    <Es256 as jwt_compact::Algorithm>::VerifyingKey::try_from(jwk).expect("a P-256 JWK")
}

#[tokio::test]
async fn signed_responses_verify_with_the_published_jwks() {
    let server = TestServer::start_config(&config()).await;
    let metadata = server.send("GET", "/.well-known/oauth-authorization-server", &[], "").await.json();
    assert_eq!(metadata["introspection_signing_alg_values_supported"], json!(["ES256"]));

    let jwt = server.issue(creds::JWT, &[]).await;
    let opaque = server.issue(creds::OPAQUE, &[]).await;
    for token in [jwt.as_str(), opaque.as_str(), "garbage"] {
        let plain = server.introspect(token).await.json();
        let signed = introspect_as(&server, "/oauth2/introspect", creds::RS, token, JWT_TYPE).await;
        let claims = verified(&server, "", &signed).await;
        assert_eq!(claims["iss"], metadata["issuer"]);
        assert_eq!(claims["aud"], creds::RS.0, "the audience is the resource server that asked");
        assert_eq!(claims["iat"], server.clock.now().as_secs());
        assert_eq!(claims["token_introspection"], plain, "the same members as the JSON answer");
        assert!(claims.get("sub").is_none() && claims.get("exp").is_none(), "not mistakable for an access token");
    }

    // The verifier is real: one altered byte of the signature fails it.
    let signed = introspect_as(&server, "/oauth2/introspect", creds::RS, &jwt, JWT_TYPE).await;
    let (head, signature) = signed.text.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let altered = format!("{head}.{flipped}{}", &signature[1..]);
    let kid = UntrustedToken::new(&signed.text).unwrap().header().key_id.clone().unwrap();
    let jwks = server.send("GET", "/.well-known/jwks.json", &[], "").await.json();
    let jwk = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid.as_str()).unwrap().clone();
    let jwk: JsonWebKey<'_> = serde_json::from_value(jwk).unwrap();
    let untrusted = UntrustedToken::new(&altered).unwrap();
    assert!(Es256.validator::<Value>(&p256_key(&jwk)).validate(&untrusted).is_err());
}

#[tokio::test]
async fn the_accept_header_chooses_the_format() {
    let server = TestServer::start_config(&config()).await;
    let token = server.issue(creds::OPAQUE, &[]).await;
    // RFC 9110 §12.5.1: the highest weight wins, q=0 means "not acceptable", and a range whose weight is not a
    // qvalue (§12.4.2) counts for nothing. Wildcards never select the signed answer; on a tie the signed one
    // wins only where it is named.
    for accept in [
        "application/json",
        "*/*",
        "",
        "application/token-introspection+jwt;q=0",
        "application/token-introspection+jwt;q=0.000",
        "application/token-introspection+jwt; Q=0",
        "application/token-introspection+jwt;q=abc",
        "application/token-introspection+jwt;q=1.5",
        "application/token-introspection+jwt;q=-1",
        "application/token-introspection+jwt;q=0.0001",
        "application/json, application/token-introspection+jwt;q=0.5",
        "application/token-introspection+jwt;q=0.5, application/json;q=0.9",
        "application/token-introspection+jwt;q=0.4, */*;q=0.5",
        "application/token-introspection+jwt;q=0.4, application/*",
    ] {
        let reply = introspect_as(&server, "/oauth2/introspect", creds::RS, &token, accept).await;
        assert_eq!(reply.json()["active"], true, "Accept {accept:?}: {}", reply.text);
        assert!(reply.header("content-type").unwrap().starts_with("application/json"));
    }
    for accept in [
        JWT_TYPE,
        "application/json;q=0.5, application/token-introspection+jwt",
        "APPLICATION/TOKEN-INTROSPECTION+JWT",
        "application/token-introspection+jwt;q=0.5, application/json;q=0.4",
        "application/token-introspection+jwt, application/json",
        "application/token-introspection+jwt;q=0.1, */*;q=0.1",
        "application/token-introspection+jwt;q=0.2, application/json;q=0",
        "application/json;q=0.9, application/token-introspection+jwt;q=1.000",
    ] {
        let reply = introspect_as(&server, "/oauth2/introspect", creds::RS, &token, accept).await;
        assert_eq!(reply.header("content-type"), Some(JWT_TYPE), "Accept {accept:?}");
    }
    // Errors stay RFC 6749 JSON.
    let refused =
        introspect_as(&server, "/oauth2/introspect", ("demo-resource-server", "wrong"), &token, JWT_TYPE).await;
    refused.assert_error(401, "invalid_client");
    let forbidden = introspect_as(&server, "/oauth2/introspect", creds::JWT, &token, JWT_TYPE).await;
    forbidden.assert_error(403, "unauthorized_client");
}

#[tokio::test]
async fn a_tenant_signs_with_its_own_key_and_issuer() {
    let server = TestServer::start_config(&config()).await;
    let signed = introspect_as(
        &server,
        "/t/acme/oauth2/introspect",
        ("acme-rs", "acme-rs-secret-0123456789abcdef012"),
        "x",
        JWT_TYPE,
    )
    .await;
    let claims = verified(&server, "/t/acme", &signed).await;
    assert_eq!(claims["iss"], format!("{}/t/acme", server.base));
    assert_eq!(claims["aud"], "acme-rs");
    assert_eq!(claims["token_introspection"], json!({"active": false}));
    // The default tenant's keys do not verify it.
    let kid = UntrustedToken::new(&signed.text).unwrap().header().key_id.clone().unwrap();
    let default_jwks = server.send("GET", "/.well-known/jwks.json", &[], "").await.json();
    assert!(default_jwks["keys"].as_array().unwrap().iter().all(|k| k["kid"] != kid.as_str()));
}

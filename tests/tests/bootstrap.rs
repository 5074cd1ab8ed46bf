//! The wiring every function's `main.rs` runs: `bootstrap::service_from_env` with the variables the SAM
//! template sets. One test, so the process environment is changed by one thread only.

use lambda_http::http::header::{AUTHORIZATION, CONTENT_TYPE};
use lambda_http::{Body, Request};
use tessera::bootstrap::service_from_env;
use tessera::store::ClientRegistry;
use tessera_e2e::{basic, creds, dynamo_store, form, test_config};

fn token_request() -> Request {
    lambda_http::http::Request::builder()
        .method("POST")
        .uri("/oauth2/token")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(AUTHORIZATION, basic(creds::JWT.0, creds::JWT.1))
        .body(Body::Text(form(&[("grant_type", "client_credentials")])))
        .unwrap()
}

fn set(name: &str, value: &str) {
    // SAFETY: this test binary has a single test, so no other thread reads the environment concurrently.
    unsafe { std::env::set_var(name, value) }
}

fn unset(name: &str) {
    // SAFETY: as above.
    unsafe { std::env::remove_var(name) }
}

#[tokio::test]
async fn functions_build_their_service_from_the_environment() {
    let key = tessera::jwt::keys::SigningKey::generate(tessera::jwt::keys::SigningAlgorithm::EdDSA, "env-1").unwrap();
    let doc = serde_json::json!({"keys": [{"kid": "env-1", "alg": "EdDSA", "private_key_pem": key.to_pkcs8_pem()}]});

    // Without signing keys a function refuses to start: each instance would mint its own key.
    unset("TABLE_NAME");
    unset("SIGNING_KEYS_SECRET_ARN");
    set("TESSERA_CONFIG", concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/local.toml"));
    let err = service_from_env().await.err().expect("no keys is an error");
    assert!(err.to_string().contains("no signing keys"), "{err}");

    // Embedded store seeded from TESSERA_CONFIG, keys inline, issuer from ISSUER.
    set("SIGNING_KEYS_JSON", &doc.to_string());
    set("ISSUER", "https://auth.example.com");
    let service = service_from_env().await.unwrap();
    let response = tessera_token::handle(&service, token_request()).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    let header = jsonwebtoken::decode_header(body["access_token"].as_str().unwrap()).unwrap();
    assert_eq!((header.alg, header.kid.as_deref()), (jsonwebtoken::Algorithm::EdDSA, Some("env-1")));

    // A malformed key document names the problem, not the content.
    set("SIGNING_KEYS_JSON", r#"{"keys": [{"kid": "x", "alg": "ES256", "private_key_pem": "SECRET-MATERIAL"}"#);
    let err = service_from_env().await.err().expect("truncated JSON").to_string();
    assert!(err.contains("truncated JSON") && !err.contains("SECRET-MATERIAL"), "{err}");
    set("SIGNING_KEYS_JSON", &doc.to_string());

    // TABLE_NAME selects DynamoDB; clients come from the table, not from the config file.
    let Some(table) = dynamo_store().await else { return };
    for client in test_config().clients(&tessera::entropy::SystemEntropy).unwrap() {
        table.put_client(client).await.unwrap();
    }
    unset("TESSERA_CONFIG");
    set("TABLE_NAME", table.table());
    let service = service_from_env().await.unwrap();
    let response = tessera_token::handle(&service, token_request()).await.unwrap();
    assert_eq!(response.status(), 200);
}

//! The authorizer end to end, on the store `TESSERA_E2E_STORE` selects: the runner's demo route
//! (`/demo/orders`, behind the authorizer function's handler, as an HTTP API with a Lambda authorizer) gives a
//! token 200 with its context, then 403 as soon as it is revoked, by RFC 7009 revocation or by a revocation event;
//! a store failure is a 500, never an allow.

use serde_json::json;
use tessera::jwt::keys::{SigningAlgorithm, SigningKey};
use tessera_e2e::{Reply, TestServer, config_with_key, creds, isolated_backend_store, test_config_toml};

/// A client with opaque tokens for the demo route's audience, beside the demo clients.
const OPAQUE_FOR_ORDERS: &str = r#"
[[clients]]
client_id = "orders-opaque"
client_secret = "orders-opaque-secret-0123456789ab"
scopes = ["orders:read"]
access_token_format = "opaque"
audiences = ["https://orders.example.com"]
"#;

const ORDERS_OPAQUE: (&str, &str) = ("orders-opaque", "orders-opaque-secret-0123456789ab");

async fn get_orders(server: &TestServer, token: &str) -> Reply {
    server.send("GET", "/demo/orders", &[("authorization", format!("Bearer {token}"))], "").await
}

fn config() -> tessera::config::Config {
    tessera::config::Config::from_toml(&format!("{}{OPAQUE_FOR_ORDERS}", test_config_toml())).unwrap()
}

#[tokio::test]
async fn a_token_passes_until_it_is_revoked() {
    let server = TestServer::start_config(&config()).await;
    for client in [creds::JWT, ORDERS_OPAQUE] {
        let token = server.issue(client, &[]).await;
        let allowed = get_orders(&server, &token).await;
        assert_eq!(allowed.status, 200, "{}", allowed.text);
        let context = &allowed.json()["authorizer"];
        assert_eq!((context["client_id"].as_str(), context["sub"].as_str()), (Some(client.0), Some(client.0)));
        assert_eq!(context["scope"], "orders:read");
        assert_eq!(context["jti"].as_str().is_some_and(|jti| !jti.is_empty()), client == creds::JWT);
        assert_eq!(allowed.header("cache-control"), Some("no-store"));

        let revoked = server.post("/oauth2/revoke", Some(client), &[("token", &token)]).await;
        assert_eq!(revoked.status, 200);
        let denied = get_orders(&server, &token).await;
        assert_eq!((denied.status, denied.text.as_str()), (403, r#"{"message":"Forbidden"}"#));
    }
}

#[tokio::test]
async fn a_revocation_event_reaches_the_gateway() {
    let config = config();
    // A table of its own on DynamoDB: the event revokes every token of a client.
    let server = TestServer::start_on(&config, isolated_backend_store(&config).await).await;
    let jwt = server.issue(creds::JWT, &[]).await;
    let opaque = server.issue(ORDERS_OPAQUE, &[]).await;
    for token in [&jwt, &opaque] {
        assert_eq!(get_orders(&server, token).await.status, 200);
    }
    server.clock.advance_micros(1);
    let event = json!({"id": "authorizer-1", "detail-type": "tessera.revoke", "source": "test",
        "detail": {"client_id": "demo-jwt", "reason": "compromised"}});
    assert_eq!(server.send_event(&event).await.status, 200);
    assert_eq!(get_orders(&server, &jwt).await.status, 403, "the client's token is revoked at once");
    assert_eq!(get_orders(&server, &opaque).await.status, 200, "another client's is not");
    // A token issued after the event passes.
    server.clock.advance_micros(1);
    let fresh = server.issue(creds::JWT, &[]).await;
    assert_eq!(get_orders(&server, &fresh).await.status, 200);
}

#[tokio::test]
async fn the_route_decides_what_a_token_needs() {
    let server = TestServer::start_config(&config()).await;
    let read = server.issue(creds::JWT, &[]).await;
    let write = server.issue(creds::JWT, &[("scope", "orders:read orders:write")]).await;
    let post = |token: String| {
        let server = &server;
        async move { server.send("POST", "/demo/orders", &[("authorization", format!("Bearer {token}"))], "").await }
    };
    assert_eq!(post(read.clone()).await.status, 403, "POST /demo/orders needs orders:write");
    assert_eq!(post(write.clone()).await.status, 200);
    // A route not configured is denied, whatever the token.
    let put = server.send("PUT", "/demo/orders", &[("authorization", format!("Bearer {write}"))], "").await;
    assert_eq!(put.status, 403);
    // demo-opaque's tokens are for the issuer, not the demo API's audience.
    let other_audience = server.issue(creds::OPAQUE, &[]).await;
    assert_eq!(get_orders(&server, &other_audience).await.status, 403);
}

#[tokio::test]
async fn a_store_failure_is_a_500_never_an_allow() {
    // A real token of a working deployment, presented to one whose store is down; both share the signing key.
    let key = SigningKey::generate(SigningAlgorithm::ES256, "shared-authorizer").unwrap();
    let config = config_with_key(&key);
    let healthy = TestServer::start_config(&config).await;
    let token = healthy.issue(creds::JWT, &[]).await;
    assert_eq!(get_orders(&healthy, &token).await.status, 200);

    let broken = TestServer::start_on_unavailable_store(&config, &healthy.base).await;
    let failed = get_orders(&broken, &token).await;
    assert_eq!((failed.status, failed.text.as_str()), (500, r#"{"message":"Internal Server Error"}"#));
    // Whatever needs no read is still decided: a garbage token is denied, a request without one is a 401.
    assert_eq!(get_orders(&broken, "garbage").await.status, 403);
    assert_eq!(broken.send("GET", "/demo/orders", &[], "").await.status, 401);
}

/// WSO2's "INACTIVE: refreshed" at the gateway: once a refresh returned, the gateway denies the family's earlier
/// access token and allows the new one.
#[tokio::test]
async fn a_refreshed_access_token_is_denied() {
    use tessera::clock::Clock;
    use tessera_e2e::issuers::{EXCHANGER, auth0, exchange, exchange_config};
    let issuer = auth0();
    let server = TestServer::start_config(&exchange_config(&[&issuer])).await;
    let subject_token = issuer.sign(&issuer.claims("alice", server.clock.now().as_secs()));
    let first = exchange(&server, EXCHANGER, &subject_token, &[("scope", "orders:read")]).await.json();
    let old_access = first["access_token"].as_str().expect("access_token");
    assert_eq!(get_orders(&server, old_access).await.status, 200);
    let refresh = first["refresh_token"].as_str().expect("refresh_token");
    let refreshed = server
        .post("/oauth2/token", Some(EXCHANGER), &[("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    assert_eq!(get_orders(&server, old_access).await.status, 403, "the refreshed token is denied");
    let new_access = refreshed.json()["access_token"].as_str().expect("access_token").to_owned();
    assert_eq!(get_orders(&server, &new_access).await.status, 200);
}

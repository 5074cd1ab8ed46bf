//! Token targets: RFC 8707 `resource` and RFC 8693 `audience`. Both may repeat (RFC 8707 §2: "multiple resource
//! parameters"; RFC 8693 §2.1: "multiple audience parameters") and may be combined; the token's `aud` is then
//! every target named, each once, or the request is refused as `invalid_target`. Nothing is silently dropped.
//! A refresh may narrow the access token's audience (RFC 8707 §2.2) and never widen it.

use serde_json::{Value, json};
use tessera::clock::Clock;
use tessera::config::Config;
use tessera_e2e::issuers::{EXCHANGE, JWT_TYPE, TestIssuer, cognito};
use tessera_e2e::{Reply, TestServer};

const A: &str = "https://a.example.com";
const B: &str = "https://b.example.com";
const C: &str = "urn:example:c";
const SERVICE: (&str, &str) = ("multi-target", "multi-target-secret-0123456789ab");
const OPAQUE_SERVICE: (&str, &str) = ("multi-target-opaque", "multi-target-opaque-secret-01234");
const USER_APP: (&str, &str) = ("multi-target-app", "multi-target-app-secret-012345678");

fn config(issuer: &TestIssuer) -> Config {
    let mut toml = tessera_e2e::test_config_toml();
    toml.push_str(&format!(
        r#"
[[clients]]
client_id = "{}"
client_secret = "{}"
scopes = ["read"]
default_scopes = ["read"]
audiences = ["{A}", "{B}", "{C}"]

[[clients]]
client_id = "{}"
client_secret = "{}"
scopes = ["read"]
default_scopes = ["read"]
audiences = ["{A}", "{B}", "{C}"]
access_token_format = "opaque"

[[clients]]
client_id = "{}"
client_secret = "{}"
scopes = ["read"]
default_scopes = ["read"]
grant_types = ["{EXCHANGE}", "refresh_token"]
audiences = ["{A}", "{B}", "{C}"]
"#,
        SERVICE.0, SERVICE.1, OPAQUE_SERVICE.0, OPAQUE_SERVICE.1, USER_APP.0, USER_APP.1
    ));
    toml.push_str(&issuer.toml_entry(false));
    Config::from_toml(&toml).expect("targets config")
}

async fn token(server: &TestServer, client: (&str, &str), pairs: &[(&str, &str)]) -> Reply {
    let mut form = vec![("grant_type", "client_credentials")];
    form.extend_from_slice(pairs);
    server.post("/oauth2/token", Some(client), &form).await
}

async fn aud_of(server: &TestServer, reply: &Reply) -> Value {
    assert_eq!(reply.status, 200, "{}", reply.text);
    let introspected = server.introspect(reply.json()["access_token"].as_str().unwrap()).await.json();
    assert_eq!(introspected["active"], true, "{introspected}");
    introspected["aud"].clone()
}

#[tokio::test]
async fn several_resources_make_an_audience_list() {
    let issuer = cognito();
    let server = TestServer::start_config(&config(&issuer)).await;
    for client in [SERVICE, OPAQUE_SERVICE] {
        let two = token(&server, client, &[("resource", A), ("resource", B)]).await;
        assert_eq!(aud_of(&server, &two).await, json!([A, B]), "{}", client.0);
        let once = token(&server, client, &[("resource", B), ("resource", B)]).await;
        assert_eq!(aud_of(&server, &once).await, json!(B), "a repeated value counts once");
        let combined = token(&server, client, &[("resource", A), ("audience", C)]).await;
        assert_eq!(aud_of(&server, &combined).await, json!([A, C]), "resource and audience together");
        let default = token(&server, client, &[]).await;
        assert_eq!(aud_of(&server, &default).await, json!(A), "no target: the client's first audience");

        for (what, pairs) in [
            ("one target not the client's", vec![("resource", A), ("resource", "https://evil.example")]),
            ("an audience not the client's", vec![("resource", A), ("audience", "https://evil.example")]),
            ("a relative resource", vec![("resource", "orders")]),
            ("a resource with a fragment", vec![("resource", "https://a.example.com#x")]),
        ] {
            let reply = token(&server, client, &pairs).await;
            assert_eq!((reply.status, reply.json()["error"].clone()), (400, json!("invalid_target")), "{what}");
        }
    }
}

#[tokio::test]
async fn exchange_honours_audience_and_resource_and_refresh_only_narrows() {
    let issuer = cognito();
    let server = TestServer::start_config(&config(&issuer)).await;
    let subject_token = issuer.sign(&issuer.claims("alice", server.clock.now().as_secs()));
    let exchange = |pairs: Vec<(&'static str, &'static str)>| {
        let subject_token = subject_token.clone();
        let server = &server;
        async move {
            let mut form = vec![
                ("grant_type", EXCHANGE),
                ("subject_token", subject_token.as_str()),
                ("subject_token_type", JWT_TYPE),
            ];
            form.extend(pairs);
            server.post("/oauth2/token", Some(USER_APP), &form).await
        }
    };
    let reply = exchange(vec![("audience", B), ("resource", A), ("audience", C)]).await;
    // Resources first, then audiences, in request order.
    assert_eq!(aud_of(&server, &reply).await, json!([A, B, C]));
    let refresh_token = reply.json()["refresh_token"].as_str().unwrap().to_owned();
    let bad = exchange(vec![("audience", B), ("resource", "https://evil.example")]).await;
    assert_eq!(bad.json()["error"], "invalid_target", "{}", bad.text);

    // RFC 8707 §2.2: a refresh narrows the access token's audience; the refresh token keeps all three.
    let refresh = |token: String, pairs: Vec<(&'static str, &'static str)>| {
        let server = &server;
        async move {
            let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", token.as_str())];
            form.extend(pairs);
            server.post("/oauth2/token", Some(USER_APP), &form).await
        }
    };
    let narrowed = refresh(refresh_token, vec![("resource", B)]).await;
    assert_eq!(aud_of(&server, &narrowed).await, json!(B));
    let next = narrowed.json()["refresh_token"].as_str().unwrap().to_owned();
    let widened = refresh(next.clone(), vec![("resource", "https://evil.example")]).await;
    assert_eq!(widened.json()["error"], "invalid_target", "{}", widened.text);

    // A grant of A alone cannot widen to B at a refresh, though the client may request B afresh.
    let only_a = exchange(vec![("resource", A)]).await;
    assert_eq!(aud_of(&server, &only_a).await, json!(A));
    let to_b = refresh(only_a.json()["refresh_token"].as_str().unwrap().to_owned(), vec![("resource", B)]).await;
    assert_eq!((to_b.status, to_b.json()["error"].clone()), (400, json!("invalid_target")), "{}", to_b.text);
    let full = refresh(next, vec![]).await;
    assert_eq!(aud_of(&server, &full).await, json!([A, B, C]), "the refresh token kept every target");
}

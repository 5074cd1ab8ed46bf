//! Introspection profiles over HTTP: a resource server is given `user_details`, `amr` and `permissions`
//! (Keycloak RPT shape, from the demo configuration's `[[permissions]]`) only when its profile names them; a
//! resource server without a profile gets RFC 7662's core members alone, in JSON and in RFC 9701 JWT answers.
//! For user tokens from token exchange (JWT and opaque), after refresh, for a trusted issuer's own JWT, and with
//! `token_type_hint=requesting_party_token`. The `app` attribute (OneWelcome's app attributes of the client a token
//! was issued to) likewise, JWT and opaque. Runs on the store `TESSERA_E2E_STORE` selects.

use serde_json::{Value, json};
use tessera::clock::Clock;
use tessera::config::Config;
use tessera_e2e::issuers::{EXCHANGER, EXCHANGER_TWO, TestIssuer, auth0, exchange, exchange_config};
use tessera_e2e::{TestServer, creds};

/// The resource servers: the demo one has every attribute; the others one each, or none.
const PLAIN: (&str, &str) = ("rs-plain", "rs-plain-secret-0123456789abcdef0123");
const DETAILS: (&str, &str) = ("rs-details", "rs-details-secret-0123456789abcdef01");
const AMR: (&str, &str) = ("rs-amr", "rs-amr-secret-0123456789abcdef012345");
const PERMISSIONS: (&str, &str) = ("rs-permissions", "rs-permissions-secret-0123456789abcd");

/// The members beyond RFC 7662 §2.2 that profiles add.
const PROFILED: [&str; 3] = ["user_details", "amr", "permissions"];

fn config(issuer: &TestIssuer) -> Config {
    let mut config = exchange_config(&[issuer]);
    for ((id, secret), profile) in
        [(PLAIN, "[]"), (DETAILS, r#"["user_details"]"#), (AMR, r#"["amr"]"#), (PERMISSIONS, r#"["permissions"]"#)]
    {
        let entry = format!(
            "[[clients]]\nclient_id = \"{id}\"\nclient_secret = \"{secret}\"\ngrant_types = []\nmay_introspect = true\n\
             introspection_profile = {profile}\n"
        );
        config.clients.extend(Config::from_toml(&entry).unwrap().clients);
    }
    config
}

async fn introspect(server: &TestServer, caller: (&str, &str), token: &str) -> Value {
    let reply = server
        .post("/oauth2/introspect", Some(caller), &[("token", token), ("token_type_hint", "requesting_party_token")])
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()
}

/// Checks what each resource server sees of an active user token whose subject token said `amr`.
async fn assert_profiles(server: &TestServer, token: &str, amr: Option<Value>) {
    let full = introspect(server, creds::RS, token).await;
    assert_eq!(full["active"], true, "{full}");
    assert_eq!(full["user_details"], json!({"email": "alice@example.com", "given_name": "Alice"}));
    assert_eq!(full.get("amr").cloned(), amr);
    assert_eq!(full["permissions"], json!([{"rsid": "orders", "rsname": "orders", "scopes": ["view"]}]));

    let plain = introspect(server, PLAIN, token).await;
    for member in PROFILED {
        assert!(plain.get(member).is_none(), "{member} given to a caller without a profile: {plain}");
    }
    // Everything else is the same answer.
    let mut core = full.clone();
    for member in PROFILED {
        core.as_object_mut().unwrap().remove(member);
    }
    assert_eq!(plain, core);

    for (caller, member) in [(DETAILS, "user_details"), (AMR, "amr"), (PERMISSIONS, "permissions")] {
        let answer = introspect(server, caller, token).await;
        for other in PROFILED {
            assert_eq!(
                answer.get(other),
                if other == member { full.get(other) } else { None },
                "{} / {other}",
                caller.0
            );
        }
    }
}

#[tokio::test]
async fn each_profile_attribute_reaches_only_the_callers_that_have_it() {
    let issuer = auth0();
    let server = TestServer::start_config(&config(&issuer)).await;
    let subject_token = issuer.sign(&issuer.claims("alice", server.clock.now().as_secs()));
    for client in [EXCHANGER, EXCHANGER_TWO] {
        let scope = if client == EXCHANGER { "profile:read orders:read" } else { "profile:read" };
        let login = exchange(&server, client, &subject_token, &[("scope", scope)]).await;
        assert_eq!(login.status, 200, "{}", login.text);
        let body = login.json();
        if client == EXCHANGER_TWO {
            // No orders:read, so no permission; the rest as for the JWT client.
            let answer = introspect(&server, creds::RS, body["access_token"].as_str().unwrap()).await;
            assert!(answer.get("permissions").is_none(), "{answer}");
            assert_eq!(answer["amr"], json!(["pwd", "mfa"]));
            continue;
        }
        let access = body["access_token"].as_str().unwrap();
        assert_profiles(&server, access, Some(json!(["pwd", "mfa"]))).await;

        // amr travels with the grant through refresh.
        let refreshed = server
            .post(
                "/oauth2/token",
                Some(client),
                &[("grant_type", "refresh_token"), ("refresh_token", body["refresh_token"].as_str().unwrap())],
            )
            .await;
        assert_eq!(refreshed.status, 200, "{}", refreshed.text);
        assert_profiles(&server, refreshed.json()["access_token"].as_str().unwrap(), Some(json!(["pwd", "mfa"]))).await;
    }
}

#[tokio::test]
async fn amr_is_absent_when_the_subject_token_had_none() {
    let issuer = auth0();
    let server = TestServer::start_config(&config(&issuer)).await;
    let mut claims = issuer.claims("alice", server.clock.now().as_secs());
    claims.as_object_mut().unwrap().remove("amr");
    let login = exchange(&server, EXCHANGER, &issuer.sign(&claims), &[("scope", "profile:read orders:read")]).await;
    assert_eq!(login.status, 200, "{}", login.text);
    assert_profiles(&server, login.json()["access_token"].as_str().unwrap(), None).await;
}

#[tokio::test]
async fn client_credentials_tokens_carry_permissions_only() {
    let issuer = auth0();
    let server = TestServer::start_config(&config(&issuer)).await;
    let token = server.issue(creds::JWT, &[("scope", "orders:read orders:write")]).await;
    let full = introspect(&server, creds::RS, &token).await;
    assert_eq!(full["permissions"], json!([{"rsid": "orders", "rsname": "orders", "scopes": ["edit", "view"]}]));
    assert!(full.get("user_details").is_none() && full.get("amr").is_none());
    assert!(introspect(&server, PLAIN, &token).await.get("permissions").is_none());
}

#[tokio::test]
async fn signed_answers_follow_the_profile_too() {
    let issuer = auth0();
    let server = TestServer::start_config(&config(&issuer)).await;
    let subject_token = issuer.sign(&issuer.claims("alice", server.clock.now().as_secs()));
    let login = exchange(&server, EXCHANGER, &subject_token, &[("scope", "profile:read orders:read")]).await;
    assert_eq!(login.status, 200, "{}", login.text);
    let token = login.json()["access_token"].as_str().unwrap().to_owned();
    for (caller, expect_details) in [(creds::RS, true), (PLAIN, false)] {
        let headers = [
            ("content-type", "application/x-www-form-urlencoded".to_owned()),
            ("authorization", tessera_e2e::basic(caller.0, caller.1)),
            ("accept", "application/token-introspection+jwt".to_owned()),
        ];
        let reply = server.send("POST", "/oauth2/introspect", &headers, tessera_e2e::form(&[("token", &token)])).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(&reply.text).unwrap();
        let answer = &claims["token_introspection"];
        assert_eq!(answer["active"], true);
        assert_eq!(answer.get("user_details").is_some(), expect_details, "{}: {answer}", caller.0);
        assert_eq!(answer.get("permissions").is_some(), expect_details, "{}: {answer}", caller.0);
    }
}

#[tokio::test]
async fn a_trusted_issuers_own_jwt_is_profiled_the_same_way() {
    let issuer = auth0();
    let server = TestServer::start_config(&config(&issuer)).await;
    let mut claims = issuer.claims("alice", server.clock.now().as_secs());
    claims["scope"] = json!("orders:read openid");
    let external = issuer.sign(&claims);
    let full = introspect(&server, creds::RS, &external).await;
    assert_eq!(full["active"], true, "{full}");
    assert_eq!(full["amr"], json!(["pwd", "mfa"]));
    assert_eq!(full["permissions"], json!([{"rsid": "orders", "rsname": "orders", "scopes": ["view"]}]));
    let plain = introspect(&server, PLAIN, &external).await;
    for member in PROFILED {
        assert!(plain.get(member).is_none(), "{member}: {plain}");
    }
}

/// OneWelcome's app attributes: returned, for the client the token was issued to, only to resource servers whose
/// profile has `app`; a client registered without them gives none; JWT and opaque alike.
#[tokio::test]
async fn app_attributes_reach_only_profiles_with_app() {
    const APP_JWT: (&str, &str) = ("orders-ios", "orders-ios-secret-0123456789abcdef01");
    const APP_OPAQUE: (&str, &str) = ("orders-android", "orders-android-secret-0123456789abcd");
    const RS_APP: (&str, &str) = ("rs-app", "rs-app-secret-0123456789abcdef012345");
    let toml = format!(
        r#"{}
[[clients]]
client_id = "{}"
client_secret = "{}"
scopes = ["orders:read"]
app_identifier = "com.example.orders"
app_platform = "ios"
app_version = "2.14.3"

[[clients]]
client_id = "{}"
client_secret = "{}"
scopes = ["orders:read"]
access_token_format = "opaque"
app_identifier = "com.example.orders"
app_platform = "android"

[[clients]]
client_id = "{}"
client_secret = "{}"
grant_types = []
may_introspect = true
introspection_profile = ["app"]

[[clients]]
client_id = "{}"
client_secret = "{}"
grant_types = []
may_introspect = true
"#,
        tessera_e2e::test_config_toml(),
        APP_JWT.0,
        APP_JWT.1,
        APP_OPAQUE.0,
        APP_OPAQUE.1,
        RS_APP.0,
        RS_APP.1,
        PLAIN.0,
        PLAIN.1
    );
    let config = Config::from_toml(&toml).unwrap();
    let server = TestServer::start_on(&config, tessera_e2e::isolated_backend_store(&config).await).await;
    let expected = [
        (APP_JWT, json!({"app_identifier": "com.example.orders", "app_platform": "ios", "app_version": "2.14.3"})),
        (APP_OPAQUE, json!({"app_identifier": "com.example.orders", "app_platform": "android"})),
    ];
    for (client, app) in expected {
        let token = server.issue(client, &[]).await;
        let answer = introspect(&server, RS_APP, &token).await;
        assert_eq!(answer["active"], true, "{answer}");
        for member in ["app_identifier", "app_platform", "app_version"] {
            assert_eq!(answer.get(member), app.get(member), "{}: {member}", client.0);
        }
        let plain = introspect(&server, PLAIN, &token).await;
        assert!(plain.get("app_identifier").is_none() && plain.get("app_platform").is_none(), "{plain}");
        assert_eq!(plain["client_id"], client.0);
    }
    // A client registered without app attributes: none, even for a profile with `app`.
    let token = server.issue(creds::JWT, &[]).await;
    let answer = introspect(&server, RS_APP, &token).await;
    assert!(answer["active"] == true && answer.get("app_identifier").is_none(), "{answer}");
}

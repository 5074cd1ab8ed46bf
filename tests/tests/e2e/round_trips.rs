//! Store round trips per request, counted by a wrapper around the store rather than read off the code:
//! issuing a JWT costs one read, an opaque token one read and one conditional write, introspection one
//! read (the caller's record batched with the token's state), revocation one read and one write, an authorizer
//! decision one read (none for a token refused as presented). With user details from a UserInfo endpoint,
//! introspection stays one read on its common path (the details cached); only the first introspection of a subject's
//! access token, or a `refresh_user_details=true` the rate limit allows, adds the fetch's two conditional writes.

use std::sync::Arc;

use tessera::TokenService;
use tessera::clock::{Clock, FixedClock, SystemClock};
use tessera::domain::tenant::TenantId;
use tessera::entropy::SystemEntropy;
use tessera::store::counting::{CountingStore, RoundTrips};
use tessera::store::memory::MemoryStore;
use tessera::tenancy::ServedTenant;
use tessera_e2e::issuers::{Canned, TestIssuer, UserinfoServer, exchange_config};
use tessera_e2e::{TestServer, creds, form_request as post, test_config};

fn service() -> (TokenService, Arc<CountingStore<MemoryStore>>) {
    service_with(Vec::new())
}

/// [`service`], with `extra` clients beside the test configuration's.
fn service_with(extra: Vec<tessera::domain::client::Client>) -> (TokenService, Arc<CountingStore<MemoryStore>>) {
    let config = test_config();
    let mut clients = config.clients(&SystemEntropy).unwrap();
    clients.extend(extra);
    let store = Arc::new(CountingStore::new(MemoryStore::with_clients(clients)));
    let keys = tessera::tenancy::key_document::key_ring_or_generated(&config.signing_keys, "k1").unwrap();
    let service =
        TokenService::new(store.clone(), Arc::new(FixedClock::at(SystemClock.now())), Arc::new(SystemEntropy))
            .with_tenant(TenantId::default(), ServedTenant::new(Some("https://issuer.example".into()), keys))
            .with_protected_routes(config.authorizer.protected_routes().unwrap());
    (service, store)
}

async fn issue(service: &TokenService, client: (&str, &str)) -> String {
    let response =
        tessera_token::handle(service, post("/oauth2/token", client, &[("grant_type", "client_credentials")]))
            .await
            .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn round_trips_per_operation() {
    let (service, store) = service();
    let one_read = RoundTrips { reads: 1, writes: 0 };
    let read_write = RoundTrips { reads: 1, writes: 1 };

    let jwt = issue(&service, creds::JWT).await;
    assert_eq!(store.take(), one_read, "issue JWT");
    let opaque = issue(&service, creds::OPAQUE).await;
    assert_eq!(store.take(), read_write, "issue opaque");

    for token in [jwt.as_str(), opaque.as_str(), "garbage"] {
        let response = tessera_introspect::handle(&service, post("/oauth2/introspect", creds::RS, &[("token", token)]))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(store.take(), one_read, "introspect {}", &token[..7]);
    }

    // The authorizer, through the runner's demo route: the token's state and watermarks in one read; a garbage
    // token, a refresh-token prefix or a missing header in none.
    let no_read = RoundTrips::default();
    for (token, reads) in [(jwt.as_str(), one_read), (opaque.as_str(), one_read), ("garbage", no_read)] {
        let request = lambda_http::http::Request::builder()
            .uri("/demo/orders")
            .header("authorization", format!("Bearer {token}"))
            .body(lambda_http::Body::Empty)
            .unwrap();
        let response = tessera_cli::demo_api::serve(&service, request).await;
        assert!([200, 403].contains(&response.status().as_u16()));
        assert_eq!(store.take(), reads, "authorize {}", &token[..7]);
    }

    for (client, token) in [(creds::JWT, &jwt), (creds::OPAQUE, &opaque)] {
        let response =
            tessera_revoke::handle(&service, post("/oauth2/revoke", client, &[("token", token)])).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(store.take(), read_write, "revoke {}", &token[..7]);
    }
    // Revoking what is already revoked reads once and writes nothing.
    for (client, token) in [(creds::JWT, &jwt), (creds::OPAQUE, &opaque)] {
        tessera_revoke::handle(&service, post("/oauth2/revoke", client, &[("token", token)])).await.unwrap();
        assert_eq!(store.take(), one_read, "revoke again {}", &token[..7]);
    }
}

/// RFC 8705 costs no round trip: a certificate-bound opaque token issued to a `tls_client_auth` client is one read
/// (the client's record, against which the certificate is compared in memory) and one conditional write, as any
/// opaque token; its introspection (returning `cnf`) and an authorizer decision (checking the certificate) one read.
#[tokio::test]
async fn mutual_tls_and_certificate_binding_cost_no_round_trip_more() {
    use tessera::wire::client_cert::request_context_with_certificate;
    let pki = tessera_e2e::mutual_tls::Pki::new();
    let toml = r#"
[[clients]]
client_id = "rt-billing"
token_endpoint_auth_method = "tls_client_auth"
tls_client_auth_san_dns = "billing.example.com"
tls_client_certificate_bound_access_tokens = true
access_token_format = "opaque"
scopes = ["orders:read"]
audiences = ["https://orders.example.com"]
"#;
    let clients = tessera::config::Config::from_toml(toml).unwrap().clients(&SystemEntropy).unwrap();
    let (service, store) = service_with(clients);
    let with_certificate = |mut request: lambda_http::Request| {
        request.extensions_mut().insert(request_context_with_certificate(&pki.billing.der));
        request
    };
    let form = tessera_e2e::form(&[("grant_type", "client_credentials"), ("client_id", "rt-billing")]);
    let request = lambda_http::http::Request::builder()
        .method("POST")
        .uri("/oauth2/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(lambda_http::Body::Text(form))
        .unwrap();
    let response = tessera_token::handle(&service, with_certificate(request)).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(store.take(), RoundTrips { reads: 1, writes: 1 }, "issue a certificate-bound opaque token");

    let response = tessera_introspect::handle(&service, post("/oauth2/introspect", creds::RS, &[("token", &token)]))
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(body["cnf"]["x5t#S256"], pki.billing.thumbprint());
    assert_eq!(store.take(), RoundTrips { reads: 1, writes: 0 }, "introspect it");

    let request = lambda_http::http::Request::builder()
        .uri("/demo/orders")
        .header("authorization", format!("Bearer {token}"))
        .body(lambda_http::Body::Empty)
        .unwrap();
    let response = tessera_cli::demo_api::serve(&service, with_certificate(request)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(store.take(), RoundTrips { reads: 1, writes: 0 }, "authorize it");
}

#[tokio::test]
async fn rejected_requests_never_touch_the_store() {
    let (service, store) = service();
    let bad_grant = post("/oauth2/token", creds::JWT, &[("grant_type", "password")]);
    assert_eq!(tessera_token::handle(&service, bad_grant).await.unwrap().status(), 400);
    let no_token = post("/oauth2/introspect", creds::RS, &[]);
    assert_eq!(tessera_introspect::handle(&service, no_token).await.unwrap().status(), 400);
    let no_token = post("/oauth2/revoke", creds::JWT, &[]);
    assert_eq!(tessera_revoke::handle(&service, no_token).await.unwrap().status(), 400);
    assert_eq!(store.take(), RoundTrips::default());
}

#[tokio::test]
async fn introspection_with_user_details_from_userinfo_is_one_read_once_they_are_cached() {
    let idp = UserinfoServer::start().await;
    let issuer = TestIssuer::generate(
        "https://alice-corp.eu.auth0.com/",
        "https://api.alice-corp.com",
        jsonwebtoken::Algorithm::ES256,
        "ec-1",
    );
    let mut config = exchange_config(&[&issuer]);
    config.trusted_issuers[0].userinfo_endpoint = Some(idp.url("userinfo"));
    let store = Arc::new(CountingStore::new(MemoryStore::with_clients(config.clients(&SystemEntropy).unwrap())));
    let server = TestServer::start_on(&config, store.clone()).await;
    let now = server.clock.now().as_secs();
    idp.set("/userinfo", Canned::json(&serde_json::json!({"sub": "rt-alice", "email": "alice@new.example.com"})));
    let access_token = issuer.sign_access_token(&issuer.claims("rt-alice", now));
    store.take();
    let refresh = [("refresh_user_details", "true")];
    // The first introspection fetches: the read, the claim, the details.
    introspect_active(&server, &access_token, &[]).await;
    assert_eq!(store.take(), RoundTrips { reads: 1, writes: 2 }, "first introspection, fetching");
    assert_eq!(idp.hits("/userinfo"), 1);
    // The common path: cached, no refresh asked, or a refresh within the rate limit: one read, nothing else.
    for (extra, what) in [(&[][..], "cached"), (&refresh[..], "refresh within the rate limit")] {
        introspect_active(&server, &access_token, extra).await;
        assert_eq!(store.take(), RoundTrips { reads: 1, writes: 0 }, "{what}");
    }
    assert_eq!(idp.hits("/userinfo"), 1);
}

async fn introspect_active(server: &TestServer, token: &str, extra: &[(&str, &str)]) {
    let mut pairs = vec![("token", token)];
    pairs.extend_from_slice(extra);
    let reply = server.post("/oauth2/introspect", Some(creds::RS), &pairs).await;
    assert_eq!(reply.json()["active"], true, "{}", reply.text);
}

/// A `private_key_jwt` client (RFC 7523) costs one write more than a secret client at each endpoint: its
/// assertion's `jti`, one conditional put (no read: the client record comes in the request's one read, as ever).
#[tokio::test]
async fn a_private_key_jwt_client_costs_one_conditional_write_more() {
    use tessera_e2e::client_assertions::{ClientKey, claims, fields};
    let key = ClientKey::es256("rt-1");
    let toml = format!(
        "[[clients]]\nclient_id = \"rt-pkj\"\ntoken_endpoint_auth_method = \"private_key_jwt\"\njwks = '{}'\n\
         may_introspect = true\n",
        ClientKey::jwks(&[&key])
    );
    let clients = tessera::config::Config::from_toml(&toml).unwrap().clients(&SystemEntropy).unwrap();
    let (service, store) = service_with(clients);
    let now = service.clock.now().as_secs();
    let request = |path: &str, pairs: &[(&str, &str)]| {
        let assertion = key.sign(&claims("rt-pkj", "https://issuer.example", now));
        let fields = fields(&assertion);
        let all: Vec<(&str, &str)> =
            pairs.iter().copied().chain(fields.iter().map(|(k, v)| (*k, v.as_str()))).collect();
        lambda_http::http::Request::builder()
            .method("POST")
            .uri(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(lambda_http::Body::Text(tessera_e2e::form(&all)))
            .unwrap()
    };
    let read_write = RoundTrips { reads: 1, writes: 1 };
    let response = tessera_token::handle(&service, request("/oauth2/token", &[("grant_type", "client_credentials")]))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(store.take(), read_write, "issue a JWT: the client record; the jti");
    let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    let token = body["access_token"].as_str().unwrap();
    let response =
        tessera_introspect::handle(&service, request("/oauth2/introspect", &[("token", token)])).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(store.take(), read_write, "introspect: caller and token in one read; the jti");
    let response = tessera_revoke::handle(&service, request("/oauth2/revoke", &[("token", token)])).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(store.take(), RoundTrips { reads: 1, writes: 2 }, "revoke: one read; the jti and the denylist entry");
}

/// A DPoP-bound issue costs one replay write more than a bearer one (RFC 9449 §11.1: the proof's `jti`, one
/// conditional put); introspecting a bound token stays one read; the authorizer taking a bound token reads once
/// and spends the proof with one write.
#[tokio::test]
async fn dpop_adds_one_replay_write_and_no_read() {
    use crate::dpop::DpopKey;
    let (service, store) = service();
    let key = DpopKey::new(21);
    let now = service.clock.now().as_secs();
    let with_proof = |client, proof: String| {
        let mut request = post("/oauth2/token", client, &[("grant_type", "client_credentials")]);
        request.headers_mut().insert("host", "issuer.example".parse().unwrap());
        request.headers_mut().insert("dpop", proof.parse().unwrap());
        request
    };
    let mut tokens = Vec::new();
    for (client, expected) in
        [(creds::JWT, RoundTrips { reads: 1, writes: 1 }), (creds::OPAQUE, RoundTrips { reads: 1, writes: 2 })]
    {
        let proof = key.proof("POST", "http://issuer.example/oauth2/token", now, None);
        let response = tessera_token::handle(&service, with_proof(client, proof)).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(store.take(), expected, "a bound issue for {}", client.0);
        let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert_eq!(body["token_type"], "DPoP");
        tokens.push(body["access_token"].as_str().unwrap().to_owned());
    }
    for token in &tokens {
        let response = tessera_introspect::handle(&service, post("/oauth2/introspect", creds::RS, &[("token", token)]))
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert_eq!(body["cnf"]["jkt"], key.jkt.as_str());
        assert_eq!(store.take(), RoundTrips { reads: 1, writes: 0 }, "introspect a bound token");
    }
    // The JWT client's token has the demo route's audience.
    let token = &tokens[0];
    let request = lambda_http::http::Request::builder()
        .uri("/demo/orders")
        .header("host", "issuer.example")
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", key.proof("GET", "http://issuer.example/demo/orders", now, Some(token)))
        .body(lambda_http::Body::Empty)
        .unwrap();
    let response = tessera_cli::demo_api::serve(&service, request).await;
    assert_eq!(response.status(), 200);
    assert_eq!(store.take(), RoundTrips { reads: 1, writes: 1 }, "authorize a bound token");
}

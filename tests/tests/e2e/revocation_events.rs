//! Event-driven revocation end to end: revocation events (EventBridge events and SQS batches, the JSON the
//! revocation-events function receives) are sent to the runner's `/local/events`, and every token they name
//! (JWT and opaque access tokens, refresh tokens, across clients) introspects inactive, while tokens issued
//! after stay active. Covers subject, client, family and tenant revocation, re-delivery, the microsecond
//! boundary, and 1,000 tokens revoked with one write. Runs on the store `TESSERA_E2E_STORE` selects, so
//! `scripts/test` runs it on both.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tessera::clock::{Clock, FixedClock};
use tessera::domain::time::Timestamp;
use tessera::store::StoreError;
use tessera::store::TokenStore;
use tessera::store::counting::{CountingStore, RoundTrips};
use tessera_e2e::issuers::{EXCHANGER, EXCHANGER_TWO, TestIssuer, auth0, exchange, exchange_config};
use tessera_e2e::{DeclaredTenants, TestServer, UnavailableStore, creds, isolated_backend_store};
use tessera_revocation_events::Deps;

/// An EventBridge `tessera.revoke` event.
fn event(id: &str, detail: Value) -> Value {
    let mut detail = detail;
    detail["reason"] = json!("test");
    json!({"version": "0", "id": id, "detail-type": "tessera.revoke", "source": "test.identity",
        "account": "123456789012", "time": "2026-11-22T10:00:00Z", "region": "eu-west-1", "resources": [],
        "detail": detail})
}

/// Sends an event and returns whether it wrote a watermark.
async fn send(server: &TestServer, event: &Value) -> bool {
    let reply = server.send_event(event).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["written"].as_bool().expect("written")
}

/// A user session: the access and refresh tokens of one token exchange.
struct Session {
    access: String,
    refresh: String,
}

async fn login(server: &TestServer, issuer: &TestIssuer, client: (&str, &str), subject: &str) -> Session {
    let subject_token = issuer.sign(&issuer.claims(subject, server.clock.now().as_secs()));
    let reply = exchange(server, client, &subject_token, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    Session {
        access: body["access_token"].as_str().expect("access_token").to_owned(),
        refresh: body["refresh_token"].as_str().expect("refresh_token").to_owned(),
    }
}

async fn active(server: &TestServer, token: &str) -> bool {
    server.introspect(token).await.json()["active"] == true
}

async fn refresh_status(server: &TestServer, client: (&str, &str), token: &str) -> u16 {
    server
        .post("/oauth2/token", Some(client), &[("grant_type", "refresh_token"), ("refresh_token", token)])
        .await
        .status
}

fn family_of(jwt: &str) -> String {
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').nth(1).expect("payload")).expect("b64"))
            .expect("json");
    claims["tsr_fam"].as_str().expect("tsr_fam").to_owned()
}

/// A runner on a store of its own: on DynamoDB, a table per test, since a tenant-wide revocation would reach the
/// tokens of the other tests in a shared table.
async fn start() -> (TestServer, TestIssuer) {
    let issuer = auth0();
    let config = exchange_config(&[&issuer]);
    (TestServer::start_on(&config, isolated_backend_store(&config).await).await, issuer)
}

#[tokio::test]
async fn a_subject_event_revokes_every_token_of_the_subject_across_clients() {
    let (server, issuer) = start().await;
    // Alice across two clients: JWT access + refresh (exchanger), opaque access + refresh (exchanger-two).
    let jwt_session = login(&server, &issuer, EXCHANGER, "alice").await;
    let opaque_session = login(&server, &issuer, EXCHANGER_TWO, "alice").await;
    assert!(opaque_session.access.starts_with("tsr_at_"));
    let bob = login(&server, &issuer, EXCHANGER, "bob").await;
    let alice_tokens = [&jwt_session.access, &jwt_session.refresh, &opaque_session.access, &opaque_session.refresh];
    for token in alice_tokens {
        assert!(active(&server, token).await);
    }

    assert!(send(&server, &event("evt-alice", json!({"subject": "alice"}))).await);
    for token in alice_tokens {
        assert!(!active(&server, token).await, "alice's tokens are all inactive");
    }
    assert_eq!(refresh_status(&server, EXCHANGER, &jwt_session.refresh).await, 400);
    assert_eq!(refresh_status(&server, EXCHANGER_TWO, &opaque_session.refresh).await, 400);
    assert!(active(&server, &bob.access).await && active(&server, &bob.refresh).await, "bob is untouched");

    // Alice signs in again. Her identity provider's new token has a whole-second `iat`, which counts as issued
    // at the start of its second: in the watermark's second it would be refused, so she comes back a second
    // later, and the new session is valid.
    server.clock.advance_secs(1);
    let again = login(&server, &issuer, EXCHANGER_TWO, "alice").await;
    assert!(active(&server, &again.access).await);
    assert_eq!(refresh_status(&server, EXCHANGER_TWO, &again.refresh).await, 200);
}

#[tokio::test]
async fn a_client_event_revokes_the_clients_tokens_only() {
    let (server, issuer) = start().await;
    let jwt = server.issue(creds::JWT, &[]).await;
    let opaque = server.issue(creds::OPAQUE, &[]).await;
    let alice_via_exchanger = login(&server, &issuer, EXCHANGER, "alice").await;
    let alice_via_two = login(&server, &issuer, EXCHANGER_TWO, "alice").await;

    assert!(send(&server, &event("evt-c1", json!({"client_id": "exchanger"}))).await);
    assert!(!active(&server, &alice_via_exchanger.access).await);
    assert!(!active(&server, &alice_via_exchanger.refresh).await);
    assert!(active(&server, &alice_via_two.access).await, "the same user through another client stays");
    assert!(active(&server, &jwt).await && active(&server, &opaque).await);

    assert!(send(&server, &event("evt-c2", json!({"client_id": "demo-opaque"}))).await);
    assert!(!active(&server, &opaque).await);
    assert!(active(&server, &jwt).await);
    server.clock.advance_micros(1);
    assert!(active(&server, &server.issue(creds::OPAQUE, &[]).await).await, "new tokens of the client are valid");
}

#[tokio::test]
async fn a_family_event_revokes_one_session() {
    let (server, issuer) = start().await;
    let first = login(&server, &issuer, EXCHANGER, "alice").await;
    let second = login(&server, &issuer, EXCHANGER, "alice").await;
    assert!(send(&server, &event("evt-f", json!({"family_id": family_of(&first.access)}))).await);
    assert!(!active(&server, &first.access).await && !active(&server, &first.refresh).await);
    assert!(active(&server, &second.access).await && active(&server, &second.refresh).await);
    // A family revocation is final: even later, the family's refresh token cannot mint anything.
    server.clock.advance_secs(60);
    assert_eq!(refresh_status(&server, EXCHANGER, &first.refresh).await, 400);
}

#[tokio::test]
async fn a_tenant_event_revokes_everything_issued_before_it() {
    let (server, issuer) = start().await;
    let tokens = [
        server.issue(creds::JWT, &[]).await,
        server.issue(creds::OPAQUE, &[]).await,
        login(&server, &issuer, EXCHANGER, "alice").await.refresh,
    ];
    assert!(send(&server, &event("evt-t", json!({"all_tokens": true}))).await);
    for token in &tokens {
        assert!(!active(&server, token).await);
    }
    server.clock.advance_micros(1);
    assert!(active(&server, &server.issue(creds::JWT, &[]).await).await);
}

/// The clock boundary: a token issued in the same second as a watermark, but after it, stays valid (JWT and
/// opaque); one issued at the watermark's microsecond is revoked.
#[tokio::test]
async fn the_watermark_orders_by_microsecond_within_a_second() {
    let (server, _) = start().await;
    // Start at a whole second, so every step below stays inside it.
    let now = server.clock.now().as_secs() + 1;
    server.clock.advance_micros(now * 1_000_000 - server.clock.now().as_micros());
    let issue_both = async || [server.issue(creds::JWT, &[]).await, server.issue(creds::OPAQUE, &[]).await];
    let before = issue_both().await;
    assert!(send(&server, &event("evt-boundary", json!({"all_tokens": true}))).await);
    server.clock.advance_micros(1);
    let after = issue_both().await;
    assert_eq!(server.clock.now().as_secs(), now, "all in one second");
    for token in &before {
        assert!(!active(&server, token).await, "issued at the watermark's microsecond: revoked");
    }
    for token in &after {
        let body = server.introspect(token).await.json();
        assert_eq!(body["active"], true, "issued one microsecond later: valid");
        assert_eq!(body["iat"], now, "the same second as the watermark");
    }
}

#[tokio::test]
async fn re_delivery_is_harmless_and_sqs_failures_are_reported() {
    let (server, _) = start().await;
    let first = server.issue(creds::JWT, &[]).await;
    let revoke = event("evt-dup", json!({"client_id": "demo-jwt"}));
    assert!(send(&server, &revoke).await);
    server.clock.advance_secs(5);
    let later = server.issue(creds::JWT, &[]).await;
    // The same event again (EventBridge retry, SQS duplicate): nothing is written, the later token lives.
    assert!(!send(&server, &revoke).await);
    assert!(!active(&server, &first).await);
    assert!(active(&server, &later).await, "a re-delivered event must not revoke tokens issued since");

    // An SQS batch: the same event as a bare detail, one new event in an EventBridge envelope, one malformed.
    let record = |id: &str, body: Value| {
        json!({"messageId": id, "receiptHandle": "r", "body": body.to_string(),
        "attributes": {}, "messageAttributes": {}, "eventSource": "aws:sqs", "awsRegion": "eu-west-1"})
    };
    let batch = json!({"Records": [
        record("m-dup", json!({"event_id": "evt-dup", "client_id": "demo-jwt", "reason": "duplicate"})),
        record("m-new", event("evt-new", json!({"client_id": "demo-jwt"}))),
        record("m-bad", json!({"event_id": "evt-bad", "client": "demo-jwt", "reason": "misspelt"})),
    ]});
    let reply = server.send_event(&batch).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.json()["batchItemFailures"], json!([{"itemIdentifier": "m-bad"}]));
    assert!(!active(&server, &later).await, "the new event revoked the later token");

    // A malformed EventBridge event is an error (Lambda retries it, then dead-letters it), never a silent no-op.
    let reply = server.send_event(&event("evt-none", json!({}))).await;
    reply.assert_error(400, "invalid_request");
    assert!(reply.json()["error_description"].as_str().unwrap().contains("exactly one"), "{}", reply.text);
}

/// An SQS message as Lambda delivers it.
fn record(id: &str, body: Value) -> Value {
    json!({"messageId": id, "receiptHandle": "r", "body": body.to_string(), "attributes": {},
        "messageAttributes": {}, "eventSource": "aws:sqs", "awsRegion": "eu-west-1"})
}

/// With the table unavailable, an SQS message is reported failed (it returns to the queue) and an EventBridge
/// event fails its invocation (Lambda retries it): nothing is acknowledged that was not written.
#[tokio::test]
async fn a_store_outage_fails_what_it_could_not_write() {
    let clock = FixedClock::at(Timestamp::from_secs(1_800_000_000));
    let revoke = event("evt-outage", json!({"subject": "alice"}));
    let batch = json!({"Records": [record("m-1", revoke.clone())]});
    let tenants = DeclaredTenants::with(&[]);
    let deps = Deps {
        store: &UnavailableStore,
        clock: &clock,
        tenants: &tenants,
        identity_events: &Default::default(),
        announcer: &tessera::announcement::recent::RecentAnnouncements::default(),
    };
    let answer = tessera_revocation_events::handle(deps, batch).await.expect("a batch answer");
    assert_eq!(answer["batchItemFailures"], json!([{"itemIdentifier": "m-1"}]));
    let err = tessera_revocation_events::handle(deps, revoke).await.expect_err("retried");
    assert!(matches!(err.downcast_ref::<StoreError>(), Some(StoreError::Unavailable { .. })), "{err}");
    let err = tessera_revocation_events::handle(deps, json!({"hello": 1})).await.unwrap_err();
    assert!(err.to_string().contains("neither an SQS batch nor an EventBridge event"), "{err}");
}

/// 1,000 tokens of one subject die with one write; introspecting each costs one read and no write.
#[tokio::test]
async fn a_thousand_tokens_one_write() {
    let issuer = auth0();
    let config = exchange_config(&[&issuer]);
    let counting = Arc::new(CountingStore::new(isolated_backend_store(&config).await));
    let store: Arc<dyn TokenStore> = counting.clone();
    let server = TestServer::start_on(&config, store).await;
    // 500 exchanges for alice, each a JWT access token and an opaque refresh token: 1,000 tokens.
    let mut tokens = Vec::with_capacity(1_000);
    for _ in 0..500 {
        let session = login(&server, &issuer, EXCHANGER, "alice").await;
        tokens.push(session.access);
        tokens.push(session.refresh);
    }
    counting.take();
    assert!(send(&server, &event("evt-thousand", json!({"subject": "alice"}))).await);
    assert_eq!(counting.take(), RoundTrips { reads: 0, writes: 1 }, "one write revokes all 1,000");
    let mut still_active = 0;
    for token in &tokens {
        still_active += usize::from(active(&server, token).await);
    }
    assert_eq!(still_active, 0, "all 1,000 inactive");
    assert_eq!(counting.take(), RoundTrips { reads: 1_000, writes: 0 }, "one read per introspection");
}

/// An event naming a tenant the deployment does not serve revokes nothing, so it is refused like a misspelt target
/// (the README's promise): 400 over HTTP, an invocation error for EventBridge (retried, then dead-lettered), and a
/// batch item failure for SQS. Nothing is written.
#[tokio::test]
async fn an_event_for_an_undeclared_tenant_is_refused() {
    let server = TestServer::start().await;
    let reply = server.send_event(&event("evt-nosuch", json!({"tenant": "nosuch", "all_tokens": true}))).await;
    reply.assert_error(400, "invalid_request");
    assert!(reply.json()["error_description"].as_str().unwrap().contains("tenant 'nosuch' is not declared"));

    let store = tessera::store::memory::MemoryStore::new();
    let clock = FixedClock::at(Timestamp::from_secs(1_800_000_000));
    let tenants = DeclaredTenants::with(&["acme"]);
    let deps = Deps {
        store: &store,
        clock: &clock,
        tenants: &tenants,
        identity_events: &Default::default(),
        announcer: &tessera::announcement::recent::RecentAnnouncements::default(),
    };
    let err = tessera_revocation_events::handle(deps, event("evt-nosuch", json!({"tenant": "nosuch", "subject": "a"})))
        .await
        .expect_err("an invocation error: Lambda retries it, then dead-letters it");
    assert!(err.to_string().contains("not declared"), "{err}");
    let batch = json!({"Records": [
        record("m-nosuch", json!({"tenant": "nosuch", "subject": "a", "reason": "r"})),
        record("m-acme", json!({"tenant": "acme", "subject": "a", "reason": "r"})),
    ]});
    let answer = tessera_revocation_events::handle(deps, batch).await.expect("a batch answer");
    assert_eq!(answer["batchItemFailures"], json!([{"itemIdentifier": "m-nosuch"}]));
    assert_eq!(store.len(), 2, "only acme's watermark, and the event it has seen, were written");
}

/// When the deployment cannot say which tenants it serves (its key document unread past the staleness bound), an
/// event is neither applied nor refused for good: EventBridge gets an invocation error (Lambda retries it) and an
/// SQS message is reported failed (it returns to the queue). Nothing is written.
#[tokio::test]
async fn an_event_waits_while_the_tenants_cannot_be_known() {
    struct Unknowable;
    #[async_trait::async_trait]
    impl tessera::events::TenantDirectory for Unknowable {
        async fn serves(&self, _: &tessera::domain::tenant::TenantId) -> Result<bool, StoreError> {
            Err(StoreError::Unavailable {
                reason: "key document too stale".into(),
                retry_after_secs: 30,
                throttled: false,
            })
        }
    }
    let store = tessera::store::memory::MemoryStore::new();
    let clock = FixedClock::at(Timestamp::from_secs(1_800_000_000));
    let deps = Deps {
        store: &store,
        clock: &clock,
        tenants: &Unknowable,
        identity_events: &Default::default(),
        announcer: &tessera::announcement::recent::RecentAnnouncements::default(),
    };
    let revoke = event("evt-unknowable", json!({"subject": "alice"}));
    let err = tessera_revocation_events::handle(deps, revoke.clone()).await.expect_err("retried");
    assert!(matches!(err.downcast_ref::<StoreError>(), Some(StoreError::Unavailable { .. })), "{err}");
    let batch = json!({"Records": [record("m-unknowable", revoke)]});
    let answer = tessera_revocation_events::handle(deps, batch).await.expect("a batch answer");
    assert_eq!(answer["batchItemFailures"], json!([{"itemIdentifier": "m-unknowable"}]));
    assert_eq!(store.len(), 0, "nothing written");
}

/// An Auth0 log event as Auth0's EventBridge log stream delivers it, for `user_id`.
fn auth0_log(id: &str, log_type: &str, user_id: &str) -> Value {
    json!({"version": "0", "id": id, "detail-type": "Auth0 log",
        "source": "aws.partner/auth0.com/alice-corp-5c1a/auth0.logs", "account": "123456789012",
        "time": "2026-11-22T10:00:00Z", "region": "eu-west-1", "resources": [],
        "detail": {"log_id": format!("900{id}"), "data": {"type": log_type, "date": "2026-11-22T10:00:00.000Z",
            "client_id": "AaiyAPdpYdesoKnqjj8HJqRn4T5titww", "user_id": user_id, "user_name": "alice@example.com"}}})
}

#[tokio::test]
async fn an_identity_providers_own_events_revoke_the_user_it_names() {
    let issuer = auth0();
    let mut config = exchange_config(&[&issuer]);
    config.identity_events.push(tessera::events::identity_provider::IdentityEventSourceConfig {
        preset: Some(tessera::events::identity_provider::IdentityProviderPreset::Auth0),
        issuer: issuer.issuer.clone(),
        ..Default::default()
    });
    let server = TestServer::start_on(&config, isolated_backend_store(&config).await).await;
    let alice = login(&server, &issuer, EXCHANGER, "auth0|alice").await;
    let bob = login(&server, &issuer, EXCHANGER, "auth0|bob").await;

    // A login revokes nothing; it is acknowledged, so EventBridge does not retry it.
    let reply = server.send_event(&auth0_log("log-1", "s", "auth0|alice")).await;
    assert_eq!((reply.status, reply.json()["ignored"].clone()), (200, json!("s")), "{}", reply.text);
    assert!(active(&server, &alice.access).await);

    // Alice changes her password at Auth0: every token Tessera issued from her Auth0 tokens dies, Bob's stay.
    assert!(send(&server, &auth0_log("log-2", "scp", "auth0|alice")).await);
    assert!(!active(&server, &alice.access).await && !active(&server, &alice.refresh).await);
    assert_eq!(refresh_status(&server, EXCHANGER, &alice.refresh).await, 400);
    assert!(active(&server, &bob.access).await && active(&server, &bob.refresh).await, "bob is untouched");
    assert!(!send(&server, &auth0_log("log-2", "scp", "auth0|alice")).await, "a re-delivery writes nothing");

    // A revoking type that names no user is refused with a clear error, and revokes nobody.
    let mut anonymous = auth0_log("log-3", "sdu", "auth0|bob");
    anonymous["detail"]["data"].as_object_mut().unwrap().remove("user_id");
    let reply = server.send_event(&anonymous).await;
    reply.assert_error(400, "invalid_request");
    assert!(reply.json()["error_description"].as_str().unwrap().contains("names no single user"), "{}", reply.text);
    assert!(active(&server, &bob.access).await);

    // An identity provider revokes users, never a service: an event whose user is a client's id (the subject of
    // that client's own tokens) is refused, and the client's tokens stay active.
    let service_token = server.issue(creds::JWT, &[]).await;
    let reply = server.send_event(&auth0_log("log-4", "scp", creds::JWT.0)).await;
    reply.assert_error(400, "invalid_request");
    assert!(reply.json()["error_description"].as_str().unwrap().contains("is the id of a client"), "{}", reply.text);
    assert!(active(&server, &service_token).await, "the client's own token stays active");
}

#[tokio::test]
async fn a_mapping_whose_issuer_the_tenant_does_not_trust_stops_the_server() {
    let mut config = exchange_config(&[&auth0()]);
    config.identity_events.push(tessera::events::identity_provider::IdentityEventSourceConfig {
        preset: Some(tessera::events::identity_provider::IdentityProviderPreset::Okta),
        issuer: "https://example.okta.com/oauth2/default".into(),
        ..Default::default()
    });
    let built = tessera::service::build_service(
        Arc::new(tessera::store::memory::MemoryStore::new()),
        &config,
        None,
        Arc::new(tessera::clock::SystemClock),
        Arc::new(tessera::entropy::SystemEntropy),
        tessera::tenancy::Sources { generate_missing_keys: true, ..Default::default() },
    )
    .await;
    let error = built.err().expect("refused at start").to_string();
    assert!(error.contains("not a trusted issuer of tenant 'default'"), "{error}");
}

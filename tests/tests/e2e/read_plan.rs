//! The read plan end to end: two runners on one store are two execution environments, each with its own read
//! plan, sharing a signing key. With a revocation bound B > 0, a revocation written through one (a revocation
//! event, an RFC 7009 revocation) is seen by it at once, and by the other once B has passed on its clock, not
//! before; with B = 0, by both at once. The authorizer (the runner's demo route) reads through the same plan.
//! Runs on the store `TESSERA_E2E_STORE` selects, so `scripts/test` runs it on both (each test on a table of its
//! own on DynamoDB: a client-wide revocation would reach other tests' tokens).

use serde_json::{Value, json};
use tessera::jwt::keys::{SigningAlgorithm, SigningKey};
use tessera_e2e::{TestServer, config_with_key, creds, isolated_backend_store};

const BOUND_MS: u64 = 1_000;

/// Two environments on one store (one table on DynamoDB), with bound `bound_ms`.
async fn two_environments(bound_ms: u64) -> (TestServer, TestServer) {
    let key = SigningKey::generate(SigningAlgorithm::ES256, "shared-1").expect("key");
    let mut config = config_with_key(&key);
    // One issuer for both (a runner's defaults to its own address), as for the functions behind one API.
    config.issuer = Some("https://auth.example.com".into());
    config.revocation_max_staleness_ms = Some(bound_ms);
    let store = isolated_backend_store(&config).await;
    let writer = TestServer::start_on(&config, store.clone()).await;
    let other = TestServer::start_on(&config, store).await;
    (writer, other)
}

/// A `tessera.revoke` EventBridge event revoking every token of `client_id`.
fn client_revocation(id: &str, client_id: &str) -> Value {
    json!({"version": "0", "id": id, "detail-type": "tessera.revoke", "source": "test.identity",
        "account": "123456789012", "time": "2026-11-22T10:00:00Z", "region": "eu-west-1", "resources": [],
        "detail": {"client_id": client_id, "reason": "test"}})
}

async fn active(server: &TestServer, token: &str) -> bool {
    let reply = server.introspect(token).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["active"] == true
}

async fn revoke_by_event(server: &TestServer, id: &str, client_id: &str) {
    let reply = server.send_event(&client_revocation(id, client_id)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["written"], true, "{}", reply.text);
}

#[tokio::test]
async fn with_b_a_revocation_event_reaches_another_environment_within_b_and_its_writer_at_once() {
    let (writer, other) = two_environments(BOUND_MS).await;
    let jwt = writer.issue(creds::JWT, &[]).await;
    let opaque = writer.issue(creds::OPAQUE, &[]).await;
    for token in [&jwt, &opaque] {
        assert!(active(&writer, token).await && active(&other, token).await, "both environments cached it active");
    }

    revoke_by_event(&writer, "read-plan-1", "demo-jwt").await;
    revoke_by_event(&writer, "read-plan-2", "demo-opaque").await;
    for token in [&jwt, &opaque] {
        assert!(!active(&writer, token).await, "the environment that wrote the revocation sees it at once");
        // The other answers from what it read less than B ago: the bound is used, no stricter and no looser.
        assert!(active(&other, token).await, "within B, the other environment may still answer active");
    }
    other.clock.advance_micros(BOUND_MS * 1_000 - 1);
    for token in [&jwt, &opaque] {
        assert!(active(&other, token).await, "1 µs short of B the cached items still serve");
    }
    other.clock.advance_micros(1);
    for token in [&jwt, &opaque] {
        assert!(!active(&other, token).await, "once B has passed since its read, the revocation is seen");
    }
}

#[tokio::test]
async fn with_b_zero_a_revocation_event_reaches_every_environment_at_once() {
    let (writer, other) = two_environments(0).await;
    let jwt = writer.issue(creds::JWT, &[]).await;
    let opaque = writer.issue(creds::OPAQUE, &[]).await;
    for token in [&jwt, &opaque] {
        assert!(active(&other, token).await);
    }
    revoke_by_event(&writer, "read-plan-strict-1", "demo-jwt").await;
    revoke_by_event(&writer, "read-plan-strict-2", "demo-opaque").await;
    for token in [&jwt, &opaque] {
        assert!(!active(&other, token).await, "B = 0: no environment answers from a cache");
        assert!(!active(&writer, token).await);
    }
}

#[tokio::test]
async fn with_b_an_rfc7009_revocation_is_seen_by_its_writer_at_once() {
    let (writer, other) = two_environments(BOUND_MS).await;
    for client in [creds::JWT, creds::OPAQUE] {
        let token = writer.issue(client, &[]).await;
        assert!(active(&writer, &token).await && active(&other, &token).await);
        let reply = writer.post("/oauth2/revoke", Some(client), &[("token", &token)]).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert!(!active(&writer, &token).await, "{}: the writer's own revocation, at once", client.0);
        assert!(active(&other, &token).await, "{}: the other environment, within B", client.0);
        other.clock.advance_micros(BOUND_MS * 1_000);
        assert!(!active(&other, &token).await, "{}: the other environment, after B", client.0);
    }
}

/// The authorizer decides on the same read plan as introspection: another environment's gateway lets a revoked
/// token through for at most B, the writer's at once.
#[tokio::test]
async fn with_b_the_authorizer_sees_a_revocation_within_b() {
    let (writer, other) = two_environments(BOUND_MS).await;
    let jwt = writer.issue(creds::JWT, &[]).await;
    let orders = async |server: &TestServer| {
        let header = [("authorization", format!("Bearer {jwt}"))];
        server.send("GET", "/demo/orders", &header, "").await.status
    };
    assert_eq!((orders(&writer).await, orders(&other).await), (200, 200), "both environments allow, and cached it");
    revoke_by_event(&writer, "read-plan-authorizer-1", "demo-jwt").await;
    assert_eq!(orders(&writer).await, 403, "the writer's gateway denies at once");
    assert_eq!(orders(&other).await, 200, "within B, the other environment may still allow");
    other.clock.advance_micros(BOUND_MS * 1_000);
    assert_eq!(orders(&other).await, 403, "once B has passed, the revocation is seen");
}

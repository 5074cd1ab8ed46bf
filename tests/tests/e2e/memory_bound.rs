//! The local runner's embedded store over HTTP: it stays within `--max-items` however many tokens are issued,
//! a revoked token stays inactive when the bound evicts, a store full of revocations refuses new tokens with 503
//! rather than drop one, and expired items are swept in the background with the runner's (pinned) clock.
//! Embedded store only: DynamoDB's TTL and capacity are AWS's.

use std::time::Duration;

use tessera_cli::runner::EmbeddedStoreOptions;
use tessera_e2e::{TestServer, creds, test_config};

/// Clients of the test configuration, which count against the bound.
const CLIENTS: usize = 5;

/// A bound of `tokens` items above the clients, swept every 20 ms.
fn options(tokens: usize) -> EmbeddedStoreOptions {
    EmbeddedStoreOptions {
        max_items: (CLIENTS + tokens).try_into().expect("positive"),
        sweep_interval: Duration::from_millis(20),
    }
}

async fn active(server: &TestServer, token: &str) -> bool {
    let reply = server.introspect(token).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["active"] == true
}

async fn revoke(server: &TestServer, client: (&str, &str), token: &str) {
    let reply = server.post("/oauth2/revoke", Some(client), &[("token", token)]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

#[tokio::test]
async fn the_store_stays_within_max_items_and_revoked_tokens_stay_inactive() {
    let (server, store) = TestServer::start_embedded(&test_config(), options(40)).await;
    assert_eq!(store.len(), CLIENTS);
    // Revoked before the flood: a JWT (a denylist entry, which the bound never evicts) and an opaque token
    // (its record, which it may evict: an absent record is inactive too).
    let jwt = server.issue(creds::JWT, &[]).await;
    revoke(&server, creds::JWT, &jwt).await;
    let opaque = server.issue(creds::OPAQUE, &[]).await;
    revoke(&server, creds::OPAQUE, &opaque).await;
    // Each token a second after the one before, so "soonest expiring" is "issued first": expiries are whole
    // seconds, and equal ones would be evicted in key order. 201 s stays within every lifetime here (the revoked
    // JWT's denylist entry lives 300 s, the opaque tokens 600 s), so nothing expires during the flood.
    server.clock.advance_secs(1);
    let first = server.issue(creds::OPAQUE, &[]).await;
    let mut last = String::new();
    for _ in 0..200 {
        server.clock.advance_secs(1);
        last = server.issue(creds::OPAQUE, &[]).await;
        assert!(store.len() <= CLIENTS + 40, "{} items", store.len());
    }
    assert_eq!(store.len(), CLIENTS + 40);
    assert!(store.evictions() >= 160, "{} evictions", store.evictions());
    assert!(!active(&server, &jwt).await, "a revoked JWT stays revoked");
    assert!(!active(&server, &opaque).await, "a revoked opaque token stays revoked");
    assert!(!active(&server, &first).await, "an evicted token is inactive: the bound fails closed");
    assert!(active(&server, &last).await, "the newest tokens are kept");
}

#[tokio::test]
async fn expired_tokens_are_swept_in_the_background_with_the_runners_clock() {
    let (server, store) = TestServer::start_embedded(&test_config(), options(1_000)).await;
    let jwt = server.issue(creds::JWT, &[]).await;
    revoke(&server, creds::JWT, &jwt).await;
    for _ in 0..50 {
        server.issue(creds::OPAQUE, &[]).await;
    }
    assert_eq!(store.len(), CLIENTS + 51);
    // The demo tokens live 600 s (opaque) and 300 s (the JWT, so its denylist entry): on the pinned clock
    // nothing has expired, and several sweeps later everything is still there.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(store.len(), CLIENTS + 51, "nothing is swept before it expires");
    server.clock.advance_secs(601);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while store.len() > CLIENTS && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(store.len(), CLIENTS, "every expired token and denylist entry is swept; the clients stay");
    assert_eq!(store.evictions(), 0);
}

#[tokio::test]
async fn a_store_full_of_revocations_refuses_new_tokens_with_503_and_keeps_them() {
    let (server, store) = TestServer::start_embedded(&test_config(), options(2)).await;
    let jwts = [server.issue(creds::JWT, &[]).await, server.issue(creds::JWT, &[]).await];
    for jwt in &jwts {
        revoke(&server, creds::JWT, jwt).await;
    }
    // Two denylist entries fill the bound; an opaque token would need a third item.
    let reply = server.post("/oauth2/token", Some(creds::OPAQUE), &[("grant_type", "client_credentials")]).await;
    reply.assert_error(503, "temporarily_unavailable");
    assert_eq!((store.len(), store.refused_writes()), (CLIENTS + 2, 1));
    for jwt in &jwts {
        assert!(!active(&server, jwt).await, "no revocation was dropped to make room");
    }
    // JWT issuance writes nothing, so it goes on.
    server.issue(creds::JWT, &[]).await;
}

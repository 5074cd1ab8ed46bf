//! Refresh tokens end to end over HTTP (RFC 6749 §6, RFC 9700 §4.14): rotation on every use, a refresh retiring
//! the family's earlier access tokens (WSO2's "INACTIVE: refreshed", per client), reuse revoking the whole family
//! (JWT access tokens included), revocation of a refresh token taking its family's access tokens with it, scope
//! narrowing only, and 50 concurrent refreshes of one token with exactly one winner.
//! Runs on the store `TESSERA_E2E_STORE` selects, so `scripts/test` runs it on both.

use serde_json::Value;
use tessera::clock::Clock;
use tessera_e2e::issuers::{
    EXCHANGER, EXCHANGER_KEEPS_ACCESS, EXCHANGER_OPAQUE, EXCHANGER_TWO, auth0, exchange, exchange_config,
};
use tessera_e2e::{TestServer, creds};

struct Session {
    access: String,
    refresh: String,
}

fn session(body: &Value) -> Session {
    Session {
        access: body["access_token"].as_str().expect("access_token").to_owned(),
        refresh: body["refresh_token"].as_str().expect("refresh_token").to_owned(),
    }
}

async fn start() -> (TestServer, tessera_e2e::issuers::TestIssuer) {
    let issuer = auth0();
    (TestServer::start_config(&exchange_config(&[&issuer])).await, issuer)
}

async fn login(
    server: &TestServer,
    issuer: &tessera_e2e::issuers::TestIssuer,
    client: (&str, &str),
) -> tessera_e2e::Reply {
    let subject_token = issuer.sign(&issuer.claims("alice", server.clock.now().as_secs()));
    exchange(server, client, &subject_token, &[]).await
}

async fn refresh(server: &TestServer, client: (&str, &str), token: &str, extra: &[(&str, &str)]) -> tessera_e2e::Reply {
    let mut pairs = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
    pairs.extend_from_slice(extra);
    server.post("/oauth2/token", Some(client), &pairs).await
}

async fn active(server: &TestServer, token: &str) -> bool {
    server.introspect(token).await.json()["active"] == true
}

#[tokio::test]
async fn exchange_introspect_refresh_introspect() {
    let (server, issuer) = start().await;
    let reply = login(&server, &issuer, EXCHANGER).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let first = session(&reply.json());
    assert!(first.refresh.starts_with("tsr_rt_"));
    let introspected = server.introspect(&first.access).await.json();
    assert_eq!(introspected["user_details"]["email"], "alice@example.com");

    let reply = refresh(&server, EXCHANGER, &first.refresh, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.json().get("issued_token_type").is_none());
    let second = session(&reply.json());
    assert_ne!(second.refresh, first.refresh, "rotated on use");
    let introspected = server.introspect(&second.access).await.json();
    assert_eq!(introspected["active"], true);
    assert_eq!(introspected["sub"], "alice");
    assert_eq!(introspected["user_details"]["given_name"], "Alice", "mapped claims travel with the grant");
    assert_eq!(introspected["scope"], "profile:read");
    // The spent refresh token is inactive, and so is the access token it was issued with (WSO2: refreshed).
    assert!(!active(&server, &first.refresh).await);
    assert!(active(&server, &second.refresh).await);
    assert!(server.introspect(&second.refresh).await.json().get("token_type").is_none());
    assert!(!active(&server, &first.access).await);

    // A client without exchange refresh rights gets no refresh token.
    let opaque = login(&server, &issuer, EXCHANGER_OPAQUE).await.json();
    assert!(opaque.get("refresh_token").is_none());
}

/// WSO2's INACTIVE state: "refreshed using refresh_token grant type before expiration". A refresh retires every
/// earlier access token of its family, JWT or opaque, at introspection and at the authorizer, even on a clock
/// that has not moved since they were issued; the new tokens and other families live on. A client that turns it
/// off keeps today's behaviour.
#[tokio::test]
async fn a_refresh_retires_the_familys_earlier_access_tokens() {
    let (server, issuer) = start().await;
    for client in [EXCHANGER, EXCHANGER_TWO] {
        let first = session(&login(&server, &issuer, client).await.json());
        let other = session(&login(&server, &issuer, client).await.json());
        let second = session(&refresh(&server, client, &first.refresh, &[]).await.json());
        assert!(!active(&server, &first.access).await, "{}: the refreshed access token is inactive", client.0);
        assert!(active(&server, &second.access).await && active(&server, &second.refresh).await);
        assert!(active(&server, &other.access).await, "another family is untouched");
        server.clock.advance_secs(1);
        let third = session(&refresh(&server, client, &second.refresh, &[]).await.json());
        for token in [&first.access, &second.access] {
            assert!(!active(&server, token).await, "{}: every earlier access token", client.0);
        }
        assert!(active(&server, &third.access).await);

        // Reuse is still reuse: replaying a spent refresh token revokes the whole family.
        refresh(&server, client, &first.refresh, &[]).await.assert_error(400, "invalid_grant");
        for token in [&third.access, &third.refresh] {
            assert!(!active(&server, token).await, "{}: reuse revoked the family", client.0);
        }
        refresh(&server, client, &third.refresh, &[]).await.assert_error(400, "invalid_grant");
        assert!(active(&server, &other.access).await && active(&server, &other.refresh).await);
    }

    // Turned off: the earlier access token lives on until it expires, and reuse still revokes the family.
    let first = session(&login(&server, &issuer, EXCHANGER_KEEPS_ACCESS).await.json());
    let second = session(&refresh(&server, EXCHANGER_KEEPS_ACCESS, &first.refresh, &[]).await.json());
    assert!(active(&server, &first.access).await && active(&server, &second.access).await);
    refresh(&server, EXCHANGER_KEEPS_ACCESS, &first.refresh, &[]).await.assert_error(400, "invalid_grant");
    for token in [&first.access, &second.access, &second.refresh] {
        assert!(!active(&server, token).await);
    }
}

#[tokio::test]
async fn reuse_revokes_the_whole_family() {
    let (server, issuer) = start().await;
    let first = session(&login(&server, &issuer, EXCHANGER).await.json());
    let second = session(&refresh(&server, EXCHANGER, &first.refresh, &[]).await.json());
    let third = session(&refresh(&server, EXCHANGER, &second.refresh, &[]).await.json());
    // A second login is another family and must survive.
    let other = session(&login(&server, &issuer, EXCHANGER).await.json());

    let reuse = refresh(&server, EXCHANGER, &first.refresh, &[]).await;
    reuse.assert_error(400, "invalid_grant");
    for token in [&first.access, &second.access, &third.access, &third.refresh, &second.refresh] {
        assert!(!active(&server, token).await, "family token still active after reuse");
    }
    refresh(&server, EXCHANGER, &third.refresh, &[]).await.assert_error(400, "invalid_grant");
    assert!(active(&server, &other.access).await && active(&server, &other.refresh).await);

    // A family token issued before the reuse stays dead even if the clock moves on.
    server.clock.advance_secs(1);
    assert!(!active(&server, &third.access).await);
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_family() {
    let (server, issuer) = start().await;
    let first = session(&login(&server, &issuer, EXCHANGER).await.json());
    let second = session(&refresh(&server, EXCHANGER, &first.refresh, &[]).await.json());
    let revoked = server
        .post("/oauth2/revoke", Some(EXCHANGER), &[("token", &second.refresh), ("token_type_hint", "refresh_token")])
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    for token in [&first.access, &second.access, &second.refresh] {
        assert!(!active(&server, token).await);
    }
    refresh(&server, EXCHANGER, &second.refresh, &[]).await.assert_error(400, "invalid_grant");
}

/// A client that revokes a refresh token already rotated (by a thief who refreshed first, say) ends the grant: the
/// successor and every access token of the family die, as reuse at the token endpoint would have it (RFC 9700
/// §4.14.2). Another client presenting the spent token changes nothing.
#[tokio::test]
async fn revoking_a_rotated_refresh_token_revokes_its_family() {
    let (server, issuer) = start().await;
    // JWT and opaque access tokens; each time the other client is the stranger.
    for (client, other) in [(EXCHANGER, EXCHANGER_TWO), (EXCHANGER_TWO, EXCHANGER)] {
        let first = session(&login(&server, &issuer, client).await.json());
        let second = session(&refresh(&server, client, &first.refresh, &[]).await.json());
        let stranger = server.post("/oauth2/revoke", Some(other), &[("token", &first.refresh)]).await;
        assert_eq!(stranger.status, 200, "{}", stranger.text);
        assert!(active(&server, &second.refresh).await, "another client cannot end the grant");
        let revoked = server
            .post("/oauth2/revoke", Some(client), &[("token", &first.refresh), ("token_type_hint", "refresh_token")])
            .await;
        assert_eq!(revoked.status, 200, "{}", revoked.text);
        for token in [&first.access, &second.access, &second.refresh] {
            assert!(!active(&server, token).await, "{}: the family is revoked", client.0);
        }
        refresh(&server, client, &second.refresh, &[]).await.assert_error(400, "invalid_grant");
    }
}

#[tokio::test]
async fn scope_may_only_narrow_and_tokens_stay_with_their_client() {
    let (server, issuer) = start().await;
    let subject_token = issuer.sign(&issuer.claims("alice", server.clock.now().as_secs()));
    let wide = exchange(&server, EXCHANGER, &subject_token, &[("scope", "profile:read orders:read")]).await;
    let wide = session(&wide.json());
    let narrow = refresh(&server, EXCHANGER, &wide.refresh, &[("scope", "orders:read")]).await;
    assert_eq!(narrow.json()["scope"], "orders:read");
    let narrow = session(&narrow.json());
    // RFC 6749 §6: the new refresh token keeps the scope of the old one; only the access token narrowed.
    let back = refresh(&server, EXCHANGER, &narrow.refresh, &[]).await;
    assert_eq!(back.json()["scope"], "orders:read profile:read");
    let back = session(&back.json());
    // Beyond the original grant is refused.
    refresh(&server, EXCHANGER, &back.refresh, &[("scope", "orders:read orders:write")])
        .await
        .assert_error(400, "invalid_scope");
    let narrow = back;

    refresh(&server, creds::JWT, &narrow.refresh, &[]).await.assert_error(400, "unauthorized_client");
    // Another client that may refresh cannot use this client's refresh token (RFC 6749 §6).
    refresh(&server, EXCHANGER_TWO, &narrow.refresh, &[]).await.assert_error(400, "invalid_grant");
    assert!(active(&server, &narrow.refresh).await, "a refused foreign use is not a rotation");
    let theirs = session(&login(&server, &issuer, EXCHANGER).await.json());
    refresh(&server, EXCHANGER, "tsr_rt_garbage", &[]).await.assert_error(400, "invalid_grant");
    refresh(&server, EXCHANGER, &theirs.access, &[]).await.assert_error(400, "invalid_grant");
    server
        .post("/oauth2/token", Some(EXCHANGER), &[("grant_type", "refresh_token")])
        .await
        .assert_error(400, "invalid_request");
    // Expired refresh tokens are refused.
    server.clock.advance_secs(31 * 86_400);
    refresh(&server, EXCHANGER, &theirs.refresh, &[]).await.assert_error(400, "invalid_grant");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_refreshes_have_exactly_one_winner() {
    tessera::telemetry::init();
    let (server, issuer) = start().await;
    let first = session(&login(&server, &issuer, EXCHANGER).await.json());
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (endpoint, token) = (server.endpoint.clone(), first.refresh.clone());
        tasks.spawn(async move {
            endpoint
                .post("/oauth2/token", Some(EXCHANGER), &[("grant_type", "refresh_token"), ("refresh_token", &token)])
                .await
        });
    }
    let replies = tasks.join_all().await;
    let winners: Vec<_> = replies.iter().filter(|r| r.status == 200).collect();
    assert_eq!(winners.len(), 1, "statuses: {:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    for loser in replies.iter().filter(|r| r.status != 200) {
        loser.assert_error(400, "invalid_grant");
    }
    // The losers presented a spent token: that is reuse, so the family, the winner's tokens included, is dead.
    let winner = session(&winners[0].json());
    assert!(!active(&server, &winner.access).await);
    assert!(!active(&server, &winner.refresh).await);
}

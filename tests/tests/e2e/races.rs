//! Races over HTTP: revocation against concurrent introspection of the same token. Once a revocation request
//! has returned 200, no introspection that starts afterwards may answer `active: true` (RFC 7009 §2: the
//! token is invalid immediately), for both token formats. Runs on the store `TESSERA_E2E_STORE` selects, so
//! `scripts/test` runs it on the embedded store and on the DynamoDB emulator. (Fifty concurrent refreshes of
//! one refresh token are in `refresh.rs`.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tessera_e2e::{TestServer, creds};

/// Introspecting tasks per token, and rounds per token format.
const INTROSPECTORS: usize = 8;
const ROUNDS: usize = 8;

/// What the introspecting tasks of one round saw.
#[derive(Debug, Default)]
struct Seen {
    active_before: usize,
    inactive_after: usize,
    active_after: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_token_is_never_active_once_its_revocation_returned() {
    let server = TestServer::start().await;
    for client in [creds::OPAQUE, creds::JWT] {
        let mut raced = 0;
        for _ in 0..ROUNDS {
            let token = server.issue(client, &[]).await;
            let revoked = Arc::new(AtomicBool::new(false));
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..INTROSPECTORS {
                let (endpoint, token, revoked) = (server.endpoint.clone(), token.clone(), revoked.clone());
                tasks.spawn(async move {
                    let mut seen = Seen::default();
                    // Introspect until three answers have come back for requests sent after the revoke returned.
                    while seen.inactive_after + seen.active_after < 3 {
                        let after = revoked.load(Ordering::SeqCst);
                        let reply = endpoint.post("/oauth2/introspect", Some(creds::RS), &[("token", &token)]).await;
                        assert_eq!(reply.status, 200, "{}", reply.text);
                        let active = reply.json()["active"] == true;
                        match (after, active) {
                            (false, true) => seen.active_before += 1,
                            (false, false) => {}
                            (true, false) => seen.inactive_after += 1,
                            (true, true) => seen.active_after += 1,
                        }
                    }
                    seen
                });
            }
            // Let the introspections get going, then revoke in the middle of them.
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            let reply = server.post("/oauth2/revoke", Some(client), &[("token", &token)]).await;
            assert_eq!(reply.status, 200, "{}", reply.text);
            revoked.store(true, Ordering::SeqCst);

            let seen = tasks.join_all().await;
            let active_after: usize = seen.iter().map(|s| s.active_after).sum();
            assert_eq!(active_after, 0, "{} active answers after the revocation returned: {seen:?}", client.0);
            assert_eq!(seen.iter().map(|s| s.inactive_after).sum::<usize>(), 3 * INTROSPECTORS);
            raced += usize::from(seen.iter().any(|s| s.active_before > 0));
        }
        // The race was real: introspections saw the token active while the revocation was on its way.
        assert!(raced > 0, "{}: no round introspected the token before it was revoked", client.0);
    }
}

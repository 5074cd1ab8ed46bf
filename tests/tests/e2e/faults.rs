//! Faults between Tessera and DynamoDB, injected by [`FaultProxy`] in front of the emulator: the emulator
//! stopped mid-test (its port closed, open connections dropped), every request throttled, and only the writes
//! throttled. At the store (every call fails as `Unavailable`) and over HTTP: introspection fails closed (503
//! `temporarily_unavailable` with `Retry-After`, never an `active` member), issuance and revocation answer
//! 503 and write nothing, a refresh is either fully rotated or not at all; and when the fault ends the same
//! running server works again, with no restart. Each test has a table of its own, so item counts are exact.
//! Skipped locally without the emulator; a failure in CI.

use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use serde_json::Value;
use tessera::clock::Clock;
use tessera::domain::client::ClientId;
use tessera::domain::tenant::TenantId;
use tessera::store::dynamodb::{self, DynamoStore};
use tessera::store::{RegistrationStore, StoreError, StoreKey, TokenStore};
use tessera_e2e::fault_proxy::{Fault, FaultProxy};
use tessera_e2e::issuers::{EXCHANGER, auth0, exchange, exchange_config};
use tessera_e2e::{Reply, TestServer, creds, dynamo_store};

/// A server whose store reaches the emulator through a proxy, on a table of its own.
struct Rig {
    proxy: FaultProxy,
    server: TestServer,
    client: Client,
    table: String,
}

impl Rig {
    async fn start(config: &tessera::config::Config) -> Option<Self> {
        let shared = dynamo_store().await?;
        let table = format!("{}-faults-{}", shared.table(), random_suffix());
        let sdk = tessera::aws_sdk::sdk_config().await;
        let direct = DynamoStore::new(dynamodb::client(&sdk, None), table.clone());
        direct.create_table_if_missing().await.expect("table on the emulator");
        for client in config.clients(&tessera::entropy::SystemEntropy).expect("clients") {
            direct.put_client(client).await.expect("client written");
        }
        let upstream = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").expect("the emulator's endpoint");
        let proxy = FaultProxy::start(&upstream).await;
        let through = DynamoStore::new(dynamodb::client(&sdk, Some(&proxy.endpoint())), table.clone());
        let server = TestServer::start_on(config, Arc::new(through)).await;
        Some(Self { proxy, server, client: dynamodb::client(&sdk, None), table })
    }

    /// Every item in the table, straight from the emulator.
    async fn items(&self) -> usize {
        let scan = self.client.scan().table_name(&self.table).send().await.expect("scan");
        assert!(scan.last_evaluated_key.is_none(), "one page is enough for these tests");
        scan.count as usize
    }

    /// Checks the store itself: a read and a write both fail as `Unavailable`.
    async fn assert_store_unavailable(&self) {
        let store = &self.server.store;
        let key = StoreKey::client(&TenantId::default(), &ClientId::parse(creds::JWT.0).unwrap());
        let read = store.get_many(std::slice::from_ref(&key)).await;
        assert!(matches!(read, Err(StoreError::Unavailable { .. })), "read: {read:?}");
        let write = store.mark_revoked(&key, self.server.clock.now()).await;
        assert!(matches!(write, Err(StoreError::Unavailable { .. })), "write: {write:?}");
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let (client, table) = (self.client.clone(), self.table.clone());
        // Best effort: the emulator is discarded after the run anyway.
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            let _ = runtime.block_on(client.delete_table().table_name(table).send());
        })
        .join()
        .ok();
    }
}

fn random_suffix() -> String {
    let bytes: [u8; 6] = tessera::entropy::random_bytes(&tessera::entropy::SystemEntropy).expect("entropy");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[track_caller]
fn assert_unavailable(reply: &Reply, what: &str) {
    assert_eq!(reply.status, 503, "{what}: {}", reply.text);
    reply.assert_error(503, "temporarily_unavailable");
    assert!(reply.header("retry-after").is_some(), "{what}: no Retry-After");
    assert!(reply.json().get("active").is_none(), "{what}: {}", reply.text);
}

async fn active(server: &TestServer, token: &str) -> bool {
    let reply = server.introspect(token).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["active"] == true
}

/// The 503s of every endpoint while the store is unreachable or throttled, with nothing written.
async fn assert_every_endpoint_fails_closed(rig: &Rig, jwt: &str, opaque: &str) {
    let before = rig.items().await;
    rig.assert_store_unavailable().await;
    let server = &rig.server;
    for token in [jwt, opaque] {
        assert_unavailable(&server.introspect(token).await, "introspect");
    }
    let cc = [("grant_type", "client_credentials")];
    assert_unavailable(&server.post("/oauth2/token", Some(creds::JWT), &cc).await, "issue JWT");
    assert_unavailable(&server.post("/oauth2/token", Some(creds::OPAQUE), &cc).await, "issue opaque");
    assert_unavailable(&server.post("/oauth2/revoke", Some(creds::OPAQUE), &[("token", opaque)]).await, "revoke");
    assert_eq!(rig.items().await, before, "nothing was written while the store failed");
}

/// After a fault: the same server introspects, issues and revokes again.
async fn assert_recovered(rig: &Rig, jwt: &str, opaque: &str) {
    let server = &rig.server;
    assert!(active(server, jwt).await && active(server, opaque).await, "tokens issued before the fault live on");
    let fresh = server.issue(creds::OPAQUE, &[]).await;
    assert!(active(server, &fresh).await);
    let revoked = server.post("/oauth2/revoke", Some(creds::OPAQUE), &[("token", &fresh)]).await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    assert!(!active(server, &fresh).await);
}

#[tokio::test]
async fn a_stopped_emulator_fails_closed_and_recovers_without_a_restart() {
    let Some(rig) = Rig::start(&tessera_e2e::test_config()).await else { return };
    let jwt = rig.server.issue(creds::JWT, &[]).await;
    let opaque = rig.server.issue(creds::OPAQUE, &[]).await;
    assert!(active(&rig.server, &jwt).await && active(&rig.server, &opaque).await);

    rig.proxy.stop();
    assert_every_endpoint_fails_closed(&rig, &jwt, &opaque).await;

    rig.proxy.restart().await;
    assert_recovered(&rig, &jwt, &opaque).await;
}

#[tokio::test]
async fn throttling_fails_closed_and_recovers_when_it_ends() {
    let Some(rig) = Rig::start(&tessera_e2e::test_config()).await else { return };
    let jwt = rig.server.issue(creds::JWT, &[]).await;
    let opaque = rig.server.issue(creds::OPAQUE, &[]).await;

    rig.proxy.set(Fault::Throttle);
    let (_, throttled_before) = rig.proxy.counts();
    assert_every_endpoint_fails_closed(&rig, &jwt, &opaque).await;
    let (_, throttled) = rig.proxy.counts();
    // 2 store calls + 5 requests, each tried MAX_ATTEMPTS times by the SDK's standard retry.
    assert_eq!(throttled - throttled_before, 7 * tessera::aws_sdk::MAX_ATTEMPTS as usize, "bounded retries");

    rig.proxy.set(Fault::None);
    assert_recovered(&rig, &jwt, &opaque).await;
}

#[tokio::test]
async fn throttled_writes_leave_no_half_written_state() {
    let Some(rig) = Rig::start(&tessera_e2e::test_config()).await else { return };
    let server = &rig.server;
    let opaque = server.issue(creds::OPAQUE, &[]).await;

    rig.proxy.set(Fault::ThrottleWrites);
    let before = rig.items().await;
    // Reads still work: introspection answers, and a JWT (which needs no write) is issued.
    assert!(active(server, &opaque).await);
    let jwt = server.issue(creds::JWT, &[]).await;
    assert!(active(server, &jwt).await);
    // Writes fail cleanly: no opaque token is issued, and a revocation that was refused did not happen.
    let cc = [("grant_type", "client_credentials")];
    assert_unavailable(&server.post("/oauth2/token", Some(creds::OPAQUE), &cc).await, "issue opaque");
    for token in [&opaque, &jwt] {
        let client = if *token == opaque { creds::OPAQUE } else { creds::JWT };
        assert_unavailable(&server.post("/oauth2/revoke", Some(client), &[("token", token)]).await, "revoke");
        assert!(active(server, token).await, "a refused revocation left the token half-revoked");
    }
    assert_eq!(rig.items().await, before);

    rig.proxy.set(Fault::None);
    assert_recovered(&rig, &jwt, &opaque).await;
}

#[tokio::test]
async fn a_refresh_during_throttled_writes_rotates_all_or_nothing() {
    let issuer = auth0();
    let Some(rig) = Rig::start(&exchange_config(&[&issuer])).await else { return };
    let server = &rig.server;
    let subject_token = issuer.sign(&issuer.claims("alice", server.clock.now().as_secs()));
    let login = exchange(server, EXCHANGER, &subject_token, &[]).await;
    assert_eq!(login.status, 200, "{}", login.text);
    let refresh_token = login.json()["refresh_token"].as_str().expect("refresh_token").to_owned();
    let refresh = || async {
        server
            .post(
                "/oauth2/token",
                Some(EXCHANGER),
                &[("grant_type", "refresh_token"), ("refresh_token", &refresh_token)],
            )
            .await
    };

    rig.proxy.set(Fault::ThrottleWrites);
    let before = rig.items().await;
    assert_unavailable(&refresh().await, "refresh");
    assert_eq!(rig.items().await, before, "no new tokens, and the old one not marked used");
    assert!(active(server, &refresh_token).await, "the refresh token survived the failed rotation");

    // Once writes succeed again the same refresh token rotates exactly once (it was not burned, and a
    // second use is reuse).
    rig.proxy.set(Fault::None);
    let rotated = refresh().await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let body: Value = rotated.json();
    assert!(active(server, body["access_token"].as_str().unwrap()).await);
    refresh().await.assert_error(400, "invalid_grant");
}

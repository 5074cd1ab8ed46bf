//! Revocation announcements end to end: every way Tessera revokes (RFC 7009 `/oauth2/revoke` of a JWT, an opaque
//! token and a refresh token; refresh-token reuse; revocation events for a subject, a client, a family and the
//! tenant) announces exactly one event with the right detail and no token or secret in it; a refresh, an
//! introspection and a second revocation of a revoked token announce nothing; a re-delivered revocation event is
//! announced again under the same id; and an announcer that fails never fails `/oauth2/revoke` nor loses a
//! revocation, while a revocation event is retried until it is announced. The EventBridge adapter is checked on
//! the emulator (moto): announced on a bus, routed by a rule to an SQS queue, read back from the queue.
//! Runs on the store `TESSERA_E2E_STORE` selects, so `scripts/test` runs it on both.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tessera::announcement::{RevocationAnnouncement, RevocationCause, RevokedKind};
use tessera::clock::Clock;
use tessera_e2e::issuers::{EXCHANGER, EXCHANGER_TWO, TestIssuer, auth0, exchange, exchange_config};
use tessera_e2e::{SwitchedAnnouncer, TestServer, creds, isolated_backend_store};

/// A runner on a store of its own (a tenant-wide revocation must not reach other tests' tokens), announcing
/// into a [`SwitchedAnnouncer`].
async fn start() -> (TestServer, TestIssuer, Arc<SwitchedAnnouncer>) {
    let issuer = auth0();
    let config = exchange_config(&[&issuer]);
    let announcer = Arc::new(SwitchedAnnouncer::default());
    let server = TestServer::start_announcing(&config, isolated_backend_store(&config).await, announcer.clone()).await;
    (server, issuer, announcer)
}

/// An EventBridge `tessera.revoke` event.
fn event(id: &str, detail: Value) -> Value {
    json!({"version": "0", "id": id, "detail-type": "tessera.revoke", "source": "test.identity",
        "account": "123456789012", "time": "2026-11-22T10:00:00Z", "region": "eu-west-1", "resources": [],
        "detail": detail})
}

/// Access and refresh token of one token exchange for `subject`.
async fn login(server: &TestServer, issuer: &TestIssuer, client: (&str, &str), subject: &str) -> (String, String) {
    let subject_token = issuer.sign(&issuer.claims(subject, server.clock.now().as_secs()));
    let reply = exchange(server, client, &subject_token, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    (body["access_token"].as_str().unwrap().to_owned(), body["refresh_token"].as_str().unwrap().to_owned())
}

async fn revoke(server: &TestServer, client: (&str, &str), token: &str) {
    let reply = server.post("/oauth2/revoke", Some(client), &[("token", token)]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

async fn refresh(server: &TestServer, client: (&str, &str), token: &str) -> tessera_e2e::Reply {
    server.post("/oauth2/token", Some(client), &[("grant_type", "refresh_token"), ("refresh_token", token)]).await
}

async fn active(server: &TestServer, token: &str) -> bool {
    server.introspect(token).await.json()["active"] == true
}

fn claims(jwt: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

fn sha256(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes()))
}

/// Takes the announcements made since the last call.
fn take(announcer: &SwitchedAnnouncer, seen: &mut usize) -> Vec<RevocationAnnouncement> {
    let all = announcer.announced();
    let new = all[*seen..].to_vec();
    *seen = all.len();
    new
}

/// RFC 7009 §2.1: the token, and for a refresh token its grant, is revoked; each revocation is announced once, and
/// nothing that is not a revocation (issuing, a refresh, an introspection, revoking a revoked token) is announced.
#[tokio::test]
async fn every_kind_of_revocation_is_announced_once_with_no_secret_in_it() {
    let (server, issuer, announcer) = start().await;
    let mut seen = 0;
    let mut secrets: Vec<String> = [creds::JWT, creds::OPAQUE, creds::RS, EXCHANGER, EXCHANGER_TWO]
        .iter()
        .map(|(_, secret)| (*secret).to_owned())
        .collect();

    // A JWT access token: by its jti.
    let jwt = server.issue(creds::JWT, &[]).await;
    secrets.push(jwt.clone());
    assert!(active(&server, &jwt).await);
    assert!(take(&announcer, &mut seen).is_empty(), "issuing and introspecting announce nothing");
    revoke(&server, creds::JWT, &jwt).await;
    let [jwt_revoked] = <[_; 1]>::try_from(take(&announcer, &mut seen)).unwrap();
    assert_eq!(jwt_revoked.kind, RevokedKind::Token);
    assert_eq!(jwt_revoked.cause, RevocationCause::Rfc7009);
    assert_eq!(jwt_revoked.jti.as_deref(), claims(&jwt)["jti"].as_str());
    assert_eq!(jwt_revoked.client_id.as_deref(), Some(creds::JWT.0));
    assert_eq!(jwt_revoked.revoked_at, server.clock.now().as_micros());
    assert_eq!((jwt_revoked.token_sha256.as_ref(), jwt_revoked.event_id.as_ref()), (None, None));
    // Revoked already: nothing is written, nothing announced.
    revoke(&server, creds::JWT, &jwt).await;
    assert!(!active(&server, &jwt).await);
    assert!(take(&announcer, &mut seen).is_empty(), "a revoked token revoked again is not announced again");

    // An opaque access token: by the SHA-256 of the token, never the token.
    let opaque = server.issue(creds::OPAQUE, &[]).await;
    secrets.push(opaque.clone());
    revoke(&server, creds::OPAQUE, &opaque).await;
    let [opaque_revoked] = <[_; 1]>::try_from(take(&announcer, &mut seen)).unwrap();
    assert_eq!(opaque_revoked.kind, RevokedKind::Token);
    assert_eq!(opaque_revoked.token_sha256, Some(sha256(&opaque)));
    assert_eq!((opaque_revoked.jti.as_ref(), opaque_revoked.client_id.as_deref()), (None, Some(creds::OPAQUE.0)));

    // A refresh token at /oauth2/revoke: its family.
    let (access, refresh_token) = login(&server, &issuer, EXCHANGER, "alice").await;
    secrets.extend([access.clone(), refresh_token.clone()]);
    let family = claims(&access)["tsr_fam"].as_str().unwrap().to_owned();
    revoke(&server, EXCHANGER, &refresh_token).await;
    assert!(!active(&server, &access).await, "the family went with its refresh token");
    let [family_revoked] = <[_; 1]>::try_from(take(&announcer, &mut seen)).unwrap();
    assert_eq!(family_revoked.kind, RevokedKind::Family);
    assert_eq!(family_revoked.cause, RevocationCause::Rfc7009);
    assert_eq!(family_revoked.family_id.as_deref(), Some(family.as_str()));
    assert_eq!(family_revoked.client_id.as_deref(), Some(EXCHANGER.0));

    // A refresh is no revocation (even when it retires the family's earlier access tokens); its reuse is.
    let (access, first) = login(&server, &issuer, EXCHANGER_TWO, "bob").await;
    server.clock.advance_micros(5);
    let refreshed = refresh(&server, EXCHANGER_TWO, &first).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    let second = refreshed.json()["refresh_token"].as_str().unwrap().to_owned();
    secrets.extend([access.clone(), first.clone(), second.clone()]);
    assert!(take(&announcer, &mut seen).is_empty(), "a refresh announces nothing");
    server.clock.advance_micros(5);
    refresh(&server, EXCHANGER_TWO, &first).await.assert_error(400, "invalid_grant");
    let [reuse] = <[_; 1]>::try_from(take(&announcer, &mut seen)).unwrap();
    assert_eq!((reuse.kind, reuse.cause), (RevokedKind::Family, RevocationCause::RefreshReuse));
    assert_eq!(reuse.client_id.as_deref(), Some(EXCHANGER_TWO.0));
    assert_eq!(reuse.revoked_at, server.clock.now().as_micros(), "the instant of the revocation, not its final mark");
    refresh(&server, EXCHANGER_TWO, &second).await.assert_error(400, "invalid_grant");
    assert!(take(&announcer, &mut seen).is_empty(), "the revoked family's tokens revoke nothing more");

    // Revocation events: a subject, a client, a family and the tenant, each under its event's id and reason.
    let (carol_access, carol_refresh) = login(&server, &issuer, EXCHANGER, "carol").await;
    secrets.extend([carol_access.clone(), carol_refresh.clone()]);
    let carol_family = claims(&carol_access)["tsr_fam"].as_str().unwrap().to_owned();
    let events = [
        ("evt-subject", json!({"subject": "dave", "reason": "password_changed"}), RevokedKind::Subject),
        ("evt-client", json!({"client_id": "demo-opaque", "reason": "leaked"}), RevokedKind::Client),
        ("evt-family", json!({"family_id": carol_family, "reason": "lost_device"}), RevokedKind::Family),
        ("evt-tenant", json!({"all_tokens": true, "reason": "key_compromise"}), RevokedKind::Tenant),
    ];
    for (id, detail, kind) in events {
        server.clock.advance_micros(7);
        let reply = server.send_event(&event(id, detail.clone())).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let [announced] = <[_; 1]>::try_from(take(&announcer, &mut seen)).unwrap();
        assert_eq!((announced.kind, announced.cause), (kind, RevocationCause::Event), "{id}");
        assert_eq!(announced.event_id.as_deref(), Some(id));
        assert_eq!(announced.reason.as_deref(), detail["reason"].as_str());
        assert_eq!(announced.revoked_at, server.clock.now().as_micros(), "{id}: applied now");
        assert_eq!(announced.subject.as_deref(), detail["subject"].as_str());
        assert_eq!(announced.client_id.as_deref(), detail["client_id"].as_str());
        assert_eq!(announced.family_id.as_deref(), detail["family_id"].as_str());
    }
    assert!(!active(&server, &carol_refresh).await);

    // Every announcement: a detail that reads back, a distinct id, within bounds, and no token or secret in it.
    let all = announcer.announced();
    assert_eq!(all.len(), 8);
    let ids: std::collections::BTreeSet<_> = all.iter().map(|a| a.id.clone()).collect();
    assert_eq!(ids.len(), all.len(), "each revocation has an id of its own");
    for announcement in &all {
        let text = announcement.to_json();
        assert!(text.len() < 1024, "{text}");
        assert_eq!(&serde_json::from_str::<RevocationAnnouncement>(&text).unwrap(), announcement);
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "{text} carries a token or secret");
        }
    }
    // This server announces into the test's announcer, which keeps no list for the runner to show.
    server.send("GET", "/local/revocations", &[], "").await.assert_error(404, "invalid_request");
}

/// The runner announces into a bounded list of its own, shown at `GET /local/revocations` (loopback only, GET only).
#[tokio::test]
async fn the_runner_lists_what_it_announced() {
    let issuer = auth0();
    let config = exchange_config(&[&issuer]);
    let server = TestServer::start_on(&config, isolated_backend_store(&config).await).await;
    let opaque = server.issue(creds::OPAQUE, &[]).await;
    revoke(&server, creds::OPAQUE, &opaque).await;
    let listed = server.send("GET", "/local/revocations", &[], "").await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.header("cache-control"), Some("no-store"));
    let announcements = listed.json()["announcements"].clone();
    let [announced]: [RevocationAnnouncement; 1] = serde_json::from_value(announcements).unwrap();
    assert_eq!(announced.token_sha256, Some(sha256(&opaque)));
    assert!(!listed.text.contains(&opaque));
    let posted = server.send("POST", "/local/revocations", &[("content-type", "application/json".into())], "{}").await;
    posted.assert_error(405, "invalid_request");
    let elsewhere = server.send("GET", "/local/revocations", &[("origin", "https://evil.example".into())], "").await;
    assert_eq!(elsewhere.status, 403, "another origin is refused: {}", elsewhere.text);
}

/// A revocation event delivered again (EventBridge retries, SQS at-least-once) writes nothing, and is announced
/// again exactly as the first time (same id, same instant), so a consumer drops the duplicate and a first
/// announcement that failed is made by the re-delivery.
#[tokio::test]
async fn a_redelivered_event_is_announced_again_under_the_same_id() {
    let (server, issuer, announcer) = start().await;
    let (access, _) = login(&server, &issuer, EXCHANGER, "erin").await;
    let family = claims(&access)["tsr_fam"].as_str().unwrap().to_owned();
    for (id, detail) in [
        ("evt-again-subject", json!({"subject": "erin", "reason": "password_changed"})),
        ("evt-again-family", json!({"family_id": family, "reason": "lost_device"})),
    ] {
        let first = server.send_event(&event(id, detail.clone())).await;
        assert_eq!(first.json()["written"], true, "{}", first.text);
        server.clock.advance_secs(30);
        let again = server.send_event(&event(id, detail)).await;
        assert_eq!(again.json()["written"], false, "{}", again.text);
        let announced = announcer.announced();
        let [.., one, two] = announced.as_slice() else { panic!("two announcements: {announced:?}") };
        assert_eq!(one, two, "{id}: the same announcement, id and instant included");
        assert_eq!(one.revoked_at, server.clock.now().as_micros() - 30_000_000, "{id}: the first delivery's instant");
    }
    // The same re-delivery in an SQS batch, beside a new event.
    let batch = json!({"Records": [
        {"messageId": "m-1", "body": json!({"event_id": "evt-again-subject", "subject": "erin", "reason": "password_changed"}).to_string()},
        {"messageId": "m-2", "body": json!({"event_id": "evt-new", "client_id": "exchanger", "reason": "rotated"}).to_string()},
    ]});
    let reply = server.send_event(&batch).await;
    assert_eq!(reply.json()["batchItemFailures"], json!([]), "{}", reply.text);
    let announced = announcer.announced();
    assert_eq!(announced.len(), 6);
    let subject_ids: Vec<_> =
        announced.iter().filter(|a| a.kind == RevokedKind::Subject).map(|a| a.id.clone()).collect();
    assert_eq!(subject_ids.len(), 3);
    assert!(subject_ids.iter().all(|id| *id == subject_ids[0]), "three deliveries, one id");
}

/// A failed announcement never costs the revocation. `/oauth2/revoke` (RFC 7009 §2.2: 200 once the token is
/// revoked) and refresh-token reuse (RFC 9700 §4.14.2) answer as always and the tokens are inactive; a revocation
/// event is applied but reported failed (503 here; a batch item failure or an invocation error in Lambda), so it is
/// delivered again, and that delivery, which writes nothing, announces it.
#[tokio::test]
async fn a_failing_announcer_loses_no_revocation() {
    let (server, issuer, announcer) = start().await;
    announcer.set_down(true);

    let jwt = server.issue(creds::JWT, &[]).await;
    revoke(&server, creds::JWT, &jwt).await;
    assert!(!active(&server, &jwt).await, "revoked, though not announced");
    let (access, first) = login(&server, &issuer, EXCHANGER, "frank").await;
    assert_eq!(refresh(&server, EXCHANGER, &first).await.status, 200);
    refresh(&server, EXCHANGER, &first).await.assert_error(400, "invalid_grant");
    assert!(!active(&server, &access).await, "the reused family is revoked, though not announced");
    assert_eq!(announcer.failures(), 2);

    let (grace_access, _) = login(&server, &issuer, EXCHANGER_TWO, "grace").await;
    let revoke_grace = event("evt-down", json!({"subject": "grace", "reason": "password_changed"}));
    let reply = server.send_event(&revoke_grace).await;
    reply.assert_error(503, "temporarily_unavailable");
    assert!(!active(&server, &grace_access).await, "the watermark is written before the announcement");
    let batch = json!({"Records": [{"messageId": "m-down", "body": revoke_grace.to_string()}]});
    let reply = server.send_event(&batch).await;
    assert_eq!(reply.json()["batchItemFailures"], json!([{"itemIdentifier": "m-down"}]), "{}", reply.text);
    assert_eq!(announcer.failures(), 4);
    assert!(announcer.announced().is_empty());

    // The bus is back: the event's next delivery announces it, at the instant it was applied.
    let applied_at = server.clock.now().as_micros();
    server.clock.advance_secs(60);
    announcer.set_down(false);
    let reply = server.send_event(&revoke_grace).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["written"], false);
    let [announced] = <[_; 1]>::try_from(announcer.announced()).unwrap();
    assert_eq!((announced.kind, announced.revoked_at), (RevokedKind::Subject, applied_at));
    assert_eq!(announced.event_id.as_deref(), Some("evt-down"));
}

/// The EventBridge adapter on the emulator: `PutEvents` on a bus of its own, a rule on `source` and `detail-type`
/// routing to an SQS queue, and the event read back from the queue, its detail exactly the announcement. Skipped
/// without the emulator (scripts/test sets `AWS_ENDPOINT_URL_EVENTBRIDGE` to it); a failure in CI.
#[tokio::test]
async fn the_eventbridge_adapter_puts_the_announcement_on_the_bus() {
    let Some(endpoint) = tessera_e2e::eventbridge_endpoint() else { return };
    let sdk = tessera::aws_sdk::sdk_config().await;
    let events = aws_sdk_eventbridge::Client::new(&sdk);
    let suffix = std::process::id();
    let bus = format!("tessera-announcements-{suffix}");
    events.create_event_bus().name(&bus).send().await.expect("bus created");
    let queue = tessera_e2e::sqs::Queue::create(&endpoint, &format!("tessera-announcements-{suffix}")).await;
    let pattern = json!({"source": ["tessera"], "detail-type": ["Tessera Revocation"]});
    events
        .put_rule()
        .event_bus_name(&bus)
        .name("to-queue")
        .event_pattern(pattern.to_string())
        .send()
        .await
        .expect("rule created");
    let target = aws_sdk_eventbridge::types::Target::builder().id("queue").arn(queue.arn()).build().unwrap();
    events.put_targets().event_bus_name(&bus).rule("to-queue").targets(target).send().await.expect("target");

    let announcer = tessera::announcement::eventbridge::EventBridgeAnnouncer::new(
        tessera::announcement::eventbridge::client(&sdk),
        bus.clone(),
    );
    let announcement = RevocationAnnouncement::new(
        &tessera::domain::tenant::TenantId::default(),
        tessera::announcement::Revoked::Subject("auth0|alice".into()),
        tessera::domain::time::Timestamp::from_micros(1_800_000_000_123_456),
        RevocationCause::IdentityProvider,
        Some(tessera::announcement::Origin { event_id: "okta-evt-1", reason: "password_changed" }),
    );
    use tessera::announcement::RevocationAnnouncer;
    announcer.announce(&announcement).await.expect("announced");

    let [delivered] = <[Value; 1]>::try_from(queue.receive().await).expect("one event on the queue");
    assert_eq!(delivered["source"], "tessera");
    assert_eq!(delivered["detail-type"], "Tessera Revocation");
    // EventBridge writes the entry's `Time` as RFC 3339; the emulator passes on the epoch seconds it was sent.
    let time = &delivered["time"];
    assert!(time == "2027-01-15T08:00:00Z" || time.as_f64() == Some(1_800_000_000.0), "the revocation instant: {time}");
    let detail: RevocationAnnouncement = serde_json::from_value(delivered["detail"].clone()).unwrap();
    assert_eq!(detail, announcement);

    // A bus that does not exist: the announcement fails, and says so.
    let nowhere = tessera::announcement::eventbridge::EventBridgeAnnouncer::new(
        tessera::announcement::eventbridge::client(&sdk),
        format!("tessera-no-such-bus-{suffix}"),
    );
    let refused = nowhere.announce(&announcement).await.expect_err("no such bus");
    assert!(matches!(refused, tessera::announcement::AnnounceError::Refused(_)), "{refused}");
}

/// A failed announcement is counted for its alarm (`RevocationAnnouncementFailures`, under the tenant), from the
/// revoke function, whose answer stays 200, and from the revocation-events function, whose event fails.
#[tokio::test]
async fn a_failed_announcement_is_counted_for_its_alarm() {
    use std::sync::Mutex;
    use tessera::metrics::{MetricsEmitter, MetricsSink};

    let issuer = auth0();
    let config = exchange_config(&[&issuer]);
    let clock = Arc::new(tessera::clock::FixedClock::at(tessera::clock::SystemClock.now()));
    let lines = Arc::new(Mutex::new(Vec::new()));
    let announcer = Arc::new(SwitchedAnnouncer::default());
    announcer.set_down(true);
    let store = Arc::new(tessera::store::memory::MemoryStore::with_clients(
        config.clients(&tessera::entropy::SystemEntropy).unwrap(),
    ));
    let sources = tessera::tenancy::Sources { keys: None, registry: None, generate_missing_keys: true };
    let entropy = Arc::new(tessera::entropy::SystemEntropy);
    let service = tessera::service::build_service(
        store,
        &config,
        Some("https://issuer.example"),
        clock.clone(),
        entropy,
        sources,
    )
    .await
    .unwrap()
    .with_metrics(MetricsEmitter::new("Tessera", "tessera-revoke", MetricsSink::Memory(lines.clone()), clock.clone()))
    .with_announcer(announcer.clone());
    let take = || -> Vec<Value> {
        let taken = std::mem::take(&mut *lines.lock().unwrap());
        taken.iter().map(|line| serde_json::from_str(line).unwrap()).collect()
    };
    let failures = |docs: &[Value]| {
        docs.iter().find(|d| d["Tenant"] == "default").map(|d| d["RevocationAnnouncementFailures"].clone())
    };

    let issue = tessera_e2e::form_request("/oauth2/token", creds::OPAQUE, &[("grant_type", "client_credentials")]);
    let issued = tessera_token::handle(&service, issue).await.unwrap();
    let token =
        serde_json::from_slice::<Value>(issued.body().as_ref()).unwrap()["access_token"].as_str().unwrap().to_owned();
    take();
    let revoke = tessera_e2e::form_request("/oauth2/revoke", creds::OPAQUE, &[("token", &token)]);
    let revoked = tessera_revoke::handle(&service, revoke).await.unwrap();
    assert_eq!(revoked.status(), 200, "the answer does not depend on the announcement");
    let docs = take();
    assert_eq!(failures(&docs), Some(json!(1.0)), "{docs:?}");
    assert!(!format!("{docs:?}").contains(&token));

    let deps = tessera_revocation_events::Deps {
        store: service.store.as_ref(),
        clock: service.clock.as_ref(),
        tenants: &service,
        identity_events: service.identity_events(),
        announcer: announcer.as_ref(),
    };
    let revoke_alice = event("evt-metric", json!({"subject": "alice", "reason": "password_changed"}));
    let err = service.metrics.invocation(tessera_revocation_events::handle(deps, revoke_alice)).await.unwrap_err();
    assert!(err.downcast_ref::<tessera::announcement::AnnounceError>().is_some(), "{err}");
    let docs = take();
    assert_eq!(failures(&docs), Some(json!(1.0)), "{docs:?}");
    assert_eq!(announcer.failures(), 2);
}

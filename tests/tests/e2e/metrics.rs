//! The EMF metrics of a whole flow, through the handlers Lambda runs: issue (client credentials, a token exchange,
//! a refresh), introspect an active token, revoke it, introspect it inactive, reuse a refresh token, fail a client
//! authentication, apply a revocation event, and ask for a tenant nobody serves. Each invocation's documents are
//! parsed (namespace, dimension sets, values), and the raw lines are searched for every secret, token, client id
//! and subject of the flow: none may appear.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tessera::TokenService;
use tessera::clock::{Clock, FixedClock, SystemClock};
use tessera::domain::tenant::TenantId;
use tessera::entropy::SystemEntropy;
use tessera::metrics::{Metric, MetricsEmitter, MetricsSink};
use tessera::service::build_service;
use tessera::store::memory::MemoryStore;
use tessera::tenancy::Sources;
use tessera_e2e::issuers::{EXCHANGE, EXCHANGER, JWT_TYPE, TestIssuer, auth0, exchange_config};
use tessera_e2e::{DeclaredTenants, creds, form_request as post};

/// One function's service, writing its EMF lines into `lines`.
async fn service(
    function: &str,
    issuer: &TestIssuer,
    lines: &Arc<Mutex<Vec<String>>>,
    clock: &Arc<FixedClock>,
) -> TokenService {
    let config = exchange_config(&[issuer]);
    let store = Arc::new(MemoryStore::with_clients(config.clients(&SystemEntropy).unwrap()));
    let sources = Sources { keys: None, registry: None, generate_missing_keys: true };
    build_service(store, &config, Some("https://issuer.example"), clock.clone(), Arc::new(SystemEntropy), sources)
        .await
        .unwrap()
        .with_metrics(MetricsEmitter::new("Tessera", function, MetricsSink::Memory(lines.clone()), clock.clone()))
}

/// The documents written since the last call, parsed.
fn take(lines: &Arc<Mutex<Vec<String>>>, raw: &mut Vec<String>) -> Vec<Value> {
    let taken = std::mem::take(&mut *lines.lock().unwrap());
    raw.extend(taken.iter().cloned());
    taken.iter().map(|line| serde_json::from_str(line).expect("one JSON document per line")).collect()
}

/// The value of `metric` in the document with the `Tenant` dimension `tenant` (`None`: the one without it).
fn value(documents: &[Value], tenant: Option<&str>, metric: &str) -> Option<Value> {
    documents.iter().find(|d| d.get("Tenant").and_then(Value::as_str) == tenant).and_then(|d| d.get(metric).cloned())
}

fn json_body(response: &lambda_http::Response<lambda_http::Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).unwrap()
}

/// Every document is well-formed EMF: namespace, a timestamp from the clock, `[Function]` and (with a tenant)
/// `[Function, Tenant]`, and each declared metric present as a member.
fn assert_emf(document: &Value, function: &str, timestamp_ms: u64) {
    let directive = &document["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(directive["Namespace"], "Tessera");
    assert_eq!(document["_aws"]["Timestamp"], json!(timestamp_ms));
    assert_eq!(document["Function"], function);
    let expected = match document.get("Tenant") {
        Some(_) => json!([["Function"], ["Function", "Tenant"]]),
        None => json!([["Function"]]),
    };
    assert_eq!(directive["Dimensions"], expected, "{document}");
    for metric in directive["Metrics"].as_array().unwrap() {
        let name = metric["Name"].as_str().unwrap();
        assert!(document.get(name).is_some(), "{name} declared but absent: {document}");
        let unit = if name.starts_with("StoreLatency.") { "Milliseconds" } else { "Count" };
        assert_eq!(metric["Unit"], unit);
    }
    let members: Vec<&String> = document.as_object().unwrap().keys().collect();
    for member in members {
        assert!(
            ["_aws", "Function", "Tenant"].contains(&member.as_str())
                || directive["Metrics"].as_array().unwrap().iter().any(|m| m["Name"] == **member),
            "an undeclared member {member}: {document}"
        );
    }
}

#[tokio::test]
async fn a_full_flow_emits_the_expected_documents_and_no_secret() {
    let clock = Arc::new(FixedClock::at(SystemClock.now()));
    let now_ms = clock.now().as_micros() / 1000;
    let lines = Arc::new(Mutex::new(Vec::new()));
    let mut raw = Vec::new();
    // One service, as the token, introspection and revocation functions share one store in a deployment; each
    // handler's documents name the function the emitter was built for.
    let issuer = auth0();
    let service = service("tessera-token", &issuer, &lines, &clock).await;
    let subject_token = issuer.sign(&issuer.claims("alice", clock.now().as_secs()));
    let mut secrets: Vec<String> = [creds::JWT, creds::OPAQUE, creds::RS, EXCHANGER]
        .iter()
        .flat_map(|(id, secret)| [id.to_string(), secret.to_string()])
        .chain(["alice".to_owned(), subject_token.clone()])
        .collect();

    // Client credentials, JWT and opaque.
    let issue = |client| post("/oauth2/token", client, &[("grant_type", "client_credentials")]);
    let jwt = json_body(&tessera_token::handle(&service, issue(creds::JWT)).await.unwrap())["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let docs = take(&lines, &mut raw);
    assert_eq!(docs.len(), 1, "one served tenant, one document: {docs:?}");
    assert_emf(&docs[0], "tessera-token", now_ms);
    assert_eq!(value(&docs, Some("default"), "TokensIssued.ClientCredentials.Jwt"), Some(json!(1.0)));
    assert_eq!(value(&docs, Some("default"), "StoreLatency.GetMany").map(|v| v.as_array().unwrap().len()), Some(1));
    tessera_token::handle(&service, issue(creds::OPAQUE)).await.unwrap();
    let docs = take(&lines, &mut raw);
    assert_eq!(value(&docs, Some("default"), "TokensIssued.ClientCredentials.Opaque"), Some(json!(1.0)));
    assert!(value(&docs, Some("default"), "StoreLatency.PutNew").is_some(), "the opaque token's write: {docs:?}");

    // A token exchange, then a refresh, then the spent refresh token again: reuse.
    let exchange = post(
        "/oauth2/token",
        EXCHANGER,
        &[("grant_type", EXCHANGE), ("subject_token", &subject_token), ("subject_token_type", JWT_TYPE)],
    );
    let session = json_body(&tessera_token::handle(&service, exchange).await.unwrap());
    let first_refresh = session["refresh_token"].as_str().unwrap_or_else(|| panic!("{session}")).to_owned();
    secrets.extend([first_refresh.clone(), session["access_token"].as_str().unwrap().to_owned()]);
    let docs = take(&lines, &mut raw);
    assert_eq!(value(&docs, Some("default"), "TokensIssued.TokenExchange.Jwt"), Some(json!(1.0)));
    let refresh =
        |token: &str| post("/oauth2/token", EXCHANGER, &[("grant_type", "refresh_token"), ("refresh_token", token)]);
    let rotated = json_body(&tessera_token::handle(&service, refresh(&first_refresh)).await.unwrap());
    secrets.extend([
        rotated["refresh_token"].as_str().unwrap().to_owned(),
        rotated["access_token"].as_str().unwrap().to_owned(),
    ]);
    let docs = take(&lines, &mut raw);
    assert_eq!(value(&docs, Some("default"), "TokensIssued.RefreshToken.Jwt"), Some(json!(1.0)));
    assert!(value(&docs, Some("default"), "StoreLatency.Rotate").is_some());
    let reused = tessera_token::handle(&service, refresh(&first_refresh)).await.unwrap();
    assert_eq!(reused.status(), 400);
    let docs = take(&lines, &mut raw);
    assert_eq!(value(&docs, Some("default"), "RefreshReuseDetected"), Some(json!(1.0)));
    assert_eq!(value(&docs, Some("default"), "Revocations.Family"), Some(json!(1.0)));
    assert_eq!(value(&docs, Some("default"), "TokensIssued.RefreshToken.Jwt"), None);

    // Introspect the JWT (active), revoke it, introspect it again (inactive).
    let introspect = || post("/oauth2/introspect", creds::RS, &[("token", &jwt)]);
    assert_eq!(json_body(&tessera_introspect::handle(&service, introspect()).await.unwrap())["active"], true);
    let docs = take(&lines, &mut raw);
    assert_emf(&docs[0], "tessera-token", now_ms);
    assert_eq!(value(&docs, Some("default"), "IntrospectionsActive"), Some(json!(1.0)));
    assert_eq!(value(&docs, Some("default"), "IntrospectionsInactive"), None);
    let revoked = tessera_revoke::handle(&service, post("/oauth2/revoke", creds::JWT, &[("token", &jwt)])).await;
    assert_eq!(revoked.unwrap().status(), 200);
    let docs = take(&lines, &mut raw);
    assert_eq!(value(&docs, Some("default"), "Revocations.Token"), Some(json!(1.0)));
    assert_eq!(json_body(&tessera_introspect::handle(&service, introspect()).await.unwrap())["active"], false);
    let docs = take(&lines, &mut raw);
    assert_eq!(value(&docs, Some("default"), "IntrospectionsInactive"), Some(json!(1.0)));

    // A failed client authentication.
    let wrong = tessera_token::handle(&service, issue((creds::JWT.0, "not-the-secret-0123456789"))).await.unwrap();
    assert_eq!(wrong.status(), 401);
    secrets.push("not-the-secret-0123456789".into());
    let docs = take(&lines, &mut raw);
    assert_eq!(value(&docs, Some("default"), "ClientAuthenticationFailures"), Some(json!(1.0)));

    // A tenant nobody serves: no Tenant dimension, whatever the path says.
    let unknown = tessera_token::handle(
        &service,
        post("/t/nosuch-tenant/oauth2/token", creds::JWT, &[("grant_type", "client_credentials")]),
    )
    .await
    .unwrap();
    assert_eq!(unknown.status(), 404);
    assert!(take(&lines, &mut raw).is_empty(), "refused before anything was recorded");
    // And what an invocation records after an unknown tenant's lookup stays without a Tenant dimension.
    service
        .metrics
        .invocation(async {
            let nosuch = TenantId::parse("nosuch-tenant").unwrap();
            assert!(service.tenant(&nosuch, None, clock.now()).await.is_err());
            tessera::metrics::count(Metric::StoreErrors);
        })
        .await;
    let docs = take(&lines, &mut raw);
    assert_eq!(docs.len(), 1);
    assert_emf(&docs[0], "tessera-token", now_ms);
    assert_eq!(value(&docs, None, "StoreErrors"), Some(json!(1.0)));
    assert!(!raw.concat().contains("nosuch"));

    // A revocation event, through the revocation-events handler under its own emitter.
    let events =
        MetricsEmitter::new("Tessera", "tessera-revocation-events", MetricsSink::Memory(lines.clone()), clock.clone());
    let event = json!({
        "version": "0", "id": "evt-1", "detail-type": "tessera.revoke", "source": "com.example.identity",
        "detail": {"event_id": "password-changed-0001", "subject": "alice", "reason": "password_changed"}
    });
    let store = MemoryStore::new();
    let deps = tessera_revocation_events::Deps {
        store: &store,
        clock: clock.as_ref(),
        tenants: &DeclaredTenants::with(&[]),
        identity_events: &Default::default(),
        announcer: &tessera::announcement::recent::RecentAnnouncements::default(),
    };
    events.invocation(tessera_revocation_events::handle(deps, event)).await.unwrap();
    let docs = take(&lines, &mut raw);
    assert_eq!(docs.len(), 1, "{docs:?}");
    assert_emf(&docs[0], "tessera-revocation-events", now_ms);
    assert_eq!(value(&docs, Some("default"), "Revocations.Subject"), Some(json!(1.0)));

    let all = raw.concat();
    for secret in &secrets {
        assert!(!all.contains(secret.as_str()), "a secret, token, client id or subject in the metrics: {secret}");
    }
    let largest = raw.iter().map(String::len).max().unwrap();
    println!("{} EMF documents, the largest {largest} bytes", raw.len());
    assert!(largest < 2048, "documents stay small: {largest} bytes");
}

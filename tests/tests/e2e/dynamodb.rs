//! The DynamoDB adapter against a real DynamoDB-compatible server (moto, started by `scripts/test` with the
//! table created from `template.yaml`): the shared conformance suite, round trips counted by an SDK
//! interceptor on the wire, fail-closed answers when the endpoint is down, and the table shape the CLI
//! creates. Skipped locally without the emulator; a failure in CI.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use lambda_http::Body;
use tessera::TokenService;
use tessera::clock::{Clock, FixedClock, SystemClock};
use tessera::domain::tenant::TenantId;
use tessera::entropy::SystemEntropy;
use tessera::store::conformance;
use tessera::store::dynamodb::{self, DynamoStore};
use tessera::store::{RegistrationStore, TokenStore};
use tessera::tenancy::ServedTenant;
use tessera_e2e::{creds, dynamo_store, form_request as post, test_config};

/// Counts the DynamoDB requests that actually leave the process, by operation (`x-amz-target`), retries
/// included.
#[derive(Debug, Default, Clone)]
struct WireCounter(Arc<Mutex<BTreeMap<String, usize>>>);

impl WireCounter {
    fn take(&self) -> BTreeMap<String, usize> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Intercept for WireCounter {
    fn name(&self) -> &'static str {
        "WireCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let target = context.request().headers().get("x-amz-target").unwrap_or("?");
        let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
        *self.0.lock().unwrap().entry(operation).or_default() += 1;
        Ok(())
    }
}

fn ops(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

async fn counted_store(table: &str) -> (DynamoStore, WireCounter) {
    let sdk = tessera::aws_sdk::sdk_config().await;
    let counter = WireCounter::default();
    let conf = aws_sdk_dynamodb::config::Builder::from(&sdk).interceptor(counter.clone()).build();
    (DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(conf), table), counter)
}

fn service_on(store: Arc<dyn TokenStore>) -> TokenService {
    service_with_keys(
        store,
        tessera::tenancy::key_document::key_ring_or_generated(&test_config().signing_keys, "k1").unwrap(),
    )
}

fn service_with_keys(store: Arc<dyn TokenStore>, keys: tessera::jwt::keys::KeyRing) -> TokenService {
    TokenService::new(store, Arc::new(FixedClock::at(SystemClock.now())), Arc::new(SystemEntropy))
        .with_tenant(TenantId::default(), ServedTenant::new(Some("https://issuer.example".into()), keys))
}

async fn body(response: lambda_http::Response<Body>) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    (status, serde_json::from_slice(response.body().as_ref()).unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn dynamodb_passes_the_store_conformance_suite() {
    let Some(store) = dynamo_store().await else { return };
    conformance::run_all(&store).await;
}

#[tokio::test]
async fn round_trips_on_the_wire() {
    let Some(plain) = dynamo_store().await else { return };
    let (store, wire) = counted_store(plain.table()).await;
    for client in test_config().clients(&SystemEntropy).unwrap() {
        store.put_client(client).await.unwrap();
    }
    wire.take();
    let meter = store.clone();
    let service = service_on(Arc::new(store));
    let cc = [("grant_type", "client_credentials")];

    let (status, jwt) =
        body(tessera_token::handle(&service, post("/oauth2/token", creds::JWT, &cc)).await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(wire.take(), ops(&[("BatchGetItem", 1)]), "issue JWT: one read, no write");
    let (_, opaque) =
        body(tessera_token::handle(&service, post("/oauth2/token", creds::OPAQUE, &cc)).await.unwrap()).await;
    assert_eq!(
        wire.take(),
        ops(&[("BatchGetItem", 1), ("PutItem", 1)]),
        "issue opaque: one read, one conditional write"
    );
    // The capacity the endpoint reports is summed (moto: 1 unit per key read, 1 per PutItem).
    let consumed = meter.take_consumed();
    assert_eq!((consumed.read_units, consumed.write_units), (2.0, 1.0), "two reads of the caller, one put");

    for token in [&jwt["access_token"], &opaque["access_token"]] {
        let token = token.as_str().unwrap();
        let (status, answer) = body(
            tessera_introspect::handle(&service, post("/oauth2/introspect", creds::RS, &[("token", token)]))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((status, &answer["active"]), (200, &serde_json::json!(true)));
        assert_eq!(wire.take(), ops(&[("BatchGetItem", 1)]), "introspect: one read");
        let consumed = meter.take_consumed();
        assert_eq!(
            (consumed.read_units, consumed.write_units),
            (6.0, 0.0),
            "caller, token state and four watermarks in one read"
        );
    }
    let (client, token) = (creds::JWT, jwt["access_token"].as_str().unwrap());
    tessera_revoke::handle(&service, post("/oauth2/revoke", client, &[("token", token)])).await.unwrap();
    assert_eq!(wire.take(), ops(&[("BatchGetItem", 1), ("PutItem", 1)]), "revoke JWT: read + denylist put");
    let (client, token) = (creds::OPAQUE, opaque["access_token"].as_str().unwrap());
    tessera_revoke::handle(&service, post("/oauth2/revoke", client, &[("token", token)])).await.unwrap();
    assert_eq!(wire.take(), ops(&[("BatchGetItem", 1), ("UpdateItem", 1)]), "revoke opaque: read + update");

    // The revocation is seen by the very next introspection (strongly consistent reads).
    for token in [&jwt["access_token"], &opaque["access_token"]] {
        let request = post("/oauth2/introspect", creds::RS, &[("token", token.as_str().unwrap())]);
        let (_, answer) = body(tessera_introspect::handle(&service, request).await.unwrap()).await;
        assert_eq!(answer, serde_json::json!({"active": false}));
    }

    // A revocation event: the raised mark and the event's seen item in one transaction; its re-delivery finds the
    // event seen (a cancelled transaction), and the watermark item has not grown.
    let event = tessera::events::RevocationEvent::from_message(
        // A subject of this run alone: the shared table keeps the marks of earlier runs.
        &serde_json::json!({"event_id": "wire-1", "subject": format!("wire-{:?}", std::time::SystemTime::now()), "reason": "test"})
            .to_string(),
        None,
    )
    .unwrap();
    let now = tessera::domain::time::Timestamp::from_secs(1_800_000_000);
    wire.take();
    let announced = tessera::announcement::recent::RecentAnnouncements::default();
    assert!(event.apply(&meter, &announced, now).await.unwrap());
    assert_eq!(wire.take(), ops(&[("TransactWriteItems", 1)]), "event: the mark and the event, one transaction");
    assert!(!event.apply(&meter, &announced, now.plus_secs(60)).await.unwrap(), "a re-delivery changes nothing");
    assert_eq!(
        wire.take(),
        ops(&[("TransactWriteItems", 1), ("BatchGetItem", 1)]),
        "re-delivery: one cancelled transaction, and the seen event read back to announce it again"
    );
    let [first, again] = <[_; 2]>::try_from(announced.all()).unwrap();
    assert_eq!(first, again, "announced again exactly as the first delivery was");
}

#[tokio::test]
async fn a_missing_table_is_a_rejection_named_as_such() {
    if dynamo_store().await.is_none() {
        return;
    }
    let sdk = tessera::aws_sdk::sdk_config().await;
    let missing = DynamoStore::new(dynamodb::client(&sdk, None), format!("tessera-missing-{}", std::process::id()));
    let err = missing.list_clients(&TenantId::default()).await.expect_err("no such table");
    assert!(matches!(err, tessera::store::StoreError::Rejected { .. }), "{err:?}");
    assert!(err.to_string().contains("ResourceNotFoundException"), "{err}");
    // At the edge: a 500 without internals, never a 503 a client would retry for ever.
    let response = tessera::wire::OAuthError::from(err);
    assert_eq!(response.status(), 500);
}

#[tokio::test]
async fn an_unreachable_endpoint_fails_closed() {
    if dynamo_store().await.is_none() {
        return;
    }
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let sdk = tessera::aws_sdk::sdk_config().await;
    let store = DynamoStore::new(dynamodb::client(&sdk, Some(&format!("http://{closed}"))), "tessera-test");
    let keys = tessera::tenancy::key_document::key_ring_or_generated(&test_config().signing_keys, "k1").unwrap();
    // A token that verifies: only the store read (the caller's record, the denylist) can fail.
    let jwt = tessera::jwt::access_token::sign(
        &tessera::domain::grant::Grant {
            tenant: TenantId::default(),
            client_id: tessera::domain::client::ClientId::parse("demo-jwt").unwrap(),
            subject: "demo-jwt".into(),
            username: None,
            user_details: Default::default(),
            amr: Vec::new(),
            app: Default::default(),
            scope: tessera::domain::scope::ScopeSet::default(),
            audience: vec!["https://issuer.example".into()],
            family: tessera::domain::id::FamilyId::from_bytes([1; 16]),
            issued_at: SystemClock.now(),
            expires_at: SystemClock.now().plus_secs(60),
            confirmation: None,
        },
        "https://issuer.example",
        "jti-down",
        &keys,
    );
    let token = jwt.unwrap();
    let service = service_with_keys(Arc::new(store), keys);
    let cases = [
        tessera_introspect::handle(&service, post("/oauth2/introspect", creds::RS, &[("token", &token)])).await,
        tessera_token::handle(&service, post("/oauth2/token", creds::JWT, &[("grant_type", "client_credentials")]))
            .await,
        tessera_revoke::handle(&service, post("/oauth2/revoke", creds::JWT, &[("token", &token)])).await,
    ];
    for response in cases {
        let response = response.unwrap();
        assert_eq!(response.headers()["retry-after"], "1");
        let (status, answer) = body(response).await;
        assert_eq!(status, 503);
        assert_eq!(answer["error"], "temporarily_unavailable");
        assert!(answer.get("active").is_none());
    }
}

#[tokio::test]
async fn the_cli_creates_the_table_the_template_defines() {
    let Some(template_table) = dynamo_store().await else { return };
    let sdk = tessera::aws_sdk::sdk_config().await;
    let client = dynamodb::client(&sdk, None);
    let created = DynamoStore::new(client.clone(), format!("tessera-cli-{}", std::process::id()));
    created.create_table_if_missing().await.unwrap();
    created.create_table_if_missing().await.unwrap(); // idempotent
    let shape = |table: String| {
        let client = client.clone();
        async move {
            let described = client.describe_table().table_name(&table).send().await.unwrap().table.unwrap();
            let ttl = client.describe_time_to_live().table_name(&table).send().await.unwrap();
            let ttl = ttl.time_to_live_description.unwrap();
            let backups = client.describe_continuous_backups().table_name(&table).send().await.unwrap();
            let recovery = backups.continuous_backups_description.and_then(|b| b.point_in_time_recovery_description);
            (
                format!("{:?}", described.key_schema.unwrap()),
                format!("{:?}", described.attribute_definitions.unwrap()),
                described.billing_mode_summary.and_then(|b| b.billing_mode).map(|m| m.as_str().to_owned()),
                ttl.attribute_name,
                ttl.time_to_live_status.map(|s| s.as_str().to_owned()),
                described.sse_description.and_then(|d| d.status).map(|s| s.as_str().to_owned()),
                recovery.and_then(|r| r.point_in_time_recovery_status).map(|s| s.as_str().to_owned()),
            )
        }
    };
    let expected = shape(template_table.table().to_owned()).await;
    assert_eq!(expected.3.as_deref(), Some("expires_at"));
    assert_eq!((expected.5.as_deref(), expected.6.as_deref()), (Some("ENABLED"), Some("ENABLED")), "SSE, recovery");
    assert_eq!(shape(created.table().to_owned()).await, expected);
    client.delete_table().table_name(created.table()).send().await.unwrap();
}

/// A fake DynamoDB endpoint that throttles every request, counting them.
async fn throttling_endpoint() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut filled = 0;
                loop {
                    let Ok(n) = socket.read(&mut buf[filled..]).await else { return };
                    if n == 0 {
                        return;
                    }
                    filled += n;
                    let text = String::from_utf8_lossy(&buf[..filled]).to_string();
                    let Some(end) = text.find("\r\n\r\n") else { continue };
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if filled < end + 4 + length {
                        continue;
                    }
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let body = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"Rate of requests exceeds the allowed throughput."}"#;
                    let response = format!(
                        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if socket.write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                    filled = 0;
                }
            });
        }
    });
    (format!("http://{addr}"), hits)
}

#[tokio::test]
async fn throttling_is_retried_a_bounded_number_of_times_then_503() {
    // Needs no emulator: the endpoint is a stand-in that answers ProvisionedThroughputExceededException.
    let (endpoint, hits) = throttling_endpoint().await;
    let sdk = tessera::aws_sdk::sdk_config().await;
    let conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .endpoint_url(&endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("t", "t", None, None, "test"))
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .build();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(conf), "tessera-test");
    let service = service_on(Arc::new(store));
    let response =
        tessera_introspect::handle(&service, post("/oauth2/introspect", creds::RS, &[("token", "x")])).await.unwrap();
    assert_eq!(response.headers()["retry-after"], "1");
    let (status, answer) = body(response).await;
    assert_eq!((status, answer["error"].as_str()), (503, Some("temporarily_unavailable")));
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        tessera::aws_sdk::MAX_ATTEMPTS as usize,
        "standard retries, bounded"
    );
}

//! template.yaml's IAM policies against the DynamoDB and EventBridge calls each function really makes. The emulator does not
//! enforce IAM, so a call a policy does not grant would pass every other test and fail only in AWS (at init, for
//! a read at cold start). Here every function is built with `bootstrap`, exactly as its `main.rs` does, and a
//! flow that reaches each of its store paths runs through it, behind a proxy that records the IAM action of every
//! request. Each function must be granted every action it used, and use every action it is granted (least
//! privilege, both ways). Skipped without the emulator; a failure in CI.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::{Value, json};
use tessera::bootstrap::{revocation_events_from_env, service_from_env, ssf_receiver_from_env};
use tessera::clock::{Clock, FixedClock, SystemClock};
use tessera::store::RegistrationStore;
use tessera::store::dynamodb::{self, DynamoStore};
use tessera_cli::routes::Route;
use tessera_e2e::client_assertions::{self, ClientKey, claims as assertion_claims};
use tessera_e2e::fault_proxy::FaultProxy;
use tessera_e2e::issuers::{EXCHANGER, auth0, exchange, exchange_config_recording};
use tessera_e2e::{Reply, TestServer, creds, dynamo_store};

/// The bearer token of the test's Shared Signals transmitter.
const SSF_AUTHORIZATION: &str = "ssf-iam-transmitter-token-0123456789abcdef";
/// The private_key_jwt client of the flows.
const PKJ: &str = "iam-pkj-client";

fn set(name: &str, value: &str) {
    // SAFETY: this test binary has a single test, so no other thread reads the environment concurrently.
    unsafe { std::env::set_var(name, value) }
}

/// The `dynamodb:` and `events:` actions each function of template.yaml is granted, by logical id. A line-oriented read:
/// CloudFormation's `!Ref`/`!GetAtt` tags make the file awkward for a YAML library, and the policies are
/// written one action per line (or `Action: dynamodb:X`).
fn granted(template: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut granted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut resource = None;
    let resources = &template[template.find("\nResources:\n").expect("a Resources section")..];
    for line in resources.lines().skip(2) {
        if line.starts_with("  ") && !line.starts_with("   ") && line.trim_end().ends_with(':') {
            resource = Some(line.trim().trim_end_matches(':').to_owned());
        } else if line.starts_with(|c: char| !c.is_whitespace()) {
            break;
        }
        // A `Resource:` line may hold a table or bus ARN (`arn:…:dynamodb:…`), which is not an action; a comment
        // may name an action it grants nothing.
        if line.trim_start().starts_with("Resource:") || line.trim_start().starts_with('#') {
            continue;
        }
        for service in ["dynamodb:", "events:"] {
            if let (Some(resource), Some(at)) = (&resource, line.find(service)) {
                let action: String =
                    line[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == ':').collect();
                granted.entry(resource.clone()).or_default().insert(action);
            }
        }
    }
    granted
}

/// The logical id of the function that serves `route`.
fn function(route: Route) -> &'static str {
    match route {
        Route::Token => "TokenFunction",
        Route::Introspect => "IntrospectFunction",
        Route::Revoke => "RevokeFunction",
        Route::Metadata => "MetadataFunction",
        Route::LocalEvents => "RevocationEventsFunction",
        Route::SsfEvents => "SsfReceiverFunction",
        Route::DemoOrders => "AuthorizerFunction",
        // Never deployed (the operator's `tokens inspect` runs with the operator's credentials); it reads what
        // introspection reads.
        Route::LocalTokenInspect => "IntrospectFunction",
        // Never deployed, and reads nothing: the runner's list of what it announced.
        Route::LocalRevocations => "RevocationEventsFunction",
        // Never deployed, and reads nothing: the request's own client certificate.
        Route::LocalClientCertificate => "MetadataFunction",
    }
}

struct Recorder {
    proxy: FaultProxy,
    used: BTreeMap<&'static str, BTreeSet<String>>,
}

impl Recorder {
    /// Files what the requests since the last call needed under the function of `path`.
    fn charge(&mut self, path: &str) {
        let route = Route::for_path(path).expect("a routed path");
        self.used.entry(function(route)).or_default().extend(self.proxy.take_actions());
    }

    async fn post(&mut self, server: &TestServer, path: &str, client: (&str, &str), form: &[(&str, &str)]) -> Reply {
        let reply = server.post(path, Some(client), form).await;
        self.charge(path);
        reply
    }
}

#[tokio::test]
async fn every_function_is_granted_exactly_the_dynamodb_actions_it_uses() {
    let Some(shared) = dynamo_store().await else { return };
    let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    let granted = granted(&template);
    let functions = [
        "TokenFunction",
        "IntrospectFunction",
        "RevokeFunction",
        "MetadataFunction",
        "RevocationEventsFunction",
        "AuthorizerFunction",
        "SsfReceiverFunction",
    ];
    assert!(
        granted.keys().all(|f| functions.contains(&f.as_str())),
        "only functions are granted DynamoDB or EventBridge: {granted:?}"
    );

    // A table of its own, with clients and a trusted issuer (recording its tokens) written around the proxy.
    let idp = auth0();
    let mut config = exchange_config_recording(&[(&idp, true)]);
    // A private_key_jwt client (RFC 7523): each of its requests spends its assertion's jti with a conditional PutItem.
    let assertion_key = ClientKey::es256("iam-client-1");
    let pkj = format!(
        "[[clients]]\nclient_id = \"{PKJ}\"\ntoken_endpoint_auth_method = \"private_key_jwt\"\njwks = '{}'\n\
         may_introspect = true\n",
        ClientKey::jwks(&[&assertion_key])
    );
    config.clients.extend(tessera::config::Config::from_toml(&pkj).unwrap().clients);
    let table = format!("{}-iam-{}", shared.table(), std::process::id());
    let sdk = tessera::aws_sdk::sdk_config().await;
    let direct = DynamoStore::new(dynamodb::client(&sdk, None), table.clone());
    direct.create_table_if_missing().await.unwrap();
    for client in config.clients(&tessera::entropy::SystemEntropy).unwrap() {
        direct.put_client(client).await.unwrap();
    }
    for entry in &config.trusted_issuers {
        direct.put_trusted_issuer(entry.to_registered().unwrap()).await.unwrap();
    }
    // A Shared Signals transmitter (the identity provider itself), registered as `tessera transmitters import` does.
    let transmitter_key =
        tessera::jwt::keys::SigningKey::generate(tessera::jwt::keys::SigningAlgorithm::ES256, "ssf-iam-1").unwrap();
    let transmitter = tessera::config::SsfTransmitterConfig {
        tenant: Default::default(),
        issuer: idp.issuer.clone(),
        audience: "https://auth.example.com/ssf/events".into(),
        algorithms: vec!["ES256".into()],
        jwks: Some(json!({"keys": [transmitter_key.public_jwk()]}).to_string()),
        jwks_file: None,
        jwks_uri: None,
        authorization: Some(SSF_AUTHORIZATION.into()),
        authorization_hash: None,
        subject_issuers: Vec::new(),
    };
    direct.put_ssf_transmitter(transmitter.to_registered(&tessera::entropy::SystemEntropy).unwrap()).await.unwrap();

    // Each function's init, as its main.rs runs it, through the proxy.
    let upstream = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").expect("the emulator's endpoint");
    let proxy = FaultProxy::start(&upstream).await;
    let key = tessera::jwt::keys::SigningKey::generate(tessera::jwt::keys::SigningAlgorithm::ES256, "iam-1").unwrap();
    let keys = json!({"keys": [{"kid": "iam-1", "alg": "ES256", "private_key_pem": key.to_pkcs8_pem()}]});
    set("AWS_ENDPOINT_URL_DYNAMODB", &proxy.endpoint());
    // Revocations are announced on the account's default bus (template.yaml's default), through the same proxy.
    set("AWS_ENDPOINT_URL_EVENTBRIDGE", &proxy.endpoint());
    set("REVOCATION_EVENT_BUS", "default");
    set("TABLE_NAME", &table);
    set("SIGNING_KEYS_JSON", &keys.to_string());
    set("ISSUER", "https://auth.example.com");
    // SAFETY: as in `set`.
    unsafe { std::env::remove_var("SIGNING_KEYS_SECRET_ARN") };
    let metadata_service = service_from_env().await.unwrap();
    let metadata_init = proxy.take_actions();
    let service = service_from_env().await.unwrap();
    let init = proxy.take_actions();
    assert_eq!(init, BTreeSet::from(["dynamodb:BatchGetItem".to_owned()]), "init reads the trusted issuers once");
    // The authorizer, with its routes from AUTHORIZER_ROUTES as template.yaml sets them.
    set(
        "AUTHORIZER_ROUTES",
        r#"routes = [{ route = "GET /demo/orders", scopes = [], audience = "https://orders.example.com" }]"#,
    );
    let authorizer_service = service_from_env().await.unwrap();
    let authorizer_init = proxy.take_actions();
    assert_eq!(authorizer_init, init, "the authorizer reads the trusted issuers at init as the others do");
    let (_events_store, events_tenants) = revocation_events_from_env().await.unwrap();
    let events_init = proxy.take_actions();
    assert!(events_init.is_empty(), "the revocation-events function reads no table item at init: {events_init:?}");
    assert!(events_tenants.serves(&tessera::domain::tenant::TenantId::default()).await.unwrap());
    // With identity-provider mappings (IdentityEventSources, granted BatchGetItem on that condition), it reads the
    // trusted issuers once at init, to resolve each mapping against its issuer.
    set("IDENTITY_EVENT_SOURCES", &format!(r#"identity_events = [{{ preset = "auth0", issuer = "{}" }}]"#, idp.issuer));
    let (_events_store, mapped) = revocation_events_from_env().await.unwrap();
    let mapped_init = proxy.take_actions();
    assert_eq!(mapped_init, init, "with mappings, the trusted issuers are read at init");
    assert!(!mapped.identity_events().is_empty());
    // SAFETY: as in `set`.
    unsafe { std::env::remove_var("IDENTITY_EVENT_SOURCES") };

    // The SSF receiver reads the trusted issuers, then the tenants' transmitters, once each at init.
    let ssf_service = ssf_receiver_from_env().await.unwrap();
    let ssf_init = proxy.take_actions();
    assert_eq!(ssf_init, init, "the SSF receiver reads its items at init with BatchGetItem");
    assert!(!ssf_service.ssf_transmitters().is_empty(), "the table's transmitter is served");

    assert_eq!(metadata_init, init, "the metadata function reads the trusted issuers as the others do");
    let mut rec = Recorder { proxy, used: BTreeMap::new() };
    rec.used.entry("MetadataFunction").or_default().extend(metadata_init.iter().cloned());
    rec.used.entry("RevocationEventsFunction").or_default().extend(mapped_init.iter().cloned());
    rec.used.entry("SsfReceiverFunction").or_default().extend(ssf_init.iter().cloned());
    for http_function in ["TokenFunction", "IntrospectFunction", "RevokeFunction", "AuthorizerFunction"] {
        rec.used.entry(http_function).or_default().extend(init.iter().cloned());
    }
    let server = TestServer::start_with(service, Arc::new(FixedClock::at(SystemClock.now())), Arc::new(direct)).await;
    let now = SystemClock.now().as_secs();
    let cc = [("grant_type", "client_credentials")];

    // Token: JWT and opaque client credentials; a token exchange with a refresh token; a refresh (rotation);
    // the spent refresh token presented again (reuse: the family's watermark).
    let jwt = rec.post(&server, "/oauth2/token", creds::JWT, &cc).await.json()["access_token"].clone();
    let opaque = rec.post(&server, "/oauth2/token", creds::OPAQUE, &cc).await.json()["access_token"].clone();
    let subject_token = idp.sign(&idp.claims("alice", now));
    let exchanged = exchange(&server, EXCHANGER, &subject_token, &[]).await;
    rec.charge("/oauth2/token");
    assert_eq!(exchanged.status, 200, "{}", exchanged.text);
    let first_refresh = exchanged.json()["refresh_token"].as_str().unwrap().to_owned();
    let refresh = [("grant_type", "refresh_token"), ("refresh_token", first_refresh.as_str())];
    let refreshed = rec.post(&server, "/oauth2/token", EXCHANGER, &refresh).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    let reused = rec.post(&server, "/oauth2/token", EXCHANGER, &refresh).await;
    assert_eq!(reused.status, 400, "{}", reused.text);

    // Introspection: each kind of token, the external JWT recorded on first sight.
    let external = idp.sign(&idp.claims("bob", now));
    for token in [jwt.as_str().unwrap(), opaque.as_str().unwrap(), &external, &first_refresh, "garbage"] {
        let reply = rec.post(&server, "/oauth2/introspect", creds::RS, &[("token", token)]).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }

    // The authorizer: a JWT and an opaque token on its route (the runner's demo route runs its handler); the opaque
    // token's audience is the issuer, not the route's, so it is read and denied.
    let authorizer = TestServer::start_with(
        authorizer_service,
        Arc::new(FixedClock::at(SystemClock.now())),
        Arc::new(tessera::store::memory::MemoryStore::new()),
    )
    .await;
    for (token, status) in [(jwt.as_str().unwrap(), 200), (opaque.as_str().unwrap(), 403)] {
        let reply = authorizer.send("GET", "/demo/orders", &[("authorization", format!("Bearer {token}"))], "").await;
        assert_eq!(reply.status, status, "{}", reply.text);
        rec.charge("/demo/orders");
    }
    // A DPoP-bound JWT (RFC 9449): the token endpoint spends its proof's jti, and so does the authorizer for the
    // proof of each request (a conditional PutItem each).
    let dpop_key = tessera_e2e::dpop_proofs::DpopKey::new(5);
    let proof = dpop_key.proof("POST", &format!("{}/oauth2/token", server.base), now, None);
    let headers = [
        ("content-type", "application/x-www-form-urlencoded".to_owned()),
        ("authorization", tessera_e2e::basic(creds::JWT.0, creds::JWT.1)),
        ("dpop", proof),
    ];
    let bound = server.send("POST", "/oauth2/token", &headers, tessera_e2e::form(&cc)).await;
    rec.charge("/oauth2/token");
    assert_eq!((bound.status, bound.json()["token_type"].as_str()), (200, Some("DPoP")), "{}", bound.text);
    let bound = bound.json()["access_token"].as_str().unwrap().to_owned();
    let proof = dpop_key.proof("GET", &format!("{}/demo/orders", authorizer.base), now, Some(&bound));
    let headers = [("authorization", format!("DPoP {bound}")), ("dpop", proof)];
    let reply = authorizer.send("GET", "/demo/orders", &headers, "").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    rec.charge("/demo/orders");

    // private_key_jwt at each endpoint that authenticates clients: the jti's conditional PutItem beside the read.
    let assertion =
        |path: &str| assertion_key.sign(&assertion_claims(PKJ, &format!("https://auth.example.com{path}"), now));
    let cc = [("grant_type", "client_credentials")];
    let issued = client_assertions::post(&server, "/oauth2/token", &assertion("/oauth2/token"), &cc).await;
    assert_eq!(issued.status, 200, "{}", issued.text);
    rec.charge("/oauth2/token");
    let own = issued.json()["access_token"].as_str().unwrap().to_owned();
    let introspected =
        client_assertions::post(&server, "/oauth2/introspect", &assertion("/oauth2/introspect"), &[("token", &own)])
            .await;
    assert_eq!(introspected.json()["active"], true, "{}", introspected.text);
    rec.charge("/oauth2/introspect");
    let revoked =
        client_assertions::post(&server, "/oauth2/revoke", &assertion("/oauth2/revoke"), &[("token", &own)]).await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    rec.charge("/oauth2/revoke");

    // Revocation: a JWT (denylist entry), an opaque token and a refresh token (marked revoked).
    for (client, token) in [(creds::JWT, jwt.as_str().unwrap()), (creds::OPAQUE, opaque.as_str().unwrap())] {
        assert_eq!(rec.post(&server, "/oauth2/revoke", client, &[("token", token)]).await.status, 200);
    }
    let second_refresh = refreshed.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(rec.post(&server, "/oauth2/revoke", EXCHANGER, &[("token", &second_refresh)]).await.status, 200);

    // Metadata and JWKS, on the metadata function's own service.
    let metadata = TestServer::start_with(
        metadata_service,
        Arc::new(FixedClock::at(SystemClock.now())),
        Arc::new(tessera::store::memory::MemoryStore::new()),
    )
    .await;
    for path in ["/.well-known/oauth-authorization-server", "/.well-known/jwks.json"] {
        let reply = metadata.send("GET", path, &[], "").await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert!(reply.text.contains("https://auth.example.com") || reply.text.contains("iam-1"), "{}", reply.text);
        rec.charge(path);
    }

    // A SET pushed to the SSF receiver: its jti used once (PutItem), the subject's watermark raised with its
    // seen-event item (a transaction of UpdateItem and PutItem).
    let receiver = TestServer::start_with(
        ssf_service,
        Arc::new(FixedClock::at(SystemClock.now())),
        Arc::new(tessera::store::memory::MemoryStore::new()),
    )
    .await;
    let set = transmitter_key
        .sign_jwt(
            "secevent+jwt",
            &json!({"iss": idp.issuer, "aud": "https://auth.example.com/ssf/events", "iat": now,
                "jti": format!("iam-set-{now}"), "events": {
                    "https://schemas.openid.net/secevent/caep/event-type/session-revoked": {
                        "subject": {"format": "iss_sub", "iss": idp.issuer, "sub": "carol"}}}}),
        )
        .unwrap();
    let headers = [
        ("content-type", "application/secevent+jwt".to_owned()),
        ("authorization", format!("Bearer {SSF_AUTHORIZATION}")),
    ];
    let reply = receiver.send("POST", "/ssf/events", &headers, set).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    rec.charge("/ssf/events");

    // A revocation event, as EventBridge delivers it.
    let event: Value = json!({"version": "0", "id": format!("iam-{now}"), "detail-type": "tessera.revoke",
        "source": "com.example.identity", "account": "123456789012", "time": "2026-11-22T10:00:00Z",
        "region": "eu-west-1", "resources": [],
        "detail": {"event_id": format!("iam-{now}"), "subject": "alice", "reason": "iam_test"}});
    let reply = server.send_event(&event).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    rec.charge(tessera_cli::routes::LOCAL_EVENTS_PATH);
    // Delivered again: nothing written, the seen event read back, and announced again.
    let reply = server.send_event(&event).await;
    assert_eq!(reply.json()["written"], false, "{}", reply.text);
    rec.charge(tessera_cli::routes::LOCAL_EVENTS_PATH);

    for function in functions {
        let granted = granted.get(function).cloned().unwrap_or_default();
        let used = rec.used.get(function).cloned().unwrap_or_default();
        let missing: Vec<_> = used.difference(&granted).collect();
        let unused: Vec<_> = granted.difference(&used).collect();
        assert!(missing.is_empty(), "{function} calls {missing:?}, which template.yaml does not grant it");
        assert!(unused.is_empty(), "{function} is granted {unused:?}, which it never used");
    }
}

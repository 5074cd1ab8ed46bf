//! Every `events/*.json` (what `sam local invoke -e` feeds) goes through its function's handler, on a fresh
//! embedded store seeded with the demo clients and the sample tokens the events carry: the API Gateway HTTP API
//! (payload v2) events with `lambda_http::request::from_str`, the `revocation-*` EventBridge and SQS events as
//! the JSON the revocation-events function receives, the `authorizer-*` API Gateway authorizer events as the
//! JSON the authorizer function receives.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use lambda_http::request::from_str;
use serde_json::{Value, json};
use tessera::TokenService;
use tessera::clock::{Clock, FixedClock};
use tessera::config::Config;
use tessera::domain::client::ClientId;
use tessera::domain::grant::Grant;
use tessera::domain::scope::ScopeSet;
use tessera::domain::tenant::TenantId;
use tessera::domain::time::Timestamp;
use tessera::domain::token::{OpaqueToken, TokenRecord};
use tessera::entropy::SystemEntropy;
use tessera::store::memory::MemoryStore;
use tessera::store::{Record, TokenStore};
use tessera::tenancy::ServedTenant;
use tessera_cli::routes::Route;
use tessera_e2e::test_config_toml;

/// The opaque access token of the sample events, issued to `demo-opaque`.
const SAMPLE_OPAQUE: &str = "tsr_at_Ae-l4raprfuNpa5bpluuUFkmXf_6d-nd8xNdSHMVoDNZJl3_-nfp3fMTXUhzFaAz1b1kylZOFqgNiL85B8jqQIVPDgsCrlJZDdlKKltBKsQMcAmKg";

/// The opaque access token of `authorizer-http-revoked.json`, issued to `demo-opaque` and revoked.
const SAMPLE_REVOKED: &str = "tsr_at_CwLlNqFO1hqwSbhWrdY__FkmXf_6d-nd8xNdSHMVoDNZJl3_-nfp3fMTXUhzFaAzfVVryG2anILtwc1paZhsNHh_0MBz5yYMVkiU4C-axO0_1gTmA";

/// The audience of the protected API the `authorizer-*` events come from.
const ORDERS: &str = "https://orders.example.com";

/// The refresh token of `token-refresh.json`, issued to `exchanger` for the sample user.
const SAMPLE_REFRESH: &str = "tsr_rt_zwSOqZrkv13aVdyGs9VeNihowy7QuU4HzeK0P6f4eUCbDEvG7Vqa-Q3T5-FEtuO9Wzr6cznAML-X-Df7z706tHVkOE1rcWl26GwDxZ5IrkMjtqiFQ";

/// The RFC 7638 thumbprint of the key that signed the DPoP proof of `token-dpop.json`.
const SAMPLE_DPOP_JKT: &str = "SrXmZHPlIPOBsVIRoLx-IabnwUG3xZ1SlLNhAIFgPKs";

/// The `x5t#S256` of the client certificate of `token-mtls.json` (`openssl x509 -outform der | openssl dgst -sha256
/// -binary | basenc --base64url`, without padding).
const SAMPLE_X5T: &str = "qPnaMgncD8BRyFlMFVzjOLcQnJMIaxSQy1tfldMyWFA";
/// The message of `revocation-sqs-batch.json` that misspells its target.
const BAD_MESSAGE_ID: &str = "2e1424d4-f796-459a-8184-9c92662be6da";

/// When the sample events were sent (`requestContext.timeEpoch`); the clock is pinned there, so the sample
/// subject token of `token-exchange.json` is valid.
const EVENT_TIME: u64 = 1_795_341_600;

/// The sample identity provider whose subject token `token-exchange.json` carries (its public key only), and the
/// `private_key_jwt` client whose assertion `token-private-key-jwt.json` carries (its public key only).
const SAMPLE_IDP: &str = r#"
[[clients]]
client_id = "exchanger"
client_secret = "exchanger-secret-0123456789abcdef"
scopes = ["profile:read"]
grant_types = ["urn:ietf:params:oauth:grant-type:token-exchange", "refresh_token"]

[[clients]]
client_id = "sample-billing"
token_endpoint_auth_method = "tls_client_auth"
tls_client_auth_subject_dn = "CN=sample-billing,O=Example,C=GB"
tls_client_certificate_bound_access_tokens = true
scopes = ["orders:read"]

[[clients]]
client_id = "sample-batch"
token_endpoint_auth_method = "private_key_jwt"
jwks = '{"keys": [{"kty": "EC", "crv": "P-256", "x": "Ir5Kv7bYjBBJmD59NfEDYFrxQls4LeumXg9N8nB8JT4", "y": "190Nkf79c2QdQbw4xdC9j8CHkiTz8knv3rTOkouMlkA", "kid": "sample-batch-1", "alg": "ES256", "use": "sig"}]}'
scopes = ["orders:read"]

[[tenants]]
name = "acme"

[[clients]]
tenant = "acme"
client_id = "acme-svc"
client_secret = "acme-svc-secret-0123456789abcdef01"
scopes = ["orders:read"]

[[trusted_issuers]]
issuer = "https://sample-idp.example.com/"
audiences = ["https://api.example.com"]
algorithms = ["ES256"]
jwks = '{"keys": [{"kty": "EC", "crv": "P-256", "x": "rFlvkzfwx7fAnKJ-_LxD4YvZ9ZM3ScSOZ9rnA7f0nAY", "y": "qDa5JJVGl4S0C4ceVbWH0qdq-2sLQiaUi3gvI9cSqP8", "kid": "sample-idp-1", "alg": "ES256", "use": "sig"}]}'
username_claim = "email"
claims_mapping = { email = "email", given_name = "given_name" }

[[trusted_issuers]]
issuer = "https://sample-org.okta.com/oauth2/default"
audiences = ["api://default"]
algorithms = ["ES256"]
jwks = '{"keys": [{"kty": "EC", "crv": "P-256", "x": "rFlvkzfwx7fAnKJ-_LxD4YvZ9ZM3ScSOZ9rnA7f0nAY", "y": "qDa5JJVGl4S0C4ceVbWH0qdq-2sLQiaUi3gvI9cSqP8", "kid": "sample-okta-1", "alg": "ES256", "use": "sig"}]}'
subject_claim = "uid"

[[identity_events]]
preset = "auth0"
issuer = "https://sample-idp.example.com/"

[[ssf_transmitters]]
issuer = "https://sample-idp.example.com/"
audience = "https://abc123def4.execute-api.eu-west-1.amazonaws.com/ssf/events"
algorithms = ["ES256"]
jwks = '{"keys": [{"kty": "EC", "crv": "P-256", "x": "g-yYnGyAep56-T54kIOq5g4WvWenteh0FY592UPjzpU", "y": "L4NSSDXZfASkzJegEEKCGqtLXdNr-gCkhhUoiZ2tziM", "kid": "sample-ssf-1", "alg": "ES256", "use": "sig"}]}'
authorization = "ssf-sample-transmitter-token-0123456789abcdef"

[[identity_events]]
preset = "okta"
issuer = "https://sample-org.okta.com/oauth2/default"

[[authorizer.routes]]
route = "GET /orders/{id}"
scopes = ["orders:read"]
audience = "https://orders.example.com"

[[authorizer.routes]]
route = "POST /orders"
scopes = ["orders:read", "orders:write"]
audience = "https://orders.example.com"
"#;

/// The issuer of the sample deployment the events come from.
const ISSUER: &str = "https://abc123def4.execute-api.eu-west-1.amazonaws.com";

/// The status an event must get, and a check of the body. An authorizer event has no status of its own: 200
/// stands for the answer it returns, 401 for the `Unauthorized` error (API Gateway's 401), 500 for any other
/// error, whose message is checked as `{"error": …}`.
type Expectation = (u16, fn(&Value));

/// Expected status per event file, and what the body must show.
fn expectations() -> BTreeMap<&'static str, Expectation> {
    fn token_issued(b: &Value) {
        assert_eq!(b["token_type"], "Bearer");
        assert!(b["access_token"].is_string());
    }
    fn error(code: &'static str) -> impl Fn(&Value) {
        move |b| assert_eq!(b["error"], code)
    }
    let mut map: BTreeMap<&'static str, Expectation> = BTreeMap::new();
    map.insert(
        "token-client-credentials-jwt.json",
        (200, |b| {
            token_issued(b);
            assert_eq!(b["scope"], "orders:read");
            assert_eq!(b["access_token"].as_str().unwrap().matches('.').count(), 2);
        }),
    );
    map.insert(
        "token-client-credentials-opaque-post.json",
        (200, |b| {
            token_issued(b);
            assert!(b["access_token"].as_str().unwrap().starts_with("tsr_at_"));
        }),
    );
    map.insert(
        "token-dpop.json",
        (200, |b| {
            // RFC 9449 §5, §6.1: the sample proof (signed with Python's `cryptography`, at the event's time) binds
            // the JWT to its key.
            assert_eq!(b["token_type"], "DPoP");
            let claims: Value =
                jsonwebtoken::dangerous::insecure_decode_claims(b["access_token"].as_str().unwrap()).unwrap();
            assert_eq!(claims["cnf"], json!({"jkt": SAMPLE_DPOP_JKT}));
        }),
    );
    map.insert(
        "token-mtls.json",
        (200, |b| {
            // RFC 8705 §2.1, §3.1: on the mutual-TLS custom domain, `sample-billing` is authenticated by the client
            // certificate API Gateway put in the request context (made with Python's `cryptography`, issued by a
            // sample CA, valid 2026 to 2126, subject as registered), and its token is bound to that certificate; the
            // issuer stays the configured one.
            token_issued(b);
            let claims: Value =
                jsonwebtoken::dangerous::insecure_decode_claims(b["access_token"].as_str().unwrap()).unwrap();
            assert_eq!(claims["cnf"], json!({"x5t#S256": SAMPLE_X5T}));
            assert_eq!(claims["iss"], ISSUER);
        }),
    );
    map.insert("token-bad-secret.json", (401, |b| error("invalid_client")(b)));
    map.insert("token-unsupported-grant-type.json", (400, |b| error("unsupported_grant_type")(b)));
    map.insert("token-invalid-scope.json", (400, |b| error("invalid_scope")(b)));
    map.insert(
        "introspect-active-opaque.json",
        (200, |b| {
            assert_eq!(b["active"], true);
            assert_eq!(b["client_id"], "demo-opaque");
            assert_eq!(b["iss"], ISSUER);
        }),
    );
    map.insert("introspect-garbage-token.json", (200, |b| assert_eq!(b, &serde_json::json!({"active": false}))));
    map.insert("introspect-missing-token.json", (400, |b| error("invalid_request")(b)));
    map.insert("introspect-forbidden-caller.json", (403, |b| error("unauthorized_client")(b)));
    map.insert("revoke-opaque.json", (200, |b| assert_eq!(b, &Value::Null)));
    map.insert("revoke-bad-secret.json", (401, |b| error("invalid_client")(b)));
    map.insert("revoke-unknown-token.json", (200, |b| assert_eq!(b, &Value::Null)));
    map.insert(
        "metadata-authorization-server.json",
        (200, |b| {
            assert_eq!(b["issuer"], ISSUER);
            assert_eq!(b["introspection_endpoint"], format!("{ISSUER}/oauth2/introspect"));
        }),
    );
    map.insert(
        "token-exchange.json",
        (200, |b| {
            token_issued(b);
            assert_eq!(b["issued_token_type"], "urn:ietf:params:oauth:token-type:access_token");
            assert!(b["refresh_token"].as_str().unwrap().starts_with("tsr_rt_"));
        }),
    );
    // RFC 7523 §2.2: `sample-batch` authenticates with an assertion its key signed (by joserfc, for the token
    // endpoint of the sample deployment, at the events' time).
    map.insert(
        "token-private-key-jwt.json",
        (200, |b| {
            token_issued(b);
            assert_eq!(b["scope"], "orders:read");
        }),
    );
    map.insert(
        "token-refresh.json",
        (200, |b| {
            token_issued(b);
            assert_ne!(b["refresh_token"], SAMPLE_REFRESH, "rotated");
        }),
    );
    map.insert("metadata-jwks.json", (200, |b| assert_eq!(b["keys"][0]["kty"], "EC")));
    // RFC 9110 §9.3.2: HEAD answers as GET would, without content.
    map.insert("metadata-jwks-head.json", (200, |b| assert_eq!(b, &Value::Null)));
    map.insert(
        "token-tenant-client-credentials.json",
        (200, |b| {
            token_issued(b);
            let claims: Value =
                jsonwebtoken::dangerous::insecure_decode_claims(b["access_token"].as_str().unwrap()).unwrap();
            assert_eq!(claims["iss"], format!("{ISSUER}/t/acme"));
            assert_eq!(claims["client_id"], "acme-svc");
        }),
    );
    map.insert(
        "metadata-tenant-rfc8414.json",
        (200, |b| {
            assert_eq!(b["issuer"], format!("{ISSUER}/t/acme"));
            assert_eq!(b["token_endpoint"], format!("{ISSUER}/t/acme/oauth2/token"));
        }),
    );
    map.insert(
        "revocation-eventbridge-subject.json",
        (200, |b| {
            assert_eq!(b["event_id"], "password-changed-0001");
            assert_eq!(b["written"], true);
        }),
    );
    map.insert(
        "authorizer-http-allow.json",
        (200, |b| {
            let context = serde_json::json!({"sub": "demo-opaque", "client_id": "demo-opaque", "scope": "orders:read",
                "tenant": "default", "jti": "", "username": ""});
            assert_eq!(b, &serde_json::json!({"isAuthorized": true, "context": context}));
        }),
    );
    map.insert(
        "authorizer-http-revoked.json",
        (200, |b| assert_eq!(b, &serde_json::json!({"isAuthorized": false, "context": {}}))),
    );
    map.insert(
        "authorizer-rest-token-scope.json",
        (200, |b| {
            assert_eq!(b["policyDocument"]["Statement"][0]["Effect"], "Deny");
            assert_eq!(
                b["policyDocument"]["Statement"][0]["Resource"][0],
                "arn:aws:execute-api:eu-west-1:123456789012:q1w2e3r4t5/prod/POST/orders"
            );
        }),
    );
    map.insert("authorizer-rest-token-garbage.json", (401, |b| assert_eq!(b["error"], "Unauthorized")));
    map.insert(
        "authorizer-rest-request-allow.json",
        (200, |b| {
            assert_eq!(b["principalId"], "demo-opaque");
            let statement = &b["policyDocument"]["Statement"][0];
            assert_eq!(
                (&statement["Effect"], &statement["Action"][0]),
                (&"Allow".into(), &"execute-api:Invoke".into())
            );
            assert_eq!(
                statement["Resource"][0],
                "arn:aws:execute-api:eu-west-1:123456789012:q1w2e3r4t5/prod/GET/orders/42"
            );
            assert_eq!(b["context"]["scope"], "orders:read");
        }),
    );
    map.insert(
        "revocation-idp-auth0-password-change.json",
        (200, |b| {
            assert_eq!(b, &serde_json::json!({"event_id": "a8f1c0de-4b2f-4f3a-9c55-auth0-scp", "written": true}))
        }),
    );
    map.insert(
        "revocation-idp-auth0-login.json",
        (200, |b| assert_eq!(b, &serde_json::json!({"event_id": "0d3b4a77-6c1e-4d0b-8f2a-auth0-s", "ignored": "s"}))),
    );
    map.insert(
        "revocation-idp-okta-user-deactivate.json",
        (200, |b| assert_eq!(b, &serde_json::json!({"event_id": "6b1f9a2e-okta-deactivate", "written": true}))),
    );
    // The `ssf-push-*` events: SETs the sample identity provider pushes as a Shared Signals transmitter (signed
    // with joserfc, an independent signer, at the events' time). 202 has no body (RFC 8935 §2.2).
    for accepted in [
        "ssf-push-session-revoked.json",
        "ssf-push-credential-change.json",
        "ssf-push-account-disabled.json",
        "ssf-push-verification.json",
    ] {
        map.insert(accepted, (202, |b| assert_eq!(b, &Value::Null)));
    }
    map.insert("ssf-push-wrong-audience.json", (400, |b| assert_eq!(b["err"], "invalid_audience")));
    map.insert("ssf-push-bad-authorization.json", (401, |b| assert_eq!(b["err"], "authentication_failed")));
    map.insert("ssf-push-wrong-media-type.json", (415, |b| assert_eq!(b["err"], "invalid_request")));
    map.insert(
        "revocation-sqs-batch.json",
        (200, |b| assert_eq!(b["batchItemFailures"], serde_json::json!([{"itemIdentifier": BAD_MESSAGE_ID}]))),
    );
    map
}

/// The service of the sample deployment. No issuer configured: it comes from the API Gateway domain of each event,
/// as in a default deployment.
async fn seeded_service() -> TokenService {
    seeded_service_with_issuer(None).await
}

/// The service the authorizer of the sample deployment runs: the issuer set, as template.yaml sets it (the
/// authorizer's events come from the protected API's domain, not Tessera's).
async fn authorizer_service() -> TokenService {
    seeded_service_with_issuer(Some(ISSUER)).await
}

async fn seeded_service_with_issuer(issuer: Option<&str>) -> TokenService {
    let clock = Arc::new(FixedClock::at(Timestamp::from_secs(EVENT_TIME)));
    let now = clock.now();
    let config = Config::from_toml(&format!("{}{SAMPLE_IDP}", test_config_toml())).unwrap();
    let store = Arc::new(MemoryStore::with_clients(config.clients(&SystemEntropy).unwrap()));
    let mut default_tenant = ServedTenant::new(
        issuer.map(str::to_owned),
        tessera::tenancy::key_document::key_ring_or_generated(&config.signing_keys, "sample-1").unwrap(),
    );
    default_tenant.trusted_issuers =
        tessera::tenancy::trusted_issuers::trusted_issuers_of(&config, &TenantId::default(), &[]).unwrap().into();
    let acme = ServedTenant::new(
        issuer.map(|issuer| format!("{issuer}/t/acme")),
        tessera::tenancy::key_document::key_ring_or_generated(&config.signing_keys, "acme-sample-1").unwrap(),
    );
    let service = TokenService::new(store.clone(), clock, Arc::new(SystemEntropy))
        .with_tenant(TenantId::default(), default_tenant)
        .with_tenant(TenantId::parse("acme").unwrap(), acme)
        .with_protected_routes(config.authorizer.protected_routes().unwrap())
        .with_identity_events(
            tessera::events::identity_provider::IdentityEventSources::new(&config.identity_events, |tenant, issuer| {
                let trusted = config.trusted_issuers.iter().find(|t| &t.tenant == tenant && t.issuer == issuer);
                trusted.map(|t| t.subject_claim.clone())
            })
            .unwrap(),
        )
        .with_ssf_transmitters(&config, &[])
        .await
        .unwrap();
    for (sample, revoked_at) in [(SAMPLE_OPAQUE, None), (SAMPLE_REVOKED, Some(now))] {
        let token = OpaqueToken::parse(sample).expect("the sample token is well-formed");
        store.put_new(Record::Token(demo_opaque_record(&token, now, revoked_at)), now).await.unwrap();
    }
    let refresh = OpaqueToken::parse(SAMPLE_REFRESH).expect("the sample refresh token is well-formed");
    let grant = Grant {
        tenant: TenantId::default(),
        client_id: ClientId::parse("exchanger").unwrap(),
        subject: "auth0|6740d1c03f1c2b9a".into(),
        username: Some("alice@example.com".into()),
        user_details: Default::default(),
        amr: Vec::new(),
        app: Default::default(),
        scope: ScopeSet::parse("profile:read").unwrap(),
        audience: vec![ISSUER.into()],
        family: refresh.family(),
        issued_at: now,
        expires_at: now.plus_secs(86_400),
        confirmation: None,
    };
    store.put_new(Record::Token(TokenRecord::new(&refresh, grant)), now).await.unwrap();
    service
}

/// The record of a sample opaque token of `demo-opaque`: `orders:read`, for the sample issuer and the protected API,
/// issued at `now` for 10 minutes.
fn demo_opaque_record(token: &OpaqueToken, now: Timestamp, revoked_at: Option<Timestamp>) -> TokenRecord {
    TokenRecord {
        token_hash: token.hash(),
        kind: token.kind(),
        grant: Grant {
            tenant: TenantId::default(),
            client_id: ClientId::parse("demo-opaque").unwrap(),
            subject: "demo-opaque".into(),
            username: None,
            user_details: Default::default(),
            amr: Vec::new(),
            app: Default::default(),
            scope: ScopeSet::parse("orders:read").unwrap(),
            audience: vec![ISSUER.into(), ORDERS.into()],
            family: token.family(),
            issued_at: now,
            expires_at: now.plus_secs(600),
            confirmation: None,
        },
        revoked_at,
        rotated_at: None,
    }
}

/// An authorizer event's outcome as an [`Expectation`] sees it.
async fn authorize_event(service: &TokenService, event: Value) -> (u16, Value) {
    match tessera_authorizer::handle(service, event).await {
        Ok(answer) => (200, answer),
        Err(err) if err.downcast_ref::<tessera_authorizer::Unauthorized>().is_some() => {
            (401, serde_json::json!({"error": err.to_string()}))
        }
        Err(err) => (500, serde_json::json!({"error": err.to_string()})),
    }
}

#[tokio::test]
async fn every_event_file_goes_through_its_handler() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let mut expectations = expectations();
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(!files.is_empty());
    for path in files {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let (status, check) = expectations.remove(name.as_str()).unwrap_or_else(|| panic!("{name} has no expectation"));
        if name.starts_with("revocation-") {
            let service = seeded_service().await;
            let event: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let deps = tessera_revocation_events::Deps {
                store: service.store.as_ref(),
                clock: service.clock.as_ref(),
                tenants: &service,
                identity_events: service.identity_events(),
                announcer: service.announcer.as_ref(),
            };
            let answer = tessera_revocation_events::handle(deps, event).await;
            assert_eq!(status, 200, "{name}: revocation events have no status; 200 stands for Ok");
            check(&answer.unwrap_or_else(|e| panic!("{name}: {e}")));
            continue;
        }
        if name.starts_with("authorizer-") {
            let event: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let (got, answer) = authorize_event(&authorizer_service().await, event).await;
            assert_eq!(got, status, "{name}: {answer}");
            check(&answer);
            continue;
        }
        let request = from_str(&std::fs::read_to_string(&path).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"));
        // The file prefix names the function (`sam local invoke <Function> -e`); the path must route there.
        let route = Route::for_path(request.uri().path()).unwrap_or_else(|| panic!("{name}: no route"));
        let expected_route = match name.split('-').next().unwrap() {
            "token" => Route::Token,
            "introspect" => Route::Introspect,
            "revoke" => Route::Revoke,
            "metadata" => Route::Metadata,
            "ssf" => Route::SsfEvents,
            other => panic!("{name}: unknown function prefix {other}"),
        };
        assert_eq!(route, expected_route, "{name}");
        // The mutual-TLS domain serves with the issuer set (template.yaml requires IssuerUrl with MtlsDomainName).
        let service = match name.contains("mtls") {
            true => seeded_service_with_issuer(Some(ISSUER)).await,
            false => seeded_service().await,
        };
        let response = route.handle(&service, request).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null);
        assert_eq!(response.status(), status, "{name}: {body}");
        check(&body);
    }
    assert!(expectations.is_empty(), "expectations without an event file: {:?}", expectations.keys());
}

/// RFC 8705 §2: `token-mtls.json` authenticates by its request context's certificate alone. The same request with
/// the certificate moved into a header (as a client could send it), as another client that registered no such certificate, or with none
/// is `invalid_client` (401), and so is a certificate that cannot be read (it counts as none).
#[tokio::test]
async fn the_mtls_event_needs_its_certificate_in_the_request_context() {
    let service = seeded_service_with_issuer(Some(ISSUER)).await;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/token-mtls.json");
    let event: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let pem = event["requestContext"]["authentication"]["clientCert"]["clientCertPem"].as_str().unwrap().to_owned();
    let send = |event: Value| {
        let service = &service;
        async move {
            let request = from_str(&event.to_string()).unwrap();
            let response = Route::Token.handle(service, request).await.unwrap();
            let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
            (response.status().as_u16(), body["error"].as_str().unwrap_or("").to_owned())
        }
    };
    assert_eq!(send(event.clone()).await.0, 200);
    let mut in_a_header = event.clone();
    in_a_header["requestContext"].as_object_mut().unwrap().remove("authentication");
    in_a_header["headers"]["x-amzn-mtls-clientcert"] = json!(pem.replace('\n', ""));
    assert_eq!(send(in_a_header).await, (401, "invalid_client".into()));
    let mut another = event.clone();
    another["body"] = json!(base64_of("grant_type=client_credentials&client_id=sample-batch"));
    assert_eq!(send(another).await, (401, "invalid_client".into()), "the certificate names sample-billing only");
    let mut unreadable = event.clone();
    unreadable["requestContext"]["authentication"]["clientCert"]["clientCertPem"] =
        json!("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    assert_eq!(send(unreadable).await, (401, "invalid_client".into()));
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// RFC 7523 §3 item 7: the assertion of `token-private-key-jwt.json` is spent by its first use; the same event
/// delivered again is refused (`invalid_client`, 401).
#[tokio::test]
async fn the_private_key_jwt_event_is_refused_when_replayed() {
    let service = seeded_service().await;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/token-private-key-jwt.json");
    let event = || from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let first = Route::Token.handle(&service, event()).await.unwrap();
    assert_eq!(first.status(), 200);
    let again = Route::Token.handle(&service, event()).await.unwrap();
    assert_eq!(again.status(), 401);
    assert!(again.headers().contains_key("www-authenticate"));
}

#[tokio::test]
async fn the_revoke_event_makes_the_introspect_event_answer_inactive() {
    let service = seeded_service().await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let event = |name: &str| from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap();
    let before = tessera_introspect::handle(&service, event("introspect-active-opaque.json")).await.unwrap();
    assert!(String::from_utf8_lossy(before.body().as_ref()).contains(r#""active":true"#));
    let revoked = tessera_revoke::handle(&service, event("revoke-opaque.json")).await.unwrap();
    assert_eq!(revoked.status(), 200);
    let after = tessera_introspect::handle(&service, event("introspect-active-opaque.json")).await.unwrap();
    assert_eq!(after.body().as_ref(), br#"{"active":false}"#);
}

/// The sample token the authorizer allows (`authorizer-http-allow.json`) is denied once `revoke-opaque.json` has
/// revoked it, and the REST event with it too, at once.
#[tokio::test]
async fn the_revoke_event_makes_the_authorizer_events_deny() {
    let service = authorizer_service().await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let json =
        |name: &str| -> Value { serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap() };
    assert_eq!(authorize_event(&service, json("authorizer-http-allow.json")).await.1["isAuthorized"], true);
    let rest = authorize_event(&service, json("authorizer-rest-request-allow.json")).await.1;
    assert_eq!(rest["policyDocument"]["Statement"][0]["Effect"], "Allow");
    let revoke = from_str(&std::fs::read_to_string(dir.join("revoke-opaque.json")).unwrap()).unwrap();
    assert_eq!(tessera_revoke::handle(&service, revoke).await.unwrap().status(), 200);
    assert_eq!(authorize_event(&service, json("authorizer-http-allow.json")).await.1["isAuthorized"], false);
    let rest = authorize_event(&service, json("authorizer-rest-request-allow.json")).await;
    assert_eq!(rest, (401, serde_json::json!({"error": "Unauthorized"})), "a revoked token is no valid token");
}

/// `sam local invoke AuthorizerFunction` gets the routes the `authorizer-*` events are for.
#[test]
fn the_sam_local_environment_protects_the_events_routes() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sam-local-env.json");
    let env: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let routes = env["AuthorizerFunction"]["AUTHORIZER_ROUTES"].as_str().expect("the authorizer's routes");
    let routes = tessera::config::AuthorizerConfig::from_toml(routes).unwrap().protected_routes().unwrap();
    let config = Config::from_toml(&format!("{}{SAMPLE_IDP}", test_config_toml())).unwrap();
    let events = config.authorizer.protected_routes().unwrap();
    for key in ["GET /orders/{id}", "POST /orders"] {
        assert_eq!(routes.by_route_key(key), events.by_route_key(key), "{key}");
    }
    assert_eq!(env["AuthorizerFunction"]["ISSUER"], ISSUER);
}

/// The sample revocation events revoke what they name, and only that; re-delivering them changes nothing.
#[tokio::test]
async fn the_revocation_events_revoke_what_they_name_once() {
    let service = seeded_service().await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let http = |name: &str| from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap();
    let json =
        |name: &str| -> Value { serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap() };
    let deliver = async |name: &str| {
        let deps = tessera_revocation_events::Deps {
            store: service.store.as_ref(),
            clock: service.clock.as_ref(),
            tenants: &service,
            identity_events: service.identity_events(),
            announcer: service.announcer.as_ref(),
        };
        tessera_revocation_events::handle(deps, json(name)).await.unwrap()
    };
    let introspect_opaque = async || {
        let response = tessera_introspect::handle(&service, http("introspect-active-opaque.json")).await.unwrap();
        String::from_utf8_lossy(response.body().as_ref()).contains(r#""active":true"#)
    };
    // The clock stands at the tokens' issue instant: a watermark at it covers them (`issued_at <= mark`).
    assert_eq!(deliver("revocation-eventbridge-subject.json").await["written"], true);
    // The sample user's refresh token is dead; the demo-opaque token (another subject) is not.
    let refresh = tessera_token::handle(&service, http("token-refresh.json")).await.unwrap();
    assert_eq!(refresh.status(), 400);
    assert!(introspect_opaque().await);
    // The SQS batch revokes the demo-opaque client; its misspelt message is reported, not dropped.
    let batch = deliver("revocation-sqs-batch.json").await;
    assert_eq!(batch["batchItemFailures"][0]["itemIdentifier"], BAD_MESSAGE_ID);
    assert!(!introspect_opaque().await);
    // Re-delivery: nothing is written again.
    assert_eq!(deliver("revocation-eventbridge-subject.json").await["written"], false);
}

#[tokio::test]
async fn an_auth0_password_change_revokes_the_users_tokens_and_a_login_revokes_nothing() {
    let service = seeded_service().await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let http = |name: &str| from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap();
    let json =
        |name: &str| -> Value { serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap() };
    let deps = tessera_revocation_events::Deps {
        store: service.store.as_ref(),
        clock: service.clock.as_ref(),
        tenants: &service,
        identity_events: service.identity_events(),
        announcer: service.announcer.as_ref(),
    };
    // A login (Auth0 log type `s`) is acknowledged and revokes nothing: the sample user's refresh token still works.
    let login = tessera_revocation_events::handle(deps, json("revocation-idp-auth0-login.json")).await.unwrap();
    assert_eq!(login["ignored"], "s");
    // The same event through SQS (what a rule targeting the queue delivers): acknowledged, not a batch failure.
    let batch = json!({"Records": [{"messageId": "m-1", "body": json("revocation-idp-auth0-login.json").to_string(),
        "eventSource": "aws:sqs"}]});
    assert_eq!(tessera_revocation_events::handle(deps, batch).await.unwrap()["batchItemFailures"], json!([]));
    // The password change (`scp`) names auth0|6740d1c03f1c2b9a, the subject the sample issuer's tokens carry
    // (its subject_claim is `sub`): every token of it dies, the refresh token included.
    let changed = tessera_revocation_events::handle(deps, json("revocation-idp-auth0-password-change.json")).await;
    assert_eq!(changed.unwrap()["written"], true);
    let refresh = tessera_token::handle(&service, http("token-refresh.json")).await.unwrap();
    assert_eq!(refresh.status(), 400, "the user's refresh token is revoked");
    // An event of a revoking type that names no user is malformed: it goes to the dead-letter queue.
    let mut anonymous = json("revocation-idp-auth0-password-change.json");
    anonymous["detail"]["data"].as_object_mut().unwrap().remove("user_id");
    let err = tessera_revocation_events::handle(deps, anonymous).await.unwrap_err();
    assert!(err.to_string().contains("names no single user"), "{err}");
}

/// RFC 8935 §2.2: the sample transmitter's CAEP session-revoked push is accepted (202) and revokes every token of
/// the user it names (`iss_sub` of the sample issuer, whose subject claim is `sub`): the refresh token dies. Pushed
/// again (a retry), it is acknowledged again and changes nothing; the verification event revokes nothing.
#[tokio::test]
async fn the_ssf_session_revoked_push_revokes_the_users_tokens_once() {
    let service = seeded_service().await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let http = |name: &str| from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap();
    let verified = tessera_ssf_receiver::handle(&service, http("ssf-push-verification.json")).await.unwrap();
    assert_eq!(verified.status(), 202);
    let refused = tessera_ssf_receiver::handle(&service, http("ssf-push-wrong-audience.json")).await.unwrap();
    assert_eq!(refused.status(), 400);
    assert_eq!(tessera_token::handle(&service, http("token-refresh.json")).await.unwrap().status(), 200);
    // The refresh rotated the sample refresh token: seed it again, so that only the push can stop it now.
    let service = seeded_service().await;
    let pushed = tessera_ssf_receiver::handle(&service, http("ssf-push-session-revoked.json")).await.unwrap();
    assert_eq!(pushed.status(), 202);
    let refresh = tessera_token::handle(&service, http("token-refresh.json")).await.unwrap();
    assert_eq!(refresh.status(), 400, "the user's refresh token is revoked");
    let again = tessera_ssf_receiver::handle(&service, http("ssf-push-session-revoked.json")).await.unwrap();
    assert_eq!(again.status(), 202, "a replayed SET is acknowledged again");
}

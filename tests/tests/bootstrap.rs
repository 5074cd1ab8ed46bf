//! The wiring every function's `main.rs` runs: `bootstrap::service_from_env` with the variables the SAM
//! template sets. One test, so the process environment is changed by one thread only.

use lambda_http::http::header::{AUTHORIZATION, CONTENT_TYPE};
use lambda_http::{Body, Request};
use tessera::bootstrap::{service_from_env, service_from_env_on_clock};
use tessera::store::RegistrationStore;
use tessera_e2e::{basic, creds, dynamo_store, form, test_config};

fn token_request() -> Request {
    lambda_http::http::Request::builder()
        .method("POST")
        .uri("/oauth2/token")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(AUTHORIZATION, basic(creds::JWT.0, creds::JWT.1))
        .body(Body::Text(form(&[("grant_type", "client_credentials")])))
        .unwrap()
}

fn set(name: &str, value: &str) {
    // SAFETY: this test binary has a single test, so no other thread reads the environment concurrently.
    unsafe { std::env::set_var(name, value) }
}

fn unset(name: &str) {
    // SAFETY: as above.
    unsafe { std::env::remove_var(name) }
}

#[tokio::test]
async fn functions_build_their_service_from_the_environment() {
    let key = tessera::jwt::keys::SigningKey::generate(tessera::jwt::keys::SigningAlgorithm::EdDSA, "env-1").unwrap();
    let doc = serde_json::json!({"keys": [{"kid": "env-1", "alg": "EdDSA", "private_key_pem": key.to_pkcs8_pem()}]});

    // Without signing keys a function refuses to start: each instance would mint its own key.
    unset("TABLE_NAME");
    unset("SIGNING_KEYS_SECRET_ARN");
    set("TESSERA_CONFIG", concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/local.toml"));
    let err = service_from_env().await.err().expect("no keys is an error");
    assert!(err.to_string().contains("no signing keys"), "{err}");

    // Embedded store seeded from TESSERA_CONFIG, keys inline, issuer from ISSUER.
    set("SIGNING_KEYS_JSON", &doc.to_string());
    set("ISSUER", "https://auth.example.com");
    let service = service_from_env().await.unwrap();
    let response = tessera_token::handle(&service, token_request()).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    let header = jsonwebtoken::decode_header(body["access_token"].as_str().unwrap()).unwrap();
    assert_eq!((header.alg, header.kid.as_deref()), (jsonwebtoken::Algorithm::EdDSA, Some("env-1")));

    // The authorizer's routes: AUTHORIZER_ROUTES replaces the file's [authorizer] table, and is validated at init.
    set(
        "AUTHORIZER_ROUTES",
        r#"routes = [{ route = "GET /orders/{id}", scopes = ["orders:read"], audience = "https://orders.example.com" }]"#,
    );
    let service = service_from_env().await.unwrap();
    assert!(service.protected_routes().by_route_key("GET /orders/{id}").is_some());
    assert!(service.protected_routes().by_route_key("GET /demo/orders").is_none(), "the file's routes are replaced");
    set("AUTHORIZER_ROUTES", "routes = [{ route = \"GET /x\" }]");
    let err = service_from_env().await.err().expect("a route without scopes").to_string();
    assert!(err.contains("AUTHORIZER_ROUTES") && err.contains("scopes"), "{err}");
    set("AUTHORIZER_ROUTES", r#"routes = [{ route = "GET orders", scopes = [], audience = "a" }]"#);
    let err = service_from_env().await.err().expect("an invalid route").to_string();
    assert!(err.contains("must start with /"), "{err}");
    unset("AUTHORIZER_ROUTES");
    let service = service_from_env().await.unwrap();
    assert!(service.protected_routes().by_route_key("GET /demo/orders").is_some(), "examples/local.toml's demo route");

    // A malformed key document names the problem, not the content.
    set("SIGNING_KEYS_JSON", r#"{"keys": [{"kid": "x", "alg": "ES256", "private_key_pem": "SECRET-MATERIAL"}"#);
    let err = service_from_env().await.err().expect("truncated JSON").to_string();
    assert!(err.contains("truncated JSON") && !err.contains("SECRET-MATERIAL"), "{err}");
    set("SIGNING_KEYS_JSON", &doc.to_string());

    // The revocation bound B: whole milliseconds up to a minute; anything else stops the function at init, by name.
    for bad in ["1s", "60001", "-5", "0.5"] {
        set("REVOCATION_MAX_STALENESS_MS", bad);
        let err = service_from_env().await.err().expect("a bad bound is an init error").to_string();
        let named = "REVOCATION_MAX_STALENESS_MS must be a whole number of milliseconds from 0 to 60000";
        assert!(err.contains(named), "{bad}: {err}");
    }
    set("REVOCATION_MAX_STALENESS_MS", "1000");
    assert_eq!(service_from_env().await.unwrap().read_plan.bound().as_millis(), 1_000);
    unset("REVOCATION_MAX_STALENESS_MS");
    assert!(service_from_env().await.unwrap().read_plan.bound().is_strict(), "unset: strict, as before");

    // TABLE_NAME selects DynamoDB; clients come from the table, not from the config file.
    let Some(table) = dynamo_store().await else { return };
    for client in test_config().clients(&tessera::entropy::SystemEntropy).unwrap() {
        table.put_client(client).await.unwrap();
    }
    unset("TESSERA_CONFIG");
    set("TABLE_NAME", table.table());
    let service = service_from_env().await.unwrap();
    let response = tessera_token::handle(&service, token_request()).await.unwrap();
    assert_eq!(response.status(), 200);

    // Multi-Region (docs/multi-region.md): every Region's stack names the global table (GlobalTableName), so its
    // functions get the same TABLE_NAME and reach that Region's replica, the Region being Lambda's AWS_REGION. The
    // emulator keeps each Region's tables apart: a table of one name in two Regions, the clients written to the
    // eu-west-1 one only, serves them to a function in eu-west-1 and not to one in us-east-1.
    let home_region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
    let sdk = tessera::aws_sdk::sdk_config().await;
    let global = format!("{}-global-{}", table.table(), std::process::id());
    let replica = |region: &str| {
        let conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
            .region(aws_sdk_dynamodb::config::Region::new(region.to_owned()))
            .build();
        tessera::store::dynamodb::DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(conf), global.clone())
    };
    let (home, other) = (replica(&home_region), replica("eu-west-1"));
    home.create_table_if_missing().await.unwrap();
    other.create_table_if_missing().await.unwrap();
    for client in test_config().clients(&tessera::entropy::SystemEntropy).unwrap() {
        other.put_client(client).await.unwrap();
    }
    set("TABLE_NAME", &global);
    set("AWS_REGION", "eu-west-1");
    let service = service_from_env().await.unwrap();
    let response = tessera_token::handle(&service, token_request()).await.unwrap();
    assert_eq!(response.status(), 200, "the eu-west-1 function reads the eu-west-1 replica");
    set("AWS_REGION", &home_region);
    let service = service_from_env().await.unwrap();
    let response = tessera_token::handle(&service, token_request()).await.unwrap();
    assert_eq!(response.status(), 401, "the home Region's table of that name has no such client");
    set("TABLE_NAME", table.table());

    // Tenants: `tessera tenants create` adds one to the Secrets Manager document (here moto's), its client is
    // registered in the table, and a function built from SIGNING_KEYS_SECRET_ARN serves it under /t/<name>/.
    set("AWS_ENDPOINT_URL_SECRETS_MANAGER", &std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap());
    let sdk = tessera::aws_sdk::sdk_config().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let name = format!("tessera-keys-{}", std::process::id());
    let created = secrets.create_secret().name(&name).secret_string(doc.to_string()).send().await.unwrap();
    let arn = created.arn().unwrap().to_owned();
    let location = tessera_cli::keys::DocumentLocation::secret(arn.clone()).await;
    let mut document = location.read().await.unwrap();
    let acme = tessera::domain::tenant::TenantId::parse("acme").unwrap();
    let summary =
        tessera_cli::keys::create_tenant(&mut document, &acme, None, tessera::jwt::keys::SigningAlgorithm::ES256, None)
            .unwrap();
    location.write(&document).await.unwrap();
    let mut entry = test_config().clients.into_iter().find(|c| c.client_id == creds::JWT.0).unwrap();
    entry.tenant = acme.clone();
    table.put_client(entry.to_client(&tessera::entropy::SystemEntropy).unwrap()).await.unwrap();
    unset("SIGNING_KEYS_JSON");
    set("SIGNING_KEYS_SECRET_ARN", &arn);
    let service = service_from_env().await.unwrap();
    let mut request = token_request();
    *request.uri_mut() = "/t/acme/oauth2/token".parse().unwrap();
    let response = tessera_token::handle(&service, request).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(jsonwebtoken::decode_header(token).unwrap().kid, Some(summary.kids[0].clone()));
    let claims: serde_json::Value = jsonwebtoken::dangerous::insecure_decode_claims(token).unwrap();
    assert_eq!(claims["iss"], "https://auth.example.com/t/acme");
    // The default tenant still signs with its own key.
    let response = tessera_token::handle(&service, token_request()).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    let header = jsonwebtoken::decode_header(body["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(header.kid.as_deref(), Some("env-1"));

    // Rotation without a redeploy: once KEYS_CACHE_TTL_SECS has passed on the service's clock the function
    // re-reads the secret, so a key promoted with `tessera keys` signs the next token.
    set("KEYS_CACHE_TTL_SECS", "10");
    let clock =
        std::sync::Arc::new(tessera::clock::FixedClock::at(tessera::clock::Clock::now(&tessera::clock::SystemClock)));
    let service = service_from_env_on_clock(clock.clone()).await.unwrap();
    let mut document = location.read().await.unwrap();
    let default = tessera::domain::tenant::TenantId::default();
    let alg = tessera::jwt::keys::SigningAlgorithm::ES256;
    tessera_cli::keys::add_key(&mut document, &default, alg, Some("env-2".into())).unwrap();
    tessera_cli::keys::promote_key(&mut document, &default, "env-2", 1_800_000_000).unwrap();
    location.write(&document).await.unwrap();
    let kid = |response: lambda_http::Response<Body>| {
        let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        jsonwebtoken::decode_header(body["access_token"].as_str().unwrap()).unwrap().kid
    };
    // Within the TTL the cached keys sign; past it, the promoted one.
    let response = tessera_token::handle(&service, token_request()).await.unwrap();
    assert_eq!(kid(response).as_deref(), Some("env-1"));
    clock.advance_secs(11);
    let response = tessera_token::handle(&service, token_request()).await.unwrap();
    assert_eq!(kid(response).as_deref(), Some("env-2"));
    for (ttl, complaint) in [("soon", "KEYS_CACHE_TTL_SECS"), ("0", "KEYS_CACHE_TTL_SECS must be at least 1")] {
        set("KEYS_CACHE_TTL_SECS", ttl);
        let err = service_from_env().await.err().expect("a bad key cache TTL is an init error").to_string();
        assert!(err.contains(complaint), "{ttl}: {err}");
    }
    // A staleness bound below the TTL + 60 is raised (with a warning), not an init error: CloudFormation cannot
    // compare the two parameters, and a function that refuses to start is an outage.
    set("KEYS_CACHE_TTL_SECS", "300");
    for accepted in ["60", "360", "0"] {
        set("KEYS_MAX_STALE_SECS", accepted);
        assert!(service_from_env().await.is_ok(), "KEYS_MAX_STALE_SECS={accepted}");
    }
    unset("KEYS_MAX_STALE_SECS");

    // A document without the default tenant's keys is refused: a function never generates a key.
    location.write(&tessera::tenancy::KeySetDocument::default()).await.unwrap();
    let err = service_from_env().await.err().expect("no keys in the secret").to_string();
    assert!(err.contains("empty"), "{err}");
    // A configuration tenant without keys, next to a secret that has none for it, is not served (it was deleted
    // from the secret, or never created there), and the others are: a function must start.
    location.write(&document).await.unwrap();
    let config = std::env::temp_dir().join(format!("tessera-bootstrap-{}.toml", std::process::id()));
    std::fs::write(&config, "[[tenants]]\nname = \"keyless\"\n").unwrap();
    set("TESSERA_CONFIG", config.to_str().unwrap());
    let service = service_from_env().await.expect("a keyless configuration tenant is left out");
    let keyless = tessera::domain::tenant::TenantId::parse("keyless").unwrap();
    let err = service.tenant(&keyless, None, service.clock.now()).await.expect_err("not served");
    assert_eq!(tessera::wire::OAuthError::from(err).status(), 404);
    assert!(service.tenant(&default, None, service.clock.now()).await.is_ok());
    std::fs::remove_file(&config).unwrap();
    unset("TESSERA_CONFIG");
}

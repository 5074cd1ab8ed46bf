//! The log redaction policy (`tessera::telemetry`, docs/security.md), tested: every log line of a full flow
//! is captured at TRACE, as JSON with span fields (the Lambda format, under the same filter the functions
//! install), and searched for every token, secret and private key the flow handled. The flow covers both
//! client authentication methods, both token formats, token exchange, refresh rotation and reuse, revocation,
//! a revocation event, a Shared Signals push (accepted, and refused for a wrong bearer token), the authorizer
//! (allowing, denying, a revoked token), a trusted issuer's access token presented to its UserInfo endpoint at
//! introspection (answered, then refused with 401), and the rejections that log a reason (wrong secret, forged and
//! tampered tokens).
//! Runs on the store `TESSERA_E2E_STORE` selects, so `scripts/test` runs it on both.

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tessera::clock::Clock;
use tessera::jwt::keys::{SigningAlgorithm, SigningKey};
use tessera_e2e::client_assertions::{self, ClientKey, claims as assertion_claims};
use tessera_e2e::issuers::{Canned, EXCHANGER, EXCHANGER_TWO, UserinfoServer, auth0, exchange, exchange_config};
use tessera_e2e::{TestServer, basic, creds, isolated_backend_store};
use tracing_subscriber::fmt::MakeWriter;

/// Every byte the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Self;
    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

fn field(body: &Value, name: &str) -> String {
    body[name].as_str().unwrap_or_else(|| panic!("no {name} in {body}")).to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_secret_or_key_reaches_the_logs() {
    let logs = Captured::default();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tessera::telemetry::filter("trace"))
        .with_current_span(true)
        .with_span_list(true)
        .with_writer(logs.clone())
        .init();

    let issuer = auth0();
    let key = SigningKey::generate(SigningAlgorithm::ES256, "redaction-key").unwrap();
    let idp = UserinfoServer::start().await;
    let mut config = exchange_config(&[&issuer]);
    config.trusted_issuers[0].userinfo_endpoint = Some(idp.url("userinfo"));
    config.signing_keys = tessera_e2e::config_with_key(&key).signing_keys;
    // A Shared Signals transmitter: the identity provider, with a key and a bearer token of its own.
    let transmitter_key = SigningKey::generate(SigningAlgorithm::ES256, "ssf-redaction").unwrap();
    let transmitter_token = "ssf-transmitter-token-that-must-not-be-logged";
    let transmitter = format!(
        "[[ssf_transmitters]]\nissuer = \"{}\"\naudience = \"https://auth.example.com/ssf/events\"\n\
         algorithms = [\"ES256\"]\njwks = '{}'\nauthorization = \"{transmitter_token}\"\n",
        issuer.issuer,
        json!({"keys": [transmitter_key.public_jwk()]})
    );
    config.ssf_transmitters = tessera::config::Config::from_toml(&transmitter).unwrap().ssf_transmitters;
    let client_key = ClientKey::es256("redaction-client-1");
    let pkj = format!(
        "[[clients]]\nclient_id = \"redaction-pkj\"\ntoken_endpoint_auth_method = \"private_key_jwt\"\njwks = '{}'\n",
        ClientKey::jwks(&[&client_key])
    );
    config.clients.extend(tessera::config::Config::from_toml(&pkj).unwrap().clients);
    // A table of its own on DynamoDB: the revocation event below revokes every token of "alice".
    let server = TestServer::start_on(&config, isolated_backend_store(&config).await).await;
    // Secrets the flow handles; tokens join as they are issued.
    let mut secrets: Vec<String> =
        [creds::JWT.1, creds::OPAQUE.1, creds::RS.1, EXCHANGER.1, EXCHANGER_TWO.1].map(str::to_owned).to_vec();
    // The private key: each base64 line of its PEM body, as a log line would hold it (the lines joined never
    // occur in a log, so that needle alone could not fail).
    secrets.extend(key.to_pkcs8_pem().lines().filter(|l| !l.starts_with("-----") && l.len() >= 16).map(str::to_owned));

    // Client credentials, both formats, both authentication methods; introspection; revocation.
    let jwt = server.issue(creds::JWT, &[]).await;
    let post = server
        .post(
            "/oauth2/token",
            None,
            &[("grant_type", "client_credentials"), ("client_id", creds::OPAQUE.0), ("client_secret", creds::OPAQUE.1)],
        )
        .await;
    let opaque = field(&post.json(), "access_token");
    for token in [&jwt, &opaque] {
        assert_eq!(server.introspect(token).await.json()["active"], true);
    }

    // Token exchange, refresh rotation, then reuse of the spent refresh token (which revokes the family).
    let subject_token = issuer.sign(&issuer.claims("alice", server.clock.now().as_secs()));
    let login = exchange(&server, EXCHANGER, &subject_token, &[]).await.json();
    let (user_access, first_refresh) = (field(&login, "access_token"), field(&login, "refresh_token"));
    let refresh = |token: String| {
        let server = &server;
        async move {
            server
                .post("/oauth2/token", Some(EXCHANGER), &[("grant_type", "refresh_token"), ("refresh_token", &token)])
                .await
        }
    };
    let rotated = refresh(first_refresh.clone()).await.json();
    let (second_access, second_refresh) = (field(&rotated, "access_token"), field(&rotated, "refresh_token"));
    refresh(first_refresh.clone()).await.assert_error(400, "invalid_grant");
    assert_eq!(server.introspect(&second_access).await.json()["active"], false);

    // Rejections that log a reason: a wrong secret, a secret in two places, forged and tampered tokens.
    let wrong = "wrong-secret-that-must-not-be-logged";
    server.post("/oauth2/token", Some((creds::JWT.0, wrong)), &[("grant_type", "client_credentials")]).await;
    server
        .post("/oauth2/token", Some(creds::JWT), &[("grant_type", "client_credentials"), ("client_secret", wrong)])
        .await;
    let parts: Vec<&str> = jwt.split('.').collect();
    let forged = format!("{}.{}.", URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"at+jwt"}"#), parts[1]);
    let tampered = format!("{}.{}.{}x", parts[0], parts[1], parts[2]);
    let mut bad_opaque = opaque.clone();
    bad_opaque.pop();
    bad_opaque.push('Z');
    for token in [&forged, &tampered, &bad_opaque] {
        assert_eq!(server.introspect(token).await.json()["active"], false);
    }

    // The authorizer (the runner's demo route): an allow, denials that log their reason, a malformed header.
    let demo = |authorization: String| {
        let server = &server;
        async move { server.send("GET", "/demo/orders", &[("authorization", authorization)], "").await.status }
    };
    assert_eq!(demo(format!("Bearer {jwt}")).await, 200);
    for token in [&forged, &tampered, &bad_opaque, &first_refresh, &subject_token] {
        assert_eq!(demo(format!("Bearer {token}")).await, 403);
    }
    assert_eq!(demo(format!("Bearer {jwt} {opaque}")).await, 403);
    let other_subject = issuer.sign(&issuer.claims("mallory", server.clock.now().as_secs() - 7_200));
    exchange(&server, EXCHANGER, &other_subject, &[]).await;

    // A trusted issuer's access token introspected: presented to its UserInfo endpoint as the bearer, which answers,
    // then (a minute later, asked to refresh) refuses it.
    let userinfo_bearer = issuer.sign_access_token(&issuer.claims("zoe", server.clock.now().as_secs()));
    idp.set("/userinfo", Canned::json(&json!({"sub": "zoe", "email": "zoe@new.example.com"})));
    assert_eq!(server.introspect(&userinfo_bearer).await.json()["user_details"]["email"], "zoe@new.example.com");
    idp.set("/userinfo", Canned::raw(401, "application/json", r#"{"error":"invalid_token"}"#));
    server.clock.advance_secs(60);
    let refresh = [("token", userinfo_bearer.as_str()), ("refresh_user_details", "true")];
    assert_eq!(server.post("/oauth2/introspect", Some(creds::RS), &refresh).await.json()["active"], true);
    assert_eq!(idp.hits("/userinfo"), 2);
    assert_eq!(idp.last_authorization(), Some(format!("Bearer {userinfo_bearer}")));

    // Revocation by the owner, and a revocation event for a subject.
    for (client, token) in [(creds::JWT, &jwt), (creds::OPAQUE, &opaque)] {
        assert_eq!(server.post("/oauth2/revoke", Some(client), &[("token", token)]).await.status, 200);
    }
    let event = json!({"id": "e-1", "detail-type": "tessera.revoke", "source": "idp",
        "detail": {"event_id": "redaction-1", "subject": "alice", "reason": "password_changed"}});
    assert_eq!(server.send_event(&event).await.status, 200);
    // A SET pushed by the transmitter (revoking "alice" again), and the same SET with a wrong bearer token.
    let set = transmitter_key
        .sign_jwt(
            "secevent+jwt",
            &json!({"iss": issuer.issuer, "aud": "https://auth.example.com/ssf/events",
                "iat": server.clock.now().as_secs(), "jti": "redaction-set-1",
                "events": {"https://schemas.openid.net/secevent/caep/event-type/session-revoked": {
                    "subject": {"format": "iss_sub", "iss": issuer.issuer, "sub": "alice"}}}}),
        )
        .unwrap();
    let wrong_bearer = "not-the-transmitter-token-must-not-be-logged";
    for (bearer, status) in [(transmitter_token, 202), (wrong_bearer, 401)] {
        let headers =
            [("content-type", "application/secevent+jwt".to_owned()), ("authorization", format!("Bearer {bearer}"))];
        assert_eq!(server.send("POST", "/ssf/events", &headers, set.clone()).await.status, status);
    }
    assert_eq!(server.introspect(&user_access).await.json()["active"], false);
    assert_eq!(demo(format!("Bearer {jwt}")).await, 403, "revoked");

    secrets.extend([
        jwt,
        opaque,
        subject_token,
        other_subject,
        user_access,
        first_refresh,
        second_access,
        second_refresh,
        userinfo_bearer,
    ]);
    secrets.extend([forged, tampered, bad_opaque, wrong.to_owned(), basic(creds::JWT.0, creds::JWT.1)]);
    secrets.extend([transmitter_token.to_owned(), wrong_bearer.to_owned(), set]);
    secrets.extend(
        transmitter_key.to_pkcs8_pem().lines().filter(|l| !l.starts_with("-----") && l.len() >= 16).map(str::to_owned),
    );

    // private_key_jwt: an assertion accepted, then replayed, and one for another server; none is logged.
    let now = server.clock.now().as_secs();
    let cc = [("grant_type", "client_credentials")];
    let assertion = client_key.sign(&assertion_claims("redaction-pkj", &server.base, now));
    let first = client_assertions::post(&server, "/oauth2/token", &assertion, &cc).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(client_assertions::post(&server, "/oauth2/token", &assertion, &cc).await.status, 401);
    let elsewhere = client_key.sign(&assertion_claims("redaction-pkj", "https://other.example.com", now));
    assert_eq!(client_assertions::post(&server, "/oauth2/token", &elsewhere, &cc).await.status, 401);
    let issued = first.json()["access_token"].as_str().unwrap().to_owned();
    secrets.extend([assertion, elsewhere, issued]);

    let text = logs.text();
    let lines = text.lines().count();
    assert!(lines > 30, "the capture works: {lines} lines");
    assert!(text.contains("\"status\":401") || text.contains("invalid_client"), "rejections are logged");
    assert!(text.contains("access denied") && text.contains("GET /demo/orders"), "the authorizer's denials are logged");
    assert!(
        text.contains("security event token received") && text.contains("security event token refused"),
        "the SSF receiver logs what it takes and refuses"
    );
    for secret in &secrets {
        // The whole value, and for JWTs the signature alone (header and claims are not secret by themselves).
        let signature = secret.rsplit('.').next().filter(|s| s.len() >= 40);
        for needle in std::iter::once(secret.as_str()).chain(signature) {
            assert!(!text.contains(needle), "a secret reached the logs: {}…", &needle[..needle.len().min(24)]);
        }
    }
}

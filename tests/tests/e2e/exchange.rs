//! RFC 8693 token exchange end to end over HTTP: subject tokens from ES256 and RS256 test issuers traded for
//! Tessera tokens whose introspection carries the mapped claims, and every invalid subject token refused.

use jsonwebtoken::{Algorithm, Header};
use serde_json::json;
use tessera::clock::Clock;
use tessera_e2e::issuers::TestIssuer;
use tessera_e2e::{TestServer, creds};

use tessera_e2e::issuers::{
    AT_TYPE, EXCHANGE, EXCHANGER, EXCHANGER_OPAQUE, JWT_TYPE, auth0, cognito, exchange, exchange_config as config,
};

#[tokio::test]
async fn exchanged_tokens_introspect_with_the_mapped_claims() {
    let (rsa, ec) = (auth0(), cognito());
    let server = TestServer::start_config(&config(&[&rsa, &ec])).await;
    let now = server.clock.now().as_secs();
    for (issuer, client) in [(&rsa, EXCHANGER), (&ec, EXCHANGER_OPAQUE), (&ec, EXCHANGER)] {
        let subject_token = issuer.sign(&issuer.claims("alice", now));
        let reply = exchange(&server, client, &subject_token, &[("subject_token_type", AT_TYPE)]).await;
        // A repeated subject_token_type is a repeated parameter.
        reply.assert_error(400, "invalid_request");
        let reply = exchange(&server, client, &subject_token, &[]).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let body = reply.json();
        assert_eq!(body["issued_token_type"], AT_TYPE);
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["scope"], "profile:read");
        let token = body["access_token"].as_str().unwrap();
        let introspected = server.introspect(token).await.json();
        assert_eq!(introspected["active"], true, "{introspected}");
        assert_eq!(introspected["sub"], "alice");
        assert_eq!(introspected["client_id"], client.0);
        assert_eq!(introspected["username"], "alice@example.com");
        assert_eq!(introspected["user_details"], json!({"email": "alice@example.com", "given_name": "Alice"}));
    }
    // `audience` (RFC 8693) selects one of the client's audiences; an unknown one is invalid_target.
    let subject_token = rsa.sign(&rsa.claims("bob", now));
    let reply = exchange(&server, EXCHANGER, &subject_token, &[("audience", "https://orders.example.com")]).await;
    assert_eq!(
        server.introspect(reply.json()["access_token"].as_str().unwrap()).await.json()["aud"],
        "https://orders.example.com"
    );
    exchange(&server, EXCHANGER, &subject_token, &[("audience", "https://evil.example")])
        .await
        .assert_error(400, "invalid_target");
    // Client credentials tokens carry no user details.
    let cc = server.issue(creds::JWT, &[]).await;
    assert!(server.introspect(&cc).await.json().get("user_details").is_none());
}

#[tokio::test]
async fn every_invalid_subject_token_is_invalid_grant() {
    let (rsa, ec) = (auth0(), cognito());
    let server = TestServer::start_config(&config(&[&rsa, &ec])).await;
    let now = server.clock.now().as_secs();
    let good = rsa.claims("alice", now);
    let with = |change: &dyn Fn(&mut serde_json::Value)| {
        let mut claims = good.clone();
        change(&mut claims);
        rsa.sign(&claims)
    };
    let stranger = TestIssuer::generate(&rsa.issuer, &rsa.audience, Algorithm::RS256, "rsa-1");
    let unknown_kid = TestIssuer::generate(&rsa.issuer, &rsa.audience, Algorithm::RS256, "rsa-2");
    let untrusted = TestIssuer::generate("https://evil.example/", &rsa.audience, Algorithm::RS256, "rsa-1");
    let b64 = |v: serde_json::Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&v).unwrap())
    };
    let alg_none = format!("{}.{}.", b64(json!({"alg": "none", "kid": "rsa-1"})), b64(good.clone()));
    let public = serde_json::to_vec(rsa.public_jwk()).unwrap();
    let hs256 = jsonwebtoken::encode(
        &Header { kid: Some("rsa-1".into()), ..Header::new(Algorithm::HS256) },
        &good,
        &jsonwebtoken::EncodingKey::from_secret(&public),
    )
    .unwrap();
    let es_as_rs = ec.sign_with_header(&good, Header { kid: Some("rsa-1".into()), ..Header::new(Algorithm::ES256) });
    let cases = [
        ("bad signature", stranger.sign(&good)),
        ("expired", with(&|c| c["exp"] = json!(now - 60))),
        ("not yet valid", with(&|c| c["nbf"] = json!(now + 600))),
        ("wrong issuer", untrusted.sign(&good)),
        ("issuer claim rewritten", with(&|c| c["iss"] = json!("https://evil.example/"))),
        ("wrong audience", with(&|c| c["aud"] = json!("https://someone-else.example"))),
        ("unknown kid", unknown_kid.sign(&good)),
        ("alg none", alg_none),
        ("HS256 keyed with the public key", hs256),
        ("ES256 under an RSA kid", es_as_rs),
        (
            "no subject",
            with(&|c| {
                c.as_object_mut().unwrap().remove("sub");
            }),
        ),
        ("not a JWT", "garbage".to_owned()),
    ];
    for (name, token) in cases {
        let reply = exchange(&server, EXCHANGER, &token, &[]).await;
        reply.assert_error(400, "invalid_grant");
        assert!(
            !reply.text.contains("kid") && !reply.text.contains("signature"),
            "{name}: reason leaked: {}",
            reply.text
        );
    }
}

#[tokio::test]
async fn malformed_exchange_requests() {
    let rsa = auth0();
    let server = TestServer::start_config(&config(&[&rsa])).await;
    let token = rsa.sign(&rsa.claims("alice", server.clock.now().as_secs()));
    let post = |pairs: Vec<(&'static str, String)>, client: (&'static str, &'static str)| {
        let server = &server;
        async move {
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            server.post("/oauth2/token", Some(client), &pairs).await
        }
    };
    let base = |extra: &[(&'static str, &str)]| {
        let mut v = vec![("grant_type", EXCHANGE.to_owned())];
        v.extend(extra.iter().map(|(k, val)| (*k, (*val).to_owned())));
        v
    };
    post(base(&[("subject_token_type", JWT_TYPE)]), EXCHANGER).await.assert_error(400, "invalid_request");
    post(base(&[("subject_token", &token)]), EXCHANGER).await.assert_error(400, "invalid_request");
    post(
        base(&[("subject_token", &token), ("subject_token_type", "urn:ietf:params:oauth:token-type:saml2")]),
        EXCHANGER,
    )
    .await
    .assert_error(400, "invalid_request");
    post(
        base(&[
            ("subject_token", &token),
            ("subject_token_type", JWT_TYPE),
            ("requested_token_type", "urn:ietf:params:oauth:token-type:refresh_token"),
        ]),
        EXCHANGER,
    )
    .await
    .assert_error(400, "invalid_request");
    post(base(&[("subject_token", &token), ("subject_token_type", JWT_TYPE), ("actor_token", &token)]), EXCHANGER)
        .await
        .assert_error(400, "invalid_request");
    // A client without the grant type.
    post(base(&[("subject_token", &token), ("subject_token_type", JWT_TYPE)]), creds::JWT)
        .await
        .assert_error(400, "unauthorized_client");
    // Unauthenticated: invalid_client before the subject token is even looked at.
    post(base(&[("subject_token", &token), ("subject_token_type", JWT_TYPE)]), ("exchanger", "wrong"))
        .await
        .assert_error(401, "invalid_client");
}

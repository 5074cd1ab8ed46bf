//! End-to-end over real HTTP against the local runner: the full issue → introspect → revoke → introspect
//! flow for both token formats, and every error the core endpoints define.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use tessera::domain::tenant::TenantId;
use tessera::jwt::keys::{KeyRing, SigningAlgorithm, SigningKey};
use tessera_e2e::{TestServer, basic, config_with_key, creds};

#[tokio::test]
async fn jwt_issue_introspect_revoke_introspect() {
    let server = TestServer::start().await;
    let token = server.issue(creds::JWT, &[]).await;
    assert_eq!(token.matches('.').count(), 2);

    let reply = server.introspect(&token).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body = reply.json();
    assert_eq!(body["active"], true);
    assert_eq!(body["client_id"], "demo-jwt");
    assert_eq!(body["sub"], "demo-jwt");
    assert_eq!(body["scope"], "orders:read");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["aud"], "https://orders.example.com");
    assert_eq!(body["iss"], server.base);
    assert!(body["jti"].as_str().is_some_and(|j| j.len() >= 22));
    let (iat, exp) = (body["iat"].as_u64().unwrap(), body["exp"].as_u64().unwrap());
    assert_eq!(exp - iat, 300);

    let revoked = server.post("/oauth2/revoke", Some(creds::JWT), &[("token", &token)]).await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    assert_eq!(revoked.text, "");
    assert_eq!(revoked.header("cache-control"), Some("no-store"));

    let after = server.introspect(&token).await;
    assert_eq!(after.status, 200);
    assert_eq!(after.text, r#"{"active":false}"#);
    // Revoking again is still 200 (RFC 7009 §2.2).
    let again = server.post("/oauth2/revoke", Some(creds::JWT), &[("token", &token)]).await;
    assert_eq!(again.status, 200);
}

#[tokio::test]
async fn opaque_issue_introspect_revoke_introspect() {
    let server = TestServer::start().await;
    let token = server.issue(creds::OPAQUE, &[]).await;
    assert!(token.starts_with("tsr_at_"), "{token}");
    let key = tessera::store::StoreKey::token(&TenantId::default(), &tessera::domain::token::TokenHash::of(&token));
    let stored = server.store.get_many(std::slice::from_ref(&key)).await.unwrap();
    assert_eq!(stored.len(), 1, "one record, under the token's hash");

    let body = server.introspect(&token).await.json();
    assert_eq!(body["active"], true);
    assert_eq!(body["client_id"], "demo-opaque");
    assert_eq!(body["scope"], "orders:read");
    assert_eq!(body["exp"].as_u64().unwrap() - body["iat"].as_u64().unwrap(), 600);
    assert!(body.get("jti").is_none());

    let revoked = server
        .post("/oauth2/revoke", Some(creds::OPAQUE), &[("token", &token), ("token_type_hint", "access_token")])
        .await;
    assert_eq!(revoked.status, 200);
    assert_eq!(server.introspect(&token).await.text, r#"{"active":false}"#);
}

#[tokio::test]
async fn tokens_expire_on_the_pinned_clock() {
    let server = TestServer::start().await;
    let jwt = server.issue(creds::JWT, &[]).await;
    let opaque = server.issue(creds::OPAQUE, &[]).await;
    server.clock.advance_secs(299);
    assert_eq!(server.introspect(&jwt).await.json()["active"], true);
    server.clock.advance_secs(1);
    assert_eq!(server.introspect(&jwt).await.text, r#"{"active":false}"#);
    assert_eq!(server.introspect(&opaque).await.json()["active"], true);
    server.clock.advance_secs(300);
    // The record is still in the store (no TTL deletion yet) but reads as expired.
    assert_eq!(server.introspect(&opaque).await.text, r#"{"active":false}"#);
}

#[tokio::test]
async fn client_secret_post_and_form_encoded_basic_authenticate() {
    let server = TestServer::start().await;
    let (id, secret) = creds::JWT;
    let post = server
        .post(
            "/oauth2/token",
            None,
            &[("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret)],
        )
        .await;
    assert_eq!(post.status, 200, "{}", post.text);
    // RFC 6749 §2.3.1: ':' in the id and '@ :&+' in the secret survive form-encoding inside Basic.
    let token = server.issue(creds::ODD, &[]).await;
    assert_eq!(server.introspect(&token).await.json()["client_id"], "odd:client id");
}

#[tokio::test]
async fn bad_client_credentials_are_401_invalid_client() {
    let server = TestServer::start().await;
    let cc = [("grant_type", "client_credentials")];
    for auth in [("demo-jwt", "wrong"), ("no-such-client", "whatever"), creds::DISABLED, ("demo-jwt", "")] {
        server.post("/oauth2/token", Some(auth), &cc).await.assert_error(401, "invalid_client");
    }
    // No credentials at all.
    server.post("/oauth2/token", None, &cc).await.assert_error(401, "invalid_client");
    // A client_id without a secret (public clients do not exist here).
    server
        .post("/oauth2/token", None, &[("grant_type", "client_credentials"), ("client_id", "demo-jwt")])
        .await
        .assert_error(401, "invalid_client");
    // Malformed Basic headers.
    for header in ["Basic !!!", "Basic ZGVtby1qd3Q=", "Bearer abc"] {
        let reply = server
            .send(
                "POST",
                "/oauth2/token",
                &[("content-type", "application/x-www-form-urlencoded".into()), ("authorization", header.into())],
                "grant_type=client_credentials",
            )
            .await;
        reply.assert_error(401, "invalid_client");
    }
    // The same 401 at the other endpoints.
    server
        .post("/oauth2/introspect", Some(("demo-resource-server", "nope")), &[("token", "x")])
        .await
        .assert_error(401, "invalid_client");
    server
        .post("/oauth2/revoke", Some(("demo-jwt", "nope")), &[("token", "x")])
        .await
        .assert_error(401, "invalid_client");
    server.post("/oauth2/revoke", None, &[("token", "x")]).await.assert_error(401, "invalid_client");
}

#[tokio::test]
async fn two_authentication_methods_are_invalid_request() {
    let server = TestServer::start().await;
    let (id, secret) = creds::JWT;
    let reply = server
        .post(
            "/oauth2/token",
            Some(creds::JWT),
            &[("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret)],
        )
        .await;
    reply.assert_error(400, "invalid_request");
}

#[tokio::test]
async fn grant_type_errors() {
    let server = TestServer::start().await;
    server
        .post("/oauth2/token", Some(creds::JWT), &[("grant_type", "password")])
        .await
        .assert_error(400, "unsupported_grant_type");
    server.post("/oauth2/token", Some(creds::JWT), &[]).await.assert_error(400, "invalid_request");
    server.post("/oauth2/token", Some(creds::JWT), &[("grant_type", "")]).await.assert_error(400, "invalid_request");
    // The resource server has no grant types: it may not use client_credentials.
    server
        .post("/oauth2/token", Some(creds::RS), &[("grant_type", "client_credentials")])
        .await
        .assert_error(400, "unauthorized_client");
    // An empty form with no credentials.
    server.post("/oauth2/token", None, &[]).await.assert_error(400, "invalid_request");
}

#[tokio::test]
async fn scope_down_scoping_per_rfc6749_3_3() {
    let server = TestServer::start().await;
    let server = &server;
    let ask = |scope: &'static str| async move {
        server.post("/oauth2/token", Some(creds::JWT), &[("grant_type", "client_credentials"), ("scope", scope)]).await
    };
    let both = ask("orders:write orders:read").await;
    assert_eq!(both.json()["scope"], "orders:read orders:write");
    let write = ask("orders:write").await;
    let token = write.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(server.introspect(&token).await.json()["scope"], "orders:write");
    // Omitted scope → the client's default scope.
    let default = server.post("/oauth2/token", Some(creds::JWT), &[("grant_type", "client_credentials")]).await;
    assert_eq!(default.json()["scope"], "orders:read");
    ask("orders:delete").await.assert_error(400, "invalid_scope");
    // Present but blank: not "omitted" (RFC 6749 §3.1 only covers an empty value), and holds no scope-token.
    ask("  ").await.assert_error(400, "invalid_scope");
    ask("orders:read admin").await.assert_error(400, "invalid_scope");
    ask("caf\u{e9}").await.assert_error(400, "invalid_scope");
}

#[tokio::test]
async fn resource_indicator_selects_an_allowed_audience() {
    let server = TestServer::start().await;
    let ok = server.issue(creds::JWT, &[("resource", "https://orders.example.com")]).await;
    assert_eq!(server.introspect(&ok).await.json()["aud"], "https://orders.example.com");
    server
        .post(
            "/oauth2/token",
            Some(creds::JWT),
            &[("grant_type", "client_credentials"), ("resource", "https://evil.example")],
        )
        .await
        .assert_error(400, "invalid_target");
    // A client without configured audiences gets the issuer as audience.
    let opaque = server.issue(creds::OPAQUE, &[]).await;
    assert_eq!(server.introspect(&opaque).await.json()["aud"], server.base);
}

#[tokio::test]
async fn introspection_requires_a_permitted_caller() {
    let server = TestServer::start().await;
    let token = server.issue(creds::JWT, &[]).await;
    let reply = server.post("/oauth2/introspect", Some(creds::JWT), &[("token", &token)]).await;
    reply.assert_error(403, "unauthorized_client");
    server.post("/oauth2/introspect", None, &[("token", &token)]).await.assert_error(401, "invalid_client");
    server.post("/oauth2/introspect", Some(creds::RS), &[]).await.assert_error(400, "invalid_request");
    server.post("/oauth2/introspect", Some(creds::RS), &[("token", "")]).await.assert_error(400, "invalid_request");
}

#[tokio::test]
async fn anything_not_active_is_exactly_active_false() {
    let own_key = SigningKey::generate(SigningAlgorithm::ES256, "tessera-local-1").unwrap();
    let server = TestServer::start_config(&config_with_key(&own_key)).await;
    let jwt = server.issue(creds::JWT, &[]).await;
    let opaque = server.issue(creds::OPAQUE, &[]).await;
    let parts: Vec<&str> = jwt.split('.').collect();
    let header = |h: serde_json::Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(&h).unwrap());

    // A token signed by a key this server does not hold, with a kid it does hold.
    let foreign_ring =
        KeyRing::new(vec![SigningKey::generate(SigningAlgorithm::ES256, "tessera-local-1").unwrap()]).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let foreign = foreign_ring.signing_key().sign_jwt("at+jwt", &claims).unwrap();
    // Validly signed with the server's own key, but claiming another issuer.
    let mut other_iss = claims.clone();
    other_iss["iss"] = json!("https://elsewhere.example");
    let other_issuer = own_key.sign_jwt("at+jwt", &other_iss).unwrap();
    // Validly signed, but the microsecond issue time disagrees with `iat` (would dodge a watermark).
    let mut skewed = claims.clone();
    skewed["tsr_iat_us"] = json!(claims["tsr_iat_us"].as_u64().unwrap() + 5_000_000);
    let skewed_iat = own_key.sign_jwt("at+jwt", &skewed).unwrap();
    // Validly signed, not valid before tomorrow.
    let mut later = claims.clone();
    later["nbf"] = json!(claims["iat"].as_u64().unwrap() + 86_400);
    let not_yet = own_key.sign_jwt("at+jwt", &later).unwrap();
    // Validly signed, with `typ: JWT` instead of `at+jwt` (RFC 9068 §4).
    let plain_jwt = own_key.sign_jwt("JWT", &claims).unwrap();

    let mut bad_checksum = opaque.clone();
    let last = bad_checksum.pop().unwrap();
    bad_checksum.push(if last == 'A' { 'B' } else { 'A' });
    // A refresh-token prefix on an access token breaks the checksum.
    let wrong_prefix = opaque.replacen("tsr_at_", "tsr_rt_", 1);

    let cases = [
        ("garbage", "garbage".to_owned()),
        (
            "alg none",
            format!("{}.{}.", header(json!({"alg": "none", "typ": "at+jwt", "kid": "tessera-local-1"})), parts[1]),
        ),
        ("stripped signature", format!("{}.{}.", parts[0], parts[1])),
        ("altered payload", format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(br#"{"sub":"admin"}"#), parts[2])),
        ("foreign key", foreign),
        ("foreign issuer", other_issuer),
        ("iat and tsr_iat_us disagree", skewed_iat),
        ("nbf in the future", not_yet),
        ("typ JWT", plain_jwt),
        ("bad checksum", bad_checksum),
        ("wrong prefix", wrong_prefix),
        ("very long", "a".repeat(10_000)),
        ("unicode", "t\u{f6}ken \u{1f511}".to_owned()),
    ];
    for (name, token) in cases {
        let reply = server.introspect(&token).await;
        assert_eq!((reply.status, reply.text.as_str()), (200, r#"{"active":false}"#), "{name}");
    }
}

#[tokio::test]
async fn a_wrong_token_type_hint_still_finds_the_token() {
    let server = TestServer::start().await;
    for client in [creds::JWT, creds::OPAQUE] {
        let token = server.issue(client, &[]).await;
        for hint in ["refresh_token", "access_token", "something_else"] {
            let reply = server
                .post("/oauth2/introspect", Some(creds::RS), &[("token", &token), ("token_type_hint", hint)])
                .await;
            assert_eq!(reply.json()["active"], true, "hint {hint}");
        }
        let revoked = server
            .post("/oauth2/revoke", Some(client), &[("token", &token), ("token_type_hint", "refresh_token")])
            .await;
        assert_eq!(revoked.status, 200);
        assert_eq!(server.introspect(&token).await.json()["active"], false);
    }
}

#[tokio::test]
async fn only_the_owning_client_may_revoke() {
    let server = TestServer::start().await;
    for (owner, other) in [(creds::JWT, creds::OPAQUE), (creds::OPAQUE, creds::JWT)] {
        let token = server.issue(owner, &[]).await;
        let reply = server.post("/oauth2/revoke", Some(other), &[("token", &token)]).await;
        reply.assert_error(400, "unauthorized_client");
        assert_eq!(server.introspect(&token).await.json()["active"], true, "still active after a refused revoke");
    }
}

#[tokio::test]
async fn revoking_unknown_or_invalid_tokens_is_200() {
    let server = TestServer::start().await;
    for token in ["garbage", "a.b.c", "tsr_at_unknown"] {
        let reply = server.post("/oauth2/revoke", Some(creds::JWT), &[("token", token)]).await;
        assert_eq!(reply.status, 200, "{token}: {}", reply.text);
    }
    server.post("/oauth2/revoke", Some(creds::JWT), &[]).await.assert_error(400, "invalid_request");
}

#[tokio::test]
async fn malformed_requests_get_rfc_errors() {
    let server = TestServer::start().await;
    let form_ct = ("content-type", "application/x-www-form-urlencoded".to_owned());
    let auth = ("authorization", basic(creds::JWT.0, creds::JWT.1));

    let dup = server
        .send(
            "POST",
            "/oauth2/token",
            &[form_ct.clone(), auth.clone()],
            "grant_type=client_credentials&grant_type=client_credentials",
        )
        .await;
    dup.assert_error(400, "invalid_request");
    let bad_pct =
        server.send("POST", "/oauth2/token", &[form_ct.clone(), auth.clone()], "grant_type=client%ZZcredentials").await;
    bad_pct.assert_error(400, "invalid_request");
    let json_ct = server
        .send(
            "POST",
            "/oauth2/token",
            &[("content-type", "application/json".into()), auth.clone()],
            r#"{"grant_type":"client_credentials"}"#,
        )
        .await;
    json_ct.assert_error(400, "invalid_request");
    let no_ct =
        server.send("POST", "/oauth2/token", std::slice::from_ref(&auth), "grant_type=client_credentials").await;
    no_ct.assert_error(400, "invalid_request");
    let charset = server
        .send(
            "POST",
            "/oauth2/token",
            &[("content-type", "application/x-www-form-urlencoded; charset=UTF-8".into()), auth.clone()],
            "grant_type=client_credentials",
        )
        .await;
    assert_eq!(charset.status, 200, "{}", charset.text);

    let get = server.send("GET", "/oauth2/token", std::slice::from_ref(&auth), "").await;
    get.assert_error(405, "invalid_request");
    assert_eq!(get.header("allow"), Some("POST"));

    let huge = format!("grant_type=client_credentials&pad={}", "x".repeat(20_000));
    let too_large = server.send("POST", "/oauth2/token", &[form_ct.clone(), auth.clone()], huge).await;
    too_large.assert_error(413, "invalid_request");
    let enormous = "x".repeat(100_000);
    let runner_limit = server.send("POST", "/oauth2/token", &[form_ct, auth], enormous).await;
    assert_eq!(runner_limit.status, 413);

    let missing = server.send("GET", "/nope", &[], "").await;
    assert_eq!(missing.status, 404);
    for reply in [dup, bad_pct, json_ct, no_ct, get, too_large, runner_limit, missing] {
        assert!(!reply.text.contains("panicked") && !reply.text.contains("Error {"), "{}", reply.text);
    }
}

#[tokio::test]
async fn metadata_and_jwks_verify_issued_tokens() {
    let server = TestServer::start().await;
    let meta = server.send("GET", "/.well-known/oauth-authorization-server", &[], "").await;
    assert_eq!(meta.status, 200);
    let meta = meta.json();
    assert_eq!(meta["issuer"], server.base);
    assert_eq!(meta["token_endpoint"], format!("{}/oauth2/token", server.base));
    assert_eq!(meta["introspection_endpoint"], format!("{}/oauth2/introspect", server.base));
    assert_eq!(meta["revocation_endpoint"], format!("{}/oauth2/revoke", server.base));
    // The test config trusts no issuer: no exchange, so no refresh token either (RFC 8414 §2: what it supports).
    assert_eq!(meta["grant_types_supported"], json!(["client_credentials"]));
    // No authorization endpoint, so no response types, and an empty list is omitted (RFC 8414 §3.2).
    assert!(meta.get("response_types_supported").is_none(), "{meta}");
    // RFC 8414 §2: the client authentication methods of each endpoint, and for private_key_jwt (RFC 7523) the
    // algorithms its assertions may use: asymmetric only, never none or HS*.
    // Over plain HTTP no client can present a certificate: RFC 8705's methods and certificate-bound tokens are not
    // announced (tests/e2e/mtls.rs: they are where mutual TLS is offered).
    assert!(meta.get("tls_client_certificate_bound_access_tokens").is_none(), "{meta}");
    for endpoint in ["token_endpoint", "introspection_endpoint", "revocation_endpoint"] {
        let methods = json!(["client_secret_basic", "client_secret_post", "private_key_jwt"]);
        assert_eq!(meta[format!("{endpoint}_auth_methods_supported")], methods, "{endpoint}");
        let algs = json!(["ES256", "ES384", "EdDSA", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512"]);
        assert_eq!(meta[format!("{endpoint}_auth_signing_alg_values_supported")], algs, "{endpoint}");
    }
    assert_eq!(meta["access_token_signing_alg_values_supported"], json!(["ES256"]));

    let jwks_reply =
        server.send("GET", meta["jwks_uri"].as_str().unwrap().trim_start_matches(&server.base), &[], "").await;
    assert_eq!(jwks_reply.status, 200);
    assert!(jwks_reply.header("cache-control").unwrap().contains("max-age"));
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_str(&jwks_reply.text).unwrap();

    // An independent verifier: jsonwebtoken with the published JWK, pinned to ES256.
    let token = server.issue(creds::JWT, &[]).await;
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let jwk = jwks.find(header.kid.as_deref().unwrap()).expect("kid published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&["https://orders.example.com"]);
    validation.set_issuer(&[server.base.as_str()]);
    validation.validate_exp = false;
    let data = jsonwebtoken::decode::<serde_json::Value>(&token, &key, &validation).unwrap();
    for claim in ["iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope"] {
        assert!(data.claims.get(claim).is_some(), "RFC 9068 claim {claim}");
    }
    let post = server.send("POST", "/.well-known/jwks.json", &[], "").await;
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
}

#[tokio::test]
async fn head_answers_the_documents_headers_without_content() {
    // RFC 9110 §9.3.2: a GET resource answers HEAD with the same header fields and no content.
    let server = TestServer::start().await;
    for path in ["/.well-known/oauth-authorization-server", "/.well-known/jwks.json"] {
        let get = server.send("GET", path, &[], "").await;
        let head = server.send("HEAD", path, &[], "").await;
        assert_eq!((head.status, head.text.as_str()), (200, ""), "{path}");
        for name in ["content-type", "cache-control", "content-length"] {
            assert_eq!(head.header(name), get.header(name), "{path}: {name}");
        }
        assert_eq!(head.header("content-length"), Some(get.text.len().to_string().as_str()), "{path}");
    }
}

#[tokio::test]
async fn metadata_advertises_exchange_and_refresh_only_with_a_trusted_issuer() {
    let issuer = tessera_e2e::issuers::cognito();
    let server = TestServer::start_config(&tessera_e2e::issuers::exchange_config(&[&issuer])).await;
    let meta = server.send("GET", "/.well-known/oauth-authorization-server", &[], "").await.json();
    assert_eq!(
        meta["grant_types_supported"],
        json!(["client_credentials", "refresh_token", "urn:ietf:params:oauth:grant-type:token-exchange"])
    );
}

#[tokio::test]
async fn eddsa_keys_sign_and_verify_end_to_end() {
    let key = SigningKey::generate(SigningAlgorithm::EdDSA, "ed-1").unwrap();
    let config = config_with_key(&key);
    let server = TestServer::start_config(&config).await;
    let token = server.issue(creds::JWT, &[]).await;
    assert_eq!(jsonwebtoken::decode_header(&token).unwrap().alg, jsonwebtoken::Algorithm::EdDSA);
    assert_eq!(server.introspect(&token).await.json()["active"], true);
}

#[tokio::test]
async fn a_failing_store_fails_closed_with_503() {
    // Issue a real token on a working deployment, then present it to one whose store is down.
    // Both share one signing key, so the token verifies at the broken one and only the store read fails.
    let key = SigningKey::generate(SigningAlgorithm::ES256, "shared-1").unwrap();
    let config = config_with_key(&key);
    let healthy = TestServer::start_config(&config).await;
    let token = healthy.issue(creds::JWT, &[]).await;

    let broken = TestServer::start_on_unavailable_store(&config, &healthy.base).await;

    let introspect = broken.introspect(&token).await;
    introspect.assert_error(503, "temporarily_unavailable");
    assert_eq!(introspect.header("retry-after"), Some("1"));
    assert!(!introspect.text.contains("active"));
    broken
        .post("/oauth2/token", Some(creds::JWT), &[("grant_type", "client_credentials")])
        .await
        .assert_error(503, "temporarily_unavailable");
    broken
        .post("/oauth2/revoke", Some(creds::JWT), &[("token", &token)])
        .await
        .assert_error(503, "temporarily_unavailable");
    assert!(!introspect.text.contains("connection refused"), "store details stay in logs");
}

#[tokio::test]
async fn a_family_watermark_revokes_issued_tokens_to_the_microsecond() {
    use tessera::domain::id::FamilyId;
    use tessera::domain::revocation::{RevocationWatermark, WatermarkTarget};
    use tessera::domain::time::Timestamp;
    use tessera::domain::token::OpaqueToken;

    let server = TestServer::start().await;
    let jwt = server.issue(creds::JWT, &[]).await;
    let opaque = server.issue(creds::OPAQUE, &[]).await;
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap();
    let jwt_family = FamilyId::try_from(claims["tsr_fam"].as_str().unwrap().to_owned()).unwrap();
    let opaque_family = OpaqueToken::parse(&opaque).unwrap().family();
    // Both were issued at the pinned instant.
    let issued = Timestamp::from_micros(claims["tsr_iat_us"].as_u64().unwrap());
    let mark = |family, at| RevocationWatermark {
        tenant: TenantId::default(),
        target: WatermarkTarget::Family(family),
        revoked_before: at,
        access_revoked_before: None,
        expires_at: issued.plus_secs(3600),
    };
    for (token, family) in [(&jwt, jwt_family), (&opaque, opaque_family)] {
        // A mark one microsecond before the issue leaves the token active...
        server.store.raise_watermark(mark(family, Timestamp::from_micros(issued.as_micros() - 1)), None).await.unwrap();
        assert_eq!(server.introspect(token).await.json()["active"], true);
        // ...a mark at the issue instant revokes it.
        server.store.raise_watermark(mark(family, issued), None).await.unwrap();
        assert_eq!(server.introspect(token).await.text, r#"{"active":false}"#);
    }
}

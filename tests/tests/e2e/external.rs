//! Introspection of third-party JWTs (the IndyKite "token introspect" model): a trusted issuer's token is
//! validated offline and answered with its mapped claims; with `record_tokens` it is recorded under its identity,
//! so Tessera's revocation, by token or by subject, reaches a token it never issued.

use serde_json::json;
use tessera::clock::Clock;
use tessera::domain::revocation::{RevocationWatermark, WatermarkTarget};
use tessera::domain::tenant::TenantId;
use tessera::domain::token::{ExternalJwtIdentity, TokenHash};
use tessera::store::StoreKey;
use tessera_e2e::issuers::{TestIssuer, auth0, cognito, exchange_config_recording};
use tessera_e2e::{TestServer, creds};

async fn start(recorded: &TestIssuer, unrecorded: &TestIssuer) -> TestServer {
    TestServer::start_config(&exchange_config_recording(&[(recorded, true), (unrecorded, false)])).await
}

/// Revokes every token of `subject` issued at or before `at`, as an identity event will.
async fn revoke_subject(server: &TestServer, subject: &str, at: tessera::domain::time::Timestamp) {
    let mark = RevocationWatermark::at(&TenantId::default(), WatermarkTarget::subject(subject), at);
    server.store.raise_watermark(mark, None).await.unwrap();
}

/// Whether the token's record exists, under its identity: `(iss, jti)`, or its signed claims without a `jti`.
async fn recorded(server: &TestServer, token: &str) -> bool {
    use base64::Engine;
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    let id = match claims["jti"].as_str() {
        Some(jti) => TokenHash::of_external_jwt(ExternalJwtIdentity::IssuerAndJti {
            issuer: claims["iss"].as_str().unwrap(),
            jti,
        }),
        None => TokenHash::of_external_jwt(ExternalJwtIdentity::SignedClaims(&payload)),
    };
    let key = StoreKey::token(&TenantId::default(), &id);
    !server.store.get_many(std::slice::from_ref(&key)).await.unwrap().is_empty()
}

#[tokio::test]
async fn a_trusted_issuers_jwt_introspects_with_mapped_claims() {
    let (rsa, ec) = (auth0(), cognito());
    let server = start(&rsa, &ec).await;
    let now = server.clock.now().as_secs();
    for issuer in [&rsa, &ec] {
        let mut claims = issuer.claims("alice", now);
        claims["azp"] = json!("spa-client");
        let token = issuer.sign(&claims);
        let body = server.introspect(&token).await.json();
        assert_eq!(body["active"], true, "{body}");
        assert_eq!(body["iss"], issuer.issuer);
        assert_eq!(body["sub"], "alice");
        assert_eq!(body["exp"], now + 3600);
        assert_eq!(body["client_id"], "spa-client");
        assert_eq!(body["scope"], "openid profile email");
        assert_eq!(body["username"], "alice@example.com");
        assert_eq!(body["user_details"], json!({"email": "alice@example.com", "given_name": "Alice"}));
        assert_eq!(recorded(&server, &token).await, issuer.issuer == rsa.issuer, "only record_tokens issuers record");
    }
    // Invalid external tokens are simply inactive.
    let expired = {
        let mut c = rsa.claims("alice", now);
        c["exp"] = json!(now - 120);
        rsa.sign(&c)
    };
    let wrong_aud = {
        let mut c = rsa.claims("alice", now);
        c["aud"] = json!("https://elsewhere.example");
        rsa.sign(&c)
    };
    let forged = TestIssuer::generate(&rsa.issuer, &rsa.audience, jsonwebtoken::Algorithm::RS256, "rsa-1");
    for token in [expired, wrong_aud, forged.sign(&rsa.claims("alice", now))] {
        assert_eq!(server.introspect(&token).await.text, r#"{"active":false}"#);
    }
}

#[tokio::test]
async fn a_recorded_external_token_can_be_revoked() {
    let (rsa, ec) = (auth0(), cognito());
    let server = start(&rsa, &ec).await;
    let now = server.clock.now().as_secs();
    let token = rsa.sign(&rsa.claims("alice", now));
    let sibling = rsa.sign(
        &json!({"jti": "other", "iss": rsa.issuer, "sub": "alice", "aud": rsa.audience, "iat": now, "exp": now + 600}),
    );
    assert_eq!(server.introspect(&token).await.json()["active"], true);

    // Only resource servers may revoke external tokens.
    server
        .post("/oauth2/revoke", Some(creds::JWT), &[("token", &token)])
        .await
        .assert_error(400, "unauthorized_client");
    let revoked = server.post("/oauth2/revoke", Some(creds::RS), &[("token", &token)]).await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    assert_eq!(
        server.introspect(&token).await.text,
        r#"{"active":false}"#,
        "a still-valid Auth0 token, revoked by Tessera"
    );
    assert_eq!(server.introspect(&sibling).await.json()["active"], true, "only that token");

    // Revoking a token that was never introspected records it revoked.
    let fresh = rsa.sign(
        &json!({"jti": "fresh", "iss": rsa.issuer, "sub": "bob", "aud": rsa.audience, "iat": now, "exp": now + 600}),
    );
    assert_eq!(server.post("/oauth2/revoke", Some(creds::RS), &[("token", &fresh)]).await.status, 200);
    assert_eq!(server.introspect(&fresh).await.text, r#"{"active":false}"#);

    // An issuer that does not record tokens cannot have them revoked one by one.
    let unrecorded = ec.sign(&ec.claims("alice", now));
    server
        .post("/oauth2/revoke", Some(creds::RS), &[("token", &unrecorded)])
        .await
        .assert_error(400, "unsupported_token_type");
}

/// An issuer that gives a new token the `jti` of an earlier one (RFC 7519 §4.1.7 asks for ids with "a negligible
/// probability that the same value will be accidentally assigned to a different data object", but an issuer may fail
/// that) gets its new token revoked all the same once the earlier one has expired: the earlier record, under the same
/// `(iss, jti)`, past its expiry but still stored (DynamoDB's TTL deletes lazily, up to days late), is absent for
/// every reader, so recording the new token replaces it rather than finding its key taken.
#[tokio::test]
async fn a_reused_jti_is_revoked_afresh_once_the_earlier_token_expired() {
    use tessera::jwt::external::EXTERNAL_LEEWAY_SECS;
    let (rsa, ec) = (auth0(), cognito());
    let server = start(&rsa, &ec).await;
    let now = server.clock.now();
    // A jti of this run's own (on DynamoDB every run shares one table), reused within the run.
    let jti = format!("reused-{}", now.as_micros());
    let signed = |iat: u64, exp: u64| {
        let claims = json!({"jti": jti, "iss": rsa.issuer, "sub": "bob", "aud": rsa.audience, "iat": iat, "exp": exp});
        rsa.sign(&claims)
    };
    let earlier = signed(now.as_secs(), now.as_secs() + 60);
    assert_eq!(server.post("/oauth2/revoke", Some(creds::RS), &[("token", &earlier)]).await.status, 200);
    assert_eq!(server.introspect(&earlier).await.text, r#"{"active":false}"#);

    // Past the earlier token's `exp`, its issuer's skew and its record's: every reader drops the record, which
    // is still stored.
    server.clock.advance_secs(60 + 2 * EXTERNAL_LEEWAY_SECS + 1);
    let later = server.clock.now().as_secs();
    assert!(recorded(&server, &earlier).await, "the expired record lingers, as DynamoDB's TTL lets it");
    let reused = signed(later, later + 600);
    let revoked = server.post("/oauth2/revoke", Some(creds::RS), &[("token", &reused)]).await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    assert_eq!(server.introspect(&reused).await.text, r#"{"active":false}"#, "revoked, not left active");

    // The same on the introspection path: a reused id is recorded afresh, so revoking it later lands.
    server.clock.advance_secs(600 + 2 * EXTERNAL_LEEWAY_SECS + 1);
    let last = server.clock.now().as_secs();
    let third = signed(last, last + 600);
    assert_eq!(server.introspect(&third).await.json()["active"], true, "a new token, not the revoked one");
    assert_eq!(server.post("/oauth2/revoke", Some(creds::RS), &[("token", &third)]).await.status, 200);
    assert_eq!(server.introspect(&third).await.text, r#"{"active":false}"#);
}

#[tokio::test]
async fn a_subject_watermark_revokes_external_tokens_of_that_subject() {
    let (rsa, ec) = (auth0(), cognito());
    let server = start(&rsa, &ec).await;
    let now = server.clock.now();
    // A subject of its own: on DynamoDB every test shares one table, and this watermark must not reach them.
    let subject = format!("alice-{}", now.as_micros());
    let alice = rsa.sign(&rsa.claims(&subject, now.as_secs()));
    let bob = rsa.sign(&rsa.claims("bob", now.as_secs()));
    assert_eq!(server.introspect(&alice).await.json()["active"], true);
    revoke_subject(&server, &subject, now).await;
    assert_eq!(server.introspect(&alice).await.text, r#"{"active":false}"#);
    assert_eq!(server.introspect(&bob).await.json()["active"], true);
    // A token Auth0 issues after the revocation is active again.
    server.clock.advance_secs(2);
    let later = rsa.sign(&rsa.claims(&subject, now.as_secs() + 2));
    assert_eq!(server.introspect(&later).await.json()["active"], true);
}

#[tokio::test]
async fn a_revoked_subject_token_cannot_be_exchanged() {
    use tessera_e2e::issuers::{EXCHANGER, exchange};
    let (rsa, ec) = (auth0(), cognito());
    let server = start(&rsa, &ec).await;
    let now = server.clock.now();
    let subject = format!("carol-{}", now.as_micros());
    let token = rsa.sign(&rsa.claims(&subject, now.as_secs()));
    assert_eq!(exchange(&server, EXCHANGER, &token, &[]).await.status, 200);
    // Revoked by token: the exchange must not mint a fresh session from it.
    assert_eq!(server.post("/oauth2/revoke", Some(creds::RS), &[("token", &token)]).await.status, 200);
    exchange(&server, EXCHANGER, &token, &[]).await.assert_error(400, "invalid_grant");

    // Revoked by subject: every token of the subject issued before the mark.
    let mut claims = rsa.claims(&subject, now.as_secs());
    claims["jti"] = json!("o");
    let other = rsa.sign(&claims);
    assert_eq!(exchange(&server, EXCHANGER, &other, &[]).await.status, 200);
    revoke_subject(&server, &subject, now).await;
    exchange(&server, EXCHANGER, &other, &[]).await.assert_error(400, "invalid_grant");
    assert_eq!(server.introspect(&other).await.text, r#"{"active":false}"#);
}

/// Releases up to 0.1 recorded an external token under SHA-256 of the string presented, with its TTL at `exp`. Such
/// a revocation holds after the upgrade for that string and for its ECDSA twin (either may have been the one
/// recorded), through the issuer's skew after `exp`, at introspection and at exchange.
#[tokio::test]
async fn a_revocation_recorded_by_the_presented_string_still_holds() {
    use tessera::domain::token::ExternalTokenRecord;
    use tessera::jwt::external::EXTERNAL_LEEWAY_SECS;
    use tessera::store::Record;
    use tessera_e2e::issuers::{EXCHANGER, exchange};
    use tessera_e2e::token_variants::ecdsa_twin;
    let (rsa, ec) = (auth0(), cognito());
    let server = TestServer::start_config(&exchange_config_recording(&[(&rsa, true), (&ec, true)])).await;
    let now = server.clock.now();
    let mut spellings = Vec::new();
    for issuer in [&rsa, &ec] {
        let subject = format!("dave-{}-{}", issuer.kid, now.as_micros());
        let mut claims = issuer.claims(&subject, now.as_secs());
        claims["exp"] = json!(now.as_secs() + 60);
        let token = issuer.sign(&claims);
        let legacy = ExternalTokenRecord {
            tenant: TenantId::default(),
            token_hash: TokenHash::of(&token),
            issuer: issuer.issuer.clone(),
            subject,
            issued_at: now,
            expires_at: now.plus_secs(60),
            revoked_at: Some(now),
        };
        server.store.put_new(Record::ExternalToken(legacy), now).await.unwrap();
        spellings.extend(ecdsa_twin(&token, issuer.alg));
        spellings.push(token);
    }
    assert_eq!(spellings.len(), 3, "the RSA token, the ECDSA token and its twin");
    for at in [0, 60 + EXTERNAL_LEEWAY_SECS / 2] {
        server.clock.advance_secs(at);
        for token in &spellings {
            assert_eq!(server.introspect(token).await.text, r#"{"active":false}"#, "{at} s later");
            exchange(&server, EXCHANGER, token, &[]).await.assert_error(400, "invalid_grant");
        }
    }
}

#[tokio::test]
async fn a_crit_header_is_refused() {
    use tessera_e2e::issuers::{EXCHANGER, exchange};
    let (rsa, ec) = (auth0(), cognito());
    let server = start(&rsa, &ec).await;
    let now = server.clock.now().as_secs();
    let claims = rsa.claims("erin", now);
    let header = jsonwebtoken::Header {
        kid: Some(rsa.kid.clone()),
        crit: Some(vec!["urn:unknown".into()]),
        ..jsonwebtoken::Header::new(rsa.alg)
    };
    // RFC 7515 §4.1.11: a recipient that does not understand a listed extension MUST reject the JWS.
    let critical = rsa.sign_with_header(&claims, header);
    assert_eq!(server.introspect(&critical).await.text, r#"{"active":false}"#);
    exchange(&server, EXCHANGER, &critical, &[]).await.assert_error(400, "invalid_grant");
    // The same claims without `crit` are fine.
    assert_eq!(server.introspect(&rsa.sign(&claims)).await.json()["active"], true);
}

/// One skew rule for a trusted issuer's token: a token expired less than the tolerated skew ago (the issuer's
/// clock is not ours) is active at introspection and accepted at exchange alike, and one expired longer ago is
/// refused by both. A revocation recorded for it lasts as long as it is accepted.
#[tokio::test]
async fn introspection_and_exchange_apply_the_same_skew() {
    use tessera::jwt::external::EXTERNAL_LEEWAY_SECS;
    use tessera_e2e::issuers::{EXCHANGER, exchange};
    let (rsa, ec) = (auth0(), cognito());
    let server = start(&rsa, &ec).await;
    let now = server.clock.now().as_secs();
    let expired_ago = |secs: u64, subject: &str| {
        let mut claims = rsa.claims(&format!("{subject}-{now}"), now - 600);
        claims["exp"] = json!(now - secs);
        rsa.sign(&claims)
    };
    let within = expired_ago(EXTERNAL_LEEWAY_SECS - 10, "frank");
    assert_eq!(server.introspect(&within).await.json()["active"], true, "within the skew");
    assert_eq!(exchange(&server, EXCHANGER, &within, &[]).await.status, 200, "within the skew");
    let beyond = expired_ago(EXTERNAL_LEEWAY_SECS + 1, "grace");
    assert_eq!(server.introspect(&beyond).await.text, r#"{"active":false}"#);
    exchange(&server, EXCHANGER, &beyond, &[]).await.assert_error(400, "invalid_grant");

    // Revoked just before `exp`, the token stays revoked through the skew after it.
    let token = {
        let mut claims = rsa.claims(&format!("heidi-{now}"), now);
        claims["exp"] = json!(now + 5);
        rsa.sign(&claims)
    };
    assert_eq!(server.post("/oauth2/revoke", Some(creds::RS), &[("token", &token)]).await.status, 200);
    server.clock.advance_secs(5 + EXTERNAL_LEEWAY_SECS / 2);
    assert_eq!(server.introspect(&token).await.text, r#"{"active":false}"#, "the revocation outlives exp");
    exchange(&server, EXCHANGER, &token, &[]).await.assert_error(400, "invalid_grant");
}

/// An issuer whose clock runs ahead stamps a future `iat` (within the tolerated skew). A subject revocation now
/// still reaches the token, at introspection and at exchange: a watermark compares with `min(iat, now)`.
#[tokio::test]
async fn a_future_iat_does_not_outlive_a_subject_revocation() {
    use tessera_e2e::issuers::{EXCHANGER, exchange};
    let (rsa, ec) = (auth0(), cognito());
    let server = start(&rsa, &ec).await;
    let now = server.clock.now();
    let subject = format!("ivy-{}", now.as_micros());
    let ahead = rsa.sign(&rsa.claims(&subject, now.as_secs() + 20));
    assert_eq!(server.introspect(&ahead).await.json()["active"], true, "within the skew");
    revoke_subject(&server, &subject, now).await;
    assert_eq!(server.introspect(&ahead).await.text, r#"{"active":false}"#);
    exchange(&server, EXCHANGER, &ahead, &[]).await.assert_error(400, "invalid_grant");
}

//! `tessera tokens inspect` end to end, through the runner's `/local/tokens/inspect` (the command's door to the
//! embedded store; with `--table` it calls the same function on DynamoDB), on the store `TESSERA_E2E_STORE`
//! selects: every state WSO2 names and the rest, with the reason introspection keeps off the wire, and never
//! the token itself in the answer.

use serde_json::{Value, json};
use tessera::clock::Clock;
use tessera::config::Config;
use tessera_e2e::issuers::{EXCHANGER, EXCHANGER_TWO, auth0, exchange, exchange_config};
use tessera_e2e::{TestServer, creds, isolated_backend_store, test_config_toml};

async fn inspect_in(server: &TestServer, tenant: &str, token: &str) -> Value {
    let headers = [("content-type", "application/json".to_owned())];
    let body = json!({"token": token, "tenant": tenant}).to_string();
    let reply = server.send("POST", "/local/tokens/inspect", &headers, body).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(!reply.text.contains(token), "the answer never repeats the token");
    reply.json()
}

async fn inspect(server: &TestServer, token: &str) -> Value {
    inspect_in(server, "default", token).await
}

fn refresh_pairs(token: &str) -> [(&str, &str); 2] {
    [("grant_type", "refresh_token"), ("refresh_token", token)]
}

#[tokio::test]
async fn each_state_and_its_reason() {
    let issuer = auth0();
    // A table of its own: the subject watermark below must not reach the other suites' demo-jwt tokens.
    let config = exchange_config(&[&issuer]);
    let server = TestServer::start_on(&config, isolated_backend_store(&config).await).await;

    // ACTIVE, with the token's claims (no secret).
    let jwt = server.issue(creds::JWT, &[]).await;
    let active = inspect(&server, &jwt).await;
    assert_eq!(active["state"], "ACTIVE");
    assert_eq!(active["token"]["format"], "jwt");
    assert_eq!(active["token"]["kind"], "access_token");
    assert_eq!(active["token"]["client_id"], "demo-jwt");
    assert_eq!(active["token"]["scope"], "orders:read");
    assert!(active["token"]["family"].is_string() && active["token"].get("jti").is_none());

    // REVOKED (RFC 7009), a JWT through the denylist and an opaque token through its record, with when.
    let opaque = server.issue(creds::OPAQUE, &[]).await;
    for (client, token) in [(creds::JWT, &jwt), (creds::OPAQUE, &opaque)] {
        assert_eq!(server.post("/oauth2/revoke", Some(client), &[("token", token)]).await.status, 200);
        let revoked = inspect(&server, token).await;
        assert_eq!(revoked["state"], "REVOKED", "{revoked}");
        assert_eq!(revoked["at_us"], server.clock.now().as_micros());
    }

    // INACTIVE (refreshed: WSO2's state), SPENT, then INACTIVE (family revoked for good, by reuse).
    let subject_token = issuer.sign(&issuer.claims("alice", server.clock.now().as_secs()));
    for client in [EXCHANGER, EXCHANGER_TWO] {
        let first = exchange(&server, client, &subject_token, &[]).await.json();
        let (old_access, old_refresh) =
            (first["access_token"].as_str().unwrap(), first["refresh_token"].as_str().unwrap());
        server.clock.advance_secs(1);
        let second = server.post("/oauth2/token", Some(client), &refresh_pairs(old_refresh)).await.json();
        let refreshed = inspect(&server, old_access).await;
        assert_eq!(refreshed["state"], "INACTIVE", "{refreshed}");
        assert_eq!(refreshed["watermark"]["kind"], "family_refreshed");
        assert_eq!(refreshed["watermark"]["revoked_before_us"], server.clock.now().as_micros());
        assert_eq!(refreshed["watermark"]["final_mark"], false);
        assert!(refreshed["reason"].as_str().unwrap().contains("refreshed"));
        let spent = inspect(&server, old_refresh).await;
        assert_eq!(spent["state"], "SPENT", "{spent}");
        assert_eq!(spent["at_us"], server.clock.now().as_micros());
        assert_eq!(spent["token"]["kind"], "refresh_token");
        assert_eq!(spent["token"]["sub"], "alice");
        assert_eq!(inspect(&server, second["access_token"].as_str().unwrap()).await["state"], "ACTIVE");

        // Replaying the spent token is reuse: the family's final mark, ahead of now.
        let reuse = server.post("/oauth2/token", Some(client), &refresh_pairs(old_refresh)).await;
        reuse.assert_error(400, "invalid_grant");
        for token in [&second["access_token"], &second["refresh_token"]] {
            let revoked = inspect(&server, token.as_str().unwrap()).await;
            assert_eq!(revoked["state"], "INACTIVE", "{revoked}");
            assert_eq!(
                (revoked["watermark"]["kind"].as_str(), revoked["watermark"]["final_mark"].as_bool()),
                (Some("family"), Some(true))
            );
        }
    }

    // INACTIVE by a subject watermark (a revocation event), with its mark.
    let by_subject = server.issue(creds::JWT, &[]).await;
    server.clock.advance_secs(1);
    let event = json!({"version": "0", "id": "inspect-1", "detail-type": "tessera.revoke", "source": "test",
        "account": "123456789012", "time": "2026-11-22T10:00:00Z", "region": "eu-west-1", "resources": [],
        "detail": {"event_id": "inspect-1", "tenant": "default", "subject": "demo-jwt", "reason": "test"}});
    assert_eq!(server.send_event(&event).await.status, 200);
    let watermarked = inspect(&server, &by_subject).await;
    assert_eq!(watermarked["state"], "INACTIVE", "{watermarked}");
    assert_eq!(watermarked["watermark"]["kind"], "subject");
    assert_eq!(watermarked["watermark"]["revoked_before_us"], server.clock.now().as_micros());

    // EXPIRED: a JWT past its exp, and an opaque token whose record awaits TTL deletion.
    server.clock.advance_secs(1);
    let (jwt, opaque) = (server.issue(creds::JWT, &[]).await, server.issue(creds::OPAQUE, &[]).await);
    server.clock.advance_secs(3_600);
    for token in [&jwt, &opaque] {
        let expired = inspect(&server, token).await;
        assert_eq!(expired["state"], "EXPIRED", "{expired}");
    }

    // UNKNOWN and INVALID.
    let unknown = inspect(
        &server,
        "tsr_at_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    )
    .await;
    assert_eq!(unknown["state"], "UNKNOWN", "{unknown}");
    assert_eq!(inspect(&server, "not a token").await["state"], "UNKNOWN");
    let mut forged = jwt.clone();
    forged.truncate(forged.len() - 4);
    forged.push_str("AAAA");
    let invalid = inspect(&server, &forged).await;
    assert_eq!(invalid["state"], "INVALID", "{invalid}");

    // The human-readable rendering names the state, reason and mark, and holds no token either.
    let text = tessera_cli::commands::tokens::render(&serde_json::from_value(watermarked).unwrap());
    assert!(text.starts_with("INACTIVE: its subject's watermark"), "{text}");
    assert!(text.contains("watermark     subject") && !text.contains(&by_subject), "{text}");
}

#[tokio::test]
async fn a_token_of_another_tenant_is_named_as_such() {
    let toml = format!(
        "{}\n[[tenants]]\nname = \"acme\"\n\n[[clients]]\ntenant = \"acme\"\nclient_id = \"acme-opaque\"\n\
         client_secret = \"acme-opaque-secret-0123456789abcd\"\nscopes = [\"orders:read\"]\n\
         access_token_format = \"opaque\"\n\n[[clients]]\ntenant = \"acme\"\nclient_id = \"acme-jwt\"\n\
         client_secret = \"acme-jwt-secret-0123456789abcdef0\"\nscopes = [\"orders:read\"]\n",
        test_config_toml()
    );
    let config = Config::from_toml(&toml).expect("config");
    let server = TestServer::start_on(&config, isolated_backend_store(&config).await).await;
    let issue = |client: (&'static str, &'static str)| {
        let server = &server;
        async move {
            let reply =
                server.post("/t/acme/oauth2/token", Some(client), &[("grant_type", "client_credentials")]).await;
            assert_eq!(reply.status, 200, "{}", reply.text);
            reply.json()["access_token"].as_str().unwrap().to_owned()
        }
    };
    for token in [
        issue(("acme-opaque", "acme-opaque-secret-0123456789abcd")).await,
        issue(("acme-jwt", "acme-jwt-secret-0123456789abcdef0")).await,
    ] {
        let elsewhere = inspect(&server, &token).await;
        assert_eq!(elsewhere["state"], "WRONG_TENANT", "{elsewhere}");
        assert_eq!(elsewhere["token_tenant"], "acme");
        assert_eq!(inspect_in(&server, "acme", &token).await["state"], "ACTIVE");
    }
    // A tenant the runner does not serve is an error, not a state.
    let headers = [("content-type", "application/json".to_owned())];
    let body = json!({"token": "x", "tenant": "nowhere"}).to_string();
    server.send("POST", "/local/tokens/inspect", &headers, body).await.assert_error(400, "invalid_request");
}

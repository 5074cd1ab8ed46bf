//! A trusted issuer configured with a JWKS URL: keys fetched on first use and cached for the TTL, fetched
//! again early when a token names an unknown `kid` (the issuer rotated its keys), and never more often than
//! the minimum interval, however many made-up `kid`s arrive.

use jsonwebtoken::{Algorithm, Header};
use serde_json::json;
use tessera::clock::Clock;
use tessera::config::Config;
use tessera::jwt::external::{JWKS_MIN_REFETCH_SECS, JWKS_TTL_SECS};
use tessera_e2e::issuers::{JwksServer, TestIssuer};
use tessera_e2e::{TestServer, test_config_toml};

const ISS: &str = "https://rotating-idp.example.com/";
const AUD: &str = "https://api.example.com";

fn config(jwks_uri: &str) -> Config {
    let toml = format!(
        "{}\n[[trusted_issuers]]\nissuer = \"{ISS}\"\naudiences = [\"{AUD}\"]\nalgorithms = [\"ES256\", \"RS256\"]\njwks_uri = \"{jwks_uri}\"\n",
        test_config_toml()
    );
    Config::from_toml(&toml).unwrap()
}

async fn active(server: &TestServer, token: &str) -> bool {
    server.introspect(token).await.json()["active"] == true
}

#[tokio::test]
async fn keys_are_cached_refreshed_on_rotation_and_rate_limited() {
    let first = TestIssuer::generate(ISS, AUD, Algorithm::ES256, "2026-10");
    let second = TestIssuer::generate(ISS, AUD, Algorithm::RS256, "2026-11");
    let jwks = JwksServer::start(&first.jwks()).await;
    let server = TestServer::start_config(&config(&jwks.url)).await;
    let now = || server.clock.now().as_secs();
    assert_eq!(jwks.hits(), 0, "fetched on first use, not at start");

    let token = first.sign(&first.claims("alice", now()));
    assert!(active(&server, &token).await);
    assert!(active(&server, &token).await);
    assert_eq!(jwks.hits(), 1, "cached");

    // The issuer rotates: the new kid is unknown, but a fetch just happened, so it waits out the interval.
    jwks.set(&json!({"keys": [first.public_jwk(), second.public_jwk()]}));
    let rotated = second.sign(&second.claims("bob", now()));
    assert!(!active(&server, &rotated).await);
    assert_eq!(jwks.hits(), 1, "rate-limited");
    server.clock.advance_secs(JWKS_MIN_REFETCH_SECS);
    let rotated = second.sign(&second.claims("bob", now()));
    assert!(active(&server, &rotated).await, "an unknown kid triggers a refetch");
    assert_eq!(jwks.hits(), 2);

    // A flood of made-up kids costs the issuer at most one request per interval.
    for i in 0..20 {
        let forged = first.sign_with_header(
            &first.claims("mallory", now()),
            Header { kid: Some(format!("made-up-{i}")), ..Header::new(Algorithm::ES256) },
        );
        assert!(!active(&server, &forged).await);
    }
    assert_eq!(jwks.hits(), 2);
    server.clock.advance_secs(JWKS_MIN_REFETCH_SECS);
    let forged = first.sign_with_header(
        &first.claims("mallory", now()),
        Header { kid: Some("made-up".into()), ..Header::new(Algorithm::ES256) },
    );
    assert!(!active(&server, &forged).await);
    assert_eq!(jwks.hits(), 3);

    // After the TTL the document is read again, and a key the issuer dropped stops verifying.
    jwks.set(&second.jwks());
    server.clock.advance_secs(JWKS_TTL_SECS);
    let old_key = first.sign(&first.claims("alice", now()));
    assert!(!active(&server, &old_key).await);
    let new_key = second.sign(&second.claims("alice", now()));
    assert!(active(&server, &new_key).await);
    assert_eq!(jwks.hits(), 4);
}

#[test]
fn only_https_or_loopback_jwks_urls_are_accepted() {
    for uri in [
        "http://idp.example.com/jwks",
        "http://127.0.0.1@evil.example/jwks",
        "http://localhost.evil.example/jwks",
        "ftp://x/jwks",
    ] {
        let err = TestServer::config_error(&config(uri));
        assert!(err.contains("jwks_uri must be https"), "{uri}: {err}");
    }
    assert_eq!(TestServer::config_error(&config("http://[::1]:8080/jwks")), "");
}

//! One identity per token: every string that verifies to the same claims is the same token, so a revocation
//! reaches all of them. Checked as a property over every algorithm Tessera accepts from a trusted issuer
//! (ES256/384, EdDSA, RS256/384/512, PS256/384/512) and over Tessera's own JWTs: after a revocation, neither the
//! ECDSA twin (s → n − s), nor the issuer's second signature of the same claims, nor any other spelling of the
//! token (base64 padding and alphabet, unused bits, surrounding whitespace) is active at introspection or
//! accepted at token exchange.

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use tessera::clock::Clock;
use tessera_e2e::issuers::{EXCHANGER, TestIssuer, exchange, exchange_config_recording};
use tessera_e2e::token_variants::{alternative_encodings, ecdsa_twin};
use tessera_e2e::{TestServer, creds};

const ALGORITHMS: [Algorithm; 9] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

const INACTIVE: &str = r#"{"active":false}"#;

/// Strings that verify to the same claims as `token` but differ from it: the ECDSA twin, and a second signature
/// of the same claims by the issuer (ECDSA and PSS sign with fresh randomness; RSA PKCS#1 v1.5 and EdDSA are
/// deterministic, so theirs is the token itself and is left out).
fn same_claims(issuer: &TestIssuer, token: &str, claims: &Value) -> Vec<(&'static str, String)> {
    let mut twins = Vec::new();
    if let Some(twin) = ecdsa_twin(token, issuer.alg) {
        twins.push(("ECDSA twin (r, n - s)", twin));
    }
    let again = issuer.sign(claims);
    if again != token {
        twins.push(("a second signature of the same claims", again));
    }
    twins
}

async fn assert_dead(server: &TestServer, alg: Algorithm, what: &str, token: &str) {
    let answer = server.introspect(token).await;
    assert_eq!(answer.text, INACTIVE, "{alg:?} {what}: introspection");
    let exchanged = exchange(server, EXCHANGER, token, &[]).await;
    assert_eq!(exchanged.status, 400, "{alg:?} {what}: exchange answered {}", exchanged.text);
    assert_eq!(exchanged.json()["error"], "invalid_grant", "{alg:?} {what}");
}

#[tokio::test]
async fn no_spelling_of_a_revoked_external_token_is_active_or_exchangeable() {
    let issuers: Vec<TestIssuer> = ALGORITHMS
        .iter()
        .map(|alg| {
            let name = format!("{alg:?}").to_lowercase();
            TestIssuer::generate(&format!("https://{name}.idp.example/"), "https://api.example.com", *alg, &name)
        })
        .collect();
    let entries: Vec<(&TestIssuer, bool)> = issuers.iter().map(|i| (i, true)).collect();
    let server = TestServer::start_config(&exchange_config_recording(&entries)).await;
    let now = server.clock.now();
    for issuer in &issuers {
        let alg = issuer.alg;
        // With a `jti` the identity is (iss, jti); without one it is the signed claims. Subjects of their own:
        // on DynamoDB every run shares one table.
        let with_jti = {
            let mut claims = issuer.claims(&format!("alice-{alg:?}-{}", now.as_micros()), now.as_secs());
            claims["jti"] = json!(format!("jti-{}", now.as_micros()));
            claims
        };
        let without_jti = issuer.claims(&format!("bob-{alg:?}-{}", now.as_micros()), now.as_secs());
        for (shape, claims) in [("with jti", with_jti), ("without jti", without_jti)] {
            let token = issuer.sign(&claims);
            let twins = same_claims(issuer, &token, &claims);
            // Every twin is a valid token before the revocation: the property is not vacuous.
            for (what, twin) in &twins {
                let answer = server.introspect(twin).await.json();
                assert_eq!(answer["active"], true, "{alg:?} {shape}, {what} verifies before the revocation: {answer}");
            }
            assert_eq!(exchange(&server, EXCHANGER, &token, &[]).await.status, 200, "{alg:?} {shape}");

            let revoked = server.post("/oauth2/revoke", Some(creds::RS), &[("token", &token)]).await;
            assert_eq!(revoked.status, 200, "{alg:?} {shape}: {}", revoked.text);

            assert_dead(&server, alg, &format!("{shape}, the revoked token"), &token).await;
            for (what, twin) in &twins {
                assert_dead(&server, alg, &format!("{shape}, {what}"), twin).await;
            }
            for (what, variant) in alternative_encodings(&token) {
                assert_dead(&server, alg, &format!("{shape}, {what}"), &variant).await;
            }
        }
    }
}

#[tokio::test]
async fn revoking_the_twin_revokes_the_token() {
    let issuer = TestIssuer::generate("https://es256.idp.example/", "https://api.example.com", Algorithm::ES256, "k");
    let server = TestServer::start_config(&exchange_config_recording(&[(&issuer, true)])).await;
    let now = server.clock.now();
    let claims = issuer.claims(&format!("carol-{}", now.as_micros()), now.as_secs());
    let token = issuer.sign(&claims);
    let twin = ecdsa_twin(&token, Algorithm::ES256).expect("ES256");
    assert_eq!(server.post("/oauth2/revoke", Some(creds::RS), &[("token", &twin)]).await.status, 200);
    assert_dead(&server, Algorithm::ES256, "the token whose twin was revoked", &token).await;
}

#[tokio::test]
async fn no_spelling_of_a_revoked_tessera_jwt_is_active() {
    let server = TestServer::start().await;
    let token = server.issue(creds::JWT, &[]).await;
    let twin = ecdsa_twin(&token, Algorithm::ES256).expect("the demo key signs ES256");
    // Tessera accepts high-S signatures of its own tokens (their identity is the jti; see docs/security.md).
    assert_eq!(server.introspect(&twin).await.json()["active"], true);
    let revoked = server.post("/oauth2/revoke", Some(creds::JWT), &[("token", &token)]).await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    assert_eq!(server.introspect(&token).await.text, INACTIVE);
    assert_eq!(server.introspect(&twin).await.text, INACTIVE, "the twin");
    for (what, variant) in alternative_encodings(&token) {
        assert_eq!(server.introspect(&variant).await.text, INACTIVE, "{what}");
    }
}

//! `private_key_jwt` client authentication (RFC 7523 §2.2, RFC 7521 §4.2, OpenID Connect Core §9) over HTTP, at the
//! token, introspection and revocation endpoints: assertions signed with jwt-compact (independent of the
//! jsonwebtoken/aws-lc-rs code that verifies them), keys registered inline or at a `jwks_uri` (the trusted issuers'
//! cache and rate limit), every replay refused (one conditional write per `jti`, even two at once), and every bad
//! assertion answered `invalid_client` (401, `WWW-Authenticate`) without ever passing. Runs on the store
//! `TESSERA_E2E_STORE` selects.

use serde_json::{Value, json};
use tessera::clock::Clock;
use tessera::config::Config;
use tessera_e2e::client_assertions::{ClientKey, claims, fields, unsigned};
use tessera_e2e::issuers::JwksServer;
use tessera_e2e::{Reply, TestServer, basic, creds, test_config_toml};

const TOKEN: &str = "/oauth2/token";
const INTROSPECT: &str = "/oauth2/introspect";
const REVOKE: &str = "/oauth2/revoke";

/// A `private_key_jwt` client with an inline JWK Set (two keys), which may also introspect.
const INLINE: &str = "pkj-inline-batch";
/// A `private_key_jwt` client whose keys are at a `jwks_uri`.
const REMOTE: &str = "pkj-remote-batch";

struct Clients {
    es: ClientKey,
    ed: ClientKey,
    remote: ClientKey,
    jwks: JwksServer,
}

async fn clients() -> Clients {
    let remote = ClientKey::ed25519("remote-1");
    let jwks = JwksServer::start(&ClientKey::jwks(&[&remote])).await;
    Clients { es: ClientKey::es256("es-1"), ed: ClientKey::ed25519("ed-1"), remote, jwks }
}

fn config(c: &Clients) -> Config {
    let inline = ClientKey::jwks(&[&c.es, &c.ed]).to_string();
    let toml = format!(
        "{}\n[[clients]]\nclient_id = \"{INLINE}\"\ntoken_endpoint_auth_method = \"private_key_jwt\"\njwks = '{inline}'\n\
         scopes = [\"orders:read\"]\nmay_introspect = true\n\n\
         [[clients]]\nclient_id = \"{REMOTE}\"\ntoken_endpoint_auth_method = \"private_key_jwt\"\njwks_uri = \"{}\"\n\
         scopes = [\"orders:read\"]\naccess_token_format = \"opaque\"\n",
        test_config_toml(),
        c.jwks.url
    );
    Config::from_toml(&toml).unwrap()
}

async fn post_assertion(server: &TestServer, path: &str, assertion: &str, pairs: &[(&str, &str)]) -> Reply {
    tessera_e2e::client_assertions::post(server, path, assertion, pairs).await
}

fn now(server: &TestServer) -> u64 {
    server.clock.now().as_secs()
}

fn url(server: &TestServer, path: &str) -> String {
    format!("{}{path}", server.base)
}

/// RFC 7523 §2.2 at each endpoint that authenticates clients: a token by client credentials (aud = the token
/// endpoint, RFC 7523 §3 item 3), introspected by the same client (aud = the issuer) and revoked by it (aud = the
/// revocation endpoint); EdDSA and ES256 keys of one inline set, each picked by its `kid`.
#[tokio::test]
async fn an_assertion_authenticates_at_the_token_introspection_and_revocation_endpoints() {
    let c = clients().await;
    let server = TestServer::start_config(&config(&c)).await;
    let cc = [("grant_type", "client_credentials")];
    let issued =
        post_assertion(&server, TOKEN, &c.es.sign(&claims(INLINE, &url(&server, TOKEN), now(&server))), &cc).await;
    assert_eq!(issued.status, 200, "{}", issued.text);
    assert_eq!(issued.header("cache-control"), Some("no-store"));
    let token = issued.json()["access_token"].as_str().unwrap().to_owned();

    let introspected = post_assertion(
        &server,
        INTROSPECT,
        &c.ed.sign(&claims(INLINE, &server.base, now(&server))),
        &[("token", &token)],
    )
    .await;
    assert_eq!(introspected.status, 200, "{}", introspected.text);
    assert_eq!(introspected.json()["active"], true);
    assert_eq!(introspected.json()["client_id"], INLINE);

    let revoked = post_assertion(
        &server,
        REVOKE,
        &c.es.sign(&claims(INLINE, &url(&server, REVOKE), now(&server))),
        &[("token", &token)],
    )
    .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    assert_eq!(server.introspect(&token).await.json()["active"], false, "revoked by its private_key_jwt client");

    // A client_id beside the assertion names the same client (RFC 7521 §4.2).
    let with_id = [("grant_type", "client_credentials"), ("client_id", INLINE)];
    let reply =
        post_assertion(&server, TOKEN, &c.ed.sign(&claims(INLINE, &url(&server, TOKEN), now(&server))), &with_id).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

/// Keys at a `jwks_uri`, through the trusted issuers' cache: fetched on first use, cached for what follows.
#[tokio::test]
async fn keys_at_a_jwks_uri_are_fetched_once_and_cached() {
    let c = clients().await;
    let server = TestServer::start_config(&config(&c)).await;
    assert_eq!(c.jwks.hits(), 0, "fetched on first use, not at start");
    let cc = [("grant_type", "client_credentials")];
    for _ in 0..3 {
        let assertion = c.remote.sign(&claims(REMOTE, &url(&server, TOKEN), now(&server)));
        let reply = post_assertion(&server, TOKEN, &assertion, &cc).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert!(reply.json()["access_token"].as_str().unwrap().starts_with("tsr_at_"));
    }
    assert_eq!(c.jwks.hits(), 1, "cached");
    // A key the URL does not publish is refused, whatever it signs.
    let stranger = ClientKey::ed25519("remote-1");
    let reply =
        post_assertion(&server, TOKEN, &stranger.sign(&claims(REMOTE, &url(&server, TOKEN), now(&server))), &cc).await;
    reply.assert_error(401, "invalid_client");
}

/// RFC 7523 §3 item 7: "The authorization server may ensure that JWTs are not replayed by maintaining the set of
/// used "jti" values for the length of time for which the JWT would be considered valid". Tessera always does:
/// the same assertion twice is refused the second time, at any endpoint, and of two sent at once exactly one
/// passes (one conditional write each, no read). A `jti` is the client's own: another client may use the same.
#[tokio::test]
async fn a_replayed_assertion_is_refused_even_when_both_arrive_at_once() {
    let c = clients().await;
    let server = TestServer::start_config(&config(&c)).await;
    let cc = [("grant_type", "client_credentials")];
    let assertion = c.es.sign(&claims(INLINE, &server.base, now(&server)));
    assert_eq!(post_assertion(&server, TOKEN, &assertion, &cc).await.status, 200);
    post_assertion(&server, TOKEN, &assertion, &cc).await.assert_error(401, "invalid_client");
    let token = server.issue(creds::JWT, &[]).await;
    // Replayed at another endpoint (the issuer is an audience of every endpoint).
    post_assertion(&server, INTROSPECT, &assertion, &[("token", &token)]).await.assert_error(401, "invalid_client");

    for round in 0..5 {
        let assertion = c.ed.sign(&claims(INLINE, &url(&server, TOKEN), now(&server)));
        let (a, b) = tokio::join!(
            post_assertion(&server, TOKEN, &assertion, &cc),
            post_assertion(&server, TOKEN, &assertion, &cc)
        );
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(statuses, [200, 401], "round {round}: exactly one of two concurrent uses passes");
    }

    // The same jti from another client is that client's first use.
    let mut shared = claims(INLINE, &server.base, now(&server));
    assert_eq!(post_assertion(&server, TOKEN, &c.es.sign(&shared), &cc).await.status, 200);
    shared["iss"] = json!(REMOTE);
    shared["sub"] = json!(REMOTE);
    let reply = post_assertion(&server, TOKEN, &c.remote.sign(&shared), &cc).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

/// RFC 7523 §3.2: "If the client JWT is not valid, ... The value of the "error" parameter MUST be the
/// "invalid_client" error code", and RFC 6749 §5.2 lets that be 401 with a challenge even without an
/// `Authorization` header. RFC 7521 §4.2 makes `client_assertion_type` required; an unsupported value, like two
/// authentication methods in one request (RFC 6749 §2.3), is `invalid_request`. None of these ever passes, and
/// none spends the `jti` of a good assertion sent after it.
#[tokio::test]
async fn every_bad_assertion_is_refused_with_its_rfc_error() {
    let c = clients().await;
    let server = TestServer::start_config(&config(&c)).await;
    let (token_url, now) = (url(&server, TOKEN), now(&server));
    let good = || claims(INLINE, &token_url, now);
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = good();
        change(&mut claims);
        c.es.sign(&claims)
    };
    let remove = |name: &'static str| move |claims: &mut Value| drop(claims.as_object_mut().unwrap().remove(name));
    let other_key = ClientKey::es256("es-1");
    let dpop_typed =
        c.es.sign_with(jwt_compact::Header::empty().with_key_id("es-1").with_token_type("dpop+jwt"), &good());
    let invalid_client: Vec<(&str, String)> = vec![
        ("expired", with(&|c| c["exp"] = json!(now - 120))),
        ("no exp", with(&remove("exp"))),
        ("lifetime over five minutes", with(&|c| c["exp"] = json!(now + 600))),
        ("iat to exp over five minutes", with(&|c| c["iat"] = json!(now - 290))),
        ("not yet valid", with(&|c| c["nbf"] = json!(now + 600))),
        ("wrong aud", with(&|c| c["aud"] = json!("https://other-server.example.com/oauth2/token"))),
        (
            "the introspection endpoint as aud at the token endpoint",
            with(&|c| c["aud"] = json!(format!("{}{INTROSPECT}", server.base))),
        ),
        ("iss another client", with(&|c| c["iss"] = json!(REMOTE))),
        ("sub another client (a secret client)", with(&|c| c["sub"] = json!(creds::JWT.0))),
        ("sub unknown", with(&|c| c["sub"] = json!("nobody-registered"))),
        ("no jti", with(&remove("jti"))),
        ("unknown kid", ClientKey::es256("es-9").sign(&good())),
        ("a key not the client's, its kid", other_key.sign(&good())),
        ("alg none", unsigned("es-1", &good())),
        ("HS256 keyed with the public JWK", c.es.hs256_with_public_key(&good())),
        ("typ dpop+jwt", dpop_typed),
        ("signature altered", {
            let signed = c.es.sign(&good());
            let (head, signature) = signed.rsplit_once('.').unwrap();
            format!("{head}.{}{}", if signature.starts_with('A') { "B" } else { "A" }, &signature[1..])
        }),
        ("not a JWT", "not-a-jwt".to_owned()),
    ];
    let cc = [("grant_type", "client_credentials")];
    for (name, assertion) in &invalid_client {
        let reply = post_assertion(&server, TOKEN, assertion, &cc).await;
        assert_eq!(reply.status, 401, "{name}: {}", reply.text);
        reply.assert_error(401, "invalid_client");
    }

    // A secret client sending an assertion signed by "its" key, and a private_key_jwt client sending a secret.
    let secret_client = claims(creds::JWT.0, &token_url, now);
    post_assertion(&server, TOKEN, &c.es.sign(&secret_client), &cc).await.assert_error(401, "invalid_client");
    server.post(TOKEN, Some((INLINE, "guessed-secret")), &cc).await.assert_error(401, "invalid_client");
    let post = [("grant_type", "client_credentials"), ("client_id", INLINE), ("client_secret", "")];
    server.post(TOKEN, None, &post).await.assert_error(401, "invalid_client");

    // The request itself: the wrong assertion type, a missing half, and two methods at once.
    let assertion = c.es.sign(&good());
    let saml = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"),
        ("client_assertion", assertion.as_str()),
    ];
    server.post(TOKEN, None, &saml).await.assert_error(400, "invalid_request");
    let no_type = [("grant_type", "client_credentials"), ("client_assertion", assertion.as_str())];
    server.post(TOKEN, None, &no_type).await.assert_error(400, "invalid_request");
    let fields = fields(&assertion);
    let mut both: Vec<(&str, &str)> = cc.to_vec();
    both.extend(fields.iter().map(|(k, v)| (*k, v.as_str())));
    server.post(TOKEN, Some(creds::JWT), &both).await.assert_error(400, "invalid_request");
    let headers =
        [("content-type", "application/x-www-form-urlencoded".to_owned()), ("authorization", basic(INLINE, "x"))];
    let reply = server.send("POST", TOKEN, &headers, tessera_e2e::form(&both)).await;
    reply.assert_error(400, "invalid_request");
    both.push(("client_secret", "x"));
    server.post(TOKEN, None, &both).await.assert_error(400, "invalid_request");

    // Nothing above spent the good assertion's jti, or let anything through.
    let reply = post_assertion(&server, TOKEN, &assertion, &cc).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

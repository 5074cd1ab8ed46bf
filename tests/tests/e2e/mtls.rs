//! Mutual TLS (RFC 8705) over the runner's HTTPS, end to end on the store `TESSERA_E2E_STORE` selects, with
//! certificates made by rcgen (`tessera_e2e::mutual_tls`): `tls_client_auth` by subject DN and by SAN (§2.1),
//! `self_signed_tls_client_auth` by the client's JWKS (§2.2), at the token, introspection and revocation endpoints;
//! certificate-bound access tokens (§3) in both formats, their `cnf.x5t#S256` in the JWT and at introspection, and
//! the authorizer's check of the binding at the demo route. Every refusal is the RFC's error, never a token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tessera::clock::Clock;
use tessera::config::Config;
use tessera_e2e::dpop_proofs::DpopKey;
use tessera_e2e::mutual_tls::{Accepting, Credential, Pki};
use tessera_e2e::{Endpoint, Reply, TestServer, basic, creds, form, test_config_toml};

const TOKEN: &str = "/oauth2/token";
const INTROSPECT: &str = "/oauth2/introspect";
const REVOKE: &str = "/oauth2/revoke";
const FORM: &str = "application/x-www-form-urlencoded";

/// `tls_client_auth` by subject DN, JWTs, certificate-bound, for the demo route's audience. (rcgen writes the
/// common name as the first RDN, so the RFC 4514 string, most significant last, ends with it.)
const BY_DN: &str = "mtls-billing";
/// `tls_client_auth` by SAN DNS name, opaque tokens, certificate-bound.
const BY_SAN: &str = "mtls-billing-opaque";
/// `tls_client_auth` by the other certificate's SAN, a resource server that introspects.
const RESOURCE_SERVER: &str = "mtls-resource-server";
/// A secret client whose tokens are certificate-bound.
const BOUND_SECRET: (&str, &str) = ("bound-secret", "bound-secret-0123456789abcdef0123");
/// `self_signed_tls_client_auth` with its certificate in an inline JWKS, certificate-bound.
const SELF_SIGNED: &str = "mtls-self-signed";

fn config(pki: &Pki) -> Config {
    let jwks = json!({"keys": [pki.self_signed.jwk_with_x5c("batch-1")]});
    let toml = format!(
        r#"{}
[[clients]]
client_id = "{BY_DN}"
token_endpoint_auth_method = "tls_client_auth"
tls_client_auth_subject_dn = "O=Example, CN=billing"
tls_client_certificate_bound_access_tokens = true
scopes = ["orders:read"]
audiences = ["https://orders.example.com"]

[[clients]]
client_id = "{BY_SAN}"
token_endpoint_auth_method = "tls_client_auth"
tls_client_auth_san_dns = "billing.example.com"
tls_client_certificate_bound_access_tokens = true
access_token_format = "opaque"
scopes = ["orders:read"]
audiences = ["https://orders.example.com"]

[[clients]]
client_id = "{RESOURCE_SERVER}"
token_endpoint_auth_method = "tls_client_auth"
tls_client_auth_san_dns = "other.example.com"
grant_types = []
may_introspect = true

[[clients]]
client_id = "{}"
client_secret = "{}"
tls_client_certificate_bound_access_tokens = true
scopes = ["orders:read"]
audiences = ["https://orders.example.com"]

[[clients]]
client_id = "{SELF_SIGNED}"
token_endpoint_auth_method = "self_signed_tls_client_auth"
jwks = '{jwks}'
tls_client_certificate_bound_access_tokens = true
scopes = ["orders:read"]
audiences = ["https://orders.example.com"]
"#,
        test_config_toml(),
        BOUND_SECRET.0,
        BOUND_SECRET.1,
    );
    Config::from_toml(&toml).expect("the mutual-TLS config parses")
}

/// A POSTed form, with an `Authorization` header when given.
async fn post(endpoint: &Endpoint, path: &str, authorization: Option<String>, pairs: &[(&str, &str)]) -> Reply {
    let mut headers = vec![("content-type", FORM.to_owned())];
    headers.extend(authorization.map(|value| ("authorization", value)));
    endpoint.send("POST", path, &headers, form(pairs)).await
}

/// A client-credentials request authenticated by the connection's certificate: `client_id` alone (RFC 8705 §2).
async fn token_by_certificate(endpoint: &Endpoint, client_id: &str) -> Reply {
    post(endpoint, TOKEN, None, &[("grant_type", "client_credentials"), ("client_id", client_id)]).await
}

fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON claims")
}

fn cnf_of(certificate: &Credential) -> Value {
    json!({"x5t#S256": certificate.thumbprint()})
}

async fn demo(endpoint: &Endpoint, token: &str) -> Reply {
    endpoint.send("GET", "/demo/orders", &[("authorization", format!("Bearer {token}"))], "").await
}

/// RFC 8705 §2.1 and §3: a client named by its certificate's subject DN authenticates with `client_id` alone over
/// mutual TLS, and gets a `Bearer` JWT whose `cnf.x5t#S256` is its certificate's thumbprint (computed here from
/// rcgen's DER). Introspection returns the `cnf` (§3.2); the authorizer lets the token through only on a request
/// with that certificate (§3: otherwise `invalid_token`, which an HTTP API's simple response answers with 403).
#[tokio::test]
async fn tls_client_auth_issues_tokens_bound_to_the_certificate() {
    let pki = Pki::new();
    let server = TestServer::start_mutual_tls(&config(&pki), &pki, Accepting::IssuedByTheCa).await;
    let billing = server.presenting(&pki, &pki.billing);
    let issued = token_by_certificate(&billing, BY_DN).await;
    assert_eq!(issued.status, 200, "{}", issued.text);
    assert_eq!(issued.header("cache-control"), Some("no-store"));
    assert_eq!(issued.json()["token_type"], "Bearer", "RFC 8705 §3 keeps the Bearer scheme");
    let token = issued.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(jwt_claims(&token)["cnf"], cnf_of(&pki.billing));

    let introspected = post(&server, INTROSPECT, Some(basic(creds::RS.0, creds::RS.1)), &[("token", &token)]).await;
    let body = introspected.json();
    assert_eq!((body["active"].clone(), body["token_type"].clone()), (json!(true), json!("Bearer")), "{body}");
    assert_eq!(body["cnf"], cnf_of(&pki.billing));

    assert_eq!(demo(&billing, &token).await.status, 200, "with its certificate");
    assert_eq!(demo(&server, &token).await.status, 403, "without a certificate");
    assert_eq!(demo(&server.presenting(&pki, &pki.other), &token).await.status, 403, "with another certificate");
}

/// RFC 8705 §2.1.2 by SAN, opaque tokens: the record carries the binding, so introspection returns `cnf` from its
/// one read. A certificate that does not name the client (another of the same CA), or none, is `invalid_client`
/// (401 with `WWW-Authenticate`), and a `client_id` alone without a certificate is no authentication at all.
#[tokio::test]
async fn tls_client_auth_by_san_refuses_other_certificates() {
    let pki = Pki::new();
    let server = TestServer::start_mutual_tls(&config(&pki), &pki, Accepting::IssuedByTheCa).await;
    let billing = server.presenting(&pki, &pki.billing);
    let issued = token_by_certificate(&billing, BY_SAN).await;
    assert_eq!(issued.status, 200, "{}", issued.text);
    let token = issued.json()["access_token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("tsr_at_"), "opaque");
    let introspected = post(&server, INTROSPECT, Some(basic(creds::RS.0, creds::RS.1)), &[("token", &token)]).await;
    assert_eq!(introspected.json()["cnf"], cnf_of(&pki.billing));

    let other = server.presenting(&pki, &pki.other);
    for (endpoint, client) in [(&other, BY_SAN), (&other, BY_DN), (&server.endpoint, BY_SAN), (&billing, "nobody")] {
        let refused = token_by_certificate(endpoint, client).await;
        refused.assert_error(401, "invalid_client");
        assert!(refused.header("www-authenticate").is_some(), "{client}");
    }
    // A certificate client presenting a secret it does not have is no different.
    let with_secret = post(&billing, TOKEN, Some(basic(BY_DN, "guess")), &[("grant_type", "client_credentials")]).await;
    with_secret.assert_error(401, "invalid_client");
}

/// RFC 8705 §2 at the other endpoints: a resource server authenticated by its certificate introspects, and a
/// client authenticated by its certificate revokes its own token (RFC 7009), which then introspects inactive.
#[tokio::test]
async fn mutual_tls_authenticates_at_introspection_and_revocation() {
    let pki = Pki::new();
    let server = TestServer::start_mutual_tls(&config(&pki), &pki, Accepting::IssuedByTheCa).await;
    let (billing, other) = (server.presenting(&pki, &pki.billing), server.presenting(&pki, &pki.other));
    let token = token_by_certificate(&billing, BY_DN).await.json()["access_token"].as_str().unwrap().to_owned();
    let introspect = [("token", token.as_str()), ("client_id", RESOURCE_SERVER)];
    let answer = post(&other, INTROSPECT, None, &introspect).await;
    assert_eq!((answer.status, answer.json()["active"].clone()), (200, json!(true)), "{}", answer.text);
    post(&billing, INTROSPECT, None, &introspect).await.assert_error(401, "invalid_client");

    let revoked = post(&billing, REVOKE, None, &[("token", &token), ("client_id", BY_DN)]).await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    assert_eq!(post(&other, INTROSPECT, None, &introspect).await.json(), json!({"active": false}));
}

/// RFC 8705 §3.4 `tls_client_certificate_bound_access_tokens` on a client that authenticates with a secret (§3:
/// binding does not depend on the authentication method): its token requests must come over mutual TLS (else
/// `invalid_request`), the token is bound to whichever certificate the connection had, and a DPoP proof beside it
/// is refused (a token is bound to one thing).
#[tokio::test]
async fn a_certificate_bound_secret_client_needs_mutual_tls_and_no_dpop_proof() {
    let pki = Pki::new();
    let server = TestServer::start_mutual_tls(&config(&pki), &pki, Accepting::IssuedByTheCa).await;
    let cc = [("grant_type", "client_credentials")];
    let auth = || Some(basic(BOUND_SECRET.0, BOUND_SECRET.1));
    post(&server, TOKEN, auth(), &cc).await.assert_error(400, "invalid_request");
    let other = server.presenting(&pki, &pki.other);
    let issued = post(&other, TOKEN, auth(), &cc).await;
    assert_eq!(issued.status, 200, "{}", issued.text);
    assert_eq!(jwt_claims(issued.json()["access_token"].as_str().unwrap())["cnf"], cnf_of(&pki.other));

    let proof = DpopKey::new(7).proof("POST", &format!("{}{TOKEN}", server.base), server.clock.now().as_secs(), None);
    let headers =
        [("content-type", FORM.to_owned()), ("authorization", basic(BOUND_SECRET.0, BOUND_SECRET.1)), ("dpop", proof)];
    let refused = other.send("POST", TOKEN, &headers, form(&cc)).await;
    refused.assert_error(400, "invalid_request");
    assert!(refused.json()["error_description"].as_str().unwrap().contains("RFC 8705"), "{}", refused.text);
}

/// RFC 8705 §2.2 on a runner that accepts any certificate (`--tls-client-any`, as a truststore holding the client's
/// self-signed certificate would): the certificate registered in the client's JWKS authenticates it and binds its
/// token; an unregistered self-signed certificate with the same subject does not. `tls_client_auth` is refused on
/// such a runner, since no chain was verified: the CA-issued certificate that works above fails here.
#[tokio::test]
async fn self_signed_tls_client_auth_matches_the_registered_certificate() {
    let pki = Pki::new();
    let server = TestServer::start_mutual_tls(&config(&pki), &pki, Accepting::Any).await;
    let issued = token_by_certificate(&server.presenting(&pki, &pki.self_signed), SELF_SIGNED).await;
    assert_eq!(issued.status, 200, "{} {:?}", issued.text, issued.headers);
    let token = issued.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(jwt_claims(&token)["cnf"], cnf_of(&pki.self_signed));
    assert_eq!(demo(&server.presenting(&pki, &pki.self_signed), &token).await.status, 200);
    assert_eq!(demo(&server.presenting(&pki, &pki.unregistered), &token).await.status, 403);

    let unregistered = token_by_certificate(&server.presenting(&pki, &pki.unregistered), SELF_SIGNED).await;
    unregistered.assert_error(401, "invalid_client");
    let unverified_chain = token_by_certificate(&server.presenting(&pki, &pki.billing), BY_DN).await;
    unverified_chain.assert_error(401, "invalid_client");
    // The metadata announces what this runner serves: self_signed_tls_client_auth, not tls_client_auth.
    let metadata = server.send("GET", "/.well-known/oauth-authorization-server", &[], "").await.json();
    let methods = metadata["token_endpoint_auth_methods_supported"].as_array().unwrap().clone();
    assert!(methods.contains(&json!("self_signed_tls_client_auth")) && !methods.contains(&json!("tls_client_auth")));
}

/// RFC 8414 and RFC 8705 §3.3, §2.1, §2.2: the metadata says certificate-bound tokens are issued and lists both
/// mutual-TLS methods at every endpoint that authenticates clients. The runner serves mutual TLS on its own
/// endpoints, so it publishes no `mtls_endpoint_aliases` (RFC 8705 §5: only for endpoints elsewhere).
#[tokio::test]
async fn the_metadata_announces_mutual_tls() {
    let pki = Pki::new();
    let server = TestServer::start_mutual_tls(&config(&pki), &pki, Accepting::IssuedByTheCa).await;
    let metadata = server.send("GET", "/.well-known/oauth-authorization-server", &[], "").await.json();
    assert_eq!(metadata["tls_client_certificate_bound_access_tokens"], true);
    assert!(metadata.get("mtls_endpoint_aliases").is_none());
    for endpoint in ["token", "introspection", "revocation"] {
        let methods = &metadata[format!("{endpoint}_endpoint_auth_methods_supported")];
        for method in ["tls_client_auth", "self_signed_tls_client_auth", "private_key_jwt", "client_secret_basic"] {
            assert!(methods.as_array().unwrap().contains(&json!(method)), "{endpoint}: {method}");
        }
    }
    assert_eq!(metadata["issuer"].as_str().unwrap(), server.base, "the issuer is the https base");
}

/// RFC 8705 §5: with `mtls_base_url` set (the template sets `MTLS_BASE_URL` from its mutual-TLS custom domain),
/// each tenant's metadata publishes `mtls_endpoint_aliases`: the same endpoint paths, under the issuer's path, on
/// that origin. The issuer and the endpoints themselves stay where they are. Anything but an https origin is refused.
#[tokio::test]
async fn mtls_endpoint_aliases_are_published_on_the_configured_origin() {
    let toml = format!(
        "mtls_base_url = \"https://mtls.auth.example.com/\"\n{}\n[[tenants]]\nname = \"acme\"\n",
        test_config_toml()
    );
    let server = TestServer::start_config(&Config::from_toml(&toml).unwrap()).await;
    for (path, issuer_path) in
        [("/.well-known/oauth-authorization-server", ""), ("/.well-known/oauth-authorization-server/t/acme", "/t/acme")]
    {
        let metadata = server.send("GET", path, &[], "").await.json();
        assert_eq!(metadata["issuer"], format!("{}{issuer_path}", server.base));
        assert_eq!(metadata["token_endpoint"], format!("{}{issuer_path}/oauth2/token", server.base));
        let alias = |endpoint: &str| format!("https://mtls.auth.example.com{issuer_path}/oauth2/{endpoint}");
        assert_eq!(
            metadata["mtls_endpoint_aliases"],
            json!({
                "token_endpoint": alias("token"),
                "introspection_endpoint": alias("introspect"),
                "revocation_endpoint": alias("revoke"),
            }),
            "{path}"
        );
    }
    // RFC 7523 §3 item 3 with RFC 8705 §5: an assertion sent to the alias may name the alias as its audience.
    let key = tessera_e2e::client_assertions::ClientKey::es256("alias-1");
    let pkj = format!(
        "{toml}\n[[clients]]\nclient_id = \"alias-batch\"\ntoken_endpoint_auth_method = \"private_key_jwt\"\n\
         jwks = '{}'\nscopes = [\"orders:read\"]\n",
        tessera_e2e::client_assertions::ClientKey::jwks(&[&key])
    );
    let server = TestServer::start_config(&Config::from_toml(&pkj).unwrap()).await;
    let now = server.clock.now().as_secs();
    let cc = [("grant_type", "client_credentials")];
    for audience in ["https://mtls.auth.example.com/oauth2/token", "https://mtls.auth.example.com/oauth2/revoke"] {
        let assertion = key.sign(&tessera_e2e::client_assertions::claims("alias-batch", audience, now));
        let reply = tessera_e2e::client_assertions::post(&server, TOKEN, &assertion, &cc).await;
        match audience.ends_with("/token") {
            true => assert_eq!(reply.status, 200, "{audience}: {}", reply.text),
            false => reply.assert_error(401, "invalid_client"),
        }
    }
    for bad in
        ["http://mtls.example.com", "https://mtls.example.com/base", "https://u:p@mtls.example.com", "mtls.example.com"]
    {
        let err = tessera::service::mtls_base_url(bad).unwrap_err().to_string();
        assert!(err.contains("must be an https origin"), "{bad}: {err}");
    }
    assert_eq!(
        tessera::service::mtls_base_url("https://mtls.example.com:8443/").unwrap(),
        "https://mtls.example.com:8443"
    );
}

/// RFC 9449 §4.3 on the runner's HTTPS: a DPoP proof names the `https` URL the client sent the request to, as behind
/// API Gateway, and one naming the `http` URL is refused.
#[tokio::test]
async fn dpop_proofs_name_the_https_url_on_the_tls_runner() {
    let pki = Pki::new();
    let toml = format!("{}\n{}", test_config_toml(), crate::dpop::DPOP_CLIENTS);
    let server = TestServer::start_mutual_tls(&Config::from_toml(&toml).unwrap(), &pki, Accepting::IssuedByTheCa).await;
    assert!(server.base.starts_with("https://"));
    let now = server.clock.now().as_secs();
    let key = DpopKey::new(9);
    let https = format!("{}{TOKEN}", server.base);
    let http = https.replacen("https://", "http://", 1);
    let issued =
        crate::dpop::token_request(&server, crate::dpop::DPOP_JWT, &[key.proof("POST", &https, now, None)]).await;
    assert_eq!((issued.status, issued.json()["token_type"].clone()), (200, json!("DPoP")), "{}", issued.text);
    let refused =
        crate::dpop::token_request(&server, crate::dpop::DPOP_JWT, &[key.proof("POST", &http, now, None)]).await;
    refused.assert_error(400, "invalid_dpop_proof");
    // A proof made for another host (RFC 9449 §4.3 `htu`), sent with that host as `Host`: the runner checks proofs
    // against its own name, as API Gateway against the domain it served, so it is refused.
    let elsewhere = key.proof("POST", "https://evil.example/oauth2/token", now, None);
    let headers = [
        ("content-type", FORM.to_owned()),
        ("authorization", basic(crate::dpop::DPOP_JWT.0, crate::dpop::DPOP_JWT.1)),
        ("host", "evil.example".to_owned()),
        ("dpop", elsewhere),
    ];
    let replayed = server.send("POST", TOKEN, &headers, form(&[("grant_type", "client_credentials")])).await;
    replayed.assert_error(400, "invalid_dpop_proof");
}

/// RFC 8705 §3 with refresh tokens (RFC 6749 §6): the refresh token of a confidential client is bound to the client,
/// not to a certificate, so a client that renewed its certificate (same subject, new key) refreshes with the new one,
/// and the new access token is bound to it. A certificate-bound client refreshing without mutual TLS is refused
/// (`invalid_request`) and its refresh token stays usable.
#[tokio::test]
async fn a_refresh_binds_the_new_access_token_to_the_certificate_presented_then() {
    let pki = Pki::new();
    let issuer = tessera_e2e::issuers::cognito();
    let exchange = "urn:ietf:params:oauth:grant-type:token-exchange";
    let toml = format!(
        r#"{}
[[clients]]
client_id = "mtls-exchanger"
token_endpoint_auth_method = "tls_client_auth"
tls_client_auth_san_dns = "billing.example.com"
tls_client_certificate_bound_access_tokens = true
scopes = ["profile:read"]
grant_types = ["{exchange}", "refresh_token"]

[[clients]]
client_id = "bound-exchanger"
client_secret = "bound-exchanger-secret-0123456789ab"
tls_client_certificate_bound_access_tokens = true
scopes = ["profile:read"]
grant_types = ["{exchange}", "refresh_token"]
access_token_format = "opaque"
"#,
        tessera_e2e::issuers::exchange_config_toml(&[(&issuer, false)])
    );
    let server = TestServer::start_mutual_tls(&Config::from_toml(&toml).unwrap(), &pki, Accepting::IssuedByTheCa).await;
    let (billing, renewed) = (server.presenting(&pki, &pki.billing), server.presenting(&pki, &pki.billing_renewed));
    let now = server.clock.now().as_secs();
    let subject = issuer.sign(&issuer.claims(&format!("mtls-user-{now}"), now));
    let jwt_type = "urn:ietf:params:oauth:token-type:jwt";
    let exchanged = post(
        &billing,
        TOKEN,
        None,
        &[
            ("grant_type", exchange),
            ("subject_token", &subject),
            ("subject_token_type", jwt_type),
            ("client_id", "mtls-exchanger"),
        ],
    )
    .await;
    assert_eq!(exchanged.status, 200, "{}", exchanged.text);
    assert_eq!(jwt_claims(exchanged.json()["access_token"].as_str().unwrap())["cnf"], cnf_of(&pki.billing));
    let refresh_token = exchanged.json()["refresh_token"].as_str().unwrap().to_owned();
    let refresh =
        [("grant_type", "refresh_token"), ("refresh_token", refresh_token.as_str()), ("client_id", "mtls-exchanger")];
    let refreshed = post(&renewed, TOKEN, None, &refresh).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    assert_eq!(jwt_claims(refreshed.json()["access_token"].as_str().unwrap())["cnf"], cnf_of(&pki.billing_renewed));

    let secret = || Some(basic("bound-exchanger", "bound-exchanger-secret-0123456789ab"));
    let exchanged = post(
        &billing,
        TOKEN,
        secret(),
        &[("grant_type", exchange), ("subject_token", &subject), ("subject_token_type", jwt_type)],
    )
    .await;
    assert_eq!(exchanged.status, 200, "{}", exchanged.text);
    let refresh_token = exchanged.json()["refresh_token"].as_str().unwrap().to_owned();
    let refresh = [("grant_type", "refresh_token"), ("refresh_token", refresh_token.as_str())];
    post(&server, TOKEN, secret(), &refresh).await.assert_error(400, "invalid_request");
    let refreshed = post(&renewed, TOKEN, secret(), &refresh).await;
    assert_eq!(refreshed.status, 200, "the refused refresh spent nothing: {}", refreshed.text);
    let access = refreshed.json()["access_token"].as_str().unwrap().to_owned();
    let introspected = post(&server, INTROSPECT, Some(basic(creds::RS.0, creds::RS.1)), &[("token", &access)]).await;
    assert_eq!(introspected.json()["cnf"], cnf_of(&pki.billing_renewed));
}

/// A trust store that holds clients' own certificates (`mtls_truststore_holds = "client_certificates"`, the template's
/// `MtlsTruststoreHolds=ClientCertificates`) proves nothing of a CA: each certificate in it is an anchor whose
/// holder could issue a certificate naming any client. So `tls_client_auth` is refused there even for a chain the
/// TLS layer verified, and only `self_signed_tls_client_auth` authenticates by certificate.
#[tokio::test]
async fn a_truststore_of_client_certificates_serves_no_tls_client_auth() {
    let pki = Pki::new();
    let mut config = config(&pki);
    config.mtls_truststore_holds = tessera::config::MtlsTruststoreHolds::ClientCertificates;
    let server = TestServer::start_mutual_tls(&config, &pki, Accepting::IssuedByTheCa).await;
    token_by_certificate(&server.presenting(&pki, &pki.billing), BY_DN).await.assert_error(401, "invalid_client");
    let secret = Some(basic(BOUND_SECRET.0, BOUND_SECRET.1));
    let bound =
        post(&server.presenting(&pki, &pki.other), TOKEN, secret, &[("grant_type", "client_credentials")]).await;
    assert_eq!(bound.status, 200, "binding needs no CA: {}", bound.text);
}

/// RFC 8705 §2.2 with the certificates at a `jwks_uri`, fetched through the cache `private_key_jwt` keys use: a
/// certificate the client adds to its JWK Set is found by fetching again early (no sooner than 30 s after the last
/// fetch), and one it removes stops authenticating once the cache is refreshed (at most 10 minutes later).
#[tokio::test]
async fn self_signed_certificates_at_a_jwks_uri_follow_the_clients_rotation() {
    let pki = Pki::new();
    let jwks = tessera_e2e::issuers::JwksServer::start(&json!({"keys": [pki.self_signed.jwk_with_x5c("old")]})).await;
    let toml = format!(
        "{}\n[[clients]]\nclient_id = \"remote-self-signed\"\ntoken_endpoint_auth_method = \"self_signed_tls_client_auth\"\n\
         jwks_uri = \"{}\"\nscopes = [\"orders:read\"]\n",
        test_config_toml(),
        jwks.url
    );
    let server = TestServer::start_mutual_tls(&Config::from_toml(&toml).unwrap(), &pki, Accepting::Any).await;
    let (old, new) = (server.presenting(&pki, &pki.self_signed), server.presenting(&pki, &pki.unregistered));
    assert_eq!(token_by_certificate(&old, "remote-self-signed").await.status, 200);
    token_by_certificate(&new, "remote-self-signed").await.assert_error(401, "invalid_client");
    assert_eq!(jwks.hits(), 1, "an unknown certificate within 30 s of the last fetch fetches nothing");

    jwks.set(&json!({"keys": [pki.self_signed.jwk_with_x5c("old"), pki.unregistered.jwk_with_x5c("new")]}));
    server.clock.advance_secs(31);
    assert_eq!(token_by_certificate(&new, "remote-self-signed").await.status, 200, "found by fetching again early");
    assert_eq!(jwks.hits(), 2);

    jwks.set(&json!({"keys": [pki.unregistered.jwk_with_x5c("new")]}));
    assert_eq!(token_by_certificate(&old, "remote-self-signed").await.status, 200, "cached for up to 10 minutes");
    server.clock.advance_secs(601);
    token_by_certificate(&old, "remote-self-signed").await.assert_error(401, "invalid_client");
    assert_eq!(token_by_certificate(&new, "remote-self-signed").await.status, 200);
}

/// RFC 5280 §4.1.2.5: a certificate outside its validity period authenticates nothing, even where the TLS
/// terminator let it through (a connection older than the certificate's end, a resumed session, an event made by
/// hand): client authentication checks the period again at the request's instant. (The runner's handshake refuses
/// an expired certificate in both of its modes, and resumes no session where certificates authenticate.)
#[tokio::test]
async fn an_expired_certificate_authenticates_nothing() {
    use tessera::wire::client_cert::request_context_with_certificate;
    let pki = Pki::new();
    let config = config(&pki);
    let store = tessera_e2e::backend_store(&config).await;
    let clock = std::sync::Arc::new(tessera::clock::SystemClock);
    let sources = tessera::tenancy::Sources { generate_missing_keys: true, ..Default::default() };
    let entropy = std::sync::Arc::new(tessera::entropy::SystemEntropy);
    let service =
        tessera::service::build_service(store, &config, Some("https://auth.example.com"), clock, entropy, sources)
            .await
            .unwrap();
    for (credential, expected) in [(&pki.billing, 200), (&pki.billing_expired, 401)] {
        let mut request = lambda_http::http::Request::builder()
            .method("POST")
            .uri("/oauth2/token")
            .header("content-type", FORM)
            .body(lambda_http::Body::Text(form(&[("grant_type", "client_credentials"), ("client_id", BY_SAN)])))
            .unwrap();
        request.extensions_mut().insert(request_context_with_certificate(&credential.der));
        let response = tessera_token::handle(&service, request).await.unwrap();
        assert_eq!(response.status(), expected);
    }
}

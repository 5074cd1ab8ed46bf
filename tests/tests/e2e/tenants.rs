//! Tenant isolation over HTTP (WSO2-style `/t/<tenant>/` routes): each tenant has its own issuer, signing
//! keys, clients and trusted issuers. A token of one tenant introspects inactive at the other, a client of one
//! cannot authenticate at the other (even under the same client id), revocation and revocation events stay in
//! their tenant, and each tenant's metadata and JWKS describe it alone. Both ways, on the store
//! `TESSERA_E2E_STORE` selects, so `scripts/test` runs it on both.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tessera::config::Config;
use tessera_e2e::{Reply, TestServer, creds, isolated_backend_store, test_config_toml};

/// The `acme` tenant's clients. `demo-jwt` exists in both tenants, with different secrets.
const ACME_JWT: (&str, &str) = ("demo-jwt", "acme-jwt-secret-0123456789abcdef0");
const ACME_OPAQUE: (&str, &str) = ("acme-opaque", "acme-opaque-secret-0123456789abcd");
const ACME_RS: (&str, &str) = ("acme-resource-server", "acme-rs-secret-0123456789abcdef01");

fn config() -> Config {
    let toml = format!(
        r#"{}
[[tenants]]
name = "acme"

[[clients]]
tenant = "acme"
client_id = "{}"
client_secret = "{}"
scopes = ["orders:read"]

[[clients]]
tenant = "acme"
client_id = "{}"
client_secret = "{}"
scopes = ["orders:read"]
access_token_format = "opaque"

[[clients]]
tenant = "acme"
client_id = "{}"
client_secret = "{}"
grant_types = []
may_introspect = true
"#,
        test_config_toml(),
        ACME_JWT.0,
        ACME_JWT.1,
        ACME_OPAQUE.0,
        ACME_OPAQUE.1,
        ACME_RS.0,
        ACME_RS.1
    );
    Config::from_toml(&toml).expect("tenant config")
}

/// One side of the isolation: the path prefix and the clients of a tenant.
#[derive(Clone, Copy)]
struct Side {
    prefix: &'static str,
    jwt: (&'static str, &'static str),
    opaque: (&'static str, &'static str),
    rs: (&'static str, &'static str),
}

const DEFAULT: Side = Side { prefix: "", jwt: creds::JWT, opaque: creds::OPAQUE, rs: creds::RS };
const ACME: Side = Side { prefix: "/t/acme", jwt: ACME_JWT, opaque: ACME_OPAQUE, rs: ACME_RS };

impl Side {
    fn path(&self, endpoint: &str) -> String {
        format!("{}{endpoint}", self.prefix)
    }

    async fn issue(&self, server: &TestServer, client: (&str, &str)) -> String {
        let reply =
            server.post(&self.path("/oauth2/token"), Some(client), &[("grant_type", "client_credentials")]).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()["access_token"].as_str().expect("access_token").to_owned()
    }

    async fn introspect(&self, server: &TestServer, token: &str) -> Reply {
        server.post(&self.path("/oauth2/introspect"), Some(self.rs), &[("token", token)]).await
    }

    async fn active(&self, server: &TestServer, token: &str) -> bool {
        let reply = self.introspect(server, token).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()["active"] == true
    }

    async fn metadata(&self, server: &TestServer) -> Value {
        let reply = server.send("GET", &self.path("/.well-known/oauth-authorization-server"), &[], "").await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()
    }
}

#[tokio::test]
async fn tokens_introspect_only_in_their_own_tenant() {
    let server = TestServer::start_config(&config()).await;
    for (home, away) in [(DEFAULT, ACME), (ACME, DEFAULT)] {
        for client in [home.jwt, home.opaque] {
            let token = home.issue(&server, client).await;
            assert!(home.active(&server, &token).await, "{}: active at home", client.0);
            let reply = away.introspect(&server, &token).await;
            assert_eq!((reply.status, reply.text.as_str()), (200, r#"{"active":false}"#), "{} abroad", client.0);
        }
    }
}

#[tokio::test]
async fn clients_authenticate_only_in_their_own_tenant() {
    let server = TestServer::start_config(&config()).await;
    let cc = [("grant_type", "client_credentials")];
    for (home, away) in [(DEFAULT, ACME), (ACME, DEFAULT)] {
        // demo-jwt exists in both tenants: each secret works only at home.
        for client in [home.jwt, home.opaque, home.rs] {
            let reply = server.post(&away.path("/oauth2/token"), Some(client), &cc).await;
            reply.assert_error(401, "invalid_client");
            let reply = server.post(&away.path("/oauth2/introspect"), Some(client), &[("token", "x")]).await;
            reply.assert_error(401, "invalid_client");
            let reply = server.post(&away.path("/oauth2/revoke"), Some(client), &[("token", "x")]).await;
            reply.assert_error(401, "invalid_client");
        }
    }
}

#[tokio::test]
async fn revocation_stays_in_its_tenant() {
    let server = TestServer::start_config(&config()).await;
    for (home, away) in [(DEFAULT, ACME), (ACME, DEFAULT)] {
        let token = home.issue(&server, home.opaque).await;
        // The same-named client of the other tenant revokes "a token it does not know": 200, and nothing happens
        // (RFC 7009 §2.2).
        let reply = server.post(&away.path("/oauth2/revoke"), Some(away.jwt), &[("token", &token)]).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert!(home.active(&server, &token).await);
    }
}

#[tokio::test]
async fn revocation_events_stay_in_their_tenant() {
    // A tenant-wide event: on a table of its own, so it cannot touch the tests running beside it.
    let config = config();
    let server = TestServer::start_on(&config, isolated_backend_store(&config).await).await;
    let default_token = DEFAULT.issue(&server, DEFAULT.jwt).await;
    let acme_token = ACME.issue(&server, ACME.jwt).await;
    let event = |tenant: &str, id: &str| {
        json!({"id": id, "detail-type": "tessera.revoke", "source": "idp",
            "detail": {"event_id": id, "tenant": tenant, "all_tokens": true, "reason": "tenant test"}})
    };
    // Advance the pinned clock so the watermark lies after both tokens were issued.
    server.clock.advance_secs(1);
    assert_eq!(server.send_event(&event("acme", "acme-all-1")).await.status, 200);
    assert!(!ACME.active(&server, &acme_token).await, "acme's tokens are revoked");
    assert!(DEFAULT.active(&server, &default_token).await, "the default tenant's are not");

    assert_eq!(server.send_event(&event("default", "default-all-1")).await.status, 200);
    assert!(!DEFAULT.active(&server, &default_token).await);
    // Tokens issued after an event are not affected by it.
    server.clock.advance_secs(1);
    let fresh = ACME.issue(&server, ACME.jwt).await;
    assert!(ACME.active(&server, &fresh).await);
}

#[tokio::test]
async fn each_tenant_has_its_own_issuer_keys_and_metadata() {
    let server = TestServer::start_config(&config()).await;
    let (default_meta, acme_meta) = (DEFAULT.metadata(&server).await, ACME.metadata(&server).await);
    assert_eq!(default_meta["issuer"], server.base);
    assert_eq!(acme_meta["issuer"], format!("{}/t/acme", server.base));
    assert_eq!(acme_meta["introspection_endpoint"], format!("{}/t/acme/oauth2/introspect", server.base));
    assert_eq!(acme_meta["jwks_uri"], format!("{}/t/acme/.well-known/jwks.json", server.base));
    // RFC 8414 §3.1's location for an issuer with a path serves the same document.
    let rfc8414 = server.send("GET", "/.well-known/oauth-authorization-server/t/acme", &[], "").await;
    assert_eq!(rfc8414.json(), acme_meta);

    let kids = |jwks: Value| -> Vec<String> {
        jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
    };
    let default_kids = kids(server.send("GET", "/.well-known/jwks.json", &[], "").await.json());
    let acme_kids = kids(server.send("GET", "/t/acme/.well-known/jwks.json", &[], "").await.json());
    assert!(default_kids.iter().all(|k| !acme_kids.contains(k)), "{default_kids:?} vs {acme_kids:?}");

    // Each tenant's JWT names its issuer and a key of its own JWKS.
    for (side, meta, kids) in [(DEFAULT, &default_meta, &default_kids), (ACME, &acme_meta, &acme_kids)] {
        let token = side.issue(&server, side.jwt).await;
        let part = |i: usize| -> Value {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(i).unwrap()).unwrap()).unwrap()
        };
        assert_eq!(part(1)["iss"], meta["issuer"]);
        assert!(kids.contains(&part(0)["kid"].as_str().unwrap().to_owned()));
    }
}

#[tokio::test]
async fn an_undeclared_tenant_is_404() {
    let server = TestServer::start_config(&config()).await;
    let reply = server.post("/t/globex/oauth2/token", Some(creds::JWT), &[("grant_type", "client_credentials")]).await;
    reply.assert_error(404, "invalid_request");
    assert_eq!(server.send("GET", "/t/globex/.well-known/jwks.json", &[], "").await.status, 404);
}

#[test]
fn a_client_of_an_undeclared_tenant_is_a_configuration_error() {
    let toml =
        format!("{}\n[[clients]]\ntenant = \"globex\"\nclient_id = \"x\"\nclient_secret = \"y\"\n", test_config_toml());
    let config = Config::from_toml(&toml).unwrap();
    let err = config.check_tenants().unwrap_err().to_string();
    assert!(err.contains("globex") && err.contains("[[tenants]]"), "{err}");
    let twice = "[[tenants]]\nname = \"acme\"\n[[tenants]]\nname = \"acme\"\n";
    assert!(Config::from_toml(twice).unwrap().check_tenants().is_err());
    let default = "[[tenants]]\nname = \"default\"\n";
    assert!(Config::from_toml(default).unwrap().check_tenants().is_err());
}

#[tokio::test]
async fn trusted_issuers_are_trusted_only_by_their_tenant() {
    use tessera::clock::Clock;
    use tessera_e2e::issuers::{JWT_TYPE, auth0};
    let idp = auth0();
    let mut config = config();
    // The identity provider is acme's alone, and so is an exchange client.
    let entry = idp.toml_entry(false).replacen("[[trusted_issuers]]\n", "[[trusted_issuers]]\ntenant = \"acme\"\n", 1);
    // An exchange client in each tenant, under the same id.
    let exchanger = |tenant: &str, secret: &str| {
        format!(
            "[[clients]]\ntenant = \"{tenant}\"\nclient_id = \"exchanger\"\nclient_secret = \"{secret}\"\n\
             scopes = [\"orders:read\"]\ngrant_types = [\"urn:ietf:params:oauth:grant-type:token-exchange\"]\n"
        )
    };
    let exchanger = format!(
        "{}\n{}",
        exchanger("acme", "acme-exchanger-secret-0123456789ab"),
        exchanger("default", "default-exchanger-secret-012345678")
    );
    let extra = Config::from_toml(&format!("{entry}\n{exchanger}")).unwrap();
    config.trusted_issuers.extend(extra.trusted_issuers);
    config.clients.extend(extra.clients);
    let server = TestServer::start_config(&config).await;
    let subject_token = idp.sign(&idp.claims("alice", server.clock.now().as_secs()));

    // The IdP's own JWT: active at acme, unknown at default.
    assert!(ACME.active(&server, &subject_token).await);
    assert!(!DEFAULT.active(&server, &subject_token).await);

    // Token exchange: accepted at acme, refused at default (whose exchange client trusts no such issuer).
    let form = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
        ("subject_token", subject_token.as_str()),
        ("subject_token_type", JWT_TYPE),
    ];
    let at_acme =
        server.post("/t/acme/oauth2/token", Some(("exchanger", "acme-exchanger-secret-0123456789ab")), &form).await;
    assert_eq!(at_acme.status, 200, "{}", at_acme.text);
    let at_default =
        server.post("/oauth2/token", Some(("exchanger", "default-exchanger-secret-012345678")), &form).await;
    at_default.assert_error(400, "invalid_grant");
}

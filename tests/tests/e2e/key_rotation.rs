//! The signing-key rotation lifecycle over HTTP, with the document edited by the very functions `tessera keys`
//! runs and re-read by the service as a deployed function re-reads its secret (a [`MemoryKeys`] source, the
//! pinned clock driving the cache TTL): add a key (published, not signing), promote it (it signs; the old key is
//! retired but still verifies), remove the old key (its tokens introspect inactive). Until the cache expires
//! the service keeps the keys it has; a failing source, or a document the functions refuse, keeps them too.
//! Also for a second tenant, whose rotation leaves the default tenant alone, tenants created and deleted at run
//! time, and the configuration's leftovers of a deleted tenant. Runs on the store `TESSERA_E2E_STORE` selects.

use std::sync::Arc;

use jsonwebtoken::Algorithm;
use serde_json::Value;
use tessera::clock::{Clock, FixedClock, SystemClock};
use tessera::config::Config;
use tessera::domain::tenant::TenantId;
use tessera::entropy::SystemEntropy;
use tessera::jwt::keys::SigningAlgorithm;
use tessera::key_source::MemoryKeys;
use tessera::service::build_service;
use tessera::store::RegistrationStore;
use tessera::tenancy::KeySetDocument;
use tessera::tenancy::{KeyDocumentSource, Sources};
use tessera_cli::keys::{add_key, create_tenant, generated_key, promote_key, remove_key};
use tessera_e2e::issuers::TestIssuer;
use tessera_e2e::{SwitchedRegistry, TestServer, backend_registry, creds, test_config_toml};

/// The key cache TTL of the service under test.
const TTL: u64 = 60;

struct Rig {
    server: TestServer,
    keys: Arc<MemoryKeys>,
    document: KeySetDocument,
    registry: Arc<SwitchedRegistry>,
}

impl Rig {
    async fn start() -> Self {
        Self::start_bounded(None).await
    }

    /// The rig, failing closed once the keys could not be re-read for `max_stale_secs`.
    async fn start_bounded(max_stale_secs: Option<u64>) -> Self {
        let mut document = KeySetDocument {
            keys: vec![generated_key(SigningAlgorithm::ES256, "k1", None).unwrap()],
            ..Default::default()
        };
        create_tenant(&mut document, &TenantId::parse("acme").unwrap(), None, SigningAlgorithm::ES256, None).unwrap();
        // acme is declared by the key document only; the configuration has clients and a permission of it, as a
        // configuration bundled with the functions may.
        let toml = format!(
            "{}\n[[clients]]\ntenant = \"acme\"\nclient_id = \"acme-svc\"\nclient_secret = \"acme-svc-secret-0123456789abcdef01\"\n\
             scopes = [\"orders:read\"]\n\n[[clients]]\ntenant = \"acme\"\nclient_id = \"acme-rs\"\n\
             client_secret = \"acme-rs-secret-0123456789abcdef012\"\ngrant_types = []\nmay_introspect = true\n\n\
             [[permissions]]\ntenant = \"acme\"\nscope = \"orders:read\"\nresource = \"orders\"\n",
            test_config_toml()
        );
        // The clients go to the store; the tenants (acme) and keys come from the key source.
        let base = Config::from_toml(&toml).unwrap();
        let (store, registry) = backend_registry(&base).await;
        let registry = Arc::new(SwitchedRegistry::new(registry));
        let clock = Arc::new(FixedClock::at(SystemClock.now()));
        let keys = Arc::new(MemoryKeys::new(document.clone()));
        let sources = Sources {
            keys: Some(KeyDocumentSource { source: keys.clone(), ttl_secs: Some(TTL), max_stale_secs }),
            registry: Some(registry.clone()),
            generate_missing_keys: false,
        };
        let service = build_service(
            store.clone(),
            &base,
            Some("https://auth.example.com"),
            clock.clone(),
            Arc::new(SystemEntropy),
            sources,
        )
        .await
        .unwrap();
        let server = TestServer::start_with(service, clock, store).await;
        Self { server, keys, document, registry }
    }

    /// Publishes the edited document, as `put-secret-value` does.
    fn publish(&self) {
        self.keys.set(self.document.clone());
    }

    fn now(&self) -> u64 {
        self.server.clock.now().as_secs()
    }

    async fn kids(&self, prefix: &str) -> Vec<String> {
        let jwks = self.server.send("GET", &format!("{prefix}/.well-known/jwks.json"), &[], "").await.json();
        jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
    }

    async fn issue(&self, prefix: &str, client: (&str, &str)) -> (String, String) {
        let reply = self
            .server
            .post(&format!("{prefix}/oauth2/token"), Some(client), &[("grant_type", "client_credentials")])
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let token = reply.json()["access_token"].as_str().unwrap().to_owned();
        let kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
        (token, kid)
    }

    async fn active(&self, prefix: &str, caller: (&str, &str), token: &str) -> bool {
        let reply = self.server.post(&format!("{prefix}/oauth2/introspect"), Some(caller), &[("token", token)]).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()["active"] == Value::Bool(true)
    }
}

#[tokio::test]
async fn add_promote_retire_remove() {
    let mut rig = Rig::start().await;
    let default = TenantId::default();
    let (t1, kid) = rig.issue("", creds::JWT).await;
    assert_eq!(kid, "k1");

    // 1. Add k2: published once the cache expires, signing nothing yet.
    add_key(&mut rig.document, &default, SigningAlgorithm::ES256, Some("k2".into())).unwrap();
    rig.publish();
    assert_eq!(rig.kids("").await, ["k1"], "the cached keys hold until the TTL");
    rig.server.clock.advance_secs(TTL);
    assert_eq!(rig.kids("").await, ["k1", "k2"]);
    assert_eq!(rig.issue("", creds::JWT).await.1, "k1");

    // 2. Promote k2: it signs; k1 is retired and still verifies the tokens it signed.
    let now = rig.now();
    promote_key(&mut rig.document, &default, "k2", now).unwrap();
    rig.publish();
    rig.server.clock.advance_secs(TTL);
    let (t2, kid) = rig.issue("", creds::JWT).await;
    assert_eq!(kid, "k2");
    assert_eq!(rig.kids("").await, ["k2", "k1"]);
    assert!(rig.active("", creds::RS, &t1).await, "a token of the retired key still verifies");
    assert!(rig.active("", creds::RS, &t2).await);

    // 3. Remove k1 (forced: the test does not wait a day): its tokens introspect inactive.
    assert!(remove_key(&mut rig.document, &default, "k1", now + 60, Some(3600), false).is_err(), "too early");
    remove_key(&mut rig.document, &default, "k1", now + 60, Some(3600), true).unwrap();
    rig.publish();
    assert!(rig.active("", creds::RS, &t1).await, "until the cache expires");
    rig.server.clock.advance_secs(TTL);
    assert_eq!(rig.kids("").await, ["k2"]);
    assert!(!rig.active("", creds::RS, &t1).await, "a token of a removed key is inactive");
    assert!(rig.active("", creds::RS, &t2).await);
}

#[tokio::test]
async fn a_failing_key_source_keeps_the_keys_in_hand() {
    let mut rig = Rig::start().await;
    let (token, _) = rig.issue("", creds::JWT).await;
    rig.keys.fail();
    rig.server.clock.advance_secs(TTL);
    // Secrets Manager is down: the service goes on with what it has.
    assert!(rig.active("", creds::RS, &token).await);
    assert_eq!(rig.issue("", creds::JWT).await.1, "k1");
    // Back up, with a promoted key: picked up at the retry (at most 30 s later), not a whole TTL later.
    add_key(&mut rig.document, &TenantId::default(), SigningAlgorithm::EdDSA, Some("k2".into())).unwrap();
    let now = rig.now();
    promote_key(&mut rig.document, &TenantId::default(), "k2", now).unwrap();
    rig.publish();
    rig.server.clock.advance_secs(tessera::tenancy::KEY_RETRY_SECS);
    assert_eq!(rig.issue("", creds::JWT).await.1, "k2");
}

#[tokio::test]
async fn a_tenant_rotates_on_its_own() {
    let mut rig = Rig::start().await;
    let acme = TenantId::parse("acme").unwrap();
    let acme_svc = ("acme-svc", "acme-svc-secret-0123456789abcdef01");
    let acme_rs = ("acme-rs", "acme-rs-secret-0123456789abcdef012");
    let (old, kid) = rig.issue("/t/acme", acme_svc).await;
    assert_eq!(kid, "acme-1");
    add_key(&mut rig.document, &acme, SigningAlgorithm::ES256, None).unwrap();
    let now = rig.now();
    promote_key(&mut rig.document, &acme, "acme-2", now).unwrap();
    rig.publish();
    rig.server.clock.advance_secs(TTL);
    assert_eq!(rig.issue("/t/acme", acme_svc).await.1, "acme-2");
    assert!(rig.active("/t/acme", acme_rs, &old).await);
    assert_eq!(rig.kids("/t/acme").await, ["acme-2", "acme-1"]);
    // The default tenant is untouched.
    assert_eq!(rig.kids("").await, ["k1"]);
    assert_eq!(rig.issue("", creds::JWT).await.1, "k1");
}

#[tokio::test]
async fn a_tenant_taken_out_of_the_document_goes_and_a_new_one_gets_its_table_issuers() {
    let mut rig = Rig::start().await;
    let acme_svc = ("acme-svc", "acme-svc-secret-0123456789abcdef01");
    assert_eq!(rig.issue("/t/acme", acme_svc).await.1, "acme-1");

    // Delete acme from the document: once the cache expires, its routes are gone (404), not served from the
    // document the function read at init. The configuration's clients and permission of acme are leftovers,
    // ignored (and logged): they must not keep the other changes from applying.
    rig.document.tenants.clear();
    // Create globex at run time, with a client and a trusted issuer registered in the table, as
    // `tessera tenants create`, `clients register --tenant` and `issuers import` do.
    let globex = TenantId::parse("globex").unwrap();
    create_tenant(&mut rig.document, &globex, None, SigningAlgorithm::ES256, None).unwrap();
    let (idp, globex_rs) = register_globex(&rig).await;
    rig.publish();
    let external = idp.sign(&idp.claims("alice", rig.now()));
    assert_eq!(rig.server.send("GET", "/t/globex/.well-known/jwks.json", &[], "").await.status, 404, "until the TTL");

    rig.server.clock.advance_secs(TTL);
    assert_eq!(rig.server.send("GET", "/t/acme/.well-known/jwks.json", &[], "").await.status, 404);
    let reply = rig.server.post("/t/acme/oauth2/token", Some(acme_svc), &[("grant_type", "client_credentials")]).await;
    assert_eq!(reply.status, 404, "{}", reply.text);
    assert_eq!(rig.kids("/t/globex").await, ["globex-1"]);
    assert!(rig.active("/t/globex", globex_rs, &external).await, "the table's trusted issuer of a new tenant");
    assert!(!rig.active("", creds::RS, &external).await, "trusted by globex only");
}

#[tokio::test]
async fn keys_that_cannot_be_re_read_past_the_bound_fail_closed() {
    const MAX_STALE: u64 = 600;
    let mut rig = Rig::start_bounded(Some(MAX_STALE)).await;
    rig.keys.fail();
    rig.server.clock.advance_secs(MAX_STALE);
    // Within the bound the keys in hand serve.
    let (token, _) = rig.issue("", creds::JWT).await;
    assert!(rig.active("", creds::RS, &token).await);
    rig.server.clock.advance_secs(1);
    let reply = rig.server.post("/oauth2/introspect", Some(creds::RS), &[("token", &token)]).await;
    reply.assert_error(503, "temporarily_unavailable");
    assert!(reply.header("retry-after").is_some());
    let reply = rig.server.post("/oauth2/token", Some(creds::JWT), &[("grant_type", "client_credentials")]).await;
    reply.assert_error(503, "temporarily_unavailable");
    // The source is back, with k1 removed while it was down: the next retry reads it, the service serves
    // again, and k1's tokens are inactive.
    let default = TenantId::default();
    add_key(&mut rig.document, &default, SigningAlgorithm::ES256, Some("k2".into())).unwrap();
    let now = rig.now();
    promote_key(&mut rig.document, &default, "k2", now).unwrap();
    remove_key(&mut rig.document, &default, "k1", now, Some(MAX_STALE), true).unwrap();
    rig.publish();
    rig.server.clock.advance_secs(tessera::tenancy::KEY_RETRY_SECS);
    assert!(!rig.active("", creds::RS, &token).await, "a key removed during the outage does not verify");
    let (fresh, kid) = rig.issue("", creds::JWT).await;
    assert_eq!(kid, "k2");
    assert!(rig.active("", creds::RS, &fresh).await);
}

#[tokio::test]
async fn a_document_the_functions_refuse_keeps_the_keys_in_hand() {
    let mut rig = Rig::start().await;
    let default = TenantId::default();
    let (token, _) = rig.issue("", creds::JWT).await;
    // A hand edit that makes two keys active: refused as a whole, the keys in hand serve.
    let mut bad = rig.document.clone();
    bad.keys.push(generated_key(SigningAlgorithm::ES256, "k2", Some(tessera::config::KeyState::Active)).unwrap());
    bad.keys[0].state = Some(tessera::config::KeyState::Active);
    rig.keys.set(bad);
    rig.server.clock.advance_secs(TTL);
    assert_eq!(rig.issue("", creds::JWT).await.1, "k1");
    assert_eq!(rig.kids("").await, ["k1"]);
    // Mended (k2 promoted, k1 removed): picked up at the retry.
    add_key(&mut rig.document, &default, SigningAlgorithm::ES256, Some("k2".into())).unwrap();
    let now = rig.now();
    promote_key(&mut rig.document, &default, "k2", now).unwrap();
    remove_key(&mut rig.document, &default, "k1", now, Some(3600), true).unwrap();
    rig.publish();
    rig.server.clock.advance_secs(tessera::tenancy::KEY_RETRY_SECS);
    assert_eq!(rig.kids("").await, ["k2"]);
    assert!(!rig.active("", creds::RS, &token).await);
}

#[tokio::test]
async fn a_new_tenant_whose_issuers_cannot_be_read_waits_while_other_changes_apply() {
    let mut rig = Rig::start().await;
    let default = TenantId::default();
    let globex = TenantId::parse("globex").unwrap();
    create_tenant(&mut rig.document, &globex, None, SigningAlgorithm::ES256, None).unwrap();
    let (idp, globex_rs) = register_globex(&rig).await;
    add_key(&mut rig.document, &default, SigningAlgorithm::ES256, Some("k2".into())).unwrap();
    let now = rig.now();
    promote_key(&mut rig.document, &default, "k2", now).unwrap();
    rig.publish();
    // The table cannot be read: globex is not served yet, the default tenant's promotion applies.
    rig.registry.set_down(true);
    rig.server.clock.advance_secs(TTL);
    assert_eq!(rig.issue("", creds::JWT).await.1, "k2");
    assert_eq!(rig.server.send("GET", "/t/globex/.well-known/jwks.json", &[], "").await.status, 404);
    // acme, seen before, is untouched.
    assert_eq!(rig.kids("/t/acme").await, ["acme-1"]);
    // The table is back: globex is served from the retry on, not a whole TTL later, with the trusted issuer
    // the retry read from the table.
    rig.registry.set_down(false);
    rig.server.clock.advance_secs(tessera::tenancy::KEY_RETRY_SECS);
    assert_eq!(rig.kids("/t/globex").await, ["globex-1"]);
    let external = idp.sign(&idp.claims("alice", rig.now()));
    assert!(rig.active("/t/globex", globex_rs, &external).await, "the table's trusted issuer of globex");
}

/// Registers a resource server and a trusted issuer of tenant globex in the table, as `clients register
/// --tenant` and `issuers import` do: the issuer, and the resource server's credentials.
async fn register_globex(rig: &Rig) -> (TestIssuer, (&'static str, &'static str)) {
    let idp = TestIssuer::generate("https://idp.globex.example/", "https://api.globex.example", Algorithm::ES256, "g1");
    let toml = format!(
        "[[tenants]]\nname = \"globex\"\n\n[[clients]]\ntenant = \"globex\"\nclient_id = \"globex-rs\"\n\
         client_secret = \"globex-rs-secret-0123456789abcdef01\"\ngrant_types = []\nmay_introspect = true\n\n{}tenant = \"globex\"\n",
        idp.toml_entry(false)
    );
    let registered = Config::from_toml(&toml).unwrap();
    for client in registered.clients(&SystemEntropy).unwrap() {
        rig.registry.put_client(client).await.unwrap();
    }
    rig.registry.put_trusted_issuer(registered.trusted_issuers[0].to_registered().unwrap()).await.unwrap();
    (idp, ("globex-rs", "globex-rs-secret-0123456789abcdef01"))
}

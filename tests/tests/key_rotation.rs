//! The signing-key rotation lifecycle over HTTP, with the document edited by the very functions `tessera keys`
//! runs and re-read by the service as a deployed function re-reads its secret (a [`MemoryKeys`] source, the
//! pinned clock driving the cache TTL): add a key (published, not signing), promote it (it signs; the old key is
//! retired but still verifies), remove the old key (its tokens introspect inactive). Until the cache expires
//! the service keeps the keys it has; a failing source keeps them too. Also for a second tenant, whose
//! rotation leaves the default tenant alone. Runs on the store `TESSERA_E2E_STORE` selects.

use std::sync::Arc;

use serde_json::Value;
use tessera::clock::{Clock, FixedClock, SystemClock};
use tessera::config::{Config, KeySetDocument};
use tessera::domain::tenant::TenantId;
use tessera::entropy::SystemEntropy;
use tessera::jwt::keys::SigningAlgorithm;
use tessera::key_source::MemoryKeys;
use tessera::service::refreshing_service_on;
use tessera_cli::keys::{add_key, create_tenant, generated_key, promote_key, remove_key};
use tessera_e2e::{TestServer, backend_store, creds, test_config_toml};

/// The key cache TTL of the service under test.
const TTL: u64 = 60;

struct Rig {
    server: TestServer,
    keys: Arc<MemoryKeys>,
    document: KeySetDocument,
}

impl Rig {
    async fn start() -> Self {
        let mut document = KeySetDocument {
            keys: vec![generated_key(SigningAlgorithm::ES256, "k1", None).unwrap()],
            ..Default::default()
        };
        create_tenant(&mut document, &TenantId::parse("acme").unwrap(), None, SigningAlgorithm::ES256, None).unwrap();
        let toml = format!(
            "{}\n[[clients]]\ntenant = \"acme\"\nclient_id = \"acme-svc\"\nclient_secret = \"acme-svc-secret-0123456789abcdef01\"\n\
             scopes = [\"orders:read\"]\n\n[[clients]]\ntenant = \"acme\"\nclient_id = \"acme-rs\"\n\
             client_secret = \"acme-rs-secret-0123456789abcdef012\"\ngrant_types = []\nmay_introspect = true\n",
            test_config_toml()
        );
        let mut config = Config::from_toml(&toml).unwrap();
        config.apply_key_document(document.clone());
        let store = backend_store(&config).await;
        let clock = Arc::new(FixedClock::at(SystemClock.now()));
        let keys = Arc::new(MemoryKeys::new(document.clone()));
        let service = refreshing_service_on(
            store.clone(),
            &config,
            Some("https://auth.example.com"),
            clock.clone(),
            Arc::new(SystemEntropy),
            keys.clone(),
            TTL,
        )
        .unwrap();
        let server = TestServer::start_with(service, clock, store).await;
        Self { server, keys, document }
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
    assert!(remove_key(&mut rig.document, &default, "k1", now + 60, false).is_err(), "too early");
    remove_key(&mut rig.document, &default, "k1", now + 60, true).unwrap();
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
    rig.server.clock.advance_secs(tessera::service::KEY_RETRY_SECS);
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

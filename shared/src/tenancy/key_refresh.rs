//! Re-reading the signing-key document while a function runs: a key added, promoted or removed, or a tenant
//! created or deleted, reaches running functions within the cache TTL, without a redeploy.
//!
//! One request re-reads while the others go on with the tenants in hand. A failed re-read keeps them, logs
//! [`KEY_REREAD_FAILED`] once per attempt, and is retried after at most [`KEY_RETRY_SECS`]; once the last good read
//! is older than the staleness bound, every request fails closed ([`TenantError::KeysUnreadable`]) until a read
//! succeeds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{KeyDocumentSource, LoadError, Sources, TenantError, TenantMap, Tenants, assemble};
use crate::config::Config;
use crate::domain::time::Timestamp;
use crate::key_source::KeySource;
use crate::store::RegistrationStore;

/// How long a failed key re-read waits before the next try, at most.
pub const KEY_RETRY_SECS: u64 = 30;

/// The `event` field of every log that says the key document (or what a re-read needs besides it) could not be
/// applied: one name to alarm on.
pub const KEY_REREAD_FAILED: &str = "key_reread_failed";

/// The re-read state: what the tenants are rebuilt from, and when.
pub(super) struct KeyRefresh {
    source: Arc<dyn KeySource>,
    /// The configuration the tenants are built from: without the document, the issuer resolved.
    base: Config,
    registry: Option<Arc<dyn RegistrationStore>>,
    generate_missing_keys: bool,
    ttl_micros: u64,
    max_stale_micros: Option<u64>,
    /// When the next re-read is due (clock microseconds).
    due: AtomicU64,
    /// When the document was last read successfully (clock microseconds).
    read_at: AtomicU64,
    reloading: tokio::sync::Mutex<()>,
}

impl KeyRefresh {
    /// The state after the first read of the key document at `now`, when `sources` re-read it on a TTL (`None`
    /// otherwise); `complete` is false when a tenant was left out of that read, which is then tried again soon.
    pub(super) fn after_first_read(base: Config, sources: Sources, now: Timestamp, complete: bool) -> Option<Self> {
        let Sources { keys: Some(KeyDocumentSource { source, ttl_secs: Some(ttl_secs), max_stale_secs }), .. } =
            sources
        else {
            return None;
        };
        let now = now.as_micros();
        let ttl_micros = ttl_secs.saturating_mul(1_000_000);
        Some(Self {
            source,
            base,
            registry: sources.registry,
            generate_missing_keys: sources.generate_missing_keys,
            ttl_micros,
            max_stale_micros: max_stale_secs.map(|s| s.saturating_mul(1_000_000)),
            // A tenant left out is tried again soon, as after an incomplete re-read.
            due: AtomicU64::new(now.saturating_add(next_read_in(ttl_micros, complete))),
            read_at: AtomicU64::new(now),
            reloading: tokio::sync::Mutex::new(()),
        })
    }

    /// Re-reads the key document into `tenants` when it is due at `now`; `Err` once the last good read is older
    /// than the staleness bound.
    pub(super) async fn refresh_if_due(&self, tenants: &Tenants, now: Timestamp) -> Result<(), TenantError> {
        let now = now.as_micros();
        let too_stale = |read_at: u64| {
            let stale_for = now.saturating_sub(read_at);
            self.max_stale_micros.is_some_and(|bound| stale_for > bound).then_some(stale_for / 1_000_000)
        };
        if now >= self.due.load(Ordering::Acquire)
            && let Ok(_reloading) = self.reloading.try_lock()
            && now >= self.due.load(Ordering::Acquire)
        {
            let next = match self.reread(tenants).await {
                Ok((rebuilt, complete)) => {
                    tracing::info!(tenants = rebuilt.len(), "signing keys re-read");
                    tenants.replace(rebuilt);
                    self.read_at.store(now, Ordering::Release);
                    next_read_in(self.ttl_micros, complete)
                }
                Err(err) => {
                    // Logged and counted once per attempt, not per request: the `KeyRereadFailures` alarm is the
                    // operator's cue.
                    crate::metrics::count(crate::metrics::Metric::KeyRereadFailures);
                    match too_stale(self.read_at.load(Ordering::Acquire)) {
                        Some(stale_secs) => tracing::error!(
                            event = KEY_REREAD_FAILED,
                            error = %err,
                            stale_secs,
                            "signing keys not re-read and too stale to serve: every request fails closed (503)"
                        ),
                        None => tracing::error!(
                            event = KEY_REREAD_FAILED,
                            error = %err,
                            "signing keys not re-read; keeping the current ones"
                        ),
                    }
                    next_read_in(self.ttl_micros, false)
                }
            };
            self.due.store(now.saturating_add(next), Ordering::Release);
        }
        match too_stale(self.read_at.load(Ordering::Acquire)) {
            Some(_) => Err(TenantError::KeysUnreadable { retry_after_secs: KEY_RETRY_SECS as u32 }),
            None => Ok(()),
        }
    }

    /// The tenants rebuilt from the base configuration and the document as it is now ([`assemble::assemble`]).
    async fn reread(&self, tenants: &Tenants) -> Result<(TenantMap, bool), LoadError> {
        let document = self.source.load().await?;
        let previous = tenants.snapshot();
        assemble::assemble(
            &self.base,
            Some(document),
            Some(&previous),
            self.registry.as_deref(),
            self.generate_missing_keys,
        )
        .await
    }
}

/// How long until the next read of the key document: the TTL after a complete read, at most
/// [`KEY_RETRY_SECS`] after a failed or incomplete one.
fn next_read_in(ttl_micros: u64, complete: bool) -> u64 {
    if complete { ttl_micros } else { ttl_micros.min(KEY_RETRY_SECS * 1_000_000) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, FixedClock};
    use crate::config::Config;
    use crate::domain::tenant::TenantId;
    use crate::jwt::keys::{SigningAlgorithm, SigningKey};
    use crate::tenancy::{KeyDocumentSource, KeySetDocument};

    #[tokio::test]
    async fn a_document_read_at_build_time_is_required_to_load() {
        let source = Arc::new(crate::key_source::MemoryKeys::default());
        let sources = Sources {
            keys: Some(KeyDocumentSource { source, ttl_secs: Some(60), max_stale_secs: None }),
            ..Default::default()
        };
        let built =
            Tenants::load(&Config::default(), Some("https://a.example"), sources, Timestamp::from_micros(1)).await;
        assert!(matches!(built, Err(LoadError::Keys(_))));
    }

    /// A key document whose default tenant has one EdDSA key, and `tenants` each with one of their own.
    fn document(kid: &str, tenants: &[&str]) -> KeySetDocument {
        let entry = |kid: &str| {
            let pem = SigningKey::generate(SigningAlgorithm::EdDSA, kid).unwrap().to_pkcs8_pem();
            serde_json::json!({"kid": kid, "alg": "EdDSA", "private_key_pem": pem})
        };
        let tenants: serde_json::Map<String, serde_json::Value> = tenants
            .iter()
            .map(|t| ((*t).to_owned(), serde_json::json!({"keys": [entry(&format!("{t}-1"))]})))
            .collect();
        let json = serde_json::json!({"keys": [entry(kid)], "tenants": tenants});
        KeySetDocument::parse(&json.to_string()).unwrap()
    }

    /// The key cache TTL of [`rereading`]: longer than [`KEY_RETRY_SECS`], so a retry and a re-read differ.
    const TTL: u64 = 60;

    /// The tenants of `config` and a document re-read every [`TTL`] seconds, its clock, and the document's source.
    async fn rereading(
        config: &str,
        document: KeySetDocument,
        generate_missing_keys: bool,
    ) -> (Tenants, Arc<FixedClock>, Arc<crate::key_source::MemoryKeys>) {
        let source = Arc::new(crate::key_source::MemoryKeys::new(document));
        let sources = Sources {
            keys: Some(KeyDocumentSource { source: source.clone(), ttl_secs: Some(TTL), max_stale_secs: None }),
            registry: None,
            generate_missing_keys,
        };
        let clock = Arc::new(FixedClock::at(crate::domain::time::Timestamp::from_micros(1_800_000_000_000_000)));
        let config = Config::from_toml(config).unwrap();
        let tenants = Tenants::load(&config, Some("https://a.example"), sources, clock.now()).await.unwrap();
        (tenants, clock, source)
    }

    fn signing_kid(tenants: &Tenants, tenant: &TenantId) -> String {
        tenants.snapshot()[tenant].keys.signing_key().kid().to_owned()
    }

    #[tokio::test]
    async fn a_re_read_keeps_the_keys_the_local_runner_generated() {
        // acme, declared by the configuration only, gets a generated key. Re-reading the document (which it
        // does: the default tenant's new key is there) must not replace it, or acme's tokens would stop verifying.
        let (tenants, clock, source) = rereading("[[tenants]]\nname = \"acme\"\n", document("doc-1", &[]), true).await;
        let acme = TenantId::parse("acme").unwrap();
        let jwks = |tenants: &Tenants| tenants.snapshot()[&acme].keys.jwks();
        let before = jwks(&tenants);
        source.set(document("doc-2", &[]));
        clock.advance_secs(TTL);
        tenants.get(&acme, None, clock.now()).await.unwrap();
        assert_eq!(signing_kid(&tenants, &TenantId::default()), "doc-2", "re-read");
        assert_eq!(jwks(&tenants), before);
    }

    #[tokio::test]
    async fn a_keyless_configuration_tenant_goes_with_its_keys() {
        // acme is declared in the configuration (with a client and a permission) and its keys are the
        // document's. Deleted from the document, it is no longer served, and the re-read applies the rest.
        let config = "[[tenants]]\nname = \"acme\"\n\n[[clients]]\ntenant = \"acme\"\nclient_id = \"svc\"\n\
                      client_secret = \"svc-secret-0123456789abcdef0123\"\n\n[[permissions]]\ntenant = \"acme\"\n\
                      scope = \"orders:read\"\nresource = \"orders\"\n";
        let (tenants, clock, source) = rereading(config, document("doc-1", &["acme"]), false).await;
        let acme = TenantId::parse("acme").unwrap();
        assert_eq!(signing_kid(&tenants, &acme), "acme-1");
        source.set(document("doc-2", &[]));
        clock.advance_secs(TTL);
        let err = tenants.get(&acme, None, clock.now()).await.expect_err("deleted");
        assert_eq!(err, TenantError::Unknown);
        assert_eq!(signing_kid(&tenants, &TenantId::default()), "doc-2");
        // Created again: served again.
        source.set(document("doc-3", &["acme"]));
        clock.advance_secs(TTL);
        tenants.get(&acme, None, clock.now()).await.unwrap();
        assert_eq!(signing_kid(&tenants, &acme), "acme-1");
    }

    #[tokio::test]
    async fn each_failed_re_read_is_counted_once_not_per_request() {
        let (tenants, clock, source) = rereading("", document("doc-1", &[]), false).await;
        let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
        let metrics = crate::metrics::MetricsEmitter::new(
            "Test",
            "f",
            crate::metrics::MetricsSink::Memory(lines.clone()),
            clock.clone(),
        );
        source.fail();
        clock.advance_secs(TTL);
        metrics
            .invocation(async {
                for _ in 0..3 {
                    tenants.get(&TenantId::default(), None, clock.now()).await.unwrap();
                }
            })
            .await;
        let documents: Vec<serde_json::Value> =
            lines.lock().unwrap().iter().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(documents.len(), 1);
        assert_eq!(documents[0]["KeyRereadFailures"], serde_json::json!(1.0), "{}", documents[0]);
    }

    #[tokio::test]
    async fn a_new_tenant_that_cannot_be_built_waits_while_the_rest_applies() {
        let (tenants, clock, source) = rereading("", document("doc-1", &[]), false).await;
        let globex = TenantId::parse("globex").unwrap();
        // globex's issuer would put its metadata on the default tenant's routes.
        let mut bad = document("doc-2", &["globex"]);
        bad.tenants.get_mut(&globex).unwrap().issuer = Some("https://a.example".into());
        source.set(bad);
        clock.advance_secs(TTL);
        assert_eq!(tenants.get(&globex, None, clock.now()).await.expect_err("left out"), TenantError::Unknown);
        assert_eq!(signing_kid(&tenants, &TenantId::default()), "doc-2", "the rest applies");
        // Mended: served from the retry on, not a whole TTL later.
        source.set(document("doc-2", &["globex"]));
        clock.advance_secs(KEY_RETRY_SECS);
        tenants.get(&globex, None, clock.now()).await.unwrap();
        // The same mistake in a tenant served before fails the whole re-read: its keys in hand serve on.
        let mut bad = document("doc-3", &["globex"]);
        bad.tenants.get_mut(&globex).unwrap().issuer = Some("https://a.example".into());
        source.set(bad);
        clock.advance_secs(TTL);
        tenants.get(&globex, None, clock.now()).await.unwrap();
        assert_eq!(signing_kid(&tenants, &TenantId::default()), "doc-2", "nothing applied");
    }

    #[tokio::test]
    async fn a_bad_tenant_in_the_document_does_not_keep_a_function_from_starting() {
        // The default tenant's issuer ends with /t/acme, and the document gives acme that very issuer: acme is
        // left out at init (its metadata would be the default tenant's), the function starts and serves default.
        let mut bad = document("doc-1", &["acme"]);
        let acme = TenantId::parse("acme").unwrap();
        bad.tenants.get_mut(&acme).unwrap().issuer = Some("https://a.example/t/acme".into());
        let (tenants, clock, source) = rereading("issuer = \"https://a.example/t/acme\"\n", bad, false).await;
        assert_eq!(tenants.get(&acme, None, clock.now()).await.expect_err("left out"), TenantError::Unknown);
        tenants.get(&TenantId::default(), None, clock.now()).await.unwrap();
        // Mended: served from the first retry on.
        source.set(document("doc-1", &["acme"]));
        clock.advance_secs(KEY_RETRY_SECS);
        let served = tenants.get(&acme, None, clock.now()).await.unwrap();
        assert_eq!(&*served.issuer, "https://a.example/t/acme/t/acme");
    }
}

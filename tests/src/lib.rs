//! Test harness shared by the end-to-end suites: a local runner on a random loopback port with a pinned
//! clock, an HTTP client speaking form posts, and a store that fails on demand.

pub mod client_assertions;
pub mod dpop_proofs;
pub mod fault_proxy;
pub mod fuzz;
pub mod issuers;
pub mod mutual_tls;
pub mod sqs;
pub mod token_variants;

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use tessera::TokenService;
use tessera::clock::{Clock, FixedClock, SystemClock};
use tessera::config::Config;
use tessera::domain::revocation::{RefreshedFamily, RevocationWatermark};
use tessera::domain::time::Timestamp;
use tessera::domain::user_details::UserDetailsRecord;
use tessera::entropy::SystemEntropy;
use tessera::store::dynamodb::{self, DynamoStore};
use tessera::store::memory::MemoryStore;
use tessera::store::{Record, RegistrationStore, StoreError, StoreKey, TokenStore};
use tessera_cli::runner::{self, RunningServer};

/// The clients every scenario uses: the demo clients of `examples/local.toml` plus edge cases.
pub const TEST_CONFIG: &str = r#"
[[clients]]
client_id = "disabled-svc"
client_secret = "disabled-secret-0123456789abcdef"
scopes = ["orders:read"]
disabled = true

[[clients]]
client_id = "odd:client id"
client_secret = "p@ss:word with spaces & symbols+"
scopes = ["orders:read"]
access_token_format = "opaque"
"#;

/// The TOML of [`test_config`], to extend.
pub fn test_config_toml() -> String {
    format!("{}\n{TEST_CONFIG}", tessera_cli::DEMO_CONFIG)
}

/// The demo config followed by [`TEST_CONFIG`].
pub fn test_config() -> Config {
    Config::from_toml(&test_config_toml()).expect("test config parses")
}

/// The test config signing with `key` (the first key signs), so a test can forge tokens with the server's own
/// key and two servers can share one.
pub fn config_with_key(key: &tessera::jwt::keys::SigningKey) -> Config {
    let mut config = test_config();
    config.signing_keys = vec![tessera::config::KeyConfig {
        kid: key.kid().to_owned(),
        alg: key.algorithm(),
        private_key_pem: Some(key.to_pkcs8_pem()),
        private_key_file: None,
        state: None,
        retired_at: None,
    }];
    config
}

/// Demo credentials from `examples/local.toml`.
pub mod creds {
    /// The JWT client.
    pub const JWT: (&str, &str) = ("demo-jwt", "jwt-demo-secret-please-change-me");
    /// The opaque-token client.
    pub const OPAQUE: (&str, &str) = ("demo-opaque", "opaque-demo-secret-change-me-now");
    /// The resource server, which may introspect.
    pub const RS: (&str, &str) = ("demo-resource-server", "resource-server-secret-change-me");
    /// A disabled client.
    pub const DISABLED: (&str, &str) = ("disabled-svc", "disabled-secret-0123456789abcdef");
    /// A client whose id and secret need form-encoding inside Basic.
    pub const ODD: (&str, &str) = ("odd:client id", "p@ss:word with spaces & symbols+");
}

/// A runner serving the test config on 127.0.0.1:0, with its clock pinned.
pub struct TestServer {
    /// The HTTP client for it (also reachable through `Deref`: `server.post(…)`, `server.base`).
    pub endpoint: Endpoint,
    /// The pinned clock; advance it to expire tokens.
    pub clock: Arc<FixedClock>,
    /// The store behind the server (embedded, or the emulator's table).
    pub store: Arc<dyn TokenStore>,
    server: RunningServer,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.server.task.abort();
    }
}

/// An HTTP client bound to a runner's base URL. Cheap to clone into spawned tasks.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    http: reqwest::Client,
}

impl Endpoint {
    /// Sends a raw request.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: impl Into<reqwest::Body>,
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.http.request(method, format!("{}{path}", self.base)).body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.expect("request reaches the runner");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        Reply { status, headers, text }
    }

    /// POSTs a form with Basic credentials.
    pub async fn post(&self, path: &str, auth: Option<(&str, &str)>, pairs: &[(&str, &str)]) -> Reply {
        let mut headers = vec![("content-type", "application/x-www-form-urlencoded".to_owned())];
        if let Some((id, secret)) = auth {
            headers.push(("authorization", basic(id, secret)));
        }
        self.send("POST", path, &headers, form(pairs)).await
    }
}

impl std::ops::Deref for TestServer {
    type Target = Endpoint;
    fn deref(&self) -> &Endpoint {
        &self.endpoint
    }
}

/// A response as the tests look at it.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// Raw body.
    pub text: String,
}

impl Reply {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an RFC 6749 §5.2 error: status, code, description, and the no-store headers.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "body: {}", self.text);
        let body = self.json();
        assert_eq!(body["error"], code, "body: {}", self.text);
        assert!(body["error_description"].as_str().is_some_and(|d| !d.is_empty()), "body: {}", self.text);
        assert_eq!(self.header("cache-control"), Some("no-store"));
        assert_eq!(self.header("pragma"), Some("no-cache"));
        if status == 401 {
            assert!(self.header("www-authenticate").is_some_and(|h| h.starts_with("Basic realm=")));
        }
    }
}

/// `Basic` header value with RFC 6749 §2.3.1 form-encoding of id and secret.
pub fn basic(id: &str, secret: &str) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!("Basic {}", STANDARD.encode(format!("{}:{}", enc(id), enc(secret))))
}

/// A form POST as API Gateway hands it to a handler, with Basic credentials.
pub fn form_request(path: &str, client: (&str, &str), pairs: &[(&str, &str)]) -> lambda_http::Request {
    use lambda_http::http::header::{AUTHORIZATION, CONTENT_TYPE};
    lambda_http::http::Request::builder()
        .method("POST")
        .uri(path)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(AUTHORIZATION, basic(client.0, client.1))
        .body(lambda_http::Body::Text(form(pairs)))
        .expect("a valid request")
}

/// A form body.
pub fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

impl TestServer {
    /// Starts a runner on the test config and the embedded store.
    pub async fn start() -> Self {
        Self::start_config(&test_config()).await
    }

    /// Starts a runner on `config`, exactly as `tessera serve --config` does, with a pinned clock, on the
    /// store [`backend`] selects, holding the config's clients.
    pub async fn start_config(config: &Config) -> Self {
        Self::start_on(config, backend_store(config).await).await
    }

    /// Starts a runner on `config` and a prepared `store` (say, a counting wrapper around [`backend_store`]).
    pub async fn start_on(config: &Config, store: Arc<dyn TokenStore>) -> Self {
        let addr: std::net::SocketAddr = "127.0.0.1:0".parse().expect("addr");
        Self::start_listening(config, store, addr).await
    }

    /// Starts a runner on `config` and `store`, listening as `listen` says (plain HTTP on an address, or TLS), with
    /// a pinned clock.
    pub async fn start_listening(
        config: &Config,
        store: Arc<dyn TokenStore>,
        listen: impl Into<runner::ListenOn>,
    ) -> Self {
        let clock = Arc::new(FixedClock::at(SystemClock.now()));
        let server = runner::serve(
            listen,
            config,
            store.clone(),
            clock.clone(),
            Arc::new(SystemEntropy),
            Default::default(),
            runner::RunnerLimits::default(),
        )
        .await
        .expect("runner starts");
        Self::wrap(server, clock, store)
    }

    /// Starts a runner on `config` exactly as `tessera serve` does on the embedded store (bounded and swept
    /// as `options` say), with a pinned clock; returns the embedded store too, to look at its size.
    pub async fn start_embedded(config: &Config, options: runner::EmbeddedStoreOptions) -> (Self, Arc<MemoryStore>) {
        let clock = Arc::new(FixedClock::at(SystemClock.now()));
        let addr: std::net::SocketAddr = "127.0.0.1:0".parse().expect("addr");
        let entropy = Arc::new(SystemEntropy);
        let (server, store) = runner::serve_embedded(
            addr,
            config,
            clock.clone(),
            entropy,
            Default::default(),
            Default::default(),
            options,
        )
        .await
        .expect("runner starts");
        (Self::wrap(server, clock, store.clone()), store)
    }

    /// Delivers a revocation event (EventBridge event, SQS batch) to the runner's `/local/events`.
    pub async fn send_event(&self, event: &Value) -> Reply {
        let headers = [("content-type", "application/json".to_owned())];
        self.send("POST", "/local/events", &headers, event.to_string()).await
    }

    fn wrap(server: RunningServer, clock: Arc<FixedClock>, store: Arc<dyn TokenStore>) -> Self {
        let endpoint = Endpoint { base: format!("http://{}", server.addr), http: reqwest::Client::new() };
        Self { endpoint, clock, store, server }
    }

    /// The error a configuration gets when a server is built from it.
    pub fn config_error(config: &Config) -> String {
        tessera::tenancy::trusted_issuers::trusted_issuers_of(
            config,
            &tessera::domain::tenant::TenantId::default(),
            &[],
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
    }

    /// Starts a runner whose store fails every call ([`UnavailableStore`]), serving the default tenant of `config`
    /// (its signing keys, so another server's tokens on those keys verify here, and its protected routes) under
    /// `issuer`.
    pub async fn start_on_unavailable_store(config: &Config, issuer: &str) -> Self {
        let clock = Arc::new(FixedClock::at(SystemClock.now()));
        let keys = tessera::tenancy::key_document::key_ring_or_generated(&config.signing_keys, "unused")
            .expect("the config's keys");
        let routes = config.authorizer.protected_routes().expect("the config's routes");
        let tenant = tessera::tenancy::ServedTenant::new(Some(issuer.to_owned()), keys);
        let service = TokenService::new(Arc::new(UnavailableStore), clock.clone(), Arc::new(SystemEntropy))
            .with_tenant(tessera::domain::tenant::TenantId::default(), tenant)
            .with_protected_routes(routes);
        Self::start_with(service, clock, Arc::new(MemoryStore::new())).await
    }

    /// Starts a runner on `config` and `store` as [`TestServer::start_on`] does, announcing its revocations with
    /// `announcer` (a recording or failing one) instead of the runner's own list.
    pub async fn start_announcing(
        config: &Config,
        store: Arc<dyn TokenStore>,
        announcer: Arc<dyn tessera::announcement::RevocationAnnouncer>,
    ) -> Self {
        let clock = Arc::new(FixedClock::at(SystemClock.now()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("bound"));
        let sources = tessera::tenancy::Sources { generate_missing_keys: true, ..Default::default() };
        let service = tessera::service::build_service(
            store.clone(),
            config,
            Some(&base),
            clock.clone(),
            Arc::new(SystemEntropy),
            sources,
        )
        .await
        .expect("service")
        .with_announcer(announcer);
        let server = runner::spawn(listener, Arc::new(service), runner::RunnerLimits::default()).expect("spawn");
        Self::wrap(server, clock, store)
    }

    /// Starts a runner on a prepared service.
    pub async fn start_with(service: TokenService, clock: Arc<FixedClock>, store: Arc<dyn TokenStore>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let server = runner::spawn(listener, Arc::new(service), runner::RunnerLimits::default()).expect("spawn");
        Self::wrap(server, clock, store)
    }

    /// Issues a client-credentials token and returns the access token.
    pub async fn issue(&self, client: (&str, &str), extra: &[(&str, &str)]) -> String {
        let mut pairs = vec![("grant_type", "client_credentials")];
        pairs.extend_from_slice(extra);
        let reply = self.post("/oauth2/token", Some(client), &pairs).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()["access_token"].as_str().expect("access_token").to_owned()
    }

    /// Introspects as the demo resource server.
    pub async fn introspect(&self, token: &str) -> Reply {
        self.post("/oauth2/introspect", Some(creds::RS), &[("token", token)]).await
    }
}

/// The store [`backend`] selects, holding `config`'s clients: a fresh embedded store, or the emulator's table
/// with the clients written to it.
pub async fn backend_store(config: &Config) -> Arc<dyn TokenStore> {
    match backend() {
        Backend::Memory => Arc::new(MemoryStore::with_clients(config.clients(&SystemEntropy).expect("clients"))),
        Backend::DynamoDb => {
            let store = dynamo_store().await.expect("TESSERA_E2E_STORE=dynamodb needs the emulator");
            seeded(store, config).await
        }
    }
}

/// [`backend_store`], and the same store as the operator port (clients and trusted issuers registered in it).
pub async fn backend_registry(config: &Config) -> (Arc<dyn TokenStore>, Arc<dyn tessera::store::RegistrationStore>) {
    let clients = config.clients(&SystemEntropy).expect("clients");
    match backend() {
        Backend::Memory => {
            let store = Arc::new(MemoryStore::with_clients(clients));
            (store.clone(), store)
        }
        Backend::DynamoDb => {
            let store = Arc::new(dynamo_store().await.expect("TESSERA_E2E_STORE=dynamodb needs the emulator"));
            for client in clients {
                store.put_client(client).await.expect("client written to the table");
            }
            (store.clone(), store)
        }
    }
}

/// `store` with `config`'s clients written to it.
async fn seeded(store: DynamoStore, config: &Config) -> Arc<dyn TokenStore> {
    for client in config.clients(&SystemEntropy).expect("clients") {
        store.put_client(client).await.expect("client written to the table");
    }
    Arc::new(store)
}

/// [`backend_store`] on a table of its own (`<TESSERA_TEST_TABLE>-<random>`, created for the caller) when on
/// DynamoDB: for tests whose writes reach every token of the tenant (a tenant-wide revocation), which would
/// otherwise revoke the tokens of tests running beside them in the shared table.
pub async fn isolated_backend_store(config: &Config) -> Arc<dyn TokenStore> {
    if backend() == Backend::Memory {
        return backend_store(config).await;
    }
    let shared = std::env::var("TESSERA_TEST_TABLE").expect("TESSERA_E2E_STORE=dynamodb needs the emulator");
    let suffix: [u8; 6] = tessera::entropy::random_bytes(&SystemEntropy).expect("entropy");
    let table = format!("{shared}-{}", suffix.iter().map(|b| format!("{b:02x}")).collect::<String>());
    let sdk = tessera::aws_sdk::sdk_config().await;
    let store = DynamoStore::new(dynamodb::client(&sdk, None), table);
    store.create_table_if_missing().await.expect("table created on the emulator");
    seeded(store, config).await
}

/// The store the end-to-end suite runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded store (default).
    Memory,
    /// The DynamoDB emulator's table (`TESSERA_E2E_STORE=dynamodb`).
    DynamoDb,
}

/// `TESSERA_E2E_STORE=dynamodb` runs the suite on the emulator; anything else on the embedded store.
pub fn backend() -> Backend {
    match std::env::var("TESSERA_E2E_STORE").as_deref() {
        Ok("dynamodb") => Backend::DynamoDb,
        _ => Backend::Memory,
    }
}

/// The emulator's table, configured by `scripts/test` (`TESSERA_TEST_TABLE`, `AWS_ENDPOINT_URL_DYNAMODB`).
/// `None` when it is not set up, which is a skip locally and a failure in CI (`CI=true`).
pub async fn dynamo_store() -> Option<DynamoStore> {
    let Ok(table) = std::env::var("TESSERA_TEST_TABLE") else {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true: the DynamoDB emulator must be running");
        eprintln!("skipped: no DynamoDB emulator (run scripts/test, which starts one)");
        return None;
    };
    let sdk = tessera::aws_sdk::sdk_config().await;
    Some(DynamoStore::new(dynamodb::client(&sdk, None), table))
}

/// The emulator's EventBridge endpoint (`AWS_ENDPOINT_URL_EVENTBRIDGE`, set by `scripts/test` to the moto server that
/// serves DynamoDB too). `None` when it is not set up: a skip locally, a failure in CI (`CI=true`).
pub fn eventbridge_endpoint() -> Option<String> {
    let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL_EVENTBRIDGE") else {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true: the EventBridge emulator must be running");
        eprintln!("skipped: no EventBridge emulator (run scripts/test, which starts one)");
        return None;
    };
    Some(endpoint)
}

/// A store whose every call fails as DynamoDB does when throttled or unreachable.
#[derive(Debug, Default)]
pub struct UnavailableStore;

#[async_trait]
impl TokenStore for UnavailableStore {
    async fn get_many(&self, _: &[StoreKey]) -> Result<Vec<Record>, StoreError> {
        Err(unavailable())
    }
    async fn put_new(&self, _: Record, _: Timestamp) -> Result<(), StoreError> {
        Err(unavailable())
    }
    async fn mark_revoked(&self, _: &StoreKey, _: Timestamp) -> Result<(), StoreError> {
        Err(unavailable())
    }
    async fn put_new_all(&self, _: Vec<Record>, _: Timestamp) -> Result<(), StoreError> {
        Err(unavailable())
    }
    async fn rotate(
        &self,
        _: &StoreKey,
        _: Timestamp,
        _: Vec<Record>,
        _: Option<RefreshedFamily>,
    ) -> Result<(), StoreError> {
        Err(unavailable())
    }
    async fn raise_watermark(&self, _: RevocationWatermark, _: Option<&str>) -> Result<bool, StoreError> {
        Err(unavailable())
    }
    async fn put_user_details(&self, _: UserDetailsRecord, _: Option<Timestamp>) -> Result<bool, StoreError> {
        Err(unavailable())
    }
}

fn unavailable() -> StoreError {
    StoreError::Unavailable { reason: "connection refused".into(), retry_after_secs: 1, throttled: false }
}

/// A registry that fails every call while it is switched off, as the table does when DynamoDB is unreachable,
/// and passes through to `inner` otherwise.
pub struct SwitchedRegistry {
    inner: Arc<dyn RegistrationStore>,
    down: std::sync::atomic::AtomicBool,
}

impl SwitchedRegistry {
    /// `inner`, up.
    pub fn new(inner: Arc<dyn RegistrationStore>) -> Self {
        Self { inner, down: std::sync::atomic::AtomicBool::new(false) }
    }

    /// Makes every call fail (`true`) or pass through again.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, std::sync::atomic::Ordering::SeqCst);
    }

    fn up(&self) -> Result<(), StoreError> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) { Err(unavailable()) } else { Ok(()) }
    }
}

#[async_trait]
impl TokenStore for SwitchedRegistry {
    async fn get_many(&self, keys: &[StoreKey]) -> Result<Vec<Record>, StoreError> {
        self.up()?;
        self.inner.get_many(keys).await
    }
    async fn put_new(&self, record: Record, now: Timestamp) -> Result<(), StoreError> {
        self.up()?;
        self.inner.put_new(record, now).await
    }
    async fn mark_revoked(&self, key: &StoreKey, at: Timestamp) -> Result<(), StoreError> {
        self.up()?;
        self.inner.mark_revoked(key, at).await
    }
    async fn put_new_all(&self, records: Vec<Record>, now: Timestamp) -> Result<(), StoreError> {
        self.up()?;
        self.inner.put_new_all(records, now).await
    }
    async fn rotate(
        &self,
        key: &StoreKey,
        at: Timestamp,
        records: Vec<Record>,
        refreshed: Option<RefreshedFamily>,
    ) -> Result<(), StoreError> {
        self.up()?;
        self.inner.rotate(key, at, records, refreshed).await
    }
    async fn raise_watermark(&self, mark: RevocationWatermark, jti: Option<&str>) -> Result<bool, StoreError> {
        self.up()?;
        self.inner.raise_watermark(mark, jti).await
    }
    async fn put_user_details(&self, record: UserDetailsRecord, at: Option<Timestamp>) -> Result<bool, StoreError> {
        self.up()?;
        self.inner.put_user_details(record, at).await
    }
}

#[async_trait]
impl RegistrationStore for SwitchedRegistry {
    async fn put(&self, record: Record) -> Result<(), StoreError> {
        self.up()?;
        self.inner.put(record).await
    }
    async fn list(
        &self,
        tenant: &tessera::domain::tenant::TenantId,
        kind: tessera::store::ItemKind,
    ) -> Result<Vec<Record>, StoreError> {
        self.up()?;
        self.inner.list(tenant, kind).await
    }
    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        self.up()?;
        self.inner.delete(key).await
    }
}

/// A fixed set of served tenants, for driving the revocation-events handler without a key document.
#[derive(Debug, Clone)]
pub struct DeclaredTenants(pub Vec<tessera::domain::tenant::TenantId>);

impl DeclaredTenants {
    /// `default` and the named tenants.
    pub fn with(names: &[&str]) -> Self {
        let mut tenants = vec![tessera::domain::tenant::TenantId::default()];
        tenants.extend(names.iter().map(|n| tessera::domain::tenant::TenantId::parse(n).expect("a tenant name")));
        Self(tenants)
    }
}

#[async_trait]
impl tessera::events::TenantDirectory for DeclaredTenants {
    async fn serves(&self, tenant: &tessera::domain::tenant::TenantId) -> Result<bool, StoreError> {
        Ok(self.0.contains(tenant))
    }
}

/// A revocation announcer that records what it announces ([`tessera::announcement::recent::RecentAnnouncements`])
/// while it is up, and fails every announcement, as an unreachable bus does, while it is down.
#[derive(Debug, Default)]
pub struct SwitchedAnnouncer {
    recorded: tessera::announcement::recent::RecentAnnouncements,
    down: std::sync::atomic::AtomicBool,
    failed: std::sync::atomic::AtomicUsize,
}

impl SwitchedAnnouncer {
    /// Makes every announcement fail (`true`) or be recorded again.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, std::sync::atomic::Ordering::SeqCst);
    }

    /// What was announced, oldest first.
    pub fn announced(&self) -> Vec<tessera::announcement::RevocationAnnouncement> {
        self.recorded.all()
    }

    /// How many announcements failed.
    pub fn failures(&self) -> usize {
        self.failed.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[async_trait]
impl tessera::announcement::RevocationAnnouncer for SwitchedAnnouncer {
    async fn announce(
        &self,
        announcement: &tessera::announcement::RevocationAnnouncement,
    ) -> Result<(), tessera::announcement::AnnounceError> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            self.failed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            return Err(tessera::announcement::AnnounceError::Unavailable("the bus is down (test)".into()));
        }
        self.recorded.announce(announcement).await
    }
}

//! The benchmark scenario, shared by the criterion benches (`benches/handlers.rs`) and the instruction counter
//! (`src/bin/instructions.rs`): the demo configuration on the embedded store with a pinned clock, tokens issued
//! beforehand, and each operation as the Lambda handler receives it (a `lambda_http::Request`).

use std::sync::Arc;

use lambda_http::{Body, Request, Response};
use tessera::TokenService;
use tessera::clock::FixedClock;
use tessera::config::Config;
use tessera::domain::time::Timestamp;
use tessera::entropy::SystemEntropy;
use tessera::service::build_service;
use tessera::store::TokenStore;
use tessera::store::memory::MemoryStore;
use tessera::tenancy::Sources;
use tessera::wire::form::{MAX_FORM_BYTES, MAX_FORM_PARAMS};
use tessera_e2e::form_request;

/// The demo clients (`examples/local.toml`).
const JWT_CLIENT: (&str, &str) = ("demo-jwt", "jwt-demo-secret-please-change-me");
const OPAQUE_CLIENT: (&str, &str) = ("demo-opaque", "opaque-demo-secret-change-me-now");
const RESOURCE_SERVER: (&str, &str) = ("demo-resource-server", "resource-server-secret-change-me");

/// The operations measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Introspect an opaque access token.
    IntrospectOpaque,
    /// Introspect a JWT access token presented before: its verification comes from the verified-token cache.
    IntrospectJwt,
    /// Introspect a JWT access token presented for the first time (a fresh one each time; issuing it is not
    /// measured): ES256 verification.
    IntrospectJwtFirstSeen,
    /// Issue a JWT access token (client credentials).
    IssueJwt,
    /// Issue a DPoP-bound JWT access token (client credentials with an EdDSA DPoP proof, RFC 9449; a fresh proof
    /// each time, signed outside the measurement): one proof verification and one replay write more.
    IssueJwtDpop,
    /// Issue an opaque access token (client credentials).
    IssueOpaque,
    /// Revoke an opaque access token (a fresh one each time; issuing it is not measured).
    RevokeOpaque,
    /// A client-credentials request whose 16 KiB body adds about 4,000 distinct parameter names: the hostile body
    /// of the hardening issue, refused (400, over the parameter limit) before client authentication.
    IssueOpaqueHostileForm,
    /// The worst body still accepted: a client-credentials request padded to 16 KiB with 99 long parameters
    /// Tessera does not read (the parameter limit is 100), answered 200.
    IssueOpaqueFullForm,
}

impl Operation {
    /// Every operation, in table order.
    pub const ALL: [Self; 9] = [
        Self::IntrospectOpaque,
        Self::IntrospectJwt,
        Self::IntrospectJwtFirstSeen,
        Self::IssueJwt,
        Self::IssueJwtDpop,
        Self::IssueOpaque,
        Self::RevokeOpaque,
        Self::IssueOpaqueHostileForm,
        Self::IssueOpaqueFullForm,
    ];

    /// The name used in tables and on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Self::IntrospectOpaque => "introspect_opaque",
            Self::IntrospectJwt => "introspect_jwt",
            Self::IntrospectJwtFirstSeen => "introspect_jwt_first_seen",
            Self::IssueJwt => "issue_jwt",
            Self::IssueJwtDpop => "issue_jwt_dpop",
            Self::IssueOpaque => "issue_opaque",
            Self::RevokeOpaque => "revoke_opaque",
            Self::IssueOpaqueHostileForm => "issue_opaque_hostile_form",
            Self::IssueOpaqueFullForm => "issue_opaque_full_form",
        }
    }

    /// Whether `op` measures form parsing under a hostile or maximal body (the store rows leave it out).
    pub const fn is_form_stress(self) -> bool {
        matches!(self, Self::IssueOpaqueHostileForm | Self::IssueOpaqueFullForm)
    }

    /// The status the handler answers `op` with.
    pub const fn expected_status(self) -> u16 {
        match self {
            Self::IssueOpaqueHostileForm => 400,
            _ => 200,
        }
    }

    /// The operation named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.name() == name)
    }
}

const ISSUER: &str = "https://auth.example.com";

/// The host the DPoP requests name, and so the `htu` of their proofs (the handler sees `http://` + `Host` + path).
const DPOP_HOST: &str = "auth.example.com";

/// The scenario's pinned instant, in seconds.
const NOW_SECS: u64 = 1_800_000_000;

fn demo_config() -> Config {
    Config::from_toml(tessera_cli::DEMO_CONFIG).expect("the demo config parses")
}

/// The demo configuration's clients, to seed a store with.
pub fn demo_clients() -> Vec<tessera::domain::client::Client> {
    demo_config().clients(&SystemEntropy).expect("the demo clients build")
}

fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::at(Timestamp::from_secs(NOW_SECS)))
}

/// A service with tokens to introspect.
pub struct Scenario {
    /// The service, as a function holds it.
    pub service: TokenService,
    opaque: String,
    jwt: String,
}

fn access_token(response: &Response<Body>) -> String {
    let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap_or_default();
    body["access_token"].as_str().unwrap_or_default().to_owned()
}

impl Scenario {
    /// The demo configuration on a fresh embedded store, one opaque and one JWT access token issued.
    pub async fn new() -> Self {
        Self::on(Arc::new(MemoryStore::with_clients(demo_clients()))).await
    }

    /// The demo configuration on `store`, which must already hold the demo clients ([`demo_clients`]).
    pub async fn on(store: Arc<dyn TokenStore>) -> Self {
        // As the local runner builds it: the demo tenant's key generated.
        let sources = Sources { generate_missing_keys: true, ..Sources::default() };
        let service = build_service(store, &demo_config(), Some(ISSUER), clock(), Arc::new(SystemEntropy), sources)
            .await
            .expect("the demo service builds");
        Self::with(service).await
    }

    async fn with(service: TokenService) -> Self {
        let mut scenario = Self { service, opaque: String::new(), jwt: String::new() };
        scenario.opaque = scenario.issue(OPAQUE_CLIENT).await;
        scenario.jwt = scenario.issue(JWT_CLIENT).await;
        assert!(scenario.opaque.starts_with("tsr_at_") && scenario.jwt.contains('.'), "tokens issued");
        scenario
    }

    async fn issue(&self, client: (&str, &str)) -> String {
        let request = form_request("/oauth2/token", client, &[("grant_type", "client_credentials")]);
        access_token(&tessera_token::handle(&self.service, request).await.expect("issued"))
    }

    /// What `op` needs prepared outside the measurement: a fresh token to revoke or to introspect, or nothing.
    pub async fn setup(&self, op: Operation) -> Option<String> {
        match op {
            Operation::RevokeOpaque => Some(self.issue(OPAQUE_CLIENT).await),
            Operation::IntrospectJwtFirstSeen => Some(self.issue(JWT_CLIENT).await),
            Operation::IssueJwtDpop => Some(dpop_proof()),
            _ => None,
        }
    }

    /// The request of `op` (`prepared` from [`Scenario::setup`]).
    pub fn request(&self, op: Operation, prepared: Option<&str>) -> Request {
        let cc = [("grant_type", "client_credentials")];
        match op {
            Operation::IntrospectOpaque => {
                form_request("/oauth2/introspect", RESOURCE_SERVER, &[("token", self.opaque.as_str())])
            }
            Operation::IntrospectJwt => {
                form_request("/oauth2/introspect", RESOURCE_SERVER, &[("token", self.jwt.as_str())])
            }
            Operation::IntrospectJwtFirstSeen => {
                form_request("/oauth2/introspect", RESOURCE_SERVER, &[("token", prepared.unwrap_or_default())])
            }
            Operation::IssueJwt => form_request("/oauth2/token", JWT_CLIENT, &cc),
            Operation::IssueJwtDpop => {
                let mut request = form_request("/oauth2/token", JWT_CLIENT, &cc);
                let headers = request.headers_mut();
                headers.insert("host", lambda_http::http::HeaderValue::from_static(DPOP_HOST));
                if let Ok(proof) = prepared.unwrap_or_default().parse() {
                    headers.insert("dpop", proof);
                }
                request
            }
            Operation::IssueOpaque => form_request("/oauth2/token", OPAQUE_CLIENT, &cc),
            Operation::RevokeOpaque => {
                form_request("/oauth2/revoke", OPAQUE_CLIENT, &[("token", prepared.unwrap_or_default())])
            }
            Operation::IssueOpaqueHostileForm => with_body(
                form_request("/oauth2/token", OPAQUE_CLIENT, &cc),
                // Three-letter names, no value: about 4,000 of them in 16 KiB.
                &padded_body(three_letters, usize::MAX, MAX_FORM_BYTES),
            ),
            Operation::IssueOpaqueFullForm => {
                let value_len = MAX_FORM_BYTES / MAX_FORM_PARAMS;
                let body = padded_body(|i| format!("pad{i:02}={}", "x".repeat(value_len)), 99, MAX_FORM_BYTES);
                with_body(form_request("/oauth2/token", OPAQUE_CLIENT, &cc), &body)
            }
        }
    }

    /// Runs `op` through its handler; the status, checked by the callers.
    pub async fn run(&self, op: Operation, request: Request) -> u16 {
        let response = match op {
            Operation::IntrospectOpaque | Operation::IntrospectJwt | Operation::IntrospectJwtFirstSeen => {
                tessera_introspect::handle(&self.service, request).await
            }
            Operation::IssueJwt
            | Operation::IssueJwtDpop
            | Operation::IssueOpaque
            | Operation::IssueOpaqueHostileForm
            | Operation::IssueOpaqueFullForm => tessera_token::handle(&self.service, request).await,
            Operation::RevokeOpaque => tessera_revoke::handle(&self.service, request).await,
        };
        response.map_or(500, |r| r.status().as_u16())
    }
}

/// A fresh DPoP proof for the token endpoint at the scenario's instant, signed with the fuzz bodies' Ed25519 key
/// ([`tessera_e2e::fuzz::signed_dpop_proof`]); each has its own `jti`.
fn dpop_proof() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let jti = format!("bench-{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let claims = serde_json::json!({
        "jti": jti, "htm": "POST", "htu": format!("http://{DPOP_HOST}/oauth2/token"), "iat": NOW_SECS,
    });
    tessera_e2e::fuzz::signed_dpop_proof(claims.to_string().as_bytes()).unwrap_or_default()
}

/// `grant_type=client_credentials` followed by `pair(0)`, `pair(1)`, … while the body stays within `max_bytes`, and
/// at most `max_pairs` of them.
fn padded_body(pair: impl Fn(usize) -> String, max_pairs: usize, max_bytes: usize) -> String {
    let mut body = String::from("grant_type=client_credentials");
    for next in (0..max_pairs).map(pair) {
        if body.len() + 1 + next.len() > max_bytes {
            break;
        }
        body.push('&');
        body.push_str(&next);
    }
    body
}

/// The `i`-th three-letter lowercase name (`aaa`, `aab`, …), distinct for `i` below 17,576.
fn three_letters(i: usize) -> String {
    let letter = |n: usize| char::from(b'a' + (n % 26) as u8);
    [letter(i / 676), letter(i / 26), letter(i)].iter().collect()
}

/// `request` with `body` instead of its own.
fn with_body(request: Request, body: &str) -> Request {
    let (parts, _) = request.into_parts();
    Request::from_parts(parts, Body::Text(body.to_owned()))
}

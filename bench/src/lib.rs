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
use tessera::store::TokenStore;
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
    /// Introspect a JWT access token.
    IntrospectJwt,
    /// Issue a JWT access token (client credentials).
    IssueJwt,
    /// Issue an opaque access token (client credentials).
    IssueOpaque,
    /// Revoke an opaque access token (a fresh one each time; issuing it is not measured).
    RevokeOpaque,
}

impl Operation {
    /// Every operation, in table order.
    pub const ALL: [Self; 5] =
        [Self::IntrospectOpaque, Self::IntrospectJwt, Self::IssueJwt, Self::IssueOpaque, Self::RevokeOpaque];

    /// The name used in tables and on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Self::IntrospectOpaque => "introspect_opaque",
            Self::IntrospectJwt => "introspect_jwt",
            Self::IssueJwt => "issue_jwt",
            Self::IssueOpaque => "issue_opaque",
            Self::RevokeOpaque => "revoke_opaque",
        }
    }

    /// The operation named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.name() == name)
    }
}

const ISSUER: &str = "https://auth.example.com";

fn demo_config() -> Config {
    Config::from_toml(tessera_cli::DEMO_CONFIG).expect("the demo config parses")
}

/// The demo configuration's clients, to seed a store with.
pub fn demo_clients() -> Vec<tessera::domain::client::Client> {
    demo_config().clients(&SystemEntropy).expect("the demo clients build")
}

fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::at(Timestamp::from_secs(1_800_000_000)))
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
        let config = demo_config();
        let (service, _) = tessera::service::embedded_service(&config, ISSUER, clock(), Arc::new(SystemEntropy))
            .expect("the demo service builds");
        Self::with(service).await
    }

    /// The demo configuration on `store`, which must already hold the demo clients ([`demo_clients`]).
    pub async fn on(store: Arc<dyn TokenStore>) -> Self {
        let service =
            tessera::service::service_on(store, &demo_config(), Some(ISSUER), clock(), Arc::new(SystemEntropy))
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

    /// What `op` needs prepared outside the measurement: a fresh token to revoke, or nothing.
    pub async fn setup(&self, op: Operation) -> Option<String> {
        match op {
            Operation::RevokeOpaque => Some(self.issue(OPAQUE_CLIENT).await),
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
            Operation::IssueJwt => form_request("/oauth2/token", JWT_CLIENT, &cc),
            Operation::IssueOpaque => form_request("/oauth2/token", OPAQUE_CLIENT, &cc),
            Operation::RevokeOpaque => {
                form_request("/oauth2/revoke", OPAQUE_CLIENT, &[("token", prepared.unwrap_or_default())])
            }
        }
    }

    /// Runs `op` through its handler; the status, checked by the callers.
    pub async fn run(&self, op: Operation, request: Request) -> u16 {
        let response = match op {
            Operation::IntrospectOpaque | Operation::IntrospectJwt => {
                tessera_introspect::handle(&self.service, request).await
            }
            Operation::IssueJwt | Operation::IssueOpaque => tessera_token::handle(&self.service, request).await,
            Operation::RevokeOpaque => tessera_revoke::handle(&self.service, request).await,
        };
        response.map_or(500, |r| r.status().as_u16())
    }
}

//! The Shared Signals receiver end to end over HTTP (RFC 8935 push delivery), on the store the run selects: a
//! transmitter played by the test (its SETs signed with jwt-compact on RustCrypto's p256, not the JOSE code Tessera
//! verifies with) pushes CAEP and RISC events about users whose tokens were exchanged from a trusted issuer, and
//! exactly their tokens die; every bad push is refused with RFC 8935 §2.3's error and revokes nothing.

use jwt_compact::alg::{Es256, SigningKey as _};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{AlgorithmExt, Claims, Header};
use serde_json::{Value, json};
use tessera::clock::Clock;
use tessera::config::Config;
use tessera::entropy::{SystemEntropy, random_bytes};
use tessera_e2e::issuers::{EXCHANGER, TestIssuer, auth0, exchange};
use tessera_e2e::{Reply, TestServer};

/// The audience the test transmitter's stream was configured with.
pub(crate) const AUDIENCE: &str = "https://tessera.test/ssf/events";
/// The bearer token the test transmitter presents.
pub(crate) const AUTHORIZATION: &str = "ssf-test-transmitter-token-0123456789abcdef";
/// CAEP's session-revoked event type.
pub(crate) const SESSION_REVOKED: &str = "https://schemas.openid.net/secevent/caep/event-type/session-revoked";

type Key = <Es256 as jwt_compact::Algorithm>::SigningKey;

/// A Shared Signals transmitter played by the test: an issuer (that of a trusted issuer, whose users it names) and
/// an ES256 key of its own, signing with jwt-compact.
pub(crate) struct Transmitter {
    pub issuer: String,
    kid: String,
    key: Key,
}

impl Transmitter {
    /// A transmitter for `issuer` with a fresh key named `kid`.
    pub fn new(issuer: &str, kid: &str) -> Self {
        loop {
            let secret: [u8; 32] = random_bytes(&SystemEntropy).expect("entropy");
            if let Ok(key) = Key::from_slice(&secret) {
                return Self { issuer: issuer.to_owned(), kid: kid.to_owned(), key };
            }
        }
    }

    /// Its public JWK Set.
    pub fn jwks(&self) -> Value {
        let verifying = self.key.to_verifying_key();
        let mut jwk = serde_json::to_value(JsonWebKey::from(&verifying)).expect("JWK");
        jwk["kid"] = json!(self.kid);
        jwk["alg"] = json!("ES256");
        json!({"keys": [jwk]})
    }

    /// Its `[[ssf_transmitters]]` entry for `tenant`.
    pub fn toml_entry(&self, tenant: &str) -> String {
        format!(
            "[[ssf_transmitters]]\ntenant = \"{tenant}\"\nissuer = \"{}\"\naudience = \"{AUDIENCE}\"\n\
             algorithms = [\"ES256\"]\njwks = '{}'\nauthorization = \"{AUTHORIZATION}\"\n",
            self.issuer,
            self.jwks()
        )
    }

    /// A SET of `events` issued at `iat`, with a fresh `jti`, from this transmitter to [`AUDIENCE`].
    pub fn claims(&self, iat: u64, events: Value) -> Value {
        json!({"iss": self.issuer, "aud": AUDIENCE, "iat": iat, "jti": unique("set"), "events": events})
    }

    /// `claims` signed, with `typ: secevent+jwt`.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_typed(claims, Some("secevent+jwt"))
    }

    /// `claims` signed with the `typ` given.
    pub fn sign_typed(&self, claims: &Value, typ: Option<&str>) -> String {
        let mut header = Header::empty().with_key_id(self.kid.clone());
        if let Some(typ) = typ {
            header = header.with_token_type(typ);
        }
        Es256.token(&header, &Claims::new(claims.clone()), &self.key).expect("sign")
    }
}

/// An `iss_sub` subject identifier of `issuer`'s user `sub` (RFC 9493 §3.2.5).
pub(crate) fn iss_sub(issuer: &TestIssuer, sub: &str) -> Value {
    json!({"format": "iss_sub", "iss": issuer.issuer, "sub": sub})
}

/// A name no other test (or earlier run on the shared table) uses.
pub(crate) fn unique(prefix: &str) -> String {
    let bytes: [u8; 8] = random_bytes(&SystemEntropy).expect("entropy");
    format!("{prefix}-{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// The exchange configuration with `issuer` trusted and `transmitter` pushing to the default tenant.
pub(crate) fn config(issuer: &TestIssuer, transmitter: &Transmitter) -> Config {
    let mut toml = tessera_e2e::issuers::exchange_config_toml(&[(issuer, false)]);
    toml.push_str(&transmitter.toml_entry("default"));
    Config::from_toml(&toml).expect("SSF config")
}

/// POSTs `set` as the transmitter does: `application/secevent+jwt`, its bearer token.
pub(crate) async fn push(server: &TestServer, path: &str, set: &str) -> Reply {
    let headers = [
        ("content-type", "application/secevent+jwt".to_owned()),
        ("authorization", format!("Bearer {AUTHORIZATION}")),
        ("accept", "application/json".to_owned()),
    ];
    server.send("POST", path, &headers, set.to_owned()).await
}

/// Asserts an RFC 8935 §2.3 error answer.
#[track_caller]
pub(crate) fn assert_set_error(reply: &Reply, status: u16, err: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["err"], err, "{}", reply.text);
    assert!(body["description"].as_str().is_some_and(|d| !d.is_empty()), "{}", reply.text);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert!(reply.header("content-type").is_some_and(|c| c.starts_with("application/json")));
    if status == 401 {
        assert!(reply.header("www-authenticate").is_some_and(|h| h.starts_with("Bearer realm=")), "{reply:?}");
    }
}

/// A user of `issuer` with a Tessera access token and refresh token exchanged from its token.
pub(crate) struct User {
    pub sub: String,
    pub access_token: String,
    pub refresh_token: String,
}

/// Exchanges a fresh token of a new user of `issuer`.
pub(crate) async fn user(server: &TestServer, issuer: &TestIssuer) -> User {
    let sub = unique("user");
    let subject_token = issuer.sign(&issuer.claims(&sub, server.clock.now().as_secs()));
    let reply = exchange(server, EXCHANGER, &subject_token, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    User {
        sub,
        access_token: body["access_token"].as_str().expect("access_token").to_owned(),
        refresh_token: body["refresh_token"].as_str().expect("refresh_token").to_owned(),
    }
}

/// Whether `user`'s access token introspects active.
pub(crate) async fn active(server: &TestServer, user: &User) -> bool {
    server.introspect(&user.access_token).await.json()["active"] == true
}

async fn refreshes(server: &TestServer, user: &User) -> bool {
    let pairs = [("grant_type", "refresh_token"), ("refresh_token", user.refresh_token.as_str())];
    server.post("/oauth2/token", Some(EXCHANGER), &pairs).await.status == 200
}

/// RFC 8935 §2.2: a valid SET is acknowledged with 202 and an empty body. Each CAEP and RISC event type that
/// means the user's sessions or credentials are no longer good revokes every token of the user it names (access
/// and refresh), and no one else's; the subject is named by the event (`subject`) or by the SET (`sub_id`), and as
/// `iss_sub`, `opaque` or a `complex` subject's `user`.
#[tokio::test]
async fn each_revoking_event_revokes_every_token_of_its_user_and_no_one_elses() {
    let (issuer, transmitter) = (auth0(), Transmitter::new(&auth0().issuer, "ssf-1"));
    let server = TestServer::start_config(&config(&issuer, &transmitter)).await;
    let bystander = user(&server, &issuer).await;
    let now = server.clock.now().as_secs();
    let event_types = [
        ("https://schemas.openid.net/secevent/caep/event-type/session-revoked", "subject"),
        ("https://schemas.openid.net/secevent/caep/event-type/credential-change", "sub_id"),
        ("https://schemas.openid.net/secevent/risc/event-type/account-disabled", "opaque"),
        ("https://schemas.openid.net/secevent/risc/event-type/account-purged", "complex"),
        ("https://schemas.openid.net/secevent/risc/event-type/credential-compromise", "subject"),
        ("https://schemas.openid.net/secevent/risc/event-type/sessions-revoked", "subject"),
    ];
    for (event_type, named_by) in event_types {
        let victim = user(&server, &issuer).await;
        assert!(active(&server, &victim).await);
        let claims = match named_by {
            "sub_id" => {
                let mut claims = transmitter.claims(now, json!({event_type: {"change_type": "update"}}));
                claims["sub_id"] = iss_sub(&issuer, &victim.sub);
                claims
            }
            "opaque" => transmitter.claims(
                now,
                json!({event_type: {"subject": {"format": "opaque", "id": victim.sub}, "reason": "bulk-account"}}),
            ),
            "complex" => transmitter.claims(
                now,
                json!({event_type: {"subject": {"format": "complex", "user": iss_sub(&issuer, &victim.sub),
                    "session": {"format": "opaque", "id": "sess-1"}}}}),
            ),
            _ => transmitter.claims(now, json!({event_type: {"subject": iss_sub(&issuer, &victim.sub)}})),
        };
        let reply = push(&server, "/ssf/events", &transmitter.sign(&claims)).await;
        assert_eq!(reply.status, 202, "{event_type}: {}", reply.text);
        assert_eq!(reply.text, "", "RFC 8935 §2.2: no body");
        assert!(!active(&server, &victim).await, "{event_type}: the access token is revoked");
        assert!(!refreshes(&server, &victim).await, "{event_type}: the refresh token is revoked");
    }
    assert!(active(&server, &bystander).await, "the other users' tokens live on");
}

/// RFC 8935 §2.3/§2.4: every bad push gets its error code and status, and revokes nothing: the wrong key, audience
/// or issuer, an old or expired SET, `alg: none`, another `typ`, a subject format or identifier that maps to no
/// subject, a subject of an issuer the transmitter may not speak for, missing or wrong authorization, another media
/// type, an oversized body, another method, an unknown tenant.
#[tokio::test]
async fn every_bad_push_is_refused_with_its_rfc_8935_error_and_revokes_nothing() {
    let (issuer, transmitter) = (auth0(), Transmitter::new(&auth0().issuer, "ssf-1"));
    let server = TestServer::start_config(&config(&issuer, &transmitter)).await;
    let victim = user(&server, &issuer).await;
    let now = server.clock.now().as_secs();
    let revoking = json!({SESSION_REVOKED: {"subject": iss_sub(&issuer, &victim.sub)}});
    let good = transmitter.claims(now, revoking.clone());
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = good.clone();
        change(&mut claims);
        transmitter.sign(&claims)
    };
    let impostor = Transmitter::new(&transmitter.issuer, "ssf-1");
    let b64 = |v: &Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let unsigned = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "secevent+jwt"})), b64(&good));
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("wrong key", impostor.sign(&good), 400, "invalid_key"),
        ("unknown kid", Transmitter::new(&transmitter.issuer, "ssf-2").sign(&good), 400, "invalid_key"),
        ("alg none", unsigned, 400, "invalid_key"),
        ("wrong audience", with(&|c| c["aud"] = json!("https://elsewhere.example/ssf")), 400, "invalid_audience"),
        ("wrong issuer", with(&|c| c["iss"] = json!("https://evil.example/")), 400, "invalid_issuer"),
        ("too old", with(&|c| c["iat"] = json!(now - 3601)), 400, "invalid_request"),
        ("from the future", with(&|c| c["iat"] = json!(now + 3600)), 400, "invalid_request"),
        ("expired", with(&|c| c["exp"] = json!(now - 60)), 400, "invalid_request"),
        ("no jti", with(&|c| c["jti"] = json!(null)), 400, "invalid_request"),
        ("no events", with(&|c| c["events"] = json!({})), 400, "invalid_request"),
        ("typ JWT", transmitter.sign_typed(&good, Some("JWT")), 400, "invalid_request"),
        (
            "unknown subject format",
            with(&|c| {
                c["events"][SESSION_REVOKED]["subject"] = json!({"format": "account", "uri": "acct:a@b.example"})
            }),
            400,
            "invalid_request",
        ),
        (
            "an email the issuer's subjects are not",
            with(&|c| {
                c["events"][SESSION_REVOKED]["subject"] =
                    json!({"format": "email", "email": format!("{}@example.com", victim.sub)})
            }),
            400,
            "invalid_request",
        ),
        (
            "a subject of another issuer",
            with(&|c| {
                c["events"][SESSION_REVOKED]["subject"] =
                    json!({"format": "iss_sub", "iss": "https://other-idp.example/", "sub": victim.sub})
            }),
            403,
            "access_denied",
        ),
        ("no subject", with(&|c| c["events"] = json!({SESSION_REVOKED: {}})), 400, "invalid_request"),
        ("not a JWS", "not-a-set".to_owned(), 400, "invalid_request"),
    ];
    for (name, set, status, err) in cases {
        let reply = push(&server, "/ssf/events", &set).await;
        assert_set_error(&reply, status, err);
        assert!(!reply.text.contains(&victim.sub), "{name}: the answer never names the subject");
        assert!(active(&server, &victim).await, "{name}: revoked nothing");
    }
    let set = transmitter.sign(&good);
    let post = |headers: Vec<(&'static str, String)>, body: String| {
        let server = &server;
        async move { server.send("POST", "/ssf/events", &headers, body).await }
    };
    let secevent = || ("content-type", "application/secevent+jwt".to_owned());
    assert_set_error(&post(vec![secevent()], set.clone()).await, 401, "authentication_failed");
    let wrong = ("authorization", "Bearer not-the-transmitters-token-0123456789".to_owned());
    assert_set_error(&post(vec![secevent(), wrong], set.clone()).await, 401, "authentication_failed");
    let basic = ("authorization", tessera_e2e::basic("demo-jwt", AUTHORIZATION));
    assert_set_error(&post(vec![secevent(), basic], set.clone()).await, 401, "authentication_failed");
    let bearer = || ("authorization", format!("Bearer {AUTHORIZATION}"));
    let json_type = ("content-type", "application/json".to_owned());
    assert_set_error(&post(vec![json_type, bearer()], set.clone()).await, 415, "invalid_request");
    assert_set_error(&post(vec![bearer()], set.clone()).await, 415, "invalid_request");
    let oversized = format!("{set}{}", "A".repeat(16 * 1024));
    assert_set_error(&post(vec![secevent(), bearer()], oversized).await, 413, "invalid_request");
    let get = server.send("GET", "/ssf/events", &[bearer()], "").await;
    assert_set_error(&get, 405, "invalid_request");
    assert_eq!(get.header("allow"), Some("POST"));
    assert_set_error(&push(&server, "/t/nowhere/ssf/events", &set).await, 404, "invalid_request");
    assert!(active(&server, &victim).await, "nothing revoked the victim");
    // And the good SET, after all that, does.
    assert_eq!(push(&server, "/ssf/events", &set).await.status, 202);
    assert!(!active(&server, &victim).await);
}

/// RFC 8935 §2.2 and RFC 8417 §2.2 (`jti`): a replayed SET is acknowledged again (the transmitter may be retrying a
/// push whose answer it lost) and applied once: a token the user got after the first push lives on.
#[tokio::test]
async fn a_replayed_set_is_acknowledged_and_applied_once() {
    let (issuer, transmitter) = (auth0(), Transmitter::new(&auth0().issuer, "ssf-1"));
    let server = TestServer::start_config(&config(&issuer, &transmitter)).await;
    let victim = user(&server, &issuer).await;
    let now = server.clock.now().as_secs();
    let set = transmitter
        .sign(&transmitter.claims(now, json!({SESSION_REVOKED: {"subject": iss_sub(&issuer, &victim.sub)}})));
    assert_eq!(push(&server, "/ssf/events", &set).await.status, 202);
    assert!(!active(&server, &victim).await);
    server.clock.advance_secs(1);
    let subject_token = issuer.sign(&issuer.claims(&victim.sub, server.clock.now().as_secs()));
    let later = exchange(&server, EXCHANGER, &subject_token, &[]).await.json();
    let later = User {
        sub: victim.sub.clone(),
        access_token: later["access_token"].as_str().unwrap().to_owned(),
        refresh_token: later["refresh_token"].as_str().unwrap().to_owned(),
    };
    assert!(active(&server, &later).await, "signed in again after the revocation");
    server.clock.advance_secs(1);
    let replayed = push(&server, "/ssf/events", &set).await;
    assert_eq!(replayed.status, 202, "{}", replayed.text);
    assert!(active(&server, &later).await, "the replay revoked nothing again");
}

/// Anything but the revoking types (SSF's stream verification, a CAEP type Tessera does not act on, a type of
/// someone's own) is acknowledged with 202 and revokes nothing, whatever its subject.
#[tokio::test]
async fn other_event_types_are_acknowledged_and_revoke_nothing() {
    let (issuer, transmitter) = (auth0(), Transmitter::new(&auth0().issuer, "ssf-1"));
    let server = TestServer::start_config(&config(&issuer, &transmitter)).await;
    let victim = user(&server, &issuer).await;
    let now = server.clock.now().as_secs();
    for events in [
        json!({"https://schemas.openid.net/secevent/ssf/event-type/verification": {"state": "abc"}}),
        json!({"https://schemas.openid.net/secevent/caep/event-type/token-claims-change": {
            "subject": iss_sub(&issuer, &victim.sub), "claims": {"role": "ro-admin"}}}),
        json!({"https://example.com/secevent/custom": {"subject": {"format": "account", "uri": "acct:x@y"}}}),
    ] {
        let reply = push(&server, "/ssf/events", &transmitter.sign(&transmitter.claims(now, events.clone()))).await;
        assert_eq!(reply.status, 202, "{events}: {}", reply.text);
    }
    assert!(active(&server, &victim).await);
}

/// A transmitter pushes to its own tenant only (`/t/<tenant>/ssf/events`): its token authenticates nobody at the
/// default tenant's route, and its SETs revoke the subject in its tenant.
#[tokio::test]
async fn a_tenants_transmitter_pushes_to_its_tenant_route_only() {
    let (issuer, transmitter) = (auth0(), Transmitter::new(&auth0().issuer, "ssf-1"));
    let mut toml = tessera_e2e::issuers::exchange_config_toml(&[(&issuer, false)]);
    toml.push_str("[[tenants]]\nname = \"acme\"\n");
    toml.push_str(
        &issuer.toml_entry(false).replace("[[trusted_issuers]]\n", "[[trusted_issuers]]\ntenant = \"acme\"\n"),
    );
    toml.push_str(&transmitter.toml_entry("acme"));
    let server = TestServer::start_config(&Config::from_toml(&toml).unwrap()).await;
    let victim = user(&server, &issuer).await;
    let now = server.clock.now().as_secs();
    let set = transmitter
        .sign(&transmitter.claims(now, json!({SESSION_REVOKED: {"subject": iss_sub(&issuer, &victim.sub)}})));
    assert_set_error(&push(&server, "/ssf/events", &set).await, 401, "authentication_failed");
    assert_eq!(push(&server, "/t/acme/ssf/events", &set).await.status, 202);
    assert!(active(&server, &victim).await, "the default tenant's user is not acme's");
}

/// A transmitter configured with `jwks_uri` verifies through the trusted issuers' JWKS cache: fetched on first use,
/// cached, and fetched again (within the rate limit) when a SET names a `kid` it lacks, as after a key rotation.
#[tokio::test]
async fn a_transmitter_with_a_jwks_uri_goes_through_the_jwks_cache() {
    let issuer = auth0();
    let (first, second) =
        (Transmitter::new(&issuer.issuer, "ssf-2026-10"), Transmitter::new(&issuer.issuer, "ssf-2026-11"));
    let jwks = tessera_e2e::issuers::JwksServer::start(&first.jwks()).await;
    let inline = format!("jwks = '{}'", first.jwks());
    let entry = first.toml_entry("default").replace(&inline, &format!("jwks_uri = \"{}\"", jwks.url));
    let mut toml = tessera_e2e::issuers::exchange_config_toml(&[(&issuer, false)]);
    toml.push_str(&entry);
    let server = TestServer::start_config(&Config::from_toml(&toml).unwrap()).await;
    assert_eq!(jwks.hits(), 0, "fetched on first use, not at start");
    let now = || server.clock.now().as_secs();
    let verification = json!({"https://schemas.openid.net/secevent/ssf/event-type/verification": {"state": "s"}});
    for _ in 0..2 {
        assert_eq!(
            push(&server, "/ssf/events", &first.sign(&first.claims(now(), verification.clone()))).await.status,
            202
        );
    }
    assert_eq!(jwks.hits(), 1, "cached");
    // The transmitter rotates its key: an unknown kid, fetched again once the minimum interval has passed.
    let mut both = first.jwks();
    both["keys"].as_array_mut().unwrap().extend(second.jwks()["keys"].as_array().unwrap().iter().cloned());
    jwks.set(&both);
    server.clock.advance_secs(tessera::jwt::external::JWKS_MIN_REFETCH_SECS);
    let victim = user(&server, &issuer).await;
    let set = second.sign(&second.claims(now(), json!({SESSION_REVOKED: {"subject": iss_sub(&issuer, &victim.sub)}})));
    assert_eq!(push(&server, "/ssf/events", &set).await.status, 202);
    assert_eq!(jwks.hits(), 2);
    assert!(!active(&server, &victim).await);
}

//! External identity providers for the tests: key pairs generated here (every asymmetric JOSE algorithm), a JWKS to
//! configure as a trusted issuer, and signed subject tokens.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tessera::config::Config;

/// A test identity provider with one key.
pub struct TestIssuer {
    /// Its `iss`.
    pub issuer: String,
    /// The audience its tokens carry.
    pub audience: String,
    /// The key id.
    pub kid: String,
    /// The algorithm.
    pub alg: Algorithm,
    key: EncodingKey,
    jwk: Jwk,
}

impl TestIssuer {
    /// An issuer signing with a fresh key for `alg`: any asymmetric JOSE algorithm Tessera accepts from a
    /// trusted issuer (ES256, ES384, EdDSA, RS256/384/512, PS256/384/512).
    pub fn generate(issuer: &str, audience: &str, alg: Algorithm, kid: &str) -> Self {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING};
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let key = match alg {
            Algorithm::ES256 | Algorithm::ES384 => {
                let curve = if alg == Algorithm::ES256 {
                    &ECDSA_P256_SHA256_FIXED_SIGNING
                } else {
                    &ECDSA_P384_SHA384_FIXED_SIGNING
                };
                let doc = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(curve, &rng).expect("EC key");
                EncodingKey::from_ec_der(doc.as_ref())
            }
            Algorithm::EdDSA => {
                let doc = aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8(&rng).expect("Ed25519 key");
                // jsonwebtoken takes the PKCS#8 v1 document of an Ed25519 key (48 bytes).
                let pair = aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8(doc.as_ref()).expect("Ed25519 key");
                let v1 = pair.to_pkcs8v1().expect("PKCS#8 v1");
                EncodingKey::from_ed_der(v1.as_ref())
            }
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => {
                let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("RSA key");
                let der: Pkcs8V1Der<'static> = pair.as_der().expect("PKCS#8");
                let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", der.as_ref().to_vec()));
                EncodingKey::from_rsa_pem(pem.as_bytes()).expect("RSA PEM")
            }
            other => panic!("test issuers sign with asymmetric algorithms, not {other:?}"),
        };
        let mut jwk = Jwk::from_encoding_key(&key, alg).expect("public JWK");
        jwk.common.key_id = Some(kid.to_owned());
        Self { issuer: issuer.to_owned(), audience: audience.to_owned(), kid: kid.to_owned(), alg, key, jwk }
    }

    /// The public JWK Set, as JSON.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk] })
    }

    /// The public key, as a JWK.
    pub fn public_jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// Standard claims for `subject`, valid for an hour from `now_secs`, plus profile claims.
    pub fn claims(&self, subject: &str, now_secs: u64) -> Value {
        json!({
            "iss": self.issuer, "sub": subject, "aud": [self.audience, format!("{}userinfo", self.issuer)],
            "iat": now_secs, "exp": now_secs + 3600, "scope": "openid profile email",
            "email": format!("{subject}@example.com"), "given_name": "Alice", "amr": ["pwd", "mfa"],
        })
    }

    /// Signs `claims` with this issuer's key and kid.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with_header(claims, Header { kid: Some(self.kid.clone()), ..Header::new(self.alg) })
    }

    /// Signs `claims` as an RFC 9068 access token (§2.1: header `typ` `at+jwt`), the kind of this issuer's JWT that
    /// Tessera presents to its UserInfo endpoint at introspection. [`TestIssuer::sign`]'s `typ` is `JWT`, as an ID
    /// token's is.
    pub fn sign_access_token(&self, claims: &Value) -> String {
        let header = Header { kid: Some(self.kid.clone()), typ: Some("at+jwt".into()), ..Header::new(self.alg) };
        self.sign_with_header(claims, header)
    }

    /// Signs `claims` with an explicit header (for kid and typ variations).
    pub fn sign_with_header(&self, claims: &Value, header: Header) -> String {
        jsonwebtoken::encode(&header, claims, &self.key).expect("sign")
    }

    /// A `[[trusted_issuers]]` TOML entry for this issuer.
    pub fn toml_entry(&self, record_tokens: bool) -> String {
        let jwks = self.jwks().to_string().replace('\'', "");
        format!(
            "[[trusted_issuers]]\nissuer = \"{}\"\naudiences = [\"{}\"]\nalgorithms = [\"{:?}\"]\njwks = '{jwks}'\n\
             username_claim = \"email\"\nclaims_mapping = {{ email = \"email\", given_name = \"given_name\" }}\n\
             record_tokens = {record_tokens}\n",
            self.issuer, self.audience, self.alg
        )
    }
}

pub const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const JWT_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
pub const AT_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
pub const EXCHANGER: (&str, &str) = ("exchanger", "exchanger-secret-0123456789abcdef");
pub const EXCHANGER_OPAQUE: (&str, &str) = ("exchanger-opaque", "exchanger-opaque-secret-01234567");
/// A second client that may exchange and refresh, with opaque access tokens.
pub const EXCHANGER_TWO: (&str, &str) = ("exchanger-two", "exchanger-two-secret-0123456789ab");
/// A client that may exchange and refresh, JWT access tokens, whose refreshes keep its earlier access tokens
/// active (`revoke_access_on_refresh = false`).
pub const EXCHANGER_KEEPS_ACCESS: (&str, &str) = ("exchanger-keeps-access", "exchanger-keeps-secret-0123456789");

/// The test config plus two exchange clients and `issuers` as trusted issuers.
pub fn exchange_config(issuers: &[&TestIssuer]) -> Config {
    let entries: Vec<(&TestIssuer, bool)> = issuers.iter().map(|i| (*i, false)).collect();
    exchange_config_recording(&entries)
}

/// [`exchange_config`], choosing `record_tokens` per issuer.
pub fn exchange_config_recording(issuers: &[(&TestIssuer, bool)]) -> Config {
    Config::from_toml(&exchange_config_toml(issuers)).expect("exchange config")
}

/// The TOML of [`exchange_config_recording`], to add entries to.
pub fn exchange_config_toml(issuers: &[(&TestIssuer, bool)]) -> String {
    let mut toml = crate::test_config_toml();
    toml.push_str(&format!(
        r#"
[[clients]]
client_id = "{}"
client_secret = "{}"
scopes = ["profile:read", "orders:read"]
default_scopes = ["profile:read"]
grant_types = ["{EXCHANGE}", "refresh_token"]
audiences = ["https://orders.example.com"]

[[clients]]
client_id = "{}"
client_secret = "{}"
scopes = ["profile:read"]
grant_types = ["{EXCHANGE}"]
access_token_format = "opaque"

[[clients]]
client_id = "{}"
client_secret = "{}"
scopes = ["profile:read"]
grant_types = ["{EXCHANGE}", "refresh_token"]
access_token_format = "opaque"

[[clients]]
client_id = "{}"
client_secret = "{}"
scopes = ["profile:read"]
grant_types = ["{EXCHANGE}", "refresh_token"]
revoke_access_on_refresh = false
"#,
        EXCHANGER.0,
        EXCHANGER.1,
        EXCHANGER_OPAQUE.0,
        EXCHANGER_OPAQUE.1,
        EXCHANGER_TWO.0,
        EXCHANGER_TWO.1,
        EXCHANGER_KEEPS_ACCESS.0,
        EXCHANGER_KEEPS_ACCESS.1
    ));
    for (issuer, record) in issuers {
        toml.push_str(&issuer.toml_entry(*record));
    }
    toml
}

/// An Auth0-like RS256 issuer.
pub fn auth0() -> TestIssuer {
    TestIssuer::generate("https://alice-corp.eu.auth0.com/", "https://api.alice-corp.com", Algorithm::RS256, "rsa-1")
}

/// A Cognito-like ES256 issuer.
pub fn cognito() -> TestIssuer {
    TestIssuer::generate(
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc",
        "7a1b2c3d4e5f",
        Algorithm::ES256,
        "ec-1",
    )
}

/// Posts a token exchange of `subject_token` (a JWT) as `client`.
pub async fn exchange(
    server: &crate::TestServer,
    client: (&str, &str),
    subject_token: &str,
    extra: &[(&str, &str)],
) -> crate::Reply {
    let mut pairs = vec![("grant_type", EXCHANGE), ("subject_token", subject_token), ("subject_token_type", JWT_TYPE)];
    pairs.extend_from_slice(extra);
    server.post("/oauth2/token", Some(client), &pairs).await
}

/// Serves HTTP/1.1 on `listener` until the test ends: each request's head (the tests' requests have no body) goes
/// to `answer`, whose response is written back after the delay it gives, on the same connection (keep-alive).
fn serve_request_heads<F>(listener: tokio::net::TcpListener, answer: F)
where
    F: Fn(&str) -> (std::time::Duration, String) + Send + Sync + 'static,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let answer = std::sync::Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = socket.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                        buf.drain(..end + 4);
                        let (delay, response) = answer(&head);
                        tokio::time::sleep(delay).await;
                        if socket.write_all(response.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
}

/// A JWKS endpoint on loopback whose document can be swapped (key rotation), counting its requests.
pub struct JwksServer {
    /// `http://127.0.0.1:<port>/.well-known/jwks.json`.
    pub url: String,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    document: std::sync::Arc<std::sync::Mutex<String>>,
}

impl JwksServer {
    /// Serves `document` until the test ends.
    pub async fn start(document: &Value) -> Self {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().expect("addr"));
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let doc = std::sync::Arc::new(std::sync::Mutex::new(document.to_string()));
        let (hits_in, doc_in) = (hits.clone(), doc.clone());
        serve_request_heads(listener, move |_head| {
            hits_in.fetch_add(1, Ordering::SeqCst);
            let body = doc_in.lock().expect("document").clone();
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            (std::time::Duration::ZERO, response)
        });
        Self { url, hits, document: doc }
    }

    /// Replaces the served document.
    pub fn set(&self, document: &Value) {
        *self.document.lock().expect("document") = document.to_string();
    }

    /// Requests served so far.
    pub fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// What [`UserinfoServer`] answers on one path.
#[derive(Debug, Clone)]
pub struct Canned {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: String,
    /// The body.
    pub body: String,
    /// How long to wait before answering (a slow or hung endpoint).
    pub delay: std::time::Duration,
}

impl Canned {
    /// A 200 with `body` as JSON.
    pub fn json(body: &Value) -> Self {
        Self::raw(200, "application/json", &body.to_string())
    }

    /// Any answer.
    pub fn raw(status: u16, content_type: &str, body: &str) -> Self {
        Self { status, content_type: content_type.to_owned(), body: body.to_owned(), delay: std::time::Duration::ZERO }
    }
}

/// An identity provider's HTTP side on loopback: a UserInfo endpoint, metadata documents, whatever paths a test
/// sets ([`UserinfoServer::set`]), answering 404 elsewhere; it counts requests per path and keeps the last
/// `Authorization` header it was sent.
pub struct UserinfoServer {
    /// `http://127.0.0.1:<port>/`: usable as an issuer, so discovery finds its metadata here.
    pub base: String,
    routes: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, Canned>>>,
    hits: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
    authorization: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl UserinfoServer {
    /// Serves until the test ends; nothing is routed yet.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}/", listener.local_addr().expect("addr"));
        let routes: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, Canned>>> = Default::default();
        let hits: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>> = Default::default();
        let authorization: std::sync::Arc<std::sync::Mutex<Option<String>>> = Default::default();
        let (routes_in, hits_in, auth_in) = (routes.clone(), hits.clone(), authorization.clone());
        serve_request_heads(listener, move |head| {
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let bearer = head
                .lines()
                .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("authorization")))
                .map(|(_, v)| v.trim().to_owned());
            *hits_in.lock().expect("hits").entry(path.clone()).or_default() += 1;
            if bearer.is_some() {
                *auth_in.lock().expect("authorization") = bearer;
            }
            let canned = routes_in.lock().expect("routes").get(&path).cloned();
            let canned = canned.unwrap_or_else(|| Canned::raw(404, "text/plain", "not found"));
            let response = format!(
                "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n{}",
                canned.status,
                canned.content_type,
                canned.body.len(),
                canned.body
            );
            (canned.delay, response)
        });
        Self { base, routes, hits, authorization }
    }

    /// The URL of `path` (no leading `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Answers `canned` on `path` (with its leading `/`) from now on.
    pub fn set(&self, path: &str, canned: Canned) {
        self.routes.lock().expect("routes").insert(path.to_owned(), canned);
    }

    /// Requests served on `path` so far.
    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().expect("hits").get(path).copied().unwrap_or(0)
    }

    /// The last `Authorization` header received.
    pub fn last_authorization(&self) -> Option<String> {
        self.authorization.lock().expect("authorization").clone()
    }
}

//! The bad-input corpus: one table of hostile or broken requests, sent over real HTTP to the local runner
//! (the same handlers Lambda runs). Every case names the answer the RFCs fix for it (status and `error`
//! code, or `{"active": false}` for introspection, RFC 7662 §2.2), and every answer is checked for what must
//! never leak: a panic message, a backtrace, Rust debug output or a 5xx. After the whole table the server
//! must still issue and introspect normally. The authorizer's cases go to the runner's `/demo/orders`, behind the
//! authorizer function's handler as an HTTP API route behind a Lambda authorizer: never an allow, never a 5xx.
//! The DPoP cases (RFC 9449) send proofs signed with jwt-compact: `invalid_dpop_proof` at the token endpoint, a
//! `WWW-Authenticate: DPoP` challenge at the demo route.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use tessera::clock::Clock;
use tessera::config::Config;
use tessera::jwt::external::EXTERNAL_LEEWAY_SECS;
use tessera::jwt::keys::{SigningAlgorithm, SigningKey};
use tessera_e2e::client_assertions::{ClientKey, JWT_BEARER, claims as assertion_claims, unsigned};
use tessera_e2e::issuers::{AT_TYPE, EXCHANGE, EXCHANGER, JWT_TYPE, TestIssuer, exchange, exchange_config_recording};
use tessera_e2e::token_variants::{alternative_encodings, ecdsa_twin};
use tessera_e2e::{Reply, TestServer, basic, config_with_key, creds};

use crate::dpop::{
    DPOP_CLIENTS, DPOP_JWT, DpopKey, claims as dpop_claims, token_request as dpop_token_request, unsigned_proof,
};

/// A second tenant, with a client whose tokens have the demo route's scope and audience.
const ACME: &str = r#"
[[tenants]]
name = "acme"

[[clients]]
tenant = "acme"
client_id = "acme-orders"
client_secret = "acme-orders-secret-0123456789abcd"
scopes = ["orders:read"]
audiences = ["https://orders.example.com"]
"#;

const ACME_CLIENT: (&str, &str) = ("acme-orders", "acme-orders-secret-0123456789abcd");

/// What a case must get back.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// An RFC 6749 §5.2 error: status and code (and `no-store`, and `WWW-Authenticate` on 401).
    Error(u16, &'static str),
    /// Introspection's only answer for anything not active: 200 and exactly `{"active":false}`.
    Inactive,
    /// A plain status (a 200 where the RFC requires one, such as revoking an unknown token; a 404 route).
    Status(u16),
    /// API Gateway's answer for a route behind a Lambda authorizer: 401 `{"message":"Unauthorized"}` with a
    /// `Bearer` challenge (no `Authorization` header), 403 `{"message":"Forbidden"}` (the authorizer denied).
    Gateway(u16),
    /// An RFC 8935 §2.3 refusal of a pushed SET: status and `err` (and `description`, `no-store`, and a `Bearer`
    /// challenge on 401).
    SetError(u16, &'static str),
    /// A DPoP refusal at the demo route (RFC 9449 §7.1): 401 `{"message":"Unauthorized"}` with a
    /// `WWW-Authenticate: DPoP` challenge carrying this error code.
    DpopRefusal(&'static str),
}

struct Case {
    name: String,
    method: &'static str,
    path: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    expect: Expect,
    /// `Some(n)`: sent over a bare TCP connection announcing `Content-Length: n`, then half-closed after
    /// `body`, as a client that gives up mid-body does (no HTTP client library sends that).
    cut_short_at: Option<usize>,
}

const FORM: &str = "application/x-www-form-urlencoded";
const TOKEN: &str = "/oauth2/token";
const INTROSPECT: &str = "/oauth2/introspect";
const REVOKE: &str = "/oauth2/revoke";
const DEMO_ORDERS: &str = "/demo/orders";

/// Text that only a panic, a backtrace or a debug dump would put in a response.
/// serde's parser text ("EOF while parsing an object at line 1 column 1") counts too: we say it in our words.
const LEAKS: [&str; 11] = [
    "panicked",
    "backtrace",
    "RUST_BACKTRACE",
    ".rs:",
    "Error {",
    "thread '",
    "src/",
    "Some(",
    "unwrap",
    "EOF while",
    " at line ",
];

fn post(
    name: impl Into<String>,
    path: &'static str,
    auth: Option<String>,
    body: impl Into<Vec<u8>>,
    expect: Expect,
) -> Case {
    let mut headers = vec![("content-type", FORM.to_owned())];
    headers.extend(auth.map(|a| ("authorization", a)));
    Case { name: name.into(), method: "POST", path, headers, body: body.into(), expect, cut_short_at: None }
}

fn raw(
    name: &str,
    method: &'static str,
    path: &'static str,
    headers: Vec<(&'static str, String)>,
    body: impl Into<Vec<u8>>,
    expect: Expect,
) -> Case {
    Case { name: name.into(), method, path, headers, body: body.into(), expect, cut_short_at: None }
}

/// A POST whose body ends before the `Content-Length` it announces.
fn cut_short(name: &str, path: &'static str, content_type: &str, sent: &str, announced: usize, expect: Expect) -> Case {
    let headers = vec![("content-type", content_type.to_owned())];
    Case { cut_short_at: Some(announced), ..raw(name, "POST", path, headers, sent, expect) }
}

fn auth(client: (&str, &str)) -> Option<String> {
    Some(basic(client.0, client.1))
}

/// A Basic header over arbitrary bytes.
fn basic_bytes(bytes: &[u8]) -> Option<String> {
    Some(format!("Basic {}", STANDARD.encode(bytes)))
}

fn enc(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn introspect(name: &str, token: &str) -> Case {
    post(name, INTROSPECT, auth(creds::RS), format!("token={}", enc(token)), Expect::Inactive)
}

fn part(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// The JWT cases: tokens forged, altered or mistyped, each introspecting inactive.
fn jwt_cases(own_key: &SigningKey, jwt: &str) -> Vec<Case> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let kid = header["kid"].as_str().unwrap().to_owned();
    let signed = |change: &dyn Fn(&mut Value)| {
        let mut claims = claims.clone();
        change(&mut claims);
        own_key.sign_jwt("at+jwt", &claims).unwrap()
    };
    let with_header = |h: Value| format!("{}.{}.{}", part(&h), parts[1], parts[2]);
    // HS256 keyed with what we publish: the JWK as served, and the raw public point (the classic RS/HS
    // confusion, here against an ES256 key).
    let jwk = own_key.public_jwk();
    let hs256 = |secret: &[u8]| {
        let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some(kid.clone());
        header.typ = Some("at+jwt".into());
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(secret)).unwrap()
    };
    let point: Vec<u8> = [
        &[4u8][..],
        &URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap(),
        &URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap(),
    ]
    .concat();
    let mut altered_signature = parts[2].to_owned().into_bytes();
    altered_signature[10] = if altered_signature[10] == b'A' { b'B' } else { b'A' };
    let altered_signature = String::from_utf8(altered_signature).unwrap();

    vec![
        introspect(
            "jwt: alg none, no signature",
            &format!("{}.{}.", part(&json!({"alg": "none", "typ": "at+jwt", "kid": kid})), parts[1]),
        ),
        introspect(
            "jwt: alg none, original signature",
            &with_header(json!({"alg": "none", "typ": "at+jwt", "kid": kid})),
        ),
        introspect("jwt: HS256 keyed with the published JWK", &hs256(jwk.to_string().as_bytes())),
        introspect("jwt: HS256 keyed with the public point", &hs256(&point)),
        introspect("jwt: unknown kid", &with_header(json!({"alg": "ES256", "typ": "at+jwt", "kid": "not-ours"}))),
        introspect("jwt: no kid", &with_header(json!({"alg": "ES256", "typ": "at+jwt"}))),
        introspect(
            "jwt: EdDSA claimed for an ES256 key",
            &with_header(json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid})),
        ),
        introspect(
            "jwt: crit header",
            &with_header(json!({"alg": "ES256", "typ": "at+jwt", "kid": kid, "crit": ["exp"]})),
        ),
        introspect("jwt: typ JWT (RFC 9068 §4)", &own_key.sign_jwt("JWT", &claims).unwrap()),
        introspect("jwt: stripped signature", &format!("{}.{}.", parts[0], parts[1])),
        introspect("jwt: altered signature", &format!("{}.{}.{altered_signature}", parts[0], parts[1])),
        introspect("jwt: altered payload", &format!("{}.{}.{}", parts[0], part(&json!({"sub": "admin"})), parts[2])),
        introspect("jwt: two parts", &format!("{}.{}", parts[0], parts[1])),
        introspect("jwt: four parts", &format!("{jwt}.{}", parts[2])),
        introspect("jwt: payload not base64url", &format!("{}.!!!.{}", parts[0], parts[2])),
        introspect("jwt: exp as a string", &signed(&|c| c["exp"] = json!(c["exp"].to_string()))),
        introspect("jwt: nbf as a string", &signed(&|c| c["nbf"] = json!("0"))),
        introspect("jwt: exp negative", &signed(&|c| c["exp"] = json!(-1))),
        introspect("jwt: exp as a float", &signed(&|c| c["exp"] = json!(1.9e9))),
        introspect("jwt: iat beyond u64", &signed(&|c| c["iat"] = json!(1e30))),
        introspect("jwt: aud as a number", &signed(&|c| c["aud"] = json!(42))),
        introspect("jwt: scope with a control character", &signed(&|c| c["scope"] = json!("orders:read\u{7}"))),
        introspect("jwt: empty client_id", &signed(&|c| c["client_id"] = json!(""))),
        introspect(
            "jwt: huge payload (over 8 KiB)",
            &signed(&|c| c["user_details"] = json!({"pad": "x".repeat(9_000)})),
        ),
    ]
}

/// `host` is the runner's `127.0.0.1:<port>`, the only authority (with `localhost:<port>`) `/local/events` answers.
fn cases(own_key: &SigningKey, jwt: &str, opaque: &str, host: &str) -> Vec<Case> {
    use Expect::{Error, Inactive, Status};
    let jwt_client = || auth(creds::JWT);
    let cc = "grant_type=client_credentials";
    let with_type =
        |t: &str| vec![("content-type", t.to_owned()), ("authorization", basic(creds::JWT.0, creds::JWT.1))];
    let mut bad_checksum = opaque.to_owned();
    let last = bad_checksum.pop().unwrap();
    bad_checksum.push(if last == 'A' { 'B' } else { 'A' });

    let mut cases = vec![
        // Method and Content-Type.
        raw("token: GET", "GET", TOKEN, with_type(FORM), "", Error(405, "invalid_request")),
        raw("token: PUT", "PUT", TOKEN, with_type(FORM), cc, Error(405, "invalid_request")),
        raw("token: DELETE", "DELETE", TOKEN, with_type(FORM), "", Error(405, "invalid_request")),
        raw(
            "introspect: GET with the token in the query",
            "GET",
            "/oauth2/introspect?token=x",
            with_type(FORM),
            "",
            Error(405, "invalid_request"),
        ),
        raw("revoke: GET", "GET", REVOKE, with_type(FORM), "", Error(405, "invalid_request")),
        raw(
            "metadata: POST",
            "POST",
            "/.well-known/oauth-authorization-server",
            with_type(FORM),
            "",
            Error(405, "invalid_request"),
        ),
        raw(
            "token: no Content-Type",
            "POST",
            TOKEN,
            vec![("authorization", basic(creds::JWT.0, creds::JWT.1))],
            cc,
            Error(400, "invalid_request"),
        ),
        raw(
            "token: application/json",
            "POST",
            TOKEN,
            with_type("application/json"),
            r#"{"grant_type":"client_credentials"}"#,
            Error(400, "invalid_request"),
        ),
        raw("token: text/plain", "POST", TOKEN, with_type("text/plain"), cc, Error(400, "invalid_request")),
        raw(
            "token: multipart/form-data",
            "POST",
            TOKEN,
            with_type("multipart/form-data; boundary=x"),
            cc,
            Error(400, "invalid_request"),
        ),
        raw(
            "token: form type with a suffix",
            "POST",
            TOKEN,
            with_type("application/x-www-form-urlencodedx"),
            cc,
            Error(400, "invalid_request"),
        ),
        raw(
            "introspect: application/json",
            "POST",
            INTROSPECT,
            vec![("content-type", "application/json".into()), ("authorization", basic(creds::RS.0, creds::RS.1))],
            r#"{"token":"x"}"#,
            Error(400, "invalid_request"),
        ),
        // Form encoding (RFC 6749 Appendix B) and repeated parameters (§3.2).
        post("token: repeated grant_type", TOKEN, jwt_client(), format!("{cc}&{cc}"), Error(400, "invalid_request")),
        post(
            "token: repeated scope",
            TOKEN,
            jwt_client(),
            format!("{cc}&scope=a&scope=b"),
            Error(400, "invalid_request"),
        ),
        post(
            "token: repeated name, one percent-encoded",
            TOKEN,
            jwt_client(),
            format!("{cc}&%67rant_type=client_credentials"),
            Error(400, "invalid_request"),
        ),
        post(
            "token: repeated client_id in the body",
            TOKEN,
            None,
            format!("{cc}&client_id=demo-jwt&client_id=demo-jwt&client_secret=x"),
            Error(400, "invalid_request"),
        ),
        post(
            "introspect: repeated token",
            INTROSPECT,
            auth(creds::RS),
            format!("token={opaque}&token={opaque}"),
            Error(400, "invalid_request"),
        ),
        post(
            "revoke: repeated token",
            REVOKE,
            auth(creds::OPAQUE),
            format!("token={opaque}&token=x"),
            Error(400, "invalid_request"),
        ),
        post(
            "token: bad percent-escape",
            TOKEN,
            jwt_client(),
            "grant_type=client%ZZcredentials",
            Error(400, "invalid_request"),
        ),
        post(
            "token: truncated percent-escape",
            TOKEN,
            jwt_client(),
            format!("{cc}&scope=%4"),
            Error(400, "invalid_request"),
        ),
        post(
            "token: escape of invalid UTF-8",
            TOKEN,
            jwt_client(),
            format!("{cc}&scope=%C3%28"),
            Error(400, "invalid_request"),
        ),
        post(
            "token: raw non-UTF-8 byte",
            TOKEN,
            jwt_client(),
            [cc.as_bytes(), b"&scope=\xff"].concat(),
            Error(400, "invalid_request"),
        ),
        post(
            "introspect: token of invalid UTF-8",
            INTROSPECT,
            auth(creds::RS),
            "token=%FF%FE",
            Error(400, "invalid_request"),
        ),
        // Size limits: the form's 16 KiB (413 before parsing), the runner's 64 KiB.
        post(
            "token: body over 16 KiB",
            TOKEN,
            jwt_client(),
            format!("{cc}&pad={}", "x".repeat(20_000)),
            Error(413, "invalid_request"),
        ),
        post("token: body over 64 KiB", TOKEN, jwt_client(), "x".repeat(100_000), Error(413, "invalid_request")),
        // A body that ends before its Content-Length is malformed (400), not too large: only a body announced or
        // sent over 64 KiB is 413.
        cut_short("token: body cut short", TOKEN, FORM, cc, 64, Error(400, "invalid_request")),
        cut_short(
            "events: body cut short",
            "/local/events",
            "application/json",
            r#"{"id": "e", "detail"#,
            200,
            Error(400, "invalid_request"),
        ),
        cut_short("token: 100 KB announced, 20 bytes sent", TOKEN, FORM, cc, 100_000, Error(413, "invalid_request")),
        post(
            "introspect: 20 KB token",
            INTROSPECT,
            auth(creds::RS),
            format!("token={}", "a".repeat(20_000)),
            Error(413, "invalid_request"),
        ),
        introspect("introspect: 15 KB token", &"a".repeat(15_000)),
        // Grant types (RFC 6749 §5.2).
        post("token: no grant_type", TOKEN, jwt_client(), "scope=orders%3Aread", Error(400, "invalid_request")),
        post("token: empty grant_type", TOKEN, jwt_client(), "grant_type=", Error(400, "invalid_request")),
        post(
            "token: password grant",
            TOKEN,
            jwt_client(),
            "grant_type=password&username=a&password=b",
            Error(400, "unsupported_grant_type"),
        ),
        post(
            "token: unknown grant",
            TOKEN,
            jwt_client(),
            "grant_type=urn%3Aexample%3Anothing",
            Error(400, "unsupported_grant_type"),
        ),
        post(
            "token: unicode grant",
            TOKEN,
            jwt_client(),
            format!("grant_type={}", enc("clïent_credentials")),
            Error(400, "unsupported_grant_type"),
        ),
        post(
            "token: refresh without refresh_token",
            TOKEN,
            jwt_client(),
            "grant_type=refresh_token",
            Error(400, "invalid_request"),
        ),
        // Client authentication (RFC 6749 §2.3, §5.2).
        post("token: no credentials", TOKEN, None, cc, Error(401, "invalid_client")),
        post("token: Basic not base64", TOKEN, Some("Basic !!!not-base64".into()), cc, Error(401, "invalid_client")),
        post("token: Basic without a colon", TOKEN, basic_bytes(b"demo-jwt"), cc, Error(401, "invalid_client")),
        post("token: Basic of non-UTF-8", TOKEN, basic_bytes(b"\xff\xfe:\xfd"), cc, Error(401, "invalid_client")),
        post(
            "token: Basic of escaped non-UTF-8",
            TOKEN,
            basic_bytes(b"demo-jwt:%FF"),
            cc,
            Error(401, "invalid_client"),
        ),
        post("token: Basic with an empty id", TOKEN, basic_bytes(b":secret"), cc, Error(401, "invalid_client")),
        post(
            "token: Basic with nothing after the scheme",
            TOKEN,
            Some("Basic".into()),
            cc,
            Error(401, "invalid_client"),
        ),
        post(
            "token: Bearer instead of Basic",
            TOKEN,
            Some("Bearer abc.def.ghi".into()),
            cc,
            Error(401, "invalid_client"),
        ),
        post(
            "token: Basic and client_secret in the body",
            TOKEN,
            jwt_client(),
            format!("{cc}&client_secret={}", enc(creds::JWT.1)),
            Error(400, "invalid_request"),
        ),
        post(
            "token: Basic and another client_id in the body",
            TOKEN,
            jwt_client(),
            format!("{cc}&client_id=demo-opaque"),
            Error(400, "invalid_request"),
        ),
        post(
            "token: client_id without a secret",
            TOKEN,
            None,
            format!("{cc}&client_id=demo-jwt"),
            Error(401, "invalid_client"),
        ),
        post(
            "token: empty client_secret in the body",
            TOKEN,
            None,
            format!("{cc}&client_id=demo-jwt&client_secret="),
            Error(401, "invalid_client"),
        ),
        post("token: wrong secret", TOKEN, auth(("demo-jwt", "wrong")), cc, Error(401, "invalid_client")),
        post("token: unknown client", TOKEN, auth(("nobody", "whatever")), cc, Error(401, "invalid_client")),
        post("token: disabled client", TOKEN, auth(creds::DISABLED), cc, Error(401, "invalid_client")),
        post(
            "token: unicode client id",
            TOKEN,
            auth(("dëmo-jwt-\u{1f511}", creds::JWT.1)),
            cc,
            Error(401, "invalid_client"),
        ),
        post("token: 10 KB client id", TOKEN, auth((&"c".repeat(10_000), "x")), cc, Error(401, "invalid_client")),
        post("token: 10 KB secret", TOKEN, auth(("demo-jwt", &"s".repeat(10_000))), cc, Error(401, "invalid_client")),
        post("introspect: no credentials", INTROSPECT, None, format!("token={opaque}"), Error(401, "invalid_client")),
        post(
            "introspect: caller not allowed to introspect",
            INTROSPECT,
            jwt_client(),
            format!("token={opaque}"),
            Error(403, "unauthorized_client"),
        ),
        post("revoke: no credentials", REVOKE, None, format!("token={opaque}"), Error(401, "invalid_client")),
        post(
            "revoke: Basic and client_secret in the body",
            REVOKE,
            auth(creds::OPAQUE),
            format!("token=x&client_secret={}", enc(creds::OPAQUE.1)),
            Error(400, "invalid_request"),
        ),
        // Scopes (RFC 6749 §3.3) and audiences (RFC 8707).
        post(
            "token: unicode scope",
            TOKEN,
            jwt_client(),
            format!("{cc}&scope={}", enc("ördérs:read")),
            Error(400, "invalid_scope"),
        ),
        post(
            "token: scope with a control character",
            TOKEN,
            jwt_client(),
            format!("{cc}&scope=orders%3Aread%00"),
            Error(400, "invalid_scope"),
        ),
        post(
            "token: scope with a quote",
            TOKEN,
            jwt_client(),
            format!("{cc}&scope=%22orders%22"),
            Error(400, "invalid_scope"),
        ),
        post(
            "token: 10 KB scope",
            TOKEN,
            jwt_client(),
            format!("{cc}&scope={}", "s".repeat(10_000)),
            Error(400, "invalid_scope"),
        ),
        post("token: empty scope is omitted (§3.1)", TOKEN, jwt_client(), format!("{cc}&scope="), Status(200)),
        post(
            "token: unknown resource",
            TOKEN,
            jwt_client(),
            format!("{cc}&resource={}", enc("https://evil.example")),
            Error(400, "invalid_target"),
        ),
        post(
            "token: resource that is not a URI",
            TOKEN,
            jwt_client(),
            format!("{cc}&resource=%E2%9C%93"),
            Error(400, "invalid_target"),
        ),
        // Introspection parameters (RFC 7662 §2.1).
        post("introspect: no token", INTROSPECT, auth(creds::RS), "", Error(400, "invalid_request")),
        post("introspect: empty token", INTROSPECT, auth(creds::RS), "token=", Error(400, "invalid_request")),
        // Opaque tokens (RFC 7662 §2.2: anything not active is just inactive).
        introspect("opaque: bad checksum", &bad_checksum),
        introspect("opaque: refresh prefix on an access token", &opaque.replacen("tsr_at_", "tsr_rt_", 1)),
        introspect("opaque: unknown prefix", &opaque.replacen("tsr_at_", "tsr_xx_", 1)),
        introspect("opaque: truncated", &opaque[..opaque.len() - 1]),
        introspect("opaque: one character more", &format!("{opaque}A")),
        introspect("opaque: unicode in place of a character", &format!("{}é", &opaque[..opaque.len() - 2])),
        introspect("opaque: garbage", "garbage"),
        introspect("opaque: unicode", "t\u{f6}ken \u{1f511}"),
        post(
            "introspect: unknown token_type_hint",
            INTROSPECT,
            auth(creds::RS),
            "token=garbage&token_type_hint=id_token",
            Inactive,
        ),
        post(
            "introspect: requesting_party_token hint",
            INTROSPECT,
            auth(creds::RS),
            "token=garbage&token_type_hint=requesting_party_token",
            Inactive,
        ),
        // Revocation (RFC 7009 §2.2: invalid tokens are not an error).
        post("revoke: no token", REVOKE, auth(creds::OPAQUE), "", Error(400, "invalid_request")),
        post("revoke: garbage token", REVOKE, auth(creds::OPAQUE), "token=garbage", Status(200)),
        post(
            "revoke: alg none token",
            REVOKE,
            auth(creds::JWT),
            format!("token={}.e30.", part(&json!({"alg": "none"}))),
            Status(200),
        ),
        post("revoke: unknown hint", REVOKE, auth(creds::OPAQUE), "token=garbage&token_type_hint=foo", Status(200)),
        // Routes.
        raw("route: trailing slash", "POST", "/oauth2/token/", with_type(FORM), cc, Status(404)),
        raw("route: unknown path", "GET", "/admin", vec![], "", Status(404)),
        raw(
            "route: tenant name not allowed",
            "POST",
            "/t/Bad%20Tenant/oauth2/token",
            with_type(FORM),
            cc,
            Error(404, "invalid_request"),
        ),
        // The runner's event door.
        raw("events: GET", "GET", "/local/events", vec![], "", Error(405, "invalid_request")),
        raw(
            "events: text/plain",
            "POST",
            "/local/events",
            vec![("content-type", "text/plain".into())],
            "{}",
            Error(415, "invalid_request"),
        ),
        raw(
            "events: not JSON",
            "POST",
            "/local/events",
            vec![("content-type", "application/json".into())],
            "{",
            Error(400, "invalid_request"),
        ),
        raw(
            "events: empty body",
            "POST",
            "/local/events",
            vec![("content-type", "application/json".into())],
            "",
            Error(400, "invalid_request"),
        ),
        raw(
            "events: truncated JSON",
            "POST",
            "/local/events",
            vec![("content-type", "application/json".into())],
            r#"{"id": "e", "detail-type": "tessera.re"#,
            Error(400, "invalid_request"),
        ),
        raw(
            "events: neither SQS nor EventBridge",
            "POST",
            "/local/events",
            vec![("content-type", "application/json".into())],
            "{}",
            Error(400, "invalid_request"),
        ),
        // The runner's list of announced revocations: GET only, and only for the runner itself.
        raw(
            "revocations: POST",
            "POST",
            "/local/revocations",
            vec![("content-type", "application/json".into())],
            "{}",
            Error(405, "invalid_request"),
        ),
        raw("revocations: DELETE", "DELETE", "/local/revocations", vec![], "", Error(405, "invalid_request")),
        raw(
            "revocations: Origin of another site",
            "GET",
            "/local/revocations",
            vec![("origin", "https://evil.example".into())],
            "",
            Error(403, "invalid_request"),
        ),
        raw(
            "revocations: Host of a rebound name",
            "GET",
            "/local/revocations",
            vec![("host", "rebind.example:9000".into())],
            "",
            Error(403, "invalid_request"),
        ),
    ];
    let event = |detail: Value| {
        let body = json!({"id": "e", "detail-type": "tessera.revoke", "source": "idp", "detail": detail}).to_string();
        raw(
            "",
            "POST",
            "/local/events",
            vec![("content-type", "application/json".into())],
            body,
            Error(400, "invalid_request"),
        )
    };
    // DNS rebinding: a page of another site, resolved to 127.0.0.1, posts from the developer's browser. Each
    // event would revoke every token; the runner refuses it for its Host or Origin (403) before reading it.
    let rebound = |name: &str, host: String, origin: Option<String>, expect: Expect| {
        let event = json!({"id": name, "detail-type": "tessera.revoke", "source": "page",
            "detail": {"all_tokens": true, "reason": "rebinding"}});
        let mut headers = vec![("content-type", "application/json".to_owned()), ("host", host)];
        headers.extend(origin.map(|origin| ("origin", origin)));
        raw(name, "POST", "/local/events", headers, event.to_string(), expect)
    };
    let port = host.rsplit(':').next().unwrap_or_default();
    let forbidden = Error(403, "invalid_request");
    cases.extend([
        rebound("events: Host of a rebound name", format!("rebind.example:{port}"), None, forbidden),
        rebound("events: Host without the port", "127.0.0.1".into(), None, forbidden),
        rebound("events: Host of another port", "127.0.0.1:1".into(), None, forbidden),
        rebound("events: Host of another loopback family", format!("[::1]:{port}"), None, forbidden),
        rebound(
            "events: Origin of another site",
            host.into(),
            Some(format!("http://rebind.example:{port}")),
            forbidden,
        ),
        rebound("events: Origin null", host.into(), Some("null".into()), forbidden),
        {
            // Fetch metadata: a page of another site, though no Origin came (a browser sends both on a cross-site POST).
            let mut case = rebound("events: Sec-Fetch-Site cross-site", host.into(), None, forbidden);
            case.headers.push(("sec-fetch-site", "cross-site".into()));
            case
        },
        rebound("events: Origin of the same host over https", host.into(), Some(format!("https://{host}")), forbidden),
    ]);
    // The same checks let the runner's own origin through, to the handler (which refuses `{}`).
    for (name, host, origin) in [
        ("events: Host localhost, same Origin", format!("localhost:{port}"), Some(format!("http://localhost:{port}"))),
        ("events: Host and Origin of the runner", host.to_owned(), Some(format!("http://{host}"))),
    ] {
        let mut headers = vec![("content-type", "application/json".to_owned()), ("host", host)];
        headers.extend(origin.map(|origin| ("origin", origin)));
        cases.push(raw(name, "POST", "/local/events", headers, "{}", Error(400, "invalid_request")));
    }
    for (name, body) in [
        (
            "events: a target named twice",
            r#"{"id": "e", "detail-type": "tessera.revoke", "source": "idp", "detail": {"subject": "a", "subject": "b", "reason": "r"}}"#,
        ),
        (
            "events: a tenant named twice",
            r#"{"id": "e", "detail-type": "tessera.revoke", "source": "idp", "detail": {"client_id": "demo-jwt", "tenant": "default", "tenant": "acme", "reason": "r"}}"#,
        ),
    ] {
        let headers = vec![("content-type", "application/json".into())];
        cases.push(raw(name, "POST", "/local/events", headers, body, Error(400, "invalid_request")));
    }
    // Identity-provider events (the corpus's server maps Okta events to its trusted issuer): a revoking type that
    // names no user, or two, and a partner event no mapping takes, each refused and revoking nobody.
    let okta = |name: &'static str, target: Value| {
        let body = json!({"id": name, "detail-type": "SystemLog", "source": "aws.partner/okta.com/org/logs",
            "detail": {"eventType": "user.lifecycle.deactivate", "actor": {"id": "00uadmin", "type": "SystemPrincipal"},
            "target": target}});
        let headers = vec![("content-type", "application/json".into())];
        raw(name, "POST", "/local/events", headers, body.to_string(), Error(400, "invalid_request"))
    };
    cases.extend([
        okta("events: an Okta deactivation naming no user", json!([{"id": "0oa1", "type": "AppInstance"}])),
        okta(
            "events: an Okta deactivation naming two users",
            json!([
            {"id": "00u1", "type": "User", "alternateId": "a@example.com"},
            {"id": "00u2", "type": "User", "alternateId": "b@example.com"}]),
        ),
        okta("events: an Okta deactivation whose user is not text", json!([{"type": "User", "alternateId": 42}])),
        raw(
            "events: an Auth0 log no mapping takes",
            "POST",
            "/local/events",
            vec![("content-type", "application/json".into())],
            json!({"id": "a0", "detail-type": "Auth0 log", "source": "aws.partner/auth0.com/x/auth0.logs",
                "detail": {"data": {"type": "scp", "user_id": "auth0|x"}}})
            .to_string(),
            Error(400, "invalid_request"),
        ),
    ]);
    cases.push(raw(
        "events: Records that are not SQS messages",
        "POST",
        "/local/events",
        vec![("content-type", "application/json".into())],
        json!({"Records": "not a list"}).to_string(),
        Error(400, "invalid_request"),
    ));
    for (name, detail) in [
        ("events: two targets", json!({"event_id": "a", "subject": "s", "client_id": "c", "reason": "r"})),
        ("events: no reason", json!({"event_id": "a", "subject": "s"})),
        ("events: misspelt target", json!({"event_id": "a", "subjet": "s", "reason": "r"})),
        ("events: subject of the wrong type", json!({"event_id": "a", "subject": 42, "reason": "r"})),
        ("events: 2 KB subject", json!({"event_id": "a", "subject": "s".repeat(2_000), "reason": "r"})),
        ("events: undeclared tenant", json!({"event_id": "a", "tenant": "nosuch", "all_tokens": true, "reason": "r"})),
    ] {
        cases.push(Case { name: name.into(), ..event(detail) });
    }
    // RFC 8705: a client certificate comes from the TLS handshake (the request context), never from a header any
    // client can send. Plain HTTP has no certificate, whatever the headers claim.
    let forged = "-----BEGIN CERTIFICATE-----MIIBforged-----END CERTIFICATE-----".to_owned();
    cases.push(raw(
        "client certificate: forged in headers over plain HTTP",
        "GET",
        "/local/client-certificate",
        ["x-client-cert", "x-amzn-mtls-clientcert", "x-ssl-client-cert", "ssl-client-cert", "x-forwarded-client-cert"]
            .into_iter()
            .map(|name| (name, forged.clone()))
            .collect(),
        "",
        Error(404, "invalid_request"),
    ));
    cases.push(raw(
        "client certificate: POST",
        "POST",
        "/local/client-certificate",
        vec![],
        "",
        Error(405, "invalid_request"),
    ));
    cases.extend(jwt_cases(own_key, jwt));
    cases
}

/// A request to the authorizer's demo route with these `Authorization` header values.
fn authorizer(name: &str, authorization: &[String], expect: Expect) -> Case {
    let headers = authorization.iter().map(|value| ("authorization", value.clone())).collect();
    raw(name, "GET", DEMO_ORDERS, headers, "", expect)
}

/// What the authorizer cases need: valid tokens of every kind it must refuse, and one it must take.
struct ForAuthorizer<'a> {
    own_key: &'a SigningKey,
    /// A demo-jwt access token: `orders:read`, for `https://orders.example.com`.
    jwt: &'a str,
    /// demo-opaque's: for the issuer's audience only.
    opaque: &'a str,
    /// A refresh token of the exchange client.
    refresh: &'a str,
    /// A trusted issuer's JWT (it verifies at introspection).
    external: &'a str,
    /// An access token of tenant `acme`, with the demo route's scope and audience.
    other_tenant: &'a str,
    now: u64,
}

/// The authorizer's bad input: no header, two tokens, `Bearer` alone, other schemes, tokens of the wrong kind,
/// tenant or time, forgeries, and the one good input hidden among them (a lower-case scheme, RFC 9110 §11.1).
fn authorizer_cases(t: &ForAuthorizer<'_>) -> Vec<Case> {
    use Expect::{Gateway, Status};
    let bearer = |token: &str| vec![format!("Bearer {token}")];
    let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(t.jwt).unwrap();
    let signed = |change: &dyn Fn(&mut Value)| {
        let mut claims = claims.clone();
        change(&mut claims);
        t.own_key.sign_jwt("at+jwt", &claims).unwrap()
    };
    let expired = signed(&|c| c["exp"] = json!(t.now - 1));
    let early = signed(&|c| c["nbf"] = json!(t.now + 60));
    let none = format!("{}.{}.", part(&json!({"alg": "none", "typ": "at+jwt"})), t.jwt.split('.').nth(1).unwrap());
    let mut bad_checksum = t.opaque.to_owned();
    let last = bad_checksum.pop().unwrap();
    bad_checksum.push(if last == 'A' { 'B' } else { 'A' });
    vec![
        authorizer("authorizer: no Authorization header", &[], Gateway(401)),
        authorizer("authorizer: two tokens in one header", &[format!("Bearer {} {}", t.jwt, t.opaque)], Gateway(403)),
        authorizer("authorizer: two Authorization headers", &[bearer(t.jwt), bearer(t.jwt)].concat(), Gateway(403)),
        authorizer("authorizer: two tokens, comma-separated", &[format!("Bearer {},{}", t.jwt, t.jwt)], Gateway(403)),
        authorizer("authorizer: Bearer with nothing after it", &["Bearer".into()], Gateway(403)),
        authorizer("authorizer: Bearer and spaces", &["Bearer    ".into()], Gateway(403)),
        authorizer("authorizer: an empty header", &["".into()], Gateway(403)),
        authorizer("authorizer: the token without a scheme", &[t.jwt.to_owned()], Gateway(403)),
        authorizer("authorizer: Basic credentials", &[basic(creds::JWT.0, creds::JWT.1)], Gateway(403)),
        authorizer("authorizer: Bearer glued to the token", &[format!("Bearer{}", t.jwt)], Gateway(403)),
        authorizer("authorizer: a tab after Bearer", &[format!("Bearer\t{}", t.jwt)], Gateway(403)),
        authorizer("authorizer: a quoted token", &[format!("Bearer \"{}\"", t.jwt)], Gateway(403)),
        authorizer("authorizer: a garbage token", &bearer("garbage"), Gateway(403)),
        authorizer("authorizer: a refresh token", &bearer(t.refresh), Gateway(403)),
        authorizer("authorizer: another tenant's token", &bearer(t.other_tenant), Gateway(403)),
        authorizer("authorizer: a trusted issuer's token", &bearer(t.external), Gateway(403)),
        authorizer("authorizer: an expired token", &bearer(&expired), Gateway(403)),
        authorizer("authorizer: a token not yet valid", &bearer(&early), Gateway(403)),
        authorizer("authorizer: another audience's token", &bearer(t.opaque), Gateway(403)),
        authorizer("authorizer: alg none", &bearer(&none), Gateway(403)),
        authorizer("authorizer: an opaque token with a bad checksum", &bearer(&bad_checksum), Gateway(403)),
        authorizer("authorizer: a 9 KB token", &bearer(&"a".repeat(9_000)), Gateway(403)),
        authorizer(
            "authorizer: a lower-case scheme passes (RFC 9110 §11.1)",
            &[format!("bearer {}", t.jwt)],
            Status(200),
        ),
    ]
}

/// What the hardening II cases need: a trusted issuer that records its tokens, and one of its tokens, revoked.
struct External<'a> {
    issuer: &'a TestIssuer,
    revoked: String,
    now: u64,
}

/// The cases of the second hardening issue: re-spellings of a revoked external token, `crit` on an external JWT,
/// the expiry skew, the parameter limit, several targets, HEAD and other methods on the documents, content
/// negotiation and an undeclared tenant's event (above, with the other events).
fn hardening_ii_cases(external: &External<'_>) -> Vec<Case> {
    use Expect::{Error, Status};
    let External { issuer, revoked, now } = external;
    let exchange = |name: &str, subject_token: &str| {
        let body = format!(
            "grant_type={}&subject_token={}&subject_token_type={}",
            enc(EXCHANGE),
            enc(subject_token),
            enc(JWT_TYPE)
        );
        post(name, TOKEN, auth(EXCHANGER), body, Error(400, "invalid_grant"))
    };
    let twin = ecdsa_twin(revoked, issuer.alg).expect("an ES256 issuer");
    let padded = alternative_encodings(revoked)
        .into_iter()
        .find(|(what, _)| *what == "padded signature")
        .map(|(_, token)| token)
        .expect("a padded spelling");
    let crit = issuer.sign_with_header(
        &issuer.claims("crit", *now),
        Header { kid: Some(issuer.kid.clone()), crit: Some(vec!["urn:unknown".into()]), ..Header::new(issuer.alg) },
    );
    let expired = {
        let mut claims = issuer.claims("late", now - 600);
        claims["exp"] = json!(now - EXTERNAL_LEEWAY_SECS - 1);
        issuer.sign(&claims)
    };
    let cc = |extra: &str| format!("grant_type=client_credentials&{extra}");
    let orders = enc("https://orders.example.com");
    let accept = |name: &str, value: &str| {
        let mut case = introspect(name, "garbage");
        case.headers.push(("accept", value.to_owned()));
        case
    };
    let many = |count: usize| (0..count).map(|i| format!("p{i}=")).collect::<Vec<_>>().join("&");
    let four_thousand: String = (0..4_000).map(|i| format!("{:03x}", i)).collect::<Vec<_>>().join("&");
    vec![
        introspect("external: the ECDSA twin of a revoked token", &twin),
        introspect("external: a revoked token, signature padded", &padded),
        introspect("external: a revoked token after a space", &format!(" {revoked}")),
        exchange("exchange: the ECDSA twin of a revoked subject token", &twin),
        introspect("external: crit header", &crit),
        exchange("exchange: a subject token with a crit header", &crit),
        exchange("exchange: a subject token expired beyond the skew", &expired),
        introspect("external: expired beyond the skew", &expired),
        post("form: 4,000 distinct names", TOKEN, auth(creds::JWT), cc(&four_thousand), Error(400, "invalid_request")),
        post("form: 101 parameters", TOKEN, auth(creds::JWT), cc(&many(100)), Error(400, "invalid_request")),
        post(
            "token: two resources, one not the client's",
            TOKEN,
            auth(creds::JWT),
            cc(&format!("resource={orders}&resource={}", enc("https://evil.example"))),
            Error(400, "invalid_target"),
        ),
        post(
            "token: an audience beside the resource, not the client's",
            TOKEN,
            auth(creds::JWT),
            cc(&format!("resource={orders}&audience=evil")),
            Error(400, "invalid_target"),
        ),
        post(
            "token: resource with a fragment",
            TOKEN,
            auth(creds::JWT),
            cc(&format!("resource={orders}%23x")),
            Error(400, "invalid_target"),
        ),
        post("token: relative resource", TOKEN, auth(creds::JWT), cc("resource=orders"), Error(400, "invalid_target")),
        raw("metadata: HEAD", "HEAD", "/.well-known/oauth-authorization-server", vec![], "", Status(200)),
        raw("jwks: HEAD", "HEAD", "/.well-known/jwks.json", vec![], "", Status(200)),
        raw("jwks: DELETE", "DELETE", "/.well-known/jwks.json", vec![], "", Error(405, "invalid_request")),
        accept("introspect: Accept the JWT with a malformed q", "application/token-introspection+jwt;q=abc"),
        accept("introspect: Accept the JWT with q=0", "application/token-introspection+jwt;q=0.000"),
        accept("introspect: Accept JSON above the JWT", "application/json, application/token-introspection+jwt;q=0.5"),
    ]
}

/// The cases of `refresh_user_details` (issue 21: user details from UserInfo): at an exchange and on introspection
/// alike it is `true` or `false`, once (RFC 6749 §3.1: empty is absent); anything else is `invalid_request` (RFC 7662
/// §2.3), checked before any I/O, whatever the token; a valid one never changes an inactive answer.
fn user_details_cases(external: &External<'_>) -> Vec<Case> {
    use Expect::{Error, Inactive};
    let subject_token = external.issuer.sign(&external.issuer.claims("refresh-user-details", external.now));
    let access_token = external.issuer.sign_access_token(&external.issuer.claims("refresh-user-details", external.now));
    let exchange = |extra: &str| {
        format!(
            "grant_type={}&subject_token={}&subject_token_type={}&{extra}",
            enc(EXCHANGE),
            enc(&subject_token),
            enc(AT_TYPE)
        )
    };
    let refresh = "refresh_user_details=true";
    vec![
        post(
            "exchange: refresh_user_details=yes",
            TOKEN,
            auth(EXCHANGER),
            exchange("refresh_user_details=yes"),
            Error(400, "invalid_request"),
        ),
        post(
            "exchange: refresh_user_details=TRUE",
            TOKEN,
            auth(EXCHANGER),
            exchange("refresh_user_details=TRUE"),
            Error(400, "invalid_request"),
        ),
        post(
            "exchange: refresh_user_details twice",
            TOKEN,
            auth(EXCHANGER),
            exchange(&format!("{refresh}&{refresh}")),
            Error(400, "invalid_request"),
        ),
        post(
            "introspect: refresh_user_details on garbage",
            INTROSPECT,
            auth(creds::RS),
            format!("token=garbage&{refresh}"),
            Inactive,
        ),
        post(
            "introspect: refresh_user_details=yes on garbage",
            INTROSPECT,
            auth(creds::RS),
            "token=garbage&refresh_user_details=yes",
            Error(400, "invalid_request"),
        ),
        post(
            "introspect: refresh_user_details=maybe on a trusted issuer's access token",
            INTROSPECT,
            auth(creds::RS),
            format!("token={}&refresh_user_details=maybe", enc(&access_token)),
            Error(400, "invalid_request"),
        ),
        post(
            "introspect: refresh_user_details twice",
            INTROSPECT,
            auth(creds::RS),
            format!("token={}&{refresh}&{refresh}", enc(&access_token)),
            Error(400, "invalid_request"),
        ),
        post(
            "introspect: refresh_user_details empty is absent",
            INTROSPECT,
            auth(creds::RS),
            "token=garbage&refresh_user_details=",
            Inactive,
        ),
    ]
}

/// What the Shared Signals cases need: a transmitter of the config, and a user of its subject issuer.
struct ForSsf<'a> {
    transmitter: &'a crate::ssf::Transmitter,
    issuer: &'a TestIssuer,
    user: &'a str,
    now: u64,
}

const SSF_EVENTS: &str = "/ssf/events";

/// Pushes to `/ssf/events` that revoke nothing (RFC 8935 §2.3): malformed SETs, wrong media types, an oversized
/// body, unknown transmitters, bad signatures and claims, subjects that map to no one.
fn ssf_cases(t: &ForSsf<'_>) -> Vec<Case> {
    use crate::ssf::{AUTHORIZATION, SESSION_REVOKED, iss_sub};
    use Expect::SetError;
    let bearer = || ("authorization", format!("Bearer {AUTHORIZATION}"));
    let secevent = || ("content-type", "application/secevent+jwt".to_owned());
    let push = |name: &str, body: String, expect: Expect| {
        raw(&format!("ssf: {name}"), "POST", SSF_EVENTS, vec![secevent(), bearer()], body, expect)
    };
    let good = t.transmitter.claims(t.now, json!({SESSION_REVOKED: {"subject": iss_sub(t.issuer, t.user)}}));
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = good.clone();
        change(&mut claims);
        t.transmitter.sign(&claims)
    };
    let set = t.transmitter.sign(&good);
    let (header, payload) = (part(&json!({"alg": "ES256", "kid": "ssf-1", "typ": "secevent+jwt"})), part(&good));
    let signature = set.rsplit('.').next().unwrap_or_default().to_owned();
    let mut cases = vec![
        push("not a JWS", "not-a-set".into(), SetError(400, "invalid_request")),
        push("an empty body", String::new(), SetError(400, "invalid_request")),
        push("two dots, nothing else", "..".into(), SetError(400, "invalid_request")),
        push("four parts", format!("{set}.x"), SetError(400, "invalid_request")),
        push("a header that is not base64url", format!("!!!.{payload}.{signature}"), SetError(400, "invalid_request")),
        push(
            "a header that is not JSON",
            format!("{}.{payload}.{signature}", URL_SAFE_NO_PAD.encode("{")),
            SetError(400, "invalid_request"),
        ),
        push(
            "a header naming alg twice",
            format!(
                "{}.{payload}.{signature}",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256","alg":"none","kid":"ssf-1"}"#)
            ),
            SetError(400, "invalid_request"),
        ),
        push("a payload that is not base64url", format!("{header}.!!!.{signature}"), SetError(400, "invalid_key")),
        push(
            "the signature of other claims",
            format!("{header}.{}.{signature}", part(&json!({"iss": "x"}))),
            SetError(400, "invalid_key"),
        ),
        push(
            "alg none",
            format!("{}.{payload}.", part(&json!({"alg": "none", "typ": "secevent+jwt"}))),
            SetError(400, "invalid_key"),
        ),
        push(
            "alg HS256",
            format!("{}.{payload}.{signature}", part(&json!({"alg": "HS256", "kid": "ssf-1"}))),
            SetError(400, "invalid_key"),
        ),
        push(
            "no alg",
            format!("{}.{payload}.{signature}", part(&json!({"kid": "ssf-1"}))),
            SetError(400, "invalid_request"),
        ),
        push(
            "an unknown kid",
            crate::ssf::Transmitter::new(&t.transmitter.issuer, "ssf-9").sign(&good),
            SetError(400, "invalid_key"),
        ),
        push(
            "another key",
            crate::ssf::Transmitter::new(&t.transmitter.issuer, "ssf-1").sign(&good),
            SetError(400, "invalid_key"),
        ),
        push("typ at+jwt", t.transmitter.sign_typed(&good, Some("at+jwt")), SetError(400, "invalid_request")),
        push(
            "a crit header",
            format!("{}.{payload}.{signature}", part(&json!({"alg": "ES256", "kid": "ssf-1", "crit": ["x"]}))),
            SetError(400, "invalid_request"),
        ),
        push(
            "claims naming jti twice (under another signature)",
            {
                let text = good.to_string().replacen("\"jti\":", "\"jti\":\"a\",\"jti\":", 1);
                format!("{header}.{}.{signature}", URL_SAFE_NO_PAD.encode(text))
            },
            SetError(400, "invalid_key"),
        ),
        push("another issuer", with(&|c| c["iss"] = json!("https://evil.example/")), SetError(400, "invalid_issuer")),
        push(
            "another audience",
            with(&|c| c["aud"] = json!(["https://a.example", "https://b.example"])),
            SetError(400, "invalid_audience"),
        ),
        push("no audience", with(&|c| c["aud"] = json!(null)), SetError(400, "invalid_audience")),
        push("no iat", with(&|c| c["iat"] = json!(null)), SetError(400, "invalid_request")),
        push("iat as text", with(&|c| c["iat"] = json!("yesterday")), SetError(400, "invalid_request")),
        push(
            "iat an hour and a second ago",
            with(&|c| c["iat"] = json!(t.now - 3601)),
            SetError(400, "invalid_request"),
        ),
        push("iat a minute ahead", with(&|c| c["iat"] = json!(t.now + 60)), SetError(400, "invalid_request")),
        push("expired", with(&|c| c["exp"] = json!(t.now - 31)), SetError(400, "invalid_request")),
        push("no jti", with(&|c| c["jti"] = json!(null)), SetError(400, "invalid_request")),
        push("a 129-byte jti", with(&|c| c["jti"] = json!("j".repeat(129))), SetError(400, "invalid_request")),
        push(
            "a jti with a control character",
            with(&|c| c["jti"] = json!("a\u{0}b")),
            SetError(400, "invalid_request"),
        ),
        push("no events", with(&|c| c["events"] = json!(null)), SetError(400, "invalid_request")),
        push("events as a list", with(&|c| c["events"] = json!([SESSION_REVOKED])), SetError(400, "invalid_request")),
        push(
            "nine events",
            with(&|c| {
                c["events"] = (0..9)
                    .map(|i| (format!("https://example.com/e{i}"), json!({})))
                    .collect::<serde_json::Map<_, _>>()
                    .into()
            }),
            SetError(400, "invalid_request"),
        ),
        push(
            "an event payload that is text",
            with(&|c| c["events"][SESSION_REVOKED] = json!("x")),
            SetError(400, "invalid_request"),
        ),
        push(
            "a revoking event naming no subject",
            with(&|c| c["events"][SESSION_REVOKED] = json!({})),
            SetError(400, "invalid_request"),
        ),
        push(
            "an unknown subject format",
            with(&|c| c["events"][SESSION_REVOKED]["subject"] = json!({"format": "did", "url": "did:example:1"})),
            SetError(400, "invalid_request"),
        ),
        push(
            "a subject without a format",
            with(&|c| c["events"][SESSION_REVOKED]["subject"] = json!({"sub": t.user})),
            SetError(400, "invalid_request"),
        ),
        push(
            "an iss_sub with a numeric sub",
            with(&|c| {
                c["events"][SESSION_REVOKED]["subject"] = json!({"format": "iss_sub", "iss": t.issuer.issuer, "sub": 7})
            }),
            SetError(400, "invalid_request"),
        ),
        push(
            "an email the issuer's subjects are not",
            with(&|c| c["events"][SESSION_REVOKED]["subject"] = json!({"format": "email", "email": "x@example.com"})),
            SetError(400, "invalid_request"),
        ),
        push(
            "a complex subject without a user",
            with(&|c| {
                c["events"][SESSION_REVOKED]["subject"] =
                    json!({"format": "complex", "device": {"format": "opaque", "id": "d"}})
            }),
            SetError(400, "invalid_request"),
        ),
        push(
            "a subject of an issuer it may not speak for",
            with(&|c| {
                c["events"][SESSION_REVOKED]["subject"] =
                    json!({"format": "iss_sub", "iss": "https://other.example/", "sub": "u"})
            }),
            SetError(403, "access_denied"),
        ),
        push(
            "a subject that is a client's id",
            with(&|c| c["events"][SESSION_REVOKED]["subject"] = iss_sub(t.issuer, creds::JWT.0)),
            SetError(403, "access_denied"),
        ),
        push("a body over 8 KB", format!("{set}{}", "A".repeat(8 * 1024)), SetError(413, "invalid_request")),
        raw(
            "ssf: a body that is not UTF-8",
            "POST",
            SSF_EVENTS,
            vec![secevent(), bearer()],
            vec![0xff, 0xfe, b'.', b'.'],
            SetError(400, "invalid_request"),
        ),
    ];
    let with_headers = |name: &str, headers: Vec<(&'static str, String)>, expect: Expect| {
        raw(&format!("ssf: {name}"), "POST", SSF_EVENTS, headers, set.clone(), expect)
    };
    cases.extend([
        with_headers("no Authorization", vec![secevent()], SetError(401, "authentication_failed")),
        with_headers(
            "an unknown transmitter's token",
            vec![secevent(), ("authorization", "Bearer someone-elses-token-0123456789abcdef".into())],
            SetError(401, "authentication_failed"),
        ),
        with_headers(
            "the token as Basic credentials",
            vec![secevent(), ("authorization", basic("transmitter", AUTHORIZATION))],
            SetError(401, "authentication_failed"),
        ),
        with_headers(
            "two bearer tokens",
            vec![secevent(), ("authorization", format!("Bearer {AUTHORIZATION} {AUTHORIZATION}"))],
            SetError(401, "authentication_failed"),
        ),
        with_headers(
            "Bearer and nothing",
            vec![secevent(), ("authorization", "Bearer".into())],
            SetError(401, "authentication_failed"),
        ),
        with_headers(
            "application/json",
            vec![("content-type", "application/json".into()), bearer()],
            SetError(415, "invalid_request"),
        ),
        with_headers(
            "application/jwt",
            vec![("content-type", "application/jwt".into()), bearer()],
            SetError(415, "invalid_request"),
        ),
        with_headers("a form", vec![("content-type", FORM.into()), bearer()], SetError(415, "invalid_request")),
        with_headers("no Content-Type", vec![bearer()], SetError(415, "invalid_request")),
        raw("ssf: GET", "GET", SSF_EVENTS, vec![bearer()], "", SetError(405, "invalid_request")),
        raw(
            "ssf: an undeclared tenant",
            "POST",
            "/t/nowhere/ssf/events",
            vec![secevent(), bearer()],
            set.clone(),
            SetError(404, "invalid_request"),
        ),
        raw(
            "ssf: another tenant's route",
            "POST",
            "/t/acme/ssf/events",
            vec![secevent(), bearer()],
            set.clone(),
            SetError(401, "authentication_failed"),
        ),
    ]);
    cases
}

/// A `private_key_jwt` client of the corpus (RFC 7523 §2.2), and an assertion of it already used once.
struct AssertionClient<'a> {
    key: &'a ClientKey,
    /// Spent before the corpus runs: every further use is a replay.
    spent: String,
    /// The server's base URL (the issuer) and now.
    base: &'a str,
    now: u64,
}

/// The `private_key_jwt` client of the corpus.
const PKJ_CLIENT: &str = "pkj-corpus-client";

/// Bad client assertions and bad assertion requests (RFC 7523 §3.2: an invalid assertion is `invalid_client`, 401
/// here with the challenge; RFC 7521 §4.2 and RFC 6749 §2.3, §5.2: a wrong or missing `client_assertion_type`,
/// and two methods at once, are `invalid_request`), at the three endpoints that authenticate clients.
fn client_assertion_cases(a: &AssertionClient<'_>) -> Vec<Case> {
    use Expect::Error;
    let token_url = format!("{}{TOKEN}", a.base);
    let good = || assertion_claims(PKJ_CLIENT, &token_url, a.now);
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = good();
        change(&mut claims);
        a.key.sign(&claims)
    };
    let body = |assertion: &str| {
        format!(
            "grant_type=client_credentials&client_assertion_type={}&client_assertion={}",
            enc(JWT_BEARER),
            enc(assertion)
        )
    };
    let refused = |name: &str, assertion: &str| post(name, TOKEN, None, body(assertion), Error(401, "invalid_client"));
    let request =
        |name: &str, auth: Option<String>, body: String| post(name, TOKEN, auth, body, Error(400, "invalid_request"));
    let fresh = a.key.sign(&good());
    let typed =
        a.key.sign_with(jwt_compact::Header::empty().with_key_id(a.key.kid()).with_token_type("at+jwt"), &good());
    let other_server = with(&|c| c["aud"] = json!("https://other.example.com/oauth2/token"));
    let at = |path: &'static str, name: &str, assertion: &str| {
        let body =
            format!("token=garbage&client_assertion_type={}&client_assertion={}", enc(JWT_BEARER), enc(assertion));
        post(name, path, None, body, Error(401, "invalid_client"))
    };
    vec![
        refused("assertion: expired", &with(&|c| c["exp"] = json!(a.now - 120))),
        refused("assertion: no exp", &with(&|c| drop(c.as_object_mut().unwrap().remove("exp")))),
        refused("assertion: lives ten minutes", &with(&|c| c["exp"] = json!(a.now + 600))),
        refused("assertion: replayed", &a.spent),
        refused("assertion: alg none", &unsigned(a.key.kid(), &good())),
        refused("assertion: HS256 keyed with the public JWK", &a.key.hs256_with_public_key(&good())),
        refused("assertion: another server's audience", &other_server),
        refused("assertion: unknown kid", &ClientKey::es256("corpus-other").sign(&good())),
        refused("assertion: iss not the client", &with(&|c| c["iss"] = json!("someone-else"))),
        refused("assertion: sub a secret client", &with(&|c| c["sub"] = json!(creds::JWT.0))),
        refused("assertion: no jti", &with(&|c| drop(c.as_object_mut().unwrap().remove("jti")))),
        refused("assertion: typ at+jwt", &typed),
        refused("assertion: not a JWT", "not.a.jwt"),
        refused("assertion: 9,000 characters", &"e".repeat(9_000)),
        post(
            "assertion: client_id of another client beside it",
            TOKEN,
            None,
            format!("{}&client_id={}", body(&fresh), enc(creds::JWT.0)),
            Error(401, "invalid_client"),
        ),
        post(
            "assertion client: a secret by Basic",
            TOKEN,
            auth((PKJ_CLIENT, "a-guessed-secret")),
            "grant_type=client_credentials",
            Error(401, "invalid_client"),
        ),
        at(INTROSPECT, "introspect: assertion expired", &with(&|c| c["exp"] = json!(a.now - 120))),
        at(REVOKE, "revoke: assertion replayed", &a.spent),
        request(
            "assertion: type saml2-bearer",
            None,
            format!(
                "grant_type=client_credentials&client_assertion_type={}&client_assertion={}",
                enc("urn:ietf:params:oauth:client-assertion-type:saml2-bearer"),
                enc(&fresh)
            ),
        ),
        request("assertion: no type", None, format!("grant_type=client_credentials&client_assertion={}", enc(&fresh))),
        request(
            "assertion: a type and no assertion",
            None,
            format!("grant_type=client_credentials&client_assertion_type={}", enc(JWT_BEARER)),
        ),
        request("assertion: beside a Basic header", auth(creds::JWT), body(&fresh)),
        request(
            "assertion: beside client_secret",
            None,
            format!("{}&client_id={PKJ_CLIENT}&client_secret=x", body(&fresh)),
        ),
    ]
}

#[track_caller]
fn check(case: &Case, reply: &Reply) {
    let name = &case.name;
    assert!(reply.status < 500, "{name}: {} {}", reply.status, reply.text);
    for leak in LEAKS {
        assert!(!reply.text.contains(leak), "{name}: the response shows {leak:?}: {}", reply.text);
    }
    match case.expect {
        Expect::Error(status, code) => {
            assert_eq!((reply.status, reply.json()["error"].as_str()), (status, Some(code)), "{name}: {}", reply.text);
            let description = reply.json()["error_description"].as_str().map(str::to_owned);
            assert!(description.is_some_and(|d| !d.is_empty()), "{name}: no error_description: {}", reply.text);
            assert_eq!(reply.header("cache-control"), Some("no-store"), "{name}");
            assert_eq!(reply.header("pragma"), Some("no-cache"), "{name}");
            if status == 401 {
                assert!(reply.header("www-authenticate").is_some_and(|h| h.starts_with("Basic realm=")), "{name}");
            }
        }
        Expect::Inactive => {
            assert_eq!((reply.status, reply.text.as_str()), (200, r#"{"active":false}"#), "{name}");
            assert_eq!(reply.header("cache-control"), Some("no-store"), "{name}");
        }
        Expect::Status(status) => assert_eq!(reply.status, status, "{name}: {}", reply.text),
        Expect::SetError(status, err) => {
            assert_eq!((reply.status, reply.json()["err"].as_str()), (status, Some(err)), "{name}: {}", reply.text);
            let description = reply.json()["description"].as_str().map(str::to_owned);
            assert!(description.is_some_and(|d| !d.is_empty()), "{name}: no description: {}", reply.text);
            assert_eq!(reply.header("cache-control"), Some("no-store"), "{name}");
            let challenge = reply.header("www-authenticate");
            assert_eq!(
                challenge.is_some_and(|c| c.starts_with("Bearer realm=")),
                status == 401,
                "{name}: {challenge:?}"
            );
        }
        Expect::Gateway(status) => {
            let message = if status == 401 { "Unauthorized" } else { "Forbidden" };
            assert_eq!((reply.status, reply.json()), (status, json!({"message": message})), "{name}: {}", reply.text);
            assert_eq!(reply.header("cache-control"), Some("no-store"), "{name}");
            let challenge = reply.header("www-authenticate");
            assert_eq!(challenge.is_some_and(|c| c.starts_with("Bearer")), status == 401, "{name}: {challenge:?}");
        }
        Expect::DpopRefusal(code) => {
            assert_eq!(
                (reply.status, reply.json()),
                (401, json!({"message": "Unauthorized"})),
                "{name}: {}",
                reply.text
            );
            assert_eq!(reply.header("cache-control"), Some("no-store"), "{name}");
            let challenge = reply.header("www-authenticate").unwrap_or_default();
            assert!(challenge.starts_with(&format!("DPoP error=\"{code}\"")), "{name}: {challenge}");
        }
    }
}

/// What the DPoP cases need: the runner's base URL and clock, the proofs already spent, and tokens bound to
/// `key` (JWT and opaque) and one not bound.
struct ForDpop<'a> {
    base: &'a str,
    now: u64,
    key: &'a DpopKey,
    /// A proof for the token endpoint, spent in the setup.
    spent_at_token: String,
    /// A dpop-jwt token bound to `key`.
    bound: &'a str,
    /// A proof for `bound` at the demo route, spent in the setup.
    spent_at_demo: String,
    /// A demo-jwt bearer token.
    unbound: &'a str,
}

/// RFC 9449's bad input: proofs malformed, expired, replayed, wrongly bound and wrongly typed, at the token endpoint
/// (400 `invalid_dpop_proof`) and at the authorizer's demo route (401 with a `DPoP` challenge). None passes.
///
/// (The mutual-TLS cases are in [`mtls_cases`].)
fn dpop_cases(t: &ForDpop<'_>) -> Vec<Case> {
    use Expect::{DpopRefusal, Error};
    let token_url = format!("{}{TOKEN}", t.base);
    let demo_url = format!("{}{DEMO_ORDERS}", t.base);
    let (key, now) = (t.key, t.now);
    let token_request = |name: &str, proofs: Vec<String>| {
        let mut headers = vec![("content-type", FORM.to_owned()), ("authorization", basic(DPOP_JWT.0, DPOP_JWT.1))];
        headers.extend(proofs.into_iter().map(|p| ("dpop", p)));
        raw(name, "POST", TOKEN, headers, "grant_type=client_credentials", Error(400, "invalid_dpop_proof"))
    };
    let at_demo = |name: &str, authorization: String, proofs: Vec<String>, code| {
        let mut headers = vec![("authorization", authorization)];
        headers.extend(proofs.into_iter().map(|p| ("dpop", p)));
        raw(name, "GET", DEMO_ORDERS, headers, "", DpopRefusal(code))
    };
    let proof = |htm: &str, htu: &str, iat: u64| key.proof(htm, htu, iat, None);
    let jwk = json!({"jwk": key.jwk});
    let bound = t.bound;
    vec![
        token_request("dpop: a client that requires DPoP, no proof", vec![]),
        token_request("dpop: a replayed proof", vec![t.spent_at_token.clone()]),
        token_request("dpop: htm GET at the token endpoint", vec![proof("GET", &token_url, now)]),
        token_request("dpop: htu of another endpoint", vec![proof("POST", &demo_url, now)]),
        token_request("dpop: htu of another host", vec![proof("POST", "https://evil.example/oauth2/token", now)]),
        token_request("dpop: iat 61 seconds old", vec![proof("POST", &token_url, now - 61)]),
        token_request("dpop: iat 6 seconds ahead", vec![proof("POST", &token_url, now + 6)]),
        token_request("dpop: typ JWT", vec![key.sign("JWT", jwk.clone(), dpop_claims("POST", &token_url, now, None))]),
        token_request(
            "dpop: a private key in the jwk",
            vec![key.sign("dpop+jwt", json!({"jwk": key.private_jwk()}), dpop_claims("POST", &token_url, now, None))],
        ),
        token_request("dpop: alg none", vec![unsigned_proof(key, dpop_claims("POST", &token_url, now, None))]),
        token_request(
            "dpop: no jti",
            vec![key.sign("dpop+jwt", jwk.clone(), json!({"htm": "POST", "htu": token_url, "iat": now}))],
        ),
        token_request(
            "dpop: iat as a string",
            vec![key.sign("dpop+jwt", jwk, json!({"jti": "j-1", "htm": "POST", "htu": token_url, "iat": "now"}))],
        ),
        token_request("dpop: two DPoP headers", vec![proof("POST", &token_url, now), proof("POST", &token_url, now)]),
        token_request("dpop: garbage", vec!["garbage".to_owned()]),
        token_request("dpop: an empty header", vec![String::new()]),
        token_request("dpop: a 5 KB proof", vec![format!("{}.e30.e30", "a".repeat(5_000))]),
        at_demo("dpop: a bound token as Bearer", format!("Bearer {bound}"), vec![], "invalid_token"),
        at_demo("dpop: a bound token without a proof", format!("DPoP {bound}"), vec![], "invalid_dpop_proof"),
        at_demo(
            "dpop: a proof by another key",
            format!("DPoP {bound}"),
            vec![DpopKey::new(99).proof("GET", &demo_url, now, Some(bound))],
            "invalid_dpop_proof",
        ),
        at_demo(
            "dpop: a proof without ath",
            format!("DPoP {bound}"),
            vec![key.proof("GET", &demo_url, now, None)],
            "invalid_dpop_proof",
        ),
        at_demo(
            "dpop: a replayed proof at the resource",
            format!("DPoP {bound}"),
            vec![t.spent_at_demo.clone()],
            "invalid_dpop_proof",
        ),
        at_demo(
            "dpop: a proof for the token endpoint at the resource",
            format!("DPoP {bound}"),
            vec![key.proof("POST", &token_url, now, Some(bound))],
            "invalid_dpop_proof",
        ),
        at_demo(
            "dpop: an unbound token as DPoP",
            format!("DPoP {}", t.unbound),
            vec![key.proof("GET", &demo_url, now, Some(t.unbound))],
            "invalid_token",
        ),
    ]
}

/// Sends `case` over a bare connection announcing `announced` body bytes, half-closes it after the body, and
/// reads the answer.
async fn send_cut_short(host: &str, case: &Case, announced: usize) -> Reply {
    let mut head = format!("{} {} HTTP/1.1\r\nhost: {host}\r\ncontent-length: {announced}\r\n", case.method, case.path);
    for (name, value) in &case.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let request = [head.as_bytes(), &case.body].concat();
    let host = host.to_owned();
    let answer = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&host)?;
        stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
        stream.write_all(&request)?;
        stream.shutdown(std::net::Shutdown::Write)?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).map(|_| answer)
    })
    .await
    .expect("the sender does not panic");
    let answer = answer.unwrap_or_else(|err| panic!("{}: no answer before the connection closed: {err}", case.name));
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, text) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, value) in lines.filter_map(|l| l.split_once(':')) {
        if let (Ok(name), Ok(value)) = (
            reqwest::header::HeaderName::from_bytes(name.trim().as_bytes()),
            reqwest::header::HeaderValue::from_str(value.trim()),
        ) {
            headers.append(name, value);
        }
    }
    Reply { status, headers, text: text.to_owned() }
}

/// Mutual-TLS clients of the corpus (RFC 8705): one that authenticates by certificate, and a secret client whose
/// tokens are certificate-bound. The corpus runner serves plain HTTP: no request can carry a certificate.
const MTLS_CLIENTS: &str = r#"
[[clients]]
client_id = "corpus-mtls"
token_endpoint_auth_method = "tls_client_auth"
tls_client_auth_san_dns = "corpus.example.com"
scopes = ["orders:read"]
may_introspect = true

[[clients]]
client_id = "corpus-bound"
client_secret = "corpus-bound-secret-0123456789abcdef"
tls_client_certificate_bound_access_tokens = true
scopes = ["orders:read"]
"#;

/// RFC 8705 without mutual TLS: a certificate client's `client_id` alone, at each endpoint, is `invalid_client`
/// (401), whatever header claims to carry a certificate (only the TLS terminator's request context does); a secret it
/// never had is `invalid_client`; a certificate-bound client's token request without mutual TLS is `invalid_request`.
fn mtls_cases() -> Vec<Case> {
    use Expect::Error;
    let pem = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----";
    let cc = "grant_type=client_credentials&client_id=corpus-mtls";
    let spoofed = |name: &'static str, header: &'static str| {
        let headers = vec![("content-type", FORM.to_owned()), (header, pem.replace("\n", " "))];
        raw(name, "POST", TOKEN, headers, cc, Error(401, "invalid_client"))
    };
    vec![
        post("mtls: client_id alone without a certificate", TOKEN, None, cc, Error(401, "invalid_client")),
        post(
            "mtls: introspection by client_id alone",
            INTROSPECT,
            None,
            "token=abc&client_id=corpus-mtls",
            Error(401, "invalid_client"),
        ),
        post(
            "mtls: revocation by client_id alone",
            REVOKE,
            None,
            "token=abc&client_id=corpus-mtls",
            Error(401, "invalid_client"),
        ),
        spoofed("mtls: a certificate in x-amzn-mtls-clientcert", "x-amzn-mtls-clientcert"),
        spoofed("mtls: a certificate in x-client-cert", "x-client-cert"),
        spoofed("mtls: a certificate in ssl-client-cert", "ssl-client-cert"),
        post(
            "mtls: a certificate client presenting a secret",
            TOKEN,
            auth(("corpus-mtls", "guess-0123456789abcdef")),
            "grant_type=client_credentials",
            Error(401, "invalid_client"),
        ),
        post(
            "mtls: a certificate-bound client without mutual TLS",
            TOKEN,
            auth(("corpus-bound", "corpus-bound-secret-0123456789abcdef")),
            "grant_type=client_credentials",
            Error(400, "invalid_request"),
        ),
    ]
}

#[tokio::test]
async fn every_bad_input_gets_its_rfc_answer_and_nothing_leaks() {
    let own_key = SigningKey::generate(SigningAlgorithm::ES256, "tessera-local-1").unwrap();
    let issuer = tessera_e2e::issuers::cognito();
    let mut config = exchange_config_recording(&[(&issuer, true)]);
    config.signing_keys = config_with_key(&own_key).signing_keys;
    config.identity_events.push(tessera::events::identity_provider::IdentityEventSourceConfig {
        preset: Some(tessera::events::identity_provider::IdentityProviderPreset::Okta),
        issuer: issuer.issuer.clone(),
        ..Default::default()
    });
    let acme = Config::from_toml(ACME).unwrap();
    config.tenants.extend(acme.tenants);
    config.clients.extend(acme.clients);
    let transmitter = crate::ssf::Transmitter::new(&issuer.issuer, "ssf-1");
    config.ssf_transmitters.extend(Config::from_toml(&transmitter.toml_entry("default")).unwrap().ssf_transmitters);
    let assertion_key = ClientKey::es256("corpus-1");
    let pkj = format!(
        "[[clients]]\nclient_id = \"{PKJ_CLIENT}\"\ntoken_endpoint_auth_method = \"private_key_jwt\"\njwks = '{}'\n",
        ClientKey::jwks(&[&assertion_key])
    );
    config.clients.extend(Config::from_toml(&pkj).unwrap().clients);
    config.clients.extend(Config::from_toml(DPOP_CLIENTS).unwrap().clients);
    config.clients.extend(Config::from_toml(MTLS_CLIENTS).unwrap().clients);
    let server = TestServer::start_config(&config).await;
    let jwt = server.issue(creds::JWT, &[]).await;
    let opaque = server.issue(creds::OPAQUE, &[]).await;
    let now = server.clock.now().as_secs();
    let cc = [("grant_type", "client_credentials")];
    let acme_token = server.post("/t/acme/oauth2/token", Some(ACME_CLIENT), &cc).await.json()["access_token"].clone();
    let login = exchange(&server, EXCHANGER, &issuer.sign(&issuer.claims("authorizer-user", now)), &[]).await;
    let refresh = login.json()["refresh_token"].as_str().expect("a refresh token").to_owned();
    let external = issuer.sign(&issuer.claims("authorizer-external", now));
    // A subject of its own: on DynamoDB the suites share one table.
    let revoked = issuer.sign(&issuer.claims(&format!("revoked-{}", server.clock.now().as_micros()), now));
    assert_eq!(server.post(REVOKE, Some(creds::RS), &[("token", &revoked)]).await.status, 200);

    let spent = assertion_key.sign(&assertion_claims(PKJ_CLIENT, &server.base, now));
    let first = tessera_e2e::client_assertions::post(&server, TOKEN, &spent, &cc).await;
    assert_eq!(first.status, 200, "the corpus's assertion client works: {}", first.text);

    let host = server.base.strip_prefix("http://").unwrap_or_default().to_owned();
    let mut cases = cases(&own_key, &jwt, &opaque, &host);
    cases.extend(client_assertion_cases(&AssertionClient { key: &assertion_key, spent, base: &server.base, now }));
    let trusted = External { issuer: &issuer, revoked: revoked.clone(), now };
    cases.extend(hardening_ii_cases(&trusted));
    cases.extend(user_details_cases(&trusted));
    let ssf_user = crate::ssf::unique("ssf-victim");
    let ssf_login = exchange(&server, EXCHANGER, &issuer.sign(&issuer.claims(&ssf_user, now)), &[]).await;
    let ssf_token = ssf_login.json()["access_token"].as_str().expect("an access token").to_owned();
    cases.extend(ssf_cases(&ForSsf { transmitter: &transmitter, issuer: &issuer, user: &ssf_user, now }));
    cases.extend(authorizer_cases(&ForAuthorizer {
        own_key: &own_key,
        jwt: &jwt,
        opaque: &opaque,
        refresh: &refresh,
        external: &external,
        other_tenant: acme_token.as_str().expect("acme's token"),
        now,
    }));
    let key = DpopKey::new(42);
    let base = server.base.clone();
    let spent_at_token = key.proof("POST", &format!("{base}{TOKEN}"), now, None);
    let issued = dpop_token_request(&server, DPOP_JWT, std::slice::from_ref(&spent_at_token)).await;
    let bound = issued.json()["access_token"].as_str().expect("a bound token").to_owned();
    let spent_at_demo = key.proof("GET", &format!("{base}{DEMO_ORDERS}"), now, Some(&bound));
    let passed = server
        .send("GET", DEMO_ORDERS, &[("authorization", format!("DPoP {bound}")), ("dpop", spent_at_demo.clone())], "")
        .await;
    assert_eq!(passed.status, 200, "{}", passed.text);
    cases.extend(dpop_cases(&ForDpop {
        base: &base,
        now,
        key: &key,
        spent_at_token,
        bound: &bound,
        spent_at_demo,
        unbound: &jwt,
    }));
    cases.extend(mtls_cases());
    // The README and docs/security.md quote this number: change them with it.
    assert_eq!(cases.len(), 302, "the corpus size the docs quote");
    let mut names = std::collections::HashSet::new();
    for case in &cases {
        assert!(names.insert(case.name.as_str()), "two cases named {}", case.name);
        let reply = match case.cut_short_at {
            None => server.send(case.method, case.path, &case.headers, case.body.clone()).await,
            Some(announced) => send_cut_short(&host, case, announced).await,
        };
        check(case, &reply);
    }

    // Nothing above changed what is valid: both tokens still introspect active, the JWT still passes the
    // authorizer, and issuing still works.
    for token in [&jwt, &opaque, &ssf_token] {
        assert_eq!(server.introspect(token).await.json()["active"], true);
    }
    let authorized = server.send("GET", DEMO_ORDERS, &[("authorization", format!("Bearer {jwt}"))], "").await;
    assert_eq!(authorized.status, 200, "{}", authorized.text);
    let fresh = server.issue(creds::OPAQUE, &[]).await;
    assert_eq!(server.introspect(&fresh).await.json()["active"], true);
    // And the assertion client still authenticates with a fresh assertion.
    let assertion = assertion_key.sign(&assertion_claims(PKJ_CLIENT, &server.base, now));
    assert_eq!(tessera_e2e::client_assertions::post(&server, TOKEN, &assertion, &cc).await.status, 200);
}

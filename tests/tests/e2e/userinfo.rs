//! User details from a trusted issuer's OpenID Connect UserInfo endpoint (OneWelcome's `user_details`, issue 21):
//! fetched with the user's access token as the bearer (at token exchange when the subject token is typed an access
//! token; at introspection when the trusted issuer's JWT introspected is an RFC 9068 `at+jwt` one and the caller is
//! shown `user_details`), checked (`sub`), mapped by `claims_mapping`, cached per subject in the table, and shown by
//! introspection to resource servers whose profile has `user_details`, in the same one read.
//! `refresh_user_details=true` re-fetches, at an exchange or such an introspection, at most once a minute per
//! subject. An endpoint that fails (down, slow, 401, 5xx, not JSON, another `sub`, too large) keeps the cached
//! details and fails nothing. The endpoint is configured, or discovered (OpenID Connect Discovery, else RFC 8414).
//! Against a loopback server the test starts; runs on the store `TESSERA_E2E_STORE` selects.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, Header};
use serde_json::{Value, json};
use tessera::clock::Clock;
use tessera::config::Config;
use tessera::domain::user_details::USER_DETAILS_MIN_REFETCH_SECS;
use tessera::store::counting::CountingStore;
use tessera_e2e::issuers::{
    AT_TYPE, Canned, EXCHANGE, EXCHANGER, EXCHANGER_OPAQUE, TestIssuer, UserinfoServer, exchange, exchange_config,
};
use tessera_e2e::{Reply, TestServer, backend_store, creds};

/// A resource server without a profile: RFC 7662's core members only.
const PLAIN: (&str, &str) = ("rs-plain", "rs-plain-secret-0123456789abcdef0123");
const AUD: &str = "https://api.alice-corp.com";

/// The exchange configuration with `issuer`'s UserInfo set by `userinfo` (a configured URL, or discovery), its
/// mapping extended by `phone_number` → `phoneNumber`, and the plain resource server.
fn config(issuer: &TestIssuer, userinfo: Userinfo<'_>) -> Config {
    let mut config = exchange_config(&[issuer]);
    let entry = config.trusted_issuers.last_mut().expect("the issuer");
    match userinfo {
        Userinfo::At(url) => entry.userinfo_endpoint = Some(url.to_owned()),
        Userinfo::Discovered => entry.userinfo_discovery = true,
    }
    entry.claims_mapping.insert("phone_number".into(), "phoneNumber".into());
    let plain = format!(
        "[[clients]]\nclient_id = \"{}\"\nclient_secret = \"{}\"\ngrant_types = []\nmay_introspect = true\n",
        PLAIN.0, PLAIN.1
    );
    config.clients.extend(Config::from_toml(&plain).unwrap().clients);
    config
}

enum Userinfo<'a> {
    At(&'a str),
    Discovered,
}

/// An issuer whose UserInfo endpoint is `/userinfo` on `idp`, and a server trusting it.
async fn setup(idp: &UserinfoServer) -> (TestIssuer, TestServer) {
    let issuer = TestIssuer::generate("https://alice-corp.eu.auth0.com/", AUD, Algorithm::RS256, "rsa-1");
    let server = TestServer::start_config(&config(&issuer, Userinfo::At(&idp.url("userinfo")))).await;
    (issuer, server)
}

/// A subject of its own: on DynamoDB the suites share one table.
fn subject(server: &TestServer, name: &str) -> String {
    format!("{name}-{}", server.clock.now().as_micros())
}

/// The UserInfo answer for `sub`.
fn userinfo(sub: &str, phone: &str) -> Canned {
    Canned::json(
        &json!({"sub": sub, "email": format!("{sub}@new.example.com"), "phone_number": phone, "zoneinfo": "x"}),
    )
}

/// A token exchange of `subject_token` as an access token (RFC 8693 `access_token` type).
async fn exchange_access_token(
    server: &TestServer,
    client: (&str, &str),
    subject_token: &str,
    extra: &[(&str, &str)],
) -> Reply {
    let mut pairs = vec![("grant_type", EXCHANGE), ("subject_token", subject_token), ("subject_token_type", AT_TYPE)];
    pairs.extend_from_slice(extra);
    let reply = server.post("/oauth2/token", Some(client), &pairs).await;
    assert_eq!(reply.status, 200, "an exchange never fails for its user details: {}", reply.text);
    reply
}

async fn access_token_of(server: &TestServer, subject_token: &str, extra: &[(&str, &str)]) -> String {
    let reply = exchange_access_token(server, EXCHANGER, subject_token, extra).await;
    reply.json()["access_token"].as_str().expect("access_token").to_owned()
}

/// What `caller` is shown as `user_details` for `token` (`Null` when none).
async fn details(server: &TestServer, caller: (&str, &str), token: &str) -> Value {
    let reply = server.post("/oauth2/introspect", Some(caller), &[("token", token)]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let answer = reply.json();
    assert_eq!(answer["active"], true, "{answer}");
    answer.get("user_details").cloned().unwrap_or(Value::Null)
}

/// What `caller` is shown as `user_details` for `token` introspected with `extra` parameters (`Null` when none); the
/// answer is always active.
async fn details_with(server: &TestServer, caller: (&str, &str), token: &str, extra: &[(&str, &str)]) -> Value {
    let mut pairs = vec![("token", token)];
    pairs.extend_from_slice(extra);
    let reply = server.post("/oauth2/introspect", Some(caller), &pairs).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let answer = reply.json();
    assert_eq!(answer["active"], true, "{answer}");
    answer.get("user_details").cloned().unwrap_or(Value::Null)
}

const REFRESH: [(&str, &str); 1] = [("refresh_user_details", "true")];

/// `issuer`'s RFC 9068 access token (`typ` `at+jwt`) for `sub`, issued now.
fn access_jwt(issuer: &TestIssuer, server: &TestServer, sub: &str) -> String {
    issuer.sign_access_token(&issuer.claims(sub, server.clock.now().as_secs()))
}

/// What the token alone carries, mapped (`email`, `given_name`): all a resource server sees without UserInfo.
fn own_claims(sub: &str) -> Value {
    json!({"email": format!("{sub}@example.com"), "given_name": "Alice"})
}

/// The token's own claims with UserInfo's over them, as [`userinfo`] answers for `sub`.
fn merged(sub: &str, phone: &str) -> Value {
    json!({"email": format!("{sub}@new.example.com"), "given_name": "Alice", "phoneNumber": phone})
}

/// OpenID Connect Core §5.3.1: the UserInfo endpoint takes an access token as a bearer credential. A trusted issuer's
/// JWT introspected is one when its `typ` says so (RFC 9068 §2.1); its first introspection by a caller shown
/// `user_details` then fetches its subject's details with it, and later ones read them from the cache. An ID token
/// (`typ` `JWT`, or none), a caller without the attribute, or a token Tessera issued never reaches the endpoint.
#[tokio::test]
async fn the_first_introspection_of_an_issuers_access_token_fetches_the_details_with_it() {
    let idp = UserinfoServer::start().await;
    let (issuer, server) = setup(&idp).await;
    let ivan = subject(&server, "ivan");
    idp.set("/userinfo", userinfo(&ivan, "+9"));
    let at = access_jwt(&issuer, &server, &ivan);

    // A caller that is not shown user details costs nothing: no fetch on its introspections.
    assert_eq!(details_with(&server, PLAIN, &at, &REFRESH).await, Value::Null);
    assert_eq!(idp.hits("/userinfo"), 0, "not for a caller without user_details");
    // ID tokens are no bearer credential for UserInfo, whatever their `typ` spells.
    let claims = issuer.claims(&ivan, server.clock.now().as_secs());
    let untyped = Header { kid: Some(issuer.kid.clone()), typ: None, ..Header::new(issuer.alg) };
    for id_token in [issuer.sign(&claims), issuer.sign_with_header(&claims, untyped)] {
        assert_eq!(details(&server, creds::RS, &id_token).await, own_claims(&ivan));
        assert_eq!(details_with(&server, creds::RS, &id_token, &REFRESH).await, own_claims(&ivan));
    }
    assert_eq!(idp.hits("/userinfo"), 0, "an ID token never reaches UserInfo");

    // The access token: fetched once, with it as the bearer (RFC 6750 §2.1), shown at once.
    assert_eq!(details(&server, creds::RS, &at).await, merged(&ivan, "+9"));
    assert_eq!(idp.hits("/userinfo"), 1);
    assert_eq!(idp.last_authorization(), Some(format!("Bearer {at}")));
    // Cached: the next introspections, of this token or another of ivan's, and his ID token, do not ask again.
    server.clock.advance_secs(1);
    let another = access_jwt(&issuer, &server, &ivan);
    for token in [&at, &another, &issuer.sign(&claims)] {
        assert_eq!(details(&server, creds::RS, token).await, merged(&ivan, "+9"));
    }
    assert_eq!(idp.hits("/userinfo"), 1);
    // The application/at+jwt spelling is an access token too (RFC 7515 §4.1.9).
    let judy = subject(&server, "judy");
    idp.set("/userinfo", userinfo(&judy, "+10"));
    let media_type =
        Header { kid: Some(issuer.kid.clone()), typ: Some("application/AT+JWT".into()), ..Header::new(issuer.alg) };
    let spelled = issuer.sign_with_header(&issuer.claims(&judy, server.clock.now().as_secs()), media_type);
    assert_eq!(details(&server, creds::RS, &spelled).await, merged(&judy, "+10"));
    assert_eq!(idp.hits("/userinfo"), 2);

    // A token Tessera issued is no credential of the user's at the identity provider: exchanged (as a bare `jwt`, so
    // the exchange fetches nothing) and introspected with `refresh_user_details=true`, it is answered from the cache.
    let kim = subject(&server, "kim");
    idp.set("/userinfo", userinfo(&kim, "+11"));
    let reply = exchange(&server, EXCHANGER, &access_jwt(&issuer, &server, &kim), &[]).await;
    let ours = reply.json()["access_token"].as_str().expect("access_token").to_owned();
    assert_eq!(details_with(&server, creds::RS, &ours, &REFRESH).await, own_claims(&kim));
    assert_eq!(idp.hits("/userinfo"), 2, "a Tessera token never reaches UserInfo");
}

/// An issuer whose entry says `untyped_access_tokens = true` (its JWTs at Tessera's audiences are access tokens
/// whatever their `typ`: many issuers type theirs `JWT`, or not at all) has them presented to its UserInfo endpoint
/// like an `at+jwt`. Without an endpoint the setting means nothing, so it is refused.
#[tokio::test]
async fn an_issuer_may_say_its_untyped_jwts_are_access_tokens() {
    let idp = UserinfoServer::start().await;
    let issuer = TestIssuer::generate("https://alice-corp.eu.auth0.com/", AUD, Algorithm::RS256, "rsa-1");
    let mut untyped = config(&issuer, Userinfo::At(&idp.url("userinfo")));
    untyped.trusted_issuers.last_mut().expect("the issuer").untyped_access_tokens = true;
    let server = TestServer::start_config(&untyped).await;
    let pat = subject(&server, "pat");
    idp.set("/userinfo", userinfo(&pat, "+13"));
    let jwt = issuer.sign(&issuer.claims(&pat, server.clock.now().as_secs()));
    assert_eq!(details(&server, PLAIN, &jwt).await, Value::Null);
    assert_eq!(idp.hits("/userinfo"), 0, "not for a caller without user_details");
    assert_eq!(details(&server, creds::RS, &jwt).await, merged(&pat, "+13"));
    assert_eq!(idp.hits("/userinfo"), 1);
    assert_eq!(idp.last_authorization(), Some(format!("Bearer {jwt}")));

    let mut pointless = exchange_config(&[&issuer]);
    pointless.trusted_issuers[0].untyped_access_tokens = true;
    assert!(TestServer::config_error(&pointless).contains("untyped_access_tokens needs userinfo_endpoint"));
}

/// OneWelcome's `refresh_user_details=true` on introspection, for a trusted issuer's access token: fetched again,
/// and shown in that very answer, once the per-subject rate limit (a minute since the last attempt, whatever made
/// it) allows; within it, answered from the cache. Any value but `true` or `false` is `invalid_request` (RFC 7662
/// §2.3), as at the token endpoint.
#[tokio::test]
async fn refresh_user_details_on_introspection_refetches_once_the_rate_limit_allows() {
    let idp = UserinfoServer::start().await;
    let (issuer, server, leo) = served(&idp, "leo", "+1 first", Duration::ZERO).await;
    let at = access_jwt(&issuer, &server, &leo);
    assert_eq!(details(&server, creds::RS, &at).await, merged(&leo, "+1 first"));
    assert_eq!(idp.hits("/userinfo"), 1);

    idp.set("/userinfo", userinfo(&leo, "+2 second"));
    server.clock.advance_secs(USER_DETAILS_MIN_REFETCH_SECS - 1);
    assert_eq!(details_with(&server, creds::RS, &at, &REFRESH).await, merged(&leo, "+1 first"));
    assert_eq!(idp.hits("/userinfo"), 1, "rate-limited: a fetch for leo less than a minute ago");
    server.clock.advance_secs(1);
    assert_eq!(details_with(&server, creds::RS, &at, &REFRESH).await, merged(&leo, "+2 second"));
    assert_eq!(idp.hits("/userinfo"), 2);
    // Without the parameter, live details are not fetched again, by this token or a later one; `false` is the same
    // as absent.
    server.clock.advance_secs(3_000);
    let at = access_jwt(&issuer, &server, &leo);
    for extra in [&[][..], &[("refresh_user_details", "false")][..]] {
        assert_eq!(details_with(&server, creds::RS, &at, extra).await, merged(&leo, "+2 second"));
    }
    assert_eq!(idp.hits("/userinfo"), 2);
    // An exchange's fetch and an introspection's share the one rate limit of the subject.
    idp.set("/userinfo", userinfo(&leo, "+3 third"));
    let subject_token = access_jwt(&issuer, &server, &leo);
    exchange_access_token(&server, EXCHANGER, &subject_token, &REFRESH).await;
    assert_eq!(idp.hits("/userinfo"), 3);
    assert_eq!(details_with(&server, creds::RS, &at, &REFRESH).await, merged(&leo, "+3 third"));
    assert_eq!(idp.hits("/userinfo"), 3, "rate-limited by the exchange's fetch");

    for bad in ["maybe", "TRUE", "1"] {
        let reply =
            server.post("/oauth2/introspect", Some(creds::RS), &[("token", &at), ("refresh_user_details", bad)]).await;
        reply.assert_error(400, "invalid_request");
    }
    assert_eq!(idp.hits("/userinfo"), 3);
}

/// An outage of the UserInfo endpoint never fails an introspection: a 500, a 401 (the identity provider no longer
/// takes the token) or a timeout keeps the cached details, and the answer is active as ever; with none cached, the
/// token's own claims are shown, and the failed attempt counts against the rate limit.
#[tokio::test]
async fn an_endpoint_failing_at_introspection_keeps_the_cached_details_and_answers_active() {
    let idp = UserinfoServer::start().await;
    let (issuer, server, mia) = served(&idp, "mia", "+4 good", Duration::ZERO).await;
    let at = access_jwt(&issuer, &server, &mia);
    let good = details(&server, creds::RS, &at).await;
    assert_eq!(good, merged(&mia, "+4 good"));

    let mut hung = userinfo(&mia, "+4 late");
    hung.delay = Duration::from_secs(4); // past the fetch budget (3 s)
    let failures = [
        ("a server error (500)", Canned::raw(500, "application/json", "{}")),
        ("unauthorized (401)", Canned::raw(401, "application/json", r#"{"error":"invalid_token"}"#)),
        ("down (503)", Canned::raw(503, "text/plain", "unavailable")),
        ("too slow", hung),
    ];
    for (n, (what, answer)) in failures.into_iter().enumerate() {
        idp.set("/userinfo", answer);
        server.clock.advance_secs(USER_DETAILS_MIN_REFETCH_SECS);
        let started = std::time::Instant::now();
        assert_eq!(details_with(&server, creds::RS, &at, &REFRESH).await, good, "{what}: the cached details are kept");
        assert!(started.elapsed() < Duration::from_millis(3_900), "{what}: within the fetch budget");
        assert_eq!(idp.hits("/userinfo"), n + 2, "{what}: asked");
    }

    // Nothing cached yet: the token's own claims, and no second request within the minute.
    let nia = subject(&server, "nia");
    idp.set("/userinfo", Canned::raw(503, "text/plain", "unavailable"));
    let nias = access_jwt(&issuer, &server, &nia);
    let hits = idp.hits("/userinfo");
    assert_eq!(details(&server, creds::RS, &nias).await, own_claims(&nia));
    assert_eq!(details(&server, creds::RS, &nias).await, own_claims(&nia));
    assert_eq!(idp.hits("/userinfo"), hits + 1);
    // Once the minute has passed and the endpoint is back, the next introspection fetches.
    idp.set("/userinfo", userinfo(&nia, "+5"));
    server.clock.advance_secs(USER_DETAILS_MIN_REFETCH_SECS);
    assert_eq!(details(&server, creds::RS, &nias).await, merged(&nia, "+5"));
    assert_eq!(idp.hits("/userinfo"), hits + 2);
}

/// A server trusting an issuer whose UserInfo endpoint answers for a new subject `name` (`phone` its number) after
/// `delay` (200 ms makes concurrent requests for it overlap); and that subject.
async fn served(
    idp: &UserinfoServer,
    name: &str,
    phone: &str,
    delay: Duration,
) -> (TestIssuer, Arc<TestServer>, String) {
    let (issuer, server) = setup(idp).await;
    let sub = subject(&server, name);
    let mut answer = userinfo(&sub, phone);
    answer.delay = delay;
    idp.set("/userinfo", answer);
    (issuer, Arc::new(server), sub)
}

/// Of concurrent first introspections of one subject's access token, one claims the fetch (the compare-and-set on
/// the subject's `attempted_at`, as for exchanges); every answer is active.
#[tokio::test]
async fn concurrent_introspections_of_one_subject_fetch_once() {
    let idp = UserinfoServer::start().await;
    let (issuer, server, olga) = served(&idp, "olga", "+12", Duration::from_millis(200)).await;
    let at = access_jwt(&issuer, &server, &olga);
    let introspections: Vec<_> = (0..10)
        .map(|_| {
            let (server, at) = (server.clone(), at.clone());
            tokio::spawn(async move { details(&server, creds::RS, &at).await })
        })
        .collect();
    for introspection in introspections {
        let shown = introspection.await.unwrap();
        assert!(shown == merged(&olga, "+12") || shown == own_claims(&olga), "{shown}");
    }
    assert_eq!(idp.hits("/userinfo"), 1, "one introspection claimed the fetch; the others found it claimed");
    assert_eq!(details(&server, creds::RS, &at).await, merged(&olga, "+12"));
}

#[tokio::test]
async fn details_are_fetched_at_exchange_cached_and_shown_to_profiled_callers_only() {
    let idp = UserinfoServer::start().await;
    let (issuer, server) = setup(&idp).await;
    let alice = subject(&server, "alice");
    idp.set("/userinfo", userinfo(&alice, "+31612345678"));
    let subject_token = issuer.sign(&issuer.claims(&alice, server.clock.now().as_secs()));

    let jwt = access_token_of(&server, &subject_token, &[]).await;
    assert_eq!(idp.hits("/userinfo"), 1);
    // OpenID Connect Core §5.3.1: the access token, as a bearer token (RFC 6750 §2.1).
    assert_eq!(idp.last_authorization(), Some(format!("Bearer {subject_token}")));
    // OneWelcome's shape: one `user_details` object. The UserInfo claims join (and override) those the subject token
    // carried; unmapped ones (`zoneinfo`) are not kept.
    let expected =
        json!({"email": format!("{alice}@new.example.com"), "given_name": "Alice", "phoneNumber": "+31612345678"});
    assert_eq!(details(&server, creds::RS, &jwt).await, expected);
    // A resource server without the `user_details` attribute gets nothing new.
    assert_eq!(details(&server, PLAIN, &jwt).await, Value::Null);

    // Cached: the next exchanges of alice do not ask again, and their tokens (opaque ones too) show the details.
    let opaque = exchange_access_token(&server, EXCHANGER_OPAQUE, &subject_token, &[]).await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(details(&server, creds::RS, &opaque).await, expected);
    assert_eq!(idp.hits("/userinfo"), 1);

    // An ID token or a bare JWT is no bearer credential for UserInfo: a `jwt` subject token fetches nothing.
    let bob = subject(&server, "bob");
    idp.set("/userinfo", userinfo(&bob, "+1"));
    let bob_token = issuer.sign(&issuer.claims(&bob, server.clock.now().as_secs()));
    let reply = exchange(&server, EXCHANGER, &bob_token, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(idp.hits("/userinfo"), 1);
    let bobs = reply.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        details(&server, creds::RS, &bobs).await,
        json!({"email": format!("{bob}@example.com"), "given_name": "Alice"})
    );

    // A trusted issuer's own token, introspected: the cached details of its subject are shown too.
    assert_eq!(details(&server, creds::RS, &subject_token).await, expected);

    // After the issuer's TTL (a day by default; the table's TTL attribute rounds up to the second) the details are
    // gone, and the next exchange fetches them again.
    server.clock.advance_secs(86_401);
    idp.set("/userinfo", userinfo(&alice, "+31612345678"));
    let later = issuer.sign(&issuer.claims(&alice, server.clock.now().as_secs()));
    let fresh = access_token_of(&server, &later, &[]).await;
    assert_eq!(idp.hits("/userinfo"), 2);
    assert_eq!(details(&server, creds::RS, &fresh).await, expected);
}

#[tokio::test]
async fn refresh_user_details_refetches_at_most_once_a_minute_per_subject() {
    let idp = UserinfoServer::start().await;
    let (issuer, server) = setup(&idp).await;
    let alice = subject(&server, "alice");
    idp.set("/userinfo", userinfo(&alice, "+1 first"));
    let token = |server: &TestServer| issuer.sign(&issuer.claims(&alice, server.clock.now().as_secs()));
    let first = access_token_of(&server, &token(&server), &[]).await;
    assert_eq!(idp.hits("/userinfo"), 1);

    idp.set("/userinfo", userinfo(&alice, "+2 second"));
    let refresh = [("refresh_user_details", "true")];
    access_token_of(&server, &token(&server), &refresh).await;
    assert_eq!(idp.hits("/userinfo"), 1, "rate-limited: a fetch for alice less than a minute ago");
    // On introspection, `refresh_user_details` is answered from the cache: Tessera holds no credential of alice.
    let reply = server
        .post("/oauth2/introspect", Some(creds::RS), &[("token", &first), ("refresh_user_details", "true")])
        .await;
    assert_eq!(reply.json()["user_details"]["phoneNumber"], "+1 first");
    assert_eq!(idp.hits("/userinfo"), 1);

    server.clock.advance_secs(USER_DETAILS_MIN_REFETCH_SECS);
    access_token_of(&server, &token(&server), &refresh).await;
    assert_eq!(idp.hits("/userinfo"), 2);
    // Every token of alice shows the new details, the earlier one too: they are read from her one item.
    assert_eq!(details(&server, creds::RS, &first).await["phoneNumber"], "+2 second");

    // Without `refresh_user_details`, live details are not fetched again, however much time passes within the TTL.
    server.clock.advance_secs(3_600);
    access_token_of(&server, &token(&server), &[]).await;
    assert_eq!(idp.hits("/userinfo"), 2);
    let bad = server
        .post(
            "/oauth2/token",
            Some(EXCHANGER),
            &[
                ("grant_type", EXCHANGE),
                ("subject_token", &token(&server)),
                ("subject_token_type", AT_TYPE),
                ("refresh_user_details", "yes"),
            ],
        )
        .await;
    bad.assert_error(400, "invalid_request");
}

#[tokio::test]
async fn concurrent_exchanges_of_one_subject_fetch_once() {
    let idp = UserinfoServer::start().await;
    let (issuer, server, carol) = served(&idp, "carol", "+3", Duration::from_millis(200)).await;
    let subject_token = issuer.sign(&issuer.claims(&carol, server.clock.now().as_secs()));
    let exchanges: Vec<_> = (0..10)
        .map(|_| {
            let (server, subject_token) = (server.clone(), subject_token.clone());
            tokio::spawn(async move { access_token_of(&server, &subject_token, &[]).await })
        })
        .collect();
    let mut tokens = Vec::new();
    for exchange in exchanges {
        tokens.push(exchange.await.unwrap());
    }
    assert_eq!(idp.hits("/userinfo"), 1, "one exchange claimed the fetch; the others found it claimed");
    for token in &tokens {
        assert_eq!(details(&server, creds::RS, token).await["phoneNumber"], "+3");
    }
}

#[tokio::test]
async fn an_endpoint_that_fails_keeps_the_cached_details_and_fails_nothing() {
    let idp = UserinfoServer::start().await;
    let (issuer, server) = setup(&idp).await;
    let dave = subject(&server, "dave");
    idp.set("/userinfo", userinfo(&dave, "+4 good"));
    let token = |server: &TestServer| issuer.sign(&issuer.claims(&dave, server.clock.now().as_secs()));
    let cached = access_token_of(&server, &token(&server), &[]).await;
    let good = details(&server, creds::RS, &cached).await;
    assert_eq!(good["phoneNumber"], "+4 good");

    let mut hung = userinfo(&dave, "+4 late");
    hung.delay = Duration::from_secs(4); // past the issuer HTTP client's 3 s timeout
    let huge = json!({"sub": dave, "phone_number": "x".repeat(70 * 1024)}).to_string();
    let failures = [
        ("down (503)", Canned::raw(503, "text/plain", "unavailable")),
        ("a server error (500)", Canned::raw(500, "application/json", "{}")),
        ("not JSON", Canned::raw(200, "application/json", "<html>oops</html>")),
        ("a JSON array", Canned::raw(200, "application/json", "[]")),
        ("signed (application/jwt)", Canned::raw(200, "application/jwt", "eyJ.eyJ.sig")),
        ("another sub (OIDC Core 5.3.2)", userinfo("mallory", "+666")),
        ("no sub", Canned::json(&json!({"phone_number": "+666"}))),
        ("over 64 KiB", Canned::raw(200, "application/json", &huge)),
        ("mapped claims over 2 KiB", userinfo(&dave, &"9".repeat(3_000))),
        ("too slow", hung),
    ];
    for (n, (what, answer)) in failures.into_iter().enumerate() {
        idp.set("/userinfo", answer);
        server.clock.advance_secs(USER_DETAILS_MIN_REFETCH_SECS);
        let token = access_token_of(&server, &token(&server), &[("refresh_user_details", "true")]).await;
        assert_eq!(idp.hits("/userinfo"), n + 2, "{what}: asked");
        assert_eq!(details(&server, creds::RS, &token).await, good, "{what}: the cached details are kept");
    }

    // A subject with nothing cached yet: the exchange succeeds without them, and the next one within the minute
    // does not ask again (the failed attempt counts against the rate limit).
    let erin = subject(&server, "erin");
    idp.set("/userinfo", Canned::raw(503, "text/plain", "unavailable"));
    let erin_token = issuer.sign(&issuer.claims(&erin, server.clock.now().as_secs()));
    let hits = idp.hits("/userinfo");
    let token = access_token_of(&server, &erin_token, &[]).await;
    assert_eq!(
        details(&server, creds::RS, &token).await,
        json!({"email": format!("{erin}@example.com"), "given_name": "Alice"})
    );
    access_token_of(&server, &erin_token, &[]).await;
    assert_eq!(idp.hits("/userinfo"), hits + 1);
    // Once the minute has passed and the endpoint is back, the next exchange fetches.
    idp.set("/userinfo", userinfo(&erin, "+5"));
    server.clock.advance_secs(USER_DETAILS_MIN_REFETCH_SECS);
    let erin_token = issuer.sign(&issuer.claims(&erin, server.clock.now().as_secs()));
    let token = access_token_of(&server, &erin_token, &[]).await;
    assert_eq!(details(&server, creds::RS, &token).await["phoneNumber"], "+5");
}

#[tokio::test]
async fn the_endpoint_is_discovered_from_oidc_or_rfc_8414_metadata() {
    for (path, label) in [
        ("/.well-known/openid-configuration", "OIDC Discovery"),
        ("/.well-known/oauth-authorization-server", "RFC 8414"),
    ] {
        let idp = UserinfoServer::start().await;
        let issuer = TestIssuer::generate(&idp.base, AUD, Algorithm::ES256, "ec-1");
        idp.set(path, Canned::json(&json!({"issuer": idp.base, "userinfo_endpoint": idp.url("me")})));
        let server = TestServer::start_config(&config(&issuer, Userinfo::Discovered)).await;
        let frank = subject(&server, "frank");
        idp.set("/me", userinfo(&frank, "+6"));
        let token =
            access_token_of(&server, &issuer.sign(&issuer.claims(&frank, server.clock.now().as_secs())), &[]).await;
        assert_eq!(idp.hits(path), 1, "{label}");
        assert_eq!(idp.hits("/me"), 1, "{label}");
        assert_eq!(details(&server, creds::RS, &token).await["phoneNumber"], "+6", "{label}");
    }

    // Metadata that names another issuer (Discovery §4.3, RFC 8414 §3.3) is not used: nothing is fetched.
    let idp = UserinfoServer::start().await;
    let issuer = TestIssuer::generate(&idp.base, AUD, Algorithm::ES256, "ec-1");
    let forged = json!({"issuer": "https://evil.example/", "userinfo_endpoint": idp.url("me")});
    idp.set("/.well-known/openid-configuration", Canned::json(&forged));
    let server = TestServer::start_config(&config(&issuer, Userinfo::Discovered)).await;
    let grace = subject(&server, "grace");
    idp.set("/me", userinfo(&grace, "+7"));
    let token = access_token_of(&server, &issuer.sign(&issuer.claims(&grace, server.clock.now().as_secs())), &[]).await;
    assert_eq!(idp.hits("/me"), 0);
    assert!(details(&server, creds::RS, &token).await.get("phoneNumber").is_none());
}

#[tokio::test]
async fn introspection_reads_the_details_in_its_one_round_trip() {
    let idp = UserinfoServer::start().await;
    let issuer = TestIssuer::generate("https://alice-corp.eu.auth0.com/", AUD, Algorithm::RS256, "rsa-1");
    let config = config(&issuer, Userinfo::At(&idp.url("userinfo")));
    let store = Arc::new(CountingStore::new(backend_store(&config).await));
    let server = TestServer::start_on(&config, store.clone()).await;
    let heidi = subject(&server, "heidi");
    idp.set("/userinfo", userinfo(&heidi, "+8"));
    let subject_token = issuer.sign(&issuer.claims(&heidi, server.clock.now().as_secs()));
    let jwt = access_token_of(&server, &subject_token, &[]).await;
    let opaque = exchange_access_token(&server, EXCHANGER_OPAQUE, &subject_token, &[]).await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let client_token = server.issue(creds::JWT, &[]).await;
    store.take();
    store.take_items();
    for (token, keys, what) in [
        (jwt.as_str(), 7, "a user's JWT: caller, denylist entry, four watermarks, user details"),
        (opaque.as_str(), 7, "a user's opaque token: caller, record, four watermarks, user details"),
        (client_token.as_str(), 6, "a client's own token: no user details to read"),
    ] {
        let reply = server.introspect(token).await;
        assert_eq!(reply.json()["active"], true, "{what}");
        assert_eq!(store.take().reads, 1, "{what}");
        assert_eq!(store.take_items().keys_read, keys, "{what}");
    }
}

#[test]
fn only_https_or_loopback_userinfo_endpoints_are_accepted() {
    let issuer = TestIssuer::generate("https://alice-corp.eu.auth0.com/", AUD, Algorithm::RS256, "rsa-1");
    let refused = config(&issuer, Userinfo::At("http://idp.example/userinfo"));
    assert!(TestServer::config_error(&refused).contains("userinfo_endpoint must be https"));
    let plain_issuer = TestIssuer::generate("http://idp.example/", AUD, Algorithm::RS256, "rsa-1");
    let refused = config(&plain_issuer, Userinfo::Discovered);
    assert!(TestServer::config_error(&refused).contains("userinfo_discovery needs an https issuer"));
    let fine = config(&issuer, Userinfo::At("https://alice-corp.eu.auth0.com/userinfo"));
    assert_eq!(TestServer::config_error(&fine), "");
}

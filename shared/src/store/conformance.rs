//! The behavioural suite every [`TokenStore`] adapter must pass, written once and run against the embedded
//! store and against DynamoDB (the emulator). Each check works in a fresh random tenant, so runs against a
//! shared table never collide.

use std::collections::BTreeSet;

use super::{
    Fetched, IssuerJwks, JtiPurpose, JtiUse, Record, RegisteredIssuer, RegistrationStore, SeenEvent, StoreError,
    StoreKey, TokenStore, UsedJti,
};
use crate::domain::client::{Client, ClientId, SecretHash, TokenFormat};
use crate::domain::grant::Grant;
use crate::domain::id::FamilyId;
use crate::domain::revocation::{RevocationWatermark, RevokedJti, WatermarkTarget};
use crate::domain::scope::ScopeSet;
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;
use crate::domain::token::{OpaqueToken, TokenKind, TokenRecord};
use crate::entropy::{SystemEntropy, random_bytes};

const NOW: Timestamp = Timestamp::from_secs(1_800_000_000);

/// A tenant no other check uses.
pub(crate) fn fresh_tenant() -> TenantId {
    let bytes: [u8; 6] = random_bytes(&SystemEntropy).expect("entropy");
    let suffix: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    TenantId::parse(&format!("conformance-{suffix}")).expect("valid tenant")
}

/// A fresh opaque access token's record in `tenant`, expiring at `expires_at`.
pub(crate) fn token_record(tenant: &TenantId, expires_at: Timestamp) -> TokenRecord {
    let secret: [u8; 32] = random_bytes(&SystemEntropy).expect("entropy");
    let family = FamilyId::from_bytes(random_bytes(&SystemEntropy).expect("entropy"));
    let grant = Grant {
        tenant: tenant.clone(),
        client_id: ClientId::parse("conformance-client").expect("valid id"),
        subject: "conformance-client".into(),
        username: None,
        user_details: Default::default(),
        amr: Vec::new(),
        app: Default::default(),
        scope: ScopeSet::parse("read write").expect("valid scope"),
        audience: vec!["https://api.example".into()],
        family,
        issued_at: NOW,
        expires_at,
        confirmation: None,
    };
    TokenRecord::new(&OpaqueToken::mint(TokenKind::AccessToken, &grant, secret), grant)
}

/// A client of `tenant` called `id`.
pub(crate) fn client(tenant: &TenantId, id: &str) -> Client {
    Client {
        tenant: tenant.clone(),
        client_id: ClientId::parse(id).expect("valid id"),
        authentication: crate::domain::client::ClientAuthentication::Secret(SecretHash::new(
            "conformance-secret",
            [1; 16],
        )),
        scopes: ScopeSet::parse("read").expect("valid scope"),
        default_scopes: ScopeSet::parse("read").expect("valid scope"),
        grant_types: BTreeSet::new(),
        access_token_format: TokenFormat::Opaque,
        access_token_ttl_secs: 60,
        refresh_token_ttl_secs: 60,
        may_introspect: true,
        audiences: vec![],
        disabled: false,
        introspection_profile: Default::default(),
        revoke_access_on_refresh: true,
        app: crate::domain::client::AppAttributes {
            app_identifier: Some("com.example.conformance".into()),
            app_platform: Some("ios".into()),
            app_version: Some("1.2.3".into()),
        },
        require_dpop: false,
        certificate_bound_access_tokens: false,
    }
}

/// Runs every check against `store`.
pub async fn run_all<S: TokenStore + RegistrationStore>(store: &S) {
    put_new_never_overwrites(store).await;
    a_new_item_replaces_an_expired_one(store).await;
    get_many_reads_several_kinds_at_once(store).await;
    expired_items_are_dropped_on_read(store).await;
    mark_revoked_keeps_the_first_time(store).await;
    watermarks_only_rise(store).await;
    an_event_raises_a_watermark_once(store).await;
    put_new_all_is_all_or_nothing(store).await;
    rotation_succeeds_exactly_once(store).await;
    a_rotation_marks_its_family_for_access_tokens_only(store).await;
    external_tokens_record_and_revoke(store).await;
    user_details_are_compare_and_set_on_their_attempt(store).await;
    a_one_time_jti_is_used_once(store).await;
    a_one_time_jti_is_usable_again_once_its_use_expired(store).await;
    clients_round_trip(store).await;
}

/// A conditional put finds the key taken and leaves the first item as it was.
pub async fn put_new_never_overwrites(store: &dyn TokenStore) {
    let tenant = fresh_tenant();
    let first = token_record(&tenant, NOW.plus_secs(60));
    let mut second = first.clone();
    second.grant.subject = "intruder".into();
    store.put_new(Record::Token(first.clone()), NOW).await.expect("first put");
    let err = store.put_new(Record::Token(second), NOW).await.expect_err("second put must fail");
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err:?}");
    let key = StoreKey::token(&tenant, &first.token_hash);
    let got = Fetched::new(store.get_many(std::slice::from_ref(&key)).await.expect("read"), NOW);
    assert_eq!(got.token(&key), Some(&first));
}

/// An item past its expiry that the store still holds (DynamoDB's TTL deletes lazily, up to days late) is absent for
/// every reader, so a new item's write replaces it rather than finding its key taken: `put_new`, each item of
/// `put_new_all` and a rotation's new tokens, judged at the writer's `now`. Up to the expiry, the item holds its
/// key; a recorded external token holds it its issuer's skew longer, as readers keep it; an item that never expires
/// (a client) holds it always. (The suite's instants lie ahead of the real clock, so DynamoDB deletes none of these
/// items in between.)
pub async fn a_new_item_replaces_an_expired_one(store: &dyn TokenStore) {
    use crate::domain::token::{ExternalTokenRecord, TokenHash};
    use crate::jwt::external::EXTERNAL_LEEWAY_SECS;
    let tenant = fresh_tenant();
    let expiry = NOW.plus_secs(10);
    let just_before = Timestamp::from_micros(expiry.as_micros() - 1);
    let read = async |key: &StoreKey| store.get_many(std::slice::from_ref(key)).await.expect("read");
    let taken = |result: Result<(), StoreError>| matches!(result, Err(StoreError::AlreadyExists(_)));

    let first = token_record(&tenant, expiry);
    let key = StoreKey::token(&tenant, &first.token_hash);
    store.put_new(Record::Token(first.clone()), NOW).await.expect("first put");
    let mut second = first.clone();
    second.grant.subject = "the key's next holder".into();
    second.grant.expires_at = NOW.plus_secs(70);
    assert!(taken(store.put_new(Record::Token(second.clone()), just_before).await), "live until its expiry");
    assert_eq!(read(&key).await, vec![Record::Token(first)], "expired at {expiry:?}, and still stored");
    store.put_new(Record::Token(second.clone()), expiry).await.expect("the expired item is replaced");
    assert_eq!(read(&key).await, vec![Record::Token(second.clone())]);
    assert!(taken(store.put_new(Record::Token(second), NOW.plus_secs(20)).await), "the new item is live");

    // A recorded external token: readers keep it its issuer's skew past its TTL, and so does its key.
    let external = ExternalTokenRecord {
        tenant: tenant.clone(),
        token_hash: TokenHash::of(&format!("external-reused-{tenant}")),
        issuer: "https://idp.example/".into(),
        subject: "auth0|alice".into(),
        issued_at: NOW,
        expires_at: expiry,
        revoked_at: Some(NOW),
    };
    let external_key = StoreKey::token(&tenant, &external.token_hash);
    let skewed = expiry.plus_secs(EXTERNAL_LEEWAY_SECS);
    store.put_new(Record::ExternalToken(external.clone()), NOW).await.expect("record");
    let renewed =
        ExternalTokenRecord { issued_at: skewed, expires_at: skewed.plus_secs(600), revoked_at: None, ..external };
    let early = store.put_new(Record::ExternalToken(renewed.clone()), Timestamp::from_micros(skewed.as_micros() - 1));
    assert!(taken(early.await), "kept its issuer's skew past its TTL");
    store.put_new(Record::ExternalToken(renewed.clone()), skewed).await.expect("replaced after the skew");
    assert_eq!(read(&external_key).await, vec![Record::ExternalToken(renewed)]);

    // A transaction: an expired item's key is free, a live item's still fails the whole transaction.
    let (expired, live) = (token_record(&tenant, expiry), token_record(&tenant, NOW.plus_secs(60)));
    store.put_new_all(vec![Record::Token(expired.clone()), Record::Token(live.clone())], NOW).await.expect("both");
    let (fresh, other) = (token_record(&tenant, NOW.plus_secs(60)), token_record(&tenant, NOW.plus_secs(60)));
    let reissued = TokenRecord { grant: Grant { expires_at: NOW.plus_secs(60), ..expired.grant.clone() }, ..expired };
    let refused = store.put_new_all(vec![Record::Token(fresh.clone()), Record::Token(live)], expiry).await;
    assert!(taken(refused), "the live item still refuses");
    assert!(read(&StoreKey::token(&tenant, &fresh.token_hash)).await.is_empty(), "nothing of it landed");
    let both = vec![Record::Token(reissued.clone()), Record::Token(other.clone())];
    store.put_new_all(both, expiry).await.expect("the expired item's key is free");
    let reissued_key = StoreKey::token(&tenant, &reissued.token_hash);
    assert_eq!(read(&reissued_key).await, vec![Record::Token(reissued.clone())]);

    // A rotation's new token, at the rotation's instant.
    let old = token_record(&tenant, NOW.plus_secs(120));
    store.put_new(Record::Token(old.clone()), NOW).await.expect("put");
    let old_key = StoreKey::token(&tenant, &old.token_hash);
    let successor =
        TokenRecord { grant: Grant { expires_at: NOW.plus_secs(90), ..reissued.grant.clone() }, ..reissued };
    let early = store.rotate(&old_key, NOW.plus_secs(59), vec![Record::Token(successor.clone())], None).await;
    assert!(matches!(early, Err(StoreError::AlreadyExists(_))), "{early:?}");
    store.rotate(&old_key, NOW.plus_secs(60), vec![Record::Token(successor.clone())], None).await.expect("rotated");
    assert_eq!(read(&reissued_key).await, vec![Record::Token(successor)]);

    // A client never expires: its key is never free.
    let registered = client(&tenant, "kept");
    store.put_new(Record::Client(registered.clone()), NOW).await.expect("a client");
    let far = Timestamp::from_secs(u32::MAX.into());
    assert!(taken(store.put_new(Record::Client(registered), far).await));
}

/// One read returns a token, a denylist entry and a watermark together, and skips missing keys.
pub async fn get_many_reads_several_kinds_at_once(store: &dyn TokenStore) {
    let tenant = fresh_tenant();
    let token = token_record(&tenant, NOW.plus_secs(60));
    let jti =
        RevokedJti { tenant: tenant.clone(), jti: "jti-1".into(), revoked_at: NOW, expires_at: NOW.plus_secs(60) };
    let mark = RevocationWatermark {
        tenant: tenant.clone(),
        target: WatermarkTarget::subject("alice"),
        revoked_before: NOW,
        access_revoked_before: None,
        expires_at: NOW.plus_secs(60),
    };
    store.put_new(Record::Token(token.clone()), NOW).await.expect("put token");
    store.put_new(Record::RevokedJti(jti), NOW).await.expect("put jti");
    store.raise_watermark(mark.clone(), None).await.expect("put watermark");
    let keys = [
        StoreKey::token(&tenant, &token.token_hash),
        StoreKey::revoked_jti(&tenant, "jti-1"),
        StoreKey::watermark(&tenant, &mark.target),
        StoreKey::revoked_jti(&tenant, "missing"),
    ];
    let got = Fetched::new(store.get_many(&keys).await.expect("read"), NOW);
    assert_eq!(got.token(&keys[0]), Some(&token));
    assert!(got.has_revoked_jti(&keys[1]));
    assert_eq!(got.watermarks(&keys[2..3]), vec![NOW]);
    assert!(!got.has_revoked_jti(&keys[3]));
}

/// An item past its `expires_at` that the store still holds reads as absent.
pub async fn expired_items_are_dropped_on_read(store: &dyn TokenStore) {
    let tenant = fresh_tenant();
    let token = token_record(&tenant, NOW.plus_secs(10));
    store.put_new(Record::Token(token.clone()), NOW).await.expect("put");
    let key = StoreKey::token(&tenant, &token.token_hash);
    let raw = store.get_many(std::slice::from_ref(&key)).await.expect("read");
    assert_eq!(raw.len(), 1, "the store keeps expired items until TTL deletion");
    assert!(Fetched::new(raw.clone(), NOW.plus_secs(9)).token(&key).is_some());
    assert!(Fetched::new(raw, NOW.plus_secs(10)).token(&key).is_none());
}

/// Revocation sticks, keeps its first time, and fails for a missing record.
pub async fn mark_revoked_keeps_the_first_time(store: &dyn TokenStore) {
    let tenant = fresh_tenant();
    let token = token_record(&tenant, NOW.plus_secs(60));
    store.put_new(Record::Token(token.clone()), NOW).await.expect("put");
    let key = StoreKey::token(&tenant, &token.token_hash);
    store.mark_revoked(&key, NOW.plus_secs(1)).await.expect("revoke");
    store.mark_revoked(&key, NOW.plus_secs(2)).await.expect("revoke again");
    let got = Fetched::new(store.get_many(std::slice::from_ref(&key)).await.expect("read"), NOW);
    assert_eq!(got.token(&key).and_then(|t| t.revoked_at), Some(NOW.plus_secs(1)));
    let missing = StoreKey::token(&tenant, &token_record(&tenant, NOW).token_hash);
    let err = store.mark_revoked(&missing, NOW).await.expect_err("missing record");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

/// A lower watermark never replaces a higher one.
pub async fn watermarks_only_rise(store: &dyn TokenStore) {
    let tenant = fresh_tenant();
    let target = WatermarkTarget::client(&ClientId::parse("c1").expect("valid id"));
    let mark = |at: Timestamp| RevocationWatermark {
        tenant: tenant.clone(),
        target: target.clone(),
        revoked_before: at,
        access_revoked_before: None,
        expires_at: NOW.plus_secs(3600),
    };
    assert!(store.raise_watermark(mark(NOW.plus_secs(5)), None).await.expect("raise"));
    assert!(!store.raise_watermark(mark(NOW.plus_secs(1)), None).await.expect("lower is a no-op"));
    let key = StoreKey::watermark(&tenant, &target);
    let got = Fetched::new(store.get_many(std::slice::from_ref(&key)).await.expect("read"), NOW);
    assert_eq!(got.watermarks(std::slice::from_ref(&key)), vec![NOW.plus_secs(5)]);
    assert!(store.raise_watermark(mark(NOW.plus_secs(9)), None).await.expect("raise"));
    let got = Fetched::new(store.get_many(std::slice::from_ref(&key)).await.expect("read"), NOW);
    assert_eq!(got.watermarks(std::slice::from_ref(&key)), vec![NOW.plus_secs(9)]);
}

/// An event id raises a watermark once: its re-delivery, even later (a higher mark), changes nothing, while
/// another event still raises it. Ids are remembered per watermark.
pub async fn an_event_raises_a_watermark_once(store: &dyn TokenStore) {
    let tenant = fresh_tenant();
    let mark = |target: WatermarkTarget, at: Timestamp| RevocationWatermark::at(&tenant, target, at);
    let alice = WatermarkTarget::subject("alice");
    let key = StoreKey::watermark(&tenant, &alice);
    let read = async |key: &StoreKey| {
        let got = Fetched::new(store.get_many(std::slice::from_ref(key)).await.expect("read"), NOW);
        got.watermarks(std::slice::from_ref(key))
    };
    assert!(store.raise_watermark(mark(alice.clone(), NOW), Some("evt-1")).await.expect("first delivery"));
    let again = store.raise_watermark(mark(alice.clone(), NOW.plus_secs(30)), Some("evt-1")).await;
    assert!(!again.expect("re-delivery"), "a re-delivered event must not move the mark");
    assert_eq!(read(&key).await, vec![NOW]);
    assert!(store.raise_watermark(mark(alice.clone(), NOW.plus_secs(60)), Some("evt-2")).await.expect("new event"));
    assert_eq!(read(&key).await, vec![NOW.plus_secs(60)]);
    // An event that lost to a higher mark is remembered all the same: its re-delivery later changes nothing.
    assert!(!store.raise_watermark(mark(alice.clone(), NOW.plus_secs(30)), Some("evt-3")).await.expect("lower"));
    let late = store.raise_watermark(mark(alice.clone(), NOW.plus_secs(90)), Some("evt-3")).await;
    assert!(!late.expect("late re-delivery"), "a lost event's re-delivery must not raise the mark");
    assert_eq!(read(&key).await, vec![NOW.plus_secs(60)]);
    // The same id on another watermark is another delivery target, not a duplicate.
    let bob = WatermarkTarget::subject("bob");
    assert!(store.raise_watermark(mark(bob.clone(), NOW), Some("evt-1")).await.expect("other target"));
    assert_eq!(read(&StoreKey::watermark(&tenant, &bob)).await, vec![NOW]);
    // Each event is remembered in an item of its own, beside the watermark (which every introspection reads, so it
    // must not grow), for as long as the mark its first delivery brought would live.
    let seen = store.get_many(&[StoreKey::seen_event(&tenant, &alice, "evt-3")]).await.expect("read");
    let expected = SeenEvent::of(&mark(alice.clone(), NOW.plus_secs(30)), "evt-3");
    assert_eq!(seen, vec![Record::SeenEvent(expected)]);
    let watermark = store.get_many(std::slice::from_ref(&key)).await.expect("read");
    assert_eq!(watermark, vec![Record::Watermark(mark(alice, NOW.plus_secs(60)))], "the watermark is unchanged");
}

/// Clients are stored, replaced, listed per tenant, and readable through `get_many`.
pub async fn clients_round_trip<S: TokenStore + RegistrationStore>(store: &S) {
    let tenant = fresh_tenant();
    let other = fresh_tenant();
    store.put_client(client(&tenant, "b")).await.expect("put");
    store.put_client(client(&tenant, "a")).await.expect("put");
    store.put_client(client(&other, "c")).await.expect("put");
    let mut disabled = client(&tenant, "a");
    disabled.disabled = true;
    store.put_client(disabled.clone()).await.expect("replace");
    let listed = store.list_clients(&tenant).await.expect("list");
    let ids: Vec<&str> = listed.iter().map(|c| c.client_id.as_str()).collect();
    assert_eq!(ids, ["a", "b"]);
    let key = StoreKey::client(&tenant, &disabled.client_id);
    let got = Fetched::new(store.get_many(std::slice::from_ref(&key)).await.expect("read"), NOW);
    assert_eq!(got.client(&key), Some(&disabled));

    let mut entry = RegisteredIssuer {
        tenant: tenant.clone(),
        issuer: "https://idp.example/".into(),
        audiences: vec!["a".into()],
        algorithms: vec!["RS256".into()],
        jwks: IssuerJwks::Uri("https://idp.example/jwks".into()),
        subject_claim: "sub".into(),
        username_claim: None,
        claims_mapping: Default::default(),
        record_tokens: false,
        userinfo: None,
    };
    store.put_trusted_issuer(entry.clone()).await.expect("put issuer");
    entry.audiences.push("b".into());
    store.put_trusted_issuer(entry.clone()).await.expect("replace issuer");
    let mut second = entry.clone();
    second.issuer = "https://another.example/".into();
    store.put_trusted_issuer(second.clone()).await.expect("a second issuer");
    assert_eq!(store.list_trusted_issuers(&tenant).await.expect("list"), vec![second.clone(), entry.clone()]);
    assert!(store.list_trusted_issuers(&other).await.expect("list").is_empty());
    // Every tenant's in one read.
    let both = store.trusted_issuers_of(&[tenant.clone(), other.clone()]).await.expect("read");
    assert_eq!(both.get(&tenant), Some(&vec![second, entry]));
    assert!(!both.contains_key(&other));

    // Deleted: gone from reads and lists; deleting again is no error; the other tenant keeps its client.
    store.delete(&key).await.expect("delete a client");
    store.delete(&key).await.expect("delete again");
    store.delete(&StoreKey::trusted_issuers(&tenant)).await.expect("delete the issuers");
    let got = Fetched::new(store.get_many(std::slice::from_ref(&key)).await.expect("read"), NOW);
    assert_eq!(got.client(&key), None);
    let ids: Vec<String> =
        store.list_clients(&tenant).await.expect("list").iter().map(|c| c.client_id.to_string()).collect();
    assert_eq!(ids, ["b"]);
    assert!(store.list_trusted_issuers(&tenant).await.expect("list").is_empty());
    assert_eq!(store.list_clients(&other).await.expect("list").len(), 1);
}

/// Several new items land together, or none does.
pub async fn put_new_all_is_all_or_nothing(store: &dyn TokenStore) {
    let tenant = fresh_tenant();
    let (a, b, c) = (
        token_record(&tenant, NOW.plus_secs(60)),
        token_record(&tenant, NOW.plus_secs(60)),
        token_record(&tenant, NOW.plus_secs(60)),
    );
    store.put_new_all(vec![Record::Token(a.clone()), Record::Token(b.clone())], NOW).await.expect("both new");
    let err =
        store.put_new_all(vec![Record::Token(c.clone()), Record::Token(a.clone())], NOW).await.expect_err("a exists");
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err:?}");
    let keys: Vec<_> = [&a, &b, &c].iter().map(|t| StoreKey::token(&tenant, &t.token_hash)).collect();
    let got = Fetched::new(store.get_many(&keys).await.expect("read"), NOW);
    assert!(got.token(&keys[0]).is_some() && got.token(&keys[1]).is_some());
    assert!(got.token(&keys[2]).is_none(), "nothing of a failed transaction lands");
}

/// A rotation marks the old token and writes its successor, once; a second rotation conflicts and writes
/// nothing; revoked or missing tokens cannot be rotated.
pub async fn rotation_succeeds_exactly_once(store: &dyn TokenStore) {
    let tenant = fresh_tenant();
    let old = token_record(&tenant, NOW.plus_secs(60));
    let (first, second) = (token_record(&tenant, NOW.plus_secs(60)), token_record(&tenant, NOW.plus_secs(60)));
    store.put_new(Record::Token(old.clone()), NOW).await.expect("put");
    let old_key = StoreKey::token(&tenant, &old.token_hash);
    store.rotate(&old_key, NOW.plus_secs(1), vec![Record::Token(first.clone())], None).await.expect("first rotation");
    let err =
        store.rotate(&old_key, NOW.plus_secs(2), vec![Record::Token(second.clone())], None).await.expect_err("reuse");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let keys: Vec<_> = [&old, &first, &second].iter().map(|t| StoreKey::token(&tenant, &t.token_hash)).collect();
    let got = Fetched::new(store.get_many(&keys).await.expect("read"), NOW);
    assert_eq!(got.token(&keys[0]).and_then(|t| t.rotated_at), Some(NOW.plus_secs(1)));
    assert_eq!(got.token(&keys[1]), Some(&first));
    assert!(got.token(&keys[2]).is_none(), "the losing rotation wrote nothing");

    let revoked = token_record(&tenant, NOW.plus_secs(60));
    store.put_new(Record::Token(revoked.clone()), NOW).await.expect("put");
    let revoked_key = StoreKey::token(&tenant, &revoked.token_hash);
    store.mark_revoked(&revoked_key, NOW).await.expect("revoke");
    let next = token_record(&tenant, NOW.plus_secs(60));
    assert!(matches!(
        store.rotate(&revoked_key, NOW, vec![Record::Token(next.clone())], None).await,
        Err(StoreError::Conflict(_))
    ));
    let missing = StoreKey::token(&tenant, &next.token_hash);
    assert!(matches!(store.rotate(&missing, NOW, vec![], None).await, Err(StoreError::Conflict(_))));
}

/// A rotation with a refresh mark sets it on the family's item in the same transaction: access tokens see it,
/// the watermarks proper do not (so a spent refresh token replayed is still reuse); the next rotation replaces it;
/// a family watermark raised later keeps it, and a mark set after one keeps that watermark.
pub async fn a_rotation_marks_its_family_for_access_tokens_only(store: &dyn TokenStore) {
    use crate::domain::revocation::{AppliedMark, MarkKind, RefreshedFamily};
    let tenant = fresh_tenant();
    let family = FamilyId::from_bytes(crate::entropy::random_bytes(&crate::entropy::SystemEntropy).expect("entropy"));
    let tenant = &tenant;
    let key = StoreKey::watermark(tenant, &WatermarkTarget::Family(family));
    let keys = std::slice::from_ref(&key);
    let rotate = |at: Timestamp| async move {
        let old = token_record(tenant, NOW.plus_secs(60));
        store.put_new(Record::Token(old.clone()), NOW).await.expect("put");
        let old_key = StoreKey::token(tenant, &old.token_hash);
        let next = token_record(tenant, NOW.plus_secs(60));
        let mark = RefreshedFamily::at_rotation(tenant, family, at);
        store.rotate(&old_key, at, vec![Record::Token(next)], Some(mark)).await
    };
    let refreshed = |at: Timestamp| AppliedMark { kind: MarkKind::FamilyRefreshed, revoked_before: at };

    rotate(NOW.plus_secs(1)).await.expect("first rotation");
    let got = Fetched::new(store.get_many(keys).await.expect("read"), NOW);
    assert_eq!(got.access_token_marks(keys), vec![refreshed(NOW.plus_secs(1))]);
    assert_eq!(got.marks(keys), vec![], "a refresh token is not under the refresh mark");
    assert!(got.watermarks(keys).is_empty());

    rotate(NOW.plus_secs(2)).await.expect("second rotation");
    let got = Fetched::new(store.get_many(keys).await.expect("read"), NOW);
    assert_eq!(got.access_token_marks(keys), vec![refreshed(NOW.plus_secs(2))]);

    // Reuse revokes the family: the final mark lands beside the refresh mark, which stays.
    let last = RevocationWatermark::final_for_family(tenant, family, NOW.plus_secs(3));
    assert!(store.raise_watermark(last.clone(), None).await.expect("raise"));
    let got = Fetched::new(store.get_many(keys).await.expect("read"), NOW);
    let family_mark = AppliedMark { kind: MarkKind::Family, revoked_before: last.revoked_before };
    assert_eq!(got.marks(keys), vec![family_mark]);
    assert_eq!(got.access_token_marks(keys), vec![family_mark, refreshed(NOW.plus_secs(2))]);

    // A rotation that commits after it (it read before the reuse) keeps the family's watermark.
    rotate(NOW.plus_secs(4)).await.expect("late rotation");
    let got = Fetched::new(store.get_many(keys).await.expect("read"), NOW);
    assert_eq!(got.marks(keys), vec![family_mark]);
    assert_eq!(got.access_token_marks(keys), vec![family_mark, refreshed(NOW.plus_secs(4))]);

    // Without a mark, a rotation leaves the family's item alone.
    let other = FamilyId::from_bytes([0xEE; 16]);
    let other_key = StoreKey::watermark(tenant, &WatermarkTarget::Family(other));
    let old = token_record(tenant, NOW.plus_secs(60));
    store.put_new(Record::Token(old.clone()), NOW).await.expect("put");
    store.rotate(&StoreKey::token(tenant, &old.token_hash), NOW, vec![], None).await.expect("rotate");
    let got = Fetched::new(store.get_many(std::slice::from_ref(&other_key)).await.expect("read"), NOW);
    assert!(got.access_token_marks(std::slice::from_ref(&other_key)).is_empty());
}

/// A recorded external JWT reads back, and revokes like an opaque token.
pub async fn external_tokens_record_and_revoke(store: &dyn TokenStore) {
    use crate::domain::token::{ExternalTokenRecord, TokenHash};
    let tenant = fresh_tenant();
    let record = ExternalTokenRecord {
        tenant: tenant.clone(),
        token_hash: TokenHash::of(&format!("external-{tenant}")),
        issuer: "https://idp.example/".into(),
        subject: "auth0|alice".into(),
        issued_at: NOW,
        expires_at: NOW.plus_secs(60),
        revoked_at: None,
    };
    store.put_new(Record::ExternalToken(record.clone()), NOW).await.expect("record");
    let key = StoreKey::token(&tenant, &record.token_hash);
    let got = Fetched::new(store.get_many(std::slice::from_ref(&key)).await.expect("read"), NOW);
    assert_eq!(got.external_token(&key), Some(&record));
    store.mark_revoked(&key, NOW.plus_secs(1)).await.expect("revoke");
    let got = Fetched::new(store.get_many(std::slice::from_ref(&key)).await.expect("read"), NOW);
    assert_eq!(got.external_token(&key).and_then(|t| t.revoked_at), Some(NOW.plus_secs(1)));
}

/// A subject's user details item is written only on the condition its writer read: absent (or expired) for the
/// first, the same `attempted_at` for the next; of two writers that read the same item, one wins.
pub async fn user_details_are_compare_and_set_on_their_attempt(store: &dyn TokenStore) {
    use crate::domain::id::IdTag;
    use crate::domain::user_details::UserDetailsRecord;
    let tenant = fresh_tenant();
    let subject = IdTag::of("auth0|alice");
    let key = StoreKey::user_details(&tenant, &subject);
    let first = UserDetailsRecord::attempt(None, &tenant, subject, "https://idp.example/", NOW);
    assert!(store.put_user_details(first.clone(), None).await.expect("first attempt"));
    assert!(!store.put_user_details(first.clone(), None).await.expect("a second first attempt loses"));
    let details = [("email".to_owned(), serde_json::json!("alice@example.com"))].into_iter().collect();
    let fetched = first.clone().fetched(details, NOW.plus_secs(1), 3_600);
    assert!(!store.put_user_details(fetched.clone(), Some(NOW.plus_secs(5))).await.expect("another attempt's"));
    assert!(store.put_user_details(fetched.clone(), Some(NOW)).await.expect("this attempt's"));
    let got = Fetched::new(store.get_many(std::slice::from_ref(&key)).await.expect("read"), NOW.plus_secs(2));
    assert_eq!(got.user_details(&key), Some(&fetched));
    // Past its TTL, the item reads as absent, and a first attempt may replace it.
    let after = NOW.plus_secs(3_602);
    let got = Fetched::new(store.get_many(std::slice::from_ref(&key)).await.expect("read"), after);
    assert_eq!(got.user_details(&key), None);
    let renewed = UserDetailsRecord::attempt(None, &tenant, subject, "https://idp.example/", after);
    assert!(store.put_user_details(renewed, None).await.expect("the expired item counts as absent"));
}

/// A one-time JWT id is accepted once per purpose and issuer: the second use, and of concurrent uses all but one,
/// are replays; the same `jti` from another issuer or for another purpose is a use of its own.
pub async fn a_one_time_jti_is_used_once(store: &dyn TokenStore) {
    let tenant = fresh_tenant();
    let used =
        |purpose, issuer: &str, jti: &str| UsedJti::new(tenant.clone(), purpose, issuer, jti, NOW.plus_secs(300));
    let assertion = used(JtiPurpose::ClientAssertion, "orders-service", "jti-1");
    assert_eq!(store.use_jti_once(assertion.clone(), NOW).await.expect("first use"), JtiUse::First);
    assert_eq!(store.use_jti_once(assertion.clone(), NOW).await.expect("second use"), JtiUse::Replayed);
    for other in [
        used(JtiPurpose::ClientAssertion, "billing-service", "jti-1"),
        used(JtiPurpose::DpopProof, "orders-service", "jti-1"),
        used(JtiPurpose::SecurityEvent, "orders-service", "jti-1"),
        // Length-prefixed parts: moving a character from the issuer to the jti is another id.
        used(JtiPurpose::ClientAssertion, "orders-servic", "ejti-1"),
    ] {
        assert_eq!(store.use_jti_once(other.clone(), NOW).await.expect("use"), JtiUse::First, "{other:?}");
    }
    let key = Record::UsedJti(assertion.clone()).key();
    let read = store.get_many(std::slice::from_ref(&key)).await.expect("read");
    assert_eq!(read, vec![Record::UsedJti(assertion)]);

    let concurrent = used(JtiPurpose::DpopProof, "thumbprint", "raced");
    let once = || store.use_jti_once(concurrent.clone(), NOW);
    let (a, b, c, d) = tokio::join!(once(), once(), once(), once());
    let uses = [a, b, c, d];
    let firsts = uses.iter().filter(|u| matches!(u, Ok(JtiUse::First))).count();
    let replays = uses.iter().filter(|u| matches!(u, Ok(JtiUse::Replayed))).count();
    assert_eq!((firsts, replays), (1, 3), "{uses:?}");
}

/// A one-time JWT id's use lasts as long as its JWT could be accepted (RFC 7523 §3 item 7: the used values are kept
/// "for the length of time for which the JWT would be considered valid"): its replay is refused up to then, and a
/// use after it, which an item past its expiry but not yet deleted must not refuse, is a first use again.
pub async fn a_one_time_jti_is_usable_again_once_its_use_expired(store: &dyn TokenStore) {
    let tenant = fresh_tenant();
    let used =
        |expires_at| UsedJti::new(tenant.clone(), JtiPurpose::ClientAssertion, "orders-service", "jti-1", expires_at);
    let expiry = NOW.plus_secs(300);
    assert_eq!(store.use_jti_once(used(expiry), NOW).await.expect("first use"), JtiUse::First);
    let just_before = Timestamp::from_micros(expiry.as_micros() - 1);
    assert_eq!(store.use_jti_once(used(expiry), just_before).await.expect("replay"), JtiUse::Replayed);
    let key = Record::UsedJti(used(expiry)).key();
    assert_eq!(store.get_many(std::slice::from_ref(&key)).await.expect("read"), vec![Record::UsedJti(used(expiry))]);
    let later = expiry.plus_secs(300);
    assert_eq!(store.use_jti_once(used(later), expiry).await.expect("after its expiry"), JtiUse::First);
    assert_eq!(store.use_jti_once(used(later), expiry.plus_secs(1)).await.expect("replay"), JtiUse::Replayed);
}

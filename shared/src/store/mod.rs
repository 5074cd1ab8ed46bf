//! The store port: [`TokenStore`] for the hot path and [`RegistrationStore`] for operators, with the embedded
//! adapter in [`memory`] and the shared behavioural suite in [`conformance`].
//!
//! Every [`TokenStore`] operation is one DynamoDB round trip:
//! - [`TokenStore::get_many`] is one strongly consistent `BatchGetItem`;
//! - [`TokenStore::put_new`] is one `PutItem` conditional on the key being free at the request's `now`: no item,
//!   or one already expired (below);
//! - [`TokenStore::mark_revoked`] is one `UpdateItem` conditional on the item existing;
//! - [`TokenStore::raise_watermark`] is one conditional `UpdateItem` that only ever raises the mark; raised by
//!   an event, it is one `TransactWriteItems` with the event's [`SeenEvent`] item, so each event applies once
//!   and the watermark item, which every introspection reads, keeps its size;
//! - [`TokenStore::put_new_all`] and [`TokenStore::rotate`] are one `TransactWriteItems` each, their new items
//!   conditional as `put_new`'s;
//! - [`TokenStore::use_jti_once`] is one `PutItem` conditional as `put_new`'s: a one-time JWT id (a client
//!   assertion's, a DPoP proof's, a Security Event Token's) is recorded with no read first.
//!
//! Decisions (introspection, the authorizer) read through [`read_plan`], which keeps the items of recent
//! decisions for at most the revocation propagation bound B; everything else reads the store strictly.
//!
//! Every item that can expire carries `expires_at`; expired items may linger (DynamoDB's TTL deletes lazily, up to
//! days late), so readers go through [`Fetched`], which drops them ([`Record::is_live_at`]). A write of a new item
//! follows the same rule: an expired item under its key is absent for every reader, so it is replaced, never
//! reported as [`StoreError::AlreadyExists`] (an issuer that reuses a `jti` after its token expired must not find
//! the new token unrecordable, nor a one-time id used again after its JWT expired be called a replay). The request's
//! one instant decides, passed in as `now` (the store reads no clock); DynamoDB compares it with the TTL attribute in
//! whole seconds (`expires_at <= now`, rounded down), so an item can stay taken up to a second past its expiry, never
//! less.

#[cfg(any(test, feature = "test-support"))]
pub mod conformance;
#[cfg(any(test, feature = "test-support"))]
pub mod counting;
pub mod dynamodb;
pub mod memory;
pub mod metered;
pub mod read_plan;

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;

use crate::domain::client::{Client, ClientId, SecretHash};
use crate::domain::id::IdTag;
use crate::domain::revocation::{
    AppliedMark, MarkKind, RefreshedFamily, RevocationWatermark, RevokedJti, WatermarkTarget,
};
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;
use crate::domain::token::{ExternalTokenRecord, TokenHash, TokenRecord};
use crate::domain::user_details::UserDetailsRecord;

/// What kind of item a key names; the middle part of `pk = "<tenant>#<kind>#<id>"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemKind {
    /// An opaque access token or refresh token, by SHA-256 of the token.
    Token,
    /// A revoked JWT `jti`.
    RevokedJti,
    /// A revocation watermark.
    Watermark,
    /// A registered client.
    Client,
    /// A trusted external issuer's configuration.
    TrustedIssuer,
    /// A revocation event a watermark has seen.
    SeenEvent,
    /// A subject's user details from its identity provider's UserInfo endpoint.
    UserDetails,
    /// A tenant's Shared Signals transmitters.
    SsfTransmitter,
    /// A one-time JWT id that has been used (a client assertion's, a DPoP proof's, a SET's).
    UsedJti,
}

impl ItemKind {
    /// The kind's tag inside `pk`.
    pub const fn tag(self) -> &'static str {
        match self {
            Self::Token => "tok",
            Self::RevokedJti => "jti",
            Self::Watermark => "wm",
            Self::Client => "client",
            Self::TrustedIssuer => "iss",
            Self::SeenEvent => "evt",
            Self::UserDetails => "ud",
            Self::SsfTransmitter => "ssf",
            Self::UsedJti => "once",
        }
    }
}

/// The key of one item: tenant, kind and id, rendered as the partition key `<tenant>#<kind>#<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StoreKey {
    pk: String,
}

impl StoreKey {
    /// `<tenant>#<kind>#` followed by the `id` parts, in one allocation (keys are built on every request).
    fn new(tenant: &TenantId, kind: ItemKind, id: &[&str]) -> Self {
        let (tenant, tag) = (tenant.as_str(), kind.tag());
        let mut pk = String::with_capacity(tenant.len() + tag.len() + 2 + id.iter().map(|p| p.len()).sum::<usize>());
        for part in [tenant, "#", tag, "#"].iter().chain(id) {
            pk.push_str(part);
        }
        Self { pk }
    }

    /// The common beginning of every key of `kind` in `tenant`, for operator scans.
    pub fn prefix(tenant: &TenantId, kind: ItemKind) -> String {
        format!("{tenant}#{}#", kind.tag())
    }

    /// The key of an opaque token's record.
    pub fn token(tenant: &TenantId, hash: &TokenHash) -> Self {
        Self::new(tenant, ItemKind::Token, &[hash.as_str()])
    }

    /// The key of a JWT's denylist entry.
    pub fn revoked_jti(tenant: &TenantId, jti: &str) -> Self {
        Self::new(tenant, ItemKind::RevokedJti, &[jti])
    }

    /// The key of a client.
    pub fn client(tenant: &TenantId, client_id: &ClientId) -> Self {
        Self::new(tenant, ItemKind::Client, &[client_id.as_str()])
    }

    /// The key of a tenant's trusted issuers (one item for all of them).
    pub fn trusted_issuers(tenant: &TenantId) -> Self {
        Self::new(tenant, ItemKind::TrustedIssuer, &["set"])
    }

    /// The key of a tenant's Shared Signals transmitters (one item for all of them).
    pub fn ssf_transmitters(tenant: &TenantId) -> Self {
        Self::new(tenant, ItemKind::SsfTransmitter, &["set"])
    }

    /// The key of a revocation watermark. Subjects and clients appear only as tags, so a key never carries
    /// personal data.
    pub fn watermark(tenant: &TenantId, target: &WatermarkTarget) -> Self {
        let mut buf = [0u8; 22];
        Self::new(tenant, ItemKind::Watermark, &watermark_id(target, &mut buf))
    }

    /// The key of the record that `target`'s watermark has seen the event `event_id`:
    /// `<tenant>#evt#<the watermark's id>#<base64url SHA-256 of the event id>`, so the key has a fixed length and
    /// alphabet whatever the producer's id is.
    pub fn seen_event(tenant: &TenantId, target: &WatermarkTarget, event_id: &str) -> Self {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, event_id.as_bytes());
        let digest = URL_SAFE_NO_PAD.encode(digest);
        let mut buf = [0u8; 22];
        let [kind, id] = watermark_id(target, &mut buf);
        Self::new(tenant, ItemKind::SeenEvent, &[kind, id, "#", &digest])
    }

    /// The key of a subject's cached user details, by the subject's tag (like its watermark's, so no key
    /// carries the subject itself, and an opaque token's embedded tag names it).
    pub fn user_details(tenant: &TenantId, subject: &IdTag) -> Self {
        let mut buf = [0u8; 22];
        Self::new(tenant, ItemKind::UserDetails, &[subject.encode(&mut buf)])
    }

    /// The key of a used one-time JWT id: `<tenant>#once#<purpose>:<digest>` ([`UsedJti`]).
    pub fn used_jti(tenant: &TenantId, purpose: JtiPurpose, digest: &str) -> Self {
        Self::new(tenant, ItemKind::UsedJti, &[purpose.tag(), ":", digest])
    }

    /// The keys of several watermarks.
    pub fn watermarks(tenant: &TenantId, targets: &[WatermarkTarget]) -> Vec<Self> {
        targets.iter().map(|target| Self::watermark(tenant, target)).collect()
    }

    /// The partition key value.
    pub fn as_str(&self) -> &str {
        &self.pk
    }
}

/// A watermark's id within its tenant, in two parts: `fam:`, `sub:` or `cli:` and the tag, or `all`.
fn watermark_id<'a>(target: &WatermarkTarget, buf: &'a mut [u8; 22]) -> [&'a str; 2] {
    match target {
        WatermarkTarget::Family(family) => ["fam:", family.encode(buf)],
        WatermarkTarget::Subject(tag) => ["sub:", tag.encode(buf)],
        WatermarkTarget::Client(tag) => ["cli:", tag.encode(buf)],
        WatermarkTarget::Tenant => ["all", ""],
    }
}

impl fmt::Display for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pk)
    }
}

/// One stored item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A registered client.
    Client(Client),
    /// An opaque access token or refresh token.
    Token(TokenRecord),
    /// A recorded external JWT.
    ExternalToken(ExternalTokenRecord),
    /// A revoked JWT `jti`.
    RevokedJti(RevokedJti),
    /// A revocation watermark.
    Watermark(RevocationWatermark),
    /// A tenant's trusted issuers (their JWKS inline or as URLs).
    TrustedIssuers(TrustedIssuerSet),
    /// A revocation event a watermark has seen.
    SeenEvent(SeenEvent),
    /// A subject's cached user details.
    UserDetails(UserDetailsRecord),
    /// A tenant's Shared Signals transmitters.
    SsfTransmitters(TransmitterSet),
    /// A one-time JWT id that has been used.
    UsedJti(UsedJti),
}

/// What a one-time JWT id was presented for: the scope within which a second use is a replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JtiPurpose {
    /// A client assertion (RFC 7523 §3 item 7: "The authorization server may ensure that JWTs are not replayed
    /// by maintaining the set of used "jti" values for the length of time for which the JWT would be considered
    /// valid"), scoped by the client that signed it.
    ClientAssertion,
    /// A DPoP proof (RFC 9449 §11.1), scoped by the thumbprint of the key that signed it.
    DpopProof,
    /// A Security Event Token (RFC 8417 §2.2 `jti`, RFC 8935 §2.3 duplicate delivery), scoped by its issuer.
    SecurityEvent,
}

impl JtiPurpose {
    /// The purpose's tag inside the item's key and its `purpose` attribute.
    pub const fn tag(self) -> &'static str {
        match self {
            Self::ClientAssertion => "ca",
            Self::DpopProof => "dpop",
            Self::SecurityEvent => "set",
        }
    }

    /// The purpose a stored tag names.
    pub fn from_tag(tag: &str) -> Option<Self> {
        [Self::ClientAssertion, Self::DpopProof, Self::SecurityEvent].into_iter().find(|p| p.tag() == tag)
    }
}

/// A one-time JWT id that has been used: client assertions, DPoP proofs and SETs each carry a `jti` that must
/// not be accepted twice while the JWT is still acceptable. Kept under a digest of (purpose, issuer, jti), so the
/// key has a fixed length and alphabet whatever the sender's strings are, and no sender string is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsedJti {
    /// The tenant.
    pub tenant: TenantId,
    /// What the JWT was presented for.
    pub purpose: JtiPurpose,
    /// base64url (no padding) of SHA-256 over the purpose, the issuer and the `jti`, each length-prefixed.
    pub digest: String,
    /// When the JWT stops being acceptable anyway; the item may go then (the table's TTL attribute).
    pub expires_at: Timestamp,
}

impl UsedJti {
    /// `jti` of a JWT from `issuer` (the client, the DPoP key's thumbprint, the SET transmitter), presented for
    /// `purpose` and acceptable until `expires_at`.
    pub fn new(tenant: TenantId, purpose: JtiPurpose, issuer: &str, jti: &str, expires_at: Timestamp) -> Self {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        for part in [purpose.tag(), issuer, jti] {
            // Length-prefixed, so ("ab", "c") and ("a", "bc") never share a digest.
            context.update(&(part.len() as u64).to_be_bytes());
            context.update(part.as_bytes());
        }
        let digest = URL_SAFE_NO_PAD.encode(context.finish());
        Self { tenant, purpose, digest, expires_at }
    }
}

/// Whether a one-time JWT id was new ([`TokenStore::use_jti_once`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JtiUse {
    /// First use: the JWT may be accepted.
    First,
    /// Seen before, while still acceptable: a replay, to be refused.
    Replayed,
}

/// A revocation event that a watermark has seen, whether it raised the mark or a higher one was there: a
/// re-delivery of the event (EventBridge retries, SQS at-least-once) must not raise the mark again, which would
/// revoke the tokens issued since its first delivery. One item per event and target, beside the watermark rather
/// than in it: the watermark is read by every introspection, so it must not grow with every event. It lives as
/// long as the watermark it guards ([`SeenEvent::of`]), so no re-delivery can outlive it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenEvent {
    /// The tenant.
    pub tenant: TenantId,
    /// The watermark's target.
    pub target: WatermarkTarget,
    /// The event's id, as its producer gave it (an id, not personal data; it is logged too).
    pub event_id: String,
    /// When the item may be deleted: the watermark's own expiry.
    pub expires_at: Timestamp,
    /// The mark the event's first delivery set (or would have, had a higher one not been there), so that a
    /// re-delivery announces the revocation again exactly as the first did ([`crate::announcement`]). `None` on
    /// items of releases before announcements, whose events were never announced.
    pub revoked_before: Option<Timestamp>,
}

impl SeenEvent {
    /// That `watermark` has seen `event_id`.
    pub fn of(watermark: &RevocationWatermark, event_id: &str) -> Self {
        Self {
            tenant: watermark.tenant.clone(),
            target: watermark.target.clone(),
            event_id: event_id.to_owned(),
            expires_at: watermark.expires_at,
            revoked_before: Some(watermark.revoked_before),
        }
    }
}

/// A tenant's trusted issuers, kept as one item: a function reads every tenant's in its one cold-start read
/// (`BatchGetItem`, which its policy grants), never with a scan of the token table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedIssuerSet {
    /// The tenant.
    pub tenant: TenantId,
    /// Its issuers, sorted by `issuer`, one entry per issuer.
    pub entries: Vec<RegisteredIssuer>,
}

/// A trusted external issuer registered in the table (`tessera issuers import`): what a function needs to accept
/// its JWTs, as plain data. It is made from a `[[trusted_issuers]]` entry and loaded as one (the configuration's
/// `TrustedIssuerConfig` converts both ways), so it is validated where it is imported and again where it is
/// loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredIssuer {
    /// The tenant that trusts it.
    pub tenant: TenantId,
    /// The exact `iss`.
    pub issuer: String,
    /// Accepted `aud` values.
    pub audiences: Vec<String>,
    /// Allowed algorithms (asymmetric ones only; checked when loaded).
    pub algorithms: Vec<String>,
    /// Where its signing keys are.
    pub jwks: IssuerJwks,
    /// The claim holding the subject.
    pub subject_claim: String,
    /// The claim reported as `username`.
    pub username_claim: Option<String>,
    /// External claim → `user_details` attribute.
    pub claims_mapping: BTreeMap<String, String>,
    /// Whether introspected tokens are recorded, so that revocation applies to them.
    pub record_tokens: bool,
    /// Its UserInfo endpoint, when user details are fetched from it at token exchange.
    pub userinfo: Option<IssuerUserinfo>,
}

/// A tenant's Shared Signals transmitters, kept as one item like its trusted issuers ([`TrustedIssuerSet`]): the
/// receiver reads every tenant's in its one cold-start read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransmitterSet {
    /// The tenant.
    pub tenant: TenantId,
    /// Its transmitters, sorted by `issuer`, one entry per issuer.
    pub entries: Vec<RegisteredTransmitter>,
}

/// A Shared Signals transmitter registered in the table (`tessera transmitters import`): who may push Security
/// Event Tokens (RFC 8935) to a tenant, as plain data. Made from an `[[ssf_transmitters]]` entry and loaded as one
/// (`SsfTransmitterConfig` converts both ways), validated where it is imported and again where it is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredTransmitter {
    /// The tenant it pushes to.
    pub tenant: TenantId,
    /// The exact `iss` of its SETs.
    pub issuer: String,
    /// The `aud` its SETs must name.
    pub audience: String,
    /// Allowed algorithms (asymmetric ones only; checked when loaded).
    pub algorithms: Vec<String>,
    /// Where its signing keys are.
    pub jwks: IssuerJwks,
    /// The hash of the bearer token it presents in `Authorization`; the token itself is never stored.
    pub authorization_hash: SecretHash,
    /// The trusted issuers whose users its events may revoke; the first is the one a subject identifier that names
    /// no issuer (`email`, `phone_number`, `opaque`) is read against.
    pub subject_issuers: Vec<String>,
}

/// A trusted issuer's UserInfo endpoint (OpenID Connect Core §5.3) and how long the details it gives are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerUserinfo {
    /// Where the endpoint is.
    pub endpoint: UserinfoLocation,
    /// How long fetched details are kept and shown ([`crate::domain::user_details`]).
    pub ttl_secs: u32,
    /// The issuer's word that its JWTs Tessera accepts (its `audiences`) are access tokens even without RFC 9068's
    /// `typ` `at+jwt`, so introspection may present them to the endpoint ([`crate::oauth::user_details`]). Off by
    /// default: an untyped JWT may be an ID token, which is no bearer credential (OpenID Connect Core §5.3.1).
    pub untyped_access_tokens: bool,
}

/// Where a UserInfo endpoint is: configured, or read from the issuer's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserinfoLocation {
    /// The endpoint's URL (https; plain http only on a loopback address).
    Url(String),
    /// The `userinfo_endpoint` of the issuer's metadata: OpenID Connect Discovery
    /// (`<issuer>/.well-known/openid-configuration`), else RFC 8414 (`/.well-known/oauth-authorization-server`).
    Discovered,
}

/// A registered issuer's JWKS: inline, or fetched from its URL (the one registered-JWKS type, shared with
/// `private_key_jwt` clients).
pub use crate::domain::jwks::Jwks as IssuerJwks;

impl Record {
    /// The item's key.
    pub fn key(&self) -> StoreKey {
        match self {
            Self::Client(c) => StoreKey::client(&c.tenant, &c.client_id),
            Self::Token(t) => StoreKey::token(&t.grant.tenant, &t.token_hash),
            Self::ExternalToken(t) => StoreKey::token(&t.tenant, &t.token_hash),
            Self::RevokedJti(j) => StoreKey::revoked_jti(&j.tenant, &j.jti),
            Self::Watermark(w) => StoreKey::watermark(&w.tenant, &w.target),
            Self::TrustedIssuers(t) => StoreKey::trusted_issuers(&t.tenant),
            Self::SeenEvent(e) => StoreKey::seen_event(&e.tenant, &e.target, &e.event_id),
            Self::UserDetails(d) => StoreKey::user_details(&d.tenant, &d.subject),
            Self::SsfTransmitters(t) => StoreKey::ssf_transmitters(&t.tenant),
            Self::UsedJti(u) => StoreKey::used_jti(&u.tenant, u.purpose, &u.digest),
        }
    }

    /// Whether readers may still see the item at `now`: the one rule of [`Fetched`], and of what a new item may
    /// replace ([`TokenStore::put_new`]). A recorded external token lives its issuer's clock skew past its TTL:
    /// releases up to 0.1 set that TTL at the token's `exp`, while the token is accepted until `exp` plus the skew
    /// ([`crate::jwt::external::ExternalIdentity::accepted_until`]), and its revocation must hold as long.
    pub fn is_live_at(&self, now: Timestamp) -> bool {
        let until = match self {
            Self::ExternalToken(t) => Some(t.expires_at.plus_secs(crate::jwt::external::EXTERNAL_LEEWAY_SECS)),
            other => other.expires_at(),
        };
        until.is_none_or(|until| now < until)
    }

    /// When the item may be deleted (the table's TTL attribute); `None` for items that never expire.
    pub fn expires_at(&self) -> Option<Timestamp> {
        match self {
            Self::Client(_) | Self::TrustedIssuers(_) | Self::SsfTransmitters(_) => None,
            Self::Token(t) => Some(t.grant.expires_at),
            Self::ExternalToken(t) => Some(t.expires_at),
            Self::RevokedJti(j) => Some(j.expires_at),
            Self::Watermark(w) => Some(w.expires_at),
            Self::SeenEvent(e) => Some(e.expires_at),
            Self::UserDetails(d) => Some(d.expires_at),
            Self::UsedJti(u) => Some(u.expires_at),
        }
    }
}

/// A store failure. Mapped at the edge: `Unavailable` → 503 `temporarily_unavailable`, the rest → 500.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write found the item already there.
    #[error("item {0} already exists")]
    AlreadyExists(String),
    /// A conditional update found no item.
    #[error("item {0} does not exist")]
    NotFound(String),
    /// A rotation found the old token already rotated, revoked or gone: it lost a race, or it is reuse.
    #[error("item {0} was already rotated or revoked")]
    Conflict(String),
    /// The store is throttling or unreachable; the caller may retry after the hinted delay.
    #[error("store unavailable: {reason}")]
    Unavailable {
        /// What failed, for logs.
        reason: String,
        /// Seconds the client should wait before retrying.
        retry_after_secs: u32,
        /// The store throttled the request (DynamoDB's `ProvisionedThroughputExceededException`,
        /// `ThrottlingException`, `RequestLimitExceeded`, or keys left unprocessed), rather than failing or being
        /// unreachable: counted as `StoreThrottles`, not `StoreErrors` ([`crate::metrics`]).
        throttled: bool,
    },
    /// The store refused the request for what it is, not for load: a missing table, a denied permission, a
    /// request it deems invalid. A deployment problem; retrying does not help.
    #[error("the store rejected the request on {key}: {reason}")]
    Rejected {
        /// The item or table.
        key: String,
        /// The store's error code and message.
        reason: String,
    },
    /// An item could not be mapped to or from its stored form.
    #[error("corrupt item {key}: {reason}")]
    Corrupt {
        /// The item.
        key: String,
        /// What was wrong with it.
        reason: String,
    },
}

/// The hot-path port: reads and writes of tokens, denylist entries, watermarks and client records.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Reads every item in `keys` in one strongly consistent round trip. Missing items are absent from the
    /// result; order is not preserved. Expired items may be returned: read through [`Fetched`].
    async fn get_many(&self, keys: &[StoreKey]) -> Result<Vec<Record>, StoreError>;

    /// Writes a new item; [`StoreError::AlreadyExists`] if its key holds an item live at `now`, the request's
    /// instant. An item already expired at `now` (not yet deleted: DynamoDB's TTL is lazy) is absent for every
    /// reader ([`Record::is_live_at`]) and is replaced. Never overwrites a live item.
    async fn put_new(&self, record: Record, now: Timestamp) -> Result<(), StoreError>;

    /// Marks a token record (opaque, refresh or recorded external) revoked at `at`, keeping an earlier
    /// revocation time if there is one.
    /// [`StoreError::NotFound`] if there is no such record.
    async fn mark_revoked(&self, key: &StoreKey, at: Timestamp) -> Result<(), StoreError>;

    /// Writes several new items atomically, each conditional on its key being free at `now` as for
    /// [`Self::put_new`] (one `TransactWriteItems`): an opaque access token and its refresh token land together or
    /// not at all.
    async fn put_new_all(&self, records: Vec<Record>, now: Timestamp) -> Result<(), StoreError>;

    /// Rotates a refresh token atomically (one `TransactWriteItems`): marks the record under `old` rotated at
    /// `at`, on condition that it exists and is neither rotated nor revoked, writes `new` (each conditional on its
    /// key being free at `at`, as for [`Self::put_new`]) and, with `refreshed`, sets the family's refresh mark on
    /// its watermark item (created if absent with `revoked_before` at the epoch; an existing `revoked_before` is
    /// kept; the item's expiry becomes the mark's, which outlives every token of the family issued up to the
    /// rotation, so it never cuts short a `revoked_before` either). [`StoreError::Conflict`] when the condition on
    /// `old` fails, or a concurrent write to the family's item cancels the transaction: of any number of concurrent
    /// rotations of one token, exactly one succeeds.
    async fn rotate(
        &self,
        old: &StoreKey,
        at: Timestamp,
        new: Vec<Record>,
        refreshed: Option<RefreshedFamily>,
    ) -> Result<(), StoreError>;

    /// Writes a watermark, or raises an existing one; a lower mark never replaces a higher one. With an
    /// `event_id`, the watermark remembers it, and a second write with the same id is a no-op even if it would
    /// raise the mark: a re-delivered revocation event must not revoke the tokens issued since its first
    /// delivery. `Ok(true)` when written, `Ok(false)` when a higher mark or the same event was already there.
    async fn raise_watermark(&self, watermark: RevocationWatermark, event_id: Option<&str>)
    -> Result<bool, StoreError>;

    /// Writes a subject's user details item whole, replacing the one there, on condition that the stored item's
    /// `attempted_at` is `expected` (`None`: no item, or an expired one). A compare-and-set: of concurrent writers
    /// that read the same item, one wins. `Ok(false)` when the condition failed. One conditional `PutItem`.
    async fn put_user_details(
        &self,
        record: UserDetailsRecord,
        expected: Option<Timestamp>,
    ) -> Result<bool, StoreError>;

    /// Records the first use of a one-time JWT id at `now`: one write conditional on its key being free (on
    /// DynamoDB one conditional `PutItem`), no read first, so of concurrent uses exactly one is [`JtiUse::First`].
    /// An earlier use whose item has expired at `now` (its JWT is no longer acceptable; DynamoDB deletes lazily) is
    /// forgotten, as RFC 7523 §3 item 7 keeps used ids only "for the length of time for which the JWT would be
    /// considered valid": the use is [`JtiUse::First`]. Written through [`Self::put_new`], so every decorator
    /// (metering, the read plan, fault injection) sees it as the write it is.
    async fn use_jti_once(&self, used: UsedJti, now: Timestamp) -> Result<JtiUse, StoreError> {
        match self.put_new(Record::UsedJti(used), now).await {
            Ok(()) => Ok(JtiUse::First),
            Err(StoreError::AlreadyExists(_)) => Ok(JtiUse::Replayed),
            Err(err) => Err(err),
        }
    }
}

/// A shared store is a store: wrappers (the tests' counting store, fault injectors) can hold an `Arc<dyn TokenStore>`.
#[async_trait]
impl<T: TokenStore + ?Sized> TokenStore for std::sync::Arc<T> {
    async fn get_many(&self, keys: &[StoreKey]) -> Result<Vec<Record>, StoreError> {
        (**self).get_many(keys).await
    }

    async fn put_new(&self, record: Record, now: Timestamp) -> Result<(), StoreError> {
        (**self).put_new(record, now).await
    }

    async fn mark_revoked(&self, key: &StoreKey, at: Timestamp) -> Result<(), StoreError> {
        (**self).mark_revoked(key, at).await
    }

    async fn put_new_all(&self, records: Vec<Record>, now: Timestamp) -> Result<(), StoreError> {
        (**self).put_new_all(records, now).await
    }

    async fn rotate(
        &self,
        old: &StoreKey,
        at: Timestamp,
        new: Vec<Record>,
        refreshed: Option<RefreshedFamily>,
    ) -> Result<(), StoreError> {
        (**self).rotate(old, at, new, refreshed).await
    }

    async fn raise_watermark(
        &self,
        watermark: RevocationWatermark,
        event_id: Option<&str>,
    ) -> Result<bool, StoreError> {
        (**self).raise_watermark(watermark, event_id).await
    }

    async fn put_user_details(
        &self,
        record: UserDetailsRecord,
        expected: Option<Timestamp>,
    ) -> Result<bool, StoreError> {
        (**self).put_user_details(record, expected).await
    }
}

/// The operator port: the registrations of a tenant, its clients (`tessera clients register`) and trusted issuers
/// (`tessera issuers import`), created, replaced, listed and deleted. Not on the request path, except for the
/// trusted issuers functions read at init (one `get_many`).
#[async_trait]
pub trait RegistrationStore: TokenStore {
    /// Creates or replaces a configuration item (a client or a trusted issuer).
    async fn put(&self, record: Record) -> Result<(), StoreError>;

    /// Every item of `kind` in `tenant` (a scan: operator use only; functions are granted no `Scan`).
    async fn list(&self, tenant: &TenantId, kind: ItemKind) -> Result<Vec<Record>, StoreError>;

    /// Deletes a configuration item (a client, or a tenant's trusted issuers); an absent one is no error.
    /// Operator use only (`tessera tenants delete`): functions are granted no `DeleteItem`.
    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError>;

    /// Creates or replaces a client.
    async fn put_client(&self, client: Client) -> Result<(), StoreError> {
        self.put(Record::Client(client)).await
    }

    /// Every client of `tenant`, sorted by id.
    async fn list_clients(&self, tenant: &TenantId) -> Result<Vec<Client>, StoreError> {
        let mut clients: Vec<Client> = self
            .list(tenant, ItemKind::Client)
            .await?
            .into_iter()
            .filter_map(|r| match r {
                Record::Client(c) => Some(c),
                _ => None,
            })
            .collect();
        clients.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        Ok(clients)
    }

    /// The trusted issuers of each of `tenants`, sorted by issuer, in one read per 100 tenants.
    async fn trusted_issuers_of(
        &self,
        tenants: &[TenantId],
    ) -> Result<std::collections::HashMap<TenantId, Vec<RegisteredIssuer>>, StoreError> {
        tenant_sets(self, tenants, StoreKey::trusted_issuers, |record| match record {
            Record::TrustedIssuers(set) => Some((set.tenant, set.entries)),
            _ => None,
        })
        .await
    }

    /// Every trusted issuer entry of `tenant`, sorted by issuer.
    async fn list_trusted_issuers(&self, tenant: &TenantId) -> Result<Vec<RegisteredIssuer>, StoreError> {
        Ok(self.trusted_issuers_of(std::slice::from_ref(tenant)).await?.remove(tenant).unwrap_or_default())
    }

    /// Adds a trusted issuer to its tenant's, or replaces the entry with the same `issuer` (read, then write
    /// the tenant's item; run imports of one tenant one at a time).
    async fn put_trusted_issuer(&self, entry: RegisteredIssuer) -> Result<(), StoreError> {
        let tenant = entry.tenant.clone();
        let mut entries = self.list_trusted_issuers(&tenant).await?;
        entries.retain(|e| e.issuer != entry.issuer);
        entries.push(entry);
        entries.sort_by(|a, b| a.issuer.cmp(&b.issuer));
        self.put(Record::TrustedIssuers(TrustedIssuerSet { tenant, entries })).await
    }

    /// The Shared Signals transmitters of each of `tenants`, sorted by issuer, in one read per 100 tenants.
    async fn ssf_transmitters_of(
        &self,
        tenants: &[TenantId],
    ) -> Result<std::collections::HashMap<TenantId, Vec<RegisteredTransmitter>>, StoreError> {
        tenant_sets(self, tenants, StoreKey::ssf_transmitters, |record| match record {
            Record::SsfTransmitters(set) => Some((set.tenant, set.entries)),
            _ => None,
        })
        .await
    }

    /// Every Shared Signals transmitter of `tenant`, sorted by issuer.
    async fn list_ssf_transmitters(&self, tenant: &TenantId) -> Result<Vec<RegisteredTransmitter>, StoreError> {
        Ok(self.ssf_transmitters_of(std::slice::from_ref(tenant)).await?.remove(tenant).unwrap_or_default())
    }

    /// Adds a transmitter to its tenant's, or replaces the entry with the same `issuer` (read, then write the
    /// tenant's item; run imports of one tenant one at a time).
    async fn put_ssf_transmitter(&self, entry: RegisteredTransmitter) -> Result<(), StoreError> {
        let tenant = entry.tenant.clone();
        let mut entries = self.list_ssf_transmitters(&tenant).await?;
        entries.retain(|e| e.issuer != entry.issuer);
        entries.push(entry);
        entries.sort_by(|a, b| a.issuer.cmp(&b.issuer));
        self.put(Record::SsfTransmitters(TransmitterSet { tenant, entries })).await
    }

    /// Removes the transmitter `issuer` of `tenant` (the item goes with its last entry); `false` when there was
    /// none.
    async fn remove_ssf_transmitter(&self, tenant: &TenantId, issuer: &str) -> Result<bool, StoreError> {
        let mut entries = self.list_ssf_transmitters(tenant).await?;
        let before = entries.len();
        entries.retain(|e| e.issuer != issuer);
        if entries.len() == before {
            return Ok(false);
        }
        match entries.is_empty() {
            true => self.delete(&StoreKey::ssf_transmitters(tenant)).await?,
            false => self.put(Record::SsfTransmitters(TransmitterSet { tenant: tenant.clone(), entries })).await?,
        }
        Ok(true)
    }
}

/// A per-tenant set item (trusted issuers, SSF transmitters) of each of `tenants`, read with one `get_many` per 100
/// tenants: the item under `key` of each, its entries as `entries` takes them out.
async fn tenant_sets<S: TokenStore + ?Sized, T>(
    store: &S,
    tenants: &[TenantId],
    key: fn(&TenantId) -> StoreKey,
    entries: fn(Record) -> Option<(TenantId, Vec<T>)>,
) -> Result<std::collections::HashMap<TenantId, Vec<T>>, StoreError> {
    let mut found = std::collections::HashMap::new();
    for chunk in tenants.chunks(100) {
        let keys: Vec<StoreKey> = chunk.iter().map(key).collect();
        found.extend(store.get_many(&keys).await?.into_iter().filter_map(entries));
    }
    Ok(found)
}

/// The result of [`TokenStore::get_many`] with expired items dropped: what a reader may trust.
#[derive(Debug, Default)]
pub struct Fetched {
    /// Each unexpired record under its key, computed once (a read returns a handful of items).
    records: Vec<(StoreKey, Record)>,
}

impl Fetched {
    /// Keeps the records that are live at `now` ([`Record::is_live_at`]).
    pub fn new(records: Vec<Record>, now: Timestamp) -> Self {
        let records = records.into_iter().filter(|r| r.is_live_at(now)).map(|r| (r.key(), r)).collect();
        Self { records }
    }

    fn find(&self, key: &StoreKey) -> Option<&Record> {
        self.records.iter().find(|(k, _)| k == key).map(|(_, r)| r)
    }

    /// The client under `key`, if present.
    pub fn client(&self, key: &StoreKey) -> Option<&Client> {
        match self.find(key)? {
            Record::Client(c) => Some(c),
            _ => None,
        }
    }

    /// The token record under `key`, if present and unexpired.
    pub fn token(&self, key: &StoreKey) -> Option<&TokenRecord> {
        match self.find(key)? {
            Record::Token(t) => Some(t),
            _ => None,
        }
    }

    /// The recorded external token under `key`, if present and unexpired.
    pub fn external_token(&self, key: &StoreKey) -> Option<&ExternalTokenRecord> {
        match self.find(key)? {
            Record::ExternalToken(t) => Some(t),
            _ => None,
        }
    }

    /// The event `key` names as seen, if its item is there and unexpired.
    pub fn seen_event(&self, key: &StoreKey) -> Option<&SeenEvent> {
        match self.find(key)? {
            Record::SeenEvent(seen) => Some(seen),
            _ => None,
        }
    }

    /// Whether an unexpired denylist entry exists under `key`.
    pub fn has_revoked_jti(&self, key: &StoreKey) -> bool {
        matches!(self.find(key), Some(Record::RevokedJti(_)))
    }

    /// When the unexpired denylist entry under `key` was written, if there is one.
    pub fn revoked_jti_at(&self, key: &StoreKey) -> Option<Timestamp> {
        match self.find(key)? {
            Record::RevokedJti(entry) => Some(entry.revoked_at),
            _ => None,
        }
    }

    /// The subject's cached user details under `key`, if present and unexpired.
    pub fn user_details(&self, key: &StoreKey) -> Option<&UserDetailsRecord> {
        match self.find(key)? {
            Record::UserDetails(d) => Some(d),
            _ => None,
        }
    }

    /// The `revoked_before` of every unexpired watermark among `keys` (a family item only a refresh wrote has
    /// none).
    pub fn watermarks(&self, keys: &[StoreKey]) -> Vec<Timestamp> {
        self.marks(keys).into_iter().map(|mark| mark.revoked_before).collect()
    }

    /// The marks on every token under the unexpired watermarks among `keys`: each one's `revoked_before`, which
    /// kind of watermark it is, and none at the epoch. What a refresh token and an external token are judged by.
    pub fn marks(&self, keys: &[StoreKey]) -> Vec<AppliedMark> {
        self.watermark_items(keys)
            .filter(|w| w.revoked_before > Timestamp::EPOCH)
            .map(|w| AppliedMark { kind: MarkKind::of(&w.target), revoked_before: w.revoked_before })
            .collect()
    }

    /// What an access token of Tessera's is judged by: [`Fetched::marks`], and its family's refresh mark.
    pub fn access_token_marks(&self, keys: &[StoreKey]) -> Vec<AppliedMark> {
        let mut marks = self.marks(keys);
        marks.extend(self.watermark_items(keys).filter(|w| matches!(w.target, WatermarkTarget::Family(_))).filter_map(
            |w| Some(AppliedMark { kind: MarkKind::FamilyRefreshed, revoked_before: w.access_revoked_before? }),
        ));
        marks
    }

    fn watermark_items<'a>(&'a self, keys: &'a [StoreKey]) -> impl Iterator<Item = &'a RevocationWatermark> {
        keys.iter().filter_map(|k| match self.find(k)? {
            Record::Watermark(w) => Some(w),
            _ => None,
        })
    }
}

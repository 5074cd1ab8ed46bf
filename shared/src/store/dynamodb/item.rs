//! The table's items, owned by this adapter. Each kind is a type here, converted by hand from and to its domain
//! record, so a renamed domain field or variant never changes an item already in a user's table (they live
//! there for months). The tests pin every kind attribute by attribute, and read them back raw from the emulator.
//!
//! | attribute | type | on | meaning |
//! |---|---|---|---|
//! | `pk` | S | all | partition key `<tenant>#<kind>#<id>` ([`StoreKey`]); there is no sort key and no index |
//! | `kind` | S | all | `client`, `token`, `external_token`, `revoked_jti`, `watermark`, `seen_event`, `user_details`, `used_jti`, `trusted_issuers` or `ssf_transmitters` |
//! | `expires_at` | N | all but `client`, `trusted_issuers` and `ssf_transmitters` | epoch seconds, the table's TTL attribute (rounded up, so never early) |
//! | `client` (M) | | client | a registered client: `tenant`, `client_id`, `secret_hash` (only as `sha256$salt$digest`; absent on a `private_key_jwt` client), `token_endpoint_auth_method` (S, `private_key_jwt`, `tls_client_auth` or `self_signed_tls_client_auth`; absent on a secret client, which may present its secret by Basic or post), `jwks` (S, the JWK Set inline) or `jwks_uri` (S) (a `private_key_jwt` or `self_signed_tls_client_auth` client's, absent otherwise), `scopes`, `default_scopes`, `grant_types`, `audiences`, `introspection_profile` (L of S; the last absent when empty), `access_token_format`, `access_token_ttl_secs`, `refresh_token_ttl_secs` (N), `may_introspect`, `disabled` (BOOL), `revoke_access_on_refresh` (BOOL, only when `false`; absent is `true`), `app_identifier`, `app_platform`, `app_version` (S, each absent unless registered), `require_dpop` (BOOL, only when `true`; absent is `false`), `tls_client_certificate_bound_access_tokens` (BOOL, only when `true`), and for `token_endpoint_auth_method` `tls_client_auth` exactly one of `tls_client_auth_subject_dn`, `tls_client_auth_san_dns`, `tls_client_auth_san_uri`, `tls_client_auth_san_ip`, `tls_client_auth_san_email` (S; RFC 8705 §2.1.2), while `self_signed_tls_client_auth` has `jwks` or `jwks_uri` |
//! | `token_hash`, `token_kind`, `grant` (M), `revoked_at`, `rotated_at` (N, µs) | | token | an opaque access or refresh token. `grant`: `tenant`, `client_id`, `subject`, `username`, `user_details` (M, any JSON), `amr`, `scope`, `audience` (L of S), `family`, `issued_at`, `expires_at` (N, µs), `app_identifier`, `app_platform`, `app_version` (S, the client's when the token was issued), `dpop_jkt` (S: RFC 9449 `cnf.jkt` of a DPoP-bound access token; on a refresh token, the key its family was last bound to) or `x5t_s256` (S: RFC 8705 `cnf.x5t#S256` of a certificate-bound access token; on a refresh token, the certificate its family was last bound to), never both; `username`, `user_details`, `amr`, the app attributes, `dpop_jkt` and `x5t_s256` absent when empty |
//! | `token` (M: `tenant`, `token_hash`, `issuer`, `subject`, `issued_at`, `expires_at` (N, µs)), `revoked_at` (N, µs) | | external_token | a recorded external JWT; a `revoked_at` inside `token` is read too |
//! | `tenant`, `jti`, `revoked_at` (N, µs) | | revoked_jti | a JWT revoked one by one |
//! | `tenant`, `target` (M: `kind` of `family`, `subject`, `client` or `tenant`, and `id` but for `tenant`), `revoked_before` (N, µs; 0 on a family item only refreshes wrote), `access_revoked_before` (N, µs; family items only, absent until a refresh sets it); `event_ids` (SS) only on items earlier releases wrote | | watermark | everything of `target` issued at or before `revoked_before` is revoked; a family's access tokens issued at or before `access_revoked_before` were retired by a refresh |
//! | `tenant`, `target` (M, as on a watermark), `event_id` (S), `revoked_before` (N, µs; absent on items of releases before revocation announcements) | | seen_event | the watermark of `target` has seen this revocation event, which set (or proposed) that mark; it expires with the watermark |
//! | `tenant`, `subject` (S: the subject's tag), `issuer` (S), `details` (M, any JSON), `fetched_at` (N, µs; absent until a fetch succeeded), `attempted_at` (N, µs) | | user_details | a subject's claims from its trusted issuer's UserInfo endpoint, mapped; every write is conditional on `attempted_at` |
//! | `tenant`, `purpose` (S: `ca` a client assertion, `dpop` a DPoP proof, `set` a Security Event Token), `digest` (S: base64url SHA-256 of purpose, issuer and `jti`) | | used_jti | a one-time JWT id that has been used; written once, conditional on its key being free (no item, or an expired one: `TokenStore::put_new`), and kept until the JWT could no longer be accepted |
//! | `set` (M: `tenant`, `entries` (L of M)) | | trusted_issuers | a tenant's trusted issuers, sorted by `issuer`: `tenant`, `issuer`, `audiences`, `algorithms` (L of S), `jwks` (the JWKS inline) or `jwks_uri`, `subject_claim`, `username_claim`, `claims_mapping` (M), `record_tokens` (BOOL); `userinfo_endpoint` (S) or `userinfo_discovery` (BOOL, absent when false), `user_details_ttl_secs` (N) and `untyped_access_tokens` (BOOL, absent when false), all absent without a UserInfo endpoint |
//! | `set` (M: `tenant`, `entries` (L of M)) | | ssf_transmitters | a tenant's Shared Signals transmitters, sorted by `issuer`: `tenant`, `issuer`, `audience` (S), `algorithms` (L of S), `jwks` (the JWKS inline) or `jwks_uri`, `authorization_hash` (S, only as `sha256$salt$digest`), `subject_issuers` (L of S) |
//!
//! [`to_item`] writes all of an item; the update expressions of [`super::DynamoStore`] set `revoked_at`
//! (`mark_revoked`), `rotated_at` and a family's `access_revoked_before` (`rotate`). `event_ids`, the string set in which watermarks used to remember
//! their events (it grew by one id per event on an item every introspection reads), is no longer written; a
//! watermark that still has one is checked against it, so an event seen before the upgrade stays seen.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::table::PARTITION_KEY;
use crate::domain::client::{
    AppAttributes, CertificateSubject, Client, ClientAuthentication, ClientId, GrantType, SecretHash, TokenFormat,
};
use crate::domain::grant::{CertificateThumbprint, Confirmation, Grant, Jkt};
use crate::domain::id::{FamilyId, IdTag};
use crate::domain::jwks::Jwks;
use crate::domain::profile::ProfileAttribute;
use crate::domain::revocation::{RevocationWatermark, RevokedJti, WatermarkTarget};
use crate::domain::scope::ScopeSet;
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;
use crate::domain::token::{ExternalTokenRecord, TokenHash, TokenKind, TokenRecord};
use crate::domain::user_details::DEFAULT_USER_DETAILS_TTL_SECS;
use crate::domain::user_details::UserDetailsRecord;
use crate::store::{
    IssuerJwks, IssuerUserinfo, JtiPurpose, Record, RegisteredIssuer, RegisteredTransmitter, SeenEvent, StoreError,
    StoreKey, TransmitterSet, TrustedIssuerSet, UsedJti, UserinfoLocation,
};

/// One item. `kind` is the tag.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind")]
enum Item {
    #[serde(rename = "client")]
    Client { pk: String, client: ClientItem },
    #[serde(rename = "token")]
    Token {
        pk: String,
        expires_at: u64,
        token_hash: String,
        token_kind: TokenKindItem,
        grant: GrantItem,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        revoked_at: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rotated_at: Option<u64>,
    },
    #[serde(rename = "external_token")]
    ExternalToken {
        pk: String,
        expires_at: u64,
        // Top level, like an opaque token's, so `mark_revoked` is one expression for both kinds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        revoked_at: Option<u64>,
        token: ExternalTokenItem,
    },
    #[serde(rename = "revoked_jti")]
    RevokedJti { pk: String, expires_at: u64, tenant: String, jti: String, revoked_at: u64 },
    #[serde(rename = "trusted_issuers")]
    TrustedIssuers { pk: String, set: IssuerSetItem },
    #[serde(rename = "ssf_transmitters")]
    SsfTransmitters { pk: String, set: TransmitterSetItem },
    #[serde(rename = "watermark")]
    Watermark {
        pk: String,
        expires_at: u64,
        tenant: String,
        target: TargetItem,
        revoked_before: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        access_revoked_before: Option<u64>,
    },
    #[serde(rename = "seen_event")]
    SeenEvent {
        pk: String,
        expires_at: u64,
        tenant: String,
        target: TargetItem,
        event_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        revoked_before: Option<u64>,
    },
    #[serde(rename = "user_details")]
    UserDetails {
        pk: String,
        expires_at: u64,
        tenant: String,
        subject: String,
        issuer: String,
        details: BTreeMap<String, serde_json::Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fetched_at: Option<u64>,
        attempted_at: u64,
    },
    #[serde(rename = "used_jti")]
    UsedJti { pk: String, expires_at: u64, tenant: String, purpose: String, digest: String },
}

/// A client, inside its item's `client`.
#[derive(Serialize, Deserialize)]
struct ClientItem {
    tenant: String,
    client_id: String,
    /// Absent on a `private_key_jwt` client; every item written before that method has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret_hash: Option<String>,
    /// Absent on a secret client (every item written before the method was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token_endpoint_auth_method: Option<AuthMethodItem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jwks: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jwks_uri: Option<String>,
    scopes: Vec<String>,
    default_scopes: Vec<String>,
    grant_types: Vec<GrantTypeItem>,
    access_token_format: TokenFormatItem,
    access_token_ttl_secs: u32,
    refresh_token_ttl_secs: u32,
    may_introspect: bool,
    audiences: Vec<String>,
    disabled: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    introspection_profile: Vec<ProfileAttributeItem>,
    /// Absent on items written before the setting, and whenever it is on (the default): only `false` is stored.
    #[serde(default = "enabled", skip_serializing_if = "is_enabled")]
    revoke_access_on_refresh: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    app_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    app_platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    app_version: Option<String>,
    /// Absent on items written before DPoP, and whenever it is off (the default): only `true` is stored.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    require_dpop: bool,
    /// Absent on items written before mutual TLS, and whenever it is off (the default): only `true` is stored.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    tls_client_certificate_bound_access_tokens: bool,
    /// A `tls_client_auth` client's one certificate match (RFC 8705 §2.1.2), under its metadata name; absent
    /// otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tls_client_auth_subject_dn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tls_client_auth_san_dns: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tls_client_auth_san_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tls_client_auth_san_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tls_client_auth_san_email: Option<String>,
}

/// An opaque token's grant, inside its item's `grant`.
#[derive(Serialize, Deserialize)]
struct GrantItem {
    tenant: String,
    client_id: String,
    subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    user_details: BTreeMap<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    amr: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    app_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    app_platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    app_version: Option<String>,
    scope: Vec<String>,
    audience: Vec<String>,
    family: String,
    issued_at: u64,
    expires_at: u64,
    /// RFC 9449 §6: the thumbprint of the key a DPoP-bound token is bound to. Absent on unbound tokens and on every
    /// item written before DPoP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dpop_jkt: Option<String>,
    /// RFC 8705 §3.1: the `x5t#S256` thumbprint of the client certificate a certificate-bound token is bound to.
    /// Absent on tokens not bound so, and on every item written before mutual TLS. Never beside `dpop_jkt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    x5t_s256: Option<String>,
}

/// A recorded external JWT, inside its item's `token`.
#[derive(Serialize, Deserialize)]
struct ExternalTokenItem {
    tenant: String,
    token_hash: String,
    issuer: String,
    subject: String,
    issued_at: u64,
    expires_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revoked_at: Option<u64>,
}

/// A tenant's trusted issuers, inside their item's `set`.
#[derive(Serialize, Deserialize)]
struct IssuerSetItem {
    tenant: String,
    entries: Vec<IssuerItem>,
}

/// One trusted issuer, inside `entries`. The defaults, and the refusal of unknown attributes, are the ones the
/// `[[trusted_issuers]]` entries these were first written from had.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuerItem {
    #[serde(default = "default_tenant")]
    tenant: String,
    issuer: String,
    audiences: Vec<String>,
    algorithms: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jwks: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jwks_uri: Option<String>,
    #[serde(default = "default_subject_claim")]
    subject_claim: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    username_claim: Option<String>,
    #[serde(default)]
    claims_mapping: BTreeMap<String, String>,
    #[serde(default)]
    record_tokens: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    userinfo_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    userinfo_discovery: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_details_ttl_secs: Option<u32>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    untyped_access_tokens: bool,
}

/// A tenant's Shared Signals transmitters, inside their item's `set`.
#[derive(Serialize, Deserialize)]
struct TransmitterSetItem {
    tenant: String,
    entries: Vec<TransmitterItem>,
}

/// One Shared Signals transmitter, inside `entries`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TransmitterItem {
    tenant: String,
    issuer: String,
    audience: String,
    algorithms: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jwks: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jwks_uri: Option<String>,
    authorization_hash: String,
    subject_issuers: Vec<String>,
}

impl From<RegisteredTransmitter> for TransmitterItem {
    fn from(transmitter: RegisteredTransmitter) -> Self {
        let RegisteredTransmitter { tenant, issuer, audience, algorithms, jwks, authorization_hash, subject_issuers } =
            transmitter;
        Self {
            tenant: tenant.into(),
            issuer,
            audience,
            algorithms,
            jwks: jwks.inline().map(str::to_owned),
            jwks_uri: jwks.uri().map(str::to_owned),
            authorization_hash: authorization_hash.into(),
            subject_issuers,
        }
    }
}

impl TryFrom<TransmitterItem> for RegisteredTransmitter {
    type Error = String;

    fn try_from(item: TransmitterItem) -> Result<Self, String> {
        let jwks = match (item.jwks, item.jwks_uri) {
            (Some(json), None) => IssuerJwks::Inline(json),
            (None, Some(uri)) => IssuerJwks::Uri(uri),
            _ => return Err(format!("transmitter {:?} has not exactly one of jwks and jwks_uri", item.issuer)),
        };
        Ok(Self {
            tenant: tenant(item.tenant)?,
            issuer: item.issuer,
            audience: item.audience,
            algorithms: item.algorithms,
            jwks,
            authorization_hash: parsed("authorization_hash", SecretHash::try_from(item.authorization_hash))?,
            subject_issuers: item.subject_issuers,
        })
    }
}

fn default_tenant() -> String {
    TenantId::DEFAULT.to_owned()
}

fn default_subject_claim() -> String {
    "sub".to_owned()
}

/// A watermark's target, inside its item's `target`.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", content = "id")]
enum TargetItem {
    #[serde(rename = "family")]
    Family(String),
    #[serde(rename = "subject")]
    Subject(String),
    #[serde(rename = "client")]
    Client(String),
    #[serde(rename = "tenant")]
    Tenant,
}

/// An item's spelling of a domain enum: each variant's stored name, and the conversions both ways.
macro_rules! stored_names {
    ($item:ident <=> $domain:ident { $($variant:ident = $name:literal),+ $(,)? }) => {
        #[derive(Serialize, Deserialize)]
        enum $item {
            $(#[serde(rename = $name)] $variant),+
        }

        impl From<$domain> for $item {
            fn from(value: $domain) -> Self {
                match value {
                    $($domain::$variant => Self::$variant),+
                }
            }
        }

        impl From<$item> for $domain {
            fn from(value: $item) -> Self {
                match value {
                    $($item::$variant => Self::$variant),+
                }
            }
        }
    };
}

stored_names!(TokenKindItem <=> TokenKind { AccessToken = "access_token", RefreshToken = "refresh_token" });
stored_names!(TokenFormatItem <=> TokenFormat { Jwt = "jwt", Opaque = "opaque" });
stored_names!(GrantTypeItem <=> GrantType {
    ClientCredentials = "client_credentials",
    RefreshToken = "refresh_token",
    TokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange",
});
/// The stored method of a client with keys. A secret client stores none: it may present its secret either way.
#[derive(Serialize, Deserialize)]
enum AuthMethodItem {
    #[serde(rename = "private_key_jwt")]
    PrivateKeyJwt,
    #[serde(rename = "tls_client_auth")]
    TlsClientAuth,
    #[serde(rename = "self_signed_tls_client_auth")]
    SelfSignedTlsClientAuth,
}
stored_names!(ProfileAttributeItem <=> ProfileAttribute {
    UserDetails = "user_details",
    Amr = "amr",
    Permissions = "permissions",
    App = "app",
});

/// Epoch seconds for the TTL attribute, rounded up so DynamoDB never deletes an item early.
fn ttl_secs(at: Timestamp) -> u64 {
    at.as_micros().div_ceil(1_000_000)
}

fn micros(at: Timestamp) -> u64 {
    at.as_micros()
}

fn scopes(scope: &ScopeSet) -> Vec<String> {
    scope.iter().map(str::to_owned).collect()
}

/// A stored value the domain refuses, named by its attribute.
fn parsed<T, E: std::fmt::Display>(attribute: &str, value: Result<T, E>) -> Result<T, String> {
    value.map_err(|e| format!("{attribute}: {e}"))
}

fn tenant(name: String) -> Result<TenantId, String> {
    parsed("tenant", TenantId::try_from(name))
}

fn client_id(id: String) -> Result<ClientId, String> {
    parsed("client_id", ClientId::try_from(id))
}

// Writing takes each domain record apart whole, so a field added to one fails to compile here until it is stored.

impl From<Record> for Item {
    fn from(record: Record) -> Self {
        let pk = record.key().to_string();
        match record {
            Record::Client(client) => Item::Client { pk, client: client.into() },
            Record::Token(TokenRecord { token_hash, kind, grant, revoked_at, rotated_at }) => Item::Token {
                pk,
                expires_at: ttl_secs(grant.expires_at),
                token_hash: token_hash.as_str().to_owned(),
                token_kind: kind.into(),
                grant: grant.into(),
                revoked_at: revoked_at.map(micros),
                rotated_at: rotated_at.map(micros),
            },
            Record::ExternalToken(ExternalTokenRecord {
                tenant,
                token_hash,
                issuer,
                subject,
                issued_at,
                expires_at,
                revoked_at,
            }) => Item::ExternalToken {
                pk,
                expires_at: ttl_secs(expires_at),
                revoked_at: revoked_at.map(micros),
                token: ExternalTokenItem {
                    tenant: tenant.into(),
                    token_hash: token_hash.as_str().to_owned(),
                    issuer,
                    subject,
                    issued_at: micros(issued_at),
                    expires_at: micros(expires_at),
                    revoked_at: None,
                },
            },
            Record::RevokedJti(RevokedJti { tenant, jti, revoked_at, expires_at }) => Item::RevokedJti {
                pk,
                expires_at: ttl_secs(expires_at),
                tenant: tenant.into(),
                jti,
                revoked_at: micros(revoked_at),
            },
            Record::TrustedIssuers(TrustedIssuerSet { tenant, entries }) => Item::TrustedIssuers {
                pk,
                set: IssuerSetItem { tenant: tenant.into(), entries: entries.into_iter().map(Into::into).collect() },
            },
            Record::SsfTransmitters(TransmitterSet { tenant, entries }) => Item::SsfTransmitters {
                pk,
                set: TransmitterSetItem {
                    tenant: tenant.into(),
                    entries: entries.into_iter().map(Into::into).collect(),
                },
            },
            Record::Watermark(RevocationWatermark {
                tenant,
                target,
                revoked_before,
                access_revoked_before,
                expires_at,
            }) => Item::Watermark {
                pk,
                expires_at: ttl_secs(expires_at),
                tenant: tenant.into(),
                target: target.into(),
                revoked_before: micros(revoked_before),
                access_revoked_before: access_revoked_before.map(micros),
            },
            Record::SeenEvent(SeenEvent { tenant, target, event_id, expires_at, revoked_before }) => Item::SeenEvent {
                pk,
                expires_at: ttl_secs(expires_at),
                tenant: tenant.into(),
                target: target.into(),
                event_id,
                revoked_before: revoked_before.map(micros),
            },
            Record::UserDetails(UserDetailsRecord {
                tenant,
                subject,
                issuer,
                details,
                fetched_at,
                attempted_at,
                expires_at,
            }) => Item::UserDetails {
                pk,
                expires_at: ttl_secs(expires_at),
                tenant: tenant.into(),
                subject: subject.to_string(),
                issuer,
                details,
                fetched_at: fetched_at.map(micros),
                attempted_at: micros(attempted_at),
            },
            Record::UsedJti(UsedJti { tenant, purpose, digest, expires_at }) => Item::UsedJti {
                pk,
                expires_at: ttl_secs(expires_at),
                tenant: tenant.into(),
                purpose: purpose.tag().to_owned(),
                digest,
            },
        }
    }
}

impl TryFrom<Item> for Record {
    type Error = String;

    fn try_from(item: Item) -> Result<Self, String> {
        Ok(match item {
            Item::Client { client, .. } => Record::Client(client.try_into()?),
            Item::Token { token_hash, token_kind, grant, revoked_at, rotated_at, .. } => Record::Token(TokenRecord {
                token_hash: TokenHash::from_stored(token_hash),
                kind: token_kind.into(),
                grant: grant.try_into()?,
                revoked_at: revoked_at.map(Timestamp::from_micros),
                rotated_at: rotated_at.map(Timestamp::from_micros),
            }),
            Item::ExternalToken { revoked_at, token, .. } => Record::ExternalToken(ExternalTokenRecord {
                tenant: tenant(token.tenant)?,
                token_hash: TokenHash::from_stored(token.token_hash),
                issuer: token.issuer,
                subject: token.subject,
                issued_at: Timestamp::from_micros(token.issued_at),
                expires_at: Timestamp::from_micros(token.expires_at),
                revoked_at: revoked_at.or(token.revoked_at).map(Timestamp::from_micros),
            }),
            Item::RevokedJti { expires_at, tenant: name, jti, revoked_at, .. } => Record::RevokedJti(RevokedJti {
                tenant: tenant(name)?,
                jti,
                revoked_at: Timestamp::from_micros(revoked_at),
                expires_at: Timestamp::from_secs(expires_at),
            }),
            Item::TrustedIssuers { set, .. } => Record::TrustedIssuers(TrustedIssuerSet {
                tenant: tenant(set.tenant)?,
                entries: set.entries.into_iter().map(TryInto::try_into).collect::<Result<_, _>>()?,
            }),
            Item::SsfTransmitters { set, .. } => Record::SsfTransmitters(TransmitterSet {
                tenant: tenant(set.tenant)?,
                entries: set.entries.into_iter().map(TryInto::try_into).collect::<Result<_, _>>()?,
            }),
            Item::Watermark { expires_at, tenant: name, target, revoked_before, access_revoked_before, .. } => {
                Record::Watermark(RevocationWatermark {
                    tenant: tenant(name)?,
                    target: target.try_into()?,
                    revoked_before: Timestamp::from_micros(revoked_before),
                    access_revoked_before: access_revoked_before.map(Timestamp::from_micros),
                    expires_at: Timestamp::from_secs(expires_at),
                })
            }
            Item::SeenEvent { expires_at, tenant: name, target, event_id, revoked_before, .. } => {
                Record::SeenEvent(SeenEvent {
                    tenant: tenant(name)?,
                    target: target.try_into()?,
                    event_id,
                    expires_at: Timestamp::from_secs(expires_at),
                    revoked_before: revoked_before.map(Timestamp::from_micros),
                })
            }
            Item::UserDetails {
                expires_at, tenant: name, subject, issuer, details, fetched_at, attempted_at, ..
            } => Record::UserDetails(UserDetailsRecord {
                tenant: tenant(name)?,
                subject: parsed("subject", IdTag::try_from(subject))?,
                issuer,
                details,
                fetched_at: fetched_at.map(Timestamp::from_micros),
                attempted_at: Timestamp::from_micros(attempted_at),
                expires_at: Timestamp::from_secs(expires_at),
            }),
            Item::UsedJti { expires_at, tenant: name, purpose, digest, .. } => Record::UsedJti(UsedJti {
                tenant: tenant(name)?,
                purpose: JtiPurpose::from_tag(&purpose).ok_or_else(|| format!("unknown purpose {purpose:?}"))?,
                digest,
                expires_at: Timestamp::from_secs(expires_at),
            }),
        })
    }
}

impl From<Client> for ClientItem {
    fn from(client: Client) -> Self {
        let Client {
            tenant,
            client_id,
            authentication,
            scopes: allowed,
            default_scopes,
            grant_types,
            access_token_format,
            access_token_ttl_secs,
            refresh_token_ttl_secs,
            may_introspect,
            audiences,
            disabled,
            introspection_profile,
            revoke_access_on_refresh,
            app: AppAttributes { app_identifier, app_platform, app_version },
            require_dpop,
            certificate_bound_access_tokens,
        } = client;
        let mut subject = None;
        let (secret_hash, token_endpoint_auth_method, jwks) = match authentication {
            ClientAuthentication::Secret(hash) => (Some(hash.into()), None, None),
            ClientAuthentication::PrivateKeyJwt(jwks) => (None, Some(AuthMethodItem::PrivateKeyJwt), Some(jwks)),
            ClientAuthentication::SelfSignedTlsClientAuth(jwks) => {
                (None, Some(AuthMethodItem::SelfSignedTlsClientAuth), Some(jwks))
            }
            ClientAuthentication::TlsClientAuth(named) => {
                subject = Some(named);
                (None, Some(AuthMethodItem::TlsClientAuth), None)
            }
        };
        let subject_value =
            |name: &str| subject.as_ref().filter(|s| s.metadata_name() == name).map(CertificateSubject::value);
        let (jwks, jwks_uri) = match jwks {
            None => (None, None),
            Some(Jwks::Inline(json)) => (Some(json), None),
            Some(Jwks::Uri(uri)) => (None, Some(uri)),
        };
        Self {
            tenant: tenant.into(),
            client_id: client_id.into(),
            secret_hash,
            token_endpoint_auth_method,
            jwks,
            jwks_uri,
            scopes: scopes(&allowed),
            default_scopes: scopes(&default_scopes),
            grant_types: grant_types.into_iter().map(GrantTypeItem::from).collect(),
            access_token_format: access_token_format.into(),
            access_token_ttl_secs,
            refresh_token_ttl_secs,
            may_introspect,
            audiences,
            disabled,
            introspection_profile: introspection_profile.into_iter().map(ProfileAttributeItem::from).collect(),
            revoke_access_on_refresh,
            app_identifier,
            app_platform,
            app_version,
            require_dpop,
            tls_client_certificate_bound_access_tokens: certificate_bound_access_tokens,
            tls_client_auth_subject_dn: subject_value("tls_client_auth_subject_dn"),
            tls_client_auth_san_dns: subject_value("tls_client_auth_san_dns"),
            tls_client_auth_san_uri: subject_value("tls_client_auth_san_uri"),
            tls_client_auth_san_ip: subject_value("tls_client_auth_san_ip"),
            tls_client_auth_san_email: subject_value("tls_client_auth_san_email"),
        }
    }
}

/// A `tls_client_auth` client's one stored certificate match.
fn stored_subject(item: &mut ClientItem) -> Result<CertificateSubject, String> {
    let found = [
        item.tls_client_auth_subject_dn.take().map(CertificateSubject::SubjectDn),
        item.tls_client_auth_san_dns.take().map(CertificateSubject::SanDns),
        item.tls_client_auth_san_uri.take().map(CertificateSubject::SanUri),
        item.tls_client_auth_san_ip
            .take()
            .map(|ip| {
                ip.parse().map(CertificateSubject::SanIp).map_err(|_| "tls_client_auth_san_ip is not an IP address")
            })
            .transpose()?,
        item.tls_client_auth_san_email.take().map(CertificateSubject::SanEmail),
    ];
    let mut found = found.into_iter().flatten();
    match (found.next(), found.next()) {
        (Some(subject), None) => Ok(subject),
        _ => Err("a tls_client_auth client has exactly one tls_client_auth_* match".into()),
    }
}

fn enabled() -> bool {
    true
}

fn is_enabled(value: &bool) -> bool {
    *value
}

impl TryFrom<ClientItem> for Client {
    type Error = String;

    fn try_from(mut item: ClientItem) -> Result<Self, String> {
        let subject = match item.token_endpoint_auth_method {
            Some(AuthMethodItem::TlsClientAuth) => Some(stored_subject(&mut item)?),
            _ => None,
        };
        let stray_subject = item.tls_client_auth_subject_dn.is_some()
            || item.tls_client_auth_san_dns.is_some()
            || item.tls_client_auth_san_uri.is_some()
            || item.tls_client_auth_san_ip.is_some()
            || item.tls_client_auth_san_email.is_some();
        if stray_subject {
            return Err("only a tls_client_auth client has a tls_client_auth_* match".into());
        }
        Ok(Self {
            tenant: tenant(item.tenant)?,
            client_id: client_id(item.client_id)?,
            authentication: match (item.token_endpoint_auth_method, item.secret_hash, item.jwks, item.jwks_uri) {
                (None, Some(hash), None, None) => {
                    ClientAuthentication::Secret(parsed("secret_hash", SecretHash::try_from(hash))?)
                }
                (Some(AuthMethodItem::PrivateKeyJwt), None, Some(json), None) => {
                    ClientAuthentication::PrivateKeyJwt(Jwks::Inline(json))
                }
                (Some(AuthMethodItem::PrivateKeyJwt), None, None, Some(uri)) => {
                    ClientAuthentication::PrivateKeyJwt(Jwks::Uri(uri))
                }
                (Some(AuthMethodItem::SelfSignedTlsClientAuth), None, Some(json), None) => {
                    ClientAuthentication::SelfSignedTlsClientAuth(Jwks::Inline(json))
                }
                (Some(AuthMethodItem::SelfSignedTlsClientAuth), None, None, Some(uri)) => {
                    ClientAuthentication::SelfSignedTlsClientAuth(Jwks::Uri(uri))
                }
                (Some(AuthMethodItem::TlsClientAuth), None, None, None) => match subject {
                    Some(subject) => ClientAuthentication::TlsClientAuth(subject),
                    None => return Err("a tls_client_auth client has a tls_client_auth_* match".into()),
                },
                _ => {
                    return Err(
                        "a client has either a secret_hash, or keys (jwks or jwks_uri) for private_key_jwt or \
                                self_signed_tls_client_auth, or a certificate match for tls_client_auth"
                            .into(),
                    );
                }
            },
            scopes: parsed("scopes", ScopeSet::from_tokens(item.scopes))?,
            default_scopes: parsed("default_scopes", ScopeSet::from_tokens(item.default_scopes))?,
            grant_types: item.grant_types.into_iter().map(GrantType::from).collect(),
            access_token_format: item.access_token_format.into(),
            access_token_ttl_secs: item.access_token_ttl_secs,
            refresh_token_ttl_secs: item.refresh_token_ttl_secs,
            may_introspect: item.may_introspect,
            audiences: item.audiences,
            disabled: item.disabled,
            introspection_profile: item.introspection_profile.into_iter().map(ProfileAttribute::from).collect(),
            revoke_access_on_refresh: item.revoke_access_on_refresh,
            app: parsed("app", AppAttributes::new(item.app_identifier, item.app_platform, item.app_version))?,
            require_dpop: item.require_dpop,
            certificate_bound_access_tokens: item.tls_client_certificate_bound_access_tokens,
        })
    }
}

impl From<Grant> for GrantItem {
    fn from(grant: Grant) -> Self {
        let Grant {
            tenant,
            client_id,
            subject,
            username,
            user_details,
            amr,
            app: AppAttributes { app_identifier, app_platform, app_version },
            scope,
            audience,
            family,
            issued_at,
            expires_at,
            confirmation,
        } = grant;
        Self {
            tenant: tenant.into(),
            client_id: client_id.into(),
            subject,
            username,
            user_details,
            amr,
            app_identifier,
            app_platform,
            app_version,
            scope: scopes(&scope),
            audience,
            family: family.to_string(),
            issued_at: micros(issued_at),
            expires_at: micros(expires_at),
            dpop_jkt: confirmation.as_ref().and_then(Confirmation::dpop_key).map(|jkt| jkt.as_str().to_owned()),
            x5t_s256: confirmation.as_ref().and_then(Confirmation::certificate).map(|x5t| x5t.as_str().to_owned()),
        }
    }
}

impl TryFrom<GrantItem> for Grant {
    type Error = String;

    fn try_from(item: GrantItem) -> Result<Self, String> {
        Ok(Self {
            tenant: tenant(item.tenant)?,
            client_id: client_id(item.client_id)?,
            subject: item.subject,
            username: item.username,
            user_details: item.user_details,
            amr: item.amr,
            app: AppAttributes {
                app_identifier: item.app_identifier,
                app_platform: item.app_platform,
                app_version: item.app_version,
            },
            scope: parsed("scope", ScopeSet::from_tokens(item.scope))?,
            audience: item.audience,
            family: parsed("family", FamilyId::try_from(item.family))?,
            issued_at: Timestamp::from_micros(item.issued_at),
            expires_at: Timestamp::from_micros(item.expires_at),
            confirmation: match (item.dpop_jkt, item.x5t_s256) {
                (None, None) => None,
                (Some(jkt), None) => Some(Confirmation::Dpop(Jkt::from_thumbprint(jkt))),
                (None, Some(x5t)) => Some(Confirmation::Certificate(CertificateThumbprint::from_thumbprint(x5t))),
                (Some(_), Some(_)) => return Err("a token is bound to a DPoP key or a certificate, not both".into()),
            },
        })
    }
}

impl From<RegisteredIssuer> for IssuerItem {
    fn from(issuer: RegisteredIssuer) -> Self {
        let RegisteredIssuer {
            tenant,
            issuer,
            audiences,
            algorithms,
            jwks,
            subject_claim,
            username_claim,
            claims_mapping,
            record_tokens,
            userinfo,
        } = issuer;
        let (userinfo_endpoint, userinfo_discovery) = match userinfo.as_ref().map(|u| &u.endpoint) {
            Some(UserinfoLocation::Url(url)) => (Some(url.clone()), false),
            Some(UserinfoLocation::Discovered) => (None, true),
            None => (None, false),
        };
        Self {
            tenant: tenant.into(),
            issuer,
            audiences,
            algorithms,
            jwks: jwks.inline().map(str::to_owned),
            jwks_uri: jwks.uri().map(str::to_owned),
            subject_claim,
            username_claim,
            claims_mapping,
            record_tokens,
            userinfo_endpoint,
            userinfo_discovery,
            user_details_ttl_secs: userinfo.as_ref().map(|u| u.ttl_secs),
            untyped_access_tokens: userinfo.is_some_and(|u| u.untyped_access_tokens),
        }
    }
}

impl TryFrom<IssuerItem> for RegisteredIssuer {
    type Error = String;

    fn try_from(item: IssuerItem) -> Result<Self, String> {
        let jwks = match (item.jwks, item.jwks_uri) {
            (Some(json), None) => IssuerJwks::Inline(json),
            (None, Some(uri)) => IssuerJwks::Uri(uri),
            _ => return Err(format!("trusted issuer {:?} has not exactly one of jwks and jwks_uri", item.issuer)),
        };
        let endpoint = match (item.userinfo_endpoint, item.userinfo_discovery) {
            (Some(url), false) => Some(UserinfoLocation::Url(url)),
            (None, true) => Some(UserinfoLocation::Discovered),
            (None, false) => None,
            (Some(_), true) => {
                return Err(format!(
                    "trusted issuer {:?} has both userinfo_endpoint and userinfo_discovery",
                    item.issuer
                ));
            }
        };
        let userinfo = match (endpoint, item.user_details_ttl_secs) {
            (Some(endpoint), ttl) => Some(IssuerUserinfo {
                endpoint,
                ttl_secs: ttl.unwrap_or(DEFAULT_USER_DETAILS_TTL_SECS),
                untyped_access_tokens: item.untyped_access_tokens,
            }),
            (None, None) if !item.untyped_access_tokens => None,
            (None, _) => {
                return Err(format!(
                    "trusted issuer {:?} has user_details_ttl_secs or untyped_access_tokens without a userinfo endpoint",
                    item.issuer
                ));
            }
        };
        Ok(Self {
            tenant: tenant(item.tenant)?,
            issuer: item.issuer,
            audiences: item.audiences,
            algorithms: item.algorithms,
            jwks,
            subject_claim: item.subject_claim,
            username_claim: item.username_claim,
            claims_mapping: item.claims_mapping,
            record_tokens: item.record_tokens,
            userinfo,
        })
    }
}

impl From<WatermarkTarget> for TargetItem {
    fn from(target: WatermarkTarget) -> Self {
        match target {
            WatermarkTarget::Family(family) => Self::Family(family.to_string()),
            WatermarkTarget::Subject(tag) => Self::Subject(tag.to_string()),
            WatermarkTarget::Client(tag) => Self::Client(tag.to_string()),
            WatermarkTarget::Tenant => Self::Tenant,
        }
    }
}

impl TryFrom<TargetItem> for WatermarkTarget {
    type Error = String;

    fn try_from(target: TargetItem) -> Result<Self, String> {
        let tag = |id: String| parsed("target", IdTag::try_from(id));
        Ok(match target {
            TargetItem::Family(id) => Self::Family(parsed("target", FamilyId::try_from(id))?),
            TargetItem::Subject(id) => Self::Subject(tag(id)?),
            TargetItem::Client(id) => Self::Client(tag(id)?),
            TargetItem::Tenant => Self::Tenant,
        })
    }
}

/// The attributes of `record`'s item.
pub(super) fn to_item(record: Record) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let key = record.key().to_string();
    serde_dynamo::to_item(Item::from(record)).map_err(|e| StoreError::Corrupt { key, reason: e.to_string() })
}

/// The record an item holds; [`StoreError::Corrupt`] for one this adapter did not write.
pub(super) fn from_item(item: HashMap<String, AttributeValue>) -> Result<Record, StoreError> {
    let key = match item.get(PARTITION_KEY) {
        Some(AttributeValue::S(pk)) => pk.clone(),
        _ => "(no pk)".to_owned(),
    };
    let corrupt = |reason: String| StoreError::Corrupt { key: key.clone(), reason };
    let item: Item = serde_dynamo::from_item(item).map_err(|e| corrupt(e.to_string()))?;
    Record::try_from(item).map_err(corrupt)
}

/// The key attribute of the item under `key`.
pub(super) fn key_attribute(key: &StoreKey) -> HashMap<String, AttributeValue> {
    HashMap::from([(PARTITION_KEY.to_owned(), AttributeValue::S(key.as_str().to_owned()))])
}

/// The item's size as DynamoDB bills it (attribute names plus values; strings and binaries by length,
/// numbers about one byte per two digits plus one, 3 bytes of overhead per list or map plus 1 per element).
/// Items are kept under 1 KB, so a strongly consistent read of one costs 1 RCU (0.5 eventually consistent).
pub fn item_size(record: &Record) -> Result<usize, StoreError> {
    fn value_size(value: &AttributeValue) -> usize {
        match value {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => n.trim_start_matches('-').len().div_ceil(2) + 1,
            AttributeValue::B(b) => b.as_ref().len(),
            AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
            AttributeValue::L(items) => 3 + items.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
            AttributeValue::M(map) => 3 + map.iter().map(|(k, v)| 1 + k.len() + value_size(v)).sum::<usize>(),
            AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
            AttributeValue::Ns(set) => set.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
            AttributeValue::Bs(set) => set.iter().map(|b| b.as_ref().len()).sum(),
            _ => 0,
        }
    }
    Ok(to_item(record.clone())?.iter().map(|(name, value)| name.len() + value_size(value)).sum())
}

#[cfg(test)]
mod tests {
    use super::super::{DynamoStore, TTL_ATTRIBUTE, client};
    use super::*;
    use crate::domain::token::OpaqueToken;
    use crate::store::{RegistrationStore, TokenStore};

    fn grant() -> Grant {
        Grant {
            tenant: TenantId::default(),
            client_id: ClientId::parse("orders-service-production-eu-west-1").unwrap(),
            subject: "auth0|6740d1c03f1c2b9a7e5d4c3b".into(),
            username: Some("alice@example.com".into()),
            user_details: std::collections::BTreeMap::from([(
                "email".to_owned(),
                serde_json::json!("alice@example.com"),
            )]),
            amr: vec!["pwd".into(), "mfa".into()],
            app: AppAttributes {
                app_identifier: Some("com.example.orders.production.eu-west-1".into()),
                app_platform: Some("android".into()),
                app_version: Some("2.14.3-beta.1+build.4711".into()),
            },
            scope: ScopeSet::parse("orders:read orders:write invoices:read customers:read").unwrap(),
            audience: vec!["https://orders.api.example.com".into()],
            family: FamilyId::from_bytes([7; 16]),
            issued_at: Timestamp::from_micros(1_800_000_000_123_456),
            expires_at: Timestamp::from_secs(1_800_003_600),
            confirmation: None,
        }
    }

    #[test]
    fn every_item_kind_round_trips_and_stays_under_1_kb() {
        let token = OpaqueToken::mint(TokenKind::RefreshToken, &grant(), [9; 32]);
        let client = Client {
            tenant: TenantId::default(),
            client_id: ClientId::parse("orders-service-production-eu-west-1").unwrap(),
            authentication: ClientAuthentication::Secret(SecretHash::new("s", [1; 16])),
            scopes: ScopeSet::parse("orders:read orders:write invoices:read customers:read admin:audit").unwrap(),
            default_scopes: ScopeSet::parse("orders:read").unwrap(),
            grant_types: GrantType::ALL.into_iter().collect(),
            access_token_format: TokenFormat::Opaque,
            access_token_ttl_secs: 300,
            refresh_token_ttl_secs: 86_400,
            may_introspect: true,
            audiences: vec!["https://orders.api.example.com".into(), "https://invoices.api.example.com".into()],
            disabled: false,
            revoke_access_on_refresh: false,
            require_dpop: true,
            certificate_bound_access_tokens: false,
            app: AppAttributes {
                app_identifier: Some("com.example.orders.production.eu-west-1".into()),
                app_platform: Some("android".into()),
                app_version: Some("2.14.3-beta.1+build.4711".into()),
            },
            introspection_profile: [
                ProfileAttribute::UserDetails,
                ProfileAttribute::Amr,
                ProfileAttribute::Permissions,
            ]
            .into(),
        };
        let records = [
            Record::Client(client),
            Record::Token(TokenRecord {
                token_hash: token.hash(),
                kind: TokenKind::RefreshToken,
                grant: grant(),
                revoked_at: Some(Timestamp::from_micros(1_800_000_001_000_000)),
                rotated_at: Some(Timestamp::from_micros(1_800_000_000_500_000)),
            }),
            Record::RevokedJti(RevokedJti {
                tenant: TenantId::default(),
                jti: "LkTfv-FW_d045kDVa9GJQw".into(),
                revoked_at: Timestamp::from_micros(1_800_000_000_000_001),
                expires_at: Timestamp::from_secs(1_800_000_300),
            }),
            Record::Watermark(RevocationWatermark {
                tenant: TenantId::default(),
                target: WatermarkTarget::subject("auth0|6740d1c03f1c2b9a7e5d4c3b"),
                revoked_before: Timestamp::from_micros(1_800_000_000_000_001),
                access_revoked_before: None,
                expires_at: Timestamp::from_secs(1_800_086_400),
            }),
        ];
        for record in records {
            let size = item_size(&record).unwrap();
            eprintln!("{}: {size} bytes", record.key().as_str().split('#').nth(1).unwrap_or(""));
            assert!(size <= 1024, "{record:?} is {size} bytes");
            let item = to_item(record.clone()).unwrap();
            assert!(matches!(item.get(PARTITION_KEY), Some(AttributeValue::S(pk)) if pk == record.key().as_str()));
            if let Some(expires) = record.expires_at() {
                let ttl = item.get(TTL_ATTRIBUTE).and_then(|v| v.as_n().ok()).unwrap().parse::<u64>().unwrap();
                assert!(ttl >= expires.as_secs() && ttl <= expires.as_secs() + 1, "TTL never early");
            }
            assert_eq!(from_item(item).unwrap(), record);
        }
    }

    // The pins: every item kind exactly as the table holds it, attribute by attribute (names, DynamoDB types,
    // values). Rows written by earlier releases live in users' tables for months, so a change here is a data
    // migration, never a refactor: each of these must keep reading back to its record, and each record must keep
    // writing exactly these attributes.

    fn s(value: &str) -> AttributeValue {
        AttributeValue::S(value.to_owned())
    }

    fn n(value: &str) -> AttributeValue {
        AttributeValue::N(value.to_owned())
    }

    fn l(values: &[AttributeValue]) -> AttributeValue {
        AttributeValue::L(values.to_vec())
    }

    fn ss(values: &[&str]) -> AttributeValue {
        AttributeValue::Ss(values.iter().map(|v| (*v).to_owned()).collect())
    }

    fn strings(values: &[&str]) -> AttributeValue {
        l(&values.iter().map(|v| s(v)).collect::<Vec<_>>())
    }

    fn m(pairs: &[(&str, AttributeValue)]) -> AttributeValue {
        AttributeValue::M(attributes(pairs))
    }

    fn attributes(pairs: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
        let map: HashMap<_, _> = pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
        assert_eq!(map.len(), pairs.len(), "an attribute named twice in a pin");
        map
    }

    const ACME: &str = "acme";
    const SECRET_HASH: &str = "sha256$AQEBAQEBAQEBAQEBAQEBAQ$AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI";
    const FAMILY: &str = "BwcHBwcHBwcHBwcHBwcHBw";
    const SUBJECT_TAG: &str = "CAgICAgICAgICAgICAgICA";
    const CLIENT_TAG: &str = "CQkJCQkJCQkJCQkJCQkJCQ";
    const ACCESS_HASH: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    const REFRESH_HASH: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8";
    const EXTERNAL_HASH: &str = "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8";

    fn acme() -> TenantId {
        TenantId::parse(ACME).unwrap()
    }

    fn token_hash(hash: &str) -> TokenHash {
        TokenHash::from_stored(hash.to_owned())
    }

    fn pinned_client(profile: bool) -> (Record, HashMap<String, AttributeValue>) {
        let client = Client {
            tenant: acme(),
            client_id: ClientId::parse("orders-service").unwrap(),
            authentication: ClientAuthentication::Secret(SecretHash::try_from(SECRET_HASH.to_owned()).unwrap()),
            scopes: ScopeSet::parse("orders:write orders:read").unwrap(),
            default_scopes: ScopeSet::parse("orders:read").unwrap(),
            grant_types: GrantType::ALL.into_iter().collect(),
            access_token_format: if profile { TokenFormat::Opaque } else { TokenFormat::Jwt },
            access_token_ttl_secs: 300,
            refresh_token_ttl_secs: 86_400,
            may_introspect: profile,
            audiences: vec!["https://orders.example".into(), "https://invoices.example".into()],
            disabled: !profile,
            revoke_access_on_refresh: !profile,
            app: match profile {
                true => AppAttributes {
                    app_identifier: Some("com.example.orders".into()),
                    app_platform: Some("android".into()),
                    app_version: Some("1.0".into()),
                },
                false => AppAttributes::default(),
            },
            introspection_profile: if profile {
                [ProfileAttribute::Permissions, ProfileAttribute::UserDetails, ProfileAttribute::Amr].into()
            } else {
                Default::default()
            },
            require_dpop: profile,
            certificate_bound_access_tokens: false,
        };
        let mut inner = vec![
            ("tenant", s(ACME)),
            ("client_id", s("orders-service")),
            ("secret_hash", s(SECRET_HASH)),
            ("scopes", strings(&["orders:read", "orders:write"])),
            ("default_scopes", strings(&["orders:read"])),
            (
                "grant_types",
                strings(&["client_credentials", "refresh_token", "urn:ietf:params:oauth:grant-type:token-exchange"]),
            ),
            ("access_token_format", s(if profile { "opaque" } else { "jwt" })),
            ("access_token_ttl_secs", n("300")),
            ("refresh_token_ttl_secs", n("86400")),
            ("may_introspect", AttributeValue::Bool(profile)),
            ("audiences", strings(&["https://orders.example", "https://invoices.example"])),
            ("disabled", AttributeValue::Bool(!profile)),
        ];
        if profile {
            inner.push(("introspection_profile", strings(&["user_details", "amr", "permissions"])));
            inner.push(("revoke_access_on_refresh", AttributeValue::Bool(false)));
            inner.push(("require_dpop", AttributeValue::Bool(true)));
            inner.push(("app_identifier", s("com.example.orders")));
            inner.push(("app_platform", s("android")));
            inner.push(("app_version", s("1.0")));
        }
        let item = attributes(&[("pk", s("acme#client#orders-service")), ("kind", s("client")), ("client", m(&inner))]);
        (Record::Client(client), item)
    }

    /// A `private_key_jwt` client (RFC 7523 §2.2): its method and its keys, inline or by URL, and no secret.
    fn pinned_client_with_keys(inline: bool) -> (Record, HashMap<String, AttributeValue>) {
        let (Record::Client(secret_client), mut item) = pinned_client(false) else { unreachable!() };
        let jwks = match inline {
            true => Jwks::Inline(
                r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#.into(),
            ),
            false => Jwks::Uri("https://billing.example.com/jwks.json".into()),
        };
        let client = Client { authentication: ClientAuthentication::PrivateKeyJwt(jwks.clone()), ..secret_client };
        let Some(AttributeValue::M(inner)) = item.get_mut("client") else { unreachable!() };
        inner.remove("secret_hash");
        inner.insert("token_endpoint_auth_method".into(), s("private_key_jwt"));
        match jwks {
            Jwks::Inline(json) => inner.insert("jwks".into(), s(&json)),
            Jwks::Uri(uri) => inner.insert("jwks_uri".into(), s(&uri)),
        };
        (Record::Client(client), item)
    }

    /// A mutual-TLS client (RFC 8705 §2), its tokens certificate-bound (§3.4): `tls_client_auth` named by its
    /// subject DN, or `self_signed_tls_client_auth` with its certificates at a URL.
    fn pinned_mutual_tls_client(by_subject: bool) -> (Record, HashMap<String, AttributeValue>) {
        let (Record::Client(secret_client), mut item) = pinned_client(false) else { unreachable!() };
        let authentication = match by_subject {
            true => ClientAuthentication::TlsClientAuth(CertificateSubject::SubjectDn("CN=orders,O=Example".into())),
            false => ClientAuthentication::SelfSignedTlsClientAuth(Jwks::Uri("https://orders.example/jwks".into())),
        };
        let client = Client { authentication, certificate_bound_access_tokens: true, ..secret_client };
        let Some(AttributeValue::M(inner)) = item.get_mut("client") else { unreachable!() };
        inner.remove("secret_hash");
        inner.insert("tls_client_certificate_bound_access_tokens".into(), AttributeValue::Bool(true));
        match by_subject {
            true => {
                inner.insert("token_endpoint_auth_method".into(), s("tls_client_auth"));
                inner.insert("tls_client_auth_subject_dn".into(), s("CN=orders,O=Example"));
            }
            false => {
                inner.insert("token_endpoint_auth_method".into(), s("self_signed_tls_client_auth"));
                inner.insert("jwks_uri".into(), s("https://orders.example/jwks"));
            }
        }
        (Record::Client(client), item)
    }

    /// Each RFC 8705 §2.1.2 match is stored under its metadata name and reads back; a `tls_client_auth` item with
    /// none or two, or a match on another method's client, is refused rather than guessed at.
    #[test]
    fn every_certificate_match_round_trips_and_strays_are_refused() {
        let (Record::Client(base), _) = pinned_mutual_tls_client(true) else { unreachable!() };
        for subject in [
            CertificateSubject::SubjectDn("CN=orders,O=Example".into()),
            CertificateSubject::SanDns("orders.example".into()),
            CertificateSubject::SanUri("spiffe://example/orders".into()),
            CertificateSubject::SanIp("2001:db8::1".parse().unwrap()),
            CertificateSubject::SanEmail("orders@example.com".into()),
        ] {
            let name = subject.metadata_name();
            let record =
                Record::Client(Client { authentication: ClientAuthentication::TlsClientAuth(subject), ..base.clone() });
            let item = to_item(record.clone()).unwrap();
            let Some(AttributeValue::M(inner)) = item.get("client") else { unreachable!() };
            assert!(inner.contains_key(name), "{name}");
            assert_eq!(from_item(item).unwrap(), record);
        }
        let (_, mut two) = pinned_mutual_tls_client(true);
        let Some(AttributeValue::M(inner)) = two.get_mut("client") else { unreachable!() };
        inner.insert("tls_client_auth_san_dns".into(), s("orders.example"));
        assert!(from_item(two).is_err(), "two matches");
        let (_, mut none) = pinned_mutual_tls_client(true);
        let Some(AttributeValue::M(inner)) = none.get_mut("client") else { unreachable!() };
        inner.remove("tls_client_auth_subject_dn");
        assert!(from_item(none).is_err(), "no match");
        let (_, mut stray) = pinned_client(false);
        let Some(AttributeValue::M(inner)) = stray.get_mut("client") else { unreachable!() };
        inner.insert("tls_client_auth_san_dns".into(), s("orders.example"));
        assert!(from_item(stray).is_err(), "a match on a secret client");
    }

    /// A client item as releases before `private_key_jwt` wrote it (`secret_hash`, no method, no keys) reads as the
    /// secret client it was, accepting its secret by Basic and by post as before; an item that mixes the two
    /// methods, or names one without its keys, is refused rather than guessed at.
    #[test]
    fn a_client_item_of_the_previous_release_still_reads() {
        use crate::domain::client::TokenEndpointAuthMethod;
        for profile in [true, false] {
            let (_, item) = pinned_client(profile);
            let Ok(Record::Client(client)) = from_item(item) else { panic!("an old client item reads") };
            assert!(matches!(client.authentication, ClientAuthentication::Secret(_)));
            assert!(client.authentication.accepts(TokenEndpointAuthMethod::ClientSecretBasic));
            assert!(client.authentication.accepts(TokenEndpointAuthMethod::ClientSecretPost));
        }
        let (_, mut with_keys) = pinned_client_with_keys(false);
        let Some(AttributeValue::M(inner)) = with_keys.get_mut("client") else { unreachable!() };
        inner.insert("secret_hash".into(), s(SECRET_HASH));
        assert!(from_item(with_keys).is_err(), "a secret and keys at once");
        let (_, mut no_keys) = pinned_client_with_keys(true);
        let Some(AttributeValue::M(inner)) = no_keys.get_mut("client") else { unreachable!() };
        inner.remove("jwks");
        assert!(from_item(no_keys).is_err(), "private_key_jwt without keys");
    }

    /// RFC 9449 §6.1's example thumbprint.
    const PINNED_JKT: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
    /// RFC 8705 §3.1's example certificate thumbprint.
    const PINNED_X5T: &str = "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2";

    /// A user token's grant (username, user details, amr, a DPoP key) or a client-credentials one (none of them,
    /// a client certificate).
    fn pinned_grant(user: bool) -> (Grant, AttributeValue) {
        let grant = Grant {
            tenant: acme(),
            client_id: ClientId::parse("orders-service").unwrap(),
            subject: if user { "auth0|alice" } else { "orders-service" }.into(),
            username: user.then(|| "alice@example.com".into()),
            user_details: if user {
                [
                    ("email", serde_json::json!("alice@example.com")),
                    ("age", serde_json::json!(42)),
                    ("verified", serde_json::json!(true)),
                    ("groups", serde_json::json!(["admins", "staff"])),
                    ("address", serde_json::json!({"city": "Oslo"})),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect()
            } else {
                Default::default()
            },
            amr: if user { vec!["pwd".into(), "mfa".into()] } else { Vec::new() },
            app: match user {
                true => AppAttributes {
                    app_identifier: Some("com.example.orders".into()),
                    app_platform: Some("ios".into()),
                    app_version: Some("2.14.3".into()),
                },
                false => AppAttributes::default(),
            },
            scope: ScopeSet::parse("orders:read").unwrap(),
            audience: vec!["https://orders.example".into()],
            family: FamilyId::try_from(FAMILY.to_owned()).unwrap(),
            issued_at: Timestamp::from_micros(1_800_000_000_123_456),
            expires_at: Timestamp::from_micros(1_800_003_600_123_456),
            confirmation: Some(match user {
                true => Confirmation::Dpop(Jkt::from_thumbprint(PINNED_JKT.into())),
                false => Confirmation::Certificate(CertificateThumbprint::from_thumbprint(PINNED_X5T.into())),
            }),
        };
        let mut attrs = vec![
            ("tenant", s(ACME)),
            ("client_id", s("orders-service")),
            ("subject", s(if user { "auth0|alice" } else { "orders-service" })),
            ("scope", strings(&["orders:read"])),
            ("audience", strings(&["https://orders.example"])),
            ("family", s(FAMILY)),
            ("issued_at", n("1800000000123456")),
            ("expires_at", n("1800003600123456")),
        ];
        if user {
            attrs.push(("username", s("alice@example.com")));
            attrs.push((
                "user_details",
                m(&[
                    ("email", s("alice@example.com")),
                    ("age", n("42")),
                    ("verified", AttributeValue::Bool(true)),
                    ("groups", strings(&["admins", "staff"])),
                    ("address", m(&[("city", s("Oslo"))])),
                ]),
            ));
            attrs.push(("amr", strings(&["pwd", "mfa"])));
            attrs.push(("app_identifier", s("com.example.orders")));
            attrs.push(("app_platform", s("ios")));
            attrs.push(("app_version", s("2.14.3")));
            attrs.push(("dpop_jkt", s(PINNED_JKT)));
        } else {
            attrs.push(("x5t_s256", s(PINNED_X5T)));
        }
        (grant, m(&attrs))
    }

    /// An opaque access token (client credentials, live), or a refresh token (a user's, rotated then revoked).
    fn pinned_token(refresh: bool) -> (Record, HashMap<String, AttributeValue>) {
        let (grant, grant_attrs) = pinned_grant(refresh);
        let hash = if refresh { REFRESH_HASH } else { ACCESS_HASH };
        let record = TokenRecord {
            token_hash: token_hash(hash),
            kind: if refresh { TokenKind::RefreshToken } else { TokenKind::AccessToken },
            grant,
            revoked_at: refresh.then(|| Timestamp::from_micros(1_800_000_002_000_002)),
            rotated_at: refresh.then(|| Timestamp::from_micros(1_800_000_001_000_001)),
        };
        let pk = format!("acme#tok#{hash}");
        let mut attrs = vec![
            ("pk", s(&pk)),
            ("kind", s("token")),
            // The TTL in whole seconds, rounded up from the grant's microseconds.
            ("expires_at", n("1800003601")),
            ("token_hash", s(hash)),
            ("token_kind", s(if refresh { "refresh_token" } else { "access_token" })),
            ("grant", grant_attrs),
        ];
        if refresh {
            attrs.push(("revoked_at", n("1800000002000002")));
            attrs.push(("rotated_at", n("1800000001000001")));
        }
        (Record::Token(record), attributes(&attrs))
    }

    fn pinned_revoked_jti() -> (Record, HashMap<String, AttributeValue>) {
        let record = Record::RevokedJti(RevokedJti {
            tenant: acme(),
            jti: "LkTfv-FW_d045kDVa9GJQw".into(),
            revoked_at: Timestamp::from_micros(1_800_000_000_000_001),
            expires_at: Timestamp::from_secs(1_800_000_300),
        });
        let item = attributes(&[
            ("pk", s("acme#jti#LkTfv-FW_d045kDVa9GJQw")),
            ("kind", s("revoked_jti")),
            ("expires_at", n("1800000300")),
            ("tenant", s(ACME)),
            ("jti", s("LkTfv-FW_d045kDVa9GJQw")),
            ("revoked_at", n("1800000000000001")),
        ]);
        (record, item)
    }

    /// The watermark of each kind of target.
    /// The four watermark targets: the target, its id prefix in `pk`, its `kind` in `target`, and its tag.
    fn pinned_targets() -> [(WatermarkTarget, &'static str, &'static str, &'static str); 4] {
        [
            (WatermarkTarget::Family(FamilyId::try_from(FAMILY.to_owned()).unwrap()), "fam:", "family", FAMILY),
            (
                WatermarkTarget::Subject(IdTag::try_from(SUBJECT_TAG.to_owned()).unwrap()),
                "sub:",
                "subject",
                SUBJECT_TAG,
            ),
            (WatermarkTarget::Client(IdTag::try_from(CLIENT_TAG.to_owned()).unwrap()), "cli:", "client", CLIENT_TAG),
            (WatermarkTarget::Tenant, "all", "tenant", ""),
        ]
    }

    /// A watermark's `target` map.
    fn pinned_target(kind: &str, id: &str) -> AttributeValue {
        match id {
            "" => m(&[("kind", s(kind))]),
            id => m(&[("kind", s(kind)), ("id", s(id))]),
        }
    }

    fn pinned_watermarks() -> Vec<(Record, HashMap<String, AttributeValue>)> {
        pinned_targets()
            .into_iter()
            .map(|(target, prefix, kind, id)| {
                let record = Record::Watermark(RevocationWatermark {
                    tenant: acme(),
                    target,
                    revoked_before: Timestamp::from_micros(1_800_000_000_000_001),
                    access_revoked_before: None,
                    expires_at: Timestamp::from_secs(1_807_779_601),
                });
                let item = attributes(&[
                    ("pk", s(&format!("acme#wm#{prefix}{id}"))),
                    ("kind", s("watermark")),
                    ("expires_at", n("1807779601")),
                    ("tenant", s(ACME)),
                    ("target", pinned_target(kind, id)),
                    ("revoked_before", n("1800000000000001")),
                ]);
                (record, item)
            })
            .chain([pinned_refreshed_family()])
            .collect()
    }

    /// A family's item that only a refresh wrote: `revoked_before` at the epoch, the refresh mark beside it.
    fn pinned_refreshed_family() -> (Record, HashMap<String, AttributeValue>) {
        let record = Record::Watermark(RevocationWatermark {
            tenant: acme(),
            target: WatermarkTarget::Family(FamilyId::try_from(FAMILY.to_owned()).unwrap()),
            revoked_before: Timestamp::EPOCH,
            access_revoked_before: Some(Timestamp::from_micros(1_800_000_000_000_002)),
            expires_at: Timestamp::from_secs(1_807_779_601),
        });
        let item = attributes(&[
            ("pk", s(&format!("acme#wm#fam:{FAMILY}"))),
            ("kind", s("watermark")),
            ("expires_at", n("1807779601")),
            ("tenant", s(ACME)),
            ("target", pinned_target("family", FAMILY)),
            ("revoked_before", n("0")),
            ("access_revoked_before", n("1800000000000002")),
        ]);
        (record, item)
    }

    /// That each watermark has seen the event `pwd-change-0001` (the key ends in the id's base64url SHA-256).
    fn pinned_seen_events() -> Vec<(Record, HashMap<String, AttributeValue>)> {
        pinned_targets()
            .into_iter()
            .map(|(target, prefix, kind, id)| {
                let record = Record::SeenEvent(SeenEvent {
                    tenant: acme(),
                    target,
                    event_id: "pwd-change-0001".into(),
                    expires_at: Timestamp::from_secs(1_807_779_601),
                    revoked_before: Some(Timestamp::from_micros(1_800_000_000_000_001)),
                });
                let item = attributes(&[
                    ("pk", s(&format!("acme#evt#{prefix}{id}#joKTxvvHbcVCmXJfSCtzz0Nzjly4zNsh07_t4yV2ihI"))),
                    ("kind", s("seen_event")),
                    ("expires_at", n("1807779601")),
                    ("tenant", s(ACME)),
                    ("target", pinned_target(kind, id)),
                    ("event_id", s("pwd-change-0001")),
                    ("revoked_before", n("1800000000000001")),
                ]);
                (record, item)
            })
            .collect()
    }

    /// A tenant's trusted issuers: one with its JWKS inline and every optional field set, one with a JWKS URL and
    /// the defaults.
    fn pinned_trusted_issuers() -> (Record, HashMap<String, AttributeValue>) {
        let strings_of = |values: &[&str]| values.iter().map(|v| (*v).to_owned()).collect::<Vec<_>>();
        let entries = vec![
            RegisteredIssuer {
                tenant: acme(),
                issuer: "https://idp.acme.example/".into(),
                audiences: strings_of(&["https://orders.example", "orders"]),
                algorithms: strings_of(&["ES256", "RS256"]),
                jwks: IssuerJwks::Inline(r#"{"keys":[]}"#.into()),
                subject_claim: "oid".into(),
                username_claim: Some("email".into()),
                claims_mapping: [("email", "email"), ("given_name", "first_name")]
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
                record_tokens: true,
                userinfo: Some(IssuerUserinfo {
                    endpoint: UserinfoLocation::Url("https://idp.acme.example/userinfo".into()),
                    ttl_secs: 3_600,
                    untyped_access_tokens: true,
                }),
            },
            RegisteredIssuer {
                tenant: acme(),
                issuer: "https://login.partner.example/".into(),
                audiences: Vec::new(),
                algorithms: strings_of(&["EdDSA"]),
                jwks: IssuerJwks::Uri("https://login.partner.example/jwks.json".into()),
                subject_claim: "sub".into(),
                username_claim: None,
                claims_mapping: BTreeMap::new(),
                record_tokens: false,
                userinfo: None,
            },
            RegisteredIssuer {
                tenant: acme(),
                issuer: "https://sso.acme.example/".into(),
                audiences: strings_of(&["orders"]),
                algorithms: strings_of(&["RS256"]),
                jwks: IssuerJwks::Uri("https://sso.acme.example/jwks".into()),
                subject_claim: "sub".into(),
                username_claim: None,
                claims_mapping: [("email", "email")].into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
                record_tokens: false,
                userinfo: Some(IssuerUserinfo {
                    endpoint: UserinfoLocation::Discovered,
                    ttl_secs: DEFAULT_USER_DETAILS_TTL_SECS,
                    untyped_access_tokens: false,
                }),
            },
        ];
        let record = Record::TrustedIssuers(TrustedIssuerSet { tenant: acme(), entries });
        let inline = m(&[
            ("tenant", s(ACME)),
            ("issuer", s("https://idp.acme.example/")),
            ("audiences", strings(&["https://orders.example", "orders"])),
            ("algorithms", strings(&["ES256", "RS256"])),
            ("jwks", s(r#"{"keys":[]}"#)),
            ("subject_claim", s("oid")),
            ("username_claim", s("email")),
            ("claims_mapping", m(&[("email", s("email")), ("given_name", s("first_name"))])),
            ("record_tokens", AttributeValue::Bool(true)),
            ("userinfo_endpoint", s("https://idp.acme.example/userinfo")),
            ("user_details_ttl_secs", n("3600")),
            ("untyped_access_tokens", AttributeValue::Bool(true)),
        ]);
        let by_uri = m(&[
            ("tenant", s(ACME)),
            ("issuer", s("https://login.partner.example/")),
            ("audiences", l(&[])),
            ("algorithms", strings(&["EdDSA"])),
            ("jwks_uri", s("https://login.partner.example/jwks.json")),
            ("subject_claim", s("sub")),
            ("claims_mapping", m(&[])),
            ("record_tokens", AttributeValue::Bool(false)),
        ]);
        let discovered = m(&[
            ("tenant", s(ACME)),
            ("issuer", s("https://sso.acme.example/")),
            ("audiences", strings(&["orders"])),
            ("algorithms", strings(&["RS256"])),
            ("jwks_uri", s("https://sso.acme.example/jwks")),
            ("subject_claim", s("sub")),
            ("claims_mapping", m(&[("email", s("email"))])),
            ("record_tokens", AttributeValue::Bool(false)),
            ("userinfo_discovery", AttributeValue::Bool(true)),
            ("user_details_ttl_secs", n("86400")),
        ]);
        let item = attributes(&[
            ("pk", s("acme#iss#set")),
            ("kind", s("trusted_issuers")),
            ("set", m(&[("tenant", s(ACME)), ("entries", l(&[inline, by_uri, discovered]))])),
        ]);
        (record, item)
    }

    /// A tenant's Shared Signals transmitters: one with its JWKS inline, one with a JWKS URL.
    fn pinned_ssf_transmitters() -> (Record, HashMap<String, AttributeValue>) {
        let strings_of = |values: &[&str]| values.iter().map(|v| (*v).to_owned()).collect::<Vec<_>>();
        let entries = vec![
            RegisteredTransmitter {
                tenant: acme(),
                issuer: "https://idp.acme.example/".into(),
                audience: "https://tessera.acme.example/t/acme/ssf/events".into(),
                algorithms: strings_of(&["ES256"]),
                jwks: IssuerJwks::Inline(r#"{"keys":[]}"#.into()),
                authorization_hash: SecretHash::try_from(SECRET_HASH.to_owned()).unwrap(),
                subject_issuers: strings_of(&["https://idp.acme.example/"]),
            },
            RegisteredTransmitter {
                tenant: acme(),
                issuer: "https://ssf.partner.example/".into(),
                audience: "tessera-acme".into(),
                algorithms: strings_of(&["RS256", "EdDSA"]),
                jwks: IssuerJwks::Uri("https://ssf.partner.example/jwks".into()),
                authorization_hash: SecretHash::try_from(SECRET_HASH.to_owned()).unwrap(),
                subject_issuers: strings_of(&["https://idp.acme.example/", "https://login.partner.example/"]),
            },
        ];
        let record = Record::SsfTransmitters(TransmitterSet { tenant: acme(), entries });
        let inline = m(&[
            ("tenant", s(ACME)),
            ("issuer", s("https://idp.acme.example/")),
            ("audience", s("https://tessera.acme.example/t/acme/ssf/events")),
            ("algorithms", strings(&["ES256"])),
            ("jwks", s(r#"{"keys":[]}"#)),
            ("authorization_hash", s(SECRET_HASH)),
            ("subject_issuers", strings(&["https://idp.acme.example/"])),
        ]);
        let by_uri = m(&[
            ("tenant", s(ACME)),
            ("issuer", s("https://ssf.partner.example/")),
            ("audience", s("tessera-acme")),
            ("algorithms", strings(&["RS256", "EdDSA"])),
            ("jwks_uri", s("https://ssf.partner.example/jwks")),
            ("authorization_hash", s(SECRET_HASH)),
            ("subject_issuers", strings(&["https://idp.acme.example/", "https://login.partner.example/"])),
        ]);
        let item = attributes(&[
            ("pk", s("acme#ssf#set")),
            ("kind", s("ssf_transmitters")),
            ("set", m(&[("tenant", s(ACME)), ("entries", l(&[inline, by_uri]))])),
        ]);
        (record, item)
    }

    /// A trusted issuer's JWT recorded at introspection, live or revoked (`revoked_at` at the top level, where
    /// `mark_revoked` sets it for both token kinds).
    fn pinned_external_token(revoked: bool) -> (Record, HashMap<String, AttributeValue>) {
        let record = ExternalTokenRecord {
            tenant: acme(),
            token_hash: token_hash(EXTERNAL_HASH),
            issuer: "https://idp.acme.example/".into(),
            subject: "auth0|alice".into(),
            issued_at: Timestamp::from_secs(1_800_000_000),
            expires_at: Timestamp::from_secs(1_800_003_600),
            revoked_at: revoked.then(|| Timestamp::from_micros(1_800_000_100_000_001)),
        };
        let mut attrs = vec![
            ("pk", s(&format!("acme#tok#{EXTERNAL_HASH}"))),
            ("kind", s("external_token")),
            ("expires_at", n("1800003600")),
            (
                "token",
                m(&[
                    ("tenant", s(ACME)),
                    ("token_hash", s(EXTERNAL_HASH)),
                    ("issuer", s("https://idp.acme.example/")),
                    ("subject", s("auth0|alice")),
                    ("issued_at", n("1800000000000000")),
                    ("expires_at", n("1800003600000000")),
                ]),
            ),
        ];
        if revoked {
            attrs.push(("revoked_at", n("1800000100000001")));
        }
        (Record::ExternalToken(record), attributes(&attrs))
    }

    /// A subject's cached user details: fetched (`fetched_at` set), or only attempted (`fetched_at` absent, no
    /// details yet).
    fn pinned_user_details(fetched: bool) -> (Record, HashMap<String, AttributeValue>) {
        let subject = IdTag::of("auth0|alice");
        let record = UserDetailsRecord {
            tenant: acme(),
            subject,
            issuer: "https://idp.acme.example/".into(),
            details: match fetched {
                true => BTreeMap::from([
                    ("email".to_owned(), serde_json::json!("alice@example.com")),
                    ("email_verified".to_owned(), serde_json::json!(true)),
                ]),
                false => BTreeMap::new(),
            },
            fetched_at: fetched.then(|| Timestamp::from_micros(1_800_000_000_000_001)),
            attempted_at: Timestamp::from_micros(1_800_000_000_000_001),
            expires_at: Timestamp::from_secs(if fetched { 1_800_086_401 } else { 1_800_000_061 }),
        };
        let mut attrs = vec![
            ("pk", s(&format!("acme#ud#{subject}"))),
            ("kind", s("user_details")),
            ("expires_at", n(if fetched { "1800086401" } else { "1800000061" })),
            ("tenant", s(ACME)),
            ("subject", s(&subject.to_string())),
            ("issuer", s("https://idp.acme.example/")),
            ("attempted_at", n("1800000000000001")),
        ];
        if fetched {
            attrs.push((
                "details",
                m(&[("email", s("alice@example.com")), ("email_verified", AttributeValue::Bool(true))]),
            ));
            attrs.push(("fetched_at", n("1800000000000001")));
        } else {
            attrs.push(("details", m(&[])));
        }
        (Record::UserDetails(record), attributes(&attrs))
    }

    #[test]
    fn user_details_at_their_bounds_stay_one_read_unit() {
        use crate::domain::user_details::{MAX_USER_DETAILS_BYTES, MAX_USER_DETAILS_CLAIMS, bounded_details};
        // The largest mapped claims accepted: as many claims as allowed, as many bytes as allowed.
        let per_claim = MAX_USER_DETAILS_BYTES / MAX_USER_DETAILS_CLAIMS - 20;
        let details: BTreeMap<String, serde_json::Value> = (0..MAX_USER_DETAILS_CLAIMS)
            .map(|i| (format!("claim_{i:02}"), serde_json::json!("x".repeat(per_claim))))
            .collect();
        let details = bounded_details(details).unwrap();
        let (Record::UserDetails(pinned), _) = pinned_user_details(true) else { unreachable!() };
        let record = Record::UserDetails(UserDetailsRecord { details, ..pinned });
        let size = item_size(&record).unwrap();
        assert!(size < 4096, "{size} bytes: over one strongly consistent read unit");
    }

    /// A used client assertion, DPoP proof and SET id: the key and `digest` are SHA-256 over the length-prefixed
    /// purpose, issuer and `jti` (computed independently, in Python, for this pin).
    fn pinned_used_jtis() -> Vec<(Record, HashMap<String, AttributeValue>)> {
        [
            (
                JtiPurpose::ClientAssertion,
                "ca",
                "orders-service",
                "assertion-0001",
                "sdouOfErCMe5KZLSw-qLJmtPcDxL_YpXttL-z13-7uA",
            ),
            (
                JtiPurpose::DpopProof,
                "dpop",
                "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
                "proof-0001",
                "-Gs7JIcjCebrWNuFJ43Iww-tcL1iBpWLHNAnhZAlBkY",
            ),
            (
                JtiPurpose::SecurityEvent,
                "set",
                "https://idp.example/",
                "set-0001",
                "yVNiY-s5ZwuVgT1or2TArju9bAdnjO34j4D4-ZOt9oE",
            ),
        ]
        .into_iter()
        .map(|(purpose, tag, issuer, jti, digest)| {
            let expires_at = Timestamp::from_secs(1_800_000_300);
            let record = Record::UsedJti(UsedJti::new(acme(), purpose, issuer, jti, expires_at));
            let item = attributes(&[
                ("pk", s(&format!("acme#once#{tag}:{digest}"))),
                ("kind", s("used_jti")),
                ("expires_at", n("1800000300")),
                ("tenant", s(ACME)),
                ("purpose", s(tag)),
                ("digest", s(digest)),
            ]);
            (record, item)
        })
        .collect()
    }

    /// Every item kind, with and without its optional attributes.
    fn pins() -> Vec<(Record, HashMap<String, AttributeValue>)> {
        let mut pins = vec![
            pinned_client(true),
            pinned_client(false),
            pinned_client_with_keys(true),
            pinned_client_with_keys(false),
            pinned_mutual_tls_client(true),
            pinned_mutual_tls_client(false),
            pinned_token(false),
            pinned_token(true),
            pinned_revoked_jti(),
            pinned_trusted_issuers(),
            pinned_ssf_transmitters(),
            pinned_external_token(false),
            pinned_external_token(true),
        ];
        pins.extend(pinned_watermarks());
        pins.extend(pinned_seen_events());
        pins.push(pinned_user_details(true));
        pins.push(pinned_user_details(false));
        pins.extend(pinned_used_jtis());
        pins
    }

    #[test]
    fn every_item_kind_is_written_and_read_exactly_as_pinned() {
        for (record, item) in pins() {
            assert_eq!(to_item(record.clone()).unwrap(), item, "{record:?} writes other attributes");
            assert_eq!(from_item(item).unwrap(), record);
        }
    }

    #[test]
    fn items_with_attributes_other_writers_add_read_as_pinned() {
        // `raise_watermark` adds the ids of the events that raised a watermark (a string set) to the item.
        for (record, mut item) in pinned_watermarks() {
            item.insert("event_ids".into(), ss(&["password-changed-0001", "evt-2"]));
            assert_eq!(from_item(item).unwrap(), record);
        }
        // `mark_revoked` sets `revoked_at` on a token item; `rotate` sets `rotated_at` (both microseconds).
        let (Record::Token(mut revoked), mut item) = pinned_token(false) else { unreachable!() };
        item.insert("revoked_at".into(), n("1800000002000002"));
        item.insert("rotated_at".into(), n("1800000001000001"));
        revoked.revoked_at = Some(Timestamp::from_micros(1_800_000_002_000_002));
        revoked.rotated_at = Some(Timestamp::from_micros(1_800_000_001_000_001));
        assert_eq!(from_item(item).unwrap(), Record::Token(revoked));
        // A recorded external token whose revocation sits inside `token` (how it was once written) reads revoked.
        let (revoked, _) = pinned_external_token(true);
        let (_, mut item) = pinned_external_token(false);
        let Some(AttributeValue::M(token)) = item.get_mut("token") else { unreachable!() };
        token.insert("revoked_at".into(), n("1800000100000001"));
        assert_eq!(from_item(item).unwrap(), revoked);
    }

    #[test]
    fn a_ttl_is_rounded_up_to_whole_seconds_and_read_back_as_them() {
        // Denylist entries and watermarks keep no expiry but the TTL attribute: a sub-second one reads back
        // rounded up (never early). Token records keep theirs in full in the grant.
        let (Record::Watermark(mut mark), item) = pinned_watermarks().remove(0) else { unreachable!() };
        let whole = mark.expires_at;
        mark.expires_at = Timestamp::from_micros(1_807_779_600_000_001);
        assert_eq!(to_item(Record::Watermark(mark.clone())).unwrap(), item);
        assert_eq!(from_item(item).unwrap(), Record::Watermark(RevocationWatermark { expires_at: whole, ..mark }));
        let (Record::RevokedJti(mut jti), item) = pinned_revoked_jti() else { unreachable!() };
        let whole = jti.expires_at;
        jti.expires_at = Timestamp::from_micros(1_800_000_299_000_001);
        assert_eq!(to_item(Record::RevokedJti(jti.clone())).unwrap(), item);
        assert_eq!(from_item(item).unwrap(), Record::RevokedJti(RevokedJti { expires_at: whole, ..jti }));
    }

    #[test]
    fn items_without_optional_attributes_read_with_their_defaults() {
        // A trusted issuer entry with only the required attributes: tenant `default`, subject claim `sub`, no
        // username claim, no claims mapping, tokens not recorded.
        let item = attributes(&[
            ("pk", s("default#iss#set")),
            ("kind", s("trusted_issuers")),
            (
                "set",
                m(&[
                    ("tenant", s("default")),
                    (
                        "entries",
                        l(&[m(&[
                            ("issuer", s("https://idp.example/")),
                            ("audiences", strings(&["api"])),
                            ("algorithms", strings(&["RS256"])),
                            ("jwks_uri", s("https://idp.example/jwks")),
                        ])]),
                    ),
                ]),
            ),
        ]);
        let entries = vec![RegisteredIssuer {
            tenant: TenantId::default(),
            issuer: "https://idp.example/".into(),
            audiences: vec!["api".into()],
            algorithms: vec!["RS256".into()],
            jwks: IssuerJwks::Uri("https://idp.example/jwks".into()),
            subject_claim: "sub".into(),
            username_claim: None,
            claims_mapping: BTreeMap::new(),
            record_tokens: false,
            userinfo: None,
        }];
        let expected = Record::TrustedIssuers(TrustedIssuerSet { tenant: TenantId::default(), entries });
        assert_eq!(from_item(item).unwrap(), expected);
    }

    #[test]
    fn a_trusted_issuer_entry_with_a_file_or_two_key_sources_is_corrupt() {
        let (_, item) = pinned_trusted_issuers();
        let with_entry = |change: &dyn Fn(&mut HashMap<String, AttributeValue>)| {
            let mut item = item.clone();
            let Some(AttributeValue::M(set)) = item.get_mut("set") else { unreachable!() };
            let Some(AttributeValue::L(entries)) = set.get_mut("entries") else { unreachable!() };
            let Some(AttributeValue::M(entry)) = entries.get_mut(0) else { unreachable!() };
            change(entry);
            from_item(item)
        };
        // A path on the importing machine means nothing to a function; the import reads the file into `jwks`.
        let file = with_entry(&|entry| drop(entry.insert("jwks_file".into(), s("/home/op/jwks.json"))));
        assert!(matches!(file, Err(StoreError::Corrupt { .. })), "{file:?}");
        let both = with_entry(&|entry| drop(entry.insert("jwks_uri".into(), s("https://idp.acme.example/jwks"))));
        assert!(matches!(both, Err(StoreError::Corrupt { .. })), "{both:?}");
        let neither = with_entry(&|entry| drop(entry.remove("jwks")));
        assert!(matches!(neither, Err(StoreError::Corrupt { .. })), "{neither:?}");
    }

    /// The pins on a real table (the emulator `scripts/test` starts), read back raw with `GetItem`: what `PutItem`
    /// writes, and what the update expressions of `rotate`, `mark_revoked` and `raise_watermark` add. On a table of
    /// its own, since the pinned tenant-wide watermark would revoke the tokens of tests sharing the test table.
    /// Skipped without the emulator; a failure in CI.
    #[tokio::test]
    async fn the_table_holds_exactly_the_pinned_items() {
        let Ok(shared) = std::env::var("TESSERA_TEST_TABLE") else {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true: the DynamoDB emulator must be running");
            return;
        };
        let dynamo = client(&crate::aws_sdk::sdk_config().await, None);
        let store = DynamoStore::new(dynamo.clone(), format!("{shared}-items-{}", std::process::id()));
        store.create_table_if_missing().await.unwrap();
        let raw = async |key: &StoreKey| {
            let read =
                dynamo.get_item().table_name(store.table()).set_key(Some(key_attribute(key))).consistent_read(true);
            read.send().await.unwrap().item.unwrap_or_default()
        };
        for (record, item) in pins() {
            let key = record.key();
            store.delete(&key).await.unwrap();
            // Deleted: the key is free at any instant, the epoch included.
            match &record {
                Record::Client(_) | Record::TrustedIssuers(_) | Record::SsfTransmitters(_) => {
                    store.put(record.clone()).await.unwrap()
                }
                Record::Token(t) if t.rotated_at.is_some() => {
                    let fresh = TokenRecord { revoked_at: None, rotated_at: None, ..t.clone() };
                    store.put_new(Record::Token(fresh), Timestamp::EPOCH).await.unwrap();
                    store.rotate(&key, t.rotated_at.unwrap(), Vec::new(), None).await.unwrap();
                    store.mark_revoked(&key, t.revoked_at.unwrap()).await.unwrap();
                }
                Record::ExternalToken(t) if t.revoked_at.is_some() => {
                    let live = ExternalTokenRecord { revoked_at: None, ..t.clone() };
                    store.put_new(Record::ExternalToken(live), Timestamp::EPOCH).await.unwrap();
                    store.mark_revoked(&key, t.revoked_at.unwrap()).await.unwrap();
                }
                Record::Watermark(mark) => assert!(store.raise_watermark(mark.clone(), None).await.unwrap()),
                Record::UserDetails(details) => {
                    assert!(store.put_user_details(details.clone(), None).await.unwrap());
                    let again =
                        UserDetailsRecord { attempted_at: details.attempted_at.plus_secs(60), ..details.clone() };
                    assert!(!store.put_user_details(again.clone(), None).await.unwrap(), "the item is there");
                    let stale = Some(Timestamp::from_micros(1));
                    assert!(!store.put_user_details(again, stale).await.unwrap(), "another attempt's item");
                }
                _ => store.put_new(record.clone(), Timestamp::EPOCH).await.unwrap(),
            }
            assert_eq!(raw(&key).await, item, "{record:?} on the table");
            assert_eq!(store.get_many(std::slice::from_ref(&key)).await.unwrap(), vec![record]);
        }
        // A watermark raised by an event keeps its pinned shape, whether the event raised the mark or not: each
        // event is an item of its own beside it.
        for ((record, item), (seen, seen_item)) in pinned_watermarks().into_iter().zip(pinned_seen_events()) {
            let (key, Record::Watermark(mark)) = (record.key(), record.clone()) else { unreachable!() };
            store.delete(&key).await.unwrap();
            store.delete(&seen.key()).await.unwrap();
            assert!(store.raise_watermark(mark.clone(), Some("pwd-change-0001")).await.unwrap());
            assert!(!store.raise_watermark(mark.clone(), Some("evt-2")).await.unwrap(), "not raised, but seen");
            assert!(!store.raise_watermark(mark, Some("pwd-change-0001")).await.unwrap(), "seen");
            assert_eq!(raw(&key).await, item, "{record:?} raised by events");
            assert_eq!(raw(&seen.key()).await, seen_item, "{seen:?} on the table");
            assert_eq!(store.get_many(&[key, seen.key()]).await.unwrap(), vec![record, seen]);
        }
        // A watermark an earlier release wrote remembers its events in `event_ids`: they stay seen.
        let (record, _) = pinned_watermarks().remove(1);
        let (key, Record::Watermark(mark)) = (record.key(), record.clone()) else { unreachable!() };
        store.delete(&key).await.unwrap();
        let mut legacy = to_item(record).unwrap();
        legacy.insert("event_ids".into(), ss(&["old-1", "old-2"]));
        dynamo.put_item().table_name(store.table()).set_item(Some(legacy)).send().await.unwrap();
        let higher = RevocationWatermark { revoked_before: mark.revoked_before.plus_secs(60), ..mark.clone() };
        assert!(!store.raise_watermark(higher.clone(), Some("old-2")).await.unwrap(), "seen before the upgrade");
        assert!(store.raise_watermark(higher, Some("new-1")).await.unwrap(), "a new event raises it");
        dynamo.delete_table().table_name(store.table()).send().await.unwrap();
    }

    #[test]
    fn a_foreign_item_is_reported_not_panicked() {
        let item = HashMap::from([
            (PARTITION_KEY.to_owned(), AttributeValue::S("default#tok#x".into())),
            ("kind".to_owned(), AttributeValue::S("token".into())),
        ]);
        assert!(matches!(from_item(item), Err(StoreError::Corrupt { .. })));
    }
}

//! Client authentication against the stored client record. The record is read in the same store round
//! trip as whatever else the request needs, so authenticating costs no extra read. A secret is compared with
//! its hash; a `private_key_jwt` assertion (RFC 7523 §2.2) is verified against the client's keys and its `jti`
//! then spent with one conditional write, so a replay is refused (RFC 7523 §3 item 7). A mutual-TLS client
//! (RFC 8705 §2) is authenticated by the connection's client certificate: for `tls_client_auth`, one that chains to
//! a CA the TLS terminator trusts and names the client as registered; for `self_signed_tls_client_auth`, one
//! registered in the client's JWK Set. Neither costs a store call.

use crate::TokenService;
use crate::domain::client::{Client, ClientAuthentication, ClientId, SecretHash};
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;
use crate::jwt::client_assertion;
use crate::metrics::{self, Metric};
use crate::store::{Fetched, JtiPurpose, JtiUse, StoreKey, UsedJti};
use crate::tenancy::Tenant;
use crate::wire::OAuthError;
use crate::wire::client_auth::ClientCredentials;
use crate::wire::client_cert::ClientCertificate;

/// An endpoint clients authenticate at. Its URL is an audience an assertion may name (RFC 7523 §3 item 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientEndpoint {
    /// The token endpoint (RFC 6749 §3.2).
    Token,
    /// The introspection endpoint (RFC 7662).
    Introspection,
    /// The revocation endpoint (RFC 7009).
    Revocation,
}

impl ClientEndpoint {
    /// Its path under the tenant's issuer.
    pub const fn path(self) -> &'static str {
        match self {
            Self::Token => "/oauth2/token",
            Self::Introspection => "/oauth2/introspect",
            Self::Revocation => "/oauth2/revoke",
        }
    }

    /// Its URL for a tenant whose issuer is `issuer` (without a trailing slash).
    pub fn url(self, issuer: &str) -> String {
        format!("{}{}", issuer.trim_end_matches('/'), self.path())
    }

    /// Its mutual-TLS alias (RFC 8705 §5) for a tenant whose issuer is `issuer`: the same path, under the issuer's
    /// path, on the alias origin `origin` (`https://host[:port]`).
    pub fn alias_url(self, issuer: &str, origin: &str) -> String {
        let issuer_path =
            url::Url::parse(issuer).map(|url| url.path().trim_end_matches('/').to_owned()).unwrap_or_default();
        format!("{origin}{issuer_path}{}", self.path())
    }
}

/// Where and when a client authenticates: the service (whose store spends an assertion's `jti`), the tenant (its
/// issuer and its clients' key caches), the endpoint, the connection's client certificate, and the request's
/// instant.
pub struct Authenticating<'a> {
    /// The service.
    pub service: &'a TokenService,
    /// The tenant, as the request sees it.
    pub tenant: &'a Tenant<'a>,
    /// The endpoint that received the request.
    pub endpoint: ClientEndpoint,
    /// The client certificate of the mutual-TLS connection the request came on, if any.
    pub certificate: Option<&'a ClientCertificate>,
    /// The request's one instant.
    pub now: Timestamp,
}

/// The store key of the presented client, or `invalid_client` for an id that cannot exist.
pub fn client_key(tenant: &TenantId, credentials: &ClientCredentials) -> Result<StoreKey, OAuthError> {
    let id = ClientId::parse(&credentials.client_id).map_err(|_| {
        tracing::info!(reason = "malformed client_id", "client authentication failed");
        metrics::count(Metric::ClientAuthenticationFailures);
        OAuthError::invalid_client()
    })?;
    Ok(StoreKey::client(tenant, &id))
}

/// Authenticates the presented credentials against the fetched client record. Unknown client, wrong secret,
/// disabled client, a method the client is not registered for, and an assertion that does not verify or was
/// used before all answer the same `invalid_client`. A secret costs the same hashing work whether or not the
/// client exists. A store failure while spending the assertion's `jti` fails closed (503), never authenticates.
pub async fn authenticate<'a>(
    at: &Authenticating<'_>,
    credentials: &ClientCredentials,
    key: &StoreKey,
    fetched: &'a Fetched,
) -> Result<&'a Client, OAuthError> {
    let client = fetched.client(key);
    let refused = |reason: &dyn std::fmt::Display| {
        tracing::info!(client_id = %credentials.client_id, method = credentials.method.as_str(), %reason,
            "client authentication failed");
        metrics::count(Metric::ClientAuthenticationFailures);
        Err(OAuthError::invalid_client())
    };
    if credentials.by_certificate() {
        return match client {
            Some(client) => match by_certificate(at, client).await {
                Ok(()) => Ok(client),
                Err(reason) => refused(&reason),
            },
            None => refused(&"unknown client"),
        };
    }
    let (client, assertion) = match (client, credentials.secret(), credentials.assertion()) {
        (Some(client), Some(secret), _) => {
            if client.authenticate(secret) {
                return Ok(client);
            }
            return match &client.authentication {
                _ if client.disabled => refused(&"client disabled"),
                ClientAuthentication::Secret(_) => refused(&"wrong secret"),
                other => refused(&format_args!("client registered for {}", other.methods()[0].as_str())),
            };
        }
        (None, Some(secret), _) => {
            SecretHash::verify_nothing(secret);
            return refused(&"unknown client");
        }
        (Some(client), None, Some(assertion)) => (client, assertion),
        (None, None, _) | (_, None, None) => return refused(&"unknown client"),
    };
    let ClientAuthentication::PrivateKeyJwt(jwks) = &client.authentication else {
        return refused(&format_args!(
            "client registered for {}, not private_key_jwt",
            client.authentication.methods()[0].as_str()
        ));
    };
    let keys = match at.tenant.client_keys(jwks) {
        Ok(keys) => keys,
        Err(err) => return refused(&err),
    };
    // RFC 7523 §3 item 3: the issuer, or the URL the assertion was sent to (RFC 8705 §5: or its mutual-TLS alias).
    let endpoint = at.endpoint.url(&at.tenant.issuer);
    let alias = at.service.mtls_base_url().map(|origin| at.endpoint.alias_url(&at.tenant.issuer, origin));
    let mut audiences = vec![&*at.tenant.issuer, endpoint.as_str()];
    audiences.extend(alias.as_deref());
    let verified = match client_assertion::verify(assertion, client.client_id.as_str(), &keys, &audiences, at.now).await
    {
        Ok(verified) => verified,
        Err(rejection) => return refused(&format_args!("assertion refused: {rejection}")),
    };
    if client.disabled {
        return refused(&"client disabled");
    }
    // RFC 7523 §3 item 7: the server may ensure a JWT is not replayed, by keeping its jti until it expires. One
    // conditional write, no read: of two concurrent uses, exactly one is first.
    let used = UsedJti::new(
        at.tenant.id.clone(),
        JtiPurpose::ClientAssertion,
        client.client_id.as_str(),
        &verified.jti,
        verified.accepted_until,
    );
    match at.service.store.use_jti_once(used, at.now).await? {
        JtiUse::First => Ok(client),
        JtiUse::Replayed => refused(&"assertion replayed (jti used before)"),
    }
}

/// RFC 8705 §2: whether the connection's client certificate authenticates `client`, or why not. `tls_client_auth`
/// (§2.1) needs a certificate whose chain the TLS terminator verified against its trust store (API Gateway's
/// truststore, the runner's `--tls-client-ca`) and that names the client as registered; where that proves no CA
/// (the runner's `--tls-client-any`, a truststore of clients' own certificates) only `self_signed_tls_client_auth`
/// (§2.2) is served, whose certificate must be one the client registered in its JWK Set.
async fn by_certificate(at: &Authenticating<'_>, client: &Client) -> Result<(), String> {
    let certificate = at.certificate.ok_or("no client certificate on the connection")?;
    // The TLS terminator checked the validity period at the handshake; checked again at the request's instant, so
    // a certificate that expired since (on a long-lived or resumed connection) authenticates nothing.
    if !certificate.is_valid_at(at.now.as_secs()) {
        return Err(format!("certificate {} is outside its validity period", certificate.thumbprint()));
    }
    let matched = match &client.authentication {
        ClientAuthentication::TlsClientAuth(subject) => {
            if !at.service.client_certificate_chains_verified() {
                return Err("tls_client_auth needs a chain to a CA, and this deployment's trust store proves none \
                            (--tls-client-any, or mtls_truststore_holds = client_certificates)"
                    .into());
            }
            certificate.names(subject)
        }
        ClientAuthentication::SelfSignedTlsClientAuth(jwks) => {
            let keys = at.tenant.client_keys(jwks).map_err(|err| err.to_string())?;
            keys.registers_certificate(certificate.thumbprint(), at.now).await
        }
        other => return Err(format!("client registered for {}, not mutual TLS", other.methods()[0].as_str())),
    };
    if !matched {
        return Err(format!("certificate {} does not match the registration", certificate.thumbprint()));
    }
    if client.disabled {
        return Err("client disabled".into());
    }
    Ok(())
}

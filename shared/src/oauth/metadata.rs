//! Discovery: the RFC 8414 authorization server metadata document and the JWK Set (RFC 7517) of a tenant.

use serde::Serialize;
use serde_json::Value;

use crate::domain::client::GrantType;
use crate::jwt::client_assertion;
use crate::jwt::dpop::DPOP_SIGNING_ALGORITHMS;
use crate::oauth::authenticate::ClientEndpoint;
use crate::tenancy::Tenant;
use crate::wire::client_auth::AuthMethod;

/// The RFC 8414 §2 metadata of one tenant.
#[derive(Debug, Serialize)]
pub struct AuthorizationServerMetadata {
    /// The issuer identifier.
    pub issuer: String,
    /// RFC 6749 §3.2.
    pub token_endpoint: String,
    /// RFC 7662.
    pub introspection_endpoint: String,
    /// RFC 7009.
    pub revocation_endpoint: String,
    /// RFC 7517 key set.
    pub jwks_uri: String,
    /// The `response_type`s of the authorization endpoint. Tessera has none, so the list is empty and omitted:
    /// RFC 8414 §3.2 says "claims with zero elements MUST be omitted", and erratum 7793 (reported, not yet
    /// verified) would make this member required only for servers with grant types that use the authorization
    /// endpoint. A strict validator reading §2 alone may still ask for it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub response_types_supported: Vec<&'static str>,
    /// The grant types the tenant's token endpoint can answer: client credentials, and token exchange and refresh
    /// only where the tenant trusts an issuer (no refresh token is minted but by an exchange).
    pub grant_types_supported: Vec<&'static str>,
    /// How clients authenticate at the token endpoint.
    pub token_endpoint_auth_methods_supported: Vec<&'static str>,
    /// RFC 8414 §2: the JWS algorithms of `private_key_jwt` assertions (RFC 7523) at this endpoint.
    pub token_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    /// How clients authenticate at the introspection endpoint.
    pub introspection_endpoint_auth_methods_supported: Vec<&'static str>,
    /// RFC 8414 §2: the JWS algorithms of `private_key_jwt` assertions (RFC 7523) at this endpoint.
    pub introspection_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    /// How clients authenticate at the revocation endpoint.
    pub revocation_endpoint_auth_methods_supported: Vec<&'static str>,
    /// RFC 8414 §2: the JWS algorithms of `private_key_jwt` assertions (RFC 7523) at this endpoint.
    pub revocation_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    /// The algorithms access tokens are signed with (the keys in `jwks_uri`).
    pub access_token_signing_alg_values_supported: Vec<&'static str>,
    /// RFC 9701 §7: the algorithm signed introspection responses use (the tenant's signing key).
    pub introspection_signing_alg_values_supported: Vec<&'static str>,
    /// RFC 9449 §5.1: the algorithms a DPoP proof may be signed with.
    pub dpop_signing_alg_values_supported: Vec<&'static str>,
    /// RFC 8705 §3.3: access tokens can be bound to the client certificate (for clients registered so). Omitted
    /// (false) where no mutual TLS is offered.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_client_certificate_bound_access_tokens: bool,
    /// RFC 8705 §5: the endpoints on the mutual-TLS host, where one is configured apart from the issuer's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtls_endpoint_aliases: Option<MtlsEndpointAliases>,
}

/// RFC 8705 §5 `mtls_endpoint_aliases`: the endpoints a client using mutual TLS calls instead.
#[derive(Debug, Serialize)]
pub struct MtlsEndpointAliases {
    /// The token endpoint on the mutual-TLS host.
    pub token_endpoint: String,
    /// The introspection endpoint on the mutual-TLS host.
    pub introspection_endpoint: String,
    /// The revocation endpoint on the mutual-TLS host.
    pub revocation_endpoint: String,
}

/// How a deployment offers mutual TLS (RFC 8705), as its metadata tells it.
#[derive(Debug, Clone, Copy, Default)]
pub struct MutualTlsOffer<'a> {
    /// Whether clients can reach the endpoints over mutual TLS at all: otherwise the two mutual-TLS methods and
    /// certificate-bound tokens are not announced.
    pub offered: bool,
    /// Whether a certificate's chain proves a CA (otherwise `tls_client_auth`, always refused, is not announced).
    pub chains_verified: bool,
    /// The origin of the mutual-TLS aliases of the endpoints, when they are on another host.
    pub alias_origin: Option<&'a str>,
}

/// The metadata document for a tenant whose endpoints live under its issuer URL. Where mutual TLS is offered, the
/// mutual-TLS methods and certificate-bound tokens are announced, with the endpoints' aliases on the alias origin
/// when one is configured (the issuer's path on that host).
pub fn authorization_server_metadata(
    tenant: &Tenant<'_>,
    mutual_tls: MutualTlsOffer<'_>,
) -> AuthorizationServerMetadata {
    let base = tenant.issuer.trim_end_matches('/');
    let auth_methods = || {
        let served = |m: &&AuthMethod| match m {
            AuthMethod::TlsClientAuth => mutual_tls.offered && mutual_tls.chains_verified,
            AuthMethod::SelfSignedTlsClientAuth => mutual_tls.offered,
            _ => true,
        };
        let offered = AuthMethod::ALL.iter().filter(served);
        offered.map(|m| m.as_str()).collect::<Vec<_>>()
    };
    let signing_algs = client_assertion::algorithm_names;
    AuthorizationServerMetadata {
        issuer: tenant.issuer.to_string(),
        token_endpoint: ClientEndpoint::Token.url(base),
        introspection_endpoint: ClientEndpoint::Introspection.url(base),
        revocation_endpoint: ClientEndpoint::Revocation.url(base),
        jwks_uri: format!("{base}/.well-known/jwks.json"),
        response_types_supported: vec![],
        grant_types_supported: GrantType::ALL
            .iter()
            .filter(|g| **g == GrantType::ClientCredentials || !tenant.trusted_issuers().is_empty())
            .map(|g| g.as_str())
            .collect(),
        token_endpoint_auth_methods_supported: auth_methods(),
        token_endpoint_auth_signing_alg_values_supported: signing_algs(),
        introspection_endpoint_auth_methods_supported: auth_methods(),
        introspection_endpoint_auth_signing_alg_values_supported: signing_algs(),
        revocation_endpoint_auth_methods_supported: auth_methods(),
        revocation_endpoint_auth_signing_alg_values_supported: signing_algs(),
        access_token_signing_alg_values_supported: tenant.keys().algorithms(),
        introspection_signing_alg_values_supported: vec![tenant.keys().signing_key().algorithm().as_str()],
        dpop_signing_alg_values_supported: DPOP_SIGNING_ALGORITHMS.iter().map(|alg| alg.as_str()).collect(),
        tls_client_certificate_bound_access_tokens: mutual_tls.offered,
        mtls_endpoint_aliases: mutual_tls.alias_origin.map(|origin| MtlsEndpointAliases {
            token_endpoint: ClientEndpoint::Token.alias_url(&tenant.issuer, origin),
            introspection_endpoint: ClientEndpoint::Introspection.alias_url(&tenant.issuer, origin),
            revocation_endpoint: ClientEndpoint::Revocation.alias_url(&tenant.issuer, origin),
        }),
    }
}

/// The public JWK Set.
pub fn jwks(tenant: &Tenant<'_>) -> Value {
    tenant.keys().jwks()
}

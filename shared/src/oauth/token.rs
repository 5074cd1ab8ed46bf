//! The token endpoint (RFC 6749 §3.2). Validates the grant type before any I/O, authenticates the client
//! in one store read, then issues: a JWT costs no write, an opaque token one conditional write.

use tracing::instrument;

use super::authenticate::{authenticate, client_key};
use super::exchange::{ExchangeRequest, TOKEN_TYPE_ACCESS_TOKEN};
use crate::TokenService;
use crate::domain::client::{Client, GrantType, ScopeRefusal, TokenFormat};
use crate::domain::grant::{FamilyId, Grant};
use crate::domain::scope::ScopeSet;
use crate::domain::time::Timestamp;
use crate::domain::token::{OpaqueToken, TokenKind, TokenRecord};
use crate::entropy::random_bytes;
use crate::jwt::access_token;
use crate::service::Tenant;
use crate::store::{Fetched, Record, StoreError};
use crate::wire::http::OAuthRequest;
use crate::wire::response::TokenResponse;
use crate::wire::{ErrorCode, OAuthError};

/// Answers a token request: `client_credentials` (RFC 6749 §4.4) and token exchange (RFC 8693); other grant
/// types are `unsupported_grant_type`.
#[instrument(skip_all, fields(tenant = %request.tenant, client_id, grant_type))]
pub async fn token(service: &TokenService, request: &OAuthRequest) -> Result<TokenResponse, OAuthError> {
    let tenant = &request.tenant;
    let settings = service.tenant(tenant, request.gateway_domain.as_deref())?;
    let grant_type = request.require("grant_type")?;
    let grant = match GrantType::parse(grant_type) {
        Some(grant @ (GrantType::ClientCredentials | GrantType::TokenExchange)) => grant,
        _ => {
            return Err(OAuthError::new(ErrorCode::UnsupportedGrantType, "grant_type is not supported"));
        }
    };
    let exchange = match grant {
        GrantType::TokenExchange => Some(ExchangeRequest::parse(request)?),
        _ => None,
    };
    tracing::Span::current().record("grant_type", grant.as_str());
    let credentials = request.require_credentials()?;
    tracing::Span::current().record("client_id", credentials.client_id.as_str());
    let requested_scope = request
        .form
        .get("scope")
        .map(ScopeSet::parse)
        .transpose()
        .map_err(|_| OAuthError::new(ErrorCode::InvalidScope, "scope is malformed"))?;
    // RFC 6749 §3.3: a present scope holds at least one scope-token; blanks alone are malformed.
    if requested_scope.as_ref().is_some_and(ScopeSet::is_empty) {
        return Err(OAuthError::new(ErrorCode::InvalidScope, "scope is malformed"));
    }

    let key = client_key(tenant, credentials)?;
    let now = service.clock.now();
    let fetched = Fetched::new(service.store.get_many(std::slice::from_ref(&key)).await?, now);
    let client = authenticate(credentials, &key, &fetched)?;
    if !client.allows_grant(grant) {
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "the client may not use this grant type"));
    }
    let scope = client.grant_scope(requested_scope).map_err(|refusal| {
        let description = match refusal {
            ScopeRefusal::NotAllowed => "the requested scope is not allowed for this client",
            ScopeRefusal::NoDefault => "no scope requested and the client has no default scope",
        };
        OAuthError::new(ErrorCode::InvalidScope, description)
    })?;
    // RFC 8707 `resource`, or RFC 8693 `audience` for an exchange: either names one of the client's audiences.
    let target = request.form.get("resource").or_else(|| request.form.get("audience"));
    let audience = client
        .audience_for(target, &settings.issuer)
        .ok_or_else(|| OAuthError::new(ErrorCode::InvalidTarget, "the requested resource is not allowed"))?;
    let (subject, username, user_details) = match &exchange {
        None => (client.client_id.to_string(), None, Default::default()),
        Some(exchange) => {
            let identity = exchange.verify_subject(&settings, now)?;
            (identity.subject, identity.username, identity.user_details)
        }
    };
    let grant = Grant {
        tenant: tenant.clone(),
        client_id: client.client_id.clone(),
        subject,
        username,
        user_details,
        scope,
        audience: vec![audience],
        family: FamilyId::from_bytes(random_bytes(service.entropy.as_ref())?),
        issued_at: now,
        // Whole seconds, so the JWT `exp`, introspection's `exp` and `expires_in` all agree.
        expires_at: Timestamp::from_secs(now.as_secs() + u64::from(client.access_token_ttl_secs)),
    };
    let access_token = issue_access_token(service, &settings, client, &grant).await?;
    tracing::info!(format = ?client.access_token_format, "access token issued");
    // RFC 6749 §4.4.3: no refresh token for client credentials.
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: u64::from(client.access_token_ttl_secs),
        scope: Some(grant.scope.to_string()).filter(|s| !s.is_empty()),
        refresh_token: None,
        issued_token_type: exchange.is_some().then_some(TOKEN_TYPE_ACCESS_TOKEN),
    })
}

/// Mints an access token in the client's format. JWT: signed, nothing stored. Opaque: recorded under its
/// hash with one conditional write, so a (practically impossible) collision can never overwrite.
async fn issue_access_token(
    service: &TokenService,
    settings: &Tenant<'_>,
    client: &Client,
    grant: &Grant,
) -> Result<String, OAuthError> {
    match client.access_token_format {
        TokenFormat::Jwt => {
            let jti = new_jti(service)?;
            Ok(access_token::sign(grant, &settings.issuer, &jti, settings.keys)?)
        }
        TokenFormat::Opaque => {
            let token =
                OpaqueToken::mint(TokenKind::AccessToken, grant.family, random_bytes(service.entropy.as_ref())?);
            let record = TokenRecord {
                token_hash: token.hash(),
                kind: TokenKind::AccessToken,
                grant: grant.clone(),
                revoked_at: None,
            };
            match service.store.put_new(Record::Token(record)).await {
                Ok(()) => Ok(token.expose().to_owned()),
                Err(StoreError::AlreadyExists(_)) => {
                    tracing::error!("opaque token hash collision; nothing was overwritten");
                    Err(OAuthError::server_error())
                }
                Err(other) => Err(other.into()),
            }
        }
    }
}

fn new_jti(service: &TokenService) -> Result<String, OAuthError> {
    use base64::Engine;
    let bytes: [u8; 16] = random_bytes(service.entropy.as_ref())?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

//! Client authentication against the stored client record. The record is read in the same store round
//! trip as whatever else the request needs, so authenticating costs no extra call.

use crate::domain::client::{Client, ClientId, SecretHash};
use crate::domain::tenant::TenantId;
use crate::metrics::{self, Metric};
use crate::store::{Fetched, StoreKey};
use crate::wire::OAuthError;
use crate::wire::client_auth::ClientCredentials;

/// The store key of the presented client, or `invalid_client` for an id that cannot exist.
pub fn client_key(tenant: &TenantId, credentials: &ClientCredentials) -> Result<StoreKey, OAuthError> {
    let id = ClientId::parse(&credentials.client_id).map_err(|_| {
        tracing::info!(reason = "malformed client_id", "client authentication failed");
        metrics::count(Metric::ClientAuthenticationFailures);
        OAuthError::invalid_client()
    })?;
    Ok(StoreKey::client(tenant, &id))
}

/// Authenticates the presented credentials against the fetched client record. Unknown client, wrong secret
/// and disabled client all answer the same `invalid_client`, after the same hashing work.
pub fn authenticate<'a>(
    credentials: &ClientCredentials,
    key: &StoreKey,
    fetched: &'a Fetched,
) -> Result<&'a Client, OAuthError> {
    let client = fetched.client(key);
    let ok = match client {
        Some(client) => client.authenticate(credentials.secret()),
        None => SecretHash::verify_nothing(credentials.secret()),
    };
    match client {
        Some(client) if ok => Ok(client),
        _ => {
            let reason = match client {
                None => "unknown client",
                Some(c) if c.disabled => "client disabled",
                Some(_) => "wrong secret",
            };
            tracing::info!(client_id = %credentials.client_id, method = credentials.method.as_str(), reason,
                "client authentication failed");
            metrics::count(Metric::ClientAuthenticationFailures);
            Err(OAuthError::invalid_client())
        }
    }
}

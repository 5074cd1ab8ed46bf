//! Operator commands on the client registry: register (a generated secret, shown once, stored hashed), list,
//! rotate a secret, disable or enable, and import the `[[clients]]` of a configuration file. They work on any
//! store that is both a [`TokenStore`] and a [`RegistrationStore`]: DynamoDB in production, the embedded store
//! in tests.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use tessera::config::{ClientConfig, Config};
use tessera::domain::client::{Client, ClientId, SecretHash};
use tessera::domain::tenant::TenantId;
use tessera::entropy::{Entropy, random_bytes};
use tessera::store::{Fetched, Record, RegistrationStore, StoreError, StoreKey, TokenStore};

/// A store the operator commands can use.
pub trait Registry: TokenStore + RegistrationStore {}
impl<T: TokenStore + RegistrationStore> Registry for T {}

impl std::fmt::Debug for IssuedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedSecret")
            .field("tenant", &self.tenant)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// What `register` and `rotate-secret` print: the only time the secret is ever shown.
#[derive(Serialize)]
pub struct IssuedSecret {
    /// The tenant.
    pub tenant: String,
    /// The client id.
    pub client_id: String,
    /// The new secret (256 bits, base64url). Not stored anywhere.
    pub client_secret: String,
}

/// A generated secret: 32 random bytes, base64url (43 characters).
pub fn generate_secret(entropy: &dyn Entropy) -> Result<String, String> {
    let bytes: [u8; 32] = random_bytes(entropy).map_err(|e| e.to_string())?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

fn hash(secret: &str, entropy: &dyn Entropy) -> Result<SecretHash, String> {
    Ok(SecretHash::new(secret, random_bytes(entropy).map_err(|e| e.to_string())?))
}

fn store_error(err: StoreError) -> String {
    err.to_string()
}

/// Registers a new client from `entry` (its secret fields are ignored), with a generated secret. Refuses to
/// replace an existing client.
pub async fn register(
    store: &dyn Registry,
    entry: &ClientConfig,
    entropy: &dyn Entropy,
) -> Result<IssuedSecret, String> {
    let secret = generate_secret(entropy)?;
    let mut entry = entry.clone();
    entry.client_secret = None;
    entry.client_secret_hash = Some(String::from(hash(&secret, entropy)?));
    let client = entry.to_client(entropy).map_err(|e| e.to_string())?;
    let (tenant, client_id) = (client.tenant.to_string(), client.client_id.to_string());
    match store.put_new(Record::Client(client)).await {
        Ok(()) => Ok(IssuedSecret { tenant, client_id, client_secret: secret }),
        Err(StoreError::AlreadyExists(_)) => Err(format!("client {client_id} already exists in tenant {tenant}")),
        Err(other) => Err(store_error(other)),
    }
}

/// Reads one client.
pub async fn get(store: &dyn Registry, tenant: &TenantId, client_id: &str) -> Result<Client, String> {
    let id = ClientId::parse(client_id).map_err(|e| e.to_string())?;
    let key = StoreKey::client(tenant, &id);
    let records = store.get_many(std::slice::from_ref(&key)).await.map_err(store_error)?;
    // Clients never expire, so the clock reading does not matter here.
    let fetched = Fetched::new(records, tessera::domain::time::Timestamp::from_secs(0));
    fetched.client(&key).cloned().ok_or_else(|| format!("no client {client_id} in tenant {tenant}"))
}

/// Replaces a client's secret with a new generated one. The old secret stops working at once on the store;
/// functions see it at their next read of the client record (every request reads it).
pub async fn rotate_secret(
    store: &dyn Registry,
    tenant: &TenantId,
    client_id: &str,
    entropy: &dyn Entropy,
) -> Result<IssuedSecret, String> {
    let mut client = get(store, tenant, client_id).await?;
    let secret = generate_secret(entropy)?;
    client.secret_hash = hash(&secret, entropy)?;
    store.put_client(client).await.map_err(store_error)?;
    Ok(IssuedSecret { tenant: tenant.to_string(), client_id: client_id.to_owned(), client_secret: secret })
}

/// Disables or re-enables a client. A disabled client cannot authenticate from its next request on.
pub async fn set_disabled(
    store: &dyn Registry,
    tenant: &TenantId,
    client_id: &str,
    disabled: bool,
) -> Result<(), String> {
    let mut client = get(store, tenant, client_id).await?;
    client.disabled = disabled;
    store.put_client(client).await.map_err(store_error)
}

/// Replaces a client's introspection profile, keeping everything else (its secret hash included).
pub async fn set_profile(
    store: &dyn Registry,
    tenant: &TenantId,
    client_id: &str,
    profile: tessera::domain::profile::Profile,
) -> Result<(), String> {
    let mut client = get(store, tenant, client_id).await?;
    client.introspection_profile = profile;
    store.put_client(client).await.map_err(store_error)
}

/// Creates or replaces every `[[clients]]` entry of `config`. Returns the ids written.
pub async fn import(store: &dyn Registry, config: &Config, entropy: &dyn Entropy) -> Result<Vec<String>, String> {
    let clients = config.clients(entropy).map_err(|e| e.to_string())?;
    let mut ids = Vec::with_capacity(clients.len());
    for client in clients {
        ids.push(format!("{}/{}", client.tenant, client.client_id));
        store.put_client(client).await.map_err(store_error)?;
    }
    Ok(ids)
}

/// One line per client: id, format, grants, scopes, flags. Secrets are never listed, not even hashed.
pub fn render_list(clients: &[Client]) -> String {
    let mut out = String::from("CLIENT_ID\tFORMAT\tGRANT_TYPES\tSCOPES\tINTROSPECT\tDISABLED\tPROFILE\n");
    for c in clients {
        let grants: Vec<&str> = c.grant_types.iter().map(|g| g.as_str()).collect();
        let format = match c.access_token_format {
            tessera::domain::client::TokenFormat::Jwt => "jwt",
            tessera::domain::client::TokenFormat::Opaque => "opaque",
        };
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            c.client_id,
            format,
            if grants.is_empty() { "-".to_owned() } else { grants.join(",") },
            if c.scopes.is_empty() { "-".to_owned() } else { c.scopes.to_string().replace(' ', ",") },
            c.may_introspect,
            c.disabled,
            profile_text(&c.introspection_profile),
        ));
    }
    out
}

/// A profile as `user_details,amr`, or `-` when empty.
pub fn profile_text(profile: &tessera::domain::profile::Profile) -> String {
    let names: Vec<String> = profile
        .iter()
        .map(|a| serde_json::to_value(a).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default())
        .collect();
    if names.is_empty() { "-".to_owned() } else { names.join(",") }
}

#[cfg(test)]
mod tests {
    use tessera::entropy::SystemEntropy;
    use tessera::store::memory::MemoryStore;

    use super::*;

    fn entry(id: &str) -> ClientConfig {
        let toml = format!("[[clients]]\nclient_id = \"{id}\"\nclient_secret = \"ignored\"\nscopes = [\"read\"]");
        Config::from_toml(&toml).unwrap().clients[0].clone()
    }

    #[tokio::test]
    async fn register_rotate_disable_list() {
        let store = MemoryStore::new();
        let tenant = TenantId::default();
        let issued = register(&store, &entry("svc"), &SystemEntropy).await.unwrap();
        assert_eq!(issued.client_secret.len(), 43);
        assert!(get(&store, &tenant, "svc").await.unwrap().authenticate(&issued.client_secret));
        assert!(register(&store, &entry("svc"), &SystemEntropy).await.unwrap_err().contains("already exists"));

        let rotated = rotate_secret(&store, &tenant, "svc", &SystemEntropy).await.unwrap();
        let client = get(&store, &tenant, "svc").await.unwrap();
        assert!(client.authenticate(&rotated.client_secret));
        assert!(!client.authenticate(&issued.client_secret), "the old secret stops working");

        set_disabled(&store, &tenant, "svc", true).await.unwrap();
        assert!(!get(&store, &tenant, "svc").await.unwrap().authenticate(&rotated.client_secret));
        let listed = render_list(&store.list_clients(&tenant).await.unwrap());
        assert!(listed.contains("svc\tjwt\tclient_credentials\tread\tfalse\ttrue"), "{listed}");
        assert!(!listed.contains(&rotated.client_secret) && !listed.contains("sha256$"));
        assert!(rotate_secret(&store, &tenant, "nobody", &SystemEntropy).await.is_err());
    }
}

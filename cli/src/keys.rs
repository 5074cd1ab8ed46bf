//! The signing-key document ([`KeySetDocument`]) as operators edit it: a local JSON file, or the Secrets
//! Manager secret the functions read (`SIGNING_KEYS_SECRET_ARN`). A tenant is its entry in the document (its
//! issuer and keys), so `tessera tenants create` adds one here; a tenant's clients and trusted issuers go to
//! the table with `tessera clients register --tenant` and `tessera issuers import`.
//!
//! Nothing here prints a private key: summaries name tenants, issuers and key ids only.

use std::path::{Path, PathBuf};

use serde::Serialize;
use tessera::config::{Config, KeyConfig, KeySetDocument, TenantKeySet};
use tessera::domain::tenant::TenantId;
use tessera::jwt::keys::{SigningAlgorithm, SigningKey};

/// Where the document lives.
pub enum DocumentLocation {
    /// A JSON file (written with mode 0600).
    File(PathBuf),
    /// A Secrets Manager secret (its id or ARN).
    Secret {
        /// The secret id or ARN.
        id: String,
        /// The client, from the standard SDK configuration.
        client: aws_sdk_secretsmanager::Client,
    },
}

impl DocumentLocation {
    /// The secret `id`, with the SDK configuration from the environment.
    pub async fn secret(id: String) -> Self {
        let sdk = tessera::store::dynamodb::sdk_config().await;
        Self::Secret { id, client: aws_sdk_secretsmanager::Client::new(&sdk) }
    }

    /// Reads and validates the document.
    pub async fn read(&self) -> Result<KeySetDocument, String> {
        let json = match self {
            Self::File(path) => {
                std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?
            }
            Self::Secret { id, client } => {
                let value = client.get_secret_value().secret_id(id).send().await.map_err(|e| {
                    format!("cannot read secret {id}: {}", aws_sdk_secretsmanager::error::DisplayErrorContext(e))
                })?;
                value.secret_string().ok_or_else(|| format!("secret {id} has no string value"))?.to_owned()
            }
        };
        KeySetDocument::parse(&json).map_err(|e| e.to_string())
    }

    /// Writes the document: a file atomically, a secret as a new version (functions see it at their next read).
    pub async fn write(&self, document: &KeySetDocument) -> Result<(), String> {
        let json = document.to_json();
        match self {
            Self::File(path) => write_private(path, &json),
            Self::Secret { id, client } => {
                client.put_secret_value().secret_id(id).secret_string(json).send().await.map_err(|e| {
                    format!("cannot write secret {id}: {}", aws_sdk_secretsmanager::error::DisplayErrorContext(e))
                })?;
                Ok(())
            }
        }
    }
}

/// Writes `text` to `path` through a temporary file in the same folder, readable by the owner only.
fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot replace {}: {e}", path.display()))
}

/// A generated key as a document entry.
pub fn generated_key(alg: SigningAlgorithm, kid: &str) -> Result<KeyConfig, String> {
    let key = SigningKey::generate(alg, kid).map_err(|e| e.to_string())?;
    Ok(KeyConfig { kid: kid.to_owned(), alg, private_key_pem: Some(key.to_pkcs8_pem()), private_key_file: None })
}

/// What `tenants list` and `tenants create` print for a tenant.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct TenantSummary {
    /// The tenant.
    pub tenant: String,
    /// Its issuer, when set (otherwise derived from the default tenant's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Its key ids, the signing key first.
    pub kids: Vec<String>,
}

fn summary(tenant: &TenantId, issuer: Option<&String>, keys: &[KeyConfig]) -> TenantSummary {
    TenantSummary {
        tenant: tenant.to_string(),
        issuer: issuer.cloned(),
        kids: keys.iter().map(|k| k.kid.clone()).collect(),
    }
}

/// Every tenant of a document, `default` first.
pub fn tenants_of_document(document: &KeySetDocument) -> Vec<TenantSummary> {
    std::iter::once(summary(&TenantId::default(), None, &document.keys))
        .chain(document.tenants.iter().map(|(name, t)| summary(name, t.issuer.as_ref(), &t.keys)))
        .collect()
}

/// Every tenant of a configuration file, `default` first (generated keys are not listed).
pub fn tenants_of_config(config: &Config) -> Vec<TenantSummary> {
    std::iter::once(summary(&TenantId::default(), config.issuer.as_ref(), &config.signing_keys))
        .chain(config.tenants.iter().map(|t| summary(&t.name, t.issuer.as_ref(), &t.signing_keys)))
        .collect()
}

/// A key id not yet used in the document: `<tenant>-1`, `<tenant>-2`, …
pub fn next_kid(document: &KeySetDocument, tenant: &TenantId) -> String {
    let used: Vec<&str> =
        document.keys.iter().chain(document.tenants.values().flat_map(|t| &t.keys)).map(|k| k.kid.as_str()).collect();
    (1..).map(|n| format!("{tenant}-{n}")).find(|kid| !used.contains(&kid.as_str())).unwrap_or_default()
}

/// Adds tenant `name` with one generated key. Refuses an existing tenant and `default` (whose keys are the
/// document's `keys`).
pub fn create_tenant(
    document: &mut KeySetDocument,
    name: &TenantId,
    issuer: Option<String>,
    alg: SigningAlgorithm,
    kid: Option<String>,
) -> Result<TenantSummary, String> {
    if *name == TenantId::default() || document.tenants.contains_key(name) {
        return Err(format!("tenant {name} already exists"));
    }
    if let Some(issuer) = &issuer {
        Config::validate_issuer(issuer).map_err(|e| e.to_string())?;
    }
    let kid = kid.unwrap_or_else(|| next_kid(document, name));
    let key = generated_key(alg, &kid)?;
    let entry = TenantKeySet { issuer: issuer.clone(), keys: vec![key] };
    let created = summary(name, issuer.as_ref(), &entry.keys);
    document.tenants.insert(name.clone(), entry);
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> KeySetDocument {
        KeySetDocument {
            keys: vec![generated_key(SigningAlgorithm::ES256, "default-1").unwrap()],
            ..Default::default()
        }
    }

    #[test]
    fn creates_a_tenant_with_its_own_key() {
        let mut doc = document();
        let acme = TenantId::parse("acme").unwrap();
        let created = create_tenant(
            &mut doc,
            &acme,
            Some("https://auth.example.com/t/acme".into()),
            SigningAlgorithm::EdDSA,
            None,
        )
        .unwrap();
        assert_eq!(created.kids, ["acme-1"]);
        assert!(create_tenant(&mut doc, &acme, None, SigningAlgorithm::ES256, None).is_err(), "no second acme");
        assert!(create_tenant(&mut doc, &TenantId::default(), None, SigningAlgorithm::ES256, None).is_err());
        assert!(
            create_tenant(
                &mut doc,
                &TenantId::parse("x").unwrap(),
                Some("ftp://x".into()),
                SigningAlgorithm::ES256,
                None
            )
            .is_err()
        );

        // The document round-trips through JSON, and the functions' parser accepts it.
        let parsed = KeySetDocument::parse(&doc.to_json()).unwrap();
        let listed = tenants_of_document(&parsed);
        assert_eq!(listed.iter().map(|t| t.tenant.as_str()).collect::<Vec<_>>(), ["default", "acme"]);
        assert_eq!(listed[1].issuer.as_deref(), Some("https://auth.example.com/t/acme"));
        let mut config = Config::default();
        config.apply_key_document(parsed);
        assert_eq!(config.tenants[0].signing_keys[0].alg, SigningAlgorithm::EdDSA);
        // Summaries never carry key material.
        assert!(!serde_json::to_string(&listed).unwrap().contains("PRIVATE"));
    }

    #[test]
    fn a_file_document_is_written_owner_only_and_read_back() {
        let dir = std::env::temp_dir().join(format!("tessera-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("keys.json");
        let location = DocumentLocation::File(path.clone());
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(location.write(&document())).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let read = runtime.block_on(location.read()).unwrap();
        assert_eq!(read.keys[0].kid, "default-1");
        std::fs::remove_dir_all(dir).unwrap();
    }
}

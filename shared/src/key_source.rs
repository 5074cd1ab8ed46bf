//! The key source port: where a function reads its signing-key document ([`KeySetDocument`]: every tenant's
//! keys, and the tenants themselves) from, once at init and again when its cache expires
//! ([`crate::tenancy::KeyDocumentSource`], [`crate::service::build_service`]), so a key rotation or a new
//! tenant reaches running functions without a redeploy. Adapters: the Secrets Manager secret (deployed functions), a JSON file (the local runner's
//! `--keys-file`), and a document in memory (tests).

use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::tenancy::KeySetDocument;

/// Why the document could not be read. The message never holds key material.
#[derive(Debug, thiserror::Error)]
#[error("signing keys unavailable: {0}")]
pub struct KeySourceError(pub String);

/// Reads the signing-key document.
#[async_trait]
pub trait KeySource: Send + Sync {
    /// The current document, parsed and validated.
    async fn load(&self) -> Result<KeySetDocument, KeySourceError>;
}

/// The document in a Secrets Manager secret (`SIGNING_KEYS_SECRET_ARN`); each load is one `GetSecretValue`, through a
/// client made from the one SDK configuration ([`crate::aws_sdk::sdk_config`]).
#[derive(Debug, Clone)]
pub struct SecretsManagerKeys {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
}

impl SecretsManagerKeys {
    /// The secret `secret_id` (name or ARN), read with `client`.
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: impl Into<String>) -> Self {
        Self { client, secret_id: secret_id.into() }
    }
}

#[async_trait]
impl KeySource for SecretsManagerKeys {
    async fn load(&self) -> Result<KeySetDocument, KeySourceError> {
        let value = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|e| KeySourceError(aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string()))?;
        let json = value.secret_string().ok_or_else(|| KeySourceError("the secret has no string value".into()))?;
        KeySetDocument::parse(json).map_err(|e| KeySourceError(e.to_string()))
    }
}

/// The document in a local JSON file, read again at each load.
#[derive(Debug, Clone)]
pub struct FileKeys(pub PathBuf);

#[async_trait]
impl KeySource for FileKeys {
    async fn load(&self) -> Result<KeySetDocument, KeySourceError> {
        let json = tokio::fs::read_to_string(&self.0)
            .await
            .map_err(|e| KeySourceError(format!("cannot read {}: {e}", self.0.display())))?;
        KeySetDocument::parse(&json).map_err(|e| KeySourceError(e.to_string()))
    }
}

/// A document held in memory, replaced with [`MemoryKeys::set`]; or failing, with [`MemoryKeys::fail`].
#[derive(Debug, Default)]
pub struct MemoryKeys {
    document: Mutex<Option<KeySetDocument>>,
}

impl MemoryKeys {
    /// Holding `document`.
    pub fn new(document: KeySetDocument) -> Self {
        Self { document: Mutex::new(Some(document)) }
    }

    /// Replaces the document.
    pub fn set(&self, document: KeySetDocument) {
        *self.document.lock().unwrap_or_else(|p| p.into_inner()) = Some(document);
    }

    /// Makes every load fail until the next [`MemoryKeys::set`], as an unreachable Secrets Manager would.
    pub fn fail(&self) {
        *self.document.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

#[async_trait]
impl KeySource for MemoryKeys {
    async fn load(&self) -> Result<KeySetDocument, KeySourceError> {
        self.document
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| KeySourceError("the key source is unavailable".into()))
    }
}

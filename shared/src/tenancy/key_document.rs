//! The signing-key document: every tenant's keys (and the tenants that have no entry in the configuration), as
//! AWS Secrets Manager holds it and `tessera keys` and `tessera tenants` edit it, and the one rule for which of a
//! tenant's keys signs ([`signing_index`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{Config, ConfigError, KeyConfig, KeyState, TenantConfig};
use crate::domain::tenant::TenantId;
use crate::jwt::keys::{KeyRing, SigningAlgorithm, SigningKey};

/// The signing-key document kept in AWS Secrets Manager (and printed by `tessera generate-key --secret-json`;
/// `tessera tenants create` adds tenants to it):
///
/// ```json
/// {"keys": [{"kid": "2026-11", "alg": "ES256", "private_key_pem": "-----BEGIN PRIVATE KEY-----\n…"}],
///  "tenants": {"acme": {"issuer": "https://auth.example.com/t/acme", "keys": [{"kid": "acme-1", …}]}}}
/// ```
///
/// `keys` are the default tenant's; each entry of `tenants` declares a tenant with its own keys (and optionally
/// its issuer). In each list the `active` key signs (in a list without states, the first); every key is published
/// in JWKS and verifies, `next` keys before they sign and `retired` ones until they are removed. Every list
/// has at least one key: a deployed function never generates one.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySetDocument {
    /// The default tenant's keys, signing key first.
    pub keys: Vec<KeyConfig>,
    /// The other tenants.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tenants: BTreeMap<TenantId, DocumentTenant>,
}

/// A tenant's entry in the [`KeySetDocument`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentTenant {
    /// The tenant's issuer URL. Default: the `default` tenant's issuer followed by `/t/<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Its keys, signing key first.
    pub keys: Vec<KeyConfig>,
}

impl KeySetDocument {
    /// Parses the JSON document; errors name the problem, never the key material. Every tenant must have a
    /// key: a deployed function never generates one.
    pub fn parse(json: &str) -> Result<Self, ConfigError> {
        let document: Self = serde_json::from_str(json).map_err(|err| {
            ConfigError::Invalid(format!("signing-key document: {} at line {}", err.classify_name(), err.line()))
        })?;
        if document.keys.is_empty() {
            return Err(ConfigError::Invalid("signing-key document: `keys` (the default tenant's) is empty".into()));
        }
        if let Some((name, _)) = document.tenants.iter().find(|(_, t)| t.keys.is_empty()) {
            return Err(ConfigError::Invalid(format!("signing-key document: tenant {name} has no keys")));
        }
        if document.tenants.contains_key(&TenantId::default()) {
            return Err(ConfigError::Invalid("signing-key document: the default tenant's keys are `keys`".into()));
        }
        Ok(document)
    }

    /// Merges the document into `config`, the configuration as loaded: its keys become the default tenant's, its
    /// tenants replace same-named `[[tenants]]` entries or join them. A re-read merges the new document into the
    /// configuration as loaded again, so tenants taken out of the document go.
    pub fn merge_into(self, config: &mut Config) {
        config.signing_keys = self.keys;
        for (name, tenant) in self.tenants {
            config.tenants.retain(|t| t.name != name);
            config.tenants.push(TenantConfig { name, issuer: tenant.issuer, signing_keys: tenant.keys });
        }
    }

    /// The document as pretty JSON (it holds private keys: write it only where the secret belongs).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// Which of `keys` signs: the one `active` key; in a list where no key is `active`, the first key if it has no
/// state (a list written before key states). No key, more than one `active` key, or none among keys whose
/// first has a state, is an error. The one rule for the functions and for `tessera keys`.
pub fn signing_index(keys: &[KeyConfig]) -> Result<usize, ConfigError> {
    let mut active = keys.iter().enumerate().filter(|(_, k)| k.state == Some(KeyState::Active)).map(|(i, _)| i);
    match (active.next(), active.next()) {
        (Some(one), None) => Ok(one),
        (None, _) if keys.first().is_some_and(|k| k.state.is_none()) => Ok(0),
        (None, _) if keys.is_empty() => Err(ConfigError::Invalid("signing keys: there are none".into())),
        (None, _) => Err(ConfigError::Invalid("signing keys: no key is active".into())),
        (Some(_), Some(_)) => Err(ConfigError::Invalid("signing keys: more than one key is active".into())),
    }
}

/// A key ring from explicit key entries (none generated), the signing key ([`signing_index`]) first.
pub fn key_ring(keys: &[KeyConfig]) -> Result<KeyRing, ConfigError> {
    let signing = signing_index(keys)?;
    let ordered =
        keys.get(signing).into_iter().chain(keys.iter().enumerate().filter(|(i, _)| *i != signing).map(|(_, k)| k));
    let keys = ordered
        .map(|key| {
            let pem = match (&key.private_key_pem, &key.private_key_file) {
                (Some(pem), None) => pem.clone(),
                (None, Some(file)) => {
                    std::fs::read_to_string(file).map_err(|source| ConfigError::Read { path: file.clone(), source })?
                }
                _ => {
                    return Err(ConfigError::Invalid(format!(
                        "signing key {}: set exactly one of private_key_pem and private_key_file",
                        key.kid
                    )));
                }
            };
            Ok(SigningKey::from_pkcs8_pem(key.alg, &key.kid, &pem)?)
        })
        .collect::<Result<Vec<_>, ConfigError>>()?;
    Ok(KeyRing::new(keys)?)
}

/// A key ring of one ES256 key generated in memory, named `kid`: the local runner's, for a tenant without keys.
pub fn generated_key_ring(kid: &str) -> Result<KeyRing, ConfigError> {
    Ok(KeyRing::new(vec![SigningKey::generate(SigningAlgorithm::ES256, kid)?])?)
}

/// `keys` as a key ring ([`key_ring`]), or, when there are none, [`generated_key_ring`] named `kid_if_generated`.
/// Tests only (`test-support`).
#[cfg(any(test, feature = "test-support"))]
pub fn key_ring_or_generated(keys: &[KeyConfig], kid_if_generated: &str) -> Result<KeyRing, ConfigError> {
    if keys.is_empty() {
        return generated_key_ring(kid_if_generated);
    }
    key_ring(keys)
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O error",
            serde_json::error::Category::Syntax => "invalid JSON",
            serde_json::error::Category::Data => "unexpected field or value",
            serde_json::error::Category::Eof => "truncated JSON",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_a_key_when_none_is_configured() {
        let ring = key_ring_or_generated(&Config::default().signing_keys, "generated").unwrap();
        assert_eq!(ring.signing_key().kid(), "generated");
    }
}

//! The signing-key document ([`KeySetDocument`]) as operators edit it: a local JSON file, or the Secrets
//! Manager secret the functions read (`SIGNING_KEYS_SECRET_ARN`). A tenant is its entry in the document (its
//! issuer and keys), so `tessera tenants create` adds one here; a tenant's clients and trusted issuers go to
//! the table with `tessera clients register --tenant` and `tessera issuers import`.
//!
//! Key rotation (`tessera keys`): `add` publishes a new key as `next`; `promote` makes it sign and retires the
//! key that signed until then (it keeps verifying); `remove` takes a retired key out once the tokens it signed
//! have expired. Functions re-read the document within their cache TTL.
//!
//! Nothing here prints a private key: summaries name tenants, issuers and key ids only.

use std::path::{Path, PathBuf};

use serde::Serialize;
use tessera::bootstrap::DEFAULT_KEYS_MAX_STALE_SECS;
use tessera::config::{Config, KeyConfig, KeyState, MAX_ACCESS_TOKEN_TTL_SECS};
use tessera::domain::tenant::TenantId;
use tessera::jwt::keys::{SigningAlgorithm, SigningKey};
use tessera::tenancy::{DocumentTenant, KeySetDocument};

use crate::error::CliError;

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
        let sdk = tessera::aws_sdk::sdk_config().await;
        Self::Secret { id, client: aws_sdk_secretsmanager::Client::new(&sdk) }
    }

    /// Reads and validates the document.
    pub async fn read(&self) -> Result<KeySetDocument, CliError> {
        let json = match self {
            Self::File(path) => {
                std::fs::read_to_string(path).map_err(|source| CliError::Read { path: path.clone(), source })?
            }
            Self::Secret { id, client } => {
                let value = client
                    .get_secret_value()
                    .secret_id(id)
                    .send()
                    .await
                    .map_err(|e| CliError::SecretRead { id: id.clone(), source: e.into() })?;
                value.secret_string().ok_or_else(|| CliError::SecretNotText { id: id.clone() })?.to_owned()
            }
        };
        Ok(KeySetDocument::parse(&json)?)
    }

    /// Writes the document: a file atomically, a secret as a new version (functions see it at their next read).
    pub async fn write(&self, document: &KeySetDocument) -> Result<(), CliError> {
        let json = document.to_json();
        match self {
            Self::File(path) => write_private(path, &json),
            Self::Secret { id, client } => {
                client
                    .put_secret_value()
                    .secret_id(id)
                    .secret_string(json)
                    .send()
                    .await
                    .map_err(|e| CliError::SecretWrite { id: id.clone(), source: e.into() })?;
                Ok(())
            }
        }
    }
}

/// Writes `text` to `path` through a new temporary file in the same folder, readable by the owner only. The
/// temporary file has a random name and is created exclusively (`O_EXCL`): an existing file or a symlink
/// planted under that name fails the write instead of receiving the keys.
fn write_private(path: &Path, text: &str) -> Result<(), CliError> {
    use std::io::Write;
    let suffix: [u8; 8] = tessera::entropy::random_bytes(&tessera::entropy::SystemEntropy)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let hex: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = path.with_file_name(format!(".{name}.{hex}.tmp"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(|source| CliError::Create { path: tmp.clone(), source })?;
    let written = file.write_all(text.as_bytes()).and_then(|()| file.sync_all());
    let replaced = written.map_err(|source| CliError::Write { path: tmp.clone(), source }).and_then(|()| {
        std::fs::rename(&tmp, path).map_err(|source| CliError::Replace { path: path.to_owned(), source })
    });
    if replaced.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    replaced
}

/// A generated key as a document entry, in `state`.
pub fn generated_key(alg: SigningAlgorithm, kid: &str, state: Option<KeyState>) -> Result<KeyConfig, CliError> {
    let key = SigningKey::generate(alg, kid)?;
    Ok(KeyConfig {
        kid: kid.to_owned(),
        alg,
        private_key_pem: Some(key.to_pkcs8_pem()),
        private_key_file: None,
        state,
        retired_at: None,
    })
}

/// What `tessera keys` prints for a key: never its material.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct KeyView {
    /// The tenant.
    pub tenant: String,
    /// The key id.
    pub kid: String,
    /// The algorithm.
    pub alg: &'static str,
    /// `active`, `next` or `retired`.
    pub state: KeyState,
    /// When it was retired (epoch seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<u64>,
    /// From when `keys remove` takes it without `--force`: [`removal_delay_secs`] after retirement. Absent for a
    /// key never retired, or when the functions have no staleness bound (then only `--force` removes it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removable_from: Option<u64>,
}

fn keys_of<'a>(document: &'a mut KeySetDocument, tenant: &TenantId) -> Result<&'a mut Vec<KeyConfig>, CliError> {
    if *tenant == TenantId::default() {
        return Ok(&mut document.keys);
    }
    document.tenants.get_mut(tenant).map(|t| &mut t.keys).ok_or_else(|| CliError::NoTenant(tenant.clone()))
}

/// How long after its retirement a key may still have live tokens, for functions whose staleness bound is
/// `max_stale_secs` (`KeysMaxStaleSeconds`; no bound: `None`, never known): a function may go on signing with
/// it until it re-reads the document (at worst that bound), the last token it signed lives one maximal
/// access-token lifetime, and [`REMOVAL_MARGIN_SECS`] cover clock skew and a slow read.
pub const fn removal_delay_secs(max_stale_secs: Option<u64>) -> Option<u64> {
    match max_stale_secs {
        Some(bound) => Some(bound.saturating_add(MAX_ACCESS_TOKEN_TTL_SECS as u64).saturating_add(REMOVAL_MARGIN_SECS)),
        None => None,
    }
}

/// What [`removal_delay_secs`] adds for clock skew between the operator's machine and the functions, and for
/// a read of the secret in flight when the bound passes.
pub const REMOVAL_MARGIN_SECS: u64 = 300;

/// Makes the states explicit: the key that signs today ([`tessera::tenancy::key_document::signing_index`], the rule the
/// functions apply) is `active`; the others without a state were published beside it and may have signed:
/// `retired`. A list the functions would refuse (no key active, or two) is refused here too.
fn normalise(keys: &mut [KeyConfig]) -> Result<(), CliError> {
    let signing = tessera::tenancy::key_document::signing_index(keys)?;
    for (i, key) in keys.iter_mut().enumerate() {
        if i == signing {
            key.state = Some(KeyState::Active);
        } else if key.state.is_none() {
            key.state = Some(KeyState::Retired);
        }
    }
    Ok(())
}

/// Where `kid` is among `keys` of `tenant`, once their states are explicit.
fn position(keys: &mut [KeyConfig], tenant: &TenantId, kid: &str) -> Result<usize, CliError> {
    normalise(keys)?;
    keys.iter()
        .position(|k| k.kid == kid)
        .ok_or_else(|| CliError::NoKey { kid: kid.to_owned(), tenant: tenant.clone() })
}

/// Whether `kid` is used anywhere in the document (a kid names one key across tenants).
fn kid_taken(document: &KeySetDocument, kid: &str) -> bool {
    document.keys.iter().chain(document.tenants.values().flat_map(|t| &t.keys)).any(|k| k.kid == kid)
}

fn view(tenant: &TenantId, key: &KeyConfig, max_stale_secs: Option<u64>) -> KeyView {
    KeyView {
        tenant: tenant.to_string(),
        kid: key.kid.clone(),
        alg: key.alg.as_str(),
        state: key.state.unwrap_or(KeyState::Retired),
        retired_at: key.retired_at,
        removable_from: key.retired_at.zip(removal_delay_secs(max_stale_secs)).map(|(at, d)| at.saturating_add(d)),
    }
}

/// The keys of `tenant`, signing key first, for functions whose staleness bound is `max_stale_secs`.
pub fn list_keys(
    document: &KeySetDocument,
    tenant: &TenantId,
    max_stale_secs: Option<u64>,
) -> Result<Vec<KeyView>, CliError> {
    let mut document = document.clone();
    let keys = keys_of(&mut document, tenant)?;
    normalise(keys)?;
    Ok(keys.iter().map(|k| view(tenant, k, max_stale_secs)).collect())
}

/// Adds a generated key to `tenant` as `next`: published in JWKS at once, signing nothing until promoted.
pub fn add_key(
    document: &mut KeySetDocument,
    tenant: &TenantId,
    alg: SigningAlgorithm,
    kid: Option<String>,
) -> Result<KeyView, CliError> {
    let kid = kid.unwrap_or_else(|| next_kid(document, tenant));
    if kid_taken(document, &kid) {
        return Err(CliError::KidTaken(kid));
    }
    let keys = keys_of(document, tenant)?;
    normalise(keys)?;
    keys.push(generated_key(alg, &kid, Some(KeyState::Next))?);
    Ok(view(tenant, keys.last().expect("just pushed"), Some(DEFAULT_KEYS_MAX_STALE_SECS)))
}

/// Makes `kid` the signing key of `tenant`; the key that signed until now is retired at `now` (it still
/// verifies, so the tokens it signed stay valid until they expire).
pub fn promote_key(document: &mut KeySetDocument, tenant: &TenantId, kid: &str, now: u64) -> Result<KeyView, CliError> {
    let keys = keys_of(document, tenant)?;
    let at = position(keys, tenant, kid)?;
    if keys[at].state == Some(KeyState::Active) {
        return Err(CliError::AlreadySigning(kid.to_owned()));
    }
    for key in keys.iter_mut().filter(|k| k.state == Some(KeyState::Active)) {
        key.state = Some(KeyState::Retired);
        key.retired_at = Some(now);
    }
    let mut promoted = keys.remove(at);
    promoted.state = Some(KeyState::Active);
    promoted.retired_at = None;
    keys.insert(0, promoted);
    Ok(view(tenant, &keys[0], Some(DEFAULT_KEYS_MAX_STALE_SECS)))
}

/// Takes `kid` out of `tenant`: tokens it signed introspect inactive from then on. Refuses the signing key, and
/// a retired key whose tokens may still be live (retired less than [`removal_delay_secs`] ago for functions
/// whose staleness bound is `max_stale_secs`, at an unknown time, or under no bound) unless `force`.
pub fn remove_key(
    document: &mut KeySetDocument,
    tenant: &TenantId,
    kid: &str,
    now: u64,
    max_stale_secs: Option<u64>,
    force: bool,
) -> Result<KeyView, CliError> {
    let keys = keys_of(document, tenant)?;
    let at = position(keys, tenant, kid)?;
    let shown = view(tenant, &keys[at], max_stale_secs);
    let kid = kid.to_owned();
    match (shown.state, shown.removable_from) {
        (KeyState::Active, _) => return Err(CliError::RemovingSigningKey(kid)),
        (KeyState::Retired, Some(until)) if now < until && !force => {
            return Err(CliError::KeyMayBeLive { kid, until });
        }
        (KeyState::Retired, None) if !force && max_stale_secs.is_none() => return Err(CliError::KeyUnbounded(kid)),
        (KeyState::Retired, None) if !force => return Err(CliError::KeyNotDated(kid)),
        _ => {}
    }
    keys.remove(at);
    Ok(shown)
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
    (1..).map(|n| format!("{tenant}-{n}")).find(|kid| !kid_taken(document, kid)).unwrap_or_default()
}

/// Takes tenant `name` out of the document: once the functions re-read it, its routes answer 404 and its
/// tokens do not verify. Run [`crate::tenants::retire`] on the table first. Refuses `default` and a tenant the
/// document does not have.
pub fn delete_tenant(document: &mut KeySetDocument, name: &TenantId) -> Result<TenantSummary, CliError> {
    if *name == TenantId::default() {
        return Err(CliError::DefaultTenantUndeletable);
    }
    let entry = document.tenants.remove(name).ok_or_else(|| CliError::NoTenant(name.clone()))?;
    Ok(summary(name, entry.issuer.as_ref(), &entry.keys))
}

/// Adds tenant `name` with one generated key. Refuses an existing tenant and `default` (whose keys are the
/// document's `keys`).
pub fn create_tenant(
    document: &mut KeySetDocument,
    name: &TenantId,
    issuer: Option<String>,
    alg: SigningAlgorithm,
    kid: Option<String>,
) -> Result<TenantSummary, CliError> {
    if *name == TenantId::default() || document.tenants.contains_key(name) {
        return Err(CliError::TenantExists(name.clone()));
    }
    let issuer = issuer.map(|issuer| Config::validate_tenant_issuer(name, &issuer)).transpose()?;
    let kid = kid.unwrap_or_else(|| next_kid(document, name));
    if kid_taken(document, &kid) {
        return Err(CliError::KidTaken(kid));
    }
    let key = generated_key(alg, &kid, Some(KeyState::Active))?;
    let entry = DocumentTenant { issuer: issuer.clone(), keys: vec![key] };
    let created = summary(name, issuer.as_ref(), &entry.keys);
    document.tenants.insert(name.clone(), entry);
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotation_adds_promotes_retires_and_removes() {
        let mut doc = document();
        let default = TenantId::default();
        let added = add_key(&mut doc, &default, SigningAlgorithm::ES256, None).unwrap();
        assert_eq!((added.kid.as_str(), added.state), ("default-2", KeyState::Next));
        let states = |doc: &KeySetDocument| -> Vec<(String, KeyState)> {
            list_keys(doc, &default, Some(3600)).unwrap().into_iter().map(|k| (k.kid, k.state)).collect()
        };
        assert_eq!(states(&doc), [("default-1".into(), KeyState::Active), ("default-2".into(), KeyState::Next)]);
        // The new key cannot be taken out while the old one signs, and the signing key never.
        assert!(remove_key(&mut doc, &default, "default-1", 1_000, Some(3600), true).is_err());

        promote_key(&mut doc, &default, "default-2", 1_000).unwrap();
        assert_eq!(states(&doc), [("default-2".into(), KeyState::Active), ("default-1".into(), KeyState::Retired)]);
        assert!(promote_key(&mut doc, &default, "default-2", 1_000).is_err(), "already active");
        // The functions' parser agrees: default-2 signs, default-1 verifies.
        let ring =
            tessera::tenancy::key_document::key_ring(&KeySetDocument::parse(&doc.to_json()).unwrap().keys).unwrap();
        assert_eq!(ring.signing_key().kid(), "default-2");
        assert!(ring.find("default-1").is_some());

        // Removal waits for the retired key's tokens to expire: one day, plus the staleness bound (how long a
        // function may go on signing with it while it cannot re-read the document), plus a margin; unless forced.
        assert_eq!(removal_delay_secs(Some(3600)), Some(86_400 + 3600 + 300));
        assert_eq!(removal_delay_secs(Some(u64::MAX)), Some(u64::MAX), "saturates");
        let err =
            remove_key(&mut doc, &default, "default-1", 1_000 + 86_400, Some(3600), false).unwrap_err().to_string();
        assert!(err.contains("still live until 91300"), "{err}");
        let err =
            remove_key(&mut doc, &default, "default-1", 1_000 + 90_000, Some(7200), false).unwrap_err().to_string();
        assert!(err.contains("still live until 94900"), "a raised bound waits longer: {err}");
        // No bound: no time is ever safe, only --force once every function has restarted.
        let err = remove_key(&mut doc, &default, "default-1", u64::MAX, None, false).unwrap_err().to_string();
        assert!(err.contains("no staleness bound"), "{err}");
        remove_key(&mut doc, &default, "default-1", 1_000 + removal_delay_secs(Some(3600)).unwrap(), Some(3600), false)
            .unwrap();
        assert_eq!(states(&doc), [("default-2".into(), KeyState::Active)]);
        assert!(add_key(&mut doc, &default, SigningAlgorithm::ES256, Some("default-2".into())).is_err(), "kid taken");
        assert!(list_keys(&doc, &TenantId::parse("nope").unwrap(), Some(3600)).is_err());
    }

    #[test]
    fn the_signing_key_is_chosen_by_the_functions_rule() {
        // No key active and the first one retired: the functions refuse the list, and so does `tessera keys`
        // (it must not quietly make the retired key sign again).
        let mut doc = document();
        doc.keys[0].state = Some(KeyState::Retired);
        doc.keys.push(generated_key(SigningAlgorithm::ES256, "default-2", Some(KeyState::Next)).unwrap());
        assert!(tessera::tenancy::key_document::key_ring(&doc.keys).is_err());
        let err = list_keys(&doc, &TenantId::default(), Some(3600)).unwrap_err().to_string();
        assert!(err.contains("no key is active"), "{err}");
        assert!(promote_key(&mut doc, &TenantId::default(), "default-2", 1).is_err());
    }

    fn document() -> KeySetDocument {
        KeySetDocument {
            keys: vec![generated_key(SigningAlgorithm::ES256, "default-1", None).unwrap()],
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
        let globex = TenantId::parse("globex").unwrap();
        let err = create_tenant(&mut doc, &globex, None, SigningAlgorithm::ES256, Some("acme-1".into()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("already in the document"), "{err}");
        let err =
            create_tenant(&mut doc, &globex, Some("https://globex.example.com".into()), SigningAlgorithm::ES256, None)
                .unwrap_err()
                .to_string();
        assert!(err.contains("must end with /t/globex"), "{err}");
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
        parsed.merge_into(&mut config);
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
        // A rewrite replaces the file and leaves no temporary file behind.
        runtime.block_on(location.write(&read)).unwrap();
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(dir).unwrap();
    }
}

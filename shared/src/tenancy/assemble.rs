//! Assembling the tenants: the configuration with the signing-key document merged in, at init or on a re-read.
//! Each tenant's issuer is resolved and checked unique, its keys parsed (generated for the local runner only, and
//! kept across re-reads), its trusted issuers built from the configuration and the table, and its permissions
//! mapped. One bad tenant of the document is left out and logged rather than taking every tenant down.

use std::collections::HashMap;
use std::sync::Arc;

use super::key_document::{KeySetDocument, generated_key_ring, key_ring};
use super::key_refresh::KEY_REREAD_FAILED;
use super::trusted_issuers::trusted_issuers_of;
use super::{LoadError, ServedTenant, TenantMap};
use crate::config::{Config, ConfigError, KeyConfig};
use crate::domain::tenant::TenantId;
use crate::store::{RegisteredIssuer, RegistrationStore, StoreError};

/// Trusted issuers kept in the table, by tenant.
type TableIssuers = HashMap<TenantId, Vec<RegisteredIssuer>>;

/// The tenants of `base` with `document` applied, at init (no `previous`) or on a re-read: tenants and keys
/// taken out of the document are gone, and so is what the configuration still says of them ([`prune`]).
/// Tenants in `previous` keep their trusted issuers (and their JWKS caches); the others read theirs from the
/// table. On a re-read, a table that cannot be read leaves the new tenants out until the next try; a new
/// tenant of the document that cannot be built is left out too ([`build_tenants`]). `false`: something was
/// left out, read again soon. An invalid change to a tenant in `previous` (or to `default`) is an error, so the
/// keys in hand keep serving.
pub(super) async fn assemble(
    base: &Config,
    document: Option<KeySetDocument>,
    previous: Option<&TenantMap>,
    registry: Option<&dyn RegistrationStore>,
    generate_missing_keys: bool,
) -> Result<(TenantMap, bool), LoadError> {
    let mut config = base.clone();
    let from_document: Vec<TenantId> = document.iter().flat_map(|d| d.tenants.keys().cloned()).collect();
    let with_document = document.is_some();
    if let Some(document) = document {
        document.merge_into(&mut config);
        if !generate_missing_keys {
            drop_keyless_tenants(&mut config);
        }
    }
    let new: Vec<TenantId> =
        config.tenant_ids().into_iter().filter(|t| previous.is_none_or(|p| !p.contains_key(t))).collect();
    let mut waiting = Vec::new();
    let table = match table_issuers(registry, &new).await {
        Ok(table) => table,
        // At init there is nothing to serve without them.
        Err(err) if previous.is_none() => return Err(err.into()),
        Err(err) => {
            tracing::error!(
                event = KEY_REREAD_FAILED,
                error = %err,
                tenants = %names(&new),
                "trusted issuers of new tenants not read; they are not served until a re-read reads them"
            );
            config.tenants.retain(|t| !new.contains(&t.name));
            waiting = new;
            TableIssuers::new()
        }
    };
    if with_document {
        // The entries of the tenants waiting for the table wait with them: not leftovers, so not logged as such.
        prune(&mut config, &waiting);
    }
    let (tenants, complete) =
        build_tenants(&config, previous, &table, generate_missing_keys, &|t| from_document.contains(t))?;
    Ok((tenants, complete && waiting.is_empty()))
}

fn names(tenants: &[TenantId]) -> String {
    tenants.iter().map(TenantId::as_str).collect::<Vec<_>>().join(",")
}

/// Takes out (and logs) the configuration's keyless `[[tenants]]` entries next to a key document that has no
/// keys for them: deleted there, or never created. Not for the local runner, which generates their keys.
fn drop_keyless_tenants(config: &mut Config) {
    let (keyless, kept) = std::mem::take(&mut config.tenants).into_iter().partition(|t| t.signing_keys.is_empty());
    config.tenants = kept;
    for tenant in keyless {
        tracing::error!(
            event = "config_entry_ignored",
            tenant = %tenant.name,
            "configuration tenant without keys, and the key document has none for it (deleted there, or never \
             created): not served"
        );
    }
}

/// Takes out what the configuration still says of tenants the key document no longer declares (clients, trusted
/// issuers and permissions naming an undeclared tenant), and logs it except for the tenants in `quiet`. A
/// deleted tenant's leftovers, or a typo: either way they must not keep the other tenants' changes from
/// applying, nor a function from starting.
fn prune(config: &mut Config, quiet: &[TenantId]) {
    for (tenant, entry) in config.drop_undeclared_tenant_entries() {
        if !quiet.contains(&tenant) {
            tracing::error!(
                event = "config_entry_ignored",
                entry = %entry,
                "configuration entry of a tenant that is not declared (a deleted tenant's leftover, or a typo); ignored"
            );
        }
    }
}

/// The trusted issuers the table holds for each of `tenants`.
async fn table_issuers(
    registry: Option<&dyn RegistrationStore>,
    tenants: &[TenantId],
) -> Result<TableIssuers, StoreError> {
    match registry {
        Some(registry) if !tenants.is_empty() => registry.trusted_issuers_of(tenants).await,
        _ => Ok(TableIssuers::new()),
    }
}

/// Every tenant of `config` (its `issuer` already resolved): `default` with the top-level issuer and keys,
/// then each `[[tenants]]` entry, whose issuer defaults to `<issuer>/t/<name>`. A tenant found in `previous`
/// keeps its trusted issuers; the others get the configuration's, joined by (and overridden by) the table's.
///
/// A new tenant (one not in `previous`; without `previous`, any but `default`) for which `may_leave_out` holds
/// (the key document's tenants) and that cannot be built (an invalid key, issuer or trusted issuer, or an issuer
/// another tenant has) is left out and logged, and the result is incomplete (`false`): one bad entry of the
/// document must not take every tenant down, on a re-read nor at a cold start. Any other error is the caller's.
fn build_tenants(
    config: &Config,
    previous: Option<&TenantMap>,
    table: &TableIssuers,
    generate_missing_keys: bool,
    may_leave_out: &dyn Fn(&TenantId) -> bool,
) -> Result<(TenantMap, bool), ConfigError> {
    config.check_tenants()?;
    let seen = |tenant: &TenantId| match previous {
        Some(previous) => previous.contains_key(tenant),
        None => tenant.as_str() == TenantId::DEFAULT,
    };
    let default = TenantId::default();
    let entries = std::iter::once((&default, None, config.signing_keys.as_slice()))
        .chain(config.tenants.iter().map(|t| (&t.name, t.issuer.as_deref(), t.signing_keys.as_slice())));
    // Tenants seen before first, so that a new tenant never takes an issuer from one of them.
    let (known, new): (Vec<_>, Vec<_>) = entries.partition(|(name, _, _)| seen(name));
    let mut issuers: HashMap<String, TenantId> = HashMap::new();
    let mut tenants = TenantMap::new();
    let mut left_out = Vec::new();
    for (name, own_issuer, signing_keys) in known.into_iter().chain(new) {
        let built = build_tenant(config, previous, table, generate_missing_keys, name, own_issuer, signing_keys)
            .and_then(|settings| match settings.issuer.as_deref() {
                Some(issuer) => match issuers.get(issuer) {
                    Some(other) => {
                        Err(ConfigError::Invalid(format!("tenants {other} and {name} have the same issuer {issuer}")))
                    }
                    None => {
                        issuers.insert(issuer.to_owned(), name.clone());
                        Ok(settings)
                    }
                },
                None => Ok(settings),
            });
        match built {
            Ok(settings) => {
                tenants.insert(name.clone(), Arc::new(settings));
            }
            Err(err) if !seen(name) && may_leave_out(name) => {
                tracing::error!(event = KEY_REREAD_FAILED, tenant = %name, error = %err, "new tenant not served");
                left_out.push(name.clone());
            }
            Err(err) => return Err(err),
        }
    }
    Ok((tenants, left_out.is_empty()))
}

/// One tenant's settings: its issuer validated (or derived from the configuration's), its keys (generated
/// ones kept from `previous`), its trusted issuers (kept from `previous`, else the configuration's and the
/// table's) and its permissions.
fn build_tenant(
    config: &Config,
    previous: Option<&TenantMap>,
    table: &TableIssuers,
    generate_missing_keys: bool,
    name: &TenantId,
    own_issuer: Option<&str>,
    signing_keys: &[KeyConfig],
) -> Result<ServedTenant, ConfigError> {
    let before = previous.and_then(|p| p.get(name));
    let issuer = match (own_issuer, config.issuer.as_deref()) {
        (Some(own), _) => Some(Config::validate_tenant_issuer(name, own)?),
        (None, Some(base)) if name.as_str() == TenantId::DEFAULT => Some(base.to_owned()),
        (None, Some(base)) => Some(format!("{base}/t/{name}")),
        // From each request's API Gateway domain.
        (None, None) => None,
    };
    let (keys, generated_keys) = match signing_keys {
        [] if generate_missing_keys => match before.filter(|t| t.generated_keys) {
            Some(settings) => (settings.keys.clone(), true),
            None => {
                if before.is_some() {
                    tracing::warn!(
                        tenant = %name,
                        "the key document no longer has keys for this tenant, and the configuration declares it: \
                         it signs with a generated key from now on, and its earlier tokens no longer verify"
                    );
                }
                (Arc::new(generated_key_ring(&format!("{name}-local-1"))?), true)
            }
        },
        [] => {
            return Err(ConfigError::Invalid(format!(
                "tenant {name} has no signing keys (a deployed function never generates one: each execution \
                 environment would sign with its own)"
            )));
        }
        keys => (Arc::new(key_ring(keys)?), false),
    };
    // The ring's verified tokens go with it: kept with kept (generated) keys, empty for keys read anew.
    let verified_tokens = match before.filter(|t| Arc::ptr_eq(&t.keys, &keys)) {
        Some(settings) => settings.verified_tokens.clone(),
        None => Arc::default(),
    };
    let trusted_issuers = match before {
        Some(settings) => settings.trusted_issuers.clone(),
        None => trusted_issuers_of(config, name, table.get(name).map_or(&[], Vec::as_slice))?.into(),
    };
    Ok(ServedTenant {
        issuer: issuer.map(Arc::from),
        keys,
        verified_tokens,
        trusted_issuers,
        permissions: config.permission_map(name),
        // Its clients' jwks_uri caches (and their rate limits) outlive a re-read of the key document.
        client_keys: before.map(|settings| settings.client_keys.clone()).unwrap_or_default(),
        generated_keys,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::keys::{SigningAlgorithm, SigningKey};

    fn build(toml: &str, generate: bool) -> Result<TenantMap, ConfigError> {
        let mut config = Config::from_toml(toml)?;
        config.issuer.get_or_insert_with(|| "https://auth.example.com".into());
        build_tenants(&config, None, &TableIssuers::new(), generate, &|_| false).map(|(tenants, _)| tenants)
    }

    #[test]
    fn only_the_local_runner_generates_keys() {
        let toml = "[[tenants]]\nname = \"acme\"\n";
        let tenants = build(toml, true).unwrap();
        assert_eq!(tenants[&TenantId::parse("acme").unwrap()].keys.signing_key().kid(), "acme-local-1");
        let err = build(toml, false).unwrap_err().to_string();
        assert!(err.contains("tenant default has no signing keys"), "{err}");
        // Without a key document, a keyless tenant beside a keyed default is a configuration error too.
        let pem = SigningKey::generate(SigningAlgorithm::EdDSA, "d1").unwrap().to_pkcs8_pem();
        let keyed = format!("[[signing_keys]]\nkid = \"d1\"\nalg = \"EdDSA\"\nprivate_key_pem = '''{pem}'''\n\n{toml}");
        let err = build(&keyed, false).unwrap_err().to_string();
        assert!(err.contains("tenant acme has no signing keys"), "{err}");
    }

    #[test]
    fn tenant_issuers_end_with_their_route_and_are_unique() {
        let own = |issuer: &str| format!("[[tenants]]\nname = \"acme\"\nissuer = \"{issuer}\"\n");
        let tenants = build(&own("https://acme.example.com/t/acme/"), true).unwrap();
        let acme = &tenants[&TenantId::parse("acme").unwrap()];
        assert_eq!(acme.issuer.as_deref(), Some("https://acme.example.com/t/acme"));
        // Its endpoints would be served by the default tenant's routes.
        let err = build(&own("https://acme.example.com"), true).unwrap_err().to_string();
        assert!(err.contains("must end with /t/acme"), "{err}");
        // The default tenant's issuer taken by another tenant.
        let clash = format!("issuer = \"https://auth.example.com/t/acme\"\n{}", own("https://auth.example.com/t/acme"));
        let err = build(&clash, true).unwrap_err().to_string();
        assert!(err.contains("the same issuer"), "{err}");
    }
}

//! Introspection profiles: the attributes beyond RFC 7662's core members that a resource server may be given
//! (OneWelcome's custom attributes, Keycloak's RPT `permissions`). A caller without a profile gets the core
//! members only; each attribute of its profile adds one member to its introspection answers:
//!
//! - `user_details`: the subject's attributes mapped at token exchange (a trusted issuer's `claims_mapping`);
//! - `amr`: the authentication methods the subject token named (RFC 8176), when it named any;
//! - `permissions`: resource and scope pairs derived from the token's scopes by the tenant's mapping, shaped as
//!   Keycloak's RPT `permissions` (`[{"rsid", "rsname", "scopes"}]`);
//! - `app`: OneWelcome's app attributes (`app_identifier`, `app_platform`, `app_version`) of the client the token
//!   was issued to, as registered when it was issued, when it has any.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// One attribute a profile can grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileAttribute {
    /// `user_details`.
    UserDetails,
    /// `amr`.
    Amr,
    /// `permissions`.
    Permissions,
    /// `app_identifier`, `app_platform`, `app_version`.
    App,
}

/// A caller's profile: the attributes it is given.
pub type Profile = BTreeSet<ProfileAttribute>;

/// One resource and the scopes the token holds on it (Keycloak's RPT permission).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permission {
    /// The resource's id.
    pub rsid: String,
    /// The resource's name.
    pub rsname: String,
    /// The resource scopes, sorted.
    pub scopes: Vec<String>,
}

/// A resource and its scopes, as one OAuth scope maps to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceScopes {
    /// The resource's id.
    pub rsid: String,
    /// The resource's name.
    pub rsname: String,
    /// The resource scopes the OAuth scope grants.
    pub scopes: Vec<String>,
}

/// A tenant's mapping from OAuth scopes to resource permissions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PermissionMap {
    by_scope: BTreeMap<String, Vec<ResourceScopes>>,
}

impl PermissionMap {
    /// Adds what `scope` grants.
    pub fn insert(&mut self, scope: impl Into<String>, grants: ResourceScopes) {
        self.by_scope.entry(scope.into()).or_default().push(grants);
    }

    /// Whether no scope is mapped.
    pub fn is_empty(&self) -> bool {
        self.by_scope.is_empty()
    }

    /// The permissions `scopes` grant, one per resource (sorted by name), each with its resource scopes merged.
    /// Scopes without a mapping grant nothing.
    pub fn permissions<'a>(&self, scopes: impl IntoIterator<Item = &'a str>) -> Vec<Permission> {
        let mut resources: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
        for scope in scopes {
            for grants in self.by_scope.get(scope).into_iter().flatten() {
                let entry = resources.entry((grants.rsname.as_str(), grants.rsid.as_str())).or_default();
                entry.extend(grants.scopes.iter().map(String::as_str));
            }
        }
        resources
            .into_iter()
            .map(|((rsname, rsid), scopes)| Permission {
                rsid: rsid.to_owned(),
                rsname: rsname.to_owned(),
                scopes: scopes.into_iter().map(str::to_owned).collect(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(rs: &str, scopes: &[&str]) -> ResourceScopes {
        ResourceScopes {
            rsid: format!("{rs}-id"),
            rsname: rs.into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn scopes_map_to_merged_resource_permissions() {
        let mut map = PermissionMap::default();
        map.insert("orders:read", grants("orders", &["view"]));
        map.insert("orders:write", grants("orders", &["edit", "view"]));
        map.insert("admin", grants("users", &["manage"]));
        map.insert("admin", grants("orders", &["delete"]));
        let perms = map.permissions(["orders:read", "orders:write", "unmapped"]);
        assert_eq!(
            perms,
            [Permission {
                rsid: "orders-id".into(),
                rsname: "orders".into(),
                scopes: vec!["edit".into(), "view".into()]
            }]
        );
        let all = map.permissions(["admin", "orders:read"]);
        assert_eq!(all.iter().map(|p| p.rsname.as_str()).collect::<Vec<_>>(), ["orders", "users"]);
        assert_eq!(all[0].scopes, ["delete", "view"]);
        assert!(map.permissions(["unmapped"]).is_empty());
    }
}

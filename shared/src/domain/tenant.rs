//! Tenants. Every stored key, token and configuration entry carries a [`TenantId`], so adding
//! `/t/<tenant>/…` routes later needs no data migration.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The name of a tenant: 1 to 64 characters of `a-z`, `0-9` and `-`. The plain routes serve `default`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

/// A tenant name that breaks the [`TenantId`] rules.
#[derive(Debug, thiserror::Error)]
#[error("tenant names are 1 to 64 characters of a-z, 0-9 and '-'")]
pub struct InvalidTenant;

impl TenantId {
    /// The tenant that the routes without a `/t/<tenant>` prefix serve.
    pub const DEFAULT: &'static str = "default";

    /// The `default` tenant.
    pub fn default_tenant() -> Self {
        Self(Self::DEFAULT.to_owned())
    }

    /// Validates a tenant name.
    pub fn parse(name: &str) -> Result<Self, InvalidTenant> {
        let valid = (1..=64).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if valid { Ok(Self(name.to_owned())) } else { Err(InvalidTenant) }
    }

    /// The tenant name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for TenantId {
    fn default() -> Self {
        Self::default_tenant()
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for TenantId {
    type Err = InvalidTenant;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for TenantId {
    type Error = InvalidTenant;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<TenantId> for String {
    fn from(value: TenantId) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_lowercase_names() {
        assert!(TenantId::parse("acme-eu-1").is_ok());
        for bad in ["", "Acme", "a#b", "a b", &"x".repeat(65)] {
            assert!(TenantId::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(TenantId::default().as_str(), "default");
    }
}

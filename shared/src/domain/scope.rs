//! Scope sets (RFC 6749 §3.3): parsing, narrowing and rendering.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A set of scope tokens. Rendered sorted and space-delimited, so equal sets render equally.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct ScopeSet(BTreeSet<String>);

/// A scope string that is not `1*( %x21 / %x23-5B / %x5D-7E )` tokens separated by spaces.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("scope is malformed (RFC 6749 §3.3)")]
pub struct MalformedScope;

impl ScopeSet {
    /// Parses the space-delimited `scope` parameter (RFC 6749 §3.3). Repeated spaces are tolerated; any
    /// character outside `scope-token` is not.
    pub fn parse(scope: &str) -> Result<Self, MalformedScope> {
        scope.split(' ').filter(|token| !token.is_empty()).map(Self::check_token).collect()
    }

    /// Builds a set from individual tokens, validating each.
    pub fn from_tokens<I, S>(tokens: I) -> Result<Self, MalformedScope>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        tokens.into_iter().map(|t| Self::check_token(t.as_ref())).collect()
    }

    fn check_token(token: &str) -> Result<String, MalformedScope> {
        let valid = !token.is_empty()
            && token.bytes().all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
        if valid { Ok(token.to_owned()) } else { Err(MalformedScope) }
    }

    /// Whether every scope in `self` is also in `other`.
    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `scope` is in the set.
    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }

    /// The scopes, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl FromIterator<String> for ScopeSet {
    fn from_iter<T: IntoIterator<Item = String>>(iter: T) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, scope) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(scope)?;
        }
        Ok(())
    }
}

impl TryFrom<Vec<String>> for ScopeSet {
    type Error = MalformedScope;
    fn try_from(value: Vec<String>) -> Result<Self, Self::Error> {
        Self::from_tokens(value)
    }
}

impl From<ScopeSet> for Vec<String> {
    fn from(value: ScopeSet) -> Self {
        value.0.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_renders_sorted() {
        let set = ScopeSet::parse("write  read read").unwrap();
        assert_eq!(set.to_string(), "read write");
        assert!(ScopeSet::parse("").unwrap().is_empty());
    }

    #[test]
    fn rejects_characters_outside_scope_token() {
        // RFC 6749 §3.3: %x22 ("), %x5C (\), controls, and non-ASCII are not scope-token characters.
        for bad in ["a\"b", "a\\b", "a\tb", "lés", "a\u{0}"] {
            assert_eq!(ScopeSet::parse(bad), Err(MalformedScope), "{bad:?}");
        }
    }

    #[test]
    fn subset() {
        let all = ScopeSet::parse("read write admin").unwrap();
        assert!(ScopeSet::parse("read write").unwrap().is_subset(&all));
        assert!(!ScopeSet::parse("read delete").unwrap().is_subset(&all));
    }
}

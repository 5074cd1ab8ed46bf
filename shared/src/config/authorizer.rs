//! The `[authorizer]` table: the routes of our users' APIs the authorizer protects, and what a token needs on
//! each. API Gateway hands a Lambda authorizer only the route (an HTTP API's `routeKey`, a REST API's
//! `methodArn`), so the requirements live here; a route not listed is denied.
//!
//! ```toml
//! [[authorizer.routes]]
//! route = "GET /orders/{id}"                  # an HTTP API route key: <METHOD> /<path>, or $default
//! scopes = ["orders:read"]                    # every one required; [] for any scope (required: no silent default)
//! audience = "https://orders.example.com"    # the `aud` the token must carry (RFC 9068 §4)
//! tenant = "default"                          # optional: whose tokens it accepts
//! ```
//!
//! A deployed authorizer reads the same table from `AUTHORIZER_ROUTES`, the table's body as TOML
//! (`routes = [{ route = "GET /orders/{id}", scopes = ["orders:read"], audience = "https://orders.example.com" }]`,
//! or `[[routes]]` entries), which replaces the file's.

use serde::Deserialize;

use super::{ConfigError, parse_toml};
use crate::domain::route::{ProtectedRoutes, RouteKey, RouteRule};
use crate::domain::scope::ScopeSet;
use crate::domain::tenant::TenantId;

/// The authorizer's configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizerConfig {
    /// The protected routes.
    #[serde(default)]
    pub routes: Vec<AuthorizerRouteConfig>,
}

/// One protected route.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizerRouteConfig {
    /// The route key ([`RouteKey::parse`]).
    pub route: String,
    /// Scopes the token must all have.
    pub scopes: Vec<String>,
    /// The audience the token must carry.
    pub audience: String,
    /// The tenant whose tokens the route accepts; `default` when omitted.
    #[serde(default)]
    pub tenant: TenantId,
}

impl AuthorizerConfig {
    /// Parses the body of the `[authorizer]` table (`AUTHORIZER_ROUTES`).
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        parse_toml(text)
    }

    /// Every route validated: its key, its scopes (RFC 6749 §3.3 tokens), its audience (non-empty, no whitespace),
    /// and no route twice.
    pub fn protected_routes(&self) -> Result<ProtectedRoutes, ConfigError> {
        let rules = self.routes.iter().map(AuthorizerRouteConfig::rule).collect::<Result<Vec<_>, _>>()?;
        ProtectedRoutes::new(rules).map_err(|e| ConfigError::Invalid(format!("[[authorizer.routes]]: {e}")))
    }
}

impl AuthorizerRouteConfig {
    fn rule(&self) -> Result<RouteRule, ConfigError> {
        let invalid = |what: String| ConfigError::Invalid(format!("[[authorizer.routes]] {:?}: {what}", self.route));
        let key = RouteKey::parse(&self.route).map_err(|e| invalid(e.reason.to_owned()))?;
        let scopes = ScopeSet::from_tokens(&self.scopes).map_err(|e| invalid(e.to_string()))?;
        if self.audience.is_empty() || self.audience.chars().any(char::is_whitespace) {
            return Err(invalid("audience must be a non-empty identifier without whitespace".into()));
        }
        Ok(RouteRule {
            route: self.route.clone(),
            key,
            tenant: self.tenant.clone(),
            audience: self.audience.clone(),
            scopes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn the_file_table_and_the_environment_body_read_alike() {
        let file = Config::from_toml(
            "[[authorizer.routes]]\nroute = \"GET /orders/{id}\"\nscopes = [\"orders:read\"]\n\
             audience = \"https://orders.example.com\"\n\n[[authorizer.routes]]\nroute = \"POST /orders\"\n\
             scopes = [\"orders:write\", \"orders:read\"]\naudience = \"https://orders.example.com\"\ntenant = \"acme\"\n",
        )
        .unwrap();
        let env = AuthorizerConfig::from_toml(
            r#"routes = [{ route = "GET /orders/{id}", scopes = ["orders:read"], audience = "https://orders.example.com" },
                { route = "POST /orders", scopes = ["orders:write", "orders:read"], audience = "https://orders.example.com", tenant = "acme" }]"#,
        )
        .unwrap();
        for config in [file.authorizer, env] {
            let routes = config.protected_routes().unwrap();
            let read = routes.by_route_key("GET /orders/{id}").unwrap();
            assert_eq!((read.tenant.as_str(), read.audience.as_str()), ("default", "https://orders.example.com"));
            assert_eq!(read.scopes.to_string(), "orders:read");
            let write = routes.by_route_key("POST /orders").unwrap();
            assert_eq!(
                (write.tenant.as_str(), write.scopes.to_string().as_str()),
                ("acme", "orders:read orders:write")
            );
        }
        assert!(Config::default().authorizer.protected_routes().unwrap().is_empty(), "no table: every route denied");
    }

    #[test]
    fn invalid_routes_are_refused_at_load_with_what_is_wrong() {
        let entry = |route: &str, scopes: &str, audience: &str| {
            format!("routes = [{{ route = {route:?}, scopes = {scopes}, audience = {audience:?} }}]")
        };
        let cases = [
            (entry("GET orders", "[]", "a"), "must start with /"),
            (entry("GET /orders", r#"["bad scope"]"#, "a"), "scope is malformed"),
            (entry("GET /orders", r#"["a\"b"]"#, "a"), "scope is malformed"),
            (entry("GET /orders", "[]", ""), "audience must be"),
            (entry("GET /orders", "[]", "https://x y"), "audience must be"),
            (
                "routes = [{ route = \"GET /a/{x}\", scopes = [], audience = \"a\" }, \
                 { route = \"GET /a/{y}\", scopes = [], audience = \"a\" }]"
                    .into(),
                "are the same route",
            ),
            ("routes = [{ route = \"GET /a\", audience = \"a\" }]".into(), "missing field `scopes`"),
            ("routes = [{ route = \"GET /a\", scopes = [], audience = \"a\", tenant = \"Nope\" }]".into(), "tenant"),
            ("routes = [{ route = \"GET /a\", scopes = [], audience = \"a\", scope = [] }]".into(), "unknown field"),
            ("rutes = []".into(), "unknown field"),
        ];
        for (toml, expected) in cases {
            let err = AuthorizerConfig::from_toml(&toml).and_then(|c| c.protected_routes()).unwrap_err().to_string();
            assert!(err.contains(expected), "{toml}: {err}");
        }
    }
}

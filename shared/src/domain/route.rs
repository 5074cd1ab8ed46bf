//! The routes of our users' APIs that the authorizer protects, each with what a token needs to pass: the tenant
//! that issued it, an audience and scopes ([`RouteRule`]). API Gateway tells a Lambda authorizer only which route
//! a request is for, never what it requires, so the requirements are configuration, and a request whose route is
//! not configured finds no rule (and is denied).
//!
//! Routes are written as HTTP API route keys: `GET /orders/{id}`, `ANY /admin/{proxy+}`, `$default`. A `{name}`
//! segment stands for one path segment and `{name+}` (last only) for one or more; their names do not matter, so
//! `GET /orders/{id}` and `GET /orders/{orderId}` are the same route. A request finds its rule either by its route
//! key ([`ProtectedRoutes::by_route_key`], HTTP APIs and REST `REQUEST` authorizers, which name the route as
//! defined) or by its concrete method and path ([`ProtectedRoutes::by_request`], REST `TOKEN` authorizers, which
//! only get the `methodArn`), where the most specific route wins as in API Gateway: literal segments before
//! parameters before a greedy parameter, a method before `ANY`.

use std::collections::HashMap;
use std::fmt;

use super::scope::ScopeSet;
use super::tenant::TenantId;

/// The methods a route key may name (HTTP APIs' set), `ANY` being all of them.
const METHODS: [&str; 8] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"];

/// A route key that is not `$default` nor `<METHOD> /<path>` with valid segments. The message says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("route {route:?}: {reason}")]
pub struct InvalidRoute {
    /// The route as written.
    pub route: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// One segment of a route's path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// Matches itself only (case-sensitive, as API Gateway matches paths).
    Literal(String),
    /// `{name}`: any one non-empty segment.
    Parameter,
    /// `{name+}`, last only: one or more segments.
    Greedy,
}

/// A route, its parameter names left out: what API Gateway compares routes by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RouteKey {
    /// `$default`: the HTTP API route that catches what no other route does. Found by route key only.
    Default,
    /// `<METHOD> /<path>`.
    Route {
        /// The method, `None` for `ANY`.
        method: Option<String>,
        /// The path's segments (none for `/`).
        path: Vec<Segment>,
    },
}

impl RouteKey {
    /// Parses a route key: `$default`, or an upper-case method (or `ANY`), one space and a path of `/`-separated
    /// segments, each a literal, `{name}` or (last only) `{name+}`.
    pub fn parse(route: &str) -> Result<Self, InvalidRoute> {
        let invalid = |reason| InvalidRoute { route: route.to_owned(), reason };
        if route == "$default" {
            return Ok(Self::Default);
        }
        let (method, path) = route.split_once(' ').ok_or(invalid("not `<METHOD> /<path>` nor `$default`"))?;
        if !METHODS.contains(&method) {
            return Err(invalid("the method must be one of GET POST PUT PATCH DELETE HEAD OPTIONS ANY (upper case)"));
        }
        let rest = path.strip_prefix('/').ok_or(invalid("the path must start with /"))?;
        let mut segments = Vec::new();
        let parts: Vec<&str> = if rest.is_empty() { Vec::new() } else { rest.split('/').collect() };
        for (i, part) in parts.iter().enumerate() {
            if part.is_empty() {
                return Err(invalid("a path segment is empty (`//`, or a trailing /)"));
            }
            if part.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || b == b'?' || b == b'#') {
                return Err(invalid("a path segment holds whitespace, `?` or `#`"));
            }
            let segment = match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) => {
                    let (name, greedy) = match name.strip_suffix('+') {
                        Some(name) => (name, true),
                        None => (name, false),
                    };
                    let valid_name =
                        !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
                    if !valid_name {
                        return Err(invalid("a parameter name is empty or not of A-Z a-z 0-9 _ - ."));
                    }
                    match greedy {
                        true if i + 1 != parts.len() => return Err(invalid("a greedy {name+} must be last")),
                        true => Segment::Greedy,
                        false => Segment::Parameter,
                    }
                }
                None if part.contains(['{', '}']) => return Err(invalid("a segment mixes a literal and { }")),
                None => Segment::Literal((*part).to_owned()),
            };
            segments.push(segment);
        }
        let method = (method != "ANY").then(|| method.to_owned());
        Ok(Self::Route { method, path: segments })
    }

    /// How specifically this route matches `method` and `path` (segments of a concrete path), or `None` when it
    /// does not: a rank per segment (literal 0, parameter 1, greedy 2), then the method's (named 0, `ANY` 1). The
    /// smaller rank is the more specific route.
    fn rank(&self, method: &str, path: &[&str]) -> Option<Vec<u8>> {
        let Self::Route { method: own, path: segments } = self else { return None };
        if own.as_deref().is_some_and(|own| own != method) {
            return None;
        }
        let mut rank = Vec::with_capacity(segments.len() + 1);
        let mut at = 0;
        for segment in segments {
            match segment {
                Segment::Literal(literal) if path.get(at) == Some(&literal.as_str()) => rank.push(0),
                Segment::Parameter if path.get(at).is_some_and(|s| !s.is_empty()) => rank.push(1),
                Segment::Greedy if at < path.len() && path[at..].iter().all(|s| !s.is_empty()) => {
                    rank.push(2);
                    at = path.len();
                    continue;
                }
                _ => return None,
            }
            at += 1;
        }
        (at == path.len()).then(|| {
            rank.push(u8::from(own.is_none()));
            rank
        })
    }

    /// The same route for any method (`ANY`), when this one names a method.
    fn for_any_method(&self) -> Option<Self> {
        match self {
            Self::Route { method: Some(_), path } => Some(Self::Route { method: None, path: path.clone() }),
            _ => None,
        }
    }
}

impl fmt::Display for RouteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self::Route { method, path } = self else { return f.write_str("$default") };
        f.write_str(method.as_deref().unwrap_or("ANY"))?;
        f.write_str(" ")?;
        if path.is_empty() {
            return f.write_str("/");
        }
        for segment in path {
            match segment {
                Segment::Literal(literal) => write!(f, "/{literal}")?,
                Segment::Parameter => f.write_str("/{}")?,
                Segment::Greedy => f.write_str("/{+}")?,
            }
        }
        Ok(())
    }
}

/// What a token needs to pass one route (RFC 9068 §4): issued by `tenant`, for `audience`, with every scope of
/// `scopes` (RFC 6750 §3.1 `insufficient_scope` otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRule {
    /// The route as configured (for logs).
    pub route: String,
    /// The route it stands for.
    pub key: RouteKey,
    /// The tenant whose tokens it accepts.
    pub tenant: TenantId,
    /// The `aud` value the token must carry: the protected API's identifier.
    pub audience: String,
    /// Scopes the token must all have. Empty: any scope.
    pub scopes: ScopeSet,
}

/// Two rules for one route (their parameter names aside).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("route {first:?} and route {second:?} are the same route")]
pub struct DuplicateRoute {
    /// The first rule's route.
    pub first: String,
    /// The second's.
    pub second: String,
}

/// The protected routes, each with its rule.
#[derive(Debug, Clone, Default)]
pub struct ProtectedRoutes {
    rules: Vec<RouteRule>,
    by_key: HashMap<RouteKey, usize>,
}

impl ProtectedRoutes {
    /// The rules, one per route.
    pub fn new(rules: Vec<RouteRule>) -> Result<Self, DuplicateRoute> {
        let mut by_key = HashMap::with_capacity(rules.len());
        for (i, rule) in rules.iter().enumerate() {
            if let Some(first) = by_key.insert(rule.key.clone(), i) {
                return Err(DuplicateRoute { first: rules[first].route.clone(), second: rule.route.clone() });
            }
        }
        Ok(Self { rules, by_key })
    }

    /// Whether no route is protected (every request is denied).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rule of the route API Gateway names (an HTTP API's `routeKey`; a REST API's method and resource, as
    /// `GET /orders/{id}`), else the rule of the same path for `ANY`. `None` for a route not configured, or a key
    /// that is not a route key.
    pub fn by_route_key(&self, route_key: &str) -> Option<&RouteRule> {
        let key = RouteKey::parse(route_key).ok()?;
        let found = self.by_key.get(&key).or_else(|| key.for_any_method().and_then(|any| self.by_key.get(&any)));
        found.map(|&i| &self.rules[i])
    }

    /// The rule of the most specific route that matches a concrete `method` and `path` (`/orders/42`), or `None`.
    /// `$default` is never matched this way.
    pub fn by_request(&self, method: &str, path: &str) -> Option<&RouteRule> {
        let rest = path.strip_prefix('/')?;
        let segments: Vec<&str> = if rest.is_empty() { Vec::new() } else { rest.split('/').collect() };
        self.rules
            .iter()
            .filter_map(|rule| rule.key.rank(method, &segments).map(|rank| (rank, rule)))
            .min_by(|(a, _), (b, _)| a.cmp(b))
            .map(|(_, rule)| rule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(route: &str) -> RouteRule {
        RouteRule {
            route: route.to_owned(),
            key: RouteKey::parse(route).unwrap(),
            tenant: TenantId::default(),
            audience: "https://orders.example.com".into(),
            scopes: ScopeSet::parse("orders:read").unwrap(),
        }
    }

    fn routes(list: &[&str]) -> ProtectedRoutes {
        ProtectedRoutes::new(list.iter().map(|r| rule(r)).collect()).unwrap()
    }

    #[test]
    fn route_keys_parse_as_http_apis_write_them() {
        for (route, shown) in [
            ("GET /orders/{id}", "GET /orders/{}"),
            ("ANY /admin/{proxy+}", "ANY /admin/{+}"),
            ("POST /", "POST /"),
            ("DELETE /orders/{order-id}/items/{item.id}", "DELETE /orders/{}/items/{}"),
            ("$default", "$default"),
        ] {
            assert_eq!(RouteKey::parse(route).unwrap().to_string(), shown, "{route}");
        }
        assert_eq!(RouteKey::parse("GET /orders/{id}"), RouteKey::parse("GET /orders/{orderId}"));
    }

    #[test]
    fn malformed_route_keys_say_what_is_wrong() {
        for (route, reason) in [
            ("/orders", "not `<METHOD> /<path>`"),
            ("get /orders", "the method must be one of"),
            ("FETCH /orders", "the method must be one of"),
            ("GET orders", "must start with /"),
            ("GET /orders/", "empty"),
            ("GET //orders", "empty"),
            ("GET /orders/{}", "parameter name"),
            ("GET /{proxy+}/x", "must be last"),
            ("GET /order{id}", "mixes"),
            ("GET /orders?x=1", "whitespace"),
            ("GET  /orders", "must start with /"),
            ("GET /a b", "whitespace"),
        ] {
            let err = RouteKey::parse(route).unwrap_err().to_string();
            assert!(err.contains(reason), "{route}: {err}");
        }
    }

    #[test]
    fn the_route_key_finds_its_rule_or_the_any_rule() {
        let table = routes(&["GET /orders/{id}", "ANY /admin/{proxy+}", "$default"]);
        assert_eq!(table.by_route_key("GET /orders/{id}").unwrap().route, "GET /orders/{id}");
        assert_eq!(table.by_route_key("GET /orders/{orderId}").unwrap().route, "GET /orders/{id}");
        assert_eq!(table.by_route_key("DELETE /admin/{proxy+}").unwrap().route, "ANY /admin/{proxy+}");
        assert_eq!(table.by_route_key("$default").unwrap().route, "$default");
        for unknown in ["POST /orders/{id}", "GET /orders", "GET /orders/42", "garbage", "", "ANY /orders/{id}"] {
            assert!(table.by_route_key(unknown).is_none(), "{unknown}");
        }
    }

    #[test]
    fn a_concrete_request_finds_the_most_specific_route() {
        let table = routes(&[
            "GET /orders/{id}",
            "GET /orders/mine",
            "ANY /orders/{id}",
            "ANY /{proxy+}",
            "GET /orders/{id}/{rest+}",
            "GET /",
            "$default",
        ]);
        let found = |method: &str, path: &str| table.by_request(method, path).map(|r| r.route.as_str());
        assert_eq!(found("GET", "/orders/42"), Some("GET /orders/{id}"));
        assert_eq!(found("GET", "/orders/mine"), Some("GET /orders/mine"), "a literal beats a parameter");
        assert_eq!(found("POST", "/orders/42"), Some("ANY /orders/{id}"), "a method beats ANY");
        assert_eq!(found("GET", "/orders/42/items/7"), Some("GET /orders/{id}/{rest+}"));
        assert_eq!(found("PUT", "/anything/else"), Some("ANY /{proxy+}"));
        assert_eq!(found("GET", "/"), Some("GET /"));
        assert_eq!(found("POST", "/"), None, "a greedy parameter needs a segment; $default is by key only");
        assert_eq!(found("GET", "/orders/"), None, "an empty segment matches nothing");
        assert_eq!(found("GET", "orders/42"), None);
        assert!(routes(&["GET /orders/{id}"]).by_request("GET", "/orders").is_none());
        assert!(routes(&["GET /orders/{id}"]).by_request("get", "/orders/1").is_none(), "methods are upper case");
    }

    #[test]
    fn one_rule_per_route() {
        let err = ProtectedRoutes::new(vec![rule("GET /orders/{id}"), rule("GET /orders/{orderId}")]).unwrap_err();
        assert_eq!(err.to_string(), r#"route "GET /orders/{id}" and route "GET /orders/{orderId}" are the same route"#);
        assert!(ProtectedRoutes::new(vec![rule("GET /orders/{id}"), rule("ANY /orders/{id}")]).is_ok());
        assert!(ProtectedRoutes::default().is_empty());
    }
}

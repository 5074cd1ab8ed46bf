//! The routes API Gateway serves (see `template.yaml`), mapped to the function handlers, so the local runner
//! and Lambda run the very same code. Each route also exists under `/t/<tenant>/`.

use lambda_http::{Body, Error, Request, Response};
use tessera::TokenService;

/// A function the API routes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /oauth2/token`.
    Token,
    /// `POST /oauth2/introspect`.
    Introspect,
    /// `POST /oauth2/revoke`.
    Revoke,
    /// `GET /.well-known/oauth-authorization-server` and `GET /.well-known/jwks.json`.
    Metadata,
}

impl Route {
    /// The route for a path, or `None` (404).
    pub fn for_path(path: &str) -> Option<Self> {
        let path = match path.strip_prefix("/t/") {
            Some(rest) => &rest[rest.find('/')?..],
            None => path,
        };
        match path {
            "/oauth2/token" => Some(Self::Token),
            "/oauth2/introspect" => Some(Self::Introspect),
            "/oauth2/revoke" => Some(Self::Revoke),
            "/.well-known/oauth-authorization-server" | "/.well-known/jwks.json" => Some(Self::Metadata),
            _ => None,
        }
    }

    /// Runs the route's handler.
    pub async fn handle(self, service: &TokenService, request: Request) -> Result<Response<Body>, Error> {
        match self {
            Self::Token => tessera_token::handle(service, request).await,
            Self::Introspect => tessera_introspect::handle(service, request).await,
            Self::Revoke => tessera_revoke::handle(service, request).await,
            Self::Metadata => tessera_metadata::handle(service, request).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_plain_and_tenant_paths() {
        assert_eq!(Route::for_path("/oauth2/token"), Some(Route::Token));
        assert_eq!(Route::for_path("/t/acme/oauth2/introspect"), Some(Route::Introspect));
        assert_eq!(Route::for_path("/.well-known/jwks.json"), Some(Route::Metadata));
        assert_eq!(Route::for_path("/oauth2/token/"), None);
        assert_eq!(Route::for_path("/t/acme"), None);
        assert_eq!(Route::for_path("/"), None);
    }
}

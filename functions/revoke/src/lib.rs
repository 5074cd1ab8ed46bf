//! The revocation endpoint, `POST /oauth2/revoke` (RFC 7009), as a Lambda handler.

use lambda_http::{Body, Error, Request, Response};
use tessera::TokenService;
use tessera::oauth::revoke::revoke;
use tessera::wire::http::OAuthRequest;
use tessera::wire::response::empty_ok;

/// Handles one request: an empty 200 on success (RFC 7009 §2.2), an RFC error otherwise. `Err` is
/// reserved for bugs.
/// Its metrics are written when it ends ([`tessera::metrics`]).
pub async fn handle(service: &TokenService, request: Request) -> Result<Response<Body>, Error> {
    service.metrics.invocation(answer(service, request)).await
}

async fn answer(service: &TokenService, request: Request) -> Result<Response<Body>, Error> {
    let result = async { revoke(service, &OAuthRequest::from_http(&request)?).await }.await;
    Ok(result.map_or_else(|err| err.into_response(), |()| empty_ok()))
}

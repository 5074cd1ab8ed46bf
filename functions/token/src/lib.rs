//! The token endpoint, `POST /oauth2/token` (RFC 6749 §3.2), as a Lambda handler.

use lambda_http::{Body, Error, Request, Response};
use tessera::TokenService;
use tessera::oauth::token::token;
use tessera::wire::http::{OAuthRequest, respond};

/// Handles one request, its metrics written when it ends ([`tessera::metrics`]). Expected failures are RFC error
/// responses; `Err` is reserved for bugs.
pub async fn handle(service: &TokenService, request: Request) -> Result<Response<Body>, Error> {
    service.metrics.invocation(answer(service, request)).await
}

async fn answer(service: &TokenService, request: Request) -> Result<Response<Body>, Error> {
    let result = async { token(service, &OAuthRequest::from_http(&request)?).await }.await;
    Ok(respond(result))
}

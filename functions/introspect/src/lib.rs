//! The introspection endpoint, `POST /oauth2/introspect` (RFC 7662), as a Lambda handler. A resource server
//! whose `Accept` header prefers `application/token-introspection+jwt` to JSON (RFC 9110 §12.5.1) gets the answer
//! as a JWT signed by the tenant's key (RFC 9701); errors stay RFC 6749 JSON either way.

use lambda_http::{Body, Error, Request, Response};
use tessera::TokenService;
use tessera::oauth::introspect::{INTROSPECTION_JWT_MEDIA_TYPE, introspect, introspect_signed};
use tessera::wire::http::{OAuthRequest, prefers_over_json, respond};
use tessera::wire::response::jwt_response;

/// Handles one request, its metrics written when it ends ([`tessera::metrics`]). Expected failures are RFC error
/// responses; `Err` is reserved for bugs.
pub async fn handle(service: &TokenService, request: Request) -> Result<Response<Body>, Error> {
    service.metrics.invocation(answer(service, request)).await
}

async fn answer(service: &TokenService, request: Request) -> Result<Response<Body>, Error> {
    if prefers_over_json(&request, INTROSPECTION_JWT_MEDIA_TYPE) {
        let result = async { introspect_signed(service, &OAuthRequest::from_http(&request)?).await }.await;
        return Ok(match result {
            Ok(jwt) => jwt_response(INTROSPECTION_JWT_MEDIA_TYPE, jwt),
            Err(err) => err.into_response(),
        });
    }
    let result = async { introspect(service, &OAuthRequest::from_http(&request)?).await }.await;
    Ok(respond(result))
}

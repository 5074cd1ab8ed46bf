//! Discovery, `GET /.well-known/oauth-authorization-server` (RFC 8414) and `GET /.well-known/jwks.json`
//! (RFC 7517), as one Lambda handler, for GET and HEAD (RFC 9110 §9.3.2). Both documents are public and cacheable. A tenant's documents are under
//! `/t/<tenant>/.well-known/…`, and its metadata also at `/.well-known/oauth-authorization-server/t/<tenant>`
//! (RFC 8414 §3.1).

use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Error, Request, Response};
use tessera::TokenService;
use tessera::oauth::metadata::{MutualTlsOffer, authorization_server_metadata, jwks};
use tessera::wire::OAuthError;
use tessera::wire::http::{METADATA_PATH, gateway_domain, require_get_or_head, tenant_of};
use tessera::wire::response::json_response;

/// How long clients and CDNs may cache the documents. Short, so key rotation propagates quickly.
pub const CACHE_CONTROL: &str = "public, max-age=300";

/// Handles one request, choosing the document by path; its metrics (a key re-read's, a store call's) are written
/// when it ends ([`tessera::metrics`]).
pub async fn handle(service: &TokenService, request: Request) -> Result<Response<Body>, Error> {
    service.metrics.invocation(answer(service, request)).await
}

async fn answer(service: &TokenService, request: Request) -> Result<Response<Body>, Error> {
    let result = async {
        require_get_or_head(&request)?;
        let tenant_id = tenant_of(&request)?;
        let tenant = service.tenant(&tenant_id, gateway_domain(&request), service.clock.now()).await?;
        let path = request.uri().path();
        if path.ends_with(METADATA_PATH) || path.starts_with(&format!("{METADATA_PATH}/t/")) {
            Ok(json_response(
                StatusCode::OK,
                &authorization_server_metadata(
                    &tenant,
                    MutualTlsOffer {
                        offered: service.offers_mutual_tls(),
                        chains_verified: service.client_certificate_chains_verified(),
                        alias_origin: service.mtls_base_url(),
                    },
                ),
            ))
        } else if path.ends_with("/.well-known/jwks.json") {
            Ok(json_response(StatusCode::OK, &jwks(&tenant)))
        } else {
            Err(OAuthError::invalid_request("no such document").with_status(StatusCode::NOT_FOUND))
        }
    }
    .await;
    let mut response = match result {
        Ok(mut response) => {
            response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static(CACHE_CONTROL));
            response.headers_mut().remove(header::PRAGMA);
            response
        }
        Err(err) => err.into_response(),
    };
    if request.method() == Method::HEAD {
        // The same header fields as the GET, with the length the GET's content would have, and no content.
        let length = match response.body() {
            Body::Text(text) => text.len(),
            Body::Binary(bytes) => bytes.len(),
            _ => 0,
        };
        response.headers_mut().insert(header::CONTENT_LENGTH, header::HeaderValue::from(length));
        *response.body_mut() = Body::Empty;
    }
    Ok(response)
}

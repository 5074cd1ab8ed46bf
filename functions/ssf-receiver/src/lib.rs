//! The Shared Signals receiver, `POST /ssf/events` and `/t/{tenant}/ssf/events` (RFC 8935 push delivery of
//! Security Event Tokens), as a Lambda handler: [`tessera::events::ssf`] does the work, [`tessera::wire::secevent`]
//! reads the request and renders the answers (202, or RFC 8935 §2.3's error body).

use lambda_http::{Body, Error, Request, Response};
use tessera::TokenService;
use tessera::events::ssf::receive;
use tessera::wire::secevent::{SetDelivery, SetError, accepted};

/// Handles one push, its metrics written when it ends ([`tessera::metrics`]). Every refusal is an RFC 8935
/// answer; `Err` is reserved for bugs.
pub async fn handle(service: &TokenService, request: Request) -> Result<Response<Body>, Error> {
    service.metrics.invocation(answer(service, request)).await
}

async fn answer(service: &TokenService, request: Request) -> Result<Response<Body>, Error> {
    Ok(match push(service, &request).await {
        Ok(()) => accepted(),
        Err(err) => {
            tracing::warn!(status = err.status().as_u16(), error = %err, "security event token refused");
            err.into_response()
        }
    })
}

async fn push(service: &TokenService, request: &Request) -> Result<(), SetError> {
    let delivery = SetDelivery::from_http(request)?;
    // The request's one instant: the SET's time window and the watermarks it raises agree on it.
    let now = service.clock.now();
    match service.serves(&delivery.tenant).await {
        Ok(true) => tessera::metrics::served_tenant(&delivery.tenant),
        Ok(false) => {
            return Err(
                SetError::invalid_request("unknown tenant").with_status(lambda_http::http::StatusCode::NOT_FOUND)
            );
        }
        Err(err) => {
            let retry_after_secs = match err {
                tessera::tenancy::TenantError::KeysUnreadable { retry_after_secs } => retry_after_secs,
                _ => 1,
            };
            return Err(SetError::Store(tessera::wire::OAuthError::temporarily_unavailable(retry_after_secs)));
        }
    }
    let authorization = match &delivery.authorization {
        Ok(token) => Some(token.as_str()),
        Err(why) => {
            tracing::info!(tenant = %delivery.tenant, reason = %why, "SET push without usable bearer authorization");
            None
        }
    };
    let store = service.store.as_ref();
    receive(
        service.ssf_transmitters(),
        store,
        service.announcer.as_ref(),
        &delivery.tenant,
        authorization,
        &delivery.set,
        now,
    )
    .await
    .map(|_| ())
}

//! The bridge from a `lambda_http::Request` (API Gateway HTTP API v2, or the local runner) to a parsed
//! OAuth request, and from a result back to a response. Handlers stay one expression long.

use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;

use super::client_auth::ClientCredentials;
use super::client_cert::{ClientCertificate, presented_certificate};
use super::dpop::{DpopHeader, request_url};
use super::error::OAuthError;
use super::form::{Form, FormError};
use super::response::json_response;
use crate::domain::tenant::TenantId;

/// A POSTed OAuth request: its tenant, form parameters and client credentials.
#[derive(Debug, Clone)]
pub struct OAuthRequest {
    /// The tenant the route names.
    pub tenant: TenantId,
    /// The form parameters.
    pub form: Form,
    /// The presented client credentials, if any.
    pub credentials: Option<ClientCredentials>,
    /// The API Gateway domain the request arrived on, when it came through API Gateway.
    pub gateway_domain: Option<String>,
    /// The `DPoP` header (RFC 9449 §4.1).
    pub dpop: DpopHeader,
    /// The URL the client sent the request to, without query: what a DPoP proof's `htu` must name. Read only when
    /// a `DPoP` header came with the request; `None` without one, or when the request names no host.
    pub url: Option<String>,
    /// The client certificate of the mutual-TLS connection the request came on (RFC 8705), as the TLS terminator
    /// put it in the request context; `None` without mutual TLS.
    pub certificate: Option<ClientCertificate>,
}

impl OAuthRequest {
    /// Checks method, content type and size, then parses the form and the credentials.
    pub fn from_http(request: &Request) -> Result<Self, OAuthError> {
        require_method(request, &Method::POST)?;
        let tenant = tenant_of(request)?;
        let content_type = request.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let media_type = content_type.split(';').next().unwrap_or("").trim();
        if !media_type.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(OAuthError::invalid_request("Content-Type must be application/x-www-form-urlencoded"));
        }
        let form = Form::parse(body_bytes(request.body())).map_err(|err| {
            let status =
                if err == FormError::TooLarge { StatusCode::PAYLOAD_TOO_LARGE } else { StatusCode::BAD_REQUEST };
            OAuthError::invalid_request(err.to_string()).with_status(status)
        })?;
        // A certificate the TLS terminator accepted but that cannot be read here (stricter DER, over the size bound)
        // counts as none: a client it would authenticate gets `invalid_client`, a binding it would carry
        // `invalid_request`, and every other request is served as it would be without mutual TLS.
        let certificate = presented_certificate(request).unwrap_or_else(|err| {
            tracing::warn!(%err, "the request context holds a client certificate that cannot be read; ignored");
            None
        });
        let credentials =
            ClientCredentials::extract(request.headers().get(AUTHORIZATION), &form, certificate.is_some())?;
        let dpop = DpopHeader::of(request.headers());
        Ok(Self {
            tenant,
            form,
            credentials,
            gateway_domain: gateway_domain(request).map(str::to_owned),
            url: (dpop != DpopHeader::Absent).then(|| request_url(request)).flatten(),
            dpop,
            certificate,
        })
    }

    /// The credentials, or `invalid_client` when the request carried none.
    pub fn require_credentials(&self) -> Result<&ClientCredentials, OAuthError> {
        self.credentials.as_ref().ok_or_else(OAuthError::invalid_client)
    }

    /// A required parameter, or `invalid_request` naming it.
    pub fn require(&self, name: &'static str) -> Result<&str, OAuthError> {
        self.form.get(name).ok_or_else(|| OAuthError::invalid_request(format!("missing parameter '{name}'")))
    }
}

/// How closely an `Accept` media range matched a media type (RFC 9110 §12.5.1: the most specific one applies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RangeMatch {
    /// `*/*`.
    Any,
    /// `type/*`.
    Type,
    /// `type/subtype`.
    Exact,
}

/// The weight the `Accept` header gives `media_type`, in thousandths (RFC 9110 §12.4.2 qvalue, 1000 when
/// absent), with how the range that gave it matched: the most specific matching range decides (§12.5.1).
/// `None` when no range matches. A range whose weight is not a qvalue is malformed and counts for nothing, so
/// it can neither select nor refuse anything. Type, subtype and parameter names are case-insensitive.
pub fn accept_weight(request: &Request, media_type: &str) -> Option<(RangeMatch, u16)> {
    let (wanted_type, wanted_subtype) = media_type.split_once('/')?;
    let mut best: Option<(RangeMatch, u16)> = None;
    let values = request.headers().get_all(http::header::ACCEPT).iter().filter_map(|v| v.to_str().ok());
    for range in values.flat_map(|value| value.split(',')) {
        let mut parts = range.split(';').map(str::trim);
        let Some((range_type, range_subtype)) = parts.next().and_then(|m| m.split_once('/')) else { continue };
        let matched = if range_type == "*" && range_subtype == "*" {
            RangeMatch::Any
        } else if !range_type.eq_ignore_ascii_case(wanted_type) {
            continue;
        } else if range_subtype == "*" {
            RangeMatch::Type
        } else if range_subtype.eq_ignore_ascii_case(wanted_subtype) {
            RangeMatch::Exact
        } else {
            continue;
        };
        let weight = parts
            .filter_map(|p| p.split_once('='))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
            .map_or(Some(1000), |(_, value)| qvalue(value.trim()));
        let Some(weight) = weight else { continue };
        if best.is_none_or(|(b, _)| matched > b) {
            best = Some((matched, weight));
        }
    }
    best
}

/// A qvalue (RFC 9110 §12.4.2: `0[.ddd]` or `1[.000]`) in thousandths.
fn qvalue(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Whether content negotiation (RFC 9110 §12.5.1) chooses `alternative` over the default `application/json`:
/// the request must name `alternative` itself (a wildcard never selects it) with a non-zero weight at least the
/// weight JSON gets from its most specific matching range (none: 0). A tie goes to the named alternative.
pub fn prefers_over_json(request: &Request, alternative: &str) -> bool {
    let Some((RangeMatch::Exact, weight)) = accept_weight(request, alternative) else { return false };
    let json = accept_weight(request, "application/json").map_or(0, |(_, w)| w);
    weight > 0 && weight >= json
}

/// `405` with `Allow` unless the request uses `method`.
pub fn require_method(request: &Request, method: &Method) -> Result<(), OAuthError> {
    if request.method() == method {
        return Ok(());
    }
    Err(OAuthError::invalid_request(format!("use {method}"))
        .with_status(StatusCode::METHOD_NOT_ALLOWED)
        .with_header("allow", method.to_string()))
}

/// `405` with `Allow: GET, HEAD` unless the request is a GET or a HEAD (RFC 9110 §9.3.2: a resource that
/// answers GET answers HEAD too, with the same header fields and no content).
pub fn require_get_or_head(request: &Request) -> Result<(), OAuthError> {
    if request.method() == Method::GET || request.method() == Method::HEAD {
        return Ok(());
    }
    Err(OAuthError::invalid_request("use GET or HEAD")
        .with_status(StatusCode::METHOD_NOT_ALLOWED)
        .with_header("allow", "GET, HEAD".to_owned()))
}

/// The domain API Gateway received the request on (`requestContext.domainName`); `None` outside API
/// Gateway. Set by API Gateway from the route it matched, not by the client.
pub fn gateway_domain(request: &Request) -> Option<&str> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.domain_name.as_deref(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// The RFC 8414 metadata path. A tenant's document is at `/t/<tenant>` + this (WSO2's form) and at this +
/// `/t/<tenant>` (RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path).
pub const METADATA_PATH: &str = "/.well-known/oauth-authorization-server";

/// The tenant a path names: `/t/<tenant>/…` or `/.well-known/oauth-authorization-server/t/<tenant>`, or
/// `default` for the plain routes.
pub fn tenant_of(request: &Request) -> Result<TenantId, OAuthError> {
    let path = request.uri().path();
    let path = path.strip_prefix(METADATA_PATH).filter(|rest| rest.starts_with("/t/")).unwrap_or(path);
    match path.strip_prefix("/t/").and_then(|rest| rest.split('/').next()) {
        Some(name) => TenantId::parse(name)
            .map_err(|_| OAuthError::invalid_request("unknown tenant").with_status(StatusCode::NOT_FOUND)),
        None => Ok(TenantId::default()),
    }
}

fn body_bytes(body: &Body) -> &[u8] {
    match body {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        // `Body` is non-exhaustive; an unknown variant carries nothing we can parse.
        #[allow(unreachable_patterns)]
        _ => &[],
    }
}

/// Renders an endpoint result: the body with 200 on success, the RFC error otherwise.
pub fn respond<T: Serialize>(result: Result<T, OAuthError>) -> Response<Body> {
    match result {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(err) => err.into_response(),
    }
}

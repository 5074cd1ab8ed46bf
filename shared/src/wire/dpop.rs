//! DPoP on the wire (RFC 9449): the `DPoP` request header (§4.1: at most one), and the URL a proof's `htu` must
//! name, which is the request's as the client sent it (§4.3 check 9).
//!
//! Behind API Gateway, `lambda_http` rebuilds the URL from the event: scheme from `X-Forwarded-Proto` (`https`
//! when absent), host from the `Host` header the client sent (or `requestContext.domainName`), and the raw path,
//! with the stage as its first segment when the API is invoked on a named stage of its default endpoint (the
//! template's HTTP API has only `$default`, which adds none). On a custom domain the client's URL holds no stage
//! name, so an API mapped there on a named stage needs `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` set on the function;
//! the README's DPoP section says how to check what the function sees. The local runner hands a request with only
//! a path: its URL is `http://` + its `Host` header + the path.

use http::HeaderMap;
use http::header::HOST;
use lambda_http::Request;

/// The request header a proof travels in (RFC 9449 §4.1), as `http` spells header names.
pub const DPOP_HEADER: &str = "dpop";

/// What a request's `DPoP` header holds. Its `Debug` never shows the proof.
#[derive(Clone, PartialEq, Eq)]
pub enum DpopHeader {
    /// No `DPoP` header.
    Absent,
    /// Exactly one, as text (surrounding whitespace removed).
    One(String),
    /// More than one, or one that is not text (RFC 9449 §4.3 check 1: "not more than one").
    NotOne,
}

impl std::fmt::Debug for DpopHeader {
    /// The variant and the proof's length: a proof is a credential for its `jti`'s window.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Absent => f.write_str("Absent"),
            Self::One(proof) => write!(f, "One({} bytes)", proof.len()),
            Self::NotOne => f.write_str("NotOne"),
        }
    }
}

impl DpopHeader {
    /// The `DPoP` header of `headers`.
    pub fn of(headers: &HeaderMap) -> Self {
        let mut values = headers.get_all(DPOP_HEADER).iter();
        match (values.next(), values.next()) {
            (None, _) => Self::Absent,
            (Some(value), None) => match value.to_str() {
                Ok(text) => Self::One(text.trim_matches([' ', '\t']).to_owned()),
                Err(_) => Self::NotOne,
            },
            (Some(_), Some(_)) => Self::NotOne,
        }
    }
}

/// The URL of a request an API Gateway authorizer event describes, without query: `X-Forwarded-Proto` (API
/// Gateway sets it; `https` without it), the domain the request came in on (`requestContext.domainName`, set by API
/// Gateway from the domain it served; the `Host` header only where the event has none, as a REST API's), and
/// `path`, which must be the path the client sent (an HTTP API's `rawPath`; a REST API's `requestContext.path`,
/// which holds the stage on the default endpoint and the base path on a custom domain). `None` without a host. A
/// `Host` header the client chose never outranks the domain: a proof made for another host does not pass here.
pub fn gateway_url(headers: &HeaderMap, domain: Option<&str>, path: &str) -> Option<String> {
    let single = |name: &str| {
        let mut values = headers.get_all(name).iter();
        match (values.next(), values.next()) {
            (Some(value), None) => value.to_str().ok().filter(|v| !v.is_empty()),
            _ => None,
        }
    };
    let scheme = single("x-forwarded-proto").unwrap_or("https");
    let host = domain.filter(|d| !d.is_empty()).or(single(HOST.as_str()))?;
    let path = path.split(['?', '#']).next().unwrap_or("");
    Some(format!("{scheme}://{host}{path}"))
}

/// The URL the client sent `request` to, without query or fragment: the `htu` its proof must name. Behind API
/// Gateway, `https://` + the domain it came in on (`requestContext.domainName`) + the path; elsewhere the request's
/// absolute URI (the local runner gives each request one, naming itself), else `http://` + `Host` + path. `None`
/// when the request says nothing of its host.
pub fn request_url(request: &Request) -> Option<String> {
    let uri = request.uri();
    let path = uri.path();
    if let Some(domain) = crate::wire::http::gateway_domain(request).filter(|d| !d.is_empty()) {
        return Some(format!("https://{domain}{path}"));
    }
    match (uri.scheme_str(), uri.authority()) {
        (Some(scheme), Some(authority)) => Some(format!("{scheme}://{authority}{path}")),
        _ => {
            let mut hosts = request.headers().get_all(HOST).iter();
            match (hosts.next().and_then(|h| h.to_str().ok()), hosts.next()) {
                (Some(host), None) if !host.is_empty() => Some(format!("http://{host}{path}")),
                _ => None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    /// A proof never reaches a log through `Debug`.
    #[test]
    fn debug_shows_no_proof() {
        let shown = format!("{:?}", DpopHeader::One("eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.c2ln".into()));
        assert_eq!(shown, "One(33 bytes)");
    }

    use http::HeaderValue;

    use super::*;

    #[test]
    fn one_dpop_header_exactly() {
        let mut headers = HeaderMap::new();
        assert_eq!(DpopHeader::of(&headers), DpopHeader::Absent);
        headers.append(DPOP_HEADER, HeaderValue::from_static(" a.b.c "));
        assert_eq!(DpopHeader::of(&headers), DpopHeader::One("a.b.c".into()));
        headers.append(DPOP_HEADER, HeaderValue::from_static("d.e.f"));
        assert_eq!(DpopHeader::of(&headers), DpopHeader::NotOne);
        let mut binary = HeaderMap::new();
        binary.insert(DPOP_HEADER, HeaderValue::from_bytes(b"\xff.b.c").unwrap());
        assert_eq!(DpopHeader::of(&binary), DpopHeader::NotOne);
    }

    #[test]
    fn the_url_is_the_absolute_uri_or_the_host_and_path() {
        let absolute = http::Request::builder()
            .uri("https://abc.execute-api.eu-west-1.amazonaws.com/prod/oauth2/token?x=1")
            .body(lambda_http::Body::Empty)
            .unwrap();
        assert_eq!(
            request_url(&absolute).as_deref(),
            Some("https://abc.execute-api.eu-west-1.amazonaws.com/prod/oauth2/token")
        );
        let local = http::Request::builder()
            .uri("/oauth2/token?x=1")
            .header(HOST, "127.0.0.1:8080")
            .body(lambda_http::Body::Empty)
            .unwrap();
        assert_eq!(request_url(&local).as_deref(), Some("http://127.0.0.1:8080/oauth2/token"));
        let hostless = http::Request::builder().uri("/oauth2/token").body(lambda_http::Body::Empty).unwrap();
        assert_eq!(request_url(&hostless), None);
    }

    #[test]
    fn a_gateway_url_is_scheme_host_and_path() {
        let mut headers = HeaderMap::new();
        assert_eq!(gateway_url(&headers, None, "/orders/1"), None);
        assert_eq!(
            gateway_url(&headers, Some("api.example.com"), "/prod/orders/1?x").unwrap(),
            "https://api.example.com/prod/orders/1"
        );
        headers.insert(HOST, HeaderValue::from_static("orders.example.com"));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
        assert_eq!(
            gateway_url(&headers, Some("api.example.com"), "/orders/1").unwrap(),
            "http://api.example.com/orders/1",
            "the domain API Gateway served, never a Host the client chose"
        );
        assert_eq!(gateway_url(&headers, None, "/orders/1").unwrap(), "http://orders.example.com/orders/1");
    }
}

//! Bearer credentials in the `Authorization` header (RFC 6750 §2.1), as a resource server (the authorizer)
//! receives them: exactly one header, the scheme `Bearer` in any case (RFC 9110 §11.1), one or more spaces, then
//! one `b64token`. A DPoP-bound token comes the same way under the scheme `DPoP` (RFC 9449 §7.1), whose token has
//! the same syntax (`token68`). Anything else is refused with the reason RFC 6750 §3.1 gives it; the token itself never
//! appears in a reason.

use http::HeaderMap;
use http::header::AUTHORIZATION;

/// Why a request carries no usable bearer token. `Display` never shows the header's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BearerError {
    /// No `Authorization` header (RFC 6750 §3.1: answer without an error code).
    #[error("no Authorization header")]
    Missing,
    /// An `Authorization` header of another scheme (`Basic`, say): no bearer credentials at all.
    #[error("the Authorization header is not of the Bearer scheme")]
    OtherScheme,
    /// More than one `Authorization` header: RFC 6750 §2 allows one method, one token, per request.
    #[error("more than one Authorization header")]
    Repeated,
    /// `Bearer` with nothing after it.
    #[error("Bearer without a token")]
    Empty,
    /// What follows `Bearer` is not one `b64token`: two tokens, a comma, a character outside the set, or bytes
    /// that are not text.
    #[error("the Bearer credentials are not one b64token")]
    Malformed,
}

impl BearerError {
    /// The RFC 6750 §3.1 error code: none when the request simply has no bearer credentials, `invalid_request`
    /// when it has malformed ones.
    pub fn error_code(self) -> Option<&'static str> {
        match self {
            Self::Missing | Self::OtherScheme => None,
            Self::Repeated | Self::Empty | Self::Malformed => Some("invalid_request"),
        }
    }
}

/// The auth-schemes (RFC 9110 §11.1: case-insensitive).
const BEARER: &str = "bearer";
const DPOP: &str = "dpop";

/// The scheme an access token is presented under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenScheme {
    /// `Bearer` (RFC 6750 §2.1): whoever holds the token may use it.
    Bearer,
    /// `DPoP` (RFC 9449 §7.1): a DPoP-bound token, with a proof in the `DPoP` header.
    Dpop,
}

/// An access token of an `Authorization` header, and its scheme. Its `Debug` never shows the token.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PresentedToken<'a> {
    /// `Bearer` or `DPoP`.
    pub scheme: TokenScheme,
    /// The token.
    pub token: &'a str,
}

impl std::fmt::Debug for PresentedToken<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresentedToken").field("scheme", &self.scheme).field("token_len", &self.token.len()).finish()
    }
}

/// The token of one `Authorization` header value: `Bearer` in any case, `1*SP`, one `b64token` (RFC 6750 §2.1).
/// Optional whitespace around the value (RFC 9110 §5.5) is not part of it.
pub fn parse_bearer(value: &str) -> Result<&str, BearerError> {
    parse_scheme(value, BEARER)
}

/// The token of one `Authorization` header value under `Bearer` ([`parse_bearer`]) or `DPoP` (RFC 9449 §7.1, the
/// same syntax); any other scheme is [`BearerError::OtherScheme`].
pub fn parse_authorization(value: &str) -> Result<PresentedToken<'_>, BearerError> {
    match parse_scheme(value, BEARER) {
        Err(BearerError::OtherScheme) => {
            parse_scheme(value, DPOP).map(|token| PresentedToken { scheme: TokenScheme::Dpop, token })
        }
        other => other.map(|token| PresentedToken { scheme: TokenScheme::Bearer, token }),
    }
}

fn parse_scheme<'a>(value: &'a str, name: &str) -> Result<&'a str, BearerError> {
    let value = value.trim_matches([' ', '\t']);
    let (scheme, rest) = value.split_at_checked(name.len()).ok_or(match value.eq_ignore_ascii_case(name) {
        true => BearerError::Empty,
        false => BearerError::OtherScheme,
    })?;
    if !scheme.eq_ignore_ascii_case(name) {
        return Err(BearerError::OtherScheme);
    }
    let token = match rest.trim_start_matches(' ') {
        // `Bearer` followed by nothing, or by spaces only.
        "" => return Err(BearerError::Empty),
        // `Bearerabc` is another scheme's name, not this one's.
        _ if !rest.starts_with(' ') => return Err(BearerError::OtherScheme),
        token => token,
    };
    match is_b64token(token) {
        true => Ok(token),
        false => Err(BearerError::Malformed),
    }
}

/// The bearer token of a request's `Authorization` header values, in the order received: exactly one value
/// ([`parse_bearer`]). An API Gateway HTTP API joins repeated headers with commas into one value, which then fails
/// as [`BearerError::Malformed`].
pub fn bearer_token<'a, I>(values: I) -> Result<&'a str, BearerError>
where
    I: IntoIterator<Item = &'a str>,
{
    let mut values = values.into_iter();
    match (values.next(), values.next()) {
        (None, _) => Err(BearerError::Missing),
        (Some(_), Some(_)) => Err(BearerError::Repeated),
        (Some(value), None) => parse_bearer(value),
    }
}

/// The access token of the one `Authorization` header in `headers`, under `Bearer` or `DPoP`
/// ([`parse_authorization`]); a value that is not text is [`BearerError::Malformed`].
pub fn access_token_in(headers: &HeaderMap) -> Result<PresentedToken<'_>, BearerError> {
    parse_authorization(one_authorization(headers)?)
}

/// The bearer token of the one `Authorization` header in `headers` ([`parse_bearer`]): `Bearer` only, as a Shared
/// Signals transmitter presents it; a value that is not text is [`BearerError::Malformed`].
pub fn bearer_token_in(headers: &HeaderMap) -> Result<&str, BearerError> {
    parse_bearer(one_authorization(headers)?)
}

/// The one `Authorization` header value of `headers`, as text.
fn one_authorization(headers: &HeaderMap) -> Result<&str, BearerError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    match (values.next(), values.next()) {
        (None, _) => Err(BearerError::Missing),
        (Some(_), Some(_)) => Err(BearerError::Repeated),
        (Some(value), None) => value.to_str().map_err(|_| BearerError::Malformed),
    }
}

/// `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="` (RFC 6750 §2.1).
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty() && body.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

#[cfg(test)]
mod tests {
    /// A token never reaches a log through `Debug`.
    #[test]
    fn debug_shows_no_token() {
        let presented = PresentedToken { scheme: TokenScheme::Dpop, token: "secret-access-token" };
        let shown = format!("{presented:?}");
        assert!(!shown.contains("secret-access-token") && shown.contains("Dpop"), "{shown}");
    }

    use http::HeaderValue;

    use super::*;

    const JWT: &str = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJzIn0.c2ln";
    const OPAQUE: &str = "tsr_at_Ae-l4raprfuNpa5bpluuUFkmXf_6d-nd8xNdSHMVoDNZ";

    #[test]
    fn rfc6750_credentials_yield_the_token() {
        for token in [JWT, OPAQUE, "mF_9.B5f-4.1JqM", "abc+/~==", "a"] {
            assert_eq!(parse_bearer(&format!("Bearer {token}")), Ok(token));
        }
    }

    #[test]
    fn the_scheme_is_case_insensitive() {
        // RFC 9110 §11.1: "It uses a case-insensitive token as a means to identify the authentication scheme".
        for scheme in ["bearer", "BEARER", "BeArEr"] {
            assert_eq!(parse_bearer(&format!("{scheme} {JWT}")), Ok(JWT));
        }
    }

    #[test]
    fn spaces_between_scheme_and_token_and_around_the_value() {
        // `1*SP` between scheme and token; OWS around a field value is not part of it (RFC 9110 §5.5).
        assert_eq!(parse_bearer(&format!("Bearer   {JWT}")), Ok(JWT));
        assert_eq!(parse_bearer(&format!("  Bearer {JWT} \t")), Ok(JWT));
    }

    #[test]
    fn no_token_after_the_scheme_is_empty() {
        for value in ["Bearer", "Bearer ", "bearer    ", "  Bearer  "] {
            assert_eq!(parse_bearer(value), Err(BearerError::Empty), "{value:?}");
        }
    }

    #[test]
    fn anything_but_one_b64token_is_malformed() {
        let cases = [
            format!("Bearer {JWT} {OPAQUE}"),
            format!("Bearer {JWT},Bearer {OPAQUE}"),
            format!("Bearer {JWT}, {OPAQUE}"),
            "Bearer ===".to_owned(),
            "Bearer a=b".to_owned(),
            "Bearer \"quoted\"".to_owned(),
            "Bearer tök".to_owned(),
            "Bearer a\tb".to_owned(),
            "Bearer realm=\"x\", token=abc".to_owned(),
        ];
        for value in cases {
            assert_eq!(parse_bearer(&value), Err(BearerError::Malformed), "{value:?}");
        }
    }

    #[test]
    fn other_schemes_are_no_bearer_credentials() {
        for value in ["Basic ZGVtbzpzZWNyZXQ=", "BearerX abc", "Bearerabc", "DPoP abc", "", "   ", "Bear"] {
            assert_eq!(parse_bearer(value), Err(BearerError::OtherScheme), "{value:?}");
        }
        // A tab is not the SP the grammar asks for.
        assert_eq!(parse_bearer("Bearer\tabc"), Err(BearerError::OtherScheme));
    }

    #[test]
    fn one_header_exactly() {
        assert_eq!(bearer_token([]), Err(BearerError::Missing));
        assert_eq!(bearer_token([format!("Bearer {JWT}").as_str()]), Ok(JWT));
        let twice = format!("Bearer {JWT}");
        assert_eq!(bearer_token([twice.as_str(), twice.as_str()]), Err(BearerError::Repeated));

        let mut headers = HeaderMap::new();
        assert_eq!(access_token_in(&headers), Err(BearerError::Missing));
        headers.append(AUTHORIZATION, HeaderValue::from_str(&twice).unwrap());
        assert_eq!(access_token_in(&headers), Ok(PresentedToken { scheme: TokenScheme::Bearer, token: JWT }));
        headers.append(AUTHORIZATION, HeaderValue::from_static("Bearer other"));
        assert_eq!(access_token_in(&headers), Err(BearerError::Repeated));
        let mut binary = HeaderMap::new();
        binary.insert(AUTHORIZATION, HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap());
        assert_eq!(access_token_in(&binary), Err(BearerError::Malformed));
    }

    /// RFC 9449 §7.1: `Authorization: DPoP <token68>`, the scheme in any case; the same syntax rules as Bearer.
    #[test]
    fn dpop_credentials_yield_the_token_and_the_scheme() {
        for scheme in ["DPoP", "dpop", "DPOP"] {
            let value = format!("{scheme} {JWT}");
            assert_eq!(parse_authorization(&value), Ok(PresentedToken { scheme: TokenScheme::Dpop, token: JWT }));
            assert_eq!(parse_bearer(&value), Err(BearerError::OtherScheme));
        }
        assert_eq!(parse_authorization(&format!("Bearer {OPAQUE}")).map(|p| p.scheme), Ok(TokenScheme::Bearer));
        assert_eq!(parse_authorization("DPoP"), Err(BearerError::Empty));
        assert_eq!(parse_authorization(&format!("DPoP {JWT} {OPAQUE}")), Err(BearerError::Malformed));
        assert_eq!(parse_authorization("DPoPabc"), Err(BearerError::OtherScheme));
        assert_eq!(parse_authorization("Basic abc"), Err(BearerError::OtherScheme));
    }

    #[test]
    fn error_codes_follow_rfc6750_section_3_1() {
        assert_eq!(BearerError::Missing.error_code(), None);
        assert_eq!(BearerError::OtherScheme.error_code(), None);
        for malformed in [BearerError::Repeated, BearerError::Empty, BearerError::Malformed] {
            assert_eq!(malformed.error_code(), Some("invalid_request"));
        }
    }

    #[test]
    fn reasons_never_show_the_header() {
        for err in [
            parse_bearer(&format!("Bearer {JWT} {OPAQUE}")).unwrap_err(),
            parse_bearer(&format!("Basic {OPAQUE}")).unwrap_err(),
        ] {
            let text = err.to_string();
            assert!(!text.contains(OPAQUE) && !text.contains(JWT), "{text}");
        }
    }
}

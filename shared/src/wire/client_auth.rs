//! Client authentication on the wire (RFC 6749 §2.3.1): `client_secret_basic`, with the id and secret
//! form-urlencoded before Base64, `client_secret_post`, `private_key_jwt` (RFC 7523 §2.2: a JWT in
//! `client_assertion`, typed by `client_assertion_type`), and mutual TLS (RFC 8705 §2: the connection's client
//! certificate, with `client_id` in the form). Using two methods in one request is refused; a certificate beside
//! a secret or an assertion is no second method, only what tokens may be bound to (RFC 8705 §3).

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use http::HeaderValue;

use super::error::OAuthError;
use super::form::{Form, decode_component};
pub use crate::domain::client::TokenEndpointAuthMethod as AuthMethod;
use crate::jwt::client_assertion::{CLIENT_ASSERTION_TYPE, claimed_client_id};

/// Standard Base64 that accepts a missing final padding, as several client libraries send it.
const BASIC: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Presented client credentials. `Debug` never shows the secret or the assertion.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    /// The presented client id (not yet validated); for an assertion, the client it claims to be (its `sub`).
    pub client_id: String,
    /// The secret, or the assertion.
    presented: String,
    /// Basic, post, or an assertion.
    pub method: AuthMethod,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

impl ClientCredentials {
    /// Credentials as presented: a secret for the secret methods, the JWT for `private_key_jwt`.
    pub fn new(client_id: impl Into<String>, presented: impl Into<String>, method: AuthMethod) -> Self {
        Self { client_id: client_id.into(), presented: presented.into(), method }
    }

    /// The presented secret, for verification only; `None` for an assertion or a certificate.
    pub fn secret(&self) -> Option<&str> {
        matches!(self.method, AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost)
            .then_some(self.presented.as_str())
    }

    /// Whether the client authenticates by the TLS connection's client certificate (RFC 8705 §2). The method is
    /// recorded as `tls_client_auth` either way: which of the two RFC 8705 methods applies is the client's
    /// registration, not the request's.
    pub fn by_certificate(&self) -> bool {
        self.method.is_mutual_tls()
    }

    /// The presented assertion (RFC 7523 §2.2), for verification only; `None` for a secret.
    pub fn assertion(&self) -> Option<&str> {
        (self.method == AuthMethod::PrivateKeyJwt).then_some(self.presented.as_str())
    }

    /// Reads credentials from the `Authorization` header and the form, and whether the connection came with a client
    /// certificate. `Ok(None)` when there are none. A `client_id` alone is mutual TLS when a certificate came
    /// (RFC 8705 §2: "the client MUST include the client_id parameter"), and `invalid_client` otherwise (a public
    /// client, which Tessera has none of). A malformed Basic header or assertion is `invalid_client`; two methods
    /// at once, and an assertion whose `client_assertion_type` is missing or not the JWT one, are `invalid_request`.
    pub fn extract(
        authorization: Option<&HeaderValue>,
        form: &Form,
        with_certificate: bool,
    ) -> Result<Option<Self>, OAuthError> {
        if form.get("client_assertion").is_some() || form.get("client_assertion_type").is_some() {
            if authorization.is_some() || form.get("client_secret").is_some() {
                return Err(OAuthError::invalid_request(
                    "use one client authentication method, not both (RFC 6749 section 2.3)",
                ));
            }
            return Self::assertion_from(form).map(Some);
        }
        let post = match (form.get("client_id"), form.get("client_secret")) {
            (Some(id), Some(secret)) => Some(Self::new(id, secret, AuthMethod::ClientSecretPost)),
            _ => None,
        };
        let Some(header) = authorization else {
            // A client_id without a secret would be a public client; Tessera has none.
            return match (post, form.get("client_id")) {
                (Some(post), _) => Ok(Some(post)),
                (None, Some(id)) if with_certificate => Ok(Some(Self::new(id, "", AuthMethod::TlsClientAuth))),
                (None, Some(_)) => Err(OAuthError::invalid_client()),
                (None, None) => Ok(None),
            };
        };
        let basic = decode_basic(header).ok_or_else(OAuthError::invalid_client)?;
        if form.get("client_secret").is_some() {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not both (RFC 6749 section 2.3)",
            ));
        }
        if form.get("client_id").is_some_and(|id| id != basic.client_id) {
            return Err(OAuthError::invalid_request("client_id in the body differs from the Authorization header"));
        }
        Ok(Some(basic))
    }

    /// `client_assertion` and `client_assertion_type` (RFC 7521 §4.2): both required, the type the JWT one
    /// (anything else is an unsupported parameter value, RFC 6749 §5.2 `invalid_request`). The client is the
    /// assertion's `sub`; a `client_id` beside it must name the same client (RFC 7521 §4.2).
    fn assertion_from(form: &Form) -> Result<Self, OAuthError> {
        let (Some(assertion), Some(kind)) = (form.get("client_assertion"), form.get("client_assertion_type")) else {
            return Err(OAuthError::invalid_request(
                "client_assertion and client_assertion_type go together (RFC 7521 section 4.2)",
            ));
        };
        if kind != CLIENT_ASSERTION_TYPE {
            return Err(OAuthError::invalid_request(format!(
                "client_assertion_type must be {CLIENT_ASSERTION_TYPE} (RFC 7523 section 2.2)"
            )));
        }
        let client_id = claimed_client_id(assertion).ok_or_else(OAuthError::invalid_client)?;
        if form.get("client_id").is_some_and(|id| id != client_id) {
            return Err(OAuthError::invalid_client());
        }
        Ok(Self::new(client_id, assertion, AuthMethod::PrivateKeyJwt))
    }
}

/// Decodes `Basic base64(urlencode(id) ":" urlencode(secret))`; `None` if any step fails.
fn decode_basic(header: &HeaderValue) -> Option<ClientCredentials> {
    let value = header.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = BASIC.decode(encoded.trim()).ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    let id = decode_component(&decoded[..colon]).ok()?;
    let secret = decode_component(&decoded[colon + 1..]).ok()?;
    if id.is_empty() {
        return None;
    }
    Some(ClientCredentials::new(id, secret, AuthMethod::ClientSecretBasic))
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::STANDARD;

    use super::*;
    use crate::wire::ErrorCode;

    fn basic(raw: &str) -> HeaderValue {
        format!("Basic {}", STANDARD.encode(raw)).parse().unwrap()
    }

    fn form(body: &str) -> Form {
        Form::parse(body.as_bytes()).unwrap()
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        // RFC 6749 §2.3.1: id and secret are application/x-www-form-urlencoded before Base64.
        let creds =
            ClientCredentials::extract(Some(&basic("my%3Aclient:p%40ss+word")), &form(""), false).unwrap().unwrap();
        assert_eq!(creds.client_id, "my:client");
        assert_eq!(creds.secret(), Some("p@ss word"));
        assert_eq!(creds.assertion(), None);
        assert_eq!(creds.method, AuthMethod::ClientSecretBasic);
    }

    #[test]
    fn post_credentials_are_read_from_the_form() {
        let creds = ClientCredentials::extract(None, &form("client_id=a&client_secret=b"), false).unwrap().unwrap();
        assert_eq!((creds.client_id.as_str(), creds.secret()), ("a", Some("b")));
        assert_eq!(creds.method, AuthMethod::ClientSecretPost);
        assert_eq!(ClientCredentials::extract(None, &form(""), false).unwrap(), None);
    }

    #[test]
    fn malformed_basic_headers_are_invalid_client() {
        let not_base64: HeaderValue = "Basic %%%".parse().unwrap();
        let bearer: HeaderValue = "Bearer abc".parse().unwrap();
        let non_utf8 = format!("Basic {}", STANDARD.encode([0x61, 0x3a, 0xff]));
        for header in [not_base64, bearer, basic("no-colon"), basic(":secret"), non_utf8.parse().unwrap()] {
            let err = ClientCredentials::extract(Some(&header), &form(""), false).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidClient, "{header:?}");
        }
    }

    #[test]
    fn two_methods_at_once_are_invalid_request() {
        let err =
            ClientCredentials::extract(Some(&basic("a:b")), &form("client_id=a&client_secret=b"), false).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidRequest);
        let err = ClientCredentials::extract(Some(&basic("a:b")), &form("client_id=other"), false).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidRequest);
        assert!(ClientCredentials::extract(Some(&basic("a:b")), &form("client_id=a"), false).is_ok());
    }

    #[test]
    fn a_client_id_without_a_secret_is_invalid_client() {
        let err = ClientCredentials::extract(None, &form("client_id=a"), false).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidClient);
    }

    /// RFC 8705 §2: "For all requests to the authorization server utilizing mutual-TLS client authentication, the
    /// client MUST include the client_id parameter". A certificate beside a secret or an assertion authenticates
    /// nothing (§3: it may still bind tokens); without `client_id` there is no client to authenticate.
    #[test]
    fn a_client_id_over_mutual_tls_is_certificate_authentication() {
        let creds = ClientCredentials::extract(None, &form("client_id=a"), true).unwrap().unwrap();
        assert_eq!((creds.client_id.as_str(), creds.method), ("a", AuthMethod::TlsClientAuth));
        assert!(creds.by_certificate());
        assert_eq!((creds.secret(), creds.assertion()), (None, None));
        assert_eq!(ClientCredentials::extract(None, &form(""), true).unwrap(), None);
        let post = ClientCredentials::extract(None, &form("client_id=a&client_secret=b"), true).unwrap().unwrap();
        assert_eq!((post.method, post.secret()), (AuthMethod::ClientSecretPost, Some("b")));
        let basic = ClientCredentials::extract(Some(&basic("a:b")), &form("client_id=a"), true).unwrap().unwrap();
        assert_eq!((basic.method, basic.secret()), (AuthMethod::ClientSecretBasic, Some("b")));
    }

    #[test]
    fn debug_hides_the_secret() {
        let creds = ClientCredentials::new("a", "hunter2", AuthMethod::ClientSecretPost);
        assert!(!format!("{creds:?}").contains("hunter2"));
        let creds = ClientCredentials::new("a", "header.claims.signature", AuthMethod::PrivateKeyJwt);
        assert!(!format!("{creds:?}").contains("claims"));
    }

    /// An unsigned JWT whose `sub` is `client`: extraction only peeks at it, verification is elsewhere.
    fn assertion_of(client: &str) -> String {
        let part = |v: serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!("{}.{}.c2ln", part(serde_json::json!({"alg": "ES256"})), part(serde_json::json!({"sub": client})))
    }

    fn assertion_form(assertion: &str, extra: &str) -> Form {
        let kind = "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer";
        form(&format!("client_assertion_type={kind}&client_assertion={assertion}{extra}"))
    }

    #[test]
    fn an_assertion_names_its_client_by_sub() {
        // RFC 7523 §2.2: client_assertion_type and client_assertion; RFC 7521 §4.2: client_id is optional and, when
        // present, identifies the same client as the assertion.
        let assertion = assertion_of("billing");
        for extra in ["", "&client_id=billing"] {
            let creds = ClientCredentials::extract(None, &assertion_form(&assertion, extra), false).unwrap().unwrap();
            assert_eq!((creds.client_id.as_str(), creds.method), ("billing", AuthMethod::PrivateKeyJwt));
            assert_eq!((creds.assertion(), creds.secret()), (Some(assertion.as_str()), None));
        }
        let err = ClientCredentials::extract(None, &assertion_form(&assertion, "&client_id=other"), false).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidClient);
    }

    /// RFC 7521 §4.2: `client_assertion_type` is REQUIRED, "the format of the assertion as defined by the
    /// authorization server"; a value this server does not define is "an unsupported parameter value" and a
    /// missing one "a required parameter" missing: RFC 6749 §5.2 `invalid_request`. RFC 7523 §3.2 (and RFC 7521
    /// §4.2.1): "If the client JWT is not valid, ... the value of the "error" parameter MUST be the
    /// "invalid_client" error code": an assertion that is not a JWT.
    #[test]
    fn assertion_type_and_form_are_checked() {
        let assertion = assertion_of("billing");
        for body in [
            format!(
                "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Asaml2-bearer&client_assertion={assertion}"
            ),
            format!("client_assertion={assertion}"),
            "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer".to_owned(),
        ] {
            let err = ClientCredentials::extract(None, &form(&body), false).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidRequest, "{body}");
        }
        for malformed in ["not-a-jwt", "a.b.c", &assertion_of("")] {
            let err = ClientCredentials::extract(None, &assertion_form(malformed, ""), false).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidClient, "{malformed}");
        }
    }

    #[test]
    fn an_assertion_beside_a_secret_is_two_methods() {
        // RFC 6749 §2.3: "The client MUST NOT use more than one authentication method in each request."
        let assertion = assertion_of("billing");
        for (header, extra) in [(Some(basic("billing:pw")), ""), (None, "&client_secret=pw")] {
            let err =
                ClientCredentials::extract(header.as_ref(), &assertion_form(&assertion, extra), false).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidRequest);
        }
    }
}

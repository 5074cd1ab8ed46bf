//! Client authentication on the wire (RFC 6749 §2.3.1): `client_secret_basic`, with the id and secret
//! form-urlencoded before Base64, and `client_secret_post`. Using both in one request is refused.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use http::HeaderValue;

use super::error::OAuthError;
use super::form::{Form, decode_component};

/// Standard Base64 that accepts a missing final padding, as several client libraries send it.
const BASIC: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// How the client presented its credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// HTTP Basic (`client_secret_basic`).
    ClientSecretBasic,
    /// Form parameters (`client_secret_post`).
    ClientSecretPost,
}

impl AuthMethod {
    /// The RFC 8414 / RFC 7591 name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
        }
    }
}

/// Presented client credentials. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    /// The presented client id (not yet validated).
    pub client_id: String,
    secret: String,
    /// Basic or post.
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
    /// Credentials as presented.
    pub fn new(client_id: impl Into<String>, secret: impl Into<String>, method: AuthMethod) -> Self {
        Self { client_id: client_id.into(), secret: secret.into(), method }
    }

    /// The presented secret, for verification only.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// Reads credentials from the `Authorization` header and the form. `Ok(None)` when there are none.
    /// A malformed Basic header is `invalid_client`; two methods at once are `invalid_request`.
    pub fn extract(authorization: Option<&HeaderValue>, form: &Form) -> Result<Option<Self>, OAuthError> {
        let post = match (form.get("client_id"), form.get("client_secret")) {
            (Some(id), Some(secret)) => Some(Self::new(id, secret, AuthMethod::ClientSecretPost)),
            _ => None,
        };
        let Some(header) = authorization else {
            // A client_id without a secret would be a public client; Tessera has none.
            return match (post, form.get("client_id")) {
                (Some(post), _) => Ok(Some(post)),
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
        let creds = ClientCredentials::extract(Some(&basic("my%3Aclient:p%40ss+word")), &form("")).unwrap().unwrap();
        assert_eq!(creds.client_id, "my:client");
        assert_eq!(creds.secret(), "p@ss word");
        assert_eq!(creds.method, AuthMethod::ClientSecretBasic);
    }

    #[test]
    fn post_credentials_are_read_from_the_form() {
        let creds = ClientCredentials::extract(None, &form("client_id=a&client_secret=b")).unwrap().unwrap();
        assert_eq!((creds.client_id.as_str(), creds.secret()), ("a", "b"));
        assert_eq!(creds.method, AuthMethod::ClientSecretPost);
        assert_eq!(ClientCredentials::extract(None, &form("")).unwrap(), None);
    }

    #[test]
    fn malformed_basic_headers_are_invalid_client() {
        let not_base64: HeaderValue = "Basic %%%".parse().unwrap();
        let bearer: HeaderValue = "Bearer abc".parse().unwrap();
        let non_utf8 = format!("Basic {}", STANDARD.encode([0x61, 0x3a, 0xff]));
        for header in [not_base64, bearer, basic("no-colon"), basic(":secret"), non_utf8.parse().unwrap()] {
            let err = ClientCredentials::extract(Some(&header), &form("")).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidClient, "{header:?}");
        }
    }

    #[test]
    fn two_methods_at_once_are_invalid_request() {
        let err = ClientCredentials::extract(Some(&basic("a:b")), &form("client_id=a&client_secret=b")).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidRequest);
        let err = ClientCredentials::extract(Some(&basic("a:b")), &form("client_id=other")).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidRequest);
        assert!(ClientCredentials::extract(Some(&basic("a:b")), &form("client_id=a")).is_ok());
    }

    #[test]
    fn a_client_id_without_a_secret_is_invalid_client() {
        let err = ClientCredentials::extract(None, &form("client_id=a")).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidClient);
    }

    #[test]
    fn debug_hides_the_secret() {
        let creds = ClientCredentials::new("a", "hunter2", AuthMethod::ClientSecretPost);
        assert!(!format!("{creds:?}").contains("hunter2"));
    }
}

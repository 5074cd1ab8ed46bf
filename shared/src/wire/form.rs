//! `application/x-www-form-urlencoded` bodies (RFC 6749 Appendix B), parsed strictly: a parameter sent
//! twice is an error (§3.2), a malformed percent-escape or non-UTF-8 value is an error, and a parameter
//! without a value counts as omitted (§3.1).

use percent_encoding::percent_decode;

/// The largest form body accepted; larger bodies are refused before parsing.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// Why a form body was refused. Rendered as `invalid_request`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormError {
    /// Over [`MAX_FORM_BYTES`].
    #[error("request body is larger than {MAX_FORM_BYTES} bytes")]
    TooLarge,
    /// A parameter appears more than once (RFC 6749 §3.2).
    #[error("parameter '{}' is repeated", printable(.0))]
    Repeated(String),
    /// A `%` not followed by two hex digits, or bytes that are not UTF-8 once decoded.
    #[error("body is not valid application/x-www-form-urlencoded")]
    Malformed,
}

/// A parameter name as it may appear in an `error_description` (RFC 6749 §5.2 allows only printable ASCII
/// without `"` and `\`); anything else is not echoed.
fn printable(name: &str) -> &str {
    let ok = name.len() <= 64 && name.bytes().all(|b| (0x20..=0x7E).contains(&b) && b != b'"' && b != b'\\');
    if ok { name } else { "(unprintable)" }
}

/// A parsed form: each name at most once.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Form {
    params: Vec<(String, String)>,
}

impl std::fmt::Debug for Form {
    // Values include secrets and tokens: only names are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.params.iter().map(|(name, _)| name)).finish()
    }
}

impl Form {
    /// Parses a form body.
    pub fn parse(body: &[u8]) -> Result<Self, FormError> {
        if body.len() > MAX_FORM_BYTES {
            return Err(FormError::TooLarge);
        }
        let mut params: Vec<(String, String)> = Vec::new();
        for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            let name = decode_component(name)?;
            let value = decode_component(value)?;
            if params.iter().any(|(n, _)| *n == name) {
                return Err(FormError::Repeated(name));
            }
            params.push((name, value));
        }
        Ok(Self { params })
    }

    /// The value of `name`; `None` when absent or empty (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, v)| n == name && !v.is_empty()).map(|(_, v)| v.as_str())
    }
}

/// Decodes one name or value: `+` is a space, `%XX` a byte; the result must be UTF-8.
pub fn decode_component(raw: &[u8]) -> Result<String, FormError> {
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            let hex = raw.get(i + 1..i + 3).ok_or(FormError::Malformed)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return Err(FormError::Malformed);
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    let spaced: Vec<u8> = raw.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect();
    percent_decode(&spaced).decode_utf8().map(|s| s.into_owned()).map_err(|_| FormError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_and_percent() {
        let form = Form::parse(b"grant_type=client_credentials&scope=read+write%20admin&x=%C3%A9").unwrap();
        assert_eq!(form.get("grant_type"), Some("client_credentials"));
        assert_eq!(form.get("scope"), Some("read write admin"));
        assert_eq!(form.get("x"), Some("é"));
    }

    #[test]
    fn empty_values_count_as_omitted() {
        let form = Form::parse(b"scope=&token").unwrap();
        assert_eq!(form.get("scope"), None);
        assert_eq!(form.get("token"), None);
        assert_eq!(Form::parse(b"").unwrap(), Form::default());
    }

    #[test]
    fn repeated_parameters_are_refused() {
        assert_eq!(Form::parse(b"a=1&a=2"), Err(FormError::Repeated("a".into())));
        assert_eq!(Form::parse(b"a=1&%61=2"), Err(FormError::Repeated("a".into())));
    }

    #[test]
    fn repeated_names_are_echoed_only_when_printable() {
        assert_eq!(FormError::Repeated("scope".into()).to_string(), "parameter 'scope' is repeated");
        assert_eq!(FormError::Repeated("a\"é".into()).to_string(), "parameter '(unprintable)' is repeated");
    }

    #[test]
    fn malformed_escapes_and_non_utf8_are_refused() {
        for body in [&b"a=%"[..], b"a=%4", b"a=%zz", b"a=%C3%28", b"a=\xff"] {
            assert_eq!(Form::parse(body), Err(FormError::Malformed), "{body:?}");
        }
    }

    #[test]
    fn oversized_bodies_are_refused_before_parsing() {
        let body = vec![b'a'; MAX_FORM_BYTES + 1];
        assert_eq!(Form::parse(&body), Err(FormError::TooLarge));
    }

    #[test]
    fn debug_hides_values() {
        let form = Form::parse(b"client_secret=hunter2").unwrap();
        assert!(!format!("{form:?}").contains("hunter2"));
    }
}

//! `application/x-www-form-urlencoded` bodies (RFC 6749 Appendix B), parsed strictly and in one linear pass:
//! a malformed percent-escape or non-UTF-8 component is an error, a parameter without a value counts as
//! omitted (§3.1), and a parameter Tessera reads may appear once (§3.2), except `resource` (RFC 8707 §2) and
//! `audience` (RFC 8693 §2.1), which may repeat. Parameters Tessera does not read are checked for encoding and
//! otherwise ignored (§3.1: "MUST ignore unrecognized request parameters"), so they cost no allocation, and a
//! body holds at most [`MAX_FORM_PARAMS`] parameters: the work per request is bounded by the body's size.

use percent_encoding::percent_decode;

/// The largest form body accepted; larger bodies are refused before parsing.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// The most parameters a body may hold, read or ignored. No OAuth request comes near: the largest, a token
/// exchange with client authentication and several targets, has about twenty.
pub const MAX_FORM_PARAMS: usize = 100;

/// Why a form body was refused. Rendered as `invalid_request`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormError {
    /// Over [`MAX_FORM_BYTES`].
    #[error("request body is larger than {MAX_FORM_BYTES} bytes")]
    TooLarge,
    /// Over [`MAX_FORM_PARAMS`].
    #[error("request body has more than {MAX_FORM_PARAMS} parameters")]
    TooManyParameters,
    /// A parameter appears more than once (RFC 6749 §3.2).
    #[error("parameter '{}' is repeated", .0.name())]
    Repeated(Param),
    /// A `%` not followed by two hex digits, or bytes that are not UTF-8 once decoded.
    #[error("body is not valid application/x-www-form-urlencoded")]
    Malformed,
}

macro_rules! params {
    ($($variant:ident = $name:literal,)*) => {
        /// A request parameter Tessera reads (RFC 6749, 7009, 7521, 7662, 8693, 8707). Others are ignored.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(missing_docs)]
        pub enum Param { $($variant,)* }

        impl Param {
            /// Every parameter, in declaration order.
            pub const ALL: &'static [Param] = &[$(Param::$variant,)*];

            /// The parameter's name on the wire.
            pub fn name(self) -> &'static str {
                match self { $(Param::$variant => $name,)* }
            }

            /// The parameter a decoded name denotes, if Tessera reads it.
            pub fn from_name(name: &[u8]) -> Option<Self> {
                match name { $(n if n == $name.as_bytes() => Some(Param::$variant),)* _ => None }
            }
        }
    };
}

params! {
    GrantType = "grant_type",
    Scope = "scope",
    ClientId = "client_id",
    ClientSecret = "client_secret",
    ClientAssertion = "client_assertion",
    ClientAssertionType = "client_assertion_type",
    Token = "token",
    TokenTypeHint = "token_type_hint",
    RefreshToken = "refresh_token",
    SubjectToken = "subject_token",
    SubjectTokenType = "subject_token_type",
    RequestedTokenType = "requested_token_type",
    ActorToken = "actor_token",
    ActorTokenType = "actor_token_type",
    Resource = "resource",
    Audience = "audience",
    Assertion = "assertion",
    Code = "code",
    CodeVerifier = "code_verifier",
    RedirectUri = "redirect_uri",
    Username = "username",
    Password = "password",
    RefreshUserDetails = "refresh_user_details",
}

impl Param {
    /// Whether the parameter may appear more than once: `resource` (RFC 8707 §2) and `audience` (RFC 8693
    /// §2.1) name several targets that way.
    pub fn repeatable(self) -> bool {
        matches!(self, Self::Resource | Self::Audience)
    }
}

/// A parsed form: the parameters Tessera reads, each once unless [`Param::repeatable`].
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Form {
    params: Vec<(Param, String)>,
}

impl std::fmt::Debug for Form {
    // Values include secrets and tokens: only names are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.params.iter().map(|(param, _)| param.name())).finish()
    }
}

impl Form {
    /// Parses a form body in one pass: each component is checked once, and only the parameters Tessera reads
    /// are decoded into strings; a bit per parameter finds a repeat.
    pub fn parse(body: &[u8]) -> Result<Self, FormError> {
        if body.len() > MAX_FORM_BYTES {
            return Err(FormError::TooLarge);
        }
        let mut params: Vec<(Param, String)> = Vec::new();
        let mut seen: u64 = 0;
        let mut count = 0;
        // memchr's vectorised searches: a 16 KiB body costs about a byte of work per byte.
        let mut start = 0;
        let pairs = std::iter::from_fn(|| {
            if start > body.len() {
                return None;
            }
            let end = memchr::memchr(b'&', &body[start..]).map_or(body.len(), |i| start + i);
            let pair = &body[start..end];
            start = end + 1;
            Some(pair)
        });
        for pair in pairs.filter(|p| !p.is_empty()) {
            count += 1;
            if count > MAX_FORM_PARAMS {
                return Err(FormError::TooManyParameters);
            }
            let (name, value) = match memchr::memchr(b'=', pair) {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            let param = match plain(name)? {
                Some(plain) => Param::from_name(plain.as_bytes()),
                None => Param::from_name(decode_component(name)?.as_bytes()),
            };
            let Some(param) = param else {
                // Not read: only its encoding is checked (the name's already was).
                if plain(value)?.is_none() {
                    decode_component(value)?;
                }
                continue;
            };
            let bit = 1u64 << (param as u32);
            if seen & bit != 0 && !param.repeatable() {
                return Err(FormError::Repeated(param));
            }
            seen |= bit;
            let value = match plain(value)? {
                Some(plain) => plain.to_owned(),
                None => decode_component(value)?,
            };
            params.push((param, value));
        }
        Ok(Self { params })
    }

    /// The value of `name`; `None` when absent or empty (RFC 6749 §3.1). For a repeatable parameter, the first.
    /// `name` must be a [`Param`]: any other is never kept (debug builds panic, to catch a missing entry).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_all(name).next()
    }

    /// Every non-empty value of `name`, in order (several only for a [`Param::repeatable`] one).
    pub fn get_all<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + use<'a> {
        let param = Param::from_name(name.as_bytes());
        debug_assert!(param.is_some(), "form parameter '{name}' is not a form::Param, so it is never kept");
        self.params.iter().filter(move |(p, v)| Some(*p) == param && !v.is_empty()).map(|(_, v)| v.as_str())
    }
}

/// `raw` itself when it needs no decoding (no `%`, no `+`) and is UTF-8; `None` when it needs decoding;
/// an error when it is not UTF-8 and has nothing to decode.
fn plain(raw: &[u8]) -> Result<Option<&str>, FormError> {
    if memchr::memchr2(b'%', b'+', raw).is_some() {
        return Ok(None);
    }
    std::str::from_utf8(raw).map(Some).map_err(|_| FormError::Malformed)
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
        let form = Form::parse(b"grant_type=client_credentials&scope=read+write%20admin&token=%C3%A9").unwrap();
        assert_eq!(form.get("grant_type"), Some("client_credentials"));
        assert_eq!(form.get("scope"), Some("read write admin"));
        assert_eq!(form.get("token"), Some("é"));
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
        assert_eq!(Form::parse(b"scope=1&scope=2"), Err(FormError::Repeated(Param::Scope)));
        assert_eq!(Form::parse(b"token=1&%74oken=2"), Err(FormError::Repeated(Param::Token)));
        assert_eq!(Form::parse(b"scope=&scope=x"), Err(FormError::Repeated(Param::Scope)), "an empty one counts");
        assert_eq!(FormError::Repeated(Param::Scope).to_string(), "parameter 'scope' is repeated");
    }

    #[test]
    fn resource_and_audience_may_repeat() {
        let form = Form::parse(b"resource=https%3A%2F%2Fa&audience=x&resource=https%3A%2F%2Fb&resource=").unwrap();
        assert_eq!(form.get_all("resource").collect::<Vec<_>>(), ["https://a", "https://b"]);
        assert_eq!(form.get("resource"), Some("https://a"));
        assert_eq!(form.get_all("audience").collect::<Vec<_>>(), ["x"]);
    }

    #[test]
    fn unread_parameters_are_ignored_even_repeated_but_must_be_well_formed() {
        let form = Form::parse(b"x=1&x=2&grant_type=a&%C3%A9=%C3%A9").unwrap();
        assert_eq!(form.get("grant_type"), Some("a"));
        assert_eq!(format!("{form:?}"), r#"["grant_type"]"#);
        for body in [&b"x=%zz"[..], b"x=\xff", b"%zz=1", b"\xff=1", b"x=%C3%28"] {
            assert_eq!(Form::parse(body), Err(FormError::Malformed), "{body:?}");
        }
    }

    #[test]
    fn the_parameter_count_is_bounded() {
        let at_limit: Vec<String> = (0..MAX_FORM_PARAMS).map(|i| format!("p{i}=")).collect();
        assert!(Form::parse(at_limit.join("&").as_bytes()).is_ok());
        let over: Vec<String> = (0..=MAX_FORM_PARAMS).map(|i| format!("p{i}=")).collect();
        assert_eq!(Form::parse(over.join("&").as_bytes()), Err(FormError::TooManyParameters));
        // Empty pairs (`&&`) are not parameters.
        assert!(Form::parse("&".repeat(4_000).as_bytes()).is_ok());
    }

    #[test]
    fn every_param_has_its_own_bit() {
        assert!(Param::ALL.len() <= 64);
        for (i, param) in Param::ALL.iter().enumerate() {
            assert_eq!(*param as usize, i);
            assert_eq!(Param::from_name(param.name().as_bytes()), Some(*param));
        }
    }

    #[test]
    fn malformed_escapes_and_non_utf8_are_refused() {
        for body in [&b"token=%"[..], b"token=%4", b"token=%zz", b"token=%C3%28", b"token=\xff"] {
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

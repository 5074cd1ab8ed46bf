//! Subject identifiers (RFC 9493) as Shared Signals events name their users, and their mapping to Tessera
//! subjects through a trusted issuer.
//!
//! A token exchanged from a trusted issuer has as subject the issuer's `subject_claim`. An identifier maps to a
//! subject when the claim it carries is that claim: `iss_sub` carries `sub` (and names the issuer), `email` carries
//! `email`, `phone_number` carries `phone_number`, and `opaque` carries the subject claim itself (an opaque id is
//! the account's id as the issuer knows it). The issuer's `claims_mapping` counts too: a subject claim `upn` mapped
//! to `email` makes `email` identifiers map. SSF's `complex` format is read through its `user` member. Anything
//! else (`account`, `did`, `uri`, `aliases`, an unknown format) maps to nothing, and says so.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::events::MAX_FIELD_LEN;

/// A simple subject identifier (RFC 9493 §3.2) that can name a Tessera subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectIdentifier {
    /// `iss_sub` (RFC 9493 §3.2.5): an issuer and its `sub`.
    IssSub {
        /// The issuer.
        iss: String,
        /// Its subject.
        sub: String,
    },
    /// `email` (RFC 9493 §3.2.2).
    Email(String),
    /// `phone_number` (RFC 9493 §3.2.7), E.164.
    PhoneNumber(String),
    /// `opaque` (RFC 9493 §3.2.4): an id only the transmitter and receiver understand.
    Opaque(String),
}

/// Why an identifier names no Tessera subject. `Display` names formats, never the identifier's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubjectRefusal {
    /// Not an object with a string `format`.
    #[error("the subject is not an RFC 9493 subject identifier")]
    NotAnIdentifier,
    /// A format this receiver does not map (`account`, `did`, `uri`, `aliases`, or unknown).
    #[error("subject identifier format {0:?} is not supported (iss_sub, email, phone_number, opaque, complex)")]
    UnsupportedFormat(String),
    /// A supported format whose members are missing, not strings, empty, too long or not text.
    #[error("the {0} subject identifier lacks a member, or one is not a non-empty string")]
    Malformed(&'static str),
    /// A `complex` subject without a `user`.
    #[error("the complex subject names no user")]
    NoUser,
}

impl SubjectIdentifier {
    /// Parses an identifier (a `complex` subject: its `user`).
    pub fn parse(value: &Value) -> Result<Self, SubjectRefusal> {
        let format = value.get("format").and_then(Value::as_str).ok_or(SubjectRefusal::NotAnIdentifier)?;
        let member = |format: &'static str, name: &str| -> Result<String, SubjectRefusal> {
            value
                .get(name)
                .and_then(Value::as_str)
                .filter(|v| !v.trim().is_empty() && v.len() <= MAX_FIELD_LEN && !v.chars().any(char::is_control))
                .map(str::to_owned)
                .ok_or(SubjectRefusal::Malformed(format))
        };
        match format {
            "iss_sub" => Ok(Self::IssSub { iss: member("iss_sub", "iss")?, sub: member("iss_sub", "sub")? }),
            "email" => member("email", "email").map(Self::Email),
            "phone_number" => member("phone_number", "phone_number").map(Self::PhoneNumber),
            "opaque" => member("opaque", "id").map(Self::Opaque),
            "complex" => match value.get("user") {
                Some(user) if user.get("format").and_then(Value::as_str) == Some("complex") => {
                    Err(SubjectRefusal::UnsupportedFormat("complex inside complex".into()))
                }
                Some(user) => Self::parse(user),
                None => Err(SubjectRefusal::NoUser),
            },
            other => Err(SubjectRefusal::UnsupportedFormat(other.chars().take(64).collect())),
        }
    }

    /// The format's name, for logs and answers.
    pub fn format(&self) -> &'static str {
        match self {
            Self::IssSub { .. } => "iss_sub",
            Self::Email(_) => "email",
            Self::PhoneNumber(_) => "phone_number",
            Self::Opaque(_) => "opaque",
        }
    }

    /// The issuer the identifier names, if it names one.
    pub fn issuer(&self) -> Option<&str> {
        match self {
            Self::IssSub { iss, .. } => Some(iss),
            _ => None,
        }
    }
}

/// A trusted issuer as subject identifiers are read against it: the claim its tokens' subjects are, and its claims
/// mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectIssuer {
    /// The exact `iss`.
    pub issuer: String,
    /// The claim holding its tokens' subject.
    pub subject_claim: String,
    /// External claim → `user_details` attribute.
    pub claims_mapping: BTreeMap<String, String>,
}

impl SubjectIssuer {
    /// Whether the claim `claim` is (or is mapped as) the subject claim.
    fn subject_is(&self, claim: &str) -> bool {
        self.subject_claim == claim || self.claims_mapping.get(&self.subject_claim).is_some_and(|c| c == claim)
    }

    /// The Tessera subject `id` names among this issuer's users, or `None` when it carries another claim.
    pub fn subject_of(&self, id: &SubjectIdentifier) -> Option<String> {
        let (claim, value) = match id {
            SubjectIdentifier::IssSub { iss, sub } if *iss == self.issuer => ("sub", sub),
            SubjectIdentifier::IssSub { .. } => return None,
            SubjectIdentifier::Email(email) => ("email", email),
            SubjectIdentifier::PhoneNumber(phone) => ("phone_number", phone),
            SubjectIdentifier::Opaque(id) => return Some(id.clone()),
        };
        self.subject_is(claim).then(|| value.clone())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn issuer(subject_claim: &str, mapping: &[(&str, &str)]) -> SubjectIssuer {
        SubjectIssuer {
            issuer: "https://idp.example/".into(),
            subject_claim: subject_claim.into(),
            claims_mapping: mapping.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        }
    }

    /// RFC 9493 §3.2: each simple format, and SSF's complex subject read through its `user`.
    #[test]
    fn each_format_parses_and_maps_through_the_subject_claim() {
        let iss_sub = json!({"format": "iss_sub", "iss": "https://idp.example/", "sub": "auth0|alice"});
        let email = json!({"format": "email", "email": "alice@example.com"});
        let phone = json!({"format": "phone_number", "phone_number": "+12065550100"});
        let opaque = json!({"format": "opaque", "id": "11112222333344445555"});
        let complex = json!({"format": "complex", "user": email.clone(), "session": {"format": "opaque", "id": "s"}});
        let by_sub = issuer("sub", &[]);
        let by_email = issuer("email", &[]);
        let by_upn = issuer("upn", &[("upn", "email")]);
        let parse = |v: &Value| SubjectIdentifier::parse(v).unwrap();
        assert_eq!(by_sub.subject_of(&parse(&iss_sub)).as_deref(), Some("auth0|alice"));
        assert_eq!(by_sub.subject_of(&parse(&email)), None, "sub-keyed tokens are not named by email");
        assert_eq!(by_email.subject_of(&parse(&email)).as_deref(), Some("alice@example.com"));
        assert_eq!(by_email.subject_of(&parse(&complex)).as_deref(), Some("alice@example.com"));
        assert_eq!(by_upn.subject_of(&parse(&email)).as_deref(), Some("alice@example.com"), "through the mapping");
        assert_eq!(by_email.subject_of(&parse(&iss_sub)), None);
        assert_eq!(issuer("phone_number", &[]).subject_of(&parse(&phone)).as_deref(), Some("+12065550100"));
        assert_eq!(by_email.subject_of(&parse(&opaque)).as_deref(), Some("11112222333344445555"));
        let other_issuer = json!({"format": "iss_sub", "iss": "https://other.example/", "sub": "auth0|alice"});
        assert_eq!(by_sub.subject_of(&parse(&other_issuer)), None);
    }

    #[test]
    fn unsupported_and_malformed_identifiers_say_why_without_their_values() {
        let cases = [
            (json!({"format": "account", "uri": "acct:alice@example.com"}), "\"account\" is not supported"),
            (json!({"format": "did", "url": "did:example:123"}), "not supported"),
            (json!({"format": "email"}), "email subject identifier lacks"),
            (json!({"format": "email", "email": ""}), "lacks"),
            (json!({"format": "iss_sub", "iss": "https://idp.example/", "sub": 7}), "iss_sub"),
            (json!({"format": "complex", "device": {"format": "opaque", "id": "d"}}), "names no user"),
            (json!({"format": "complex", "user": {"format": "complex", "user": {}}}), "complex inside complex"),
            (json!({"email": "alice@example.com"}), "not an RFC 9493"),
            (json!("alice@example.com"), "not an RFC 9493"),
        ];
        for (value, reason) in cases {
            let err = SubjectIdentifier::parse(&value).unwrap_err().to_string();
            assert!(err.contains(reason) && !err.contains("alice"), "{value}: {err}");
        }
    }
}

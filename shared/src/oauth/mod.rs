//! The OAuth operations as plain functions over [`crate::TokenService`]: issue ([`token`]), introspect
//! ([`introspect`]), revoke ([`revoke`]), publish metadata ([`metadata`]), decide as the authorizer of a
//! protected API ([`authorize`]) and tell an operator a token's state ([`inspect`]); token exchange and
//! introspection share how a subject's user details are fetched ([`user_details`]); [`dpop`] is RFC 9449 at the
//! token endpoint and the authorizer. They take parsed requests and return wire types; HTTP stays in [`crate::wire`].

pub mod authenticate;
pub mod authorize;
pub mod dpop;
pub mod exchange;
pub mod inspect;
pub mod introspect;
pub mod metadata;
pub mod presented;
pub mod revoke;
pub mod token;
pub mod user_details;

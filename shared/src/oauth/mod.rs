//! The OAuth operations as plain functions over [`crate::TokenService`]: issue ([`token`]), introspect
//! ([`introspect`]), revoke ([`revoke`]), publish metadata ([`metadata`]) and decide as the authorizer of a
//! protected API ([`authorize`]). They take parsed requests and return wire types; HTTP stays in [`crate::wire`].

pub mod authenticate;
pub mod authorize;
pub mod exchange;
pub mod introspect;
pub mod metadata;
pub mod presented;
pub mod revoke;
pub mod token;

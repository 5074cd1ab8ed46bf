//! The pure domain: clients, scopes, tokens, grants, refresh rotation, revocation and the routes the authorizer
//! protects. No AWS, no HTTP, no clock reads: time and randomness are handed in by the caller.

pub mod client;
pub mod grant;
pub mod id;
pub mod jwks;
pub mod profile;
pub mod refresh;
pub mod revocation;
pub mod route;
pub mod scope;
pub mod tenant;
pub mod time;
pub mod token;
pub mod user_details;

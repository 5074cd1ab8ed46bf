//! RFC wire formats: `application/x-www-form-urlencoded` requests ([`form`]), client authentication
//! ([`client_auth`]), RFC 6750 bearer credentials ([`bearer`]), the RFC 9449 `DPoP` header and request URL
//! ([`dpop`]), the one error type that renders every RFC error
//! code ([`error`]), response bodies ([`response`]), and the bridge from `lambda_http` requests to all of these
//! ([`http`]).

pub mod bearer;
pub mod client_auth;
pub mod client_cert;
pub mod dpop;
pub mod error;
pub mod form;
pub mod http;
pub mod response;
pub mod secevent;

pub use error::{ErrorCode, OAuthError};

//! JWTs: signing keys parsed once ([`keys`]), the published JWKS, RFC 9068 access tokens ([`access_token`]), the
//! cache of those already verified ([`verified`]), the JWK Sets Tessera verifies with ([`jwks`]), trusted issuers'
//! tokens ([`external`]), clients' `private_key_jwt` assertions ([`client_assertion`]) and clients' RFC 9449 DPoP
//! proofs ([`dpop`]).
//!
//! Signing uses the pre-parsed aws-lc key pair directly: `jsonwebtoken::encode` re-parses the PKCS#8 key on
//! every call, which is the dominant cost of issuing a JWT. Verification goes through `jsonwebtoken` with the
//! algorithm pinned to the key's, so `none` and HS/RS confusion are impossible.

pub mod access_token;
pub mod client_assertion;
pub mod dpop;
pub mod external;
pub mod jwks;
pub mod keys;
pub mod verified;

//! Access tokens already verified, so a JWT presented again skips ES256 verification (about 700,000
//! instructions of P-256 arithmetic): one cache per tenant key ring ([`crate::tenancy::ServedTenant`]).
//!
//! What it is keyed by, and why that is safe: SHA-256 of the exact compact string presented ([`TokenHash::of`]).
//! A hit means that very string verified before, with these keys, so the cache never lets an unverified string
//! through. A re-spelling of a token (its ECDSA twin `s` → `n − s`, another base64 form) is another string: it
//! misses and is verified like any first presentation, then cached under its own hash. That is not a second
//! identity: the cache holds verification results only, and every string that verifies yields the same claims,
//! whose `jti` keys the token's revocation state as before. (Keying by the canonical identity instead would need
//! the claims, that is the verification, before the lookup.)
//!
//! Bounds: an entry is kept until the token's `exp` (a hit past it verifies again, and the token is expired
//! anyway), at most [`VERIFIED_TOKEN_LIMITS`] entries and bytes (charged at twice the token's length plus
//! [`ENTRY_OVERHEAD_BYTES`]), least recently used first out. The cache lives and dies with its key ring: when the
//! key document is re-read (every `KEYS_CACHE_TTL_SECS`) the tenant gets a new ring and an empty cache, so a
//! cached verification never outlives the removal of the key that made it by more than the removal of the key
//! itself takes to reach the function (the key re-read bound, not B). Only successes are cached. Revocation is not
//! cached here: it comes from the read plan ([`crate::store::read_plan`]).

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use super::access_token::{self, JwtRejection, MAX_JWT_LEN, VerifiedAccessToken};
use super::keys::KeyRing;
use crate::bounded_cache::{BoundedCache, CacheLimits};
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;
use crate::domain::token::TokenHash;

/// The bounds of each tenant's cache: 10,000 tokens and 8 MiB as charged (about 4,000 tokens of 1 KB).
pub const VERIFIED_TOKEN_LIMITS: CacheLimits =
    CacheLimits { max_entries: NonZeroUsize::new(10_000).expect("positive"), max_bytes: 8 * 1024 * 1024 };

/// What an entry costs besides twice its token's length: the entry, its key and the structures holding the claims.
pub const ENTRY_OVERHEAD_BYTES: usize = 512;

/// The access tokens a key ring verified, by the hash of the string presented ([module docs](self)).
#[derive(Debug)]
pub struct VerifiedTokens {
    entries: Mutex<BoundedCache<TokenHash, Arc<VerifiedAccessToken>>>,
}

impl Default for VerifiedTokens {
    fn default() -> Self {
        Self::within(VERIFIED_TOKEN_LIMITS)
    }
}

impl VerifiedTokens {
    /// An empty cache within `limits`.
    pub fn within(limits: CacheLimits) -> Self {
        Self { entries: Mutex::new(BoundedCache::new(limits)) }
    }

    /// [`access_token::verify`] of `token` against `keys` (the ring this cache belongs to), answered from the cache
    /// when this very string verified before for `issuer` and its `exp` is still ahead of `now`.
    pub fn verify(
        &self,
        token: &str,
        tenant: &TenantId,
        issuer: &str,
        keys: &KeyRing,
        now: Timestamp,
    ) -> Result<VerifiedAccessToken, JwtRejection> {
        if token.len() > MAX_JWT_LEN {
            return Err(JwtRejection::TooLong);
        }
        let hash = TokenHash::of(token);
        let hit = self.lock().get(&hash).cloned();
        match hit {
            // The issuer is the request's (it may come from the API Gateway domain): one verified for another
            // issuer is verified again, and refused as foreign.
            Some(verified) if verified.issuer == issuer && now < verified.grant.expires_at => {
                return Ok(Arc::unwrap_or_clone(verified));
            }
            Some(_) => drop(self.lock().remove(&hash)),
            None => {}
        }
        let verified = access_token::verify(token, tenant, issuer, keys)?;
        if now < verified.grant.expires_at {
            let bytes = 2 * token.len() + ENTRY_OVERHEAD_BYTES;
            self.lock().insert(hash, Arc::new(verified.clone()), bytes);
        }
        Ok(verified)
    }

    /// How many tokens are held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BoundedCache<TokenHash, Arc<VerifiedAccessToken>>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::access_token::tests::{ISS, grant, ring};
    use crate::jwt::external::ecdsa_twin;
    use crate::jwt::keys::SigningAlgorithm;

    fn keys() -> KeyRing {
        ring(SigningAlgorithm::ES256)
    }

    fn token(keys: &KeyRing, jti: &str) -> String {
        access_token::sign(&grant(), ISS, jti, keys).unwrap()
    }

    fn issued() -> Timestamp {
        grant().issued_at
    }

    #[test]
    fn a_token_presented_again_is_answered_from_the_cache() {
        let (keys, cache, t) = (keys(), VerifiedTokens::default(), TenantId::default());
        let jwt = token(&keys, "j-1");
        let first = cache.verify(&jwt, &t, ISS, &keys, issued()).unwrap();
        assert_eq!(cache.len(), 1);
        // The cache is consulted before the signature: a ring that cannot verify it still answers a hit, which is
        // why each ring has its own cache.
        let other = ring(SigningAlgorithm::ES256);
        assert_eq!(cache.verify(&jwt, &t, ISS, &other, issued()).unwrap(), first);
        assert_eq!(access_token::verify(&jwt, &t, ISS, &other), Err(JwtRejection::BadSignature));
    }

    #[test]
    fn a_tampered_or_re_spelled_string_misses_and_is_verified() {
        let (keys, cache, t) = (keys(), VerifiedTokens::default(), TenantId::default());
        let jwt = token(&keys, "j-1");
        let verified = cache.verify(&jwt, &t, ISS, &keys, issued()).unwrap();
        // One signature character changed: another string, verified, refused, never cached.
        let (signed, signature) = jwt.rsplit_once('.').unwrap();
        let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
        let tampered = format!("{signed}.{flipped}{}", &signature[1..]);
        assert_eq!(cache.verify(&tampered, &t, ISS, &keys, issued()), Err(JwtRejection::BadSignature));
        assert_eq!(cache.len(), 1);
        // The ECDSA twin verifies to the same claims: the same token, whose state is keyed by its jti.
        let twin = ecdsa_twin(&jwt, jsonwebtoken::Algorithm::ES256).unwrap();
        assert_ne!(twin, jwt);
        assert_eq!(cache.verify(&twin, &t, ISS, &keys, issued()).unwrap(), verified);
        assert_eq!(cache.len(), 2, "verified once, under its own spelling");
    }

    #[test]
    fn entries_end_at_exp_and_hold_only_for_their_issuer() {
        let (keys, cache, t) = (keys(), VerifiedTokens::default(), TenantId::default());
        let jwt = token(&keys, "j-1");
        cache.verify(&jwt, &t, ISS, &keys, issued()).unwrap();
        assert_eq!(cache.verify(&jwt, &t, "https://elsewhere", &keys, issued()), Err(JwtRejection::ForeignIssuer));
        assert!(cache.is_empty(), "the entry for another issuer is gone, and the refusal not cached");
        cache.verify(&jwt, &t, ISS, &keys, issued()).unwrap();
        // At exp the entry is dropped; the string still verifies (expiry is the active rule's), and is not cached.
        assert!(cache.verify(&jwt, &t, ISS, &keys, grant().expires_at).is_ok());
        assert!(cache.is_empty());
    }

    #[test]
    fn the_cache_holds_no_more_than_its_limits() {
        let keys = keys();
        let limits = CacheLimits { max_entries: NonZeroUsize::new(3).unwrap(), max_bytes: usize::MAX };
        let (cache, t) = (VerifiedTokens::within(limits), TenantId::default());
        for i in 0..5 {
            cache.verify(&token(&keys, &format!("j-{i}")), &t, ISS, &keys, issued()).unwrap();
        }
        assert_eq!(cache.len(), 3);
        let jwt = token(&keys, "j-9");
        let limits = CacheLimits { max_entries: NonZeroUsize::new(100).unwrap(), max_bytes: 2 * jwt.len() + 600 };
        let cache = VerifiedTokens::within(limits);
        cache.verify(&jwt, &t, ISS, &keys, issued()).unwrap();
        cache.verify(&token(&keys, "j-8"), &t, ISS, &keys, issued()).unwrap();
        assert_eq!(cache.len(), 1, "one token's charge fits the byte cap, two do not");
    }
}

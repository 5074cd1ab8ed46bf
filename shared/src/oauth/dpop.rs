//! DPoP at Tessera's two doors (RFC 9449): the token endpoint binds what it issues to the key of the request's
//! proof (§5), and the authorizer lets a bound token through only with a proof by that key (§7.1). Both verify the
//! `DPoP` header's proof against the request ([`verify_header`]: [`crate::jwt::dpop`], CPU only), then spend its
//! `jti` once ([`spend`]: one conditional write, kept until the proof's `iat` window has closed, §11.1).
//!
//! No server nonce (§8) is issued or required: the `iat` window and the one-time `jti` bound a proof's replay,
//! and a nonce would cost every client a second round trip to the token endpoint.

use http::StatusCode;

use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;
use crate::jwt::dpop::{DPOP_SIGNING_ALGORITHMS, ProofContext, ProofRejection, VerifiedProof, verify_proof};
use crate::store::{JtiPurpose, JtiUse, StoreError, TokenStore, UsedJti};
use crate::wire::dpop::DpopHeader;
use crate::wire::{ErrorCode, OAuthError};

/// Why a request's DPoP proof is not accepted: `invalid_dpop_proof` (RFC 9449 §5, §7.1). Logged with its reason;
/// the client gets a description that never holds the proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProofRefusal {
    /// No proof where one is required: a client registered with `require_dpop` (§5.2), a refresh of a DPoP-bound
    /// family, a bound token at the authorizer.
    #[error("no DPoP proof")]
    Missing,
    /// More than one `DPoP` header, or one that is not text (§4.3 check 1).
    #[error("not exactly one DPoP header")]
    NotOne,
    /// The request names no host, so its URL, and the proof's `htu`, cannot be checked.
    #[error("the request's URL is unknown")]
    NoUrl,
    /// The proof fails a check of §4.3.
    #[error("{0}")]
    Rejected(ProofRejection),
    /// Its `jti` was used before (§11.1).
    #[error("the proof was used before")]
    Replayed,
    /// At the authorizer: the proof's key is not the one the token is bound to (§7.1, §6).
    #[error("the proof's key is not the token's")]
    OtherKey,
}

impl ProofRefusal {
    /// What the client is told.
    pub fn description(self) -> &'static str {
        match self {
            Self::Missing => "a DPoP proof is required",
            Self::NotOne => "exactly one DPoP header is allowed",
            Self::NoUrl | Self::Rejected(_) => "the DPoP proof is invalid",
            Self::Replayed => "the DPoP proof was already used",
            Self::OtherKey => "the DPoP proof is not signed by the key the token is bound to",
        }
    }
}

impl From<ProofRefusal> for OAuthError {
    /// The token endpoint's answer (RFC 9449 §5): `invalid_dpop_proof`, 400.
    fn from(refusal: ProofRefusal) -> Self {
        tracing::info!(reason = %refusal, "DPoP proof refused");
        OAuthError::new(ErrorCode::InvalidDpopProof, refusal.description()).with_status(StatusCode::BAD_REQUEST)
    }
}

/// Verifies the request's `DPoP` header, if any, for `method` on `url` at `now` (and, at a resource server, for
/// `access_token`'s hash): `Ok(None)` without a header, the verified proof with one. No I/O; its `jti` is not
/// spent yet ([`spend`]).
pub fn verify_header(
    header: &DpopHeader,
    method: &str,
    url: Option<&str>,
    now: Timestamp,
    access_token: Option<&str>,
) -> Result<Option<VerifiedProof>, ProofRefusal> {
    let proof = match header {
        DpopHeader::Absent => return Ok(None),
        DpopHeader::NotOne => return Err(ProofRefusal::NotOne),
        DpopHeader::One(proof) => proof,
    };
    let url = url.ok_or(ProofRefusal::NoUrl)?;
    let context = ProofContext { method, url, now, access_token, algorithms: &DPOP_SIGNING_ALGORITHMS };
    verify_proof(proof, &context).map(Some).map_err(ProofRefusal::Rejected)
}

/// Spends `proof`'s `jti` for its key at `now`: one conditional write, remembered until the `iat` window closes. `Err` with
/// [`ProofRefusal::Replayed`] inside `Ok` when it was spent before; a store failure is the caller's to fail closed.
pub async fn spend(
    store: &dyn TokenStore,
    tenant: &TenantId,
    proof: &VerifiedProof,
    now: Timestamp,
) -> Result<Result<(), ProofRefusal>, StoreError> {
    let used =
        UsedJti::new(tenant.clone(), JtiPurpose::DpopProof, proof.jkt.as_str(), &proof.jti, proof.replay_window_end());
    Ok(match store.use_jti_once(used, now).await? {
        JtiUse::First => Ok(()),
        JtiUse::Replayed => Err(ProofRefusal::Replayed),
    })
}

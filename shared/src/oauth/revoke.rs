//! Token revocation (RFC 7009). One read (the caller's record and the token's state, together), then at most one
//! write: a revoked flag on an opaque record, a denylist entry for a JWT's `jti` that lives until the
//! token's own `exp`, or, for a refresh token, a family watermark that revokes the whole grant. Unknown, malformed and already-invalid tokens answer 200 (§2.2).
//!
//! A write that revoked something is then announced ([`crate::announcement`], cause `rfc7009`); a failed
//! announcement is logged and counted, and the answer is the same.

use crate::announcement::{self, RevocationAnnouncement, RevocationCause, Revoked};
use crate::metrics::{self, Metric, RevocationKind};
use tracing::instrument;

use super::authenticate::ClientEndpoint;
use super::presented::{Active, ExternalToken, Presented, PresentedRead};
use crate::TokenService;
use crate::domain::client::Client;
use crate::domain::id::FamilyId;
use crate::domain::revocation::{RevocationWatermark, RevokedJti};
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;
use crate::domain::token::TokenKind;
use crate::store::{Record, StoreError, StoreKey};
use crate::wire::http::OAuthRequest;
use crate::wire::{ErrorCode, OAuthError};

/// Revokes the presented token if it belongs to the calling client. `token_type_hint` is accepted and
/// ignored: the token's structure says what it is.
#[instrument(skip_all, fields(tenant = %request.tenant, client_id))]
pub async fn revoke(service: &TokenService, request: &OAuthRequest) -> Result<(), OAuthError> {
    let tenant = &request.tenant;
    // What it writes depends on the current state (a spent refresh token, say): strict reads.
    let read = PresentedRead::read(service, service.store.as_ref(), request, ClientEndpoint::Revocation).await?;
    let caller = read.caller().await?;
    let now = read.now;
    let active = match read.judge() {
        Ok(Active::Issued(active)) => active,
        Ok(Active::External(external)) => {
            return revoke_external(service, tenant, caller, &external, read.check.token_keys.state.as_ref(), now)
                .await;
        }
        Err(reason) => {
            if let Some(family) = spent_refresh_family(&read, caller) {
                // A rotated refresh token of the caller's: its family may live on in a successor (a thief's, after a
                // theft), and the client revoking it means to end the grant. Presenting it is reuse (RFC 9700
                // §4.14.2): the family goes, as when it is presented at the token endpoint.
                tracing::info!(%family, "revocation of a rotated refresh token: revoking its family");
                let watermark = RevocationWatermark::final_for_family(tenant, family, now);
                let written = service.store.raise_watermark(watermark, None).await.map_err(OAuthError::from)?;
                metrics::count(Metric::Revocations(RevocationKind::Family));
                if written {
                    let revoked = Revoked::Family { family, client_id: Some(caller.client_id.clone()) };
                    announce(service, tenant, revoked, now).await;
                }
                return Ok(());
            }
            // RFC 7009 §2.2: an invalid token needs no action and is not an error.
            tracing::debug!(%reason, "revocation of an inactive token");
            return Ok(());
        }
    };
    if active.grant.client_id != caller.client_id {
        // RFC 7009 §2.1: only the client the token was issued to may revoke it.
        tracing::info!(owner = %active.grant.client_id, "revocation refused: token belongs to another client");
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "the token was not issued to this client"));
    }
    let client_id = active.grant.client_id.clone();
    // The write, and what it revoked when it was this request that revoked it (to announce).
    let result = match (&read.check.presented, read.check.token_keys.state.clone()) {
        (Presented::Jwt(jwt), Some(_)) => {
            let entry = RevokedJti {
                tenant: tenant.clone(),
                jti: jwt.jti.clone(),
                revoked_at: now,
                expires_at: active.grant.expires_at,
            };
            let revoked = Revoked::Jwt { jti: jwt.jti.clone(), client_id };
            service.store.put_new(Record::RevokedJti(entry), now).await.map(|()| Some(revoked))
        }
        // A refresh token takes its whole family with it: every access and refresh token of the grant
        // (RFC 7009 §2.1 allows it; WSO2 does the same). One watermark write covers them all.
        (Presented::Opaque(_), Some(_)) if active.kind == TokenKind::RefreshToken => {
            let family = active.grant.family;
            let watermark = RevocationWatermark::final_for_family(tenant, family, now);
            let revoked = Revoked::Family { family, client_id: Some(client_id) };
            service.store.raise_watermark(watermark, None).await.map(|written| written.then_some(revoked))
        }
        (Presented::Opaque(token), Some(key)) => {
            let revoked = Revoked::Opaque { token_hash: token.hash(), client_id };
            service.store.mark_revoked(&key, now).await.map(|()| Some(revoked))
        }
        (_, Some(key)) => service.store.mark_revoked(&key, now).await.map(|()| None),
        (_, None) => Ok(None),
    };
    match result {
        // Revoked concurrently, or the record expired in between: the token is inactive either way (and the
        // request that revoked it announces it).
        Ok(_) | Err(StoreError::AlreadyExists(_) | StoreError::NotFound(_)) => {
            if let Ok(Some(revoked)) = result {
                announce(service, tenant, revoked, now).await;
            }
            tracing::info!(kind = ?active.kind, "token revoked");
            let kind = match (&read.check.presented, active.kind) {
                (Presented::Opaque(_), TokenKind::RefreshToken) => RevocationKind::Family,
                _ => RevocationKind::Token,
            };
            metrics::count(Metric::Revocations(kind));
            Ok(())
        }
        Err(other) => Err(other.into()),
    }
}

/// The family of the presented token when it is a refresh token of `caller` that was already rotated: a live
/// record of the caller's, spent, whose ids match the token. `None` for anything else, which needs no action.
fn spent_refresh_family(read: &PresentedRead<'_>, caller: &Client) -> Option<FamilyId> {
    let Presented::Opaque(token) = &read.check.presented else { return None };
    let record = read.check.fetched.token(read.check.token_keys.state.as_ref()?)?;
    let spent = record.kind == TokenKind::RefreshToken && record.rotated_at.is_some();
    (spent
        && token.kind() == TokenKind::RefreshToken
        && token.matches(&record.grant)
        && record.grant.client_id == caller.client_id)
        .then_some(record.grant.family)
}

/// Revokes a trusted issuer's token. No Tessera client owns it, so the resource servers (clients that may
/// introspect) may revoke it; it must be recorded (`record_tokens`), or there is nothing to revoke it with
/// (RFC 7009 §2.2.1 `unsupported_token_type`). A token never introspected is recorded revoked.
async fn revoke_external(
    service: &TokenService,
    tenant: &TenantId,
    caller: &Client,
    external: &ExternalToken,
    key: Option<&StoreKey>,
    now: Timestamp,
) -> Result<(), OAuthError> {
    if !caller.may_introspect {
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "only resource servers may revoke external tokens"));
    }
    let Some(key) = key else {
        return Err(OAuthError::new(ErrorCode::UnsupportedTokenType, "tokens of this issuer are not recorded"));
    };
    let result = match service.store.put_new(Record::ExternalToken(external.record(tenant, Some(now))), now).await {
        Err(StoreError::AlreadyExists(_)) => service.store.mark_revoked(key, now).await,
        other => other,
    };
    result.map_err(OAuthError::from)?;
    tracing::info!(issuer = %external.identity.issuer, "external token revoked");
    metrics::count(Metric::Revocations(RevocationKind::Token));
    let revoked = Revoked::External {
        issuer: external.identity.issuer.clone(),
        jti: external.identity.jti.clone(),
        client_id: caller.client_id.clone(),
    };
    announce(service, tenant, revoked, now).await;
    Ok(())
}

/// Announces a revocation this request made. A failure is logged and counted by [`announcement::announce`]; the
/// revocation stands and RFC 7009's answer does not change.
async fn announce(service: &TokenService, tenant: &TenantId, revoked: Revoked, now: Timestamp) {
    let announcement = RevocationAnnouncement::new(tenant, revoked, now, RevocationCause::Rfc7009, None);
    let _ = announcement::announce(service.announcer.as_ref(), &announcement).await;
}

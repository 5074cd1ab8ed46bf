//! Refresh-token rotation (RFC 6749 §6, RFC 9700 §4.14.2): whether a presented refresh token may be rotated by
//! the client presenting it ([`check_refresh`]), and what scope the refreshed grant keeps ([`narrowed_scope`]).
//! The rotation itself is one conditional transaction in the store (`TokenStore::rotate`), driven by
//! `oauth::token`.

use super::client::ClientId;
use super::revocation::{AppliedMark, Inactive, TokenValidity, check_active};
use super::scope::ScopeSet;
use super::time::Timestamp;
use super::token::{TokenKind, TokenRecord};

/// Why a refresh token cannot be rotated (RFC 6749 §6, RFC 9700 §4.14.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshRefusal {
    /// Not a refresh token Tessera holds (unknown, expired, or an access token).
    Unknown,
    /// Issued to another client.
    OtherClient,
    /// Revoked, individually or through one of its watermarks.
    Revoked,
    /// Already rotated: presenting it again is reuse, which revokes the family.
    Reused,
}

/// Whether `record` may be rotated by `client` at `now`, given the watermarks that apply to it. Revocation is the
/// active rule of [`check_active`], as for every other token. The order matters: a revoked token is refused before
/// reuse is considered, so replaying a token after its family was revoked does not write another watermark.
/// `watermarks` are the marks on every token of the family ([`crate::store::Fetched::marks`]), never a refresh's
/// mark on its access tokens: under that one, a replayed spent token would be judged revoked, not reused.
pub fn check_refresh(
    record: &TokenRecord,
    client: &ClientId,
    watermarks: &[AppliedMark],
    now: Timestamp,
) -> Result<(), RefreshRefusal> {
    if record.kind != TokenKind::RefreshToken {
        return Err(RefreshRefusal::Unknown);
    }
    if &record.grant.client_id != client {
        return Err(RefreshRefusal::OtherClient);
    }
    let validity = TokenValidity {
        issued_at: record.grant.issued_at,
        expires_at: record.grant.expires_at,
        not_before: None,
        individually_revoked: record.revoked_at.is_some(),
        watermarks,
    };
    match check_active(validity, now) {
        Ok(()) => {}
        Err(Inactive::Expired | Inactive::NotYetValid) => return Err(RefreshRefusal::Unknown),
        Err(Inactive::Revoked | Inactive::Watermarked(_)) => return Err(RefreshRefusal::Revoked),
    }
    if record.rotated_at.is_some() {
        return Err(RefreshRefusal::Reused);
    }
    Ok(())
}

/// The scope of a refreshed grant: the requested scope when it narrows the current one, the current one when
/// none is requested (RFC 6749 §6: a refresh may not widen). `None` when the request widens.
pub fn narrowed_scope(current: &ScopeSet, requested: Option<ScopeSet>) -> Option<ScopeSet> {
    match requested {
        Some(scope) if scope.is_subset(current) => Some(scope),
        Some(_) => None,
        None => Some(current.clone()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::domain::grant::Grant;
    use crate::domain::id::FamilyId;
    use crate::domain::revocation::MarkKind;
    use crate::domain::tenant::TenantId;
    use crate::domain::token::OpaqueToken;

    const NOW: Timestamp = Timestamp::from_secs(5);

    fn record(kind: TokenKind) -> TokenRecord {
        let grant = Grant {
            tenant: TenantId::default(),
            client_id: ClientId::parse("app").unwrap(),
            subject: "alice".into(),
            username: None,
            user_details: BTreeMap::new(),
            amr: Vec::new(),
            app: Default::default(),
            scope: ScopeSet::parse("a b").unwrap(),
            audience: vec![],
            family: FamilyId::from_bytes([1; 16]),
            issued_at: Timestamp::from_micros(1_000),
            expires_at: Timestamp::from_secs(10),
            confirmation: None,
        };
        TokenRecord::new(&OpaqueToken::mint(kind, &grant, [2; 32]), grant)
    }

    fn family_mark(micros: u64) -> [AppliedMark; 1] {
        [AppliedMark { kind: MarkKind::Family, revoked_before: Timestamp::from_micros(micros) }]
    }

    #[test]
    fn refresh_rules_in_order() {
        let app = ClientId::parse("app").unwrap();
        let fresh = record(TokenKind::RefreshToken);
        assert_eq!(check_refresh(&fresh, &app, &[], NOW), Ok(()));
        assert_eq!(check_refresh(&record(TokenKind::AccessToken), &app, &[], NOW), Err(RefreshRefusal::Unknown));
        assert_eq!(
            check_refresh(&fresh, &ClientId::parse("other").unwrap(), &[], NOW),
            Err(RefreshRefusal::OtherClient)
        );
        assert_eq!(check_refresh(&fresh, &app, &family_mark(1_000), NOW), Err(RefreshRefusal::Revoked));
        assert_eq!(check_refresh(&fresh, &app, &family_mark(999), NOW), Ok(()));
        let mut spent = fresh.clone();
        spent.rotated_at = Some(Timestamp::from_micros(2_000));
        assert_eq!(check_refresh(&spent, &app, &[], NOW), Err(RefreshRefusal::Reused));
        // Once the family is revoked, replaying a spent token is just revoked, not another reuse.
        assert_eq!(check_refresh(&spent, &app, &family_mark(3_000), NOW), Err(RefreshRefusal::Revoked));
    }

    #[test]
    fn scope_only_narrows() {
        let current = ScopeSet::parse("a b").unwrap();
        assert_eq!(narrowed_scope(&current, None), Some(current.clone()));
        assert_eq!(narrowed_scope(&current, Some(ScopeSet::parse("a").unwrap())), Some(ScopeSet::parse("a").unwrap()));
        assert_eq!(narrowed_scope(&current, Some(ScopeSet::parse("a c").unwrap())), None);
    }
}

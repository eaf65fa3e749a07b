//! The consent form's token: what makes a consent decision single-use.
//!
//! The consent page carries the pending authorization request (its query string) in the form,
//! and a token `ISSUED.NONCE.MAC` in the `csrf` field: the MAC (under the CSRF key, purpose
//! `consent`) binds the login session, the request and `ISSUED.NONCE`. A decision posted with
//! it is accepted once: the store's atomic [`crate::store::Store::claim_once`] of the nonce,
//! kept until the token expires, lets exactly one post through across every gateway sharing
//! the store (memory or Redis). A replay (a double submit, the back button, a copied form)
//! is refused and issues nothing; a token older than [`CONSENT_TTL`] is refused as expired,
//! so no claim need be kept longer than that.

use super::csrf::FormKey;
use crate::tokens::opaque::TokenHash;

/// How long a consent page may be answered, in seconds.
pub const CONSENT_TTL: u64 = 600;

const PURPOSE: &str = "consent";

/// Why a posted consent token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentRefused {
    /// Malformed, forged, or bound to another session or request.
    Invalid,
    /// Older than [`CONSENT_TTL`].
    Expired,
}

/// A consent token that verified: claim `claim_key` until `expires_at` before acting on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentTicket {
    pub claim_key: TokenHash,
    pub expires_at: u64,
}

/// A fresh token for a consent page shown at `now`.
pub fn issue(key: &FormKey, session_id: &str, query: &str, now: u64) -> String {
    let stamp = format!("{now}.{}", super::random_id());
    let mac = key.token(PURPOSE, &[session_id, query, &stamp]);
    format!("{stamp}.{mac}")
}

/// Checks a posted token against the session and request it must be bound to.
pub fn check(
    key: &FormKey,
    token: &str,
    session_id: &str,
    query: &str,
    now: u64,
) -> Result<ConsentTicket, ConsentRefused> {
    let (stamp, mac) = token.rsplit_once('.').ok_or(ConsentRefused::Invalid)?;
    if !key.verify(mac, PURPOSE, &[session_id, query, stamp]) {
        return Err(ConsentRefused::Invalid);
    }
    let issued: u64 = stamp
        .split_once('.')
        .and_then(|(issued, _)| issued.parse().ok())
        .ok_or(ConsentRefused::Invalid)?;
    let expires_at = issued.saturating_add(CONSENT_TTL);
    if expires_at <= now {
        return Err(ConsentRefused::Expired);
    }
    Ok(ConsentTicket {
        claim_key: TokenHash::of(&format!("{PURPOSE}:{stamp}")),
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::keyring::SigningKey;

    fn key() -> FormKey {
        FormKey::derive(&SigningKey::new(&[7u8; 32]).unwrap())
    }

    const NOW: u64 = 1_700_000_000;

    #[test]
    fn a_token_checks_for_its_session_and_request_only() {
        let key = key();
        let token = issue(&key, "session-a", "client_id=spa", NOW);
        let ticket = check(&key, &token, "session-a", "client_id=spa", NOW + 1).unwrap();
        assert_eq!(ticket.expires_at, NOW + CONSENT_TTL);
        for (session, query) in [("session-b", "client_id=spa"), ("session-a", "client_id=x")] {
            assert_eq!(
                check(&key, &token, session, query, NOW),
                Err(ConsentRefused::Invalid)
            );
        }
    }

    #[test]
    fn each_page_gets_its_own_claim() {
        let key = key();
        let a = issue(&key, "s", "q", NOW);
        let b = issue(&key, "s", "q", NOW);
        assert_ne!(a, b);
        let claim = |t: &str| check(&key, t, "s", "q", NOW).unwrap().claim_key;
        assert_ne!(claim(&a), claim(&b));
        assert_eq!(claim(&a), claim(&a), "the same form claims the same key");
    }

    #[test]
    fn an_old_or_altered_token_is_refused() {
        let key = key();
        let token = issue(&key, "s", "q", NOW);
        assert_eq!(
            check(&key, &token, "s", "q", NOW + CONSENT_TTL),
            Err(ConsentRefused::Expired)
        );
        // Moving the time stamp forward breaks the MAC.
        let (_, rest) = token.split_once('.').unwrap();
        let moved = format!("{}.{rest}", NOW + 10_000);
        assert_eq!(
            check(&key, &moved, "s", "q", NOW),
            Err(ConsentRefused::Invalid)
        );
        for bad in ["", ".", "..", "x.y.z", "not-a-token"] {
            assert_eq!(
                check(&key, bad, "s", "q", NOW),
                Err(ConsentRefused::Invalid)
            );
        }
    }
}

//! Access tokens already verified, so that an API client sending the same token on every
//! request pays for its HMAC, base64 and JSON once per token instead of once per request
//! (Envoy's `jwt_authn` keeps such a cache too).
//!
//! What is cached is only the outcome of the *signature and claims decoding* of a token that
//! verified: the cache is consulted by exact, constant-time comparison of the whole token, so
//! it can never answer for a token it has not seen verify. Everything that depends on the
//! time or on state is still checked on every request by the caller: `exp`/`nbf` (with
//! [`super::jwt::check_times`]), revocation, scopes. One cache belongs to one configuration
//! (one key ring and issuer): a reload builds a new, empty one, so a key taken out of
//! `previous_keys` stops verifying at once.
//!
//! The same direct-mapped table ([`TokenCache`]) keeps, per token, what else is worth
//! remembering for the token's life (the authorization server's `allow`-list facts of its
//! person).
//!
//! Direct-mapped: a token's slot is chosen by its last bytes (the end of its HMAC, random to
//! anyone without the key), and a new token simply replaces whatever was in its slot. Bounded
//! by construction: [`SLOTS`] entries of at most one token each.

use std::sync::{Arc, Mutex, PoisonError};

use super::jwt::AccessClaims;

/// How many tokens are remembered at most (about 0.5 KiB each).
pub const SLOTS: usize = 1024;

struct Slot<V> {
    token: Box<[u8]>,
    value: V,
}

/// A value remembered per token, answered only for that exact token.
pub struct TokenCache<V> {
    slots: Box<[Mutex<Option<Slot<V>>>]>,
}

/// Tokens that verified under one key ring and issuer, with their claims.
pub type VerifiedTokens = TokenCache<Arc<AccessClaims>>;

impl<V: Clone> Default for TokenCache<V> {
    fn default() -> Self {
        TokenCache::new()
    }
}

impl<V: Clone> TokenCache<V> {
    pub fn new() -> TokenCache<V> {
        TokenCache {
            slots: (0..SLOTS).map(|_| Mutex::new(None)).collect(),
        }
    }

    fn slot(&self, token: &[u8]) -> &Mutex<Option<Slot<V>>> {
        // FNV-1a over the last 16 bytes: the tail of the signature.
        let tail = &token[token.len().saturating_sub(16)..];
        let hash = tail.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        });
        let index = usize::try_from(hash % SLOTS as u64).unwrap_or(0);
        &self.slots[index]
    }

    /// What was remembered of `token` (its claims, if it verified before). Any bytes, so
    /// that a token read from a header needs no UTF-8 check to be looked up.
    pub fn get<T: AsRef<[u8]> + ?Sized>(&self, token: &T) -> Option<V> {
        let token = token.as_ref();
        // A slot holds plain data that every step leaves consistent: a panic elsewhere
        // cannot leave it half-written.
        let slot = self
            .slot(token)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let cached = slot.as_ref()?;
        same_token(&cached.token, token).then(|| cached.value.clone())
    }

    /// Remembers `value` of `token` (that it verified with these claims).
    pub fn put<T: AsRef<[u8]> + ?Sized>(&self, token: &T, value: V) {
        let token = token.as_ref();
        let mut slot = self
            .slot(token)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *slot = Some(Slot {
            token: token.into(),
            value,
        });
    }
}

/// Whether `a` and `b` are equal, in a time that depends only on their lengths (which are
/// not secret: every token of a gateway has about the same). `subtle`'s slice comparison
/// calls an optimisation barrier per byte, which cost more here than the HMAC it saves; an
/// OR of XORs has no early exit to take, and one barrier keeps the compiler from adding one.
fn same_token(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(jti: &str) -> Arc<AccessClaims> {
        Arc::new(AccessClaims {
            amr: Vec::new(),
            acr: None,
            auth_time: None,
            iss: "https://gw.example".into(),
            aud: "https://gw.example".into(),
            sub: "alice".into(),
            client_id: "spa".into(),
            scope: "api:read".into(),
            iat: 1,
            exp: 2,
            jti: jti.into(),
            nbf: None,
        })
    }

    #[test]
    fn answers_only_for_the_exact_token_it_was_given() {
        let cache = VerifiedTokens::new();
        let token = "aGVhZGVy.cGF5bG9hZA.c2lnbmF0dXJlLXRhaWwtMTIzNDU2";
        assert!(cache.get(token.as_bytes()).is_none());
        cache.put(token, claims("j1"));
        assert_eq!(cache.get(token.as_bytes()).unwrap().jti, "j1");
        // Same slot (same tail), another token: no answer.
        let other = "aGVhZGVy.cGF5bG9hZB.c2lnbmF0dXJlLXRhaWwtMTIzNDU2";
        assert!(cache.get(other.as_bytes()).is_none());
        // A prefix or an extension of a cached token is another token.
        assert!(cache.get(&token.as_bytes()[..token.len() - 1]).is_none());
        assert!(cache.get(format!("{token}A").as_bytes()).is_none());
    }

    #[test]
    fn same_token_compares_every_byte() {
        assert!(same_token(b"abc", b"abc"));
        assert!(!same_token(b"abc", b"abd"));
        assert!(!same_token(b"xbc", b"abc"));
        assert!(!same_token(b"abc", b"abcd"));
        assert!(same_token(b"", b""));
    }

    #[test]
    fn a_new_token_replaces_the_one_in_its_slot_and_the_cache_stays_bounded() {
        let cache = VerifiedTokens::new();
        let a = "x.y.same-tail-0123456789";
        let b = "z.w.same-tail-0123456789";
        cache.put(a, claims("a"));
        cache.put(b, claims("b"));
        assert!(cache.get(a.as_bytes()).is_none());
        assert_eq!(cache.get(b.as_bytes()).unwrap().jti, "b");
        for i in 0..10 * SLOTS {
            cache.put(&format!("h.p.sig{i:016}"), claims("n"));
        }
        let held = cache
            .slots
            .iter()
            .filter(|s| s.lock().unwrap().is_some())
            .count();
        assert!(held <= SLOTS);
    }
}

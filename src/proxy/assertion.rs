//! The upstream identity assertion (issue 14 item 8, like Pomerium's
//! `X-Pomerium-Jwt-Assertion`): on a route with `assertion = true`, the gateway sends the
//! upstream `X-Auth-Assertion`, a short-lived JWT signed with the published keys (ES256), so an
//! upstream that can also be reached without the gateway can still tell who the caller is by
//! checking it against `/oauth2/jwks`.
//!
//! The token: header `{"alg":"ES256","typ":"JWT","kid":…}`; claims `iss` (`public_url`), `aud`
//! (the route: see [`route_audience`]), `sub` (the user, or the client for client
//! credentials), `client_id`, `scope`, `iat`, `exp` ([`ASSERTION_TTL`] later). An upstream must
//! check `iss`, `aud` and `exp`: the `aud` is what tells it apart from an ID token (whose
//! `aud` is a client id) signed by the same keys.
//!
//! Signing costs tens of microseconds, so assertions are reused: one per identity (user,
//! client, scope) on this route, until [`REUSE_MARGIN`] before it expires. The cache is
//! direct-mapped like `tokens::verified` (a slot chosen by a keyed hash of the identity,
//! compared exactly; a new identity replaces its slot), bounded by [`SLOTS`], and belongs to
//! one configuration (a reload starts empty). It holds no credential of the caller: only what
//! the upstream is told anyway. The gate runs before it on every request, so a revoked token
//! or ended session gets no assertion, cached or not; one already sent stays valid for at most
//! [`ASSERTION_TTL`].
//!
//! A client-sent `X-Auth-Assertion` is removed by header hygiene (`headers.rs`) on every
//! route, with or without this option.

use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};

use http::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;

use crate::authn::Identity;
use crate::tokens::jose::{Alg, Keys};

/// The header the upstream receives.
pub const X_AUTH_ASSERTION: HeaderName = HeaderName::from_static("x-auth-assertion");
/// An assertion's lifetime, in seconds.
pub const ASSERTION_TTL: u64 = 60;
/// A cached assertion is signed anew once it has less than this left, in seconds, so that the
/// upstream never receives one about to expire.
pub const REUSE_MARGIN: u64 = 15;
/// Identities remembered per route at most.
pub const SLOTS: usize = 4096;
/// The algorithm: the fastest of the published ones to sign and verify everywhere.
const ALG: Alg = Alg::Es256;

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    client_id: &'a str,
    scope: &'a str,
    iat: u64,
    exp: u64,
}

struct Slot {
    user: Option<Box<str>>,
    client_id: Box<str>,
    scope: Box<str>,
    value: HeaderValue,
    expires_at: u64,
}

impl Slot {
    fn is_for(&self, identity: &Identity) -> bool {
        self.user.as_deref() == identity.user()
            && *self.client_id == *identity.client_id()
            && *self.scope == *identity.scope()
    }
}

/// The `aud` of a route's assertions: the URL prefix the route serves, from the public URL's
/// scheme, the route's `host` (else the public URL's host and port) and the route's path.
/// `https://gw.example/api/` for `path = "/api/"`; `https://app.example/` for
/// `host = "app.example"` and `path = "/"`.
pub fn route_audience(public_origin: &str, host: Option<&str>, path: &str) -> String {
    match host {
        Some(host) => {
            let scheme = public_origin.split_once("://").map_or("https", |(s, _)| s);
            format!("{scheme}://{host}{path}")
        }
        None => format!("{public_origin}{path}"),
    }
}

/// The assertions of one route.
pub struct Assertions {
    issuer: String,
    audience: String,
    keys: Arc<Keys>,
    hasher: std::collections::hash_map::RandomState,
    slots: Box<[Mutex<Option<Slot>>]>,
}

impl Assertions {
    pub fn new(issuer: &str, audience: String, keys: Arc<Keys>) -> Assertions {
        Assertions {
            issuer: issuer.to_owned(),
            audience,
            keys,
            hasher: std::collections::hash_map::RandomState::new(),
            slots: (0..SLOTS).map(|_| Mutex::new(None)).collect(),
        }
    }

    fn slot(&self, identity: &Identity) -> &Mutex<Option<Slot>> {
        let mut h = self.hasher.build_hasher();
        identity.user().hash(&mut h);
        identity.client_id().hash(&mut h);
        identity.scope().hash(&mut h);
        let index = usize::try_from(h.finish() % SLOTS as u64).unwrap_or(0);
        &self.slots[index]
    }

    /// The assertion for `identity` at `now`: the cached one while it has more than
    /// [`REUSE_MARGIN`] left, else a new one. `None` when it cannot be signed (no ES256 key:
    /// logged), and then the upstream gets no assertion rather than a stale one.
    pub fn for_identity(&self, identity: &Identity, now: u64) -> Option<HeaderValue> {
        let slot = self.slot(identity);
        {
            // A slot holds plain data every step leaves whole: a panic elsewhere cannot
            // leave it half-written.
            let cached = slot.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(hit) = cached.as_ref() {
                if hit.is_for(identity) && hit.expires_at > now.saturating_add(REUSE_MARGIN) {
                    return Some(hit.value.clone());
                }
            }
        }
        let value = self.sign(identity, now)?;
        *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(Slot {
            user: identity.user().map(Box::from),
            client_id: identity.client_id().into(),
            scope: identity.scope().into(),
            value: value.clone(),
            expires_at: now + ASSERTION_TTL,
        });
        Some(value)
    }

    fn sign(&self, identity: &Identity, now: u64) -> Option<HeaderValue> {
        let claims = Claims {
            iss: &self.issuer,
            aud: &self.audience,
            sub: identity.user().unwrap_or(identity.client_id()),
            client_id: identity.client_id(),
            scope: identity.scope(),
            iat: now,
            exp: now + ASSERTION_TTL,
        };
        match self.keys.snapshot().sign(ALG, "JWT", &claims) {
            Ok(token) => HeaderValue::from_str(&token).ok(),
            Err(err) => {
                tracing::error!(route = %self.audience, error = %err, "the upstream assertion could not be signed");
                None
            }
        }
    }

    /// Sets `X-Auth-Assertion` for `identity` (hygiene removed any client-sent one before).
    pub fn apply(&self, headers: &mut HeaderMap, identity: Option<&Identity>, now: u64) {
        if let Some(value) = identity.and_then(|i| self.for_identity(i, now)) {
            headers.insert(X_AUTH_ASSERTION, value);
        }
    }
}

#[cfg(test)]
mod tests;

//! Who a credential speaks for (the user, the client, the scopes), as the gate hands it on,
//! and the cache that keeps it per access token and per session cookie.
//!
//! A [`Caller`] is built once per access token, and shared by reference count for the
//! token's life. It carries the values of the identity headers (`X-Auth-User`,
//! `X-Auth-Client`, `X-Auth-Scopes`, which `proxy::identity_headers` sets), made when it is
//! built: a bearer request then clones three reference counts instead of copying three
//! strings into an identity and three more into new header values (issue 17: about 1,200
//! instructions of `malloc` and `free` per request).
//!
//! [`Callers`] answers like the verified-token cache it sits beside (`tokens::verified`):
//! only for the exact token, compared in constant time, and only with what that token's
//! verification produced (its claims, and the caller made of them). Everything that depends
//! on the time or on state is still checked on every request: the token's times and its
//! revocation (`AuthServer::check_access`), the provider of a federated principal, scopes
//! and `allow` rules. One cache belongs to one configuration (the dispatcher's, built with
//! it), so a reload starts empty, as the verified-token cache does.
//!
//! Per session cookie it keeps the cookie's SHA-256 (the store's key: the same for the same
//! cookie, so remembering it changes nothing but its cost) and the caller last built from
//! its record, which is reused only while the record still names the same user and scope.
//! The session itself (alive, idle limit, its record) is asked of the store on every
//! request, as before.

use std::sync::Arc;

use http::HeaderValue;

use crate::tokens::jwt::AccessClaims;
use crate::tokens::opaque::TokenHash;
use crate::tokens::verified::TokenCache;

/// Who a credential speaks for.
#[derive(Debug, PartialEq, Eq)]
pub struct Caller {
    /// The user, absent for a client acting for itself (client credentials).
    user: Option<String>,
    client_id: String,
    /// Space-separated.
    scope: String,
    headers: CallerHeaders,
}

/// The identity headers' values, made once per [`Caller`]. A text that is no header value
/// (it cannot be: names and scopes are checked at load, and a token's were issued from
/// them) has none, and its header is not sent.
#[derive(Debug, PartialEq, Eq)]
pub struct CallerHeaders {
    /// `X-Auth-User` (only for a user).
    pub user: Option<HeaderValue>,
    /// `X-Auth-Client`.
    pub client: Option<HeaderValue>,
    /// `X-Auth-Scopes`.
    pub scopes: Option<HeaderValue>,
}

impl Caller {
    pub fn new(user: Option<String>, client_id: String, scope: String) -> Caller {
        let value = |text: &str| HeaderValue::from_str(text).ok();
        let headers = CallerHeaders {
            user: user.as_deref().and_then(value),
            client: value(&client_id),
            scopes: value(&scope),
        };
        Caller {
            user,
            client_id,
            scope,
            headers,
        }
    }

    /// The caller an access token speaks for: its user (`sub`, unless the token is a
    /// client's own: client ids never equal user names, checked at load), its client, its
    /// scopes.
    pub fn of_token(claims: &AccessClaims) -> Caller {
        Caller::new(
            (claims.sub != claims.client_id).then(|| claims.sub.clone()),
            claims.client_id.clone(),
            claims.scope.clone(),
        )
    }

    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// The identity headers' values.
    pub fn headers(&self) -> &CallerHeaders {
        &self.headers
    }
}

/// What [`Callers`] keeps of a token that verified.
#[derive(Debug)]
pub(super) struct KnownToken {
    pub claims: Arc<AccessClaims>,
    pub caller: Arc<Caller>,
    /// The sign-in behind the token included a second factor.
    pub second_factor: bool,
}

impl KnownToken {
    pub fn new(claims: Arc<AccessClaims>) -> KnownToken {
        KnownToken {
            caller: Arc::new(Caller::of_token(&claims)),
            second_factor: crate::store::sign_in::two_factors(&claims.amr),
            claims,
        }
    }
}

/// What [`Callers`] keeps of a session cookie.
#[derive(Debug)]
pub(super) struct KnownSession {
    /// The cookie's SHA-256: the session's key in the store.
    pub hash: TokenHash,
    /// The caller last built from the session's record.
    pub caller: Arc<Caller>,
}

impl KnownSession {
    /// Whether `caller` is still the one of a record naming `user` with `scope`.
    pub fn same_caller(&self, user: &str, scope: &str) -> bool {
        self.caller.user() == Some(user) && self.caller.scope() == scope
    }
}

/// The callers of the access tokens and the session cookies one configuration has seen.
#[derive(Default)]
pub struct Callers {
    tokens: TokenCache<Arc<KnownToken>>,
    sessions: TokenCache<Arc<KnownSession>>,
}

impl std::fmt::Debug for Callers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Callers").finish_non_exhaustive()
    }
}

impl Callers {
    pub fn new() -> Callers {
        Callers::default()
    }

    /// What is known of `token` (as presented: bytes), if it verified before.
    pub(super) fn token(&self, token: &[u8]) -> Option<Arc<KnownToken>> {
        self.tokens.get(token)
    }

    /// Remembers what `token`'s verification produced.
    pub(super) fn put_token(&self, token: &str, known: Arc<KnownToken>) {
        self.tokens.put(token, known);
    }

    /// What is known of the session cookie `id`, if it was seen before.
    pub(super) fn session(&self, id: &str) -> Option<Arc<KnownSession>> {
        self.sessions.get(id)
    }

    /// Remembers the session cookie `id`'s hash and caller.
    pub(super) fn put_session(&self, id: &str, known: Arc<KnownSession>) {
        self.sessions.put(id, known);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(sub: &str, client_id: &str, amr: &[&str]) -> Arc<AccessClaims> {
        Arc::new(AccessClaims {
            amr: amr.iter().map(|m| (*m).to_owned()).collect(),
            acr: None,
            auth_time: None,
            iss: "https://gw.example".into(),
            aud: "https://gw.example".into(),
            sub: sub.into(),
            client_id: client_id.into(),
            scope: "api:read app".into(),
            iat: 1,
            exp: 2,
            jti: "j1".into(),
            nbf: None,
        })
    }

    #[test]
    fn a_tokens_caller_and_its_header_values() {
        let known = KnownToken::new(claims("alice", "spa", &["pwd", "otp", "mfa"]));
        let caller = &known.caller;
        assert_eq!(
            (caller.user(), caller.client_id(), caller.scope()),
            (Some("alice"), "spa", "api:read app")
        );
        let headers = caller.headers();
        assert_eq!(headers.user.as_ref().unwrap(), "alice");
        assert_eq!(headers.client.as_ref().unwrap(), "spa");
        assert_eq!(headers.scopes.as_ref().unwrap(), "api:read app");
        assert!(known.second_factor);

        // A client's own token: no user, so no `X-Auth-User`.
        let known = KnownToken::new(claims("worker", "worker", &[]));
        assert_eq!(known.caller.user(), None);
        assert!(known.caller.headers().user.is_none());
        assert!(!known.second_factor);
    }

    #[test]
    fn text_that_is_no_header_value_gets_none() {
        let caller = Caller::new(Some("a\nb".into()), "spa".into(), String::new());
        assert!(caller.headers().user.is_none());
        assert_eq!(caller.headers().client.as_ref().unwrap(), "spa");
        assert_eq!(caller.headers().scopes.as_ref().unwrap(), "");
    }

    #[test]
    fn the_cache_answers_only_for_the_token_it_was_given() {
        let callers = Callers::new();
        let token = "aGVhZGVy.cGF5bG9hZA.c2lnbmF0dXJlLXRhaWwtMTIzNDU2";
        assert!(callers.token(token.as_bytes()).is_none());
        callers.put_token(
            token,
            Arc::new(KnownToken::new(claims("alice", "spa", &[]))),
        );
        assert_eq!(
            callers.token(token.as_bytes()).unwrap().caller.user(),
            Some("alice")
        );
        assert!(callers
            .token(b"aGVhZGVy.cGF5bG9hZB.c2lnbmF0dXJlLXRhaWwtMTIzNDU2")
            .is_none());
        // Tokens and session cookies are kept apart.
        assert!(callers.session(token).is_none());
        let caller = Arc::new(Caller::new(
            Some("bob".into()),
            "authgate".into(),
            "app".into(),
        ));
        let hash = TokenHash::of(token);
        callers.put_session(token, Arc::new(KnownSession { hash, caller }));
        let known = callers.session(token).unwrap();
        assert_eq!(known.hash, TokenHash::of(token));
        assert!(known.same_caller("bob", "app"));
        assert!(!known.same_caller("bob", "app api:read"));
        assert!(!known.same_caller("alice", "app"));
    }
}

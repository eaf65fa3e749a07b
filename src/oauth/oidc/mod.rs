//! The OpenID Connect provider's core (OIDC Core 1.0, Discovery 1.0; contract §7), over plain
//! types like the rest of `oauth`; its HTTP adapter is `endpoints::oauth::oidc`.
//!
//! - [`prompt`]: the OpenID parameters of an authorization request (`nonce`, `prompt`,
//!   `max_age`, `id_token_hint`, `request`, `request_uri`) and whether they ask for a login,
//!   a consent, or an error without any page;
//! - [`claims`]: the claims of the `profile`, `email` and `groups` scopes, from a user entry;
//! - [`id_token`]: minting ID tokens at the token endpoint, and verifying one that comes back
//!   as `id_token_hint` (at authorization and at logout);
//! - [`userinfo`]: the UserInfo endpoint's answer for an access token;
//! - [`discovery`]: the `/.well-known/openid-configuration` document.
//!
//! Decisions (each pinned by a unit test beside the code):
//! - `sub` is the user's name, the same as `X-Auth-User` (contract §7); `sid` is derived from
//!   the login session's stored hash ([`session_sid`]), so it names the session without being
//!   a credential, and the logout side computes the same value from the cookie;
//! - `auth_time` is when the login session began; `prompt=login`, `max_age` and a hint for
//!   another user end in a new login, so the time moves;
//! - refresh tokens: a request without `openid` gets one as before (when the client has the
//!   `refresh_token` grant); an OpenID request gets one only when `offline_access` is granted
//!   as well (OIDC Core §11). Consent to `offline_access` is asked like any other scope
//!   (remembered consent counts), and first-party clients are never asked.

pub mod claims;
pub mod discovery;
pub mod id_token;
pub mod prompt;
pub mod userinfo;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::tokens::opaque::TokenHash;

/// The scope that makes an authorization request an OpenID Connect one.
pub const OPENID: &str = "openid";
/// The scope that asks for a refresh token in an OpenID request (OIDC Core §11).
pub const OFFLINE_ACCESS: &str = "offline_access";

/// Whether a space-separated scope holds `openid`.
pub fn has_scope(scope: &str, wanted: &str) -> bool {
    scope.split(' ').any(|s| s == wanted)
}

/// The `sid` of the login session whose id hashes to `session`: 128 bits of a SHA-256 of
/// that hash under its own label. Stable for the session's life, different for every
/// session, and of no use to present as a cookie (the hash of a hash of the secret).
pub fn session_sid(session: &TokenHash) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"authgate/sid/v1\0");
    hasher.update(session.0);
    let digest = hasher.finalize();
    URL_SAFE_NO_PAD.encode(digest.get(..16).unwrap_or_default())
}

/// What the consent page says of a built-in scope that `[scopes]` does not describe.
pub fn builtin_description(scope: &str) -> Option<&'static str> {
    Some(match scope {
        "openid" => "Sign you in with your user name",
        "profile" => "Your user name and display name",
        "email" => "Your email address",
        "groups" => "The groups you belong to",
        "offline_access" => "Stay signed in to the application when you are not using it",
        _ => return None,
    })
}

impl crate::oauth::AuthServer {
    /// What the consent page says of `scope`: its `[scopes]` description, a built-in
    /// scope's own, else its name.
    pub fn scope_description(&self, scope: &str) -> String {
        match (self.scopes.get(scope), builtin_description(scope)) {
            (Some(described), _) => described.clone(),
            (None, Some(builtin)) => builtin.to_owned(),
            (None, None) => scope.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sid_is_stable_per_session_and_not_the_hash() {
        let a = TokenHash::of("session-a");
        let b = TokenHash::of("session-b");
        assert_eq!(session_sid(&a), session_sid(&a));
        assert_ne!(session_sid(&a), session_sid(&b));
        assert_eq!(session_sid(&a).len(), 22);
        assert!(!a.to_hex().contains(&session_sid(&a)));
    }

    #[test]
    fn scope_membership_is_by_whole_token() {
        assert!(has_scope("email openid", OPENID));
        assert!(!has_scope("openidx profile", OPENID));
        assert!(!has_scope("", OPENID));
    }

    #[test]
    fn every_builtin_scope_has_a_description() {
        for scope in crate::config::BUILTIN_SCOPES {
            assert!(builtin_description(scope).is_some(), "{scope}");
        }
        assert_eq!(builtin_description("api:read"), None);
    }
}

//! Where each entry lives in Redis, and how long Redis keeps it.
//!
//! Every key starts with the configured `key_prefix`. Codes, refresh tokens and sessions are
//! keyed by their [`TokenHash`] in hex, never by the token: a dump of Redis holds nothing a
//! client could present. The layout (with the default prefix `authgate:`):
//!
//! | key | type | what |
//! | --- | --- | --- |
//! | `code:{hash}` | hash | `grant` (JSON), `exp`, `uses` |
//! | `rt:{hash}` | hash | `rec` (JSON), `fam`, `exp`, `rotated_at`, `sealed` |
//! | `fam:{id}` | hash | `user`, `client`, `exp`, `revoked` |
//! | `fam:{id}:tokens` | set | the family's refresh-token hashes |
//! | `fam:{id}:access` | sorted set | its access-token jtis, scored by expiry |
//! | `families` | sorted set | every family, scored by expiry (listing, counting) |
//! | `subject:user:{name}`, `subject:client:{id}` | set | a subject's families |
//! | `sessions:user:{name}` | set | a user's session hashes |
//! | `session:{hash}` | hash | `rec` (JSON), `created`, `last` |
//! | `denied` | sorted set | deny-listed jtis, scored by expiry |
//! | `cutoffs` | hash | subject → cut-off |
//! | `consent:{user}\n{client}` | set | granted scopes |
//! | `clients` | hash | client id → registered client (JSON) |
//! | `signing-keys` | hash | `v` (version), `doc` (the sealed signing-key document) |
//! | `once:{hash}` | string | a claimed one-time marker (a consent decision), its expiry |
//! | `cc:client:{id}` | sorted set | a client's `client_credentials` access tokens (JSON), scored by expiry |
//! | `cc:all` | sorted set | `{client}\n{jti}` of every recorded one, scored by expiry (the total bound) |
//! | `cc:unlisted` | hash | client → latest expiry of its tokens left unrecorded by the bounds |
//!
//! Keys of one operation are passed to its script together, so the layout assumes one Redis
//! (or a primary with replicas), not Redis Cluster.

use crate::store::Subject;
use crate::tokens::opaque::TokenHash;

/// How long Redis keeps an entry past its logical end. The scripts compare expiry times with
/// the caller's clock, so an entry is dead at its time whatever Redis does; the TTL only
/// collects garbage, and the margin absorbs clock skew between gateways and Redis.
pub const TTL_MARGIN_SECS: u64 = 60;

/// The seconds Redis should keep an entry that ends at `expires_at`, seen at `now`.
pub fn ttl(expires_at: u64, now: u64) -> u64 {
    expires_at.saturating_sub(now) + TTL_MARGIN_SECS
}

/// The key names under one prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Keys {
        Keys {
            prefix: prefix.to_owned(),
        }
    }

    fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }

    pub fn code(&self, code: &TokenHash) -> String {
        self.key(&format!("code:{}", code.to_hex()))
    }

    pub fn families(&self) -> String {
        self.key("families")
    }

    pub fn denied(&self) -> String {
        self.key("denied")
    }

    pub fn cutoffs(&self) -> String {
        self.key("cutoffs")
    }

    pub fn consent(&self, user: &str, client: &str) -> String {
        // Neither may contain a newline (config validation), so the key is unambiguous.
        self.key(&format!("consent:{user}\n{client}"))
    }

    pub fn clients(&self) -> String {
        self.key("clients")
    }

    pub fn signing_keys(&self) -> String {
        self.key("signing-keys")
    }

    pub fn once(&self, key: &TokenHash) -> String {
        self.key(&format!("once:{}", key.to_hex()))
    }

    pub fn client_access(&self, client: &str) -> String {
        self.key(&format!("cc:client:{client}"))
    }

    pub fn client_access_unlisted(&self) -> String {
        self.key("cc:unlisted")
    }

    /// The pub/sub channel revocations are announced on.
    pub fn channel(&self) -> String {
        self.key("revocations")
    }
}

/// The field of `cutoffs` (and the suffix of `subject:`) for a user or a client.
pub fn subject_key(subject: &Subject) -> String {
    match subject {
        Subject::User(name) => format!("user:{name}"),
        Subject::Client(id) => format!("client:{id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hold_hashes_not_tokens() {
        let keys = Keys::new("ag:");
        let hash = TokenHash::of("secret-token");
        let key = keys.code(&hash);
        assert!(key.starts_with("ag:code:"));
        assert!(!key.contains("secret-token"));
        assert_eq!(key.len(), "ag:code:".len() + 64);
    }

    #[test]
    fn ttl_keeps_a_margin_even_when_already_past() {
        assert_eq!(ttl(100, 40), 60 + TTL_MARGIN_SECS);
        assert_eq!(ttl(100, 400), TTL_MARGIN_SECS);
    }
}

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
//! | `person:{principal}` | string | a federated person (JSON), expiring with it |
//! | `mfa:{user}` | hash | second factors: `totp`/`totp_id`, `pending`/`pending_id`/`pending_exp`, `last_step` |
//! | `mfa-recovery:{user}` | set | hex SHA-256 of each unused recovery code |
//! | `mfa-failures:{user}` | hash | `count`, `last`, `exp` of second-factor failures, expiring with them |
//! | `mfa-passkeys:{user}` | hash | per passkey `c:{id}` (its record, JSON) and `n:{id}` (its signature counter) |
//! | `mfa-ceremony:{hash}` | string | a WebAuthn ceremony in progress (JSON), expiring with it |
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

/// The layout, written once: each kind of key's name after the prefix. The builders below
/// use these, and the Lua scripts get them as locals named `K_` and the constant's name
/// ([`lua_names`]).
pub mod names {
    pub const CODE: &str = "code:";
    pub const REFRESH: &str = "rt:";
    pub const FAMILY: &str = "fam:";
    pub const FAMILIES: &str = "families";
    pub const SUBJECT: &str = "subject:";
    pub const SESSIONS_USER: &str = "sessions:user:";
    pub const SESSION: &str = "session:";
    pub const SESSIONS_LAST: &str = "sessions:last";
    pub const SESSIONS_CREATED: &str = "sessions:created";
    pub const DENIED: &str = "denied";
    pub const CUTOFFS: &str = "cutoffs";
    pub const CONSENT: &str = "consent:";
    pub const CLIENTS: &str = "clients";
    pub const SIGNING_KEYS: &str = "signing-keys";
    pub const ONCE: &str = "once:";
    pub const CLIENT_ACCESS: &str = "cc:client:";
    pub const CLIENT_ACCESS_ALL: &str = "cc:all";
    pub const CLIENT_ACCESS_UNLISTED: &str = "cc:unlisted";
    pub const CHANNEL: &str = "revocations";
    pub const PERSON: &str = "person:";
    pub const MFA: &str = "mfa:";
    pub const MFA_RECOVERY: &str = "mfa-recovery:";
    pub const MFA_FAILURES: &str = "mfa-failures:";
    pub const MFA_PASSKEYS: &str = "mfa-passkeys:";
    pub const MFA_CEREMONY: &str = "mfa-ceremony:";
}

/// Every name of [`names`], as the scripts call it.
const LAYOUT: &[(&str, &str)] = &[
    ("CODE", names::CODE),
    ("REFRESH", names::REFRESH),
    ("FAMILY", names::FAMILY),
    ("FAMILIES", names::FAMILIES),
    ("SUBJECT", names::SUBJECT),
    ("SESSIONS_USER", names::SESSIONS_USER),
    ("SESSION", names::SESSION),
    ("SESSIONS_LAST", names::SESSIONS_LAST),
    ("SESSIONS_CREATED", names::SESSIONS_CREATED),
    ("DENIED", names::DENIED),
    ("CUTOFFS", names::CUTOFFS),
    ("CONSENT", names::CONSENT),
    ("CLIENTS", names::CLIENTS),
    ("SIGNING_KEYS", names::SIGNING_KEYS),
    ("ONCE", names::ONCE),
    ("CLIENT_ACCESS", names::CLIENT_ACCESS),
    ("CLIENT_ACCESS_ALL", names::CLIENT_ACCESS_ALL),
    ("CLIENT_ACCESS_UNLISTED", names::CLIENT_ACCESS_UNLISTED),
    ("CHANNEL", names::CHANNEL),
    ("PERSON", names::PERSON),
    ("MFA", names::MFA),
    ("MFA_RECOVERY", names::MFA_RECOVERY),
    ("MFA_FAILURES", names::MFA_FAILURES),
    ("MFA_PASSKEYS", names::MFA_PASSKEYS),
    ("MFA_CEREMONY", names::MFA_CEREMONY),
];

/// The Lua prelude of the key names: `local K_CODE = P .. 'code:'` and so on, where `P` is
/// the prefix the script was given.
pub fn lua_names() -> String {
    LAYOUT
        .iter()
        .map(|(name, suffix)| format!("local K_{name} = P .. '{suffix}'\n"))
        .collect()
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
        format!("{}{}{}", self.prefix, names::CODE, code.to_hex())
    }

    pub fn families(&self) -> String {
        self.key(names::FAMILIES)
    }

    pub fn sessions_last(&self) -> String {
        self.key(names::SESSIONS_LAST)
    }

    pub fn denied(&self) -> String {
        self.key(names::DENIED)
    }

    pub fn cutoffs(&self) -> String {
        self.key(names::CUTOFFS)
    }

    pub fn consent(&self, user: &str, client: &str) -> String {
        // Neither may contain a newline (config validation), so the key is unambiguous.
        format!("{}{}{user}\n{client}", self.prefix, names::CONSENT)
    }

    pub fn clients(&self) -> String {
        self.key(names::CLIENTS)
    }

    pub fn signing_keys(&self) -> String {
        self.key(names::SIGNING_KEYS)
    }

    pub fn once(&self, key: &TokenHash) -> String {
        format!("{}{}{}", self.prefix, names::ONCE, key.to_hex())
    }

    pub fn client_access(&self, client: &str) -> String {
        format!("{}{}{client}", self.prefix, names::CLIENT_ACCESS)
    }

    /// A principal (`ID:SUB`: visible ASCII, no newline) after the prefix.
    pub fn person(&self, principal: &str) -> String {
        format!("{}{}{principal}", self.prefix, names::PERSON)
    }

    /// A user's second factors (`[[users]]` names and principals: no newline).
    pub fn mfa(&self, user: &str) -> String {
        format!("{}{}{user}", self.prefix, names::MFA)
    }

    pub fn mfa_recovery(&self, user: &str) -> String {
        format!("{}{}{user}", self.prefix, names::MFA_RECOVERY)
    }

    pub fn mfa_failures(&self, user: &str) -> String {
        format!("{}{}{user}", self.prefix, names::MFA_FAILURES)
    }

    pub fn mfa_passkeys(&self, user: &str) -> String {
        format!("{}{}{user}", self.prefix, names::MFA_PASSKEYS)
    }

    pub fn mfa_ceremony(&self, id: &TokenHash) -> String {
        format!("{}{}{}", self.prefix, names::MFA_CEREMONY, id.to_hex())
    }

    pub fn client_access_unlisted(&self) -> String {
        self.key(names::CLIENT_ACCESS_UNLISTED)
    }

    /// The pub/sub channel revocations are announced on.
    pub fn channel(&self) -> String {
        self.key(names::CHANNEL)
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
    fn the_scripts_get_every_name_of_the_layout() {
        let lua = lua_names();
        assert_eq!(lua.lines().count(), LAYOUT.len());
        assert!(lua.contains("local K_REFRESH = P .. 'rt:'\n"));
        // No name is a prefix of another's, so no key can pass for two kinds.
        for (i, (_, a)) in LAYOUT.iter().enumerate() {
            for (_, b) in &LAYOUT[i + 1..] {
                assert!(!b.starts_with(a) && !a.starts_with(b), "{a} {b}");
            }
        }
    }

    #[test]
    fn ttl_keeps_a_margin_even_when_already_past() {
        assert_eq!(ttl(100, 40), 60 + TTL_MARGIN_SECS);
        assert_eq!(ttl(100, 400), TTL_MARGIN_SECS);
    }
}

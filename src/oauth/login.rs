//! Password checks for the login page: argon2id on a small pool of low-priority threads (so
//! logins never starve the proxy, see `hash_pool.rs`), the same work and answer for an unknown
//! user as for a wrong password, and throttling per user name and per peer address.

use std::collections::HashMap;
use std::net::IpAddr;

use super::hash_pool::HashPool;
use super::throttle::Throttle;
use crate::config::UserConfig;
use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

/// Login attempts waiting for a hash thread at most; more are answered "busy" at once.
const HASH_QUEUE: usize = 64;

/// Why a login failed. Unknown user and wrong password are one case on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFailure {
    BadCredentials,
    /// Too many failures: try again in this many seconds.
    Throttled(u64),
    Unavailable,
}

/// Verified against for unknown users, so that they cost the same time as a wrong password.
/// Made once with `hash-password` from a random password nobody kept, with the same
/// parameters as real hashes; an unknown user is refused whatever this verification says.
/// A constant rather than a start-up computation: hashing at start costs 19 MiB of memory
/// that the allocator then keeps.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$7HmpYFAr8R2FiKHG9KnRwg$AA9rmRC2oQeiyDO5uSW7PPz16caj6Chb4v44qffbhWI";

pub struct PasswordChecker {
    pool: HashPool,
    by_user: Throttle,
    by_peer: Throttle,
}

/// OWASP's minimum for argon2id: 19 MiB, two passes, one lane.
pub const MEMORY_KIB: u32 = 19_456;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

/// The hasher `hash-password` and the dummy hash for unknown users use (the login verifies
/// with whatever parameters each stored hash names).
pub fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

impl Default for PasswordChecker {
    fn default() -> Self {
        Self::new()
    }
}

impl PasswordChecker {
    pub fn new() -> Self {
        // One hash thread per CPU, at most 4: enough to use idle CPUs, never more.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        PasswordChecker {
            pool: HashPool::new(threads, HASH_QUEUE),
            by_user: Throttle::new(),
            by_peer: Throttle::new(),
        }
    }

    /// Checks `name` and `password`; returns the user's name on success.
    pub async fn check(
        &self,
        users: &HashMap<String, UserConfig>,
        name: &str,
        password: &str,
        peer: IpAddr,
        now: u64,
    ) -> Result<String, LoginFailure> {
        let peer_key = peer.to_string();
        let user_key = name.to_ascii_lowercase();
        if let Err(wait) = self.by_peer.check(&peer_key, now) {
            return Err(LoginFailure::Throttled(wait));
        }
        if let Err(wait) = self.by_user.check(&user_key, now) {
            return Err(LoginFailure::Throttled(wait));
        }
        let user = users.get(name);
        let hash = user.map_or_else(|| DUMMY_HASH.to_owned(), |u| u.password_hash.clone());
        let password = password.to_owned();
        let verified = self
            .pool
            .run(move || {
                PasswordHash::new(&hash)
                    .map(|parsed| {
                        argon2()
                            .verify_password(password.as_bytes(), &parsed)
                            .is_ok()
                    })
                    .unwrap_or(false)
            })
            .await
            .map_err(|_| LoginFailure::Unavailable)?;
        match user {
            Some(user) if verified => {
                self.by_user.succeed(&user_key);
                Ok(user.name.clone())
            }
            _ => {
                self.by_user.fail(&user_key, now);
                self.by_peer.fail(&peer_key, now);
                tracing::info!(peer = %peer, reason = "bad_credentials", "login failed");
                Err(LoginFailure::BadCredentials)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_has_the_real_parameters() {
        let parsed = PasswordHash::new(DUMMY_HASH).unwrap();
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert!(DUMMY_HASH.starts_with(&format!(
            "$argon2id$v=19$m={MEMORY_KIB},t={ITERATIONS},p={PARALLELISM}$"
        )));
    }
}

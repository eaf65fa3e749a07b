//! Password checks for the login page: argon2id on a small pool of low-priority threads (so
//! logins never starve the proxy, see `hash_pool.rs`), the same work and answer for an unknown
//! user as for a wrong password, and throttling per user name and per peer address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use super::hash_pool::HashPool;
use super::throttle::Throttle;
use crate::config::UserConfig;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
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

pub struct PasswordChecker {
    pool: HashPool,
    /// Verified against for unknown users, so they cost the same time.
    dummy_hash: Arc<String>,
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
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let dummy = crate::tokens::opaque::new_token();
        let dummy_hash = argon2()
            .hash_password(dummy.as_bytes(), &salt)
            .map(|h| h.to_string())
            .unwrap_or_default();
        // One hash thread per CPU, at most 4: enough to use idle CPUs, never more.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        PasswordChecker {
            pool: HashPool::new(threads, HASH_QUEUE),
            dummy_hash: Arc::new(dummy_hash),
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
        let hash = user.map_or_else(
            || self.dummy_hash.as_str().to_owned(),
            |u| u.password_hash.clone(),
        );
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

//! Password checks for the login page: argon2id on a small pool of low-priority threads (so
//! logins never starve the proxy, see `hash_pool.rs`), the same work and answer for an unknown
//! user as for a wrong password, and throttling per user name and per peer address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use super::hash_pool::{HashPool, Scratch};
use super::throttle::Throttle;
use crate::config::UserConfig;
use argon2::password_hash::{Output, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Params, Version};
use subtle::ConstantTimeEq;

/// Login attempts waiting for a hash thread at most; more are answered "busy" at once.
const HASH_QUEUE: usize = 64;

/// How long a login waits for its password check (queued, then hashed) before it is answered
/// "unavailable, try again". The hash threads run at `SCHED_IDLE`: while CPU-bound neighbours
/// keep every CPU busy they get next to nothing, and without a bound a login would wait as
/// long as the client does (browsers: minutes), holding its connection and queue slot. A
/// check takes about 15 ms on an idle CPU, so 10 s is only ever reached on a starved machine,
/// where a prompt "try again" beats a spinner; a check not yet started by then is dropped
/// unrun (see `hash_pool.rs`).
pub const CHECK_DEADLINE: Duration = Duration::from_secs(10);

/// Why a login failed. Unknown user and wrong password are one case on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFailure {
    BadCredentials,
    /// Too many failures: try again in this many seconds.
    Throttled(u64),
    /// The password could not be checked now (the hash queue is full, or the check did not
    /// finish within [`CHECK_DEADLINE`]): try again.
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
    /// [`CHECK_DEADLINE`], shorter in tests.
    deadline: Duration,
    by_user: Throttle,
    by_peer: Throttle,
    /// The throttle on passwordless sign-in starts, kept here with the password throttles
    /// since, like them, it outlives a configuration.
    pub passkey_starts: super::passkey_starts::PasskeyStarts,
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
        Self::with_pool(HashPool::new(threads, HASH_QUEUE), CHECK_DEADLINE)
    }

    /// A checker hashing on `pool` that gives up on a check after `deadline`.
    fn with_pool(pool: HashPool, deadline: Duration) -> Self {
        PasswordChecker {
            pool,
            deadline,
            by_user: Throttle::new(),
            by_peer: Throttle::new(),
            passkey_starts: super::passkey_starts::PasskeyStarts::new(),
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
        // A user without a password (signing in only through a provider) costs the same
        // check as an unknown name, and is refused whatever was typed.
        let own = user.and_then(|u| u.password_hash.clone());
        let has_password = own.is_some();
        let hash = own.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let password = password.to_owned();
        let check = self
            .pool
            .run(move |scratch| verify(&hash, password.as_bytes(), scratch));
        let verified = match tokio::time::timeout(self.deadline, check).await {
            Ok(Ok(verified)) => verified,
            Ok(Err(_busy)) => return Err(LoginFailure::Unavailable),
            Err(_elapsed) => {
                // Not a failed attempt: the throttles count nothing.
                tracing::warn!(
                    peer = %peer,
                    reason = "hash_deadline",
                    deadline_ms = self.deadline.as_millis() as u64,
                    "login not checked in time"
                );
                return Err(LoginFailure::Unavailable);
            }
        };
        match user {
            Some(user) if verified && has_password => {
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

/// Whether `password` matches the PHC string `hash` (argon2 with the parameters, salt and
/// output length it names), hashing in the worker's reused `scratch` memory. What the
/// argon2 crate's `verify_password` does, without allocating the memory afresh each time.
fn verify(hash: &str, password: &[u8], scratch: &mut Scratch) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(expected), Some(salt)) = (parsed.hash, parsed.salt) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let Ok(version) = parsed
        .version
        .map_or(Ok(Version::default()), Version::try_from)
    else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut computed = [0u8; Output::MAX_LENGTH];
    let computed = &mut computed[..expected.len()];
    let blocks = scratch.blocks(params.block_count());
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, computed, blocks)
        .is_ok()
        && bool::from(computed.ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};

    #[test]
    fn verify_agrees_with_the_argon2_crate_and_reuses_its_memory() {
        let mut scratch = Scratch::default();
        let small = Params::new(64, 1, 1, None).unwrap();
        let salt = SaltString::encode_b64(b"sixteen byte salt").unwrap();
        let hashes = [
            // The real parameters, and smaller ones of every variant, a longer output and
            // three lanes: the same scratch serves them all in turn.
            argon2().hash_password(b"right", &salt).unwrap().to_string(),
            Argon2::new(Algorithm::Argon2i, Version::V0x10, small.clone())
                .hash_password(b"right", &salt)
                .unwrap()
                .to_string(),
            Argon2::new(Algorithm::Argon2d, Version::V0x13, small)
                .hash_password(b"right", &salt)
                .unwrap()
                .to_string(),
            Argon2::new(
                Algorithm::Argon2id,
                Version::V0x13,
                Params::new(96, 2, 3, Some(64)).unwrap(),
            )
            .hash_password(b"right", &salt)
            .unwrap()
            .to_string(),
        ];
        for hash in &hashes {
            let parsed = PasswordHash::new(hash).unwrap();
            for password in [&b"right"[..], b"wrong", b"", b"right "] {
                let theirs = argon2().verify_password(password, &parsed).is_ok();
                assert_eq!(verify(hash, password, &mut scratch), theirs, "{hash}");
                assert_eq!(theirs, password == b"right");
            }
        }
        assert!(!verify(DUMMY_HASH, b"", &mut scratch));
        for broken in [
            "",
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ",
            "$bcrypt$x",
            "plain",
        ] {
            assert!(!verify(broken, b"right", &mut scratch), "{broken}");
        }
    }

    /// `$argon2id$…` of `password` with the smallest parameters: fast, for tests that are not
    /// about the hash.
    fn cheap_hash(password: &str) -> String {
        let salt = SaltString::encode_b64(b"sixteen byte salt").unwrap();
        Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8, 1, 1, None).unwrap(),
        )
        .hash_password(password.as_bytes(), &salt)
        .unwrap()
        .to_string()
    }

    fn users() -> HashMap<String, UserConfig> {
        let user = UserConfig {
            name: "alice".to_owned(),
            password_hash: Some(cheap_hash("right")),
            scopes: Vec::new(),
            claims: Default::default(),
            identities: Vec::new(),
            mfa: false,
        };
        HashMap::from([("alice".to_owned(), user)])
    }

    const PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[tokio::test]
    async fn a_check_that_does_not_start_in_time_is_answered_unavailable() {
        let checker = std::sync::Arc::new(PasswordChecker::with_pool(
            HashPool::new(1, 4),
            Duration::from_millis(50),
        ));
        let users = users();
        // The only hash thread is held busy until the check below has given up.
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let busy = {
            let checker = checker.clone();
            tokio::spawn(async move {
                checker
                    .pool
                    .run(move |_| {
                        let _ = started_tx.send(());
                        let _ = hold.recv();
                    })
                    .await
            })
        };
        started_rx.await.unwrap();
        let started = std::time::Instant::now();
        let answer = checker.check(&users, "alice", "right", PEER, 0).await;
        assert_eq!(answer, Err(LoginFailure::Unavailable));
        assert!(started.elapsed() >= Duration::from_millis(50));
        // Checks that time out count as no failure, however many (more than the throttle
        // lets through) and whatever the password; each frees its place in the queue (of 4).
        for _ in 0..8 {
            let started = std::time::Instant::now();
            let answer = checker.check(&users, "alice", "wrong", PEER, 0).await;
            assert_eq!(answer, Err(LoginFailure::Unavailable));
            assert!(
                started.elapsed() >= Duration::from_millis(50),
                "not refused as busy"
            );
        }
        let _ = release.send(());
        assert!(busy.await.unwrap().is_ok());
        // Checked again once the thread is free, not throttled. The hash thread runs at the
        // lowest priority: on a loaded machine one check may miss the 50 ms deadline, so a
        // few tries are allowed (a throttle would answer at once and never recover).
        let mut answer = Err(LoginFailure::Unavailable);
        for _ in 0..50 {
            answer = checker.check(&users, "alice", "right", PEER, 0).await;
            if answer != Err(LoginFailure::Unavailable) {
                break;
            }
        }
        assert_eq!(answer, Ok("alice".to_owned()));
    }

    /// A user with `identities` and no password signs in through its provider only: the
    /// form refuses it whatever is typed, as it refuses an unknown name (the dummy hash's
    /// password included, were it known).
    #[tokio::test]
    async fn a_user_without_a_password_is_refused_by_the_form() {
        let checker = PasswordChecker::with_pool(HashPool::new(1, 4), Duration::from_secs(30));
        let mut users = users();
        if let Some(alice) = users.get_mut("alice") {
            alice.password_hash = None;
        }
        for typed in ["right", "", "anything"] {
            let answer = checker.check(&users, "alice", typed, PEER, 0).await;
            assert_eq!(answer, Err(LoginFailure::BadCredentials), "{typed:?}");
        }
    }

    #[test]
    fn the_dummy_hash_has_the_real_parameters() {
        let parsed = PasswordHash::new(DUMMY_HASH).unwrap();
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert!(DUMMY_HASH.starts_with(&format!(
            "$argon2id$v=19$m={MEMORY_KIB},t={ITERATIONS},p={PARALLELISM}$"
        )));
    }
}

//! Failure throttling for logins and client authentication: after a few failures within a
//! window, a key (a user name, a client id, a peer address) is locked for a delay that doubles
//! with each further failure, up to a cap. Success clears the key.
//!
//! Policy: 5 free failures per 15 minutes; then 1 s, 2 s, 4 s … at most 15 minutes. The map
//! is bounded: past `MAX_KEYS` entries, stale ones are dropped first, then the oldest.

use std::collections::HashMap;
use std::sync::Mutex;

const FREE_FAILURES: u32 = 5;
const WINDOW_SECS: u64 = 15 * 60;
const MAX_LOCK_SECS: u64 = 15 * 60;
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Default)]
pub struct Throttle {
    entries: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    first_at: u64,
    locked_until: u64,
}

impl Throttle {
    pub fn new() -> Self {
        Throttle::default()
    }

    /// `Err(seconds)` while `key` is locked.
    pub fn check(&self, key: &str, now: u64) -> Result<(), u64> {
        let Ok(entries) = self.entries.lock() else {
            return Ok(());
        };
        match entries.get(key) {
            Some(e) if e.locked_until > now => Err(e.locked_until - now),
            _ => Ok(()),
        }
    }

    /// Records a failure for `key`.
    pub fn fail(&self, key: &str, now: u64) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= MAX_KEYS && !entries.contains_key(key) {
            entries.retain(|_, e| e.first_at + WINDOW_SECS > now || e.locked_until > now);
            if entries.len() >= MAX_KEYS {
                let oldest = entries
                    .iter()
                    .min_by_key(|(_, e)| e.first_at)
                    .map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    entries.remove(&oldest);
                }
            }
        }
        let entry = entries.entry(key.to_owned()).or_insert(Entry {
            failures: 0,
            first_at: now,
            locked_until: 0,
        });
        if entry.first_at + WINDOW_SECS <= now && entry.locked_until <= now {
            *entry = Entry {
                failures: 0,
                first_at: now,
                locked_until: 0,
            };
        }
        entry.failures += 1;
        if entry.failures >= FREE_FAILURES {
            let exponent = (entry.failures - FREE_FAILURES).min(10);
            let delay = (1u64 << exponent).min(MAX_LOCK_SECS);
            entry.locked_until = now + delay;
        }
    }

    /// Clears `key` after a success.
    pub fn succeed(&self, key: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_free_failures_and_doubles() {
        let t = Throttle::new();
        for _ in 0..4 {
            t.fail("alice", 100);
            assert_eq!(t.check("alice", 100), Ok(()));
        }
        t.fail("alice", 100);
        assert_eq!(t.check("alice", 100), Err(1));
        assert_eq!(t.check("alice", 101), Ok(()));
        t.fail("alice", 101);
        assert_eq!(t.check("alice", 101), Err(2));
        assert_eq!(t.check("bob", 101), Ok(()));
        t.succeed("alice");
        assert_eq!(t.check("alice", 101), Ok(()));
    }

    #[test]
    fn window_resets() {
        let t = Throttle::new();
        for _ in 0..4 {
            t.fail("k", 0);
        }
        t.fail("k", WINDOW_SECS + 1);
        assert_eq!(t.check("k", WINDOW_SECS + 1), Ok(()));
    }
}

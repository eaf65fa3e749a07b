//! The local copy of the revocations (deny-listed access-token jtis and subject cut-offs)
//! that every bearer request consults: answered from memory, never with a Redis round trip.
//!
//! It is loaded from Redis when the pub/sub subscription (re)starts and then fed by the
//! announcements the revoking scripts publish (see [`super::scripts`]). While the subscription
//! is down the copy may miss revocations: it is then *untrusted*, and [`RevocationCache::check`]
//! fails closed (a [`StoreError`], so 503) unless the operator chose `fail_open`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

use crate::store::{StoreError, StoreResult};

#[derive(Debug, Default)]
struct Entries {
    /// jti → when the token expires anyway.
    denied: HashMap<String, u64>,
    /// subject key (`user:NAME`, `client:ID`) → cut-off.
    cutoffs: HashMap<String, u64>,
}

#[derive(Debug)]
pub struct RevocationCache {
    entries: RwLock<Entries>,
    /// Whether the subscription is live and the copy was loaded since it (re)started.
    trusted: AtomicBool,
    fail_open: bool,
}

impl RevocationCache {
    pub fn new(fail_open: bool) -> RevocationCache {
        RevocationCache {
            entries: RwLock::new(Entries::default()),
            trusted: AtomicBool::new(false),
            fail_open,
        }
    }

    pub fn set_trusted(&self, trusted: bool) {
        self.trusted.store(trusted, Ordering::SeqCst);
    }

    pub fn is_trusted(&self) -> bool {
        self.trusted.load(Ordering::SeqCst)
    }

    /// Whether the copy may answer: in sync, or allowed to be stale by `fail_open`.
    pub fn usable(&self) -> StoreResult<()> {
        if self.fail_open || self.is_trusted() {
            return Ok(());
        }
        Err(StoreError(
            "lost the revocation feed from redis; refusing until it is back".to_owned(),
        ))
    }

    pub fn is_denied(&self, jti: &str) -> StoreResult<bool> {
        self.usable()?;
        Ok(self.read()?.denied.contains_key(jti))
    }

    pub fn cutoff(&self, subject_key: &str) -> StoreResult<Option<u64>> {
        self.usable()?;
        Ok(self.read()?.cutoffs.get(subject_key).copied())
    }

    fn read(&self) -> StoreResult<std::sync::RwLockReadGuard<'_, Entries>> {
        self.entries
            .read()
            .map_err(|_| StoreError("the revocation cache's lock is poisoned".to_owned()))
    }

    fn write(&self) -> StoreResult<std::sync::RwLockWriteGuard<'_, Entries>> {
        self.entries
            .write()
            .map_err(|_| StoreError("the revocation cache's lock is poisoned".to_owned()))
    }

    /// Adds a full load from Redis. Merged, not replaced: an entry applied locally while the
    /// load was on its way must not be lost (entries only leave by [`Self::prune`]).
    pub fn merge(
        &self,
        denied: Vec<(String, u64)>,
        cutoffs: Vec<(String, u64)>,
    ) -> StoreResult<()> {
        let mut entries = self.write()?;
        for (jti, exp) in denied {
            entries.denied.insert(jti, exp);
        }
        for (subject, cutoff) in cutoffs {
            raise(&mut entries.cutoffs, subject, cutoff);
        }
        Ok(())
    }

    /// Applies one announcement (`d EXP JTI` and `c CUTOFF SUBJECT` lines); returns how many
    /// lines it did not understand.
    pub fn apply(&self, announcement: &str) -> StoreResult<usize> {
        let mut entries = self.write()?;
        let mut bad = 0;
        for line in announcement.lines().filter(|l| !l.is_empty()) {
            let mut parts = line.splitn(3, ' ');
            let (kind, at, name) = (parts.next(), parts.next(), parts.next());
            let at = at.and_then(|a| a.parse::<u64>().ok());
            match (kind, at, name) {
                (Some("d"), Some(exp), Some(jti)) => {
                    entries.denied.insert(jti.to_owned(), exp);
                }
                (Some("c"), Some(cutoff), Some(subject)) => {
                    raise(&mut entries.cutoffs, subject.to_owned(), cutoff);
                }
                _ => bad += 1,
            }
        }
        Ok(bad)
    }

    /// Forgets deny-listed tokens that have expired anyway.
    pub fn prune(&self, now: u64) -> StoreResult<()> {
        self.write()?.denied.retain(|_, exp| *exp > now);
        Ok(())
    }

    pub fn denied_len(&self) -> usize {
        self.read().map_or(0, |e| e.denied.len())
    }
}

/// A cut-off never moves back.
fn raise(cutoffs: &mut HashMap<String, u64>, subject: String, cutoff: u64) {
    let entry = cutoffs.entry(subject).or_insert(cutoff);
    *entry = (*entry).max(cutoff);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_apply_and_cutoffs_never_move_back() {
        let cache = RevocationCache::new(false);
        cache.set_trusted(true);
        let bad = cache
            .apply("d 100 jti-1\nc 50 user:alice smith\nc 40 user:alice smith\nnonsense")
            .unwrap();
        assert_eq!(bad, 1);
        assert!(cache.is_denied("jti-1").unwrap());
        assert_eq!(cache.cutoff("user:alice smith").unwrap(), Some(50));
        cache.prune(100).unwrap();
        assert!(!cache.is_denied("jti-1").unwrap());
    }

    #[test]
    fn untrusted_fails_closed_unless_fail_open() {
        let closed = RevocationCache::new(false);
        closed.apply("d 100 j").unwrap();
        assert!(closed.is_denied("j").is_err());
        assert!(closed.cutoff("user:a").is_err());
        let open = RevocationCache::new(true);
        open.apply("d 100 j").unwrap();
        assert!(open.is_denied("j").unwrap());
    }
}

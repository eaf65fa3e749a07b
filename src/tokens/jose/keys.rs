//! The live key set of a process: one [`KeySet`] snapshot behind an atomic pointer, replaced
//! whole when the store holds a newer one (a rotation on this gateway or another) and kept
//! across configuration reloads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::keyset::KeySet;

/// The fewest seconds between two refreshes from the store caused by a token naming a key
/// this gateway does not know (anyone can send such a token).
pub const UNKNOWN_KID_REFRESH_SECS: u64 = 5;

/// The live, shared key set.
#[derive(Debug)]
pub struct Keys {
    set: ArcSwap<KeySet>,
    /// When a refresh for an unknown kid last ran (seconds since the epoch).
    unknown_kid_refresh: AtomicU64,
}

impl Keys {
    pub fn new(set: KeySet) -> Keys {
        Keys {
            set: ArcSwap::from_pointee(set),
            unknown_kid_refresh: AtomicU64::new(0),
        }
    }

    /// No keys: signs and verifies nothing (tests and tools that need no asymmetric key).
    pub fn empty() -> Keys {
        Keys::new(KeySet::empty())
    }

    /// The current snapshot (an atomic load and a reference count).
    pub fn snapshot(&self) -> Arc<KeySet> {
        self.set.load_full()
    }

    /// Puts `set` in place for every later [`Keys::snapshot`].
    pub fn replace(&self, set: KeySet) {
        self.set.store(Arc::new(set));
    }

    /// Whether a refresh for a token with an unknown kid may run at `now`: at most one every
    /// [`UNKNOWN_KID_REFRESH_SECS`], whoever asks.
    pub fn claim_unknown_kid_refresh(&self, now: u64) -> bool {
        let last = self.unknown_kid_refresh.load(Ordering::Relaxed);
        last.saturating_add(UNKNOWN_KID_REFRESH_SECS) <= now
            && self
                .unknown_kid_refresh
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

//! How wrong second-factor codes are throttled, per user, from the count the store keeps
//! (`FactorStore::count_factor_attempt`, counted before each code is checked), so that every
//! gateway on one store enforces the same limit and concurrent attempts are judged one by
//! one: [`FREE_FAILURES`] wrong codes cost nothing, then each further attempt locks the
//! user's second step for 30 s, doubling up to 15 min, from the last attempt (one made while
//! locked counts too). The count is forgotten [`FORGET_SECS`] after the last attempt, or at
//! a success. A pending login is also cut after
//! [`TRIES_PER_LOGIN`] wrong codes: the person starts over with the password.
//!
//! What it allows an attacker who has the password: after the free five, at most one guess
//! per 15 min, 96 a day; each guess matches one of the three codes of the ±1 window with
//! probability 3 in a million.

use crate::store::factors::FactorFailures;

pub const FREE_FAILURES: u32 = 5;
pub const FIRST_LOCK_SECS: u64 = 30;
pub const MAX_LOCK_SECS: u64 = 15 * 60;
pub const FORGET_SECS: u64 = 24 * 3600;
pub const TRIES_PER_LOGIN: u32 = 5;

/// Seconds until the next code may be tried, or `None` when one may be now.
pub fn wait(failures: &FactorFailures, now: u64) -> Option<u64> {
    if failures.count < FREE_FAILURES {
        return None;
    }
    let doublings = (failures.count - FREE_FAILURES).min(16);
    let lock = FIRST_LOCK_SECS
        .saturating_mul(1u64 << doublings)
        .min(MAX_LOCK_SECS);
    let until = failures.last.saturating_add(lock);
    (now < until).then(|| until - now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn after(count: u32) -> FactorFailures {
        FactorFailures {
            count,
            last: 1000,
            expires_at: 1000 + FORGET_SECS,
        }
    }

    #[test]
    fn five_free_then_doubling_locks_up_to_fifteen_minutes() {
        for count in 0..FREE_FAILURES {
            assert_eq!(wait(&after(count), 1000), None, "{count}");
        }
        let cases = [
            (5, 30),
            (6, 60),
            (7, 120),
            (8, 240),
            (9, 480),
            (10, 900),
            (11, 900),
            (40, 900),
            (u32::MAX, 900),
        ];
        for (count, lock) in cases {
            assert_eq!(wait(&after(count), 1000), Some(lock), "{count}");
            assert_eq!(wait(&after(count), 1000 + lock - 1), Some(1), "{count}");
            assert_eq!(wait(&after(count), 1000 + lock), None, "{count}");
        }
    }
}

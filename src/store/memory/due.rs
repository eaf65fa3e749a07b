//! When the memory store's entries fall due, earliest first, so that the live sweep visits
//! only what has expired instead of every entry under the store's lock (a full pass over a
//! million sessions or refresh families holds it for about 10 ms a map). A family's list of
//! access tokens needs no queue: each rotation prunes it (`State::apply`).
//!
//! The queues are lazy. An entry may outlive what it names (deleted since: skipped when it
//! comes up), and a session may come up before it really expires (used since, or queued
//! before the session limits were known, or under shorter ones): it is then queued again for
//! its real end. They are not persisted: start-up rebuilds them from the maps
//! ([`State::queue_all_due`]).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::state::State;
use crate::store::SessionRecord;
use crate::tokens::opaque::TokenHash;

/// A min-queue of (due time, key).
type Queue<K> = BinaryHeap<Reverse<(u64, K)>>;

#[derive(Debug, Default)]
pub struct Due {
    /// The session limits (idle, absolute) of the last sweep: new sessions are queued for the
    /// end they would have under them (before any, at their creation).
    limits: Option<(u64, u64)>,
    sessions: Queue<TokenHash>,
    codes: Queue<TokenHash>,
    revoked_access: Queue<String>,
    families: Queue<String>,
    claims: Queue<TokenHash>,
    persons: Queue<String>,
}

impl Due {
    /// A session, due at its end under the last known limits (or at its creation).
    pub fn session(&mut self, id: TokenHash, session: &SessionRecord) {
        let due = self
            .limits
            .map_or(session.created_at, |(idle, max)| session.ends_at(idle, max));
        self.sessions.push(Reverse((due, id)));
    }

    pub fn code(&mut self, code: TokenHash, expires_at: u64) {
        self.codes.push(Reverse((expires_at, code)));
    }

    pub fn revoked_access(&mut self, jti: &str, expires_at: u64) {
        self.revoked_access
            .push(Reverse((expires_at, jti.to_owned())));
    }

    pub fn claim(&mut self, key: TokenHash, expires_at: u64) {
        self.claims.push(Reverse((expires_at, key)));
    }

    pub fn person(&mut self, principal: &str, expires_at: u64) {
        self.persons
            .push(Reverse((expires_at, principal.to_owned())));
    }

    pub fn family(&mut self, family: &str, expires_at: u64) {
        self.families.push(Reverse((expires_at, family.to_owned())));
    }
}

/// A queue built whole (linear), not entry by entry.
fn queue<K: Ord>(entries: impl Iterator<Item = (u64, K)>) -> Queue<K> {
    BinaryHeap::from(entries.map(Reverse).collect::<Vec<_>>())
}

/// Pops the next key of `queue` due by `now`, counting it against `budget`.
fn next_due<K: Ord>(queue: &mut Queue<K>, now: u64, budget: &mut usize) -> Option<K> {
    if *budget == 0 || queue.peek().is_none_or(|Reverse((due, _))| *due > now) {
        return None;
    }
    *budget -= 1;
    queue.pop().map(|Reverse((_, key))| key)
}

impl State {
    /// Queues every entry of the maps afresh (after recovery, which fills the maps directly),
    /// sessions under the limits `session_limits` (idle, absolute).
    pub fn queue_all_due(&mut self, (idle, max): (u64, u64)) {
        self.due = Due {
            limits: Some((idle, max)),
            sessions: self.sessions_by_end(idle, max),
            codes: queue(self.codes.iter().map(|(c, e)| (e.grant.expires_at, *c))),
            revoked_access: queue(
                self.revoked_access
                    .iter()
                    .map(|(jti, exp)| (*exp, jti.clone())),
            ),
            families: queue(
                self.families
                    .iter()
                    .map(|(name, f)| (f.expires_at, name.clone())),
            ),
            claims: queue(self.claims.iter().map(|(k, exp)| (*exp, *k))),
            persons: queue(
                self.persons
                    .iter()
                    .map(|(name, p)| (p.expires_at, name.clone())),
            ),
        };
    }

    /// Every session, queued for its end under the limits `idle` and `max`.
    fn sessions_by_end(&self, idle: u64, max: u64) -> Queue<TokenHash> {
        queue(
            self.sessions
                .iter()
                .map(|(id, s)| (s.ends_at(idle, max), *id)),
        )
    }

    /// Drops what is due by `now`, visiting at most `budget` queued entries; sessions by the
    /// given idle and absolute limits. Returns whether it stopped for the budget, with more
    /// perhaps due: the live store calls it again after letting requests have the lock.
    pub fn sweep_due(&mut self, now: u64, idle: u64, max: u64, budget: usize) -> bool {
        if self.due.limits.is_some_and(|(i, m)| idle < i || max < m) {
            // Shorter limits than the queue was built for (a reload): sessions may now end
            // before they come up, so queue them all again, once.
            self.due.sessions = self.sessions_by_end(idle, max);
        }
        self.due.limits = Some((idle, max));
        let mut left = budget;
        while let Some(id) = next_due(&mut self.due.sessions, now, &mut left) {
            let Some(session) = self.sessions.get(&id) else {
                continue;
            };
            let ends = session.ends_at(idle, max);
            if ends <= now {
                self.sessions.remove(&id);
            } else {
                self.due.sessions.push(Reverse((ends, id)));
            }
        }
        while let Some(code) = next_due(&mut self.due.codes, now, &mut left) {
            if self
                .codes
                .get(&code)
                .is_some_and(|c| c.grant.expires_at <= now)
            {
                self.codes.remove(&code);
            }
        }
        while let Some(jti) = next_due(&mut self.due.revoked_access, now, &mut left) {
            if self.revoked_access.get(&jti).is_some_and(|exp| *exp <= now) {
                self.revoked_access.remove(&jti);
            }
        }
        while let Some(name) = next_due(&mut self.due.families, now, &mut left) {
            if self
                .families
                .get(&name)
                .is_some_and(|f| f.expires_at <= now)
            {
                self.drop_family(&name);
            }
        }
        while let Some(key) = next_due(&mut self.due.claims, now, &mut left) {
            if self.claims.get(&key).is_some_and(|exp| *exp <= now) {
                self.claims.remove(&key);
            }
        }
        while let Some(name) = next_due(&mut self.due.persons, now, &mut left) {
            // A person signed in again since is queued again for its new end.
            if self.persons.get(&name).is_some_and(|p| p.expires_at <= now) {
                self.persons.remove(&name);
            }
        }
        // A client's record is in issue order, so its expired entries lead and it needs no
        // queue: each is pruned from the front. There are as many records as clients holding
        // client_credentials tokens (configured or registered, a few), so this stays short.
        self.client_access.prune(now);
        left == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::change::Change;
    use crate::store::{CodeGrant, IssuedAccess, RefreshRecord, SessionRecord};

    const IDLE: u64 = 100;
    const MAX: u64 = 1000;

    fn id(n: u64) -> TokenHash {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&n.to_be_bytes());
        TokenHash(bytes)
    }

    /// A store with sessions, codes, revoked access tokens and refresh families whose ends
    /// are spread over 0..3000, some sessions used after they were created.
    fn populated() -> State {
        let mut state = State::default();
        for n in 0..300u64 {
            let t = n * 10;
            let session = SessionRecord {
                sign_in: None,
                factor_tries: 0,
                user: format!("u{}", n % 7),
                created_at: t,
                last_seen: t,
                scope: String::new(),
                family: None,
                person: None,
            };
            state.apply(Change::PutSession { id: id(n), session });
            if n % 3 == 0 {
                state.apply(Change::TouchSession {
                    id: id(n),
                    at: t + 500,
                });
            }
            let grant = CodeGrant {
                sign_in: None,
                client_id: "c".into(),
                user: "u".into(),
                redirect_uri: "https://app/cb".into(),
                scope: String::new(),
                code_challenge: None,
                family: format!("f{n}"),
                expires_at: t + 60,
                oidc: None,
            };
            state.apply(Change::PutCode {
                code: id(10_000 + n),
                grant,
            });
            state.apply(Change::RevokeAccess {
                jti: format!("revoked{n}"),
                expires_at: t + 900,
            });
            let record = RefreshRecord {
                sign_in: None,
                family: format!("f{n}"),
                client_id: "c".into(),
                user: "u".into(),
                scope: String::new(),
                expires_at: t + 2000,
                oidc: None,
            };
            for k in 0..3u64 {
                state.apply(Change::PutRefresh {
                    token: id(20_000 + n * 3 + k),
                    record: record.clone(),
                    access: IssuedAccess {
                        jti: format!("a{n}.{k}"),
                        expires_at: t + 300 * (k + 1),
                    },
                });
            }
        }
        state
    }

    fn contents(state: &State) -> String {
        let mut sessions: Vec<_> = state.sessions.keys().collect();
        let mut codes: Vec<_> = state.codes.keys().collect();
        let mut revoked: Vec<_> = state.revoked_access.keys().collect();
        let mut refresh: Vec<_> = state.refresh.keys().collect();
        let mut families: Vec<_> = state.families.keys().collect();
        sessions.sort();
        codes.sort();
        revoked.sort();
        refresh.sort();
        families.sort();
        format!("{sessions:?}\n{codes:?}\n{revoked:?}\n{refresh:?}\n{families:?}")
    }

    #[test]
    fn batched_sweeps_by_due_time_leave_what_a_full_sweep_leaves() {
        for rebuilt in [false, true] {
            let mut batched = populated();
            let mut full = populated();
            if rebuilt {
                // As after recovery: the maps filled directly, the queues built from them.
                batched.due = Due::default();
                batched.queue_all_due((IDLE, MAX));
            }
            for now in [0, 50, 99, 100, 555, 1234, 1999, 2400, 2999, 5000] {
                let mut calls = 0;
                while batched.sweep_due(now, IDLE, MAX, 7) {
                    calls += 1;
                    assert!(calls < 10_000, "the sweep must end");
                }
                full.sweep(now, IDLE, MAX);
                assert_eq!(contents(&batched), contents(&full), "at {now}");
            }
            assert!(batched.sessions.is_empty() && batched.families.is_empty());
        }
    }

    #[test]
    fn a_rotation_prunes_the_family_access_tokens_that_have_expired() {
        let mut state = populated();
        let jtis = |state: &State| -> Vec<String> {
            state.families["f0"]
                .access
                .iter()
                .map(|a| a.jti.clone())
                .collect()
        };
        // f0's access tokens expire at 300, 600 and 900.
        assert_eq!(jtis(&state), ["a0.0", "a0.1", "a0.2"]);
        let record = state.families["f0"].tokens[2];
        let current = state.refresh[&record].record.clone();
        state.apply(Change::Rotate {
            old: record,
            at: 600,
            sealed: crate::store::SealedSuccessor(Vec::new()),
            token: id(99_999),
            record: current,
            access: IssuedAccess {
                jti: "a0.3".into(),
                expires_at: 1500,
            },
        });
        assert_eq!(jtis(&state), ["a0.2", "a0.3"]);
    }

    #[test]
    fn a_sweep_visits_only_what_is_due() {
        let mut state = populated();
        // At time 0 only entries created at 0 can be due: a small budget is enough.
        assert!(!state.sweep_due(0, IDLE, MAX, 5));
        assert_eq!(state.sessions.len(), 300);
        // Once the limits are known, a new session is queued for its real end: a sweep
        // before it visits nothing, even with a budget of one.
        let session = SessionRecord {
            sign_in: None,
            factor_tries: 0,
            user: "late".into(),
            created_at: 10,
            last_seen: 10,
            scope: String::new(),
            family: None,
            person: None,
        };
        let mut fresh = State::default();
        assert!(!fresh.sweep_due(0, IDLE, MAX, 1));
        fresh.apply(Change::PutSession { id: id(1), session });
        assert!(!fresh.sweep_due(10 + IDLE - 1, IDLE, MAX, 1));
        assert_eq!(fresh.sessions.len(), 1);
        assert!(!fresh.sweep_due(10 + IDLE, IDLE, MAX, 2));
        assert!(fresh.sessions.is_empty());
        // Shorter limits (a reload) reach sessions queued under the longer ones.
        let session = SessionRecord {
            sign_in: None,
            factor_tries: 0,
            user: "long".into(),
            created_at: 200,
            last_seen: 200,
            scope: String::new(),
            family: None,
            person: None,
        };
        fresh.apply(Change::PutSession { id: id(2), session });
        assert!(!fresh.sweep_due(250, IDLE, MAX, 4));
        assert_eq!(fresh.sessions.len(), 1);
        assert!(!fresh.sweep_due(250, 50, MAX, 4));
        assert!(fresh.sessions.is_empty());
    }
}

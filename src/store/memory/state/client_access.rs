//! The memory store's record of `client_credentials` access tokens: one issue-ordered log per
//! client, within [`CLIENT_ACCESS_PER_CLIENT`] per client and [`CLIENT_ACCESS_TOTAL`] in all.
//!
//! The total is kept as a running count beside the logs, so that recording a token costs the
//! same however many clients hold records (it was a sum over every client's log, under the
//! store's lock, at each issuance). Every change to the logs goes through this type, which
//! keeps the count; the snapshot holds only the logs and the count is rebuilt when it loads.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::store::{ClientAccess, CLIENT_ACCESS_PER_CLIENT, CLIENT_ACCESS_TOTAL};

/// A client's recorded `client_credentials` access tokens, in the order they were issued.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ClientAccessLog {
    pub entries: VecDeque<ClientAccess>,
    /// The latest expiry of a token issued past the bounds and not recorded (0: none).
    pub unlisted_until: u64,
}

impl ClientAccessLog {
    /// Drops the leading entries expired by `now`: all of them while the access-token
    /// lifetime stays the same (issue order is expiry order), and the rest at a full sweep.
    fn prune_front(&mut self, now: u64) -> usize {
        let mut dropped = 0;
        while self.entries.front().is_some_and(|a| a.expires_at <= now) {
            self.entries.pop_front();
            dropped += 1;
        }
        dropped
    }

    fn unlisted(&mut self, expires_at: u64) {
        self.unlisted_until = self.unlisted_until.max(expires_at);
    }

    /// Whether the log still says something at `now`.
    fn live(&self, now: u64) -> bool {
        !self.entries.is_empty() || self.unlisted_until > now
    }
}

/// Every client's [`ClientAccessLog`], and how many entries they hold in all.
#[derive(Debug, Default)]
pub struct ClientAccessLogs {
    logs: HashMap<String, ClientAccessLog>,
    /// The sum of the logs' lengths.
    total: usize,
}

impl ClientAccessLogs {
    /// Records a token within the bounds: past the per-client bound the client's oldest
    /// entry gives way, past the total the new token is not recorded; either is counted in
    /// `unlisted_until`. Entries expired by `at` are dropped from the client's log first.
    pub fn record(&mut self, client: String, access: ClientAccess, at: u64) {
        let log = self.logs.entry(client).or_default();
        self.total -= log.prune_front(at);
        if log.entries.len() >= CLIENT_ACCESS_PER_CLIENT {
            if let Some(oldest) = log.entries.pop_front() {
                log.unlisted(oldest.expires_at);
                self.total -= 1;
            }
        }
        if self.total >= CLIENT_ACCESS_TOTAL {
            log.unlisted(access.expires_at);
            return;
        }
        log.entries.push_back(access);
        self.total += 1;
    }

    /// Forgets a client's record (its tokens were all revoked).
    pub fn remove(&mut self, client: &str) {
        if let Some(log) = self.logs.remove(client) {
            self.total -= log.entries.len();
        }
    }

    /// Drops each log's leading entries expired by `now`, and the logs left saying nothing:
    /// the live sweep's pass (issue order is expiry order while the lifetime stays).
    pub fn prune(&mut self, now: u64) {
        let mut dropped = 0;
        self.logs.retain(|_, log| {
            dropped += log.prune_front(now);
            log.live(now)
        });
        self.total -= dropped;
    }

    /// Drops every entry expired by `now`, wherever it stands in its log (a full sweep:
    /// a lifetime shortened by a reload leaves later entries expiring first).
    pub fn sweep(&mut self, now: u64) {
        let mut dropped = 0;
        self.logs.retain(|_, log| {
            let before = log.entries.len();
            log.entries.retain(|a| a.expires_at > now);
            dropped += before - log.entries.len();
            log.live(now)
        });
        self.total -= dropped;
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &ClientAccessLog)> {
        self.logs.iter()
    }

    /// How many entries the logs hold in all.
    pub fn total(&self) -> usize {
        self.total
    }
}

/// The snapshot holds the map of logs alone, as it did before the running total.
impl Serialize for ClientAccessLogs {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.logs.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ClientAccessLogs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let logs = HashMap::<String, ClientAccessLog>::deserialize(deserializer)?;
        let total = logs.values().map(|log| log.entries.len()).sum();
        Ok(ClientAccessLogs { logs, total })
    }
}

#[cfg(test)]
mod tests;

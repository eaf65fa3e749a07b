//! Second factors in the memory store: the per-user records of [`FactorStore`] as two maps
//! under the store's one lock, each decision made there and journalled as its outcome (a
//! [`FactorChange`]), so that a replay rebuilds what the answers were given from. The
//! live sweep does not visit them (few entries, each read checks its own time); start-up and
//! compaction drop expired pending secrets and failure counts.

use std::collections::HashMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::change::Change;
use super::MemoryStore;
use crate::store::factors::{FactorFailures, FactorStore, Factors, PendingTotp};
use crate::store::StoreResult;
use crate::tokens::opaque::TokenHash;

/// One outcome of a factor operation, as journalled.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "factor", rename_all = "snake_case")]
pub enum FactorChange {
    /// An enrolment started: `pending` replaces any earlier pending secret.
    Pending { user: String, pending: PendingTotp },
    /// The pending secret became the active one at `step`, with these recovery codes.
    Confirmed {
        user: String,
        step: u64,
        recovery: Vec<TokenHash>,
    },
    /// A TOTP code of time step `step` was accepted.
    Step { user: String, step: u64 },
    /// A recovery code was used.
    Recovered { user: String, code: TokenHash },
    /// The failure count is now this (`None`: forgotten).
    Failures {
        user: String,
        failures: Option<FactorFailures>,
    },
    /// Every factor of the user was removed.
    Removed { user: String },
}

/// The maps, inside the memory store's `State`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct FactorState {
    #[serde(default)]
    users: HashMap<String, Factors>,
    #[serde(default)]
    failures: HashMap<String, FactorFailures>,
}

impl FactorState {
    pub fn apply(&mut self, change: FactorChange) {
        match change {
            FactorChange::Pending { user, pending } => {
                self.users.entry(user).or_default().pending = Some(pending);
            }
            FactorChange::Confirmed {
                user,
                step,
                recovery,
            } => {
                if let Some(factors) = self.users.get_mut(&user) {
                    if let Some(pending) = factors.pending.take() {
                        factors.totp = Some(pending.secret);
                        factors.last_step = step;
                        factors.recovery = recovery;
                    }
                }
            }
            FactorChange::Step { user, step } => {
                if let Some(factors) = self.users.get_mut(&user) {
                    factors.last_step = factors.last_step.max(step);
                }
            }
            FactorChange::Recovered { user, code } => {
                if let Some(factors) = self.users.get_mut(&user) {
                    factors.recovery.retain(|c| *c != code);
                }
            }
            FactorChange::Failures { user, failures } => match failures {
                Some(failures) => {
                    self.failures.insert(user, failures);
                }
                None => {
                    self.failures.remove(&user);
                }
            },
            FactorChange::Removed { user } => {
                self.users.remove(&user);
                self.failures.remove(&user);
            }
        }
    }

    /// How many users have a record.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Drops pending secrets and failure counts past their time, and records left empty.
    pub fn sweep(&mut self, now: u64) {
        for factors in self.users.values_mut() {
            if factors
                .pending
                .as_ref()
                .is_some_and(|p| p.expires_at <= now)
            {
                factors.pending = None;
            }
        }
        self.users
            .retain(|_, f| f.totp.is_some() || f.pending.is_some());
        self.failures.retain(|_, f| f.expires_at > now);
    }

    fn live(&self, user: &str, now: u64) -> Option<Factors> {
        let mut factors = self.users.get(user)?.clone();
        if factors
            .pending
            .as_ref()
            .is_some_and(|p| p.expires_at <= now)
        {
            factors.pending = None;
        }
        (factors.totp.is_some() || factors.pending.is_some()).then_some(factors)
    }
}

impl MemoryStore {
    /// Makes `change` (journalled) if `decide` says so under the lock; waits until it is on
    /// disk. Returns what `decide` answered.
    async fn factor_change(
        &self,
        decide: impl FnOnce(&FactorState) -> Option<FactorChange>,
    ) -> StoreResult<bool> {
        let seq = {
            let mut txn = self.begin()?;
            let Some(change) = decide(&txn.state.factors) else {
                return Ok(false);
            };
            txn.change(Change::Factor(change))?;
            txn.seq
        };
        self.commit(seq).await?;
        Ok(true)
    }
}

#[async_trait]
impl FactorStore for MemoryStore {
    async fn factors(&self, user: &str, now: u64) -> StoreResult<Option<Factors>> {
        Ok(self.read()?.factors.live(user, now))
    }

    async fn put_pending_totp(&self, user: &str, pending: PendingTotp) -> StoreResult<()> {
        self.write(Change::Factor(FactorChange::Pending {
            user: user.to_owned(),
            pending,
        }))
        .await
    }

    async fn confirm_totp(
        &self,
        user: &str,
        id: &str,
        step: u64,
        recovery: Vec<TokenHash>,
        now: u64,
    ) -> StoreResult<bool> {
        self.factor_change(|state| {
            let factors = state.users.get(user)?;
            let pending = factors.pending.as_ref()?;
            (pending.secret.id == id && pending.expires_at > now && step > factors.last_step).then(
                || FactorChange::Confirmed {
                    user: user.to_owned(),
                    step,
                    recovery,
                },
            )
        })
        .await
    }

    async fn accept_totp(&self, user: &str, id: &str, step: u64) -> StoreResult<bool> {
        self.factor_change(|state| {
            let factors = state.users.get(user)?;
            let active = factors.totp.as_ref()?;
            (active.id == id && step > factors.last_step).then(|| FactorChange::Step {
                user: user.to_owned(),
                step,
            })
        })
        .await
    }

    async fn use_recovery_code(&self, user: &str, code: &TokenHash) -> StoreResult<bool> {
        self.factor_change(|state| {
            let factors = state.users.get(user)?;
            factors
                .recovery
                .contains(code)
                .then(|| FactorChange::Recovered {
                    user: user.to_owned(),
                    code: *code,
                })
        })
        .await
    }

    async fn count_factor_attempt(
        &self,
        user: &str,
        now: u64,
        forget_after: u64,
    ) -> StoreResult<FactorFailures> {
        let (earlier, seq) = {
            let mut txn = self.begin()?;
            let earlier = txn
                .state
                .factors
                .failures
                .get(user)
                .filter(|f| f.expires_at > now)
                .copied()
                .unwrap_or_default();
            let failures = FactorFailures {
                count: earlier.count.saturating_add(1),
                last: now,
                expires_at: now.saturating_add(forget_after),
            };
            txn.change(Change::Factor(FactorChange::Failures {
                user: user.to_owned(),
                failures: Some(failures),
            }))?;
            (earlier, txn.seq)
        };
        self.commit(seq).await?;
        Ok(earlier)
    }

    async fn factor_failures(&self, user: &str, now: u64) -> StoreResult<FactorFailures> {
        Ok(self
            .read()?
            .factors
            .failures
            .get(user)
            .filter(|f| f.expires_at > now)
            .copied()
            .unwrap_or_default())
    }

    async fn clear_factor_failures(&self, user: &str) -> StoreResult<()> {
        self.factor_change(|state| {
            state
                .failures
                .contains_key(user)
                .then(|| FactorChange::Failures {
                    user: user.to_owned(),
                    failures: None,
                })
        })
        .await
        .map(|_| ())
    }

    async fn remove_factors(&self, user: &str) -> StoreResult<bool> {
        self.factor_change(|state| {
            (state.users.contains_key(user) || state.failures.contains_key(user)).then(|| {
                FactorChange::Removed {
                    user: user.to_owned(),
                }
            })
        })
        .await
    }
}

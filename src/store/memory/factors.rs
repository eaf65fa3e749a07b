//! Second factors in the memory store: the per-user records of [`FactorStore`] as two maps
//! under the store's one lock, each decision made there and journalled as its outcome (a
//! [`FactorChange`]), so that a replay rebuilds what the answers were given from. The
//! live sweep does not visit them (few entries, each read checks its own time); start-up and
//! compaction drop expired pending secrets, failure counts and WebAuthn ceremonies.
//!
//! Ceremonies are begun by pages anyone can ask for (passwordless sign-in needs only a user
//! name), so their number is bounded: past [`MAX_CEREMONIES`], the expired ones are dropped
//! (journalled as one change, so a replay drops the same) and, if that frees nothing, a new
//! ceremony is refused until some end. The HTTP side throttles starts per peer and per name
//! first (`oauth::passkey_starts`), so only a distributed flood reaches this bound.

use std::collections::HashMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::change::Change;
use super::MemoryStore;
use crate::store::factors::{FactorFailures, FactorStore, Factors, PendingTotp};
use crate::store::passkeys::{counter_advances, Ceremony, PasskeyRecord};
use crate::store::{StoreError, StoreResult};
use crate::tokens::opaque::TokenHash;

/// How many WebAuthn ceremonies the memory store keeps at once (each 1–2 KB; five minutes
/// each): ten thousand is some thirty sign-ins a second, sustained, for the five minutes.
pub const MAX_CEREMONIES: usize = 10_000;

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
    /// A passkey was registered.
    PasskeyAdded {
        user: String,
        passkey: PasskeyRecord,
    },
    /// A sign-in with the passkey `id` advanced its counter.
    PasskeyUsed {
        user: String,
        id: String,
        counter: u32,
        credential: String,
        at: u64,
    },
    /// The passkey `id` was removed.
    PasskeyRemoved { user: String, id: String },
    /// The TOTP secret (and any pending one) was removed.
    TotpRemoved { user: String },
    /// The recovery codes were replaced.
    RecoveryReplaced {
        user: String,
        recovery: Vec<TokenHash>,
    },
    /// A WebAuthn ceremony began.
    CeremonyBegun { id: TokenHash, ceremony: Ceremony },
    /// A WebAuthn ceremony was taken (used, or refused: either way it is gone).
    CeremonyTaken { id: TokenHash },
    /// The ceremonies past their time at `now` were dropped (the store was full).
    CeremoniesExpired { now: u64 },
}

/// The maps, inside the memory store's `State`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct FactorState {
    #[serde(default)]
    users: HashMap<String, Factors>,
    #[serde(default)]
    failures: HashMap<String, FactorFailures>,
    #[serde(default)]
    ceremonies: HashMap<TokenHash, Ceremony>,
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
            FactorChange::PasskeyAdded { user, passkey } => {
                self.users.entry(user).or_default().passkeys.push(passkey);
            }
            FactorChange::PasskeyUsed {
                user,
                id,
                counter,
                credential,
                at,
            } => {
                let found = self.users.get_mut(&user).and_then(|f| passkey_mut(f, &id));
                if let Some(passkey) = found {
                    passkey.counter = counter;
                    passkey.credential = credential;
                    passkey.last_used = at;
                }
            }
            FactorChange::PasskeyRemoved { user, id } => {
                if let Some(factors) = self.users.get_mut(&user) {
                    factors.passkeys.retain(|p| p.id != id);
                }
                self.drop_if_empty(&user);
            }
            FactorChange::TotpRemoved { user } => {
                if let Some(factors) = self.users.get_mut(&user) {
                    factors.totp = None;
                    factors.pending = None;
                }
                self.drop_if_empty(&user);
            }
            FactorChange::RecoveryReplaced { user, recovery } => {
                if let Some(factors) = self.users.get_mut(&user) {
                    factors.recovery = recovery;
                }
            }
            FactorChange::CeremonyBegun { id, ceremony } => {
                self.ceremonies.insert(id, ceremony);
            }
            FactorChange::CeremonyTaken { id } => {
                self.ceremonies.remove(&id);
            }
            FactorChange::CeremoniesExpired { now } => {
                self.ceremonies.retain(|_, c| c.expires_at > now);
            }
        }
    }

    /// Forgets a user's record once it holds nothing to sign in with or to confirm.
    fn drop_if_empty(&mut self, user: &str) {
        if self.users.get(user).is_some_and(Factors::is_empty) {
            self.users.remove(user);
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
        self.users.retain(|_, f| !f.is_empty());
        self.failures.retain(|_, f| f.expires_at > now);
        self.ceremonies.retain(|_, c| c.expires_at > now);
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
        (!factors.is_empty()).then_some(factors)
    }
}

fn passkey_mut<'a>(factors: &'a mut Factors, id: &str) -> Option<&'a mut PasskeyRecord> {
    factors.passkeys.iter_mut().find(|p| p.id == id)
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

    async fn add_passkey(
        &self,
        user: &str,
        passkey: PasskeyRecord,
        max: usize,
    ) -> StoreResult<bool> {
        self.factor_change(|state| {
            let known = state.users.get(user).map_or(&[][..], |f| &f.passkeys[..]);
            (known.len() < max && !known.iter().any(|p| p.id == passkey.id)).then(|| {
                FactorChange::PasskeyAdded {
                    user: user.to_owned(),
                    passkey,
                }
            })
        })
        .await
    }

    async fn use_passkey(
        &self,
        user: &str,
        id: &str,
        counter: u32,
        credential: &str,
        now: u64,
    ) -> StoreResult<bool> {
        self.factor_change(|state| {
            let stored = state
                .users
                .get(user)?
                .passkeys
                .iter()
                .find(|p| p.id == id)?;
            counter_advances(stored.counter, counter).then(|| FactorChange::PasskeyUsed {
                user: user.to_owned(),
                id: id.to_owned(),
                counter,
                credential: credential.to_owned(),
                at: now,
            })
        })
        .await
    }

    async fn remove_passkey(&self, user: &str, id: &str) -> StoreResult<bool> {
        self.factor_change(|state| {
            let factors = state.users.get(user)?;
            factors
                .passkeys
                .iter()
                .any(|p| p.id == id)
                .then(|| FactorChange::PasskeyRemoved {
                    user: user.to_owned(),
                    id: id.to_owned(),
                })
        })
        .await
    }

    async fn remove_totp(&self, user: &str) -> StoreResult<bool> {
        self.factor_change(|state| {
            let factors = state.users.get(user)?;
            (factors.totp.is_some() || factors.pending.is_some()).then(|| {
                FactorChange::TotpRemoved {
                    user: user.to_owned(),
                }
            })
        })
        .await
    }

    async fn replace_recovery_codes(&self, user: &str, codes: Vec<TokenHash>) -> StoreResult<bool> {
        self.factor_change(|state| {
            state
                .users
                .get(user)
                .filter(|f| f.enrolled())
                .map(|_| FactorChange::RecoveryReplaced {
                    user: user.to_owned(),
                    recovery: codes,
                })
        })
        .await
    }

    async fn put_ceremony(&self, id: &TokenHash, ceremony: Ceremony, now: u64) -> StoreResult<()> {
        let seq = {
            let mut txn = self.begin()?;
            let full = |ceremonies: &HashMap<TokenHash, Ceremony>| {
                ceremonies.len() >= MAX_CEREMONIES && !ceremonies.contains_key(id)
            };
            if full(&txn.state.factors.ceremonies) {
                let ceremonies = &txn.state.factors.ceremonies;
                if ceremonies.values().any(|c| c.expires_at <= now) {
                    txn.change(Change::Factor(FactorChange::CeremoniesExpired { now }))?;
                }
                if full(&txn.state.factors.ceremonies) {
                    return Err(StoreError(format!(
                        "{MAX_CEREMONIES} WebAuthn ceremonies are under way already"
                    )));
                }
            }
            txn.change(Change::Factor(FactorChange::CeremonyBegun {
                id: *id,
                ceremony,
            }))?;
            txn.seq
        };
        self.commit(seq).await
    }

    async fn peek_ceremony(&self, id: &TokenHash, now: u64) -> StoreResult<Option<Ceremony>> {
        let state = self.read()?;
        let found = state.factors.ceremonies.get(id);
        Ok(found.filter(|c| c.expires_at > now).cloned())
    }

    async fn take_ceremony(&self, id: &TokenHash, now: u64) -> StoreResult<Option<Ceremony>> {
        let (found, seq) = {
            let mut txn = self.begin()?;
            let Some(found) = txn.state.factors.ceremonies.get(id).cloned() else {
                return Ok(None);
            };
            txn.change(Change::Factor(FactorChange::CeremonyTaken { id: *id }))?;
            (found, txn.seq)
        };
        self.commit(seq).await?;
        Ok((found.expires_at > now).then_some(found))
    }
}

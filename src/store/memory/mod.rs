//! The memory store: one mutex over plain maps ([`state::State`]), so every operation is
//! atomic by construction and short; optionally persisted ([`crate::store::persist`]).
//!
//! Every operation that changes something says so as one [`change::Change`]: appended to the
//! journal and applied to the maps under the lock, then, after the lock is released, awaited
//! until it is on disk, so no answer is ever sent that a crash could take back. An answer
//! that hands out what another request changed moments ago (a grace-window replay, a
//! replayed code) also waits until that change is on disk. Session use is journalled at most
//! once a minute per session and never awaited: a crash can only make a session look up to a
//! minute older.

pub mod change;
mod due;
mod factors;
pub use factors::MAX_CEREMONIES;
mod signing_keys;
pub mod state;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use super::persist::journal::{Journal, Start};
use super::persist::{lock_dir, recovery, DirLock, Options};
use super::{
    ClientAccess, ClientTokens, CodeGrant, CodeTake, GrantFilter, GrantSummary, IssuedAccess,
    NextRefresh, PersonRecord, RefreshLookup, RefreshRecord, Rotation, SessionLimits,
    SessionRecord, Store, StoreError, StoreResult, StoreStats, Subject,
};
use crate::config::ClientConfig;
use crate::tokens::opaque::TokenHash;
use change::Change;
use state::{consent_key, subject_key, State};

/// The signing-key document persisted under `dir`, read without opening the store (no lock:
/// a running gateway keeps it; the file is replaced atomically): `authgate token inspect`.
pub fn persisted_signing_keys(dir: &Path) -> StoreResult<Option<super::StoredKeys>> {
    signing_keys::KeyFile::open(dir).map_err(StoreError)?.get()
}

/// Expired entries the live sweep drops under one hold of the lock, at most.
const SWEEP_BATCH: usize = 256;

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    journal: Option<Journal>,
    /// The limits compaction sweeps sessions by, shared with the journal writer.
    session_limits: Option<Arc<SessionLimits>>,
    /// The sealed signing-key document (its own file, not the journal).
    signing_keys: signing_keys::KeyFile,
    _lock: Option<DirLock>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("persisted", &self.journal.is_some())
            .finish()
    }
}

/// The lock held, and the last change made under it.
struct Txn<'a> {
    state: MutexGuard<'a, State>,
    journal: Option<&'a Journal>,
    seq: u64,
}

impl Txn<'_> {
    /// Journals `change` (first, so a journal that can no longer write refuses it) and makes it.
    fn change(&mut self, change: Change) -> StoreResult<()> {
        if let Some(journal) = self.journal {
            self.seq = journal.append(&change)?;
        }
        self.state.apply(change);
        Ok(())
    }

    /// Journals `change` without making the caller wait for it (a session's last use).
    fn note(&mut self, change: Change) -> StoreResult<()> {
        if let Some(journal) = self.journal {
            journal.append(&change)?;
        }
        self.state.apply(change);
        Ok(())
    }
}

impl MemoryStore {
    /// A store that lives only as long as the process (tests, benchmarks).
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// Opens (or creates) the store persisted in `dir`, recovering what is there. Refuses,
    /// with the file and line, anything it cannot read back; refuses a directory another
    /// gateway is using.
    pub fn open(dir: &Path, options: Options) -> Result<MemoryStore, String> {
        crate::private_file::create_private_dir(dir)?;
        let lock = lock_dir(dir)?;
        let started = std::time::Instant::now();
        let mut recovered = recovery::recover(dir)?;
        let signing_keys = signing_keys::KeyFile::open(dir)?;
        for warning in &recovered.warnings {
            tracing::warn!("token store: {warning}");
        }
        let now = options.clock.now();
        let (idle, max) = options.session_limits.get();
        recovered.state.sweep(now, idle, max);
        recovered.state.queue_all_due((idle, max));
        tracing::info!(
            dir = %dir.display(),
            ms = started.elapsed().as_millis() as u64,
            refresh_tokens = recovered.state.refresh.len(),
            sessions = recovered.state.sessions.len(),
            "token store recovered"
        );
        let session_limits = options.session_limits.clone();
        let journal = Journal::start(Start {
            dir: dir.to_path_buf(),
            generation: recovered.generation,
            next_seq: recovered.next_seq,
            journal_bytes: recovered.journal_bytes,
            options,
        })?;
        Ok(MemoryStore {
            state: Mutex::new(recovered.state),
            journal: Some(journal),
            session_limits: Some(session_limits),
            signing_keys,
            _lock: Some(lock),
        })
    }

    /// Waits until no compaction of the persisted store runs and none is due for the changes
    /// made so far: then what it folded is in the snapshot and its journals are deleted.
    /// At once for a store in memory only. For tests and benchmarks, which would otherwise
    /// guess how long a compaction at the lowest priority takes.
    pub async fn compaction_idle(&self) {
        if let Some(journal) = &self.journal {
            journal.compaction_idle().await;
        }
    }

    fn begin(&self) -> StoreResult<Txn<'_>> {
        let state = self
            .state
            .lock()
            .map_err(|_| StoreError("the memory store's lock is poisoned".to_owned()))?;
        Ok(Txn {
            state,
            journal: self.journal.as_ref(),
            seq: 0,
        })
    }

    fn read(&self) -> StoreResult<MutexGuard<'_, State>> {
        self.state
            .lock()
            .map_err(|_| StoreError("the memory store's lock is poisoned".to_owned()))
    }

    /// Waits until change `seq` (0: none was made) is on disk.
    async fn commit(&self, seq: u64) -> StoreResult<()> {
        match (&self.journal, seq) {
            (Some(journal), seq) if seq > 0 => journal.durable(seq).await,
            _ => Ok(()),
        }
    }

    /// Waits until every change made so far is on disk: before handing out what another
    /// request just changed.
    async fn settle(&self) -> StoreResult<()> {
        match &self.journal {
            Some(journal) => journal.durable(journal.last_queued()?).await,
            None => Ok(()),
        }
    }

    async fn write(&self, change: Change) -> StoreResult<()> {
        let seq = {
            let mut txn = self.begin()?;
            txn.change(change)?;
            txn.seq
        };
        self.commit(seq).await
    }
}

impl MemoryStore {
    /// [`Store::access_revoked`], from memory.
    fn revoked_now(
        &self,
        jti: &str,
        client: &str,
        user: Option<&str>,
        iat: u64,
    ) -> StoreResult<bool> {
        let state = self.read()?;
        if state.revoked_access.contains_key(jti) {
            return Ok(true);
        }
        // The usual case, no cut-off ever set, costs no key to build.
        if state.cutoffs.is_empty() {
            return Ok(false);
        }
        let before = |subject: Subject| {
            state
                .cutoffs
                .get(&subject_key(&subject))
                .is_some_and(|c| iat < *c)
        };
        Ok(before(Subject::Client(client.to_owned()))
            || user.is_some_and(|u| before(Subject::User(u.to_owned()))))
    }

    /// [`Store::touch_session`], in memory: the idle limit slid forward, journalled at
    /// most once a minute per session (a later crash loses under a minute of idle time);
    /// the live session is lent to `visit`, under the lock. `false`: no live session.
    fn touched(
        &self,
        id: &TokenHash,
        now: u64,
        idle_secs: u64,
        max_secs: u64,
        visit: &mut dyn FnMut(&SessionRecord),
    ) -> StoreResult<bool> {
        let mut txn = self.begin()?;
        let Some(session) = txn.state.sessions.get_mut(id) else {
            return Ok(false);
        };
        if session.ends_at(idle_secs, max_secs) <= now {
            txn.state.sessions.remove(id);
            return Ok(false);
        }
        // Within the minute last journalled (nearly every request): slid in place and lent
        // from the one lookup.
        if now / 60 == session.last_seen / 60 {
            session.last_seen = session.last_seen.max(now);
            visit(session);
            return Ok(true);
        }
        txn.note(Change::TouchSession { id: *id, at: now })?;
        match txn.state.sessions.get(id) {
            Some(session) => {
                visit(session);
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn put_code(&self, code: TokenHash, grant: CodeGrant) -> StoreResult<()> {
        self.write(Change::PutCode { code, grant }).await
    }

    async fn take_code(&self, code: &TokenHash, now: u64) -> StoreResult<CodeTake> {
        let (take, seq) = {
            let mut txn = self.begin()?;
            let Some(entry) = txn.state.codes.get(code) else {
                return Ok(CodeTake::Unknown);
            };
            if entry.grant.expires_at <= now {
                txn.state.codes.remove(code);
                return Ok(CodeTake::Unknown);
            }
            let grant = entry.grant.clone();
            if entry.used {
                (CodeTake::Replayed(grant), None)
            } else {
                txn.change(Change::UseCode { code: *code })?;
                (CodeTake::Fresh(grant), Some(txn.seq))
            }
        };
        match seq {
            Some(seq) => self.commit(seq).await?,
            None => self.settle().await?,
        }
        Ok(take)
    }

    async fn put_refresh(
        &self,
        token: TokenHash,
        record: RefreshRecord,
        access: IssuedAccess,
    ) -> StoreResult<()> {
        self.write(Change::PutRefresh {
            token,
            record,
            access,
        })
        .await
    }

    async fn get_refresh(&self, token: &TokenHash, now: u64) -> StoreResult<Option<RefreshLookup>> {
        let state = self.read()?;
        let Some(entry) = state.refresh.get(token) else {
            return Ok(None);
        };
        if entry.record.expires_at <= now || !state.family_live(&entry.record.family, now) {
            return Ok(None);
        }
        Ok(Some(RefreshLookup {
            record: entry.record.clone(),
            current: entry.rotated.is_none(),
        }))
    }

    async fn rotate_refresh(
        &self,
        old: &TokenHash,
        next: NextRefresh,
        now: u64,
        grace_secs: u64,
    ) -> StoreResult<Rotation> {
        let (rotation, seq) = {
            let mut txn = self.begin()?;
            let Some(entry) = txn.state.refresh.get(old) else {
                return Ok(Rotation::Unknown);
            };
            let family = entry.record.family.clone();
            if entry.record.expires_at <= now || !txn.state.family_live(&family, now) {
                return Ok(Rotation::Unknown);
            }
            if let Some((rotated_at, sealed)) = &entry.rotated {
                if grace_secs > 0 && now < rotated_at.saturating_add(grace_secs) {
                    (Rotation::Grace(sealed.clone()), None)
                } else {
                    txn.change(Change::RevokeFamily {
                        family: family.clone(),
                    })?;
                    (Rotation::Reused { family }, Some(txn.seq))
                }
            } else if next.record.family != family {
                return Ok(Rotation::Unknown);
            } else {
                txn.change(Change::Rotate {
                    old: *old,
                    at: now,
                    sealed: next.sealed,
                    token: next.token,
                    record: next.record,
                    access: next.access,
                })?;
                (Rotation::Rotated, Some(txn.seq))
            }
        };
        match seq {
            Some(seq) => self.commit(seq).await?,
            None => self.settle().await?,
        }
        Ok(rotation)
    }

    async fn revoke_family(&self, family: &str, _now: u64) -> StoreResult<()> {
        let seq = {
            let mut txn = self.begin()?;
            if txn.state.families.get(family).is_none_or(|f| f.revoked) {
                return Ok(());
            }
            txn.change(Change::RevokeFamily {
                family: family.to_owned(),
            })?;
            txn.seq
        };
        self.commit(seq).await
    }

    async fn revoke_access(&self, jti: &str, expires_at: u64) -> StoreResult<()> {
        self.write(Change::RevokeAccess {
            jti: jti.to_owned(),
            expires_at,
        })
        .await
    }

    async fn is_access_revoked(&self, jti: &str) -> StoreResult<bool> {
        Ok(self.read()?.revoked_access.contains_key(jti))
    }

    async fn access_revoked(
        &self,
        jti: &str,
        client: &str,
        user: Option<&str>,
        iat: u64,
    ) -> StoreResult<bool> {
        self.revoked_now(jti, client, user, iat)
    }

    fn access_revoked_now(
        &self,
        jti: &str,
        client: &str,
        user: Option<&str>,
        iat: u64,
    ) -> Option<StoreResult<bool>> {
        Some(self.revoked_now(jti, client, user, iat))
    }

    async fn revoke_subject(&self, subject: Subject, cutoff: u64, _now: u64) -> StoreResult<()> {
        self.write(Change::RevokeSubject { subject, cutoff }).await
    }

    async fn cutoff(&self, subject: &Subject) -> StoreResult<Option<u64>> {
        Ok(self.read()?.cutoffs.get(&subject_key(subject)).copied())
    }

    async fn claim_once(&self, key: &TokenHash, expires_at: u64, now: u64) -> StoreResult<bool> {
        let seq = {
            let mut txn = self.begin()?;
            if expires_at <= now || txn.state.claims.get(key).is_some_and(|exp| *exp > now) {
                return Ok(false);
            }
            txn.change(Change::Claim {
                key: *key,
                expires_at,
            })?;
            txn.seq
        };
        self.commit(seq).await?;
        Ok(true)
    }

    async fn record_client_access(
        &self,
        client: &str,
        access: ClientAccess,
        now: u64,
    ) -> StoreResult<()> {
        self.write(Change::RecordClientAccess {
            client: client.to_owned(),
            access,
            at: now,
        })
        .await
    }

    async fn list_client_access(
        &self,
        client: Option<&str>,
        now: u64,
        limit: usize,
    ) -> StoreResult<Vec<ClientTokens>> {
        Ok(self.read()?.list_client_access(client, now, limit))
    }

    async fn put_consent(&self, user: &str, client: &str, scopes: &[String]) -> StoreResult<()> {
        self.write(Change::PutConsent {
            user: user.to_owned(),
            client: client.to_owned(),
            scopes: scopes.to_vec(),
        })
        .await
    }

    async fn consent(&self, user: &str, client: &str) -> StoreResult<Vec<String>> {
        Ok(self
            .read()?
            .consents
            .get(&consent_key(user, client))
            .cloned()
            .unwrap_or_default())
    }

    async fn put_session(&self, id: TokenHash, session: SessionRecord) -> StoreResult<()> {
        self.write(Change::PutSession { id, session }).await
    }

    async fn touch_session(
        &self,
        id: &TokenHash,
        now: u64,
        idle_secs: u64,
        max_secs: u64,
    ) -> StoreResult<Option<SessionRecord>> {
        let mut found = None;
        self.touched(id, now, idle_secs, max_secs, &mut |s| {
            found = Some(s.clone())
        })?;
        Ok(found)
    }

    fn touch_session_with(
        &self,
        id: &TokenHash,
        now: u64,
        idle_secs: u64,
        max_secs: u64,
        visit: &mut dyn FnMut(&SessionRecord),
    ) -> Option<StoreResult<bool>> {
        Some(self.touched(id, now, idle_secs, max_secs, visit))
    }

    async fn delete_session(&self, id: &TokenHash) -> StoreResult<()> {
        let seq = {
            let mut txn = self.begin()?;
            if !txn.state.sessions.contains_key(id) {
                return Ok(());
            }
            txn.change(Change::DeleteSession { id: *id })?;
            txn.seq
        };
        self.commit(seq).await
    }

    async fn put_person(&self, principal: &str, person: PersonRecord) -> StoreResult<()> {
        self.write(Change::PutPerson {
            principal: principal.to_owned(),
            person,
        })
        .await
    }

    async fn person(&self, principal: &str, now: u64) -> StoreResult<Option<PersonRecord>> {
        Ok(self
            .read()?
            .persons
            .get(principal)
            .filter(|p| p.expires_at > now)
            .cloned())
    }

    async fn put_client(&self, client: ClientConfig, max: usize) -> StoreResult<bool> {
        let seq = {
            let mut txn = self.begin()?;
            let clients = &txn.state.clients;
            if clients.len() >= max && !clients.contains_key(&client.id) {
                return Ok(false);
            }
            txn.change(Change::PutClient { client })?;
            txn.seq
        };
        self.commit(seq).await?;
        Ok(true)
    }

    async fn get_client(&self, id: &str) -> StoreResult<Option<ClientConfig>> {
        Ok(self.read()?.clients.get(id).cloned())
    }

    async fn list_grants(
        &self,
        filter: &GrantFilter,
        now: u64,
        limit: usize,
    ) -> StoreResult<Vec<GrantSummary>> {
        Ok(self.read()?.list_grants(filter, now, limit))
    }

    fn health(&self) -> Result<(), String> {
        match &self.journal {
            Some(journal) if journal.has_failed() => {
                Err("the token store cannot write its journal".to_owned())
            }
            _ => Ok(()),
        }
    }

    async fn stats(&self) -> StoreResult<StoreStats> {
        Ok(self.read()?.stats())
    }

    async fn signing_keys(&self) -> StoreResult<Option<super::StoredKeys>> {
        self.signing_keys.get()
    }

    async fn swap_signing_keys(&self, expected: u64, document: Vec<u8>) -> StoreResult<bool> {
        self.signing_keys.swap(expected, document)
    }

    fn set_session_limits(&self, session_idle: u64, session_max: u64) {
        if let Some(limits) = &self.session_limits {
            limits.set(session_idle, session_max);
        }
    }

    async fn sweep(&self, now: u64, session_idle: u64, session_max: u64) -> StoreResult<()> {
        while self
            .read()?
            .sweep_due(now, session_idle, session_max, SWEEP_BATCH)
        {
            // Let requests waiting for the lock in between.
            tokio::task::yield_now().await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

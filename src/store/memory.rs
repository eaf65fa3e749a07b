//! The in-memory store: one mutex over plain maps, so every operation is atomic by
//! construction and short (no I/O is ever done while it is held).
//!
//! Persistence (a JSON journal and snapshot under `data_dir`) builds on this type: `State`
//! is serde-ready for that purpose.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{
    CodeGrant, CodeTake, GrantFilter, GrantSummary, IssuedAccess, NextRefresh, RefreshLookup,
    RefreshRecord, Rotation, SealedSuccessor, SessionRecord, Store, StoreError, StoreResult,
    StoreStats, Subject,
};
use crate::config::ClientConfig;
use crate::tokens::opaque::TokenHash;

#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    codes: HashMap<TokenHash, CodeEntry>,
    refresh: HashMap<TokenHash, RefreshEntry>,
    families: HashMap<String, FamilyEntry>,
    revoked_access: HashMap<String, u64>,
    cutoffs: HashMap<String, u64>,
    consents: HashMap<String, Vec<String>>,
    sessions: HashMap<TokenHash, SessionRecord>,
    #[serde(default)]
    clients: HashMap<String, ClientConfig>,
}

#[derive(Debug, Serialize, Deserialize)]
struct CodeEntry {
    grant: CodeGrant,
    used: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct RefreshEntry {
    record: RefreshRecord,
    /// When it was rotated, and the pair that rotation produced (sealed).
    rotated: Option<(u64, SealedSuccessor)>,
}

#[derive(Debug, Serialize, Deserialize)]
struct FamilyEntry {
    user: String,
    client_id: String,
    revoked: bool,
    expires_at: u64,
    access: Vec<IssuedAccess>,
    tokens: Vec<TokenHash>,
}

fn subject_key(subject: &Subject) -> String {
    match subject {
        Subject::User(name) => format!("user:{name}"),
        Subject::Client(id) => format!("client:{id}"),
    }
}

fn consent_key(user: &str, client: &str) -> String {
    // Neither may contain a newline (config validation), so the key is unambiguous.
    format!("{user}\n{client}")
}

impl MemoryStore {
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn lock(&self) -> StoreResult<MutexGuard<'_, State>> {
        self.state
            .lock()
            .map_err(|_| StoreError("the memory store's lock is poisoned".to_owned()))
    }
}

impl State {
    fn family_live(&self, family: &str, now: u64) -> bool {
        self.families
            .get(family)
            .is_some_and(|f| !f.revoked && f.expires_at > now)
    }

    /// Records a family's new current token and access token (expired ones are pruned by `sweep`).
    fn track(&mut self, token: TokenHash, record: &RefreshRecord, access: IssuedAccess) {
        let family = self
            .families
            .entry(record.family.clone())
            .or_insert_with(|| FamilyEntry {
                user: record.user.clone(),
                client_id: record.client_id.clone(),
                revoked: false,
                expires_at: record.expires_at,
                access: Vec::new(),
                tokens: Vec::new(),
            });
        family.access.push(access);
        family.tokens.push(token);
    }

    fn revoke_family(&mut self, family: &str) {
        let Some(entry) = self.families.get_mut(family) else {
            return;
        };
        entry.revoked = true;
        for access in entry.access.drain(..) {
            self.revoked_access.insert(access.jti, access.expires_at);
        }
        for token in entry.tokens.drain(..) {
            self.refresh.remove(&token);
        }
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn put_code(&self, code: TokenHash, grant: CodeGrant) -> StoreResult<()> {
        self.lock()?
            .codes
            .insert(code, CodeEntry { grant, used: false });
        Ok(())
    }

    async fn take_code(&self, code: &TokenHash, now: u64) -> StoreResult<CodeTake> {
        let mut state = self.lock()?;
        let Some(entry) = state.codes.get_mut(code) else {
            return Ok(CodeTake::Unknown);
        };
        if entry.grant.expires_at <= now {
            state.codes.remove(code);
            return Ok(CodeTake::Unknown);
        }
        if entry.used {
            return Ok(CodeTake::Replayed(entry.grant.clone()));
        }
        entry.used = true;
        Ok(CodeTake::Fresh(entry.grant.clone()))
    }

    async fn put_refresh(
        &self,
        token: TokenHash,
        record: RefreshRecord,
        access: IssuedAccess,
    ) -> StoreResult<()> {
        let mut state = self.lock()?;
        state.track(token, &record, access);
        state.refresh.insert(
            token,
            RefreshEntry {
                record,
                rotated: None,
            },
        );
        Ok(())
    }

    async fn get_refresh(&self, token: &TokenHash, now: u64) -> StoreResult<Option<RefreshLookup>> {
        let state = self.lock()?;
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
        let mut state = self.lock()?;
        let Some(entry) = state.refresh.get(old) else {
            return Ok(Rotation::Unknown);
        };
        let family = entry.record.family.clone();
        if entry.record.expires_at <= now || !state.family_live(&family, now) {
            return Ok(Rotation::Unknown);
        }
        if let Some((rotated_at, sealed)) = &entry.rotated {
            if grace_secs > 0 && now < rotated_at.saturating_add(grace_secs) {
                return Ok(Rotation::Grace(sealed.clone()));
            }
            state.revoke_family(&family);
            return Ok(Rotation::Reused { family });
        }
        if next.record.family != family {
            return Ok(Rotation::Unknown);
        }
        if let Some(entry) = state.refresh.get_mut(old) {
            entry.rotated = Some((now, next.sealed));
        }
        state.track(next.token, &next.record, next.access);
        state.refresh.insert(
            next.token,
            RefreshEntry {
                record: next.record,
                rotated: None,
            },
        );
        Ok(Rotation::Rotated)
    }

    async fn revoke_family(&self, family: &str, _now: u64) -> StoreResult<()> {
        self.lock()?.revoke_family(family);
        Ok(())
    }

    async fn revoke_access(&self, jti: &str, expires_at: u64) -> StoreResult<()> {
        self.lock()?
            .revoked_access
            .insert(jti.to_owned(), expires_at);
        Ok(())
    }

    async fn is_access_revoked(&self, jti: &str) -> StoreResult<bool> {
        Ok(self.lock()?.revoked_access.contains_key(jti))
    }

    async fn revoke_subject(&self, subject: Subject, cutoff: u64, _now: u64) -> StoreResult<()> {
        let mut state = self.lock()?;
        let families: Vec<String> = state
            .families
            .iter()
            .filter(|(_, f)| match &subject {
                Subject::User(name) => f.user == *name,
                Subject::Client(id) => f.client_id == *id,
            })
            .map(|(name, _)| name.clone())
            .collect();
        for family in families {
            state.revoke_family(&family);
        }
        if let Subject::User(name) = &subject {
            state.sessions.retain(|_, s| s.user != *name);
        }
        let key = subject_key(&subject);
        let current = state.cutoffs.get(&key).copied().unwrap_or(0);
        state.cutoffs.insert(key, current.max(cutoff));
        Ok(())
    }

    async fn cutoff(&self, subject: &Subject) -> StoreResult<Option<u64>> {
        Ok(self.lock()?.cutoffs.get(&subject_key(subject)).copied())
    }

    async fn put_consent(&self, user: &str, client: &str, scopes: &[String]) -> StoreResult<()> {
        let mut state = self.lock()?;
        let granted = state.consents.entry(consent_key(user, client)).or_default();
        for scope in scopes {
            if !granted.contains(scope) {
                granted.push(scope.clone());
            }
        }
        Ok(())
    }

    async fn consent(&self, user: &str, client: &str) -> StoreResult<Vec<String>> {
        Ok(self
            .lock()?
            .consents
            .get(&consent_key(user, client))
            .cloned()
            .unwrap_or_default())
    }

    async fn put_session(&self, id: TokenHash, session: SessionRecord) -> StoreResult<()> {
        self.lock()?.sessions.insert(id, session);
        Ok(())
    }

    async fn touch_session(
        &self,
        id: &TokenHash,
        now: u64,
        idle_secs: u64,
        max_secs: u64,
    ) -> StoreResult<Option<SessionRecord>> {
        let mut state = self.lock()?;
        let Some(session) = state.sessions.get_mut(id) else {
            return Ok(None);
        };
        let idle_over = session.last_seen.saturating_add(idle_secs) <= now;
        let age_over = session.created_at.saturating_add(max_secs) <= now;
        if idle_over || age_over {
            state.sessions.remove(id);
            return Ok(None);
        }
        session.last_seen = now;
        Ok(Some(session.clone()))
    }

    async fn delete_session(&self, id: &TokenHash) -> StoreResult<()> {
        self.lock()?.sessions.remove(id);
        Ok(())
    }

    async fn put_client(&self, client: ClientConfig, max: usize) -> StoreResult<bool> {
        let mut state = self.lock()?;
        if state.clients.len() >= max && !state.clients.contains_key(&client.id) {
            return Ok(false);
        }
        state.clients.insert(client.id.clone(), client);
        Ok(true)
    }

    async fn get_client(&self, id: &str) -> StoreResult<Option<ClientConfig>> {
        Ok(self.lock()?.clients.get(id).cloned())
    }

    async fn list_grants(
        &self,
        filter: &GrantFilter,
        now: u64,
        limit: usize,
    ) -> StoreResult<Vec<GrantSummary>> {
        let state = self.lock()?;
        let mut out: Vec<GrantSummary> = state
            .families
            .iter()
            .filter(|(_, f)| {
                !f.revoked && f.expires_at > now && filter.matches(&f.user, &f.client_id)
            })
            .take(limit)
            .map(|(name, f)| GrantSummary {
                family: name.clone(),
                user: f.user.clone(),
                client_id: f.client_id.clone(),
                expires_at: f.expires_at,
                access: f
                    .access
                    .iter()
                    .filter(|a| a.expires_at > now)
                    .cloned()
                    .collect(),
            })
            .collect();
        out.sort_by(|a, b| a.family.cmp(&b.family));
        Ok(out)
    }

    async fn stats(&self) -> StoreResult<StoreStats> {
        let state = self.lock()?;
        Ok(StoreStats {
            entries: vec![
                ("code", state.codes.len() as u64),
                ("refresh_token", state.refresh.len() as u64),
                ("family", state.families.len() as u64),
                ("revoked_access", state.revoked_access.len() as u64),
                ("session", state.sessions.len() as u64),
                ("client", state.clients.len() as u64),
            ],
        })
    }

    async fn sweep(&self, now: u64, session_idle: u64, session_max: u64) -> StoreResult<()> {
        let mut state = self.lock()?;
        state.sessions.retain(|_, s| {
            s.last_seen.saturating_add(session_idle) > now
                && s.created_at.saturating_add(session_max) > now
        });
        state.codes.retain(|_, c| c.grant.expires_at > now);
        state.revoked_access.retain(|_, exp| *exp > now);
        let dead: Vec<String> = state
            .families
            .iter()
            .filter(|(_, f)| f.expires_at <= now)
            .map(|(name, _)| name.clone())
            .collect();
        for family in dead {
            if let Some(entry) = state.families.remove(&family) {
                for token in entry.tokens {
                    state.refresh.remove(&token);
                }
            }
        }
        state
            .families
            .values_mut()
            .for_each(|f| f.access.retain(|a| a.expires_at > now));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passes_the_conformance_suite() {
        crate::store::conformance::run(|| async { MemoryStore::new() }).await;
    }
}

//! The memory store's data: plain maps, the one function that changes them ([`State::apply`],
//! used both live and when replaying the journal), the reads, and the sweep of what expired.
//!
//! This is also the snapshot's shape: `State` is serialised whole by compaction (all but the
//! expiry queues of `due.rs`, which start-up rebuilds).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::change::Change;
use super::due::Due;
use crate::config::ClientConfig;
use crate::store::{
    ClientAccess, ClientTokens, CodeGrant, GrantFilter, GrantSummary, IssuedAccess, PersonRecord,
    RefreshRecord, SealedSuccessor, SessionRecord, StoreStats, Subject,
};
use crate::tokens::opaque::TokenHash;

mod client_access;
pub use client_access::ClientAccessLogs;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub codes: HashMap<TokenHash, CodeEntry>,
    pub refresh: HashMap<TokenHash, RefreshEntry>,
    pub families: HashMap<String, FamilyEntry>,
    pub revoked_access: HashMap<String, u64>,
    pub cutoffs: HashMap<String, u64>,
    pub consents: HashMap<String, Vec<String>>,
    pub sessions: HashMap<TokenHash, SessionRecord>,
    #[serde(default)]
    pub clients: HashMap<String, ClientConfig>,
    /// Claimed one-time markers, until when.
    #[serde(default)]
    pub claims: HashMap<TokenHash, u64>,
    /// Each client's recorded `client_credentials` access tokens.
    #[serde(default)]
    pub client_access: ClientAccessLogs,
    /// Federated people, by principal (snapshots before them load without any).
    #[serde(default)]
    pub persons: HashMap<String, PersonRecord>,
    /// Second factors and their failure counts (snapshots before them load without any).
    #[serde(default)]
    pub factors: super::factors::FactorState,
    /// When entries fall due, for the live sweep.
    #[serde(skip)]
    pub due: Due,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct CodeEntry {
    pub grant: CodeGrant,
    pub used: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct RefreshEntry {
    pub record: RefreshRecord,
    /// When it was rotated, and the pair that rotation produced (sealed).
    pub rotated: Option<(u64, SealedSuccessor)>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct FamilyEntry {
    pub user: String,
    pub client_id: String,
    pub revoked: bool,
    pub expires_at: u64,
    pub access: Vec<IssuedAccess>,
    pub tokens: Vec<TokenHash>,
    /// The login session of an OpenID Connect grant (absent in older snapshots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

pub fn subject_key(subject: &Subject) -> String {
    match subject {
        Subject::User(name) => format!("user:{name}"),
        Subject::Client(id) => format!("client:{id}"),
    }
}

pub fn consent_key(user: &str, client: &str) -> String {
    // Neither may contain a newline (config validation), so the key is unambiguous.
    format!("{user}\n{client}")
}

impl State {
    /// Makes `change`. Total: a change whose subject is gone (swept since) does nothing, so
    /// replay never fails on a well-formed journal.
    pub fn apply(&mut self, change: Change) {
        match change {
            Change::PutCode { code, grant } => {
                self.due.code(code, grant.expires_at);
                self.codes.insert(code, CodeEntry { grant, used: false });
            }
            Change::UseCode { code } => {
                if let Some(entry) = self.codes.get_mut(&code) {
                    entry.used = true;
                }
            }
            Change::PutRefresh {
                token,
                record,
                access,
            } => self.put_current(token, record, access),
            Change::Rotate {
                old,
                at,
                sealed,
                token,
                record,
                access,
            } => {
                if let Some(entry) = self.refresh.get_mut(&old) {
                    entry.rotated = Some((at, sealed));
                }
                // The family's access tokens that expired by this rotation are of no more use
                // (revoking the family deny-lists only live ones): the list stays short
                // without a sweep over every family.
                if let Some(family) = self.families.get_mut(&record.family) {
                    family.access.retain(|a| a.expires_at > at);
                }
                self.put_current(token, record, access);
            }
            Change::RevokeFamily { family } => self.revoke_family(&family),
            Change::RevokeAccess { jti, expires_at } => {
                self.due.revoked_access(&jti, expires_at);
                self.revoked_access.insert(jti, expires_at);
            }
            Change::RevokeSubject { subject, cutoff } => self.revoke_subject(&subject, cutoff),
            Change::PutConsent {
                user,
                client,
                scopes,
            } => {
                let granted = self
                    .consents
                    .entry(consent_key(&user, &client))
                    .or_default();
                for scope in scopes {
                    if !granted.contains(&scope) {
                        granted.push(scope);
                    }
                }
            }
            Change::PutSession { id, session } => {
                self.due.session(id, &session);
                self.sessions.insert(id, session);
            }
            Change::TouchSession { id, at } => {
                if let Some(session) = self.sessions.get_mut(&id) {
                    session.last_seen = session.last_seen.max(at);
                }
            }
            Change::DeleteSession { id } => {
                self.sessions.remove(&id);
            }
            Change::PutClient { client } => {
                self.clients.insert(client.id.clone(), client);
            }
            Change::Claim { key, expires_at } => {
                self.due.claim(key, expires_at);
                self.claims.insert(key, expires_at);
            }
            Change::Factor(change) => self.factors.apply(change),
            Change::PutPerson { principal, person } => {
                self.due.person(&principal, person.expires_at);
                self.persons.insert(principal, person);
            }
            Change::RecordClientAccess { client, access, at } => {
                // Decided from what the logs hold: after a replay, an entry the live sweep
                // had dropped may count toward a bound once more, which can only leave the
                // record less complete (and say so), never list a token that is not live
                // (listing checks expiry and revocation).
                self.client_access.record(client, access, at)
            }
        }
    }

    /// The recorded live `client_credentials` tokens (see [`crate::store::Store::list_client_access`]).
    pub fn list_client_access(
        &self,
        client: Option<&str>,
        now: u64,
        limit: usize,
    ) -> Vec<ClientTokens> {
        let mut out: Vec<ClientTokens> = self
            .client_access
            .iter()
            .filter(|(id, _)| client.is_none_or(|c| c == id.as_str()))
            .filter_map(|(id, log)| {
                let cutoff = self
                    .cutoffs
                    .get(&subject_key(&Subject::Client(id.clone())))
                    .copied()
                    .unwrap_or(0);
                let access: Vec<ClientAccess> = log
                    .entries
                    .iter()
                    .filter(|a| {
                        a.expires_at > now
                            && a.issued_at >= cutoff
                            && !self.revoked_access.contains_key(&a.jti)
                    })
                    .cloned()
                    .collect();
                let unlisted_until = (log.unlisted_until > now).then_some(log.unlisted_until);
                (!access.is_empty() || unlisted_until.is_some()).then(|| ClientTokens {
                    client_id: id.clone(),
                    access,
                    unlisted_until,
                })
            })
            .collect();
        out.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        out.truncate(limit);
        out
    }

    pub fn family_live(&self, family: &str, now: u64) -> bool {
        self.families
            .get(family)
            .is_some_and(|f| !f.revoked && f.expires_at > now)
    }

    /// Makes `token` its family's current refresh token, issued beside `access`.
    fn put_current(&mut self, token: TokenHash, record: RefreshRecord, access: IssuedAccess) {
        self.track(token, &record, access);
        self.refresh.insert(
            token,
            RefreshEntry {
                record,
                rotated: None,
            },
        );
    }

    /// Records a family's new current token and access token (expired ones are pruned at the
    /// next rotation, or by a full `sweep`).
    fn track(&mut self, token: TokenHash, record: &RefreshRecord, access: IssuedAccess) {
        let due = &mut self.due;
        let family = self
            .families
            .entry(record.family.clone())
            .or_insert_with(|| {
                due.family(&record.family, record.expires_at);
                FamilyEntry {
                    user: record.user.clone(),
                    client_id: record.client_id.clone(),
                    revoked: false,
                    expires_at: record.expires_at,
                    access: Vec::new(),
                    tokens: Vec::new(),
                    sid: record.oidc.as_ref().map(|o| o.sid.clone()),
                }
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
            self.due.revoked_access(&access.jti, access.expires_at);
            self.revoked_access.insert(access.jti, access.expires_at);
        }
        for token in entry.tokens.drain(..) {
            self.refresh.remove(&token);
        }
    }

    fn revoke_subject(&mut self, subject: &Subject, cutoff: u64) {
        let families: Vec<String> = self
            .families
            .iter()
            .filter(|(_, f)| match subject {
                Subject::User(name) => f.user == *name,
                Subject::Client(id) => f.client_id == *id,
            })
            .map(|(name, _)| name.clone())
            .collect();
        for family in families {
            self.revoke_family(&family);
        }
        match subject {
            Subject::User(name) => self.sessions.retain(|_, s| s.user != *name),
            // Every token it recorded was issued before the cut-off.
            Subject::Client(id) => self.client_access.remove(id),
        }
        let key = subject_key(subject);
        let current = self.cutoffs.get(&key).copied().unwrap_or(0);
        self.cutoffs.insert(key, current.max(cutoff));
    }

    pub fn list_grants(&self, filter: &GrantFilter, now: u64, limit: usize) -> Vec<GrantSummary> {
        let mut out: Vec<GrantSummary> = self
            .families
            .iter()
            .filter(|(_, f)| {
                !f.revoked && f.expires_at > now && filter.matches(&f.user, &f.client_id)
            })
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
                sid: f.sid.clone(),
            })
            .collect();
        out.sort_by(|a, b| a.family.cmp(&b.family));
        out.truncate(limit);
        out
    }

    pub fn stats(&self) -> StoreStats {
        StoreStats {
            entries: vec![
                ("code", self.codes.len() as u64),
                ("refresh_token", self.refresh.len() as u64),
                ("family", self.families.len() as u64),
                ("revoked_access", self.revoked_access.len() as u64),
                ("session", self.sessions.len() as u64),
                ("client", self.clients.len() as u64),
                ("claim", self.claims.len() as u64),
                ("client_access", self.client_access.total() as u64),
                ("person", self.persons.len() as u64),
                ("factors", self.factors.len() as u64),
            ],
        }
    }

    /// Removes a family (expired) and its refresh tokens.
    pub fn drop_family(&mut self, family: &str) {
        if let Some(entry) = self.families.remove(family) {
            for token in entry.tokens {
                self.refresh.remove(&token);
            }
        }
    }

    /// Drops what expired, in one full pass over the maps; sessions by the given idle and
    /// absolute limits. For start-up and compaction; the live store sweeps by its expiry
    /// queues (`due.rs`), a bounded batch at a time.
    pub fn sweep(&mut self, now: u64, session_idle: u64, session_max: u64) {
        self.sessions
            .retain(|_, s| s.ends_at(session_idle, session_max) > now);
        self.codes.retain(|_, c| c.grant.expires_at > now);
        self.revoked_access.retain(|_, exp| *exp > now);
        self.claims.retain(|_, exp| *exp > now);
        self.persons.retain(|_, p| p.expires_at > now);
        self.factors.sweep(now);
        self.client_access.sweep(now);
        let dead: Vec<String> = self
            .families
            .iter()
            .filter(|(_, f)| f.expires_at <= now)
            .map(|(name, _)| name.clone())
            .collect();
        for family in dead {
            self.drop_family(&family);
        }
        self.families
            .values_mut()
            .for_each(|f| f.access.retain(|a| a.expires_at > now));
    }
}

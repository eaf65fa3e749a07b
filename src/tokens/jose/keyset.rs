//! One immutable snapshot of the published keys and their lifecycle: per algorithm one
//! Current key (signs), one Next key (published, not signing yet) and any Retired keys
//! (published and verifying, never signing), plus the JWKS document precomputed from them.
//!
//! A rotation is a new snapshot: Next becomes Current, Current becomes Retired, a new Next is
//! generated. Relying parties that cached the JWKS before the rotation already know the new
//! Current key (it was published as Next for at least [`super::JWKS_MAX_AGE_SECS`]), and the
//! old one stays published while tokens it signed can be live (see [`Retention`]).

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::alg::Alg;
use super::pair::{KeyError, KeyPair};

/// Where a key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// Published, not signing yet.
    Next,
    /// Signs (one per algorithm).
    Current,
    /// Published and verifying, never signing again; dropped after its retention.
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Next => "next",
            KeyState::Current => "current",
            KeyState::Retired => "retired",
        }
    }
}

/// What `authgate keys list` shows of a key (times in seconds since the epoch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    pub kid: String,
    pub alg: Alg,
    pub state: KeyState,
    pub created_at: u64,
    /// When it started signing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activated_at: Option<u64>,
    /// When it stopped signing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<u64>,
}

/// A key and where it is in its life.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) info: KeyInfo,
    pub(super) pair: Arc<KeyPair>,
}

/// How long a retired key stays published and verifying: while a token it signed can still
/// be presented (the longest of the access-token lifetime, the ID-token lifetime and the
/// session's absolute lifetime, since an ID token comes back as `id_token_hint` at logout
/// while its session lasts), plus the JWKS max-age, so that a relying party's cached copy
/// never lacks a key a live token needs. Past it the key is dropped from the set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub secs: u64,
}

impl Retention {
    /// `max(access_ttl, id_token_ttl, session_max) + JWKS max-age`, all in seconds.
    pub fn new(access_ttl: u64, id_token_ttl: u64, session_max: u64) -> Retention {
        Retention {
            secs: access_ttl
                .max(id_token_ttl)
                .max(session_max)
                .saturating_add(super::JWKS_MAX_AGE_SECS),
        }
    }
}

/// Why a rotation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateError {
    /// The Next key has been published for less than the JWKS max-age: relying parties may
    /// not know it yet.
    TooSoon {
        alg: Alg,
        wait_secs: u64,
    },
    /// The algorithm's key comes from the configuration (`[tokens] rs256_key`, …): it
    /// changes when the operator changes the key and reloads.
    Configured {
        alg: Alg,
    },
    Key(KeyError),
}

impl std::fmt::Display for RotateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RotateError::TooSoon { alg, wait_secs } => write!(
                f,
                "the next {alg} key was published less than the JWKS max-age ago: relying \
                 parties may not have fetched it yet; wait {wait_secs}s or force the rotation"
            ),
            RotateError::Configured { alg } => write!(
                f,
                "the {alg} key comes from the configuration ([tokens] {}): to rotate it, put \
                 the new key in its file or variable and reload (SIGHUP); the previous one \
                 stays published as retired for the retention",
                alg.config_key()
            ),
            RotateError::Key(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for RotateError {}

/// One immutable snapshot of the published keys.
#[derive(Debug, Clone)]
pub struct KeySet {
    pub(super) entries: Vec<Entry>,
    jwks: Bytes,
    /// The store's version of the document this set was read from or written as (0: none).
    pub(super) version: u64,
}

impl KeySet {
    pub(super) fn from_entries(mut entries: Vec<Entry>, version: u64) -> KeySet {
        entries.sort_by_key(|e| (e.info.alg, state_rank(e.info.state), e.info.created_at));
        let keys: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| e.pair.jwk().to_json(&e.info.kid, e.info.alg))
            .collect();
        let jwks = serde_json::to_vec(&serde_json::json!({ "keys": keys })).unwrap_or_default();
        KeySet {
            entries,
            jwks: Bytes::from(jwks),
            version,
        }
    }

    /// A set without keys: signs nothing, verifies nothing (tests, `check`).
    pub fn empty() -> KeySet {
        KeySet::from_entries(Vec::new(), 0)
    }

    /// A new set with a Current and a Next key for each of `algs`. RSA generation is slow:
    /// call it off the async threads.
    pub fn generate(algs: &[Alg], now: u64) -> Result<KeySet, KeyError> {
        match KeySet::empty().completed(algs, now)? {
            Some(set) => Ok(set),
            None => Ok(KeySet::empty()),
        }
    }

    /// The set with a Current and a Next key for each of `algs` that lacks one (`None`
    /// when none lacks any).
    pub fn completed(&self, algs: &[Alg], now: u64) -> Result<Option<KeySet>, KeyError> {
        self.completed_except(algs, &[], now)
    }

    /// [`KeySet::completed`], leaving out the keys of `later` (generated by a later call).
    pub fn completed_except(
        &self,
        algs: &[Alg],
        later: &[(Alg, KeyState)],
        now: u64,
    ) -> Result<Option<KeySet>, KeyError> {
        let mut entries = self.entries.clone();
        let mut changed = false;
        for &alg in algs {
            for state in [KeyState::Current, KeyState::Next] {
                if !later.contains(&(alg, state))
                    && !entries
                        .iter()
                        .any(|e| e.info.alg == alg && e.info.state == state)
                {
                    entries.push(new_entry(alg, state, now)?);
                    changed = true;
                }
            }
        }
        Ok(changed.then(|| KeySet::from_entries(entries, self.version)))
    }

    /// The set with each of `configured` (keys from the configuration) Current for its
    /// algorithm: a Current key of another id becomes Retired (published for the retention,
    /// like any rotated-out key), the algorithm's Next key is dropped (a configured key has
    /// none: it changes when the operator changes it). `None` when nothing changes.
    pub fn with_configured(&self, configured: &[Arc<KeyPair>], now: u64) -> Option<KeySet> {
        let mut entries = self.entries.clone();
        let mut changed = false;
        for pair in configured {
            let alg = pair.alg();
            let before = entries.len();
            entries.retain(|e| !(e.info.alg == alg && e.info.state == KeyState::Next));
            changed |= entries.len() != before;
            let is_current = |e: &Entry| e.info.alg == alg && e.info.state == KeyState::Current;
            if entries
                .iter()
                .any(|e| is_current(e) && e.info.kid == pair.kid())
            {
                continue;
            }
            // Configured again after it was replaced: it signs again, under its own id.
            entries.retain(|e| e.info.kid != pair.kid());
            for entry in entries.iter_mut().filter(|e| is_current(e)) {
                entry.info.state = KeyState::Retired;
                entry.info.retired_at = Some(now);
            }
            entries.push(Entry {
                info: KeyInfo {
                    kid: pair.kid().to_owned(),
                    alg,
                    state: KeyState::Current,
                    created_at: now,
                    activated_at: Some(now),
                    retired_at: None,
                },
                pair: pair.clone(),
            });
            changed = true;
        }
        changed.then(|| KeySet::from_entries(entries, self.version))
    }

    /// The rotated set: for each of `algs` (every algorithm of the set when empty), Next
    /// becomes Current, Current becomes Retired and a new Next is generated; retired keys
    /// past `retention` are dropped. Unless `force`, refused while a Next key has been
    /// published for less than the JWKS max-age.
    pub fn rotated(
        &self,
        algs: &[Alg],
        now: u64,
        retention: Retention,
        force: bool,
    ) -> Result<KeySet, RotateError> {
        let algs: Vec<Alg> = if algs.is_empty() {
            self.algs()
        } else {
            algs.to_vec()
        };
        if !force {
            for &alg in &algs {
                // No Next key: the one generated now would sign unpublished.
                let ready = self
                    .find_state(alg, KeyState::Next)
                    .map_or(now, |next| next.info.created_at)
                    .saturating_add(super::JWKS_MAX_AGE_SECS);
                if ready > now {
                    return Err(RotateError::TooSoon {
                        alg,
                        wait_secs: ready - now,
                    });
                }
            }
        }
        let mut entries = Vec::with_capacity(self.entries.len() + algs.len());
        for entry in &self.entries {
            let mut entry = entry.clone();
            if algs.contains(&entry.info.alg) {
                match entry.info.state {
                    KeyState::Next => {
                        entry.info.state = KeyState::Current;
                        entry.info.activated_at = Some(now);
                    }
                    KeyState::Current => {
                        entry.info.state = KeyState::Retired;
                        entry.info.retired_at = Some(now);
                    }
                    KeyState::Retired => {}
                }
            }
            entries.push(entry);
        }
        for &alg in &algs {
            entries.push(new_entry(alg, KeyState::Next, now).map_err(RotateError::Key)?);
        }
        let set = KeySet::from_entries(entries, self.version);
        // A set whose algorithm had no Next key gets a Current one too.
        let set = match set.completed(&algs, now).map_err(RotateError::Key)? {
            Some(completed) => completed,
            None => set,
        };
        Ok(set.pruned(now, retention).unwrap_or(set))
    }

    /// The set without the retired keys past `retention` (`None` when none is).
    pub fn pruned(&self, now: u64, retention: Retention) -> Option<KeySet> {
        let expired = |e: &Entry| {
            e.info.state == KeyState::Retired
                && e.info
                    .retired_at
                    .unwrap_or(e.info.created_at)
                    .saturating_add(retention.secs)
                    <= now
        };
        if !self.entries.iter().any(expired) {
            return None;
        }
        let entries = self.entries.iter().filter(|e| !expired(e)).cloned();
        Some(KeySet::from_entries(entries.collect(), self.version))
    }

    /// The store's version of this set (0: not stored).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The same set, as stored under `version`.
    pub fn with_store_version(&self, version: u64) -> KeySet {
        KeySet {
            version,
            ..self.clone()
        }
    }

    pub(super) fn find_state(&self, alg: Alg, state: KeyState) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.info.alg == alg && e.info.state == state)
    }

    /// The key that signs with `alg`.
    pub(super) fn current(&self, alg: Alg) -> Option<&Entry> {
        self.find_state(alg, KeyState::Current)
    }

    /// The published key named `kid`.
    pub(super) fn find(&self, kid: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.info.kid == kid)
    }

    /// Whether `kid` names a published key (any state).
    pub fn contains(&self, kid: &str) -> bool {
        self.find(kid).is_some()
    }

    fn algs(&self) -> Vec<Alg> {
        let mut algs: Vec<Alg> = self.entries.iter().map(|e| e.info.alg).collect();
        algs.dedup();
        algs
    }

    /// The JWKS document (RFC 7517): every Next, Current and Retired public key, with
    /// `kid`, `use: sig` and `alg`. Precomputed: serving it costs a reference count.
    pub fn jwks(&self) -> Bytes {
        self.jwks.clone()
    }

    /// Algorithms that have a current (signing) key.
    pub fn signing_algs(&self) -> Vec<Alg> {
        Alg::ALL
            .into_iter()
            .filter(|alg| self.current(*alg).is_some())
            .collect()
    }

    /// Every key, by algorithm, then Current, Next, Retired.
    pub fn keys(&self) -> Vec<KeyInfo> {
        self.entries.iter().map(|e| e.info.clone()).collect()
    }
}

fn state_rank(state: KeyState) -> u8 {
    match state {
        KeyState::Current => 0,
        KeyState::Next => 1,
        KeyState::Retired => 2,
    }
}

fn new_entry(alg: Alg, state: KeyState, now: u64) -> Result<Entry, KeyError> {
    let pair = KeyPair::generate(alg)?;
    Ok(Entry {
        info: KeyInfo {
            kid: pair.kid().to_owned(),
            alg,
            state,
            created_at: now,
            activated_at: (state == KeyState::Current).then_some(now),
            retired_at: None,
        },
        pair: Arc::new(pair),
    })
}

//! The signing keys' life against the store: loaded (or generated, once for the whole
//! deployment) at start, refreshed from the store so that a rotation on one gateway reaches
//! the others, rotated and pruned with a compare-and-set so that concurrent writers never
//! lose each other's keys. The keys themselves, their lifecycle and the sealed document are
//! `tokens::jose`; this module only moves them in and out of a [`Store`].

use std::sync::Arc;

use super::{Store, StoreError};
use crate::tokens::jose::{
    Alg, KeyError, KeyPair, KeySet, KeyState, Keys, Retention, RotateError, SealKeys,
};

/// The algorithms that always have keys: RS256 (ID tokens by default), ES256 and EdDSA
/// (chosen per client, or for access tokens; cheap to generate and to publish).
pub const ALGS: [Alg; 3] = Alg::ALL;

/// The keys a start does not wait for: the RS256 Next key (an RSA key takes a noticeable
/// time to generate, and it only signs after a rotation, which is refused while it is
/// missing or published for less than the JWKS max-age). Generated just after the gateway
/// starts serving ([`KeyStore::load`] again, without it).
pub const AFTER_START: [(Alg, KeyState); 1] = [(Alg::Rs256, KeyState::Next)];

/// How often each gateway reads the document back (a rotation elsewhere reaches it within
/// this time, or at once when a token names a key it does not know).
pub const REFRESH_SECS: u64 = 30;

/// How many times a compare-and-set is retried against other writers.
const ATTEMPTS: usize = 5;

/// Why keys could not be loaded or changed. Never carries key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeysError {
    Store(StoreError),
    Key(KeyError),
    Rotate(RotateError),
    /// No document yet, and this caller may not create one (`check`).
    Missing,
    /// Other writers kept winning the compare-and-set.
    Contended,
}

impl std::fmt::Display for KeysError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeysError::Store(e) => e.fmt(f),
            KeysError::Key(e) => e.fmt(f),
            KeysError::Rotate(e) => e.fmt(f),
            KeysError::Missing => f.write_str("no signing keys have been generated yet"),
            KeysError::Contended => {
                f.write_str("the signing keys kept changing under this gateway; try again")
            }
        }
    }
}

impl std::error::Error for KeysError {}

impl From<StoreError> for KeysError {
    fn from(e: StoreError) -> Self {
        KeysError::Store(e)
    }
}

impl From<KeyError> for KeysError {
    fn from(e: KeyError) -> Self {
        KeysError::Key(e)
    }
}

/// What this module needs to read and write the document.
pub struct KeyStore<'a> {
    pub store: &'a dyn Store,
    pub seal: &'a SealKeys,
}

impl KeyStore<'_> {
    /// The stored set, if any.
    pub async fn read(&self) -> Result<Option<KeySet>, KeysError> {
        match self.store.signing_keys().await? {
            None => Ok(None),
            Some(stored) => Ok(Some(self.seal.open(&stored.document, stored.version)?)),
        }
    }

    /// Writes `set` over the version it was derived from: the set as stored (with its new
    /// version), or `None` when another writer came first.
    async fn write(&self, set: &KeySet) -> Result<Option<KeySet>, KeysError> {
        let document = self.seal.seal(set)?;
        if self
            .store
            .swap_signing_keys(set.version(), document)
            .await?
        {
            Ok(Some(set.with_store_version(set.version() + 1)))
        } else {
            Ok(None)
        }
    }

    /// The deployment's keys: read from the store, with the `configured` keys Current for
    /// their algorithms (`KeySet::with_configured`), completed (a Current and a Next key for
    /// each other algorithm of [`ALGS`], except the keys of `later`) and written back when
    /// something changed, generated on first start. Of gateways starting at once one
    /// generates and the others read its keys.
    pub async fn load(
        &self,
        now: u64,
        configured: &[Arc<KeyPair>],
        later: &[(Alg, KeyState)],
    ) -> Result<KeySet, KeysError> {
        let algs: Vec<Alg> = ALGS
            .into_iter()
            .filter(|alg| !configured.iter().any(|pair| pair.alg() == *alg))
            .collect();
        for _ in 0..ATTEMPTS {
            let stored = self.read().await?.unwrap_or_else(KeySet::empty);
            let applied = stored.with_configured(configured, now);
            let base = applied.clone().unwrap_or_else(|| stored.clone());
            let completed = generate_off_thread(base, algs.clone(), later.to_vec(), now).await?;
            let Some(changed) = completed.or(applied) else {
                return Ok(stored);
            };
            let generated = stored.keys().is_empty();
            if let Some(written) = self.write(&changed).await? {
                if generated {
                    tracing::info!(
                        keys = written.keys().len(),
                        configured = configured.len(),
                        "generated the asymmetric signing keys"
                    );
                }
                return Ok(written);
            }
        }
        Err(KeysError::Contended)
    }

    /// [`KeyStore::load`] with every key (none left for later), put in place of `keys`' live
    /// set when the store's changed: the keys a start left for later, and the configured keys
    /// of a reloaded configuration. Whether the live set changed.
    pub async fn settle(
        &self,
        keys: &Keys,
        now: u64,
        configured: &[Arc<KeyPair>],
    ) -> Result<bool, KeysError> {
        let set = self.load(now, configured, &[]).await?;
        if set.version() == keys.snapshot().version() {
            return Ok(false);
        }
        keys.replace(set);
        Ok(true)
    }

    /// The stored set, without writing anything: `check` and tools that must not generate.
    pub async fn load_existing(&self) -> Result<KeySet, KeysError> {
        self.read().await?.ok_or(KeysError::Missing)
    }

    /// Reads the store and puts a newer set in place of `keys`'; drops retired keys past
    /// `retention` (writing the pruned set). Returns whether the live set changed.
    pub async fn refresh(
        &self,
        keys: &Keys,
        now: u64,
        retention: Retention,
    ) -> Result<bool, KeysError> {
        let live = keys.snapshot();
        let mut changed = false;
        let mut set = match self.store.signing_keys().await? {
            // Opened (the seal checked) only when another writer changed it.
            Some(stored) if stored.version != live.version() => {
                changed = true;
                self.seal.open(&stored.document, stored.version)?
            }
            _ => (*live).clone(),
        };
        if let Some(pruned) = set.pruned(now, retention) {
            if let Some(written) = self.write(&pruned).await? {
                tracing::info!("dropped retired signing keys past their retention");
                set = written;
                changed = true;
            }
        }
        if changed {
            keys.replace(set);
        }
        Ok(changed)
    }

    /// Rotates the keys of `algs` (all when empty): see `KeySet::rotated`. Applied against the
    /// newest stored set, retried if another writer came first; `keys` then holds the result.
    /// The algorithms in `configured` are refused (their keys come from the configuration);
    /// "all" means all the others.
    pub async fn rotate(
        &self,
        keys: &Keys,
        algs: &[Alg],
        configured: &[Alg],
        now: u64,
        retention: Retention,
        force: bool,
    ) -> Result<Arc<KeySet>, KeysError> {
        let refused = |alg: Alg| KeysError::Rotate(RotateError::Configured { alg });
        if let Some(&alg) = algs.iter().find(|alg| configured.contains(alg)) {
            return Err(refused(alg));
        }
        let algs: Vec<Alg> = if algs.is_empty() {
            ALGS.into_iter()
                .filter(|alg| !configured.contains(alg))
                .collect()
        } else {
            algs.to_vec()
        };
        if let (true, Some(&alg)) = (algs.is_empty(), configured.first()) {
            return Err(refused(alg));
        }
        for _ in 0..ATTEMPTS {
            let stored = self.read().await?.ok_or(KeysError::Missing)?;
            let algs = algs.to_vec();
            let rotated =
                tokio::task::spawn_blocking(move || stored.rotated(&algs, now, retention, force))
                    .await
                    .map_err(|e| KeysError::Key(KeyError(format!("key generation stopped: {e}"))))?
                    .map_err(KeysError::Rotate)?;
            if let Some(written) = self.write(&rotated).await? {
                tracing::info!(version = written.version(), "rotated the signing keys");
                keys.replace(written);
                return Ok(keys.snapshot());
            }
        }
        Err(KeysError::Contended)
    }
}

/// The published keys as a gateway running `config` reads them, without opening the store
/// for writing: the memory backend's file under `data_dir` (no lock taken), or Redis.
/// Empty when none were generated yet. For tools (`authgate token inspect`).
pub async fn published(
    config: &crate::config::Config,
    seal: &SealKeys,
) -> Result<KeySet, KeysError> {
    let stored = match &config.store.backend {
        crate::config::StoreBackend::Memory { .. } => {
            super::memory::persisted_signing_keys(&config.server.data_dir)?
        }
        crate::config::StoreBackend::Redis { .. } => {
            let clock: Arc<dyn crate::clock::Clock> = Arc::new(crate::clock::SystemClock);
            super::open(config, clock).await?.signing_keys().await?
        }
    };
    match stored {
        None => Ok(KeySet::empty()),
        Some(stored) => Ok(seal.open(&stored.document, stored.version)?),
    }
}

/// `set` completed with the keys of `algs` but those of `later`, generated on a blocking
/// thread (an RSA key takes a while); `None` when nothing was missing.
async fn generate_off_thread(
    set: KeySet,
    algs: Vec<Alg>,
    later: Vec<(Alg, KeyState)>,
    now: u64,
) -> Result<Option<KeySet>, KeysError> {
    tokio::task::spawn_blocking(move || set.completed_except(&algs, &later, now))
        .await
        .map_err(|e| KeysError::Key(KeyError(format!("key generation stopped: {e}"))))?
        .map_err(KeysError::Key)
}

#[cfg(test)]
mod tests;

//! Configuration reload (SIGHUP): build everything a new configuration needs beside the
//! running one, then swap it in with one atomic pointer store.
//!
//! What a reload changes: routes and upstreams, users, clients, scopes, token lifetimes and
//! signing keys (the asymmetric keys `[tokens]` names too: put in force in the store just
//! after the swap, the previous one kept published as Retired), session limits, the TLS
//! certificate, the access log switch. Each request reads the current configuration when it
//! starts, so requests in flight finish on the one they began with and no connection is
//! dropped; keep-alive connections pick up the new one on their next request; TLS applies to
//! handshakes from then on.
//!
//! What needs a restart (a reload that changes it is applied without it, with a warning):
//! `server.listen`, `server.data_dir`, `[server.limits]`, `shutdown_grace`, `[log]` format
//! and level, `[store]`, `[admin]`, `[mfa] secret_key`.
//!
//! A configuration that `check` rejects, or whose keys, certificate or upstream clients
//! cannot be built, is refused as a whole: the running one stays in force.

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use tokio_rustls::TlsAcceptor;

use super::stack::{self, Stack};
use super::{tls, ServeError};
use crate::config::Config;
use crate::dispatch::{ConnectionInfo, Gateway};
use crate::oauth::{AuthServer, Lasting};
use crate::tokens::jose::KeyPair;
use crate::tokens::keyring::{KeyError, KeyRing};

/// Everything built from one configuration that requests use.
pub struct Live {
    pub gateway: Arc<Gateway>,
    pub access_log: bool,
    pub tls: Option<TlsAcceptor>,
}

impl Live {
    /// The request path for one request on the connection `conn`.
    pub fn stack(&self, conn: &Arc<ConnectionInfo>) -> Stack {
        stack::build(self.gateway.clone(), self.access_log, conn.clone())
    }
}

/// Builds what `config` needs, around what outlives it (`lasting`, and the TLS resumption
/// state).
pub fn build(
    config: &Config,
    lasting: &Lasting,
    resumption: &tls::Resumption,
) -> Result<Live, ServeError> {
    let tls = tls::server_config(&config.server, resumption)
        .map_err(ServeError::Tls)?
        .map(TlsAcceptor::from);
    let mut auth = AuthServer::new(config, key_ring(config)?, lasting);
    auth.configured_keys = configured_keys(config)?;
    let auth = Arc::new(auth);
    let gateway = Gateway::new(config, auth).map_err(ServeError::Upstream)?;
    Ok(Live {
        gateway: Arc::new(gateway),
        access_log: config.log.access,
        tls,
    })
}

/// The `[tokens]` HMAC key ring, its signing key generated first if it is a missing file.
pub(super) fn key_ring(config: &Config) -> Result<KeyRing, ServeError> {
    KeyRing::load(
        &config.tokens.signing_key,
        &config.tokens.previous_keys,
        true,
    )
    .map_err(ServeError::Keys)?
    .ok_or_else(|| ServeError::Keys(KeyError("no signing key".to_owned())))
}

/// The asymmetric keys `[tokens]` names (`rs256_key`, `es256_key`, `eddsa_key`), read and
/// parsed (`check` has read them too, but the file may have changed since).
pub(super) fn configured_keys(config: &Config) -> Result<Vec<Arc<KeyPair>>, ServeError> {
    config
        .tokens
        .configured_keys
        .iter()
        .map(|key| key.load().map(Arc::new).map_err(ServeError::Keys))
        .collect()
}

/// What a reload from the file did.
pub struct Reloaded {
    /// `check`'s warnings about the new configuration.
    pub warnings: Vec<String>,
    /// Settings that changed but apply only at the next start.
    pub ignored: Vec<String>,
    pub routes: usize,
}

/// Swaps new configurations into a running server.
pub struct Reloader {
    live: Arc<ArcSwap<Live>>,
    lasting: Lasting,
    resumption: tls::Resumption,
    running: Mutex<Config>,
}

impl Reloader {
    pub(super) fn new(
        live: Arc<ArcSwap<Live>>,
        lasting: Lasting,
        resumption: tls::Resumption,
        running: Config,
    ) -> Reloader {
        Reloader {
            live,
            lasting,
            resumption,
            running: Mutex::new(running),
        }
    }

    /// Reads `path` and puts it in force ([`Reloader::reload`]), with the file read under
    /// the reload lock: of two reloads close together (two quick SIGHUPs), the one that swaps
    /// last is the one that read the file last, never an older read of it (issue 13).
    pub fn reload_file(&self, path: &std::path::Path) -> Result<Reloaded, String> {
        let mut running = self.lock()?;
        let config = Config::load(path).map_err(|e| e.to_string())?;
        let warnings = config.warnings();
        let routes = config.routes.len();
        let ignored = self.put_in_force(&mut running, config)?;
        Ok(Reloaded {
            warnings,
            ignored,
            routes,
        })
    }

    /// Puts `config` in force. Returns what it could not change without a restart; on an
    /// error nothing changed.
    pub fn reload(&self, config: Config) -> Result<Vec<String>, String> {
        let mut running = self.lock()?;
        self.put_in_force(&mut running, config)
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Config>, String> {
        self.running
            .lock()
            .map_err(|_| "the reload lock is poisoned".to_owned())
    }

    /// Builds `config` beside the running one and swaps it in; called with the lock held.
    fn put_in_force(&self, running: &mut Config, config: Config) -> Result<Vec<String>, String> {
        let live = build(&config, &self.lasting, &self.resumption).map_err(|e| e.to_string())?;
        let ignored = needs_restart(running, &config);
        let auth = live.gateway.auth().clone();
        let keys_named = |auth: &AuthServer| -> Vec<String> {
            let kids = auth.configured_keys.iter().map(|k| k.kid().to_owned());
            kids.collect()
        };
        let keys_changed = keys_named(&auth) != keys_named(self.live.load().gateway.auth());
        self.live.store(Arc::new(live));
        if keys_changed {
            settle_keys_soon(auth);
        }
        // What ends sessions in the background (compaction, Redis TTLs) follows at once; the
        // minute sweep reads the limits from `live` itself.
        self.lasting.store.set_session_limits(
            config.session.idle_timeout.as_secs(),
            config.session.max_lifetime.as_secs(),
        );
        *running = config;
        Ok(ignored)
    }
}

/// Puts a reloaded configuration's signing keys in force, when they are not those of the
/// configuration before (its `[tokens] *_key` keys Current in the store, the previous ones
/// Retired; an algorithm no longer configured gets its Next key) on the runtime, without
/// holding the reload: a store write is async, a reload is not.
fn settle_keys_soon(auth: Arc<AuthServer>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!("no runtime to put the reloaded signing keys in force on");
        return;
    };
    runtime.spawn(async move {
        match auth.settle_signing_keys().await {
            Ok(true) => {
                tracing::info!("the signing keys of the reloaded configuration are in force")
            }
            Ok(false) => {}
            Err(err) => {
                tracing::warn!(error = %err, "cannot put the configured signing keys in force")
            }
        }
    });
}

/// The settings that differ between `old` and `new` but only apply at start-up.
fn needs_restart(old: &Config, new: &Config) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |name: &str, a: String, b: String| {
        if a != b {
            out.push(format!(
                "{name} changed: it applies when the gateway restarts"
            ));
        }
    };
    check(
        "server.listen",
        old.server.listen.to_string(),
        new.server.listen.to_string(),
    );
    check(
        "server.data_dir",
        old.server.data_dir.display().to_string(),
        new.server.data_dir.display().to_string(),
    );
    check(
        "[server.limits]",
        format!("{:?}", old.server.limits),
        format!("{:?}", new.server.limits),
    );
    check(
        "server.shutdown_grace",
        format!("{:?}", old.server.shutdown_grace),
        format!("{:?}", new.server.shutdown_grace),
    );
    check(
        "[log] format or level",
        format!("{:?}{:?}", old.log.format, old.log.level),
        format!("{:?}{:?}", new.log.format, new.log.level),
    );
    check(
        "[store]",
        format!("{:?}", old.store),
        format!("{:?}", new.store),
    );
    check(
        "[admin]",
        format!("{:?}", old.admin),
        format!("{:?}", new.admin),
    );
    // The key sealing TOTP secrets is read once (`Lasting`): the stored secrets need it.
    check(
        "mfa.secret_key",
        format!("{:?}", old.mfa.secret_key),
        format!("{:?}", new.mfa.secret_key),
    );
    out
}

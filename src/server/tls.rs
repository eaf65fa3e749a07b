//! TLS for the public listener (rustls, TLS 1.2 and 1.3 only, ALPN `h2` and `http/1.1`),
//! from operator files or from a self-signed certificate generated into `data_dir`.
//!
//! Session resumption (TLS 1.3 tickets, TLS 1.2 tickets and session ids) is on: one
//! [`Resumption`] per server, made at start and handed to every configuration a reload builds,
//! so a client resumes across reloads and on every worker thread. Its ticket keys are
//! rustls's rotating ones (a new key every 6 hours, the previous one still accepted), made
//! in memory at start and never written anywhere; a restart makes new ones.
//!
//! The self-signed certificate covers the host of `public_url`, `localhost` and `127.0.0.1`;
//! it is written once (key 0600, directory 0700) and reused on later starts, and generated
//! again only when those names change.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{ServerConfig, TlsMode};
use crate::pem::{read_certs, read_key};
use crate::private_file::{create_private_dir, write_private};

/// Why TLS could not be set up. Messages name files, never key material.
#[derive(Debug)]
pub struct TlsError(pub String);

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

/// Stateful sessions kept for resumption (TLS 1.2 session ids, and TLS 1.3 clients that do
/// not take tickets), at most; the oldest go first. About 0.3 KiB each.
const SESSION_CACHE_ENTRIES: usize = 10_000;

/// What TLS resumption keeps across configurations: the ticket keys and the session cache.
#[derive(Clone)]
pub struct Resumption {
    ticketer: Arc<dyn rustls::server::ProducesTickets>,
    sessions: Arc<dyn rustls::server::StoresServerSessions>,
}

impl Resumption {
    pub fn new() -> Result<Resumption, TlsError> {
        let ticketer = rustls::crypto::ring::Ticketer::new()
            .map_err(|e| TlsError(format!("TLS ticket keys: {e}")))?;
        Ok(Resumption {
            ticketer,
            sessions: rustls::server::ServerSessionMemoryCache::new(SESSION_CACHE_ENTRIES),
        })
    }
}

/// The rustls configuration for the listener, or `None` with `mode = "off"`.
pub fn server_config(
    server: &ServerConfig,
    resumption: &Resumption,
) -> Result<Option<Arc<rustls::ServerConfig>>, TlsError> {
    let (cert, key) = match &server.tls {
        TlsMode::Off => return Ok(None),
        TlsMode::Files { cert, key } => (cert.clone(), key.clone()),
        TlsMode::SelfSigned => self_signed(&server.data_dir, &server.public_url.host)?,
    };
    let certs = read_certs(&cert).map_err(TlsError)?;
    let key = read_key(&key).map_err(TlsError)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError(format!("TLS setup: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            TlsError(format!(
                "{}: the certificate and key do not fit together: {e}",
                cert.display()
            ))
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config.ticketer = resumption.ticketer.clone();
    config.session_storage = resumption.sessions.clone();
    Ok(Some(Arc::new(config)))
}

/// Paths of the self-signed certificate and key, generated when missing or stale.
fn self_signed(data_dir: &Path, public_host: &str) -> Result<(PathBuf, PathBuf), TlsError> {
    let dir = data_dir.join("tls");
    let cert_path = dir.join("self-signed.pem");
    let key_path = dir.join("self-signed.key");
    let names_path = dir.join("self-signed.names");

    let mut names = vec![
        public_host.to_owned(),
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
    ];
    names.dedup();
    let wanted = names.join("\n");
    let current = fs::read_to_string(&names_path).ok();
    if current.as_deref() == Some(wanted.as_str()) && cert_path.exists() && key_path.exists() {
        return Ok((cert_path, key_path));
    }

    let generated = rcgen::generate_simple_self_signed(names.clone())
        .map_err(|e| TlsError(format!("cannot generate a self-signed certificate: {e}")))?;
    create_private_dir(&dir).map_err(TlsError)?;
    write_private(&key_path, generated.key_pair.serialize_pem().as_bytes()).map_err(TlsError)?;
    write_private(&cert_path, generated.cert.pem().as_bytes()).map_err(TlsError)?;
    write_private(&names_path, wanted.as_bytes()).map_err(TlsError)?;
    tracing::info!(
        cert = %cert_path.display(),
        names = %names.join(","),
        "generated a self-signed TLS certificate"
    );
    Ok((cert_path, key_path))
}

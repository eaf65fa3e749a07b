//! PEM files: the certificates and private key of the public listener's TLS, and the trust
//! roots a route may name for its upstream. A leaf, so that `server` and `proxy` both read
//! certificates without importing each other. Errors name the file, never its content.

use std::fs;
use std::path::Path;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Reads every certificate of a PEM file.
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: not a PEM certificate file: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: holds no PEM certificate", path.display()));
    }
    Ok(certs)
}

/// Reads the first private key of a PEM file.
pub fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let pem = fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|_| format!("{}: not a PEM private key file", path.display()))?
        .ok_or_else(|| format!("{}: holds no PEM private key", path.display()))
}

//! Files only the gateway's user may read: keys, generated certificates, the token store.
//!
//! Created 0600 (directories 0700) from the first byte, never chmod-ed after the fact, and
//! written through a temporary file, fsync and rename so that a crash leaves the old file or
//! the new one, never half of one.

use std::fs;
use std::io::Write;
use std::path::Path;

/// Creates `dir` (and its parents) readable only by this user.
pub fn create_private_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("{}: cannot create: {e}", dir.display()))
}

/// Writes `bytes` to `path` through a 0600 temporary file, fsync and rename.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    write_private_with(path, |out| out.write_all(bytes))
}

/// [`write_private`] for content written piece by piece (a large snapshot), through a
/// buffer.
pub fn write_private_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let fail = |e: std::io::Error| format!("{}: cannot write: {e}", path.display());
    let _ = fs::remove_file(&tmp);
    let file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(fail)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    write(&mut out).map_err(fail)?;
    let file = out.into_inner().map_err(|e| fail(e.into_error()))?;
    file.sync_all().map_err(fail)?;
    fs::rename(&tmp, path).map_err(fail)?;
    // The rename is durable only once the directory entry is.
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    sync_dir(dir)
}

/// Makes a change to `dir`'s entries (a file created, renamed or removed) durable.
pub fn sync_dir(dir: &Path) -> Result<(), String> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| format!("{}: cannot sync the directory: {e}", dir.display()))
}

/// Generates a 256-bit secret into `path` (base64url and a newline, 0600, its directory
/// created 0700) and returns its bytes: the signing key and the admin token when their
/// `file:` does not exist yet.
pub fn generate_secret(path: &Path) -> Result<[u8; 32], String> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir)?;
    }
    write_private(
        path,
        format!("{}\n", URL_SAFE_NO_PAD.encode(bytes)).as_bytes(),
    )?;
    Ok(bytes)
}

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
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let fail = |e: std::io::Error| format!("{}: cannot write: {e}", path.display());
    let _ = fs::remove_file(&tmp);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    fs::rename(&tmp, path).map_err(fail)?;
    // The rename is durable only once the directory entry is.
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(fail)
}

//! Files only the gateway's user may read: keys, generated certificates, the token store.
//!
//! Created 0600 (directories 0700) from the first byte, never chmod-ed after the fact, and
//! written through a temporary file, fsync and rename so that a crash leaves the old file or
//! the new one, never half of one.

use std::convert::Infallible;
use std::fs;
use std::io::{self, Write};
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
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let unchanged = |_: &fs::File| Ok::<(), Infallible>(());
    replace_atomically(&tmp, path, write, unchanged, || Ok(())).map_err(|err| match err {
        ReplaceError::Io(ReplaceStep::SyncDir, e) => format!(
            "{}: cannot sync the directory: {e}",
            directory_of(path).display()
        ),
        ReplaceError::Io(_, e) => format!("{}: cannot write: {e}", path.display()),
        ReplaceError::Refused(never) => match never {},
    })
}

/// The step of [`replace_atomically`] that failed, for the caller to word its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplaceStep {
    /// Creating the temporary file (0600, never an existing one).
    Create,
    /// Writing the content into it.
    Write,
    /// Its fsync.
    Sync,
    /// The rename over the target.
    Rename,
    /// The fsync of the directory, after the rename: the new content is in place.
    SyncDir,
}

/// Why [`replace_atomically`] failed.
#[derive(Debug)]
pub enum ReplaceError<E> {
    /// A file-system step failed.
    Io(ReplaceStep, io::Error),
    /// The caller's `prepare` or `check` refused.
    Refused(E),
}

/// THE atomic replace of `target` by new content, which every writer of a file shares: the
/// content goes to `tmp` (created 0600, in the target's directory), then `prepare` may give
/// the file its final mode and owner, then fsync, then `check` may refuse at the last moment
/// (the target changed meanwhile), then the rename over `target` and the fsync of the
/// directory, without which the rename is not durable. A crash leaves the old file or the
/// new one, never half of one; every failure before the rename removes `tmp`.
pub fn replace_atomically<E>(
    tmp: &Path,
    target: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    prepare: impl FnOnce(&fs::File) -> Result<(), E>,
    check: impl FnOnce() -> Result<(), E>,
) -> Result<(), ReplaceError<E>> {
    use std::os::unix::fs::OpenOptionsExt;
    let failed = |step| move |e| ReplaceError::Io(step, e);
    let file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(tmp)
        .map_err(failed(ReplaceStep::Create))?;
    let mut guard = TempFile {
        path: tmp,
        keep: false,
    };
    let mut out = io::BufWriter::with_capacity(1 << 20, file);
    write(&mut out).map_err(failed(ReplaceStep::Write))?;
    let file = out
        .into_inner()
        .map_err(|e| ReplaceError::Io(ReplaceStep::Write, e.into_error()))?;
    prepare(&file).map_err(ReplaceError::Refused)?;
    file.sync_all().map_err(failed(ReplaceStep::Sync))?;
    drop(file);
    check().map_err(ReplaceError::Refused)?;
    fs::rename(tmp, target).map_err(failed(ReplaceStep::Rename))?;
    guard.keep = true;
    fs::File::open(directory_of(target))
        .and_then(|d| d.sync_all())
        .map_err(failed(ReplaceStep::SyncDir))
}

/// The directory holding `path` (`.` for a bare file name).
fn directory_of(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// The temporary file of [`replace_atomically`], removed on every early return.
struct TempFile<'a> {
    path: &'a Path,
    /// Set once it has been renamed into place.
    keep: bool,
}

impl Drop for TempFile<'_> {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_file(self.path);
        }
    }
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

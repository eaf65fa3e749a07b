//! The memory store on disk: a JSON-lines journal of every change, compacted in the
//! background into a JSON snapshot. Lives in `data_dir`:
//!
//! - `store.snapshot.json`: the whole state as of journal generation `generation` (every
//!   journal file numbered below it is folded in);
//! - `store.journal.NNNNNNNN.jsonl`: changes, one [`record`] per line, appended by the
//!   [`journal`] writer and on disk (fsync) before the answer that depends on them is sent;
//! - `store.lock`: held (`flock`) while a gateway uses the directory, so two gateways never
//!   write the same journal.
//!
//! Start-up ([`recovery`]) loads the snapshot and replays the journals after it. A torn last
//! line (a crash mid-write) is cut off with a warning; anything else that does not read back
//! stops start-up with the file and line, and the file is left as it is. Every file is 0600.

pub(crate) mod compaction;
pub(crate) mod journal;
pub mod record;
pub(crate) mod recovery;

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::store::memory::state::State;

pub const SNAPSHOT: &str = "store.snapshot.json";
const LOCK: &str = "store.lock";
const SNAPSHOT_FORMAT: &str = "authgate-store-snapshot";
const SNAPSHOT_VERSION: u32 = 1;

/// How the memory store persists itself.
#[derive(Clone)]
pub struct Options {
    /// fsync the journal before answering (off: written, but a power cut may lose it).
    pub fsync: bool,
    /// Journal bytes past which it is compacted into the snapshot.
    pub compact_after: u64,
    /// `[session]` idle and absolute limits in force, for sweeping sessions at compaction
    /// (a reload changes them).
    pub session_limits: std::sync::Arc<crate::store::SessionLimits>,
    /// The server's clock: what expired is dropped at start-up and at compaction by it.
    pub clock: std::sync::Arc<dyn crate::clock::Clock>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("fsync", &self.fsync)
            .field("compact_after", &self.compact_after)
            .field("session_limits", &self.session_limits)
            .finish_non_exhaustive()
    }
}

pub fn journal_name(generation: u64) -> String {
    format!("store.journal.{generation:08}.jsonl")
}

pub fn journal_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(journal_name(generation))
}

/// The generation a journal file name stands for.
pub fn journal_generation(name: &str) -> Option<u64> {
    let digits = name
        .strip_prefix("store.journal.")?
        .strip_suffix(".jsonl")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The snapshot file's shape.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot<S> {
    pub format: String,
    pub version: u32,
    /// The first journal generation not folded in.
    pub generation: u64,
    /// The `seq` the first record of journal `generation` carries.
    pub next_seq: u64,
    pub state: S,
}

impl<S> Snapshot<S> {
    pub fn new(generation: u64, next_seq: u64, state: S) -> Snapshot<S> {
        Snapshot {
            format: SNAPSHOT_FORMAT.to_owned(),
            version: SNAPSHOT_VERSION,
            generation,
            next_seq,
            state,
        }
    }

    pub fn check(&self) -> Result<(), String> {
        if self.format != SNAPSHOT_FORMAT {
            return Err(format!(
                "not an authgate store snapshot (format {:?})",
                self.format
            ));
        }
        if self.version != SNAPSHOT_VERSION {
            return Err(format!(
                "snapshot version {} is not one this authgate reads ({SNAPSHOT_VERSION})",
                self.version
            ));
        }
        Ok(())
    }
}

/// The lock that keeps a second gateway out of a store directory; released when dropped.
pub struct DirLock(#[expect(dead_code, reason = "held for its flock, never read")] File);

pub fn lock_dir(dir: &Path) -> Result<DirLock, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(LOCK);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(|e| format!("{}: cannot open: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(DirLock(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(format!(
            "{}: another authgate is using this token store (run several gateways with backend = \"redis\")",
            dir.display()
        )),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(format!("{}: cannot lock: {e}", path.display()))
        }
    }
}

pub use crate::private_file::sync_dir;

/// Writes `snapshot` as the new `store.snapshot.json`: a temporary file, fsync, rename,
/// fsync of the directory. A crash at any point leaves the old snapshot or the new one.
pub fn write_snapshot(dir: &Path, snapshot: &Snapshot<&State>) -> Result<(), String> {
    crate::private_file::write_private_with(&dir.join(SNAPSHOT), |out| {
        serde_json::to_writer(&mut *out, snapshot)?;
        out.write_all(b"\n")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_names_round_trip() {
        assert_eq!(journal_name(7), "store.journal.00000007.jsonl");
        assert_eq!(journal_generation("store.journal.00000007.jsonl"), Some(7));
        assert_eq!(
            journal_generation("store.journal.123456789.jsonl"),
            Some(123_456_789)
        );
        assert_eq!(journal_generation("store.journal..jsonl"), None);
        assert_eq!(journal_generation("store.journal.1x.jsonl"), None);
        assert_eq!(journal_generation("store.snapshot.json"), None);
    }
}

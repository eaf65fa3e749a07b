//! Folding finished journals into the snapshot, on a background thread, from the files alone:
//! the live store is never locked for it, so requests go on while a large store compacts.
//!
//! Read the snapshot and the journals through generation `through`, drop what expired, write
//! the new snapshot (temporary file, fsync, rename, fsync of the directory), and only then
//! delete the journals it folded in. A crash at any step leaves files that start-up reads
//! correctly: the old snapshot and every journal, or the new snapshot and journals it already
//! holds (which start-up removes).

use std::path::Path;
use std::time::Instant;

use super::{
    journal_generation, journal_path, recovery, sync_dir, write_snapshot, Snapshot, SNAPSHOT,
};

pub struct CompactionStats {
    pub millis: u128,
    pub snapshot_bytes: u64,
}

/// Compacts journals up to and including generation `through`, dropping what expired by
/// `now` (the server's clock, read when the compaction was started).
pub fn compact(
    dir: &Path,
    through: u64,
    now: u64,
    (session_idle, session_max): (u64, u64),
) -> Result<CompactionStats, String> {
    let started = Instant::now();
    let (mut state, next_seq) = recovery::load_through(dir, through)?;
    state.sweep(now, session_idle, session_max);
    write_snapshot(dir, &Snapshot::new(through + 1, next_seq, &state))?;
    drop(state);
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("{}: cannot list: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let generation = entry.file_name().to_str().and_then(journal_generation);
        if let Some(generation) = generation.filter(|g| *g <= through) {
            let path = journal_path(dir, generation);
            std::fs::remove_file(&path)
                .map_err(|e| format!("{}: cannot remove: {e}", path.display()))?;
        }
    }
    sync_dir(dir)?;
    let snapshot_bytes = std::fs::metadata(dir.join(SNAPSHOT)).map_or(0, |m| m.len());
    Ok(CompactionStats {
        millis: started.elapsed().as_millis(),
        snapshot_bytes,
    })
}

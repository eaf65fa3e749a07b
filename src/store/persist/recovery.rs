//! Reading the store back: the snapshot, then every journal after it, in order.
//!
//! What may be wrong after a crash, and what is done about it:
//! - the last line of the last journal is incomplete (the crash came mid-write; its answer
//!   was never sent): it is cut off, with a warning;
//! - journals older than the snapshot are still there (the crash came between writing a
//!   snapshot and deleting what it folded in): they are deleted;
//! - anything else (a line that does not parse or fails its checksum, a missing or repeated
//!   record, a missing journal, a snapshot that is not one) is an error naming the file and the
//!   line, and nothing is changed on disk: an operator must look before the store is used.

use std::path::Path;

use super::{journal_generation, journal_name, journal_path, record, Snapshot, SNAPSHOT};
use crate::store::memory::state::State;

/// The store as recovered, and where appending goes on.
pub struct Recovered {
    pub state: State,
    /// The `seq` of the next change.
    pub next_seq: u64,
    /// The journal generation to append to.
    pub generation: u64,
    /// Journal bytes not yet folded into the snapshot.
    pub journal_bytes: u64,
    /// What was repaired, for the log.
    pub warnings: Vec<String>,
}

/// Recovers for a gateway that is starting: repairs a torn tail and stale journals.
pub fn recover(dir: &Path) -> Result<Recovered, String> {
    load(dir, None)
}

/// Reads the snapshot and the journals up to `through` (inclusive) without changing anything:
/// what compaction folds into the next snapshot.
pub fn load_through(dir: &Path, through: u64) -> Result<(State, u64), String> {
    let recovered = load(dir, Some(through))?;
    Ok((recovered.state, recovered.next_seq))
}

fn load(dir: &Path, through: Option<u64>) -> Result<Recovered, String> {
    let repair = through.is_none();
    let mut warnings = Vec::new();
    let snapshot_path = dir.join(SNAPSHOT);
    let (mut state, first_generation, mut next_seq) = match std::fs::read(&snapshot_path) {
        Ok(bytes) => {
            let snapshot: Snapshot<State> = serde_json::from_slice(&bytes).map_err(|e| {
                format!(
                    "{}:{}: not a readable snapshot: {e}",
                    snapshot_path.display(),
                    e.line()
                )
            })?;
            snapshot
                .check()
                .map_err(|m| format!("{}:1: {m}", snapshot_path.display()))?;
            (snapshot.state, snapshot.generation, snapshot.next_seq)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (State::default(), 1, 1),
        Err(e) => return Err(format!("{}: cannot read: {e}", snapshot_path.display())),
    };

    let mut generations = Vec::new();
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("{}: cannot list: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: cannot list: {e}", dir.display()))?;
        if let Some(generation) = entry.file_name().to_str().and_then(journal_generation) {
            generations.push(generation);
        }
    }
    generations.sort_unstable();

    let mut live = Vec::new();
    for generation in generations {
        if generation < first_generation {
            if repair {
                let path = journal_path(dir, generation);
                std::fs::remove_file(&path)
                    .map_err(|e| format!("{}: cannot remove: {e}", path.display()))?;
                warnings.push(format!(
                    "{}: already in the snapshot; removed",
                    journal_name(generation)
                ));
            }
            continue;
        }
        if through.is_some_and(|last| generation > last) {
            break;
        }
        live.push(generation);
    }
    for (expected, generation) in (first_generation..).zip(&live) {
        if *generation != expected {
            return Err(format!(
                "{}: journal {} is missing (the snapshot covers up to {}, and the next journal on disk is {generation})",
                dir.join(journal_name(expected)).display(),
                journal_name(expected),
                first_generation.saturating_sub(1),
            ));
        }
    }

    let mut journal_bytes = 0;
    let last = live.last().copied();
    for generation in &live {
        let path = journal_path(dir, *generation);
        let bytes =
            std::fs::read(&path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let mut offset = 0usize;
        let mut line_no = 0usize;
        while offset < bytes.len() {
            line_no += 1;
            let rest = &bytes[offset..];
            let Some(end) = rest.iter().position(|b| *b == b'\n') else {
                // An incomplete last line: the write it belonged to never finished, so its
                // answer was never sent.
                if !repair || Some(*generation) != last {
                    return Err(format!(
                        "{}:{line_no}: incomplete line in a journal that is not the last",
                        path.display()
                    ));
                }
                truncate(&path, offset as u64)?;
                warnings.push(format!(
                    "{}:{line_no}: incomplete last line (a crash mid-write) dropped",
                    path.display()
                ));
                break;
            };
            let (seq, change) = record::decode(&rest[..end])
                .map_err(|m| format!("{}:{line_no}: {m}", path.display()))?;
            if seq != next_seq {
                return Err(format!(
                    "{}:{line_no}: record {seq} where record {next_seq} was expected: records are missing or repeated",
                    path.display()
                ));
            }
            state.apply(change);
            next_seq += 1;
            offset += end + 1;
        }
        journal_bytes += offset as u64;
    }

    Ok(Recovered {
        state,
        next_seq,
        generation: last.unwrap_or(first_generation),
        journal_bytes,
        warnings,
    })
}

fn truncate(path: &Path, len: u64) -> Result<(), String> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| format!("{}: cannot open: {e}", path.display()))?;
    file.set_len(len)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("{}: cannot cut the incomplete line: {e}", path.display()))
}

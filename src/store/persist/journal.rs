//! The journal writer: group commit on one thread.
//!
//! Callers append a change's line to a shared buffer while they hold the store's lock (so
//! lines are in the order the changes were made) and get its `seq`; then, without the lock,
//! they wait until that `seq` is on disk. The writer thread takes whatever has accumulated,
//! writes it with one `write` and makes it durable with one `fdatasync`, then wakes everyone
//! it covered: concurrent writers share one fsync, and a lone writer pays for one.
//!
//! When the current journal grows past `compact_after`, the writer starts the next journal
//! file and hands the finished ones to [`compaction`] on a background thread. If a write
//! fails (disk full, I/O error) the journal stops: every later change is refused, so the
//! gateway fails closed (503) instead of answering from changes it cannot keep.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};

use tokio::sync::watch;

use super::{compaction, journal_path, record, sync_dir, Options};
use crate::store::memory::change::Change;
use crate::store::{StoreError, StoreResult};

/// What is on disk: every change up to `seq`, unless the journal `failed`.
#[derive(Debug, Clone, Copy)]
struct Durable {
    seq: u64,
    failed: bool,
}

/// Where compaction stands: the writer has decided whether to compact for every change up to
/// `checked`, and a compaction is `running` (at most one at a time).
#[derive(Debug, Clone, Copy)]
struct Compaction {
    checked: u64,
    running: bool,
}

struct Pending {
    buf: Vec<u8>,
    next_seq: u64,
    closed: bool,
    failed: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
}

/// The appending end of the journal.
pub struct Journal {
    shared: Arc<Shared>,
    durable: watch::Receiver<Durable>,
    compaction: watch::Receiver<Compaction>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn failed() -> StoreError {
    StoreError("the token store cannot write its journal (see the log)".to_owned())
}

/// Where the writer starts.
pub struct Start {
    pub dir: PathBuf,
    pub generation: u64,
    pub next_seq: u64,
    /// Journal bytes not yet in the snapshot.
    pub journal_bytes: u64,
    pub options: Options,
}

impl Journal {
    pub fn start(start: Start) -> Result<Journal, String> {
        let file = open_journal(&start.dir, start.generation, false)?;
        Journal::start_on(start, file)
    }

    /// [`Journal::start`] writing to `file`, already open on generation `start.generation`.
    fn start_on(start: Start, file: File) -> Result<Journal, String> {
        let last = start.next_seq.saturating_sub(1);
        let (tx, rx) = watch::channel(Durable {
            seq: last,
            failed: false,
        });
        let (compaction, compaction_rx) = watch::channel(Compaction {
            checked: last,
            running: false,
        });
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending {
                buf: Vec::with_capacity(64 << 10),
                next_seq: start.next_seq,
                closed: false,
                failed: false,
            }),
            wake: Condvar::new(),
        });
        let writer = Writer {
            shared: shared.clone(),
            durable: tx,
            file,
            generation: start.generation,
            size: start.journal_bytes,
            compaction: Arc::new(compaction),
            dir: start.dir,
            options: start.options,
        };
        let thread = std::thread::Builder::new()
            .name("store-journal".to_owned())
            .spawn(move || writer.run())
            .map_err(|e| format!("cannot start the journal writer: {e}"))?;
        Ok(Journal {
            shared,
            durable: rx,
            compaction: compaction_rx,
            thread: Some(thread),
        })
    }

    /// Queues `change` and returns its `seq`. Call with the store's lock held, so that the
    /// journal's order is the order the changes were made in.
    pub fn append(&self, change: &Change) -> StoreResult<u64> {
        let body = serde_json::to_vec(change)
            .map_err(|e| StoreError(format!("cannot encode a change: {e}")))?;
        let mut pending = self.shared.pending.lock().map_err(|_| failed())?;
        if pending.failed {
            return Err(failed());
        }
        let seq = pending.next_seq;
        pending.next_seq += 1;
        record::encode_into(&mut pending.buf, seq, &body);
        drop(pending);
        self.shared.wake.notify_one();
        Ok(seq)
    }

    /// The `seq` of the last change queued so far.
    pub fn last_queued(&self) -> StoreResult<u64> {
        let pending = self.shared.pending.lock().map_err(|_| failed())?;
        Ok(pending.next_seq.saturating_sub(1))
    }

    /// Whether the journal has stopped after a failed write (then every change is refused).
    pub fn has_failed(&self) -> bool {
        self.durable.borrow().failed
    }

    /// Resolves once no compaction runs and none is due for the changes queued so far (or the
    /// journal has stopped): what was compacted is in the snapshot and its journals deleted.
    pub async fn compaction_idle(&self) {
        let Ok(queued) = self.last_queued() else {
            return;
        };
        let mut compaction = self.compaction.clone();
        // Err: the writer and the compaction thread are gone, so nothing more will run.
        let _ = compaction
            .wait_for(|c| !c.running && c.checked >= queued)
            .await;
    }

    /// Resolves once every change up to `seq` is on disk.
    pub async fn durable(&self, seq: u64) -> StoreResult<()> {
        let mut durable = self.durable.clone();
        let failed_now = match durable.wait_for(|d| d.failed || d.seq >= seq).await {
            Ok(d) => d.failed,
            Err(_closed) => true,
        };
        if failed_now {
            Err(failed())
        } else {
            Ok(())
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        if let Ok(mut pending) = self.shared.pending.lock() {
            pending.closed = true;
        }
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            // Flushes what was queued; a panic there has been logged already.
            let _ = thread.join();
        }
    }
}

/// Opens journal `generation` for appending (0600), a `new` one only if it does not exist
/// yet, and makes its directory entry durable.
fn open_journal(dir: &std::path::Path, generation: u64, new: bool) -> Result<File, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = journal_path(dir, generation);
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(!new)
        .create_new(new)
        .mode(0o600)
        .open(&path)
        .map_err(|e| format!("{}: cannot open: {e}", path.display()))?;
    sync_dir(dir)?;
    Ok(file)
}

struct Writer {
    shared: Arc<Shared>,
    durable: watch::Sender<Durable>,
    file: File,
    generation: u64,
    size: u64,
    /// Also sent to by the compaction thread, when it ends.
    compaction: Arc<watch::Sender<Compaction>>,
    dir: PathBuf,
    options: Options,
}

impl Writer {
    fn run(mut self) {
        let mut batch = Vec::with_capacity(64 << 10);
        loop {
            let upto = {
                let Ok(mut pending) = self.shared.pending.lock() else {
                    return;
                };
                while pending.buf.is_empty() && !pending.closed {
                    pending = match self.shared.wake.wait(pending) {
                        Ok(p) => p,
                        Err(_) => return,
                    };
                }
                if pending.buf.is_empty() {
                    return;
                }
                std::mem::swap(&mut batch, &mut pending.buf);
                pending.next_seq - 1
            };
            if let Err(err) = self.write(&batch) {
                tracing::error!(error = %err, "the token store's journal failed; refusing further changes");
                if let Ok(mut pending) = self.shared.pending.lock() {
                    pending.failed = true;
                }
                self.durable.send_replace(Durable {
                    seq: upto,
                    failed: true,
                });
                return;
            }
            self.durable.send_replace(Durable {
                seq: upto,
                failed: false,
            });
            batch.clear();
            if batch.capacity() > 4 << 20 {
                batch.shrink_to(64 << 10);
            }
            if self.size >= self.options.compact_after && !self.compaction.borrow().running {
                if let Err(err) = self.rotate() {
                    tracing::warn!(error = %err, "cannot start a new journal; compaction postponed");
                }
            }
            self.compaction.send_modify(|c| c.checked = upto);
        }
    }

    fn write(&mut self, batch: &[u8]) -> Result<(), String> {
        let path = || {
            journal_path(&self.dir, self.generation)
                .display()
                .to_string()
        };
        self.file
            .write_all(batch)
            .map_err(|e| format!("{}: cannot write: {e}", path()))?;
        if self.options.fsync {
            self.file
                .sync_data()
                .map_err(|e| format!("{}: cannot sync: {e}", path()))?;
        }
        self.size += batch.len() as u64;
        Ok(())
    }

    /// Continues in a new journal file and compacts the finished ones in the background.
    fn rotate(&mut self) -> Result<(), String> {
        let next = self.generation + 1;
        let file = open_journal(&self.dir, next, true)?;
        let finished = self.generation;
        self.file = file;
        self.generation = next;
        self.size = 0;
        self.compaction.send_modify(|c| c.running = true);
        let compaction = self.compaction.clone();
        let dir = self.dir.clone();
        let limits = self.options.session_limits.get();
        let now = self.options.clock.now();
        let spawned = std::thread::Builder::new()
            .name("store-compaction".to_owned())
            .spawn(move || {
                // Background work: requests come first, also on a one-CPU machine.
                crate::background::lower_priority("store compaction");
                match compaction::compact(&dir, finished, now, limits) {
                    Ok(stats) => tracing::info!(
                        through = finished,
                        ms = stats.millis,
                        bytes = stats.snapshot_bytes,
                        "token store compacted"
                    ),
                    Err(err) => {
                        tracing::warn!(error = %err, "token store compaction failed; will retry")
                    }
                }
                compaction.send_modify(|c| c.running = false);
            });
        if let Err(err) = spawned {
            self.compaction.send_modify(|c| c.running = false);
            return Err(format!("cannot start compaction: {err}"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Subject;

    fn change() -> Change {
        Change::RevokeSubject {
            subject: Subject::User("alice".into()),
            cutoff: 1,
        }
    }

    #[tokio::test]
    async fn a_failed_write_refuses_every_later_change_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        // Every write to /dev/full fails with ENOSPC, as on a full disk.
        let full = std::fs::OpenOptions::new()
            .append(true)
            .open("/dev/full")
            .unwrap();
        let start = Start {
            dir: dir.path().to_path_buf(),
            generation: 1,
            next_seq: 1,
            journal_bytes: 0,
            options: Options {
                fsync: true,
                compact_after: 1 << 20,
                session_limits: std::sync::Arc::new(crate::store::SessionLimits::new(60, 3600)),
                clock: std::sync::Arc::new(crate::clock::ManualClock::new(1_000)),
            },
        };
        let journal = Journal::start_on(start, full).unwrap();
        assert!(!journal.has_failed());
        let seq = journal.append(&change()).unwrap();
        assert!(journal.durable(seq).await.is_err(), "not durable");
        assert!(journal.has_failed());
        assert!(journal.append(&change()).is_err(), "later changes refused");
    }
}

//! The access log's writer thread and its destinations (standard output, or a file opened
//! for appending).
//!
//! The thread is the only one that touches the destination: it writes each batch with one
//! `write_all`, takes what the shards hold every `flush_every`, switches to a reopened
//! destination between two batches (SIGUSR1, reload), and on shutdown writes everything
//! still held before it ends. A destination is opened by whoever asks for the reopen (a
//! signal task, the reload), never by this thread, so that a path that cannot be opened is
//! refused to the one who asked, and the running destination stays.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::buffer::Batch;
use super::Shared;

/// Where the lines go, opened.
pub struct Destination {
    out: Box<dyn Write + Send>,
    /// `None` for standard output.
    path: Option<PathBuf>,
}

impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Destination")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Destination {
    /// Standard output, or `path` opened for appending (created `0640` if missing: the
    /// lines hold paths and client addresses, not for every local user).
    pub fn open(path: Option<&Path>) -> io::Result<Destination> {
        let Some(path) = path else {
            return Ok(Destination {
                out: Box::new(io::stdout()),
                path: None,
            });
        };
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o640)
            .open(path)?;
        Ok(Destination {
            out: Box::new(file),
            path: Some(path.to_path_buf()),
        })
    }

    /// Any writer (tests: one that blocks, one that fails).
    #[cfg(test)]
    pub fn writer(out: Box<dyn Write + Send>) -> Destination {
        Destination { out, path: None }
    }

    fn name(&self) -> String {
        self.path
            .as_ref()
            .map_or_else(|| "stdout".to_owned(), |p| p.display().to_string())
    }
}

/// Messages to the writer.
pub(super) enum Message {
    Batch(Batch),
    /// Look at the flags now (a reopen, the shutdown).
    Wake,
}

/// Runs until the sink closes (or is dropped), writing to `destination`.
pub(super) fn run(shared: Arc<Shared>, queue: Receiver<Message>, destination: Destination) {
    let mut writer = Writer {
        shared,
        destination,
        last_error: None,
    };
    let flush_every = writer.shared.limits.flush_every;
    let mut last_flush = Instant::now();
    loop {
        let wait = flush_every.saturating_sub(last_flush.elapsed());
        let ended = match queue.recv_timeout(wait) {
            Ok(Message::Batch(batch)) => {
                writer.write(batch);
                false
            }
            Ok(Message::Wake) | Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => true,
        };
        writer.switch_if_reopened();
        if ended || writer.shared.closing() {
            // Shutdown: what is queued, then what the shards hold (twice: a line formatted
            // while the first round ran is not left behind).
            while let Ok(message) = queue.try_recv() {
                if let Message::Batch(batch) = message {
                    writer.write(batch);
                }
            }
            writer.write_shards();
            writer.write_shards();
            let _ = writer.destination.out.flush();
            writer.shared.drops.report_now();
            return;
        }
        if last_flush.elapsed() >= flush_every {
            // What is queued is older than what the shards hold: first the queue.
            while let Ok(message) = queue.try_recv() {
                if let Message::Batch(batch) = message {
                    writer.write(batch);
                }
            }
            writer.write_shards();
            last_flush = Instant::now();
        }
        writer.shared.drops.report_if_due();
    }
}

struct Writer {
    shared: Arc<Shared>,
    destination: Destination,
    /// When a write last failed, so that a failing destination is reported once per
    /// [`super::buffer::Drops::WARN_EVERY`], not once per batch.
    last_error: Option<Instant>,
}

impl Writer {
    fn write(&mut self, batch: Batch) {
        let written = self
            .destination
            .out
            .write_all(&batch.bytes)
            .and_then(|()| self.destination.out.flush());
        if let Err(err) = written {
            self.shared.drops.add(batch.lines);
            let due = self
                .last_error
                .is_none_or(|at| at.elapsed() >= super::buffer::Drops::WARN_EVERY);
            if due {
                self.last_error = Some(Instant::now());
                tracing::warn!(
                    destination = %self.destination.name(),
                    error = %err,
                    "cannot write the access log"
                );
            }
        }
        self.shared.buffers.recycle(batch.bytes);
    }

    fn write_shards(&mut self) {
        let shared = self.shared.clone();
        shared.buffers.take_all(|batch| self.write(batch));
    }

    fn switch_if_reopened(&mut self) {
        let Some(next) = self.shared.take_reopened() else {
            return;
        };
        let _ = self.destination.out.flush();
        let name = next.name();
        self.destination = next;
        tracing::info!(destination = %name, "access log reopened");
    }
}

/// How long [`super::AccessSink::close`] waits for the writer by default.
pub const CLOSE_WAIT: Duration = Duration::from_secs(5);

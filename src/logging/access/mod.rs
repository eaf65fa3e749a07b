//! The access log: one line per request, written the way nginx writes its own, not through
//! `tracing` (whose per-event machinery, per-line channel send and per-line `write` cost a
//! fifth of the none route's throughput, issue 17).
//!
//! The path of a line: `middleware::access_log` fills an [`Entry`] when the response body
//! ends; [`AccessLogger::log`] formats it ([`format`]: logfmt or JSON, no allocation) into
//! the calling thread's shard ([`buffer`]); a full shard goes to the writer thread
//! ([`writer`]) as one batch, and the writer also takes every shard's lines every
//! `flush_every` (200 ms) and on shutdown ([`AccessSink::close`], which `server::Server::run`
//! calls once the in-flight requests have finished), so no line is lost on SIGTERM.
//!
//! A slow or blocked destination never stalls a request: at most `queue_batches` batches
//! wait for it (4 MiB), and beyond that lines are dropped, counted in
//! `authgate_access_log_dropped_total` and told in a `warn` line at most every 10 s.
//!
//! The destination (standard output, or a file) is reopened on SIGUSR1 and on every reload
//! ([`AccessSink::reopen`]), for logrotate.
//!
//! Other log events stay on `tracing` (`logging::init`), on standard error.

mod buffer;
mod format;
mod writer;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use buffer::Limits;
pub use format::{peer_text, plain, Entry};
pub use writer::{Destination, CLOSE_WAIT};

use crate::config::AccessFormat;
use buffer::{Buffers, Drops};
use writer::Message;

/// What the request path and the writer thread share.
#[derive(Debug)]
struct Shared {
    buffers: Buffers,
    drops: Drops,
    limits: Limits,
    /// A destination opened by [`AccessSink::reopen`], for the writer to switch to.
    reopened: Mutex<Option<Destination>>,
    closing: AtomicBool,
}

impl Shared {
    fn closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    fn take_reopened(&self) -> Option<Destination> {
        self.reopened
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// The access log of one server: its buffers, its writer thread and its destination. It
/// outlives configurations (a reload reopens it, a new format applies per line).
#[derive(Debug)]
pub struct AccessSink {
    shared: Arc<Shared>,
    queue: SyncSender<Message>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl AccessSink {
    /// Opens `file` (standard output when `None`) and starts the writer, counting dropped
    /// lines into `dropped`.
    pub fn start(
        file: Option<&Path>,
        dropped: prometheus::IntCounter,
    ) -> std::io::Result<AccessSink> {
        let destination = Destination::open(file)?;
        AccessSink::with(destination, Limits::standard(), dropped)
    }

    /// [`AccessSink::start`] with a given destination and limits (tests).
    pub fn with(
        destination: Destination,
        limits: Limits,
        dropped: prometheus::IntCounter,
    ) -> std::io::Result<AccessSink> {
        let shared = Arc::new(Shared {
            buffers: Buffers::new(&limits),
            drops: Drops::new(dropped),
            limits,
            reopened: Mutex::new(None),
            closing: AtomicBool::new(false),
        });
        let (queue, batches) = sync_channel(limits.queue_batches.max(1));
        let for_writer = shared.clone();
        let writer = std::thread::Builder::new()
            .name("access-log".to_owned())
            .spawn(move || writer::run(for_writer, batches, destination))?;
        Ok(AccessSink {
            shared,
            queue,
            writer: Mutex::new(Some(writer)),
        })
    }

    /// Writes one line. Never waits for the destination: when it is behind by
    /// `queue_batches`, the lines are dropped and counted.
    pub fn log(&self, format: AccessFormat, entry: &Entry<'_>) {
        if self.shared.closing() {
            self.shared.drops.add(1);
            return;
        }
        let full = self
            .shared
            .buffers
            .append(|out, stamp| format::write_line(out, stamp, format, entry));
        if let Some(batch) = full {
            match self.queue.try_send(Message::Batch(batch)) {
                Ok(()) => {}
                Err(TrySendError::Full(message) | TrySendError::Disconnected(message)) => {
                    if let Message::Batch(batch) = message {
                        self.shared.drops.add(batch.lines);
                        self.shared.buffers.recycle(batch.bytes);
                    }
                }
            }
        }
    }

    /// Has the writer switch to `destination` (opened by the caller, so that a path that
    /// cannot be opened is the caller's error) between two batches: lines still in the
    /// buffers go to the new one.
    pub fn reopen(&self, destination: Destination) {
        *self
            .shared
            .reopened
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(destination);
        let _ = self.queue.try_send(Message::Wake);
    }

    /// Writes everything held and stops the writer; waits for it at most `wait` (a blocked
    /// destination must not keep the process from exiting). Lines logged afterwards are
    /// dropped and counted. Returns whether the writer finished.
    pub fn close(&self, wait: Duration) -> bool {
        self.shared.closing.store(true, Ordering::Release);
        let _ = self.queue.try_send(Message::Wake);
        let Some(writer) = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return true;
        };
        let deadline = Instant::now() + wait;
        while !writer.is_finished() {
            if Instant::now() >= deadline {
                tracing::warn!(
                    wait_s = wait.as_secs(),
                    "the access log's destination is blocked: lines still held are lost"
                );
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = writer.join();
        true
    }

    /// Lines dropped so far.
    #[cfg(test)]
    pub fn dropped(&self) -> u64 {
        self.shared.drops.total()
    }
}

/// The access log as one configuration writes it: the sink and the line format. Cheap to
/// clone (one reference count), one per request's stack.
#[derive(Debug, Clone)]
pub struct AccessLogger {
    sink: Arc<AccessSink>,
    format: AccessFormat,
}

impl AccessLogger {
    pub fn new(sink: Arc<AccessSink>, format: AccessFormat) -> AccessLogger {
        AccessLogger { sink, format }
    }

    /// Writes `entry` as one line.
    pub fn log(&self, entry: &Entry<'_>) {
        self.sink.log(self.format, entry);
    }
}

#[cfg(test)]
mod tests;

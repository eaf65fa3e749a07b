//! The memory between the request path and the access log's writer thread, and the count
//! of what did not fit.
//!
//! A line is formatted into a *shard*: a buffer chosen by the calling thread (each thread
//! gets a slot number once; slot modulo the shard count picks its shard). There are twice as
//! many shards as CPUs, so each runtime worker in practice has its own and its lock is
//! uncontended; a shared buffer would make every request of every worker meet on one lock.
//! Per connection task instead would mean one buffer per open connection (10,000 of them)
//! and a timer per connection to flush a keep-alive connection's lines. A shard that reaches
//! `batch_bytes` is handed to the writer as one batch (one `write`), and replaced by a spare
//! buffer: formatting never allocates once the spares exist. The writer also takes whatever
//! the shards hold every `flush_every`, and everything on shutdown.
//!
//! Bounded: at most `queue_batches` batches wait for the writer. When the queue is full
//! (the destination is slow or blocked), the batch is dropped rather than waited for, and
//! its lines are counted ([`Drops`]): a slow log never stalls a request.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::format::Stamp;

/// How much the access log holds and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A shard this full is handed to the writer.
    pub batch_bytes: usize,
    /// Batches that may wait for the writer; beyond them, lines are dropped.
    pub queue_batches: usize,
    /// The writer takes what the shards hold at least this often.
    pub flush_every: Duration,
    /// Shards (see the module docs).
    pub shards: usize,
}

impl Limits {
    /// 64 KiB batches, 64 of them queued at most (4 MiB, about 20,000 lines, or most of a
    /// second of a busy gateway's lines), flushed every 200 ms.
    pub fn standard() -> Limits {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        Limits {
            batch_bytes: 64 * 1024,
            queue_batches: 64,
            flush_every: Duration::from_millis(200),
            shards: (2 * cpus).clamp(2, 32),
        }
    }
}

/// Room for a long line past `batch_bytes`, so that one rarely grows a buffer.
const LINE_ROOM: usize = 8 * 1024;

/// Lines handed to the writer in one piece.
#[derive(Debug)]
pub struct Batch {
    pub bytes: Vec<u8>,
    pub lines: u64,
}

#[derive(Debug, Default)]
struct Shard {
    bytes: Vec<u8>,
    lines: u64,
    /// The timestamp of this shard's last line, formatted (see `format::Stamp`).
    stamp: Stamp,
}

/// The shards and the spare buffers.
#[derive(Debug)]
pub struct Buffers {
    shards: Box<[Mutex<Shard>]>,
    spare: Mutex<Vec<Vec<u8>>>,
    batch_bytes: usize,
    spare_max: usize,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these locks; if something did, the buffer is still a
    // buffer.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// This thread's slot number, given once per thread.
fn thread_slot() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SLOT: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    SLOT.with(|slot| *slot)
}

impl Buffers {
    pub fn new(limits: &Limits) -> Buffers {
        let capacity = limits.batch_bytes + LINE_ROOM;
        let shards = (0..limits.shards.max(1))
            .map(|_| {
                Mutex::new(Shard {
                    bytes: Vec::with_capacity(capacity),
                    lines: 0,
                    stamp: Stamp::default(),
                })
            })
            .collect();
        Buffers {
            shards,
            spare: Mutex::new(Vec::new()),
            batch_bytes: limits.batch_bytes,
            spare_max: limits.queue_batches + limits.shards + 1,
        }
    }

    /// Writes one line into this thread's shard with `format` (given the shard's buffer and
    /// its timestamp cache); returns the shard's lines as a batch when it is full.
    pub fn append(&self, format: impl FnOnce(&mut Vec<u8>, &mut Stamp)) -> Option<Batch> {
        let shard = self.shards.get(thread_slot() % self.shards.len())?;
        let mut shard = lock(shard);
        let shard = &mut *shard;
        format(&mut shard.bytes, &mut shard.stamp);
        shard.lines += 1;
        (shard.bytes.len() >= self.batch_bytes).then(|| self.take(shard))
    }

    /// Calls `each` with every shard's lines, taken out of it.
    pub fn take_all(&self, mut each: impl FnMut(Batch)) {
        for shard in self.shards.iter() {
            let batch = {
                let mut shard = lock(shard);
                (shard.lines > 0).then(|| self.take(&mut shard))
            };
            if let Some(batch) = batch {
                each(batch);
            }
        }
    }

    /// Takes a buffer back once its lines are written (or dropped), for reuse. One that a
    /// very long line made large is let go instead, so memory returns to its bound.
    pub fn recycle(&self, mut bytes: Vec<u8>) {
        if bytes.capacity() > 2 * (self.batch_bytes + LINE_ROOM) {
            return;
        }
        bytes.clear();
        let mut spare = lock(&self.spare);
        if spare.len() < self.spare_max {
            spare.push(bytes);
        }
    }

    fn take(&self, shard: &mut Shard) -> Batch {
        let fresh = lock(&self.spare)
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(self.batch_bytes + LINE_ROOM));
        Batch {
            bytes: std::mem::replace(&mut shard.bytes, fresh),
            lines: std::mem::take(&mut shard.lines),
        }
    }
}

/// Lines dropped: counted into the Prometheus counter at once, and told in a `warn` line at
/// most every [`Drops::WARN_EVERY`] (whichever thread drops, or the writer's next round,
/// reports what is due), so a stuck destination costs one log line per interval.
pub struct Drops {
    counter: prometheus::IntCounter,
    unreported: AtomicU64,
    /// Milliseconds since `epoch` before which no warning is due.
    next_warning_ms: AtomicU64,
    epoch: Instant,
}

impl std::fmt::Debug for Drops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drops")
            .field("total", &self.counter.get())
            .finish_non_exhaustive()
    }
}

impl Drops {
    pub const WARN_EVERY: Duration = Duration::from_secs(10);

    pub fn new(counter: prometheus::IntCounter) -> Drops {
        Drops {
            counter,
            unreported: AtomicU64::new(0),
            next_warning_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// `lines` lines were dropped.
    pub fn add(&self, lines: u64) {
        if lines == 0 {
            return;
        }
        self.counter.inc_by(lines);
        self.unreported.fetch_add(lines, Ordering::Relaxed);
        self.report_if_due();
    }

    /// Warns about the drops not told yet, unless a warning was given within `WARN_EVERY`.
    pub fn report_if_due(&self) {
        if self.unreported.load(Ordering::Relaxed) == 0 {
            return;
        }
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        let due = self.next_warning_ms.load(Ordering::Relaxed);
        let next = now.saturating_add(Self::WARN_EVERY.as_millis() as u64);
        if now < due
            || self
                .next_warning_ms
                .compare_exchange(due, next, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        self.report_now();
    }

    /// Warns about the drops not told yet, now (at shutdown).
    pub fn report_now(&self) {
        let dropped = self.unreported.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(
                dropped,
                total = self.counter.get(),
                "access log lines dropped: their destination did not keep up or failed \
                 (authgate_access_log_dropped_total)"
            );
        }
    }

    /// Every line dropped so far.
    #[cfg(test)]
    pub fn total(&self) -> u64 {
        self.counter.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn limits(batch_bytes: usize) -> Limits {
        Limits {
            batch_bytes,
            queue_batches: 2,
            flush_every: Duration::from_secs(1),
            shards: 3,
        }
    }

    #[test]
    fn a_shard_is_handed_over_when_it_reaches_the_batch_size() {
        let buffers = Buffers::new(&limits(100));
        let line = |out: &mut Vec<u8>, _: &mut Stamp| out.extend_from_slice(&[b'x'; 39]);
        assert!(buffers.append(line).is_none());
        assert!(buffers.append(line).is_none());
        let batch = buffers.append(line).expect("117 bytes is a batch");
        assert_eq!((batch.bytes.len(), batch.lines), (117, 3));
        // The shard starts again, empty, on a spare of the same capacity.
        let mut rest = Vec::new();
        buffers.take_all(|b| rest.push(b));
        assert!(rest.is_empty());
    }

    #[test]
    fn take_all_collects_every_shard_and_recycled_buffers_are_reused() {
        let buffers = Arc::new(Buffers::new(&limits(1000)));
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let buffers = buffers.clone();
                std::thread::spawn(move || {
                    assert!(buffers.append(|out, _| out.push(b'0' + i)).is_none());
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let mut batches = Vec::new();
        buffers.take_all(|b| batches.push(b));
        assert_eq!(batches.iter().map(|b| b.lines).sum::<u64>(), 4);
        let mut all: Vec<u8> = batches.iter().flat_map(|b| b.bytes.clone()).collect();
        all.sort_unstable();
        assert_eq!(all, b"0123");

        // A recycled buffer becomes the next shard buffer taken out: no allocation.
        let recycled = batches.pop().unwrap().bytes;
        let pointer = recycled.as_ptr();
        buffers.recycle(recycled);
        buffers.append(|out, _| out.push(b'y'));
        buffers.take_all(|b| assert_eq!(b.bytes, b"y"));
        buffers.append(|out, _| out.push(b'z'));
        let mut again = Vec::new();
        buffers.take_all(|b| again.push(b));
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].bytes, b"z");
        assert_eq!(again[0].bytes.as_ptr(), pointer);
    }

    #[test]
    fn drops_are_counted_at_once() {
        let counter = prometheus::IntCounter::new("t", "t").unwrap();
        let drops = Drops::new(counter.clone());
        drops.add(3);
        drops.add(0);
        drops.add(4);
        assert_eq!(counter.get(), 7);
        assert_eq!(drops.total(), 7);
        // The first warning told 3; the 4 after it wait for the next interval.
        assert_eq!(drops.unreported.load(Ordering::Relaxed), 4);
        drops.report_now();
        assert_eq!(drops.unreported.load(Ordering::Relaxed), 0);
    }
}

//! The sink end to end, with writers that record, block or fail: lines reach the
//! destination by size, by timer and on close; a blocked destination never blocks `log`,
//! and what it cannot take is dropped and counted; a reopen switches destinations.

use std::io::{self, Write};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::*;

/// A destination that keeps what it is given.
#[derive(Clone, Default)]
struct Recorded(Arc<Mutex<Vec<u8>>>);

impl Write for Recorded {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Recorded {
    fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Waits until at least `n` lines arrived (at most 5 s).
    fn wait_for(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let lines = self.lines();
            if lines.len() >= n || Instant::now() > deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// A destination whose every write waits for a permit on a channel (or for the channel to
/// close), then records.
struct Gated {
    permits: Receiver<()>,
    out: Recorded,
}

impl Write for Gated {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _ = self.permits.recv();
        self.out.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct Failing;

impl Write for Failing {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::other("disk full"))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn counter() -> prometheus::IntCounter {
    prometheus::IntCounter::new("dropped", "dropped").unwrap()
}

fn limits(batch_bytes: usize, queue_batches: usize, flush_every: Duration) -> Limits {
    Limits {
        batch_bytes,
        queue_batches,
        flush_every,
        shards: 2,
    }
}

fn entry(request_id: &str) -> Entry<'_> {
    Entry {
        time: crate::clock::log_timestamp(),
        method: &http::Method::GET,
        path: "/x",
        status: 200,
        route: "/",
        upstream: "http://127.0.0.1:9",
        label_plain: true,
        reason: "-",
        peer: "-",
        bytes: 2,
        duration_us: 10,
        complete: true,
        request_id: request_id.as_bytes(),
    }
}

const HOUR: Duration = Duration::from_secs(3600);

fn ids(lines: &[String]) -> Vec<String> {
    let mut ids: Vec<String> = lines
        .iter()
        .map(|l| l.rsplit("request_id=").next().unwrap().to_owned())
        .collect();
    ids.sort_unstable_by_key(|id| id.parse::<u32>().unwrap_or(u32::MAX));
    ids
}

#[test]
fn a_full_batch_is_written_without_waiting_for_the_timer() {
    let out = Recorded::default();
    let line_len = {
        let mut one = Vec::new();
        format::write_line(
            &mut one,
            &mut format::Stamp::default(),
            AccessFormat::Logfmt,
            &entry("0"),
        );
        one.len()
    };
    let sink = AccessSink::with(
        Destination::writer(Box::new(out.clone())),
        limits(line_len * 3, 4, HOUR),
        counter(),
    )
    .unwrap();
    sink.log(AccessFormat::Logfmt, &entry("0"));
    sink.log(AccessFormat::Logfmt, &entry("1"));
    std::thread::sleep(Duration::from_millis(100));
    assert!(out.lines().is_empty(), "written before the batch was full");
    sink.log(AccessFormat::Logfmt, &entry("2"));
    assert_eq!(ids(&out.wait_for(3)), ["0", "1", "2"]);
    assert!(sink.close(CLOSE_WAIT));
}

#[test]
fn lines_short_of_a_batch_are_written_by_the_timer() {
    let out = Recorded::default();
    let sink = AccessSink::with(
        Destination::writer(Box::new(out.clone())),
        limits(1 << 20, 4, Duration::from_millis(50)),
        counter(),
    )
    .unwrap();
    let start = Instant::now();
    sink.log(AccessFormat::Json, &entry("7"));
    let lines = out.wait_for(1);
    assert_eq!(lines.len(), 1);
    assert!(start.elapsed() < Duration::from_secs(2));
    let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(v["request_id"], "7");
    assert!(sink.close(CLOSE_WAIT));
}

#[test]
fn close_writes_every_line_still_held() {
    let out = Recorded::default();
    let sink = Arc::new(
        AccessSink::with(
            Destination::writer(Box::new(out.clone())),
            limits(1 << 20, 4, HOUR),
            counter(),
        )
        .unwrap(),
    );
    // From several threads, so several shards hold lines.
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let sink = sink.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    sink.log(AccessFormat::Logfmt, &entry(&(t * 25 + i).to_string()));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert!(out.lines().is_empty());
    assert!(sink.close(CLOSE_WAIT));
    let expected: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    assert_eq!(ids(&out.lines()), expected);
    // After the close, a line is dropped and counted, never written.
    sink.log(AccessFormat::Logfmt, &entry("late"));
    assert_eq!(sink.dropped(), 1);
    assert_eq!(out.lines().len(), 100);
}

/// A destination that takes nothing: `log` goes on returning at once, lines beyond the
/// queue are dropped and counted, and when the destination moves again every line is
/// either written or counted, never both, never neither.
#[test]
fn a_blocked_destination_drops_and_counts_instead_of_stalling() {
    let out = Recorded::default();
    let (permits, gate): (Sender<()>, Receiver<()>) = channel();
    let dropped = counter();
    // Every line is a batch of its own; two may wait for the writer.
    let sink = AccessSink::with(
        Destination::writer(Box::new(Gated {
            permits: gate,
            out: out.clone(),
        })),
        limits(1, 2, HOUR),
        dropped.clone(),
    )
    .unwrap();
    let start = Instant::now();
    for i in 0..1000 {
        sink.log(AccessFormat::Logfmt, &entry(&i.to_string()));
    }
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "log waited for the destination: {:?}",
        start.elapsed()
    );
    // At most one batch in the writer's hands and two queued got through.
    assert!(dropped.get() >= 997, "{}", dropped.get());
    assert_eq!(sink.dropped(), dropped.get());
    drop(permits);
    assert!(sink.close(CLOSE_WAIT));
    let written = out.lines().len() as u64;
    assert_eq!(written + dropped.get(), 1000, "written {written}");
    assert!(written >= 1);
}

#[test]
fn close_gives_up_on_a_destination_that_never_moves() {
    let (_permits, gate) = channel::<()>();
    let sink = AccessSink::with(
        Destination::writer(Box::new(Gated {
            permits: gate,
            out: Recorded::default(),
        })),
        limits(1, 2, HOUR),
        counter(),
    )
    .unwrap();
    sink.log(AccessFormat::Logfmt, &entry("1"));
    let start = Instant::now();
    assert!(!sink.close(Duration::from_millis(200)));
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn a_failing_destination_counts_its_lines_as_dropped() {
    let dropped = counter();
    let sink = AccessSink::with(
        Destination::writer(Box::new(Failing)),
        limits(1 << 20, 4, HOUR),
        dropped.clone(),
    )
    .unwrap();
    for i in 0..5 {
        sink.log(AccessFormat::Logfmt, &entry(&i.to_string()));
    }
    assert!(sink.close(CLOSE_WAIT));
    assert_eq!(dropped.get(), 5);
}

#[test]
fn a_reopen_sends_the_following_lines_to_the_new_destination() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let sink = AccessSink::with(
        Destination::open(Some(&path)).unwrap(),
        limits(1 << 20, 4, Duration::from_millis(20)),
        counter(),
    )
    .unwrap();
    sink.log(AccessFormat::Logfmt, &entry("before"));
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !read(&path).contains("request_id=before") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    // logrotate: rename, then ask for the reopen.
    let rotated = dir.path().join("access.log.1");
    std::fs::rename(&path, &rotated).unwrap();
    sink.reopen(Destination::open(Some(&path)).unwrap());
    std::thread::sleep(Duration::from_millis(100));
    sink.log(AccessFormat::Logfmt, &entry("after"));
    assert!(sink.close(CLOSE_WAIT));
    assert_eq!(read(&rotated).lines().count(), 1, "{}", read(&rotated));
    assert!(read(&rotated).contains("request_id=before"));
    assert_eq!(read(&path).lines().count(), 1, "{}", read(&path));
    assert!(read(&path).contains("request_id=after"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & 0o007, 0, "{mode:o}");
}

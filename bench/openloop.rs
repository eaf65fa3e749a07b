//! An open-loop HTTP/1.1 load generator: `cargo bench --bench openloop -- URL RATE SECONDS
//! [--conns K]`, or the built binary called by `bench/auth.sh` (its "login" part).
//!
//! `wrk` is closed-loop: each connection sends its next request when the previous answer
//! arrives, so a server that stalls for 50 ms is simply asked less during those 50 ms and the
//! stall hardly shows in the percentiles (coordinated omission), and at saturation every
//! CPU cycle spent elsewhere is queueing. Here request `i` is due at `t0 + i/RATE` whatever
//! happened before, and its latency is measured from that *scheduled* time to the end of the
//! response body: a request that waited for a free connection because the server stalled is
//! charged the wait.
//!
//! A pacer thread (plain `thread::sleep`, tens of microseconds of slack, where tokio's timer
//! has a millisecond) hands each due time to a queue; `K` keep-alive connections (one hyper
//! `http1` client connection each) take the next due request whenever they are free. When
//! the schedule ends the requests already due are still completed (up to `--drain` seconds),
//! so the tail at the end is not cut off. The result is one line of `key=value` pairs on
//! stdout:
//!
//! ```text
//! openloop target_rps=… rps=… scheduled=… completed=… errors=… non2xx=… unfinished=…
//!          p50_ms=… p90_ms=… p99_ms=… p999_ms=… max_ms=… pacer_p99_ms=… pacer_max_ms=… conns=…
//! ```
//!
//! `rps` is completed responses over the scheduled window; `errors` are connection or
//! protocol failures, `non2xx` answers outside 2xx/3xx, `unfinished` requests still waiting
//! when the drain time ran out (counted in `errors` too). The percentiles are over every
//! request that got an answer. `pacer_*` is how late the pacer itself handed requests out:
//! the generator's own noise floor, which the latencies include.

// A benchmark program, not the gateway: a failed set-up may abort it.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Mutex};

const USAGE: &str = "usage: openloop URL RATE SECONDS [--conns K] [--drain SECONDS]";

struct Args {
    host: String,
    port: u16,
    target: String,
    rate: f64,
    seconds: f64,
    conns: usize,
    drain: f64,
}

fn parse_args() -> Args {
    // `cargo bench` passes `--bench`; ignore it.
    let mut positional = Vec::new();
    let mut conns = 64;
    let mut drain = 10.0;
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    while let Some(a) = args.next() {
        match a.as_str() {
            "--conns" => conns = args.next().and_then(|v| v.parse().ok()).expect(USAGE),
            "--drain" => drain = args.next().and_then(|v| v.parse().ok()).expect(USAGE),
            _ if a.starts_with("--") => panic!("unknown option {a}\n{USAGE}"),
            _ => positional.push(a),
        }
    }
    assert!(positional.len() == 3, "{USAGE}");
    let uri: hyper::Uri = positional[0].parse().expect("URL");
    assert_eq!(uri.scheme_str(), Some("http"), "only http:// URLs");
    let rate: f64 = positional[1].parse().expect("RATE");
    let seconds: f64 = positional[2].parse().expect("SECONDS");
    assert!(rate > 0.0 && seconds > 0.0 && conns > 0, "{USAGE}");
    Args {
        host: uri.host().expect("URL host").to_owned(),
        port: uri.port_u16().unwrap_or(80),
        target: uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
        rate,
        seconds,
        conns,
        drain,
    }
}

async fn connect(host: &str, port: u16) -> Result<SendRequest<Empty<Bytes>>, String> {
    let stream = TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// One request on `sender`: its status, or why it failed.
async fn get(
    sender: &mut SendRequest<Empty<Bytes>>,
    host: &str,
    target: &str,
) -> Result<u16, String> {
    sender.ready().await.map_err(|e| format!("ready: {e}"))?;
    let req = hyper::Request::get(target)
        .header(hyper::header::HOST, host)
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("send: {e}"))?;
    let status = resp.status().as_u16();
    resp.into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?;
    Ok(status)
}

#[derive(Default)]
struct Tally {
    /// Latency from the scheduled time to the end of the response, in nanoseconds.
    latencies: Vec<u64>,
    errors: u64,
    non2xx: u64,
    first_error: Option<String>,
}

/// Takes due requests off the queue until it is closed, on one connection.
async fn worker(
    queue: Arc<Mutex<mpsc::UnboundedReceiver<Instant>>>,
    mut sender: SendRequest<Empty<Bytes>>,
    host: Arc<str>,
    target: Arc<str>,
    port: u16,
) -> Tally {
    let mut tally = Tally::default();
    loop {
        let due = {
            let mut q = queue.lock().await;
            match q.recv().await {
                Some(due) => due,
                None => return tally,
            }
        };
        match get(&mut sender, &host, &target).await {
            Ok(status) => {
                tally.latencies.push(due.elapsed().as_nanos() as u64);
                if !(200..400).contains(&status) {
                    tally.non2xx += 1;
                }
            }
            Err(e) => {
                tally.errors += 1;
                tally.first_error.get_or_insert(e);
                // The connection is unusable after a failure: open a new one.
                match connect(&host, port).await {
                    Ok(s) => sender = s,
                    Err(e) => {
                        tally.first_error.get_or_insert(e);
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        }
    }
}

/// Hands out due times, `t0 + i/rate`, for `seconds`. Returns how many, and how late each
/// hand-out was (nanoseconds).
fn pace(tx: mpsc::UnboundedSender<Instant>, t0: Instant, rate: f64, seconds: f64) -> Vec<u64> {
    let total = (rate * seconds).round() as u64;
    let mut late = Vec::with_capacity(total as usize);
    for i in 0..total {
        let due = t0 + Duration::from_secs_f64(i as f64 / rate);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        late.push(due.elapsed().as_nanos() as u64);
        if tx.send(due).is_err() {
            break;
        }
    }
    late
}

/// The `p`-th percentile (0–100) of sorted `xs`, nearest rank, in milliseconds.
fn pct_ms(xs: &[u64], p: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * xs.len() as f64).ceil() as usize;
    xs[rank.clamp(1, xs.len()) - 1] as f64 / 1e6
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let args = parse_args();
    // One thread for the connections (the client CPU is usually one core) plus the pacer.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(args));
}

async fn run(args: Args) {
    let host: Arc<str> = Arc::from(args.host.as_str());
    let target: Arc<str> = Arc::from(args.target.as_str());
    // Every connection is open (and has answered once) before the schedule starts.
    let mut senders = Vec::with_capacity(args.conns);
    for _ in 0..args.conns {
        let mut s = connect(&host, args.port).await.unwrap();
        let status = get(&mut s, &host, &target).await.unwrap();
        assert!(
            (200..400).contains(&status),
            "{} answered {status}",
            args.target
        );
        senders.push(s);
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let queue = Arc::new(Mutex::new(rx));
    let workers: Vec<_> = senders
        .into_iter()
        .map(|s| {
            tokio::spawn(worker(
                queue.clone(),
                s,
                host.clone(),
                target.clone(),
                args.port,
            ))
        })
        .collect();
    let t0 = Instant::now() + Duration::from_millis(20);
    let (rate, seconds) = (args.rate, args.seconds);
    let mut late = tokio::task::spawn_blocking(move || pace(tx, t0, rate, seconds))
        .await
        .unwrap();
    let scheduled = late.len() as u64;

    let mut all = Tally::default();
    let deadline = Instant::now() + Duration::from_secs_f64(args.drain);
    let mut lost = 0;
    for w in workers {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, w).await {
            Ok(Ok(t)) => {
                all.latencies.extend(t.latencies);
                all.errors += t.errors;
                all.non2xx += t.non2xx;
                if all.first_error.is_none() {
                    all.first_error = t.first_error;
                }
            }
            _ => lost += 1,
        }
    }
    let completed = all.latencies.len() as u64;
    // Requests never answered: still queued, in flight, or on a connection that was given up.
    let unfinished = scheduled.saturating_sub(completed + all.errors);
    if lost > 0 || unfinished > 0 {
        all.first_error
            .get_or_insert_with(|| format!("{unfinished} unanswered after the drain"));
    }
    all.latencies.sort_unstable();
    late.sort_unstable();
    let l = &all.latencies;
    println!(
        "openloop target_rps={:.0} rps={:.1} scheduled={scheduled} completed={completed} \
         errors={} non2xx={} unfinished={unfinished} p50_ms={:.3} p90_ms={:.3} p99_ms={:.3} \
         p999_ms={:.3} max_ms={:.3} pacer_p99_ms={:.3} pacer_max_ms={:.3} conns={} \
         first_error={}",
        args.rate,
        completed as f64 / args.seconds,
        all.errors + unfinished,
        all.non2xx,
        pct_ms(l, 50.0),
        pct_ms(l, 90.0),
        pct_ms(l, 99.0),
        pct_ms(l, 99.9),
        l.last().map_or(f64::NAN, |&x| x as f64 / 1e6),
        pct_ms(&late, 99.0),
        late.last().map_or(f64::NAN, |&x| x as f64 / 1e6),
        args.conns,
        all.first_error
            .as_deref()
            .unwrap_or("-")
            .replace(char::is_whitespace, "_"),
    );
}

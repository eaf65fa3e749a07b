//! The persisted memory store under size, end to end: `cargo bench --bench store`.
//!
//! Runs the real gateway binary twice on a fresh `data_dir`, journal fsync on, server pinned
//! to one CPU (when `taskset` exists) and this client on the other:
//!
//! 1. **empty**: a store holding only the refresh chains the client uses;
//! 2. **large**: the same chains plus `LIVE` (default 1,000,000) live refresh tokens, 90% in
//!    the snapshot and 10% in the journal after it.
//!
//! For each it reports start-up time (spawn to `/healthz` answering; target for the large
//! store: under 10 s) and token issuance: `CHAINS` concurrent clients each redeeming its
//! refresh token at `POST /oauth2/token` and using the new one next, for `SECONDS` seconds
//! (target: the large store at least 0.8x the empty one). Knobs: `LIVE`, `CHAINS` (64),
//! `SECONDS` (10).

// A benchmark program, not the gateway: a failed set-up may abort it.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use authgate::store::memory::change::Change;
use authgate::store::memory::state::{FamilyEntry, RefreshEntry, State};
use authgate::store::persist::{journal_path, record, write_snapshot, Snapshot};
use authgate::store::{IssuedAccess, RefreshRecord};
use authgate::tokens::opaque::TokenHash;

const FAR: u64 = 4_000_000_000;

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn record(family: &str) -> RefreshRecord {
    RefreshRecord {
        sign_in: None,
        family: family.to_owned(),
        client_id: "bench-app".into(),
        user: "bench".into(),
        scope: "api".into(),
        expires_at: FAR,
        oidc: None,
    }
}

fn access(i: u64) -> IssuedAccess {
    IssuedAccess {
        jti: format!("bench-access-{i:016}"),
        expires_at: FAR,
    }
}

/// A live family with one current refresh token `token`.
fn put_family(state: &mut State, family: String, token: TokenHash, access: Vec<IssuedAccess>) {
    state.refresh.insert(
        token,
        RefreshEntry {
            record: record(&family),
            rotated: None,
        },
    );
    state.families.insert(
        family,
        FamilyEntry {
            user: "bench".into(),
            client_id: "bench-app".into(),
            revoked: false,
            expires_at: FAR,
            access,
            tokens: vec![token],
            sid: None,
        },
    );
}

/// Live families, one refresh token each, keyed `bulk-{i}`.
fn bulk_state(state: &mut State, range: std::ops::Range<u64>) {
    for i in range {
        let token = TokenHash::of(&format!("bulk-{i}"));
        put_family(
            state,
            format!("bulk-family-{i:016}"),
            token,
            vec![access(i)],
        );
    }
}

/// Writes a data directory: the client chains and `live` bulk tokens, 90% in the snapshot,
/// the rest as journal records after it.
fn prepare(dir: &Path, chains: u64, live: u64) -> u64 {
    std::fs::create_dir_all(dir).unwrap();
    let in_snapshot = live * 9 / 10;
    let mut state = State::default();
    bulk_state(&mut state, 0..in_snapshot);
    for c in 0..chains {
        let token = TokenHash::of(&format!("chain-{c}-start"));
        put_family(&mut state, format!("chain-family-{c}"), token, Vec::new());
    }
    write_snapshot(dir, &Snapshot::new(1, 1, &state)).unwrap();
    drop(state);
    let mut journal = Vec::new();
    for (seq, i) in (in_snapshot..live).enumerate() {
        let change = Change::PutRefresh {
            token: TokenHash::of(&format!("bulk-{i}")),
            record: record(&format!("bulk-family-{i:016}")),
            access: access(i),
        };
        record::encode_into(
            &mut journal,
            seq as u64 + 1,
            &serde_json::to_vec(&change).unwrap(),
        );
    }
    std::fs::write(journal_path(dir, 1), &journal).unwrap();
    std::fs::metadata(dir.join("store.snapshot.json"))
        .unwrap()
        .len()
        + journal.len() as u64
}

fn password_hash() -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::encode_b64(b"bench-salt-bytes").unwrap();
    argon2::Argon2::default()
        .hash_password(b"bench-password", &salt)
        .unwrap()
        .to_string()
}

fn config(dir: &Path, port: u16) -> PathBuf {
    let key = dir.join("signing.key");
    std::fs::write(&key, "k".repeat(64)).unwrap();
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}"
data_dir = "{data}"
[server.tls]
mode = "off"
[log]
access = false
[tokens]
signing_key = "file:{key}"
[store]
backend = "memory"
fsync = true
[admin]
listen = "off"
[scopes]
api = "the API"
[[users]]
name = "bench"
password = "{hash}"
scopes = ["api"]
[[clients]]
id = "bench-app"
type = "public"
redirect_uris = ["http://127.0.0.1/cb"]
grants = ["authorization_code", "refresh_token"]
scopes = ["api"]
"#,
        data = dir.join("data").display(),
        key = key.display(),
        hash = password_hash(),
    );
    let path = dir.join("gateway.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn spawn(config: &Path) -> Child {
    let binary = env!("CARGO_BIN_EXE_authgate");
    let pinned = Command::new("taskset").arg("-V").output().is_ok();
    let mut command = if pinned {
        let mut c = Command::new("taskset");
        c.args(["-c", "1", binary]);
        c
    } else {
        Command::new(binary)
    };
    command
        .args(["serve", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

async fn wait_ready(client: &reqwest::Client, port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the gateway exited: {status}");
        }
        if let Ok(resp) = client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
        {
            if resp.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the gateway did not become ready within 120 s");
}

/// `chains` clients rotating their refresh tokens for `seconds`: issued tokens per second.
async fn issue(client: &reqwest::Client, port: u16, chains: u64, seconds: u64) -> f64 {
    let url = format!("http://127.0.0.1:{port}/oauth2/token");
    let done = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..chains {
        let client = client.clone();
        let url = url.clone();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            let mut token = format!("chain-{c}-start");
            while Instant::now() < stop {
                let form = [
                    ("grant_type", "refresh_token"),
                    ("client_id", "bench-app"),
                    ("refresh_token", token.as_str()),
                ];
                let resp = client.post(&url).form(&form).send().await.unwrap();
                let status = resp.status();
                let body: HashMap<String, serde_json::Value> = resp.json().await.unwrap();
                assert!(status.is_success(), "{status}: {body:?}");
                token = body["refresh_token"].as_str().unwrap().to_owned();
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

struct Run {
    startup: Duration,
    rate: f64,
    rss_mib: f64,
    bytes: u64,
}

async fn run(live: u64, chains: u64, seconds: u64) -> Run {
    let work = tempfile::tempdir().unwrap();
    let bytes = prepare(&work.path().join("data"), chains, live);
    let port = free_port();
    let config = config(work.path(), port);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(chains as usize)
        .build()
        .unwrap();
    let started = Instant::now();
    let mut child = spawn(&config);
    wait_ready(&client, port, &mut child).await;
    let startup = started.elapsed();
    let rss_mib = rss_mib(child.id());
    let rate = issue(&client, port, chains, seconds).await;
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
    Run {
        startup,
        rate,
        rss_mib,
        bytes,
    }
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let live = knob("LIVE", 1_000_000);
    let chains = knob("CHAINS", 64);
    let seconds = knob("SECONDS", 10);
    // Pin this client away from the server's CPU when the machine has two.
    let _ = Command::new("taskset")
        .args(["-p", "-c", "0", &std::process::id().to_string()])
        .stdout(Stdio::null())
        .status();
    eprintln!("empty store…");
    let empty = run(0, chains, seconds).await;
    eprintln!("{live} live refresh tokens…");
    let large = run(live, chains, seconds).await;
    println!("| store | files | start-up | RSS after start | issuance (refresh grant, fsync on) |");
    println!("|---|---|---|---|---|");
    for (name, r) in [
        ("empty", &empty),
        (&format!("{live} live tokens") as &str, &large),
    ] {
        println!(
            "| {name} | {:.1} MiB | {:.2} s | {:.0} MiB | {:.0} tokens/s |",
            r.bytes as f64 / (1 << 20) as f64,
            r.startup.as_secs_f64(),
            r.rss_mib,
            r.rate
        );
    }
    println!(
        "\nissuance ratio large/empty: {:.2}x (target >= 0.8x); large start-up {:.2} s (target < 10 s)",
        large.rate / empty.rate,
        large.startup.as_secs_f64()
    );
}

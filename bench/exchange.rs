//! The authorization-code exchange with and without `openid`, end to end: `cargo bench
//! --bench exchange` (issue 14 target: an exchange with `openid` within 1.2x the cost of one
//! without).
//!
//! Runs the real gateway binary (`AUTHGATE_BIN`, default the one cargo builds for this
//! bench) on a generated `gateway.toml`: memory store, one user, four confidential
//! first-party clients that differ only in what the exchange has to sign:
//!
//! - `plain`: scopes `api:read offline_access`, no `openid`: an access token and a refresh
//!   token;
//! - `rs256`, `es256`, `eddsa`: `openid` as well, `id_token_signed_response_alg` RS256 (the
//!   default), ES256, EdDSA: the same two tokens plus an ID token. `offline_access` is asked
//!   by every kind, because an OpenID grant gets a refresh token only with it (OIDC Core §11):
//!   without it the `openid` exchanges would store less than the plain one.
//!
//! With `FSYNC=both` (the default) two such gateways run side by side, one with
//! `[store] fsync = true` (the default, as deployed) and one with `fsync = false`, so that
//! the journal's fdatasync and the CPU work can be told apart. Both are pinned to
//! `SERVER_CPU` (1) and this client to `CLIENT_CPU` (0) when `taskset` exists.
//!
//! The client signs in once per gateway through the login page (its CSRF field parsed from
//! the page, cookies kept by hand: they are `Secure` and this is plain HTTP), then, `ROUNDS`
//! times and for each gateway in turn, `ITERATIONS` times over every kind in turn (so drift
//! on the busy machine hits all kinds alike): `GET /oauth2/authorize` (the login session and `first_party` make it
//! redirect with a code at once: no page, no password hash), then the timed part, `POST
//! /oauth2/token` (`authorization_code`, HTTP Basic, PKCE verifier), from send to the end
//! of the body, over a kept-alive connection. Around each token request it also reads the
//! gateway's CPU time (`/proc/PID/task/*/schedstat`, nanoseconds): what the server spent on
//! that exchange, without the client's share of the latency.
//!
//! It prints, per gateway and kind, mean / p50 / p99 latency and mean server CPU per
//! exchange in µs, and each ratio to `plain`, pooled over the rounds, with the spread of the
//! per-round ratios; and what one fdatasync of a journal-sized append costs on the disk
//! holding the data directory (`WORK_DIR`, default the temporary directory).
//!
//! Knobs: `AUTHGATE_BIN`, `ROUNDS` (5), `ITERATIONS` (400), `WARMUP` (50 per kind),
//! `FSYNC` (`both` | `on` | `off`), `SCOPE_EXTRA` (more scopes for the `openid` kinds, e.g.
//! `"profile email groups"`, so the ID token carries the user's claims), `SERVER_CPU`,
//! `CLIENT_CPU`, `WORK_DIR`.

// A benchmark program, not the gateway: a failed set-up may abort it.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

const USER: &str = "bench";
const PASSWORD: &str = "bench-password";
const REDIRECT: &str = "https://app.example/cb";
const VERIFIER: &str = "bench-pkce-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";

/// One client kind: its id, its `id_token_signed_response_alg` (`None`: no `openid`).
const KINDS: [(&str, Option<&str>); 4] = [
    ("plain", None),
    ("rs256", Some("RS256")),
    ("es256", Some("ES256")),
    ("eddsa", Some("EdDSA")),
];

fn knob(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn knob_n(name: &str, default: usize) -> usize {
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

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A cheap argon2id hash: the one login per gateway is not what is measured.
fn password_hash() -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let params = argon2::Params::new(64, 1, 1, None).unwrap();
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(b"bench-salt-bytes").unwrap();
    argon
        .hash_password(PASSWORD.as_bytes(), &salt)
        .unwrap()
        .to_string()
}

fn client_secret(id: &str) -> String {
    format!("bench-secret-{id}-{}", std::process::id())
}

fn scopes_of(alg: Option<&str>, extra: &str) -> String {
    match alg {
        None => "api:read offline_access".to_owned(),
        Some(_) => format!("openid api:read offline_access {extra}")
            .trim()
            .to_owned(),
    }
}

fn config(dir: &Path, port: u16, fsync: bool, extra: &str) -> PathBuf {
    let mut text = format!(
        r#"# generated by bench/exchange.rs
[server]
listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}"
data_dir = "{data}"
[server.tls]
mode = "off"
[log]
access = false
level = "warn"
[admin]
listen = "off"
[tokens]
access_ttl = "1h"
[store]
backend = "memory"
fsync = {fsync}
[scopes]
"api:read" = "Read the benchmark API"
[[users]]
name = "{USER}"
password = "{hash}"
scopes = ["api:read", "openid", "offline_access", "profile", "email", "groups"]
email = "bench@example.com"
display_name = "Bench User"
groups = ["admins", "dev"]
"#,
        data = dir.join("data").display(),
        hash = password_hash(),
    );
    for (id, alg) in KINDS {
        let scopes: Vec<String> = scopes_of(alg, extra)
            .split(' ')
            .map(|s| format!("\"{s}\""))
            .collect();
        text.push_str(&format!(
            r#"[[clients]]
id = "{id}"
type = "confidential"
secret = "sha256:{secret}"
redirect_uris = ["{REDIRECT}"]
grants = ["authorization_code", "refresh_token"]
scopes = [{scopes}]
first_party = true
"#,
            secret = sha256_hex(&client_secret(id)),
            scopes = scopes.join(", "),
        ));
        if let Some(alg) = alg {
            text.push_str(&format!("id_token_signed_response_alg = \"{alg}\"\n"));
        }
    }
    let path = dir.join("gateway.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn binary() -> String {
    std::env::var("AUTHGATE_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_authgate").to_owned())
}

fn spawn(config: &Path, cpu: &str) -> Child {
    let binary = binary();
    let pinned = Command::new("taskset").arg("-V").output().is_ok();
    let mut command = if pinned {
        let mut c = Command::new("taskset");
        c.args(["-c", cpu, &binary]);
        c
    } else {
        Command::new(&binary)
    };
    command
        .args(["serve", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// The gateway's CPU time so far, in ns: every thread's `schedstat` (time on a CPU).
fn cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .filter_map(|t| t.ok())
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Cookies by hand: `Set-Cookie` values stored by name, sent back in one `Cookie` header.
#[derive(Default)]
struct Jar(HashMap<String, String>);

impl Jar {
    fn take(&mut self, resp: &reqwest::Response) {
        for v in resp.headers().get_all(reqwest::header::SET_COOKIE) {
            let text = v.to_str().unwrap_or("");
            let pair = text.split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() || text.to_ascii_lowercase().contains("max-age=0") {
                    self.0.remove(name);
                } else {
                    self.0.insert(name.to_owned(), value.to_owned());
                }
            }
        }
    }
    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn hidden(page: &str, name: &str) -> String {
    let marker = format!("<input type=\"hidden\" name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no hidden `{name}` in the login page"))
        + marker.len();
    let rest = page.get(start..).unwrap();
    unescape(rest.get(..rest.find('"').unwrap()).unwrap())
}

struct Gateway {
    name: &'static str,
    base: String,
    child: Child,
    jar: Jar,
    _work: tempfile::TempDir,
}

fn authorize_query(client: &str, scope: &str, openid: bool, n: usize) -> String {
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()));
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", client)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", scope)
        .append_pair("state", &format!("s{n}"))
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    if openid {
        q.append_pair("nonce", &format!("n-{n}"));
    }
    q.finish()
}

async fn start(name: &'static str, fsync: bool, http: &reqwest::Client) -> Gateway {
    let work = match std::env::var("WORK_DIR") {
        Ok(dir) => tempfile::tempdir_in(dir).unwrap(),
        Err(_) => tempfile::tempdir().unwrap(),
    };
    let port = free_port();
    let extra = knob("SCOPE_EXTRA", "");
    let config = config(work.path(), port, fsync, &extra);
    let check = Command::new(binary())
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "authgate check refused the generated configuration: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let mut child = spawn(&config, &knob("SERVER_CPU", "1"));
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the gateway exited: {status}");
        }
        if let Ok(resp) = http.get(format!("{base}/healthz")).send().await {
            if resp.status().is_success() {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the gateway did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Sign in once: the login page (CSRF cookie and field), then the form post.
    let mut jar = Jar::default();
    let query = authorize_query("plain", &scopes_of(None, ""), false, 0);
    let page = http
        .get(format!("{base}/oauth2/authorize?{query}"))
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.status(),
        200,
        "the authorize endpoint showed no login page"
    );
    jar.take(&page);
    let html = page.text().await.unwrap();
    let form = [
        ("csrf", hidden(&html, "csrf")),
        ("request", hidden(&html, "request")),
        ("username", USER.to_owned()),
        ("password", PASSWORD.to_owned()),
    ];
    let login = http
        .post(format!("{base}/oauth2/login"))
        .header("Cookie", jar.header())
        .header("Origin", &base)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303, "the sign-in was refused");
    jar.take(&login);
    assert!(
        jar.0.contains_key("__Host-authgate-login"),
        "no login session cookie after the sign-in"
    );
    Gateway {
        name,
        base,
        child,
        jar,
        _work: work,
    }
}

fn alg_of(jwt: &str) -> String {
    let head = jwt.split('.').next().unwrap_or("");
    let bytes = URL_SAFE_NO_PAD.decode(head).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    v["alg"].as_str().unwrap_or("?").to_owned()
}

/// One exchange: authorize (untimed), then the token request: (latency ns, server CPU ns).
async fn exchange(
    http: &reqwest::Client,
    gw: &Gateway,
    kind: (&str, Option<&str>),
    n: usize,
    extra: &str,
) -> (u64, u64) {
    let (client, alg) = kind;
    let query = authorize_query(client, &scopes_of(alg, extra), alg.is_some(), n);
    let resp = http
        .get(format!("{}/oauth2/authorize?{query}", gw.base))
        .header("Accept", "text/html")
        .header("Cookie", gw.jar.header())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302, "authorize did not redirect with a code");
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let _ = resp.bytes().await;
    let url = reqwest::Url::parse(&location).unwrap();
    let code = url
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no code in the redirect"));
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let request = http
        .post(format!("{}/oauth2/token", gw.base))
        .basic_auth(client, Some(client_secret(client)))
        .form(&form)
        .build()
        .unwrap();
    let pid = gw.child.id();
    let cpu0 = cpu_ns(pid);
    let t0 = Instant::now();
    let resp = http.execute(request).await.unwrap();
    let status = resp.status();
    let body = resp.bytes().await.unwrap();
    let took = t0.elapsed().as_nanos() as u64;
    let cpu = cpu_ns(pid).saturating_sub(cpu0);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(v["refresh_token"].is_string(), "no refresh token");
    match alg {
        None => assert!(v.get("id_token").is_none(), "an ID token without openid"),
        Some(want) => {
            let got = alg_of(v["id_token"].as_str().expect("no id_token"));
            assert_eq!(got, want, "the ID token's alg");
        }
    }
    (took, cpu)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

fn mean_us(v: &[u64]) -> f64 {
    v.iter().sum::<u64>() as f64 / v.len().max(1) as f64 / 1000.0
}

/// What one append + fdatasync costs on the disk of `dir` (the journal's pattern).
fn fsync_cost(dir: &Path, n: usize) -> (f64, f64, f64) {
    let path = dir.join("fsync-probe");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap();
    let line = [b'x'; 300];
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        file.write_all(&line).unwrap();
        file.sync_data().unwrap();
        times.push(t.elapsed().as_nanos() as u64);
    }
    let _ = std::fs::remove_file(&path);
    let mean = mean_us(&times);
    times.sort_unstable();
    (mean, percentile(&times, 0.5), percentile(&times, 0.99))
}

#[derive(Default)]
struct Samples {
    /// Per round: latencies and server CPU (ns).
    lat: Vec<Vec<u64>>,
    cpu: Vec<Vec<u64>>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rounds = knob_n("ROUNDS", 5);
    let iterations = knob_n("ITERATIONS", 400);
    let warmup = knob_n("WARMUP", 50);
    let extra = knob("SCOPE_EXTRA", "");
    let fsync_mode = knob("FSYNC", "both");
    let _ = Command::new("taskset")
        .args([
            "-p",
            "-c",
            &knob("CLIENT_CPU", "0"),
            &std::process::id().to_string(),
        ])
        .stdout(Stdio::null())
        .status();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(4)
        .build()
        .unwrap();
    let mut gateways = Vec::new();
    if fsync_mode == "both" || fsync_mode == "on" {
        gateways.push(start("fsync on (default)", true, &http).await);
    }
    if fsync_mode == "both" || fsync_mode == "off" {
        gateways.push(start("fsync off", false, &http).await);
    }
    assert!(!gateways.is_empty(), "FSYNC must be both, on or off");

    eprintln!("warm-up: {warmup} exchanges per kind and gateway");
    for i in 0..warmup {
        for gw in &gateways {
            for kind in KINDS {
                exchange(&http, gw, kind, i, &extra).await;
            }
        }
    }
    let mut samples: Vec<Vec<Samples>> = gateways
        .iter()
        .map(|_| KINDS.iter().map(|_| Samples::default()).collect())
        .collect();
    let load0 = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let started = Instant::now();
    for r in 0..rounds {
        eprintln!(
            "round {}/{rounds}: {iterations} exchanges per kind and gateway",
            r + 1
        );
        for per_gw in samples.iter_mut() {
            for s in per_gw.iter_mut() {
                s.lat.push(Vec::with_capacity(iterations));
                s.cpu.push(Vec::with_capacity(iterations));
            }
        }
        // One gateway after the other (their journals share the disk: interleaved, one's
        // fdatasync would also flush the other's writes), the kinds interleaved within each.
        for (g, gw) in gateways.iter().enumerate() {
            for i in 0..iterations {
                for (k, kind) in KINDS.iter().enumerate() {
                    let (lat, cpu) = exchange(&http, gw, *kind, i, &extra).await;
                    samples[g][k].lat[r].push(lat);
                    samples[g][k].cpu[r].push(cpu);
                }
            }
        }
    }
    let load1 = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let work_dir = std::env::var("WORK_DIR").map_or_else(|_| std::env::temp_dir(), PathBuf::from);
    let (fs_mean, fs_p50, fs_p99) = fsync_cost(&work_dir, 500);

    println!(
        "authorization-code exchange (POST /oauth2/token), {rounds} rounds x {iterations} per kind and gateway, \
         kinds interleaved; {:.0} s; load average before: {}, after: {}",
        started.elapsed().as_secs_f64(),
        load0.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        load1.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    );
    println!(
        "openid kinds' scope: \"{}\"; plain: \"{}\"",
        scopes_of(Some(""), &extra),
        scopes_of(None, "")
    );
    println!();
    println!("| store | kind | mean µs | p50 µs | p99 µs | server CPU µs (mean) | mean ÷ plain | p50 ÷ plain | server CPU ÷ plain | per-round mean ÷ plain (min–max) |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for (g, gw) in gateways.iter().enumerate() {
        let base_all: Vec<u64> = samples[g][0].lat.concat();
        let base_cpu: Vec<u64> = samples[g][0].cpu.concat();
        let mut base_sorted = base_all.clone();
        base_sorted.sort_unstable();
        let (b_mean, b_p50, b_cpu) = (
            mean_us(&base_all),
            percentile(&base_sorted, 0.5),
            mean_us(&base_cpu),
        );
        for (k, (name, alg)) in KINDS.iter().enumerate() {
            let s = &samples[g][k];
            let all: Vec<u64> = s.lat.concat();
            let cpu: Vec<u64> = s.cpu.concat();
            let mut sorted = all.clone();
            sorted.sort_unstable();
            let (mean, p50, p99, cpu_mean) = (
                mean_us(&all),
                percentile(&sorted, 0.5),
                percentile(&sorted, 0.99),
                mean_us(&cpu),
            );
            let per_round: Vec<f64> = (0..rounds)
                .map(|r| mean_us(&s.lat[r]) / mean_us(&samples[g][0].lat[r]))
                .collect();
            let lo = per_round.iter().cloned().fold(f64::MAX, f64::min);
            let hi = per_round.iter().cloned().fold(f64::MIN, f64::max);
            let label = match alg {
                None => format!("{name} (no openid)"),
                Some(a) => format!("{name} (openid, ID token {a})"),
            };
            println!(
                "| {} | {label} | {mean:.0} | {p50:.0} | {p99:.0} | {cpu_mean:.0} | {:.2} | {:.2} | {:.2} | {lo:.2}–{hi:.2} |",
                gw.name,
                mean / b_mean,
                p50 / b_p50,
                cpu_mean / b_cpu,
            );
        }
    }
    println!();
    println!(
        "fdatasync of a 300-byte append in {} (the journal's pattern), 500 times: mean {fs_mean:.0} µs, p50 {fs_p50:.0} µs, p99 {fs_p99:.0} µs",
        work_dir.display()
    );
    for mut gw in gateways {
        let _ = Command::new("kill").arg(gw.child.id().to_string()).status();
        let _ = gw.child.wait();
    }
}

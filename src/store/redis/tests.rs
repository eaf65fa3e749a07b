//! The Redis backend against a real `redis-server` (found on PATH) that each test starts on a
//! free port in its own temporary directory, without persistence, and kills when done.
//! Without `redis-server` the tests fail saying what to install (`tests/run.sh` does).

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::*;
use crate::clock::SystemClock;

/// Why `redis-server` did not start, and what to do about it.
fn missing(err: &std::io::Error) -> String {
    format!(
        "cannot run redis-server ({err}): the Redis tests need it on PATH. Run the README's \
         test command, tests/run.sh, which installs it (Debian: apt-get install redis-server)"
    )
}

/// A throwaway `redis-server`, killed on drop.
struct TestRedis {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl TestRedis {
    fn start() -> TestRedis {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("{}", missing(&err)));
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        TestRedis {
            child,
            port,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn passes_the_conformance_suite() {
    let redis = TestRedis::start();
    let url = redis.url();
    // A fresh prefix per store: each check starts on an empty keyspace.
    let n = AtomicUsize::new(0);
    crate::store::conformance::run(|| {
        let prefix = format!("t{}:", n.fetch_add(1, Ordering::SeqCst));
        let url = url.clone();
        async move {
            RedisStore::connect(&url, &prefix, false, clock())
                .await
                .unwrap()
        }
    })
    .await;
}

#[tokio::test]
async fn a_revocation_reaches_another_store_through_pubsub() {
    let redis = TestRedis::start();
    let a = RedisStore::connect(&redis.url(), "p:", false, clock())
        .await
        .unwrap();
    let b = RedisStore::connect(&redis.url(), "p:", false, clock())
        .await
        .unwrap();
    let far = SystemClock.now() + 3600;
    assert!(!b.is_access_revoked("j1").await.unwrap());
    a.revoke_access("j1", far).await.unwrap();
    a.revoke_subject(Subject::Client("c".into()), 77, 0)
        .await
        .unwrap();
    let start = Instant::now();
    while !b.is_access_revoked("j1").await.unwrap() {
        assert!(start.elapsed() < Duration::from_secs(1), "not seen in 1 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    while b.cutoff(&Subject::Client("c".into())).await.unwrap() != Some(77) {
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "cut-off not seen in 1 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A store connected later loads what was revoked before it.
    let c = RedisStore::connect(&redis.url(), "p:", false, clock())
        .await
        .unwrap();
    assert!(c.is_access_revoked("j1").await.unwrap());
    assert_eq!(
        c.cutoff(&Subject::Client("c".into())).await.unwrap(),
        Some(77)
    );
}

#[tokio::test]
async fn a_dead_redis_fails_fast_and_closed_then_recovers() {
    let mut redis = TestRedis::start();
    let port = redis.port;
    let store = RedisStore::connect(&redis.url(), "p:", false, clock())
        .await
        .unwrap();
    let open = RedisStore::connect(&redis.url(), "p:", true, clock())
        .await
        .unwrap();
    store
        .revoke_access("j1", SystemClock.now() + 3600)
        .await
        .unwrap();
    while !open.is_access_revoked("j1").await.unwrap() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    redis.child.kill().unwrap();
    redis.child.wait().unwrap();

    let start = Instant::now();
    while store.is_access_revoked("j2").await.is_ok() {
        assert!(start.elapsed() < Duration::from_secs(2), "still trusted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let start = Instant::now();
    assert!(store.take_code(&TokenHash::of("c"), 0).await.is_err());
    assert!(start.elapsed() < Duration::from_millis(1500), "fails fast");
    // fail_open answers from the last known set.
    assert!(open.is_access_revoked("j1").await.unwrap());
    assert!(!open.is_access_revoked("j2").await.unwrap());
    // /healthz: down where the copy is refused, still up where the operator chose fail_open.
    assert!(store.health().unwrap_err().contains("redis"));
    assert!(open.health().is_ok());

    // The same port again: both recover by themselves, and reload what Redis has.
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|err| panic!("{}", missing(&err)));
    redis.child = child;
    redis._dir = dir;
    let start = Instant::now();
    loop {
        if let Ok(false) = store.is_access_revoked("j2").await {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "did not recover");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(store.health().is_ok());
    // The restarted Redis lost the scripts too: they are loaded again.
    store
        .put_code(TokenHash::of("c"), grant_for_recovery())
        .await
        .unwrap();
    assert!(matches!(
        store.take_code(&TokenHash::of("c"), 1).await.unwrap(),
        CodeTake::Fresh(_)
    ));
}

fn grant_for_recovery() -> CodeGrant {
    CodeGrant {
        sign_in: None,
        client_id: "spa".into(),
        user: "alice".into(),
        redirect_uri: "http://127.0.0.1/cb".into(),
        scope: String::new(),
        code_challenge: None,
        family: "f".into(),
        expires_at: 100,
        oidc: None,
    }
}

#[test]
fn the_shown_url_has_no_credentials() {
    assert_eq!(
        shown_url("redis://user:hunter2@cache:6379/1"),
        "redis://cache:6379/1"
    );
    assert_eq!(shown_url("redis://:p@ss@h:1"), "redis://h:1");
    assert_eq!(shown_url("rediss://h:1"), "rediss://h:1");
    assert_eq!(shown_url("redis://h:1/0?password=x"), "redis://h:1/0");
}

/// The clock of these stores' TTLs: the real one, since Redis expires keys in real time.
fn clock() -> std::sync::Arc<dyn Clock> {
    std::sync::Arc::new(SystemClock)
}

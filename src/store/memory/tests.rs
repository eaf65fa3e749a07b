//! The memory store: the shared conformance suite, in memory and persisted, and what
//! persistence promises: everything answered survives a reopen, a torn last line is dropped,
//! any other damage refuses start-up and leaves the files alone, compaction loses nothing.

use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::store::persist::{journal_name, Options, SNAPSHOT};

const NOW: u64 = 4_000_000_000;

fn options() -> Options {
    Options {
        fsync: true,
        compact_after: 64 << 20,
        session_limits: std::sync::Arc::new(crate::store::SessionLimits::new(3600, 86_400)),
        clock: std::sync::Arc::new(crate::clock::ManualClock::new(NOW)),
    }
}

fn open(dir: &Path) -> MemoryStore {
    open_with(dir, options()).unwrap()
}

/// Opens the store in `dir`, waiting out a directory lock that a store dropped a moment ago
/// may still hold: the redis tests of this binary spawn redis-server, and between fork and
/// exec the child holds a copy of every descriptor, the lock's included (a reopen lost that
/// race once in CI, 2026-12-06).
fn open_with(dir: &Path, options: Options) -> Result<MemoryStore, String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match MemoryStore::open(dir, options.clone()) {
            Err(err)
                if err.contains("another authgate is using")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

fn record(family: &str, user: &str) -> RefreshRecord {
    RefreshRecord {
        sign_in: None,
        family: family.into(),
        client_id: "spa".into(),
        user: user.into(),
        scope: "api:read".into(),
        expires_at: NOW + 86_400,
        oidc: None,
    }
}

/// alice's session begun at `NOW`, with `scope`.
fn session(scope: &str) -> SessionRecord {
    SessionRecord {
        sign_in: None,
        factor_tries: 0,
        user: "alice".into(),
        created_at: NOW,
        last_seen: NOW,
        scope: scope.into(),
        family: None,
        person: None,
    }
}

fn access(jti: &str) -> IssuedAccess {
    IssuedAccess {
        jti: jti.into(),
        expires_at: NOW + 900,
    }
}

fn grant(family: &str) -> CodeGrant {
    CodeGrant {
        sign_in: None,
        client_id: "spa".into(),
        user: "alice".into(),
        redirect_uri: "http://127.0.0.1/cb".into(),
        scope: "api:read".into(),
        code_challenge: None,
        family: family.into(),
        expires_at: NOW + 60,
        oidc: None,
    }
}

fn next(token: &str, family: &str, jti: &str) -> NextRefresh {
    NextRefresh {
        token: TokenHash::of(token),
        record: record(family, "alice"),
        access: access(jti),
        sealed: crate::store::SealedSuccessor(vec![1, 2, 3]),
    }
}

fn journal(dir: &Path) -> std::path::PathBuf {
    dir.join(journal_name(1))
}

#[tokio::test]
async fn passes_the_conformance_suite_in_memory() {
    crate::store::conformance::run(|| async { MemoryStore::new() }).await;
}

#[tokio::test]
async fn passes_the_conformance_suite_persisted() {
    let dirs = std::sync::Mutex::new(Vec::new());
    crate::store::conformance::run(|| {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        dirs.lock().unwrap().push(dir);
        async move { store }
    })
    .await;
}

/// Fills a store with one of everything, some of it changed since.
async fn populate(store: &MemoryStore) {
    store
        .put_code(TokenHash::of("c1"), grant("f1"))
        .await
        .unwrap();
    store
        .put_code(TokenHash::of("c2"), grant("f2"))
        .await
        .unwrap();
    assert!(matches!(
        store.take_code(&TokenHash::of("c1"), NOW).await.unwrap(),
        CodeTake::Fresh(_)
    ));
    store
        .put_refresh(TokenHash::of("r1"), record("f1", "alice"), access("a1"))
        .await
        .unwrap();
    let rotated = store
        .rotate_refresh(&TokenHash::of("r1"), next("r2", "f1", "a2"), NOW, 5)
        .await
        .unwrap();
    assert_eq!(rotated, Rotation::Rotated);
    store
        .put_refresh(TokenHash::of("b1"), record("fb", "bob"), access("ab"))
        .await
        .unwrap();
    store
        .revoke_subject(Subject::User("bob".into()), NOW, NOW)
        .await
        .unwrap();
    store.revoke_access("loose", NOW + 900).await.unwrap();
    store
        .put_consent("alice", "spa", &["api:read".to_owned()])
        .await
        .unwrap();
    let session = SessionRecord {
        family: Some("f1".into()),
        ..session("app")
    };
    store
        .put_session(TokenHash::of("s1"), session.clone())
        .await
        .unwrap();
    store
        .put_session(TokenHash::of("s2"), session)
        .await
        .unwrap();
    store.delete_session(&TokenHash::of("s2")).await.unwrap();
    store.put_person("corp:1", person()).await.unwrap();
    populate_factors(store).await;
}

/// A confirmed TOTP secret with a used step and recovery code, a pending one, a failure.
async fn populate_factors(store: &MemoryStore) {
    use crate::store::factors::{FactorStore, PendingTotp, TotpSecret};
    let pending = |id: &str| PendingTotp {
        secret: TotpSecret {
            id: id.to_owned(),
            sealed: vec![9, 9],
            created_at: NOW,
        },
        expires_at: NOW + 86_400,
    };
    store
        .put_pending_totp("alice", pending("t1"))
        .await
        .unwrap();
    let codes = vec![TokenHash::of("r1"), TokenHash::of("r2")];
    assert!(store
        .confirm_totp("alice", "t1", 7, codes, NOW)
        .await
        .unwrap());
    assert!(store.accept_totp("alice", "t1", 9).await.unwrap());
    assert!(store
        .use_recovery_code("alice", &TokenHash::of("r1"))
        .await
        .unwrap());
    store
        .put_pending_totp("alice", pending("t2"))
        .await
        .unwrap();
    store
        .count_factor_attempt("alice", NOW, 86_400)
        .await
        .unwrap();
    store.put_pending_totp("bob", pending("b1")).await.unwrap();
    assert!(store.remove_factors("bob").await.unwrap());
}

async fn check_factors(store: &MemoryStore) {
    use crate::store::factors::FactorStore;
    let found = store.factors("alice", NOW).await.unwrap().unwrap();
    assert_eq!(found.totp.map(|t| t.id), Some("t1".to_owned()));
    assert_eq!(found.pending.map(|p| p.secret.id), Some("t2".to_owned()));
    assert_eq!(found.last_step, 9);
    assert_eq!(found.recovery, [TokenHash::of("r2")]);
    assert_eq!(store.factor_failures("alice", NOW).await.unwrap().count, 1);
    assert!(
        !store.accept_totp("alice", "t1", 9).await.unwrap(),
        "step kept"
    );
    assert_eq!(store.factors("bob", NOW).await.unwrap(), None);
}

fn person() -> crate::store::PersonRecord {
    crate::store::PersonRecord {
        provider: "corp".into(),
        scopes: vec!["app".into()],
        email: Some("a@example.com".into()),
        email_verified: true,
        name: None,
        groups: vec!["admins".into()],
        expires_at: NOW + 86_400,
    }
}

/// Checks everything [`populate`] left, as seen at `NOW`.
async fn check_populated(store: &MemoryStore) {
    check_factors(store).await;
    assert!(matches!(
        store.take_code(&TokenHash::of("c1"), NOW).await.unwrap(),
        CodeTake::Replayed(_)
    ));
    assert!(matches!(
        store.take_code(&TokenHash::of("c2"), NOW).await.unwrap(),
        CodeTake::Fresh(_)
    ));
    let r1 = store
        .get_refresh(&TokenHash::of("r1"), NOW)
        .await
        .unwrap()
        .unwrap();
    assert!(!r1.current, "r1 was rotated");
    let r2 = store
        .get_refresh(&TokenHash::of("r2"), NOW)
        .await
        .unwrap()
        .unwrap();
    assert!(r2.current);
    assert_eq!(
        store
            .rotate_refresh(&TokenHash::of("r1"), next("r9", "f1", "a9"), NOW + 1, 5)
            .await
            .unwrap(),
        Rotation::Grace(crate::store::SealedSuccessor(vec![1, 2, 3])),
        "the sealed successor survives"
    );
    assert_eq!(
        store.get_refresh(&TokenHash::of("b1"), NOW).await.unwrap(),
        None
    );
    assert!(
        store.is_access_revoked("ab").await.unwrap(),
        "bob's family was revoked"
    );
    assert!(store.is_access_revoked("loose").await.unwrap());
    assert!(!store.is_access_revoked("a2").await.unwrap());
    assert_eq!(
        store.cutoff(&Subject::User("bob".into())).await.unwrap(),
        Some(NOW)
    );
    assert_eq!(store.consent("alice", "spa").await.unwrap(), ["api:read"]);
    assert_eq!(store.person("corp:1", NOW).await.unwrap(), Some(person()));
    assert!(store
        .touch_session(&TokenHash::of("s1"), NOW, 3600, 86_400)
        .await
        .unwrap()
        .is_some());
    assert!(store
        .touch_session(&TokenHash::of("s2"), NOW, 3600, 86_400)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn everything_answered_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        populate(&store).await;
    }
    let store = open(dir.path());
    check_populated(&store).await;
}

#[tokio::test]
async fn files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("data");
    {
        let store = open(&store_dir);
        populate(&store).await;
    }
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&store_dir), 0o700);
    assert_eq!(mode(&journal(&store_dir)), 0o600);
    let text = std::fs::read_to_string(journal(&store_dir)).unwrap();
    assert!(!text.contains("\"r1\""), "only hashes are stored");
    assert!(text.contains(&TokenHash::of("r1").to_hex()));
}

#[tokio::test]
async fn a_second_gateway_cannot_open_the_same_directory() {
    let dir = tempfile::tempdir().unwrap();
    let _first = open(dir.path());
    let err = MemoryStore::open(dir.path(), options()).unwrap_err();
    assert!(err.contains("another authgate"), "{err}");
}

#[tokio::test]
async fn a_torn_last_line_is_dropped_and_the_rest_recovers() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        populate(&store).await;
    }
    let path = journal(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    let whole = bytes.len();
    // Half a record, as a crash in the middle of a write leaves it.
    bytes.extend_from_slice(b"{\"seq\":99,\"sum\":\"00");
    std::fs::write(&path, &bytes).unwrap();
    {
        let store = open(dir.path());
        check_populated(&store).await;
        store.revoke_access("after", NOW + 900).await.unwrap();
    }
    assert!(std::fs::metadata(&path).unwrap().len() > whole as u64);
    let store = open(dir.path());
    assert!(
        store.is_access_revoked("after").await.unwrap(),
        "appends go on after the cut"
    );
}

#[tokio::test]
async fn a_corrupted_middle_line_refuses_and_leaves_the_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        populate(&store).await;
    }
    let path = journal(dir.path());
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[2] = lines[2].replacen("\"op\"", "\"oq\"", 1);
    let damaged = lines.join("\n") + "\n";
    std::fs::write(&path, &damaged).unwrap();
    let err = MemoryStore::open(dir.path(), options()).unwrap_err();
    assert!(err.contains(&format!("{}:3:", path.display())), "{err}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        damaged,
        "untouched"
    );

    // A line that still parses but was altered is caught by its checksum.
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let altered = lines[1].replacen(&(NOW + 60).to_string(), &(NOW + 61).to_string(), 1);
    assert_ne!(altered, lines[1]);
    lines[1] = altered;
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let err = MemoryStore::open(dir.path(), options()).unwrap_err();
    assert!(err.contains(":2:") && err.contains("checksum"), "{err}");

    // A missing line is caught by the sequence numbers.
    let mut lines: Vec<&str> = text.lines().collect();
    lines.remove(3);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let err = MemoryStore::open(dir.path(), options()).unwrap_err();
    assert!(err.contains(":4:") && err.contains("missing"), "{err}");
}

#[tokio::test]
async fn a_snapshot_that_is_not_json_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join(SNAPSHOT);
    std::fs::write(
        &snapshot,
        "{\"format\":\"authgate-store-snapshot\",\n garbage",
    )
    .unwrap();
    let err = MemoryStore::open(dir.path(), options()).unwrap_err();
    assert!(err.contains(&format!("{}:2:", snapshot.display())), "{err}");
    assert_eq!(
        std::fs::read_to_string(&snapshot).unwrap(),
        "{\"format\":\"authgate-store-snapshot\",\n garbage"
    );
    assert!(
        !journal(dir.path()).exists(),
        "no empty store was started beside it"
    );
}

#[tokio::test]
async fn compaction_folds_journals_into_the_snapshot_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let small = Options {
        compact_after: 4096,
        ..options()
    };
    {
        let store = open_with(dir.path(), small.clone()).unwrap();
        populate(&store).await;
        for i in 0..200 {
            store
                .put_refresh(
                    TokenHash::of(&format!("bulk{i}")),
                    record(&format!("bulk-family-{i}"), "carol"),
                    access(&format!("bulk-access-{i}")),
                )
                .await
                .unwrap();
        }
        // Compaction runs in the background, at the lowest priority: however long it takes.
        tokio::time::timeout(std::time::Duration::from_secs(60), store.compaction_idle())
            .await
            .expect("compaction finished within a minute");
        assert!(dir.path().join(SNAPSHOT).exists(), "a snapshot was written");
    }
    assert!(
        !journal(dir.path()).exists(),
        "the first journal was folded in"
    );
    let store = open_with(dir.path(), small).unwrap();
    check_populated(&store).await;
    for i in 0..200 {
        let found = store
            .get_refresh(&TokenHash::of(&format!("bulk{i}")), NOW)
            .await
            .unwrap();
        assert!(found.is_some(), "bulk{i} survived compaction");
    }
}

#[tokio::test]
async fn concurrent_writers_share_fsyncs_and_all_survive() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Arc::new(open(dir.path()));
        let mut tasks = Vec::new();
        for i in 0..64 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .revoke_access(&format!("jti-{i}"), NOW + 900)
                    .await
                    .unwrap();
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    }
    let store = open(dir.path());
    for i in 0..64 {
        assert!(store.is_access_revoked(&format!("jti-{i}")).await.unwrap());
    }
}

#[tokio::test]
async fn session_use_is_journalled_at_most_once_a_minute() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let session = session("");
    store
        .put_session(TokenHash::of("s"), session)
        .await
        .unwrap();
    let before = std::fs::metadata(journal(dir.path())).unwrap().len();
    for t in 1..30 {
        store
            .touch_session(&TokenHash::of("s"), NOW + t, 3600, 86_400)
            .await
            .unwrap()
            .unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let after = std::fs::metadata(journal(dir.path())).unwrap().len();
    assert!(
        after - before < 200,
        "{} bytes for 29 touches",
        after - before
    );
}

// A data directory written before person records existed.
mod ceremonies;
mod pre_person;

/// The session gate's fast path: the memory store always answers at once (the conformance
/// suite checks what it answers), so a session request never waits on a boxed future.
#[tokio::test]
async fn sessions_are_touched_at_once() {
    let store = MemoryStore::new();
    store
        .put_session(TokenHash::of("s1"), session("app"))
        .await
        .unwrap();
    let mut users = Vec::new();
    let answer = store.touch_session_with(&TokenHash::of("s1"), NOW + 1, 100, 1000, &mut |r| {
        users.push(r.user.clone())
    });
    assert!(matches!(answer, Some(Ok(true))));
    assert_eq!(users, ["alice"]);
}

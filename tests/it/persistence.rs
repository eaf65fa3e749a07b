//! The persisted memory store (`[store] backend = "memory"`, journal fsync on) through the real
//! binary: killed with SIGKILL while clients are being issued tokens and restarted on the same
//! `data_dir`; a torn last journal line, a corrupted middle line and a snapshot that is not
//! JSON; a second gateway on a directory in use; file modes and what the files may hold.
//!
//! Under load, every answer a client fully received before the kill is recorded, and so is
//! every request that got no answer: its change may or may not have been made, and the checks
//! after the restart accept either, but nothing else.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use reqwest::StatusCode;

use crate::support::persisted::{listing, store_files, Code, Party, SignedIn, StoreConfig, Tokens};
use crate::support::{authgate, within, GatewayProcess, WAIT};

/// Concurrent refresh chains (they live on across kills).
const CHAINS: usize = 8;
/// Token sets revoked one after another during each load.
const REVOCATIONS: usize = 12;
/// Codes obtained before each load and redeemed during it.
const CODES: usize = 16;
/// Kills per test.
const KILLS: usize = 3;

const JOURNAL_1: &str = "store.journal.00000001.jsonl";
const SNAPSHOT: &str = "store.snapshot.json";

/// A token set to revoke, and which of its two tokens to present.
#[derive(Debug, Clone)]
struct Target {
    tokens: Tokens,
    refresh: bool,
}

impl Target {
    fn token(&self) -> &str {
        if self.refresh {
            &self.tokens.refresh
        } else {
            &self.tokens.access
        }
    }
}

/// What the clients saw of one load, up to the kill.
#[derive(Debug, Default)]
struct Seen {
    /// Each chain's latest pair received, and how many rotations were answered.
    chains: Vec<(Tokens, usize)>,
    /// Revocations answered 200.
    revoked: Vec<Target>,
    /// Revocations sent without an answer (made or not).
    revoking: Vec<Target>,
    /// Revocation targets never sent: nothing may have revoked them.
    untouched: Vec<Target>,
    /// Codes whose redemption was answered, and what it issued.
    redeemed: Vec<(Code, Tokens)>,
    /// Codes whose redemption got no answer.
    redeeming: Vec<Code>,
    /// Codes received and never presented (obtained before the load, or during it).
    fresh: Vec<Code>,
}

/// Counts answers received during a load: the kill waits for a number of them, among
/// them at least one revocation and one redemption.
#[derive(Clone, Default)]
struct Progress {
    answers: Arc<AtomicUsize>,
    revocations: Arc<AtomicUsize>,
    redemptions: Arc<AtomicUsize>,
}

impl Progress {
    fn tick(&self) {
        self.answers.fetch_add(1, Ordering::SeqCst);
    }

    fn revoked(&self) {
        self.revocations.fetch_add(1, Ordering::SeqCst);
        self.tick();
    }

    fn redeemed(&self) {
        self.redemptions.fetch_add(1, Ordering::SeqCst);
        self.tick();
    }

    async fn reach(&self, count: usize) {
        let reached = || {
            self.answers.load(Ordering::SeqCst) >= count
                && self.revocations.load(Ordering::SeqCst) > 0
                && self.redemptions.load(Ordering::SeqCst) > 0
        };
        within(Duration::from_secs(60), "answers under load", async {
            while !reached() {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
        .await;
    }
}

/// A task's result, its panic passed on as it was.
async fn joined<T>(what: &str, task: tokio::task::JoinHandle<T>) -> T {
    match within(WAIT, what, task).await {
        Ok(value) => value,
        Err(err) => std::panic::resume_unwind(err.into_panic()),
    }
}

/// A short random pause between one task's requests, so that revocations, redemptions and
/// code issuance spread over the load instead of finishing before it ends.
async fn pace() {
    let millis = rand::thread_rng().gen_range(2..25);
    tokio::time::sleep(Duration::from_millis(millis)).await;
}

/// One chain rotating as fast as the gateway answers, until a request gets no answer.
async fn rotate(party: Party, mut tokens: Tokens, progress: Progress) -> (Tokens, usize) {
    let mut rotations = 0;
    loop {
        let Ok(answer) = party.refresh(&tokens.refresh).await else {
            return (tokens, rotations);
        };
        tokens = answer.pair("a refresh under load");
        rotations += 1;
        progress.tick();
    }
}

/// Revokes the targets in order, until one gets no answer: (answered, unanswered, unsent).
async fn revoke_all(
    party: Party,
    targets: Vec<Target>,
    progress: Progress,
) -> (Vec<Target>, Vec<Target>, Vec<Target>) {
    let mut targets = VecDeque::from(targets);
    let mut revoked = Vec::new();
    while let Some(target) = targets.pop_front() {
        match party.revoke(target.token()).await {
            Ok(status) => {
                assert_eq!(status, StatusCode::OK, "a revocation under load");
                revoked.push(target);
                progress.revoked();
            }
            Err(_) => return (revoked, vec![target], targets.into()),
        }
        pace().await;
    }
    (revoked, Vec::new(), Vec::new())
}

/// Redeems codes from the shared queue until one gets no answer: (answered, unanswered).
async fn redeem_all(
    party: Party,
    queue: Arc<Mutex<VecDeque<Code>>>,
    progress: Progress,
) -> (Vec<(Code, Tokens)>, Vec<Code>) {
    let mut redeemed = Vec::new();
    loop {
        let Some(code) = queue.lock().unwrap().pop_front() else {
            return (redeemed, Vec::new());
        };
        match party.redeem(&code).await {
            Ok(answer) => {
                let tokens = answer.pair("a code redemption under load");
                redeemed.push((code, tokens));
                progress.redeemed();
            }
            Err(_) => return (redeemed, vec![code]),
        }
        pace().await;
    }
}

/// Asks for codes until a request gets no answer; the codes received.
async fn issue_codes(browser: SignedIn, progress: Progress) -> Vec<Code> {
    let mut codes = Vec::new();
    while let Ok(code) = browser.code().await {
        codes.push(code);
        progress.tick();
        pace().await;
    }
    codes
}

/// Runs the load on `gateway` and SIGKILLs it once `kill_after` answers were received (and,
/// with `await_compaction`, once it has compacted), with requests of every kind in flight.
async fn load_and_kill(
    gateway: &mut GatewayProcess,
    chains: &[Tokens],
    targets: Vec<Target>,
    codes: Vec<Code>,
    browser: SignedIn,
    kill_after: usize,
    await_compaction: bool,
) -> Seen {
    let party = Party::new(gateway);
    let progress = Progress::default();
    let rotating: Vec<_> = chains
        .iter()
        .map(|tokens| tokio::spawn(rotate(party.clone(), tokens.clone(), progress.clone())))
        .collect();
    let revoking = tokio::spawn(revoke_all(party.clone(), targets, progress.clone()));
    let queue = Arc::new(Mutex::new(VecDeque::from(codes)));
    let redeeming: Vec<_> = (0..2)
        .map(|_| tokio::spawn(redeem_all(party.clone(), queue.clone(), progress.clone())))
        .collect();
    let issuing = tokio::spawn(issue_codes(browser, progress.clone()));

    progress.reach(kill_after).await;
    if await_compaction {
        gateway
            .wait_for_log("\"token store compacted\"", Duration::from_secs(60))
            .await;
    }
    gateway.signal("KILL");
    gateway.wait_exit(WAIT).await;

    let mut seen = Seen::default();
    for task in rotating {
        seen.chains.push(joined("a chain to stop", task).await);
    }
    let (revoked, unanswered, unsent) = joined("revocations to stop", revoking).await;
    seen.revoked = revoked;
    seen.revoking = unanswered;
    seen.untouched = unsent;
    for task in redeeming {
        let (redeemed, unanswered) = joined("redemptions to stop", task).await;
        seen.redeemed.extend(redeemed);
        seen.redeeming.extend(unanswered);
    }
    seen.fresh = queue.lock().unwrap().drain(..).collect();
    seen.fresh
        .extend(joined("code issuance to stop", issuing).await);
    seen
}

/// After a restart: everything the clients received before the kill holds, nothing revoked
/// came back, no code is redeemed twice. Returns each chain's pair to go on with.
async fn check_after_restart(party: &Party, seen: Seen, kill: usize) -> Vec<Tokens> {
    // (a) The latest refresh token of each chain works: a fresh rotation, or (when the
    // rotation it was last sent for was made but its answer lost) the grace window's replay
    // of that rotation's pair. Presented again, it gets the very same pair: one successor.
    let mut next = Vec::new();
    for (i, (tokens, rotations)) in seen.chains.iter().enumerate() {
        let what = format!("kill {kill}, chain {i} after {rotations} rotations answered");
        assert!(
            party.is_active(&tokens.access).await,
            "{what}: its last access token is no longer active"
        );
        let first = party
            .refresh(&tokens.refresh)
            .await
            .unwrap()
            .pair(&format!("{what}: the last refresh token received"));
        let again = party
            .refresh(&tokens.refresh)
            .await
            .unwrap()
            .pair(&format!("{what}: the same token within the grace window"));
        assert_eq!(
            again, first,
            "{what}: presented twice, it gave two different pairs"
        );
        assert!(party.is_active(&first.access).await, "{what}: new access");
        next.push(first);
    }

    // (b) Acknowledged revocations held; targets never sent are still valid.
    for target in &seen.revoked {
        let what = format!("kill {kill}: an acknowledged revocation");
        assert!(
            !party.is_active(&target.tokens.access).await,
            "{what}: the access token is active again (refresh token revoked: {})",
            target.refresh
        );
        if target.refresh {
            let answer = party.refresh(&target.tokens.refresh).await.unwrap();
            assert!(
                answer.is_invalid_grant(),
                "{what}: the revoked refresh token was accepted: {answer:?}"
            );
        } else {
            assert_eq!(
                party.bearer_status(&target.tokens.access).await,
                StatusCode::UNAUTHORIZED,
                "{what}: the revoked access token passed a bearer route"
            );
        }
    }
    for target in &seen.untouched {
        assert!(
            party.is_active(&target.tokens.access).await
                && party.is_active(&target.tokens.refresh).await,
            "kill {kill}: a token set nobody revoked is no longer active"
        );
    }

    // (c) No code is redeemable twice across the restart.
    for (code, tokens) in &seen.redeemed {
        let answer = party.redeem(code).await.unwrap();
        assert!(
            answer.is_invalid_grant(),
            "kill {kill}: a code redeemed before the kill was redeemed again: {answer:?}"
        );
        assert!(
            !party.is_active(&tokens.access).await,
            "kill {kill}: the replayed code's first access token was not revoked"
        );
        let refresh = party.refresh(&tokens.refresh).await.unwrap();
        assert!(
            refresh.is_invalid_grant(),
            "kill {kill}: the replayed code's first refresh token still works: {refresh:?}"
        );
    }
    for code in &seen.redeeming {
        // Its redemption may have been made before the kill: at most one success in all.
        let first = party.redeem(code).await.unwrap();
        let second = party.redeem(code).await.unwrap();
        assert!(
            first.status == StatusCode::OK || first.is_invalid_grant(),
            "kill {kill}: a code whose redemption got no answer: {first:?}"
        );
        assert!(
            second.is_invalid_grant(),
            "kill {kill}: a code whose redemption got no answer was redeemed twice after the restart: {second:?}"
        );
    }
    for code in &seen.fresh {
        let first = party.redeem(code).await.unwrap();
        let tokens = first.pair(&format!(
            "kill {kill}: a code received before the kill and never presented"
        ));
        let second = party.redeem(code).await.unwrap();
        assert!(
            second.is_invalid_grant(),
            "kill {kill}: a code was redeemed twice: {second:?}"
        );
        assert!(
            !party.is_active(&tokens.access).await,
            "kill {kill}: the replay did not revoke what the code issued"
        );
    }
    next
}

/// With the grace window closed (`refresh_grace = "0s"`): each chain's token works once; a
/// second use is refused and ends the family.
async fn check_single_use(party: &Party, chains: &[Tokens]) {
    for (i, tokens) in chains.iter().enumerate() {
        let next = party
            .refresh(&tokens.refresh)
            .await
            .unwrap()
            .pair(&format!("chain {i}: its last refresh token, grace 0s"));
        let reuse = party.refresh(&tokens.refresh).await.unwrap();
        assert!(
            reuse.is_invalid_grant(),
            "chain {i}: a refresh token worked twice: {reuse:?}"
        );
        let after = party.refresh(&next.refresh).await.unwrap();
        assert!(
            after.is_invalid_grant(),
            "chain {i}: the reuse did not revoke the family: {after:?}"
        );
    }
}

fn compactions(gateway: &GatewayProcess) -> usize {
    gateway
        .log()
        .iter()
        .filter(|line| line.contains("\"token store compacted\""))
        .count()
}

/// Three loads, each ended by SIGKILL at a random point, each followed by a restart and the
/// checks; then a restart with the grace window closed for the single-use check.
async fn crash_under_load(compact_after: Option<&str>) {
    let data = tempfile::tempdir().expect("temp dir");
    let data_dir = data.path().join("data");
    let mut config = StoreConfig::new(&data_dir);
    if let Some(size) = compact_after {
        config = config.compact_after(size);
    }
    let mut chains: Vec<Tokens> = Vec::new();
    let mut pending: Option<Seen> = None;
    let mut compacted = 0;
    for kill in 0..KILLS {
        let mut gateway = config.start().await;
        let party = Party::new(&gateway);
        if let Some(seen) = pending.take() {
            chains = check_after_restart(&party, seen, kill - 1).await;
        }
        let browser = SignedIn::sign_in(&gateway).await;
        while chains.len() < CHAINS {
            chains.push(browser.tokens(&party).await);
        }
        let mut targets = Vec::new();
        for i in 0..REVOCATIONS {
            targets.push(Target {
                tokens: browser.tokens(&party).await,
                refresh: i % 2 == 0,
            });
        }
        let mut codes = Vec::new();
        for _ in 0..CODES {
            codes.push(browser.code().await.expect("a code"));
        }
        let kill_after = rand::thread_rng().gen_range(20..=400);
        let await_compaction = compact_after.is_some() && kill == 0;
        let seen = load_and_kill(
            &mut gateway,
            &chains,
            targets,
            codes,
            browser,
            kill_after,
            await_compaction,
        )
        .await;
        compacted += compactions(&gateway);
        eprintln!(
            "kill {kill} after {kill_after} answers: rotations {:?}, revoked {} (+{} unanswered, {} unsent), redeemed {} (+{} unanswered), fresh codes {}, compactions so far {compacted}",
            seen.chains.iter().map(|(_, n)| n).collect::<Vec<_>>(),
            seen.revoked.len(),
            seen.revoking.len(),
            seen.untouched.len(),
            seen.redeemed.len(),
            seen.redeeming.len(),
            seen.fresh.len(),
        );
        pending = Some(seen);
    }

    let mut gateway = config.start().await;
    let party = Party::new(&gateway);
    let seen = pending.take().expect("the last load");
    let chains = check_after_restart(&party, seen, KILLS - 1).await;
    compacted += compactions(&gateway);
    gateway.signal("KILL");
    gateway.wait_exit(WAIT).await;
    drop(gateway);

    let gateway = config.clone().refresh_grace("0s").start().await;
    check_single_use(&Party::new(&gateway), &chains).await;
    compacted += compactions(&gateway);
    if compact_after.is_some() {
        assert!(
            compacted > 0,
            "compact_after was small, and no compaction ran"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn persistence_sigkill_under_load_keeps_every_answer_given() {
    crash_under_load(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn persistence_sigkill_under_load_while_compacting_keeps_every_answer_given() {
    crash_under_load(Some("64KiB")).await;
}

/// Runs `authgate serve` on `config` (expected to refuse) and returns its exit code and
/// standard error.
fn serve_refused(config: &StoreConfig) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = config.write_to(dir.path());
    let output = authgate(
        dir.path(),
        &["serve", "--config", path.to_str().expect("UTF-8 path")],
        &[],
    );
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A data directory with tokens in its journal: a signed-in user's pair, and a second pair
/// rotated once after it. The gateway is killed, and the first pair returned.
async fn journal_with_tokens(config: &StoreConfig) -> Tokens {
    let mut gateway = config.start().await;
    let party = Party::new(&gateway);
    let browser = SignedIn::sign_in(&gateway).await;
    let kept = browser.tokens(&party).await;
    let other = browser.tokens(&party).await;
    party
        .refresh(&other.refresh)
        .await
        .unwrap()
        .pair("a refresh");
    gateway.signal("KILL");
    gateway.wait_exit(WAIT).await;
    kept
}

fn journal_lines(dir: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(dir.join(JOURNAL_1)).expect("journal 1");
    assert_eq!(
        bytes.last(),
        Some(&b'\n'),
        "the journal ends with a newline"
    );
    bytes
        .split_inclusive(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn persistence_torn_last_journal_line_is_cut_off_with_a_warning() {
    let data = tempfile::tempdir().expect("temp dir");
    let config = StoreConfig::new(data.path());
    let kept = journal_with_tokens(&config).await;

    // A crash in the middle of writing the last line.
    let lines = journal_lines(data.path());
    let last = lines.last().expect("a line");
    let whole: usize = lines.iter().map(Vec::len).sum();
    let torn_at = whole - last.len() + last.len() / 2;
    let before = std::fs::read(data.path().join(JOURNAL_1)).unwrap();
    std::fs::write(data.path().join(JOURNAL_1), &before[..torn_at]).unwrap();

    let mut gateway = config.start().await;
    let warning = gateway.wait_for_log("incomplete last line", WAIT).await;
    assert!(
        warning.contains(&format!("{JOURNAL_1}:{}:", lines.len())) && warning.contains("WARN"),
        "the warning names the file and line: {warning}"
    );
    let party = Party::new(&gateway);
    assert!(
        party.is_active(&kept.access).await,
        "the earlier access token"
    );
    party
        .refresh(&kept.refresh)
        .await
        .unwrap()
        .pair("the refresh token obtained before the torn line");
    let after = std::fs::read(data.path().join(JOURNAL_1)).unwrap();
    assert_eq!(
        &after[..whole - last.len()],
        &before[..whole - last.len()],
        "the lines before the torn one are kept as they were"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn persistence_corrupted_middle_journal_line_refuses_to_start_and_leaves_the_file() {
    let data = tempfile::tempdir().expect("temp dir");
    let config = StoreConfig::new(data.path());
    journal_with_tokens(&config).await;

    let mut lines = journal_lines(data.path());
    assert!(lines.len() >= 5, "{} journal lines", lines.len());
    // One byte in the middle of line 3 changed, as a bad sector or a stray write would.
    let line = &mut lines[2];
    let middle = line.len() / 2;
    line[middle] = if line[middle] == b'7' { b'8' } else { b'7' };
    std::fs::write(data.path().join(JOURNAL_1), lines.concat()).unwrap();
    let files = store_files(data.path());
    let names = listing(data.path());

    let (code, stderr) = serve_refused(&config);
    assert_eq!(code, Some(1), "exit status; stderr: {stderr}");
    assert!(
        stderr.contains(&format!("{JOURNAL_1}:3:")),
        "the error names the file and the line: {stderr}"
    );
    assert_eq!(store_files(data.path()), files, "the store's files changed");
    assert_eq!(listing(data.path()), names, "files appeared or went");
}

#[tokio::test(flavor = "multi_thread")]
async fn persistence_snapshot_that_is_not_json_refuses_to_start_and_starts_no_empty_store() {
    let data = tempfile::tempdir().expect("temp dir");
    let config = StoreConfig::new(data.path());
    journal_with_tokens(&config).await;
    // A snapshot cut short: not JSON.
    std::fs::write(
        data.path().join(SNAPSHOT),
        b"{\"format\":\"authgate-store-snapshot\",\"version\":1,\"gener",
    )
    .unwrap();
    let files = store_files(data.path());
    let names = listing(data.path());

    let (code, stderr) = serve_refused(&config);
    assert_eq!(code, Some(1), "exit status; stderr: {stderr}");
    assert!(
        stderr.contains(SNAPSHOT),
        "the error names the snapshot: {stderr}"
    );
    assert_eq!(store_files(data.path()), files, "the store's files changed");
    assert_eq!(listing(data.path()), names, "files appeared or went");

    // The same in a directory holding nothing but that snapshot: no journal is begun.
    let empty = tempfile::tempdir().expect("temp dir");
    std::fs::copy(data.path().join(SNAPSHOT), empty.path().join(SNAPSHOT)).unwrap();
    let (code, stderr) = serve_refused(&StoreConfig::new(empty.path()));
    assert_eq!(code, Some(1), "exit status; stderr: {stderr}");
    assert!(
        !listing(empty.path())
            .iter()
            .any(|n| n.starts_with("store.journal.")),
        "a journal was begun next to a broken snapshot: {:?}",
        listing(empty.path())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn persistence_second_gateway_on_the_same_data_dir_is_refused() {
    let data = tempfile::tempdir().expect("temp dir");
    let config = StoreConfig::new(data.path());
    let gateway = config.start().await;
    let party = Party::new(&gateway);
    let browser = SignedIn::sign_in(&gateway).await;
    let tokens = browser.tokens(&party).await;
    let files = store_files(data.path());

    let (code, stderr) = serve_refused(&config);
    assert_eq!(code, Some(1), "exit status; stderr: {stderr}");
    assert!(
        stderr.contains("another authgate is using this token store"),
        "the refusal says why: {stderr}"
    );
    assert_eq!(store_files(data.path()), files, "the store's files changed");
    party
        .refresh(&tokens.refresh)
        .await
        .unwrap()
        .pair("the first gateway goes on");
}

#[tokio::test(flavor = "multi_thread")]
async fn persistence_files_are_private_and_hold_only_token_hashes() {
    use std::os::unix::fs::PermissionsExt;

    let data = tempfile::tempdir().expect("temp dir");
    let data_dir = data.path().join("data");
    let config = StoreConfig::new(&data_dir).compact_after("64KiB");
    let gateway = config.start().await;
    let party = Party::new(&gateway);
    let browser = SignedIn::sign_in(&gateway).await;
    let first = browser.tokens(&party).await;
    let mut secrets = vec![first.refresh.clone(), first.access.clone()];
    let mut latest = first.clone();
    // Rotate until the journal is compacted into a snapshot.
    for _ in 0..5000 {
        if compactions(&gateway) > 0 {
            break;
        }
        latest = party
            .refresh(&latest.refresh)
            .await
            .unwrap()
            .pair("a refresh");
        secrets.push(latest.refresh.clone());
        secrets.push(latest.access.clone());
    }
    assert!(
        compactions(&gateway) > 0,
        "no compaction after 5000 refreshes"
    );
    let code = browser.code().await.expect("a code");
    secrets.push(code.code.clone());

    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data_dir), 0o700, "data_dir");
    let names = listing(&data_dir);
    assert!(names.iter().any(|n| n == SNAPSHOT), "{names:?}");
    for name in names.iter().filter(|n| n.starts_with("store.")) {
        assert_eq!(mode(&data_dir.join(name)), 0o600, "{name}");
    }

    let mut everything = Vec::new();
    for entry in walk(&data_dir) {
        everything.extend(std::fs::read(&entry).unwrap());
        everything.push(b'\n');
    }
    let everything = String::from_utf8_lossy(&everything);
    for secret in &secrets {
        assert!(
            !everything.contains(secret.as_str()),
            "a raw token or code is in data_dir"
        );
    }
    let hex = |token: &str| authgate::tokens::opaque::TokenHash::of(token).to_hex();
    let snapshot = std::fs::read_to_string(data_dir.join(SNAPSHOT)).unwrap();
    assert!(
        snapshot.contains(&hex(&first.refresh)),
        "the snapshot holds the first refresh token's SHA-256"
    );
    assert!(
        everything.contains(&hex(&latest.refresh)) && everything.contains(&hex(&code.code)),
        "the store holds the latest refresh token's and the code's SHA-256"
    );
}

/// Every file under `dir`, recursively.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

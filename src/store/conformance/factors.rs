//! Second factors: a pending secret is not active until confirmed (and not after it
//! expired); a TOTP time step is accepted once and only above the last one, with one winner
//! among concurrent callers; recovery codes work once each and are replaced at the next
//! confirmation; the attempt count rises (each concurrent attempt seeing its own), is
//! forgotten after its time or when cleared; a
//! removal takes everything of the user and nothing of another's.

use std::sync::Arc;

use crate::store::factors::{FactorFailures, PendingTotp, TotpSecret};
use crate::store::Store;
use crate::tokens::opaque::TokenHash;

const NOW: u64 = 1_000_000;

fn pending(id: &str, expires_at: u64) -> PendingTotp {
    PendingTotp {
        secret: TotpSecret {
            id: id.to_owned(),
            sealed: vec![1, 2, 3, id.len() as u8],
            created_at: NOW,
        },
        expires_at,
    }
}

/// A pending secret for the other suites.
pub(super) fn pending_for_tests(id: &str, expires_at: u64) -> PendingTotp {
    pending(id, expires_at)
}

fn codes(names: &[&str]) -> Vec<TokenHash> {
    names.iter().map(|n| TokenHash::of(n)).collect()
}

pub async fn run<S, F, Fut>(make: &F)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = S>,
{
    enrolment_and_steps(&make().await).await;
    recovery_codes_work_once(&make().await).await;
    failures_are_counted_and_forgotten(&make().await).await;
    removal_takes_everything_of_one_user(&make().await).await;
    concurrent_accepts_have_one_winner(Arc::new(make().await)).await;
    concurrent_attempts_see_distinct_counts(Arc::new(make().await)).await;
}

async fn enrolment_and_steps(s: &impl Store) {
    assert_eq!(s.factors("alice", NOW).await.unwrap(), None);
    // Nothing to confirm or accept yet.
    assert!(!s
        .confirm_totp("alice", "t1", 5, codes(&["a"]), NOW)
        .await
        .unwrap());
    assert!(!s.accept_totp("alice", "t1", 5).await.unwrap());

    s.put_pending_totp("alice", pending("t1", NOW + 600))
        .await
        .unwrap();
    let found = s.factors("alice", NOW).await.unwrap().unwrap();
    assert!(!found.enrolled(), "pending is not active");
    assert_eq!(found.pending, Some(pending("t1", NOW + 600)));
    assert!(
        !s.accept_totp("alice", "t1", 5).await.unwrap(),
        "not active yet"
    );
    // The wrong id, or past its time: refused.
    assert!(!s.confirm_totp("alice", "t0", 5, vec![], NOW).await.unwrap());
    assert!(!s
        .confirm_totp("alice", "t1", 5, vec![], NOW + 600)
        .await
        .unwrap());
    assert!(s
        .confirm_totp("alice", "t1", 5, codes(&["a", "b"]), NOW)
        .await
        .unwrap());
    let found = s.factors("alice", NOW).await.unwrap().unwrap();
    assert!(found.enrolled());
    assert_eq!(found.totp, Some(pending("t1", 0).secret));
    assert_eq!(found.pending, None);
    assert_eq!(found.last_step, 5);
    let mut want = codes(&["a", "b"]);
    want.sort();
    let mut got = found.recovery.clone();
    got.sort();
    assert_eq!(got, want);
    // Confirmed once: a second confirmation finds no pending secret.
    assert!(!s.confirm_totp("alice", "t1", 9, vec![], NOW).await.unwrap());

    // The confirming step is used; only later steps pass, each once.
    assert!(!s.accept_totp("alice", "t1", 5).await.unwrap());
    assert!(!s.accept_totp("alice", "t1", 4).await.unwrap());
    assert!(s.accept_totp("alice", "t1", 6).await.unwrap());
    assert!(!s.accept_totp("alice", "t1", 6).await.unwrap(), "replay");
    assert!(
        !s.accept_totp("alice", "t0", 7).await.unwrap(),
        "another id"
    );
    assert!(s.accept_totp("alice", "t1", 8).await.unwrap());
    assert_eq!(s.factors("alice", NOW).await.unwrap().unwrap().last_step, 8);

    // A new enrolment leaves the active secret in force until it is confirmed.
    s.put_pending_totp("alice", pending("t2", NOW + 600))
        .await
        .unwrap();
    let found = s.factors("alice", NOW).await.unwrap().unwrap();
    assert_eq!(found.totp.as_ref().map(|t| t.id.as_str()), Some("t1"));
    assert!(s.accept_totp("alice", "t1", 9).await.unwrap());
    assert!(
        !s.confirm_totp("alice", "t2", 9, vec![], NOW).await.unwrap(),
        "step used"
    );
    assert!(s
        .confirm_totp("alice", "t2", 10, codes(&["c"]), NOW)
        .await
        .unwrap());
    let found = s.factors("alice", NOW).await.unwrap().unwrap();
    assert_eq!(found.totp.as_ref().map(|t| t.id.as_str()), Some("t2"));
    assert_eq!(found.recovery, codes(&["c"]), "codes replaced");
    assert!(
        !s.accept_totp("alice", "t1", 11).await.unwrap(),
        "old secret gone"
    );

    // A pending secret of another user, expired, is absent.
    s.put_pending_totp("bob", pending("b1", NOW + 10))
        .await
        .unwrap();
    assert!(s.factors("bob", NOW + 9).await.unwrap().is_some());
    assert_eq!(s.factors("bob", NOW + 10).await.unwrap(), None);
}

async fn recovery_codes_work_once(s: &impl Store) {
    s.put_pending_totp("alice", pending("t1", NOW + 600))
        .await
        .unwrap();
    assert!(s
        .confirm_totp("alice", "t1", 1, codes(&["r1", "r2"]), NOW)
        .await
        .unwrap());
    let r1 = TokenHash::of("r1");
    assert!(!s.use_recovery_code("bob", &r1).await.unwrap(), "not bob's");
    assert!(s.use_recovery_code("alice", &r1).await.unwrap());
    assert!(!s.use_recovery_code("alice", &r1).await.unwrap(), "used");
    assert!(!s
        .use_recovery_code("alice", &TokenHash::of("r3"))
        .await
        .unwrap());
    let found = s.factors("alice", NOW).await.unwrap().unwrap();
    assert_eq!(found.recovery, codes(&["r2"]));
    assert!(s
        .use_recovery_code("alice", &TokenHash::of("r2"))
        .await
        .unwrap());
    assert!(s
        .factors("alice", NOW)
        .await
        .unwrap()
        .unwrap()
        .recovery
        .is_empty());
}

async fn failures_are_counted_and_forgotten(s: &impl Store) {
    let none = FactorFailures::default();
    assert_eq!(s.factor_failures("alice", NOW).await.unwrap(), none);
    // Each attempt answers the count before it.
    assert_eq!(
        s.count_factor_attempt("alice", NOW, 100).await.unwrap(),
        none
    );
    let one = FactorFailures {
        count: 1,
        last: NOW,
        expires_at: NOW + 100,
    };
    assert_eq!(s.factor_failures("alice", NOW).await.unwrap(), one);
    assert_eq!(
        s.count_factor_attempt("alice", NOW + 10, 100)
            .await
            .unwrap(),
        one
    );
    let two = FactorFailures {
        count: 2,
        last: NOW + 10,
        expires_at: NOW + 110,
    };
    assert_eq!(s.factor_failures("alice", NOW + 20).await.unwrap(), two);
    assert_eq!(s.factor_failures("bob", NOW).await.unwrap(), none);
    // Past its time the count starts again.
    assert_eq!(s.factor_failures("alice", NOW + 110).await.unwrap(), none);
    assert_eq!(
        s.count_factor_attempt("alice", NOW + 110, 100)
            .await
            .unwrap(),
        none
    );
    assert_eq!(
        s.factor_failures("alice", NOW + 110).await.unwrap().count,
        1
    );
    s.count_factor_attempt("alice", NOW + 111, 100)
        .await
        .unwrap();
    s.clear_factor_failures("alice").await.unwrap();
    assert_eq!(s.factor_failures("alice", NOW + 112).await.unwrap(), none);
    s.clear_factor_failures("nobody").await.unwrap();
}

/// Concurrent attempts each see their own count: none can slip past the throttle in a burst.
async fn concurrent_attempts_see_distinct_counts<S: Store>(s: Arc<S>) {
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move {
                s.count_factor_attempt("alice", NOW, 100)
                    .await
                    .unwrap()
                    .count
            })
        })
        .collect();
    let mut seen = Vec::new();
    for task in tasks {
        seen.push(task.await.unwrap());
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..8).collect::<Vec<u32>>());
    assert_eq!(s.factor_failures("alice", NOW).await.unwrap().count, 8);
}

async fn removal_takes_everything_of_one_user(s: &impl Store) {
    for user in ["alice", "bob"] {
        s.put_pending_totp(user, pending("t1", NOW + 600))
            .await
            .unwrap();
        assert!(s
            .confirm_totp(user, "t1", 3, codes(&["r"]), NOW)
            .await
            .unwrap());
        s.count_factor_attempt(user, NOW, 100).await.unwrap();
    }
    assert!(s.remove_factors("alice").await.unwrap());
    assert_eq!(s.factors("alice", NOW).await.unwrap(), None);
    assert_eq!(s.factor_failures("alice", NOW).await.unwrap().count, 0);
    assert!(!s
        .use_recovery_code("alice", &TokenHash::of("r"))
        .await
        .unwrap());
    assert!(!s.accept_totp("alice", "t1", 4).await.unwrap());
    assert!(!s.remove_factors("alice").await.unwrap(), "nothing left");
    // Enrolling again starts from step zero.
    s.put_pending_totp("alice", pending("t9", NOW + 600))
        .await
        .unwrap();
    assert!(s.confirm_totp("alice", "t9", 1, vec![], NOW).await.unwrap());
    // Bob keeps his.
    let bob = s.factors("bob", NOW).await.unwrap().unwrap();
    assert!(bob.enrolled());
    assert_eq!(bob.recovery, codes(&["r"]));
    assert_eq!(s.factor_failures("bob", NOW).await.unwrap().count, 1);
}

/// How many of eight concurrent calls of `call` answer `true`.
pub(super) async fn winners<S, F, Fut>(s: &Arc<S>, call: F) -> usize
where
    S: Store,
    F: Fn(Arc<S>) -> Fut,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let tasks: Vec<_> = (0..8).map(|_| tokio::spawn(call(s.clone()))).collect();
    let mut wins = 0;
    for task in tasks {
        if task.await.unwrap() {
            wins += 1;
        }
    }
    wins
}

async fn concurrent_accepts_have_one_winner<S: Store>(s: Arc<S>) {
    s.put_pending_totp("alice", pending("t1", NOW + 600))
        .await
        .unwrap();
    assert!(s.confirm_totp("alice", "t1", 1, vec![], NOW).await.unwrap());
    let accepted = winners(&s, |s| async move {
        s.accept_totp("alice", "t1", 2).await.unwrap()
    });
    assert_eq!(accepted.await, 1);
    let code = TokenHash::of("once");
    s.put_pending_totp("bob", pending("b", NOW + 600))
        .await
        .unwrap();
    assert!(s
        .confirm_totp("bob", "b", 1, vec![code], NOW)
        .await
        .unwrap());
    let used = winners(&s, move |s| async move {
        s.use_recovery_code("bob", &code).await.unwrap()
    });
    assert_eq!(used.await, 1);
}

//! The one test suite every store backend must pass: round trips, single use (codes and
//! one-time claims), rotation with its grace window, reuse detection, revocation, expiry,
//! concurrency, the bounded record of client_credentials tokens, the signing-key document
//! ([`signing_keys`]), federated people ([`persons`]) and second factors ([`factors`], [`passkeys`]).

mod factors;
mod passkeys;
mod persons;
mod signing_keys;

use std::sync::Arc;

use super::*;

const NOW: u64 = 1_000_000;

fn hash(name: &str) -> TokenHash {
    TokenHash::of(name)
}

fn grant(family: &str) -> CodeGrant {
    CodeGrant {
        sign_in: None,
        client_id: "spa".into(),
        user: "alice".into(),
        redirect_uri: "http://127.0.0.1:5173/cb".into(),
        scope: "api:read".into(),
        code_challenge: Some("c".repeat(43)),
        family: family.into(),
        expires_at: NOW + 60,
        oidc: Some(crate::store::OidcLogin {
            auth_time: NOW - 5,
            sid: "sid-1".into(),
            nonce: Some("n-0S6_WzA2Mj".into()),
        }),
    }
}

fn record(family: &str) -> RefreshRecord {
    RefreshRecord {
        sign_in: None,
        family: family.into(),
        client_id: "spa".into(),
        user: "alice".into(),
        scope: "api:read".into(),
        expires_at: NOW + 86_400,
        oidc: None,
    }
}

fn current(family: &str) -> Option<RefreshLookup> {
    Some(RefreshLookup {
        record: record(family),
        current: true,
    })
}

fn access(jti: &str) -> IssuedAccess {
    IssuedAccess {
        jti: jti.into(),
        expires_at: NOW + 900,
    }
}

fn next(
    token: TokenHash,
    record: RefreshRecord,
    access: IssuedAccess,
    sealed: SealedSuccessor,
) -> NextRefresh {
    NextRefresh {
        token,
        record,
        access,
        sealed,
    }
}

fn sealed(tag: u8) -> SealedSuccessor {
    SealedSuccessor(vec![tag; 8])
}

/// Runs every check against fresh stores made by `make`.
/// Runs every check, each on a fresh store from `make` (which may connect somewhere, hence
/// async; a shared backend must hand out an emptied store each time).
pub async fn run<S, F, Fut>(make: F)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = S>,
{
    codes_are_single_use(&make().await).await;
    codes_expire(&make().await).await;
    concurrent_code_takes_have_one_winner(Arc::new(make().await)).await;
    rotation_and_grace(&make().await).await;
    reuse_after_grace_revokes_the_family(&make().await).await;
    grace_zero_means_no_grace(&make().await).await;
    concurrent_rotations_have_one_winner(Arc::new(make().await)).await;
    family_revocation_denies_its_access_tokens(&make().await).await;
    refresh_expiry(&make().await).await;
    subject_revocation(&make().await).await;
    consents(&make().await).await;
    sessions(&make().await).await;
    sweep_keeps_what_is_live(&make().await).await;
    registered_clients(&make().await).await;
    grant_listing(&make().await).await;
    access_check(&make().await).await;
    claims_are_single_use(&make().await).await;
    signing_keys::run(&make).await;
    factors::run(&make).await;
    passkeys::run(&make).await;
    persons::round_trip_replace_and_expiry(&make().await).await;
    concurrent_claims_have_one_winner(Arc::new(make().await)).await;
    client_access_is_listed_until_it_expires_or_is_revoked(&make().await).await;
    client_access_is_bounded_per_client(&make().await).await;
}

async fn claims_are_single_use(s: &impl Store) {
    let key = hash("consent-form-1");
    assert!(
        s.claim_once(&key, NOW + 600, NOW).await.unwrap(),
        "first claim"
    );
    assert!(!s.claim_once(&key, NOW + 600, NOW).await.unwrap(), "replay");
    assert!(
        !s.claim_once(&key, NOW + 600, NOW + 599).await.unwrap(),
        "still claimed until it expires"
    );
    // Another marker is independent; one already past its time can never be claimed.
    assert!(s
        .claim_once(&hash("consent-form-2"), NOW + 600, NOW)
        .await
        .unwrap());
    assert!(!s
        .claim_once(&hash("consent-form-3"), NOW, NOW)
        .await
        .unwrap());
    // A sweep keeps a live claim.
    s.sweep(NOW + 1, 3600, 86_400).await.unwrap();
    assert!(!s.claim_once(&key, NOW + 600, NOW + 1).await.unwrap());
}

async fn concurrent_claims_have_one_winner<S: Store>(s: Arc<S>) {
    let key = hash("raced-form");
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.claim_once(&key, NOW + 600, NOW).await.unwrap()
        }));
    }
    let mut wins = 0;
    for task in tasks {
        wins += usize::from(task.await.unwrap());
    }
    assert_eq!(wins, 1);
}

fn client_access(jti: &str, issued_at: u64) -> ClientAccess {
    ClientAccess {
        jti: jti.into(),
        scope: "api:read".into(),
        issued_at,
        expires_at: issued_at + 900,
    }
}

async fn client_access_is_listed_until_it_expires_or_is_revoked(s: &impl Store) {
    s.record_client_access("worker", client_access("w1", NOW), NOW)
        .await
        .unwrap();
    s.record_client_access("worker", client_access("w2", NOW + 10), NOW + 10)
        .await
        .unwrap();
    s.record_client_access("other", client_access("o1", NOW), NOW)
        .await
        .unwrap();

    let all = s.list_client_access(None, NOW + 10, 100).await.unwrap();
    let clients: Vec<&str> = all.iter().map(|c| c.client_id.as_str()).collect();
    assert_eq!(clients, ["other", "worker"]);
    assert_eq!(
        all[1].access,
        [client_access("w1", NOW), client_access("w2", NOW + 10)]
    );
    assert_eq!(all[1].unlisted_until, None);
    assert_eq!(
        s.list_client_access(None, NOW + 10, 1).await.unwrap().len(),
        1
    );

    let worker = s
        .list_client_access(Some("worker"), NOW + 10, 100)
        .await
        .unwrap();
    assert_eq!(worker.len(), 1);
    assert_eq!(worker[0].client_id, "worker");
    assert!(s
        .list_client_access(Some("nobody"), NOW, 100)
        .await
        .unwrap()
        .is_empty());

    // Expired: w1 is gone at its expiry, w2 still there.
    let later = s
        .list_client_access(Some("worker"), NOW + 900, 100)
        .await
        .unwrap();
    assert_eq!(later[0].access, [client_access("w2", NOW + 10)]);

    // A deny-listed jti is not live.
    s.revoke_access("w2", NOW + 910).await.unwrap();
    let left = s
        .list_client_access(Some("worker"), NOW + 10, 100)
        .await
        .unwrap();
    assert_eq!(left[0].access, [client_access("w1", NOW)]);

    // Revoking the client cuts off everything it was issued, including this very second.
    s.revoke_subject(Subject::Client("other".into()), NOW + 1, NOW)
        .await
        .unwrap();
    assert!(s
        .list_client_access(Some("other"), NOW, 100)
        .await
        .unwrap()
        .is_empty());
    s.record_client_access("other", client_access("o2", NOW), NOW)
        .await
        .unwrap();
    assert!(
        s.list_client_access(Some("other"), NOW, 100)
            .await
            .unwrap()
            .is_empty(),
        "issued before the cut-off"
    );
    s.record_client_access("other", client_access("o3", NOW + 1), NOW + 1)
        .await
        .unwrap();
    let other = s
        .list_client_access(Some("other"), NOW + 1, 100)
        .await
        .unwrap();
    assert_eq!(other[0].access, [client_access("o3", NOW + 1)]);

    // A sweep keeps what is live.
    s.sweep(NOW + 20, 3600, 86_400).await.unwrap();
    let kept = s
        .list_client_access(Some("other"), NOW + 20, 100)
        .await
        .unwrap();
    assert_eq!(kept[0].access.len(), 1);
}

async fn client_access_is_bounded_per_client(s: &impl Store) {
    let bound = CLIENT_ACCESS_PER_CLIENT as u64;
    // Long-lived, so that none has expired by the end.
    let long = |i: u64| ClientAccess {
        expires_at: NOW + 10_000 + i,
        ..client_access(&format!("b{i}"), NOW + i)
    };
    for i in 0..bound + 2 {
        s.record_client_access("busy", long(i), NOW + i)
            .await
            .unwrap();
    }
    let at = NOW + bound + 2;
    let listed = s.list_client_access(Some("busy"), at, 100).await.unwrap();
    let busy = &listed[0];
    assert_eq!(busy.access.len(), CLIENT_ACCESS_PER_CLIENT);
    // The two oldest gave way; the listing says until when unlisted ones may live.
    assert_eq!(busy.access[0].jti, "b2");
    assert_eq!(busy.unlisted_until, Some(NOW + 10_000 + 1));
    assert_eq!(
        busy.access.last().map(|a| a.jti.as_str()),
        Some(format!("b{}", bound + 1).as_str())
    );
}

/// The one-call bearer check agrees with its three parts.
async fn access_check(s: &impl Store) {
    assert!(!s
        .access_revoked("j1", "spa", Some("alice"), NOW)
        .await
        .unwrap());
    s.revoke_access("j1", NOW + 900).await.unwrap();
    assert!(s
        .access_revoked("j1", "spa", Some("alice"), NOW)
        .await
        .unwrap());
    assert!(!s
        .access_revoked("j2", "spa", Some("alice"), NOW)
        .await
        .unwrap());

    s.revoke_subject(Subject::User("alice".into()), NOW + 1, NOW)
        .await
        .unwrap();
    assert!(s
        .access_revoked("j2", "spa", Some("alice"), NOW)
        .await
        .unwrap());
    assert!(!s
        .access_revoked("j2", "spa", Some("alice"), NOW + 1)
        .await
        .unwrap());
    assert!(!s
        .access_revoked("j2", "spa", Some("bob"), NOW)
        .await
        .unwrap());
    assert!(!s.access_revoked("j2", "spa", None, NOW).await.unwrap());

    s.revoke_subject(Subject::Client("worker".into()), NOW + 1, NOW)
        .await
        .unwrap();
    assert!(s.access_revoked("j3", "worker", None, NOW).await.unwrap());
    assert!(!s
        .access_revoked("j3", "worker", None, NOW + 1)
        .await
        .unwrap());
    assert!(!s
        .access_revoked("j3", "spa", Some("bob"), NOW)
        .await
        .unwrap());
}

async fn grant_listing(s: &impl Store) {
    let access = |jti: &str, expires_at: u64| IssuedAccess {
        jti: jti.into(),
        expires_at,
    };
    s.put_refresh(hash("r1"), record("f1"), access("a1", NOW + 900))
        .await
        .unwrap();
    let mut other = record("f2");
    other.user = "bob".into();
    other.client_id = "cli".into();
    s.put_refresh(hash("r2"), other, access("a2", NOW + 900))
        .await
        .unwrap();
    s.put_refresh(hash("r3"), record("f3"), access("a3", NOW - 1))
        .await
        .unwrap();
    s.revoke_family("f3", NOW).await.unwrap();

    let all = s
        .list_grants(&GrantFilter::default(), NOW, 100)
        .await
        .unwrap();
    let families: Vec<&str> = all.iter().map(|g| g.family.as_str()).collect();
    assert_eq!(families, ["f1", "f2"], "revoked families are not listed");
    assert_eq!(all[0].access, [access("a1", NOW + 900)]);
    assert_eq!(all[0].user, "alice");
    assert_eq!(all[0].client_id, "spa");
    assert_eq!(all[0].sid, None, "a plain OAuth grant has no login session");

    let bob = GrantFilter {
        user: Some("bob".into()),
        client: None,
    };
    let listed = s.list_grants(&bob, NOW, 100).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].family, "f2");
    let spa = GrantFilter {
        user: None,
        client: Some("spa".into()),
    };
    assert_eq!(s.list_grants(&spa, NOW, 100).await.unwrap().len(), 1);
    assert_eq!(
        s.list_grants(&GrantFilter::default(), NOW, 1)
            .await
            .unwrap()
            .len(),
        1
    );
    // An OpenID Connect grant's family remembers its login session.
    let mut oidc = record("f4");
    oidc.user = "carol".into();
    oidc.oidc = grant("f4").oidc;
    s.put_refresh(hash("r4"), oidc.clone(), access("a4", NOW + 900))
        .await
        .unwrap();
    let carol = GrantFilter {
        user: Some("carol".into()),
        client: None,
    };
    let listed = s.list_grants(&carol, NOW, 100).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].sid.as_deref(), Some("sid-1"));
    s.revoke_family("f4", NOW).await.unwrap();
    // Past the family's end it is no longer live.
    assert!(s
        .list_grants(&GrantFilter::default(), NOW + 86_400, 100)
        .await
        .unwrap()
        .is_empty());
    let stats = s.stats().await.unwrap();
    assert!(!stats.entries.is_empty());
}

async fn registered_clients(s: &impl Store) {
    use crate::config::{ClientConfig, ClientKind, GrantType};
    let client = |id: &str| ClientConfig {
        id: id.into(),
        kind: ClientKind::Public,
        secret_hash: None,
        name: id.into(),
        redirect_uris: vec!["http://127.0.0.1/cb".into()],
        grants: vec![GrantType::AuthorizationCode],
        scopes: vec![],
        first_party: false,
        require_pkce: true,
        id_token_alg: crate::tokens::jose::Alg::Rs256,
        id_token_claims: crate::config::IdTokenClaims::Scopes,
        post_logout_redirect_uris: Vec::new(),
        backchannel_logout_uri: None,
        allowed_origins: Vec::new(),
    };
    assert!(s.put_client(client("a"), 2).await.unwrap());
    assert!(s.put_client(client("b"), 2).await.unwrap());
    assert!(!s.put_client(client("c"), 2).await.unwrap(), "capped");
    assert_eq!(
        s.get_client("a").await.unwrap().map(|c| c.id),
        Some("a".into())
    );
    assert_eq!(s.get_client("c").await.unwrap().map(|c| c.id), None);
}

async fn codes_are_single_use(s: &impl Store) {
    s.put_code(hash("code"), grant("f1")).await.unwrap();
    assert_eq!(
        s.take_code(&hash("code"), NOW).await.unwrap(),
        CodeTake::Fresh(grant("f1"))
    );
    assert_eq!(
        s.take_code(&hash("code"), NOW).await.unwrap(),
        CodeTake::Replayed(grant("f1"))
    );
    assert_eq!(
        s.take_code(&hash("other"), NOW).await.unwrap(),
        CodeTake::Unknown
    );
}

async fn codes_expire(s: &impl Store) {
    s.put_code(hash("code"), grant("f1")).await.unwrap();
    assert_eq!(
        s.take_code(&hash("code"), NOW + 60).await.unwrap(),
        CodeTake::Unknown
    );
}

async fn concurrent_code_takes_have_one_winner<S: Store>(s: Arc<S>) {
    s.put_code(hash("code"), grant("f1")).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.take_code(&hash("code"), NOW).await.unwrap()
        }));
    }
    let mut fresh = 0;
    for task in tasks {
        if matches!(task.await.unwrap(), CodeTake::Fresh(_)) {
            fresh += 1;
        }
    }
    assert_eq!(fresh, 1);
}

async fn rotation_and_grace(s: &impl Store) {
    s.put_refresh(hash("r1"), record("f1"), access("a1"))
        .await
        .unwrap();
    assert_eq!(
        s.get_refresh(&hash("r1"), NOW).await.unwrap(),
        current("f1")
    );
    let r = s
        .rotate_refresh(
            &hash("r1"),
            next(hash("r2"), record("f1"), access("a2"), sealed(2)),
            NOW,
            5,
        )
        .await
        .unwrap();
    assert_eq!(r, Rotation::Rotated);
    assert_eq!(
        s.get_refresh(&hash("r1"), NOW).await.unwrap(),
        Some(RefreshLookup {
            record: record("f1"),
            current: false
        }),
        "a used token stays known for reuse detection, as no longer current"
    );
    assert_eq!(
        s.get_refresh(&hash("r2"), NOW).await.unwrap(),
        current("f1")
    );
    // Within the grace window the same used token gets the same sealed pair.
    let again = s
        .rotate_refresh(
            &hash("r1"),
            next(hash("r2b"), record("f1"), access("a2b"), sealed(9)),
            NOW + 4,
            5,
        )
        .await
        .unwrap();
    assert_eq!(again, Rotation::Grace(sealed(2)));
    assert_eq!(
        s.get_refresh(&hash("r2b"), NOW).await.unwrap(),
        None,
        "no sibling was created"
    );
    assert_eq!(
        s.get_refresh(&hash("r2"), NOW + 4).await.unwrap(),
        current("f1")
    );
}

async fn reuse_after_grace_revokes_the_family(s: &impl Store) {
    s.put_refresh(hash("r1"), record("f1"), access("a1"))
        .await
        .unwrap();
    s.rotate_refresh(
        &hash("r1"),
        next(hash("r2"), record("f1"), access("a2"), sealed(2)),
        NOW,
        5,
    )
    .await
    .unwrap();
    let reuse = s
        .rotate_refresh(
            &hash("r1"),
            next(hash("r3"), record("f1"), access("a3"), sealed(3)),
            NOW + 5,
            5,
        )
        .await
        .unwrap();
    assert_eq!(
        reuse,
        Rotation::Reused {
            family: "f1".into()
        }
    );
    assert_eq!(
        s.get_refresh(&hash("r2"), NOW + 5).await.unwrap(),
        None,
        "the whole family is gone"
    );
    assert!(s.is_access_revoked("a1").await.unwrap());
    assert!(s.is_access_revoked("a2").await.unwrap());
    let after = s
        .rotate_refresh(
            &hash("r2"),
            next(hash("r4"), record("f1"), access("a4"), sealed(4)),
            NOW + 6,
            5,
        )
        .await
        .unwrap();
    assert_eq!(after, Rotation::Unknown);
}

async fn grace_zero_means_no_grace(s: &impl Store) {
    s.put_refresh(hash("r1"), record("f1"), access("a1"))
        .await
        .unwrap();
    s.rotate_refresh(
        &hash("r1"),
        next(hash("r2"), record("f1"), access("a2"), sealed(2)),
        NOW,
        0,
    )
    .await
    .unwrap();
    let reuse = s
        .rotate_refresh(
            &hash("r1"),
            next(hash("r3"), record("f1"), access("a3"), sealed(3)),
            NOW,
            0,
        )
        .await
        .unwrap();
    assert_eq!(
        reuse,
        Rotation::Reused {
            family: "f1".into()
        }
    );
}

async fn concurrent_rotations_have_one_winner<S: Store>(s: Arc<S>) {
    s.put_refresh(hash("r1"), record("f1"), access("a1"))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..16u8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.rotate_refresh(
                &hash("r1"),
                next(
                    hash(&format!("new{i}")),
                    record("f1"),
                    access(&format!("a{i}")),
                    sealed(i),
                ),
                NOW,
                5,
            )
            .await
            .unwrap()
        }));
    }
    let mut rotated = 0;
    for task in tasks {
        match task.await.unwrap() {
            Rotation::Rotated => rotated += 1,
            Rotation::Grace(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(rotated, 1);
}

async fn family_revocation_denies_its_access_tokens(s: &impl Store) {
    s.put_refresh(hash("r1"), record("f1"), access("a1"))
        .await
        .unwrap();
    s.put_refresh(hash("x1"), record("f2"), access("b1"))
        .await
        .unwrap();
    s.revoke_family("f1", NOW).await.unwrap();
    assert_eq!(s.get_refresh(&hash("r1"), NOW).await.unwrap(), None);
    assert!(s.is_access_revoked("a1").await.unwrap());
    assert!(!s.is_access_revoked("b1").await.unwrap());
    assert_eq!(
        s.get_refresh(&hash("x1"), NOW).await.unwrap(),
        current("f2")
    );
    s.revoke_access("solo", NOW + 10).await.unwrap();
    assert!(s.is_access_revoked("solo").await.unwrap());
}

async fn refresh_expiry(s: &impl Store) {
    s.put_refresh(hash("r1"), record("f1"), access("a1"))
        .await
        .unwrap();
    assert_eq!(
        s.get_refresh(&hash("r1"), NOW + 86_400).await.unwrap(),
        None
    );
    let r = s
        .rotate_refresh(
            &hash("r1"),
            next(hash("r2"), record("f1"), access("a2"), sealed(2)),
            NOW + 86_400,
            5,
        )
        .await
        .unwrap();
    assert_eq!(r, Rotation::Unknown);
}

async fn subject_revocation(s: &impl Store) {
    s.put_refresh(hash("r1"), record("f1"), access("a1"))
        .await
        .unwrap();
    let session = SessionRecord {
        sign_in: None,
        factor_tries: 0,
        user: "alice".into(),
        created_at: NOW,
        last_seen: NOW,
        scope: String::new(),
        family: None,
        person: None,
    };
    s.put_session(hash("s1"), session).await.unwrap();
    assert_eq!(
        s.cutoff(&Subject::User("alice".into())).await.unwrap(),
        None
    );
    s.revoke_subject(Subject::User("alice".into()), NOW + 1, NOW)
        .await
        .unwrap();
    assert_eq!(
        s.cutoff(&Subject::User("alice".into())).await.unwrap(),
        Some(NOW + 1)
    );
    assert_eq!(
        s.cutoff(&Subject::Client("spa".into())).await.unwrap(),
        None
    );
    assert_eq!(s.get_refresh(&hash("r1"), NOW).await.unwrap(), None);
    assert!(s.is_access_revoked("a1").await.unwrap());
    assert_eq!(
        s.touch_session(&hash("s1"), NOW, 100, 1000).await.unwrap(),
        None
    );
    // A cut-off never moves back.
    s.revoke_subject(Subject::User("alice".into()), NOW - 50, NOW)
        .await
        .unwrap();
    assert_eq!(
        s.cutoff(&Subject::User("alice".into())).await.unwrap(),
        Some(NOW + 1)
    );
}

async fn consents(s: &impl Store) {
    assert!(s.consent("alice", "spa").await.unwrap().is_empty());
    s.put_consent("alice", "spa", &["a".into(), "b".into()])
        .await
        .unwrap();
    s.put_consent("alice", "spa", &["b".into(), "c".into()])
        .await
        .unwrap();
    let mut got = s.consent("alice", "spa").await.unwrap();
    got.sort();
    assert_eq!(got, ["a", "b", "c"]);
    assert!(s.consent("bob", "spa").await.unwrap().is_empty());
}

async fn sessions(s: &impl Store) {
    let session = SessionRecord {
        sign_in: None,
        factor_tries: 0,
        user: "alice".into(),
        created_at: NOW,
        last_seen: NOW,
        scope: String::new(),
        family: None,
        person: None,
    };
    s.put_session(hash("s1"), session.clone()).await.unwrap();
    // Sliding idle timeout: each touch moves last_seen.
    let touched = s
        .touch_session(&hash("s1"), NOW + 90, 100, 1000)
        .await
        .unwrap();
    assert_eq!(touched.map(|t| t.last_seen), Some(NOW + 90));
    assert!(s
        .touch_session(&hash("s1"), NOW + 180, 100, 1000)
        .await
        .unwrap()
        .is_some());
    // Idle limit.
    assert_eq!(
        s.touch_session(&hash("s1"), NOW + 280, 100, 1000)
            .await
            .unwrap(),
        None
    );
    // Absolute limit, however active.
    s.put_session(hash("s2"), session.clone()).await.unwrap();
    for t in (50..1000).step_by(50) {
        assert!(s
            .touch_session(&hash("s2"), NOW + t, 100, 1000)
            .await
            .unwrap()
            .is_some());
    }
    assert_eq!(
        s.touch_session(&hash("s2"), NOW + 1000, 100, 1000)
            .await
            .unwrap(),
        None
    );
    s.put_session(hash("s3"), session.clone()).await.unwrap();
    s.delete_session(&hash("s3")).await.unwrap();
    assert_eq!(
        s.touch_session(&hash("s3"), NOW, 100, 1000).await.unwrap(),
        None
    );
    // A backend that answers at once lends the record `touch_session` would return, slides
    // it the same way, and lends nothing past the limits or for an unknown session.
    s.put_session(hash("s4"), session).await.unwrap();
    let lend = |id: &str, at: u64| {
        let mut lent = Vec::new();
        let answer = s.touch_session_with(&hash(id), at, 100, 1000, &mut |r| lent.push(r.clone()));
        answer.map(|answer| (answer.unwrap(), lent))
    };
    if let Some((live, lent)) = lend("s4", NOW + 90) {
        assert!(live);
        assert_eq!(lent.len(), 1);
        assert_eq!(lent[0].user, "alice");
        assert_eq!(lent[0].last_seen, NOW + 90);
        assert_eq!(
            lend("s4", NOW + 191),
            Some((false, vec![])),
            "idle past its limit"
        );
        assert_eq!(lend("nope", NOW), Some((false, vec![])), "unknown");
        assert_eq!(
            s.touch_session(&hash("s4"), NOW + 191, 100, 1000)
                .await
                .unwrap(),
            None,
            "the idle session was removed"
        );
    }
}

async fn sweep_keeps_what_is_live(s: &impl Store) {
    let session = |at: u64| SessionRecord {
        sign_in: None,
        factor_tries: 0,
        user: "alice".into(),
        created_at: at,
        last_seen: at,
        scope: String::new(),
        family: None,
        person: None,
    };
    s.put_session(hash("live"), session(NOW)).await.unwrap();
    s.put_session(hash("idle"), session(NOW - 100))
        .await
        .unwrap();
    s.put_code(hash("code"), grant("f1")).await.unwrap();
    s.put_refresh(hash("r1"), record("f1"), access("a1"))
        .await
        .unwrap();
    s.revoke_access("solo", NOW + 10).await.unwrap();
    s.sweep(NOW, 100, 1000).await.unwrap();
    assert!(s
        .touch_session(&hash("live"), NOW, 1_000_000, 1_000_000)
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        s.touch_session(&hash("idle"), NOW, 1_000_000, 1_000_000)
            .await
            .unwrap(),
        None,
        "an abandoned session is swept, not kept until touched"
    );
    assert!(s.is_access_revoked("solo").await.unwrap());
    assert_eq!(
        s.get_refresh(&hash("r1"), NOW).await.unwrap(),
        current("f1")
    );
    assert_eq!(
        s.take_code(&hash("code"), NOW).await.unwrap(),
        CodeTake::Fresh(grant("f1"))
    );
    s.sweep(NOW + 86_400, 100, 1000).await.unwrap();
    assert!(!s.is_access_revoked("solo").await.unwrap());
    assert_eq!(
        s.take_code(&hash("code"), NOW + 86_400).await.unwrap(),
        CodeTake::Unknown
    );
}

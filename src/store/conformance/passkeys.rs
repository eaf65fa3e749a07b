//! Passkeys and WebAuthn ceremonies: a passkey is added once per id and within the bound,
//! makes the user enrolled, and survives the TOTP secret's removal; its counter advances
//! only upward (0 with 0 for authenticators without one), with one winner among concurrent
//! sign-ins; removing the last factor drops the record with its recovery codes; recovery
//! codes are replaced only for an enrolled user; a ceremony is taken once, by one of many
//! concurrent callers, and not past its time; a peeked one stays (with the options it was
//! kept with) until it is taken or replaced.

use std::sync::Arc;

use super::factors::winners;
use crate::store::passkeys::{Ceremony, CeremonyPurpose, PasskeyRecord};
use crate::store::Store;
use crate::tokens::opaque::TokenHash;

const NOW: u64 = 1_000_000;

fn passkey(id: &str, counter: u32) -> PasskeyRecord {
    PasskeyRecord {
        id: id.to_owned(),
        name: format!("key {id}"),
        credential: format!("{{\"cred\":\"{id}\"}}"),
        counter,
        backup_eligible: false,
        created_at: NOW + id.len() as u64,
        last_used: 0,
    }
}

fn ceremony(user: &str, expires_at: u64) -> Ceremony {
    Ceremony {
        user: user.to_owned(),
        purpose: CeremonyPurpose::SecondFactor,
        binding: TokenHash::of("session").to_hex(),
        state: "{\"challenge\":\"abc\"}".to_owned(),
        options: format!("{{\"publicKey\":{{\"user\":\"{user}\"}}}}"),
        expires_at,
    }
}

pub async fn run<S, F, Fut>(make: &F)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = S>,
{
    passkeys_are_added_used_and_removed(&make().await).await;
    the_last_factor_takes_the_record_with_it(&make().await).await;
    ceremonies_are_taken_once(&make().await).await;
    a_peeked_ceremony_stays_until_taken(&make().await).await;
    concurrent_passkey_uses_have_one_winner(Arc::new(make().await)).await;
    concurrent_ceremony_takes_have_one_winner(Arc::new(make().await)).await;
}

async fn passkeys_are_added_used_and_removed(s: &impl Store) {
    assert!(!s.use_passkey("alice", "k1", 1, "{}", NOW).await.unwrap());
    assert!(s.add_passkey("alice", passkey("k1", 0), 2).await.unwrap());
    assert!(
        !s.add_passkey("alice", passkey("k1", 0), 2).await.unwrap(),
        "one id once"
    );
    let found = s.factors("alice", NOW).await.unwrap().unwrap();
    assert!(found.enrolled(), "a passkey is a factor");
    assert_eq!(found.passkeys, vec![passkey("k1", 0)]);
    assert!(s.add_passkey("alice", passkey("k22", 3), 2).await.unwrap());
    assert!(
        !s.add_passkey("alice", passkey("k333", 0), 2).await.unwrap(),
        "bounded"
    );
    assert!(s.add_passkey("bob", passkey("k1", 0), 2).await.unwrap());

    // The counter only advances; 0 with 0 is an authenticator without one.
    assert!(s
        .use_passkey("alice", "k1", 0, "{\"v\":1}", NOW + 1)
        .await
        .unwrap());
    assert!(s
        .use_passkey("alice", "k1", 5, "{\"v\":2}", NOW + 2)
        .await
        .unwrap());
    assert!(
        !s.use_passkey("alice", "k1", 5, "{\"v\":3}", NOW + 3)
            .await
            .unwrap(),
        "replay"
    );
    assert!(!s
        .use_passkey("alice", "k1", 4, "{\"v\":3}", NOW + 3)
        .await
        .unwrap());
    assert!(
        !s.use_passkey("alice", "k1", 0, "{\"v\":3}", NOW + 3)
            .await
            .unwrap(),
        "reset"
    );
    assert!(!s.use_passkey("alice", "k22", 3, "{}", NOW).await.unwrap());
    assert!(!s.use_passkey("alice", "nope", 9, "{}", NOW).await.unwrap());
    let found = s.factors("alice", NOW).await.unwrap().unwrap();
    let k1 = found.passkeys.iter().find(|p| p.id == "k1").unwrap();
    assert_eq!(
        (k1.counter, k1.credential.as_str(), k1.last_used),
        (5, "{\"v\":2}", NOW + 2)
    );
    assert_eq!(found.passkeys.len(), 2);
    let bobs = s.factors("bob", NOW).await.unwrap().unwrap();
    assert_eq!(
        bobs.passkeys,
        vec![passkey("k1", 0)],
        "another user's untouched"
    );

    assert!(s.remove_passkey("alice", "k1").await.unwrap());
    assert!(!s.remove_passkey("alice", "k1").await.unwrap());
    let found = s.factors("alice", NOW).await.unwrap().unwrap();
    assert_eq!(
        found
            .passkeys
            .iter()
            .map(|p| p.id.as_str())
            .collect::<Vec<_>>(),
        ["k22"]
    );
    assert!(
        s.add_passkey("alice", passkey("k333", 0), 2).await.unwrap(),
        "room again"
    );
}

async fn the_last_factor_takes_the_record_with_it(s: &impl Store) {
    let codes = vec![TokenHash::of("r1")];
    assert!(
        !s.replace_recovery_codes("alice", codes.clone())
            .await
            .unwrap(),
        "not enrolled"
    );
    s.put_pending_totp("alice", super::factors::pending_for_tests("t1", NOW + 600))
        .await
        .unwrap();
    assert!(s.confirm_totp("alice", "t1", 1, vec![], NOW).await.unwrap());
    assert!(s.add_passkey("alice", passkey("k1", 0), 10).await.unwrap());
    assert!(s
        .replace_recovery_codes("alice", codes.clone())
        .await
        .unwrap());
    assert_eq!(
        s.factors("alice", NOW).await.unwrap().unwrap().recovery,
        codes
    );

    // Without the TOTP secret the passkey (and the codes) remain.
    assert!(s.remove_totp("alice").await.unwrap());
    assert!(!s.remove_totp("alice").await.unwrap());
    let found = s.factors("alice", NOW).await.unwrap().unwrap();
    assert_eq!((found.totp.is_none(), found.recovery.len()), (true, 1));
    assert!(found.enrolled());
    // Without the passkey too, nothing is left: the codes went with it.
    assert!(s.remove_passkey("alice", "k1").await.unwrap());
    assert_eq!(s.factors("alice", NOW).await.unwrap(), None);
    assert!(s.add_passkey("alice", passkey("k2", 0), 10).await.unwrap());
    let found = s.factors("alice", NOW).await.unwrap().unwrap();
    assert!(found.recovery.is_empty(), "no old codes come back");
    assert!(s.remove_factors("alice").await.unwrap());
    assert_eq!(s.factors("alice", NOW).await.unwrap(), None);
}

async fn ceremonies_are_taken_once(s: &impl Store) {
    let id = TokenHash::of("ceremony-1");
    assert_eq!(s.take_ceremony(&id, NOW).await.unwrap(), None);
    s.put_ceremony(&id, ceremony("alice", NOW + 300), NOW)
        .await
        .unwrap();
    assert_eq!(
        s.take_ceremony(&TokenHash::of("other"), NOW).await.unwrap(),
        None
    );
    assert_eq!(
        s.take_ceremony(&id, NOW).await.unwrap(),
        Some(ceremony("alice", NOW + 300))
    );
    assert_eq!(s.take_ceremony(&id, NOW).await.unwrap(), None, "once");
    // Past its time it is gone, and taking it does not bring it back.
    let late = TokenHash::of("ceremony-2");
    s.put_ceremony(&late, ceremony("bob", NOW + 300), NOW)
        .await
        .unwrap();
    assert_eq!(s.take_ceremony(&late, NOW + 300).await.unwrap(), None);
    assert_eq!(s.take_ceremony(&late, NOW).await.unwrap(), None);
}

async fn concurrent_passkey_uses_have_one_winner<S: Store>(s: Arc<S>) {
    assert!(s.add_passkey("alice", passkey("k1", 1), 10).await.unwrap());
    let used = winners(&s, |s| async move {
        s.use_passkey("alice", "k1", 2, "{}", NOW).await.unwrap()
    });
    assert_eq!(used.await, 1);
}

async fn a_peeked_ceremony_stays_until_taken(s: &impl Store) {
    let id = TokenHash::of("ceremony-peeked");
    assert_eq!(s.peek_ceremony(&id, NOW).await.unwrap(), None);
    s.put_ceremony(&id, ceremony("alice", NOW + 300), NOW)
        .await
        .unwrap();
    for _ in 0..2 {
        let peeked = s.peek_ceremony(&id, NOW + 10).await.unwrap();
        assert_eq!(peeked, Some(ceremony("alice", NOW + 300)), "options kept");
    }
    assert_eq!(
        s.peek_ceremony(&id, NOW + 300).await.unwrap(),
        None,
        "past its time"
    );
    // Replaced under the same id (the page begun again), then taken: gone for a peek too.
    s.put_ceremony(&id, ceremony("bob", NOW + 400), NOW + 100)
        .await
        .unwrap();
    let peeked = s.peek_ceremony(&id, NOW + 100).await.unwrap();
    assert_eq!(peeked.map(|c| c.user), Some("bob".to_owned()));
    assert!(s.take_ceremony(&id, NOW + 100).await.unwrap().is_some());
    assert_eq!(s.peek_ceremony(&id, NOW + 100).await.unwrap(), None);
}

async fn concurrent_ceremony_takes_have_one_winner<S: Store>(s: Arc<S>) {
    let id = TokenHash::of("contested");
    s.put_ceremony(&id, ceremony("alice", NOW + 300), NOW)
        .await
        .unwrap();
    let taken = winners(&s, move |s| async move {
        s.take_ceremony(&id, NOW).await.unwrap().is_some()
    });
    assert_eq!(taken.await, 1);
}

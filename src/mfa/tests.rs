//! The second-factor core over a real memory store: enrolment takes effect only with a
//! correct code, codes are accepted once, recovery codes once each, a new secret replaces the
//! old one only when confirmed, failures throttle.

use super::*;
use crate::store::factors::FactorStore;
use crate::store::memory::MemoryStore;

const NOW: u64 = 1_700_000_010;

fn factors() -> SecondFactors {
    SecondFactors::new(FactorKey::from_bytes(&[3; 32]), "authgate.test")
}

/// The secret in the otpauth URI, as an app would read it.
fn secret_of(p: &Provisioning) -> Vec<u8> {
    totp_rs::Totp::from_url(&p.uri)
        .unwrap()
        .secret()
        .as_bytes()
        .to_vec()
}

fn code(secret: &[u8], at: u64) -> String {
    totp::code_at(secret, at).unwrap()
}

async fn enrolled(store: &MemoryStore, f: &SecondFactors) -> (Vec<u8>, Vec<String>) {
    let p = f.begin_enrolment(store, "alice", NOW).await.unwrap();
    let secret = secret_of(&p);
    let codes = f
        .confirm(store, "alice", &code(&secret, NOW), NOW)
        .await
        .unwrap();
    (secret, codes)
}

#[tokio::test]
async fn enrolment_needs_one_correct_code_then_codes_work_once() {
    let store = MemoryStore::new();
    let f = factors();
    assert_eq!(
        f.due(&store, "alice", false, NOW).await.unwrap(),
        Due::Nothing
    );
    assert_eq!(f.due(&store, "alice", true, NOW).await.unwrap(), Due::Enrol);
    let p = f.begin_enrolment(&store, "alice", NOW).await.unwrap();
    assert!(p.uri.starts_with("otpauth://totp/authgate.test:alice?"));
    let secret = secret_of(&p);
    // Pending: not a factor yet.
    assert_eq!(f.due(&store, "alice", true, NOW).await.unwrap(), Due::Enrol);
    assert_eq!(
        f.verify(&store, "alice", &code(&secret, NOW), NOW).await,
        Err(Refused::NoFactor)
    );
    let again = f
        .pending_enrolment(&store, "alice", NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.uri, p.uri);
    assert_eq!(
        f.confirm(&store, "alice", "000000", NOW).await,
        Err(Refused::Wrong)
    );
    let codes = f
        .confirm(&store, "alice", &code(&secret, NOW), NOW)
        .await
        .unwrap();
    assert_eq!(codes.len(), recovery::COUNT);
    assert_eq!(
        f.due(&store, "alice", false, NOW).await.unwrap(),
        Due::Verify
    );
    // The confirming code is spent; the next step's is accepted once.
    assert_eq!(
        f.verify(&store, "alice", &code(&secret, NOW), NOW).await,
        Err(Refused::Wrong)
    );
    let later = NOW + 30;
    assert_eq!(
        f.verify(&store, "alice", &code(&secret, later), later)
            .await,
        Ok("otp")
    );
    assert_eq!(
        f.verify(&store, "alice", &code(&secret, later), later)
            .await,
        Err(Refused::Wrong),
        "reused"
    );
    // The previous step's code (within the skew) is older than the accepted one: refused.
    assert_eq!(
        f.verify(&store, "alice", &code(&secret, NOW), later + 1)
            .await,
        Err(Refused::Wrong)
    );
    // Recovery codes: once each, however typed.
    assert_eq!(
        f.verify(&store, "alice", &codes[0].to_uppercase(), later)
            .await,
        Ok("otp")
    );
    assert_eq!(
        f.verify(&store, "alice", &codes[0], later).await,
        Err(Refused::Wrong)
    );
    assert_eq!(f.verify(&store, "alice", &codes[1], later).await, Ok("otp"));
}

#[tokio::test]
async fn a_new_secret_replaces_the_old_only_once_confirmed() {
    let store = MemoryStore::new();
    let f = factors();
    let (old, old_codes) = enrolled(&store, &f).await;
    let t = NOW + 60;
    let p = f.begin_enrolment(&store, "alice", t).await.unwrap();
    let new = secret_of(&p);
    assert_ne!(new, old);
    // Still the old one until the new one is confirmed.
    assert_eq!(
        f.verify(&store, "alice", &code(&old, t), t).await,
        Ok("otp")
    );
    let t = t + 30;
    f.confirm(&store, "alice", &code(&new, t), t).await.unwrap();
    let t = t + 30;
    assert_eq!(
        f.verify(&store, "alice", &code(&old, t), t).await,
        Err(Refused::Wrong),
        "the previous secret"
    );
    assert_eq!(
        f.verify(&store, "alice", &old_codes[2], t).await,
        Err(Refused::Wrong),
        "the previous recovery codes"
    );
    assert_eq!(
        f.verify(&store, "alice", &code(&new, t), t).await,
        Ok("otp")
    );
}

#[tokio::test]
async fn wrong_codes_are_throttled_per_user_and_a_success_forgets_them() {
    let store = MemoryStore::new();
    let f = factors();
    let (secret, _) = enrolled(&store, &f).await;
    let t = NOW + 30;
    for _ in 0..throttle::FREE_FAILURES {
        assert_eq!(
            f.verify(&store, "alice", "123-bad", t).await,
            Err(Refused::Wrong)
        );
    }
    // Now locked: even the right code waits, and trying while locked counts too (the next
    // lock is twice as long, from that attempt).
    assert_eq!(
        f.verify(&store, "alice", &code(&secret, t), t).await,
        Err(Refused::Throttled(30))
    );
    assert_eq!(
        f.verify(&store, "alice", &code(&secret, t + 10), t + 10)
            .await,
        Err(Refused::Throttled(50))
    );
    let t = t + 10 + 120;
    assert_eq!(
        f.verify(&store, "alice", &code(&secret, t), t).await,
        Ok("otp")
    );
    assert_eq!(store.factor_failures("alice", t).await.unwrap().count, 0);
    assert_eq!(f.due(&store, "bob", false, t).await.unwrap(), Due::Nothing);
}

#[tokio::test]
async fn a_secret_sealed_for_another_user_or_key_does_not_open() {
    let store = MemoryStore::new();
    let f = factors();
    let p = f.begin_enrolment(&store, "alice", NOW).await.unwrap();
    let pending = store
        .factors("alice", NOW)
        .await
        .unwrap()
        .unwrap()
        .pending
        .unwrap();
    // Copied into bob's record, it does not open for bob.
    store.put_pending_totp("bob", pending).await.unwrap();
    let secret = secret_of(&p);
    assert_eq!(
        f.confirm(&store, "bob", &code(&secret, NOW), NOW).await,
        Err(Refused::Unavailable)
    );
    let other = SecondFactors::new(FactorKey::from_bytes(&[4; 32]), "authgate.test");
    assert_eq!(
        other
            .confirm(&store, "alice", &code(&secret, NOW), NOW)
            .await,
        Err(Refused::Unavailable)
    );
}

//! The memory store's bound on WebAuthn ceremonies: past [`MAX_CEREMONIES`] the expired ones
//! are dropped (and a reopen, replaying the journal, drops the same), and when none is
//! expired a new ceremony is refused, while one under an id already kept may be replaced.

use super::{open_with, options, NOW};
use crate::store::factors::FactorStore;
use crate::store::memory::*;
use crate::store::passkeys::{Ceremony, CeremonyPurpose};
use crate::store::persist::Options;
use crate::tokens::opaque::TokenHash;

fn ceremony(expires_at: u64) -> Ceremony {
    Ceremony {
        user: "alice".into(),
        purpose: CeremonyPurpose::Passwordless,
        binding: "b".into(),
        state: "{}".into(),
        options: "{}".into(),
        expires_at,
    }
}

fn id(n: usize) -> TokenHash {
    TokenHash::of(&format!("ceremony {n}"))
}

#[tokio::test]
async fn live_ceremonies_are_capped_and_expired_ones_make_room() {
    let dir = tempfile::tempdir().unwrap();
    let quick = Options {
        fsync: false,
        ..options()
    };
    let store = open_with(dir.path(), quick.clone()).unwrap();
    // Half of them end at NOW + 10, half at NOW + 300.
    for n in 0..MAX_CEREMONIES {
        let ends = if n % 2 == 0 { NOW + 10 } else { NOW + 300 };
        store
            .put_ceremony(&id(n), ceremony(ends), NOW)
            .await
            .unwrap();
    }
    let later = NOW + 11;
    // Full of live ones at NOW: refused, but an id already kept may be replaced.
    assert!(store
        .put_ceremony(&id(MAX_CEREMONIES), ceremony(NOW + 300), NOW)
        .await
        .is_err());
    store
        .put_ceremony(&id(0), ceremony(NOW + 10), NOW)
        .await
        .unwrap();
    // Later, the expired half makes room.
    store
        .put_ceremony(&id(MAX_CEREMONIES), ceremony(later + 300), later)
        .await
        .unwrap();
    assert_eq!(store.peek_ceremony(&id(0), NOW).await.unwrap(), None);
    assert!(store.peek_ceremony(&id(1), later).await.unwrap().is_some());
    for n in MAX_CEREMONIES + 1..MAX_CEREMONIES + MAX_CEREMONIES / 2 {
        store
            .put_ceremony(&id(n), ceremony(later + 300), later)
            .await
            .unwrap();
    }
    let refused = store
        .put_ceremony(&id(2 * MAX_CEREMONIES), ceremony(later + 300), later)
        .await;
    assert!(refused.is_err(), "full again, of live ones");
    drop(store);

    // The journal replays to the same: the expired half gone, the rest kept, still full.
    let store = open_with(dir.path(), quick).unwrap();
    assert_eq!(store.peek_ceremony(&id(0), NOW).await.unwrap(), None);
    assert!(store.peek_ceremony(&id(1), later).await.unwrap().is_some());
    assert!(store
        .peek_ceremony(&id(MAX_CEREMONIES), later)
        .await
        .unwrap()
        .is_some());
    let refused = store
        .put_ceremony(&id(2 * MAX_CEREMONIES), ceremony(later + 300), later)
        .await;
    assert!(refused.is_err());
    // Taking one makes room for one.
    assert!(store.take_ceremony(&id(1), later).await.unwrap().is_some());
    store
        .put_ceremony(&id(2 * MAX_CEREMONIES), ceremony(later + 300), later)
        .await
        .unwrap();
}

//! Loading, sharing and rotating through a real (memory) store: two gateways over one store
//! agree on the keys, a rotation on one reaches the other by a refresh, and retired keys
//! past their retention are dropped.

use std::sync::Arc;

use super::*;
use crate::store::memory::MemoryStore;
use crate::tokens::jose::{KeyState, JWKS_MAX_AGE_SECS};
use crate::tokens::keyring::{KeyRing, SigningKey};

const NOW: u64 = 1_800_000_000;

fn seal() -> SealKeys {
    SealKeys::from_ring(&KeyRing::new(SigningKey::new(&[3u8; 32]).unwrap(), vec![]))
}

#[tokio::test]
async fn two_gateways_share_one_generation_and_see_each_others_rotation() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let seal = seal();
    let ks = KeyStore {
        store: store.as_ref(),
        seal: &seal,
    };
    assert_eq!(ks.load_existing().await.unwrap_err(), KeysError::Missing);
    // Two gateways starting at once: one generates, the other reads its keys.
    let (a, b) = tokio::join!(ks.load(NOW), ks.load(NOW));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.keys(), b.keys());
    assert_eq!(a.jwks(), b.jwks());
    assert_eq!(a.keys().len(), 6);
    assert_eq!(store.signing_keys().await.unwrap().unwrap().version, 1);
    // A restart reads the same keys.
    assert_eq!(ks.load(NOW + 5).await.unwrap().keys(), a.keys());

    let first = Keys::new(a);
    let second = Keys::new(b);
    let retention = Retention::new(900, 3600, 86_400);
    let later = NOW + JWKS_MAX_AGE_SECS;
    assert!(matches!(
        ks.rotate(&first, &[Alg::Es256], NOW + 1, retention, false)
            .await,
        Err(KeysError::Rotate(RotateError::TooSoon { .. }))
    ));
    let rotated = ks
        .rotate(&first, &[Alg::Es256], later, retention, false)
        .await
        .unwrap();
    assert_eq!(rotated.version(), 2);
    assert_eq!(first.snapshot().keys(), rotated.keys());
    // The other gateway learns of it at its next refresh.
    assert_ne!(second.snapshot().keys(), rotated.keys());
    assert!(ks.refresh(&second, later, retention).await.unwrap());
    assert_eq!(second.snapshot().keys(), rotated.keys());
    assert!(!ks.refresh(&second, later + 1, retention).await.unwrap());

    // Past the retention, a refresh drops the retired key, for everyone.
    let retired = rotated
        .keys()
        .into_iter()
        .find(|k| k.state == KeyState::Retired)
        .unwrap();
    assert!(ks
        .refresh(&second, later + retention.secs, retention)
        .await
        .unwrap());
    assert!(!second.snapshot().contains(&retired.kid));
    assert!(ks
        .refresh(&first, later + retention.secs, retention)
        .await
        .unwrap());
    assert!(!first.snapshot().contains(&retired.kid));
    assert_eq!(first.snapshot().keys().len(), 6);
}

#[tokio::test]
async fn keys_sealed_under_another_hmac_key_are_refused() {
    let store = MemoryStore::new();
    let seal = seal();
    KeyStore {
        store: &store,
        seal: &seal,
    }
    .load(NOW)
    .await
    .unwrap();
    let other = SealKeys::from_ring(&KeyRing::new(SigningKey::new(&[4u8; 32]).unwrap(), vec![]));
    let err = KeyStore {
        store: &store,
        seal: &other,
    }
    .load(NOW)
    .await
    .unwrap_err();
    assert!(err.to_string().contains("previous_keys"), "{err}");
}

//! Loading, sharing and rotating through a real (memory) store: two gateways over one store
//! agree on the keys, a rotation on one reaches the other by a refresh, and retired keys
//! past their retention are dropped; the RS256 Next key a start leaves for later; keys from
//! the configuration, in force over generated ones and refused rotation.

use std::sync::Arc;

use super::*;
use crate::store::memory::MemoryStore;
use crate::tokens::jose::{KeyInfo, JWKS_MAX_AGE_SECS};
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
    let (a, b) = tokio::join!(ks.load(NOW, &[], &[]), ks.load(NOW, &[], &[]));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.keys(), b.keys());
    assert_eq!(a.jwks(), b.jwks());
    assert_eq!(a.keys().len(), 6);
    assert_eq!(store.signing_keys().await.unwrap().unwrap().version, 1);
    // A restart reads the same keys.
    assert_eq!(ks.load(NOW + 5, &[], &[]).await.unwrap().keys(), a.keys());

    let first = Keys::new(a);
    let second = Keys::new(b);
    let retention = Retention::new(900, 3600, 86_400);
    let later = NOW + JWKS_MAX_AGE_SECS;
    assert!(matches!(
        ks.rotate(&first, &[Alg::Es256], &[], NOW + 1, retention, false)
            .await,
        Err(KeysError::Rotate(RotateError::TooSoon { .. }))
    ));
    let rotated = ks
        .rotate(&first, &[Alg::Es256], &[], later, retention, false)
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
    .load(NOW, &[], &[])
    .await
    .unwrap();
    let other = SealKeys::from_ring(&KeyRing::new(SigningKey::new(&[4u8; 32]).unwrap(), vec![]));
    let err = KeyStore {
        store: &store,
        seal: &other,
    }
    .load(NOW, &[], &[])
    .await
    .unwrap_err();
    assert!(err.to_string().contains("previous_keys"), "{err}");
}

#[tokio::test]
async fn a_start_leaves_the_rs256_next_key_for_later_and_rotation_waits_for_it() {
    let store = MemoryStore::new();
    let seal = seal();
    let ks = KeyStore {
        store: &store,
        seal: &seal,
    };
    let started = ks.load(NOW, &[], &AFTER_START).await.unwrap();
    let states = |set: &KeySet, alg: Alg| -> Vec<KeyState> {
        let mut states: Vec<KeyState> = set
            .keys()
            .into_iter()
            .filter(|k| k.alg == alg)
            .map(|k| k.state)
            .collect();
        states.sort_by_key(|s| s.as_str());
        states
    };
    assert_eq!(states(&started, Alg::Rs256), [KeyState::Current]);
    assert_eq!(
        states(&started, Alg::Es256),
        [KeyState::Current, KeyState::Next]
    );
    let keys = Keys::new(started);
    let retention = Retention::new(900, 3600, 86_400);
    // Without its Next key, an RS256 rotation is refused however late (its new key would sign
    // unpublished).
    let later = NOW + 10 * JWKS_MAX_AGE_SECS;
    assert!(matches!(
        ks.rotate(&keys, &[Alg::Rs256], &[], later, retention, false)
            .await,
        Err(KeysError::Rotate(RotateError::TooSoon { .. }))
    ));
    // Generated after the start, it is published from then on, and the max-age counts from
    // then.
    assert!(ks.settle(&keys, NOW + 2, &[]).await.unwrap());
    assert_eq!(
        states(&keys.snapshot(), Alg::Rs256),
        [KeyState::Current, KeyState::Next]
    );
    assert!(!ks.settle(&keys, NOW + 3, &[]).await.unwrap());
    assert!(matches!(
        ks.rotate(
            &keys,
            &[Alg::Rs256],
            &[],
            NOW + JWKS_MAX_AGE_SECS,
            retention,
            false
        )
        .await,
        Err(KeysError::Rotate(RotateError::TooSoon { wait_secs: 2, .. }))
    ));
    ks.rotate(
        &keys,
        &[Alg::Rs256],
        &[],
        NOW + 2 + JWKS_MAX_AGE_SECS,
        retention,
        false,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_configured_key_replaces_the_generated_one_and_refuses_rotation() {
    let store = MemoryStore::new();
    let seal = seal();
    let ks = KeyStore {
        store: &store,
        seal: &seal,
    };
    let generated = ks.load(NOW, &[], &[]).await.unwrap();
    let old_current = generated
        .keys()
        .into_iter()
        .find(|k| k.alg == Alg::Es256 && k.state == KeyState::Current)
        .unwrap();
    let keys = Keys::new(generated);
    let pair = Arc::new(KeyPair::generate(Alg::Es256).unwrap());
    let configured = [pair.clone()];
    // A reload that names a key: it is Current, the generated one Retired, no Next key.
    assert!(ks.settle(&keys, NOW + 10, &configured).await.unwrap());
    let set = keys.snapshot();
    let es256: Vec<KeyInfo> = set
        .keys()
        .into_iter()
        .filter(|k| k.alg == Alg::Es256)
        .collect();
    assert_eq!(es256.len(), 2, "{es256:?}");
    assert!(es256
        .iter()
        .any(|k| k.kid == pair.kid() && k.state == KeyState::Current));
    assert!(es256.iter().any(|k| k.kid == old_current.kid
        && k.state == KeyState::Retired
        && k.retired_at == Some(NOW + 10)));
    // The stored document holds it: a restart with the same configuration changes nothing.
    assert!(!ks.settle(&keys, NOW + 20, &configured).await.unwrap());
    assert_eq!(
        ks.load(NOW + 20, &configured, &AFTER_START)
            .await
            .unwrap()
            .keys(),
        set.keys()
    );

    let retention = Retention::new(900, 3600, 86_400);
    let late = NOW + 10 * JWKS_MAX_AGE_SECS;
    for algs in [&[Alg::Es256][..], &[Alg::Rs256, Alg::Es256]] {
        let err = ks
            .rotate(&keys, algs, &[Alg::Es256], late, retention, true)
            .await
            .unwrap_err();
        assert_eq!(
            err,
            KeysError::Rotate(RotateError::Configured { alg: Alg::Es256 })
        );
        assert!(err.to_string().contains("[tokens] es256_key"), "{err}");
    }
    // "All" rotates the generated algorithms and leaves the configured one alone.
    let rotated = ks
        .rotate(&keys, &[], &[Alg::Es256], late, retention, false)
        .await
        .unwrap();
    assert!(rotated
        .keys()
        .iter()
        .any(|k| k.kid == pair.kid() && k.state == KeyState::Current));
    assert_eq!(
        rotated
            .keys()
            .iter()
            .filter(|k| k.state == KeyState::Retired)
            .count(),
        3
    );

    // Another key in the file: it signs, the first one is Retired.
    let second = Arc::new(KeyPair::generate(Alg::Es256).unwrap());
    assert!(ks
        .settle(&keys, late + 1, std::slice::from_ref(&second))
        .await
        .unwrap());
    let set = keys.snapshot();
    let state = |kid: &str| {
        set.keys()
            .into_iter()
            .find(|k| k.kid == kid)
            .map(|k| k.state)
    };
    assert_eq!(state(second.kid()), Some(KeyState::Current));
    assert_eq!(state(pair.kid()), Some(KeyState::Retired));
}

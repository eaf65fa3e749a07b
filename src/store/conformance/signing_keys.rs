//! The signing-key document: absent at first, written by compare-and-set on its version,
//! and of concurrent writers over the same version exactly one wins.

use std::sync::Arc;

use crate::store::Store;

pub async fn run<S, F, Fut>(make: &F)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = S>,
{
    compare_and_set(&make().await).await;
    concurrent_writers_have_one_winner(Arc::new(make().await)).await;
}

async fn compare_and_set(s: &impl Store) {
    assert_eq!(s.signing_keys().await.unwrap(), None);
    // Only "none stored" (0) is current.
    assert!(!s.swap_signing_keys(1, b"x".to_vec()).await.unwrap());
    assert!(s
        .swap_signing_keys(0, b"first\x00\xff".to_vec())
        .await
        .unwrap());
    let stored = s.signing_keys().await.unwrap().unwrap();
    assert_eq!(stored.version, 1);
    assert_eq!(stored.document, b"first\x00\xff");
    assert!(!s.swap_signing_keys(0, b"late".to_vec()).await.unwrap());
    assert!(s.swap_signing_keys(1, b"second".to_vec()).await.unwrap());
    let stored = s.signing_keys().await.unwrap().unwrap();
    assert_eq!((stored.version, &stored.document[..]), (2, &b"second"[..]));
}

async fn concurrent_writers_have_one_winner<S: Store>(s: Arc<S>) {
    let tasks: Vec<_> = (0..8u8)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move { (i, s.swap_signing_keys(0, vec![i; 4]).await.unwrap()) })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (i, won) = task.await.unwrap();
        if won {
            winners.push(i);
        }
    }
    assert_eq!(winners.len(), 1);
    let stored = s.signing_keys().await.unwrap().unwrap();
    assert_eq!(stored.version, 1);
    assert_eq!(stored.document, vec![winners[0]; 4]);
}

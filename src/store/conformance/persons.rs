//! Federated people: absent at first, read back as written, replaced whole by a later
//! sign-in, absent once expired, kept apart by principal. (Surviving a restart: the memory
//! backend's own tests; Redis keeps it by its TTL.)

use crate::store::{PersonRecord, Store};

const NOW: u64 = 1_000_000;

fn person(scopes: &[&str], expires_at: u64) -> PersonRecord {
    PersonRecord {
        provider: "corp".into(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        email: Some("a@example.com".into()),
        email_verified: true,
        name: Some("A".into()),
        groups: vec!["admins".into(), "acme/ops".into()],
        expires_at,
    }
}

pub async fn round_trip_replace_and_expiry(s: &impl Store) {
    assert_eq!(s.person("corp:1", NOW).await.unwrap(), None);
    let first = person(&["app"], NOW + 100);
    s.put_person("corp:1", first.clone()).await.unwrap();
    assert_eq!(s.person("corp:1", NOW).await.unwrap(), Some(first));
    assert_eq!(s.person("corp:2", NOW).await.unwrap(), None);
    assert_eq!(s.person("other:1", NOW).await.unwrap(), None);
    let again = PersonRecord {
        email: None,
        groups: Vec::new(),
        ..person(&["app", "api:write"], NOW + 200)
    };
    s.put_person("corp:1", again.clone()).await.unwrap();
    assert_eq!(s.person("corp:1", NOW + 150).await.unwrap(), Some(again));
    assert_eq!(s.person("corp:1", NOW + 200).await.unwrap(), None);
}

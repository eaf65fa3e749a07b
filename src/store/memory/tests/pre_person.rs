//! A data directory written before person records existed (issue 15) loads cleanly: its
//! journal lines are written out here as that version wrote them (the change bodies of
//! `cf31da5^`, the commit before `Change::PutPerson`, `State::persons` and, later,
//! `SessionRecord::person`; only the envelope's checksum is computed), and a snapshot of
//! that version has no `persons` member. Everything they hold is answered after the load,
//! no person is known, and the store then takes person records and keeps them across a
//! reopen beside the old lines.

use std::path::Path;

use super::{access, grant, open_with, options, person, record, NOW};
use crate::store::memory::*;
use crate::store::persist::record::encode_into;
use crate::store::persist::{journal_name, Options, SNAPSHOT};

fn hash(token: &str) -> String {
    TokenHash::of(token).to_hex()
}

/// The change bodies, in order, as the version before person records wrote them.
fn pre_person_changes() -> Vec<String> {
    let (code, refresh, session) = (hash("c1"), hash("r1"), hash("s1"));
    let claim = hash("claim-1");
    vec![
        format!(
            r#"{{"op":"put_code","code":"{code}","grant":{{"client_id":"spa","user":"alice","redirect_uri":"http://127.0.0.1/cb","scope":"api:read","code_challenge":null,"family":"f1","expires_at":4000000060}}}}"#
        ),
        format!(r#"{{"op":"use_code","code":"{code}"}}"#),
        format!(
            r#"{{"op":"put_refresh","token":"{refresh}","record":{{"family":"f1","client_id":"spa","user":"alice","scope":"api:read","expires_at":4000086400}},"access":{{"jti":"a1","expires_at":4000000900}}}}"#
        ),
        r#"{"op":"revoke_access","jti":"loose","expires_at":4000000900}"#.to_owned(),
        r#"{"op":"revoke_subject","subject":{"User":"bob"},"cutoff":4000000000}"#.to_owned(),
        r#"{"op":"put_consent","user":"alice","client":"spa","scopes":["api:read"]}"#.to_owned(),
        format!(
            r#"{{"op":"put_session","id":"{session}","session":{{"user":"alice","created_at":4000000000,"last_seen":4000000000,"scope":"app","family":"f1"}}}}"#
        ),
        format!(r#"{{"op":"touch_session","id":"{session}","at":4000000030}}"#),
        format!(r#"{{"op":"claim","key":"{claim}","expires_at":4000000600}}"#),
    ]
}

fn write_journal(dir: &Path, first_seq: u64, changes: &[String]) {
    let mut out = Vec::new();
    for (i, body) in changes.iter().enumerate() {
        encode_into(&mut out, first_seq + i as u64, body.as_bytes());
    }
    std::fs::write(dir.join(journal_name(1)), out).unwrap();
}

async fn check_pre_person(store: &MemoryStore) {
    assert!(matches!(
        store.take_code(&TokenHash::of("c1"), NOW).await.unwrap(),
        CodeTake::Replayed(_)
    ));
    let found = store.get_refresh(&TokenHash::of("r1"), NOW).await.unwrap();
    assert_eq!(found.expect("the refresh token").record.family, "f1");
    assert!(store.is_access_revoked("loose").await.unwrap());
    assert_eq!(
        store.consent("alice", "spa").await.unwrap(),
        vec!["api:read"]
    );
    let session = store
        .touch_session(&TokenHash::of("s1"), NOW + 60, 3600, 86_400)
        .await
        .unwrap()
        .expect("the session");
    assert_eq!((session.user.as_str(), session.person), ("alice", None));
    assert_eq!(store.person("corp:1", NOW).await.unwrap(), None);
}

#[tokio::test]
async fn a_journal_from_before_person_records_loads_and_takes_them_after() {
    let dir = tempfile::tempdir().unwrap();
    write_journal(dir.path(), 1, &pre_person_changes());
    {
        let store = open_with(dir.path(), options()).expect("the old journal loads");
        check_pre_person(&store).await;
        store.put_person("corp:1", person()).await.unwrap();
    }
    let store = open_with(dir.path(), options()).expect("old and new lines load");
    assert_eq!(store.person("corp:1", NOW).await.unwrap(), Some(person()));
    let session = store
        .touch_session(&TokenHash::of("s1"), NOW + 90, 3600, 86_400)
        .await
        .unwrap();
    assert!(
        session.is_some(),
        "the old session survived the second load"
    );
}

#[tokio::test]
async fn a_snapshot_from_before_person_records_loads() {
    let dir = tempfile::tempdir().unwrap();
    // A snapshot as this version writes it, then without the members that came with person
    // records, as the version before wrote it.
    {
        let small = Options {
            compact_after: 1024,
            ..options()
        };
        let store = open_with(dir.path(), small).unwrap();
        write_through(&store).await;
        tokio::time::timeout(std::time::Duration::from_secs(60), store.compaction_idle())
            .await
            .expect("compaction finished within a minute");
    }
    let path = dir.path().join(SNAPSHOT);
    let mut snapshot: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("a snapshot")).unwrap();
    let state = snapshot["state"].as_object_mut().expect("a state object");
    assert!(
        state.remove("persons").is_some(),
        "this version writes persons"
    );
    std::fs::write(&path, serde_json::to_vec(&snapshot).unwrap()).unwrap();
    let store = open_with(dir.path(), options()).expect("the old snapshot loads");
    check_pre_person(&store).await;
}

/// The pre-person changes made through the store's own methods (with enough bulk to compact).
async fn write_through(store: &MemoryStore) {
    store
        .put_code(TokenHash::of("c1"), grant("f1"))
        .await
        .unwrap();
    assert!(matches!(
        store.take_code(&TokenHash::of("c1"), NOW).await.unwrap(),
        CodeTake::Fresh(_)
    ));
    store
        .put_refresh(TokenHash::of("r1"), record("f1", "alice"), access("a1"))
        .await
        .unwrap();
    store.revoke_access("loose", NOW + 900).await.unwrap();
    store
        .put_consent("alice", "spa", &["api:read".to_owned()])
        .await
        .unwrap();
    let session = SessionRecord {
        sign_in: None,
        factor_tries: 0,
        user: "alice".into(),
        created_at: NOW,
        last_seen: NOW,
        scope: "app".into(),
        family: Some("f1".into()),
        person: None,
    };
    store
        .put_session(TokenHash::of("s1"), session)
        .await
        .unwrap();
    for i in 0..40 {
        store
            .put_refresh(
                TokenHash::of(&format!("bulk{i}")),
                record(&format!("bulk-family-{i}"), "carol"),
                access(&format!("bulk-{i}")),
            )
            .await
            .unwrap();
    }
}

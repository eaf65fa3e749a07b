//! The passkey service over a real memory store, as far as it goes without an authenticator
//! (the ceremonies with one are the real-browser tests, `tests/it/mfa_passkeys.rs`): the
//! options a browser gets, a ceremony taken once (a refused answer uses it up), bound to the
//! browser and the purpose that began it, and what a passkey proves; passwordless sign-in
//! offering the same-shaped options for every name (decoys), and the second step's page
//! offering its ceremony again.

use super::*;
use crate::store::factors::FactorStore;
use crate::store::memory::MemoryStore;

const NOW: u64 = 1_700_000_010;
const ORIGIN: &str = "https://gw.example.com:8443";

fn passkeys() -> Passkeys {
    Passkeys::new("gw.example.com", ORIGIN, "gw.example.com", &[1; 32]).unwrap()
}

#[test]
fn the_relying_party_must_be_the_origins_host() {
    assert!(Passkeys::new("other.example", ORIGIN, "x", &[1; 32]).is_none());
    assert!(Passkeys::new("gw.example.com", "not a url", "x", &[1; 32]).is_none());
    assert!(Passkeys::new("localhost", "https://localhost:9443", "x", &[1; 32]).is_some());
}

#[tokio::test]
async fn registration_options_name_the_relying_party_and_carry_no_hints() {
    let store = MemoryStore::new();
    let begun = passkeys()
        .begin_registration(&store, "alice", "binding", NOW)
        .await
        .unwrap();
    let options: serde_json::Value = serde_json::from_str(&begun.options).unwrap();
    let public_key = &options["publicKey"];
    assert_eq!(public_key["rp"]["id"], "gw.example.com");
    assert_eq!(public_key["user"]["name"], "alice");
    assert_eq!(public_key["timeout"], CEREMONY_SECS * 1000);
    assert_eq!(
        public_key["authenticatorSelection"]["userVerification"],
        "preferred"
    );
    assert!(public_key.get("hints").is_none(), "{public_key}");
    let extensions = public_key["extensions"].as_object().unwrap();
    assert!(
        !extensions.contains_key("credentialProtectionPolicy"),
        "{public_key}"
    );
    assert_eq!(extensions["credProps"], true);
    assert!(public_key["challenge"].as_str().unwrap().len() >= 43);
    assert_eq!(begun.ceremony.len(), crate::tokens::opaque::TOKEN_LEN);
    // The user handle is stable and not the name.
    assert_eq!(user_handle("alice"), user_handle("alice"));
    assert_ne!(user_handle("alice"), user_handle("bob"));
    assert!(!public_key["user"]["id"].as_str().unwrap().contains("alice"));
}

#[tokio::test]
async fn a_ceremony_is_taken_once_and_only_by_the_browser_that_began_it() {
    let store = MemoryStore::new();
    let p = passkeys();
    let finish = |ceremony: String, binding: &'static str, user: &'static str| {
        let (p, store) = (&p, &store);
        async move {
            let reply = Reply {
                ceremony: &ceremony,
                response: "{}",
            };
            p.finish_registration(store, user, binding, reply, "key", NOW)
                .await
        }
    };
    // A refused answer uses the ceremony up: the right answer cannot follow on it.
    let begun = p
        .begin_registration(&store, "alice", "b1", NOW)
        .await
        .unwrap();
    assert_eq!(
        finish(begun.ceremony.clone(), "b1", "alice").await,
        Err(PasskeyRefused::Rejected)
    );
    assert_eq!(
        finish(begun.ceremony, "b1", "alice").await,
        Err(PasskeyRefused::Expired)
    );
    // Another browser, another user, another purpose: refused (and used up too).
    for (binding, user) in [("b2", "alice"), ("b1", "bob")] {
        let begun = p
            .begin_registration(&store, "alice", "b1", NOW)
            .await
            .unwrap();
        assert_eq!(
            finish(begun.ceremony.clone(), binding, user).await,
            Err(PasskeyRefused::Expired)
        );
        assert_eq!(
            finish(begun.ceremony, "b1", "alice").await,
            Err(PasskeyRefused::Expired)
        );
    }
    let begun = p
        .begin_registration(&store, "alice", "b1", NOW)
        .await
        .unwrap();
    let as_sign_in = empty_answer(
        &p,
        &store,
        CeremonyPurpose::SecondFactor,
        "b1",
        Some("alice"),
        &begun.ceremony,
        NOW,
    )
    .await;
    assert_eq!(as_sign_in, Err(PasskeyRefused::Expired));
    // Past its time.
    let begun = p
        .begin_registration(&store, "alice", "b1", NOW)
        .await
        .unwrap();
    let reply = Reply {
        ceremony: &begun.ceremony,
        response: "{}",
    };
    let late = p
        .finish_registration(&store, "alice", "b1", reply, "k", NOW + CEREMONY_SECS)
        .await;
    assert_eq!(late, Err(PasskeyRefused::Expired));
    assert_eq!(
        finish(String::new(), "b1", "alice").await,
        Err(PasskeyRefused::Expired)
    );
}

/// An empty answer (never a valid one) to the sign-in ceremony `ceremony`.
async fn empty_answer(
    p: &Passkeys,
    store: &MemoryStore,
    purpose: CeremonyPurpose,
    binding: &str,
    user: Option<&str>,
    ceremony: &str,
    now: u64,
) -> Result<Proved, PasskeyRefused> {
    let reply = Reply {
        ceremony,
        response: "{}",
    };
    p.finish_sign_in(store, purpose, binding, user, reply, now)
        .await
}

/// A passkey of `user` in `store` (a decoy's credential: it never verifies, but it is a
/// credential `webauthn-rs` takes into options).
async fn stored_passkey(store: &MemoryStore, user: &str) -> String {
    let decoys = decoy::Decoys::new(&[9; 32]).unwrap();
    let key = (0..50)
        .map(|n| decoys.of(&format!("k{n}")))
        .find(|keys| !keys.is_empty())
        .unwrap()
        .remove(0);
    let credential = Credential::from(key);
    let record = PasskeyRecord {
        id: credential_id(&credential.cred_id),
        name: "key".into(),
        credential: serde_json::to_string(&credential).unwrap(),
        counter: 0,
        backup_eligible: true,
        created_at: NOW,
        last_used: 0,
    };
    assert!(store
        .add_passkey(user, record.clone(), MAX_PASSKEYS)
        .await
        .unwrap());
    record.id
}

fn public_key(begun: &Begun) -> serde_json::Value {
    let options: serde_json::Value = serde_json::from_str(&begun.options).unwrap();
    options["publicKey"].clone()
}

fn allowed(begun: &Begun) -> Vec<String> {
    public_key(begun)["allowCredentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The names of a JSON object's members, nested objects' too (the shape, not the values).
fn shape(value: &serde_json::Value) -> Vec<String> {
    match value {
        serde_json::Value::Object(map) => map
            .iter()
            .flat_map(|(k, v)| {
                std::iter::once(k.clone())
                    .chain(shape(v).into_iter().map(move |s| format!("{k}.{s}")))
            })
            .collect(),
        serde_json::Value::Array(items) => items.first().map(shape).unwrap_or_default(),
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn no_second_factor_without_a_passkey() {
    let store = MemoryStore::new();
    let begun = passkeys()
        .begin_second_factor(&store, "alice", "session", "b", NOW)
        .await;
    assert_eq!(begun.err(), Some(PasskeyRefused::NoPasskey));
}

#[tokio::test]
async fn passwordless_looks_the_same_for_every_name() {
    let store = MemoryStore::new();
    let p = passkeys();
    let real_id = stored_passkey(&store, "alice").await;
    let begin = |name: &'static str, known: bool| {
        let (p, store) = (&p, &store);
        async move { p.begin_passwordless(store, name, known, "b", NOW).await }
    };
    let real = begin("alice", true).await.unwrap();
    assert_eq!(allowed(&real), std::slice::from_ref(&real_id));
    assert_eq!(public_key(&real)["userVerification"], "required");
    // A known user without a passkey and a name nobody has: decoys, stable per name, of
    // the same shape as a real user's options, with another challenge every time.
    let names = [
        "bob", "nobody", "carol", "dave", "erin", "frank", "grace", "heidi",
    ];
    let mut offered = 0;
    for (n, name) in names.into_iter().enumerate() {
        let first = match begin(name, n % 2 == 0).await {
            Ok(begun) => begun,
            Err(refused) => {
                assert_eq!(refused, PasskeyRefused::NoPasskey, "{name}: no decoys");
                continue;
            }
        };
        offered += 1;
        let again = begin(name, n % 2 == 0).await.unwrap();
        assert_eq!(
            allowed(&first),
            allowed(&again),
            "{name}: the same ids every time"
        );
        assert!(!allowed(&first).contains(&real_id));
        assert_ne!(
            public_key(&first)["challenge"],
            public_key(&again)["challenge"]
        );
        assert_eq!(
            shape(&public_key(&first)),
            shape(&public_key(&real)),
            "{name}"
        );
        assert_eq!(
            begin(name, n % 2 != 0).await.map(|b| allowed(&b)).ok(),
            Some(allowed(&first)),
            "{name}: known or not, the same"
        );
        // Its answer is refused as a wrong one is.
        let refused = empty_answer(
            &p,
            &store,
            CeremonyPurpose::Passwordless,
            "b",
            None,
            &first.ceremony,
            NOW,
        )
        .await;
        assert_eq!(refused, Err(PasskeyRefused::Rejected));
    }
    assert!(offered >= 4, "most names get decoys: {offered}");
    // A configured user whose passkeys are in the store but who is not known (removed from
    // the configuration) gets decoys too.
    let unknown = begin("alice", false).await;
    assert!(unknown
        .map(|b| !allowed(&b).contains(&real_id))
        .unwrap_or(true));
}

#[tokio::test]
async fn the_second_factor_page_offers_its_ceremony_again_while_enough_is_left() {
    let store = MemoryStore::new();
    let p = passkeys();
    stored_passkey(&store, "alice").await;
    let show = |session: &'static str, binding: &'static str, at: u64| {
        let (p, store) = (&p, &store);
        async move {
            p.begin_second_factor(store, "alice", session, binding, at)
                .await
                .unwrap()
        }
    };
    let first = show("s1", "b1", NOW).await;
    assert_eq!(public_key(&first)["userVerification"], "preferred");
    assert!(!first.ceremony.contains("s1"));
    let again = show("s1", "b1", NOW + 60).await;
    assert_eq!(again.ceremony, first.ceremony);
    assert_eq!(
        public_key(&again)["challenge"],
        public_key(&first)["challenge"]
    );
    assert_eq!(public_key(&again)["timeout"], (CEREMONY_SECS - 60) * 1000);
    // Another login session: its own ceremony.
    let other = show("s2", "b2", NOW + 60).await;
    assert_ne!(other.ceremony, first.ceremony);
    assert_ne!(
        public_key(&other)["challenge"],
        public_key(&first)["challenge"]
    );
    // Too little left: a new challenge under the same id, for the whole time again.
    let late = NOW + CEREMONY_SECS - RESUME_MIN_SECS + 1;
    let renewed = show("s1", "b1", late).await;
    assert_eq!(renewed.ceremony, first.ceremony);
    assert_ne!(
        public_key(&renewed)["challenge"],
        public_key(&first)["challenge"]
    );
    assert_eq!(public_key(&renewed)["timeout"], CEREMONY_SECS * 1000);
    // An answer takes it (refused here); the page shown next begins another.
    let refused = empty_answer(
        &p,
        &store,
        CeremonyPurpose::SecondFactor,
        "b1",
        Some("alice"),
        &renewed.ceremony,
        late,
    )
    .await;
    assert_eq!(refused, Err(PasskeyRefused::Rejected));
    let next = show("s1", "b1", late).await;
    assert_ne!(
        public_key(&next)["challenge"],
        public_key(&renewed)["challenge"]
    );
    // The page of the same session for another binding does not offer it.
    let elsewhere = show("s1", "b9", late).await;
    assert_ne!(
        public_key(&elsewhere)["challenge"],
        public_key(&next)["challenge"]
    );
}

#[test]
fn labels_and_methods() {
    assert_eq!(label("  Laptop\n key ", "Passkey"), "Laptop key");
    assert_eq!(label("\u{7}", "Passkey"), "Passkey");
    assert_eq!(label(&"x".repeat(100), "Passkey").len(), MAX_NAME_CHARS);
    assert_eq!(method_of(false), "hwk");
    assert_eq!(method_of(true), "swk");
}

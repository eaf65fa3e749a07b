//! The passkey service over a real memory store, as far as it goes without an authenticator
//! (the ceremonies with one are the real-browser tests, `tests/it/mfa_passkeys.rs`): the
//! options a browser gets, a ceremony taken once (a refused answer uses it up), bound to the
//! browser and the purpose that began it, and what a passkey proves.

use super::*;
use crate::store::memory::MemoryStore;

const NOW: u64 = 1_700_000_010;
const ORIGIN: &str = "https://gw.example.com:8443";

fn passkeys() -> Passkeys {
    Passkeys::new("gw.example.com", ORIGIN, "gw.example.com").unwrap()
}

#[test]
fn the_relying_party_must_be_the_origins_host() {
    assert!(Passkeys::new("other.example", ORIGIN, "x").is_none());
    assert!(Passkeys::new("gw.example.com", "not a url", "x").is_none());
    assert!(Passkeys::new("localhost", "https://localhost:9443", "x").is_some());
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
    let as_sign_in = p
        .finish_sign_in(
            &store,
            CeremonyPurpose::SecondFactor,
            "b1",
            Some("alice"),
            Reply {
                ceremony: &begun.ceremony,
                response: "{}",
            },
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

#[tokio::test]
async fn no_sign_in_without_a_passkey() {
    let store = MemoryStore::new();
    for purpose in [CeremonyPurpose::SecondFactor, CeremonyPurpose::Passwordless] {
        let begun = passkeys()
            .begin_sign_in(&store, "alice", purpose, "b", NOW)
            .await;
        assert_eq!(begun.err(), Some(PasskeyRefused::NoPasskey));
    }
}

#[test]
fn labels_and_methods() {
    assert_eq!(label("  Laptop\n key ", "Passkey"), "Laptop key");
    assert_eq!(label("\u{7}", "Passkey"), "Passkey");
    assert_eq!(label(&"x".repeat(100), "Passkey").len(), MAX_NAME_CHARS);
    assert_eq!(method_of(false), "hwk");
    assert_eq!(method_of(true), "swk");
}

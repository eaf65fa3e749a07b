//! The assertion's claims and signature (verified with the same key set's JWKS-side check),
//! its reuse window, and that identities never share one.

use super::*;
use crate::authn::Via;
use crate::tokens::jose::KeySet;

const ISSUER: &str = "https://gw.example";
const NOW: u64 = 1_800_000_000;

fn keys() -> Arc<Keys> {
    Arc::new(Keys::new(KeySet::generate(&[Alg::Es256], NOW).unwrap()))
}

fn identity(user: Option<&str>, client: &str, scope: &str) -> Identity {
    Identity::new(
        user.map(str::to_owned),
        client.to_owned(),
        scope.to_owned(),
        Via::Session,
        false,
    )
}

fn claims(keys: &Keys, value: &HeaderValue) -> serde_json::Value {
    let verified = keys
        .snapshot()
        .verify(value.to_str().unwrap(), &["JWT"])
        .unwrap();
    assert_eq!(verified.alg, Alg::Es256);
    serde_json::from_slice(&verified.payload).unwrap()
}

#[test]
fn audiences_name_the_route() {
    assert_eq!(
        route_audience("https://gw.example", None, "/api/"),
        "https://gw.example/api/"
    );
    assert_eq!(
        route_audience("https://gw.example:8443", Some("app.example"), "/"),
        "https://app.example/"
    );
    assert_eq!(
        route_audience("http://127.0.0.1:8080", None, "/"),
        "http://127.0.0.1:8080/"
    );
}

#[test]
fn the_assertion_is_signed_and_says_who_calls_which_route() {
    let keys = keys();
    let assertions = Assertions::new(ISSUER, format!("{ISSUER}/api/"), keys.clone());
    let alice = identity(Some("alice"), "authgate", "app api:read");
    let value = assertions.for_identity(&alice, NOW).unwrap();
    let c = claims(&keys, &value);
    assert_eq!(c["iss"], ISSUER);
    assert_eq!(c["aud"], "https://gw.example/api/");
    assert_eq!(c["sub"], "alice");
    assert_eq!(c["client_id"], "authgate");
    assert_eq!(c["scope"], "app api:read");
    assert_eq!(c["iat"], NOW);
    assert_eq!(c["exp"], NOW + ASSERTION_TTL);
    assert!(c.get("nbf").is_none());

    // A client acting for itself is the subject.
    let worker = identity(None, "worker", "api:read");
    let c = claims(&keys, &assertions.for_identity(&worker, NOW).unwrap());
    assert_eq!(c["sub"], "worker");
}

#[test]
fn an_assertion_is_reused_until_shortly_before_it_expires() {
    let assertions = Assertions::new(ISSUER, format!("{ISSUER}/"), keys());
    let alice = identity(Some("alice"), "authgate", "app");
    let first = assertions.for_identity(&alice, NOW).unwrap();
    let reuse_until = NOW + ASSERTION_TTL - REUSE_MARGIN - 1;
    assert_eq!(
        assertions.for_identity(&alice, reuse_until).unwrap(),
        first,
        "reused"
    );
    let renewed = assertions.for_identity(&alice, reuse_until + 1).unwrap();
    assert_ne!(renewed, first, "signed anew with {REUSE_MARGIN} s left");
    assert_eq!(
        assertions.for_identity(&alice, reuse_until + 2).unwrap(),
        renewed
    );
}

#[test]
fn identities_never_share_an_assertion() {
    let keys = keys();
    let assertions = Assertions::new(ISSUER, format!("{ISSUER}/"), keys.clone());
    let people = [
        identity(Some("alice"), "authgate", "app"),
        identity(Some("alice"), "authgate", "app api:write"),
        identity(Some("alice"), "spa", "app"),
        identity(Some("bob"), "authgate", "app"),
        identity(None, "alice", "app"),
    ];
    // Twice round, so that the second round is answered from the cache.
    for _ in 0..2 {
        for person in &people {
            let c = claims(&keys, &assertions.for_identity(person, NOW).unwrap());
            let sub = person.user().unwrap_or(person.client_id());
            assert_eq!(c["sub"], sub);
            assert_eq!(c["client_id"], person.client_id());
            assert_eq!(c["scope"], person.scope());
        }
    }
}

#[test]
fn without_an_es256_key_there_is_no_assertion() {
    let assertions = Assertions::new(ISSUER, format!("{ISSUER}/"), Arc::new(Keys::empty()));
    let mut headers = HeaderMap::new();
    assertions.apply(
        &mut headers,
        Some(&identity(Some("alice"), "authgate", "app")),
        NOW,
    );
    assert!(headers.get(X_AUTH_ASSERTION).is_none());
}

/// What a hit and a miss cost (debug build: run with `--release` for the real numbers,
/// `cargo test --release --lib proxy::assertion::tests::cost -- --ignored --nocapture`).
#[test]
#[ignore]
fn cost() {
    let assertions = Assertions::new(ISSUER, format!("{ISSUER}/"), keys());
    let rounds = 2_000u32;
    let start = std::time::Instant::now();
    for i in 0..rounds {
        let someone = identity(Some(&format!("user-{i}")), "authgate", "app");
        assertions.for_identity(&someone, NOW).unwrap();
    }
    let miss = start.elapsed() / rounds;
    let alice = identity(Some("alice"), "authgate", "app");
    assertions.for_identity(&alice, NOW).unwrap();
    let start = std::time::Instant::now();
    for _ in 0..rounds * 100 {
        std::hint::black_box(assertions.for_identity(&alice, NOW));
    }
    let hit = start.elapsed() / (rounds * 100);
    println!("assertion: miss (ES256 sign) {miss:?}, hit {hit:?}");
}

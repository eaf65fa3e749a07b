//! One asymmetric key set per test process, seeded into the store of each in-process gateway
//! that starts on a fresh memory store (issue 14, test cost): every gateway would otherwise
//! generate its own RSA-2048 keys at start, most of the OpenID suites' time in a debug
//! build. Each gateway still has its own HMAC key (generated into its `data_dir` as at any
//! first start), under which the shared set is sealed, so HS256 tokens of one test gateway
//! are still refused by another.
//!
//! The keys are created when the first gateway of the process starts: before the clock of
//! every test gateway, which starts at the real time, so a rotation after the test moved its
//! clock past the JWKS max-age is allowed, and one before it is refused, as for generated keys.
//! Tests about generation itself use gateways that open their store from the configuration
//! (the binary, `GatewayBuilder::start`, `AuthGateway::start_shared`).

use std::sync::OnceLock;

use authgate::clock::{Clock, SystemClock};
use authgate::config::Config;
use authgate::store::Store;
use authgate::tokens::jose::{Alg, KeySet, SealKeys};
use authgate::tokens::keyring::KeyRing;

/// The process's key set: a Current and a Next key of every algorithm.
fn shared() -> &'static KeySet {
    static SET: OnceLock<KeySet> = OnceLock::new();
    SET.get_or_init(|| KeySet::generate(&Alg::ALL, SystemClock.now()).expect("test key set"))
}

/// Puts the process's key set into `store` (still empty) for a gateway that will run `config`,
/// sealed under its `[tokens]` HMAC key (generated first, as the gateway would).
pub async fn seed(config: &Config, store: &dyn Store) {
    let set = tokio::task::spawn_blocking(shared).await.expect("key set");
    let ring = KeyRing::load(
        &config.tokens.signing_key,
        &config.tokens.previous_keys,
        true,
    )
    .expect("the HMAC key")
    .expect("an HMAC key");
    let sealed = SealKeys::from_ring(&ring).seal(set).expect("sealed");
    assert!(
        store.swap_signing_keys(0, sealed).await.expect("store"),
        "the store already had signing keys"
    );
}

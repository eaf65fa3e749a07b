//! The test OpenID provider itself (support/idp.rs over tests/idp/idp.mjs), before any gateway:
//! it starts, serves discovery and its JWKS, signs a browser in through its development forms
//! with PKCE, restarts with a new key on the same port, and leaves out `iss` when told to.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::Url;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::support::browser::Browser;
use crate::support::client_builder;
use crate::support::idp::{Idp, IdpSettings, CLIENT_ID};

const RP_CALLBACK: &str = "http://127.0.0.1:9/rp/callback";

fn settings() -> IdpSettings {
    IdpSettings::new().account(
        "alice-sub",
        json!({"email": "alice@example.com", "email_verified": true, "groups": ["staff"]}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_starts_and_serves_its_discovery_document() {
    let idp = Idp::start(settings()).await;
    let discovery = idp.discovery().await;
    assert_eq!(discovery["issuer"], json!(idp.issuer()), "{discovery}");
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        json!(["S256"])
    );
    assert_eq!(
        discovery["authorization_response_iss_parameter_supported"],
        json!(true)
    );
    for key in [
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "userinfo_endpoint",
    ] {
        let url = discovery[key].as_str().unwrap_or_else(|| panic!("{key}"));
        assert!(url.starts_with(&idp.issuer()), "{key}: {url}");
    }
    let jwks = idp.jwks().await;
    assert_eq!(jwks["keys"][0]["kid"], json!("k1"), "{jwks}");
    assert_eq!(jwks["keys"][0]["alg"], json!("RS256"), "{jwks}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_signs_in_at_the_provider_and_a_restart_rotates_its_key() {
    let mut idp = Idp::start(settings()).await;
    idp.allow_redirect_uri(CLIENT_ID, RP_CALLBACK).await;
    let discovery = idp.discovery().await;
    let verifier = "a-verifier-of-the-test-relying-party-0123456789";
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let mut authorize = Url::parse(discovery["authorization_endpoint"].as_str().unwrap()).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("client_id", CLIENT_ID)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid email groups")
        .append_pair("redirect_uri", RP_CALLBACK)
        .append_pair("state", "the-state")
        .append_pair("nonce", "the-nonce")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let browser = Browser::new(client_builder(), &idp.issuer());
    let back = idp.sign_in(&browser, authorize.as_str(), "alice-sub").await;
    let back = Url::parse(&back).unwrap();
    let param = |name: &str| {
        back.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert!(back.as_str().starts_with(RP_CALLBACK), "{back}");
    assert_eq!(param("state").as_deref(), Some("the-state"));
    assert_eq!(param("iss"), Some(idp.issuer()));
    assert!(param("code").is_some(), "{back}");

    let port = idp.port();
    idp.rotate_key("k2").await;
    assert_eq!(idp.port(), port);
    assert_eq!(idp.jwks().await["keys"][0]["kid"], json!("k2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_told_so_does_not_advertise_iss_in_authorization_responses() {
    let idp = Idp::start(settings().without_iss()).await;
    let discovery = idp.discovery().await;
    assert!(
        discovery
            .get("authorization_response_iss_parameter_supported")
            .is_none(),
        "{discovery}"
    );
}

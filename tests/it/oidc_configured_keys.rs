//! Signing keys from the configuration (`[tokens] rs256_key`, `es256_key`, `eddsa_key`, issue
//! 14 item 2): a configured RS256 key is published in `/oauth2/jwks` under its thumbprint
//! and signs the ID tokens the `openidconnect` crate verifies; its rotation through the admin
//! listener is refused, saying the key comes from the configuration. With the real binary:
//! a new key in the file and SIGHUP, and the new key signs while the previous one stays
//! published (Retired).

use std::path::Path;
use std::time::Duration;

use authgate::tokens::jose::{Alg, KeyPair};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::gateway::GatewayBuilder;
use crate::support::oauth::jwt_header;
use crate::support::oidc::{Provider, ALICE, OPENID_SCOPES, RP};
use crate::support::process::GatewayProcess;
use crate::support::{client_builder, within, WAIT};

/// `pair` as a PKCS#8 PEM file at `path`.
fn write_pem(path: &Path, pair: &KeyPair) {
    let body = STANDARD.encode(pair.pkcs8());
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|l| std::str::from_utf8(l).expect("base64"))
        .collect();
    let text = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    );
    std::fs::write(path, text).expect("write the key");
}

/// The kids `jwks` publishes.
fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect()
}

#[tokio::test]
async fn a_configured_rs256_key_is_published_and_signs_id_tokens() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pair = KeyPair::generate(Alg::Rs256).expect("an RSA key");
    let path = dir.path().join("rs256.pem");
    write_pem(&path, &pair);
    let provider = Provider::start(&format!(
        "[tokens]\nrs256_key = \"file:{}\"\n",
        path.display()
    ))
    .await;

    let gateway = &provider.gateway;
    let jwks: Value = gateway
        .http()
        .get(provider.metadata.jwks_uri().url().as_str())
        .send()
        .await
        .expect("the JWKS")
        .json()
        .await
        .expect("JSON");
    assert!(kids(&jwks).contains(&pair.kid().to_owned()), "{jwks}");
    // The configured key is Current, the RS256 key the store held before it is Retired, and
    // there is no RS256 Next key.
    let admin = reqwest::Client::new();
    let list: Value = admin
        .get(format!("http://{}/admin/keys", gateway.admin()))
        .bearer_auth(gateway.admin_token())
        .send()
        .await
        .expect("key list")
        .json()
        .await
        .expect("JSON");
    let rs256: Vec<(&str, &str)> = list["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter(|k| k["alg"] == "RS256")
        .map(|k| {
            (
                k["kid"].as_str().unwrap_or(""),
                k["state"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(rs256.first(), Some(&(pair.kid(), "current")), "{list}");
    assert!(
        rs256[1..].iter().all(|(_, state)| *state == "retired"),
        "{list}"
    );

    let client = provider.client(RP);
    let (_browser, signed) = provider.sign_in(&client, ALICE, &OPENID_SCOPES).await;
    let (claims, alg) = signed.verify(&client);
    assert_eq!(
        alg,
        openidconnect::core::CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256
    );
    assert_eq!(claims.subject().as_str(), ALICE);
    assert_eq!(jwt_header(&signed.id_token())["kid"], pair.kid());

    // Its rotation is the operator's: through the admin listener, refused with the reason.
    let response = admin
        .post(format!("http://{}/admin/keys/rotate", gateway.admin()))
        .bearer_auth(gateway.admin_token())
        .json(&serde_json::json!({ "algs": ["RS256"], "force": true }))
        .send()
        .await
        .expect("rotation request");
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let body = response.text().await.expect("body");
    assert!(
        body.contains("comes from the configuration ([tokens] rs256_key)"),
        "{body}"
    );
}

#[tokio::test]
async fn a_new_key_in_the_file_signs_after_sighup_and_the_old_one_stays_published() {
    let keys = tempfile::tempdir().expect("temp dir");
    let path = keys.path().join("es256.pem");
    let first = KeyPair::generate(Alg::Es256).expect("a key");
    write_pem(&path, &first);
    let builder = GatewayBuilder::new().toml_section(&format!(
        "[tokens]\nes256_key = \"file:{}\"",
        path.display()
    ));
    let mut gateway = GatewayProcess::start(builder).await;
    let client = client_builder().build().expect("client");
    let url = gateway.url("/oauth2/jwks");
    let jwks = || async {
        let response = client.get(&url).send().await.expect("the JWKS");
        response.json::<Value>().await.expect("JSON")
    };
    let published = kids(&jwks().await);
    assert!(published.contains(&first.kid().to_owned()), "{published:?}");

    let second = KeyPair::generate(Alg::Es256).expect("a key");
    write_pem(&path, &second);
    gateway.signal("HUP");
    gateway
        .wait_for_log(
            "the signing keys of the reloaded configuration are in force",
            Duration::from_secs(20),
        )
        .await;
    let published = within(WAIT, "the JWKS", jwks()).await;
    let es256: Vec<(&str, &str)> = published["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter(|k| k["alg"] == "ES256")
        .map(|k| {
            (
                k["kid"].as_str().unwrap_or(""),
                k["use"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        es256,
        [(second.kid(), "sig"), (first.kid(), "sig")],
        "the new key (Current) and the previous one (Retired)"
    );
}

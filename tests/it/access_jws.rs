//! `[tokens] algorithm = "ES256" | "EdDSA"` (issue 14 item 5): access tokens signed with the
//! published keys pass a bearer route and verify offline against the JWKS alone (checked
//! here with ring, as a resource server elsewhere would); a rotation through the admin
//! listener (`authgate keys rotate`) keeps earlier tokens working while their key is retired,
//! and once the key is removed its tokens are refused.

use reqwest::StatusCode;

use crate::support::free_port;
use crate::support::jwks;
use crate::support::oauth::{jwt_header, AuthGateway, WORKER, WORKER_SECRET};
use crate::support::process::authgate;
use crate::support::JsonAnswer;

/// The JWKS max-age, and one second more.
const PAST_MAX_AGE: u64 = 3_601;

async fn gateway(alg: &str) -> AuthGateway {
    let admin = free_port();
    // `[admin]` first: the support adds one on a random port to sections without it.
    AuthGateway::start_with_sections(&format!(
        r#"[admin]
listen = "127.0.0.1:{admin}"

[tokens]
algorithm = "{alg}"
access_ttl = "2h"
refresh_ttl = "30d"

[[routes]]
path = "/api/"
upstream = "whoami://"
auth = "bearer"
scopes = ["api:read"]
"#
    ))
    .await
}

async fn client_token(gateway: &AuthGateway) -> String {
    let answer: serde_json::Value = gateway
        .http()
        .post(gateway.url("/oauth2/token"))
        .basic_auth(WORKER, Some(WORKER_SECRET))
        .form(&[("grant_type", "client_credentials"), ("scope", "api:read")])
        .json_answer()
        .await;
    answer["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access token: {answer}"))
        .to_owned()
}

async fn api_status(gateway: &AuthGateway, token: &str) -> StatusCode {
    gateway
        .http()
        .get(gateway.url("/api/items"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

async fn jwks(gateway: &AuthGateway) -> serde_json::Value {
    let response = gateway
        .http()
        .get(gateway.url("/oauth2/jwks"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

fn has_kid(jwks: &serde_json::Value, kid: &str) -> bool {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["kid"] == kid)
}

/// What a resource server elsewhere does: the token's signature checked with the JWK its
/// `kid` names, from the JWKS alone.
fn verifies_offline(token: &str, jwks: &serde_json::Value) -> bool {
    let header = jwt_header(token);
    let Some(jwk) = jwks::key_for(jwks, token) else {
        return false;
    };
    assert_eq!(jwk["alg"], header["alg"]);
    assert_eq!(jwk["use"], "sig");
    assert_ne!(jwk["kty"], "RSA", "an access token under an RSA key");
    jwks::verifies_under(jwk, token)
}

async fn admin(
    gateway: &AuthGateway,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (StatusCode, serde_json::Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("http://{}{path}", gateway.admin()))
        .bearer_auth(gateway.admin_token());
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or_default())
}

/// The kid of `alg`'s key in `state` from `GET /admin/keys`.
fn kid_in(list: &serde_json::Value, alg: &str, state: &str) -> Option<String> {
    list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["alg"] == alg && k["state"] == state)
        .map(|k| k["kid"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn es256_and_eddsa_access_tokens_pass_a_bearer_route_and_verify_from_the_jwks() {
    for alg in ["ES256", "EdDSA"] {
        let gateway = gateway(alg).await;
        let token = client_token(&gateway).await;
        let header = jwt_header(&token);
        assert_eq!(header["alg"], alg);
        assert_eq!(header["typ"], "at+jwt");
        assert_eq!(header.as_object().unwrap().len(), 3);
        let jwks = jwks(&gateway).await;
        assert!(verifies_offline(&token, &jwks), "{alg}");
        assert_eq!(api_status(&gateway, &token).await, StatusCode::OK, "{alg}");
        // Twice: the second answer comes from the verified-token cache.
        assert_eq!(api_status(&gateway, &token).await, StatusCode::OK, "{alg}");

        // A changed character in the middle of the signature: refused here and elsewhere.
        let at = token.rfind('.').unwrap() + 1;
        let middle = at + (token.len() - at) / 2;
        let mut bytes = token.clone().into_bytes();
        bytes[middle] = if bytes[middle] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert!(!verifies_offline(&tampered, &jwks));
        assert_eq!(
            api_status(&gateway, &tampered).await,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn a_rotation_keeps_earlier_tokens_until_their_key_is_removed() {
    let gateway = gateway("ES256").await;
    let old = client_token(&gateway).await;
    let old_kid = jwt_header(&old)["kid"].as_str().unwrap().to_owned();
    let (status, list) = admin(&gateway, reqwest::Method::GET, "/admin/keys", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        kid_in(&list, "ES256", "current").as_deref(),
        Some(&*old_kid)
    );
    let next = kid_in(&list, "ES256", "next").expect("a next key");
    assert!(
        has_kid(&jwks(&gateway).await, &next),
        "published before it signs"
    );
    for alg in ["RS256", "EdDSA"] {
        assert!(kid_in(&list, alg, "current").is_some() && kid_in(&list, alg, "next").is_some());
    }
    let retention = list["retention_secs"].as_u64().unwrap();
    assert_eq!(list["jwks_max_age_secs"], 3600);

    // Too soon: relying parties may not have fetched the next key yet.
    let body = serde_json::json!({"algs": ["ES256"]});
    let (status, answer) = admin(
        &gateway,
        reqwest::Method::POST,
        "/admin/keys/rotate",
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("max-age"));
    // Unauthenticated, refused.
    let response = reqwest::Client::new()
        .post(format!("http://{}/admin/keys/rotate", gateway.admin()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    gateway.advance(PAST_MAX_AGE);
    let (status, rotated) = admin(
        &gateway,
        reqwest::Method::POST,
        "/admin/keys/rotate",
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert_eq!(
        kid_in(&rotated, "ES256", "current").as_deref(),
        Some(&*next)
    );
    assert_eq!(
        kid_in(&rotated, "ES256", "retired").as_deref(),
        Some(&*old_kid)
    );
    let new = client_token(&gateway).await;
    assert_eq!(jwt_header(&new)["kid"], next.as_str());
    // The retired key still verifies its (unexpired) tokens, here and from the JWKS.
    let published = jwks(&gateway).await;
    assert!(verifies_offline(&old, &published));
    assert!(verifies_offline(&new, &published));
    assert_eq!(api_status(&gateway, &old).await, StatusCode::OK);
    assert_eq!(api_status(&gateway, &new).await, StatusCode::OK);

    // `authgate keys list` shows the same, through the admin listener.
    let config = gateway.write_config();
    let dir = config.parent().unwrap().to_path_buf();
    let config_arg = config.display().to_string();
    let output = tokio::task::spawn_blocking({
        let dir = dir.clone();
        let config_arg = config_arg.clone();
        move || authgate(&dir, &["keys", "list", "--config", &config_arg], &[])
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains(&old_kid) && text.contains("retired"),
        "{text}"
    );
    assert!(text.contains(&next) && text.contains("current"), "{text}");
    let output = tokio::task::spawn_blocking(move || {
        authgate(
            &dir,
            &["keys", "rotate", "--alg", "HS256", "--config", &config_arg],
            &[],
        )
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");

    // Past the retention the next rotation removes the old key: its tokens are refused.
    gateway.advance(retention + 1);
    let (status, answer) = admin(
        &gateway,
        reqwest::Method::POST,
        "/admin/keys/rotate",
        Some(serde_json::json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(kid_in(&answer, "ES256", "retired").as_deref() != Some(&*old_kid));
    assert!(!has_kid(&jwks(&gateway).await, &old_kid));
    assert_eq!(api_status(&gateway, &old).await, StatusCode::UNAUTHORIZED);
    // New tokens keep working.
    let newest = client_token(&gateway).await;
    assert_eq!(api_status(&gateway, &newest).await, StatusCode::OK);
}

/// Two gateways of one deployment over one Redis publish the same JWKS and accept each
/// other's ES256 tokens; a rotation on one is honoured by the other at once, even a forced
/// one whose key the other never saw (a token naming a key it does not know yet makes it
/// read the keys from the store again).
#[tokio::test]
async fn gateways_sharing_redis_share_the_keys_and_follow_a_rotation() {
    let redis = crate::support::redis::RedisServer::start();
    let admin_port = free_port();
    let sections = |admin: u16| {
        format!(
            r#"[admin]
listen = "127.0.0.1:{admin}"

[tokens]
algorithm = "ES256"

[store]
backend = "redis"
url = "{}"

[[routes]]
path = "/api/"
upstream = "whoami://"
auth = "bearer"
scopes = ["api:read"]
"#,
            redis.url()
        )
    };
    let a = AuthGateway::start_shared(&sections(admin_port), None).await;
    let b = AuthGateway::start_shared(&sections(free_port()), Some(&a)).await;
    assert_eq!(jwks(&a).await, jwks(&b).await);
    let from_a = client_token(&a).await;
    assert_eq!(api_status(&b, &from_a).await, StatusCode::OK);

    // Two forced rotations: the key that signs then was never published to b.
    let mut rotated = serde_json::Value::Null;
    for _ in 0..2 {
        let (status, answer) = admin(
            &a,
            reqwest::Method::POST,
            "/admin/keys/rotate",
            Some(serde_json::json!({"algs": ["ES256"], "force": true})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        rotated = answer;
    }
    let new = client_token(&a).await;
    let new_kid = jwt_header(&new)["kid"].as_str().unwrap().to_owned();
    assert_eq!(
        Some(&*new_kid),
        kid_in(&rotated, "ES256", "current").as_deref()
    );
    assert!(!has_kid(&jwks(&b).await, &new_kid));
    assert_eq!(api_status(&a, &new).await, StatusCode::OK);
    // At once, not at b's next periodic refresh: the unknown kid makes b read the store.
    assert_eq!(api_status(&b, &new).await, StatusCode::OK);
    assert_eq!(jwks(&a).await, jwks(&b).await);
}

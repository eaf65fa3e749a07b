//! The upstream identity assertion (issue 14 item 8): on a route with `assertion = true` the
//! real echo upstream receives `X-Auth-Assertion`, an ES256 JWT that this test verifies on
//! its own (ring, from the public key `/oauth2/jwks` publishes, not the gateway's code), with
//! `iss`, `aud` = the route, `sub`, `scope` and a one-minute life; reused across requests of
//! one identity; and a client-sent `X-Auth-Assertion`, in any spelling, never reaches an
//! upstream, on routes with the option and without it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::jwks;
use crate::support::oauth::jwt_header;
use crate::support::protected::{protected, ProtectedGateway, ALICE, SERVICE};
use crate::support::upstream::Seen;
use crate::support::TestUpstream;

const FORGED: &[(&str, &str)] = &[
    ("X-Auth-Assertion", "forged.assertion.value"),
    ("x_auth_assertion", "forged.assertion.value"),
];

async fn gateway(upstream: &TestUpstream) -> ProtectedGateway {
    ProtectedGateway::start(
        vec![
            protected("/", &upstream.url(), "session", &["app"]).set("assertion", "true"),
            protected("/api/", &upstream.url(), "bearer", &["api:read"]).set("assertion", "true"),
            protected("/plain/", &upstream.url(), "bearer", &["api:read"]),
        ],
        "",
    )
    .await
}

/// `token`'s claims, once its ES256 signature verifies under the key its `kid` names in the
/// gateway's JWKS.
async fn verified_claims(gateway: &ProtectedGateway, token: &str) -> Value {
    let jwks: Value = gateway
        .api()
        .get(gateway.url("/oauth2/jwks"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("jwks json");
    let (header, claims) = verify_es256(&jwks, token);
    assert_eq!(header["typ"], "JWT");
    claims
}

/// The header and claims of `token` once its ES256 signature verifies (with ring, not the
/// gateway's code) under the P-256 key of `jwks` its `kid` names.
pub(crate) fn verify_es256(jwks: &Value, token: &str) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    let header = jwt_header(token);
    assert_eq!(header["alg"], "ES256");
    let kid = header["kid"].as_str().expect("kid");
    let key = jwks::key_for(jwks, token).unwrap_or_else(|| panic!("kid {kid} is not in the JWKS"));
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["crv"], "P-256");
    assert!(
        jwks::verifies_under(key, token),
        "the signature verifies against the JWKS"
    );
    let claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    (header, claims)
}

fn assertion(seen: &Seen) -> String {
    let all: Vec<&str> = seen
        .headers
        .iter()
        .filter(|(k, _)| k.replace('_', "-").eq_ignore_ascii_case("x-auth-assertion"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(all.len(), 1, "exactly one assertion: {all:?}");
    assert!(!all[0].contains("forged"), "{all:?}");
    all[0].to_owned()
}

#[tokio::test]
async fn a_session_route_sends_a_verifiable_assertion_and_reuses_it() {
    let upstream = TestUpstream::echo("app").await;
    let gateway = gateway(&upstream).await;
    let (browser, _) = gateway.signed_in("/", ALICE).await;

    let seen = browser.get_with("/page", FORGED).await.echoed();
    let token = assertion(&seen);
    let claims = verified_claims(&gateway, &token).await;
    assert_eq!(claims["iss"], gateway.origin());
    assert_eq!(claims["aud"], format!("{}/", gateway.origin()));
    assert_eq!(claims["sub"], ALICE);
    assert_eq!(claims["client_id"], "authgate");
    assert_eq!(
        claims["scope"].as_str(),
        seen.header("x-auth-scopes"),
        "the same scopes as X-Auth-Scopes"
    );
    let iat = claims["iat"].as_u64().unwrap();
    assert_eq!(iat, gateway.now());
    assert_eq!(claims["exp"].as_u64().unwrap(), iat + 60);

    // The next request within the reuse window gets the same assertion (no new signature).
    gateway.advance(30);
    let again = assertion(&browser.get("/other").await.echoed());
    assert_eq!(again, token);
    // Close to its expiry it is signed anew.
    gateway.advance(20);
    let renewed = assertion(&browser.get("/other").await.echoed());
    assert_ne!(renewed, token);
    let claims = verified_claims(&gateway, &renewed).await;
    assert_eq!(claims["iat"].as_u64().unwrap(), gateway.now());
}

#[tokio::test]
async fn a_bearer_route_asserts_the_client_and_names_itself_as_audience() {
    let upstream = TestUpstream::echo("app").await;
    let gateway = gateway(&upstream).await;
    let token = gateway.client_token("api:read").await;
    let mut request = gateway.api().get(gateway.url("/api/x")).bearer_auth(&token);
    for (name, value) in FORGED {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let seen: crate::support::Echoed = response.json().await.expect("echo");
    let claims = verified_claims(&gateway, &assertion(&seen)).await;
    assert_eq!(claims["aud"], format!("{}/api/", gateway.origin()));
    assert_eq!(claims["sub"], SERVICE, "a client acting for itself");
    assert_eq!(claims["client_id"], SERVICE);
    assert_eq!(claims["scope"], "api:read");

    // A user's token on the same route: the user is the subject.
    let token = gateway.user_token(ALICE, "api:read").await;
    let seen: crate::support::Echoed = gateway
        .api()
        .get(gateway.url("/api/y"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("echo");
    let claims = verified_claims(&gateway, &assertion(&seen)).await;
    assert_eq!(claims["sub"], ALICE);
}

#[tokio::test]
async fn a_forged_assertion_never_reaches_an_upstream() {
    let upstream = TestUpstream::echo("app").await;
    let gateway = gateway(&upstream).await;
    let token = gateway.client_token("api:read").await;
    let mut request = gateway
        .api()
        .get(gateway.url("/plain/x"))
        .bearer_auth(&token);
    for (name, value) in FORGED {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let seen: crate::support::Echoed = response.json().await.expect("echo");
    for (name, value) in &seen.headers {
        assert!(
            !name
                .replace('_', "-")
                .eq_ignore_ascii_case("x-auth-assertion"),
            "{name}: {value}"
        );
    }

    // A refused request reaches nothing, assertion or not.
    let before = upstream.hits();
    let response = gateway
        .api()
        .get(gateway.url("/api/x"))
        .header("x-auth-assertion", "forged")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(upstream.hits(), before);
}

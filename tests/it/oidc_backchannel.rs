//! Back-Channel Logout 1.0 with a real relying-party receiver on 127.0.0.1: after an
//! RP-initiated logout, the client's `backchannel_logout_uri` receives a form-encoded
//! `logout_token` whose ES256 signature verifies against the JWKS (with ring, not the
//! gateway's code), `typ: logout+jwt`, with `iss`, `aud`, `iat`, `exp`, `jti`, `sub`, the
//! ID token's `sid` and the logout event, and no `nonce`; discovery says so. The logout's
//! answer does not wait for the receiver.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use reqwest::StatusCode;
use serde_json::Value;

use crate::protect_assertion::verify_es256;
use crate::support::oidc::{
    client_entry, Provider, ALICE, OPENID_SCOPES, RP_LOGGED_OUT, RP_REDIRECT, RP_SECRET,
};
use crate::support::upstream::TestBody;
use crate::support::{JsonAnswer, TestUpstream};

const RP_BC: &str = "rp-backchannel";

/// What the receiver got: content type and body, per request.
type Received = Arc<Mutex<Vec<(String, String)>>>;

/// A receiver that records each POST and answers `status` after `delay`.
async fn receiver(status: u16, delay: Duration) -> (TestUpstream, Received) {
    let received: Received = Arc::default();
    let log = received.clone();
    let upstream = TestUpstream::serve(move |req| {
        let log = log.clone();
        async move {
            let content_type = req
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let body = req.into_body().collect().await.expect("body").to_bytes();
            log.lock()
                .unwrap()
                .push((content_type, String::from_utf8_lossy(&body).into_owned()));
            tokio::time::sleep(delay).await;
            let mut res = http::Response::new(TestBody::default());
            *res.status_mut() = http::StatusCode::from_u16(status).unwrap();
            res
        }
    })
    .await;
    (upstream, received)
}

async fn provider(receiver: &TestUpstream) -> Provider {
    Provider::start(&listening_client(RP_BC, receiver, 1)).await
}

/// The `[[clients]]` entry of `id`, whose back-channel logouts `receiver` gets at
/// `/backchannel?k=K`.
fn listening_client(id: &str, receiver: &TestUpstream, k: u8) -> String {
    let mut client = client_entry(id, RP_SECRET, RP_REDIRECT, Some("ES256"), &[RP_LOGGED_OUT]);
    client.push_str(&format!(
        "backchannel_logout_uri = \"http://{}/backchannel?k={k}\"\n",
        receiver.addr()
    ));
    client
}

/// The gateway's JWKS as served now.
async fn jwks(provider: &Provider) -> Value {
    provider
        .gateway
        .http()
        .get(provider.gateway.url("/oauth2/jwks"))
        .json_answer()
        .await
}

/// The `logout_token` of a received form body.
fn logout_token(body: &str) -> String {
    form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned())
        .expect("logout_token")
}

/// Waits (bounded) until `received` holds `n` requests.
async fn wait_for(received: &Received, n: usize) -> Vec<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got = received.lock().unwrap().clone();
        if got.len() >= n || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn logout_posts_a_signed_logout_token_to_the_client() {
    let (upstream, received) = receiver(200, Duration::ZERO).await;
    let provider = provider(&upstream).await;
    let discovery: Value = provider
        .gateway
        .http()
        .get(provider.gateway.url("/.well-known/openid-configuration"))
        .json_answer()
        .await;
    assert_eq!(discovery["backchannel_logout_supported"], true);
    assert_eq!(discovery["backchannel_logout_session_supported"], true);

    let client = provider.client(RP_BC);
    let (browser, signed) = provider.sign_in(&client, ALICE, &OPENID_SCOPES).await;
    let id_token = signed.id_token();
    let jwks = jwks(&provider).await;
    let (_, id_claims) = verify_es256(&jwks, &id_token);
    assert!(
        received.lock().unwrap().is_empty(),
        "nothing before the logout"
    );

    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("id_token_hint", &id_token)
        .append_pair("post_logout_redirect_uri", RP_LOGGED_OUT)
        .finish();
    let page = browser.open(&format!("/oauth2/logout?{query}")).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{page:?}");

    let got = wait_for(&received, 1).await;
    assert_eq!(got.len(), 1, "one logout token: {got:?}");
    let (content_type, body) = &got[0];
    assert_eq!(content_type, "application/x-www-form-urlencoded");
    let token = logout_token(body);
    let (header, claims) = verify_es256(&jwks, &token);
    assert_eq!(header["typ"], "logout+jwt");
    assert_eq!(claims["iss"], provider.gateway.issuer());
    assert_eq!(claims["aud"], RP_BC);
    assert_eq!(claims["sub"], ALICE);
    assert_eq!(claims["sid"], id_claims["sid"], "the ID token's session");
    assert!(claims["sid"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(
        claims["events"],
        serde_json::json!({"http://schemas.openid.net/event/backchannel-logout": {}})
    );
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
    let iat = claims["iat"].as_u64().unwrap();
    assert_eq!(claims["exp"].as_u64().unwrap(), iat + 120);
    assert!(claims.get("nonce").is_none());
    assert!(upstream.requests()[0]
        .target()
        .ends_with("/backchannel?k=1"));
}

#[tokio::test]
async fn a_slow_relying_party_does_not_hold_up_the_logout() {
    let (upstream, received) = receiver(200, Duration::from_secs(4)).await;
    let provider = provider(&upstream).await;
    let client = provider.client(RP_BC);
    let (browser, signed) = provider.sign_in(&client, ALICE, &OPENID_SCOPES).await;
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("id_token_hint", &signed.id_token())
        .finish();
    let start = Instant::now();
    let page = browser.open(&format!("/oauth2/logout?{query}")).await;
    assert_eq!(page.status, StatusCode::OK, "{page:?}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "the logout answered in {:?}",
        start.elapsed()
    );
    assert_eq!(wait_for(&received, 1).await.len(), 1);
}

#[tokio::test]
async fn a_failing_relying_party_is_tried_again() {
    let (upstream, received) = receiver(503, Duration::ZERO).await;
    let provider = provider(&upstream).await;
    let client = provider.client(RP_BC);
    let (browser, signed) = provider.sign_in(&client, ALICE, &OPENID_SCOPES).await;
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("id_token_hint", &signed.id_token())
        .finish();
    browser.open(&format!("/oauth2/logout?{query}")).await;
    // Three attempts, 1 s and 5 s apart; then no more.
    let got = wait_for(&received, 3).await;
    assert_eq!(got.len(), 3, "{got:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(received.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn revoking_a_user_through_the_admin_api_tells_the_client_without_a_sid() {
    let (upstream, received) = receiver(200, Duration::ZERO).await;
    let provider = provider(&upstream).await;
    let client = provider.client(RP_BC);
    provider.sign_in(&client, ALICE, &OPENID_SCOPES).await;
    assert!(received.lock().unwrap().is_empty());

    // What `authgate token revoke --user alice` sends the admin listener.
    let config = provider.gateway.write_config();
    let token = std::fs::read_to_string(config.parent().unwrap().join("admin.token")).unwrap();
    let answer = provider
        .gateway
        .http()
        .post(format!("http://{}/admin/revoke", provider.gateway.admin()))
        .bearer_auth(token.trim())
        .body(format!("{{\"user\":\"{ALICE}\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);

    let got = wait_for(&received, 1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let token = logout_token(&got[0].1);
    let jwks = jwks(&provider).await;
    let (_, claims) = verify_es256(&jwks, &token);
    assert_eq!(claims["sub"], ALICE);
    assert_eq!(claims["aud"], RP_BC);
    assert!(claims.get("sid").is_none(), "every session ended: {claims}");
}

#[tokio::test]
async fn a_session_logout_tells_only_the_client_signed_in_through_that_session() {
    const RP_OTHER: &str = "rp-backchannel-other";
    let (upstream, received) = receiver(200, Duration::ZERO).await;
    let sections =
        listening_client(RP_BC, &upstream, 1) + &listening_client(RP_OTHER, &upstream, 2);
    let provider = Provider::start(&sections).await;
    // Alice in two browsers: one signs in to each client.
    let (first, signed) = provider
        .sign_in(&provider.client(RP_BC), ALICE, &OPENID_SCOPES)
        .await;
    let (_second, other) = provider
        .sign_in(&provider.client(RP_OTHER), ALICE, &OPENID_SCOPES)
        .await;
    let jwks = jwks(&provider).await;
    let (_, first_claims) = verify_es256(&jwks, &signed.id_token());
    let (_, other_claims) = verify_es256(&jwks, &other.id_token());
    assert_ne!(first_claims["sid"], other_claims["sid"], "two sessions");

    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("id_token_hint", &signed.id_token())
        .append_pair("post_logout_redirect_uri", RP_LOGGED_OUT)
        .finish();
    let page = first.open(&format!("/oauth2/logout?{query}")).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{page:?}");

    let got = wait_for(&received, 1).await;
    // Give a wrong second delivery the time to arrive.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got_now = received.lock().unwrap().clone();
    assert_eq!(got_now.len(), 1, "only the first session's client: {got:?}");
    let (_, claims) = verify_es256(&jwks, &logout_token(&got_now[0].1));
    assert_eq!(claims["aud"], RP_BC);
    assert_eq!(claims["sid"], first_claims["sid"]);
    assert!(upstream.requests()[0]
        .target()
        .ends_with("/backchannel?k=1"));
}

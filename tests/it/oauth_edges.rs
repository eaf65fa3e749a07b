//! OAuth edge cases of issue 12: declared bodies too large for the gateway's own endpoints
//! answered 413 at once, a consent decision that is single-use, and `scopes_supported` without
//! a `[scopes]` table. (Redirect URIs carrying response parameters: check.rs and
//! oauth_registration.rs; client_credentials tokens in `token list`: admin_api.rs.)

use std::time::{Duration, Instant};

use oauth2::TokenResponse;
use reqwest::StatusCode;

use crate::support::oauth::{auth_request, AuthGateway, Decision, PASSWORD, USER};
use crate::support::{GatewayBuilder, JsonAnswer, RawRequest};

/// Far below the 10 s the endpoints give a body to arrive.
const AT_ONCE: Duration = Duration::from_secs(3);

/// 100 MiB declared, never sent.
const HUGE: &str = "104857600";

#[tokio::test(flavor = "multi_thread")]
async fn a_declared_100_mib_body_on_the_gateways_own_endpoints_gets_413_at_once() {
    #[allow(
        clippy::disallowed_methods,
        reason = "every test of the process sets the same value"
    )]
    std::env::set_var(
        "AUTHGATE_TEST_EDGES_REGISTRATION",
        "edges-initial-token-0123456789abcdef",
    );
    let gateway = GatewayBuilder::new()
        .toml_section(
            "[registration]\nenabled = true\ninitial_access_token = \"env:AUTHGATE_TEST_EDGES_REGISTRATION\"\nscopes = []\n",
        )
        .start()
        .await;
    for (path, content_type) in [
        ("/oauth2/token", "application/x-www-form-urlencoded"),
        ("/oauth2/revoke", "application/x-www-form-urlencoded"),
        ("/oauth2/introspect", "application/x-www-form-urlencoded"),
        ("/oauth2/login", "application/x-www-form-urlencoded"),
        ("/oauth2/consent", "application/x-www-form-urlencoded"),
        ("/oauth2/register", "application/json"),
    ] {
        let started = Instant::now();
        // Only the head is sent.
        let mut request = RawRequest::new("POST", path)
            .header("Content-Length", HUGE)
            .header("Content-Type", content_type);
        if path == "/oauth2/register" {
            request = request.header(
                "Authorization",
                "Bearer edges-initial-token-0123456789abcdef",
            );
        }
        let response = tokio::time::timeout(AT_ONCE, request.send(gateway.addr()))
            .await
            .unwrap_or_else(|_| panic!("{path}: no answer within {AT_ONCE:?}"));
        assert_eq!(response.status, 413, "{path}: {}", response.text());
        assert!(
            started.elapsed() < AT_ONCE,
            "{path}: {:?}",
            started.elapsed()
        );
    }
    // Within the limit the endpoint still reads the form (and refuses it for what it says).
    let response = RawRequest::new("POST", "/oauth2/token")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Content-Length", "22")
        .body(b"grant_type=nonexistent")
        .send(gateway.addr())
        .await;
    assert_eq!(response.status, 400, "{}", response.text());
    assert!(response.text().contains("unsupported_grant_type"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_declared_oversized_body_on_the_admin_listener_gets_413_at_once() {
    let gateway = AuthGateway::start_with_sections(&format!(
        "[admin]\nlisten = \"127.0.0.1:{}\"\n",
        crate::support::free_port()
    ))
    .await;
    let started = Instant::now();
    let response = tokio::time::timeout(
        AT_ONCE,
        RawRequest::new("POST", "/admin/revoke")
            .header("Content-Length", HUGE)
            .header("Content-Type", "application/json")
            .send(gateway.admin()),
    )
    .await
    .expect("an answer at once");
    assert_eq!(response.status, 413, "{}", response.text());
    assert!(started.elapsed() < AT_ONCE);
}

#[tokio::test]
async fn a_replayed_consent_post_issues_nothing() {
    let gateway = AuthGateway::start().await;
    let web = gateway.web();
    let request = auth_request(&web, &["api:read"]);
    let browser = gateway.browser();
    let login = browser.open(&request.url).await;
    let after_login = browser.sign_in(&login, USER, PASSWORD).await;
    let consent = browser.follow(&after_login).await;
    assert!(consent.is_consent(), "{consent:?}");

    let first = browser.decide(&consent, Decision::Approve).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{first:?}");
    let callback = first.callback();
    assert!(callback.get("code").is_some());

    // The same form again (a double submit, the back button): refused, no code, no redirect.
    let replay = browser.decide(&consent, Decision::Approve).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST, "{replay:?}");
    assert!(replay.location().is_none(), "a replay never redirects");
    assert!(replay.body.contains("already answered"), "{}", replay.body);
    // Nor may it be turned into another decision.
    let flipped = browser.decide(&consent, Decision::Deny).await;
    assert_eq!(flipped.status, StatusCode::BAD_REQUEST);
    assert!(flipped.location().is_none());

    // The one code issued still works: the replay revoked nothing.
    let tokens = web
        .exchange_code(callback.code())
        .set_pkce_verifier(request.verifier)
        .request_async(&gateway.http())
        .await
        .expect("the one code issued redeems");
    assert!(gateway.is_active(tokens.access_token().secret()).await);
}

#[tokio::test]
async fn a_consent_form_older_than_ten_minutes_is_refused() {
    let gateway = AuthGateway::start().await;
    let web = gateway.web();
    let request = auth_request(&web, &["api:read"]);
    let browser = gateway.browser();
    let login = browser.open(&request.url).await;
    let consent = browser
        .follow(&browser.sign_in(&login, USER, PASSWORD).await)
        .await;
    assert!(consent.is_consent());
    gateway.advance(600);
    let late = browser.decide(&consent, Decision::Approve).await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST, "{late:?}");
    assert!(late.location().is_none());
}

#[tokio::test]
async fn scopes_supported_lists_every_grantable_scope_without_a_scopes_table() {
    let gateway = GatewayBuilder::new()
        .toml_section(&format!(
            r#"[[clients]]
id = "worker"
type = "confidential"
secret = "{secret}"
grants = ["client_credentials"]
scopes = ["reports:read"]

{alice}
[[routes]]
path = "/"
upstream = "whoami://"
auth = "session"
scopes = ["app"]
"#,
            secret = crate::support::fixture::secret_hash("worker-secret"),
            alice = crate::support::fixture::user("alice", &["app"]),
        ))
        .start()
        .await;
    let metadata: serde_json::Value = crate::support::http_client()
        .get(gateway.url("/.well-known/oauth-authorization-server"))
        .json_answer()
        .await;
    let scopes: Vec<&str> = metadata["scopes_supported"]
        .as_array()
        .expect("scopes_supported")
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    // With the built-in OpenID scopes, which every configuration declares (contract §7).
    assert_eq!(
        scopes,
        [
            "app",
            "email",
            "groups",
            "offline_access",
            "openid",
            "profile",
            "reports:read"
        ],
        "{metadata}"
    );
}

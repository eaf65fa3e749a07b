//! Refused authorization and client authentication, each its own case: what may go back to
//! the client's registered URI (with `error`, `state`, `iss`) and what must stop at an error
//! page (RFC 6749 §4.1.2.1, RFC 9700 §4.1 and §4.11), and bad client secrets (§5.2).

use reqwest::StatusCode;

use crate::support::oauth::{
    auth_request, token_error, with_param, Answer, AuthGateway, Page, SPA_REDIRECT, WEB,
    WEB_REDIRECT,
};

/// An error page: 400, HTML, never a redirect, not cached.
fn assert_error_page(page: &Page) {
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{page:?}");
    assert!(page.location().is_none(), "must not redirect: {page:?}");
    assert!(
        page.header("content-type")
            .is_some_and(|v| v.starts_with("text/html")),
        "{page:?}"
    );
    assert!(
        page.body.contains("This request cannot continue"),
        "{page:?}"
    );
    assert!(!page.is_login() && !page.is_consent());
    assert_eq!(page.header("cache-control"), Some("no-store"));
}

/// The redirect of an authorization error to the registered URI.
fn assert_error_redirect(page: &Page, redirect_uri: &str, error: &str, state: &str, issuer: &str) {
    assert_eq!(page.status, StatusCode::FOUND, "{page:?}");
    let callback = page.callback();
    assert_eq!(callback.base, redirect_uri);
    assert_eq!(callback.get("error"), Some(error), "{}", callback.location);
    assert_eq!(callback.get("state"), Some(state));
    assert_eq!(callback.get("iss"), Some(issuer));
    assert_eq!(callback.get("code"), None);
}

/// The webapp's authorization request sent with `redirect_uri` instead of its registered one.
async fn webapp_with_redirect_uri(redirect_uri: &str) -> Page {
    let gateway = AuthGateway::start().await;
    let request = auth_request(&gateway.web(), &["api:read"]);
    let url = with_param(&request.url, "redirect_uri", Some(redirect_uri));
    gateway.browser().open(&url).await
}

#[tokio::test]
async fn plain_code_challenge_method_redirects_with_invalid_request() {
    let gateway = AuthGateway::start().await;
    let request = auth_request(&gateway.spa(), &["api:read"]);
    let verifier = request.verifier.secret().clone();
    let url = with_param(&request.url, "code_challenge_method", Some("plain"));
    let url = with_param(&url, "code_challenge", Some(&verifier));
    let page = gateway.browser().open(&url).await;
    assert_error_redirect(
        &page,
        SPA_REDIRECT,
        "invalid_request",
        request.state.secret(),
        gateway.issuer(),
    );
}

#[tokio::test]
async fn omitted_code_challenge_method_redirects_with_invalid_request() {
    // An omitted method means `plain` (RFC 7636 §4.3): refused like it.
    let gateway = AuthGateway::start().await;
    let request = auth_request(&gateway.spa(), &["api:read"]);
    let url = with_param(&request.url, "code_challenge_method", None);
    let page = gateway.browser().open(&url).await;
    assert_error_redirect(
        &page,
        SPA_REDIRECT,
        "invalid_request",
        request.state.secret(),
        gateway.issuer(),
    );
}

#[tokio::test]
async fn missing_code_challenge_for_a_public_client_redirects_with_invalid_request() {
    let gateway = AuthGateway::start().await;
    let request = auth_request(&gateway.spa(), &["api:read"]);
    let url = with_param(&request.url, "code_challenge", None);
    let url = with_param(&url, "code_challenge_method", None);
    let page = gateway.browser().open(&url).await;
    assert_error_redirect(
        &page,
        SPA_REDIRECT,
        "invalid_request",
        request.state.secret(),
        gateway.issuer(),
    );
}

#[tokio::test]
async fn redirect_uri_prefix_of_the_registered_one_gets_an_error_page() {
    assert_error_page(&webapp_with_redirect_uri("https://app.example.com/call").await);
}

#[tokio::test]
async fn redirect_uri_with_an_extra_path_segment_gets_an_error_page() {
    assert_error_page(&webapp_with_redirect_uri("https://app.example.com/callback/evil").await);
}

#[tokio::test]
async fn redirect_uri_with_an_extra_query_gets_an_error_page() {
    assert_error_page(
        &webapp_with_redirect_uri("https://app.example.com/callback?next=https://evil.example")
            .await,
    );
}

#[tokio::test]
async fn redirect_uri_with_another_port_on_https_gets_an_error_page() {
    // Only loopback IP URIs may vary the port (RFC 8252 §7.3).
    assert_error_page(&webapp_with_redirect_uri("https://app.example.com:8443/callback").await);
}

#[tokio::test]
async fn redirect_uri_on_another_host_gets_an_error_page() {
    assert_error_page(&webapp_with_redirect_uri("https://evil.example/callback").await);
}

#[tokio::test]
async fn loopback_redirect_uri_with_another_path_gets_an_error_page() {
    // The port may vary on loopback; nothing else may.
    let gateway = AuthGateway::start().await;
    let request = auth_request(&gateway.spa(), &["api:read"]);
    for uri in [
        "http://127.0.0.1:5173/callback/evil",
        "http://127.0.0.1:5173/callbackx",
        "http://127.0.0.1:5173/callback?x=1",
        "http://localhost:5173/callback",
        "http://127.0.0.1.evil.example:5173/callback",
    ] {
        let url = with_param(&request.url, "redirect_uri", Some(uri));
        assert_error_page(&gateway.browser().open(&url).await);
    }
}

#[tokio::test]
async fn unknown_client_gets_an_error_page() {
    let gateway = AuthGateway::start().await;
    let client = gateway.oauth_client("no-such-client", None, SPA_REDIRECT);
    let request = auth_request(&client, &["api:read"]);
    assert_error_page(&gateway.browser().open(&request.url).await);
    // Nor when the request names no client at all.
    let url = with_param(&request.url, "client_id", None);
    assert_error_page(&gateway.browser().open(&url).await);
}

#[tokio::test]
async fn scope_not_allowed_for_the_client_redirects_with_invalid_scope() {
    let gateway = AuthGateway::start().await;
    // `admin` is a declared scope, but not one of the client's.
    let request = auth_request(&gateway.spa(), &["api:read", "admin"]);
    let page = gateway.browser().open(&request.url).await;
    assert_error_redirect(
        &page,
        SPA_REDIRECT,
        "invalid_scope",
        request.state.secret(),
        gateway.issuer(),
    );
}

#[tokio::test]
async fn wrong_client_secret_is_401_invalid_client_with_www_authenticate() {
    let gateway = AuthGateway::start().await;
    // HTTP Basic.
    let basic = Answer::read(
        gateway
            .http()
            .post(gateway.url("/oauth2/token"))
            .basic_auth(WEB, Some("not-the-secret"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("token request"),
    )
    .await;
    // Form post.
    let post = Answer::read(
        gateway
            .http()
            .post(gateway.url("/oauth2/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", WEB),
                ("client_secret", "not-the-secret"),
            ])
            .send()
            .await
            .expect("token request"),
    )
    .await;
    for answer in [&basic, &post] {
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.json);
        assert_eq!(answer.error(), Some("invalid_client"));
        assert!(
            answer.header("www-authenticate").is_some(),
            "WWW-Authenticate"
        );
        assert_eq!(answer.header("cache-control"), Some("no-store"));
        assert!(answer.json.get("access_token").is_none());
        let text = answer.json.to_string();
        assert!(
            !text.contains("not-the-secret"),
            "the secret is echoed: {text}"
        );
    }

    // Through the oauth2 crate.
    let wrong = gateway.oauth_client(WEB, Some("not-the-secret"), WEB_REDIRECT);
    let err = wrong
        .exchange_client_credentials()
        .request_async(&gateway.http())
        .await
        .expect_err("a wrong secret");
    assert_eq!(token_error(err), "invalid_client");

    // The right secret still works (three failures are below the throttle).
    gateway
        .web()
        .exchange_client_credentials()
        .request_async(&gateway.http())
        .await
        .expect("the right secret");
}

//! Forward authentication at `GET /oauth2/auth`, as nginx `auth_request`,
//! Traefik `forwardAuth` and Caddy `forward_auth` ask it: 202 with the identity headers for a
//! valid session or bearer token, 401 otherwise (never a redirect), 403 when `?scope=` names a
//! scope the caller lacks.

use reqwest::StatusCode;

use crate::support::browser::Page;
use crate::support::protected::{protected, Challenge, ProtectedGateway, ALICE, SERVICE};
use crate::support::TestUpstream;

async fn gateway() -> (ProtectedGateway, TestUpstream) {
    let upstream = TestUpstream::echo("app").await;
    let gateway = ProtectedGateway::start(
        vec![protected("/", &upstream.url(), "session", &["app"])],
        "",
    )
    .await;
    (gateway, upstream)
}

async fn check(gateway: &ProtectedGateway, query: &str, bearer: Option<&str>) -> reqwest::Response {
    let mut request = gateway
        .api()
        .get(gateway.url(&format!("/oauth2/auth{query}")))
        .header("x-forwarded-uri", "/protected/page");
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("forward-auth request")
}

#[tokio::test]
async fn forward_auth_accepts_a_session_with_202_and_identity_headers() {
    let (gateway, _upstream) = gateway().await;
    let (browser, _) = gateway.signed_in("/", ALICE).await;
    let page: Page = browser.get("/oauth2/auth").await;
    assert_eq!(page.status, StatusCode::ACCEPTED, "{page:?}");
    assert_eq!(page.header("x-auth-user"), Some(ALICE));
    assert_eq!(page.header("x-auth-client"), Some("authgate"));
    let scopes = page.header("x-auth-scopes").expect("X-Auth-Scopes");
    assert!(scopes.split(' ').any(|s| s == "app"), "{scopes}");
    // Only the identity: the session is never handed to the proxy as a replayable value.
    assert!(page.set_cookies().is_empty());
    assert!(page.header("authorization").is_none());

    let page = browser.get("/oauth2/auth?scope=app").await;
    assert_eq!(page.status, StatusCode::ACCEPTED, "{page:?}");
}

#[tokio::test]
async fn forward_auth_accepts_a_bearer_token_with_202() {
    let (gateway, _upstream) = gateway().await;
    let token = gateway.client_token("api:read").await;
    let response = check(&gateway, "", Some(&token)).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let headers = response.headers();
    assert!(headers.get("x-auth-user").is_none());
    assert_eq!(headers["x-auth-client"], SERVICE);
    assert_eq!(headers["x-auth-scopes"], "api:read");

    let token = gateway.user_token(ALICE, "api:read api:write").await;
    let response = check(&gateway, "?scope=api:read", Some(&token)).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(response.headers()["x-auth-user"], ALICE);
    assert_eq!(response.headers()["x-auth-client"], "portal");
}

#[tokio::test]
async fn forward_auth_without_valid_credentials_is_401_never_a_redirect() {
    let (gateway, _upstream) = gateway().await;
    let response = check(&gateway, "", None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = Challenge::of(response.headers());
    assert_eq!(challenge.scheme, "Bearer");
    assert!(challenge.get("error").is_none());
    assert!(challenge.get("resource_metadata").is_some());

    // The proxy passes a browser's own headers: still 401, the proxy decides what to show.
    let page = gateway.browser().get("/oauth2/auth").await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{page:?}");
    assert!(page.location().is_none());

    let response = check(&gateway, "", Some("not-a-token")).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        Challenge::of(response.headers()).get("error"),
        Some("invalid_token")
    );

    // A dead session cookie is no session.
    let response = gateway
        .api()
        .get(gateway.url("/oauth2/auth"))
        .header(
            "cookie",
            "__Host-authgate-session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn forward_auth_scope_parameter_requires_every_scope() {
    let (gateway, _upstream) = gateway().await;
    let (browser, _) = gateway.signed_in("/", ALICE).await;
    // alice may not have `admin`.
    let page = browser.get("/oauth2/auth?scope=admin").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{page:?}");
    let challenge = Challenge::of(&page.headers);
    assert_eq!(challenge.get("error"), Some("insufficient_scope"));
    assert_eq!(challenge.get("scope"), Some("admin"));
    let page = browser.get("/oauth2/auth?scope=app%20admin").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{page:?}");

    let token = gateway.client_token("app").await;
    for (query, status) in [
        ("?scope=app", StatusCode::ACCEPTED),
        ("?scope=api:read", StatusCode::FORBIDDEN),
        ("?scope=app%20api:read", StatusCode::FORBIDDEN),
        ("?scope=app&scope=api:read", StatusCode::FORBIDDEN),
    ] {
        let response = check(&gateway, query, Some(&token)).await;
        assert_eq!(response.status(), status, "{query}");
    }
}

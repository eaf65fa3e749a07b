//! What the upstream of a protected route receives and may answer: client-sent identity headers in
//! every spelling removed before the gateway's own are added; the gateway's cookies cut out of
//! `Cookie`, the application's kept; an upstream `Set-Cookie` for a gateway cookie dropped, the
//! others passed.

use authgate::gateway_paths::SESSION_COOKIE;
use reqwest::StatusCode;

use crate::support::protected::{protected, ProtectedGateway, ALICE, SERVICE};
use crate::support::upstream::Seen;
use crate::support::TestUpstream;

/// Client-sent identity headers, in the spellings upstream stacks treat as the same header.
const SPOOFED: &[(&str, &str)] = &[
    ("X-Auth-User", "mallory"),
    ("x-auth-user", "mallory"),
    ("X_Auth_User", "mallory"),
    ("x_auth_user", "mallory"),
    ("X-AUTH-USER", "mallory"),
    ("x_auth_client", "evil-client"),
    ("X-Auth-Client", "evil-client"),
    ("X-AUTH-SCOPES", "admin"),
    ("x-auth_scopes", "admin"),
];

/// The identity headers the upstream saw, names lower case with `_` as `-`.
fn identity_headers(seen: &Seen) -> Vec<(String, String)> {
    seen.headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase().replace('_', "-"), v.clone()))
        .filter(|(k, _)| k.starts_with("x-auth-"))
        .collect()
}

fn assert_nothing_spoofed(seen: &Seen) {
    for (name, value) in &seen.headers {
        for bad in ["mallory", "evil-client", "admin"] {
            assert!(
                !value.split(' ').any(|v| v == bad),
                "spoofed value reached the upstream: {name}: {value}"
            );
        }
    }
}

#[tokio::test]
async fn spoofed_identity_headers_never_reach_the_upstream_on_session_and_bearer_routes() {
    let upstream = TestUpstream::echo("app").await;
    let gateway = ProtectedGateway::start(
        vec![
            protected("/", &upstream.url(), "session", &["app"]),
            protected("/api/", &upstream.url(), "bearer", &["api:read"]),
        ],
        "",
    )
    .await;

    // A session route, signed in as alice.
    let (browser, _) = gateway.signed_in("/", ALICE).await;
    let page = browser.get_with("/page", SPOOFED).await;
    let seen = page.echoed();
    assert_nothing_spoofed(&seen);
    let mut identity = identity_headers(&seen);
    identity.sort();
    let scopes = seen.header("x-auth-scopes").expect("scopes").to_owned();
    assert_eq!(
        identity,
        [
            ("x-auth-client".to_owned(), "authgate".to_owned()),
            ("x-auth-scopes".to_owned(), scopes),
            ("x-auth-user".to_owned(), ALICE.to_owned()),
        ]
    );

    // A bearer route with a client's own token: no user at all, not even the spoofed one.
    let token = gateway.client_token("api:read").await;
    let mut request = gateway.api().get(gateway.url("/api/x")).bearer_auth(&token);
    for (name, value) in SPOOFED {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let seen: crate::support::Echoed = response.json().await.expect("echo");
    assert_nothing_spoofed(&seen);
    let mut identity = identity_headers(&seen);
    identity.sort();
    assert_eq!(
        identity,
        [
            ("x-auth-client".to_owned(), SERVICE.to_owned()),
            ("x-auth-scopes".to_owned(), "api:read".to_owned()),
        ]
    );

    // Refused requests reach nothing at all.
    let before = upstream.hits();
    let mut request = gateway.api().get(gateway.url("/api/x"));
    for (name, value) in SPOOFED {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(upstream.hits(), before);
}

#[tokio::test]
async fn gateway_cookies_are_cut_from_the_cookie_header_and_app_cookies_pass() {
    let upstream = TestUpstream::echo("app").await;
    let gateway = ProtectedGateway::start(
        vec![protected("/", &upstream.url(), "session", &["app"])],
        "",
    )
    .await;
    let (browser, _) = gateway.signed_in("/", ALICE).await;
    let id = browser.cookie(SESSION_COOKIE).expect("session cookie");

    // As a client might send them: several Cookie headers, the gateway's among the app's.
    let response = gateway
        .api()
        .get(gateway.url("/page"))
        .header(
            "cookie",
            format!("lang=en; {SESSION_COOKIE}={id}; __Host-authgate-flow-abc=x"),
        )
        .header("cookie", "__Host-authgate-login=y; theme=dark")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let seen: crate::support::Echoed = response.json().await.expect("echo");
    assert_eq!(seen.header("x-auth-user"), Some(ALICE));
    let cookies = seen.header_all("cookie").join("; ");
    assert!(!cookies.contains("__Host-authgate"), "{cookies}");
    assert!(!cookies.contains(&id), "{cookies}");
    let mut pairs: Vec<&str> = cookies.split("; ").collect();
    pairs.sort_unstable();
    assert_eq!(pairs, ["lang=en", "theme=dark"]);
    assert!(seen.header("authorization").is_none());
}

#[tokio::test]
async fn upstream_cannot_set_the_gateway_cookies_and_its_own_pass() {
    let upstream = TestUpstream::with_response_headers(&[
        (
            "set-cookie",
            "__Host-authgate-session=planted; Path=/; Secure; HttpOnly; SameSite=Lax",
        ),
        (
            "set-cookie",
            "__Host-authgate-login=planted; Path=/; Secure",
        ),
        ("set-cookie", "app=1; Path=/; HttpOnly"),
        ("set-cookie", "theme=dark; Path=/"),
    ])
    .await;
    let gateway = ProtectedGateway::start(
        vec![
            protected("/", &upstream.url(), "session", &["app"]),
            protected("/api/", &upstream.url(), "bearer", &["api:read"]),
        ],
        "",
    )
    .await;

    // The session route: the sign-in ends at the upstream's answer.
    let (browser, last) = gateway.signed_in("/", ALICE).await;
    assert_eq!(last.status, StatusCode::OK, "{last:?}");
    assert_eq!(last.set_cookie_names(), ["app", "theme"]);
    let id = browser.cookie(SESSION_COOKIE).expect("session cookie");
    assert_ne!(id, "planted");
    let page = browser.get("/again").await;
    assert_eq!(page.set_cookie_names(), ["app", "theme"]);
    assert_eq!(browser.cookie(SESSION_COOKIE), Some(id));

    // The bearer route.
    let token = gateway.client_token("api:read").await;
    let response = gateway
        .api()
        .get(gateway.url("/api/x"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let names: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split_once('=').map(|(k, _)| k.to_owned()))
        .collect();
    assert_eq!(names, ["app", "theme"]);
}

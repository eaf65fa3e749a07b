//! `auth = "session"` routes: a browser is sent through the
//! gateway's own code + PKCE flow and back to the URL it asked for, with the `__Host-` session
//! cookie; API clients get 401; the callback is accepted only from the browser that started
//! the flow; idle and absolute limits on the test clock; logout; revoking a user.

use authgate::gateway_paths::SESSION_COOKIE;
use authgate::store::{Store, Subject};
use authgate::tokens::opaque::TokenHash;
use reqwest::{StatusCode, Url};

use crate::support::browser::{cookie_attributes, Browser, Page};
use crate::support::protected::{
    protected, Challenge, ProtectedGateway, ALICE, BOB, USER_PASSWORD,
};
use crate::support::TestUpstream;

const FLOW_PREFIX: &str = "__Host-authgate-flow-";
const LOGIN_COOKIE: &str = "__Host-authgate-login";

/// A gateway whose `/` is a session route (scope `app`) to `upstream`, with `session` as the
/// lines of `[session]` when not empty.
async fn gateway(upstream: &TestUpstream, session: &str) -> ProtectedGateway {
    let extra = if session.is_empty() {
        String::new()
    } else {
        format!("[session]\n{session}")
    };
    ProtectedGateway::start(
        vec![
            protected("/", &upstream.url(), "session", &["app"]),
            protected("/admin/", &upstream.url(), "session", &["admin"]),
        ],
        &extra,
    )
    .await
}

/// Asserts a `Set-Cookie` carries the attributes of every gateway cookie: `HttpOnly`, `Secure`,
/// `SameSite=Lax`, `Path=/`, no `Domain`, a `__Host-` name.
fn assert_host_cookie(set_cookie: &str) {
    assert!(set_cookie.starts_with("__Host-"), "{set_cookie}");
    let attrs = cookie_attributes(set_cookie);
    let has = |name: &str, value: &str| {
        attrs
            .iter()
            .any(|(k, v)| k == name && v.eq_ignore_ascii_case(value))
    };
    assert!(has("httponly", ""), "HttpOnly: {set_cookie}");
    assert!(has("secure", ""), "Secure: {set_cookie}");
    assert!(has("samesite", "lax"), "SameSite=Lax: {set_cookie}");
    assert!(has("path", "/"), "Path=/: {set_cookie}");
    assert!(
        !attrs.iter().any(|(k, _)| k == "domain"),
        "no Domain: {set_cookie}"
    );
}

/// The `Max-Age` of a `Set-Cookie`.
fn max_age(set_cookie: &str) -> Option<u64> {
    cookie_attributes(set_cookie)
        .into_iter()
        .find(|(k, _)| k == "max-age")
        .and_then(|(_, v)| v.parse().ok())
}

/// Takes `browser` from `path` through the login to the redirect to `/oauth2/callback`,
/// which it does not follow.
async fn up_to_the_callback(browser: &Browser, gateway: &ProtectedGateway, path: &str) -> Page {
    let start = browser.get(path).await;
    assert_eq!(start.status, StatusCode::FOUND, "{start:?}");
    let login = browser.follow(&start).await;
    let signed_in = browser.sign_in(&login, ALICE, USER_PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER, "{signed_in:?}");
    let to_callback = browser.follow(&signed_in).await;
    assert_eq!(to_callback.status, StatusCode::FOUND, "{to_callback:?}");
    let location = to_callback.location().expect("Location");
    assert!(
        location.starts_with(&gateway.url("/oauth2/callback?")),
        "{location}"
    );
    to_callback
}

/// `url` with the query parameter `name` set to `value`.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut parsed = Url::parse(url).expect("URL");
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name { value.into() } else { v };
            (k.into_owned(), v.into_owned())
        })
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    parsed.to_string()
}

/// Asserts `page` is an error page: HTML, no redirect, no session cookie.
fn assert_error_page(page: &Page) {
    assert!(page.status.is_client_error(), "{page:?}");
    assert!(
        page.location().is_none(),
        "an error page never redirects: {page:?}"
    );
    assert!(page.is_html(), "{page:?}");
    assert!(
        page.alert().is_some(),
        "the page says what went wrong: {page:?}"
    );
    assert!(page.set_cookie(SESSION_COOKIE).is_none(), "{page:?}");
}

#[tokio::test]
async fn browser_signs_in_through_the_gateway_flow_and_returns_to_the_first_url() {
    let upstream = TestUpstream::echo("app").await;
    let gateway = gateway(&upstream, "").await;
    let browser = gateway.browser();
    // The application's own cookies, which must reach it untouched.
    browser.add_cookie("app_pref=dark; Path=/");
    browser.add_cookie("cart=3; Path=/");
    let first = "/reports/2024?year=2024&sort=desc%20date";

    // 1. No session: 302 to the gateway's own authorization request, flow cookie set.
    let start = browser.get(first).await;
    assert_eq!(start.status, StatusCode::FOUND, "{start:?}");
    let authorize = start.location().expect("Location");
    assert!(authorize.starts_with("/oauth2/authorize?"), "{authorize}");
    let request = Url::parse(&gateway.url(&authorize)).expect("URL");
    let param = |name: &str| {
        request
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("client_id").as_deref(), Some("authgate"));
    assert_eq!(param("response_type").as_deref(), Some("code"));
    assert_eq!(param("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(param("redirect_uri"), Some(gateway.url("/oauth2/callback")));
    let state = param("state").expect("state");
    assert!(state.len() >= 43, "state of at least 256 bits");
    let flow_cookie = start
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with(FLOW_PREFIX))
        .expect("a flow cookie");
    assert_host_cookie(&flow_cookie);
    assert!(
        max_age(&flow_cookie).is_some_and(|age| age <= 3600),
        "{flow_cookie}"
    );
    assert_eq!(upstream.hits(), 0);

    // 2. The login page, 3. signing in.
    let login = browser.follow(&start).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.is_login(), "{login:?}");
    let signed_in = browser.sign_in(&login, ALICE, USER_PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER, "{signed_in:?}");

    // 4. No consent for the gateway's own first-party client: straight to the callback.
    let to_callback = browser.follow(&signed_in).await;
    assert_eq!(to_callback.status, StatusCode::FOUND, "{to_callback:?}");
    let callback = Url::parse(&to_callback.location().expect("Location")).expect("URL");
    assert_eq!(
        callback.as_str().split('?').next(),
        Some(gateway.url("/oauth2/callback").as_str())
    );
    let cb = |name: &str| {
        callback
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(cb("state"), Some(state));
    assert_eq!(cb("iss").as_deref(), Some(gateway.origin()));
    assert!(cb("code").is_some());

    // 5. The callback: 303 back to the first URL, path and query, with the session cookie.
    let back = browser.follow(&to_callback).await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{back:?}");
    assert_eq!(back.location().as_deref(), Some(first));
    let session = back.set_cookie(SESSION_COOKIE).expect("the session cookie");
    assert_host_cookie(&session);
    assert_eq!(
        max_age(&session),
        Some(7 * 24 * 3600),
        "max_lifetime by default"
    );
    let flow_cleared = back
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with(FLOW_PREFIX))
        .expect("the flow cookie cleared");
    assert_eq!(max_age(&flow_cleared), Some(0), "{flow_cleared}");
    let id = browser
        .cookie(SESSION_COOKIE)
        .expect("session cookie in the jar");
    assert!(id.len() >= 43, "a 256-bit session id");
    assert!(browser
        .cookie_names()
        .iter()
        .all(|n| !n.starts_with(FLOW_PREFIX)));

    // The store finds the session by the id's hash.
    let now = gateway.now();
    let record = gateway
        .store()
        .touch_session(&TokenHash::of(&id), now, 3600, 3600)
        .await
        .expect("store")
        .expect("the session, under its hash");
    assert_eq!(record.user, ALICE);

    // 6. The upstream: identity headers, the app's cookies, never the gateway's.
    let page = browser.follow(&back).await;
    let seen = page.echoed();
    assert_eq!(seen.path, "/reports/2024");
    assert_eq!(seen.query.as_deref(), Some("year=2024&sort=desc%20date"));
    assert_eq!(seen.header("x-auth-user"), Some(ALICE));
    assert_eq!(seen.header("x-auth-client"), Some("authgate"));
    let scopes: Vec<&str> = seen
        .header("x-auth-scopes")
        .expect("X-Auth-Scopes")
        .split(' ')
        .collect();
    assert!(scopes.contains(&"app"), "{scopes:?}");
    let cookies = seen.header_all("cookie").join("; ");
    assert!(!cookies.contains("__Host-authgate"), "{cookies}");
    assert!(!cookies.contains(&id), "{cookies}");
    let mut app_cookies: Vec<&str> = cookies.split("; ").collect();
    app_cookies.sort_unstable();
    assert_eq!(app_cookies, ["app_pref=dark", "cart=3"]);
    assert!(
        seen.header("authorization").is_none(),
        "a session never becomes a header"
    );
    assert_eq!(upstream.hits(), 1);

    // Signed in, the next page goes straight through.
    let again = browser.get("/other").await;
    assert_eq!(again.echoed().header("x-auth-user"), Some(ALICE));
}

#[tokio::test]
async fn api_client_on_a_session_route_gets_401_not_a_redirect() {
    let upstream = TestUpstream::echo("app").await;
    let gateway = gateway(&upstream, "").await;
    let api = gateway.api();
    for accept in [None, Some("application/json"), Some("*/*")] {
        let mut request = api.get(gateway.url("/data"));
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        let response = request.send().await.expect("request");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{accept:?}");
        assert!(response.headers().get("location").is_none());
        let challenge = Challenge::of(response.headers());
        assert_eq!(challenge.scheme, "Bearer");
        assert!(challenge.get("error").is_none(), "no token, no error code");
        assert!(challenge.get("resource_metadata").is_some());
    }
    assert_eq!(upstream.hits(), 0);
}

#[tokio::test]
async fn bearer_token_is_accepted_on_a_session_route() {
    let upstream = TestUpstream::echo("app").await;
    let gateway = gateway(&upstream, "").await;
    let api = gateway.api();

    let token = gateway.client_token("app").await;
    let response = api
        .get(gateway.url("/data"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let seen: crate::support::Echoed = response.json().await.expect("echo");
    assert_eq!(seen.header("x-auth-client"), Some("reports-service"));
    assert!(seen.header("x-auth-user").is_none());

    let token = gateway.user_token(BOB, "app").await;
    let response = api
        .get(gateway.url("/data"))
        .header("accept", "text/html")
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let seen: crate::support::Echoed = response.json().await.expect("echo");
    assert_eq!(seen.header("x-auth-user"), Some(BOB));
    assert_eq!(seen.header("x-auth-client"), Some("portal"));

    // A token without the route's scope: 403, even for a browser (no redirect to sign in).
    let token = gateway.client_token("api:read").await;
    let response = api
        .get(gateway.url("/data"))
        .header("accept", "text/html")
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let challenge = Challenge::of(response.headers());
    assert_eq!(challenge.get("error"), Some("insufficient_scope"));
    assert_eq!(challenge.get("scope"), Some("app"));

    // A bad token on a session route is refused, not sent to sign in.
    let response = api
        .get(gateway.url("/data"))
        .header("accept", "text/html")
        .bearer_auth("not-a-valid-token")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        Challenge::of(response.headers()).get("error"),
        Some("invalid_token")
    );
    assert_eq!(upstream.hits(), 2);
}

#[tokio::test]
async fn session_without_a_route_scope_is_forbidden_without_a_redirect_loop() {
    let upstream = TestUpstream::echo("app").await;
    let gateway = gateway(&upstream, "").await;
    let browser = gateway.browser();
    // alice may not have `admin`: signed in, the route still refuses her, once, plainly.
    let journey = browser
        .sign_in_at("/admin/panel", ALICE, USER_PASSWORD)
        .await;
    assert_eq!(journey.last.status, StatusCode::FORBIDDEN, "{journey:#?}");
    let challenge = Challenge::of(&journey.last.headers);
    assert_eq!(challenge.get("error"), Some("insufficient_scope"));
    assert_eq!(challenge.get("scope"), Some("admin"));
    assert!(browser.cookie(SESSION_COOKIE).is_some());
    let again = browser.get("/admin/panel").await;
    assert_eq!(again.status, StatusCode::FORBIDDEN, "{again:?}");
    // Her session is good for the routes she may use.
    assert_eq!(
        browser.get("/").await.echoed().header("x-auth-user"),
        Some(ALICE)
    );
    assert_eq!(upstream.hits(), 1);
}

#[tokio::test]
async fn callback_finished_by_another_browser_gets_an_error_page_not_a_redirect() {
    let upstream = TestUpstream::echo("app").await;
    let gateway = gateway(&upstream, "").await;
    let victim = gateway.browser();
    let to_callback = up_to_the_callback(&victim, &gateway, "/inbox").await;
    let callback = to_callback.location().expect("Location");

    // Another browser (no flow cookie: login CSRF, or cookies dropped) gets a page, twice:
    // no redirect, so nothing to loop on.
    let attacker = gateway.browser();
    for _ in 0..2 {
        let page = attacker.get(&callback).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST);
        assert_error_page(&page);
        assert!(
            page.alert().is_some_and(|a| a.contains("cookie")),
            "says the cookie is missing: {page:?}"
        );
        assert!(attacker.cookie(SESSION_COOKIE).is_none());
    }

    // The code was not spent by the refused attempt: the right browser still finishes.
    let back = victim.follow(&to_callback).await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{back:?}");
    assert_eq!(back.location().as_deref(), Some("/inbox"));
    assert!(victim.cookie(SESSION_COOKIE).is_some());

    // Once finished, the same callback is refused (flow cookie gone, code used).
    let replay = victim.get(&callback).await;
    assert_error_page(&replay);
    assert_eq!(upstream.hits(), 0);
}

#[tokio::test]
async fn callback_with_a_wrong_state_gets_an_error_page() {
    let upstream = TestUpstream::echo("app").await;
    let gateway = gateway(&upstream, "").await;
    let browser = gateway.browser();
    let to_callback = up_to_the_callback(&browser, &gateway, "/").await;
    let callback = to_callback.location().expect("Location");
    let state = Url::parse(&callback)
        .expect("URL")
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state");

    // Another state altogether (no flow cookie of that name).
    let page = browser
        .get(&with_param(
            &callback,
            "state",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ))
        .await;
    assert_error_page(&page);

    // The same cookie name (its first 12 characters), another state.
    let mut forged: String = state.chars().take(12).collect();
    while forged.len() < state.len() {
        forged.push('x');
    }
    assert_ne!(forged, state);
    let page = browser.get(&with_param(&callback, "state", &forged)).await;
    assert_error_page(&page);

    // A foreign issuer (RFC 9207 mix-up).
    let page = browser
        .get(&with_param(&callback, "iss", "https://evil.example"))
        .await;
    assert_error_page(&page);

    // No state or code, an error answer.
    for bad in [
        "/oauth2/callback",
        "/oauth2/callback?code=abc",
        "/oauth2/callback?error=access_denied&state=x",
    ] {
        let page = browser.get(bad).await;
        assert_error_page(&page);
    }
    assert!(browser.cookie(SESSION_COOKIE).is_none());

    // The genuine callback still completes.
    let back = browser.follow(&to_callback).await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{back:?}");
    assert!(browser.cookie(SESSION_COOKIE).is_some());
}

#[tokio::test]
async fn session_is_alive_one_second_before_the_idle_timeout_and_gone_at_it() {
    let upstream = TestUpstream::echo("app").await;
    let gateway = gateway(&upstream, "idle_timeout = \"10m\"\nmax_lifetime = \"8h\"").await;
    let (browser, first) = gateway.signed_in("/", ALICE).await;
    assert_eq!(first.echoed().header("x-auth-user"), Some(ALICE));

    // Each request slides the idle limit.
    for _ in 0..3 {
        gateway.advance(599);
        let page = browser.get("/").await;
        assert_eq!(page.echoed().header("x-auth-user"), Some(ALICE));
    }

    gateway.advance(600);
    let page = browser.get("/").await;
    assert_eq!(page.status, StatusCode::FOUND, "{page:?}");
    assert!(page
        .location()
        .is_some_and(|l| l.starts_with("/oauth2/authorize?")));
    // The sign-in session idled out as well: the login form, not a silent new session.
    assert!(browser.follow(&page).await.is_login());
    let id = browser
        .cookie(SESSION_COOKIE)
        .expect("cookie still in the jar");
    let replay = gateway
        .api()
        .get(gateway.url("/"))
        .header("cookie", format!("{SESSION_COOKIE}={id}"))
        .send()
        .await
        .expect("request");
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(upstream.hits(), 4);
}

#[tokio::test]
async fn session_ends_at_max_lifetime_even_when_active() {
    let upstream = TestUpstream::echo("app").await;
    let gateway = gateway(&upstream, "idle_timeout = \"10m\"\nmax_lifetime = \"30m\"").await;
    let browser = gateway.browser();
    let start = browser.get("/").await;
    let login = browser.follow(&start).await;
    let signed_in = browser.sign_in(&login, ALICE, USER_PASSWORD).await;
    let to_callback = browser.follow(&signed_in).await;
    let back = browser.follow(&to_callback).await;
    let cookie = back.set_cookie(SESSION_COOKIE).expect("session cookie");
    assert_eq!(
        max_age(&cookie),
        Some(30 * 60),
        "the cookie lives as long as the session"
    );

    // Active every 9 minutes, up to one second before 30 minutes.
    for step in [540, 540, 540, 179] {
        gateway.advance(step);
        let page = browser.get("/").await;
        assert_eq!(page.echoed().header("x-auth-user"), Some(ALICE));
    }
    gateway.advance(1);
    let page = browser.get("/").await;
    assert_eq!(page.status, StatusCode::FOUND, "{page:?}");
    assert!(page
        .location()
        .is_some_and(|l| l.starts_with("/oauth2/authorize?")));
    assert_eq!(upstream.hits(), 4);
}

/// A signed-in browser and the access token behind its session (issued to the gateway's own
/// client, never seen outside it).
async fn signed_in_with_token(gateway: &ProtectedGateway) -> (Browser, String, String) {
    let (browser, _) = gateway.signed_in("/", ALICE).await;
    let issued = gateway.store().issued_to("authgate");
    assert_eq!(issued.len(), 1, "{issued:?}");
    assert_eq!(issued[0].user, ALICE);
    let jti = issued[0].jti.clone();
    assert!(!gateway
        .store()
        .is_access_revoked(&jti)
        .await
        .expect("store"));
    let id = browser.cookie(SESSION_COOKIE).expect("session cookie");
    (browser, id, jti)
}

/// Asserts that the session `id` is dead on the server (not only cleared in the browser).
async fn assert_session_dead(gateway: &ProtectedGateway, id: &str) {
    let response = gateway
        .api()
        .get(gateway.url("/"))
        .header("cookie", format!("{SESSION_COOKIE}={id}"))
        .send()
        .await
        .expect("request");
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "replayed session cookie"
    );
}

/// Asserts the answer clears the session and sign-in cookies.
fn assert_cookies_cleared(page: &Page) {
    for name in [SESSION_COOKIE, LOGIN_COOKIE] {
        let cleared = page
            .set_cookie(name)
            .unwrap_or_else(|| panic!("{name} not cleared: {page:?}"));
        assert_eq!(max_age(&cleared), Some(0), "{cleared}");
        assert_host_cookie(&cleared);
    }
}

#[tokio::test]
async fn logout_by_post_with_csrf_ends_the_session_clears_cookies_and_revokes_its_tokens() {
    let upstream = TestUpstream::echo("app").await;
    let gateway = gateway(&upstream, "").await;
    let (browser, id, jti) = signed_in_with_token(&gateway).await;

    // The page that asks: a form with a CSRF token; nothing ended yet.
    let confirm = browser
        .get_with("/oauth2/logout", &[("sec-fetch-site", "cross-site")])
        .await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.set_cookies().is_empty(), "{confirm:?}");
    let csrf = confirm.hidden("csrf").expect("csrf");
    assert_eq!(
        browser.get("/").await.echoed().header("x-auth-user"),
        Some(ALICE)
    );

    let done = browser.post("/oauth2/logout", &[("csrf", &csrf)]).await;
    assert_eq!(done.status, StatusCode::OK, "{done:?}");
    assert!(done.location().is_none());
    assert_cookies_cleared(&done);
    assert!(browser.cookie(SESSION_COOKIE).is_none());
    assert!(browser.cookie(LOGIN_COOKIE).is_none());
    assert!(
        gateway
            .store()
            .is_access_revoked(&jti)
            .await
            .expect("store"),
        "the session's access token is revoked"
    );
    assert_session_dead(&gateway, &id).await;

    // Next visit: sign in again, with the login form (the sign-in session ended too).
    let next = browser.get("/").await;
    assert_eq!(next.status, StatusCode::FOUND);
    assert!(browser.follow(&next).await.is_login());
}

#[tokio::test]
async fn logout_by_same_origin_get_redirects_to_rd_and_ends_the_session() {
    let upstream = TestUpstream::echo("app").await;
    let gateway = gateway(&upstream, "").await;
    let (browser, id, jti) = signed_in_with_token(&gateway).await;

    let done = browser
        .get_with(
            "/oauth2/logout?rd=%2Fgoodbye%3Fsee%3Dyou",
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{done:?}");
    assert_eq!(done.location().as_deref(), Some("/goodbye?see=you"));
    assert_cookies_cleared(&done);
    assert!(gateway
        .store()
        .is_access_revoked(&jti)
        .await
        .expect("store"));
    assert_session_dead(&gateway, &id).await;
    let next = browser.get("/").await;
    assert_eq!(next.status, StatusCode::FOUND, "{next:?}");
}

#[tokio::test]
async fn cross_site_logout_only_gets_a_confirmation_page() {
    let upstream = TestUpstream::echo("app").await;
    let gateway = gateway(&upstream, "").await;
    let (browser, _id, jti) = signed_in_with_token(&gateway).await;

    // A cross-site GET, one without Sec-Fetch-Site, and one naming a return target: a page.
    for (path, headers) in [
        ("/oauth2/logout", vec![("sec-fetch-site", "cross-site")]),
        ("/oauth2/logout", vec![("sec-fetch-site", "same-site")]),
        ("/oauth2/logout", vec![]),
        (
            "/oauth2/logout?rd=/elsewhere",
            vec![("sec-fetch-site", "cross-site")],
        ),
    ] {
        let page = browser.get_with(path, &headers).await;
        assert_eq!(page.status, StatusCode::OK, "{path} {headers:?}");
        assert!(page.location().is_none(), "{page:?}");
        assert!(page.hidden("csrf").is_some(), "{page:?}");
        assert!(page.set_cookies().is_empty(), "{page:?}");
    }
    // A forged cross-site POST without the CSRF token: the page again.
    let forged = browser
        .post_with(
            "/oauth2/logout",
            &[("csrf", "forged")],
            &[
                ("origin", "https://evil.example"),
                ("sec-fetch-site", "cross-site"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::OK);
    assert!(forged.set_cookies().is_empty(), "{forged:?}");

    // Still signed in, tokens alive.
    assert_eq!(
        browser.get("/").await.echoed().header("x-auth-user"),
        Some(ALICE)
    );
    assert!(!gateway
        .store()
        .is_access_revoked(&jti)
        .await
        .expect("store"));
}

#[tokio::test]
async fn revoking_a_user_ends_their_sessions_and_tokens_on_the_next_request() {
    let upstream = TestUpstream::echo("app").await;
    let gateway = gateway(&upstream, "").await;
    let (alice, _) = gateway.signed_in("/", ALICE).await;
    let (bob, _) = gateway.signed_in("/", BOB).await;
    let token = gateway.user_token(ALICE, "app").await;
    let api = gateway.api();
    let with_token = || api.get(gateway.url("/")).bearer_auth(&token).send();
    assert_eq!(
        with_token().await.expect("request").status(),
        StatusCode::OK
    );
    let id = alice.cookie(SESSION_COOKIE).expect("session cookie");

    // What `authgate token revoke --user alice` does, on the gateway's own store. The cut-off
    // is in whole seconds and spares tokens issued in its very second (`iat < cutoff`), so
    // the revocation comes a second after the last issue.
    gateway.advance(1);
    let now = gateway.now();
    gateway
        .store()
        .revoke_subject(Subject::User(ALICE.to_owned()), now, now)
        .await
        .expect("revoke");

    let page = alice.get("/").await;
    assert_eq!(page.status, StatusCode::FOUND, "{page:?}");
    assert!(
        alice.follow(&page).await.is_login(),
        "signed out everywhere"
    );
    assert_session_dead(&gateway, &id).await;
    let refused = with_token().await.expect("request");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        Challenge::of(refused.headers()).get("error"),
        Some("invalid_token")
    );

    // Another user is untouched.
    assert_eq!(bob.get("/").await.echoed().header("x-auth-user"), Some(BOB));
}

//! CORS for browser apps on other origins (contract §10, issue 18): `[routes.cors]` preflights
//! answered by the gateway without authentication, allowed and refused; the headers on an
//! authorized request, on the gateway's own 401 and 403, never for an origin not listed; an
//! upstream's own `Access-Control-*` replaced on a CORS route; none on `/oauth2/authorize` or
//! the login page; the token, revocation and UserInfo endpoints for a public client's origin
//! (the code flow with PKCE as a single-page app runs it, with reqwest sending its `Origin`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};

use crate::support::protected::{
    protected, Challenge, ProtectedGateway, ALICE, PORTAL, PORTAL_REDIRECT, USER_PASSWORD,
};
use crate::support::{Echoed, Route, TestUpstream};

const APP: &str = "https://app.example.com";
const OTHER: &str = "https://evil.example";
/// The origin of [`PORTAL`]'s redirect URI: a public client, so the token endpoint's.
const PORTAL_ORIGIN: &str = "http://127.0.0.1:7000";

const CORS: &str = r#"{ allow_origins = ["https://app.example.com"], allow_methods = ["GET", "POST", "DELETE"], allow_headers = ["authorization", "content-type"], expose_headers = ["x-total-count"], max_age = "10m" }"#;

struct Setup {
    gateway: ProtectedGateway,
    api: TestUpstream,
    _wild: TestUpstream,
}

/// `/api/` (bearer, `api:read`, CORS for [`APP`]) in front of an echo; `/wild/` (CORS) and
/// `/plain/` (no CORS) in front of an upstream that sends its own `Access-Control-Allow-Origin: *`.
async fn setup() -> Setup {
    let api = TestUpstream::echo("api").await;
    let wild = TestUpstream::with_response_headers(&[
        ("access-control-allow-origin", "*"),
        ("access-control-allow-credentials", "true"),
    ])
    .await;
    let gateway = ProtectedGateway::start(
        vec![
            protected("/api/", &api.url(), "bearer", &["api:read"]).set("cors", CORS),
            Route::new("/wild/", wild.url())
                .set_str("auth", "none")
                .set("cors", CORS),
            Route::new("/plain/", wild.url()).set_str("auth", "none"),
        ],
        "",
    )
    .await;
    Setup {
        gateway,
        api,
        _wild: wild,
    }
}

fn cors_headers(headers: &HeaderMap) -> Vec<String> {
    headers
        .keys()
        .map(|n| n.as_str().to_owned())
        .filter(|n| n.starts_with("access-control-"))
        .collect()
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} in {headers:?}"))
}

fn varies_by_origin(headers: &HeaderMap) -> bool {
    headers
        .get_all("vary")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("origin"))
        })
}

async fn preflight(
    gateway: &ProtectedGateway,
    path: &str,
    origin: &str,
    method: &str,
    headers: Option<&str>,
) -> reqwest::Response {
    let mut request = gateway
        .api()
        .request(Method::OPTIONS, gateway.url(path))
        .header("origin", origin)
        .header("access-control-request-method", method);
    if let Some(headers) = headers {
        request = request.header("access-control-request-headers", headers);
    }
    request.send().await.expect("preflight")
}

#[tokio::test]
async fn a_preflight_from_an_allowed_origin_is_answered_without_authentication() {
    let s = setup().await;
    let response = preflight(
        &s.gateway,
        "/api/items",
        APP,
        "DELETE",
        Some("authorization,content-type"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let h = response.headers();
    assert_eq!(header(h, "access-control-allow-origin"), APP);
    assert_eq!(
        header(h, "access-control-allow-methods"),
        "GET, POST, DELETE"
    );
    assert_eq!(
        header(h, "access-control-allow-headers"),
        "authorization, content-type"
    );
    assert_eq!(header(h, "access-control-max-age"), "600");
    assert!(varies_by_origin(h), "{h:?}");
    // No credentials mode unless configured: a bearer token is not a credential to Fetch.
    assert!(!h.contains_key("access-control-allow-credentials"));
    assert!(!h.contains_key("www-authenticate"));
    assert_eq!(s.api.hits(), 0, "a preflight never reaches the upstream");
}

#[tokio::test]
async fn a_preflight_from_another_origin_or_for_more_than_allowed_gets_no_allow_headers() {
    let s = setup().await;
    for (origin, method, headers) in [
        (OTHER, "GET", None),
        ("https://app.example.com.evil.example", "GET", None),
        ("null", "GET", None),
        (APP, "PUT", None),
        (APP, "GET", Some("authorization, x-secret")),
    ] {
        let response = preflight(&s.gateway, "/api/items", origin, method, headers).await;
        // Answered by the gateway (not a 401, not the upstream), with nothing to pass on.
        assert_eq!(
            response.status(),
            StatusCode::NO_CONTENT,
            "{origin} {method}"
        );
        assert_eq!(
            cors_headers(response.headers()),
            Vec::<String>::new(),
            "{origin} {method} {headers:?}"
        );
        assert!(varies_by_origin(response.headers()));
    }
    assert_eq!(s.api.hits(), 0);
}

#[tokio::test]
async fn an_authorized_request_from_an_allowed_origin_carries_the_headers() {
    let s = setup().await;
    let token = s.gateway.client_token("api:read").await;
    let response = s
        .gateway
        .api()
        .get(s.gateway.url("/api/items"))
        .header("origin", APP)
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let h = response.headers().clone();
    assert_eq!(header(&h, "access-control-allow-origin"), APP);
    assert_eq!(
        header(&h, "access-control-expose-headers"),
        "www-authenticate, x-total-count"
    );
    assert!(varies_by_origin(&h));
    assert!(!h.contains_key("access-control-allow-credentials"));
    let echoed: Echoed = response.json().await.expect("echo");
    assert_eq!(
        echoed.header("authorization"),
        Some(format!("Bearer {token}").as_str()),
        "the request itself went through as ever"
    );
}

#[tokio::test]
async fn a_disallowed_origin_gets_no_cors_headers() {
    let s = setup().await;
    let token = s.gateway.client_token("api:read").await;
    for (path, auth) in [
        ("/api/items", Some(&token)),
        ("/api/items", None),
        ("/wild/x", None),
    ] {
        let mut request = s
            .gateway
            .api()
            .get(s.gateway.url(path))
            .header("origin", OTHER);
        if let Some(token) = auth {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request");
        assert_eq!(
            cors_headers(response.headers()),
            Vec::<String>::new(),
            "{path}: the upstream's `*` must not stand in for the gateway's list either"
        );
        assert!(varies_by_origin(response.headers()), "{path}");
    }
}

#[tokio::test]
async fn the_gateways_own_401_and_403_carry_cors_for_an_allowed_origin() {
    let s = setup().await;
    let narrow = s.gateway.client_token("app").await;
    for (authorization, status, error) in [
        (None, StatusCode::UNAUTHORIZED, None),
        (
            Some("Bearer not-a-token".to_owned()),
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
        ),
        (
            Some(format!("Bearer {narrow}")),
            StatusCode::FORBIDDEN,
            Some("insufficient_scope"),
        ),
    ] {
        let mut request = s
            .gateway
            .api()
            .get(s.gateway.url("/api/items"))
            .header("origin", APP);
        if let Some(value) = &authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.expect("request");
        assert_eq!(response.status(), status);
        let h = response.headers();
        assert_eq!(header(h, "access-control-allow-origin"), APP, "{status}");
        // The page can read the challenge: that is what it needs to act on the 401.
        assert!(header(h, "access-control-expose-headers").contains("www-authenticate"));
        assert!(varies_by_origin(h));
        assert_eq!(Challenge::of(h).get("error"), error, "{status}");
    }
    assert_eq!(s.api.hits(), 0);
}

#[tokio::test]
async fn an_upstreams_own_cors_is_replaced_on_a_cors_route_and_passed_elsewhere() {
    let s = setup().await;
    let get = |path: &'static str| {
        s.gateway
            .api()
            .get(s.gateway.url(path))
            .header("origin", APP)
            .send()
    };
    let cors_route = get("/wild/x").await.expect("request");
    let h = cors_route.headers();
    assert_eq!(
        h.get_all("access-control-allow-origin").iter().count(),
        1,
        "{h:?}"
    );
    assert_eq!(header(h, "access-control-allow-origin"), APP);
    assert!(!h.contains_key("access-control-allow-credentials"));

    // Without `[routes.cors]` the gateway does no CORS: the upstream's own passes unchanged.
    let plain = get("/plain/x").await.expect("request");
    assert_eq!(header(plain.headers(), "access-control-allow-origin"), "*");
    assert!(!varies_by_origin(plain.headers()));
}

/// An authorization request of [`PORTAL`] with PKCE, and its verifier.
fn authorization_query() -> (String, String) {
    let verifier = authgate::tokens::opaque::new_token();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", PORTAL)
        .append_pair("redirect_uri", PORTAL_REDIRECT)
        .append_pair("scope", "api:read")
        .append_pair("state", "s1")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    (query, verifier)
}

#[tokio::test]
async fn the_authorize_endpoint_and_the_login_page_never_answer_cors() {
    let s = setup().await;
    let (query, _) = authorization_query();
    let authorize = format!("/oauth2/authorize?{query}");
    for origin in [APP, PORTAL_ORIGIN] {
        let page = s
            .gateway
            .api()
            .get(s.gateway.url(&authorize))
            .header("origin", origin)
            .header("accept", "text/html")
            .send()
            .await
            .expect("authorize");
        assert_eq!(page.status(), StatusCode::OK, "the login page");
        assert_eq!(
            cors_headers(page.headers()),
            Vec::<String>::new(),
            "{origin}"
        );
        let refused = preflight(&s.gateway, &authorize, origin, "GET", None).await;
        assert_eq!(cors_headers(refused.headers()), Vec::<String>::new());
        let login = s
            .gateway
            .api()
            .post(s.gateway.url("/oauth2/login"))
            .header("origin", origin)
            .form(&[("username", ALICE), ("password", USER_PASSWORD)])
            .send()
            .await
            .expect("login post");
        assert_eq!(
            cors_headers(login.headers()),
            Vec::<String>::new(),
            "{origin}"
        );
        let logout = s
            .gateway
            .api()
            .get(s.gateway.url("/oauth2/logout"))
            .header("origin", origin)
            .send()
            .await
            .expect("logout");
        assert_eq!(cors_headers(logout.headers()), Vec::<String>::new());
    }
}

#[tokio::test]
async fn the_token_revoke_and_userinfo_endpoints_answer_cors_for_a_public_clients_origin() {
    let s = setup().await;
    for path in ["/oauth2/token", "/oauth2/revoke", "/oauth2/userinfo"] {
        let allowed = preflight(
            &s.gateway,
            path,
            PORTAL_ORIGIN,
            "POST",
            Some("authorization"),
        )
        .await;
        assert_eq!(allowed.status(), StatusCode::NO_CONTENT, "{path}");
        assert_eq!(
            header(allowed.headers(), "access-control-allow-origin"),
            PORTAL_ORIGIN
        );
        assert!(!allowed
            .headers()
            .contains_key("access-control-allow-credentials"));
        // A route's origin is not a client's, nor is any other.
        for origin in [APP, OTHER] {
            let refused = preflight(&s.gateway, path, origin, "POST", None).await;
            assert_eq!(
                cors_headers(refused.headers()),
                Vec::<String>::new(),
                "{path} {origin}"
            );
        }
    }
    // Introspection is for confidential clients: no CORS.
    let introspect = preflight(
        &s.gateway,
        "/oauth2/introspect",
        PORTAL_ORIGIN,
        "POST",
        None,
    )
    .await;
    assert_eq!(cors_headers(introspect.headers()), Vec::<String>::new());

    // The code flow as the single-page app runs it: the browser signs in on the gateway's
    // pages, the app's page exchanges the code with its Origin.
    let (query, verifier) = authorization_query();
    let browser = s.gateway.browser();
    let journey = browser
        .sign_in_at(&format!("/oauth2/authorize?{query}"), ALICE, USER_PASSWORD)
        .await;
    let location = journey.last.location().expect("a redirect to the client");
    let url = reqwest::Url::parse(&location).expect("redirect URL");
    let code = url
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code");
    let exchange = |code: String| {
        s.gateway
            .api()
            .post(s.gateway.url("/oauth2/token"))
            .header("origin", PORTAL_ORIGIN)
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", PORTAL_REDIRECT),
                ("client_id", PORTAL),
                ("code_verifier", verifier.as_str()),
            ])
            .send()
    };
    let response = exchange(code.clone()).await.expect("token request");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(response.headers(), "access-control-allow-origin"),
        PORTAL_ORIGIN
    );
    assert!(varies_by_origin(response.headers()));
    let tokens: serde_json::Value = response.json().await.expect("token JSON");
    let access = tokens["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned();

    // Its refusals are readable by the app too: the code is spent.
    let again = exchange(code).await.expect("token request");
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        header(again.headers(), "access-control-allow-origin"),
        PORTAL_ORIGIN
    );

    // UserInfo (this token has no `openid`): its refusal and challenge, readable from the
    // app's page.
    let userinfo = s
        .gateway
        .api()
        .get(s.gateway.url("/oauth2/userinfo"))
        .header("origin", PORTAL_ORIGIN)
        .bearer_auth(&access)
        .send()
        .await
        .expect("userinfo");
    assert!(
        matches!(userinfo.status().as_u16(), 401 | 403),
        "{}",
        userinfo.status()
    );
    assert!(userinfo.headers().contains_key("www-authenticate"));
    assert_eq!(
        header(userinfo.headers(), "access-control-allow-origin"),
        PORTAL_ORIGIN
    );
    assert!(
        header(userinfo.headers(), "access-control-expose-headers").contains("www-authenticate")
    );

    let revoke = s
        .gateway
        .api()
        .post(s.gateway.url("/oauth2/revoke"))
        .header("origin", PORTAL_ORIGIN)
        .form(&[("token", access.as_str()), ("client_id", PORTAL)])
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoke.status(), StatusCode::OK);
    assert_eq!(
        header(revoke.headers(), "access-control-allow-origin"),
        PORTAL_ORIGIN
    );

    // The token endpoint from an origin no public client has: no CORS on the answer.
    let other = s
        .gateway
        .api()
        .post(s.gateway.url("/oauth2/token"))
        .header("origin", APP)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token request");
    assert_eq!(cors_headers(other.headers()), Vec::<String>::new());
}

/// `[[clients]] allowed_origins`: a public client's pages on an origin other than its redirect
/// URI's get CORS from the token, revocation and UserInfo endpoints too; nobody else does.
#[tokio::test]
async fn a_public_clients_listed_origins_get_cors_from_its_endpoints() {
    const LISTED: &str = "https://pages.example.net";
    let gateway = ProtectedGateway::start(
        Vec::new(),
        "[[clients]]\nid = \"spa-listed\"\ntype = \"public\"\n\
         redirect_uris = [\"https://login.example.net/cb\"]\n\
         allowed_origins = [\"https://pages.example.net\"]\n",
    )
    .await;
    for path in ["/oauth2/token", "/oauth2/revoke", "/oauth2/userinfo"] {
        for origin in [LISTED, "https://login.example.net", PORTAL_ORIGIN] {
            let allowed = preflight(&gateway, path, origin, "POST", None).await;
            assert_eq!(allowed.status(), StatusCode::NO_CONTENT, "{path} {origin}");
            assert_eq!(
                header(allowed.headers(), "access-control-allow-origin"),
                origin
            );
        }
        let refused = preflight(&gateway, path, "https://other.example.net", "POST", None).await;
        assert_eq!(
            cors_headers(refused.headers()),
            Vec::<String>::new(),
            "{path}"
        );
    }
}

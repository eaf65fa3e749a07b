//! Return targets never leave the site (oauth2-proxy's open-redirect
//! advisories): the `rd` of `/oauth2/logout` and the first URL of a sign-in are accepted only
//! as same-origin relative paths, with `/` as the fallback.

use reqwest::{StatusCode, Url};

use crate::support::protected::{protected, ProtectedGateway, ALICE, USER_PASSWORD};
use crate::support::TestUpstream;

/// Open-redirect forms, as the decoded value of `rd`. Sent percent-encoded on the wire, so
/// the encoded forms here arrive double-encoded, as an attacker's link would carry them.
const EVIL: &[&str] = &[
    "//evil.example",
    "//evil.example/path?x=1",
    "///evil.example",
    "////evil.example",
    "/\\evil.example",
    "\\/evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "https://evil.example",
    "https://evil.example/",
    "http://evil.example",
    "HTTPS://evil.example",
    "https:/evil.example",
    "https:evil.example",
    "//evil.example@localhost",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(document.cookie)",
    "java\tscript:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "/%2Fevil.example",
    "/%2fevil.example",
    "%2F%2Fevil.example",
    "%2f%2fevil.example",
    "/%5Cevil.example",
    "/%5cevil.example",
    "%5C%5Cevil.example",
    "/%5C/evil.example",
    "/\\%2Fevil.example",
    "%2F/evil.example",
    "/%2F%5Cevil.example",
    "%252F%252Fevil.example",
    "/%09/evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "\t//evil.example",
    "/ /evil.example",
    "/./\\evil.example",
    "/..//evil.example",
    "/../../evil.example",
    "/%2e%2e/%2e%2e/evil.example",
    "/x#//evil.example",
    "https%3A%2F%2Fevil.example",
    "javascript%3Aalert(1)",
    "//evil%2Eexample",
    "//\u{3000}evil.example",
    "/\u{ff0f}evil.example",
];

/// Where a browser would go for `location`, answered to a request for `base`.
fn resolve(base: &str, location: &str) -> Url {
    Url::parse(base)
        .expect("base URL")
        .join(location)
        .unwrap_or_else(|err| panic!("unusable Location {location:?}: {err}"))
}

/// Asserts `location` is a same-origin relative path that stays on `origin`.
fn assert_same_origin_path(origin: &str, location: &str, sent: &str) {
    assert!(
        location.starts_with('/')
            && !location.starts_with("//")
            && !location.starts_with("/\\")
            && !location.contains('\\'),
        "rd {sent:?} gave Location {location:?}"
    );
    assert!(
        location.bytes().all(|b| b > 0x20 && b != 0x7f),
        "rd {sent:?} gave Location {location:?}"
    );
    let target = resolve(&format!("{origin}/oauth2/logout"), location);
    let here = Url::parse(origin).expect("origin");
    assert_eq!(
        (target.scheme(), target.host_str(), target.port()),
        (here.scheme(), here.host_str(), here.port()),
        "rd {sent:?} gave Location {location:?}"
    );
}

async fn gateway() -> (ProtectedGateway, TestUpstream) {
    let upstream = TestUpstream::echo("app").await;
    let gateway = ProtectedGateway::start(
        vec![protected("/", &upstream.url(), "session", &["app"])],
        "",
    )
    .await;
    (gateway, upstream)
}

async fn logout_location(gateway: &ProtectedGateway, rd: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("rd", rd)
        .finish();
    let page = gateway
        .browser()
        .get_with(
            &format!("/oauth2/logout?{query}"),
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "rd {rd:?}: {page:?}");
    page.location().expect("Location")
}

#[tokio::test]
async fn logout_rd_open_redirect_forms_fall_back_to_the_root() {
    let (gateway, _upstream) = gateway().await;
    for rd in EVIL {
        let location = logout_location(&gateway, rd).await;
        assert_same_origin_path(gateway.origin(), &location, rd);
        assert_eq!(location, "/", "rd {rd:?}");
    }
}

#[tokio::test]
async fn logout_rd_keeps_same_origin_paths() {
    let (gateway, _upstream) = gateway().await;
    for (rd, expected) in [
        ("/", "/"),
        ("/goodbye", "/goodbye"),
        ("/app/page?x=1&y=2", "/app/page?x=1&y=2"),
        ("/a/./b/../c", "/a/c"),
        // Normalised the one canonical way: empty and dot segments go, a path it stays.
        ("/.//evil.example", "/evil.example"),
        (
            "/search?q=%2F%2Fevil.example",
            "/search?q=%2F%2Fevil.example",
        ),
    ] {
        let location = logout_location(&gateway, rd).await;
        assert_same_origin_path(gateway.origin(), &location, rd);
        assert_eq!(location, expected, "rd {rd:?}");
    }
}

#[tokio::test]
async fn logout_rd_with_raw_query_bytes_stays_on_the_site() {
    let (gateway, _upstream) = gateway().await;
    // Sent as written (single-encoded or raw), not re-encoded by the test.
    for query in [
        "rd=//evil.example",
        "rd=/%2F/evil.example",
        "rd=%2F%2Fevil.example",
        "rd=%5C%5Cevil.example",
        "rd=/%5Cevil.example",
        "rd=https:%2F%2Fevil.example",
        "rd=%2F%09%2Fevil.example",
        "rd=%2F%0A%2Fevil.example",
        "rd=javascript:alert(1)",
        "rd=/ok&rd=//evil.example",
        "rd=//evil.example&rd=/ok",
    ] {
        let page = gateway
            .browser()
            .get_with(
                &format!("/oauth2/logout?{query}"),
                &[("sec-fetch-site", "same-origin")],
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{query}: {page:?}");
        let location = page.location().expect("Location");
        assert_same_origin_path(gateway.origin(), &location, query);
    }
}

#[tokio::test]
async fn sign_in_returns_only_to_a_same_origin_path() {
    let (gateway, upstream) = gateway().await;
    let mut through_the_flow = 0;
    // First URLs whose path would be read as another host if sent back verbatim.
    for first in ["//evil.example/x", "///evil.example", "/%2F%2Fevil.example"] {
        let browser = gateway.browser();
        let start = browser.get(first).await;
        if start.status != StatusCode::FOUND {
            // Refused outright by path normalisation: nothing to return to.
            assert!(start.status.is_client_error(), "{first}: {start:?}");
            assert!(start.location().is_none());
            continue;
        }
        let login = browser.follow(&start).await;
        let signed_in = browser.sign_in(&login, ALICE, USER_PASSWORD).await;
        let to_callback = browser.follow(&signed_in).await;
        let back = browser.follow(&to_callback).await;
        assert_eq!(back.status, StatusCode::SEE_OTHER, "{first}: {back:?}");
        let location = back.location().expect("Location");
        assert_same_origin_path(gateway.origin(), &location, first);
        through_the_flow += 1;
    }
    assert!(
        through_the_flow > 0,
        "every first URL was refused: nothing was tested"
    );
    assert_eq!(upstream.hits(), 0);
}

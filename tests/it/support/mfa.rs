//! Second factors as a person gives them: the enrolment page read as an authenticator app
//! reads it (the `otpauth://` URI the page shows, parsed by `totp-rs`, never a secret taken
//! from the gateway's insides), codes computed from it with RFC 6238, and a browser driven
//! through login, enrolment, code and consent pages to where the flow leaves the gateway.

use reqwest::StatusCode;

use super::html::unescape;
use super::oauth::{AuthGateway, Browser, Decision, Page, PASSWORD};

pub const ENROL_ACTION: &str = r#"action="/oauth2/mfa/enrol""#;
pub const CODE_ACTION: &str = r#"action="/oauth2/mfa""#;

pub fn is_enrolment(page: &Page) -> bool {
    page.body.contains(ENROL_ACTION)
}

pub fn is_code_page(page: &Page) -> bool {
    page.body.contains(CODE_ACTION)
}

/// The text of the element with `id`, unescaped.
fn text_of(body: &str, id: &str) -> Option<String> {
    let marker = format!(r#"id="{id}">"#);
    let start = body.find(&marker)? + marker.len();
    let end = start + body[start..].find('<')?;
    Some(unescape(&body[start..end]))
}

/// What an authenticator app keeps of an enrolment page: the URI, and the secret in it.
pub struct App {
    pub uri: String,
    pub secret: Vec<u8>,
}

impl App {
    /// Reads the `otpauth://totp/...` URI an enrolment page shows as text.
    pub fn scan(page: &Page) -> App {
        assert!(is_enrolment(page), "not the enrolment page: {page:?}");
        let uri = text_of(&page.body, "otpauth-uri").expect("the otpauth URI on the page");
        App::from_uri(&uri)
    }

    /// Reads the URI a TOTP set-up page shows (the account page's too).
    pub fn scan_any(page: &Page) -> App {
        let uri = text_of(&page.body, "otpauth-uri").expect("the otpauth URI on the page");
        App::from_uri(&uri)
    }

    /// What an app keeps of an `otpauth://totp/...` URI.
    pub fn from_uri(uri: &str) -> App {
        let uri = uri.to_owned();
        assert!(uri.starts_with("otpauth://totp/"), "{uri}");
        let totp = totp_rs::Totp::from_url(&uri).expect("an otpauth URI an app accepts");
        App {
            secret: totp.secret().as_bytes().to_vec(),
            uri,
        }
    }

    /// The code the app shows at `time` (RFC 6238: SHA-1, 6 digits, 30 s).
    pub fn code(&self, time: u64) -> String {
        code(&self.secret, time)
    }
}

/// The RFC 6238 code of `secret` at `time`, as any authenticator computes it.
pub fn code(secret: &[u8], time: u64) -> String {
    totp_rs::Builder::new()
        .with_secret(secret.to_vec())
        .build_noncompliant()
        .generate(time)
        .to_string()
}

/// The recovery codes a page shows (the page after a confirmed enrolment).
pub fn recovery_codes(page: &Page) -> Vec<String> {
    let Some(start) = page.body.find(r#"<ul class="recovery-codes">"#) else {
        return Vec::new();
    };
    let list = &page.body[start..];
    let list = &list[..list.find("</ul>").unwrap_or(list.len())];
    list.split("<code>")
        .skip(1)
        .filter_map(|rest| rest.split_once("</code>").map(|(c, _)| unescape(c)))
        .collect()
}

/// The "Continue" link of the recovery-codes page.
pub fn continue_link(page: &Page) -> String {
    let marker = r#"<a class="button" href=""#;
    let start = page.body.find(marker).expect("a continue link") + marker.len();
    let end = start + page.body[start..].find('"').expect("link end");
    unescape(&page.body[start..end])
}

/// Posts `code` on a code page or an enrolment page.
pub async fn submit(browser: &Browser, page: &Page, code: &str) -> Page {
    let action = if is_enrolment(page) {
        "/oauth2/mfa/enrol"
    } else {
        assert!(is_code_page(page), "not a second-factor page: {page:?}");
        "/oauth2/mfa"
    };
    let csrf = page.hidden("csrf").expect("csrf");
    let request = page.hidden("request").expect("request");
    browser
        .post(
            action,
            &[("csrf", &csrf), ("request", &request), ("code", code)],
        )
        .await
}

/// Enrols on an enrolment page with a correct code at the gateway's time: the app, the
/// recovery codes shown, and the page the "Continue" link leads to.
pub async fn enrol(
    gateway: &AuthGateway,
    browser: &Browser,
    page: &Page,
) -> (App, Vec<String>, Page) {
    let app = App::scan(page);
    let shown = submit(browser, page, &app.code(gateway.now())).await;
    assert_eq!(shown.status, StatusCode::OK, "{shown:?}");
    let codes = recovery_codes(&shown);
    assert_eq!(codes.len(), 10, "ten recovery codes: {shown:?}");
    let next = browser.open(&continue_link(&shown)).await;
    (app, codes, next)
}

/// What [`journey`] met on its way.
#[derive(Default)]
pub struct Met {
    pub pages: Vec<&'static str>,
    /// The app, when the journey enrolled.
    pub app: Option<App>,
    pub recovery: Vec<String>,
}

/// From `url`, goes on as the person would: signs in as `user`, enrols if asked (keeping
/// the app), gives a code of `app` (the current step) if asked, approves consent, follows
/// redirects within the gateway; returns the first page that is none of these (a redirect
/// leaving the gateway, or the protected route's answer).
pub async fn journey(
    gateway: &AuthGateway,
    browser: &Browser,
    url: &str,
    user: &str,
    app: Option<&App>,
) -> (Page, Met) {
    let mut met = Met::default();
    let mut page = browser.open(url).await;
    for _ in 0..16 {
        if page.is_login() {
            met.pages.push("login");
            page = browser.sign_in(&page, user, PASSWORD).await;
        } else if is_enrolment(&page) {
            met.pages.push("enrol");
            let (app, codes, next) = enrol(gateway, browser, &page).await;
            met.app = Some(app);
            met.recovery = codes;
            page = next;
        } else if is_code_page(&page) {
            met.pages.push("code");
            let app = app
                .or(met.app.as_ref())
                .expect("an app to read the code from");
            page = submit(browser, &page, &app.code(gateway.now())).await;
        } else if page.is_consent() {
            met.pages.push("consent");
            page = browser.decide(&page, Decision::Approve).await;
        } else if page.status.is_redirection()
            && page
                .location()
                .is_some_and(|l| l.starts_with('/') || l.starts_with(gateway.issuer()))
        {
            let location = page.location().unwrap_or_default();
            let location = location
                .strip_prefix(gateway.issuer())
                .unwrap_or(&location)
                .to_owned();
            page = browser.open(&location).await;
        } else {
            return (page, met);
        }
    }
    panic!("no end to the journey: {:?}", met.pages);
}

/// Posts `code` on a second-factor page as a page of `origin` would (the deployment's
/// public URL, when the browser talks to another instance of it).
pub async fn submit_from(browser: &Browser, origin: &str, page: &Page, code: &str) -> Page {
    assert!(is_code_page(page), "not the code page: {page:?}");
    let csrf = page.hidden("csrf").expect("csrf");
    let request = page.hidden("request").expect("request");
    browser
        .post_from(
            origin,
            "/oauth2/mfa",
            &[("csrf", &csrf), ("request", &request), ("code", code)],
        )
        .await
}

/// From `url`, follows redirects within the gateway and signs in as `user` (posting as a
/// page of `origin`) until the code page, which it returns.
pub async fn reach_code_page(browser: &Browser, origin: &str, url: &str, user: &str) -> Page {
    let mut page = browser.open(url).await;
    for _ in 0..8 {
        if is_code_page(&page) {
            return page;
        }
        if page.is_login() {
            let csrf = page.hidden("csrf").expect("login csrf");
            let request = page.hidden("request").expect("login request");
            page = browser
                .post_from(
                    origin,
                    "/oauth2/login",
                    &[
                        ("csrf", &csrf),
                        ("request", &request),
                        ("username", user),
                        ("password", PASSWORD),
                    ],
                )
                .await;
        } else if page.location().is_some_and(|l| l.starts_with('/')) {
            page = browser.follow(&page).await;
        } else {
            panic!("no code page on the way: {page:?}");
        }
    }
    panic!("no code page on the way");
}

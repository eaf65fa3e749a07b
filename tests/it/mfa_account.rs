//! The account page (contract §9, issue 16 item 4) end to end, with reqwest as the browser:
//! it needs a fresh sign-in (none, one older than ten minutes, or a password step without
//! the second factor the person has, each sends the browser to sign in again and back);
//! it adds an authenticator app (the new secret counts after one correct code, recovery
//! codes shown once), replaces the recovery codes (the old ones stop working), and removes
//! the factor; its forms are CSRF-bound (a forged one changes nothing).

use reqwest::StatusCode;

use crate::support::mfa::{continue_link, is_code_page, journey, recovery_codes, submit, App};
use crate::support::oauth::{AuthGateway, Browser, Page, PASSWORD, USER};

const ACCOUNT: &str = "/oauth2/account";

async fn gateway() -> AuthGateway {
    AuthGateway::start_with_sections(
        r#"[[routes]]
path = "/app/"
upstream = "whoami://"
auth = "session"
"#,
    )
    .await
}

/// Whether `page` sends the browser to sign in again (the gateway's own flow, `prompt=login`).
fn is_sign_in_again(page: &Page) -> bool {
    page.status == StatusCode::FOUND
        && page
            .location()
            .is_some_and(|l| l.starts_with("/oauth2/authorize?") && l.contains("prompt=login"))
}

fn is_overview(page: &Page) -> bool {
    page.status == StatusCode::OK && page.body.contains("<h1>Your account</h1>")
}

/// Follows `page`'s redirects within the gateway (absolute ones too).
async fn follow_all(gateway: &AuthGateway, browser: &Browser, mut page: Page) -> Page {
    for _ in 0..8 {
        let Some(location) = page.location().filter(|_| page.status.is_redirection()) else {
            return page;
        };
        let location = location
            .strip_prefix(gateway.issuer())
            .unwrap_or(&location)
            .to_owned();
        page = browser.open(&location).await;
    }
    panic!("no end to the redirects: {page:?}");
}

async fn act(browser: &Browser, page: &Page, action: &str) -> Page {
    let csrf = page.hidden("csrf").expect("the account form's csrf");
    browser
        .post(ACCOUNT, &[("csrf", &csrf), ("action", action)])
        .await
}

#[tokio::test]
async fn the_account_page_needs_a_fresh_sign_in_and_manages_the_authenticator_app() {
    let gateway = gateway().await;
    let browser = gateway.browser();

    // Not signed in: to the sign-in, and back here after it.
    let first = browser.open(ACCOUNT).await;
    assert!(is_sign_in_again(&first), "{first:?}");
    let (page, met) = journey(&gateway, &browser, ACCOUNT, USER, None).await;
    assert_eq!(met.pages, ["login"]);
    assert!(is_overview(&page), "{page:?}");
    assert!(page.body.contains("No second factor yet."));
    assert!(page
        .header("content-security-policy")
        .is_some_and(|c| !c.contains("script")));

    // A forged form (no valid CSRF token) changes nothing.
    let forged = browser
        .post(ACCOUNT, &[("csrf", "forged"), ("action", "add-totp")])
        .await;
    assert!(
        forged
            .body
            .contains("The form expired. Nothing was changed."),
        "{forged:?}"
    );

    // Add an authenticator app: nothing counts before its first correct code.
    let setup = act(&browser, &page, "add-totp").await;
    assert_eq!(setup.status, StatusCode::OK, "{setup:?}");
    let app = App::scan_any(&setup);
    let csrf = setup.hidden("csrf").expect("csrf");
    let wrong = browser
        .post(
            &format!("{ACCOUNT}/totp"),
            &[("csrf", &csrf), ("code", "000000")],
        )
        .await;
    assert!(wrong.body.contains("That code is not right"), "{wrong:?}");
    assert_eq!(
        App::scan_any(&wrong).uri,
        app.uri,
        "the same secret shown again"
    );
    let code = app.code(gateway.now());
    let shown = browser
        .post(
            &format!("{ACCOUNT}/totp"),
            &[("csrf", &csrf), ("code", &code)],
        )
        .await;
    let first_codes = recovery_codes(&shown);
    assert_eq!(first_codes.len(), 10, "{shown:?}");
    assert_eq!(continue_link(&shown), ACCOUNT);
    let page = browser.open(ACCOUNT).await;
    assert!(
        is_overview(&page) && page.body.contains("id=\"factor-totp\""),
        "{page:?}"
    );
    assert!(page
        .body
        .contains("<strong id=\"recovery-left\">10</strong>"));

    // New recovery codes, shown once; the old ones stop working.
    let shown = act(&browser, &page, "regenerate").await;
    let new_codes = recovery_codes(&shown);
    assert_eq!(new_codes.len(), 10, "{shown:?}");
    assert!(new_codes.iter().all(|c| !first_codes.contains(c)));

    // Ten minutes on, the page asks for the sign-in again, and a form changes nothing.
    gateway.advance(11 * 60);
    let stale = browser.open(ACCOUNT).await;
    assert!(is_sign_in_again(&stale), "{stale:?}");
    let refused = act(&browser, &page, "remove-totp").await;
    assert!(is_sign_in_again(&refused), "{refused:?}");

    // The sign-in again asks for the second factor: an old recovery code is refused, a new
    // one works, and the page is back.
    let mut code_page = browser.open(ACCOUNT).await;
    for _ in 0..8 {
        if is_code_page(&code_page) {
            break;
        }
        code_page = if code_page.is_login() {
            browser.sign_in(&code_page, USER, PASSWORD).await
        } else {
            browser.follow(&code_page).await
        };
    }
    assert!(is_code_page(&code_page), "{code_page:?}");
    let old = submit(&browser, &code_page, &first_codes[0]).await;
    assert!(
        is_code_page(&old) && old.body.contains("not right"),
        "{old:?}"
    );
    let page = follow_all(
        &gateway,
        &browser,
        submit(&browser, &old, &new_codes[0]).await,
    )
    .await;
    assert!(is_overview(&page), "{page:?}");
    assert!(page
        .body
        .contains("<strong id=\"recovery-left\">9</strong>"));

    // Remove the factor: the next sign-in asks for none.
    let removed = act(&browser, &page, "remove-totp").await;
    assert_eq!(removed.location().as_deref(), Some(ACCOUNT), "{removed:?}");
    let page = browser.open(ACCOUNT).await;
    assert!(page.body.contains("No second factor yet."), "{page:?}");
    let fresh = gateway.browser();
    let (last, met) = journey(&gateway, &fresh, "/app/", USER, None).await;
    assert_eq!(met.pages, ["login"], "{last:?}");
}

#[tokio::test]
async fn a_password_step_without_the_second_factor_is_not_signed_in_for_the_account_page() {
    let gateway = gateway().await;
    let browser = gateway.browser();
    let (page, _) = journey(&gateway, &browser, ACCOUNT, USER, None).await;
    let setup = act(&browser, &page, "add-totp").await;
    let app = App::scan_any(&setup);
    let csrf = setup.hidden("csrf").expect("csrf");
    let code = app.code(gateway.now());
    let shown = browser
        .post(
            &format!("{ACCOUNT}/totp"),
            &[("csrf", &csrf), ("code", &code)],
        )
        .await;
    assert_eq!(recovery_codes(&shown).len(), 10);

    // Another browser gives the password only: the code page, and the account page is not
    // reachable from there.
    let other = gateway.browser();
    let mut page = other.open(ACCOUNT).await;
    for _ in 0..8 {
        if is_code_page(&page) {
            break;
        }
        page = if page.is_login() {
            other.sign_in(&page, USER, PASSWORD).await
        } else {
            other.follow(&page).await
        };
    }
    assert!(is_code_page(&page), "{page:?}");
    let again = other.open(ACCOUNT).await;
    assert!(is_sign_in_again(&again), "{again:?}");
}

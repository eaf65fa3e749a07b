//! A real browser (headless Chromium over WebDriver, support/webdriver.rs) signs in through a
//! real OpenID provider (support/idp.rs): the gateway's login page, its "Sign in with Corp SSO"
//! button, the provider's own login (and consent) forms, and back to the page it first asked
//! for, whose upstream sees `X-Auth-User: corp:SUB`; the session cookie is not for scripts.

use std::time::Duration;

use authgate::gateway_paths::SESSION_COOKIE;
use fantoccini::Locator;
use serde_json::json;

use crate::support::federated::{oidc_provider, Federation};
use crate::support::idp::{Idp, IdpSettings};
use crate::support::protected::protected;
use crate::support::webdriver::Chromium;
use crate::support::{within, TestUpstream};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_signs_in_through_the_provider_and_lands_on_the_page_it_asked_for() {
    let mut idp = Idp::start(IdpSettings::new().account(
        "alice-sub",
        json!({"email": "alice@example.com", "email_verified": true, "name": "Alice"}),
    ))
    .await;
    let app = TestUpstream::echo("app").await;
    let routes = vec![protected("/app/", &app.url(), "session", &["app"])];
    let providers = oidc_provider(
        "corp",
        "Corp SSO",
        &idp,
        "allow_email_domains = [\"example.com\"]\ngrant_scopes = [\"app\"]\n",
    );
    let fed = Federation::start(routes, &providers, &mut [("corp", &mut idp)]).await;
    let chromium = Chromium::start().await;
    let browser = chromium.client.clone();
    let start = fed.gateway.url("/app/hello?from=chromium");
    let idp_origin = idp.issuer();

    within(
        Duration::from_secs(120),
        "the real-browser federated sign-in",
        async {
            browser.goto(&start).await.expect("open the app");
            let button = browser
                .wait()
                .at_most(Duration::from_secs(20))
                .for_element(Locator::XPath(
                    "//*[self::a or self::button][contains(., 'Sign in with Corp SSO')]",
                ))
                .await
                .expect("the provider's button on the login page");
            button.click().await.expect("click the provider's button");

            // The provider's own login form.
            let login = browser
                .wait()
                .at_most(Duration::from_secs(20))
                .for_element(Locator::Css("input[name=login]"))
                .await
                .expect("the provider's login form");
            let url = browser.current_url().await.expect("URL");
            assert!(
                url.as_str().starts_with(&idp_origin),
                "not at the provider: {url}"
            );
            login.send_keys("alice-sub").await.expect("type the login");
            browser
                .find(Locator::Css("input[name=password]"))
                .await
                .expect("password field")
                .send_keys("any password")
                .await
                .expect("type the password");
            browser
                .find(Locator::Css("button[type=submit]"))
                .await
                .expect("the sign-in button")
                .click()
                .await
                .expect("submit");

            // Consent at the provider when it asks, then back at the app.
            let mut landed = None;
            for _ in 0..300 {
                let url = browser.current_url().await.expect("URL");
                if url.path() == "/app/hello" {
                    landed = Some(url);
                    break;
                }
                if url.as_str().starts_with(&idp_origin) {
                    if let Ok(button) = browser
                        .find(Locator::Css("input[value=consent] ~ button"))
                        .await
                    {
                        let _ = button.click().await;
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let url = landed.unwrap_or_else(|| panic!("never got back to /app/hello"));
            assert_eq!(url.query(), Some("from=chromium"));
            assert_eq!(url.host_str(), Some("localhost"));

            let source = browser.source().await.expect("page source");
            assert!(
                source.contains("corp:alice-sub"),
                "not signed in as corp:alice-sub: {source}"
            );
            assert_eq!(app.last().header("x-auth-user"), Some("corp:alice-sub"));

            let cookies = browser.get_all_cookies().await.expect("cookies");
            let session = cookies
                .iter()
                .find(|c| c.name() == SESSION_COOKIE)
                .unwrap_or_else(|| panic!("no session cookie in the browser: {cookies:?}"));
            assert_eq!(session.http_only(), Some(true));
            let visible = browser
                .execute("return document.cookie;", vec![])
                .await
                .expect("run a script");
            assert!(
                !visible.as_str().unwrap_or("").contains(SESSION_COOKIE),
                "{visible:?}"
            );
        },
    )
    .await;

    chromium.quit().await;
}

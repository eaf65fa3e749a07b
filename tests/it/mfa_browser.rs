//! A real browser (headless Chromium over WebDriver) enrols a second factor on a route with
//! `mfa = true`: the enrolment page under the gateway's CSP (no script) draws its inline SVG
//! QR code, the otpauth URI it shows as text gives the code typed, the recovery codes page
//! follows, and its Continue link lands on the page first asked for.

use std::time::Duration;

use fantoccini::Locator;

use crate::support::mfa::App;
use crate::support::protected::{protected, ProtectedGateway, ALICE, USER_PASSWORD};
use crate::support::webdriver::Chromium;
use crate::support::{within, TestUpstream};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_enrols_a_totp_factor_and_lands_on_the_page_it_asked_for() {
    let app = TestUpstream::echo("app").await;
    let route = protected("/app/", &app.url(), "session", &["app"]).set("mfa", "true");
    let gateway = ProtectedGateway::start(vec![route], "").await;
    let chromium = Chromium::start().await;
    let browser = chromium.client.clone();
    let wait = Duration::from_secs(20);

    within(
        Duration::from_secs(90),
        "the real-browser enrolment",
        async {
            browser
                .goto(&gateway.url("/app/hello?from=chromium"))
                .await
                .expect("open the app");
            let username = browser
                .wait()
                .at_most(wait)
                .for_element(Locator::Css("input[name=username]"))
                .await
                .expect("the login form");
            username.send_keys(ALICE).await.expect("type the user");
            let password = browser
                .find(Locator::Css("input[name=password]"))
                .await
                .expect("password field");
            password.send_keys(USER_PASSWORD).await.expect("type it");
            password.send_keys("\n").await.expect("submit");

            let uri = browser
                .wait()
                .at_most(wait)
                .for_element(Locator::Id("otpauth-uri"))
                .await
                .expect("the enrolment page")
                .text()
                .await
                .expect("the URI text");
            let totp = App::from_uri(&uri);
            // The QR code is drawn (an SVG with a size), and no script runs on the page.
            let drawn = browser
                .execute(
                    "const svg = document.querySelector('.qr svg'); \
                 if (!svg) return 0; const box = svg.getBoundingClientRect(); \
                 return Math.round(box.width * box.height);",
                    vec![],
                )
                .await
                .expect("measure the QR code");
            assert!(drawn.as_f64().unwrap_or(0.0) >= 200.0 * 200.0, "{drawn}");
            let scripts = browser
                .execute("return document.scripts.length;", vec![])
                .await
                .expect("count scripts");
            assert_eq!(scripts.as_u64(), Some(0));

            let code = browser
                .find(Locator::Id("code"))
                .await
                .expect("the code field");
            code.send_keys(&totp.code(gateway.now()))
                .await
                .expect("type the code");
            code.send_keys("\n").await.expect("submit");
            let shown = browser
                .wait()
                .at_most(wait)
                .for_element(Locator::Css("ul.recovery-codes"))
                .await
                .expect("the recovery codes");
            let codes = shown.find_all(Locator::Css("li")).await.expect("the codes");
            assert_eq!(codes.len(), 10);
            browser
                .find(Locator::LinkText("Continue"))
                .await
                .expect("the continue link")
                .click()
                .await
                .expect("continue");

            let mut landed = None;
            for _ in 0..200 {
                let url = browser.current_url().await.expect("URL");
                if url.path() == "/app/hello" {
                    landed = Some(url);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let url = landed.unwrap_or_else(|| panic!("never got to /app/hello"));
            assert_eq!(url.query(), Some("from=chromium"));
            assert_eq!(app.last().header("x-auth-user"), Some(ALICE));
        },
    )
    .await;
    chromium.quit().await;
}

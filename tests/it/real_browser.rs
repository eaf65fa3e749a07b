//! A real browser (headless Chromium over WebDriver) signs in to the starter configuration's
//! session-protected whoami page as its demo user, and its scripts cannot read the session
//! cookie. Needs Debian's `chromium` and `chromium-driver`: fails, saying so, without them.

use std::path::Path;
use std::time::Duration;

use authgate::gateway_paths::SESSION_COOKIE;
use fantoccini::Locator;

use crate::support::protected::ProtectedGateway;
use crate::support::webdriver::Chromium;
use crate::support::within;

/// The demo user of the starter `gateway.toml`, whose password the README gives.
const DEMO_USER: &str = "demo";
const DEMO_PASSWORD: &str = "authgate-demo";

/// The repository's `gateway.toml` with only its `listen`, `public_url` and `data_dir` lines
/// changed: the port is the test's, the data a temporary directory.
fn starter(public_url: &str, data_dir: &Path) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway.toml");
    let text = std::fs::read_to_string(path).expect("the starter gateway.toml");
    let mut replaced = 0;
    let mut section = String::new();
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            if line.trim_start().starts_with('[') {
                section = line.trim().to_owned();
            }
            let key = line.split('=').next().unwrap_or("").trim();
            if section == "[admin]" && key == "listen" {
                return "listen = \"127.0.0.1:0\"".to_owned();
            }
            if section != "[server]" {
                return line.to_owned();
            }
            let value = match key {
                "listen" => "\"127.0.0.1:0\"".to_owned(),
                "public_url" => format!("{public_url:?}"),
                "data_dir" => format!("{:?}", data_dir.display().to_string()),
                _ => return line.to_owned(),
            };
            replaced += 1;
            format!("{key} = {value}")
        })
        .collect();
    assert_eq!(
        replaced, 3,
        "the starter's [server] should have one listen, public_url and data_dir line each"
    );
    lines.join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_signs_in_to_the_whoami_page_and_scripts_cannot_read_the_session_cookie() {
    let gateway = ProtectedGateway::start_with(starter).await;
    let chromium = Chromium::start().await;
    let browser = chromium.client.clone();
    let start = gateway.url("/hello?from=chromium");

    within(Duration::from_secs(90), "the real-browser sign-in", async {
        browser.goto(&start).await.expect("open the whoami page");

        // Sent to the login form of the gateway's own flow.
        let username = browser
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css("input[name=username]"))
            .await
            .expect("the login form");
        let url = browser.current_url().await.expect("URL");
        assert_eq!(url.path(), "/oauth2/authorize", "{url}");
        username.send_keys(DEMO_USER).await.expect("type the user");
        browser
            .find(Locator::Css("input[name=password]"))
            .await
            .expect("password field")
            .send_keys(DEMO_PASSWORD)
            .await
            .expect("type the password");
        browser
            .find(Locator::Css(
                "form[action='/oauth2/login'] button[type=submit]",
            ))
            .await
            .expect("the sign-in button")
            .click()
            .await
            .expect("submit");

        // Back at the first URL, path and query, through the callback.
        let mut landed = None;
        for _ in 0..200 {
            let url = browser.current_url().await.expect("URL");
            if url.path() == "/hello" {
                landed = Some(url);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let url = landed.unwrap_or_else(|| panic!("never got back to /hello"));
        assert_eq!(url.query(), Some("from=chromium"));
        assert_eq!(url.host_str(), Some("localhost"));

        // The whoami page shows who the upstream was told the user is.
        let source = browser.source().await.expect("page source");
        assert!(source.contains("whoami"), "not the whoami page: {source}");
        assert!(source.contains("x-auth-user"), "{source}");
        assert!(
            source.contains(&format!("<td>{DEMO_USER}</td>")),
            "X-Auth-User is not the demo user: {source}"
        );
        assert!(source.contains("x-auth-client"), "{source}");

        // The session cookie is there, and no script can read it.
        let cookies = browser.get_all_cookies().await.expect("cookies");
        let session = cookies
            .iter()
            .find(|c| c.name() == SESSION_COOKIE)
            .unwrap_or_else(|| panic!("no session cookie in the browser: {cookies:?}"));
        assert_eq!(session.http_only(), Some(true));
        assert_eq!(session.secure(), Some(true));
        assert_eq!(session.path(), Some("/"));
        let visible = browser
            .execute("return document.cookie;", vec![])
            .await
            .expect("run a script");
        let visible = visible.as_str().expect("document.cookie is a string");
        assert!(
            !visible.contains(SESSION_COOKIE) && !visible.contains("__Host-authgate"),
            "a script can read the gateway's cookies: {visible:?}"
        );
        assert!(!visible.contains(session.value()), "{visible:?}");
    })
    .await;

    chromium.quit().await;
}

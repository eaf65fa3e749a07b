//! Passkeys in a real browser (contract §9): headless Chromium with a virtual authenticator
//! (WebDriver's WebAuthn extension, `support::webauthn`), against the gateway at
//! `https://localhost:PORT` (an IP address cannot be a relying-party id). A passkey is
//! registered on the enrolment page of a route with `mfa = true`, then signs in as the
//! second factor after the password and on its own (the user name first); the one script
//! runs under `script-src 'self'`, the options come in a JSON block and the answer goes
//! back by a form post; a passwordless answer posted again (same browser binding, same CSRF
//! token) is refused, its ceremony used up; with the authenticator's user verification
//! failing, the passwordless sign-in (UV required) is refused, by the browser and, when the
//! page's options are changed not to ask for it, by the gateway; the code page shown again
//! offers the same ceremony; the account page lists the
//! passkey, adds one and removes it; the access tokens of a passkey sign-in carry `amr`
//! `["pwd","hwk","mfa"]` (after the password) or `["hwk","mfa"]` (without one), `acr` 2fa.
//!
//! Every wait is bounded: `navigator.credentials.create` never settles without an
//! authenticator, so a missing one shows as a timeout here, not a hang.

use std::time::Duration;

use fantoccini::{Client, Locator};
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::protected::{protected, ProtectedGateway, ALICE, BOB, USER_PASSWORD};
use crate::support::webauthn::VirtualAuthenticator;
use crate::support::webdriver::Chromium;
use crate::support::{within, TestUpstream};

const WAIT: Duration = Duration::from_secs(20);

async fn gateway(app: &TestUpstream) -> ProtectedGateway {
    let route = protected("/app/", &app.url(), "session", &["app"]).set("mfa", "true");
    let plain = protected("/plain/", &app.url(), "session", &["app"]);
    ProtectedGateway::start(vec![route, plain], "[mfa]\npasskeys = true\n").await
}

async fn element(browser: &Client, css: &str) -> fantoccini::elements::Element {
    match browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
    {
        Ok(found) => found,
        Err(err) => {
            let url = browser.current_url().await.map(|u| u.to_string());
            let status = browser
                .execute(
                    "const s = document.getElementById('passkey-status'); \
                     const a = document.querySelector('.alert'); \
                     return [s ? s.textContent : null, a ? a.textContent : null];",
                    vec![],
                )
                .await
                .ok();
            panic!("no {css} on the page ({err}); at {url:?}: status and alert {status:?}");
        }
    }
}

/// Waits until the browser is at `path` (bounded).
async fn arrive(browser: &Client, path: &str) -> url::Url {
    for _ in 0..200 {
        let url = browser.current_url().await.expect("URL");
        if url.path() == path {
            return url;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let url = browser.current_url().await.expect("URL");
    let text = browser.source().await.unwrap_or_default();
    panic!("never got to {path}; at {url}: {text}");
}

/// From the login page, "Sign in with a passkey", then `user`'s name.
async fn passwordless_start(browser: &Client, user: &str) {
    element(browser, "#passkey-sign-in")
        .await
        .click()
        .await
        .expect("passkey link");
    let username = element(browser, "input[name=username]").await;
    username.send_keys(user).await.expect("type the user");
    username.send_keys("\n").await.expect("submit");
}

/// Types the user name and the password into the login page.
async fn password_step(browser: &Client, user: &str) {
    element(browser, "input[name=password]").await;
    let username = element(browser, "input[name=username]").await;
    username.send_keys(user).await.expect("type the user");
    let password = element(browser, "input[name=password]").await;
    password.send_keys(USER_PASSWORD).await.expect("type it");
    password.send_keys("\n").await.expect("submit");
}

async fn run(browser: &Client, script: &str) -> Value {
    browser
        .execute(script, vec![])
        .await
        .unwrap_or_else(|err| panic!("script failed: {err}"))
}

/// The passkey part of the page: its script is the one external file, its options a JSON
/// data block (not run).
async fn assert_passkey_part(browser: &Client) {
    let scripts = run(
        browser,
        "return Array.from(document.scripts).map(s => s.src ? 'src:' + new URL(s.src).pathname : 'type:' + s.type);",
    )
    .await;
    assert_eq!(
        scripts,
        serde_json::json!(["type:application/json", "src:/oauth2/assets/passkey.js"])
    );
}

/// Clicks the passkey button; the page's script asks the authenticator and posts.
async fn use_passkey(browser: &Client) {
    element(browser, "#passkey-go")
        .await
        .click()
        .await
        .expect("click the passkey button");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_registers_a_passkey_then_signs_in_with_it_after_the_password_and_without_one() {
    let app = TestUpstream::echo("app").await;
    let gateway = gateway(&app).await;
    let chromium = Chromium::start().await;
    let browser = chromium.client.clone();
    let key = VirtualAuthenticator::add(&browser).await;

    within(Duration::from_secs(150), "the passkey journeys", async {
        // 1. The enrolment page of a route with mfa = true: a passkey instead of TOTP.
        browser
            .goto(&gateway.url("/app/hello?from=passkey"))
            .await
            .expect("open the app");
        password_step(&browser, ALICE).await;
        element(&browser, "#otpauth-uri").await;
        assert_passkey_part(&browser).await;
        element(&browser, "#passkey-name")
            .await
            .send_keys("Virtual key")
            .await
            .expect("name the key");
        use_passkey(&browser).await;
        let shown = element(&browser, "ul.recovery-codes").await;
        let codes = shown.find_all(Locator::Css("li")).await.expect("the codes");
        assert_eq!(codes.len(), 10, "recovery codes, once");
        element(&browser, "a.button")
            .await
            .click()
            .await
            .expect("continue");
        let url = arrive(&browser, "/app/hello").await;
        assert_eq!(url.query(), Some("from=passkey"));
        assert_eq!(app.last().header("x-auth-user"), Some(ALICE));
        let held = key.credentials(&browser).await;
        assert_eq!(held.len(), 1, "{held:?}");
        assert_eq!(held[0]["rpId"], "localhost");

        // 2. The passkey as the second factor after the password.
        browser
            .delete_all_cookies()
            .await
            .expect("forget the sessions");
        browser
            .goto(&gateway.url("/app/second"))
            .await
            .expect("open the app");
        password_step(&browser, ALICE).await;
        element(&browser, "input#code").await;
        assert_passkey_part(&browser).await;
        // The page shown again offers the same ceremony (nothing new is stored).
        let offered = "return [document.querySelector('input[name=ceremony]').value, \
                       JSON.parse(document.getElementById('webauthn-options').textContent) \
                         .publicKey.challenge];";
        let first = run(&browser, offered).await;
        browser.refresh().await.expect("reload the page");
        element(&browser, "input#code").await;
        assert_eq!(run(&browser, offered).await, first, "the same ceremony");
        use_passkey(&browser).await;
        arrive(&browser, "/app/second").await;
        assert_eq!(app.last().header("x-auth-user"), Some(ALICE));
        let counter = key.credentials(&browser).await[0]["signCount"].as_u64();

        // 3. Without a password: the user name, then the passkey (UV required); no second
        // step follows on the mfa route.
        browser
            .delete_all_cookies()
            .await
            .expect("forget the sessions");
        browser
            .goto(&gateway.url("/app/alone"))
            .await
            .expect("open the app");
        passwordless_start(&browser, ALICE).await;
        element(&browser, "#webauthn-options").await;
        assert_passkey_part(&browser).await;
        // What the form posts, kept for a replay below, and this browser's binding.
        run(
            &browser,
            "const submit = HTMLFormElement.prototype.submit; \
             HTMLFormElement.prototype.submit = function () { \
               localStorage.setItem('posted', JSON.stringify([...new FormData(this)])); \
               return submit.call(this); };",
        )
        .await;
        let binding = browser
            .get_named_cookie("__Host-authgate-csrf")
            .await
            .expect("the pre-login cookie")
            .value()
            .to_owned();
        use_passkey(&browser).await;
        arrive(&browser, "/app/alone").await;
        assert_eq!(app.last().header("x-auth-user"), Some(ALICE));
        let later = key.credentials(&browser).await[0]["signCount"].as_u64();
        assert!(
            later > counter,
            "the counter advanced: {counter:?} -> {later:?}"
        );

        // 4. The same answer posted again, from the same binding with the same CSRF token:
        // refused, its ceremony used up, and nobody is signed in.
        let posted = run(&browser, "return localStorage.getItem('posted');").await;
        let posted: Vec<(String, String)> =
            serde_json::from_str(posted.as_str().expect("the posted form")).expect("pairs");
        assert!(posted
            .iter()
            .any(|(k, v)| k == "credential" && v.contains("authenticatorData")));
        let replay = gateway.browser();
        replay.add_cookie(&format!("__Host-authgate-csrf={binding}; Secure; Path=/"));
        let fields: Vec<(&str, &str)> = posted
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let again = replay.post("/oauth2/passkey/finish", &fields).await;
        assert_eq!(again.status, StatusCode::OK, "{again:?}");
        assert!(
            again.body.contains("The passkey was not accepted."),
            "{again:?}"
        );
        assert!(replay.cookie("__Host-authgate-login").is_none());

        // 5. User verification fails: the passwordless sign-in is refused by the browser,
        // and nothing is signed in.
        key.set_user_verified(&browser, false).await;
        browser
            .delete_all_cookies()
            .await
            .expect("forget the sessions");
        browser
            .goto(&gateway.url("/app/refused"))
            .await
            .expect("open the app");
        passwordless_start(&browser, ALICE).await;
        use_passkey(&browser).await;
        let mut status = String::new();
        for _ in 0..200 {
            status = element(&browser, "#passkey-status")
                .await
                .text()
                .await
                .unwrap_or_default();
            if status.contains("NotAllowedError") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(status.contains("NotAllowedError"), "{status}");
        assert_eq!(
            browser.current_url().await.expect("URL").path(),
            "/oauth2/passkey"
        );
        browser
            .goto(&gateway.url("/app/refused"))
            .await
            .expect("open the app");
        element(&browser, "input[name=password]").await;

        // 6. The same, with the page's options changed so that the browser does not ask
        // for user verification: the assertion comes back without it, and the gateway
        // refuses it itself (UV required for passwordless).
        passwordless_start(&browser, ALICE).await;
        element(&browser, "#webauthn-options").await;
        run(
            &browser,
            "const block = document.getElementById('webauthn-options'); \
             const options = JSON.parse(block.textContent); \
             options.publicKey.userVerification = 'discouraged'; \
             block.textContent = JSON.stringify(options);",
        )
        .await;
        use_passkey(&browser).await;
        arrive(&browser, "/oauth2/passkey/finish").await;
        let refused = element(&browser, ".alert").await;
        let text = refused.text().await.unwrap_or_default();
        assert!(text.contains("The passkey was not accepted."), "{text}");
        assert!(browser
            .get_named_cookie("__Host-authgate-login")
            .await
            .is_err());
    })
    .await;
    chromium.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_adds_and_removes_a_passkey_on_the_account_page() {
    let app = TestUpstream::echo("app").await;
    let gateway = gateway(&app).await;
    let chromium = Chromium::start().await;
    let browser = chromium.client.clone();
    let key = VirtualAuthenticator::add(&browser).await;

    within(Duration::from_secs(120), "the account page", async {
        // Bob needs no second factor: the password alone opens the page.
        browser
            .goto(&gateway.url("/oauth2/account"))
            .await
            .expect("open the account page");
        password_step(&browser, BOB).await;
        arrive(&browser, "/oauth2/account").await;
        element(&browser, "#no-factor").await;
        assert_passkey_part(&browser).await;
        element(&browser, "#passkey-name")
            .await
            .send_keys("Desk key")
            .await
            .expect("name the key");
        use_passkey(&browser).await;
        // The first factor: the recovery codes, once, then back to the page.
        let shown = element(&browser, "ul.recovery-codes").await;
        assert_eq!(
            shown
                .find_all(Locator::Css("li"))
                .await
                .expect("codes")
                .len(),
            10
        );
        element(&browser, "a.button")
            .await
            .click()
            .await
            .expect("continue");
        arrive(&browser, "/oauth2/account").await;
        let listed = element(&browser, "li.factor-passkey")
            .await
            .text()
            .await
            .expect("text");
        assert!(listed.contains("Desk key"), "{listed}");
        assert_eq!(key.credentials(&browser).await.len(), 1);

        // The next sign-in of bob on a plain route asks for that passkey.
        browser
            .delete_all_cookies()
            .await
            .expect("forget the sessions");
        browser.goto(&gateway.url("/plain/x")).await.expect("open");
        password_step(&browser, BOB).await;
        use_passkey(&browser).await;
        arrive(&browser, "/plain/x").await;
        let login = browser
            .get_named_cookie("__Host-authgate-login")
            .await
            .expect("the login session")
            .value()
            .to_owned();
        let claims = token_claims_of_login(&gateway, &login).await;
        assert_eq!(
            claims["amr"],
            serde_json::json!(["pwd", "hwk", "mfa"]),
            "{claims}"
        );
        assert_eq!(claims["acr"], "urn:authgate:2fa", "{claims}");

        // Without a password: the tokens of that sign-in say how (amr hwk and mfa: a key
        // bound to its authenticator, which verified the user).
        browser
            .delete_all_cookies()
            .await
            .expect("forget the sessions");
        browser
            .goto(&gateway.url("/plain/alone"))
            .await
            .expect("open");
        element(&browser, "#passkey-sign-in")
            .await
            .click()
            .await
            .expect("passkey link");
        let username = element(&browser, "input[name=username]").await;
        username.send_keys(BOB).await.expect("type the user");
        username.send_keys("\n").await.expect("submit");
        use_passkey(&browser).await;
        arrive(&browser, "/plain/alone").await;
        let login = browser
            .get_named_cookie("__Host-authgate-login")
            .await
            .expect("the login session")
            .value()
            .to_owned();
        let claims = token_claims_of_login(&gateway, &login).await;
        assert_eq!(claims["sub"], BOB);
        assert_eq!(claims["amr"], serde_json::json!(["hwk", "mfa"]), "{claims}");
        assert_eq!(claims["acr"], "urn:authgate:2fa", "{claims}");

        // Removed on the account page (the sign-in is fresh): gone from the list, and the
        // next sign-in asks for no second factor.
        browser
            .goto(&gateway.url("/oauth2/account"))
            .await
            .expect("open the account page");
        let remove = element(&browser, "li.factor-passkey button").await;
        remove.click().await.expect("remove");
        element(&browser, "#no-factor").await;
        browser
            .delete_all_cookies()
            .await
            .expect("forget the sessions");
        browser.goto(&gateway.url("/plain/y")).await.expect("open");
        password_step(&browser, BOB).await;
        arrive(&browser, "/plain/y").await;
        assert_eq!(app.last().header("x-auth-user"), Some(BOB));
    })
    .await;
    chromium.quit().await;
}

#[tokio::test]
async fn only_pages_with_a_passkey_part_allow_the_one_script() {
    let app = TestUpstream::echo("app").await;
    let gateway = gateway(&app).await;
    let browser = gateway.browser();
    let csp = |page: &crate::support::browser::Page| {
        page.header("content-security-policy")
            .unwrap_or("")
            .to_owned()
    };

    // The login page: no script, and a link to passwordless sign-in.
    let mut page = browser.get("/app/").await;
    while !page.is_login() {
        page = browser.follow(&page).await;
    }
    assert!(!csp(&page).contains("script-src"), "{}", csp(&page));
    assert!(page.body.contains("id=\"passkey-sign-in\""));

    // The enrolment page of a route with mfa = true carries a registration: the script is
    // allowed there, from this origin only.
    let signed = browser.sign_in(&page, ALICE, USER_PASSWORD).await;
    let enrol = browser.follow(&signed).await;
    assert!(enrol.body.contains("id=\"webauthn-options\""), "{enrol:?}");
    let policy = csp(&enrol);
    assert!(policy.contains("script-src 'self'") && policy.contains("default-src 'none'"));
    assert!(!policy.contains("unsafe-inline") && !policy.contains("connect-src"));

    let script = gateway
        .api()
        .get(gateway.url("/oauth2/assets/passkey.js"))
        .send()
        .await
        .expect("the script");
    assert_eq!(script.status(), StatusCode::OK);
    let headers = script.headers().clone();
    assert_eq!(headers["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let text = script.text().await.expect("text");
    assert!(text.contains("parseCreationOptionsFromJSON") && !text.contains("fetch("));

    // Passwordless for a name without a passkey, or no such user: nothing tells them
    // apart. Each name gets, every time, either the passkey page with the same credential
    // ids (decoys: no authenticator holds them) or the page saying there is none.
    let fresh = gateway.browser();
    let mut page = fresh.get("/app/").await;
    while !page.is_login() {
        page = fresh.follow(&page).await;
    }
    let request = page.hidden("request").expect("request");
    let query = format!("/oauth2/passkey?request={}", urlencode(&request));
    let ask = fresh.get(&query).await;
    assert_eq!(ask.status, StatusCode::OK, "{ask:?}");
    let csrf = ask.hidden("csrf").expect("csrf");
    let start = |name: &'static str| {
        let fields = [
            ("csrf", csrf.clone()),
            ("request", request.clone()),
            ("username", name.to_owned()),
        ];
        let fresh = &fresh;
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            fresh.post("/oauth2/passkey", &fields).await
        }
    };
    let mut answers = Vec::new();
    for name in [BOB, "nobody", BOB, "nobody"] {
        let answer = start(name).await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        let offered = allowed_credentials(&answer.body);
        let none_said = answer
            .body
            .contains("There is no passkey for that user name");
        assert!(
            offered.is_some() != none_said,
            "one or the other: {answer:?}"
        );
        answers.push(offered);
    }
    assert_eq!(answers[0], answers[2], "the same ids for bob every time");
    assert_eq!(answers[1], answers[3], "the same ids for nobody every time");
    // Starts are throttled per peer: the sixth within the window waits, with Retry-After.
    let _fifth = start("carol").await;
    let held = start("dave").await;
    assert_eq!(held.status, StatusCode::TOO_MANY_REQUESTS, "{held:?}");
    assert_eq!(held.header("retry-after"), Some("1"));
    assert!(held.body.contains("Too many sign-in attempts"), "{held:?}");
    assert!(!held.body.contains("webauthn-options"));
    gateway.advance(2);
    let later = start("dave").await;
    assert_eq!(later.status, StatusCode::OK, "{later:?}");
    // A forged form (no CSRF token of this browser) goes back to the login page.
    let forged = fresh
        .post(
            "/oauth2/passkey",
            &[("csrf", "x"), ("request", &request), ("username", ALICE)],
        )
        .await;
    assert!(forged.is_login(), "{forged:?}");
}

#[tokio::test]
async fn without_passkeys_configured_their_pages_do_not_exist() {
    let app = TestUpstream::echo("app").await;
    let route = protected("/app/", &app.url(), "session", &["app"]);
    let gateway = ProtectedGateway::start(vec![route], "").await;
    let browser = gateway.browser();
    let page = browser.get("/oauth2/passkey?request=x").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND, "{page:?}");
    let mut login = browser.get("/app/").await;
    while !login.is_login() {
        login = browser.follow(&login).await;
    }
    assert!(!login.body.contains("passkey"), "{login:?}");
}

/// The claims of an access token issued to the first-party client for the login session
/// `login` (its cookie value), through the code flow with PKCE.
async fn token_claims_of_login(gateway: &ProtectedGateway, login: &str) -> Value {
    use crate::support::protected::{PORTAL, PORTAL_REDIRECT};
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use sha2::{Digest, Sha256};

    let verifier = "a-verifier-of-more-than-forty-three-characters-0123456789";
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", PORTAL)
        .append_pair("redirect_uri", PORTAL_REDIRECT)
        .append_pair("scope", "app")
        .append_pair("state", "s1")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let browser = gateway.browser();
    browser.add_cookie(&format!("__Host-authgate-login={login}; Secure; Path=/"));
    let page = browser.get(&format!("/oauth2/authorize?{query}")).await;
    let location = page
        .location()
        .unwrap_or_else(|| panic!("no code: {page:?}"));
    let url = reqwest::Url::parse(&location).expect("redirect URL");
    assert!(location.starts_with(PORTAL_REDIRECT), "{location}");
    let code = url
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code");
    let answer: Value = gateway
        .api()
        .post(gateway.url("/oauth2/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", PORTAL_REDIRECT),
            ("client_id", PORTAL),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("token JSON");
    let token = answer["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"));
    crate::support::oauth::jwt_claims(token)
}

/// The credential ids a passkey page offers (`allowCredentials` of its options), if it is
/// one.
fn allowed_credentials(body: &str) -> Option<Vec<String>> {
    let (_, rest) = body.split_once("id=\"webauthn-options\"")?;
    let (_, rest) = rest.split_once('>')?;
    let (json, _) = rest.split_once("</script>")?;
    let options: Value = serde_json::from_str(json).ok()?;
    let ids = options["publicKey"]["allowCredentials"].as_array()?;
    Some(
        ids.iter()
            .filter_map(|c| c["id"].as_str().map(str::to_owned))
            .collect(),
    )
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

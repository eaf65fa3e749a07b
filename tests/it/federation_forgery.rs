//! Forged and replayed answers from providers, each refused with an error page and no session
//! (issue 15: "accepted once and only by the browser that started it", mix-up defence, RFC
//! 9207): a callback carried to another browser, a callback opened twice (also with the flow
//! cookie kept aside), a code of one provider brought to another's callback, a flow of one
//! provider answered on another's callback, an ID token for another nonce, an `iss` naming the
//! other provider (or missing where it is promised), and the provider's own error answer.
//! Two real providers (support/idp.rs) run side by side; a provider without RFC 9207 still
//! signs people in.

use reqwest::StatusCode;

use crate::support::browser::{Browser, Page};
use crate::support::federated::{
    back_at_gateway, example_accounts, has_session, leave_for_provider, login_page, oidc_provider,
    query_param, with_param, Federation,
};
use crate::support::idp::{Idp, IdpSettings};
use crate::support::protected::protected;
use crate::support::TestUpstream;

const CORP: &str = "Corp SSO";
const OTHER: &str = "Other IdP";
const GATES: &str = "allow_email_domains = [\"example.com\"]\ngrant_scopes = [\"app\"]\n";

fn accounts() -> IdpSettings {
    example_accounts()
}

struct Setup {
    corp: Idp,
    other: Idp,
    app: TestUpstream,
    fed: Federation,
}

async fn setup_with(corp: IdpSettings) -> Setup {
    let mut corp = Idp::start(corp).await;
    let mut other = Idp::start(accounts()).await;
    let app = TestUpstream::echo("app").await;
    let routes = vec![protected("/app/", &app.url(), "session", &["app"])];
    let providers = format!(
        "{}{}",
        oidc_provider("corp", CORP, &corp, GATES),
        oidc_provider("other", OTHER, &other, GATES)
    );
    let fed = Federation::start(
        routes,
        &providers,
        &mut [("corp", &mut corp), ("other", &mut other)],
    )
    .await;
    Setup {
        corp,
        other,
        app,
        fed,
    }
}

async fn setup() -> Setup {
    setup_with(accounts()).await
}

impl Setup {
    /// A browser sent to the provider `name` from the app's sign-in: the authorization URL.
    async fn to_provider(&self, browser: &Browser, name: &str) -> String {
        let login = login_page(browser, "/app/").await;
        leave_for_provider(browser, &login, name).await
    }

    /// A browser through the provider `name` as `sub`, stopped at the callback (not opened).
    async fn callback(&self, browser: &Browser, name: &str, sub: &str) -> String {
        let at = self.to_provider(browser, name).await;
        let idp = if name == CORP {
            &self.corp
        } else {
            &self.other
        };
        idp.sign_in(browser, &at, sub).await
    }
}

/// An error page of the gateway: a 4xx (or 502 for what the provider answered) HTML page, no
/// redirect, and no session in the browser.
fn assert_refused(browser: &Browser, page: &Page, what: &str) {
    assert!(
        page.status.is_client_error() || page.status == StatusCode::BAD_GATEWAY,
        "{what}: not refused: {page:?}"
    );
    assert!(page.location().is_none(), "{what}: a redirect: {page:?}");
    assert!(page.is_html(), "{what}: {page:?}");
    assert!(!has_session(browser), "{what}: a session was made");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_carried_to_another_browser_is_refused_and_spoils_nothing() {
    let s = setup().await;
    let victim = s.fed.browser();
    let attacker = s.fed.browser();
    // The attacker has a sign-in of its own under way (its own flow cookie).
    let _ = s.to_provider(&attacker, CORP).await;
    let callback = s.callback(&victim, CORP, "alice-sub").await;

    let page = attacker.get(&callback).await;
    assert_refused(
        &attacker,
        &page,
        "the victim's callback in the attacker's browser",
    );
    // And in a browser with no flow at all.
    let stranger = s.fed.browser();
    let page = stranger.get(&callback).await;
    assert_refused(&stranger, &page, "the victim's callback in a third browser");
    assert_eq!(s.app.hits(), 0);

    // The victim's own sign-in is not spoiled by the attempts.
    let journey = back_at_gateway(&victim, &callback).await;
    assert_eq!(
        journey.last.echoed().header("x-auth-user"),
        Some("corp:alice-sub")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_opened_twice_is_refused_the_second_time() {
    let s = setup().await;
    let browser = s.fed.browser();
    let callback = s.callback(&browser, CORP, "alice-sub").await;
    // The flow cookie, kept aside as a thief would.
    let flow: Vec<(String, String)> = browser
        .cookie_names()
        .into_iter()
        .filter(|n| n.starts_with(authgate::gateway_paths::FEDERATION_FLOW_COOKIE_PREFIX))
        .filter_map(|n| browser.cookie(&n).map(|v| (n, v)))
        .collect();
    assert_eq!(
        flow.len(),
        1,
        "one flow cookie: {:?}",
        browser.cookie_names()
    );

    let journey = back_at_gateway(&browser, &callback).await;
    assert_eq!(
        journey.last.echoed().header("x-auth-user"),
        Some("corp:alice-sub")
    );
    let hits = s.app.hits();

    // Again, in the same browser: refused (it holds a session already; the callback is spent).
    let again = browser.get(&callback).await;
    assert!(
        again.status.is_client_error() || again.status == StatusCode::BAD_GATEWAY,
        "a replayed callback was accepted: {again:?}"
    );
    assert!(again.location().is_none(), "{again:?}");

    // Again, in a fresh browser given the kept flow cookie: refused, no session.
    let thief = s.fed.browser();
    for (name, value) in &flow {
        thief.add_cookie(&format!("{name}={value}; Path=/; Secure; HttpOnly"));
    }
    let page = thief.get(&callback).await;
    assert_refused(
        &thief,
        &page,
        "the callback replayed with the kept flow cookie",
    );
    assert_eq!(s.app.hits(), hits);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_from_another_provider_is_refused() {
    let s = setup().await;
    let browser = s.fed.browser();
    // Two flows in one browser: one to corp (its callback withheld), one to the other
    // provider, whose code is then brought to corp's callback with corp's state and iss.
    let to_corp = s.to_provider(&browser, CORP).await;
    let corp_state = query_param(&to_corp, "state").expect("state");
    let other_callback = s.callback(&browser, OTHER, "alice-sub").await;
    let other_code = query_param(&other_callback, "code").expect("code");

    let forged = format!(
        "{}?code={}&state={}&iss={}",
        s.fed.callback_uri("corp"),
        urlencode(&other_code),
        urlencode(&corp_state),
        urlencode(&s.corp.issuer())
    );
    let page = browser.get(&forged).await;
    assert_refused(
        &browser,
        &page,
        "another provider's code on corp's callback",
    );

    // The other provider's whole answer on corp's callback (its flow went elsewhere).
    let mixed =
        other_callback.replacen(&s.fed.callback_uri("other"), &s.fed.callback_uri("corp"), 1);
    let page = browser.get(&mixed).await;
    assert_refused(
        &browser,
        &page,
        "another provider's answer on corp's callback",
    );
    assert_eq!(s.app.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_token_for_another_nonce_is_refused() {
    let s = setup().await;
    let browser = s.fed.browser();
    let to_corp = s.to_provider(&browser, CORP).await;
    assert!(query_param(&to_corp, "nonce").is_some(), "{to_corp}");
    // The request reaches the provider with another nonce; everything else is the gateway's.
    let altered = with_param(&to_corp, "nonce", Some("a-nonce-the-gateway-never-sent"));
    let callback = s.corp.sign_in(&browser, &altered, "alice-sub").await;
    let page = browser.get(&callback).await;
    assert_refused(&browser, &page, "an ID token with another nonce");
    assert_eq!(s.app.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iss_naming_the_other_provider_or_missing_is_refused() {
    let s = setup().await;
    let browser = s.fed.browser();
    let callback = s.callback(&browser, CORP, "alice-sub").await;
    assert_eq!(query_param(&callback, "iss"), Some(s.corp.issuer()));

    let forged = with_param(&callback, "iss", Some(&s.other.issuer()));
    let page = browser.get(&forged).await;
    assert_refused(&browser, &page, "iss of the other provider");
    // The provider promises iss (RFC 9207 in its discovery): an answer without it is refused.
    let browser = s.fed.browser();
    let callback = s.callback(&browser, CORP, "bob-sub").await;
    let stripped = with_param(&callback, "iss", None);
    let page = browser.get(&stripped).await;
    assert_refused(&browser, &page, "no iss from a provider that sends it");
    assert_eq!(s.app.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_providers_error_answer_is_a_page_not_a_loop() {
    let s = setup().await;
    let browser = s.fed.browser();
    let to_corp = s.to_provider(&browser, CORP).await;
    let state = query_param(&to_corp, "state").expect("state");
    let denied = format!(
        "{}?error=access_denied&error_description=End-User+aborted&state={}&iss={}",
        s.fed.callback_uri("corp"),
        urlencode(&state),
        urlencode(&s.corp.issuer())
    );
    let page = browser.get(&denied).await;
    assert_refused(&browser, &page, "the provider's access_denied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_without_rfc_9207_iss_still_signs_people_in() {
    let s = setup_with(accounts().without_iss()).await;
    let browser = s.fed.browser();
    let callback = s.callback(&browser, CORP, "alice-sub").await;
    assert_eq!(query_param(&callback, "iss"), None, "{callback}");
    let journey = back_at_gateway(&browser, &callback).await;
    assert_eq!(
        journey.last.echoed().header("x-auth-user"),
        Some("corp:alice-sub")
    );
}

fn urlencode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

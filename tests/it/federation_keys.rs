//! The provider's side changing under a running gateway: a key rotation at the real provider
//! (restarted with a new signing key on the same port) picked up without restarting the
//! gateway, once the unknown-`kid` refetch interval allows; and a provider that is down: a
//! clear error page for its button while local users still sign in with their password, the
//! provider's return picked up, `check` and `serve` warning about it at start-up and serving
//! all the same, with no secret in what they print.

use std::time::Duration;

use authgate::federation::jwks::REFETCH_INTERVAL_SECS;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::federated::{
    example_accounts, follow_within, has_session, login_page, oidc_provider, sign_in_with_idp,
    Federation,
};
use crate::support::fixture::PASSWORD;
use crate::support::idp::{Idp, IdpSettings, CLIENT_SECRET};
use crate::support::protected::{protected, ALICE};
use crate::support::{authgate, GatewayBuilder, GatewayProcess, TestUpstream};

const CORP: &str = "Corp SSO";
const GATES: &str = "allow_email_domains = [\"example.com\"]\ngrant_scopes = [\"app\"]\n";

fn accounts() -> IdpSettings {
    example_accounts()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotation_at_the_provider_is_picked_up_without_a_gateway_restart() {
    let mut idp = Idp::start(accounts().kid("k1")).await;
    let app = TestUpstream::echo("app").await;
    let routes = vec![protected("/app/", &app.url(), "session", &["app"])];
    let providers = oidc_provider("corp", CORP, &idp, GATES);
    let fed = Federation::start(routes, &providers, &mut [("corp", &mut idp)]).await;

    let first = fed.browser();
    let signed = sign_in_with_idp(&first, &idp, "/app/", CORP, "alice-sub").await;
    assert_eq!(
        signed.journey.last.echoed().header("x-auth-user"),
        Some("corp:alice-sub")
    );

    // The provider now signs with a key the gateway has never seen.
    idp.rotate_key("k2").await;
    assert_eq!(idp.jwks().await["keys"][0]["kid"], json!("k2"));
    // The gateway refetches the JWKS for an unknown kid at most every REFETCH_INTERVAL_SECS
    // (its own clock, which this test moves instead of sleeping).
    fed.gateway.advance(REFETCH_INTERVAL_SECS + 1);

    let browser = fed.browser();
    let signed = sign_in_with_idp(&browser, &idp, "/app/", CORP, "bob-sub").await;
    assert_eq!(
        signed.journey.last.echoed().header("x-auth-user"),
        Some("corp:bob-sub"),
        "{:#?}",
        signed.journey.steps
    );
    // The session made before the rotation is the gateway's own and still good.
    let page = first.get("/app/again").await;
    assert_eq!(page.echoed().header("x-auth-user"), Some("corp:alice-sub"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_is_down_gets_a_clear_page_and_local_users_still_sign_in() {
    let mut idp = Idp::start(accounts()).await;
    idp.stop();
    let app = TestUpstream::echo("app").await;
    let routes = vec![protected("/app/", &app.url(), "session", &["app"])];
    let providers = oidc_provider("corp", CORP, &idp, GATES);
    let fed = Federation::start(routes, &providers, &mut []).await;

    // Its button leads to a page saying the provider cannot be reached: no redirect to it,
    // no hang.
    let browser = fed.browser();
    let login = login_page(&browser, "/app/").await;
    assert!(login.body.contains("Sign in with Corp SSO"), "{login:?}");
    let control = crate::support::federated::provider_control(&login, CORP).expect("button");
    let url = crate::support::idp::resolve(&login.url, &control.url);
    let page = crate::support::within(Duration::from_secs(30), "the button's answer", async {
        follow_within(&browser, browser.get(&url).await).await
    })
    .await;
    assert!(
        page.status == StatusCode::BAD_GATEWAY || page.status == StatusCode::SERVICE_UNAVAILABLE,
        "not an unavailable page: {page:?}"
    );
    assert!(page.location().is_none(), "{page:?}");
    assert!(page.is_html(), "{page:?}");
    let text = page.body.to_lowercase();
    assert!(
        text.contains("provider") && (text.contains("reach") || text.contains("unavailable")),
        "the page does not say the provider is down: {}",
        page.body
    );
    assert!(!page.body.contains(CLIENT_SECRET));

    // A local user signs in with the password form as ever.
    let browser = fed.browser();
    let login = login_page(&browser, "/app/local").await;
    let page = browser.sign_in(&login, ALICE, PASSWORD).await;
    let page = follow_within(&browser, page).await;
    assert_eq!(page.echoed().header("x-auth-user"), Some(ALICE));

    // The provider comes back: its people sign in again, the gateway untouched (past any
    // retry interval of its discovery).
    idp.start_again().await;
    fed.gateway.advance(REFETCH_INTERVAL_SECS + 1);
    let browser = fed.browser();
    let uri = fed.callback_uri("corp");
    idp.allow_redirect_uri(crate::support::idp::CLIENT_ID, &uri)
        .await;
    let signed = sign_in_with_idp(&browser, &idp, "/app/", CORP, "alice-sub").await;
    assert_eq!(
        signed.journey.last.echoed().header("x-auth-user"),
        Some("corp:alice-sub"),
        "{:#?}",
        signed.journey.steps
    );
    assert!(has_session(&browser));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_and_serve_warn_about_an_unreachable_provider_and_serve_anyway() {
    let mut idp = Idp::start(accounts()).await;
    idp.stop();
    let provider = oidc_provider("corp", CORP, &idp, GATES);
    let builder = GatewayBuilder::new().toml_section(&provider);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gateway.toml");
    std::fs::write(&config, builder.toml(&dir.path().join("data"))).unwrap();

    let output = authgate(
        dir.path(),
        &["check", "--config", config.to_str().unwrap()],
        &[],
    );
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "check refused it: {printed}");
    assert!(
        printed.contains("corp") || printed.contains(&idp.issuer()),
        "check does not warn about the provider: {printed}"
    );
    assert!(!printed.contains(CLIENT_SECRET), "{printed}");

    // serve starts, says why the provider cannot be used, and answers.
    let gateway = GatewayProcess::start(builder).await;
    let response = crate::support::http_client()
        .get(gateway.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // The provider is asked in the background after the start: its warning may come a
    // little after the first answer (seen on a loaded CI machine). Bounded wait.
    let warned = |gateway: &GatewayProcess| {
        gateway
            .log()
            .iter()
            .any(|l| l.contains("WARN") && (l.contains("corp") || l.contains(&idp.issuer())))
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !warned(&gateway) && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let log = gateway.log().join("\n");
    assert!(warned(&gateway), "no warning naming the provider: {log}");
    assert!(!log.contains(CLIENT_SECRET), "{log}");
}

//! Providers changed by a reload of gateway.toml (issue 15 item 1: "Reload on SIGHUP like
//! the rest"), the file rewritten and reloaded as SIGHUP reloads it: the login page's buttons
//! follow at once; a removed provider's start and callback paths answer a 404 page saying
//! there is no such provider (no redirect); its people's sessions count as none from the
//! next request (a browser is sent to sign in, the route never reached) and count again if
//! the provider is put back before they end; a scope taken out of a provider's
//! `group_scopes` is no longer held by its people's sessions; the other provider's people
//! go on unchanged.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::federated::{login_page, oidc_provider, sign_in_with_idp, Federation};
use crate::support::idp::{Idp, IdpSettings};
use crate::support::protected::protected;
use crate::support::{Route, TestUpstream};

const CORP_GATES: &str =
    "allow_all = true\nscopes = [\"openid\", \"email\", \"groups\"]\ngrant_scopes = [\"app\"]\n";
const GROUP_SCOPES: &str = "[providers.group_scopes]\nops = [\"api:write\"]\n";
const PARTNER_GATES: &str = "allow_all = true\ngrant_scopes = [\"app\"]\n";

fn routes(app: &TestUpstream) -> Vec<Route> {
    vec![
        protected("/app/", &app.url(), "session", &["app"]),
        protected("/write/", &app.url(), "session", &["api:write"]),
    ]
}

/// The providers: corp (named `corp_name`, with its group scopes when `group_scopes`) and,
/// when `partner`, the partner.
fn providers(corp: &Idp, corp_name: &str, group_scopes: bool, partner: Option<&Idp>) -> String {
    let corp_rest = if group_scopes {
        format!("{CORP_GATES}{GROUP_SCOPES}")
    } else {
        CORP_GATES.to_owned()
    };
    let mut text = oidc_provider("corp", corp_name, corp, &corp_rest);
    if let Some(partner) = partner {
        text.push_str(&oidc_provider(
            "partner",
            "Partner Login",
            partner,
            PARTNER_GATES,
        ));
    }
    text
}

fn assert_no_such_provider(page: &crate::support::browser::Page, what: &str) {
    assert_eq!(page.status, StatusCode::NOT_FOUND, "{what}: {page:?}");
    assert!(page.location().is_none(), "{what}: a redirect: {page:?}");
    assert!(page.is_html(), "{what}: {page:?}");
    assert!(
        page.body.contains("There is no such sign-in provider."),
        "{what}: {}",
        page.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_adds_renames_and_removes_providers_and_their_people_follow() {
    let mut corp = Idp::start(IdpSettings::new().account(
        "ops-sub",
        json!({"email": "ops@example.com", "email_verified": true, "groups": ["ops"]}),
    ))
    .await;
    let mut partner = Idp::start(IdpSettings::new().account(
        "pat-sub",
        json!({"email": "pat@partner.org", "email_verified": true}),
    ))
    .await;
    let app = TestUpstream::echo("app").await;
    let fed = Federation::start(
        routes(&app),
        &providers(&corp, "Corp SSO", true, Some(&partner)),
        &mut [("corp", &mut corp), ("partner", &mut partner)],
    )
    .await;

    let pat = fed.browser();
    let signed = sign_in_with_idp(&pat, &partner, "/app/", "Partner Login", "pat-sub").await;
    assert_eq!(
        signed.journey.last.echoed().header("x-auth-user"),
        Some("partner:pat-sub")
    );
    let ops = fed.browser();
    let signed = sign_in_with_idp(&ops, &corp, "/write/", "Corp SSO", "ops-sub").await;
    assert_eq!(
        signed.journey.last.echoed().header("x-auth-user"),
        Some("corp:ops-sub"),
        "the ops group's api:write: {:?}",
        signed.journey.last
    );

    // Partner removed, corp renamed and without its group scopes.
    fed.gateway
        .reload(&routes(&app), &providers(&corp, "Corp Login", false, None))
        .expect("the reload is accepted");

    let login = login_page(&fed.browser(), "/app/").await;
    assert!(
        login.body.contains("Sign in with Corp Login"),
        "{}",
        login.body
    );
    assert!(!login.body.contains("Corp SSO"), "{}", login.body);
    assert!(!login.body.contains("Partner Login"), "{}", login.body);

    let browser = fed.browser();
    let start = browser
        .get("/oauth2/start/partner?request=client_id%3Dauthgate")
        .await;
    assert_no_such_provider(&start, "the removed provider's start");
    let callback = browser
        .get("/oauth2/callback/partner?code=c0de&state=st4te&iss=x")
        .await;
    assert_no_such_provider(&callback, "the removed provider's callback");

    let hits = app.hits();
    // Pat's session counts as none: sent to sign in (where the partner's button is gone).
    // Regression: Pat's login session still counted, so /oauth2/authorize issued a code at
    // once and the callback made a new route session the route refused again: a loop.
    let refused = pat.get("/app/x").await;
    assert_eq!(refused.status, StatusCode::FOUND, "{refused:?}");
    let location = refused.location().expect("a redirect to sign in");
    assert!(location.contains("/oauth2/authorize?"), "{location}");
    let login = pat.follow(&refused).await;
    assert!(login.is_login(), "{login:?}");
    assert!(!login.body.contains("Partner Login"), "{}", login.body);
    // Ops keeps the session, without the scope its group no longer gives.
    let page = ops.get("/app/y").await;
    assert_eq!(
        page.echoed().header("x-auth-user"),
        Some("corp:ops-sub"),
        "{page:?}"
    );
    let hits_after_app = app.hits();
    assert_eq!(hits_after_app, hits + 1);
    let write = ops.get("/write/z").await;
    assert_eq!(write.status, StatusCode::FORBIDDEN, "{write:?}");
    assert_eq!(
        app.hits(),
        hits_after_app,
        "the upstream was reached without api:write"
    );

    // The partner put back: its button returns, and Pat's session (not yet ended) counts again.
    fed.gateway
        .reload(
            &routes(&app),
            &providers(&corp, "Corp Login", true, Some(&partner)),
        )
        .expect("the second reload is accepted");
    let login = login_page(&fed.browser(), "/app/").await;
    assert!(
        login.body.contains("Sign in with Partner Login"),
        "{}",
        login.body
    );
    let page = pat.get("/app/again").await;
    assert_eq!(
        page.echoed().header("x-auth-user"),
        Some("partner:pat-sub"),
        "{page:?}"
    );
    let write = ops.get("/write/again").await;
    assert_eq!(
        write.echoed().header("x-auth-user"),
        Some("corp:ops-sub"),
        "{write:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_the_check_refuses_keeps_the_providers_in_force() {
    let mut corp = Idp::start(IdpSettings::new().account(
        "ops-sub",
        json!({"email": "ops@example.com", "email_verified": true}),
    ))
    .await;
    let app = TestUpstream::echo("app").await;
    let fed = Federation::start(
        routes(&app),
        &providers(&corp, "Corp SSO", false, None),
        &mut [("corp", &mut corp)],
    )
    .await;
    // A provider without any gate (nor allow_all) is refused by `check`, so by a reload.
    let gateless = oidc_provider("other", "Other", &corp, "grant_scopes = [\"app\"]\n");
    let refused = fed
        .gateway
        .reload(
            &routes(&app),
            &format!("{}{gateless}", providers(&corp, "Corp SSO", false, None)),
        )
        .expect_err("a provider without a gate is refused");
    assert!(refused.contains("allow_all"), "{refused}");
    let login = login_page(&fed.browser(), "/app/").await;
    assert!(
        login.body.contains("Sign in with Corp SSO"),
        "{}",
        login.body
    );
    assert!(!login.body.contains("Sign in with Other"), "{}", login.body);
    let browser = fed.browser();
    let signed = sign_in_with_idp(&browser, &corp, "/app/", "Corp SSO", "ops-sub").await;
    assert_eq!(
        signed.journey.last.echoed().header("x-auth-user"),
        Some("corp:ops-sub")
    );
}

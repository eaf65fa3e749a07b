//! Per-route `allow` lists beside scopes (issue 15 item 6): `group:ID/NAME`, `domain:D`,
//! `user:NAME` (a local user or a federated principal) and `provider:ID`; any one entry
//! admits, the route's scopes are still all required, and a person no entry admits gets 403
//! with nothing sent upstream, whether they signed in through a provider or with a password.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::browser::{Browser, Page};
use crate::support::federated::{
    follow_within, login_page, oidc_provider, sign_in_with_idp, Federation,
};
use crate::support::fixture::PASSWORD;
use crate::support::idp::{Idp, IdpSettings};
use crate::support::protected::{protected, ALICE, BOB};
use crate::support::{Route, TestUpstream};

const CORP: &str = "Corp SSO";
const PARTNER: &str = "Partner Login";

fn corp_accounts() -> IdpSettings {
    IdpSettings::new()
        .account(
            "ops-sub",
            json!({"email": "ops@example.com", "email_verified": true, "groups": ["ops"]}),
        )
        .account(
            "dev-sub",
            json!({"email": "dev@example.org", "email_verified": true, "groups": ["dev"]}),
        )
        .account(
            "boss-sub",
            json!({"email": "boss@example.com", "email_verified": false}),
        )
}

fn route(path: &str, upstream: &TestUpstream, scopes: &[&str], allow: &[&str]) -> Route {
    let list: Vec<String> = allow.iter().map(|a| format!("{a:?}")).collect();
    protected(path, &upstream.url(), "session", scopes)
        .set("allow", &format!("[{}]", list.join(", ")))
}

struct Setup {
    corp: Idp,
    partner: Idp,
    app: TestUpstream,
    fed: Federation,
}

async fn setup() -> Setup {
    let mut corp = Idp::start(corp_accounts()).await;
    let mut partner = Idp::start(IdpSettings::new().account(
        "pat-sub",
        json!({"email": "pat@partner.org", "email_verified": true}),
    ))
    .await;
    let app = TestUpstream::echo("app").await;
    let routes = vec![
        route("/grafana/", &app, &["app"], &["group:corp/ops"]),
        route("/wiki/", &app, &["app"], &["domain:example.com"]),
        route(
            "/admin/",
            &app,
            &["app"],
            &["user:alice", "user:corp:boss-sub"],
        ),
        route("/partner/", &app, &["app"], &["provider:partner"]),
        route("/partner-api/", &app, &["api:write"], &["provider:partner"]),
    ];
    let providers = format!(
        "{}{}",
        oidc_provider(
            "corp",
            CORP,
            &corp,
            "allow_all = true\nscopes = [\"openid\", \"email\", \"groups\"]\ngrant_scopes = [\"app\"]\n",
        ),
        oidc_provider("partner", PARTNER, &partner, "allow_all = true\ngrant_scopes = [\"app\"]\n"),
    );
    let fed = Federation::start(
        routes,
        &providers,
        &mut [("corp", &mut corp), ("partner", &mut partner)],
    )
    .await;
    Setup {
        corp,
        partner,
        app,
        fed,
    }
}

impl Setup {
    /// A browser that opened `path` and signed in there through `button` as `sub`, with the
    /// page it ended at.
    async fn federated(&self, path: &str, button: &str, sub: &str) -> (Browser, Page) {
        let browser = self.fed.browser();
        let idp = if button == CORP {
            &self.corp
        } else {
            &self.partner
        };
        let signed = sign_in_with_idp(&browser, idp, path, button, sub).await;
        (browser, signed.journey.last)
    }

    /// A browser that opened `path` and signed in there with the password form as `user`.
    async fn local(&self, path: &str, user: &str) -> (Browser, Page) {
        let browser = self.fed.browser();
        let login = login_page(&browser, path).await;
        let page = browser.sign_in(&login, user, PASSWORD).await;
        let page = follow_within(&browser, page).await;
        (browser, page)
    }
}

fn assert_through(page: &Page, user: &str) {
    assert_eq!(page.echoed().header("x-auth-user"), Some(user), "{page:?}");
}

fn assert_forbidden(page: &Page, what: &str) {
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{what}: {page:?}");
    assert!(page.location().is_none(), "{what}: a redirect: {page:?}");
}

/// The browser's 403 of an `allow` list (contract §8: a page that says so): HTML with the
/// pages' headers, naming who is signed in and the way out (sign out), no redirect.
fn assert_not_allowed_page(page: &Page, user: &str, what: &str) {
    assert_forbidden(page, what);
    assert!(page.is_html(), "{what}: not a page: {page:?}");
    assert_eq!(page.header("cache-control"), Some("no-store"), "{what}");
    assert!(page.header("content-security-policy").is_some(), "{what}");
    assert!(
        page.body.contains("Not allowed here"),
        "{what}: {}",
        page.body
    );
    assert!(
        page.body
            .contains(&format!("signed in as <strong>{user}</strong>")),
        "{what}: {}",
        page.body
    );
    assert!(page.body.contains("href=\"/oauth2/logout\""), "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_entry_admits_that_providers_group_only() {
    let s = setup().await;
    let (_, page) = s.federated("/grafana/", CORP, "ops-sub").await;
    assert_through(&page, "corp:ops-sub");
    let hits = s.app.hits();
    let (browser, page) = s.federated("/grafana/", CORP, "dev-sub").await;
    assert_not_allowed_page(&page, "corp:dev-sub", "dev at grafana");
    // Its session is refused at the group's route on every visit, not sent to sign in again.
    let again = browser.get("/grafana/d/1").await;
    assert_not_allowed_page(&again, "corp:dev-sub", "dev at grafana again");
    assert_eq!(s.app.hits(), hits);
    // A local user is in no provider's group.
    let (_, page) = s.local("/grafana/", ALICE).await;
    assert_not_allowed_page(&page, ALICE, "alice at grafana");
    assert_eq!(s.app.hits(), hits);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_entry_admits_verified_addresses_of_that_domain() {
    let s = setup().await;
    let (_, page) = s.federated("/wiki/", CORP, "ops-sub").await;
    assert_through(&page, "corp:ops-sub");
    let hits = s.app.hits();
    let (_, page) = s.federated("/wiki/", CORP, "dev-sub").await;
    assert_forbidden(&page, "example.org at the wiki");
    // boss@example.com is not verified.
    let (_, page) = s.federated("/wiki/", CORP, "boss-sub").await;
    assert_forbidden(&page, "an unverified example.com at the wiki");
    assert_eq!(s.app.hits(), hits);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_entries_name_local_users_and_federated_principals() {
    let s = setup().await;
    let (_, page) = s.local("/admin/", ALICE).await;
    assert_through(&page, ALICE);
    let (_, page) = s.federated("/admin/", CORP, "boss-sub").await;
    assert_through(&page, "corp:boss-sub");
    let hits = s.app.hits();
    let (_, page) = s.local("/admin/", BOB).await;
    assert_not_allowed_page(&page, BOB, "bob at admin");
    // An API client with bob's token gets the short text, even asking for HTML: no page,
    // no challenge (its token is fine; the list refuses bob).
    let token = s.fed.gateway.user_token(BOB, "app").await;
    let answer = s
        .fed
        .gateway
        .api()
        .get(s.fed.gateway.url("/admin/x"))
        .bearer_auth(&token)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    assert!(answer.headers().get("www-authenticate").is_none());
    assert!(answer.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert!(answer
        .text()
        .await
        .unwrap()
        .contains("you are not among them"));
    let (_, page) = s.federated("/admin/", CORP, "ops-sub").await;
    assert_forbidden(&page, "ops at admin");
    assert_eq!(s.app.hits(), hits);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_entry_admits_its_people_and_scopes_are_still_required() {
    let s = setup().await;
    let (browser, page) = s.federated("/partner/", PARTNER, "pat-sub").await;
    assert_through(&page, "partner:pat-sub");
    let hits = s.app.hits();
    // Allowed by the list, but without the route's scope (partner grants only app).
    let page = browser.get("/partner-api/x").await;
    assert!(
        page.status == StatusCode::FORBIDDEN || page.status.is_redirection(),
        "a route's scope was not required: {page:?}"
    );
    assert_eq!(
        s.app.hits(),
        hits,
        "the upstream was reached without the scope"
    );
    let (_, page) = s.federated("/partner/", CORP, "ops-sub").await;
    assert_forbidden(&page, "corp at the partner route");
    let (_, page) = s.local("/partner/", ALICE).await;
    assert_forbidden(&page, "alice at the partner route");
    assert_eq!(s.app.hits(), hits);
}

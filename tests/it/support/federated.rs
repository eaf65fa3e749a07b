//! The gateway in front of routes with sign-in through upstream providers (contract §8), and
//! the browser's way through it: the `[[providers]]` tables for a [`super::idp::Idp`] or a
//! [`super::github::GithubStandIn`], and the steps of a federated sign-in taken one by one
//! (gateway → its login page → "Sign in with NAME" → the provider → the callback → back where
//! the browser started), so a test can stop at any of them, keep or alter what it holds, and
//! replay it.
//!
//! The gateway is [`super::protected::ProtectedGateway`] (self-signed TLS at
//! `https://localhost:PORT`, a manual clock, the alice/bob fixture), so `public_url` names the
//! port only once it runs: [`Federation::start`] then adds the callback URI at the provider.

use authgate::clock::{Clock, SystemClock};
use reqwest::StatusCode;

use super::browser::{Browser, Journey, Page};
use super::github::{GithubStandIn, GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET};
use super::idp::{resolve, Idp, CLIENT_ID};
use super::protected::ProtectedGateway;
use super::Route;

/// A `[[providers]]` table of `type = "oidc"` for `idp`, its client [`CLIENT_ID`], and `rest`
/// (gates, `grant_scopes`, then any `[providers.group_scopes]` table, as TOML lines).
pub fn oidc_provider(id: &str, name: &str, idp: &Idp, rest: &str) -> String {
    format!(
        "\n[[providers]]\nid = \"{id}\"\ntype = \"oidc\"\nname = \"{name}\"\nissuer = \"{issuer}\"\n\
         client_id = \"{CLIENT_ID}\"\nclient_secret = \"{secret}\"\n{rest}\n",
        issuer = idp.issuer(),
        secret = idp.client_secret_ref(CLIENT_ID),
    )
}

/// A `[[providers]]` table of `type = "github"` for the stand-in, its secret in `secret_dir`.
pub fn github_provider(
    id: &str,
    name: &str,
    github: &GithubStandIn,
    secret_dir: &std::path::Path,
    rest: &str,
) -> String {
    let path = secret_dir.join("github.secret");
    std::fs::write(&path, GITHUB_CLIENT_SECRET).expect("write the GitHub secret");
    format!(
        "\n[[providers]]\nid = \"{id}\"\ntype = \"github\"\nname = \"{name}\"\n\
         github_url = \"{web}\"\napi_url = \"{api}\"\nclient_id = \"{GITHUB_CLIENT_ID}\"\n\
         client_secret = \"file:{path}\"\n{rest}\n",
        web = github.web_url(),
        api = github.api_url(),
        path = path.display(),
    )
}

/// The gateway with `routes` and `providers` (the tables above, and any other TOML).
pub struct Federation {
    pub gateway: ProtectedGateway,
}

impl Federation {
    /// Starts the gateway, then lets each provider of `idps` (by its gateway id) send the
    /// browser back to `PUBLIC_URL/oauth2/callback/ID`, the redirect URI of contract §8.
    pub async fn start(
        routes: Vec<Route>,
        providers: &str,
        idps: &mut [(&str, &mut Idp)],
    ) -> Federation {
        let gateway = ProtectedGateway::start(routes, providers).await;
        for (id, idp) in idps.iter_mut() {
            let uri = gateway.url(&format!("/oauth2/callback/{id}"));
            idp.allow_redirect_uri(CLIENT_ID, &uri).await;
        }
        Federation { gateway }
    }

    /// `PUBLIC_URL/oauth2/callback/ID`.
    pub fn callback_uri(&self, id: &str) -> String {
        self.gateway.url(&format!("/oauth2/callback/{id}"))
    }

    /// A browser with an empty jar (the gateway's clock first brought up to the real time).
    pub fn browser(&self) -> Browser {
        self.sync_clock();
        self.gateway.browser()
    }

    /// Moves the gateway's manual clock up to the real time, never back. The provider stamps
    /// its ID tokens (`iat`) with the real time, which a clock standing still since the
    /// gateway started would see in the future once the test has run past the leeway.
    pub fn sync_clock(&self) {
        let real = SystemClock.now();
        let now = self.gateway.now();
        if real > now {
            self.gateway.advance(real - now);
        }
    }
}

/// A federated sign-in's steps.
#[derive(Debug)]
pub struct FederatedSignIn {
    /// Where the gateway sent the browser at the provider (its authorization request).
    pub authorize_url: String,
    /// Where the provider sent the browser back (the gateway's callback, with its answer).
    pub callback: String,
    /// From the callback on: the gateway's pages until the one that ends it.
    pub journey: Journey,
}

/// Two people of example.com with verified addresses, `alice-sub` and `bob-sub`.
pub fn example_accounts() -> super::idp::IdpSettings {
    super::idp::IdpSettings::new()
        .account(
            "alice-sub",
            serde_json::json!({"email": "alice@example.com", "email_verified": true}),
        )
        .account(
            "bob-sub",
            serde_json::json!({"email": "bob@example.com", "email_verified": true}),
        )
}

/// Follows `page`'s redirects while they stay on the gateway (at most eight).
pub async fn follow_within(browser: &Browser, mut page: Page) -> Page {
    for _ in 0..8 {
        match page.location() {
            Some(l) if page.status.is_redirection() && browser.is_ours(&l) => {
                page = browser.follow(&page).await;
            }
            _ => return page,
        }
    }
    panic!("no end to the gateway's redirects: {page:?}");
}

/// Opens `start` and follows the gateway's redirects to its login page.
pub async fn login_page(browser: &Browser, start: &str) -> Page {
    let page = follow_within(browser, browser.get(start).await).await;
    assert_eq!(page.status, StatusCode::OK, "not the login page: {page:?}");
    page
}

/// A link or form of a page, as a browser would activate it.
#[derive(Debug, Clone)]
pub struct Control {
    pub method: String,
    pub url: String,
    pub fields: Vec<(String, String)>,
}

/// The control of `page` whose text contains `Sign in with NAME` (contract §8: "a link or
/// button whose text contains its name"): the `<a>` or the `<form>` around it.
pub fn provider_control(page: &Page, name: &str) -> Option<Control> {
    let body = &page.body;
    let text = format!("Sign in with {name}");
    let at = body.find(&text).or_else(|| body.find(name))?;
    let before = body.get(..at)?;
    let link = before.rfind("<a ");
    let form = before.rfind("<form");
    let form_open = form.filter(|f| before.get(*f..).is_some_and(|s| !s.contains("</form>")));
    match (link, form_open) {
        (Some(a), f) if f.is_none_or(|f| a > f) => {
            let tag = body.get(a..)?;
            let tag = tag.get(..tag.find('>')?)?;
            let href = attribute(tag, "href")?;
            Some(Control {
                method: "GET".to_owned(),
                url: super::html::unescape(&href),
                fields: Vec::new(),
            })
        }
        (_, Some(f)) => {
            let form = body.get(f..)?;
            let form = form.get(..form.find("</form>")?)?;
            let open = form.get(..form.find('>')?)?;
            let action = attribute(open, "action").unwrap_or_default();
            let method = attribute(open, "method").unwrap_or_else(|| "get".to_owned());
            let mut fields = Vec::new();
            let mut rest = form;
            while let Some(i) = rest.find("<input") {
                let Some(tag) = rest.get(i..) else { break };
                let end = tag.find('>').unwrap_or(tag.len());
                let input = tag.get(..end).unwrap_or("");
                if let Some(field) = attribute(input, "name") {
                    let value = attribute(input, "value").unwrap_or_default();
                    fields.push((field, super::html::unescape(&value)));
                }
                rest = tag.get(end..).unwrap_or("");
            }
            // The button itself may carry a name and value.
            if let Some(b) = form.rfind("<button") {
                let button = form.get(b..).unwrap_or("");
                let button = button
                    .get(..button.find('>').unwrap_or(button.len()))
                    .unwrap_or("");
                if let (Some(n), Some(v)) = (attribute(button, "name"), attribute(button, "value"))
                {
                    fields.push((n, super::html::unescape(&v)));
                }
            }
            Some(Control {
                method: method.to_ascii_uppercase(),
                url: super::html::unescape(&action),
                fields,
            })
        }
        _ => None,
    }
}

/// The value of attribute `name` in the tag text `tag` (double-quoted).
fn attribute(tag: &str, name: &str) -> Option<String> {
    let marker = format!(" {name}=\"");
    let at = tag.find(&marker)? + marker.len();
    let rest = tag.get(at..)?;
    Some(rest.get(..rest.find('"')?)?.to_owned())
}

/// Activates the login page's button for the provider `name`, follows the gateway's
/// redirects, and returns where it sends the browser off the gateway (the provider's
/// authorization request).
pub async fn leave_for_provider(browser: &Browser, login: &Page, name: &str) -> String {
    let control = provider_control(login, name)
        .unwrap_or_else(|| panic!("no \"Sign in with {name}\" on the login page: {login:?}"));
    let url = resolve(&login.url, &control.url);
    let mut page = if control.method == "POST" {
        let fields: Vec<(&str, &str)> = control
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        browser.post(&url, &fields).await
    } else {
        let mut target = reqwest::Url::parse(&url).expect("the button's URL");
        if !control.fields.is_empty() {
            target.query_pairs_mut().clear();
            for (k, v) in &control.fields {
                target.query_pairs_mut().append_pair(k, v);
            }
        }
        browser.get(target.as_str()).await
    };
    for _ in 0..8 {
        let Some(location) = page.location().filter(|_| page.status.is_redirection()) else {
            panic!("the provider's button led nowhere: {page:?}");
        };
        if !browser.is_ours(&location) {
            return location;
        }
        page = browser.follow(&page).await;
    }
    panic!("the provider's button never left the gateway: {page:?}");
}

/// Opens `callback` (the provider's answer) and follows the gateway's redirects until a page
/// that is not one (or a redirect off the gateway).
pub async fn back_at_gateway(browser: &Browser, callback: &str) -> Journey {
    let mut steps = Vec::new();
    let mut page = browser.get(callback).await;
    for _ in 0..12 {
        steps.push(format!("{} {}", page.status.as_u16(), page.url));
        match page.location().filter(|_| page.status.is_redirection()) {
            Some(location) if browser.is_ours(&location) => page = browser.follow(&page).await,
            _ => return Journey { steps, last: page },
        }
    }
    panic!("no end to the gateway's redirects: {steps:#?}");
}

/// The whole sign-in: `start` on the gateway, its login page, the provider `name`, account
/// `sub` at `idp`, and back.
pub async fn sign_in_with_idp(
    browser: &Browser,
    idp: &Idp,
    start: &str,
    name: &str,
    sub: &str,
) -> FederatedSignIn {
    let login = login_page(browser, start).await;
    let authorize_url = leave_for_provider(browser, &login, name).await;
    assert!(
        authorize_url.starts_with(&idp.issuer()),
        "the button for {name} went elsewhere than {}: {authorize_url}",
        idp.issuer()
    );
    let callback = idp.sign_in(browser, &authorize_url, sub).await;
    let journey = back_at_gateway(browser, &callback).await;
    FederatedSignIn {
        authorize_url,
        callback,
        journey,
    }
}

/// An authorization request (`query`, for a client) at the gateway, the person signing in
/// through the provider `name` at `idp` as `sub`: where the gateway sends the browser back
/// to the client (its redirect URI, with `code` and `state`), no consent page between.
pub async fn authorize_through_provider(
    browser: &Browser,
    idp: &Idp,
    query: &str,
    name: &str,
    sub: &str,
) -> String {
    let login = login_page(browser, &format!("/oauth2/authorize?{query}")).await;
    let at_idp = leave_for_provider(browser, &login, name).await;
    let callback = idp.sign_in(browser, &at_idp, sub).await;
    let journey = back_at_gateway(browser, &callback).await;
    journey
        .last
        .location()
        .unwrap_or_else(|| panic!("no redirect to the client: {journey:#?}"))
}

/// The whole sign-in through the GitHub stand-in as `login`.
pub async fn sign_in_with_github(
    browser: &Browser,
    github: &GithubStandIn,
    start: &str,
    name: &str,
    login: &str,
) -> FederatedSignIn {
    let page = login_page(browser, start).await;
    let authorize_url = leave_for_provider(browser, &page, name).await;
    let callback = github.sign_in(browser, &authorize_url, login).await;
    let journey = back_at_gateway(browser, &callback).await;
    FederatedSignIn {
        authorize_url,
        callback,
        journey,
    }
}

/// The query parameter `name` of `url`.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// `url` with the query parameter `name` set to `value` (replacing it), or removed for `None`.
pub fn with_param(url: &str, name: &str, value: Option<&str>) -> String {
    super::oauth::with_param(url, name, value)
}

/// Whether the browser holds a gateway session.
pub fn has_session(browser: &Browser) -> bool {
    browser
        .cookie(authgate::gateway_paths::SESSION_COOKIE)
        .is_some()
}

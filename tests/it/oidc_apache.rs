//! A real relying party in front of a real app (issue 14 "Tests"): Debian's Apache with
//! mod_auth_openidc (support/apache.rs) protects a CGI page and signs people in through the
//! gateway. A cookie-jar client plays the browser, following each redirect itself across
//! the two hosts: the protected page → the gateway's authorization endpoint → its login
//! form → Apache's redirect URI (where the module redeems the code and checks the ID token
//! against the JWKS) → the page, which prints `REMOTE_USER` and the `OIDC_CLAIM_*` values
//! the module hands the application. `Require claim groups:admins` lets an admin in and
//! keeps the others out. RS256 and ES256 ID tokens work; EdDSA ones the module refuses
//! (libcjose 0.6 cannot import them: research §2 row 3), which a test shows. The module's
//! logout goes through the gateway's end_session_endpoint and comes back.

use std::collections::HashMap;

use reqwest::StatusCode;

use crate::support::apache::{Apache, RelyingParty};
use crate::support::free_port;
use crate::support::oauth::{jwt_header, Browser, Page};
use crate::support::oidc::{
    authorize, client_entry, Provider, ALICE, ALICE_EMAIL, ALICE_NAME, APACHE, APACHE_EDDSA,
    APACHE_ES256, APACHE_REDIRECT, APACHE_SECRET, BOB, BOB_EMAIL,
};

/// Apache for `client_id` in front of `provider`.
async fn apache_for(provider: &Provider, client_id: &str) -> Apache {
    Apache::start(&relying_party(provider, client_id, &ca_pem(provider))).await
}

fn ca_pem(provider: &Provider) -> std::path::PathBuf {
    provider.gateway.data_dir().join("tls/self-signed.pem")
}

fn relying_party<'a>(
    provider: &'a Provider,
    client_id: &'a str,
    ca_pem: &'a std::path::Path,
) -> RelyingParty<'a> {
    RelyingParty {
        issuer: provider.gateway.issuer(),
        ca_pem,
        client_id,
        client_secret: APACHE_SECRET,
    }
}

/// GETs `url` in `browser`, following redirects while they stay on Apache; returns the
/// page that answers, or the redirect that leaves for the gateway.
async fn open_on_apache(browser: &Browser, apache: &Apache, url: &str) -> Page {
    let mut url = url.to_owned();
    for _ in 0..5 {
        let page = browser.open(&url).await;
        match page.location() {
            Some(l) if l.starts_with('/') => url = apache.url(&l),
            Some(l) if l.starts_with(&apache.url("/")) => url = l,
            _ => return page,
        }
    }
    panic!("too many redirects on Apache from {url}");
}

/// Signs `user` in to Apache's `path` from a fresh browser: the page Apache serves at the
/// end, and the browser (which holds Apache's session).
async fn sign_in(provider: &Provider, apache: &Apache, user: &str, path: &str) -> (Page, Browser) {
    let browser = provider.gateway.browser();
    let page = open_on_apache(&browser, apache, &apache.url(path)).await;
    let to_gateway = page.location().unwrap_or_else(|| {
        panic!(
            "Apache did not send the browser to sign in: {page:?}\n{}",
            apache.error_log()
        )
    });
    assert!(
        to_gateway.starts_with(&provider.gateway.url("/oauth2/authorize?")),
        "to the gateway's authorization endpoint: {to_gateway}"
    );
    let callback = authorize(&browser, &to_gateway, user).await;
    assert_eq!(
        callback.base,
        apache.redirect_uri(),
        "back to the module's redirect URI: {}",
        callback.location
    );
    assert!(callback.get("code").is_some(), "{callback:?}");
    let page = open_on_apache(&browser, apache, &callback.location).await;
    (page, browser)
}

/// The CGI page's `KEY=VALUE` lines.
fn variables(page: &Page, apache: &Apache) -> HashMap<String, String> {
    assert_eq!(
        page.status,
        StatusCode::OK,
        "the protected page: {page:?}\nApache's log:\n{}",
        apache.error_log()
    );
    page.body
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[tokio::test]
async fn apache_signs_an_admin_in_with_rs256_and_es256_id_tokens_and_hands_the_app_her_claims() {
    let provider = Provider::start("").await;
    for (client, alg) in [(APACHE, "RS256"), (APACHE_ES256, "ES256")] {
        let apache = apache_for(&provider, client).await;
        let (page, browser) = sign_in(&provider, &apache, ALICE, "/protected/claims").await;
        let env = variables(&page, &apache);
        let get = |k: &str| env.get(k).map(String::as_str);
        assert_eq!(get("REMOTE_USER"), Some(ALICE), "{client}: {env:?}");
        assert_eq!(get("OIDC_CLAIM_sub"), Some(ALICE), "{client}");
        assert_eq!(get("OIDC_CLAIM_email"), Some(ALICE_EMAIL), "{client}");
        assert_eq!(get("OIDC_CLAIM_name"), Some(ALICE_NAME), "{client}");
        assert_eq!(get("OIDC_CLAIM_groups"), Some("admins,dev"), "{client}");
        assert_eq!(
            get("OIDC_CLAIM_iss"),
            Some(provider.gateway.issuer()),
            "{client}"
        );
        assert_eq!(get("OIDC_CLAIM_aud"), Some(client), "{client}");
        let id_token =
            get("OIDC_id_token").unwrap_or_else(|| panic!("{client}: the ID token: {env:?}"));
        assert_eq!(jwt_header(id_token)["alg"], alg, "{client}");
        // `Require claim groups:admins`: in, with the same session.
        let admin = open_on_apache(&browser, &apache, &apache.url("/protected/admin/claims")).await;
        let env = variables(&admin, &apache);
        assert_eq!(
            env.get("REMOTE_USER").map(String::as_str),
            Some(ALICE),
            "{client}"
        );
    }
}

#[tokio::test]
async fn require_claim_groups_admins_keeps_a_user_outside_the_group_out() {
    let provider = Provider::start("").await;
    let apache = apache_for(&provider, APACHE).await;
    let (page, browser) = sign_in(&provider, &apache, BOB, "/protected/claims").await;
    let env = variables(&page, &apache);
    assert_eq!(env.get("REMOTE_USER").map(String::as_str), Some(BOB));
    assert_eq!(
        env.get("OIDC_CLAIM_email").map(String::as_str),
        Some(BOB_EMAIL)
    );
    assert_eq!(
        env.get("OIDC_CLAIM_groups").map(String::as_str),
        Some("dev")
    );
    let admin = open_on_apache(&browser, &apache, &apache.url("/protected/admin/claims")).await;
    // Apache's authz core answers an authenticated user it denies with 401.
    assert_eq!(
        admin.status,
        StatusCode::UNAUTHORIZED,
        "bob is not in `admins`: {admin:?}"
    );
    assert!(
        !admin.body.contains("REMOTE_USER="),
        "the app was not reached: {admin:?}"
    );
}

#[tokio::test]
async fn mod_auth_openidc_refuses_eddsa_id_tokens() {
    let provider = Provider::start("").await;
    let apache = apache_for(&provider, APACHE_EDDSA).await;
    let (page, _browser) = sign_in(&provider, &apache, ALICE, "/protected/claims").await;
    assert!(
        !page.body.contains("REMOTE_USER="),
        "mod_auth_openidc 2.4.12 / libcjose 0.6 accepted an EdDSA ID token (update README and \
         docs/integrations.md, which say it does not): {page:?}"
    );
    let log = apache.error_log();
    assert!(
        log.contains("cjose") || log.contains("EdDSA"),
        "the module says why in its log: {log}"
    );
}

#[tokio::test]
async fn logout_through_apache_ends_both_sessions_and_comes_back() {
    // The module's logout returns to a page of its own host, which the client must have
    // registered exactly: the port is chosen before the gateway starts.
    let port = free_port();
    let logged_out = format!("http://127.0.0.1:{port}/loggedout.html");
    let client = client_entry(
        "apache-logout",
        APACHE_SECRET,
        APACHE_REDIRECT,
        None,
        &[logged_out.as_str()],
    );
    let provider = Provider::start(&client).await;
    let ca = ca_pem(&provider);
    let apache = Apache::start_at(&relying_party(&provider, "apache-logout", &ca), port).await;
    let (page, browser) = sign_in(&provider, &apache, ALICE, "/protected/claims").await;
    assert_eq!(
        variables(&page, &apache)
            .get("REMOTE_USER")
            .map(String::as_str),
        Some(ALICE)
    );

    // The module sends the browser to end_session_endpoint with id_token_hint and
    // post_logout_redirect_uri (research §4.1).
    let logout = format!(
        "{}?logout={}",
        apache.redirect_uri(),
        url_escape(&logged_out)
    );
    let page = browser.open(&logout).await;
    let to_gateway = page
        .location()
        .unwrap_or_else(|| panic!("{page:?}\n{}", apache.error_log()));
    assert!(
        to_gateway.starts_with(provider.gateway.issuer()),
        "to the gateway's end_session_endpoint: {to_gateway}"
    );
    assert!(to_gateway.contains("id_token_hint="), "{to_gateway}");
    let page = browser.open(&to_gateway).await;
    assert_eq!(
        page.location()
            .as_deref()
            .map(|l| l.split('?').next().unwrap_or("")),
        Some(logged_out.as_str()),
        "back to the registered page: {page:?}"
    );
    let page = browser.open(&logged_out).await;
    assert_eq!(page.status, StatusCode::OK);

    // Both sessions are gone: Apache asks for a sign-in again, and the gateway shows its
    // login page.
    let page = open_on_apache(&browser, &apache, &apache.url("/protected/claims")).await;
    let again = page.location().expect("a new sign-in");
    assert!(
        again.starts_with(&provider.gateway.url("/oauth2/authorize?")),
        "{again}"
    );
    assert!(
        browser.open(&again).await.is_login(),
        "the gateway session ended too"
    );
}

/// `text` percent-encoded as a query value.
fn url_escape(text: &str) -> String {
    reqwest::Url::parse_with_params("http://x/", &[("v", text)])
        .expect("URL")
        .query()
        .unwrap_or("")
        .trim_start_matches("v=")
        .to_owned()
}

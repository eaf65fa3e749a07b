//! A real relying party in front of a real app (issue 14 "Tests"): Debian's Apache with
//! mod_auth_openidc (support/apache.rs) protects a CGI page and signs people in through the
//! gateway. A cookie-jar client plays the browser, following each redirect itself across
//! the two hosts: the protected page → the gateway's authorization endpoint → its login
//! form → Apache's redirect URI (where the module redeems the code and checks the ID token
//! against the JWKS) → the page, which prints `REMOTE_USER` and the `OIDC_CLAIM_*` values
//! the module hands the application. `Require claim groups:admins` lets an admin in and
//! keeps the others out. RS256 and ES256 ID tokens work; EdDSA ones the module refuses
//! (libcjose 0.6 cannot import them: research §2 row 3), which the last test shows.

use std::collections::HashMap;

use reqwest::StatusCode;

use crate::support::apache::{Apache, RelyingParty};
use crate::support::oauth::{jwt_header, Browser, Page};
use crate::support::oidc::{
    authorize, Provider, ALICE, ALICE_EMAIL, ALICE_NAME, APACHE, APACHE_EDDSA, APACHE_ES256,
    APACHE_SECRET, BOB, BOB_EMAIL,
};

/// Apache for `client_id` in front of `provider`.
fn apache_for(provider: &Provider, client_id: &str) -> Apache {
    Apache::start(&RelyingParty {
        issuer: provider.gateway.issuer(),
        ca_pem: &provider.gateway.data_dir().join("tls/self-signed.pem"),
        client_id,
        client_secret: APACHE_SECRET,
    })
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
        let apache = apache_for(&provider, client);
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
    let apache = apache_for(&provider, APACHE);
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
    let apache = apache_for(&provider, APACHE_EDDSA);
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

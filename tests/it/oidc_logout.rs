//! RP-Initiated Logout 1.0 at `/oauth2/logout`, one test per module of the OpenID
//! conformance suite's RP-Initiated Logout OP plan (research §5), with a relying party that
//! signed in through the `openidconnect` crate and a cookie-jar browser:
//! `oidcc-rp-initiated-logout` (a valid hint, a registered URI and `state`: redirected with
//! `state`, the session gone, a later `prompt=none` answered `login_required`), `…-no-state`,
//! `…-bad-post-logout-redirect-uri`, `…-query-added-to-post-logout-redirect-uri`,
//! `…-modified-id-token-hint`, `…-bad-id-token-hint`, `…-no-id-token-hint`, `…-no-params`,
//! `…-only-state`; and beside them an expired hint (still a hint), a hint for another user, and
//! an RP's logout by POST.

use openidconnect::core::CoreAuthPrompt;
use reqwest::StatusCode;

use crate::support::oauth::{Browser, Callback, Page};
use crate::support::oidc::{
    AuthRequest, Provider, Signed, ALICE, BOB, OPENID_SCOPES, RP, RP_LOGGED_OUT, RP_REDIRECT,
};

const LOGIN_COOKIE: &str = "__Host-authgate-login";

/// A provider, and alice signed in at [`RP`] in a browser.
async fn signed_in() -> (Provider, Browser, Signed) {
    let provider = Provider::start("").await;
    let (browser, signed) = provider
        .sign_in(&provider.client(RP), ALICE, &OPENID_SCOPES)
        .await;
    assert!(browser.has_cookie(LOGIN_COOKIE));
    (provider, browser, signed)
}

/// `/oauth2/logout?` with `pairs`, form-encoded.
fn logout_url(pairs: &[(&str, &str)]) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("/oauth2/logout?{query}")
}

/// The answer that ended the session: cookies cleared, the login session gone.
fn assert_logged_out(page: &Page, browser: &Browser) {
    let cleared = page.set_cookie_names();
    assert!(
        cleared.iter().any(|c| c == LOGIN_COOKIE),
        "the login cookie is cleared: {page:?}"
    );
    assert!(!browser.has_cookie(LOGIN_COOKIE));
}

/// The confirmation page: a CSRF-bound form, nothing ended yet.
fn assert_confirmation(page: &Page, browser: &Browser) {
    assert_eq!(page.status, StatusCode::OK, "{page:?}");
    assert!(page.location().is_none(), "{page:?}");
    assert!(page.body.contains(r#"action="/oauth2/logout""#), "{page:?}");
    assert!(page.hidden("csrf").is_some(), "{page:?}");
    assert!(page.set_cookie_names().is_empty(), "{page:?}");
    assert!(browser.has_cookie(LOGIN_COOKIE), "still signed in");
}

/// Submits the confirmation page as the person would.
async fn confirm(browser: &Browser, page: &Page) -> Page {
    let csrf = page.hidden("csrf").expect("csrf");
    let mut form = vec![("csrf", csrf)];
    if let Some(redirect) = page.hidden("redirect") {
        form.push(("redirect", redirect));
    }
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    browser.post("/oauth2/logout", &form).await
}

/// A later `prompt=none` authorization from the same browser: the error it is answered with.
async fn prompt_none_error(provider: &Provider, browser: &Browser) -> Option<String> {
    let request = AuthRequest::new(&provider.client(RP), &OPENID_SCOPES, |r| {
        r.add_prompt(CoreAuthPrompt::None)
    });
    let page = browser.open(&request.url).await;
    let callback = Callback::parse(&page.location().expect("a redirect back to the RP"));
    assert_eq!(callback.base, RP_REDIRECT);
    callback.get("error").map(str::to_owned)
}

/// The signed-out page, without any redirect.
fn assert_signed_out_page(page: &Page) {
    assert_eq!(page.status, StatusCode::OK, "{page:?}");
    assert!(page.location().is_none(), "{page:?}");
    assert!(page.body.contains("You are signed out"), "{page:?}");
}

#[tokio::test]
async fn rp_initiated_logout_redirects_with_state_and_ends_the_session() {
    let (provider, browser, signed) = signed_in().await;
    assert_eq!(
        prompt_none_error(&provider, &browser).await,
        None,
        "signed in"
    );

    let hint = signed.id_token();
    let page = browser
        .open(&logout_url(&[
            ("id_token_hint", &hint),
            ("post_logout_redirect_uri", RP_LOGGED_OUT),
            ("state", "xyz-123"),
            ("ui_locales", "fr de"),
        ]))
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{page:?}");
    assert_eq!(
        page.location().as_deref(),
        Some(format!("{RP_LOGGED_OUT}?state=xyz-123").as_str())
    );
    assert_logged_out(&page, &browser);
    assert_eq!(
        prompt_none_error(&provider, &browser).await.as_deref(),
        Some("login_required"),
        "the session is gone"
    );
}

#[tokio::test]
async fn rp_initiated_logout_with_client_id_and_no_state() {
    let (_provider, browser, signed) = signed_in().await;
    let page = browser
        .open(&logout_url(&[
            ("id_token_hint", &signed.id_token()),
            ("client_id", RP),
            ("post_logout_redirect_uri", RP_LOGGED_OUT),
        ]))
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{page:?}");
    assert_eq!(page.location().as_deref(), Some(RP_LOGGED_OUT));
    assert_logged_out(&page, &browser);
}

#[tokio::test]
async fn bad_post_logout_redirect_uri_is_never_redirected_to() {
    let (provider, browser, signed) = signed_in().await;
    let page = browser
        .open(&logout_url(&[
            ("id_token_hint", &signed.id_token()),
            (
                "post_logout_redirect_uri",
                "https://evil.example/logged-out",
            ),
            ("state", "s"),
        ]))
        .await;
    assert_signed_out_page(&page);
    assert_logged_out(&page, &browser);
    assert_eq!(
        prompt_none_error(&provider, &browser).await.as_deref(),
        Some("login_required")
    );
}

#[tokio::test]
async fn query_added_to_post_logout_redirect_uri_is_never_redirected_to() {
    let (_provider, browser, signed) = signed_in().await;
    let page = browser
        .open(&logout_url(&[
            ("id_token_hint", &signed.id_token()),
            (
                "post_logout_redirect_uri",
                &format!("{RP_LOGGED_OUT}?extra=1"),
            ),
        ]))
        .await;
    assert_signed_out_page(&page);
    assert_logged_out(&page, &browser);
}

#[tokio::test]
async fn modified_id_token_hint_is_not_trusted() {
    let (provider, browser, signed) = signed_in().await;
    let hint = signed.id_token();
    // One changed character in the payload (the signature no longer covers it) and one in
    // the signature.
    let mut parts: Vec<String> = hint.split('.').map(str::to_owned).collect();
    let flip = |s: &str| {
        let mut chars: Vec<char> = s.chars().collect();
        let i = chars.len() / 2;
        chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
        chars.into_iter().collect::<String>()
    };
    let payload_changed = format!("{}.{}.{}", parts[0], flip(&parts[1]), parts[2]);
    parts[2] = flip(&parts[2]);
    let signature_changed = parts.join(".");
    for modified in [payload_changed, signature_changed] {
        let page = browser
            .open(&logout_url(&[
                ("id_token_hint", &modified),
                ("post_logout_redirect_uri", RP_LOGGED_OUT),
                ("state", "s"),
            ]))
            .await;
        assert_confirmation(&page, &browser);
        assert_eq!(page.hidden("redirect"), None, "no redirect is offered");
    }
    assert_eq!(
        prompt_none_error(&provider, &browser).await,
        None,
        "still signed in"
    );
}

#[tokio::test]
async fn bad_id_token_hint_from_another_provider_or_not_an_id_token_is_not_trusted() {
    let (_provider, browser, signed) = signed_in().await;
    // An ID token of another gateway (its own keys, its own issuer).
    let other = Provider::start("").await;
    let (_, foreign) = other
        .sign_in(&other.client(RP), ALICE, &OPENID_SCOPES)
        .await;
    // The access token is a JWT too, but no ID token (typ at+jwt, HMAC-signed).
    let access = signed.access_token().secret().clone();
    for bad in [foreign.id_token(), access, "not-a-jwt".to_owned()] {
        let page = browser
            .open(&logout_url(&[
                ("id_token_hint", &bad),
                ("post_logout_redirect_uri", RP_LOGGED_OUT),
            ]))
            .await;
        assert_confirmation(&page, &browser);
        assert_eq!(page.hidden("redirect"), None);
    }
    // Confirming still signs out, without the client's redirect.
    let page = browser
        .open(&logout_url(&[
            ("id_token_hint", "not-a-jwt"),
            ("post_logout_redirect_uri", RP_LOGGED_OUT),
        ]))
        .await;
    let done = confirm(&browser, &page).await;
    assert_signed_out_page(&done);
    assert_logged_out(&done, &browser);
}

#[tokio::test]
async fn no_id_token_hint_asks_and_does_not_redirect() {
    let (provider, browser, _signed) = signed_in().await;
    let page = browser
        .open(&logout_url(&[
            ("client_id", RP),
            ("post_logout_redirect_uri", RP_LOGGED_OUT),
            ("state", "s"),
        ]))
        .await;
    assert_confirmation(&page, &browser);
    assert_eq!(page.hidden("redirect"), None);
    let done = confirm(&browser, &page).await;
    assert_signed_out_page(&done);
    assert_logged_out(&done, &browser);
    assert_eq!(
        prompt_none_error(&provider, &browser).await.as_deref(),
        Some("login_required")
    );
}

#[tokio::test]
async fn no_params_and_only_state_ask_then_sign_out_without_a_redirect() {
    for pairs in [vec![], vec![("state", "only-state")]] {
        let (provider, browser, _signed) = signed_in().await;
        let page = browser.open(&logout_url(&pairs)).await;
        assert_confirmation(&page, &browser);
        let done = confirm(&browser, &page).await;
        assert_signed_out_page(&done);
        assert_logged_out(&done, &browser);
        assert_eq!(
            prompt_none_error(&provider, &browser).await.as_deref(),
            Some("login_required"),
            "{pairs:?}"
        );
    }
}

#[tokio::test]
async fn an_expired_id_token_hint_is_still_a_hint() {
    let (provider, browser, signed) = signed_in().await;
    // Past the ID token's hour, within the session's limits.
    provider.gateway.advance(2 * 3600);
    let page = browser
        .open(&logout_url(&[
            ("id_token_hint", &signed.id_token()),
            ("post_logout_redirect_uri", RP_LOGGED_OUT),
            ("state", "late"),
        ]))
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{page:?}");
    assert_eq!(
        page.location().as_deref(),
        Some(format!("{RP_LOGGED_OUT}?state=late").as_str())
    );
    assert_logged_out(&page, &browser);
}

#[tokio::test]
async fn a_hint_for_another_user_asks_first_and_then_returns_to_the_client() {
    let provider = Provider::start("").await;
    let client = provider.client(RP);
    let (_, bobs) = provider.sign_in(&client, BOB, &OPENID_SCOPES).await;
    let (alice, _) = provider.sign_in(&client, ALICE, &OPENID_SCOPES).await;

    let page = alice
        .open(&logout_url(&[
            ("id_token_hint", &bobs.id_token()),
            ("post_logout_redirect_uri", RP_LOGGED_OUT),
            ("state", "s1"),
        ]))
        .await;
    assert_confirmation(&page, &alice);
    let target = format!("{RP_LOGGED_OUT}?state=s1");
    assert_eq!(page.hidden("redirect").as_deref(), Some(target.as_str()));

    // The redirect is bound into the CSRF token: another target is refused.
    let csrf = page.hidden("csrf").expect("csrf");
    let tampered = alice
        .post(
            "/oauth2/logout",
            &[("csrf", &csrf), ("redirect", "https://evil.example/")],
        )
        .await;
    assert_confirmation(&tampered, &alice);

    let done = confirm(&alice, &page).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{done:?}");
    assert_eq!(done.location().as_deref(), Some(target.as_str()));
    assert_logged_out(&done, &alice);
}

#[tokio::test]
async fn an_rp_may_send_the_logout_request_by_post() {
    let (provider, browser, signed) = signed_in().await;
    let page = browser
        .post_from(
            "https://rp.example.com",
            "/oauth2/logout",
            &[
                ("id_token_hint", &signed.id_token()),
                ("post_logout_redirect_uri", RP_LOGGED_OUT),
                ("state", "posted"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{page:?}");
    assert_eq!(
        page.location().as_deref(),
        Some(format!("{RP_LOGGED_OUT}?state=posted").as_str())
    );
    assert_logged_out(&page, &browser);
    assert_eq!(
        prompt_none_error(&provider, &browser).await.as_deref(),
        Some("login_required")
    );

    // Without a hint, a cross-site POST only gets the confirmation page.
    let (_, other, _) = signed_in().await;
    let page = other
        .post_from(
            "https://evil.example",
            "/oauth2/logout",
            &[("post_logout_redirect_uri", RP_LOGGED_OUT)],
        )
        .await;
    assert_confirmation(&page, &other);
}

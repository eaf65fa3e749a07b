//! Second factors end to end (contract §9): a user with `mfa = true` enrols right after the
//! password (the otpauth URI as text, an SVG QR code, the CSP unchanged), the new secret
//! counts only after one correct code, the recovery codes are shown once and work once each;
//! a code is accepted once, a wrong code is refused, a pending login allows five tries, and
//! wrong codes are throttled per user; a session route with `mfa = true` steps a password-only
//! session up with the second factor alone; a bearer route with `mfa = true` answers a
//! one-factor token with RFC 9470's challenge and takes a two-factor one, whose amr, acr and
//! auth_time introspection and refresh keep; `authgate user reset-mfa` removes the factor and
//! revokes the user's tokens, after which the old secret's codes are refused. Codes are
//! computed from the URI the page shows, as an authenticator app would.

use oauth2::{RefreshToken, TokenResponse};
use reqwest::StatusCode;

use crate::support::fixture::user;
use crate::support::free_port;
use crate::support::mfa::{
    enrol, is_code_page, is_enrolment, journey, reach_code_page, submit, App,
};
use crate::support::oauth::{auth_request, jwt_claims, with_param, AuthGateway, Callback, USER};
use crate::support::process::cli;

/// A user whose entry says `mfa = true`.
const CAROL: &str = "carol";
const TWO_FACTORS: &str = "urn:authgate:2fa";

async fn gateway() -> AuthGateway {
    let admin = free_port();
    let carol = user(CAROL, &["app", "api:read"]);
    AuthGateway::start_with_sections(&format!(
        r#"[admin]
listen = "127.0.0.1:{admin}"
{carol}mfa = true

[[routes]]
path = "/app/"
upstream = "whoami://"
auth = "session"
mfa = true

[[routes]]
path = "/plain/"
upstream = "whoami://"
auth = "session"

[[routes]]
path = "/api/"
upstream = "whoami://"
auth = "bearer"
scopes = ["api:read"]
mfa = true

[[routes]]
path = "/open/"
upstream = "whoami://"
auth = "bearer"
scopes = ["api:read"]
"#
    ))
    .await
}

async fn bearer(gateway: &AuthGateway, path: &str, token: &str) -> reqwest::Response {
    gateway
        .http()
        .get(gateway.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("bearer request")
}

/// Tokens for the web client, signing in as `user` (giving `app`'s code if asked), with
/// `acr_values` when `two_factors`.
async fn web_tokens(
    gateway: &AuthGateway,
    user: &str,
    app: Option<&App>,
    two_factors: bool,
) -> (oauth2::basic::BasicTokenResponse, Vec<&'static str>) {
    let client = gateway.web();
    let request = auth_request(&client, &["api:read"]);
    let url = if two_factors {
        with_param(&request.url, "acr_values", Some(TWO_FACTORS))
    } else {
        request.url.clone()
    };
    let browser = gateway.browser();
    let (last, met) = journey(gateway, &browser, &url, user, app).await;
    let callback = Callback::parse(&last.location().expect("the redirect to the client"));
    let tokens = client
        .exchange_code(callback.code())
        .set_pkce_verifier(request.verifier)
        .request_async(&gateway.http())
        .await
        .expect("code exchange");
    (tokens, met.pages)
}

#[tokio::test]
async fn a_user_with_mfa_enrols_after_the_password_then_signs_in_with_a_code_once() {
    let gateway = gateway().await;
    let browser = gateway.browser();
    let mut page = browser.open("/plain/").await;
    while !page.is_login() {
        page = browser.follow(&page).await;
    }
    page = browser
        .sign_in(&page, CAROL, crate::support::oauth::PASSWORD)
        .await;
    let page = browser.follow(&page).await;
    assert!(is_enrolment(&page), "{page:?}");
    // The URI as text, a QR code as inline SVG, no script, the usual CSP.
    let app = App::scan(&page);
    assert!(
        app.uri.starts_with("otpauth://totp/localhost:carol?"),
        "{}",
        app.uri
    );
    assert!(page.body.contains("<svg"));
    assert!(!page.body.contains("<script"));
    assert_eq!(
        page.header("content-security-policy"),
        Some("default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'")
    );
    assert_eq!(page.header("cache-control"), Some("no-store"));
    // The page opened again (reloaded) keeps the secret the app may have scanned.
    let reloaded = browser.open(&page.url).await;
    assert_eq!(App::scan(&reloaded).uri, app.uri);
    // A wrong code: the same secret again, nothing enrolled.
    let wrong = if app.code(gateway.now()) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let again = submit(&browser, &page, wrong).await;
    assert!(is_enrolment(&again), "{again:?}");
    assert!(again.alert().is_some());
    assert_eq!(App::scan(&again).uri, app.uri, "the pending secret is kept");
    let (_, codes, next) = enrol(&gateway, &browser, &again).await;
    assert_eq!(codes.len(), 10);
    // On to the route, signed in.
    let mut page = next;
    while page.status.is_redirection() {
        let location = page.location().unwrap();
        let location = location
            .strip_prefix(gateway.issuer())
            .unwrap_or(&location)
            .to_owned();
        page = browser.open(&location).await;
    }
    assert_eq!(page.status, StatusCode::OK, "{page:?}");
    assert!(page.body.contains(CAROL), "{page:?}");

    // Another browser: password, then the code page (not the enrolment page). The code
    // that confirmed the enrolment is spent.
    let other = gateway.browser();
    let code_page = reach_code_page(&other, gateway.issuer(), "/plain/", CAROL).await;
    let refused = submit(&other, &code_page, &app.code(gateway.now())).await;
    assert!(is_code_page(&refused), "a reused code: {refused:?}");
    assert!(refused.alert().unwrap().contains("not right"));
    gateway.advance(30);
    let accepted = submit(&other, &refused, &app.code(gateway.now())).await;
    assert_eq!(accepted.status, StatusCode::SEE_OTHER, "{accepted:?}");
    let (last, met) = journey(
        &gateway,
        &other,
        &accepted.location().unwrap(),
        CAROL,
        Some(&app),
    )
    .await;
    assert!(met.pages.is_empty(), "nothing more asked: {:?}", met.pages);
    assert_eq!(last.status, StatusCode::OK, "{last:?}");
    // And that code only once, in a third browser.
    let third = gateway.browser();
    let code_page = reach_code_page(&third, gateway.issuer(), "/plain/", CAROL).await;
    let refused = submit(&third, &code_page, &app.code(gateway.now())).await;
    assert!(is_code_page(&refused), "{refused:?}");
}

#[tokio::test]
async fn recovery_codes_work_once_each() {
    let gateway = gateway().await;
    let (_, met) = journey(&gateway, &gateway.browser(), "/plain/", CAROL, None).await;
    assert_eq!(met.pages, ["login", "enrol"]);
    let codes = met.recovery;
    let first = gateway.browser();
    let page = reach_code_page(&first, gateway.issuer(), "/plain/", CAROL).await;
    let used = submit(&first, &page, &codes[0].to_uppercase()).await;
    assert_eq!(used.status, StatusCode::SEE_OTHER, "{used:?}");
    let second = gateway.browser();
    let page = reach_code_page(&second, gateway.issuer(), "/plain/", CAROL).await;
    let again = submit(&second, &page, &codes[0]).await;
    assert!(is_code_page(&again), "a used recovery code: {again:?}");
    let other = submit(&second, &again, &codes[1]).await;
    assert_eq!(other.status, StatusCode::SEE_OTHER, "{other:?}");
}

#[tokio::test]
async fn five_wrong_codes_end_the_pending_login_and_wrong_codes_are_throttled_per_user() {
    let gateway = gateway().await;
    let (_, met) = journey(&gateway, &gateway.browser(), "/plain/", CAROL, None).await;
    let app = met.app.unwrap();
    gateway.advance(30);
    let browser = gateway.browser();
    let mut page = reach_code_page(&browser, gateway.issuer(), "/plain/", CAROL).await;
    for n in 1..=5 {
        page = submit(&browser, &page, "999999").await;
        if n < 5 {
            assert!(is_code_page(&page), "try {n}: {page:?}");
        }
    }
    assert!(page.is_login(), "back to the password after five: {page:?}");
    assert!(page.alert().unwrap().contains("Too many wrong codes"));
    // Five failures for the user: the next code waits, even the right one, on any login.
    let page = reach_code_page(&browser, gateway.issuer(), "/plain/", CAROL).await;
    let locked = submit(&browser, &page, &app.code(gateway.now())).await;
    assert!(is_code_page(&locked), "{locked:?}");
    assert!(locked.alert().unwrap().contains("Wait"), "{locked:?}");
    // The refused attempt counted too: the next lock is 60 s from it.
    gateway.advance(61);
    let accepted = submit(&browser, &locked, &app.code(gateway.now())).await;
    assert_eq!(accepted.status, StatusCode::SEE_OTHER, "{accepted:?}");
}

#[tokio::test]
async fn a_session_route_with_mfa_steps_a_password_session_up_with_the_second_factor_only() {
    let gateway = gateway().await;
    let browser = gateway.browser();
    // alice's entry does not ask for a second factor: the password is enough here.
    let (page, met) = journey(&gateway, &browser, "/plain/", USER, None).await;
    assert_eq!(met.pages, ["login"]);
    assert_eq!(page.status, StatusCode::OK);
    // The mfa route: the same browser enrols (alice has no factor yet), no password again.
    let (page, met) = journey(&gateway, &browser, "/app/", USER, None).await;
    assert_eq!(met.pages, ["enrol"], "a step-up, not a new sign-in");
    assert_eq!(page.status, StatusCode::OK, "{page:?}");
    assert!(page.body.contains(USER));
    let app = met.app.unwrap();
    // A route session of one factor is not enough for /app/ (an API client gets RFC 9470's
    // 401); a browser with a password-only login session gets the code page.
    gateway.advance(30);
    let other = gateway.browser();
    let (page, met) = journey(&gateway, &other, "/app/", USER, Some(&app)).await;
    assert_eq!(met.pages, ["login", "code"]);
    assert_eq!(page.status, StatusCode::OK, "{page:?}");
}

#[tokio::test]
async fn a_bearer_route_with_mfa_answers_a_one_factor_token_with_the_rfc_9470_challenge() {
    let gateway = gateway().await;
    let (tokens, pages) = web_tokens(&gateway, USER, None, false).await;
    assert_eq!(pages, ["login", "consent"]);
    let access = tokens.access_token().secret().clone();
    let claims = jwt_claims(&access);
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    assert_eq!(claims["acr"], "urn:authgate:1fa");
    assert!(claims["auth_time"].is_u64());
    assert_eq!(
        bearer(&gateway, "/open/x", &access).await.status(),
        StatusCode::OK
    );
    let refused = bearer(&gateway, "/api/x", &access).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let challenge = refused.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(
        challenge.contains(r#"error="insufficient_user_authentication""#),
        "{challenge}"
    );
    assert!(
        challenge.contains(r#"acr_values="urn:authgate:2fa""#),
        "{challenge}"
    );

    // The client asks again with acr_values: alice enrols, and the token says two factors.
    gateway.advance(30);
    let (tokens, pages) = web_tokens(&gateway, USER, None, true).await;
    assert_eq!(pages, ["login", "enrol"], "consent was given already");
    let access = tokens.access_token().secret().clone();
    let claims = jwt_claims(&access);
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    assert_eq!(claims["acr"], TWO_FACTORS);
    assert_eq!(
        bearer(&gateway, "/api/x", &access).await.status(),
        StatusCode::OK
    );
    let introspected = gateway.introspect(&access).await;
    assert_eq!(introspected["amr"], claims["amr"]);
    assert_eq!(introspected["acr"], TWO_FACTORS);
    assert_eq!(introspected["auth_time"], claims["auth_time"]);
    // A refresh keeps how the user signed in.
    gateway.advance(60);
    let refreshed = gateway
        .web()
        .exchange_refresh_token(&RefreshToken::new(
            tokens
                .refresh_token()
                .expect("a refresh token")
                .secret()
                .clone(),
        ))
        .request_async(&gateway.http())
        .await
        .expect("refresh");
    let again = jwt_claims(refreshed.access_token().secret());
    assert_eq!(again["amr"], claims["amr"]);
    assert_eq!(again["auth_time"], claims["auth_time"]);
    assert_eq!(
        bearer(&gateway, "/api/x", refreshed.access_token().secret())
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn reset_mfa_through_the_cli_removes_the_factor_revokes_tokens_and_the_old_secret_stops() {
    let gateway = gateway().await;
    let (_, met) = journey(&gateway, &gateway.browser(), "/plain/", CAROL, None).await;
    let old = met.app.unwrap();
    gateway.advance(30);
    let (tokens, _) = web_tokens(&gateway, CAROL, Some(&old), false).await;
    let access = tokens.access_token().secret().clone();
    assert_eq!(
        bearer(&gateway, "/api/x", &access).await.status(),
        StatusCode::OK
    );

    let output = cli(&gateway.write_config(), &["user", "reset-mfa", CAROL]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout.contains("second factors removed"), "{stdout}");
    // Everything of carol is revoked from the next request on.
    assert_eq!(
        bearer(&gateway, "/api/x", &access).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // She enrols again at the next sign-in, with a new secret.
    gateway.advance(30);
    let (_, met) = journey(&gateway, &gateway.browser(), "/plain/", CAROL, None).await;
    assert_eq!(met.pages, ["login", "enrol"]);
    let new = met.app.unwrap();
    assert_ne!(new.secret, old.secret);
    // A code of the previous secret is refused; the new one's accepted.
    gateway.advance(30);
    let browser = gateway.browser();
    let page = reach_code_page(&browser, gateway.issuer(), "/plain/", CAROL).await;
    let refused = submit(&browser, &page, &old.code(gateway.now())).await;
    assert!(
        is_code_page(&refused),
        "the previous secret's code: {refused:?}"
    );
    let accepted = submit(&browser, &refused, &new.code(gateway.now())).await;
    assert_eq!(accepted.status, StatusCode::SEE_OTHER, "{accepted:?}");
}

//! The OpenID authorization parameters: parsing, and each decision they drive.

use super::*;

fn params(query: &str) -> Result<OidcParams, OAuthError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    parse(|name| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    })
}

fn ok(query: &str) -> OidcParams {
    params(query).unwrap()
}

const NOW: u64 = 1_800_000_000;

fn alice(auth_time: u64) -> LoginState<'static> {
    LoginState {
        user: "alice",
        auth_time,
    }
}

#[test]
fn request_objects_are_refused_with_their_own_errors() {
    assert_eq!(
        params("request=eyJ.x.y").unwrap_err().code,
        ErrorCode::RequestNotSupported
    );
    assert_eq!(
        params("request_uri=https%3A%2F%2Frp%2Fr").unwrap_err().code,
        ErrorCode::RequestUriNotSupported
    );
}

#[test]
fn nonce_is_optional_and_bounded() {
    assert_eq!(ok("").nonce, None);
    assert_eq!(ok("nonce=").nonce, None);
    assert_eq!(
        ok("nonce=n-0S6_WzA2Mj").nonce.as_deref(),
        Some("n-0S6_WzA2Mj")
    );
    let longest = "n".repeat(MAX_NONCE_LEN);
    assert_eq!(ok(&format!("nonce={longest}")).nonce, Some(longest));
    let too_long = "n".repeat(MAX_NONCE_LEN + 1);
    assert_eq!(
        params(&format!("nonce={too_long}")).unwrap_err().code,
        ErrorCode::InvalidRequest
    );
    assert!(params("nonce=a%0Ab").is_err());
}

#[test]
fn prompt_values() {
    assert_eq!(ok("").prompt, Prompt::default());
    let p = ok("prompt=login%20consent").prompt;
    assert!(p.login && p.consent && !p.none && !p.select_account);
    assert!(ok("prompt=select_account").prompt.select_account);
    // Unknown values (later specifications' `create`) are ignored.
    assert_eq!(ok("prompt=create").prompt, Prompt::default());
    assert_eq!(
        params("prompt=none%20login").unwrap_err().code,
        ErrorCode::InvalidRequest
    );
}

#[test]
fn max_age_is_a_number_of_seconds() {
    assert_eq!(ok("max_age=0").max_age, Some(0));
    assert_eq!(ok("max_age=10000").max_age, Some(10_000));
    for bad in [
        "max_age=-1",
        "max_age=1.5",
        "max_age=ten",
        "max_age=99999999999",
    ] {
        assert!(params(bad).is_err(), "{bad}");
    }
}

#[test]
fn ignored_parameters_are_accepted() {
    let p = ok("display=popup&login_hint=alice&ui_locales=fr&claims_locales=de&acr_values=1&unknown=x&claims=%7B%7D");
    assert_eq!(p, OidcParams::default());
}

#[test]
fn without_a_session_a_login_is_needed_or_login_required() {
    assert_eq!(
        ok("").login_step(None, &Hint::Absent, NOW),
        LoginStep::ShowLogin
    );
    match ok("prompt=none").login_step(None, &Hint::Absent, NOW) {
        LoginStep::Refuse(err) => assert_eq!(err.code, ErrorCode::LoginRequired),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_live_session_answers_unless_a_fresh_login_is_asked() {
    let session = alice(NOW - 100);
    assert_eq!(
        ok("").login_step(Some(&session), &Hint::Absent, NOW),
        LoginStep::Proceed
    );
    assert_eq!(
        ok("prompt=none").login_step(Some(&session), &Hint::Absent, NOW),
        LoginStep::Proceed
    );
    for query in [
        "prompt=login",
        "prompt=select_account",
        "max_age=0",
        "max_age=99",
    ] {
        assert_eq!(
            ok(query).login_step(Some(&session), &Hint::Absent, NOW),
            LoginStep::ShowLogin,
            "{query}"
        );
    }
    assert_eq!(
        ok("max_age=100").login_step(Some(&session), &Hint::Absent, NOW),
        LoginStep::Proceed
    );
    assert_eq!(
        ok("max_age=10000").login_step(Some(&session), &Hint::Absent, NOW),
        LoginStep::Proceed
    );
}

#[test]
fn a_hint_for_someone_else_or_an_invalid_one_needs_a_login() {
    let session = alice(NOW - 5);
    let same = Hint::Subject("alice".into());
    let other = Hint::Subject("bob".into());
    assert_eq!(
        ok("prompt=none").login_step(Some(&session), &same, NOW),
        LoginStep::Proceed
    );
    for hint in [other, Hint::Invalid] {
        assert_eq!(
            ok("").login_step(Some(&session), &hint, NOW),
            LoginStep::ShowLogin
        );
        match ok("prompt=none").login_step(Some(&session), &hint, NOW) {
            LoginStep::Refuse(err) => assert_eq!(err.code, ErrorCode::LoginRequired),
            step => panic!("{step:?}"),
        }
    }
}

#[test]
fn consent_is_asked_when_not_remembered_or_prompted() {
    let plain = ok("");
    assert_eq!(plain.consent_step(true, false), ConsentStep::Proceed);
    assert_eq!(plain.consent_step(false, false), ConsentStep::ShowConsent);
    assert_eq!(plain.consent_step(false, true), ConsentStep::Proceed);
    let forced = ok("prompt=consent");
    assert_eq!(forced.consent_step(true, false), ConsentStep::ShowConsent);
    // The operator consented for its first-party clients.
    assert_eq!(forced.consent_step(true, true), ConsentStep::Proceed);
    let silent = ok("prompt=none");
    assert_eq!(silent.consent_step(true, false), ConsentStep::Proceed);
    match silent.consent_step(false, false) {
        ConsentStep::Refuse(err) => assert_eq!(err.code, ErrorCode::ConsentRequired),
        step => panic!("{step:?}"),
    }
}

#[test]
fn after_a_login_the_query_no_longer_asks_for_one() {
    assert_eq!(
        after_login("client_id=a&scope=openid%20email&state=s"),
        "client_id=a&scope=openid%20email&state=s",
        "a query without login parameters is kept as it is"
    );
    assert_eq!(
        after_login("client_id=a&prompt=login&max_age=0&id_token_hint=x.y.z&nonce=n"),
        "client_id=a&nonce=n"
    );
    assert_eq!(
        after_login("prompt=login+consent&client_id=a"),
        "prompt=consent&client_id=a"
    );
    // What a login answered no longer sends the browser back to it.
    let rewritten = after_login("prompt=select_account%20login&max_age=1&client_id=a");
    let p = ok(&rewritten);
    assert_eq!(
        p.login_step(Some(&alice(NOW - 50)), &Hint::Absent, NOW),
        LoginStep::Proceed
    );
}

mod at_the_authorization_endpoint {
    use crate::oauth::authorize::AuthorizeError;
    use crate::oauth::error::ErrorCode;
    use crate::oauth::test_server::*;

    fn query(extra: &str) -> String {
        format!(
            "response_type=code&client_id={RP}&scope=openid&code_challenge={}&code_challenge_method=S256&state=s{extra}",
            challenge(VERIFIER)
        )
    }

    async fn refused(server: &TestServer, extra: &str) -> (ErrorCode, Option<String>) {
        match server.auth.check_authorize(&query(extra)).await {
            Err(AuthorizeError::Redirect {
                error,
                state,
                redirect_uri,
            }) => {
                assert_eq!(redirect_uri, RP_REDIRECT);
                (error.code, state)
            }
            other => panic!("{extra}: {other:?}"),
        }
    }

    #[tokio::test]
    async fn request_objects_and_bad_parameters_are_redirected_errors() {
        let server = TestServer::new();
        for (extra, code) in [
            (
                "&request=eyJhbGciOiJub25lIn0.e30.",
                ErrorCode::RequestNotSupported,
            ),
            (
                "&request_uri=https%3A%2F%2Frp.example%2Fr",
                ErrorCode::RequestUriNotSupported,
            ),
            ("&nonce=a&nonce=b", ErrorCode::InvalidRequest),
            ("&prompt=none&prompt=login", ErrorCode::InvalidRequest),
            ("&prompt=none%20consent", ErrorCode::InvalidRequest),
            ("&max_age=soon", ErrorCode::InvalidRequest),
        ] {
            assert_eq!(
                refused(&server, extra).await,
                (code, Some("s".into())),
                "{extra}"
            );
        }
    }

    #[tokio::test]
    async fn the_openid_parameters_reach_the_request() {
        let server = TestServer::new();
        let request = server
            .auth
            .check_authorize(&query(
                "&nonce=n1&prompt=consent&max_age=30&display=page&ui_locales=fr&acr_values=x&unknown=1",
            ))
            .await
            .unwrap();
        assert_eq!(request.oidc.nonce.as_deref(), Some("n1"));
        assert!(request.oidc.prompt.consent);
        assert_eq!(request.oidc.max_age, Some(30));
    }
}

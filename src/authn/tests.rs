//! [`decide`] as a table of cases (STYLE habit 2): headers and a query in, an [`Identity`] or
//! an [`AuthnFailure`] out, over an [`AuthServer`] with a memory store and a manual clock
//! (`oauth::test_server`). Tokens come from the token endpoint's core (`AuthServer::token`),
//! sessions are put in the store as the sign-in callback puts them.

use http::header::{self, HeaderMap, HeaderValue};

use super::*;
use crate::oauth::test_server::{
    confidential, TestServer, ACCESS_TTL, ALICE, MACHINE, MACHINE_SECRET, OTHER_MACHINE,
    OTHER_MACHINE_SECRET, SESSION_IDLE, SESSION_MAX, SPA,
};
use crate::store::SessionRecord;
use crate::tokens::jwt::LEEWAY_SECS;
use crate::tokens::opaque::TokenHash;

const MALFORMED: AuthnFailure = AuthnFailure::InvalidToken("the Authorization header is malformed");
const INVALID: AuthnFailure = AuthnFailure::InvalidToken("the access token is invalid or expired");
const REVOKED: AuthnFailure = AuthnFailure::InvalidToken("the access token has been revoked");
/// The value of a session cookie whose session is in the store.
const SESSION_ID: &str = "session-id-0123456789abcdefghijklmnopqrstu";

/// A request's headers: `Authorization`, `Cookie` and `Accept`, each when given.
fn headers(authorization: Option<&str>, cookie: Option<&str>, accept: Option<&str>) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in [
        (header::AUTHORIZATION, authorization),
        (header::COOKIE, cookie),
        (header::ACCEPT, accept),
    ] {
        if let Some(value) = value {
            h.insert(name, HeaderValue::from_str(value).unwrap());
        }
    }
    h
}

/// The callers cache of the test's configuration: one per test, as each test runs on a
/// thread of its own (leaked: a few KiB per test).
pub(super) fn callers() -> &'static Callers {
    thread_local! {
        static CALLERS: &'static Callers = Box::leak(Box::default());
    }
    CALLERS.with(|callers| *callers)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn session_cookie(id: &str) -> String {
    format!("{SESSION_COOKIE}={id}")
}

fn scopes(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// A `client_credentials` token of the machine client, with `api:read api:write`.
async fn machine_token(server: &TestServer) -> String {
    server
        .client_credentials(confidential(MACHINE, MACHINE_SECRET), None)
        .await
        .unwrap()
        .access_token
}

/// Puts a route session of `alice` with `scope`, created and last seen now.
async fn put_session(server: &TestServer, id: &str, scope: &str) {
    let now = server.auth.now();
    server
        .auth
        .store
        .put_session(
            TokenHash::of(id),
            SessionRecord {
                sign_in: None,
                factor_tries: 0,
                user: ALICE.to_owned(),
                created_at: now,
                last_seen: now,
                scope: scope.to_owned(),
                family: None,
                person: None,
            },
        )
        .await
        .unwrap();
}

struct Case<'a> {
    name: &'a str,
    mode: AuthMode,
    scopes: Vec<String>,
    headers: HeaderMap,
    query: Option<&'a str>,
    expected: Result<Identity, AuthnFailure>,
}

async fn run(server: &TestServer, cases: Vec<Case<'_>>) {
    for case in cases {
        let got = decide(
            &server.auth,
            callers(),
            case.mode,
            &case.scopes,
            &[],
            &case.headers,
            case.query,
        )
        .await;
        assert_eq!(got, case.expected, "case: {}", case.name);
    }
}

fn machine_identity() -> Identity {
    Identity::new(
        None,
        MACHINE.to_owned(),
        "api:read api:write".to_owned(),
        Via::Bearer,
        false,
    )
}

#[tokio::test]
async fn bearer_route_decisions() {
    let server = TestServer::new();
    let token = machine_token(&server).await;
    let valid = bearer(&token);
    put_session(&server, SESSION_ID, "api:read api:write").await;
    let cookie = session_cookie(SESSION_ID);
    let html = Some("text/html,application/xhtml+xml");
    let in_query = format!("a=1&access_token={token}");
    let b = AuthMode::Bearer;
    let cases = vec![
        Case {
            name: "no Authorization header",
            mode: b,
            scopes: vec![],
            headers: headers(None, None, None),
            query: None,
            expected: Err(AuthnFailure::Missing),
        },
        Case {
            name: "a browser without a token is not sent to sign in on a bearer route",
            mode: b,
            scopes: vec![],
            headers: headers(None, None, html),
            query: None,
            expected: Err(AuthnFailure::Missing),
        },
        Case {
            name: "another scheme is no credential of ours",
            mode: b,
            scopes: vec![],
            headers: headers(Some("Basic dXNlcjpwYXNz"), None, None),
            query: None,
            expected: Err(AuthnFailure::Missing),
        },
        Case {
            name: "the scheme without a token",
            mode: b,
            scopes: vec![],
            headers: headers(Some("Bearer"), None, None),
            query: None,
            expected: Err(MALFORMED),
        },
        Case {
            name: "a token with a space in it",
            mode: b,
            scopes: vec![],
            headers: headers(Some("Bearer abc def"), None, None),
            query: None,
            expected: Err(MALFORMED),
        },
        Case {
            name: "a well-formed token that is no JWT of ours",
            mode: b,
            scopes: vec![],
            headers: headers(Some("Bearer abc.def.ghi"), None, None),
            query: None,
            expected: Err(INVALID),
        },
        Case {
            name: "a valid token, no scope needed",
            mode: b,
            scopes: vec![],
            headers: headers(Some(&valid), None, None),
            query: None,
            expected: Ok(machine_identity()),
        },
        Case {
            name: "a valid token holding every scope needed",
            mode: b,
            scopes: scopes(&["api:write", "api:read"]),
            headers: headers(Some(&valid), None, None),
            query: Some("page=2"),
            expected: Ok(machine_identity()),
        },
        Case {
            name: "a valid token without the one scope needed",
            mode: b,
            scopes: scopes(&["admin"]),
            headers: headers(Some(&valid), None, None),
            query: None,
            expected: Err(AuthnFailure::InsufficientScope("admin".to_owned())),
        },
        Case {
            name: "a valid token without one of the scopes needed: all of them are named",
            mode: b,
            scopes: scopes(&["api:read", "admin"]),
            headers: headers(Some(&valid), None, None),
            query: None,
            expected: Err(AuthnFailure::InsufficientScope("api:read admin".to_owned())),
        },
        Case {
            name: "a scope is matched whole, not as a prefix",
            mode: b,
            scopes: scopes(&["api"]),
            headers: headers(Some(&valid), None, None),
            query: None,
            expected: Err(AuthnFailure::InsufficientScope("api".to_owned())),
        },
        Case {
            name: "a session cookie does not open a bearer route",
            mode: b,
            scopes: vec![],
            headers: headers(None, Some(&cookie), html),
            query: None,
            expected: Err(AuthnFailure::Missing),
        },
        Case {
            name: "a token in the query, beside a valid header",
            mode: b,
            scopes: vec![],
            headers: headers(Some(&valid), None, None),
            query: Some(&in_query),
            expected: Err(AuthnFailure::TokenInQuery),
        },
        Case {
            name: "a token in the query alone",
            mode: b,
            scopes: vec![],
            headers: headers(None, None, None),
            query: Some("ACCESS_TOKEN=x"),
            expected: Err(AuthnFailure::TokenInQuery),
        },
    ];
    run(&server, cases).await;
}

#[tokio::test]
async fn a_token_in_the_query_is_refused_on_a_session_route_with_a_live_session() {
    let server = TestServer::new();
    put_session(&server, SESSION_ID, "api:read").await;
    let cookie = session_cookie(SESSION_ID);
    let got = decide(
        &server.auth,
        callers(),
        AuthMode::Session,
        &[],
        &[],
        &headers(None, Some(&cookie), Some("text/html")),
        Some("access_token=x"),
    )
    .await;
    assert_eq!(got, Err(AuthnFailure::TokenInQuery));
}

#[tokio::test]
async fn a_users_token_names_the_user_and_its_client() {
    let server = TestServer::new();
    let tokens = server.tokens(SPA, "api:read").await;
    let got = decide(
        &server.auth,
        callers(),
        AuthMode::Bearer,
        &scopes(&["api:read"]),
        &[],
        &headers(Some(&bearer(&tokens.access_token)), None, None),
        None,
    )
    .await;
    assert_eq!(
        got,
        Ok(Identity::new(
            Some(ALICE.to_owned()),
            SPA.to_owned(),
            "api:read".to_owned(),
            Via::Bearer,
            false,
        ))
    );
}

/// Tokens are verified once and their claims cached (`VerifiedTokens`): expiry must still be
/// judged on every request, for a cached token as for a new one.
#[tokio::test]
async fn a_token_is_refused_once_the_clock_passes_its_expiry_and_leeway() {
    let server = TestServer::new();
    let cached = machine_token(&server).await;
    let fresh = machine_token(&server).await;
    assert_eq!(
        on_bearer_route(&server, &cached).await,
        Ok(machine_identity())
    );

    server.advance(ACCESS_TTL + LEEWAY_SECS - 1);
    assert_eq!(
        on_bearer_route(&server, &cached).await,
        Ok(machine_identity())
    );

    server.advance(1);
    assert_eq!(
        on_bearer_route(&server, &cached).await,
        Err(INVALID),
        "cached claims"
    );
    assert_eq!(
        on_bearer_route(&server, &fresh).await,
        Err(INVALID),
        "never verified before"
    );
}

/// `decide` for a bearer route needing no scope, with `token` in the header.
async fn on_bearer_route(server: &TestServer, token: &str) -> Result<Identity, AuthnFailure> {
    on_bearer_route_with(server, &headers(Some(&bearer(token)), None, None)).await
}

/// `decide` for a bearer route needing no scope, with the request's headers.
async fn on_bearer_route_with(
    server: &TestServer,
    request: &HeaderMap,
) -> Result<Identity, AuthnFailure> {
    decide(
        &server.auth,
        callers(),
        AuthMode::Bearer,
        &[],
        &[],
        request,
        None,
    )
    .await
}

/// The token is looked up as bytes: one that is not UTF-8 cannot be in the cache, and is
/// refused as malformed (not looked up as text, not verified), also after a valid token
/// filled the cache.
#[tokio::test]
async fn a_bearer_token_that_is_not_utf8_is_malformed() {
    let server = TestServer::new();
    let token = machine_token(&server).await;
    assert!(on_bearer_route(&server, &token).await.is_ok());
    for odd in [&b"Bearer ab\xfccd"[..], b"Bearer \xff", b"bearer a.b.\xc3"] {
        let mut request = HeaderMap::new();
        request.insert(header::AUTHORIZATION, HeaderValue::from_bytes(odd).unwrap());
        let decided = on_bearer_route_with(&server, &request).await;
        assert_eq!(decided, Err(MALFORMED), "{odd:?}");
    }
}

#[tokio::test]
async fn a_revoked_token_is_refused_as_revoked() {
    let server = TestServer::new();
    let token = machine_token(&server).await;
    let other = machine_token(&server).await;
    // Verified (and cached) before the revocation: the revocation is still seen.
    assert!(on_bearer_route(&server, &token).await.is_ok());

    server
        .auth
        .revoke(&token, &confidential(MACHINE, MACHINE_SECRET))
        .await
        .unwrap();
    assert_eq!(on_bearer_route(&server, &token).await, Err(REVOKED));
    assert_eq!(
        on_bearer_route(&server, &other).await,
        Ok(machine_identity()),
        "only the revoked token"
    );
}

#[tokio::test]
async fn a_client_cut_off_revokes_its_tokens_issued_before_it() {
    let server = TestServer::new();
    let token = machine_token(&server).await;
    let other_client = server
        .client_credentials(confidential(OTHER_MACHINE, OTHER_MACHINE_SECRET), None)
        .await
        .unwrap()
        .access_token;
    server.advance(1);
    let now = server.auth.now();
    server
        .auth
        .store
        .revoke_subject(crate::store::Subject::Client(MACHINE.to_owned()), now, now)
        .await
        .unwrap();
    assert_eq!(on_bearer_route(&server, &token).await, Err(REVOKED));
    assert!(
        on_bearer_route(&server, &other_client).await.is_ok(),
        "another client's token"
    );
}

#[tokio::test]
async fn session_route_decisions() {
    let server = TestServer::new();
    put_session(&server, SESSION_ID, "api:read").await;
    let cookie = session_cookie(SESSION_ID);
    let token = machine_token(&server).await;
    let valid = bearer(&token);
    let html = Some("text/html,application/xhtml+xml,*/*;q=0.8");
    let s = AuthMode::Session;
    let alice = Identity::new(
        Some(ALICE.to_owned()),
        GATEWAY_CLIENT_ID.to_owned(),
        "api:read".to_owned(),
        Via::Session,
        false,
    );
    let cases = vec![
        Case {
            name: "no cookie, an API client",
            mode: s,
            scopes: vec![],
            headers: headers(None, None, Some("application/json")),
            query: None,
            expected: Err(AuthnFailure::Missing),
        },
        Case {
            name: "no cookie, no Accept",
            mode: s,
            scopes: vec![],
            headers: headers(None, None, None),
            query: None,
            expected: Err(AuthnFailure::Missing),
        },
        Case {
            name: "no cookie, a browser: sent to sign in",
            mode: s,
            scopes: vec![],
            headers: headers(None, None, html),
            query: None,
            expected: Err(AuthnFailure::LoginRequired),
        },
        Case {
            name: "a cookie of no session, a browser",
            mode: s,
            scopes: vec![],
            headers: headers(None, Some(&session_cookie("unknown")), html),
            query: None,
            expected: Err(AuthnFailure::LoginRequired),
        },
        Case {
            name: "a cookie of no session, an API client",
            mode: s,
            scopes: vec![],
            headers: headers(None, Some(&session_cookie("unknown")), None),
            query: None,
            expected: Err(AuthnFailure::Missing),
        },
        Case {
            name: "another cookie's name with the session's id",
            mode: s,
            scopes: vec![],
            headers: headers(None, Some(&format!("session={SESSION_ID}")), html),
            query: None,
            expected: Err(AuthnFailure::LoginRequired),
        },
        Case {
            name: "a live session",
            mode: s,
            scopes: scopes(&["api:read"]),
            headers: headers(None, Some(&format!("theme=dark; {cookie}")), html),
            query: None,
            expected: Ok(alice.clone()),
        },
        Case {
            name: "a live session without a scope needed",
            mode: s,
            scopes: scopes(&["api:write"]),
            headers: headers(None, Some(&cookie), html),
            query: None,
            expected: Err(AuthnFailure::InsufficientScope("api:write".to_owned())),
        },
        Case {
            name: "another scheme beside a live session: the session decides",
            mode: s,
            scopes: vec![],
            headers: headers(Some("Basic dXNlcjpwYXNz"), Some(&cookie), html),
            query: None,
            expected: Ok(alice.clone()),
        },
        Case {
            name: "a bearer token on a session route",
            mode: s,
            scopes: scopes(&["api:write"]),
            headers: headers(Some(&valid), None, None),
            query: None,
            expected: Ok(machine_identity()),
        },
        Case {
            name: "a bearer token is judged before a session cookie",
            mode: s,
            scopes: scopes(&["api:write"]),
            headers: headers(Some(&valid), Some(&cookie), html),
            query: None,
            expected: Ok(machine_identity()),
        },
        Case {
            name: "an invalid bearer token is not rescued by a live session",
            mode: s,
            scopes: vec![],
            headers: headers(Some("Bearer abc.def.ghi"), Some(&cookie), html),
            query: None,
            expected: Err(INVALID),
        },
        Case {
            name: "a malformed Authorization header is not rescued by a live session",
            mode: s,
            scopes: vec![],
            headers: headers(Some("Bearer "), Some(&cookie), html),
            query: None,
            expected: Err(MALFORMED),
        },
    ];
    run(&server, cases).await;
}

async fn session_alive(server: &TestServer) -> bool {
    let got = decide(
        &server.auth,
        callers(),
        AuthMode::Session,
        &[],
        &[],
        &headers(None, Some(&session_cookie(SESSION_ID)), Some("text/html")),
        None,
    )
    .await;
    match got {
        Ok(identity) => {
            assert_eq!(identity.via, Via::Session);
            true
        }
        Err(AuthnFailure::LoginRequired) => false,
        Err(other) => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn a_session_ends_after_its_idle_timeout_and_each_request_slides_it() {
    let server = TestServer::new();
    put_session(&server, SESSION_ID, "").await;
    server.advance(SESSION_IDLE - 1);
    assert!(session_alive(&server).await, "within the idle timeout");
    // Seen just now: another almost-idle period is fine, though twice the limit has passed
    // since the session began.
    server.advance(SESSION_IDLE - 1);
    assert!(
        session_alive(&server).await,
        "the request above slid the limit"
    );
    server.advance(SESSION_IDLE);
    assert!(!session_alive(&server).await, "idle for the whole timeout");
    // Gone for good: time does not bring it back.
    assert!(!session_alive(&server).await);
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_limit_however_active() {
    let server = TestServer::new();
    put_session(&server, SESSION_ID, "").await;
    let step = SESSION_IDLE / 2;
    let mut elapsed = 0;
    while elapsed + step < SESSION_MAX {
        server.advance(step);
        elapsed += step;
        assert!(session_alive(&server).await, "active, at {elapsed} s");
    }
    server.advance(SESSION_MAX - elapsed);
    assert!(!session_alive(&server).await, "at the absolute limit");
}

/// A name, the allow list, the scopes needed, the request's headers and the outcome.
type AllowCase = (
    &'static str,
    Vec<crate::config::AllowRule>,
    Vec<String>,
    HeaderMap,
    Result<(), AuthnFailure>,
);

/// `allow` lists at the gate: a federated person's session, its record's groups and email
/// (read from the store), a local user, and a client acting for itself.
#[tokio::test]
async fn allow_lists_admit_by_any_rule_and_still_need_the_scopes() {
    use crate::config::AllowRule;
    let server = TestServer::new();
    let jane = "corp:42";
    server
        .auth
        .remember_person(&crate::federation::admit::Admitted {
            principal: jane.into(),
            local_user: false,
            provider: "corp".into(),
            scopes: vec!["api:read".into()],
            email: Some("jane@example.com".into()),
            email_verified: false,
            name: None,
            groups: vec!["admins".into()],
        })
        .await
        .unwrap();
    let now = server.auth.now();
    for (id, user) in [("jane-session", jane), ("alice-session", ALICE)] {
        let session = SessionRecord {
            sign_in: None,
            factor_tries: 0,
            user: user.to_owned(),
            created_at: now,
            last_seen: now,
            scope: "api:read".to_owned(),
            family: None,
            person: None,
        };
        server
            .auth
            .store
            .put_session(TokenHash::of(id), session)
            .await
            .unwrap();
    }
    let machine = machine_token(&server).await;
    let group = |p: Option<&str>, n: &str| AllowRule::Group {
        provider: p.map(str::to_owned),
        name: n.to_owned(),
    };
    let cases: Vec<AllowCase> = vec![
        (
            "provider admits",
            vec![AllowRule::Provider("corp".into())],
            scopes(&["api:read"]),
            headers(None, Some(&session_cookie("jane-session")), None),
            Ok(()),
        ),
        (
            "group from the record",
            vec![AllowRule::User("bob".into()), group(Some("corp"), "admins")],
            vec![],
            headers(None, Some(&session_cookie("jane-session")), None),
            Ok(()),
        ),
        (
            "unverified email's domain",
            vec![AllowRule::Domain("example.com".into())],
            vec![],
            headers(None, Some(&session_cookie("jane-session")), None),
            Err(AuthnFailure::NotAllowed {
                user: Some(jane.into()),
                via: Via::Session,
            }),
        ),
        (
            "local user's verified email",
            vec![AllowRule::Domain("example.com".into())],
            vec![],
            headers(None, Some(&session_cookie("alice-session")), None),
            Ok(()),
        ),
        (
            "local user's group",
            vec![group(None, "admins")],
            vec![],
            headers(None, Some(&session_cookie("alice-session")), None),
            Ok(()),
        ),
        (
            "local user is not of the provider",
            vec![AllowRule::Provider("corp".into())],
            vec![],
            headers(None, Some(&session_cookie("alice-session")), None),
            Err(AuthnFailure::NotAllowed {
                user: Some(ALICE.into()),
                via: Via::Session,
            }),
        ),
        (
            "scopes still all required",
            vec![AllowRule::Provider("corp".into())],
            scopes(&["api:write"]),
            headers(None, Some(&session_cookie("jane-session")), None),
            Err(AuthnFailure::InsufficientScope("api:write".into())),
        ),
        (
            "a client acting for itself",
            vec![AllowRule::User(MACHINE.into())],
            vec![],
            headers(Some(&bearer(&machine)), None, None),
            Err(AuthnFailure::NotAllowed {
                user: None,
                via: Via::Bearer,
            }),
        ),
    ];
    for (name, allow, needed, headers, wanted) in cases {
        let got = decide(
            &server.auth,
            callers(),
            AuthMode::Session,
            &needed,
            &allow,
            &headers,
            None,
        )
        .await;
        assert_eq!(got.map(|_| ()), wanted, "{name}");
    }
}

/// A route with `mfa = true`: who passes, who is stepped up, who gets RFC 9470's refusal.
#[test]
fn the_second_factor_gate() {
    let identity = |via: Via, second_factor: bool| {
        Identity::new(
            Some("alice".into()),
            "c".into(),
            String::new(),
            via,
            second_factor,
        )
    };
    let mut browser = HeaderMap::new();
    browser.insert(http::header::ACCEPT, "text/html".parse().unwrap());
    let api = HeaderMap::new();
    let cases = [
        (Via::Session, false, false, &browser, Ok(())),
        (Via::Bearer, false, false, &api, Ok(())),
        (Via::Session, true, true, &browser, Ok(())),
        (Via::Bearer, true, true, &api, Ok(())),
        (
            Via::Session,
            false,
            true,
            &browser,
            Err(AuthnFailure::StepUpRequired),
        ),
        (
            Via::Session,
            false,
            true,
            &api,
            Err(AuthnFailure::InsufficientUserAuthentication),
        ),
        (
            Via::Bearer,
            false,
            true,
            &browser,
            Err(AuthnFailure::InsufficientUserAuthentication),
        ),
        (
            Via::Bearer,
            false,
            true,
            &api,
            Err(AuthnFailure::InsufficientUserAuthentication),
        ),
    ];
    for (via, second, required, headers, want) in cases {
        assert_eq!(
            crate::authn::second_factor_gate(&identity(via, second), required, headers),
            want,
            "{via:?} second={second} required={required}"
        );
    }
}

//! The gate's treatment of federated principals over an [`AuthServer`] with a memory store
//! (`oauth::test_server`, whose provider `corp` grants `api:read` and the built-in scopes,
//! and `api:write` to `admins`): the `allow` facts a route session carries, the facts of a
//! token read once, and a provider removed (or a scope taken from it) by a reload.

use http::header::{self, HeaderMap, HeaderValue};

use crate::authn::{decide, AuthnFailure, Identity, Via};
use crate::config::{AllowRule, AuthMode};
use crate::federation::admit::Admitted;
use crate::gateway_paths::SESSION_COOKIE;
use crate::oauth::test_server::{challenge, public, TestServer, SPA, VERIFIER};
use crate::store::{AllowFacts, SessionRecord};
use crate::tokens::opaque::TokenHash;

fn admitted(principal: &str, groups: &[&str]) -> Admitted {
    Admitted {
        principal: principal.into(),
        local_user: false,
        provider: "corp".into(),
        scopes: vec!["api:read".into()],
        email: Some("jane@example.com".into()),
        email_verified: true,
        name: None,
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
    }
}

fn ops() -> Vec<AllowRule> {
    vec![AllowRule::Group {
        provider: Some("corp".into()),
        name: "ops".into(),
    }]
}

async fn put_session(
    server: &TestServer,
    id: &str,
    user: &str,
    scope: &str,
    facts: Option<AllowFacts>,
) {
    let now = server.auth.now();
    let record = SessionRecord {
        sign_in: None,
        factor_tries: 0,
        user: user.into(),
        created_at: now,
        last_seen: now,
        scope: scope.into(),
        family: None,
        person: facts,
    };
    server
        .auth
        .store
        .put_session(TokenHash::of(id), record)
        .await
        .unwrap();
}

fn cookie(id: &str, html: bool) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::COOKIE,
        HeaderValue::from_str(&format!("{SESSION_COOKIE}={id}")).unwrap(),
    );
    if html {
        h.insert(header::ACCEPT, HeaderValue::from_static("text/html"));
    }
    h
}

fn bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    h
}

async fn on_route(
    server: &TestServer,
    scopes: &[&str],
    allow: &[AllowRule],
    headers: &HeaderMap,
) -> Result<Identity, AuthnFailure> {
    let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
    decide(
        &server.auth,
        crate::authn::tests::callers(),
        AuthMode::Session,
        &scopes,
        allow,
        headers,
        None,
    )
    .await
}

/// An access token of `principal` (remembered first) at the public client.
async fn token_of(server: &TestServer, principal: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", SPA)
        .append_pair("scope", "api:read")
        .append_pair("code_challenge", &challenge(VERIFIER))
        .append_pair("code_challenge_method", "S256")
        .finish();
    let code = server.code_with(&query, principal).await;
    server
        .redeem(public(SPA), &code, None, Some(VERIFIER))
        .await
        .unwrap()
        .access_token
}

#[tokio::test]
async fn a_route_session_carries_its_persons_facts_and_reads_no_record() {
    let server = TestServer::new();
    // No record at all for corp:99: only the session says it is in ops.
    let facts = AllowFacts {
        provider: Some("corp".into()),
        groups: vec!["ops".into()],
        domain: Some("example.com".into()),
    };
    put_session(&server, "carried", "corp:99", "api:read", Some(facts)).await;
    assert!(on_route(&server, &[], &ops(), &cookie("carried", false))
        .await
        .is_ok());
    let domain = [AllowRule::Domain("example.com".into())];
    assert!(on_route(&server, &[], &domain, &cookie("carried", false))
        .await
        .is_ok());
    // A session begun before sessions carried facts: the record is read.
    server
        .auth
        .remember_person(&admitted("corp:42", &["ops"]))
        .await
        .unwrap();
    put_session(&server, "old", "corp:42", "api:read", None).await;
    assert!(on_route(&server, &[], &ops(), &cookie("old", false))
        .await
        .is_ok());
}

#[tokio::test]
async fn a_tokens_facts_are_read_once_and_kept_for_the_token() {
    let server = TestServer::new();
    server
        .auth
        .remember_person(&admitted("corp:42", &["ops"]))
        .await
        .unwrap();
    let token = token_of(&server, "corp:42").await;
    assert!(on_route(&server, &[], &ops(), &bearer(&token))
        .await
        .is_ok());
    // A later sign-in says other groups: this token keeps what its first use read...
    server
        .auth
        .remember_person(&admitted("corp:42", &["dev"]))
        .await
        .unwrap();
    assert!(on_route(&server, &[], &ops(), &bearer(&token))
        .await
        .is_ok());
    // ...and a new token reads the record as it is now.
    let newer = token_of(&server, "corp:42").await;
    let refused = on_route(&server, &[], &ops(), &bearer(&newer)).await;
    assert_eq!(
        refused,
        Err(AuthnFailure::NotAllowed {
            user: Some("corp:42".into()),
            via: Via::Bearer
        })
    );
}

#[tokio::test]
async fn a_provider_removed_by_a_reload_refuses_its_people_at_once() {
    let mut server = TestServer::new();
    server
        .auth
        .remember_person(&admitted("corp:42", &["ops"]))
        .await
        .unwrap();
    let token = token_of(&server, "corp:42").await;
    put_session(&server, "s", "corp:42", "api:read", None).await;
    assert!(on_route(&server, &["api:read"], &[], &bearer(&token))
        .await
        .is_ok());
    assert!(on_route(&server, &["api:read"], &[], &cookie("s", false))
        .await
        .is_ok());
    server.auth.providers.clear();
    assert_eq!(
        on_route(&server, &["api:read"], &[], &bearer(&token)).await,
        Err(AuthnFailure::InvalidToken(
            "the access token's identity provider is no longer configured"
        ))
    );
    // The session counts as none: a browser is sent to sign in (where the provider is
    // gone), a script gets 401; never the route.
    assert_eq!(
        on_route(&server, &["api:read"], &[], &cookie("s", true)).await,
        Err(AuthnFailure::LoginRequired)
    );
    assert_eq!(
        on_route(&server, &[], &[], &cookie("s", false)).await,
        Err(AuthnFailure::Missing)
    );
}

#[tokio::test]
async fn a_scope_the_provider_no_longer_gives_is_no_longer_held() {
    let mut server = TestServer::new();
    put_session(&server, "s", "corp:42", "api:read api:write", None).await;
    let held = on_route(&server, &["api:write"], &[], &cookie("s", false)).await;
    assert_eq!(held.unwrap().scope(), "api:read api:write");
    // A reload takes api:write out of the provider's group_scopes.
    server.auth.providers[0].group_scopes.clear();
    assert_eq!(
        on_route(&server, &["api:write"], &[], &cookie("s", false)).await,
        Err(AuthnFailure::InsufficientScope("api:write".into()))
    );
    let identity = on_route(&server, &["api:read"], &[], &cookie("s", false))
        .await
        .unwrap();
    assert_eq!(
        identity.scope(),
        "api:read",
        "what is forwarded upstream is cut too"
    );
}

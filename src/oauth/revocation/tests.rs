//! Revocation (RFC 7009) and introspection (RFC 7662) over plain types: what each answer is,
//! and what it revoked, checked by the per-request verification and by refreshing.

use super::*;
use crate::oauth::error::ErrorCode;
use crate::oauth::test_server::{
    confidential, public, TestServer, ACCESS_TTL, ALICE, ISSUER, MACHINE, MACHINE_SECRET,
    OTHER_MACHINE, OTHER_MACHINE_SECRET, OTHER_SPA, REFRESH_GRACE, SPA, WEB, WEB_SECRET,
};
use crate::oauth::TokenResponse;
use crate::tokens::jwt::LEEWAY_SECS;

fn machine() -> ClientCredentials {
    confidential(MACHINE, MACHINE_SECRET)
}

fn other_machine() -> ClientCredentials {
    confidential(OTHER_MACHINE, OTHER_MACHINE_SECRET)
}

async fn machine_token(server: &TestServer) -> String {
    server
        .client_credentials(machine(), None)
        .await
        .unwrap()
        .access_token
}

fn refresh_token(tokens: &TokenResponse) -> &str {
    tokens.refresh_token.as_deref().unwrap()
}

#[tokio::test]
async fn a_client_revokes_its_own_access_token_and_only_that_one() {
    let server = TestServer::new();
    let token = machine_token(&server).await;
    let sibling = machine_token(&server).await;
    assert_eq!(server.auth.revoke(&token, &machine()).await, Ok(()));
    assert!(!server.is_active(&token).await);
    assert!(server.is_active(&sibling).await);
    // Revoking it again answers the same.
    assert_eq!(server.auth.revoke(&token, &machine()).await, Ok(()));
}

#[tokio::test]
async fn a_client_revoking_another_clients_token_is_answered_ok_and_ignored() {
    let server = TestServer::new();
    let access = machine_token(&server).await;
    let tokens = server.tokens(SPA, "api:read").await;
    // RFC 7009 §2.2: the same answer as for a revoked or unknown token.
    assert_eq!(server.auth.revoke(&access, &other_machine()).await, Ok(()));
    assert_eq!(
        server
            .auth
            .revoke(refresh_token(&tokens), &public(OTHER_SPA))
            .await,
        Ok(())
    );
    assert_eq!(
        server
            .auth
            .revoke(&tokens.access_token, &confidential(WEB, WEB_SECRET))
            .await,
        Ok(())
    );
    assert!(server.is_active(&access).await);
    assert!(server.is_active(&tokens.access_token).await);
    assert!(server
        .refresh(public(SPA), refresh_token(&tokens), None)
        .await
        .is_ok());
}

#[tokio::test]
async fn revoking_a_refresh_token_ends_its_family_and_its_access_tokens() {
    let server = TestServer::new();
    let first = server.tokens(SPA, "api:read").await;
    let second = server
        .refresh(public(SPA), refresh_token(&first), None)
        .await
        .unwrap();
    let other_family = server.tokens(SPA, "api:read").await;

    assert_eq!(
        server
            .auth
            .revoke(refresh_token(&second), &public(SPA))
            .await,
        Ok(())
    );
    assert!(!server.is_active(&first.access_token).await);
    assert!(!server.is_active(&second.access_token).await);
    assert_eq!(
        server
            .refresh(public(SPA), refresh_token(&second), None)
            .await
            .map_err(|e| e.code),
        Err(ErrorCode::InvalidGrant)
    );
    assert!(server.is_active(&other_family.access_token).await);
}

#[tokio::test]
async fn a_rotated_refresh_token_still_revokes_its_family() {
    let server = TestServer::new();
    let first = server.tokens(SPA, "api:read").await;
    let second = server
        .refresh(public(SPA), refresh_token(&first), None)
        .await
        .unwrap();
    server.advance(REFRESH_GRACE);
    assert_eq!(
        server
            .auth
            .revoke(refresh_token(&first), &public(SPA))
            .await,
        Ok(())
    );
    assert!(!server.is_active(&second.access_token).await);
}

#[tokio::test]
async fn unknown_malformed_and_expired_tokens_are_answered_ok() {
    let server = TestServer::new();
    let expired = machine_token(&server).await;
    server.advance(ACCESS_TTL + LEEWAY_SECS);
    for token in ["", "no-such-token", "a.b.c", &expired] {
        assert_eq!(
            server.auth.revoke(token, &machine()).await,
            Ok(()),
            "{token:?}"
        );
    }
}

#[tokio::test]
async fn revocation_needs_client_authentication() {
    let server = TestServer::new();
    let token = machine_token(&server).await;
    for creds in [
        confidential(MACHINE, "guess"),
        ClientCredentials::default(),
        confidential("nobody", MACHINE_SECRET),
    ] {
        assert_eq!(
            server.auth.revoke(&token, &creds).await.map_err(|e| e.code),
            Err(ErrorCode::InvalidClient),
            "{creds:?}"
        );
    }
    assert!(server.is_active(&token).await);
}

#[tokio::test]
async fn introspection_describes_a_live_access_token() {
    let server = TestServer::new();
    let tokens = server.tokens(SPA, "api:read").await;
    let answer = server
        .auth
        .introspect(&tokens.access_token, &machine())
        .await
        .unwrap();
    assert!(answer.active);
    assert_eq!(answer.scope.as_deref(), Some("api:read"));
    assert_eq!(answer.client_id.as_deref(), Some(SPA));
    assert_eq!(answer.username.as_deref(), Some(ALICE));
    assert_eq!(answer.token_type, Some("Bearer"));
    assert_eq!(answer.iss.as_deref(), Some(ISSUER));
    let now = server.auth.now();
    assert_eq!(
        (answer.iat, answer.exp),
        (Some(now), Some(now + ACCESS_TTL))
    );

    // A client's own token names no user.
    let own = machine_token(&server).await;
    let answer = server.auth.introspect(&own, &machine()).await.unwrap();
    assert_eq!((answer.active, answer.username), (true, None));
}

#[tokio::test]
async fn introspection_says_inactive_and_nothing_more_for_what_is_not_valid_now() {
    let server = TestServer::new();
    let revoked = machine_token(&server).await;
    server.auth.revoke(&revoked, &machine()).await.unwrap();
    let first = server.tokens(SPA, "api:read").await;
    let rotated = refresh_token(&first).to_owned();
    server.refresh(public(SPA), &rotated, None).await.unwrap();
    let expired = machine_token(&server).await;
    server.advance(ACCESS_TTL + LEEWAY_SECS);
    for token in ["no-such-token", &revoked, &rotated, &expired] {
        let answer = server.auth.introspect(token, &machine()).await.unwrap();
        assert_eq!(answer, Introspection::inactive(), "{token:?}");
        assert_eq!(
            serde_json::to_string(&answer).unwrap(),
            r#"{"active":false}"#
        );
    }
}

#[tokio::test]
async fn introspection_describes_a_current_refresh_token() {
    let server = TestServer::new();
    let tokens = server.tokens(SPA, "api:read api:write").await;
    let answer = server
        .auth
        .introspect(refresh_token(&tokens), &machine())
        .await
        .unwrap();
    assert!(answer.active);
    assert_eq!(answer.token_type, Some("refresh_token"));
    assert_eq!(answer.scope.as_deref(), Some("api:read api:write"));
    assert_eq!(answer.client_id.as_deref(), Some(SPA));
    assert_eq!(answer.username.as_deref(), Some(ALICE));
}

#[tokio::test]
async fn introspection_is_for_confidential_clients() {
    let server = TestServer::new();
    let token = machine_token(&server).await;
    assert_eq!(
        server.auth.introspect(&token, &public(SPA)).await,
        Err(OAuthError::invalid_client(
            "introspection is for confidential clients"
        ))
    );
    assert_eq!(
        server
            .auth
            .introspect(&token, &confidential(MACHINE, "guess"))
            .await
            .map_err(|e| e.code),
        Err(ErrorCode::InvalidClient)
    );
}

//! UserInfo: the claims of the scopes a token holds, the same as its ID token's, and each
//! refusal.

use super::*;
use crate::oauth::test_server::*;

async fn rp_tokens(server: &TestServer, scope: &str) -> crate::oauth::TokenResponse {
    let code = server.code(RP, scope).await;
    server
        .redeem(confidential(RP, RP_SECRET), &code, None, Some(VERIFIER))
        .await
        .unwrap()
}

#[tokio::test]
async fn userinfo_answers_the_id_tokens_sub_and_claims() {
    let server = TestServer::new();
    let tokens = rp_tokens(&server, "openid profile email groups").await;
    let info = server.auth.userinfo(&tokens.access_token).await.unwrap();
    let id = server
        .auth
        .verify_id_token_hint(tokens.id_token.as_deref().unwrap(), false)
        .unwrap();
    assert_eq!(info.sub, id.sub);
    assert_eq!(info.claims, id.scope_claims);
    assert_eq!(
        serde_json::to_value(&info).unwrap(),
        serde_json::json!({
            "sub": ALICE,
            "name": ALICE_DISPLAY_NAME,
            "preferred_username": ALICE,
            "email": ALICE_EMAIL,
            "email_verified": true,
            "groups": ["admins", "dev"],
        })
    );
}

#[tokio::test]
async fn userinfo_gives_only_the_scopes_held() {
    let server = TestServer::new();
    let tokens = rp_tokens(&server, "openid email").await;
    let info = server.auth.userinfo(&tokens.access_token).await.unwrap();
    assert_eq!(
        serde_json::to_value(&info).unwrap(),
        serde_json::json!({"sub": ALICE, "email": ALICE_EMAIL, "email_verified": true})
    );
}

#[tokio::test]
async fn a_token_without_openid_is_insufficient() {
    let server = TestServer::new();
    let tokens = rp_tokens(&server, "api:read profile").await;
    assert_eq!(
        server.auth.userinfo(&tokens.access_token).await,
        Err(UserInfoRefused::InsufficientScope)
    );
}

#[tokio::test]
async fn invalid_expired_and_machine_tokens_are_refused() {
    let server = TestServer::new();
    assert!(matches!(
        server.auth.userinfo("not-a-token").await,
        Err(UserInfoRefused::InvalidToken(_))
    ));
    let machine = server
        .client_credentials(confidential(MACHINE, MACHINE_SECRET), None)
        .await
        .unwrap();
    assert!(matches!(
        server.auth.userinfo(&machine.access_token).await,
        Err(UserInfoRefused::InvalidToken(_) | UserInfoRefused::InsufficientScope)
    ));
    let tokens = rp_tokens(&server, "openid").await;
    server.advance(ACCESS_TTL + 60);
    assert!(matches!(
        server.auth.userinfo(&tokens.access_token).await,
        Err(UserInfoRefused::InvalidToken(_))
    ));
}

#[tokio::test]
async fn a_replayed_code_revokes_the_first_access_token_at_userinfo() {
    // Conformance oidcc-codereuse-30seconds.
    let server = TestServer::new();
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", RP)
        .append_pair("scope", "openid email")
        .append_pair("code_challenge", &challenge(VERIFIER))
        .append_pair("code_challenge_method", "S256")
        .finish();
    let code = server.code_with(&query, ALICE).await;
    let first = server
        .redeem(confidential(RP, RP_SECRET), &code, None, Some(VERIFIER))
        .await
        .unwrap();
    assert!(server.auth.userinfo(&first.access_token).await.is_ok());
    server.advance(30);
    let replay = server
        .redeem(confidential(RP, RP_SECRET), &code, None, Some(VERIFIER))
        .await;
    assert_eq!(
        replay.unwrap_err().code,
        crate::oauth::error::ErrorCode::InvalidGrant
    );
    assert_eq!(
        server.auth.userinfo(&first.access_token).await,
        Err(UserInfoRefused::InvalidToken(
            "the access token has been revoked"
        ))
    );
}

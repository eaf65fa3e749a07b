//! Authorization codes at the token endpoint (RFC 6749 §4.1.3, RFC 7636 §4.6): single use
//! with revocation on a valid replay, bound to client, redirect_uri and verifier, short-lived.

use oauth2::{PkceCodeVerifier, TokenResponse};

use crate::support::oauth::{
    code_for, same_verifier, token_error, AuthGateway, OTHER_SPA, OTHER_SPA_REDIRECT, SPA,
};

/// A verifier of the right shape that does not answer the challenge.
fn wrong_verifier() -> PkceCodeVerifier {
    PkceCodeVerifier::new("x".repeat(64))
}

#[tokio::test]
async fn code_reuse_is_refused_and_revokes_the_tokens_of_the_first_use() {
    let gateway = AuthGateway::start().await;
    let spa = gateway.spa();
    let http = gateway.http();
    let (callback, request) = code_for(&gateway, &spa, &["api:read"]).await;
    let tokens = spa
        .exchange_code(callback.code())
        .set_pkce_verifier(same_verifier(&request.verifier))
        .request_async(&http)
        .await
        .expect("first redemption");
    assert!(gateway.is_active(tokens.access_token().secret()).await);

    let replay = spa
        .exchange_code(callback.code())
        .set_pkce_verifier(request.verifier)
        .request_async(&http)
        .await
        .expect_err("a second redemption");
    assert_eq!(token_error(replay), "invalid_grant");

    assert!(
        !gateway.is_active(tokens.access_token().secret()).await,
        "the first redemption's access token is revoked"
    );
    let refresh = spa
        .exchange_refresh_token(tokens.refresh_token().expect("refresh token"))
        .request_async(&http)
        .await
        .expect_err("the first redemption's refresh token is revoked");
    assert_eq!(token_error(refresh), "invalid_grant");
}

#[tokio::test]
async fn code_replay_with_a_wrong_verifier_revokes_nothing() {
    // Else anyone who saw a used code could revoke its owner's tokens (OAuth 2.1 §7.5.2).
    let gateway = AuthGateway::start().await;
    let spa = gateway.spa();
    let http = gateway.http();
    let (callback, request) = code_for(&gateway, &spa, &["api:read"]).await;
    let tokens = spa
        .exchange_code(callback.code())
        .set_pkce_verifier(request.verifier)
        .request_async(&http)
        .await
        .expect("first redemption");

    let replay = spa
        .exchange_code(callback.code())
        .set_pkce_verifier(wrong_verifier())
        .request_async(&http)
        .await
        .expect_err("a replay with a wrong verifier");
    assert_eq!(token_error(replay), "invalid_grant");

    assert!(gateway.is_active(tokens.access_token().secret()).await);
    spa.exchange_refresh_token(tokens.refresh_token().expect("refresh token"))
        .request_async(&http)
        .await
        .expect("the refresh token still works");
}

#[tokio::test]
async fn wrong_code_verifier_is_invalid_grant() {
    let gateway = AuthGateway::start().await;
    let spa = gateway.spa();
    let (callback, _) = code_for(&gateway, &spa, &["api:read"]).await;
    let err = spa
        .exchange_code(callback.code())
        .set_pkce_verifier(wrong_verifier())
        .request_async(&gateway.http())
        .await
        .expect_err("a wrong verifier");
    assert_eq!(token_error(err), "invalid_grant");
}

#[tokio::test]
async fn missing_code_verifier_is_invalid_grant() {
    let gateway = AuthGateway::start().await;
    let spa = gateway.spa();
    let (callback, _) = code_for(&gateway, &spa, &["api:read"]).await;
    let err = spa
        .exchange_code(callback.code())
        .request_async(&gateway.http())
        .await
        .expect_err("no verifier for a code with a challenge");
    assert_eq!(token_error(err), "invalid_grant");
}

#[tokio::test]
async fn expired_code_is_invalid_grant() {
    // Default code_ttl: 60 s. The gateway's clock is moved past it, not slept through.
    let gateway = AuthGateway::start().await;
    let spa = gateway.spa();
    let (callback, request) = code_for(&gateway, &spa, &["api:read"]).await;
    gateway.advance(61);
    let err = spa
        .exchange_code(callback.code())
        .set_pkce_verifier(same_verifier(&request.verifier))
        .request_async(&gateway.http())
        .await
        .expect_err("an expired code");
    assert_eq!(token_error(err), "invalid_grant");
}

#[tokio::test]
async fn code_within_a_short_code_ttl_works_and_expires_after_it() {
    let gateway = AuthGateway::start_with("code_ttl = \"5s\"").await;
    let spa = gateway.spa();
    let (early, early_request) = code_for(&gateway, &spa, &["api:read"]).await;
    let (late, late_request) = code_for(&gateway, &spa, &["api:read"]).await;
    gateway.advance(4);
    spa.exchange_code(early.code())
        .set_pkce_verifier(early_request.verifier)
        .request_async(&gateway.http())
        .await
        .expect("a code within its lifetime");
    gateway.advance(1);
    let err = spa
        .exchange_code(late.code())
        .set_pkce_verifier(late_request.verifier)
        .request_async(&gateway.http())
        .await
        .expect_err("a code at the end of its lifetime");
    assert_eq!(token_error(err), "invalid_grant");
}

#[tokio::test]
async fn code_from_another_client_is_invalid_grant() {
    let gateway = AuthGateway::start().await;
    let spa = gateway.spa();
    let (callback, request) = code_for(&gateway, &spa, &["api:read"]).await;
    assert_eq!(callback.get("code").map(str::len), Some(43));

    // Another public client, with the right verifier: refused.
    let other = gateway.oauth_client(OTHER_SPA, None, OTHER_SPA_REDIRECT);
    let err = other
        .exchange_code(callback.code())
        .set_pkce_verifier(same_verifier(&request.verifier))
        .request_async(&gateway.http())
        .await
        .expect_err("another client's code");
    assert_eq!(token_error(err), "invalid_grant");

    // And a confidential one, authenticated.
    let err = gateway
        .web()
        .exchange_code(callback.code())
        .set_pkce_verifier(request.verifier)
        .request_async(&gateway.http())
        .await
        .expect_err("another client's code");
    assert_eq!(token_error(err), "invalid_grant");
}

#[tokio::test]
async fn code_redeemed_with_another_redirect_uri_is_invalid_grant() {
    let gateway = AuthGateway::start().await;
    let spa = gateway.spa();
    let (callback, request) = code_for(&gateway, &spa, &["api:read"]).await;
    // A loopback URI the authorization endpoint would have accepted, but not the one used.
    let elsewhere = gateway.oauth_client(SPA, None, "http://127.0.0.1:5999/callback");
    let err = elsewhere
        .exchange_code(callback.code())
        .set_pkce_verifier(request.verifier)
        .request_async(&gateway.http())
        .await
        .expect_err("another redirect_uri");
    assert_eq!(token_error(err), "invalid_grant");
}

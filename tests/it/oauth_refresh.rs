//! Refresh tokens (RFC 6749 §6, RFC 9700 §4.14): rotation on every use, the grace window
//! for concurrent refreshes, reuse detection that revokes the family, scope narrowing only,
//! and binding to the client.

use oauth2::basic::BasicTokenResponse;
use oauth2::{RefreshToken, Scope, TokenResponse};

use crate::support::oauth::{
    token_error, tokens_for, AuthGateway, OAuthClient, OTHER_SPA, OTHER_SPA_REDIRECT,
};

async fn refresh(
    gateway: &AuthGateway,
    client: &OAuthClient,
    token: &RefreshToken,
) -> Result<BasicTokenResponse, String> {
    client
        .exchange_refresh_token(token)
        .request_async(&gateway.http())
        .await
        .map_err(token_error)
}

fn refresh_token(tokens: &BasicTokenResponse) -> RefreshToken {
    tokens.refresh_token().expect("a refresh token").clone()
}

#[tokio::test]
async fn refresh_rotates_and_a_replay_within_the_grace_window_gets_the_same_pair() {
    // Default refresh_grace: 5 s.
    let gateway = AuthGateway::start().await;
    let spa = gateway.spa();
    let first = tokens_for(&gateway, &spa, &["api:read"]).await;
    let r0 = refresh_token(&first);

    let second = refresh(&gateway, &spa, &r0).await.expect("refresh");
    let r1 = refresh_token(&second);
    assert_ne!(r1.secret(), r0.secret(), "rotated");
    assert_ne!(
        second.access_token().secret(),
        first.access_token().secret()
    );

    // A second tab refreshing with the same token moments later gets the very same pair.
    let replay = refresh(&gateway, &spa, &r0).await.expect("grace replay");
    assert_eq!(
        replay.access_token().secret(),
        second.access_token().secret()
    );
    assert_eq!(refresh_token(&replay).secret(), r1.secret());

    // Nothing was revoked: the new pair works, and rotates on.
    assert!(gateway.is_active(second.access_token().secret()).await);
    let third = refresh(&gateway, &spa, &r1).await.expect("refresh");
    assert_ne!(refresh_token(&third).secret(), r1.secret());
    assert!(gateway.is_active(third.access_token().secret()).await);
}

#[tokio::test]
async fn refresh_reuse_after_the_grace_window_revokes_the_family() {
    // Default refresh_grace: 5 s, on the gateway's clock.
    let gateway = AuthGateway::start().await;
    let spa = gateway.spa();
    let first = tokens_for(&gateway, &spa, &["api:read"]).await;
    let r0 = refresh_token(&first);
    let second = refresh(&gateway, &spa, &r0).await.expect("refresh");
    let r1 = refresh_token(&second);

    gateway.advance(4);
    let replay = refresh(&gateway, &spa, &r0)
        .await
        .expect("still within grace");
    assert_eq!(refresh_token(&replay).secret(), r1.secret());

    gateway.advance(1);
    assert_eq!(
        refresh(&gateway, &spa, &r0).await.err().as_deref(),
        Some("invalid_grant")
    );
    assert_eq!(
        refresh(&gateway, &spa, &r1).await.err().as_deref(),
        Some("invalid_grant"),
        "the family is revoked"
    );
    assert!(!gateway.is_active(second.access_token().secret()).await);
}

#[tokio::test]
async fn refresh_reuse_without_grace_revokes_the_family() {
    let gateway = AuthGateway::start_with("refresh_grace = \"0s\"").await;
    let spa = gateway.spa();
    let first = tokens_for(&gateway, &spa, &["api:read"]).await;
    let r0 = refresh_token(&first);
    let second = refresh(&gateway, &spa, &r0).await.expect("refresh");
    let r1 = refresh_token(&second);
    assert!(gateway.is_active(second.access_token().secret()).await);

    // The used token again: refused, and the whole family is gone.
    assert_eq!(
        refresh(&gateway, &spa, &r0).await.err().as_deref(),
        Some("invalid_grant")
    );
    assert_eq!(
        refresh(&gateway, &spa, &r1).await.err().as_deref(),
        Some("invalid_grant"),
        "the newest refresh token of the family stops working"
    );
    assert!(
        !gateway.is_active(second.access_token().secret()).await,
        "the access token issued from the rotation is revoked"
    );
    assert!(
        !gateway.is_active(first.access_token().secret()).await,
        "the family's first access token is revoked"
    );
}

#[tokio::test]
async fn refresh_may_narrow_the_scope() {
    let gateway = AuthGateway::start().await;
    let spa = gateway.spa();
    let tokens = tokens_for(&gateway, &spa, &["api:read", "api:write"]).await;
    let narrowed = spa
        .exchange_refresh_token(&refresh_token(&tokens))
        .add_scope(Scope::new("api:read".to_owned()))
        .request_async(&gateway.http())
        .await
        .expect("narrowing refresh");
    let scopes: Vec<String> = narrowed
        .scopes()
        .expect("scope")
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(scopes, ["api:read"]);
    let answer = gateway.introspect(narrowed.access_token().secret()).await;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["scope"], "api:read");
}

#[tokio::test]
async fn refresh_widening_the_scope_is_invalid_scope() {
    let gateway = AuthGateway::start().await;
    let spa = gateway.spa();
    let tokens = tokens_for(&gateway, &spa, &["api:read"]).await;
    let r0 = refresh_token(&tokens);
    // `api:write` is allowed for the client and the user, but was not granted here.
    for wider in [
        vec!["api:read", "api:write"],
        vec!["api:write"],
        vec!["admin"],
    ] {
        let err = spa
            .exchange_refresh_token(&r0)
            .add_scopes(wider.iter().map(|s| Scope::new((*s).to_owned())))
            .request_async(&gateway.http())
            .await
            .expect_err("a wider scope");
        assert_eq!(token_error(err), "invalid_scope", "{wider:?}");
    }
    // The refused requests did not use the token up.
    let refreshed = refresh(&gateway, &spa, &r0).await.expect("refresh");
    let scopes: Vec<String> = refreshed
        .scopes()
        .expect("scope")
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(scopes, ["api:read"]);
}

#[tokio::test]
async fn refresh_by_another_client_is_invalid_grant() {
    let gateway = AuthGateway::start().await;
    let spa = gateway.spa();
    let tokens = tokens_for(&gateway, &spa, &["api:read"]).await;
    let r0 = refresh_token(&tokens);

    let other_public = gateway.oauth_client(OTHER_SPA, None, OTHER_SPA_REDIRECT);
    assert_eq!(
        refresh(&gateway, &other_public, &r0).await.err().as_deref(),
        Some("invalid_grant")
    );
    let confidential = gateway.web();
    assert_eq!(
        refresh(&gateway, &confidential, &r0).await.err().as_deref(),
        Some("invalid_grant")
    );

    // The attempts neither used the token up nor revoked anything.
    assert!(gateway.is_active(tokens.access_token().secret()).await);
    let refreshed = refresh(&gateway, &spa, &r0)
        .await
        .expect("refresh by its client");
    assert!(gateway.is_active(refreshed.access_token().secret()).await);
}

//! The token endpoint's grants over plain types (no HTTP, no login): codes issued as the
//! authorization endpoint issues them, redeemed through [`AuthServer::token`], with the
//! manual clock for code and grace expiry. What the end-to-end tests in
//! `tests/it/oauth_codes.rs` and `oauth_refresh.rs` check through a browser-less OAuth
//! client, checked here at the core.

use super::*;
use crate::oauth::test_server::{
    challenge, confidential, public, TestServer, ALICE, CLI, CLI_REDIRECT, CODE_TTL, MACHINE,
    MACHINE_SECRET, NATIVE, NATIVE_REDIRECT, OTHER_SPA, REFRESH_GRACE, SPA, SPA_REDIRECT, VERIFIER,
    WEB, WEB_SECRET, WRONG_VERIFIER,
};

/// The authorization request's query (without `response_type`) for `client`, with a
/// challenge for [`VERIFIER`].
fn authorize_query(client: &str, redirect_uri: Option<&str>, scope: &str) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("client_id", client);
    if let Some(uri) = redirect_uri {
        query.append_pair("redirect_uri", uri);
    }
    query
        .append_pair("scope", scope)
        .append_pair("code_challenge", &challenge(VERIFIER))
        .append_pair("code_challenge_method", "S256")
        .finish()
}

fn invalid_grant(description: &'static str) -> Result<TokenResponse, OAuthError> {
    Err(OAuthError::invalid_grant(description))
}

const CODE_SPENT: &str = "the code is invalid, expired or already used";
const REFRESH_REFUSED: &str = "the refresh token is invalid, expired or revoked";

fn refresh_token(tokens: &TokenResponse) -> &str {
    tokens.refresh_token.as_deref().unwrap()
}

#[tokio::test]
async fn a_code_gives_tokens_bound_to_its_user_client_and_scope() {
    let server = TestServer::new();
    let code = server.code(SPA, "api:read").await;
    let tokens = server
        .redeem(public(SPA), &code, Some(SPA_REDIRECT), Some(VERIFIER))
        .await
        .unwrap();
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.scope, "api:read");
    assert_eq!(tokens.expires_in, server.auth.settings.access_ttl);
    assert!(
        tokens.refresh_token.is_some(),
        "the client has the refresh grant"
    );
    let claims = server
        .auth
        .verify_access(&tokens.access_token)
        .await
        .unwrap();
    assert_eq!(
        (
            claims.sub.as_str(),
            claims.client_id.as_str(),
            claims.scope.as_str()
        ),
        (ALICE, SPA, "api:read")
    );
}

#[tokio::test]
async fn a_code_is_refused_unless_client_redirect_uri_and_verifier_match() {
    let server = TestServer::new();
    let web = || confidential(WEB, WEB_SECRET);
    let the_challenge = challenge(VERIFIER);
    let cases = vec![
        (
            "another public client, with the right verifier",
            public(OTHER_SPA),
            None,
            Some(VERIFIER),
            "the code was issued to another client",
        ),
        (
            "another client, authenticated",
            web(),
            Some(SPA_REDIRECT),
            Some(VERIFIER),
            "the code was issued to another client",
        ),
        (
            "another redirect_uri",
            public(SPA),
            Some("https://app.example/callback/"),
            Some(VERIFIER),
            "redirect_uri does not match the authorization request",
        ),
        (
            "a verifier of the right shape that does not answer the challenge",
            public(SPA),
            Some(SPA_REDIRECT),
            Some(WRONG_VERIFIER),
            "the code_verifier does not match",
        ),
        (
            "the challenge itself as the verifier",
            public(SPA),
            Some(SPA_REDIRECT),
            Some(&the_challenge),
            "the code_verifier does not match",
        ),
        (
            "no verifier for a code with a challenge",
            public(SPA),
            Some(SPA_REDIRECT),
            None,
            "code_verifier is required",
        ),
    ];
    for (name, client, redirect_uri, verifier, description) in cases {
        let code = server.code(SPA, "api:read").await;
        assert_eq!(
            server.redeem(client, &code, redirect_uri, verifier).await,
            invalid_grant(description),
            "case: {name}"
        );
    }
    // And a code nobody issued.
    assert_eq!(
        server
            .redeem(public(SPA), "no-such-code", None, Some(VERIFIER))
            .await,
        invalid_grant(CODE_SPENT)
    );
}

#[tokio::test]
async fn redirect_uri_may_be_omitted_only_where_the_client_has_one() {
    let server = TestServer::new();
    // NATIVE has two redirect URIs: the token request must name the one used.
    let code = server
        .code_with(
            &authorize_query(NATIVE, Some(NATIVE_REDIRECT), "api:read"),
            ALICE,
        )
        .await;
    assert_eq!(
        server
            .redeem(public(NATIVE), &code, None, Some(VERIFIER))
            .await,
        invalid_grant("redirect_uri does not match the authorization request")
    );
    let code = server
        .code_with(
            &authorize_query(NATIVE, Some(NATIVE_REDIRECT), "api:read"),
            ALICE,
        )
        .await;
    assert!(server
        .redeem(public(NATIVE), &code, Some(NATIVE_REDIRECT), Some(VERIFIER))
        .await
        .is_ok());
}

#[tokio::test]
async fn a_loopback_code_is_bound_to_the_port_it_was_sent_to() {
    let server = TestServer::new();
    let used = "http://127.0.0.1:6123/callback";
    let query = authorize_query(NATIVE, Some(used), "api:read");
    let code = server.code_with(&query, ALICE).await;
    assert_eq!(
        server
            .redeem(public(NATIVE), &code, Some(NATIVE_REDIRECT), Some(VERIFIER))
            .await,
        invalid_grant("redirect_uri does not match the authorization request"),
        "the registered URI, not the one the code was sent to"
    );
    let code = server.code_with(&query, ALICE).await;
    assert!(server
        .redeem(public(NATIVE), &code, Some(used), Some(VERIFIER))
        .await
        .is_ok());
}

/// Found by this test (issue 13): a client with a single registered loopback URI may
/// send its authorization request to another port (RFC 8252 §7.3), and the code is bound to
/// that URI; a token request that then omits `redirect_uri` was accepted, because an
/// omission is allowed wherever the client has one registered URI, without comparing it to
/// the one the code was sent to. RFC 6749 §4.1.3: `redirect_uri` is REQUIRED when the
/// authorization request included it, "and their values MUST be identical".
#[tokio::test]
async fn regression_an_omitted_redirect_uri_does_not_stand_for_another_loopback_port() {
    let server = TestServer::new();
    let used = "http://127.0.0.1:6123/callback";
    let code = server
        .code_with(&authorize_query(CLI, Some(used), "api:read"), ALICE)
        .await;
    assert_eq!(
        server
            .redeem(public(CLI), &code, None, Some(VERIFIER))
            .await,
        invalid_grant("redirect_uri does not match the authorization request")
    );
    // The registered URI itself may still be implied.
    let code = server
        .code_with(&authorize_query(CLI, Some(CLI_REDIRECT), "api:read"), ALICE)
        .await;
    assert!(server
        .redeem(public(CLI), &code, None, Some(VERIFIER))
        .await
        .is_ok());
}

#[tokio::test]
async fn a_code_works_until_its_lifetime_ends() {
    let server = TestServer::new();
    let early = server.code(SPA, "api:read").await;
    let late = server.code(SPA, "api:read").await;
    server.advance(CODE_TTL - 1);
    assert!(server
        .redeem(public(SPA), &early, None, Some(VERIFIER))
        .await
        .is_ok());
    server.advance(1);
    assert_eq!(
        server
            .redeem(public(SPA), &late, None, Some(VERIFIER))
            .await,
        invalid_grant(CODE_SPENT)
    );
}

#[tokio::test]
async fn a_valid_code_replay_is_refused_and_revokes_what_the_first_use_issued() {
    let server = TestServer::new();
    let code = server.code(SPA, "api:read").await;
    let first = server
        .redeem(public(SPA), &code, None, Some(VERIFIER))
        .await
        .unwrap();
    assert!(server.is_active(&first.access_token).await);

    assert_eq!(
        server
            .redeem(public(SPA), &code, None, Some(VERIFIER))
            .await,
        invalid_grant(CODE_SPENT)
    );
    assert!(
        !server.is_active(&first.access_token).await,
        "the first use's access token"
    );
    assert_eq!(
        server
            .refresh(public(SPA), refresh_token(&first), None)
            .await,
        invalid_grant(REFRESH_REFUSED),
        "the first use's refresh token"
    );
}

/// Else anyone who saw a used code could revoke its owner's tokens (OAuth 2.1 §7.5.2).
#[tokio::test]
async fn a_code_replay_that_fails_its_binding_revokes_nothing() {
    let server = TestServer::new();
    let code = server.code(SPA, "api:read").await;
    let first = server
        .redeem(public(SPA), &code, None, Some(VERIFIER))
        .await
        .unwrap();
    let replays = [
        (public(SPA), Some(WRONG_VERIFIER)),
        (public(SPA), None),
        (public(OTHER_SPA), Some(VERIFIER)),
        (confidential(WEB, WEB_SECRET), Some(VERIFIER)),
    ];
    for (client, verifier) in replays {
        assert_eq!(
            server
                .redeem(client, &code, None, verifier)
                .await
                .map_err(|e| e.code),
            Err(ErrorCode::InvalidGrant)
        );
    }
    assert!(server.is_active(&first.access_token).await);
    assert!(server
        .refresh(public(SPA), refresh_token(&first), None)
        .await
        .is_ok());
}

/// A redemption that fails its binding still uses the code up: the code is single use
/// whoever presents it, so its owner must start again (and a later valid redemption counts
/// as a replay).
#[tokio::test]
async fn a_failed_redemption_spends_the_code() {
    let server = TestServer::new();
    let code = server.code(SPA, "api:read").await;
    assert!(server
        .redeem(public(SPA), &code, None, Some(WRONG_VERIFIER))
        .await
        .is_err());
    assert_eq!(
        server
            .redeem(public(SPA), &code, None, Some(VERIFIER))
            .await,
        invalid_grant(CODE_SPENT)
    );
}

#[tokio::test]
async fn a_refresh_rotates_and_a_replay_within_the_grace_window_gets_the_same_pair() {
    let server = TestServer::new();
    let first = server.tokens(SPA, "api:read").await;
    let r0 = refresh_token(&first);

    let second = server.refresh(public(SPA), r0, None).await.unwrap();
    let r1 = refresh_token(&second);
    assert_ne!(r1, r0, "rotated");
    assert_ne!(second.access_token, first.access_token);

    server.advance(REFRESH_GRACE - 1);
    let replay = server.refresh(public(SPA), r0, None).await.unwrap();
    assert_eq!(replay, second, "the very same pair");

    // Nothing was revoked: the new pair works and rotates on.
    assert!(server.is_active(&second.access_token).await);
    let third = server.refresh(public(SPA), r1, None).await.unwrap();
    assert_ne!(refresh_token(&third), r1);
    assert!(server.is_active(&third.access_token).await);
}

#[tokio::test]
async fn a_rotated_refresh_token_used_after_the_grace_window_revokes_its_family() {
    let server = TestServer::new();
    let first = server.tokens(SPA, "api:read").await;
    let r0 = refresh_token(&first);
    let second = server.refresh(public(SPA), r0, None).await.unwrap();
    let r1 = refresh_token(&second);

    server.advance(REFRESH_GRACE);
    assert_eq!(
        server.refresh(public(SPA), r0, None).await,
        invalid_grant(REFRESH_REFUSED),
        "the rotated token"
    );
    assert_eq!(
        server.refresh(public(SPA), r1, None).await,
        invalid_grant(REFRESH_REFUSED),
        "the family's current token"
    );
    assert!(!server.is_active(&first.access_token).await);
    assert!(!server.is_active(&second.access_token).await);
}

#[tokio::test]
async fn without_a_grace_window_any_reuse_revokes_the_family_at_once() {
    let mut server = TestServer::new();
    server.auth.settings.refresh_grace = 0;
    let first = server.tokens(SPA, "api:read").await;
    let r0 = refresh_token(&first);
    let second = server.refresh(public(SPA), r0, None).await.unwrap();
    assert!(server.is_active(&second.access_token).await);
    // The same second, no clock movement.
    assert_eq!(
        server.refresh(public(SPA), r0, None).await,
        invalid_grant(REFRESH_REFUSED)
    );
    assert_eq!(
        server
            .refresh(public(SPA), refresh_token(&second), None)
            .await,
        invalid_grant(REFRESH_REFUSED)
    );
    assert!(!server.is_active(&first.access_token).await);
    assert!(!server.is_active(&second.access_token).await);
}

#[tokio::test]
async fn another_family_survives_a_reuse() {
    let server = TestServer::new();
    let mine = server.tokens(SPA, "api:read").await;
    let other = server.tokens(SPA, "api:read").await;
    let r0 = refresh_token(&mine);
    server.refresh(public(SPA), r0, None).await.unwrap();
    server.advance(REFRESH_GRACE);
    assert!(server.refresh(public(SPA), r0, None).await.is_err());
    assert!(server.is_active(&other.access_token).await);
    assert!(server
        .refresh(public(SPA), refresh_token(&other), None)
        .await
        .is_ok());
}

#[tokio::test]
async fn a_refresh_may_narrow_the_access_token_and_the_refresh_token_keeps_the_grant() {
    let server = TestServer::new();
    let tokens = server.tokens(SPA, "api:read api:write").await;
    let narrowed = server
        .refresh(public(SPA), refresh_token(&tokens), Some("api:read"))
        .await
        .unwrap();
    assert_eq!(narrowed.scope, "api:read");
    let claims = server
        .auth
        .verify_access(&narrowed.access_token)
        .await
        .unwrap();
    assert_eq!(claims.scope, "api:read");
    // RFC 6749 §6: the new refresh token's scope is the one originally granted.
    let again = server
        .refresh(public(SPA), refresh_token(&narrowed), None)
        .await
        .unwrap();
    assert_eq!(again.scope, "api:read api:write");
}

#[tokio::test]
async fn a_refresh_may_not_widen_the_scope_and_a_refused_one_uses_nothing_up() {
    let server = TestServer::new();
    let tokens = server.tokens(SPA, "api:read").await;
    let r0 = refresh_token(&tokens);
    // `api:write` and `admin` are the client's; `api:write` is also alice's; neither was
    // granted here.
    for wider in ["api:read api:write", "api:write", "admin", "unknown"] {
        assert_eq!(
            server.refresh(public(SPA), r0, Some(wider)).await,
            Err(OAuthError::invalid_scope(
                "a refresh may narrow the scope, never widen it"
            )),
            "{wider}"
        );
    }
    let refreshed = server.refresh(public(SPA), r0, None).await.unwrap();
    assert_eq!(refreshed.scope, "api:read");
    assert!(server.is_active(&tokens.access_token).await);
}

#[tokio::test]
async fn a_refresh_by_another_client_is_refused_and_uses_nothing_up() {
    let server = TestServer::new();
    let tokens = server.tokens(SPA, "api:read").await;
    let r0 = refresh_token(&tokens);
    for client in [public(OTHER_SPA), confidential(WEB, WEB_SECRET)] {
        assert_eq!(
            server.refresh(client, r0, None).await,
            invalid_grant("the refresh token was issued to another client")
        );
    }
    assert!(server.is_active(&tokens.access_token).await);
    assert!(server.refresh(public(SPA), r0, None).await.is_ok());
}

#[tokio::test]
async fn a_refresh_follows_a_users_scopes_narrowed_since_the_login() {
    let mut server = TestServer::new();
    let tokens = server.tokens(SPA, "api:read api:write").await;
    if let Some(alice) = server.auth.users.get_mut(ALICE) {
        alice.scopes = vec!["api:read".to_owned()];
    }
    let refreshed = server
        .refresh(public(SPA), refresh_token(&tokens), None)
        .await
        .unwrap();
    assert_eq!(refreshed.scope, "api:read");

    // A user no longer configured gets nothing more.
    server.auth.users.remove(ALICE);
    assert_eq!(
        server
            .refresh(public(SPA), refresh_token(&refreshed), None)
            .await,
        invalid_grant(REFRESH_REFUSED)
    );
}

#[tokio::test]
async fn client_credentials_issue_the_asked_scopes_within_the_clients() {
    let server = TestServer::new();
    let machine = || confidential(MACHINE, MACHINE_SECRET);
    let all = server.client_credentials(machine(), None).await.unwrap();
    assert_eq!(
        all.scope, "api:read api:write",
        "the client's scopes by default"
    );
    assert_eq!(all.refresh_token, None);
    let read = server
        .client_credentials(machine(), Some("api:read api:read"))
        .await
        .unwrap();
    assert_eq!(read.scope, "api:read");
    let claims = server.auth.verify_access(&read.access_token).await.unwrap();
    assert_eq!(
        (claims.sub.as_str(), claims.client_id.as_str()),
        (MACHINE, MACHINE),
        "a client acting for itself"
    );
    assert_eq!(
        server
            .client_credentials(machine(), Some("api:read admin"))
            .await,
        Err(OAuthError::invalid_scope(
            "a requested scope is not allowed for this client"
        ))
    );
}

#[tokio::test]
async fn grant_types_are_checked_before_the_grant_runs() {
    let server = TestServer::new();
    let request = |grant_type: Option<&str>, client: ClientCredentials| TokenRequest {
        grant_type: grant_type.map(str::to_owned),
        client,
        ..TokenRequest::default()
    };
    let machine = || confidential(MACHINE, MACHINE_SECRET);
    let code = |r: Result<TokenResponse, OAuthError>| r.map_err(|e| e.code);
    assert_eq!(
        code(server.auth.token(request(None, machine())).await),
        Err(ErrorCode::InvalidRequest)
    );
    for unsupported in [
        "password",
        "implicit",
        "urn:ietf:params:oauth:grant-type:device_code",
    ] {
        assert_eq!(
            code(
                server
                    .auth
                    .token(request(Some(unsupported), machine()))
                    .await
            ),
            Err(ErrorCode::UnsupportedGrantType),
            "{unsupported}"
        );
    }
    // Grants the client is not configured for.
    assert_eq!(
        code(
            server
                .auth
                .token(request(Some("authorization_code"), machine()))
                .await
        ),
        Err(ErrorCode::UnauthorizedClient)
    );
    assert_eq!(
        code(
            server
                .auth
                .token(request(Some("client_credentials"), public(SPA)))
                .await
        ),
        Err(ErrorCode::UnauthorizedClient)
    );
    // Client authentication comes first: a wrong secret is invalid_client, whatever the grant.
    assert_eq!(
        code(
            server
                .auth
                .token(request(
                    Some("client_credentials"),
                    confidential(MACHINE, "wrong")
                ))
                .await
        ),
        Err(ErrorCode::InvalidClient)
    );
}

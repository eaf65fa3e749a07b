//! `auth = "bearer"` routes (RFC 6750 §3): tokens from the real
//! token endpoint, only in the `Authorization` header; every refusal with its challenge;
//! every route scope on every request; revocation from the next request on; what the upstream
//! receives.

use reqwest::StatusCode;

use crate::support::protected::{protected, Challenge, ProtectedGateway, ALICE, SERVICE};
use crate::support::{Echoed, TestUpstream};

/// `/api/` needs `api:read`; `/both/` needs `api:read` and `api:write`; `/quiet/` needs
/// `api:read` and does not forward the token.
async fn gateway(upstream: &TestUpstream) -> ProtectedGateway {
    ProtectedGateway::start(
        vec![
            protected("/api/", &upstream.url(), "bearer", &["api:read"]),
            protected(
                "/both/",
                &upstream.url(),
                "bearer",
                &["api:read", "api:write"],
            ),
            protected("/quiet/", &upstream.url(), "bearer", &["api:read"])
                .set("forward_token", "false"),
        ],
        "",
    )
    .await
}

async fn get(
    gateway: &ProtectedGateway,
    path: &str,
    authorization: Option<&str>,
) -> reqwest::Response {
    let mut request = gateway.api().get(gateway.url(path));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    request.send().await.expect("request")
}

#[tokio::test]
async fn no_token_gets_401_with_realm_and_resource_metadata_and_no_error() {
    let upstream = TestUpstream::echo("api").await;
    let gateway = gateway(&upstream).await;
    for (authorization, accept) in [
        (None, None),
        (None, Some("text/html")),
        // Another scheme is no bearer token.
        (Some("Basic YWxpY2U6cGFzcw=="), None),
    ] {
        let mut request = gateway.api().get(gateway.url("/api/items"));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        if let Some(value) = accept {
            request = request.header("accept", value);
        }
        let response = request.send().await.expect("request");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(
            response.headers().get("location").is_none(),
            "never a redirect"
        );
        let challenge = Challenge::of(response.headers());
        assert_eq!(challenge.scheme, "Bearer");
        assert!(challenge.get("realm").is_some_and(|r| !r.is_empty()));
        assert_eq!(
            challenge.get("resource_metadata"),
            Some(
                gateway
                    .url("/.well-known/oauth-protected-resource/api")
                    .as_str()
            )
        );
        assert!(challenge.get("error").is_none(), "{challenge:?}");
        assert!(challenge.get("error_description").is_none());
    }
    assert_eq!(upstream.hits(), 0);
}

#[tokio::test]
async fn bad_expired_or_tampered_token_gets_401_invalid_token() {
    let upstream = TestUpstream::echo("api").await;
    let gateway = gateway(&upstream).await;
    let good = gateway.client_token("api:read").await;
    // One character in the middle of the signature changed (all six of its bits count).
    let at = good.rfind('.').expect("a JWT") + 10;
    let swapped = if good.as_bytes()[at] == b'Q' {
        "A"
    } else {
        "Q"
    };
    let tampered = format!("{}{swapped}{}", &good[..at], &good[at + 1..]);
    let (header, _) = good.split_once('.').expect("a JWT");
    let unsigned = format!("{header}.e30.");

    for value in [
        "Bearer not-a-token".to_owned(),
        "Bearer a.b.c".to_owned(),
        format!("Bearer {tampered}"),
        format!("Bearer {unsigned}"),
        "Bearer".to_owned(),
        "Bearer two words".to_owned(),
    ] {
        let response = get(&gateway, "/api/items", Some(&value)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{value}");
        let challenge = Challenge::of(response.headers());
        assert_eq!(challenge.get("error"), Some("invalid_token"), "{value}");
        assert!(challenge.get("resource_metadata").is_some());
    }

    // The good token works, until it expires (15 minutes, on the test clock).
    let ok = get(&gateway, "/api/items", Some(&format!("Bearer {good}"))).await;
    assert_eq!(ok.status(), StatusCode::OK);
    gateway.advance(15 * 60 + 120);
    let expired = get(&gateway, "/api/items", Some(&format!("Bearer {good}"))).await;
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        Challenge::of(expired.headers()).get("error"),
        Some("invalid_token")
    );
    assert_eq!(upstream.hits(), 1);
}

#[tokio::test]
async fn valid_token_without_the_route_scope_gets_403_insufficient_scope() {
    let upstream = TestUpstream::echo("api").await;
    let gateway = gateway(&upstream).await;
    let token = gateway.client_token("app").await;
    let response = get(&gateway, "/api/items", Some(&format!("Bearer {token}"))).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let challenge = Challenge::of(response.headers());
    assert_eq!(challenge.scheme, "Bearer");
    assert_eq!(challenge.get("error"), Some("insufficient_scope"));
    assert_eq!(challenge.get("scope"), Some("api:read"));
    assert!(challenge.get("resource_metadata").is_some());
    assert_eq!(upstream.hits(), 0);
}

#[tokio::test]
async fn every_route_scope_is_required_on_every_request() {
    let upstream = TestUpstream::echo("api").await;
    let gateway = gateway(&upstream).await;
    let read_only = gateway.client_token("api:read").await;
    let write_only = gateway.client_token("api:write").await;
    let both = gateway.client_token("api:read api:write").await;

    for _ in 0..3 {
        for token in [&read_only, &write_only] {
            let response = get(&gateway, "/both/x", Some(&format!("Bearer {token}"))).await;
            assert_eq!(response.status(), StatusCode::FORBIDDEN);
            let challenge = Challenge::of(response.headers());
            assert_eq!(challenge.get("error"), Some("insufficient_scope"));
            assert_eq!(challenge.get("scope"), Some("api:read api:write"));
        }
        let response = get(&gateway, "/both/x", Some(&format!("Bearer {both}"))).await;
        assert_eq!(response.status(), StatusCode::OK);
        // The read-only token is fine where only reading is needed.
        let response = get(&gateway, "/api/x", Some(&format!("Bearer {read_only}"))).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(upstream.hits(), 6);
}

#[tokio::test]
async fn token_in_the_query_string_is_refused_with_invalid_request() {
    let upstream = TestUpstream::echo("api").await;
    let gateway = gateway(&upstream).await;
    let token = gateway.client_token("api:read").await;
    for (path, header) in [
        (format!("/api/items?access_token={token}"), None),
        (format!("/api/items?a=1&access_token={token}"), None),
        // Even beside a good header: a token in a URL has already leaked into logs.
        (
            format!("/api/items?access_token={token}"),
            Some(format!("Bearer {token}")),
        ),
    ] {
        let response = get(&gateway, &path, header.as_deref()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let challenge = Challenge::of(response.headers());
        assert_eq!(challenge.get("error"), Some("invalid_request"));
    }
    assert_eq!(upstream.hits(), 0);
}

#[tokio::test]
async fn revoked_token_is_refused_from_the_next_request_on() {
    let upstream = TestUpstream::echo("api").await;
    let gateway = gateway(&upstream).await;
    let token = gateway.client_token("api:read").await;
    let bearer = format!("Bearer {token}");
    for _ in 0..2 {
        let response = get(&gateway, "/api/items", Some(&bearer)).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    gateway.revoke_as_service(&token).await;
    let response = get(&gateway, "/api/items", Some(&bearer)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        Challenge::of(response.headers()).get("error"),
        Some("invalid_token")
    );
    assert_eq!(upstream.hits(), 2);
}

#[tokio::test]
async fn authorization_is_forwarded_by_default_and_removed_with_forward_token_false() {
    let upstream = TestUpstream::echo("api").await;
    let gateway = gateway(&upstream).await;
    let token = gateway.client_token("api:read").await;
    let bearer = format!("Bearer {token}");

    let response = get(&gateway, "/api/items", Some(&bearer)).await;
    let seen: Echoed = response.json().await.expect("echo");
    assert_eq!(seen.header_all("authorization"), [bearer.as_str()]);

    let response = get(&gateway, "/quiet/items", Some(&bearer)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let seen: Echoed = response.json().await.expect("echo");
    assert!(seen.header("authorization").is_none(), "{:?}", seen.headers);
    assert_eq!(seen.header("x-auth-client"), Some(SERVICE));
}

#[tokio::test]
async fn client_credentials_token_sets_the_client_and_no_user() {
    let upstream = TestUpstream::echo("api").await;
    let gateway = gateway(&upstream).await;
    let token = gateway.client_token("api:read api:write").await;
    let response = get(&gateway, "/api/items", Some(&format!("Bearer {token}"))).await;
    let seen: Echoed = response.json().await.expect("echo");
    assert!(seen.header("x-auth-user").is_none(), "{:?}", seen.headers);
    assert_eq!(seen.header_all("x-auth-client"), [SERVICE]);
    assert_eq!(seen.header_all("x-auth-scopes"), ["api:read api:write"]);
}

#[tokio::test]
async fn user_token_sets_user_client_and_scopes() {
    let upstream = TestUpstream::echo("api").await;
    let gateway = gateway(&upstream).await;
    let token = gateway.user_token(ALICE, "api:read").await;
    let response = get(&gateway, "/api/items", Some(&format!("Bearer {token}"))).await;
    assert_eq!(response.status(), StatusCode::OK);
    let seen: Echoed = response.json().await.expect("echo");
    assert_eq!(seen.header_all("x-auth-user"), [ALICE]);
    assert_eq!(seen.header_all("x-auth-client"), ["portal"]);
    assert_eq!(seen.header_all("x-auth-scopes"), ["api:read"]);
    // Only read was granted: the write route refuses it.
    let response = get(&gateway, "/both/items", Some(&format!("Bearer {token}"))).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

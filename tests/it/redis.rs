//! Two gateways sharing one real Redis (`backend = "redis"`): a code is redeemed once across
//! both, a rotated refresh token is refused at the other (and its reuse revokes the family), a
//! revocation at one is refused at the other within a second, and a Redis that dies and comes
//! back: 503 meanwhile (fail closed), then recovery without restarting either gateway.

use std::time::{Duration, Instant};

use oauth2::basic::BasicTokenResponse;
use oauth2::{RefreshToken, Scope, TokenResponse};
use reqwest::StatusCode;

use crate::support::oauth::{
    code_for, token_error, tokens_for, AuthGateway, OAuthClient, WEB, WEB_SECRET,
};
use crate::support::redis::RedisServer;
use crate::support::{TestUpstream, WAIT};

/// How soon a revocation made at one gateway must be refused at the other: the promise,
/// measured once, on its own, in
/// `an_access_token_revoked_at_one_gateway_is_refused_at_the_other_within_a_second`. The
/// other tests wait up to [`WAIT`] for what they check, so that a loaded machine makes them
/// slower, not red.
const PROPAGATION: Duration = Duration::from_secs(1);

fn sections(redis: &RedisServer, upstream: &TestUpstream) -> String {
    format!(
        r#"
[store]
backend = "redis"
url = "{}"

[[routes]]
path = "/api/"
upstream = "{}"
auth = "bearer"
scopes = ["api:read"]
"#,
        redis.url(),
        upstream.url()
    )
}

/// Two instances of one deployment: same signing key, same issuer, one Redis.
async fn pair(redis: &RedisServer, upstream: &TestUpstream) -> (AuthGateway, AuthGateway) {
    let text = sections(redis, upstream);
    let a = AuthGateway::start_shared(&text, None).await;
    let b = AuthGateway::start_shared(&text, Some(&a)).await;
    (a, b)
}

async fn api_status(gateway: &AuthGateway, token: &str) -> StatusCode {
    gateway
        .http()
        .get(gateway.url("/api/items"))
        .bearer_auth(token)
        .send()
        .await
        .expect("bearer request")
        .status()
}

/// Polls the bearer route at `gateway` until it answers `want`; returns how long that took.
async fn until_status(
    gateway: &AuthGateway,
    token: &str,
    want: StatusCode,
    limit: Duration,
) -> Duration {
    let start = Instant::now();
    loop {
        let got = api_status(gateway, token).await;
        if got == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "still {got} after {limit:?}, waiting for {want}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls `/healthz` at `gateway` until it answers `want`; returns the last body.
async fn until_health(gateway: &AuthGateway, want: StatusCode, limit: Duration) -> String {
    let start = Instant::now();
    loop {
        let response = gateway
            .http()
            .get(gateway.url("/healthz"))
            .send()
            .await
            .expect("healthz request");
        let got = response.status();
        let body = response.text().await.unwrap_or_default();
        if got == want {
            return body;
        }
        assert!(
            start.elapsed() < limit,
            "/healthz still {got} ({body}) after {limit:?}, waiting for {want}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

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

async fn client_credentials(gateway: &AuthGateway) -> Result<BasicTokenResponse, String> {
    gateway
        .web()
        .exchange_client_credentials()
        .add_scope(Scope::new("api:read".into()))
        .request_async(&gateway.http())
        .await
        .map_err(token_error)
}

#[tokio::test]
async fn a_code_issued_at_one_gateway_is_redeemed_once_across_both() {
    let redis = RedisServer::start();
    let upstream = TestUpstream::echo("api").await;
    let (a, b) = pair(&redis, &upstream).await;

    let (callback, request) = code_for(&a, &a.spa(), &["api:read"]).await;
    let verifier = crate::support::oauth::same_verifier(&request.verifier);
    let tokens = b
        .spa()
        .exchange_code(callback.code())
        .set_pkce_verifier(request.verifier)
        .request_async(&b.http())
        .await
        .expect("the code redeemed at the other gateway");
    let access = tokens.access_token().secret().clone();
    assert_eq!(api_status(&b, &access).await, StatusCode::OK);

    let again = a
        .spa()
        .exchange_code(callback.code())
        .set_pkce_verifier(verifier)
        .request_async(&a.http())
        .await
        .map_err(token_error);
    assert_eq!(again.err().as_deref(), Some("invalid_grant"));
    // The replay also revoked what the first redemption issued, at both gateways.
    until_status(&b, &access, StatusCode::UNAUTHORIZED, WAIT).await;
    assert_eq!(api_status(&a, &access).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_refresh_token_rotated_at_one_gateway_is_refused_at_the_other_and_reuse_revokes_the_family(
) {
    let redis = RedisServer::start();
    let upstream = TestUpstream::echo("api").await;
    let (a, b) = pair(&redis, &upstream).await;
    let first = tokens_for(&a, &a.spa(), &["api:read"]).await;
    let r0 = first.refresh_token().expect("refresh token").clone();

    let second = refresh(&a, &a.spa(), &r0).await.expect("rotation at A");
    let r1 = second.refresh_token().expect("refresh token").clone();
    // Within the grace window (5 s) the other gateway hands out the very same pair.
    let replay = refresh(&b, &b.spa(), &r0).await.expect("grace at B");
    assert_eq!(
        replay.refresh_token().map(|r| r.secret().clone()),
        Some(r1.secret().clone())
    );

    // After it, the used token is refused at B and its reuse revokes the whole family.
    b.advance(6);
    assert_eq!(
        refresh(&b, &b.spa(), &r0).await.err().as_deref(),
        Some("invalid_grant")
    );
    assert_eq!(
        refresh(&a, &a.spa(), &r1).await.err().as_deref(),
        Some("invalid_grant"),
        "the family's current token died with it"
    );
    let access = second.access_token().secret();
    until_status(&a, access, StatusCode::UNAUTHORIZED, WAIT).await;
    assert_eq!(api_status(&b, access).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_access_token_revoked_at_one_gateway_is_refused_at_the_other_within_a_second() {
    let redis = RedisServer::start();
    let upstream = TestUpstream::echo("api").await;
    let (a, b) = pair(&redis, &upstream).await;
    let tokens = client_credentials(&a).await.expect("client credentials");
    let access = tokens.access_token().secret().clone();
    assert_eq!(api_status(&b, &access).await, StatusCode::OK);

    let revoked = a
        .http()
        .post(a.url("/oauth2/revoke"))
        .basic_auth(WEB, Some(WEB_SECRET))
        .form(&[("token", access.as_str())])
        .send()
        .await
        .expect("revocation");
    assert_eq!(revoked.status(), StatusCode::OK);
    // Waits past the promise, so that a miss reports how long it really took.
    let took = until_status(&b, &access, StatusCode::UNAUTHORIZED, WAIT).await;
    assert!(
        took < PROPAGATION,
        "refused at the other gateway after {took:?}, promised within {PROPAGATION:?}"
    );
    assert_eq!(api_status(&a, &access).await, StatusCode::UNAUTHORIZED);
}

/// The raw token endpoint answer to a refresh at `gateway` (status and JSON body).
async fn raw_refresh(gateway: &AuthGateway, token: &str) -> (StatusCode, serde_json::Value) {
    let response = gateway
        .http()
        .post(gateway.url("/oauth2/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", crate::support::oauth::SPA),
        ])
        .send()
        .await
        .expect("token request");
    let status = response.status();
    (status, response.json().await.expect("JSON answer"))
}

#[tokio::test]
async fn redis_down_is_503_at_both_gateways_and_both_recover_when_it_returns() {
    let mut redis = RedisServer::start();
    let upstream = TestUpstream::echo("api").await;
    let (a, b) = pair(&redis, &upstream).await;
    let signed_in = tokens_for(&a, &a.spa(), &["api:read"]).await;
    let r0 = signed_in
        .refresh_token()
        .expect("refresh token")
        .secret()
        .clone();
    let access = signed_in.access_token().secret().clone();
    assert_eq!(api_status(&b, &access).await, StatusCode::OK);
    for gateway in [&a, &b] {
        until_health(gateway, StatusCode::OK, WAIT).await;
    }

    redis.kill();
    // The token endpoint: a clear RFC 6749 error, fast, at both.
    for gateway in [&a, &b] {
        let start = Instant::now();
        let (status, body) = raw_refresh(gateway, &r0).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["error"], "temporarily_unavailable");
        // The promise (every Redis command gives up after 1 s), measured with room to spare.
        let took = start.elapsed();
        assert!(
            took < Duration::from_secs(3),
            "no hang: answered after {took:?}"
        );
    }
    // Bearer routes fail closed at both, once the revocation feed is known to be down.
    for gateway in [&a, &b] {
        until_status(gateway, &access, StatusCode::SERVICE_UNAVAILABLE, WAIT).await;
        // ... and say so on /healthz, so that a load balancer can move traffic elsewhere.
        let body = until_health(gateway, StatusCode::SERVICE_UNAVAILABLE, WAIT).await;
        assert!(body.contains("redis"), "{body}");
    }

    // Back on the same port (empty: the test Redis keeps nothing), without touching either
    // gateway: bearer routes serve again and the token endpoint reaches Redis again.
    redis.restart();
    for gateway in [&a, &b] {
        until_status(gateway, &access, StatusCode::OK, WAIT).await;
        until_health(gateway, StatusCode::OK, WAIT).await;
        let start = Instant::now();
        loop {
            let (status, body) = raw_refresh(gateway, &r0).await;
            if status == StatusCode::BAD_REQUEST {
                assert_eq!(body["error"], "invalid_grant", "Redis lost it: unknown now");
                break;
            }
            assert!(start.elapsed() < WAIT, "still {status}: {body}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let fresh = tokens_for(&a, &a.spa(), &["api:read"]).await;
    let rotated = refresh(&b, &b.spa(), fresh.refresh_token().expect("refresh token"))
        .await
        .expect("a refresh at the other gateway after the outage");
    assert_eq!(
        api_status(&b, rotated.access_token().secret()).await,
        StatusCode::OK
    );
}

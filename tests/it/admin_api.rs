//! The admin listener and the token CLI that uses it: `/metrics` counts what happened, the token
//! API wants the admin token, it is never served on the public listener, and `authgate token
//! list|revoke` against a running gateway list and revoke by user, client and jti, with the revoked
//! tokens refused on the very next request.

use oauth2::{RefreshToken, TokenResponse};
use reqwest::StatusCode;

use crate::support::free_port;
use crate::support::oauth::{tokens_for, AuthGateway, PASSWORD, USER, WEB, WORKER, WORKER_SECRET};
use crate::support::process::{authgate, cli};
use crate::support::JsonAnswer;

/// A gateway with a bearer route and its admin listener on a known port.
async fn gateway() -> AuthGateway {
    let admin = free_port();
    let dead = crate::support::dead_port();
    AuthGateway::start_with_sections(&format!(
        r#"[admin]
listen = "127.0.0.1:{admin}"

[[routes]]
path = "/down/"
upstream = "http://127.0.0.1:{dead}"
auth = "none"

[[routes]]
path = "/api/"
upstream = "whoami://"
auth = "bearer"
scopes = ["api:read"]
"#
    ))
    .await
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn bearer_status(gateway: &AuthGateway, token: &str) -> StatusCode {
    gateway
        .http()
        .get(gateway.url("/api/orders"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

async fn client_credentials(gateway: &AuthGateway) -> String {
    let answer: serde_json::Value = gateway
        .http()
        .post(gateway.url("/oauth2/token"))
        .basic_auth(WORKER, Some(WORKER_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .json_answer()
        .await;
    answer["access_token"].as_str().unwrap().to_owned()
}

async fn metrics(gateway: &AuthGateway) -> String {
    let response = reqwest::get(format!("http://{}/metrics", gateway.admin()))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    response.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_tokens_logins_and_the_store() {
    let gateway = gateway().await;
    let token = client_credentials(&gateway).await;
    assert_eq!(bearer_status(&gateway, &token).await, StatusCode::OK);
    assert_eq!(
        bearer_status(&gateway, "not-a-token").await,
        StatusCode::UNAUTHORIZED
    );
    let refused = gateway
        .http()
        .post(gateway.url("/oauth2/token"))
        .basic_auth(WORKER, Some("wrong-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    // A failed sign-in.
    let browser = gateway.browser();
    let spa = gateway.spa();
    let request = crate::support::oauth::auth_request(&spa, &["api:read"]);
    let page = browser.open(&request.url).await;
    let after = browser.sign_in(&page, USER, "not the password").await;
    assert!(after.is_login());
    let _ = tokens_for(&gateway, &spa, &["api:read"]).await;

    let down = gateway
        .http()
        .get(gateway.url("/down/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(down.status(), StatusCode::BAD_GATEWAY);

    let text = metrics(&gateway).await;
    for expected in [
        "authgate_requests_total{route=\"/down/\",status=\"502\"} 1",
        "authgate_upstream_errors_total{reason=\"unreachable\",route=\"/down/\"} 1",
        "authgate_requests_total{route=\"/api/\",status=\"200\"} 1",
        "authgate_requests_total{route=\"/api/\",status=\"401\"} 1",
        "authgate_request_duration_seconds_count{route=\"/api/\"} 2",
        "authgate_tokens_issued_total{grant=\"client_credentials\"} 1",
        "authgate_tokens_issued_total{grant=\"authorization_code\"} 1",
        "authgate_tokens_refused_total{reason=\"invalid_client\"} 1",
        "authgate_logins_failed_total{reason=\"bad_credentials\"} 1",
        "authgate_store_entries{kind=\"refresh_token\"} 1",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    assert!(text.contains("authgate_requests_total{route=\"(gateway)\",status=\"200\"}"));
    assert!(!text.contains(&token), "no token in the metrics");
    assert!(!text.contains(PASSWORD));
}

#[tokio::test]
async fn the_admin_api_wants_the_admin_token_and_is_not_on_the_public_listener() {
    let gateway = gateway().await;
    let token = gateway.admin_token();
    let admin = gateway.admin();
    let http = reqwest::Client::new();
    let list = format!("http://{admin}/admin/tokens");
    let none = http.get(&list).send().await.unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert!(none.headers().contains_key("www-authenticate"));
    let wrong = http
        .get(&list)
        .bearer_auth("x".repeat(43))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let right = http.get(&list).bearer_auth(&token).send().await.unwrap();
    assert_eq!(right.status(), StatusCode::OK);
    let body: serde_json::Value = right.json().await.unwrap();
    assert_eq!(body["grants"], serde_json::json!([]));
    let revoke = http
        .post(format!("http://{admin}/admin/revoke"))
        .bearer_auth(&token)
        .body("{\"nothing\":1}")
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), StatusCode::BAD_REQUEST);

    // Every 405 says what the path accepts (RFC 9110 §15.5.6).
    for (method, path, allow) in [
        (reqwest::Method::POST, "/metrics", "GET"),
        (reqwest::Method::DELETE, "/healthz", "GET"),
        (reqwest::Method::PUT, "/admin/tokens", "GET"),
        (reqwest::Method::GET, "/admin/revoke", "POST"),
    ] {
        let response = http
            .request(method.clone(), format!("http://{admin}{path}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(response.headers()["allow"], allow, "{method} {path}");
    }

    // The public listener knows none of it.
    for path in ["/metrics", "/admin/tokens"] {
        let response = gateway.http().get(gateway.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_cli_lists_and_revokes_by_jti_client_and_user() {
    let gateway = gateway().await;
    let config = gateway.write_config();
    let spa = gateway.spa();
    let web = gateway.web();
    let at_spa = tokens_for(&gateway, &spa, &["api:read"]).await;
    let at_web = tokens_for(&gateway, &web, &["api:read"]).await;
    let worker = client_credentials(&gateway).await;
    let spa_access = at_spa.access_token().secret().clone();
    let web_access = at_web.access_token().secret().clone();
    for token in [&spa_access, &web_access, &worker] {
        assert_eq!(bearer_status(&gateway, token).await, StatusCode::OK);
    }

    // list: both of alice's grants, with their access tokens' jti.
    let out = cli(&config, &["token", "list"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = stdout(&out);
    let spa_jti = crate::support::oauth::jwt_claims(&spa_access)["jti"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(table.contains(&spa_jti), "{table}");
    assert_eq!(
        table.lines().filter(|l| l.contains(USER)).count(),
        2,
        "{table}"
    );
    let out = cli(&config, &["token", "list", "--client", WEB, "--json"]).await;
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed["grants"].as_array().unwrap().len(), 1);
    assert_eq!(listed["grants"][0]["client_id"], WEB);
    assert!(
        !stdout(&out).contains(&web_access),
        "the list never shows a token"
    );

    // --jti: that access token only, from the next request on.
    let out = cli(&config, &["token", "revoke", "--jti", &spa_jti]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        bearer_status(&gateway, &spa_access).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(bearer_status(&gateway, &web_access).await, StatusCode::OK);

    // --client: the worker's client_credentials token, and nothing of other clients.
    let out = cli(&config, &["token", "revoke", "--client", WORKER]).await;
    assert!(out.status.success());
    assert_eq!(
        bearer_status(&gateway, &worker).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(bearer_status(&gateway, &web_access).await, StatusCode::OK);
    assert!(
        client_credentials(&gateway).await.len() > 10,
        "new tokens are issued again"
    );

    // --client for a client with a grant: its refresh token stops working too.
    let out = cli(&config, &["token", "revoke", "--client", WEB]).await;
    assert!(stdout(&out).contains("1 grant"), "{}", stdout(&out));
    assert_eq!(
        bearer_status(&gateway, &web_access).await,
        StatusCode::UNAUTHORIZED
    );
    let refresh = web
        .exchange_refresh_token(&RefreshToken::new(
            at_web.refresh_token().unwrap().secret().clone(),
        ))
        .request_async(&gateway.http())
        .await;
    assert!(
        refresh.is_err(),
        "the revoked client's refresh token is refused"
    );

    // --user: everything of alice, including the spa grant's refresh token.
    let out = cli(&config, &["token", "revoke", "--user", USER]).await;
    assert!(out.status.success());
    let refresh = spa
        .exchange_refresh_token(&RefreshToken::new(
            at_spa.refresh_token().unwrap().secret().clone(),
        ))
        .request_async(&gateway.http())
        .await;
    assert!(refresh.is_err(), "alice's refresh token is refused");
    let out = cli(&config, &["token", "list", "--user", USER]).await;
    assert!(
        stdout(&out).contains("(no live grants)"),
        "{}",
        stdout(&out)
    );

    // Exactly one target, or exit 2.
    let out = cli(&config, &["token", "revoke"]).await;
    assert_eq!(out.status.code(), Some(2));
    let out = cli(&config, &["token", "revoke", "--user", USER, "--jti", "x"]).await;
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test]
async fn token_cli_says_what_is_wrong_when_the_gateway_is_not_there() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{}\"\npublic_url = \"https://localhost:8443\"\n[admin]\nlisten = \"127.0.0.1:{port}\"\ntoken = \"env:AG_TEST_ADMIN\"\n",
            free_port()
        ),
    )
    .unwrap();
    let out = tokio::task::spawn_blocking(move || {
        authgate(
            dir.path(),
            &["token", "list", "--config", config.to_str().unwrap()],
            &[("AG_TEST_ADMIN", &"a".repeat(40))],
        )
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot reach the gateway's admin listener"),
        "{err}"
    );
    assert!(!err.contains(&"a".repeat(40)), "the token is never printed");
}

/// Issue 12: `token list --client` showed nothing for a client holding only
/// `client_credentials` tokens (no refresh family to list them by).
#[tokio::test(flavor = "multi_thread")]
async fn token_list_shows_client_credentials_tokens_until_the_client_is_revoked() {
    let gateway = gateway().await;
    let config = gateway.write_config();
    let first = client_credentials(&gateway).await;
    let second = client_credentials(&gateway).await;
    let jti = |token: &str| {
        crate::support::oauth::jwt_claims(token)["jti"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    let out = cli(&config, &["token", "list", "--client", WORKER]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = stdout(&out);
    for token in [&first, &second] {
        assert!(table.contains(&jti(token)), "{table}");
        assert!(
            !table.contains(token.as_str()),
            "the list never shows a token"
        );
    }
    assert!(table.contains("api:read"), "{table}");

    let out = cli(&config, &["token", "list", "--client", WORKER, "--json"]).await;
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tokens = &listed["client_tokens"];
    assert_eq!(tokens.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(tokens[0]["client_id"], WORKER);
    let access = tokens[0]["access"].as_array().unwrap();
    assert_eq!(access.len(), 2, "{listed}");
    assert_eq!(access[0]["jti"], jti(&first).as_str());
    assert_eq!(access[0]["scope"], "api:read");
    let exp = crate::support::oauth::jwt_claims(&first)["exp"]
        .as_u64()
        .unwrap();
    assert_eq!(access[0]["expires_at"], exp);

    // They have no user: a listing by user leaves them out.
    let out = cli(&config, &["token", "list", "--user", USER, "--json"]).await;
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        listed["client_tokens"].as_array().unwrap().is_empty(),
        "{listed}"
    );

    // Revoked with the client: refused from the next request on, and no longer listed.
    let out = cli(&config, &["token", "revoke", "--client", WORKER]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        bearer_status(&gateway, &first).await,
        StatusCode::UNAUTHORIZED
    );
    let out = cli(&config, &["token", "list", "--client", WORKER, "--json"]).await;
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        listed["client_tokens"].as_array().unwrap().is_empty(),
        "{listed}"
    );
}

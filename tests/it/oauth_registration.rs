//! RFC 7591 dynamic client registration: off by default, gated by the initial access token,
//! and a registered client then completes the code + PKCE flow like a configured one.

use oauth2::TokenResponse;
use serde_json::{json, Value};

use crate::support::oauth::{auth_request, AuthGateway, Decision, PASSWORD, USER};

const TOKEN_VAR: &str = "AUTHGATE_TEST_REGISTRATION_TOKEN";
const TOKEN: &str = "initial-access-token-7Qm2vX9kL4pR8tZ1wN6yB3hJ5dF0sGcE";

async fn registering_gateway() -> AuthGateway {
    // Every test sets the same value, so concurrent tests cannot disagree.
    #[allow(
        clippy::disallowed_methods,
        reason = "every test of the process sets the same value"
    )]
    std::env::set_var(TOKEN_VAR, TOKEN);
    AuthGateway::start_with_sections(&format!(
        "[registration]\nenabled = true\ninitial_access_token = \"env:{TOKEN_VAR}\"\nscopes = [\"api:read\"]\nmax_clients = 3\n"
    ))
    .await
}

async fn register(gateway: &AuthGateway, token: Option<&str>, body: Value) -> reqwest::Response {
    let mut request = gateway
        .http()
        .post(gateway.url("/oauth2/register"))
        .json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("register")
}

#[tokio::test]
async fn registration_is_off_by_default() {
    let gateway = AuthGateway::start().await;
    let response = register(
        &gateway,
        Some(TOKEN),
        json!({"redirect_uris": ["https://a.example/cb"]}),
    )
    .await;
    assert_eq!(response.status(), 404);
    let metadata: Value = gateway
        .http()
        .get(gateway.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .expect("metadata")
        .json()
        .await
        .expect("json");
    assert!(metadata.get("registration_endpoint").is_none());
}

#[tokio::test]
async fn registration_needs_the_initial_access_token() {
    let gateway = registering_gateway().await;
    let body =
        json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "none"});
    let response = register(&gateway, None, body.clone()).await;
    assert_eq!(response.status(), 401);
    assert!(response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let response = register(&gateway, Some("wrong-token"), body).await;
    assert_eq!(response.status(), 401);
    assert!(response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
}

#[tokio::test]
async fn unsafe_metadata_is_refused() {
    let gateway = registering_gateway().await;
    for (body, error) in [
        (
            json!({"redirect_uris": ["http://evil.example/cb"], "token_endpoint_auth_method": "none"}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb#x"], "token_endpoint_auth_method": "none"}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": [], "token_endpoint_auth_method": "none"}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "scope": "api:write"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["password"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}),
            "invalid_client_metadata",
        ),
    ] {
        let response = register(&gateway, Some(TOKEN), body.clone()).await;
        assert_eq!(response.status(), 400, "{body}");
        let answer: Value = response.json().await.expect("json");
        assert_eq!(answer["error"], error, "{body}");
    }
}

#[tokio::test]
async fn a_registered_public_client_completes_the_code_flow() {
    let gateway = registering_gateway().await;
    let response = register(
        &gateway,
        Some(TOKEN),
        json!({
            "client_name": "An MCP agent",
            "redirect_uris": ["http://127.0.0.1:33418/callback"],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
        }),
    )
    .await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let registered: Value = response.json().await.expect("json");
    let client_id = registered["client_id"]
        .as_str()
        .expect("client_id")
        .to_owned();
    assert!(
        registered.get("client_secret").is_none(),
        "a public client gets no secret"
    );
    assert_eq!(registered["scope"], "api:read");

    let client = gateway.oauth_client(&client_id, None, "http://127.0.0.1:33418/callback");
    let request = auth_request(&client, &["api:read"]);
    let browser = gateway.browser();
    let page = browser.open(&request.url).await;
    let page = browser.sign_in(&page, USER, PASSWORD).await;
    assert!(
        page.is_consent() || page.location().is_some(),
        "a registered client is never first-party"
    );
    let (callback, _) = browser.authorize(&request.url, Decision::Approve).await;
    let tokens = client
        .exchange_code(callback.code())
        .set_pkce_verifier(request.verifier)
        .request_async(&gateway.http())
        .await
        .expect("code exchange");
    assert!(gateway.is_active(tokens.access_token().secret()).await);
}

#[tokio::test]
async fn a_registered_confidential_client_gets_a_secret_once_and_the_cap_holds() {
    let gateway = registering_gateway().await;
    let body = json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_basic"});
    let response = register(&gateway, Some(TOKEN), body.clone()).await;
    assert_eq!(response.status(), 201);
    let registered: Value = response.json().await.expect("json");
    let id = registered["client_id"].as_str().expect("id");
    let secret = registered["client_secret"].as_str().expect("secret");
    let token: Value = gateway
        .http()
        .post(gateway.url("/oauth2/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    assert_eq!(token["scope"], "api:read");
    for _ in 0..2 {
        assert_eq!(
            register(&gateway, Some(TOKEN), body.clone()).await.status(),
            201
        );
    }
    assert_eq!(
        register(&gateway, Some(TOKEN), body).await.status(),
        503,
        "max_clients = 3"
    );
}

#[tokio::test]
async fn a_redirect_uri_carrying_a_response_parameter_is_refused_at_registration() {
    let gateway = registering_gateway().await;
    for uri in [
        "https://app.example/cb?code=1",
        "https://app.example/cb?x=1&state=2",
        "https://app.example/cb?iss=https://evil.example",
        "https://app.example/cb?error=x",
        "https://app.example/cb?error_description=x",
        "https://app.example/cb?error_uri=x",
        "https://app.example/cb?access_token=x",
        "https://app.example/cb?%63ode=1",
    ] {
        let response = register(
            &gateway,
            Some(TOKEN),
            json!({ "redirect_uris": [uri], "token_endpoint_auth_method": "none" }),
        )
        .await;
        assert_eq!(response.status(), 400, "{uri}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_redirect_uri", "{uri}: {body}");
    }
    // A query of its own without them is still fine.
    let response = register(
        &gateway,
        Some(TOKEN),
        json!({ "redirect_uris": ["https://app.example/cb?tenant=a"], "token_endpoint_auth_method": "none" }),
    )
    .await;
    assert_eq!(response.status(), 201);
}

//! The authorization code flow with PKCE end to end: a browser through login and consent, the
//! `oauth2` crate at the token endpoint, for public, confidential and first-party clients;
//! remembered consent, denial, and the RFC 8414 metadata.

use oauth2::basic::BasicTokenType;
use oauth2::TokenResponse;
use reqwest::StatusCode;

use crate::support::oauth::{
    auth_request, code_for, jwt_claims, jwt_header, AuthGateway, Decision, OTHER_USER, PASSWORD,
    PORTAL, PORTAL_REDIRECT, SPA, SPA_REDIRECT, USER, WEB, WEB_REDIRECT,
};

const LOGIN_COOKIE: &str = "__Host-authgate-login";

fn scopes_of(tokens: &oauth2::basic::BasicTokenResponse) -> Vec<String> {
    let mut scopes: Vec<String> = tokens
        .scopes()
        .expect("scope in the token response")
        .iter()
        .map(|s| s.to_string())
        .collect();
    scopes.sort();
    scopes
}

/// Checks an access token's RFC 9068 header and claims.
fn assert_access_token(
    gateway: &AuthGateway,
    token: &str,
    sub: &str,
    client_id: &str,
    scope: &str,
) {
    let header = jwt_header(token);
    assert_eq!(header["alg"], "HS256");
    assert_eq!(header["typ"], "at+jwt");
    assert!(header["kid"].as_str().is_some_and(|k| !k.is_empty()));
    let claims = jwt_claims(token);
    assert_eq!(claims["iss"], gateway.issuer());
    assert_eq!(claims["aud"], gateway.issuer());
    assert_eq!(claims["sub"], sub);
    assert_eq!(claims["client_id"], client_id);
    assert_eq!(claims["scope"], scope);
    let exp = claims["exp"].as_u64().expect("exp");
    let iat = claims["iat"].as_u64().expect("iat");
    assert_eq!(exp - iat, 900, "default access_ttl");
    assert_eq!(iat, gateway.now(), "issued on the gateway's clock");
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
}

#[tokio::test]
async fn public_client_code_flow_with_pkce_then_refresh() {
    let gateway = AuthGateway::start().await;
    let spa = gateway.spa();
    let request = auth_request(&spa, &["api:read", "api:write"]);
    let browser = gateway.browser();

    // Not signed in: the login page.
    let login = browser.open(&request.url).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.is_login(), "{login:?}");
    assert!(login.location().is_none());

    // Signing in answers 303 back to the authorization endpoint, with a session cookie.
    let signed_in = browser.sign_in(&login, USER, PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER, "{signed_in:?}");
    let back = signed_in.location().expect("Location");
    assert!(back.starts_with("/oauth2/authorize?"), "{back}");
    assert!(browser.has_cookie(LOGIN_COOKIE));

    // The consent page names the client and describes each scope.
    let consent = browser.follow(&signed_in).await;
    assert_eq!(consent.status, StatusCode::OK);
    assert!(consent.is_consent(), "{consent:?}");
    assert!(consent.body.contains("Single-page app"));
    assert!(consent.body.contains("Read your data through the API"));
    assert!(consent.body.contains("Change your data through the API"));
    assert!(
        !consent.body.contains("Use the application"),
        "not asked for"
    );

    // Approving redirects to the registered URI with code, state and iss (RFC 9207).
    let approved = browser.decide(&consent, Decision::Approve).await;
    assert!(
        matches!(approved.status.as_u16(), 302 | 303),
        "{approved:?}"
    );
    let callback = approved.callback();
    assert_eq!(callback.base, SPA_REDIRECT);
    assert_eq!(callback.get("state"), Some(request.state.secret().as_str()));
    assert_eq!(callback.get("iss"), Some(gateway.issuer()));
    let code = callback.get("code").expect("code");
    assert!(code.len() >= 43, "a 256-bit code");
    assert_eq!(callback.get("error"), None);

    let http = gateway.http();
    let tokens = spa
        .exchange_code(callback.code())
        .set_pkce_verifier(request.verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    assert_eq!(*tokens.token_type(), BasicTokenType::Bearer);
    assert_eq!(tokens.expires_in().map(|d| d.as_secs()), Some(900));
    assert_eq!(scopes_of(&tokens), ["api:read", "api:write"]);
    assert_access_token(
        &gateway,
        tokens.access_token().secret(),
        USER,
        SPA,
        "api:read api:write",
    );
    let refresh = tokens.refresh_token().expect("a refresh token");
    assert!(refresh.secret().len() >= 43);
    assert!(gateway.is_active(tokens.access_token().secret()).await);

    let refreshed = spa
        .exchange_refresh_token(refresh)
        .request_async(&http)
        .await
        .expect("refresh");
    assert_ne!(
        refreshed.access_token().secret(),
        tokens.access_token().secret()
    );
    let new_refresh = refreshed.refresh_token().expect("a new refresh token");
    assert_ne!(new_refresh.secret(), refresh.secret());
    assert_eq!(scopes_of(&refreshed), ["api:read", "api:write"]);
    assert!(gateway.is_active(refreshed.access_token().secret()).await);
}

#[tokio::test]
async fn confidential_client_code_flow_with_client_secret_basic_then_refresh() {
    let gateway = AuthGateway::start().await;
    let web = gateway.web();
    let request = auth_request(&web, &["api:read"]);
    let (callback, seen) = gateway
        .browser()
        .authorize(&request.url, Decision::Approve)
        .await;
    assert_eq!(seen, ["login", "consent"]);
    assert_eq!(callback.base, WEB_REDIRECT);
    assert_eq!(callback.get("state"), Some(request.state.secret().as_str()));
    assert_eq!(callback.get("iss"), Some(gateway.issuer()));

    // `oauth2` sends the secret by HTTP Basic (its default with a secret).
    let http = gateway.http();
    let tokens = web
        .exchange_code(callback.code())
        .set_pkce_verifier(request.verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    assert_eq!(scopes_of(&tokens), ["api:read"]);
    assert_access_token(
        &gateway,
        tokens.access_token().secret(),
        USER,
        WEB,
        "api:read",
    );

    let refreshed = web
        .exchange_refresh_token(tokens.refresh_token().expect("refresh token"))
        .request_async(&http)
        .await
        .expect("refresh");
    assert_ne!(
        refreshed.refresh_token().expect("rotated").secret(),
        tokens.refresh_token().expect("refresh token").secret()
    );
    assert!(gateway.is_active(refreshed.access_token().secret()).await);
}

#[tokio::test]
async fn first_party_client_skips_consent() {
    let gateway = AuthGateway::start().await;
    let portal = gateway.oauth_client(PORTAL, None, PORTAL_REDIRECT);
    let request = auth_request(&portal, &[]);
    let (callback, seen) = gateway
        .browser()
        .authorize(&request.url, Decision::Deny)
        .await;
    assert_eq!(seen, ["login"], "no consent page for a first-party client");
    assert_eq!(callback.base, PORTAL_REDIRECT);
    assert_eq!(callback.get("error"), None);
    let tokens = portal
        .exchange_code(callback.code())
        .set_pkce_verifier(request.verifier)
        .request_async(&gateway.http())
        .await
        .expect("code exchange");
    // No scope asked for: the client's defaults.
    assert_eq!(scopes_of(&tokens), ["app"]);
}

#[tokio::test]
async fn consent_is_remembered_for_the_same_scopes() {
    let gateway = AuthGateway::start().await;
    let spa = gateway.spa();
    let browser = gateway.browser();

    let first = auth_request(&spa, &["api:read"]);
    let (_, seen) = browser.authorize(&first.url, Decision::Approve).await;
    assert_eq!(seen, ["login", "consent"]);

    // Signed in and consented: straight back to the client with a code that works.
    let second = auth_request(&spa, &["api:read"]);
    let page = browser.open(&second.url).await;
    assert_eq!(page.status, StatusCode::FOUND, "{page:?}");
    let callback = page.callback();
    assert_eq!(callback.base, SPA_REDIRECT);
    assert_eq!(callback.get("state"), Some(second.state.secret().as_str()));
    assert_eq!(callback.get("iss"), Some(gateway.issuer()));
    spa.exchange_code(callback.code())
        .set_pkce_verifier(second.verifier)
        .request_async(&gateway.http())
        .await
        .expect("code exchange");

    // A scope not consented to yet is asked for again.
    let wider = auth_request(&spa, &["api:read", "api:write"]);
    let page = browser.open(&wider.url).await;
    assert!(page.is_consent(), "{page:?}");

    // The same user in a new browser is not asked again: consent is per user, not session.
    let (_, seen) = gateway
        .browser()
        .authorize(&auth_request(&spa, &["api:read"]).url, Decision::Approve)
        .await;
    assert_eq!(seen, ["login"]);

    // Another user is asked for their own consent.
    let other_browser = gateway.browser();
    let login = other_browser
        .open(&auth_request(&spa, &["api:read"]).url)
        .await;
    let signed_in = other_browser.sign_in(&login, OTHER_USER, PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER, "{signed_in:?}");
    let page = other_browser.follow(&signed_in).await;
    assert!(page.is_consent(), "{page:?}");
    assert!(page.body.contains(OTHER_USER));
}

#[tokio::test]
async fn denied_consent_redirects_with_access_denied_and_state() {
    let gateway = AuthGateway::start().await;
    let spa = gateway.spa();
    let request = auth_request(&spa, &["api:read"]);
    let (callback, seen) = gateway
        .browser()
        .authorize(&request.url, Decision::Deny)
        .await;
    assert_eq!(seen, ["login", "consent"]);
    assert_eq!(callback.base, SPA_REDIRECT);
    assert_eq!(callback.get("error"), Some("access_denied"));
    assert_eq!(callback.get("state"), Some(request.state.secret().as_str()));
    assert_eq!(callback.get("iss"), Some(gateway.issuer()));
    assert_eq!(callback.get("code"), None);
}

#[tokio::test]
async fn loopback_redirect_uri_with_another_port_is_accepted() {
    // RFC 8252 §7.3: native apps listen on an ephemeral loopback port.
    let gateway = AuthGateway::start().await;
    let redirect = "http://127.0.0.1:49152/callback";
    assert_ne!(redirect, SPA_REDIRECT);
    let client = gateway.oauth_client(SPA, None, redirect);
    let (callback, request) = code_for(&gateway, &client, &["api:read"]).await;
    assert_eq!(callback.base, redirect);
    let tokens = client
        .exchange_code(callback.code())
        .set_pkce_verifier(request.verifier)
        .request_async(&gateway.http())
        .await
        .expect("code exchange");
    assert!(gateway.is_active(tokens.access_token().secret()).await);
}

#[tokio::test]
async fn metadata_is_built_from_public_url() {
    let gateway = AuthGateway::start().await;
    // Forwarding headers must not change what the metadata says (RFC 8414, RFC 9700 §4.4).
    let response = gateway
        .http()
        .get(gateway.url("/.well-known/oauth-authorization-server"))
        .header("x-forwarded-host", "evil.example")
        .header("x-forwarded-proto", "http")
        .header("forwarded", "host=evil.example;proto=http")
        .send()
        .await
        .expect("metadata");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json")));
    let metadata: serde_json::Value = response.json().await.expect("JSON");
    let issuer = gateway.issuer();
    assert_eq!(metadata["issuer"], issuer);
    for (key, path) in [
        ("authorization_endpoint", "/oauth2/authorize"),
        ("token_endpoint", "/oauth2/token"),
        ("revocation_endpoint", "/oauth2/revoke"),
        ("introspection_endpoint", "/oauth2/introspect"),
    ] {
        assert_eq!(metadata[key], format!("{issuer}{path}"), "{key}");
    }
    let object = metadata.as_object().expect("an object");
    for (key, value) in object {
        if key.ends_with("_endpoint") {
            let url = value.as_str().expect("an endpoint URL");
            assert!(url.starts_with(&format!("{issuer}/")), "{key}: {url}");
        }
    }
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        metadata["response_types_supported"],
        serde_json::json!(["code"])
    );
    let grants = metadata["grant_types_supported"]
        .as_array()
        .expect("grant types");
    for grant in ["authorization_code", "refresh_token", "client_credentials"] {
        assert!(grants.iter().any(|g| g == grant), "{grant}");
    }
    for grant in ["password", "implicit"] {
        assert!(!grants.iter().any(|g| g == grant), "{grant}");
    }
    let scopes = metadata["scopes_supported"].as_array().expect("scopes");
    assert!(scopes.iter().any(|s| s == "api:read"));
    assert!(metadata["token_endpoint_auth_methods_supported"]
        .as_array()
        .expect("auth methods")
        .iter()
        .any(|m| m == "client_secret_basic"));
    assert_eq!(
        metadata["authorization_response_iss_parameter_supported"],
        true
    );
}

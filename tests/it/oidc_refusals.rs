//! Each OpenID refusal on its own (issue 14 "Tests"): a wrong or missing nonce echo (the
//! relying party's verifier catches it), `prompt=none` without a session, an unregistered
//! `post_logout_redirect_uri`, an ID token used as an access token and an access token
//! used as an `id_token_hint`, `alg: none` and HS256 tokens naming an asymmetric `kid`, and
//! userinfo for a token without `openid`. (A token signed by a removed key: oidc_rotation.)

use openidconnect::core::CoreAuthPrompt;
use openidconnect::{CsrfToken, LogoutRequest, Nonce, PostLogoutRedirectUrl, TokenResponse};
use reqwest::StatusCode;

use crate::support::oauth::{jwt_claims, jwt_header, with_param, Page};
use crate::support::oidc::{
    authorize, forge, verify_id_token, AuthRequest, Provider, Signed, ALICE, OPENID_SCOPES, RP,
    RP_LOGGED_OUT, RP_REDIRECT,
};
use crate::support::TestUpstream;

/// A provider with a bearer route at `/api` (scope `api:read`) and `tokens` as its
/// `[tokens]` lines.
async fn with_bearer_route(tokens: &str) -> (Provider, TestUpstream) {
    let upstream = TestUpstream::echo("api").await;
    let route = format!(
        "[[routes]]\npath = \"/api\"\nupstream = \"{}\"\nauth = \"bearer\"\nscopes = [\"api:read\"]\n",
        upstream.url()
    );
    let sections = if tokens.is_empty() {
        route
    } else {
        format!("{route}\n[tokens]\n{tokens}\n")
    };
    (Provider::start(&sections).await, upstream)
}

/// The bearer route's status for `token`.
async fn bearer_status(provider: &Provider, token: &str) -> StatusCode {
    provider
        .gateway
        .http()
        .get(provider.gateway.url("/api/data"))
        .bearer_auth(token)
        .send()
        .await
        .expect("bearer request")
        .status()
}

/// Opens the crate's logout URL with `hint` (raw) and the registered post-logout URI.
async fn logout_with_hint(
    provider: &Provider,
    browser: &crate::support::oauth::Browser,
    hint: &str,
) -> Page {
    let end_session = provider
        .metadata
        .additional_metadata()
        .end_session_endpoint
        .clone()
        .expect("end_session_endpoint");
    let url = LogoutRequest::from(end_session)
        .set_post_logout_redirect_uri(
            PostLogoutRedirectUrl::new(RP_LOGGED_OUT.to_owned()).expect("URL"),
        )
        .set_state(CsrfToken::new_random())
        .http_get_url();
    browser
        .open(&with_param(url.as_str(), "id_token_hint", Some(hint)))
        .await
}

/// Whether `page` sends the browser to the relying party.
fn leaves_for_the_rp(page: &Page) -> bool {
    page.location()
        .is_some_and(|l| l.starts_with("https://rp.example.com"))
}

#[tokio::test]
async fn a_different_nonce_or_none_echoed_is_caught_by_the_relying_partys_verifier() {
    let provider = Provider::start("").await;
    let client = provider.client(RP);
    let (browser, signed) = provider.sign_in(&client, ALICE, &OPENID_SCOPES).await;
    let id_token = signed.id_token();
    verify_id_token(&client, &id_token, &signed.nonce, None).expect("the right nonce verifies");
    let wrong = verify_id_token(
        &client,
        &id_token,
        &Nonce::new("another-nonce".to_owned()),
        None,
    );
    assert!(wrong.is_err(), "a different nonce must be refused");

    // A request without a nonce gets an ID token without one: a relying party that had sent
    // one (an attacker's replay of that token) sees it missing.
    let request = AuthRequest::new(&client, &OPENID_SCOPES, |r| r);
    let url = with_param(&request.url, "nonce", None);
    let callback = authorize(&browser, &url, ALICE).await;
    let tokens = provider
        .exchange(&client, &callback, request.verifier)
        .await;
    let raw = tokens.id_token().expect("an ID token").to_string();
    assert!(
        jwt_claims(&raw).get("nonce").is_none(),
        "no nonce sent, none echoed"
    );
    let missing = verify_id_token(&client, &raw, &request.nonce, None);
    assert!(missing.is_err(), "a missing nonce must be refused");
}

#[tokio::test]
async fn prompt_none_without_a_session_redirects_with_login_required() {
    let provider = Provider::start("").await;
    let client = provider.client(RP);
    let request = AuthRequest::new(&client, &OPENID_SCOPES, |r| {
        r.add_prompt(CoreAuthPrompt::None)
    });
    let page = provider.gateway.browser().open(&request.url).await;
    assert!(!page.is_login(), "no page with prompt=none: {page:?}");
    let callback = page.callback();
    assert_eq!(callback.base, RP_REDIRECT);
    assert_eq!(
        callback.get("error"),
        Some("login_required"),
        "{callback:?}"
    );
    assert_eq!(callback.get("state"), Some(request.state.secret().as_str()));
    assert!(callback.get("code").is_none());
}

#[tokio::test]
async fn an_unregistered_post_logout_redirect_uri_gets_no_redirect() {
    let provider = Provider::start("").await;
    let client = provider.client(RP);
    let (browser, signed) = provider.sign_in(&client, ALICE, &OPENID_SCOPES).await;
    let end_session = provider
        .metadata
        .additional_metadata()
        .end_session_endpoint
        .clone()
        .expect("end_session_endpoint");
    for unregistered in [
        "https://evil.example.net/logged-out",
        "https://rp.example.com/logged-out/other",
        "https://rp.example.com/logged-out?x=1",
    ] {
        let url = LogoutRequest::from(end_session.clone())
            .set_id_token_hint(signed.tokens.id_token().expect("an ID token"))
            .set_post_logout_redirect_uri(
                PostLogoutRedirectUrl::new(unregistered.to_owned()).expect("URL"),
            )
            .set_state(CsrfToken::new_random())
            .http_get_url();
        let page = browser.open(url.as_str()).await;
        let location = page.location();
        assert!(
            location.as_deref().is_none_or(|l| l.starts_with('/')),
            "{unregistered}: no redirect out of the gateway: {page:?}"
        );
    }
}

#[tokio::test]
async fn an_id_token_is_refused_as_an_access_token_at_a_bearer_route_and_at_userinfo() {
    let (provider, upstream) = with_bearer_route("").await;
    let client = provider.client(RP);
    let mut scopes = OPENID_SCOPES.to_vec();
    scopes.push("api:read");
    let (_browser, signed) = provider.sign_in(&client, ALICE, &scopes).await;
    // The access token passes (so the refusals below are about the token's kind).
    assert_eq!(
        bearer_status(&provider, signed.access_token().secret()).await,
        StatusCode::OK
    );
    assert_eq!(
        provider
            .userinfo_raw(signed.access_token().secret())
            .await
            .0,
        StatusCode::OK
    );
    let hits = upstream.hits();

    let id_token = signed.id_token();
    assert_eq!(
        bearer_status(&provider, &id_token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(upstream.hits(), hits, "nothing forwarded");
    let (status, challenge) = provider.userinfo_raw(&id_token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.contains("invalid_token"), "{challenge}");
}

#[tokio::test]
async fn an_access_token_is_refused_as_an_id_token_hint() {
    for algorithm in ["", "algorithm = \"ES256\""] {
        let provider = Provider::start(&if algorithm.is_empty() {
            String::new()
        } else {
            format!("[tokens]\n{algorithm}\n")
        })
        .await;
        let client = provider.client(RP);
        let (browser, signed) = provider.sign_in(&client, ALICE, &OPENID_SCOPES).await;
        let access = signed.access_token().secret().clone();
        // At logout: no redirect to the relying party.
        let page = logout_with_hint(&provider, &browser, &access).await;
        assert!(!leaves_for_the_rp(&page), "[tokens] {algorithm}: {page:?}");
        // At authorization, with prompt=none: not a code.
        let request = AuthRequest::new(&client, &OPENID_SCOPES, |r| {
            r.add_prompt(CoreAuthPrompt::None)
        });
        let url = with_param(&request.url, "id_token_hint", Some(&access));
        let callback = browser.open(&url).await.callback();
        assert!(
            callback.get("code").is_none(),
            "[tokens] {algorithm}: {callback:?}"
        );
        assert_eq!(
            callback.get("error"),
            Some("login_required"),
            "{callback:?}"
        );
        // The real ID token as the hint works (so the refusals are about the token's kind).
        let page = logout_with_hint(&provider, &browser, &signed.id_token()).await;
        assert!(leaves_for_the_rp(&page), "[tokens] {algorithm}: {page:?}");
    }
}

/// The secrets a key-confusion attacker would try for an HS256 token under `kid`: the
/// public JWK as published, and its members' bytes.
async fn public_key_secrets(provider: &Provider, kid: &str) -> Vec<Vec<u8>> {
    let jwks: serde_json::Value = provider
        .gateway
        .http()
        .get(provider.metadata.jwks_uri().url().clone())
        .send()
        .await
        .expect("JWKS")
        .json()
        .await
        .expect("JWKS JSON");
    let key = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap_or_else(|| panic!("kid {kid} in {jwks}"))
        .clone();
    let mut secrets = vec![serde_json::to_vec(&key).unwrap(), kid.as_bytes().to_vec()];
    for member in ["x", "y", "n"] {
        if let Some(value) = key[member].as_str() {
            secrets.push(value.as_bytes().to_vec());
        }
    }
    secrets
}

fn forgeries(token: &str, secrets: &[Vec<u8>]) -> Vec<String> {
    let mut out = vec![forge::alg_none(token)];
    out.extend(secrets.iter().map(|s| forge::hs256_with_kid(token, s)));
    out
}

#[tokio::test]
async fn alg_none_and_hs256_tokens_naming_an_asymmetric_kid_are_refused() {
    let (provider, upstream) = with_bearer_route("algorithm = \"ES256\"").await;
    let client = provider.client(RP);
    let mut scopes = OPENID_SCOPES.to_vec();
    scopes.push("api:read");
    let (browser, signed) = provider.sign_in(&client, ALICE, &scopes).await;
    let access = signed.access_token().secret().clone();
    let header = jwt_header(&access);
    assert_eq!(
        header["alg"], "ES256",
        "[tokens] algorithm = \"ES256\": {header}"
    );
    assert_eq!(
        bearer_status(&provider, &access).await,
        StatusCode::OK,
        "the real token"
    );
    let hits = upstream.hits();

    // Access tokens: at the bearer route and at userinfo.
    let kid = header["kid"].as_str().expect("kid");
    for forged in forgeries(&access, &public_key_secrets(&provider, kid).await) {
        assert_eq!(
            bearer_status(&provider, &forged).await,
            StatusCode::UNAUTHORIZED,
            "{}",
            jwt_header(&forged)
        );
        assert_eq!(
            provider.userinfo_raw(&forged).await.0,
            StatusCode::UNAUTHORIZED,
            "{}",
            jwt_header(&forged)
        );
    }
    assert_eq!(upstream.hits(), hits, "nothing forwarded");

    // ID tokens: as an id_token_hint, and to the relying party's own verifier.
    let id_token = signed.id_token();
    let kid = jwt_header(&id_token)["kid"]
        .as_str()
        .expect("kid")
        .to_owned();
    for forged in forgeries(&id_token, &public_key_secrets(&provider, &kid).await) {
        let page = logout_with_hint(&provider, &browser, &forged).await;
        assert!(
            !leaves_for_the_rp(&page),
            "{}: {page:?}",
            jwt_header(&forged)
        );
        assert!(verify_id_token(&client, &forged, &signed.nonce, None).is_err());
    }
}

#[tokio::test]
async fn userinfo_for_a_token_without_openid_is_403_insufficient_scope() {
    let provider = Provider::start("").await;
    let client = provider.client(RP).disable_openid_scope();
    let request = AuthRequest::new(&client, &["api:read"], |r| r);
    assert!(!request.url.contains("openid"), "{}", request.url);
    let callback = authorize(&provider.gateway.browser(), &request.url, ALICE).await;
    let tokens = provider
        .exchange(&client, &callback, request.verifier)
        .await;
    assert!(tokens.id_token().is_none(), "no ID token without openid");
    let signed = Signed {
        tokens,
        nonce: request.nonce,
    };
    let (status, challenge) = provider.userinfo_raw(signed.access_token().secret()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
}

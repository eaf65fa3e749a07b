//! The gateway as an OpenID provider with a third-party relying party, the `openidconnect`
//! crate (contract §7, issue 14 "Tests"): discovery through `discover_async`, the code +
//! PKCE + nonce flow through the login page, the ID token verified by `CoreIdTokenVerifier`
//! against the JWKS the crate fetched (RS256 by default, ES256 and EdDSA for clients that
//! registered `id_token_signed_response_alg`), `at_hash`, userinfo, refresh, and the
//! RP-initiated logout URL built by the crate and followed.

use openidconnect::core::{
    CoreAuthPrompt, CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreResponseType,
};
use openidconnect::{
    CsrfToken, JsonWebKey, LogoutRequest, Nonce, OAuth2TokenResponse, PostLogoutRedirectUrl,
    ResponseTypes, TokenResponse,
};
use reqwest::StatusCode;

use crate::support::oauth::{jwt_claims, jwt_header, Callback};
use crate::support::oidc::{
    authorize, verify_id_token, AuthRequest, Provider, ALICE, ALICE_EMAIL, ALICE_NAME,
    OPENID_SCOPES, RP, RP_EDDSA, RP_ES256, RP_LOGGED_OUT, RP_REDIRECT,
};

#[tokio::test]
async fn discovery_through_the_crate_finds_every_endpoint_and_a_key_per_algorithm() {
    let provider = Provider::start("").await;
    let gateway = &provider.gateway;
    let issuer = provider.issuer();
    // The plain CoreProviderMetadata too: the crate's own required members are all there.
    let core = CoreProviderMetadata::discover_async(issuer.clone(), &gateway.http())
        .await
        .unwrap_or_else(|err| panic!("discovery: {err:?}"));
    assert_eq!(core.issuer(), &issuer);
    assert_eq!(
        core.authorization_endpoint().as_str(),
        gateway.url("/oauth2/authorize")
    );
    assert_eq!(
        core.token_endpoint().map(|u| u.as_str().to_owned()),
        Some(gateway.url("/oauth2/token"))
    );
    assert_eq!(
        core.userinfo_endpoint().map(|u| u.as_str().to_owned()),
        Some(gateway.url("/oauth2/userinfo"))
    );
    assert_eq!(core.jwks_uri().as_str(), gateway.url("/oauth2/jwks"));
    assert_eq!(
        core.response_types_supported(),
        &vec![ResponseTypes::new(vec![CoreResponseType::Code])],
        "the code flow only"
    );
    let algs = core.id_token_signing_alg_values_supported();
    for alg in [
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        CoreJwsSigningAlgorithm::EdDsa,
    ] {
        assert!(algs.contains(&alg), "{alg:?} in {algs:?}");
    }
    assert!(
        !algs.contains(&CoreJwsSigningAlgorithm::None)
            && !algs.contains(&CoreJwsSigningAlgorithm::HmacSha256),
        "never none or HS256 for ID tokens: {algs:?}"
    );
    // The JWKS the crate fetched: a signing key, with its kid, for each algorithm.
    for alg in ["RS256", "ES256", "EdDSA"] {
        let keys: Vec<_> = core
            .jwks()
            .keys()
            .iter()
            .filter(|k| serde_json::to_value(k).unwrap()["alg"] == alg)
            .collect();
        assert!(!keys.is_empty(), "no {alg} key in the JWKS");
        assert!(
            keys.iter().all(|k| k.key_id().is_some()),
            "{alg} keys have a kid"
        );
    }
    // The logout endpoint, through the crate's RP-Initiated Logout metadata.
    let end_session = provider
        .metadata
        .additional_metadata()
        .end_session_endpoint
        .as_ref()
        .expect("end_session_endpoint");
    assert!(
        end_session.url().as_str().starts_with(gateway.issuer()),
        "{end_session:?}"
    );
}

#[tokio::test]
async fn code_pkce_nonce_gives_an_rs256_id_token_the_crate_verifies_with_the_users_claims() {
    let provider = Provider::start("").await;
    let client = provider.client(RP);
    let (_browser, signed) = provider.sign_in(&client, ALICE, &OPENID_SCOPES).await;
    let (claims, alg) = signed.verify(&client);
    assert_eq!(
        alg,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        "RS256 by default"
    );
    assert_eq!(claims.subject().as_str(), ALICE, "sub is the user's name");
    assert_eq!(claims.issuer(), &provider.issuer());
    let audiences: Vec<&str> = claims.audiences().iter().map(|a| a.as_str()).collect();
    assert_eq!(audiences, [RP]);
    assert_eq!(
        claims.nonce().map(|n| n.secret().as_str()),
        Some(signed.nonce.secret().as_str())
    );
    assert_eq!(claims.email().map(|e| e.as_str()), Some(ALICE_EMAIL));
    assert_eq!(claims.email_verified(), Some(true));
    assert_eq!(
        claims.name().and_then(|n| n.get(None)).map(|n| n.as_str()),
        Some(ALICE_NAME)
    );
    assert_eq!(claims.preferred_username().map(|n| n.as_str()), Some(ALICE));
    assert_eq!(
        claims.additional_claims().groups.as_deref(),
        Some(&["admins".to_owned(), "dev".to_owned()][..]),
        "groups, an array of strings, in the ID token"
    );
    let auth_time = claims.auth_time().expect("auth_time").timestamp();
    assert!(
        auth_time.abs_diff(provider.gateway.now() as i64) <= 5,
        "auth_time {auth_time} is the login's"
    );
    // What the crate does not model: sid, azp, no nbf, kid in the header.
    let raw = jwt_claims(&signed.id_token());
    assert!(
        raw["sid"].as_str().is_some_and(|s| !s.is_empty()),
        "sid: {raw}"
    );
    assert!(raw.get("nbf").is_none(), "no nbf in an ID token: {raw}");
    let header = jwt_header(&signed.id_token());
    assert_eq!(header["alg"], "RS256");
    let kid = header["kid"].as_str().expect("a kid in the header");
    assert!(
        provider
            .metadata
            .jwks()
            .keys()
            .iter()
            .any(|k| k.key_id().map(|i| i.as_str()) == Some(kid)),
        "the kid {kid} is in the JWKS"
    );
    assert!(
        signed.tokens.refresh_token().is_none(),
        "no refresh token without offline_access"
    );
}

#[tokio::test]
async fn es256_and_eddsa_clients_get_id_tokens_signed_with_their_algorithm() {
    let provider = Provider::start("").await;
    for (id, alg, name) in [
        (RP_ES256, CoreJwsSigningAlgorithm::EcdsaP256Sha256, "ES256"),
        (RP_EDDSA, CoreJwsSigningAlgorithm::EdDsa, "EdDSA"),
    ] {
        let client = provider.client(id);
        let (_browser, signed) = provider.sign_in(&client, ALICE, &OPENID_SCOPES).await;
        // at_hash: SHA-256 half for ES256, SHA-512 half for EdDSA, as the crate computes.
        let (claims, found) = signed.verify(&client);
        assert_eq!(found, alg, "{id}");
        assert_eq!(jwt_header(&signed.id_token())["alg"], name, "{id}");
        assert_eq!(claims.subject().as_str(), ALICE);
        let audiences: Vec<&str> = claims.audiences().iter().map(|a| a.as_str()).collect();
        assert_eq!(audiences, [id]);
    }
}

#[tokio::test]
async fn userinfo_through_the_crate_has_the_id_tokens_claims() {
    let provider = Provider::start("").await;
    let client = provider.client(RP);
    let (_browser, signed) = provider.sign_in(&client, ALICE, &OPENID_SCOPES).await;
    let (claims, _) = signed.verify(&client);
    let info = provider
        .userinfo(&client, signed.access_token(), ALICE)
        .await;
    assert_eq!(info.subject().as_str(), ALICE);
    assert_eq!(info.email(), claims.email());
    assert_eq!(info.email_verified(), Some(true));
    assert_eq!(
        info.name().and_then(|n| n.get(None)).map(|n| n.as_str()),
        Some(ALICE_NAME)
    );
    assert_eq!(info.preferred_username(), claims.preferred_username());
    assert_eq!(
        info.additional_claims().groups,
        claims.additional_claims().groups,
        "the same groups"
    );
    // By POST body too (the conformance suite's userinfo-post-body).
    let answer = provider
        .gateway
        .http()
        .post(provider.gateway.url("/oauth2/userinfo"))
        .form(&[("access_token", signed.access_token().secret().as_str())])
        .send()
        .await
        .expect("userinfo POST");
    assert_eq!(answer.status(), StatusCode::OK);
    let json: serde_json::Value = answer.json().await.expect("JSON");
    assert_eq!(json["sub"], ALICE);
}

#[tokio::test]
async fn refresh_with_offline_access_gives_an_id_token_with_the_same_sub_iss_and_aud() {
    let provider = Provider::start("").await;
    let client = provider.client(RP);
    let mut scopes = OPENID_SCOPES.to_vec();
    scopes.push("offline_access");
    let (_browser, signed) = provider.sign_in(&client, ALICE, &scopes).await;
    let (first, _) = signed.verify(&client);
    let refresh = signed
        .tokens
        .refresh_token()
        .expect("a refresh token with offline_access");
    provider.gateway.advance(60);
    let refreshed = client
        .exchange_refresh_token(refresh)
        .expect("a token endpoint")
        .request_async(&provider.gateway.http())
        .await
        .unwrap_or_else(|err| panic!("refresh: {err:?}"));
    let raw = refreshed
        .id_token()
        .expect("an ID token on refresh")
        .to_string();
    // OIDC Core §12.2: a nonce, if present, is the original one.
    let original = signed.nonce.clone();
    let (again, _) = verify_id_token(
        &client,
        &raw,
        move |nonce: Option<&Nonce>| match nonce {
            None => Ok(()),
            Some(n) if n.secret() == original.secret() => Ok(()),
            Some(_) => Err("a different nonce".to_owned()),
        },
        Some(refreshed.access_token()),
    )
    .unwrap_or_else(|err| panic!("refreshed ID token refused: {err}"));
    assert_eq!(again.subject(), first.subject(), "sub");
    assert_eq!(again.issuer(), first.issuer(), "iss");
    assert_eq!(again.audiences(), first.audiences(), "aud");
    assert_eq!(
        again.auth_time(),
        first.auth_time(),
        "auth_time is still the login's"
    );
    assert!(again.issue_time() > first.issue_time(), "a new iat");
    assert_ne!(
        refreshed.access_token().secret(),
        signed.access_token().secret()
    );
}

/// `prompt=none` in `browser`: the redirect it ends in.
async fn silent(
    provider: &Provider,
    client: &crate::support::oidc::RpClient,
    browser: &crate::support::oauth::Browser,
) -> Callback {
    let request = AuthRequest::new(client, &OPENID_SCOPES, |r| {
        r.add_prompt(CoreAuthPrompt::None)
    });
    let page = browser.open(&request.url).await;
    let callback = page.callback();
    assert_eq!(callback.base, RP_REDIRECT, "{page:?}");
    assert_eq!(callback.get("state"), Some(request.state.secret().as_str()));
    let _ = provider;
    callback
}

#[tokio::test]
async fn rp_initiated_logout_built_by_the_crate_returns_with_state_and_ends_the_session() {
    let provider = Provider::start("").await;
    let client = provider.client(RP);
    let (browser, signed) = provider.sign_in(&client, ALICE, &OPENID_SCOPES).await;
    let before = silent(&provider, &client, &browser).await;
    assert!(
        before.get("code").is_some(),
        "signed in: prompt=none gives a code: {before:?}"
    );

    let end_session = provider
        .metadata
        .additional_metadata()
        .end_session_endpoint
        .clone()
        .expect("end_session_endpoint");
    let id_token = signed.tokens.id_token().expect("an ID token");
    let state = CsrfToken::new_random();
    let url = LogoutRequest::from(end_session)
        .set_id_token_hint(id_token)
        .set_post_logout_redirect_uri(
            PostLogoutRedirectUrl::new(RP_LOGGED_OUT.to_owned()).expect("URL"),
        )
        .set_state(state.clone())
        .http_get_url();
    let page = browser.open(url.as_str()).await;
    assert!(page.status.is_redirection(), "a redirect back: {page:?}");
    let back = page.callback();
    assert_eq!(back.base, RP_LOGGED_OUT, "{page:?}");
    assert_eq!(
        back.get("state"),
        Some(state.secret().as_str()),
        "state echoed"
    );

    let after = silent(&provider, &client, &browser).await;
    assert_eq!(
        after.get("error"),
        Some("login_required"),
        "the session ended: {after:?}"
    );
    assert!(after.get("code").is_none());
    // A new sign-in works, with a new login.
    let again = authorize(
        &browser,
        &AuthRequest::new(&client, &OPENID_SCOPES, |r| r).url,
        ALICE,
    )
    .await;
    assert!(again.get("code").is_some(), "{again:?}");
}

/// Verifies the compact JWS `token` with the crate's JWK for its `kid` in `jwks` (the
/// crate's own RustCrypto verifiers, not authgate's).
fn verify_with_jwks(
    token: &str,
    jwks: &openidconnect::core::CoreJsonWebKeySet,
) -> Result<(), String> {
    use base64::Engine;
    let header = jwt_header(token);
    let kid = header["kid"].as_str().ok_or("no kid")?;
    let key = jwks
        .keys()
        .iter()
        .find(|k| k.key_id().map(|i| i.as_str()) == Some(kid))
        .ok_or("kid not in the JWKS")?;
    let alg: CoreJwsSigningAlgorithm =
        serde_json::from_value(header["alg"].clone()).map_err(|e| e.to_string())?;
    let (input, signature) = token.rsplit_once('.').ok_or("not a JWS")?;
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|e| e.to_string())?;
    key.verify_signature(&alg, input.as_bytes(), &signature)
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn an_access_token_verifies_offline_from_the_jwks() {
    for (algorithm, alg) in [("ES256", "ES256"), ("EdDSA", "EdDSA")] {
        let provider = Provider::start(&format!("[tokens]\nalgorithm = \"{algorithm}\"\n")).await;
        let client = provider.client(RP);
        let mut scopes = OPENID_SCOPES.to_vec();
        scopes.push("api:read");
        let (_browser, signed) = provider.sign_in(&client, ALICE, &scopes).await;
        let token = signed.access_token().secret();
        let header = jwt_header(token);
        assert_eq!(header["alg"], alg, "{header}");
        assert_eq!(header["typ"], "at+jwt", "RFC 9068: {header}");
        // The resource server has only the JWKS, fetched from discovery's jwks_uri.
        let jwks = provider.fetch_jwks().await;
        verify_with_jwks(token, &jwks)
            .unwrap_or_else(|err| panic!("{algorithm}: the access token did not verify: {err}"));
        let claims = jwt_claims(token);
        assert_eq!(claims["iss"], provider.gateway.issuer(), "{claims}");
        assert_eq!(
            claims["aud"],
            provider.gateway.issuer(),
            "aud defaults to public_url"
        );
        assert_eq!(claims["sub"], ALICE);
        assert!(
            claims["scope"]
                .as_str()
                .is_some_and(|s| s.split(' ').any(|s| s == "api:read")),
            "{claims}"
        );
        assert!(claims["exp"].as_u64().unwrap() > provider.gateway.now());
        // A changed signature (in the middle: the last character may carry only padding
        // bits, research §3.3) does not verify.
        let (input, signature) = token.rsplit_once('.').unwrap();
        let mut chars: Vec<char> = signature.chars().collect();
        let middle = chars.len() / 2;
        chars[middle] = if chars[middle] == 'A' { 'B' } else { 'A' };
        let tampered = format!("{input}.{}", chars.into_iter().collect::<String>());
        assert!(
            verify_with_jwks(&tampered, &jwks).is_err(),
            "{algorithm}: tampered"
        );
    }
}

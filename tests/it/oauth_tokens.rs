//! Tokens after they are issued: client credentials (RFC 6749 §4.4), revocation (RFC 7009),
//! introspection (RFC 7662), and access tokens that were forged or tampered with (RFC 9068,
//! RFC 8725): another key, `alg: none`, a flipped byte anywhere.

use authgate::tokens::keyring::SigningKey;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::Mac;
use oauth2::basic::BasicTokenType;
use oauth2::{
    AccessToken, RefreshToken, StandardRevocableToken, TokenIntrospectionResponse, TokenResponse,
};
use rand::RngCore;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::oauth::{
    error_code, jwt_claims, jwt_header, token_error, tokens_for, Answer, AuthGateway, OAuthClient,
    OTHER_SPA, SPA, USER, WEB, WEB_REDIRECT, WEB_SECRET, WORKER, WORKER_SECRET,
};

fn worker(gateway: &AuthGateway) -> OAuthClient {
    gateway.oauth_client(WORKER, Some(WORKER_SECRET), WEB_REDIRECT)
}

async fn revoke(gateway: &AuthGateway, client: &OAuthClient, token: StandardRevocableToken) {
    client
        .revoke_token(token)
        .expect("revocation URL")
        .request_async(&gateway.http())
        .await
        .unwrap_or_else(|err| panic!("revocation refused: {}", error_code(err)));
}

/// A raw revocation by `id`:`secret` (HTTP Basic), or by `client_id` in the form for a
/// public client.
async fn revoke_raw(
    gateway: &AuthGateway,
    id: &str,
    secret: Option<&str>,
    token: &str,
) -> (StatusCode, String) {
    let request = gateway.http().post(gateway.url("/oauth2/revoke"));
    let request = match secret {
        Some(secret) => request
            .basic_auth(id, Some(secret))
            .form(&[("token", token)]),
        None => request.form(&[("token", token), ("client_id", id)]),
    };
    let response = request.send().await.expect("revocation request");
    let status = response.status();
    (status, response.text().await.expect("body"))
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A JWT with this header and these claims, MACed with `key` (whatever the header says).
fn sign_raw(header: &Value, claims: &Value, key: &SigningKey) -> String {
    let mut token = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let mut mac = key.mac();
    mac.update(token.as_bytes());
    let signature = mac.finalize().into_bytes();
    token.push('.');
    token.push_str(&b64(&signature));
    token
}

fn random_key() -> SigningKey {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    SigningKey::new(&bytes).expect("key")
}

// --- client credentials ---------------------------------------------------------------

#[tokio::test]
async fn client_credentials_issue_an_access_token_without_refresh_token() {
    let gateway = AuthGateway::start().await;
    let tokens = worker(&gateway)
        .exchange_client_credentials()
        .request_async(&gateway.http())
        .await
        .expect("client credentials");
    assert_eq!(*tokens.token_type(), BasicTokenType::Bearer);
    assert!(tokens.refresh_token().is_none(), "no refresh token");
    let scopes: Vec<String> = tokens
        .scopes()
        .expect("scope")
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(scopes, ["api:read"], "the client's scopes by default");
    let claims = jwt_claims(tokens.access_token().secret());
    assert_eq!(claims["sub"], WORKER);
    assert_eq!(claims["client_id"], WORKER);

    let answer = gateway.introspect(tokens.access_token().secret()).await;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["client_id"], WORKER);
    assert!(answer.get("username").is_none(), "no user: {answer}");

    // The raw answer: no refresh_token member, and not to be cached (RFC 6749 §5.1).
    let raw = Answer::read(
        gateway
            .http()
            .post(gateway.url("/oauth2/token"))
            .basic_auth(WEB, Some(WEB_SECRET))
            .form(&[("grant_type", "client_credentials"), ("scope", "api:write")])
            .send()
            .await
            .expect("token request"),
    )
    .await;
    assert_eq!(raw.status, StatusCode::OK, "{}", raw.json);
    assert!(raw.json.get("refresh_token").is_none(), "{}", raw.json);
    assert_eq!(raw.json["scope"], "api:write");
    assert_eq!(raw.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn client_credentials_for_a_public_client_is_unauthorized_client() {
    let gateway = AuthGateway::start().await;
    let err = gateway
        .spa()
        .exchange_client_credentials()
        .request_async(&gateway.http())
        .await
        .expect_err("a public client");
    assert_eq!(token_error(err), "unauthorized_client");
}

#[tokio::test]
async fn client_credentials_with_a_scope_beyond_the_client_is_invalid_scope() {
    let gateway = AuthGateway::start().await;
    let err = worker(&gateway)
        .exchange_client_credentials()
        .add_scope(oauth2::Scope::new("api:write".to_owned()))
        .request_async(&gateway.http())
        .await
        .expect_err("a scope the client does not have");
    assert_eq!(token_error(err), "invalid_scope");
}

// --- revocation -----------------------------------------------------------------------

#[tokio::test]
async fn revoking_a_refresh_token_ends_its_family() {
    let gateway = AuthGateway::start().await;
    let spa = gateway.spa();
    let first = tokens_for(&gateway, &spa, &["api:read"]).await;
    let second = spa
        .exchange_refresh_token(first.refresh_token().expect("refresh token"))
        .request_async(&gateway.http())
        .await
        .expect("refresh");
    let current: RefreshToken = second.refresh_token().expect("refresh token").clone();

    revoke(
        &gateway,
        &spa,
        StandardRevocableToken::RefreshToken(current.clone()),
    )
    .await;

    let err = spa
        .exchange_refresh_token(&current)
        .request_async(&gateway.http())
        .await
        .expect_err("a revoked refresh token");
    assert_eq!(token_error(err), "invalid_grant");
    assert!(!gateway.is_active(current.secret()).await);
    assert!(!gateway.is_active(second.access_token().secret()).await);
    assert!(!gateway.is_active(first.access_token().secret()).await);
}

#[tokio::test]
async fn revoking_an_access_token_makes_it_inactive() {
    let gateway = AuthGateway::start().await;
    let spa = gateway.spa();
    let tokens = tokens_for(&gateway, &spa, &["api:read"]).await;
    let access: AccessToken = tokens.access_token().clone();
    assert!(gateway.is_active(access.secret()).await);
    revoke(
        &gateway,
        &spa,
        StandardRevocableToken::AccessToken(access.clone()),
    )
    .await;
    assert!(!gateway.is_active(access.secret()).await);

    // A confidential client revokes its own access token the same way.
    let web = gateway.web();
    let own = web
        .exchange_client_credentials()
        .request_async(&gateway.http())
        .await
        .expect("client credentials");
    assert!(gateway.is_active(own.access_token().secret()).await);
    revoke(
        &gateway,
        &web,
        StandardRevocableToken::AccessToken(own.access_token().clone()),
    )
    .await;
    assert!(!gateway.is_active(own.access_token().secret()).await);
}

#[tokio::test]
async fn revoking_another_clients_token_leaves_it_alone_with_the_same_answer() {
    let gateway = AuthGateway::start().await;
    let spa = gateway.spa();
    let tokens = tokens_for(&gateway, &spa, &["api:read"]).await;
    let access = tokens.access_token().secret().clone();
    let refresh = tokens
        .refresh_token()
        .expect("refresh token")
        .secret()
        .clone();

    let unknown = revoke_raw(&gateway, WEB, Some(WEB_SECRET), "no-such-token").await;
    assert_eq!(unknown.0, StatusCode::OK);
    for token in [&access, &refresh] {
        let answer = revoke_raw(&gateway, WEB, Some(WEB_SECRET), token).await;
        assert_eq!(answer, unknown, "same answer as for an unknown token");
        let answer = revoke_raw(&gateway, OTHER_SPA, None, token).await;
        assert_eq!(answer, unknown, "same answer as for an unknown token");
    }

    assert!(gateway.is_active(&access).await);
    assert!(gateway.is_active(&refresh).await);
    spa.exchange_refresh_token(&RefreshToken::new(refresh))
        .request_async(&gateway.http())
        .await
        .expect("the refresh token still works");
}

#[tokio::test]
async fn revoking_an_unknown_token_answers_200() {
    let gateway = AuthGateway::start().await;
    for (id, secret) in [(WEB, Some(WEB_SECRET)), (SPA, None)] {
        for token in ["no-such-token", "a.b.c", &"A".repeat(43)] {
            let (status, _) = revoke_raw(&gateway, id, secret, token).await;
            assert_eq!(status, StatusCode::OK, "{id}: {token}");
        }
    }
    // Through the oauth2 crate as well.
    revoke(
        &gateway,
        &gateway.spa(),
        StandardRevocableToken::RefreshToken(RefreshToken::new("never-issued".to_owned())),
    )
    .await;
}

// --- introspection --------------------------------------------------------------------

#[tokio::test]
async fn introspection_describes_an_active_token() {
    let gateway = AuthGateway::start().await;
    let tokens = tokens_for(&gateway, &gateway.spa(), &["api:read", "api:write"]).await;
    let answer = gateway
        .resource_server()
        .introspect(tokens.access_token())
        .request_async(&gateway.http())
        .await
        .expect("introspection");
    assert!(answer.active());
    let mut scopes: Vec<String> = answer
        .scopes()
        .expect("scope")
        .iter()
        .map(|s| s.to_string())
        .collect();
    scopes.sort();
    assert_eq!(scopes, ["api:read", "api:write"]);
    assert_eq!(answer.client_id().map(|c| c.as_str()), Some(SPA));
    assert_eq!(answer.username(), Some(USER));
    assert_eq!(answer.sub(), Some(USER));
    assert_eq!(answer.iss(), Some(gateway.issuer()));
    let exp = answer.exp().expect("exp").timestamp();
    let expected = jwt_claims(tokens.access_token().secret())["exp"]
        .as_i64()
        .expect("exp claim");
    assert_eq!(exp, expected);
    assert!(exp > i64::try_from(gateway.now()).expect("time"));

    // A refresh token of the caller's choosing is described too.
    let refresh = gateway
        .introspect(tokens.refresh_token().expect("refresh token").secret())
        .await;
    assert_eq!(refresh["active"], true);
    assert_eq!(refresh["client_id"], SPA);
}

#[tokio::test]
async fn introspection_of_garbage_is_inactive() {
    let gateway = AuthGateway::start().await;
    for token in [
        "garbage",
        "a.b.c",
        "eyJhbGciOiJIUzI1NiJ9.e30.",
        &"A".repeat(43),
    ] {
        let answer = gateway.introspect(token).await;
        assert_eq!(answer, json!({"active": false}), "{token}");
    }
}

#[tokio::test]
async fn introspection_is_refused_for_a_public_client() {
    let gateway = AuthGateway::start().await;
    let tokens = tokens_for(&gateway, &gateway.spa(), &["api:read"]).await;
    let token = tokens.access_token().secret();
    for form in [
        vec![("token", token.as_str()), ("client_id", SPA)],
        vec![("token", token.as_str())],
    ] {
        let answer = Answer::read(
            gateway
                .http()
                .post(gateway.url("/oauth2/introspect"))
                .form(&form)
                .send()
                .await
                .expect("introspection request"),
        )
        .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.json);
        assert_eq!(answer.error(), Some("invalid_client"));
        assert!(answer.header("www-authenticate").is_some());
        assert_eq!(answer.header("cache-control"), Some("no-store"));
        assert!(answer.json.get("active").is_none(), "{}", answer.json);
    }
}

// --- forged and tampered access tokens ------------------------------------------------

#[tokio::test]
async fn token_signed_with_another_key_is_refused() {
    let gateway = AuthGateway::start().await;
    let tokens = tokens_for(&gateway, &gateway.spa(), &["api:read"]).await;
    let issued = tokens.access_token().secret();
    let header = jwt_header(issued);
    let mut claims = jwt_claims(issued);
    claims["jti"] = json!("forged-jti");

    // The harness is sound: the same claims MACed with the gateway's own key pass.
    let real = gateway.signing_key();
    assert_eq!(header["kid"], real.kid());
    assert!(gateway.is_active(&sign_raw(&header, &claims, &real)).await);

    // Another key under its own kid: an unknown key.
    let other = random_key();
    let mut other_header = header.clone();
    other_header["kid"] = json!(other.kid());
    assert!(
        !gateway
            .is_active(&sign_raw(&other_header, &claims, &other))
            .await
    );
    // Another key under the gateway's kid: a bad signature.
    assert!(!gateway.is_active(&sign_raw(&header, &claims, &other)).await);
    // The library's own signer with another key.
    let parsed: authgate::tokens::jwt::AccessClaims =
        serde_json::from_value(claims).expect("claims");
    let signed = authgate::tokens::jwt::sign(&parsed, &other);
    assert!(!gateway.is_active(&signed).await);
}

#[tokio::test]
async fn expired_access_token_is_inactive() {
    // Default access_ttl: 15 minutes, on the gateway's clock (with a small leeway for skew).
    let gateway = AuthGateway::start().await;
    let tokens = tokens_for(&gateway, &gateway.spa(), &["api:read"]).await;
    let access = tokens.access_token().secret();
    gateway.advance(899);
    assert!(gateway.is_active(access).await);
    gateway.advance(60);
    assert!(!gateway.is_active(access).await);
}

#[tokio::test]
async fn alg_none_token_is_refused() {
    let gateway = AuthGateway::start().await;
    let tokens = tokens_for(&gateway, &gateway.spa(), &["api:read"]).await;
    let issued = tokens.access_token().secret();
    let parts: Vec<&str> = issued.split('.').collect();
    let kid = jwt_header(issued)["kid"].clone();
    let claims = jwt_claims(issued);
    let real = gateway.signing_key();

    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = json!({"alg": alg, "typ": "at+jwt", "kid": kid});
        let encoded = b64(header.to_string().as_bytes());
        for token in [
            format!("{encoded}.{}.", parts[1]),
            format!("{encoded}.{}", parts[1]),
            format!("{encoded}.{}.{}", parts[1], parts[2]),
        ] {
            assert!(!gateway.is_active(&token).await, "alg {alg}: {token}");
        }
        // Even with a MAC the gateway's key would accept: the header's alg is not HS256.
        assert!(!gateway.is_active(&sign_raw(&header, &claims, &real)).await);
    }
    // Other algorithms, and a header without alg, are refused the same way.
    for header in [
        json!({"alg": "HS512", "typ": "at+jwt", "kid": kid}),
        json!({"alg": "RS256", "typ": "at+jwt", "kid": kid}),
        json!({"typ": "at+jwt", "kid": kid}),
        json!({"alg": "HS256", "typ": "JWT", "kid": kid}),
        json!({"alg": "HS256", "typ": "at+jwt"}),
    ] {
        assert!(
            !gateway.is_active(&sign_raw(&header, &claims, &real)).await,
            "{header}"
        );
    }
}

#[tokio::test]
async fn flipped_byte_anywhere_in_an_access_token_is_refused() {
    // Exhaustive over positions, two different flips each: every byte of header, claims and
    // signature (and the dots) is covered.
    let gateway = AuthGateway::start().await;
    let tokens = tokens_for(&gateway, &gateway.spa(), &["api:read"]).await;
    let issued = tokens.access_token().secret().clone();
    assert!(gateway.is_active(&issued).await);
    let bytes = issued.as_bytes();
    let mut accepted = Vec::new();
    for index in 0..bytes.len() {
        for flip in [0x01u8, 0x20] {
            let mut tampered = bytes.to_vec();
            tampered[index] ^= flip;
            let Ok(token) = String::from_utf8(tampered) else {
                continue;
            };
            if gateway.is_active(&token).await {
                accepted.push((index, flip));
            }
        }
    }
    assert!(
        accepted.is_empty(),
        "tampered tokens accepted at {accepted:?}"
    );
    assert!(
        gateway.is_active(&issued).await,
        "the original is still valid"
    );
}

//! The OpenID provider over the network, driven with reqwest (the `openidconnect` crate and
//! Apache suites are `oidc_rp` and `oidc_apache`): the discovery document and the JWKS as
//! served, a code + PKCE + nonce flow through login and consent with the ID token checked
//! against the JWKS by hand, UserInfo by GET, POST with the header and POST with the body,
//! `prompt`, `max_age` and `id_token_hint` as a browser meets them, request objects refused,
//! and the authorization endpoint by POST.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use crate::support::fixture::{password_hash, secret_hash};
use crate::support::jwks;
use crate::support::oauth::{
    jwt_claims, jwt_header, AuthGateway, Browser, Callback, Decision, Page, PASSWORD,
};

/// A user with every OpenID scope and the claims of contract §7.
const CAROL: &str = "carol";
const CAROL_EMAIL: &str = "carol@example.com";
/// A confidential relying party (consent asked), and a first-party public one.
const RP: &str = "oidc-web";
const RP_SECRET: &str = "oidc-web-secret-7Hq2Lx9Vb4Nc1Zt6Wm3Pk8Rj5Fd0Gs";
const RP_REDIRECT: &str = "https://rp.example.org/cb";
const PORTAL: &str = "oidc-portal";
const PORTAL_REDIRECT: &str = "http://127.0.0.1:7100/cb";
/// A fixed PKCE pair (RFC 7636 Appendix B).
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn sections() -> String {
    format!(
        r#"
[[users]]
name = "{CAROL}"
password = "{hash}"
scopes = ["openid", "profile", "email", "groups", "offline_access", "api:read"]
email = "{CAROL_EMAIL}"
display_name = "Carol Danvers"
groups = ["admins", "pilots"]

[[clients]]
id = "{RP}"
type = "confidential"
secret = "{secret}"
name = "Relying party"
redirect_uris = ["{RP_REDIRECT}"]
grants = ["authorization_code", "refresh_token"]
scopes = ["openid", "profile", "email", "groups", "offline_access", "api:read"]

[[clients]]
id = "{PORTAL}"
type = "public"
first_party = true
redirect_uris = ["{PORTAL_REDIRECT}"]
scopes = ["openid", "profile", "api:read"]
"#,
        hash = password_hash(),
        secret = secret_hash(RP_SECRET),
    )
}

async fn provider() -> AuthGateway {
    AuthGateway::start_with_sections(&sections()).await
}

/// The authorization URL of `client` with `scope`, state `st`, PKCE, and `extra`.
fn authorize_url(
    gateway: &AuthGateway,
    client: &str,
    redirect: &str,
    scope: &str,
    extra: &str,
) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", client)
        .append_pair("redirect_uri", redirect)
        .append_pair("scope", scope)
        .append_pair("state", "st")
        .append_pair("code_challenge", CHALLENGE)
        .append_pair("code_challenge_method", "S256")
        .finish();
    gateway.url(&format!("/oauth2/authorize?{query}{extra}"))
}

/// From `page` to the redirect that leaves the gateway: signs in as carol when asked,
/// approves consent when asked. Returns it and the pages met.
async fn through(browser: &Browser, mut page: Page) -> (Callback, Vec<&'static str>) {
    let mut seen = Vec::new();
    for _ in 0..6 {
        if page.is_login() {
            seen.push("login");
            page = browser.sign_in(&page, CAROL, PASSWORD).await;
        } else if page.is_consent() {
            seen.push("consent");
            page = browser.decide(&page, Decision::Approve).await;
        } else if page.location().is_some_and(|l| l.starts_with('/')) {
            page = browser.follow(&page).await;
        } else if page.location().is_some() {
            return (page.callback(), seen);
        } else {
            panic!("unexpected page: {page:?}");
        }
    }
    panic!("no redirect out of the gateway: {seen:?}");
}

/// Redeems `code` at the token endpoint as the relying party (HTTP Basic).
async fn redeem(gateway: &AuthGateway, code: &str) -> serde_json::Value {
    let response = gateway
        .http()
        .post(gateway.url("/oauth2/token"))
        .basic_auth(RP, Some(RP_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", RP_REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// A code for carol at the relying party, signing in and consenting as needed.
async fn sign_in(
    gateway: &AuthGateway,
    browser: &Browser,
    scope: &str,
    extra: &str,
) -> serde_json::Value {
    let page = browser
        .open(&authorize_url(gateway, RP, RP_REDIRECT, scope, extra))
        .await;
    let (callback, _) = through(browser, page).await;
    redeem(gateway, callback.get("code").expect("a code")).await
}

async fn get_json(
    gateway: &AuthGateway,
    path_or_url: &str,
) -> (reqwest::header::HeaderMap, serde_json::Value) {
    let url = if path_or_url.starts_with('/') {
        gateway.url(path_or_url)
    } else {
        path_or_url.to_owned()
    };
    let response = gateway.http().get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    (headers, response.json().await.unwrap())
}

/// Verifies an RS256 ID token's signature with the JWKS key its `kid` names (ring).
async fn verify_rs256(gateway: &AuthGateway, jwks_uri: &str, token: &str) {
    let (_, jwks) = get_json(gateway, jwks_uri).await;
    let key = jwks::key_for(&jwks, token).expect("the kid is published");
    assert_eq!(key["kty"], "RSA");
    assert!(
        jwks::verifies_under(key, token),
        "the ID token verifies against the JWKS"
    );
}

fn at_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(access_token.as_bytes())[..16])
}

#[tokio::test]
async fn discovery_and_jwks_as_served() {
    let gateway = provider().await;
    let (headers, doc) = get_json(&gateway, "/.well-known/openid-configuration").await;
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    assert_eq!(doc["issuer"], gateway.issuer());
    for member in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "end_session_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
    ] {
        let url = doc[member].as_str().unwrap_or_else(|| panic!("{member}"));
        assert!(
            url.starts_with(&format!("{}/", gateway.issuer())),
            "{member}: {url}"
        );
        assert!(url.starts_with("https://"), "{member}");
    }
    assert_eq!(doc["userinfo_endpoint"], gateway.url("/oauth2/userinfo"));
    assert_eq!(doc["jwks_uri"], gateway.url("/oauth2/jwks"));
    assert_eq!(doc["end_session_endpoint"], gateway.url("/oauth2/logout"));
    assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        doc["subject_types_supported"],
        serde_json::json!(["public"])
    );
    assert_eq!(doc["id_token_signing_alg_values_supported"][0], "RS256");
    assert!(doc["scopes_supported"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s == "openid"));
    assert_eq!(doc["request_uri_parameter_supported"], false);
    assert_eq!(doc["request_parameter_supported"], false);
    assert_eq!(doc["claims_parameter_supported"], false);

    // The RFC 8414 document agrees on every member it has.
    let (_, oauth) = get_json(&gateway, "/.well-known/oauth-authorization-server").await;
    for (member, value) in oauth.as_object().unwrap() {
        assert_eq!(&doc[member], value, "{member}");
    }

    // The JWKS: public keys only, each with kid, use and alg, one for every advertised alg.
    let response = gateway
        .http()
        .get(gateway.url("/oauth2/jwks"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/jwk-set+json"
    );
    assert_eq!(response.headers()["cache-control"], "public, max-age=3600");
    let jwks: serde_json::Value = response.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    for key in keys {
        assert!(key["kid"].as_str().is_some_and(|k| !k.is_empty()), "{key}");
        assert_eq!(key["use"], "sig", "{key}");
        assert_ne!(key["kty"], "oct", "no symmetric key: {key}");
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(
                key.get(private).is_none(),
                "no private member {private}: {key}"
            );
        }
    }
    for alg in doc["id_token_signing_alg_values_supported"]
        .as_array()
        .unwrap()
    {
        assert!(keys.iter().any(|k| &k["alg"] == alg), "a key for {alg}");
    }
    let refused = gateway
        .http()
        .post(gateway.url("/oauth2/jwks"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn code_pkce_nonce_flow_then_userinfo_three_ways() {
    let gateway = provider().await;
    let browser = gateway.browser();
    let page = browser
        .open(&authorize_url(
            &gateway,
            RP,
            RP_REDIRECT,
            "email openid profile groups",
            "&nonce=n-0S6_WzA2Mj&display=page&ui_locales=fr&unknown_parameter=1",
        ))
        .await;
    let (callback, seen) = through(&browser, page).await;
    assert_eq!(seen, ["login", "consent"]);
    assert_eq!(callback.base, RP_REDIRECT);
    assert_eq!(callback.get("state"), Some("st"));
    assert_eq!(callback.get("iss"), Some(gateway.issuer()));
    let tokens = redeem(&gateway, callback.get("code").unwrap()).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(
        tokens.get("refresh_token"),
        None,
        "no offline_access, no refresh token"
    );
    let access = tokens["access_token"].as_str().unwrap();
    let id_token = tokens["id_token"].as_str().expect("an ID token");

    let (_, doc) = get_json(&gateway, "/.well-known/openid-configuration").await;
    verify_rs256(&gateway, doc["jwks_uri"].as_str().unwrap(), id_token).await;
    assert_eq!(jwt_header(id_token)["typ"], "JWT");
    let claims = jwt_claims(id_token);
    assert_eq!(claims["iss"], gateway.issuer());
    assert_eq!(claims["aud"], RP);
    assert_eq!(claims["azp"], RP);
    assert_eq!(claims["sub"], CAROL);
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(claims["at_hash"], at_hash(access));
    assert_eq!(claims["auth_time"], gateway.now());
    assert_eq!(claims["exp"].as_u64().unwrap(), gateway.now() + 3600);
    assert!(claims["sid"].as_str().is_some_and(|s| s.len() >= 16));
    assert_eq!(claims["email"], CAROL_EMAIL);
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["groups"], serde_json::json!(["admins", "pilots"]));
    assert_eq!(claims["name"], "Carol Danvers");
    assert_eq!(claims["preferred_username"], CAROL);
    assert!(claims.get("nbf").is_none());

    let expected = serde_json::json!({
        "sub": CAROL,
        "name": "Carol Danvers",
        "preferred_username": CAROL,
        "email": CAROL_EMAIL,
        "email_verified": true,
        "groups": ["admins", "pilots"],
    });
    let userinfo = gateway.url("/oauth2/userinfo");
    let http = gateway.http();
    let by_get = http
        .get(&userinfo)
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(by_get.status(), StatusCode::OK);
    assert_eq!(by_get.headers()["cache-control"], "no-store");
    assert_eq!(by_get.json::<serde_json::Value>().await.unwrap(), expected);
    let by_post = http
        .post(&userinfo)
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(by_post.json::<serde_json::Value>().await.unwrap(), expected);
    let by_body = http
        .post(&userinfo)
        .form(&[("access_token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(by_body.status(), StatusCode::OK);
    assert_eq!(by_body.json::<serde_json::Value>().await.unwrap(), expected);

    // Two ways at once, the query string, no token, a bad one: refused (RFC 6750).
    let both = http
        .post(&userinfo)
        .bearer_auth(access)
        .form(&[("access_token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(both.status(), StatusCode::BAD_REQUEST);
    let query = http
        .get(format!("{userinfo}?access_token={access}"))
        .send()
        .await
        .unwrap();
    assert_eq!(query.status(), StatusCode::BAD_REQUEST);
    let none = http.get(&userinfo).send().await.unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert!(none.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let bad = http
        .get(&userinfo)
        .bearer_auth("x.y.z")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    assert!(bad.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("error=\"invalid_token\""));
    // The ID token is no access token.
    let swapped = http
        .get(&userinfo)
        .bearer_auth(id_token)
        .send()
        .await
        .unwrap();
    assert_eq!(swapped.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn userinfo_needs_openid_and_refresh_needs_offline_access() {
    let gateway = provider().await;
    let browser = gateway.browser();
    let plain = sign_in(&gateway, &browser, "api:read profile", "").await;
    assert!(plain.get("id_token").is_none());
    assert!(
        plain["refresh_token"].is_string(),
        "without openid: as before"
    );
    let response = gateway
        .http()
        .get(gateway.url("/oauth2/userinfo"))
        .bearer_auth(plain["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("error=\"insufficient_scope\""));

    let offline = sign_in(&gateway, &browser, "openid offline_access", "&nonce=r1").await;
    let first = jwt_claims(offline["id_token"].as_str().unwrap());
    gateway.advance(60);
    let response = gateway
        .http()
        .post(gateway.url("/oauth2/token"))
        .basic_auth(RP, Some(RP_SECRET))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", offline["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let refreshed: serde_json::Value = response.json().await.unwrap();
    let again = jwt_claims(
        refreshed["id_token"]
            .as_str()
            .expect("an ID token on refresh"),
    );
    for claim in ["iss", "sub", "aud", "auth_time", "sid"] {
        assert_eq!(again[claim], first[claim], "{claim}");
    }
    assert_eq!(
        again["iat"].as_u64().unwrap(),
        first["iat"].as_u64().unwrap() + 60
    );
    assert_eq!(
        again["at_hash"],
        at_hash(refreshed["access_token"].as_str().unwrap())
    );
}

#[tokio::test]
async fn prompt_none_answers_without_a_page() {
    let gateway = provider().await;
    let browser = gateway.browser();
    // Nobody signed in: login_required, redirected with state and iss.
    let page = browser
        .open(&authorize_url(
            &gateway,
            RP,
            RP_REDIRECT,
            "openid",
            "&prompt=none",
        ))
        .await;
    assert_eq!(page.status, StatusCode::FOUND);
    let callback = page.callback();
    assert_eq!(callback.base, RP_REDIRECT);
    assert_eq!(callback.get("error"), Some("login_required"));
    assert_eq!(callback.get("state"), Some("st"));
    assert_eq!(callback.get("iss"), Some(gateway.issuer()));

    // Signed in at the first-party portal; the relying party has no consent yet.
    let portal = browser
        .open(&authorize_url(
            &gateway,
            PORTAL,
            PORTAL_REDIRECT,
            "openid",
            "",
        ))
        .await;
    let (done, seen) = through(&browser, portal).await;
    assert_eq!(seen, ["login"]);
    assert!(done.get("code").is_some());
    let page = browser
        .open(&authorize_url(
            &gateway,
            RP,
            RP_REDIRECT,
            "openid email",
            "&prompt=none",
        ))
        .await;
    assert_eq!(page.callback().get("error"), Some("consent_required"));

    // Consent given once; then prompt=none succeeds silently, with a hint for the same user.
    let tokens = sign_in(&gateway, &browser, "openid email", "").await;
    let hint = tokens["id_token"].as_str().unwrap();
    let silent = browser
        .open(&authorize_url(
            &gateway,
            RP,
            RP_REDIRECT,
            "openid email",
            &format!("&prompt=none&id_token_hint={hint}"),
        ))
        .await;
    assert_eq!(silent.status, StatusCode::FOUND);
    assert!(silent.callback().get("code").is_some(), "{silent:?}");
    // A hint that does not verify: the user must sign in (so, without a page, login_required).
    let mut forged = hint.to_owned();
    forged.replace_range(
        forged.len() - 20..forged.len() - 19,
        if forged.as_bytes()[forged.len() - 20] == b'A' {
            "B"
        } else {
            "A"
        },
    );
    let refused = browser
        .open(&authorize_url(
            &gateway,
            RP,
            RP_REDIRECT,
            "openid email",
            &format!("&prompt=none&id_token_hint={forged}"),
        ))
        .await;
    assert_eq!(refused.callback().get("error"), Some("login_required"));
}

#[tokio::test]
async fn max_age_and_prompt_login_sign_in_again_and_move_auth_time() {
    let gateway = provider().await;
    let browser = gateway.browser();
    let first = sign_in(&gateway, &browser, "openid", "").await;
    let first_auth = jwt_claims(first["id_token"].as_str().unwrap())["auth_time"]
        .as_u64()
        .unwrap();

    // A young enough session answers max_age=10000 without a login.
    gateway.advance(2);
    let page = browser
        .open(&authorize_url(
            &gateway,
            RP,
            RP_REDIRECT,
            "openid",
            "&max_age=10000",
        ))
        .await;
    let (callback, seen) = through(&browser, page).await;
    assert!(seen.is_empty(), "{seen:?}");
    let tokens = redeem(&gateway, callback.get("code").unwrap()).await;
    assert_eq!(
        jwt_claims(tokens["id_token"].as_str().unwrap())["auth_time"],
        first_auth
    );

    // max_age=1 after 2 s: sign in again; auth_time moves.
    let page = browser
        .open(&authorize_url(
            &gateway,
            RP,
            RP_REDIRECT,
            "openid",
            "&max_age=1",
        ))
        .await;
    let (callback, seen) = through(&browser, page).await;
    assert_eq!(seen, ["login"]);
    let tokens = redeem(&gateway, callback.get("code").unwrap()).await;
    let second_auth = jwt_claims(tokens["id_token"].as_str().unwrap())["auth_time"]
        .as_u64()
        .unwrap();
    assert_eq!(second_auth, first_auth + 2);

    // prompt=login with a live session: a login all the same, and a later auth_time.
    gateway.advance(3);
    let page = browser
        .open(&authorize_url(
            &gateway,
            RP,
            RP_REDIRECT,
            "openid",
            "&prompt=login",
        ))
        .await;
    assert!(page.is_login(), "{page:?}");
    let (callback, seen) = through(&browser, page).await;
    assert_eq!(seen, ["login"], "one login, not a loop");
    let tokens = redeem(&gateway, callback.get("code").unwrap()).await;
    let third = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(third["auth_time"].as_u64().unwrap(), second_auth + 3);

    // prompt=consent asks again although consent is remembered.
    let page = browser
        .open(&authorize_url(
            &gateway,
            RP,
            RP_REDIRECT,
            "openid",
            "&prompt=consent",
        ))
        .await;
    let (_, seen) = through(&browser, page).await;
    assert_eq!(seen, ["consent"]);
}

#[tokio::test]
async fn request_objects_are_refused_by_redirect() {
    let gateway = provider().await;
    let browser = gateway.browser();
    for (extra, error) in [
        (
            "&request=eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9.",
            "request_not_supported",
        ),
        (
            "&request_uri=https%3A%2F%2Frp.example.org%2Frequest.jwt",
            "request_uri_not_supported",
        ),
    ] {
        let page = browser
            .open(&authorize_url(&gateway, RP, RP_REDIRECT, "openid", extra))
            .await;
        assert_eq!(page.status, StatusCode::FOUND, "{extra}");
        let callback = page.callback();
        assert_eq!(callback.get("error"), Some(error));
        assert_eq!(callback.get("state"), Some("st"));
    }
    // Without response_type: invalid_request, redirected too.
    let url =
        authorize_url(&gateway, RP, RP_REDIRECT, "openid", "").replace("response_type=code&", "");
    assert_eq!(
        browser.open(&url).await.callback().get("error"),
        Some("invalid_request")
    );
}

#[tokio::test]
async fn the_authorization_endpoint_accepts_post() {
    let gateway = provider().await;
    let browser = gateway.browser();
    let form = [
        ("response_type", "code"),
        ("client_id", RP),
        ("redirect_uri", RP_REDIRECT),
        ("scope", "openid email"),
        ("state", "posted"),
        ("nonce", "n-posted"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    // As the relying party's page posts it (another origin): a new request, not a form of ours.
    let page = browser
        .post_from("https://rp.example.org", "/oauth2/authorize", &form)
        .await;
    assert!(page.is_login(), "{page:?}");
    let (callback, seen) = through(&browser, page).await;
    assert_eq!(seen, ["login", "consent"]);
    assert_eq!(callback.get("state"), Some("posted"));
    let tokens = redeem(&gateway, callback.get("code").unwrap()).await;
    assert_eq!(
        jwt_claims(tokens["id_token"].as_str().unwrap())["nonce"],
        "n-posted"
    );

    // Signed in and consented: a POST issues the code at once; prompt=none works by POST too.
    let mut silent = form.to_vec();
    silent.push(("prompt", "none"));
    let page = browser
        .post_from("https://rp.example.org", "/oauth2/authorize", &silent)
        .await;
    assert_eq!(page.status, StatusCode::FOUND, "{page:?}");
    assert!(page.callback().get("code").is_some());

    // Not a form: refused with a page, never redirected.
    let response = gateway
        .http()
        .post(gateway.url("/oauth2/authorize"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get("location").is_none());
}

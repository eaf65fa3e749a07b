//! The gateway as an OpenID provider for a person who signed in through an upstream one (issue
//! 15 item 5: "consent, tokens, ... identity headers ... all work the same for them"): its own
//! ID token (signed with its own published key, not the upstream's) and UserInfo say `sub`
//! `corp:SUB` and carry the verified email the upstream provider gave.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::federated::{
    authorize_through_provider, oidc_provider, query_param, Federation,
};
use crate::support::idp::{Idp, IdpSettings};
use crate::support::jwks::{key_for, verifies_under};
use crate::support::oauth::jwt_claims;
use crate::support::JsonAnswer;

const CLIENT: &str = "oidc-portal";
const REDIRECT: &str = "http://127.0.0.1:7100/cb";
/// A fixed PKCE pair (RFC 7636 Appendix B).
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateways_id_token_and_userinfo_name_the_federated_person() {
    let mut idp = Idp::start(IdpSettings::new().account(
        "alice-sub",
        json!({"email": "alice@example.com", "email_verified": true, "name": "Alice Federated"}),
    ))
    .await;
    let extra = format!(
        "\n[[clients]]\nid = \"{CLIENT}\"\ntype = \"public\"\nfirst_party = true\n\
         redirect_uris = [\"{REDIRECT}\"]\nscopes = [\"openid\", \"email\", \"app\"]\n{}",
        oidc_provider(
            "corp",
            "Corp SSO",
            &idp,
            "allow_email_domains = [\"example.com\"]\ngrant_scopes = [\"openid\", \"email\", \"app\"]\n",
        )
    );
    let fed = Federation::start(Vec::new(), &extra, &mut [("corp", &mut idp)]).await;
    let gateway = &fed.gateway;

    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid email app")
        .append_pair("state", "st-1")
        .append_pair("nonce", "nonce-of-the-client")
        .append_pair("code_challenge", CHALLENGE)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let browser = fed.browser();
    let location =
        authorize_through_provider(&browser, &idp, &query, "Corp SSO", "alice-sub").await;
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(query_param(&location, "state").as_deref(), Some("st-1"));
    let code = query_param(&location, "code").expect("code");

    let response = gateway
        .api()
        .post(gateway.url("/oauth2/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", CLIENT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let tokens: Value = response.json().await.unwrap();
    let id_token = tokens["id_token"].as_str().expect("an ID token");
    let claims = jwt_claims(id_token);
    assert_eq!(claims["sub"], json!("corp:alice-sub"), "{claims}");
    assert_eq!(claims["iss"], json!(gateway.origin()), "{claims}");
    assert_eq!(claims["aud"], json!(CLIENT), "{claims}");
    assert_eq!(claims["nonce"], json!("nonce-of-the-client"), "{claims}");
    assert_eq!(claims["email"], json!("alice@example.com"), "{claims}");
    assert_eq!(claims["email_verified"], json!(true), "{claims}");

    // Signed with the gateway's own published key.
    let api = gateway.api();
    let discovery: Value = api
        .get(gateway.url("/.well-known/openid-configuration"))
        .json_answer()
        .await;
    let jwks: Value = api
        .get(discovery["jwks_uri"].as_str().expect("jwks_uri"))
        .json_answer()
        .await;
    let key = key_for(&jwks, id_token).expect("the ID token's kid in the gateway's JWKS");
    assert!(verifies_under(key, id_token));

    let access = tokens["access_token"].as_str().expect("access_token");
    let userinfo: Value = api
        .get(discovery["userinfo_endpoint"].as_str().expect("userinfo"))
        .bearer_auth(access)
        .json_answer()
        .await;
    assert_eq!(userinfo["sub"], json!("corp:alice-sub"), "{userinfo}");
    assert_eq!(userinfo["email"], json!("alice@example.com"), "{userinfo}");
}

//! `authgate token list|revoke --user ID:SUB` for a person who signed in through a real
//! upstream provider (issue 15 item 5): the CLI, through the running gateway's admin
//! listener, lists the federated principal's grant and revokes it; its access token is refused
//! from the next request on.

use std::net::SocketAddr;

use authgate::clock::{Clock, SystemClock};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::browser::Browser;
use crate::support::federated::{
    back_at_gateway, leave_for_provider, login_page, oidc_provider, query_param,
};
use crate::support::idp::{Idp, IdpSettings, CLIENT_ID};
use crate::support::oauth::{fixture, AuthGateway, PORTAL, PORTAL_REDIRECT};
use crate::support::{cli, client_builder, free_port, JsonAnswer, TestUpstream};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A browser of the cookie-jar kind on `gateway` (which trusts its generated certificate).
fn browser(gateway: &AuthGateway) -> Browser {
    let origin = gateway.url("");
    let port: u16 = origin.rsplit(':').next().unwrap().parse().unwrap();
    let pem = std::fs::read(gateway.data_dir().join("tls/self-signed.pem")).unwrap();
    let builder = client_builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], port)));
    Browser::new(builder, &origin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_revoke_user_revokes_a_federated_principals_tokens() {
    let mut idp = Idp::start(IdpSettings::new().account(
        "alice-sub",
        json!({"email": "alice@example.com", "email_verified": true}),
    ))
    .await;
    let api = TestUpstream::echo("api").await;
    // The CLI finds the admin listener by the configuration: a port of its own, named there.
    let sections = format!(
        "[admin]\nlisten = \"127.0.0.1:{}\"\n\n[[routes]]\npath = \"/api/\"\nupstream = \"{}\"\nauth = \"bearer\"\nscopes = [\"app\"]\n{}",
        free_port(),
        api.url(),
        oidc_provider(
            "corp",
            "Corp SSO",
            &idp,
            "allow_email_domains = [\"example.com\"]\ngrant_scopes = [\"app\"]\n",
        )
    );
    let gateway = AuthGateway::start_with_fixture(&fixture(), &sections).await;
    idp.allow_redirect_uri(CLIENT_ID, &gateway.url("/oauth2/callback/corp"))
        .await;
    // The provider's iat is the real time; the gateway's clock stood still since its start.
    gateway.advance(SystemClock.now().saturating_sub(gateway.now()));

    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", PORTAL)
        .append_pair("redirect_uri", PORTAL_REDIRECT)
        .append_pair("scope", "app")
        .append_pair("state", "st")
        .append_pair("code_challenge", CHALLENGE)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let browser = browser(&gateway);
    let login = login_page(&browser, &format!("/oauth2/authorize?{query}")).await;
    let at_idp = leave_for_provider(&browser, &login, "Corp SSO").await;
    let callback = idp.sign_in(&browser, &at_idp, "alice-sub").await;
    let journey = back_at_gateway(&browser, &callback).await;
    let location = journey.last.location().expect("a redirect to the client");
    assert!(location.starts_with(PORTAL_REDIRECT), "{journey:#?}");
    let code = query_param(&location, "code").expect("code");
    let tokens: serde_json::Value = gateway
        .http()
        .post(gateway.url("/oauth2/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", PORTAL_REDIRECT),
            ("client_id", PORTAL),
            ("code_verifier", VERIFIER),
        ])
        .json_answer()
        .await;
    let access = tokens["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned();
    let status = |token: String| {
        let http = gateway.http();
        let url = gateway.url("/api/items");
        async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(status(access.clone()).await, StatusCode::OK);
    assert_eq!(api.last().header("x-auth-user"), Some("corp:alice-sub"));

    let config = gateway.write_config();
    let out = cli(&config, &["token", "list", "--user", "corp:alice-sub"]).await;
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        listed.contains("corp:alice-sub") && listed.contains(PORTAL),
        "{listed}"
    );
    let out = cli(&config, &["token", "revoke", "--user", "corp:alice-sub"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(status(access).await, StatusCode::UNAUTHORIZED);
}

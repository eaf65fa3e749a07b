//! Sign-in through a real OpenID provider (panva's oidc-provider, support/idp.rs), end to end:
//! the login page's buttons, the authorization request the gateway sends (PKCE S256, nonce,
//! state, the contract's callback URI), a session route whose upstream sees `X-Auth-User:
//! corp:SUB`, `?provider=ID` skipping the choice, OAuth tokens (the `oauth2` crate as the
//! client) whose `sub` is `corp:SUB` with the scopes `grant_scopes` and `group_scopes` give,
//! and a local user linked by `identities`, never by email (contract §8).

use authgate::gateway_paths::FEDERATION_FLOW_COOKIE_PREFIX;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, PkceCodeChallenge, RedirectUrl, Scope,
    TokenResponse, TokenUrl,
};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::federated::{
    back_at_gateway, follow_within, has_session, leave_for_provider, login_page, oidc_provider,
    query_param, sign_in_with_idp, with_param, Federation,
};
use crate::support::fixture::{user, PASSWORD};
use crate::support::idp::{Idp, IdpSettings, CLIENT_ID};
use crate::support::oauth::jwt_claims;
use crate::support::protected::{protected, PORTAL, PORTAL_REDIRECT};
use crate::support::TestUpstream;

const CORP: &str = "Corp SSO";

fn corp_accounts() -> IdpSettings {
    IdpSettings::new()
        .account(
            "alice-sub",
            json!({"email": "alice@example.com", "email_verified": true,
                   "name": "Alice Federated", "groups": ["admins", "staff"]}),
        )
        .account(
            "dave-sub",
            json!({"email": "dave@example.com", "email_verified": true, "groups": ["staff"]}),
        )
        .account(
            "carol-sub",
            json!({"email": "carol@example.com", "email_verified": true}),
        )
        // Claims to be carol by every name but the one that counts.
        .account(
            "mallory-sub",
            json!({"email": "carol@example.com", "email_verified": true,
                   "preferred_username": "carol", "name": "carol"}),
        )
}

const CORP_GATES: &str = r#"allow_email_domains = ["example.com"]
scopes = ["openid", "email", "profile", "groups"]
grant_scopes = ["app"]
[providers.group_scopes]
admins = ["api:write"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_through_the_provider_and_the_upstream_sees_corp_sub() {
    let mut idp = Idp::start(corp_accounts()).await;
    let app = TestUpstream::echo("app").await;
    let routes = vec![protected("/app/", &app.url(), "session", &["app"])];
    let providers = oidc_provider("corp", CORP, &idp, CORP_GATES);
    let fed = Federation::start(routes, &providers, &mut [("corp", &mut idp)]).await;
    let browser = fed.browser();

    let signed = sign_in_with_idp(&browser, &idp, "/app/hello?x=1", CORP, "alice-sub").await;

    // The authorization request the gateway sent: code flow, PKCE S256, nonce, state, and the
    // callback URI of contract §8.
    let sent = |name: &str| query_param(&signed.authorize_url, name);
    assert_eq!(sent("client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(sent("response_type").as_deref(), Some("code"));
    assert_eq!(sent("redirect_uri"), Some(fed.callback_uri("corp")));
    assert_eq!(sent("code_challenge_method").as_deref(), Some("S256"));
    assert!(sent("code_challenge").is_some_and(|c| c.len() >= 43));
    assert!(
        sent("state").is_some_and(|s| s.len() >= 22),
        "{}",
        signed.authorize_url
    );
    assert!(
        sent("nonce").is_some_and(|n| n.len() >= 22),
        "{}",
        signed.authorize_url
    );
    assert!(
        sent("scope").is_some_and(|s| s.split(' ').any(|s| s == "openid")),
        "{}",
        signed.authorize_url
    );
    // The provider answered on the contract's callback, with RFC 9207 `iss`.
    assert!(
        signed.callback.starts_with(&fed.callback_uri("corp")),
        "{}",
        signed.callback
    );
    assert_eq!(query_param(&signed.callback, "iss"), Some(idp.issuer()));

    // Back where the browser started, as corp:SUB.
    let last = &signed.journey.last;
    let echoed = last.echoed();
    assert_eq!(
        echoed.target(),
        "/app/hello?x=1",
        "{:#?}",
        signed.journey.steps
    );
    assert_eq!(echoed.header("x-auth-user"), Some("corp:alice-sub"));
    assert!(
        echoed
            .header("x-auth-scopes")
            .is_some_and(|s| s.split(' ').any(|s| s == "app")),
        "{echoed:?}"
    );
    // No upstream credential of the provider's reaches the app: no JWT, no Authorization.
    assert!(echoed.header("authorization").is_none(), "{echoed:?}");
    assert!(
        !echoed.headers.iter().any(|(_, v)| v.contains("eyJ")),
        "a JWT reached the upstream: {echoed:?}"
    );
    assert!(has_session(&browser), "no session cookie");
    assert!(
        !browser
            .cookie_names()
            .iter()
            .any(|c| c.starts_with(FEDERATION_FLOW_COOKIE_PREFIX)),
        "the flow cookie outlived its callback: {:?}",
        browser.cookie_names()
    );

    // The session is the gateway's own: the next page needs no provider.
    let next = browser.get("/app/other").await;
    assert_eq!(next.echoed().header("x-auth-user"), Some("corp:alice-sub"));
    // Forward-auth names the same person.
    let check = browser.get("/oauth2/auth").await;
    assert_eq!(check.status, StatusCode::ACCEPTED, "{check:?}");
    assert_eq!(check.header("x-auth-user"), Some("corp:alice-sub"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_scopes_follow_the_providers_groups_at_the_next_sign_in() {
    let mut idp = Idp::start(corp_accounts()).await;
    let app = TestUpstream::echo("app").await;
    let routes = vec![protected("/write/", &app.url(), "session", &["api:write"])];
    let providers = oidc_provider("corp", CORP, &idp, CORP_GATES);
    let fed = Federation::start(routes, &providers, &mut [("corp", &mut idp)]).await;

    // In admins: group_scopes gives api:write, and the route lets her through.
    let browser = fed.browser();
    let signed = sign_in_with_idp(&browser, &idp, "/write/", CORP, "alice-sub").await;
    assert_eq!(
        signed.journey.last.echoed().header("x-auth-user"),
        Some("corp:alice-sub")
    );
    // Out of admins at the provider: her next sign-in carries no api:write.
    idp.set_account(
        "alice-sub",
        json!({"email": "alice@example.com", "email_verified": true, "groups": ["staff"]}),
    )
    .await;
    let hits = app.hits();
    let browser = fed.browser();
    let signed = sign_in_with_idp(&browser, &idp, "/write/", CORP, "alice-sub").await;
    assert_eq!(
        signed.journey.last.status,
        StatusCode::FORBIDDEN,
        "{:#?}",
        signed.journey
    );
    assert_eq!(app.hits(), hits);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_page_offers_every_provider_beside_the_password_form() {
    let mut idp = Idp::start(corp_accounts()).await;
    let mut partner = Idp::start(IdpSettings::new()).await;
    let app = TestUpstream::echo("app").await;
    let routes = vec![protected("/app/", &app.url(), "session", &["app"])];
    let providers = format!(
        "{}{}",
        oidc_provider("corp", CORP, &idp, CORP_GATES),
        oidc_provider("partner", "Partner Login", &partner, "allow_all = true\n"),
    );
    let fed = Federation::start(
        routes,
        &providers,
        &mut [("corp", &mut idp), ("partner", &mut partner)],
    )
    .await;
    let browser = fed.browser();
    let login = login_page(&browser, "/app/").await;
    assert!(login.is_login(), "the password form is gone: {login:?}");
    assert!(login.body.contains("Sign in with Corp SSO"), "{login:?}");
    assert!(
        login.body.contains("Sign in with Partner Login"),
        "{login:?}"
    );
    // Each button goes to its own provider.
    let to_partner = leave_for_provider(&browser, &login, "Partner Login").await;
    assert!(to_partner.starts_with(&partner.issuer()), "{to_partner}");
    assert_eq!(
        query_param(&to_partner, "redirect_uri"),
        Some(fed.callback_uri("partner"))
    );
    let to_corp = leave_for_provider(&browser, &login, CORP).await;
    assert!(to_corp.starts_with(&idp.issuer()), "{to_corp}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_on_the_authorization_request_skips_the_choice() {
    let mut idp = Idp::start(corp_accounts()).await;
    let app = TestUpstream::echo("app").await;
    let routes = vec![protected("/app/", &app.url(), "session", &["app"])];
    let providers = oidc_provider("corp", CORP, &idp, CORP_GATES);
    let fed = Federation::start(routes, &providers, &mut [("corp", &mut idp)]).await;
    let browser = fed.browser();

    // The session route sends the browser to /oauth2/authorize; with provider=corp that
    // request goes straight to the provider, and the sign-in ends where it began.
    let first = browser.get("/app/direct").await;
    let authorize = first.location().expect("a redirect to sign in");
    let authorize = browser.absolute(&authorize);
    assert!(authorize.contains("/oauth2/authorize?"), "{authorize}");
    let page = browser
        .get(&with_param(&authorize, "provider", Some("corp")))
        .await;
    let page = follow_within(&browser, page).await;
    let at_idp = page.location().expect("a redirect to the provider");
    assert!(
        at_idp.starts_with(&idp.issuer()),
        "not sent to the provider: {page:?}"
    );
    let callback = idp.sign_in(&browser, &at_idp, "dave-sub").await;
    let journey = back_at_gateway(&browser, &callback).await;
    let echoed = journey.last.echoed();
    assert_eq!(echoed.target(), "/app/direct");
    assert_eq!(echoed.header("x-auth-user"), Some("corp:dave-sub"));
}

/// The gateway with a bearer route needing api:write, and a token for the first-party client
/// PORTAL asking `scopes`, through the `oauth2` crate and a sign-in at the provider as `sub`:
/// the access token, and what the route answered with it.
async fn portal_token(sub: &str, scopes: &[&str]) -> (String, StatusCode, TestUpstream) {
    let mut idp = Idp::start(corp_accounts()).await;
    let api = TestUpstream::echo("api").await;
    let routes = vec![protected("/api/", &api.url(), "bearer", &["api:write"])];
    let providers = oidc_provider("corp", CORP, &idp, CORP_GATES);
    let fed = Federation::start(routes, &providers, &mut [("corp", &mut idp)]).await;
    let gateway = &fed.gateway;

    let client = BasicClient::new(ClientId::new(PORTAL.to_owned()))
        .set_auth_uri(AuthUrl::new(gateway.url("/oauth2/authorize")).unwrap())
        .set_token_uri(TokenUrl::new(gateway.url("/oauth2/token")).unwrap())
        .set_redirect_uri(RedirectUrl::new(PORTAL_REDIRECT.to_owned()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(scopes.iter().map(|s| Scope::new((*s).to_owned())))
        .set_pkce_challenge(challenge)
        .url();

    let browser = fed.browser();
    let login = login_page(&browser, url.as_str()).await;
    let at_idp = leave_for_provider(&browser, &login, CORP).await;
    let callback = idp.sign_in(&browser, &at_idp, sub).await;
    let journey = back_at_gateway(&browser, &callback).await;
    let location = journey
        .last
        .location()
        .unwrap_or_else(|| panic!("no redirect to the client: {journey:#?}"));
    assert!(location.starts_with(PORTAL_REDIRECT), "{location}");
    assert_eq!(
        query_param(&location, "state").as_deref(),
        Some(state.secret().as_str())
    );
    let code = query_param(&location, "code").expect("code");
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request_async(&gateway.api())
        .await
        .expect("the code exchange");
    let access = tokens.access_token().secret().clone();
    let answer = gateway
        .api()
        .get(gateway.url("/api/items"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    (access, answer.status(), api)
}

fn token_scopes(claims: &serde_json::Value) -> Vec<String> {
    claims["scope"]
        .as_str()
        .unwrap_or("")
        .split(' ')
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_of_a_federated_person_carry_corp_sub_and_the_scopes_their_groups_give() {
    let (access, status, api) = portal_token("alice-sub", &["app", "api:write"]).await;
    let claims = jwt_claims(&access);
    assert_eq!(claims["sub"], json!("corp:alice-sub"), "{claims}");
    let scopes = token_scopes(&claims);
    assert!(scopes.iter().any(|s| s == "app"), "{claims}");
    // api:write comes from group_scopes (admins).
    assert!(scopes.iter().any(|s| s == "api:write"), "{claims}");
    assert_eq!(status, StatusCode::OK);
    let seen = api.last();
    assert_eq!(seen.header("x-auth-user"), Some("corp:alice-sub"));
    assert_eq!(seen.header("x-auth-client"), Some(PORTAL));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_outside_the_admin_group_gets_only_grant_scopes() {
    let (access, status, api) = portal_token("dave-sub", &["app"]).await;
    let claims = jwt_claims(&access);
    assert_eq!(claims["sub"], json!("corp:dave-sub"));
    assert!(
        !token_scopes(&claims).iter().any(|s| s == "api:write"),
        "{claims}"
    );
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(api.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_user_listing_the_identity_is_that_user_and_nothing_links_by_email() {
    let mut idp = Idp::start(corp_accounts()).await;
    let app = TestUpstream::echo("app").await;
    let routes = vec![protected("/app/", &app.url(), "session", &["app"])];
    let carol = format!(
        "{}identities = [\"corp:carol-sub\"]\nemail = \"carol@example.com\"\n",
        user("carol", &["app"])
    );
    let providers = format!("{carol}{}", oidc_provider("corp", CORP, &idp, CORP_GATES));
    let fed = Federation::start(routes, &providers, &mut [("corp", &mut idp)]).await;

    let browser = fed.browser();
    let signed = sign_in_with_idp(&browser, &idp, "/app/", CORP, "carol-sub").await;
    assert_eq!(
        signed.journey.last.echoed().header("x-auth-user"),
        Some("carol")
    );

    // Same verified email, same preferred_username, same name: still someone else.
    let browser = fed.browser();
    let signed = sign_in_with_idp(&browser, &idp, "/app/", CORP, "mallory-sub").await;
    assert_eq!(
        signed.journey.last.echoed().header("x-auth-user"),
        Some("corp:mallory-sub")
    );
}

/// A `[[users]]` entry with `identities` and no password signs in through its provider only:
/// it is that user there (its scopes, its name upstream), and the password form refuses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_user_without_a_password_signs_in_through_the_provider_only() {
    let mut idp = Idp::start(corp_accounts()).await;
    let app = TestUpstream::echo("app").await;
    let routes = vec![protected("/app/", &app.url(), "session", &["app"])];
    let erin =
        "\n[[users]]\nname = \"erin\"\nscopes = [\"app\"]\nidentities = [\"corp:carol-sub\"]\n";
    let providers = format!("{erin}{}", oidc_provider("corp", CORP, &idp, CORP_GATES));
    let fed = Federation::start(routes, &providers, &mut [("corp", &mut idp)]).await;

    let browser = fed.browser();
    let signed = sign_in_with_idp(&browser, &idp, "/app/", CORP, "carol-sub").await;
    assert_eq!(
        signed.journey.last.echoed().header("x-auth-user"),
        Some("erin")
    );

    let browser = fed.browser();
    let login = login_page(&browser, "/app/").await;
    for typed in ["", "any password", PASSWORD] {
        let page = browser.sign_in(&login, "erin", typed).await;
        assert!(
            page.is_login(),
            "erin signed in with the form ({typed:?}): {page:?}"
        );
        assert!(page.alert().is_some(), "{page:?}");
        assert!(!has_session(&browser));
    }
}

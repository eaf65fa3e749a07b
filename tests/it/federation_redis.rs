//! Federated people on two gateways sharing one real Redis (`backend = "redis"`): a person
//! signed in through the provider at one gateway is known at the other, which never saw the
//! sign-in: its bearer route's `allow = ["group:corp/ops"]` reads the person's groups from
//! the record in Redis (and refuses a person outside the group), a refresh there keeps the
//! group-derived scope, and UserInfo there tells the provider's verified email; and its
//! route session, begun at the first gateway, carries its groups to the other (in Redis).

use authgate::clock::{Clock, SystemClock};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::federated::{
    authorize_through_provider, oidc_provider, query_param, sign_in_with_idp,
};
use crate::support::idp::{Idp, IdpSettings, CLIENT_ID};
use crate::support::oauth::AuthGateway;
use crate::support::redis::RedisServer;
use crate::support::TestUpstream;

const CLIENT: &str = "fed-portal";
const REDIRECT: &str = "http://127.0.0.1:7200/cb";
/// A fixed PKCE pair (RFC 7636 Appendix B).
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const SCOPE: &str = "openid email api:read api:write offline_access";

fn sections(redis: &RedisServer, idp: &Idp, app: &TestUpstream) -> String {
    format!(
        r#"
[store]
backend = "redis"
url = "{redis}"

[[clients]]
id = "{CLIENT}"
type = "public"
first_party = true
redirect_uris = ["{REDIRECT}"]
scopes = ["openid", "email", "api:read", "api:write", "offline_access"]

[[routes]]
path = "/grafana/"
upstream = "{app}"
auth = "bearer"
scopes = ["api:read"]
allow = ["group:corp/ops"]

[[routes]]
path = "/wiki/"
upstream = "{app}"
auth = "session"
allow = ["group:corp/ops"]
{provider}[providers.group_scopes]
ops = ["api:write"]
"#,
        redis = redis.url(),
        app = app.url(),
        provider = oidc_provider(
            "corp",
            "Corp SSO",
            idp,
            "allow_all = true\nscopes = [\"openid\", \"email\", \"groups\"]\n\
             grant_scopes = [\"openid\", \"email\", \"api:read\", \"offline_access\"]\n",
        ),
    )
}

/// The gateway's manual clock brought up to the real time (the provider's `iat`).
fn sync_clock(gateway: &AuthGateway) {
    let (real, now) = (SystemClock.now(), gateway.now());
    if real > now {
        gateway.advance(real - now);
    }
}

/// `sub` signs in through the provider at `gateway` for the portal client; its tokens.
async fn tokens_through_the_provider(gateway: &AuthGateway, idp: &Idp, sub: &str) -> Value {
    sync_clock(gateway);
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", SCOPE)
        .append_pair("state", "st")
        .append_pair("code_challenge", CHALLENGE)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let browser = gateway.page_browser();
    let location = authorize_through_provider(&browser, idp, &query, "Corp SSO", sub).await;
    assert!(location.starts_with(REDIRECT), "{location}");
    let code = query_param(&location, "code").expect("code");
    let response = gateway
        .http()
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
    response.json().await.unwrap()
}

async fn grafana(gateway: &AuthGateway, token: &str) -> reqwest::Response {
    gateway
        .http()
        .get(gateway.url("/grafana/d/1"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signed_in_at_one_gateway_is_known_at_the_other() {
    let redis = RedisServer::start();
    let app = TestUpstream::echo("grafana").await;
    let mut idp = Idp::start(
        IdpSettings::new()
            .account(
                "ops-sub",
                json!({"email": "ops@example.com", "email_verified": true, "groups": ["ops"]}),
            )
            .account(
                "dev-sub",
                json!({"email": "dev@example.com", "email_verified": true, "groups": ["dev"]}),
            ),
    )
    .await;
    let text = sections(&redis, &idp, &app);
    let a = AuthGateway::start_shared(&text, None).await;
    let b = AuthGateway::start_shared(&text, Some(&a)).await;
    idp.allow_redirect_uri(CLIENT_ID, &format!("{}/oauth2/callback/corp", a.issuer()))
        .await;
    sync_clock(&b);

    let ops = tokens_through_the_provider(&a, &idp, "ops-sub").await;
    assert_eq!(ops["scope"], json!(SCOPE), "{ops}");
    let access = ops["access_token"].as_str().expect("access_token");
    // B never saw the sign-in: the groups come from the person's record in Redis.
    let answer = grafana(&b, access).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let echoed: Value = answer.json().await.unwrap();
    let user = echoed["headers"]
        .as_array()
        .and_then(|h| h.iter().find(|pair| pair[0] == json!("x-auth-user")))
        .map(|pair| pair[1].clone());
    assert_eq!(user, Some(json!("corp:ops-sub")), "{echoed}");

    let dev = tokens_through_the_provider(&a, &idp, "dev-sub").await;
    let hits = app.hits();
    let refused = grafana(&b, dev["access_token"].as_str().unwrap()).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.hits(),
        hits,
        "a person outside the group reached the upstream"
    );
    assert_eq!(
        dev["scope"],
        json!("openid email api:read offline_access"),
        "{dev}"
    );

    // A refresh at B: what the person may grant is the record's (ops gives api:write).
    let refreshed = b
        .http()
        .post(b.url("/oauth2/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                ops["refresh_token"].as_str().expect("refresh_token"),
            ),
            ("client_id", CLIENT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), StatusCode::OK);
    let refreshed: Value = refreshed.json().await.unwrap();
    assert_eq!(refreshed["scope"], json!(SCOPE), "{refreshed}");
    let access = refreshed["access_token"].as_str().unwrap();
    assert_eq!(grafana(&b, access).await.status(), StatusCode::OK);

    // UserInfo at B: the provider's verified email, from the record.
    let userinfo: Value = b
        .http()
        .get(b.url("/oauth2/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo["sub"], json!("corp:ops-sub"), "{userinfo}");
    assert_eq!(userinfo["email"], json!("ops@example.com"), "{userinfo}");
    assert_eq!(userinfo["email_verified"], json!(true), "{userinfo}");

    // A route session begun at A, used at B: the groups it carries decide there.
    for (sub, admitted) in [("ops-sub", true), ("dev-sub", false)] {
        sync_clock(&a);
        let at_a = a.page_browser();
        sign_in_with_idp(&at_a, &idp, "/wiki/", "Corp SSO", sub).await;
        let session = at_a
            .cookie("__Host-authgate-session")
            .expect("a route session at A");
        let at_b = b.page_browser();
        at_b.add_cookie(&format!(
            "__Host-authgate-session={session}; Path=/; Secure"
        ));
        let hits = app.hits();
        let page = at_b.get("/wiki/page").await;
        if admitted {
            assert_eq!(
                page.echoed().header("x-auth-user"),
                Some("corp:ops-sub"),
                "{page:?}"
            );
        } else {
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{page:?}");
            assert!(
                page.body
                    .contains("signed in as <strong>corp:dev-sub</strong>"),
                "{page:?}"
            );
            assert_eq!(app.hits(), hits);
        }
    }
}

//! Whom a logout is told to, and what the logout token says.

use super::*;
use crate::oauth::clients::Clients;
use crate::oauth::test_server::{TestServer, ALICE, BOB, OTHER_SPA, SPA, START};

/// The test server with `SPA` listening for back-channel logouts.
fn server() -> TestServer {
    listening(&[SPA])
}

/// The test server with the clients `ids` listening at `https://ID.example/backchannel`.
fn listening(ids: &[&str]) -> TestServer {
    let mut server = TestServer::new();
    let clients: Vec<_> = server
        .auth
        .clients
        .all()
        .cloned()
        .map(|mut c| {
            if ids.contains(&c.id.as_str()) {
                c.backchannel_logout_uri = Some(format!("https://{}.example/backchannel", c.id));
            }
            c
        })
        .collect();
    server.auth.clients = Clients::new(&clients);
    server
}

#[tokio::test]
async fn clients_with_a_grant_of_the_user_and_a_uri_get_a_signed_logout_token() {
    let server = server();
    server.tokens(SPA, "api:read").await;
    server.tokens(SPA, "api:read").await;
    server.tokens(OTHER_SPA, "api:read").await;

    let notices = server
        .auth
        .logout_notices(ALICE, Some("sid-1"))
        .await
        .unwrap();
    assert_eq!(
        notices.len(),
        1,
        "one per client, only those with a URI: {notices:?}"
    );
    let notice = &notices[0];
    assert_eq!(notice.client_id, SPA);
    assert_eq!(notice.uri, format!("https://{SPA}.example/backchannel"));

    let verified = server
        .auth
        .signing
        .snapshot()
        .verify(&notice.token, &[LOGOUT_TOKEN_TYP])
        .unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&verified.payload).unwrap();
    assert_eq!(claims["iss"], crate::oauth::test_server::ISSUER);
    assert_eq!(claims["aud"], SPA);
    assert_eq!(claims["sub"], ALICE);
    assert_eq!(claims["sid"], "sid-1");
    assert_eq!(claims["iat"], START);
    assert_eq!(claims["exp"], START + LOGOUT_TOKEN_TTL);
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
    assert_eq!(claims["events"], json!({ BACKCHANNEL_LOGOUT_EVENT: {} }));
    assert!(claims.get("nonce").is_none());
    // Not an ID token: the ID token check refuses its typ.
    assert!(server
        .auth
        .verify_id_token_hint(&notice.token, true)
        .is_err());

    // Every session ended: no sid.
    let all = server.auth.logout_notices(ALICE, None).await.unwrap();
    let verified = server
        .auth
        .signing
        .snapshot()
        .verify(&all[0].token, &[LOGOUT_TOKEN_TYP])
        .unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&verified.payload).unwrap();
    assert!(claims.get("sid").is_none());
}

#[tokio::test]
async fn nobody_is_told_of_a_user_without_grants() {
    let server = server();
    server.tokens(SPA, "api:read").await;
    assert!(server
        .auth
        .logout_notices(BOB, Some("sid"))
        .await
        .unwrap()
        .is_empty());
}

/// `SPA` and `OTHER_SPA` both listening, alice holding an OpenID grant at each from a
/// different login session.
async fn two_sessions() -> TestServer {
    use crate::store::{IssuedAccess, OidcLogin, RefreshRecord};
    use crate::tokens::opaque::TokenHash;
    let server = listening(&[SPA, OTHER_SPA]);
    for (client, sid) in [(SPA, "sid-a"), (OTHER_SPA, "sid-b")] {
        let record = RefreshRecord {
            sign_in: None,
            family: format!("fam-{client}"),
            client_id: client.to_owned(),
            user: ALICE.to_owned(),
            scope: "openid".to_owned(),
            expires_at: START + 3600,
            oidc: Some(OidcLogin {
                auth_time: START,
                sid: sid.to_owned(),
                nonce: None,
            }),
        };
        let access = IssuedAccess {
            jti: format!("jti-{client}"),
            expires_at: START + 600,
        };
        server
            .auth
            .store
            .put_refresh(TokenHash::of(&format!("rt-{client}")), record, access)
            .await
            .unwrap();
    }
    server
}

async fn told(server: &TestServer, sid: Option<&str>) -> Vec<String> {
    let mut told: Vec<String> = server
        .auth
        .logout_notices(ALICE, sid)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.client_id)
        .collect();
    told.sort();
    told
}

#[tokio::test]
async fn a_session_logout_tells_only_the_clients_signed_in_through_it() {
    let server = two_sessions().await;
    assert_eq!(told(&server, Some("sid-a")).await, [SPA]);
    assert_eq!(told(&server, Some("sid-b")).await, [OTHER_SPA]);
    assert!(told(&server, Some("sid-c")).await.is_empty());
    let mut both = vec![SPA.to_owned(), OTHER_SPA.to_owned()];
    both.sort();
    assert_eq!(told(&server, None).await, both, "every session ended");
}

#[tokio::test]
async fn a_grant_from_an_unknown_session_is_told_of_every_logout() {
    let server = two_sessions().await;
    // A plain OAuth grant records no login session.
    server.tokens(OTHER_SPA, "api:read").await;
    let mut both = vec![SPA.to_owned(), OTHER_SPA.to_owned()];
    both.sort();
    assert_eq!(told(&server, Some("sid-a")).await, both);
}

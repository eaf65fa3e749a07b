//! Client authentication (RFC 6749 §2.3) as a table of cases over plain types: the
//! configured clients, the presented credentials and the time in, `Ok` or `invalid_client`
//! out; then the failure throttle, and the registered clients that `AuthServer` looks up in
//! the store.

use super::*;
use crate::config::GrantType;
use crate::oauth::error::ErrorCode;
use crate::oauth::registration::ClientMetadata;
use crate::oauth::test_server::{TestServer, REGISTRATION_TOKEN};

const NOW: u64 = 1_800_000_000;
const SECRET: &str = "the-confidential-clients-secret-0123456789";
const FAILED: OAuthError = OAuthError::invalid_client("client authentication failed");
const THROTTLED: OAuthError =
    OAuthError::invalid_client("too many failed authentication attempts; try again later");

fn client(id: &str, kind: ClientKind, secret: Option<&str>) -> ClientConfig {
    ClientConfig {
        id: id.to_owned(),
        kind,
        secret_hash: secret.map(TokenHash::of),
        name: id.to_owned(),
        redirect_uris: vec!["https://app.example/callback".to_owned()],
        grants: vec![GrantType::AuthorizationCode],
        scopes: vec![],
        first_party: false,
        require_pkce: true,
        id_token_alg: crate::tokens::jose::Alg::Rs256,
        id_token_claims: crate::config::IdTokenClaims::Scopes,
        post_logout_redirect_uris: Vec::new(),
        backchannel_logout_uri: None,
        allowed_origins: Vec::new(),
    }
}

fn clients() -> Clients {
    Clients::new(&[
        client("spa", ClientKind::Public, None),
        client("web", ClientKind::Confidential, Some(SECRET)),
    ])
}

fn creds(id: Option<&str>, secret: Option<&str>) -> ClientCredentials {
    ClientCredentials {
        id: id.map(str::to_owned),
        secret: secret.map(str::to_owned),
    }
}

#[test]
fn who_may_authenticate_and_how() {
    let padded = format!("{SECRET} ");
    let cases = [
        (
            "confidential, its secret",
            Some("web"),
            Some(SECRET),
            Ok(()),
        ),
        (
            "confidential, a wrong secret",
            Some("web"),
            Some("guess"),
            Err(FAILED),
        ),
        (
            "confidential, its secret with a trailing space",
            Some("web"),
            Some(&padded),
            Err(FAILED),
        ),
        (
            "confidential, an empty secret",
            Some("web"),
            Some(""),
            Err(FAILED),
        ),
        ("confidential, no secret", Some("web"), None, Err(FAILED)),
        ("public, no secret", Some("spa"), None, Ok(())),
        (
            "public, with a secret",
            Some("spa"),
            Some(SECRET),
            Err(FAILED),
        ),
        (
            "unknown, with a secret",
            Some("nobody"),
            Some(SECRET),
            Err(FAILED),
        ),
        ("unknown, no secret", Some("nobody"), None, Err(FAILED)),
        (
            "no client id",
            None,
            Some(SECRET),
            Err(OAuthError::invalid_client(
                "client authentication is required",
            )),
        ),
    ];
    for (name, id, secret, expected) in cases {
        // A fresh table each time, so that no case is decided by the throttle.
        let clients = clients();
        let found = id.and_then(|id| clients.configured(id)).cloned();
        assert_eq!(
            clients.verify(found.as_ref(), &creds(id, secret), NOW),
            expected,
            "case: {name}"
        );
    }
}

#[test]
fn a_client_id_is_locked_after_five_failures_even_for_the_right_secret() {
    let clients = clients();
    let web = clients.configured("web").cloned();
    let wrong = creds(Some("web"), Some("guess"));
    let right = creds(Some("web"), Some(SECRET));
    for _ in 0..4 {
        assert_eq!(clients.verify(web.as_ref(), &wrong, NOW), Err(FAILED));
    }
    assert_eq!(
        clients.verify(web.as_ref(), &right, NOW),
        Ok(()),
        "4 are free"
    );
    for _ in 0..5 {
        assert_eq!(clients.verify(web.as_ref(), &wrong, NOW), Err(FAILED));
    }
    assert_eq!(clients.verify(web.as_ref(), &right, NOW), Err(THROTTLED));
    // Other ids are not locked.
    let spa = clients.configured("spa").cloned();
    assert_eq!(
        clients.verify(spa.as_ref(), &creds(Some("spa"), None), NOW),
        Ok(())
    );
    // The first lock lasts a second; a success then clears the count.
    assert_eq!(clients.verify(web.as_ref(), &right, NOW + 1), Ok(()));
    assert_eq!(clients.verify(web.as_ref(), &wrong, NOW + 1), Err(FAILED));
    assert_eq!(clients.verify(web.as_ref(), &right, NOW + 1), Ok(()));
}

#[test]
fn an_unknown_client_id_is_throttled_like_a_known_one() {
    let clients = clients();
    let guess = creds(Some("nobody"), Some("guess"));
    for _ in 0..5 {
        assert_eq!(clients.verify(None, &guess, NOW), Err(FAILED));
    }
    assert_eq!(clients.verify(None, &guess, NOW), Err(THROTTLED));
}

#[test]
fn the_debug_form_of_credentials_hides_the_secret() {
    let shown = format!("{:?}", creds(Some("web"), Some(SECRET)));
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(
        shown.contains("web") && shown.contains("[redacted]"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_registered_client_authenticates_with_the_secret_it_was_given() {
    let server = TestServer::new();
    let registered = server
        .auth
        .register(
            Some(REGISTRATION_TOKEN),
            ClientMetadata {
                grant_types: Some(vec!["client_credentials".to_owned()]),
                ..ClientMetadata::default()
            },
        )
        .await
        .unwrap();
    let secret = registered.client_secret.unwrap();
    let found = server
        .auth
        .authenticate_client(&creds(Some(&registered.client_id), Some(&secret)))
        .await
        .unwrap();
    assert_eq!(found.id, registered.client_id);
    assert_eq!(found.kind, ClientKind::Confidential);
    assert_eq!(
        server
            .auth
            .authenticate_client(&creds(Some(&registered.client_id), Some("guess")))
            .await
            .err()
            .map(|e| e.code),
        Some(ErrorCode::InvalidClient)
    );
}

#[tokio::test]
async fn with_registration_off_the_store_is_not_asked_for_clients() {
    let mut server = TestServer::new();
    let registered = server
        .auth
        .register(
            Some(REGISTRATION_TOKEN),
            ClientMetadata {
                token_endpoint_auth_method: Some("none".to_owned()),
                redirect_uris: vec!["https://dyn.example/callback".to_owned()],
                ..ClientMetadata::default()
            },
        )
        .await
        .unwrap();
    let creds = creds(Some(&registered.client_id), None);
    assert!(server.auth.authenticate_client(&creds).await.is_ok());

    // A reload that turns registration off: the registered clients stop working.
    server.auth.registration.initial_access_token = None;
    assert_eq!(
        server.auth.authenticate_client(&creds).await.err(),
        Some(FAILED)
    );
}

//! Dynamic client registration (RFC 7591) over plain types: the initial access token, the
//! metadata a request may not have (refused redirect URIs, unknown grant types and the
//! rest), and what a registered client then is.

use super::*;
use crate::oauth::test_server::{public, TestServer, REGISTRATION_TOKEN, VERIFIER};

fn metadata(redirect_uris: &[&str]) -> ClientMetadata {
    ClientMetadata {
        redirect_uris: redirect_uris.iter().map(|u| (*u).to_owned()).collect(),
        ..ClientMetadata::default()
    }
}

/// The OAuth error of a refused registration (panics on a success or another refusal).
async fn refused(server: &TestServer, metadata: ClientMetadata) -> OAuthError {
    match server
        .auth
        .register(Some(REGISTRATION_TOKEN), metadata)
        .await
    {
        Err(RegistrationRefused::Invalid(err)) => err,
        Err(other) => panic!("refused as {other:?}"),
        Ok(registered) => panic!("registered {}", registered.client_id),
    }
}

#[tokio::test]
async fn registration_needs_the_initial_access_token() {
    let server = TestServer::new();
    for token in [
        None,
        Some(""),
        Some("guess"),
        Some(&REGISTRATION_TOKEN[1..]),
    ] {
        assert!(
            matches!(
                server
                    .auth
                    .register(token, metadata(&["https://a.example/cb"]))
                    .await,
                Err(RegistrationRefused::Unauthorized)
            ),
            "{token:?}"
        );
    }
}

#[tokio::test]
async fn without_a_configured_token_registration_does_not_exist() {
    let mut server = TestServer::new();
    server.auth.registration_token = None;
    assert!(matches!(
        server
            .auth
            .register(
                Some(REGISTRATION_TOKEN),
                metadata(&["https://a.example/cb"])
            )
            .await,
        Err(RegistrationRefused::Disabled)
    ));
}

#[tokio::test]
async fn refused_redirect_uris() {
    let server = TestServer::new();
    let cases = [
        ("http on a public host", "http://app.example/cb"),
        ("a fragment", "https://app.example/cb#top"),
        ("a wildcard", "https://*.app.example/cb"),
        ("relative", "/cb"),
        ("user information", "https://user@app.example/cb"),
        ("an unknown scheme without a dot", "javascript:alert(1)"),
        ("a space", "https://app.example/a b"),
        (
            "the response's code in the query",
            "https://app.example/cb?code=x",
        ),
        (
            "the response's state in the query",
            "https://app.example/cb?x=1&STATE=y",
        ),
        (
            "the response's iss in the query",
            "https://app.example/cb?iss=https://evil",
        ),
    ];
    for (name, uri) in cases {
        let err = refused(&server, metadata(&["https://fine.example/cb", uri])).await;
        assert_eq!(err.code, ErrorCode::InvalidRedirectUri, "case: {name}");
    }
    let none = refused(&server, metadata(&[])).await;
    assert_eq!(
        none,
        OAuthError::new(
            ErrorCode::InvalidRedirectUri,
            "authorization_code needs at least one redirect URI"
        ),
        "the default grant needs a redirect URI"
    );
    let many: Vec<String> = (0..11).map(|i| format!("https://a.example/{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert_eq!(
        refused(&server, metadata(&many)).await,
        OAuthError::new(ErrorCode::InvalidClientMetadata, "at most 10 redirect_uris")
    );
}

#[tokio::test]
async fn refused_grant_and_response_types_and_methods() {
    let server = TestServer::new();
    let uri = &["https://a.example/cb"];
    let with_grants = |grants: &[&str], method: Option<&str>| ClientMetadata {
        grant_types: Some(grants.iter().map(|g| (*g).to_owned()).collect()),
        token_endpoint_auth_method: method.map(str::to_owned),
        ..metadata(uri)
    };
    let cases: Vec<(&str, ClientMetadata, &str)> = vec![
        (
            "the password grant",
            with_grants(&["authorization_code", "password"], None),
            "a grant type is not supported",
        ),
        (
            "the implicit grant",
            with_grants(&["implicit"], None),
            "a grant type is not supported",
        ),
        (
            "a grant type's name in another case",
            with_grants(&["Authorization_Code"], None),
            "a grant type is not supported",
        ),
        (
            "no grant type",
            with_grants(&[], None),
            "grant_types must not be empty",
        ),
        (
            "client_credentials for a public client",
            with_grants(&["client_credentials"], Some("none")),
            "client_credentials needs a confidential client",
        ),
        (
            "refresh_token without authorization_code",
            with_grants(&["refresh_token", "client_credentials"], None),
            "refresh_token is only issued with authorization_code",
        ),
        (
            "the token response type",
            ClientMetadata {
                response_types: Some(vec!["code".to_owned(), "token".to_owned()]),
                ..metadata(uri)
            },
            "only the response type code is supported",
        ),
        (
            "an authentication method not offered",
            ClientMetadata {
                token_endpoint_auth_method: Some("private_key_jwt".to_owned()),
                ..metadata(uri)
            },
            "token_endpoint_auth_method must be none, client_secret_basic or client_secret_post",
        ),
        (
            "a scope not offered to registered clients",
            ClientMetadata {
                scope: Some("api:read api:write".to_owned()),
                ..metadata(uri)
            },
            "a requested scope is not offered to registered clients",
        ),
    ];
    for (name, metadata, description) in cases {
        assert_eq!(
            refused(&server, metadata).await,
            OAuthError::new(ErrorCode::InvalidClientMetadata, description),
            "case: {name}"
        );
    }
}

#[tokio::test]
async fn a_public_client_is_registered_with_pkce_and_no_secret_and_can_get_a_code() {
    let server = TestServer::new();
    let registered = server
        .auth
        .register(
            Some(REGISTRATION_TOKEN),
            ClientMetadata {
                token_endpoint_auth_method: Some("none".to_owned()),
                client_name: Some("My\u{7}\nApp".to_owned()),
                ..metadata(&["https://dyn.example/cb", "https://dyn.example/cb2"])
            },
        )
        .await
        .unwrap();
    assert!(registered.client_id.starts_with("dyn-"));
    assert_eq!(registered.client_secret, None);
    assert_eq!(registered.client_secret_expires_at, None);
    assert_eq!(
        registered.client_name, "MyApp",
        "control characters dropped"
    );
    assert_eq!(registered.grant_types, ["authorization_code"]);
    assert_eq!(registered.response_types, ["code"]);
    assert_eq!(registered.token_endpoint_auth_method, "none");
    assert_eq!(
        registered.scope, "api:read",
        "[registration] scopes by default"
    );

    let stored = server
        .auth
        .client(&registered.client_id)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.require_pkce && !stored.first_party);

    // Through the authorization and token endpoints' cores.
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &registered.client_id)
        .append_pair("redirect_uri", "https://dyn.example/cb2")
        .append_pair(
            "code_challenge",
            &crate::oauth::test_server::challenge(VERIFIER),
        )
        .append_pair("code_challenge_method", "S256")
        .finish();
    let code = server.code_with(&query, "alice").await;
    let tokens = server
        .redeem(
            public(&registered.client_id),
            &code,
            Some("https://dyn.example/cb2"),
            Some(VERIFIER),
        )
        .await
        .unwrap();
    assert_eq!(tokens.scope, "api:read");
}

#[tokio::test]
async fn a_confidential_client_gets_a_secret_that_does_not_expire() {
    let server = TestServer::new();
    let registered = server
        .auth
        .register(
            Some(REGISTRATION_TOKEN),
            ClientMetadata {
                grant_types: Some(vec!["client_credentials".to_owned()]),
                token_endpoint_auth_method: Some("client_secret_post".to_owned()),
                client_name: Some("x".repeat(300)),
                ..ClientMetadata::default()
            },
        )
        .await
        .unwrap();
    assert!(registered
        .client_secret
        .as_deref()
        .is_some_and(|s| s.len() >= 32));
    assert_eq!(registered.client_secret_expires_at, Some(0));
    assert_eq!(registered.client_name.len(), 100, "cut to 100 characters");
    assert_eq!(registered.response_types, Vec::<&str>::new());
    assert_eq!(registered.token_endpoint_auth_method, "client_secret_basic");
}

#[tokio::test]
async fn registration_stops_at_max_clients() {
    // The test server allows 3.
    let server = TestServer::new();
    for _ in 0..3 {
        assert!(server
            .auth
            .register(
                Some(REGISTRATION_TOKEN),
                metadata(&["https://a.example/cb"])
            )
            .await
            .is_ok());
    }
    assert_eq!(
        refused(&server, metadata(&["https://a.example/cb"])).await,
        OAuthError::new(
            ErrorCode::TemporarilyUnavailable,
            "no more clients can be registered"
        )
    );
}

#[tokio::test]
async fn openid_metadata_is_stored_and_returned() {
    let server = TestServer::new();
    let registered = server
        .auth
        .register(
            Some(REGISTRATION_TOKEN),
            ClientMetadata {
                id_token_signed_response_alg: Some("ES256".to_owned()),
                post_logout_redirect_uris: vec![
                    "https://dyn.example/bye".to_owned(),
                    "https://dyn.example/bye".to_owned(),
                    "http://127.0.0.1:8080/bye".to_owned(),
                ],
                backchannel_logout_uri: Some("https://dyn.example/backchannel".to_owned()),
                ..metadata(&["https://dyn.example/cb"])
            },
        )
        .await
        .unwrap();
    assert_eq!(registered.id_token_signed_response_alg, "ES256");
    assert_eq!(
        registered.post_logout_redirect_uris,
        ["https://dyn.example/bye", "http://127.0.0.1:8080/bye"],
        "each once"
    );
    assert_eq!(
        registered.backchannel_logout_uri.as_deref(),
        Some("https://dyn.example/backchannel")
    );
    let stored = server
        .auth
        .client(&registered.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.id_token_alg, Alg::Es256);
    assert_eq!(
        stored.post_logout_redirect_uris,
        registered.post_logout_redirect_uris
    );
    assert_eq!(
        stored.backchannel_logout_uri,
        registered.backchannel_logout_uri
    );

    // In the response as JSON, under the registration metadata's names.
    let json = serde_json::to_value(&registered).unwrap();
    assert_eq!(json["id_token_signed_response_alg"], "ES256");
    assert_eq!(
        json["post_logout_redirect_uris"][0],
        "https://dyn.example/bye"
    );
    assert_eq!(
        json["backchannel_logout_uri"],
        "https://dyn.example/backchannel"
    );
}

#[tokio::test]
async fn without_openid_metadata_id_tokens_are_rs256_and_nothing_else_is_returned() {
    let server = TestServer::new();
    let registered = server
        .auth
        .register(
            Some(REGISTRATION_TOKEN),
            metadata(&["https://dyn.example/cb"]),
        )
        .await
        .unwrap();
    assert_eq!(registered.id_token_signed_response_alg, "RS256");
    let json = serde_json::to_value(&registered).unwrap();
    assert!(json.get("post_logout_redirect_uris").is_none(), "{json}");
    assert!(json.get("backchannel_logout_uri").is_none(), "{json}");
    let stored = server
        .auth
        .client(&registered.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.id_token_alg, Alg::Rs256);
    assert!(stored.post_logout_redirect_uris.is_empty());
}

#[tokio::test]
async fn refused_openid_metadata() {
    let server = TestServer::new();
    let uri = &["https://dyn.example/cb"];
    let alg = |name: &str| ClientMetadata {
        id_token_signed_response_alg: Some(name.to_owned()),
        ..metadata(uri)
    };
    let logout = |uris: &[&str]| ClientMetadata {
        post_logout_redirect_uris: uris.iter().map(|u| (*u).to_owned()).collect(),
        ..metadata(uri)
    };
    let backchannel = |target: &str| ClientMetadata {
        backchannel_logout_uri: Some(target.to_owned()),
        ..metadata(uri)
    };
    let alg_refused =
        "id_token_signed_response_alg must be RS256, ES256 or EdDSA (never none or HS256)";
    let logout_refused = "a post_logout_redirect_uri is not acceptable (the redirect URI rules: absolute, no fragment or wildcard, https or loopback http, no response parameter such as state in its query)";
    let backchannel_refused = super::BACKCHANNEL_REFUSED;
    let many: Vec<String> = (0..11).map(|i| format!("https://a.example/{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let cases: Vec<(&str, ClientMetadata, &str)> = vec![
        ("alg none", alg("none"), alg_refused),
        ("HS256", alg("HS256"), alg_refused),
        ("HS512", alg("HS512"), alg_refused),
        ("an alg in another case", alg("rs256"), alg_refused),
        ("PS256", alg("PS256"), alg_refused),
        ("empty", alg(""), alg_refused),
        (
            "logout to http on a public host",
            logout(&["http://app.example/bye"]),
            logout_refused,
        ),
        (
            "logout URI with a fragment",
            logout(&["https://app.example/bye#x"]),
            logout_refused,
        ),
        ("relative logout URI", logout(&["/bye"]), logout_refused),
        (
            "logout URI with state in its query",
            logout(&["https://app.example/bye?state=x"]),
            logout_refused,
        ),
        (
            "logout URI with a wildcard",
            logout(&["https://*.app.example/bye"]),
            logout_refused,
        ),
        (
            "too many logout URIs",
            logout(&many),
            "at most 10 post_logout_redirect_uris",
        ),
        (
            "back-channel over http on a public host",
            backchannel("http://app.example/bc"),
            backchannel_refused,
        ),
        // Regression (issue 14): a registered client could have the gateway POST to a
        // port of its own host at every logout.
        (
            "back-channel over http on loopback",
            backchannel("http://127.0.0.1:6379/bc"),
            backchannel_refused,
        ),
        (
            "back-channel over http on localhost",
            backchannel("http://localhost:8080/bc"),
            backchannel_refused,
        ),
        (
            "back-channel with a private-use scheme",
            backchannel("com.example.app:/bc"),
            backchannel_refused,
        ),
        (
            "back-channel with a fragment",
            backchannel("https://app.example/bc#f"),
            backchannel_refused,
        ),
        (
            "back-channel relative",
            backchannel("/bc"),
            backchannel_refused,
        ),
    ];
    for (name, metadata, description) in cases {
        assert_eq!(
            refused(&server, metadata).await,
            OAuthError::new(ErrorCode::InvalidClientMetadata, description),
            "case: {name}"
        );
    }
}

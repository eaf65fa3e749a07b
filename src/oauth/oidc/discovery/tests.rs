//! The discovery document: every member the Config OP plan checks, and agreement with the
//! RFC 8414 document.

use crate::oauth::test_server::*;

#[test]
fn discovery_has_every_required_member() {
    let server = TestServer::new();
    let doc = server.auth.openid_configuration();
    assert_eq!(doc["issuer"], ISSUER);
    for (member, path) in [
        ("authorization_endpoint", "/oauth2/authorize"),
        ("token_endpoint", "/oauth2/token"),
        ("userinfo_endpoint", "/oauth2/userinfo"),
        ("jwks_uri", "/oauth2/jwks"),
        ("end_session_endpoint", "/oauth2/logout"),
        ("revocation_endpoint", "/oauth2/revoke"),
        ("introspection_endpoint", "/oauth2/introspect"),
        ("registration_endpoint", "/oauth2/register"),
    ] {
        assert_eq!(doc[member], format!("{ISSUER}{path}"), "{member}");
    }
    assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        doc["response_modes_supported"],
        serde_json::json!(["query"])
    );
    assert_eq!(
        doc["subject_types_supported"],
        serde_json::json!(["public"])
    );
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    let algs = doc["id_token_signing_alg_values_supported"]
        .as_array()
        .unwrap();
    assert_eq!(algs.first(), Some(&serde_json::json!("RS256")));
    assert!(!algs.iter().any(|a| a == "none" || a == "HS256"));
    let scopes = doc["scopes_supported"].as_array().unwrap();
    for scope in crate::config::BUILTIN_SCOPES {
        assert!(scopes.iter().any(|s| s == scope), "{scope}");
    }
    for member in [
        "request_parameter_supported",
        "request_uri_parameter_supported",
        "claims_parameter_supported",
    ] {
        assert_eq!(doc[member], false, "{member}");
    }
    assert_eq!(doc["backchannel_logout_supported"], true);
    assert_eq!(doc["backchannel_logout_session_supported"], true);
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    let claims = doc["claims_supported"].as_array().unwrap();
    for claim in ["sub", "email", "groups", "preferred_username", "amr", "acr"] {
        assert!(claims.iter().any(|c| c == claim), "{claim}");
    }
    assert_eq!(
        doc["acr_values_supported"],
        serde_json::json!(["urn:authgate:1fa", "urn:authgate:2fa"])
    );
}

#[test]
fn discovery_agrees_with_the_oauth_metadata() {
    let server = TestServer::new();
    let oidc = server.auth.openid_configuration();
    let oauth = server.auth.metadata();
    for (member, value) in oauth.as_object().unwrap() {
        assert_eq!(&oidc[member], value, "{member}");
    }
}

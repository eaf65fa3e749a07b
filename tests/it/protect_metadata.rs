//! Protected resource metadata (RFC 9728): the gateway-wide document and the per-route one
//! that a bearer 401 names in `resource_metadata`, both pointing at the gateway's own
//! authorization server, whose RFC 8414 issuer is the same `public_url`.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::protected::{protected, Challenge, ProtectedGateway};
use crate::support::TestUpstream;

async fn json(client: &reqwest::Client, url: &str) -> Value {
    let response = client.get(url).send().await.expect("metadata request");
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{url}: {content_type}"
    );
    response.json().await.expect("JSON")
}

#[tokio::test]
async fn resource_metadata_names_the_authorization_server_gateway_wide_and_per_route() {
    let upstream = TestUpstream::echo("app").await;
    let gateway = ProtectedGateway::start(
        vec![
            protected("/", &upstream.url(), "session", &["app"]),
            protected("/api/", &upstream.url(), "bearer", &["api:read"]),
            protected(
                "/admin/",
                &upstream.url(),
                "bearer",
                &["admin", "api:write"],
            ),
        ],
        "",
    )
    .await;
    let api = gateway.api();
    let origin = gateway.origin();

    // The gateway as a whole.
    let doc = json(&api, &gateway.url("/.well-known/oauth-protected-resource")).await;
    assert_eq!(doc["authorization_servers"], serde_json::json!([origin]));
    assert_eq!(doc["resource"], origin);
    assert_eq!(
        doc["bearer_methods_supported"],
        serde_json::json!(["header"])
    );
    let scopes = doc["scopes_supported"]
        .as_array()
        .expect("scopes_supported");
    for scope in ["app", "api:read", "admin", "api:write"] {
        assert!(scopes.iter().any(|s| s == scope), "{scope} in {doc}");
    }

    // Each bearer route's 401 names its own document, which answers.
    for (path, resource, route_scopes) in [
        ("/api/items", "/api/", vec!["api:read"]),
        ("/admin/users", "/admin/", vec!["admin", "api:write"]),
    ] {
        let response = api.get(gateway.url(path)).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let challenge = Challenge::of(response.headers());
        let url = challenge
            .get("resource_metadata")
            .expect("resource_metadata")
            .to_owned();
        assert!(
            url.starts_with(&gateway.url("/.well-known/oauth-protected-resource/")),
            "{url}"
        );
        let doc = json(&api, &url).await;
        assert_eq!(
            doc["authorization_servers"],
            serde_json::json!([origin]),
            "{url}"
        );
        assert_eq!(doc["resource"], gateway.url(resource), "{url}");
        assert_eq!(
            doc["scopes_supported"],
            serde_json::json!(route_scopes),
            "{url}"
        );
    }

    // The authorization server it names has that issuer (RFC 8414 §3.3).
    let server = json(
        &api,
        &gateway.url("/.well-known/oauth-authorization-server"),
    )
    .await;
    assert_eq!(server["issuer"], origin);

    // A path no protected route has is not a document.
    let response = api
        .get(gateway.url("/.well-known/oauth-protected-resource/nothing-here"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

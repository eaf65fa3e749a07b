use std::time::Duration;

use crate::support::{
    Echoed, GatewayBuilder, GatewayProcess, RawRequest, Route, TestGateway, TestUpstream,
};

async fn gateway_to(upstream: &TestUpstream) -> TestGateway {
    GatewayBuilder::new()
        .route(Route::new("/", upstream.url()))
        .start()
        .await
}

/// `name` lower-cased with `_` read as `-`, as some upstream stacks fold them.
fn folded(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', "-")
}

#[tokio::test(flavor = "multi_thread")]
async fn hop_by_hop_request_headers_are_removed() {
    let upstream = TestUpstream::echo("root").await;
    let gateway = gateway_to(&upstream).await;

    let response = RawRequest::get("/x")
        .keep_alive()
        .header("Connection", "close, X-Hop-Secret")
        .header("Connection", "x-other-hop")
        .header("X-Hop-Secret", "1")
        .header("X-Other-Hop", "2")
        .header("Keep-Alive", "timeout=5, max=100")
        .header("TE", "trailers")
        .header("Trailer", "X-Checksum")
        .header("Proxy-Authorization", "Basic dXNlcjpzZWNyZXQ=")
        .header("Proxy-Connection", "keep-alive")
        .header("X-Kept", "yes")
        .send(gateway.addr())
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let echoed: Echoed = response.json();

    let names = echoed.header_names();
    for gone in [
        "x-hop-secret",
        "x-other-hop",
        "keep-alive",
        "te",
        "trailer",
        "proxy-authorization",
        "proxy-connection",
    ] {
        assert!(
            !names.contains(&gone.to_owned()),
            "the upstream saw {gone}: {names:?}"
        );
    }
    for value in echoed.header_all("connection") {
        let value = value.to_ascii_lowercase();
        assert!(
            !value.contains("hop") && !value.contains("close"),
            "the client's Connection reached the upstream: {value}"
        );
    }
    assert_eq!(echoed.header("x-kept"), Some("yes"));
}

#[tokio::test(flavor = "multi_thread")]
async fn h2c_upgrade_is_never_forwarded() {
    let upstream = TestUpstream::echo("root").await;
    let gateway = gateway_to(&upstream).await;

    let response = RawRequest::get("/x")
        .keep_alive()
        .header("Connection", "Upgrade, HTTP2-Settings, close")
        .header("Upgrade", "h2c")
        .header("HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA")
        .send(gateway.addr())
        .await;
    assert_eq!(
        response.status,
        200,
        "an h2c upgrade must not be honoured: {}",
        response.text()
    );
    let echoed: Echoed = response.json();
    let names = echoed.header_names();
    assert!(
        !names.contains(&"upgrade".to_owned()),
        "the upstream saw Upgrade: {names:?}"
    );
    assert!(
        !names.contains(&"http2-settings".to_owned()),
        "the upstream saw HTTP2-Settings"
    );
    for value in echoed.header_all("connection") {
        assert!(
            !value.to_ascii_lowercase().contains("upgrade"),
            "Connection: {value}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn forwarding_headers_are_set_by_the_gateway() {
    let upstream = TestUpstream::echo("root").await;
    let gateway = gateway_to(&upstream).await;

    let response = RawRequest::get("/x")
        .host("app.example.com:8080")
        .send(gateway.addr())
        .await;
    let echoed: Echoed = response.json();
    assert_eq!(echoed.header_all("x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(echoed.header_all("x-forwarded-proto"), ["http"]);
    assert_eq!(
        echoed.header_all("x-forwarded-host"),
        ["app.example.com:8080"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn forwarding_headers_from_an_untrusted_client_are_replaced() {
    let upstream = TestUpstream::echo("root").await;
    let gateway = gateway_to(&upstream).await;

    let response = RawRequest::get("/x")
        .host("app.example.com")
        .header("X-Forwarded-For", "203.0.113.9")
        .header("X-Forwarded-For", "198.51.100.1")
        .header("x_forwarded_for", "6.6.6.6")
        .header("X-Forwarded-Proto", "https")
        .header("X-Forwarded-Host", "evil.example")
        .header("X-Forwarded-Port", "443")
        .header("X-Forwarded-Prefix", "/admin")
        .header("Forwarded", "for=1.2.3.4;proto=https")
        .header("X-Real-IP", "1.2.3.4")
        .header("X-Original-URL", "/admin")
        .header("X-Rewrite-URL", "/admin")
        .send(gateway.addr())
        .await;
    let echoed: Echoed = response.json();

    // Replaced, not appended to.
    assert_eq!(echoed.header_all("x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(echoed.header_all("x-forwarded-proto"), ["http"]);
    assert_eq!(echoed.header_all("x-forwarded-host"), ["app.example.com"]);
    let names = echoed.header_names();
    for gone in [
        "x_forwarded_for",
        "x-forwarded-port",
        "x-forwarded-prefix",
        "forwarded",
        "x-real-ip",
        "x-original-url",
        "x-rewrite-url",
    ] {
        assert!(
            !names.contains(&gone.to_owned()),
            "the upstream saw {gone}: {names:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn forwarded_for_from_a_trusted_proxy_is_extended() {
    let upstream = TestUpstream::echo("root").await;
    let gateway = GatewayBuilder::new()
        .server_line("trusted_proxies = [\"127.0.0.1\"]")
        .route(Route::new("/", upstream.url()))
        .start()
        .await;

    let response = RawRequest::get("/x")
        .host("internal:8080")
        .header("X-Forwarded-For", "203.0.113.9")
        .header("X-Forwarded-Proto", "https")
        .header("X-Forwarded-Host", "public.example.com")
        .header("x_forwarded_for", "6.6.6.6")
        .header("X-Auth-User", "admin")
        .send(gateway.addr())
        .await;
    let echoed: Echoed = response.json();
    assert_eq!(
        echoed.header_all("x-forwarded-for"),
        ["203.0.113.9, 127.0.0.1"]
    );
    assert_eq!(echoed.header_all("x-forwarded-proto"), ["https"]);
    assert_eq!(
        echoed.header_all("x-forwarded-host"),
        ["public.example.com"]
    );
    // Trust covers the standard spellings only; identities are never the proxy's to assert.
    assert!(echoed.header("x_forwarded_for").is_none());
    assert!(echoed.header("x-auth-user").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn spoofed_identity_headers_never_reach_the_upstream() {
    let upstream = TestUpstream::echo("root").await;
    let gateway = gateway_to(&upstream).await;

    let response = RawRequest::get("/x")
        .header("X-Auth-User", "admin")
        .header("x_auth_user", "admin")
        .header("X-AUTH-CLIENT", "billing-worker")
        .header("X_Auth_Scopes", "api:write admin")
        .header("x-auth_scopes", "api:write")
        .header("X-Auth-Userx", "kept")
        .send(gateway.addr())
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let echoed: Echoed = response.json();
    for (name, value) in &echoed.headers {
        let name = folded(name);
        assert!(
            !["x-auth-user", "x-auth-client", "x-auth-scopes"].contains(&name.as_str()),
            "the upstream saw a client-sent identity header {name}: {value}"
        );
    }
    // Only those names: a longer one is an ordinary header.
    assert_eq!(echoed.header("x-auth-userx"), Some("kept"));
}

#[tokio::test(flavor = "multi_thread")]
async fn hop_by_hop_response_headers_are_removed() {
    let upstream = TestUpstream::with_response_headers(&[
        ("Connection", "X-Up-Secret"),
        ("X-Up-Secret", "1"),
        ("Keep-Alive", "timeout=5"),
        ("Proxy-Authenticate", "Basic realm=\"upstream\""),
        ("Proxy-Connection", "keep-alive"),
        ("Trailer", "X-Checksum"),
        ("Upgrade", "h2c"),
        ("X-Up-Kept", "yes"),
    ])
    .await;
    let gateway = gateway_to(&upstream).await;

    let response = RawRequest::get("/x").send(gateway.addr()).await;
    assert_eq!(response.status, 200);
    for gone in [
        "x-up-secret",
        "keep-alive",
        "proxy-authenticate",
        "proxy-connection",
        "trailer",
        "upgrade",
    ] {
        assert!(
            !response.has_header(gone),
            "the client saw {gone}: {:?}",
            response.headers
        );
    }
    for (name, value) in &response.headers {
        if name.eq_ignore_ascii_case("connection") {
            assert!(
                !value.to_ascii_lowercase().contains("x-up-secret"),
                "Connection: {value}"
            );
        }
    }
    assert_eq!(response.header("x-up-kept"), Some("yes"));
    assert_eq!(response.text(), "ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn routing_headers_are_stripped_even_from_a_trusted_proxy() {
    // A load balancer passes on whatever its client sent; an upstream framework that routes
    // on these would serve another path than the one the gateway matched and authorised.
    let upstream = TestUpstream::echo("public").await;
    let gateway = GatewayBuilder::new()
        .server_line("trusted_proxies = [\"127.0.0.0/8\"]")
        .route(Route::new("/public/", upstream.url()))
        .start()
        .await;

    let response = RawRequest::get("/public/x")
        .header("X-Original-URL", "/admin/users")
        .header("X-Original-URI", "/admin/users")
        .header("X-Rewrite-URL", "/admin/users")
        .header("x_original_url", "/admin/users")
        .send(gateway.addr())
        .await;
    let echoed: Echoed = response.json();
    for (name, value) in &echoed.headers {
        let name = folded(name);
        assert!(
            !["x-original-url", "x-original-uri", "x-rewrite-url"].contains(&name.as_str()),
            "the upstream saw the routing header {name}: {value}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_id_reaches_the_upstream_and_the_response_and_a_client_cannot_forge_it() {
    let upstream = TestUpstream::echo("root").await;
    let gateway = gateway_to(&upstream).await;

    let response = RawRequest::get("/x")
        .header("X-Request-Id", "forged-by-client")
        .header("Connection", "close, x-request-id")
        .send(gateway.addr())
        .await;
    assert_eq!(response.status, 200);
    let echoed: Echoed = response.json();
    let seen = echoed.header("x-request-id").expect("an id upstream");
    assert_ne!(seen, "forged-by-client");
    assert_eq!(seen.len(), 32, "{seen}");
    assert_eq!(response.header("x-request-id"), Some(seen));

    // Refusals the gateway answers itself carry one too.
    let refused = RawRequest::get("/a%2Fb").send(gateway.addr()).await;
    assert_eq!(refused.status, 400);
    let id = refused.header("x-request-id").expect("an id on a refusal");
    assert_ne!(id, seen);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_decision_logged_while_a_request_is_handled_carries_its_request_id() {
    let upstream = TestUpstream::echo("api").await;
    let mut gateway = GatewayProcess::start(
        GatewayBuilder::new().route(Route::new("/api/", upstream.url()).set_str("auth", "bearer")),
    )
    .await;

    let refused = RawRequest::get("/api/x")
        .header("Authorization", "Bearer not-a-token")
        .send(gateway.addr())
        .await;
    assert_eq!(refused.status, 401);
    let id = refused
        .header("x-request-id")
        .expect("an id on the refusal")
        .to_owned();

    let decision = gateway
        .wait_for_log("bearer token refused", Duration::from_secs(10))
        .await;
    let decision: serde_json::Value = serde_json::from_str(&decision).expect("a JSON log line");
    assert_eq!(decision["request_id"], id.as_str(), "{decision}");
    let access = gateway
        .wait_for_log("\"status\":401", Duration::from_secs(10))
        .await;
    let access: serde_json::Value = serde_json::from_str(&access).expect("a JSON log line");
    assert_eq!(access["request_id"], id.as_str(), "{access}");

    // A line logged outside any request has none.
    let started = gateway
        .wait_for_log("authgate listening", Duration::from_secs(1))
        .await;
    assert!(!started.contains("request_id"), "{started}");
}

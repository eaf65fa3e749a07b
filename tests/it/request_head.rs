//! The request head's own rules (issue 12 §1, §2): one Host, framing, methods never forwarded,
//! path parameters, and what becomes of a raw `#`, tried with raw requests and HTTP/2 frames.

use std::time::Duration;

use crate::support::{
    Echoed, GatewayBuilder, RawConnection, RawRequest, RawResponse, Route, TestGateway,
    TestUpstream,
};

async fn gateway_to(upstream: &TestUpstream) -> TestGateway {
    GatewayBuilder::new()
        .route(Route::new("/", upstream.url()))
        .start()
        .await
}

/// Sends `request` on a kept-alive connection and returns the answer, checking that the
/// gateway closed the connection after it (every framing refusal does).
async fn answered_then_closed(gateway: &TestGateway, request: RawRequest) -> RawResponse {
    let mut conn = RawConnection::connect(gateway.addr()).await;
    conn.write(&request.keep_alive().bytes()).await.unwrap();
    let response = conn.read_response().await;
    assert_eq!(
        response.header("connection"),
        Some("close"),
        "{}",
        response.text()
    );
    conn.read_until_closed(Duration::from_secs(10)).await;
    response
}

#[tokio::test(flavor = "multi_thread")]
async fn http11_request_without_host_is_refused_with_400() {
    let upstream = TestUpstream::echo("root").await;
    let gateway = gateway_to(&upstream).await;
    let response = answered_then_closed(&gateway, RawRequest::get("/x").without_host()).await;
    assert_eq!(response.status, 400, "{}", response.text());
    assert!(response.text().contains("Host"), "{}", response.text());
    // The gateway's own endpoints follow the same rule.
    let response = RawRequest::get("/healthz")
        .without_host()
        .send(gateway.addr())
        .await;
    assert_eq!(response.status, 400);
    assert_eq!(upstream.hits(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn repeated_host_lines_are_refused_with_400_even_when_equal() {
    let upstream = TestUpstream::echo("root").await;
    let gateway = gateway_to(&upstream).await;
    for second in ["127.0.0.1", "other.example"] {
        let request = RawRequest::get("/x").header("Host", second);
        let response = answered_then_closed(&gateway, request).await;
        assert_eq!(response.status, 400, "second Host {second}");
    }
    assert_eq!(upstream.hits(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_host_values_are_refused_with_400() {
    let upstream = TestUpstream::echo("root").await;
    let gateway = gateway_to(&upstream).await;
    for host in [
        "a b",
        "user@a.example",
        "a.example, b.example",
        "a/b",
        "[::1",
    ] {
        let response = answered_then_closed(&gateway, RawRequest::get("/x").host(host)).await;
        assert_eq!(response.status, 400, "Host {host:?}: {}", response.text());
    }
    assert_eq!(upstream.hits(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn http10_without_host_is_served_by_a_route_for_every_host() {
    let named = TestUpstream::echo("named").await;
    let any = TestUpstream::echo("any").await;
    let gateway = GatewayBuilder::new()
        .route(Route::new("/", named.url()).host("a.example"))
        .route(Route::new("/", any.url()))
        .start()
        .await;
    let response = RawRequest::get("/x")
        .http10()
        .without_host()
        .send(gateway.addr())
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let echoed: Echoed = response.json();
    assert_eq!(echoed.upstream, "any");
    assert_eq!(named.hits(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn absolute_form_target_is_the_host_for_routing_upstream_host_and_forwarded_host() {
    let named = TestUpstream::echo("named").await;
    let any = TestUpstream::echo("any").await;
    let gateway = GatewayBuilder::new()
        .route(
            Route::new("/", named.url())
                .host("a.example")
                .preserve_host(),
        )
        .route(Route::new("/", any.url()))
        .start()
        .await;

    let response = RawRequest::get("http://A.example/x?q=1")
        .host("a.example")
        .send(gateway.addr())
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let echoed: Echoed = response.json();
    assert_eq!(echoed.upstream, "named");
    assert_eq!(echoed.path, "/x");
    assert_eq!(echoed.target(), "/x?q=1", "origin form upstream");
    assert_eq!(echoed.header("host"), Some("A.example"));
    assert_eq!(echoed.header("x-forwarded-host"), Some("A.example"));

    // A Host that names another host than the target is refused, whichever would route where.
    for (target, host) in [
        ("http://a.example/x", "other.example"),
        ("http://other.example/x", "a.example"),
        ("http://a.example:8080/x", "a.example"),
    ] {
        let response = answered_then_closed(&gateway, RawRequest::get(target).host(host)).await;
        assert_eq!(response.status, 400, "{target} with Host {host}");
    }
    // The absolute form does not excuse the Host line.
    let response = RawRequest::get("http://a.example/x")
        .without_host()
        .send(gateway.addr())
        .await;
    assert_eq!(response.status, 400);
    assert_eq!(named.hits(), 1);
    assert_eq!(any.hits(), 0);
}

/// Sends one HTTP/2 request (prior knowledge, plain TCP) with `:authority` from `uri` and
/// the extra `host` header lines given; returns the status.
async fn h2_status(gateway: &TestGateway, uri: &str, hosts: &[&str]) -> u16 {
    let tcp = tokio::net::TcpStream::connect(gateway.addr())
        .await
        .unwrap();
    let (mut client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut request = http::Request::get(uri);
    for host in hosts {
        request = request.header("host", *host);
    }
    let (response, _) = client
        .send_request(request.body(()).unwrap(), true)
        .unwrap();
    let response = tokio::time::timeout(Duration::from_secs(10), response)
        .await
        .expect("an HTTP/2 answer in time")
        .unwrap();
    response.status().as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn http2_authority_and_host_that_disagree_are_refused() {
    let named = TestUpstream::echo("named").await;
    let any = TestUpstream::echo("any").await;
    let gateway = GatewayBuilder::new()
        .route(Route::new("/", named.url()).host("a.example"))
        .route(Route::new("/", any.url()))
        .start()
        .await;
    assert_eq!(h2_status(&gateway, "http://a.example/x", &[]).await, 200);
    assert_eq!(
        h2_status(&gateway, "http://a.example/x", &["a.example"]).await,
        200
    );
    assert_eq!(
        h2_status(&gateway, "http://a.example/x", &["b.example"]).await,
        400
    );
    assert_eq!(
        h2_status(&gateway, "http://b.example/x", &["a.example"]).await,
        400
    );
    assert_eq!(named.hits(), 2);
    assert_eq!(any.hits(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transfer_coding_other_than_chunked_is_refused_with_501() {
    let upstream = TestUpstream::echo("root").await;
    let gateway = gateway_to(&upstream).await;
    for coding in ["gzip, chunked", "identity, chunked", "deflate,chunked"] {
        let request = RawRequest::new("POST", "/x")
            .header("Transfer-Encoding", coding)
            .body(b"5\r\nhello\r\n0\r\n\r\n");
        let response = answered_then_closed(&gateway, request).await;
        assert_eq!(response.status, 501, "{coding}: {}", response.text());
    }
    // Split over two lines, the same.
    let request = RawRequest::new("POST", "/x")
        .header("Transfer-Encoding", "gzip")
        .header("Transfer-Encoding", "chunked")
        .body(b"5\r\nhello\r\n0\r\n\r\n");
    assert_eq!(answered_then_closed(&gateway, request).await.status, 501);
    assert_eq!(upstream.hits(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn chunked_applied_twice_is_refused_with_400() {
    let upstream = TestUpstream::echo("root").await;
    let gateway = gateway_to(&upstream).await;
    let two_lines = RawRequest::new("POST", "/x")
        .header("Transfer-Encoding", "chunked")
        .header("Transfer-Encoding", "chunked")
        .body(b"5\r\nhello\r\n0\r\n\r\n");
    let one_line = RawRequest::new("POST", "/x")
        .header("Transfer-Encoding", "chunked, chunked")
        .body(b"5\r\nhello\r\n0\r\n\r\n");
    for request in [two_lines, one_line] {
        let response = answered_then_closed(&gateway, request).await;
        assert_eq!(response.status, 400, "{}", response.text());
    }
    assert_eq!(upstream.hits(), 0);
    // One chunked is fine.
    let response = RawRequest::new("POST", "/x")
        .header("Transfer-Encoding", "chunked")
        .body(b"5\r\nhello\r\n0\r\n\r\n")
        .send(gateway.addr())
        .await;
    assert_eq!(response.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn trace_track_and_connect_are_refused_on_every_path_with_allow() {
    let upstream = TestUpstream::echo("root").await;
    let gateway = gateway_to(&upstream).await;
    for (method, target) in [
        ("TRACE", "/x"),
        ("TRACE", "/"),
        ("TRACE", "/oauth2/token"),
        ("TRACE", "/healthz"),
        ("TRACK", "/x"),
        ("CONNECT", "upstream.example:443"),
    ] {
        let response = RawRequest::new(method, target)
            .header("Cookie", "a=b")
            .header("Authorization", "Bearer x")
            .send(gateway.addr())
            .await;
        assert_eq!(
            response.status,
            405,
            "{method} {target}: {}",
            response.text()
        );
        let allow = response.header("allow").unwrap_or_default();
        assert!(allow.contains("GET") && !allow.contains("TRACE"), "{allow}");
        assert!(!response.text().contains("Bearer"), "{}", response.text());
    }
    assert_eq!(upstream.hits(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_405_of_the_gateway_endpoints_carries_allow() {
    let upstream = TestUpstream::echo("root").await;
    let gateway = gateway_to(&upstream).await;
    for (method, path, allow) in [
        ("GET", "/oauth2/token", "POST"),
        ("PUT", "/oauth2/revoke", "POST"),
        ("GET", "/oauth2/introspect", "POST"),
        ("PUT", "/oauth2/logout", "GET, POST"),
        ("GET", "/oauth2/register", "POST"),
        ("PUT", "/oauth2/authorize", "GET, POST"),
        ("DELETE", "/oauth2/userinfo", "GET, POST"),
        ("POST", "/oauth2/jwks", "GET"),
        ("PUT", "/.well-known/openid-configuration", "GET"),
        ("DELETE", "/.well-known/oauth-authorization-server", "GET"),
    ] {
        let response = RawRequest::new(method, path).send(gateway.addr()).await;
        assert_eq!(response.status, 405, "{method} {path}");
        assert_eq!(response.header("allow"), Some(allow), "{method} {path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn path_parameters_are_refused_and_cannot_slip_past_a_more_specific_route() {
    // The CVE-2020-1957 shape: `/api/admin;x/y` is `/api/admin/y` to a Tomcat or Spring
    // upstream, but the segment `admin;x` is not `admin` to a plain prefix match.
    let api = TestUpstream::echo("api").await;
    let admin = TestUpstream::echo("admin").await;
    let gateway = GatewayBuilder::new()
        .route(Route::new("/api/", api.url()))
        .route(Route::new("/api/admin/", admin.url()).set("auth", "\"bearer\""))
        .start()
        .await;
    for target in [
        "/api/admin;x/y",
        "/api/admin%3Bx/y",
        "/api/admin%3bx/y",
        "/api/admin;/y",
        "/api/;x/admin/y",
        "/api/x;jsessionid=1",
    ] {
        let response = answered_then_closed(&gateway, RawRequest::get(target)).await;
        assert_eq!(response.status, 400, "GET {target}: {}", response.text());
        assert!(response.text().contains(';'), "{}", response.text());
    }
    assert_eq!(api.hits(), 0);
    assert_eq!(admin.hits(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_route_that_accepts_path_parameters_gets_them_but_only_by_its_own_rule() {
    let api = TestUpstream::echo("api").await;
    let admin = TestUpstream::echo("admin").await;
    let gateway = GatewayBuilder::new()
        .route(Route::new("/api/", api.url()).set("path_parameters", "true"))
        .route(Route::new("/api/admin/", admin.url()).set("auth", "\"bearer\""))
        .start()
        .await;
    let response = RawRequest::get("/api/users;v=2/x")
        .send(gateway.addr())
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let echoed: Echoed = response.json();
    assert_eq!(echoed.path, "/api/users;v=2/x", "forwarded as received");

    // The parameter is cut off to choose the route: the admin route's rules still apply.
    for target in ["/api/admin;x/y", "/api/admin%3Bx/y"] {
        let response = RawRequest::get(target).send(gateway.addr()).await;
        assert_eq!(response.status, 400, "GET {target}: {}", response.text());
    }
    assert_eq!(admin.hits(), 0);
    assert_eq!(api.hits(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_fragment_is_cut_off_by_the_parser_and_the_rest_routes_and_forwards_alike() {
    // hyper's URI parser (the http crate) ends the target at a raw `#`, before the gateway
    // sees it; what is left is what is both routed and forwarded, so `#/../../admin` can
    // neither reach another route nor reach the upstream.
    let public = TestUpstream::echo("public").await;
    let admin = TestUpstream::echo("admin").await;
    let gateway = GatewayBuilder::new()
        .route(Route::new("/public/", public.url()))
        .route(Route::new("/admin/", admin.url()))
        .start()
        .await;
    for (target, seen) in [
        ("/public/x#/../../admin/y", "/public/x"),
        ("/public/x?q=1#frag", "/public/x?q=1"),
        ("/public/a#b", "/public/a"),
    ] {
        let response = RawRequest::get(target).send(gateway.addr()).await;
        assert_eq!(response.status, 200, "GET {target}: {}", response.text());
        let echoed: Echoed = response.json();
        assert_eq!(echoed.upstream, "public");
        assert_eq!(
            echoed.target(),
            seen,
            "{target} as the upstream received it"
        );
    }
    assert_eq!(admin.hits(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn callback_state_cut_inside_a_utf8_character_is_refused_not_a_dropped_connection() {
    // Regression (issue 13): the flow cookie's name was the state's first 12 bytes,
    // sliced inside `é`, and the worker panicked; the client got an empty reply.
    let upstream = TestUpstream::echo("root").await;
    let gateway = gateway_to(&upstream).await;
    let response = RawRequest::get("/oauth2/callback?state=aaaaaaaaaaa%C3%A9&code=x")
        .send(gateway.addr())
        .await;
    assert_eq!(response.status, 400, "{}", response.text());
    let response = RawRequest::get("/healthz").send(gateway.addr()).await;
    assert_eq!(response.status, 200);
}

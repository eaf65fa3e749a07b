use crate::support::{Echoed, GatewayBuilder, RawRequest, Route, TestGateway, TestUpstream};

async fn gateway_to(upstream: &TestUpstream) -> TestGateway {
    GatewayBuilder::new()
        .route(Route::new("/", upstream.url()))
        .start()
        .await
}

/// Each target gets 400 from the gateway, and the upstream sees none of them.
async fn assert_refused(targets: &[&str]) {
    let upstream = TestUpstream::echo("root").await;
    let gateway = gateway_to(&upstream).await;
    for target in targets {
        let response = RawRequest::get(target).send(gateway.addr()).await;
        assert_eq!(response.status, 400, "GET {target}: {}", response.text());
        assert!(
            response.body.len() < 200,
            "a short body for {target}: {}",
            response.text()
        );
    }
    assert_eq!(
        upstream.hits(),
        0,
        "refused paths reached the upstream as {:?}",
        upstream
            .requests()
            .iter()
            .map(|r| r.target())
            .collect::<Vec<_>>()
    );
    // Still serving after the refusals.
    let response = RawRequest::get("/fine").send(gateway.addr()).await;
    assert_eq!(response.status, 200);
}

/// What path the upstream receives for `target`.
async fn forwarded_path(gateway: &TestGateway, target: &str) -> Echoed {
    let response = RawRequest::get(target).send(gateway.addr()).await;
    assert_eq!(response.status, 200, "GET {target}: {}", response.text());
    response.json()
}

#[tokio::test(flavor = "multi_thread")]
async fn encoded_slash_is_refused() {
    assert_refused(&["/a%2Fb", "/a%2fb", "/%2F", "/api%2F..%2Fadmin"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn encoded_backslash_is_refused() {
    assert_refused(&["/a%5Cb", "/a%5cb", "/..%5C..%5Cetc"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn nul_and_control_bytes_are_refused() {
    assert_refused(&["/a%00b", "/a%00", "/a%0D%0AX-Injected:%201", "/a%7F"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dot_segments_climbing_above_the_root_are_refused() {
    assert_refused(&[
        "/../x",
        "/..",
        "/a/../../x",
        "/a/%2e%2e/%2e%2e/x",
        "/a/%2E%2E/%2E%2E/x",
        "/%2e%2e/x",
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dot_segment_path_parameters_are_refused() {
    assert_refused(&[
        "/..;/admin",
        "/a/..;/b",
        "/a/..;x/b",
        "/a/.;/b",
        "/a/%2e%2e;/b",
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_escapes_are_refused() {
    assert_refused(&["/a%zz", "/a%4", "/a%", "/a%%41"]).await;
}

// A raw `#`: see request_head.rs, `raw_fragment_is_cut_off_by_the_parser_...`.

#[tokio::test(flavor = "multi_thread")]
async fn dot_segments_and_repeated_slashes_arrive_resolved() {
    let upstream = TestUpstream::echo("root").await;
    let gateway = gateway_to(&upstream).await;
    for (target, seen) in [
        ("/a/./b//c", "/a/b/c"),
        ("//a///b", "/a/b"),
        ("/a/b/../c", "/a/c"),
        ("/a/b/%2e%2e/c", "/a/c"),
        ("/a/b/..", "/a/"),
        ("/a/.", "/a/"),
        ("/a/b/c/../../d?x=1", "/a/d"),
    ] {
        let echoed = forwarded_path(&gateway, target).await;
        assert_eq!(echoed.path, seen, "{target} as the upstream received it");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn escapes_arrive_in_normal_form() {
    let upstream = TestUpstream::echo("root").await;
    let gateway = gateway_to(&upstream).await;
    for (target, seen) in [
        // Unreserved characters are decoded.
        ("/%61/b", "/a/b"),
        ("/%7Euser/%2D%5F%2E", "/~user/-_."),
        // Other escapes stay escaped, with upper-case hex.
        ("/a%20b", "/a%20b"),
        ("/a%3fb", "/a%3Fb"),
        ("/a%c3%a9", "/a%C3%A9"),
    ] {
        let echoed = forwarded_path(&gateway, target).await;
        assert_eq!(echoed.path, seen, "{target} as the upstream received it");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_path_that_normalises_into_another_route_is_served_by_that_route() {
    let public = TestUpstream::echo("public").await;
    let admin = TestUpstream::echo("admin").await;
    let gateway = GatewayBuilder::new()
        .route(Route::new("/public/", public.url()))
        .route(Route::new("/admin/", admin.url()))
        .start()
        .await;

    for target in [
        "/public/../admin/x",
        "/public/%2e%2e/admin/x",
        "/public/./../admin/./x",
        "/public//..//admin/x",
        "/%70ublic/../%61dmin/x",
    ] {
        let echoed = forwarded_path(&gateway, target).await;
        assert_eq!(
            echoed.upstream, "admin",
            "{target} was routed as {}",
            echoed.upstream
        );
        assert_eq!(
            echoed.path, "/admin/x",
            "{target} as the admin upstream received it"
        );
    }
    assert_eq!(
        public.hits(),
        0,
        "the public upstream saw {:?}",
        public
            .requests()
            .iter()
            .map(|r| r.target())
            .collect::<Vec<_>>()
    );

    // And the reverse: a climb out of /admin/ lands in /public/, never at the admin upstream.
    let echoed = forwarded_path(&gateway, "/admin/../public/y").await;
    assert_eq!(echoed.upstream, "public");
    assert_eq!(echoed.path, "/public/y");
}

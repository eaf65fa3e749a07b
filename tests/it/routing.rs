use crate::support::{http_client, Echoed, GatewayBuilder, RawRequest, Route, TestUpstream};

async fn get_echo(url: &str) -> Echoed {
    let response = http_client().get(url).send().await.expect("request");
    assert_eq!(response.status(), 200, "GET {url}");
    response.json().await.expect("echo JSON")
}

#[tokio::test(flavor = "multi_thread")]
async fn longest_prefix_wins_at_segment_boundaries() {
    let root = TestUpstream::echo("root").await;
    let api = TestUpstream::echo("api").await;
    let admin = TestUpstream::echo("admin").await;
    let gateway = GatewayBuilder::new()
        .route(Route::new("/", root.url()))
        .route(Route::new("/api/admin/", admin.url()))
        .route(Route::new("/api", api.url()))
        .start()
        .await;

    let cases = [
        ("/", "root", "/"),
        ("/x/y", "root", "/x/y"),
        ("/api", "api", "/api"),
        ("/api/", "api", "/api/"),
        ("/api/users/7", "api", "/api/users/7"),
        ("/apix", "root", "/apix"),
        ("/api-v2/x", "root", "/api-v2/x"),
        ("/api/admin", "admin", "/api/admin"),
        ("/api/admin/x", "admin", "/api/admin/x"),
        ("/api/administrator", "api", "/api/administrator"),
    ];
    for (path, upstream, seen_path) in cases {
        let echoed = get_echo(&gateway.url(path)).await;
        assert_eq!(echoed.upstream, upstream, "route chosen for {path}");
        assert_eq!(echoed.path, seen_path, "path forwarded for {path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn host_specific_route_beats_hostless_one() {
    let generic = TestUpstream::echo("generic").await;
    let generic_api = TestUpstream::echo("generic-api").await;
    let app = TestUpstream::echo("app").await;
    let gateway = GatewayBuilder::new()
        .route(Route::new("/", generic.url()))
        .route(Route::new("/api/", generic_api.url()))
        .route(Route::new("/", app.url()).host("app.example.com"))
        .start()
        .await;

    let cases = [
        // Host first, even over a longer host-less prefix; letter case and port do not matter.
        ("app.example.com", "/api/x", "app"),
        ("APP.Example.COM:8443", "/", "app"),
        ("other.example.com", "/", "generic"),
        ("other.example.com", "/api/x", "generic-api"),
        ("127.0.0.1", "/api/x", "generic-api"),
    ];
    for (host, path, upstream) in cases {
        let response = RawRequest::get(path).host(host).send(gateway.addr()).await;
        assert_eq!(response.status, 200, "{host}{path}: {}", response.text());
        let echoed: Echoed = response.json();
        assert_eq!(
            echoed.upstream, upstream,
            "route chosen for Host {host}, path {path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn strip_prefix_removes_the_route_prefix_and_nothing_else() {
    let stripped = TestUpstream::echo("stripped").await;
    let kept = TestUpstream::echo("kept").await;
    let gateway = GatewayBuilder::new()
        .route(Route::new("/svc/", stripped.url()).strip_prefix())
        .route(Route::new("/keep/", kept.url()))
        .start()
        .await;

    for (path, seen) in [
        ("/svc/a/b", "/a/b"),
        ("/svc/a/", "/a/"),
        ("/svc/", "/"),
        ("/svc", "/"),
        ("/svc/svc/x", "/svc/x"),
    ] {
        let echoed = get_echo(&gateway.url(path)).await;
        assert_eq!(echoed.upstream, "stripped");
        assert_eq!(echoed.path, seen, "strip_prefix of {path}");
    }
    let echoed = get_echo(&gateway.url("/keep/a/b")).await;
    assert_eq!(echoed.upstream, "kept");
    assert_eq!(echoed.path, "/keep/a/b");
}

#[tokio::test(flavor = "multi_thread")]
async fn preserve_host_decides_the_host_the_upstream_sees() {
    let preserved = TestUpstream::echo("preserved").await;
    let plain = TestUpstream::echo("plain").await;
    let gateway = GatewayBuilder::new()
        .route(Route::new("/kept/", preserved.url()).preserve_host())
        .route(Route::new("/plain/", plain.url()))
        .start()
        .await;

    let response = RawRequest::get("/kept/x")
        .host("public.example.com")
        .send(gateway.addr())
        .await;
    let echoed: Echoed = response.json();
    assert_eq!(echoed.upstream, "preserved");
    assert_eq!(echoed.header_all("host"), ["public.example.com"]);
    assert_eq!(
        echoed.header("x-forwarded-host"),
        Some("public.example.com")
    );

    let response = RawRequest::get("/plain/x")
        .host("public.example.com")
        .send(gateway.addr())
        .await;
    let echoed: Echoed = response.json();
    assert_eq!(echoed.upstream, "plain");
    let upstream_authority = plain.addr().to_string();
    assert_eq!(echoed.header_all("host"), [upstream_authority.as_str()]);
    assert_eq!(
        echoed.header("x-forwarded-host"),
        Some("public.example.com")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_base_path_is_prepended_to_the_forwarded_path() {
    let upstream = TestUpstream::echo("based").await;
    let gateway = GatewayBuilder::new()
        .route(Route::new("/svc/", format!("{}/base", upstream.url())).strip_prefix())
        .route(Route::new("/raw/", format!("{}/base/", upstream.url())))
        .start()
        .await;

    assert_eq!(get_echo(&gateway.url("/svc/x/y")).await.path, "/base/x/y");
    assert_eq!(get_echo(&gateway.url("/svc")).await.path, "/base/");
    assert_eq!(get_echo(&gateway.url("/raw/x")).await.path, "/base/raw/x");
}

#[tokio::test(flavor = "multi_thread")]
async fn query_is_passed_unchanged() {
    let upstream = TestUpstream::echo("api").await;
    let gateway = GatewayBuilder::new()
        .route(Route::new("/api/", upstream.url()))
        .start()
        .await;

    // Escapes that the path would refuse or decode are the query's own business.
    let query = "b=2&a=1&next=%2F..%2Fadmin&sp=a+b%20c&enc=%61%7E&&flag&e=";
    let response = RawRequest::get(&format!("/api/x?{query}"))
        .send(gateway.addr())
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let echoed: Echoed = response.json();
    assert_eq!(echoed.path, "/api/x");
    assert_eq!(echoed.query.as_deref(), Some(query));

    // The query never takes part in route matching.
    let response = RawRequest::get("/other?/api/x").send(gateway.addr()).await;
    assert_eq!(response.status, 404);
    assert_eq!(upstream.hits(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_matching_route_gets_404_from_the_gateway() {
    let upstream = TestUpstream::echo("api").await;
    let gateway = GatewayBuilder::new()
        .route(Route::new("/api/", upstream.url()))
        .start()
        .await;

    for path in ["/other", "/", "/apix", "/ap"] {
        let response = http_client()
            .get(gateway.url(path))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 404, "GET {path}");
        let body = response.text().await.expect("body");
        assert!(body.len() < 200, "a short body: {body:?}");
    }
    assert_eq!(
        upstream.hits(),
        0,
        "the upstream saw a request no route matched"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn healthz_is_answered_by_the_gateway() {
    let upstream = TestUpstream::echo("root").await;
    let gateway = GatewayBuilder::new()
        .route(Route::new("/", upstream.url()))
        .start()
        .await;

    let response = http_client()
        .get(gateway.url("/healthz"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.expect("body").trim(), "ok");
    assert_eq!(upstream.hits(), 0, "/healthz was forwarded");
}

#[tokio::test(flavor = "multi_thread")]
async fn reserved_gateway_paths_never_reach_the_upstream() {
    let upstream = TestUpstream::echo("root").await;
    let gateway = GatewayBuilder::new()
        .route(Route::new("/", upstream.url()))
        .start()
        .await;

    let targets = [
        ("GET", "/oauth2/authorize?client_id=x"),
        ("POST", "/oauth2/token"),
        ("GET", "/oauth2/no-such-endpoint"),
        ("GET", "/oauth2"),
        ("GET", "/.well-known/oauth-authorization-server"),
        ("GET", "/.well-known/anything"),
        ("GET", "/healthz/x"),
        // Spellings that normalise into the reserved space.
        ("GET", "/x/../oauth2/token"),
        ("GET", "//oauth2/token"),
        ("GET", "/%6Fauth2/token"),
        ("GET", "/%2Ewell-known/x"),
    ];
    for (method, target) in targets {
        let request = RawRequest::new(method, target).header("Content-Length", "0");
        // Whatever the gateway answers (later endpoints live here), it answers itself.
        request.send(gateway.addr()).await;
    }
    let response = RawRequest::get("/oauth2/no-such-endpoint")
        .send(gateway.addr())
        .await;
    assert_eq!(response.status, 404);
    assert_eq!(
        upstream.hits(),
        0,
        "reserved paths reached the upstream: {:?}",
        upstream
            .requests()
            .iter()
            .map(|r| r.target())
            .collect::<Vec<_>>()
    );
}

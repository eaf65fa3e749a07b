use crate::support::{http_client, Echoed, GatewayBuilder, Route, TestUpstream};

#[tokio::test(flavor = "multi_thread")]
async fn sequential_requests_share_one_upstream_connection() {
    let upstream = TestUpstream::echo("pooled").await;
    let gateway = GatewayBuilder::new()
        .route(Route::new("/", upstream.url()))
        .start()
        .await;

    let client = http_client();
    for i in 0..5 {
        let response = client
            .get(gateway.url(&format!("/n/{i}")))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200);
        let echoed: Echoed = response.json().await.expect("JSON");
        assert_eq!(echoed.target(), format!("/n/{i}"));
    }
    assert_eq!(upstream.hits(), 5);
    assert_eq!(
        upstream.connections_opened(),
        1,
        "each request went back to the pool's one connection"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn https_upstream_is_trusted_through_its_upstream_ca_only() {
    // The upstream speaks TLS: another gateway in self-signed mode, in front of an echo.
    let echo = TestUpstream::echo("behind-tls").await;
    let data = tempfile::tempdir().expect("temp dir");
    let tls_upstream = GatewayBuilder::new()
        .tls_self_signed()
        .data_dir(data.path())
        .route(Route::new("/", echo.url()))
        .start()
        .await;
    let ca = data.path().join("tls/self-signed.pem");
    let target = format!("https://localhost:{}", tls_upstream.addr().port());
    let gateway = GatewayBuilder::new()
        .route(
            Route::new("/trusted/", target.clone())
                .strip_prefix()
                .set_str("upstream_ca", ca.to_str().expect("UTF-8 path")),
        )
        .route(Route::new("/untrusted/", target).strip_prefix())
        .start()
        .await;

    let client = http_client();
    for _ in 0..2 {
        let response = client
            .get(gateway.url("/trusted/hello?x=1"))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200);
        let echoed: Echoed = response.json().await.expect("JSON");
        assert_eq!(echoed.upstream, "behind-tls");
        assert_eq!(echoed.target(), "/hello?x=1");
    }
    assert_eq!(echo.hits(), 2);

    let response = client
        .get(gateway.url("/untrusted/hello"))
        .send()
        .await
        .expect("request");
    assert_eq!(
        response.status(),
        502,
        "a certificate outside the trust anchors"
    );
    assert_eq!(echo.hits(), 2, "nothing reached the upstream");
}

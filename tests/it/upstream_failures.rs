use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::support::{
    dead_port, http_client, within, GatewayBuilder, Route, TestGateway, TestUpstream, WAIT,
};

async fn assert_still_serving(gateway: &TestGateway) {
    let response = http_client()
        .get(gateway.url("/ok/x"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200, "the good route after a failure");
    let response = http_client()
        .get(gateway.url("/healthz"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200, "/healthz after a failure");
}

#[tokio::test(flavor = "multi_thread")]
async fn dead_upstream_gets_502_with_a_short_body() {
    let good = TestUpstream::echo("good").await;
    let gateway = GatewayBuilder::new()
        .route(Route::new(
            "/dead/",
            format!("http://127.0.0.1:{}", dead_port()),
        ))
        .route(Route::new("/ok/", good.url()))
        .start()
        .await;

    for _ in 0..2 {
        let started = Instant::now();
        let response = http_client()
            .get(gateway.url("/dead/x"))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 502);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "a refused connection is no wait"
        );
        let body = response.text().await.expect("body");
        assert!(
            body.to_ascii_lowercase().contains("bad gateway"),
            "body: {body:?}"
        );
        assert!(body.len() < 200, "a short body: {body:?}");
        assert_still_serving(&gateway).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn silent_upstream_gets_504_after_the_response_timeout() {
    let silent = TestUpstream::silent().await;
    let good = TestUpstream::echo("good").await;
    let gateway = GatewayBuilder::new()
        .route(Route::new("/silent/", silent.url()).response_timeout("1s"))
        .route(Route::new("/ok/", good.url()))
        .start()
        .await;

    let started = Instant::now();
    let response = http_client()
        .get(gateway.url("/silent/x"))
        .send()
        .await
        .expect("request");
    let elapsed = started.elapsed();
    assert_eq!(response.status(), 504);
    assert!(
        elapsed >= Duration::from_millis(900),
        "504 before the timeout: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(10),
        "504 long after the 1s timeout: {elapsed:?}"
    );
    let body = response.text().await.expect("body");
    assert!(
        body.to_ascii_lowercase().contains("timeout"),
        "body: {body:?}"
    );
    assert!(body.len() < 200, "a short body: {body:?}");
    assert_eq!(silent.hits(), 1, "the request reached the silent upstream");
    assert_still_serving(&gateway).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_error_statuses_pass_through_unchanged() {
    let unavailable = TestUpstream::status(503).await;
    let missing = TestUpstream::status(404).await;
    let good = TestUpstream::echo("good").await;
    let gateway = GatewayBuilder::new()
        .route(Route::new("/unavailable/", unavailable.url()))
        .route(Route::new("/missing/", missing.url()))
        .route(Route::new("/ok/", good.url()))
        .start()
        .await;

    for (path, status) in [("/unavailable/x", 503), ("/missing/x", 404)] {
        let response = http_client()
            .get(gateway.url(path))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), status, "GET {path}");
        let body = response.text().await.expect("body");
        assert_eq!(
            body,
            format!("status {status} from upstream\n"),
            "the upstream's own body"
        );
    }
    assert_still_serving(&gateway).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_that_goes_silent_mid_body_is_cut_off() {
    // Headers and a first chunk, then nothing: the client must not wait forever.
    let (upstream, _never_released) = TestUpstream::held_download(
        Bytes::from_static(b"first"),
        vec![Bytes::from_static(b"rest")],
    )
    .await;
    let good = TestUpstream::echo("good").await;
    let gateway = GatewayBuilder::new()
        .route(Route::new("/stalled/", upstream.url()).response_timeout("1s"))
        .route(Route::new("/ok/", good.url()))
        .start()
        .await;

    let mut response = http_client()
        .get(gateway.url("/stalled/x"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let first = response
        .chunk()
        .await
        .expect("first chunk")
        .expect("a chunk");
    assert_eq!(&first[..], b"first");
    let started = Instant::now();
    let end = within(WAIT, "the stalled body to be cut off", response.chunk()).await;
    assert!(
        end.is_err(),
        "a stalled body must end in an error, not look complete: {end:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "cut off too early"
    );
    assert_still_serving(&gateway).await;
}

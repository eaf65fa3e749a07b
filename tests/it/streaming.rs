use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::support::upstream::CHUNK;
use crate::support::{http_client, within, GatewayBuilder, Route, TestUpstream, WAIT};

fn chunk(byte: u8) -> Bytes {
    Bytes::from(vec![byte; CHUNK])
}

#[tokio::test(flavor = "multi_thread")]
async fn download_first_bytes_arrive_before_the_last_are_sent() {
    let rest: Vec<Bytes> = (0..16).map(|i| chunk(i as u8)).collect();
    let total = CHUNK * (1 + rest.len());
    let (upstream, release) = TestUpstream::held_download(chunk(0xAA), rest).await;
    let gateway = GatewayBuilder::new()
        .route(Route::new("/files/", upstream.url()))
        .start()
        .await;

    let mut response = within(
        WAIT,
        "response headers through the gateway",
        http_client().get(gateway.url("/files/big")).send(),
    )
    .await
    .expect("request");
    assert_eq!(response.status(), 200);

    // The upstream holds everything after the first chunk: a buffering gateway stalls here.
    let mut received = Vec::new();
    within(WAIT, "the first chunk through the gateway", async {
        while received.len() < CHUNK {
            let next = response
                .chunk()
                .await
                .expect("body")
                .expect("body ended early");
            received.extend_from_slice(&next);
        }
    })
    .await;
    assert_eq!(
        received.len(),
        CHUNK,
        "more than the first chunk before its release"
    );
    assert!(received.iter().all(|&b| b == 0xAA));

    release.release();
    within(WAIT, "the rest of the download", async {
        while let Some(next) = response.chunk().await.expect("body") {
            received.extend_from_slice(&next);
        }
    })
    .await;
    assert_eq!(received.len(), total);
    assert!(received[CHUNK..2 * CHUNK].iter().all(|&b| b == 0));
    assert!(received[total - CHUNK..].iter().all(|&b| b == 15));
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_first_bytes_arrive_before_the_last_are_sent() {
    let (upstream, probe) = TestUpstream::upload_sink().await;
    let gateway = GatewayBuilder::new()
        .route(Route::new("/upload/", upstream.url()))
        .start()
        .await;

    let (tx, rx) = mpsc::channel::<Bytes>(1);
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<Bytes, std::io::Error>(b), rx))
    });
    let request = http_client()
        .post(gateway.url("/upload/file"))
        .body(reqwest::Body::wrap_stream(body))
        .send();
    let request = tokio::spawn(request);

    tx.send(chunk(1)).await.expect("first chunk");
    // The rest is not sent until the upstream has the first bytes: a buffering gateway
    // stalls here.
    within(
        WAIT,
        "the first upload bytes at the upstream",
        probe.first_bytes(),
    )
    .await;
    assert!(probe.received() <= CHUNK as u64);
    for i in 0..15 {
        tx.send(chunk(i)).await.expect("chunk");
    }
    drop(tx);

    let response = within(WAIT, "the upload response", request)
        .await
        .expect("join")
        .expect("request");
    assert_eq!(response.status(), 200);
    let answer: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(answer["bytes"], (16 * CHUNK) as u64);
}

const LARGE: u64 = 256 * 1024 * 1024;

#[tokio::test(flavor = "multi_thread")]
async fn large_download_streams_through() {
    let upstream = TestUpstream::large_download(LARGE).await;
    let gateway = GatewayBuilder::new()
        .route(Route::new("/files/", upstream.url()).body_limit("1GiB"))
        .start()
        .await;

    let started = Instant::now();
    let response = http_client()
        .get(gateway.url("/files/large"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let mut stream = response.bytes_stream();
    let mut total: u64 = 0;
    within(Duration::from_secs(120), "a 256 MiB download", async {
        while let Some(next) = stream.next().await {
            total += next.expect("body").len() as u64;
        }
    })
    .await;
    assert_eq!(total, LARGE);
    eprintln!(
        "256 MiB download through the gateway in {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn large_upload_streams_through() {
    let (upstream, probe) = TestUpstream::upload_sink().await;
    let gateway = GatewayBuilder::new()
        .route(Route::new("/upload/", upstream.url()).body_limit("1GiB"))
        .start()
        .await;

    let piece = chunk(7);
    let chunks = (LARGE / CHUNK as u64) as usize;
    let body = futures_util::stream::iter(
        std::iter::repeat_n(piece, chunks).map(Ok::<Bytes, std::io::Error>),
    );
    let started = Instant::now();
    let response = within(
        Duration::from_secs(120),
        "a 256 MiB upload",
        http_client()
            .post(gateway.url("/upload/large"))
            .body(reqwest::Body::wrap_stream(body))
            .send(),
    )
    .await
    .expect("request");
    assert_eq!(response.status(), 200);
    let answer: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(answer["bytes"], LARGE);
    assert_eq!(probe.finished(WAIT).await, Ok(LARGE));
    eprintln!(
        "256 MiB upload through the gateway in {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_upload_longer_than_the_response_timeout_is_not_a_504() {
    // The response timeout runs from the end of the request body, not from its start.
    let (upstream, probe) = TestUpstream::upload_sink().await;
    let gateway = GatewayBuilder::new()
        .route(Route::new("/upload/", upstream.url()).response_timeout("1s"))
        .start()
        .await;

    let (tx, rx) = mpsc::channel::<Bytes>(1);
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<Bytes, std::io::Error>(b), rx))
    });
    let request = tokio::spawn(
        http_client()
            .post(gateway.url("/upload/slow"))
            .body(reqwest::Body::wrap_stream(body))
            .send(),
    );
    tx.send(chunk(1)).await.expect("first chunk");
    within(
        WAIT,
        "the first upload bytes at the upstream",
        probe.first_bytes(),
    )
    .await;
    // Longer than the route's response timeout, while the body is still coming.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    tx.send(chunk(2)).await.expect("second chunk");
    drop(tx);

    let response = within(WAIT, "the upload response", request)
        .await
        .expect("join")
        .expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(probe.finished(WAIT).await, Ok(2 * CHUNK as u64));
}

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{
    within, GatewayBuilder, RawConnection, RawRequest, RawResponse, Route, TestUpstream, WAIT,
};

#[tokio::test(flavor = "multi_thread")]
async fn header_block_over_the_limit_gets_431() {
    let upstream = TestUpstream::echo("root").await;
    let gateway = GatewayBuilder::new()
        .route(Route::new("/", upstream.url()))
        .start()
        .await;

    // 20 KiB of headers against the default 16 KiB.
    let big = "a".repeat(20 * 1024);
    let response = RawRequest::get("/x")
        .header("X-Big", &big)
        .send(gateway.addr())
        .await;
    assert_eq!(response.status, 431);

    // Also when the block is many small headers.
    let mut request = RawRequest::get("/x");
    for i in 0..80 {
        request = request.header(&format!("X-Filler-{i}"), &"b".repeat(250));
    }
    let response = request.send(gateway.addr()).await;
    assert_eq!(response.status, 431);

    assert_eq!(upstream.hits(), 0);
    // Just under the limit is fine.
    let response = RawRequest::get("/x")
        .header("X-Big", &"a".repeat(12 * 1024))
        .send(gateway.addr())
        .await;
    assert_eq!(response.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn declared_content_length_over_the_body_limit_gets_413_before_the_body_is_sent() {
    let upstream = TestUpstream::echo("upload").await;
    let gateway = GatewayBuilder::new()
        .route(Route::new("/upload/", upstream.url()).body_limit("1KiB"))
        .start()
        .await;

    // Only the head is sent: the answer must not wait for a body.
    let response = RawRequest::new("POST", "/upload/x")
        .header("Content-Length", "2048")
        .header("Content-Type", "application/octet-stream")
        .send(gateway.addr())
        .await;
    assert_eq!(response.status, 413, "{}", response.text());
    assert!(response.body.len() < 200);
    assert_eq!(upstream.hits(), 0);

    // At the limit is fine.
    let response = RawRequest::new("POST", "/upload/x")
        .header("Content-Length", "1024")
        .body(&[b'x'; 1024])
        .send(gateway.addr())
        .await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json::<crate::support::Echoed>().body_bytes, 1024);
}

#[tokio::test(flavor = "multi_thread")]
async fn chunked_body_over_the_body_limit_gets_413_while_streaming() {
    let (upstream, probe) = TestUpstream::upload_sink().await;
    let gateway = GatewayBuilder::new()
        .route(Route::new("/upload/", upstream.url()).body_limit("64KiB"))
        .start()
        .await;

    const TOTAL: usize = 4 * 1024 * 1024;
    let stream = TcpStream::connect(gateway.addr()).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let head = RawRequest::new("POST", "/upload/x")
        .header("Transfer-Encoding", "chunked")
        .bytes();
    // The writer goes on until the gateway stops reading; its errors are expected.
    let writing = tokio::spawn(async move {
        writer.write_all(&head).await?;
        let piece = vec![b'z'; 16 * 1024];
        for _ in 0..TOTAL / piece.len() {
            writer
                .write_all(format!("{:x}\r\n", piece.len()).as_bytes())
                .await?;
            writer.write_all(&piece).await?;
            writer.write_all(b"\r\n").await?;
        }
        writer.write_all(b"0\r\n\r\n").await
    });

    let mut received = Vec::new();
    within(WAIT, "the 413", async {
        let mut buf = [0u8; 4096];
        loop {
            if RawResponse::parse(&received, false).is_some() {
                break;
            }
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let (response, _) = RawResponse::parse(&received, true).expect("a response");
    assert_eq!(response.status, 413, "{}", response.text());

    // The gateway may have cut the upstream request off mid-body, or before its head left
    // its buffers; either way the upstream never gets the whole body.
    upstream.all_connections_closed(WAIT).await;
    if upstream.hits() > 0 {
        let outcome = probe.finished(WAIT).await;
        assert!(
            outcome.is_err(),
            "the upstream received a complete body: {outcome:?}"
        );
    }
    assert!(
        probe.received() < TOTAL as u64,
        "the upstream received the full body"
    );
    writing.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn client_sending_its_headers_too_slowly_is_cut_off() {
    let upstream = TestUpstream::echo("root").await;
    let gateway = GatewayBuilder::new()
        .limit_line("header_timeout = \"1s\"")
        .route(Route::new("/", upstream.url()))
        .start()
        .await;

    let mut conn = RawConnection::connect(gateway.addr()).await;
    conn.write(b"GET /x HT").await.expect("write");
    let started = Instant::now();
    let received = conn.read_until_closed(Duration::from_secs(5)).await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(500),
        "closed before the timeout: {elapsed:?}"
    );
    if !received.is_empty() {
        let text = String::from_utf8_lossy(&received);
        assert!(
            text.starts_with("HTTP/1.1 408"),
            "only a 408 may come back: {text:?}"
        );
    }
    assert_eq!(upstream.hits(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_that_sends_nothing_is_cut_off() {
    let gateway = GatewayBuilder::new()
        .limit_line("header_timeout = \"1s\"")
        .route(Route::new("/", "static://204"))
        .start()
        .await;

    let mut conn = RawConnection::connect(gateway.addr()).await;
    let received = conn.read_until_closed(Duration::from_secs(5)).await;
    if !received.is_empty() {
        let text = String::from_utf8_lossy(&received);
        assert!(
            text.starts_with("HTTP/1.1 408"),
            "only a 408 may come back: {text:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn half_an_http2_preface_is_cut_off() {
    let gateway = GatewayBuilder::new()
        .limit_line("header_timeout = \"1s\"")
        .route(Route::new("/", "static://204"))
        .start()
        .await;

    let mut conn = RawConnection::connect(gateway.addr()).await;
    conn.write(b"PRI * HTTP/2.0\r\n").await.expect("write");
    conn.read_until_closed(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let gateway = GatewayBuilder::new()
        .limit_line("header_timeout = \"1s\"")
        .route(Route::new("/", "static://204"))
        .start()
        .await;

    let mut conn = RawConnection::connect(gateway.addr()).await;
    conn.write(&RawRequest::get("/x").keep_alive().bytes())
        .await
        .expect("write");
    let response = conn.read_response().await;
    assert_eq!(response.status, 204);
    // Then nothing more: the connection must not be kept open forever.
    let received = conn.read_until_closed(Duration::from_secs(5)).await;
    assert!(received.is_empty() || received.starts_with(b"HTTP/1.1 408"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_response_that_streams_longer_than_the_header_timeout_keeps_its_connection() {
    // The header timeout counts from the end of the last response, not from its start: a
    // download that takes longer than the timeout is not cut off, its connection serves the
    // next request, and only then, quiet again, is it closed.
    let (upstream, release) = TestUpstream::held_download(
        bytes::Bytes::from_static(b"first "),
        vec![bytes::Bytes::from_static(b"last")],
    )
    .await;
    let gateway = GatewayBuilder::new()
        .limit_line("header_timeout = \"1s\"")
        .route(Route::new("/ok/", "static://204"))
        .route(Route::new("/", upstream.url()))
        .start()
        .await;

    let mut conn = RawConnection::connect(gateway.addr()).await;
    conn.write(&RawRequest::get("/download").keep_alive().bytes())
        .await
        .expect("write");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    release.release();
    let response = conn.read_response().await;
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "first last");

    conn.write(&RawRequest::get("/ok/x").keep_alive().bytes())
        .await
        .expect("write");
    assert_eq!(conn.read_response().await.status, 204);
    let quiet = Instant::now();
    let received = conn.read_until_closed(Duration::from_secs(5)).await;
    assert!(received.is_empty() || received.starts_with(b"HTTP/1.1 408"));
    let waited = quiet.elapsed();
    assert!(
        waited >= Duration::from_millis(500),
        "closed before the timeout: {waited:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_body_does_not_hold_the_header_timeout_against_the_client() {
    // The header timeout is for headers only: a body that trickles in after complete headers
    // is the route's business, not a reason to cut the connection.
    let (upstream, probe) = TestUpstream::upload_sink().await;
    let gateway = GatewayBuilder::new()
        .limit_line("header_timeout = \"1s\"")
        .route(Route::new("/upload/", upstream.url()))
        .start()
        .await;

    let mut stream = TcpStream::connect(gateway.addr()).await.expect("connect");
    let head = RawRequest::new("POST", "/upload/x")
        .header("Content-Length", "6")
        .bytes();
    stream.write_all(&head).await.expect("head");
    stream.write_all(b"abc").await.expect("first half");
    within(WAIT, "the first body bytes upstream", probe.first_bytes()).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stream.write_all(b"def").await.expect("second half");
    let mut received = Vec::new();
    within(WAIT, "the response", stream.read_to_end(&mut received))
        .await
        .expect("read");
    let (response, _) = RawResponse::parse(&received, true).expect("a response");
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(probe.finished(WAIT).await, Ok(6));
}

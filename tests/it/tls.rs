use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http::Version;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::support::{
    client_builder, within, Echoed, GatewayBuilder, RawConnection, Route, TestGateway,
    TestUpstream, WAIT,
};

fn certificate(data_dir: &Path) -> Vec<u8> {
    std::fs::read(data_dir.join("tls/self-signed.pem")).expect("the generated certificate")
}

/// A client that trusts only the gateway's generated certificate (besides the public roots)
/// and resolves `localhost` to the gateway.
fn trusting_client(gateway: &TestGateway, http1_only: bool) -> reqwest::Client {
    let root = reqwest::Certificate::from_pem(&certificate(gateway.data_dir())).expect("PEM");
    let mut builder = client_builder()
        .add_root_certificate(root)
        .resolve("localhost", gateway.addr());
    if http1_only {
        builder = builder.http1_only();
    }
    builder.build().expect("client")
}

async fn tls_gateway(upstream: &TestUpstream, data_dir: &Path) -> TestGateway {
    GatewayBuilder::new()
        .tls_self_signed()
        .data_dir(data_dir)
        .route(Route::new("/", upstream.url()))
        .start()
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn self_signed_tls_serves_http2_and_http1() {
    let upstream = TestUpstream::echo("root").await;
    let data = tempfile::tempdir().expect("temp dir");
    let gateway = tls_gateway(&upstream, data.path()).await;

    for (http1_only, version) in [(false, Version::HTTP_2), (true, Version::HTTP_11)] {
        let client = trusting_client(&gateway, http1_only);
        let response = client
            .get(gateway.url("/hello?x=1"))
            .send()
            .await
            .expect("HTTPS request");
        assert_eq!(response.status(), 200);
        assert_eq!(response.version(), version);
        let echoed: Echoed = response.json().await.expect("JSON");
        assert_eq!(echoed.target(), "/hello?x=1");
        assert_eq!(echoed.header("x-forwarded-proto"), Some("https"));
        let host = format!("localhost:{}", gateway.addr().port());
        assert_eq!(echoed.header("x-forwarded-host"), Some(host.as_str()));
    }

    // A client that does not trust the certificate is refused.
    let untrusting = client_builder()
        .resolve("localhost", gateway.addr())
        .build()
        .expect("client");
    assert!(untrusting.get(gateway.url("/")).send().await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn self_signed_key_is_readable_only_by_its_owner() {
    let upstream = TestUpstream::echo("root").await;
    let data = tempfile::tempdir().expect("temp dir");
    let _gateway = tls_gateway(&upstream, data.path()).await;

    let key = std::fs::metadata(data.path().join("tls/self-signed.key")).expect("the key file");
    assert_eq!(key.permissions().mode() & 0o777, 0o600, "key file mode");
    let dir = std::fs::metadata(data.path().join("tls")).expect("the tls directory");
    assert_eq!(
        dir.permissions().mode() & 0o077,
        0,
        "tls directory open to others"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn self_signed_certificate_is_reused_on_the_next_start() {
    let upstream = TestUpstream::echo("root").await;
    let data = tempfile::tempdir().expect("temp dir");

    let first = tls_gateway(&upstream, data.path()).await;
    let generated = certificate(data.path());
    let key = std::fs::read(data.path().join("tls/self-signed.key")).expect("key");
    first.stop().await;

    let second = tls_gateway(&upstream, data.path()).await;
    assert_eq!(
        certificate(data.path()),
        generated,
        "the certificate was generated again"
    );
    assert_eq!(
        std::fs::read(data.path().join("tls/self-signed.key")).expect("key"),
        key
    );
    // And the second gateway serves it.
    let response = trusting_client(&second, false)
        .get(second.url("/"))
        .send()
        .await
        .expect("HTTPS request with the first certificate");
    assert_eq!(response.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_connection_that_never_starts_its_handshake_is_cut_off() {
    let data = tempfile::tempdir().expect("temp dir");
    let gateway = GatewayBuilder::new()
        .tls_self_signed()
        .data_dir(data.path())
        .limit_line("header_timeout = \"1s\"")
        .route(Route::new("/", "static://204"))
        .start()
        .await;
    let mut conn = RawConnection::connect(gateway.addr()).await;
    conn.read_until_closed(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_connection_that_sends_nothing_after_its_handshake_is_cut_off() {
    let data = tempfile::tempdir().expect("temp dir");
    let gateway = GatewayBuilder::new()
        .tls_self_signed()
        .data_dir(data.path())
        .limit_line("header_timeout = \"1s\"")
        .route(Route::new("/", "static://204"))
        .start()
        .await;

    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut certificate(data.path()).as_slice()) {
        roots.add(cert.expect("PEM certificate")).expect("root");
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(gateway.addr()).await.expect("connect");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let mut tls = within(WAIT, "the TLS handshake", connector.connect(name, tcp))
        .await
        .expect("handshake");

    // Handshake done, no request: the gateway must close within the header timeout.
    let mut buf = [0u8; 1024];
    within(
        Duration::from_secs(5),
        "the gateway to close an idle TLS connection",
        async {
            loop {
                match tls.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => continue,
                }
            }
        },
    )
    .await;
}

//! TLS session resumption (issue 17 item 3), with the real binary and a rustls client: a
//! second connection resumes (TLS 1.3 with a ticket, TLS 1.2 with a ticket or a session id),
//! and it still does after a reload (SIGHUP) that rebuilt the TLS configuration, because the
//! ticket keys and the session cache outlive configurations.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::Resumption;
use rustls::HandshakeKind;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::gateway::{GatewayBuilder, Route};
use crate::support::process::GatewayProcess;
use crate::support::{within, WAIT};

fn tls_builder(certs: &Path) -> GatewayBuilder {
    let tls = format!(
        "mode = \"files\"\ncert = {:?}\nkey = {:?}",
        certs.join("cert.pem").display().to_string(),
        certs.join("key.pem").display().to_string()
    );
    GatewayBuilder::new()
        .public_url("https://localhost")
        .tls_lines(&tls)
        .route(Route::new("/", "static://204"))
}

fn write_certificate(dir: &Path) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
}

/// A client of one TLS version that trusts the certificate in `certs` and keeps its
/// sessions (rustls's in-memory resumption store), with or without tickets.
fn client(
    certs: &Path,
    version: &'static rustls::SupportedProtocolVersion,
    tickets: bool,
) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(certs.join("cert.pem")).unwrap();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[version])
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    if !tickets {
        config.resumption = Resumption::in_memory_sessions(32)
            .tls12_resumption(rustls::client::Tls12Resumption::SessionIdOnly);
    }
    Arc::new(config)
}

/// One HTTP/1.1 request on a new connection; how its handshake went.
async fn handshake(gateway: &GatewayProcess, config: &Arc<rustls::ClientConfig>) -> HandshakeKind {
    let connector = tokio_rustls::TlsConnector::from(config.clone());
    let tcp = TcpStream::connect(gateway.addr()).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = within(WAIT, "the TLS handshake", connector.connect(name, tcp))
        .await
        .unwrap();
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    within(
        Duration::from_secs(10),
        "the answer",
        tls.read_to_end(&mut answer),
    )
    .await
    .unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    tls.get_ref().1.handshake_kind().unwrap()
}

#[tokio::test]
async fn tls_sessions_resume_and_survive_a_reload() {
    let certs = tempfile::tempdir().unwrap();
    write_certificate(certs.path());
    let gateway = GatewayProcess::start(tls_builder(certs.path())).await;

    let clients = [
        (
            "TLS 1.3 ticket",
            client(certs.path(), &rustls::version::TLS13, true),
        ),
        (
            "TLS 1.2 ticket",
            client(certs.path(), &rustls::version::TLS12, true),
        ),
        (
            "TLS 1.2 session id",
            client(certs.path(), &rustls::version::TLS12, false),
        ),
    ];
    for (what, config) in &clients {
        assert_eq!(
            handshake(&gateway, config).await,
            HandshakeKind::Full,
            "{what}"
        );
        // TLS 1.3 tickets arrive after the handshake; the first answer has been read, so
        // they are in the client's store by now.
        assert_eq!(
            handshake(&gateway, config).await,
            HandshakeKind::Resumed,
            "{what}"
        );
    }

    let text = tls_builder(certs.path())
        .log_line("format = \"json\"")
        .log_line("level = \"info\"")
        .toml(&gateway.dir().join("data"));
    std::fs::write(gateway.config_path(), text).unwrap();
    gateway.signal("HUP");
    let mut gateway = gateway;
    gateway
        .wait_for_log("configuration reloaded", Duration::from_secs(20))
        .await;
    for (what, config) in &clients {
        assert_eq!(
            handshake(&gateway, config).await,
            HandshakeKind::Resumed,
            "{what}, after the reload"
        );
    }

    // A client the gateway has never seen makes a full handshake: nothing is resumed for it.
    let fresh = client(certs.path(), &rustls::version::TLS13, true);
    assert_eq!(handshake(&gateway, &fresh).await, HandshakeKind::Full);
}

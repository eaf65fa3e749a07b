//! Configuration reload on SIGHUP, with the real binary: a route and a client
//! change under load and no request fails; a file `check` rejects is refused with a log line
//! and the running configuration keeps serving; a new TLS certificate is served to new
//! connections.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;

use crate::support::gateway::{GatewayBuilder, Route};
use crate::support::process::GatewayProcess;
use crate::support::upstream::{Echoed, TestUpstream};
use crate::support::{client_builder, within, WAIT};

const OLD_SECRET: &str = "reload-old-secret-Qv9cN1xZ6rT3yL8kP2wM5bH7jF0d";
const NEW_SECRET: &str = "reload-new-secret-Wc3Tn8qL1vB6xK9mZ2rY5pJ7hD0f";

fn client_section(secret: &str) -> String {
    format!(
        r#"[scopes]
"api:read" = "Read"

[[clients]]
id = "worker"
type = "confidential"
secret = "sha256:{}"
grants = ["client_credentials"]
scopes = ["api:read"]
"#,
        authgate::tokens::opaque::TokenHash::of(secret).to_hex()
    )
}

/// The configuration as `GatewayProcess::start` writes it (JSON logs at info).
fn write_config(gateway: &GatewayProcess, builder: GatewayBuilder) {
    let text = builder
        .log_line("format = \"json\"")
        .log_line("level = \"info\"")
        .toml(&gateway.dir().join("data"));
    std::fs::write(gateway.config_path(), text).unwrap();
}

/// Waits until the log holds `count` lines containing `needle`.
async fn wait_for_count(gateway: &GatewayProcess, needle: &str, count: usize) -> String {
    within(Duration::from_secs(20), needle, async {
        loop {
            let lines: Vec<String> = gateway
                .log()
                .into_iter()
                .filter(|l| l.contains(needle))
                .collect();
            if lines.len() >= count {
                return lines[count - 1].clone();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

async fn token_status(gateway: &GatewayProcess, secret: &str) -> StatusCode {
    client_builder()
        .build()
        .unwrap()
        .post(gateway.url("/oauth2/token"))
        .basic_auth("worker", Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .status()
}

async fn upstream_of(client: &reqwest::Client, url: &str) -> String {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    response.json::<Echoed>().await.unwrap().upstream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_and_a_client_change_under_load_and_no_request_fails() {
    let old = TestUpstream::echo("old").await;
    let new = TestUpstream::echo("new").await;
    let v1 = || {
        GatewayBuilder::new()
            .route(Route::new("/app/", old.url()))
            .toml_section(&client_section(OLD_SECRET))
    };
    let mut gateway = GatewayProcess::start(v1()).await;
    let client = client_builder().build().unwrap();
    assert_eq!(upstream_of(&client, &gateway.url("/app/x")).await, "old");
    assert_eq!(token_status(&gateway, OLD_SECRET).await, StatusCode::OK);

    // Load: keep-alive clients and a client opening a new connection per request.
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut load = Vec::new();
    for fresh in [false, false, false, true] {
        let url = gateway.url("/app/load");
        let stop = stop.clone();
        let done = done.clone();
        load.push(tokio::spawn(async move {
            let keep = client_builder().build().unwrap();
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let client = if fresh {
                    client_builder().pool_max_idle_per_host(0).build().unwrap()
                } else {
                    keep.clone()
                };
                match client.get(&url).send().await {
                    Ok(r) if r.status() == StatusCode::OK => {
                        if let Err(e) = r.bytes().await {
                            failures.push(format!("body: {e}"));
                        }
                    }
                    Ok(r) => failures.push(format!("status {}", r.status())),
                    Err(e) => failures.push(format!("error: {e}")),
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            failures
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    // v2: /app/ goes to the new upstream, a /more/ route appears, the client's secret changes.
    write_config(
        &gateway,
        GatewayBuilder::new()
            .route(Route::new("/app/", new.url()))
            .route(Route::new("/more/", old.url()))
            .toml_section(&client_section(NEW_SECRET)),
    );
    gateway.signal("HUP");
    wait_for_count(&gateway, "configuration reloaded", 1).await;
    assert_eq!(upstream_of(&client, &gateway.url("/app/x")).await, "new");
    assert_eq!(upstream_of(&client, &gateway.url("/more/x")).await, "old");
    assert_eq!(token_status(&gateway, NEW_SECRET).await, StatusCode::OK);
    assert_eq!(
        token_status(&gateway, OLD_SECRET).await,
        StatusCode::UNAUTHORIZED
    );
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A file `check` rejects: refused with a log line naming file, line and key; v2 serves on.
    let path = gateway.config_path().to_path_buf();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("upstream = ", "upstreem = ")).unwrap();
    gateway.signal("HUP");
    let refused = wait_for_count(&gateway, "configuration refused", 1).await;
    assert!(refused.contains("gateway.toml:"), "{refused}");
    assert!(refused.contains("upstreem"), "{refused}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(gateway.is_running());
    assert_eq!(upstream_of(&client, &gateway.url("/app/x")).await, "new");
    assert_eq!(token_status(&gateway, NEW_SECRET).await, StatusCode::OK);

    // On a slow machine the load may not have got far yet: let it, rather than fail.
    within(WAIT, "more than 20 requests of load", async {
        while done.load(Ordering::Relaxed) <= 20 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let mut failures = Vec::new();
    for task in load {
        failures.extend(task.await.unwrap());
    }
    assert!(failures.is_empty(), "failed requests: {failures:?}");
    assert!(
        done.load(Ordering::Relaxed) > 20,
        "the load ran: {} requests",
        done.load(Ordering::Relaxed)
    );
    assert_still_running(&mut gateway);
}

/// Regression (issue 13): these tests used to end with `wait_for_log("listening")`,
/// which asserted nothing (the line was logged at start-up). What they mean: the process
/// lived through every reload.
fn assert_still_running(gateway: &mut GatewayProcess) {
    assert!(
        gateway.is_running(),
        "the gateway exited after a reload: {:#?}",
        gateway.log()
    );
}

fn write_certificate(dir: &Path, name: &str) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
}

/// The status of `/healthz` on a fresh TLS connection from a client that trusts only the
/// certificate now in `dir` (502 standing for a refused handshake).
async fn served_certificate(gateway: &GatewayProcess, dir: &Path) -> reqwest::StatusCode {
    let pem = std::fs::read(dir.join("cert.pem")).unwrap();
    let root = reqwest::Certificate::from_pem(&pem).unwrap();
    let client = client_builder()
        .add_root_certificate(root)
        .tls_built_in_root_certs(false)
        .resolve("localhost", gateway.addr())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    match client
        .get(format!(
            "https://localhost:{}/healthz",
            gateway.addr().port()
        ))
        .send()
        .await
    {
        Ok(r) => r.status(),
        Err(_) => StatusCode::BAD_GATEWAY,
    }
}

#[tokio::test]
async fn a_new_tls_certificate_is_served_after_a_reload() {
    let certs = tempfile::tempdir().unwrap();
    write_certificate(certs.path(), "first");
    let builder = || GatewayBuilder::new().public_url("https://localhost");
    let tls = format!(
        "mode = \"files\"\ncert = {:?}\nkey = {:?}",
        certs.path().join("cert.pem").display().to_string(),
        certs.path().join("key.pem").display().to_string()
    );
    let mut gateway = GatewayProcess::start(builder().tls_lines(&tls)).await;
    // The client trusts exactly the certificate in the files right now.
    let first = std::fs::read(certs.path().join("cert.pem")).unwrap();
    assert_eq!(
        served_certificate(&gateway, certs.path()).await,
        StatusCode::OK
    );

    write_certificate(certs.path(), "second");
    assert_ne!(std::fs::read(certs.path().join("cert.pem")).unwrap(), first);
    // Before the reload, the old certificate is still served: a client trusting only the new
    // one refuses it.
    assert_eq!(
        served_certificate(&gateway, certs.path()).await,
        StatusCode::BAD_GATEWAY
    );
    write_config(&gateway, builder().tls_lines(&tls));
    gateway.signal("HUP");
    wait_for_count(&gateway, "configuration reloaded", 1).await;
    assert_eq!(
        served_certificate(&gateway, certs.path()).await,
        StatusCode::OK
    );
    assert_still_running(&mut gateway);
}

/// `[tokens]` with `signing_key` and `previous_keys` from files in the gateway's directory.
fn keys_section(gateway_dir: &Path, signing: &str, previous: &[&str]) -> String {
    let path = |name: &str| gateway_dir.join(name).display().to_string();
    let previous: Vec<String> = previous
        .iter()
        .map(|name| format!("\"file:{}\"", path(name)))
        .collect();
    format!(
        "[tokens]\nsigning_key = \"file:{}\"\nprevious_keys = [{}]\n",
        path(signing),
        previous.join(", ")
    )
}

async fn bearer_status(
    client: &reqwest::Client,
    gateway: &GatewayProcess,
    token: &str,
) -> StatusCode {
    client
        .get(gateway.url("/api/x"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_key_taken_out_of_previous_keys_stops_verifying_at_the_reload_even_for_a_token_just_used()
{
    let upstream = TestUpstream::echo("api").await;
    let builder = |dir: &Path, signing: &str, previous: &[&str]| {
        GatewayBuilder::new()
            .route(
                Route::new("/api/", upstream.url())
                    .set_str("auth", "bearer")
                    .set("scopes", "[\"api:read\"]"),
            )
            .toml_section(&client_section(OLD_SECRET))
            .toml_section(&keys_section(dir, signing, previous))
    };
    let dir = tempfile::tempdir().unwrap();
    for (name, fill) in [("k1.key", b'1'), ("k2.key", b'2')] {
        let key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [fill; 32]);
        std::fs::write(dir.path().join(name), key).unwrap();
    }
    let gateway = GatewayProcess::start(builder(dir.path(), "k1.key", &[])).await;
    let client = client_builder().build().unwrap();
    let token = client
        .post(gateway.url("/oauth2/token"))
        .basic_auth("worker", Some(OLD_SECRET))
        .form(&[("grant_type", "client_credentials"), ("scope", "api:read")])
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Used twice: verified once, then answered from the gateway's cache of verified tokens.
    for _ in 0..2 {
        assert_eq!(
            bearer_status(&client, &gateway, &token).await,
            StatusCode::OK
        );
    }

    // Rotation: k2 signs, k1 still verifies.
    write_config(&gateway, builder(dir.path(), "k2.key", &["k1.key"]));
    gateway.signal("HUP");
    wait_for_count(&gateway, "configuration reloaded", 1).await;
    assert_eq!(
        bearer_status(&client, &gateway, &token).await,
        StatusCode::OK
    );

    // End of the rotation: k1 is gone, and so is every token it signed.
    write_config(&gateway, builder(dir.path(), "k2.key", &[]));
    gateway.signal("HUP");
    wait_for_count(&gateway, "configuration reloaded", 2).await;
    assert_eq!(
        bearer_status(&client, &gateway, &token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(upstream.hits(), 3);
}

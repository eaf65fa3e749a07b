//! A real browser: Debian's `chromium`, driven by `chromedriver` over WebDriver (the
//! fantoccini crate, plain HTTP on loopback, so no TLS stack of its own).
//!
//! Both programs must be installed (`tests/run.sh`, the README's test command, installs
//! them). A machine without them fails the test saying so, rather than skipping it.
//! `CHROMIUM` and `CHROMEDRIVER` name other binaries.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use super::{within, WAIT};

/// The flags the browser runs with: headless, no sandbox (containers run as root), nothing
/// that phones home, and the gateway's self-signed certificate accepted.
pub const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--ignore-certificate-errors",
];

/// `name` on `PATH` (or the file the environment variable `var` names).
fn program(var: &str, names: &[&str], package: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(var) {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "{var}={} does not exist", path.display());
        return path;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in names {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "the real-browser test needs {} on PATH, which is not installed. Run the README's \
         test command, tests/run.sh, which installs it (Debian's package `{package}`: \
         apt-get install chromium chromium-driver), or set {var} to the program",
        names.join(" or "),
        package = package,
    );
}

/// A chromedriver child process and a WebDriver session with a fresh Chromium profile.
/// Dropping it kills chromedriver (and with it the browser).
pub struct Chromium {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Chromium {
    /// Starts chromedriver on a free port and a headless Chromium session through it.
    pub async fn start() -> Chromium {
        let chromium = program("CHROMIUM", &["chromium", "chromium-browser"], "chromium");
        let chromedriver = program("CHROMEDRIVER", &["chromedriver"], "chromium-driver");
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("local addr").port()
        };
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot run {}: {err}", chromedriver.display()));
        let mut guard = DriverGuard(Some(driver));
        let url = format!("http://127.0.0.1:{port}");
        wait_ready(&url).await;

        let profile = tempfile::tempdir().expect("profile dir");
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| (*a).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".to_owned(), json!("chrome"));
        capabilities.insert("acceptInsecureCerts".to_owned(), json!(true));
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            json!({ "binary": chromium.display().to_string(), "args": args }),
        );
        let client = within(
            Duration::from_secs(60),
            "a Chromium session from chromedriver",
            ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities)
                .connect(&url),
        )
        .await
        .unwrap_or_else(|err| panic!("chromedriver could not start Chromium: {err}"));
        Chromium {
            client,
            driver: guard.0.take().expect("driver"),
            _profile: profile,
        }
    }

    /// Ends the browser session, then chromedriver.
    pub async fn quit(mut self) {
        let _ = within(WAIT, "closing the browser", self.client.clone().close()).await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Kills chromedriver should starting the session fail.
struct DriverGuard(Option<Child>);

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits until chromedriver answers `GET /status` with `ready: true`.
async fn wait_ready(url: &str) {
    let client = super::http_client();
    let status = format!("{url}/status");
    within(Duration::from_secs(20), "chromedriver to be ready", async {
        loop {
            if let Ok(response) = client.get(&status).send().await {
                if let Ok(answer) = response.json::<serde_json::Value>().await {
                    if answer["value"]["ready"] == true {
                        return;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
}

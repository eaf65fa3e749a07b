//! The gateway under test: a configuration builder, and the gateway run in-process on an
//! ephemeral port with [`authgate::server::Server`].
//!
//! The builder writes real `gateway.toml` text, so what the tests run is exactly what an
//! operator could write; the same text feeds the binary in [`super::process`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use authgate::config::Config;
use authgate::server::Server;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// One `[[routes]]` entry. `auth = "none"` unless set otherwise.
#[derive(Debug, Clone)]
pub struct Route {
    path: String,
    upstream: String,
    lines: Vec<(String, String)>,
}

impl Route {
    /// A route for `path` to `upstream` (any upstream string the config accepts).
    pub fn new(path: &str, upstream: impl Into<String>) -> Route {
        Route {
            path: path.to_owned(),
            upstream: upstream.into(),
            lines: vec![("auth".to_owned(), toml_string("none"))],
        }
    }

    /// Sets `key` to `value`, written as TOML (so strings need their quotes: `"\"1s\""`).
    pub fn set(mut self, key: &str, toml_value: &str) -> Route {
        self.lines.retain(|(k, _)| k != key);
        self.lines.push((key.to_owned(), toml_value.to_owned()));
        self
    }

    /// Sets `key` to the string `value`.
    pub fn set_str(self, key: &str, value: &str) -> Route {
        self.set(key, &toml_string(value))
    }

    pub fn host(self, host: &str) -> Route {
        self.set_str("host", host)
    }

    pub fn strip_prefix(self) -> Route {
        self.set("strip_prefix", "true")
    }

    pub fn preserve_host(self) -> Route {
        self.set("preserve_host", "true")
    }

    pub fn body_limit(self, size: &str) -> Route {
        self.set_str("body_limit", size)
    }

    pub fn response_timeout(self, duration: &str) -> Route {
        self.set_str("response_timeout", duration)
    }

    fn write(&self, out: &mut String) {
        out.push_str("\n[[routes]]\n");
        out.push_str(&format!("path = {}\n", toml_string(&self.path)));
        out.push_str(&format!("upstream = {}\n", toml_string(&self.upstream)));
        for (key, value) in &self.lines {
            out.push_str(&format!("{key} = {value}\n"));
        }
    }
}

/// A `gateway.toml` for tests: listens on `127.0.0.1:0`, TLS off, public URL
/// `http://127.0.0.1`, unless told otherwise.
#[derive(Debug, Clone)]
pub struct GatewayBuilder {
    public_url: String,
    data_dir: Option<PathBuf>,
    server: Vec<String>,
    tls: Vec<String>,
    limits: Vec<String>,
    log: Vec<String>,
    routes: Vec<Route>,
    sections: Vec<String>,
}

impl Default for GatewayBuilder {
    fn default() -> Self {
        GatewayBuilder::new()
    }
}

impl GatewayBuilder {
    pub fn new() -> GatewayBuilder {
        GatewayBuilder {
            public_url: "http://127.0.0.1".to_owned(),
            data_dir: None,
            server: Vec::new(),
            tls: vec![format!("mode = {}", toml_string("off"))],
            limits: Vec::new(),
            log: Vec::new(),
            routes: Vec::new(),
            sections: Vec::new(),
        }
    }

    pub fn route(mut self, route: Route) -> GatewayBuilder {
        self.routes.push(route);
        self
    }

    /// A raw line under `[server]`, e.g. `trusted_proxies = ["127.0.0.1"]`.
    pub fn server_line(mut self, line: &str) -> GatewayBuilder {
        self.server.push(line.to_owned());
        self
    }

    /// A raw line under `[server.limits]`, e.g. `header_timeout = "1s"`.
    pub fn limit_line(mut self, line: &str) -> GatewayBuilder {
        self.limits.push(line.to_owned());
        self
    }

    /// A raw line under `[log]`.
    pub fn log_line(mut self, line: &str) -> GatewayBuilder {
        self.log.push(line.to_owned());
        self
    }

    /// `[server.tls] mode = "self-signed"`, with `public_url = "https://localhost"`.
    pub fn tls_self_signed(mut self) -> GatewayBuilder {
        self.tls = vec![format!("mode = {}", toml_string("self-signed"))];
        self.public_url = "https://localhost".to_owned();
        self
    }

    /// Sets `public_url` (e.g. `https://localhost:PORT` when the port is chosen up front).
    pub fn public_url(mut self, url: &str) -> GatewayBuilder {
        self.public_url = url.to_owned();
        self
    }

    /// Replaces the `[server.tls]` lines (by default `mode = "off"`).
    pub fn tls_lines(mut self, lines: &str) -> GatewayBuilder {
        self.tls = lines.lines().map(str::to_owned).collect();
        self
    }

    /// Raw TOML appended after everything else, e.g. `[tokens]`, `[scopes]`, `[[users]]`,
    /// `[[clients]]` sections.
    pub fn toml_section(mut self, text: &str) -> GatewayBuilder {
        self.sections.push(text.to_owned());
        self
    }

    /// Uses `dir` as `data_dir` (by default each gateway gets a fresh temporary one).
    pub fn data_dir(mut self, dir: &Path) -> GatewayBuilder {
        self.data_dir = Some(dir.to_path_buf());
        self
    }

    /// The configuration text, with `data_dir` as given.
    pub fn toml(&self, data_dir: &Path) -> String {
        let mut out = String::from("[server]\n");
        out.push_str("listen = \"127.0.0.1:0\"\n");
        out.push_str(&format!("public_url = {}\n", toml_string(&self.public_url)));
        out.push_str(&format!(
            "data_dir = {}\n",
            toml_string(&data_dir.display().to_string())
        ));
        for line in &self.server {
            out.push_str(line);
            out.push('\n');
        }
        out.push_str("\n[server.tls]\n");
        for line in &self.tls {
            out.push_str(line);
            out.push('\n');
        }
        if !self.limits.is_empty() {
            out.push_str("\n[server.limits]\n");
            for line in &self.limits {
                out.push_str(line);
                out.push('\n');
            }
        }
        if !self.log.is_empty() {
            out.push_str("\n[log]\n");
            for line in &self.log {
                out.push_str(line);
                out.push('\n');
            }
        }
        for route in &self.routes {
            route.write(&mut out);
        }
        for section in &self.sections {
            out.push('\n');
            out.push_str(section);
            out.push('\n');
        }
        // Many gateways run at once: the admin listener takes any free port unless a test
        // configures it.
        if !self
            .sections
            .iter()
            .any(|s| s.trim_start().starts_with("[admin]"))
        {
            out.push_str("\n[admin]\nlisten = \"127.0.0.1:0\"\n");
        }
        out
    }

    pub(super) fn chosen_data_dir(&self) -> Option<&Path> {
        self.data_dir.as_deref()
    }

    pub(super) fn is_tls(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// Starts the gateway in this process; it stops when the handle is dropped.
    pub async fn start(self) -> TestGateway {
        let (data_dir, temp) = match &self.data_dir {
            Some(dir) => (dir.clone(), None),
            None => {
                let temp = tempfile::tempdir().expect("temp dir");
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        let text = self.toml(&data_dir);
        let mut config = Config::from_toml_str(&text)
            .unwrap_or_else(|err| panic!("test configuration rejected: {err}\n{text}"));
        quiet_access_log(&mut config);
        let server = Server::bind(&config)
            .await
            .unwrap_or_else(|err| panic!("gateway did not start: {err}"));
        let addr = server.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            // Fired by `stop`, or by dropping the handle.
            let _ = stopped.await;
        }));
        TestGateway {
            addr,
            tls: self.is_tls(),
            data_dir,
            stop: Some(stop),
            task: Some(task),
            _temp: temp,
        }
    }
}

/// A gateway running in this process. Dropping it begins its graceful shutdown.
pub struct TestGateway {
    addr: SocketAddr,
    tls: bool,
    data_dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    _temp: Option<tempfile::TempDir>,
}

impl TestGateway {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT{path}`, or `https://localhost:PORT{path}` with TLS (resolve
    /// `localhost` to [`TestGateway::addr`] in the client).
    pub fn url(&self, path: &str) -> String {
        if self.tls {
            format!("https://localhost:{}{path}", self.addr.port())
        } else {
            format!("http://{}{path}", self.addr)
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Shuts the gateway down and waits until its listener is closed and it has drained.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            super::within(super::WAIT, "gateway shutdown", task)
                .await
                .expect("gateway task");
        }
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Sends the access lines of a gateway run in this process to `/dev/null` unless its
/// configuration names a file: on standard output they would fill the test run's output.
/// (They are formatted and written all the same; the binary's tests read them.)
pub fn quiet_access_log(config: &mut Config) {
    if config.log.access_file.is_none() {
        config.log.access_file = Some(PathBuf::from("/dev/null"));
    }
}

/// `value` as a TOML basic string.
pub fn toml_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

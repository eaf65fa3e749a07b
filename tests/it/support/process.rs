//! The real `authgate` binary: one-shot commands ([`authgate`]) and a running gateway
//! ([`GatewayProcess`]) whose port is read from its JSON log line `authgate listening`.
//!
//! Standard error and standard output (where the access log goes unless `[log] access_file`
//! names a file) are drained by a thread each for the life of the child (a full pipe would
//! block the gateway), and every line is kept so tests can wait for a log line as a signal.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::gateway::GatewayBuilder;
use super::within;

/// The binary cargo built for this test run.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_authgate")
}

/// A `Command` for the binary with an environment that cannot leak into the test:
/// no `RUST_LOG`, no `AUTHGATE_CONFIG`.
pub fn command(dir: &Path) -> Command {
    let mut command = Command::new(binary());
    command
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("AUTHGATE_CONFIG")
        .stdin(Stdio::null());
    command
}

/// Runs `authgate ARGS --config CONFIG` in the configuration's folder, off the async
/// runtime (the admin commands talk to a gateway this test runs).
pub async fn cli(config: &Path, args: &[&str]) -> Output {
    let mut full: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    full.push("--config".into());
    full.push(config.display().to_string());
    let dir = config
        .parent()
        .expect("the configuration's folder")
        .to_path_buf();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = full.iter().map(String::as_str).collect();
        authgate(&dir, &args, &[])
    })
    .await
    .expect("the command's thread")
}

/// Runs `authgate ARGS` in `dir` with extra environment variables, to completion (at most
/// 30 s: a command that should fail at once must not hang the suite by serving).
pub fn authgate(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = command(dir);
    command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let child = command.spawn().expect("run authgate");
    let pid = child.id();
    let (done, output) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match output.recv_timeout(Duration::from_secs(30)) {
        Ok(output) => output.expect("authgate output"),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("`authgate {}` did not finish within 30s", args.join(" "));
        }
    }
}

/// `authgate serve` running as a child process. Killed when dropped.
pub struct GatewayProcess {
    child: Child,
    addr: SocketAddr,
    lines: Arc<Mutex<Vec<String>>>,
    new_line: Arc<Notify>,
    config_path: PathBuf,
    dir: tempfile::TempDir,
}

impl GatewayProcess {
    /// Writes the builder's configuration (with JSON logs) into a temporary directory,
    /// starts `authgate serve --config FILE` there, and waits until it listens.
    pub async fn start(builder: GatewayBuilder) -> GatewayProcess {
        let builder = builder
            .log_line("format = \"json\"")
            .log_line("level = \"info\"");
        GatewayProcess::start_with_config(|dir| {
            let data_dir = builder
                .chosen_data_dir()
                .map_or_else(|| dir.join("data"), Path::to_path_buf);
            builder.toml(&data_dir)
        })
        .await
    }

    /// Starts the gateway on the configuration text `config` builds for a fresh temporary
    /// directory (where the file is written, and the process runs). The text must listen on
    /// `127.0.0.1:0` and log JSON at level info, so that the port can be read.
    pub async fn start_with_config(config: impl FnOnce(&Path) -> String) -> GatewayProcess {
        let dir = tempfile::tempdir().expect("temp dir");
        let config_path = dir.path().join("gateway.toml");
        std::fs::write(&config_path, config(dir.path())).expect("write config");

        let mut child = command(dir.path())
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn authgate serve");

        let lines = Arc::new(Mutex::new(Vec::new()));
        let new_line = Arc::new(Notify::new());
        let stderr = child.stderr.take().expect("stderr pipe");
        let stdout = child.stdout.take().expect("stdout pipe");
        drain(Box::new(stderr), &lines, &new_line);
        drain(Box::new(stdout), &lines, &new_line);

        let mut process = GatewayProcess {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            lines,
            new_line,
            config_path,
            dir,
        };
        let line = process
            .wait_for_log("\"authgate listening\"", Duration::from_secs(30))
            .await;
        process.addr = listen_addr(&line)
            .unwrap_or_else(|| panic!("no \"listen\" address in the log line {line}"));
        process
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The directory the process runs in, which holds its configuration file.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Sends `signal` (a name such as `TERM`) with kill(1).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Every stderr and stdout line so far.
    pub fn log(&self) -> Vec<String> {
        self.lines.lock().expect("lines lock").clone()
    }

    /// Waits for a stderr or stdout line containing `needle` and returns it; panics after `limit`,
    /// showing what was logged.
    pub async fn wait_for_log(&mut self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let notified = self.new_line.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(line) = self.log().into_iter().find(|l| l.contains(needle)) {
                return line;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // Let the reader thread catch up with the last lines.
                tokio::time::sleep(Duration::from_millis(100)).await;
                if let Some(line) = self.log().into_iter().find(|l| l.contains(needle)) {
                    return line;
                }
                panic!(
                    "authgate exited ({status}) without logging {needle:?}; its log:\n{}",
                    self.log().join("\n")
                );
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!(
                    "authgate did not log {needle:?} within {limit:?}; its log:\n{}",
                    self.log().join("\n")
                );
            }
            // The process may exit without a new line: look again at least every 100 ms.
            let _ = tokio::time::timeout(left.min(Duration::from_millis(100)), notified).await;
        }
    }

    /// Waits (bounded by `limit`) for the process to exit.
    pub async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        within(limit, "authgate to exit", async {
            loop {
                if let Some(status) = self.child.try_wait().expect("try_wait") {
                    return status;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Keeps every line of `stream` in `lines`, on a thread of its own, until it ends.
fn drain(
    stream: Box<dyn std::io::Read + Send>,
    lines: &Arc<Mutex<Vec<String>>>,
    new_line: &Arc<Notify>,
) {
    let lines = lines.clone();
    let new_line = new_line.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            lines.lock().expect("lines lock").push(line);
            new_line.notify_waiters();
        }
        // End of stream: wake waiters so they see the process is gone.
        new_line.notify_waiters();
    });
}

/// The `"listen":"127.0.0.1:PORT"` field of a JSON log line.
fn listen_addr(line: &str) -> Option<SocketAddr> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let listen = value
        .get("listen")
        .or_else(|| value.get("fields")?.get("listen"))?;
    listen.as_str()?.parse().ok()
}

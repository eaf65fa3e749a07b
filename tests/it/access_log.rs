//! The access log as an operator runs it: the real binary writing to a file, in logfmt and
//! (after a reload) JSON; every line of requests just served in the file after SIGTERM;
//! SIGUSR1 after logrotate's rename sends new lines to a new file; a destination that takes
//! nothing costs dropped lines, counted and reported, never a stalled request.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::{
    http_client, within, GatewayBuilder, GatewayProcess, RawRequest, Route, TestUpstream, WAIT,
};

fn builder(upstream: &TestUpstream, log_lines: &[&str]) -> GatewayBuilder {
    let mut builder = GatewayBuilder::new().route(Route::new("/api/", upstream.url()));
    for line in log_lines {
        builder = builder.log_line(line);
    }
    builder
}

fn read(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Waits until `path` holds a line containing `needle`, and returns it.
async fn line_with(path: &Path, needle: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(line) = read(path).into_iter().find(|l| l.contains(needle)) {
            return line;
        }
        assert!(
            Instant::now() < deadline,
            "no line with {needle:?} in {}: {:#?}",
            path.display(),
            read(path)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// GETs `path` and returns the response's `X-Request-Id`.
async fn get(gateway: &GatewayProcess, path: &str) -> String {
    let response = http_client()
        .get(gateway.url(path))
        .send()
        .await
        .expect("request");
    response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("an id")
        .to_owned()
}

/// The admin listener's `/metrics`, at the address the start line names.
async fn metrics(gateway: &GatewayProcess) -> String {
    let started = gateway
        .log()
        .into_iter()
        .find(|l| l.contains("authgate listening"))
        .expect("the start line");
    let started: serde_json::Value = serde_json::from_str(&started).expect("JSON");
    let admin = started["admin"]
        .as_str()
        .or_else(|| started["fields"]["admin"].as_str())
        .expect("an admin address")
        .to_owned();
    http_client()
        .get(format!("http://{admin}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

fn access_file(gateway: &GatewayProcess) -> PathBuf {
    gateway.dir().join("access.log")
}

#[tokio::test(flavor = "multi_thread")]
async fn lines_in_a_file_as_logfmt_then_as_json_after_a_reload() {
    let upstream = TestUpstream::echo("api").await;
    let logfmt = ["access_file = \"access.log\"", "access_format = \"logfmt\""];
    let mut gateway = GatewayProcess::start(builder(&upstream, &logfmt)).await;
    let file = access_file(&gateway);

    let response = http_client()
        .get(gateway.url("/api/orders?code=SECRET-CODE"))
        .header("Authorization", "Bearer SECRET-TOKEN")
        .header("Cookie", "__Host-authgate-session=SECRET-COOKIE")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let line = line_with(&file, &format!("request_id={id}")).await;
    let fields: Vec<&str> = line
        .split(' ')
        .map(|f| f.split('=').next().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "timestamp",
            "method",
            "path",
            "status",
            "route",
            "upstream",
            "reason",
            "peer",
            "bytes",
            "duration_ms",
            "complete",
            "request_id"
        ],
        "{line}"
    );
    assert!(
        line.contains(" method=GET path=/api/orders status=200 route=/api/ "),
        "{line}"
    );
    assert!(line.contains(&format!(
        " upstream={} reason=- peer=127.0.0.1:",
        upstream.url()
    )));
    assert!(line.contains(" complete=true "), "{line}");
    assert!(!line.contains("SECRET"), "{line}");

    // A path with a quote and an escaped newline: one line, quoted.
    let odd = RawRequest::get("/nowhere/%0a\"x")
        .send(gateway.addr())
        .await;
    let id = odd.header("x-request-id").unwrap().to_owned();
    let line = line_with(&file, &format!("request_id={id}")).await;
    let expected = format!(" path=\"/nowhere/%0a\\\"x\" status={} route=- ", odd.status);
    assert!(line.contains(&expected), "{line}");
    // The access lines are not on the tracing output.
    assert!(!gateway.log().iter().any(|l| l.contains("/api/orders")));

    // The format reloads live, and the reload reopens the same file (appending).
    let json = ["access_file = \"access.log\"", "access_format = \"json\""];
    let text = builder(&upstream, &json)
        .log_line("format = \"json\"")
        .log_line("level = \"info\"")
        .toml(&gateway.dir().join("data"));
    std::fs::write(gateway.config_path(), text).unwrap();
    gateway.signal("HUP");
    gateway.wait_for_log("access log reopened", WAIT).await;
    let id = get(&gateway, "/api/json").await;
    let line = line_with(&file, &format!("\"request_id\":\"{id}\"")).await;
    let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
    assert_eq!(v["method"], "GET");
    assert_eq!(v["path"], "/api/json");
    assert_eq!(v["status"], 200);
    assert_eq!(v["route"], "/api/");
    assert_eq!(v["reason"], "-");
    assert_eq!(v["complete"], true);
    assert!(v["bytes"].as_u64().unwrap() > 0);
    assert!(v["duration_ms"].as_f64().unwrap() >= 0.0);
    assert!(read(&file).len() >= 3, "the earlier lines are still there");

    assert!(
        metrics(&gateway)
            .await
            .contains("authgate_access_log_dropped_total 0"),
        "no drop counter on /metrics"
    );
}

/// Requests answered just before SIGTERM, and one still in flight when it came: every one
/// has its line in the file when the process has exited, though the 200 ms timer never ran.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_loses_no_line_of_requests_just_served() {
    let upstream = TestUpstream::echo("api").await;
    let (slow, gate) = TestUpstream::gated("slow").await;
    let mut gateway = GatewayProcess::start(
        builder(&upstream, &["access_file = \"access.log\""])
            .route(Route::new("/slow/", slow.url())),
    )
    .await;
    let file = access_file(&gateway);

    let in_flight = tokio::spawn({
        let url = gateway.url("/slow/last");
        async move { http_client().get(url).send().await }
    });
    gate.arrived().await;

    let mut ids = BTreeSet::new();
    for round in 0..10 {
        let batch: Vec<_> = (0..20)
            .map(|i| {
                let url = gateway.url(&format!("/api/{round}/{i}"));
                tokio::spawn(async move { http_client().get(url).send().await })
            })
            .collect();
        for request in batch {
            let response = request.await.unwrap().unwrap();
            ids.insert(
                response.headers()["x-request-id"]
                    .to_str()
                    .unwrap()
                    .to_owned(),
            );
        }
    }
    assert_eq!(ids.len(), 200);

    gateway.signal("TERM");
    gateway.wait_for_log("listener closed", WAIT).await;
    gate.release();
    let last = within(WAIT, "the in-flight response", in_flight)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last.status(), 200);
    ids.insert(last.headers()["x-request-id"].to_str().unwrap().to_owned());
    let status = gateway.wait_exit(WAIT).await;
    assert_eq!(status.code(), Some(0), "{}", gateway.log().join("\n"));

    let lines = read(&file);
    // JSON, as `format = "json"` (GatewayProcess) makes it by default.
    let parsed: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let logged: BTreeSet<String> = parsed
        .iter()
        .map(|v| v["request_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(lines.len(), 201, "one line per request, no more");
    assert_eq!(logged, ids, "the lines are those of the requests");
    assert!(parsed
        .iter()
        .any(|v| v["path"] == "/slow/last" && v["status"] == 200 && v["complete"] == true));
}

#[tokio::test(flavor = "multi_thread")]
async fn sigusr1_after_a_rename_sends_new_lines_to_a_new_file() {
    let upstream = TestUpstream::echo("api").await;
    let mut gateway =
        GatewayProcess::start(builder(&upstream, &["access_file = \"access.log\""])).await;
    let file = access_file(&gateway);
    let before = get(&gateway, "/api/before").await;
    line_with(&file, &before).await;

    // What logrotate does: rename, then the postrotate signal.
    let rotated = gateway.dir().join("access.log.1");
    std::fs::rename(&file, &rotated).unwrap();
    gateway.signal("USR1");
    gateway.wait_for_log("access log reopened", WAIT).await;
    let after = get(&gateway, "/api/after").await;
    line_with(&file, &after).await;

    let old = read(&rotated);
    assert!(old.iter().any(|l| l.contains(&before)), "{old:#?}");
    assert!(!old.iter().any(|l| l.contains(&after)), "{old:#?}");
    assert!(!read(&file).iter().any(|l| l.contains(&before)));
    assert!(gateway.is_running(), "SIGUSR1 ended the gateway");
}

/// A FIFO nobody reads: the pipe fills, the writer blocks in `write`. Requests go on being
/// answered at once; what does not fit is dropped, counted on /metrics and told in a warn
/// line.
#[tokio::test(flavor = "multi_thread")]
async fn a_destination_that_takes_nothing_costs_lines_not_requests() {
    let upstream = TestUpstream::echo("api").await;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("stuck");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    // Opened for reading (without waiting for a writer), never read.
    let _reader = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .unwrap()
    };
    let line = format!("access_file = \"{}\"", fifo.display());
    let gateway = GatewayProcess::start(builder(&upstream, &[&line])).await;

    // Lines of about 12 KiB each: the 64 KiB pipe and the 4 MiB queue fill within ~400.
    let long = "x".repeat(12 * 1024);
    let client = http_client();
    let start = Instant::now();
    for i in 0..600 {
        let response = within(
            Duration::from_secs(5),
            "a request while the log is stuck",
            client.get(gateway.url(&format!("/api/{i}/{long}"))).send(),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), 200);
    }
    let elapsed = start.elapsed();

    let deadline = Instant::now() + WAIT;
    let dropped = loop {
        let text = metrics(&gateway).await;
        let dropped: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("authgate_access_log_dropped_total "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        if dropped > 0 || Instant::now() > deadline {
            break dropped;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(dropped > 0, "nothing counted as dropped ({elapsed:?})");
    assert!(dropped < 600, "{dropped}");
    let warning = gateway
        .log()
        .into_iter()
        .find(|l| l.contains("access log lines dropped"))
        .expect("a warn line about the drops");
    assert!(warning.contains("\"dropped\":"), "{warning}");
}

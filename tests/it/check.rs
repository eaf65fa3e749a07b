use std::path::{Path, PathBuf};

use crate::support::authgate;

const HEAD: &str = r#"[server]
listen = "127.0.0.1:0"
public_url = "http://127.0.0.1"

[server.tls]
mode = "off"
"#;

/// A broken configuration: its text, where the error is (the line holding `#!`), and the
/// key the message must name (`None` for a syntax error, which belongs to no key).
struct Broken {
    text: String,
    key: Option<&'static str>,
}

impl Broken {
    fn new(body: &str, key: Option<&'static str>) -> Broken {
        Broken {
            text: format!("{HEAD}{body}"),
            key,
        }
    }

    fn line(&self) -> usize {
        self.text
            .lines()
            .position(|l| l.contains("#!"))
            .expect("a #! marker")
            + 1
    }

    fn write(&self, dir: &Path) -> PathBuf {
        let path = dir.join("gateway.toml");
        std::fs::write(&path, &self.text).expect("write config");
        path
    }

    /// `FILE:LINE: key:` (or `FILE:LINE:` without a key).
    fn expected_prefix(&self, path: &Path) -> String {
        match self.key {
            Some(key) => format!("{}:{}: {key}:", path.display(), self.line()),
            None => format!("{}:{}:", path.display(), self.line()),
        }
    }
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `check` exits 2 with one line on stderr naming the file, the line and the key.
fn assert_check_refuses(broken: &Broken) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = broken.write(dir.path());
    let path_arg = path.to_str().expect("utf-8 path");
    let output = authgate(dir.path(), &["check", "--config", path_arg], &[]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "exit code; stderr: {err}");
    let expected = broken.expected_prefix(&path);
    assert!(
        err.contains(&expected),
        "stderr should contain {expected:?}: {err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert_eq!(
        stdout(&output),
        "",
        "nothing on stdout for a bad configuration"
    );
}

#[test]
fn check_accepts_the_starter_configuration() {
    let starter = Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway.toml");
    let dir = tempfile::tempdir().expect("temp dir");
    let output = authgate(
        dir.path(),
        &["check", "--config", starter.to_str().expect("utf-8 path")],
        &[],
    );
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    let out = stdout(&output);
    assert_eq!(
        out.trim_end().lines().count(),
        1,
        "a one-line summary: {out:?}"
    );
    assert!(out.contains("ok"), "{out}");
    // check starts nothing: the starter's data_dir is not created beside a copy of it.
    assert!(!dir.path().join("data").exists());
}

/// The `[server]` typo: `listne` for `listen`.
fn unknown_server_key() -> Broken {
    Broken {
        text: r#"[server]
listen = "127.0.0.1:0"
listne = "127.0.0.1:8443" #!
public_url = "http://127.0.0.1"

[server.tls]
mode = "off"
"#
        .to_owned(),
        key: Some("server.listne"),
    }
}

#[test]
fn check_reports_an_unknown_key_with_its_line() {
    assert_check_refuses(&unknown_server_key());
}

#[test]
fn check_reports_an_unknown_route_key_with_its_line() {
    assert_check_refuses(&Broken::new(
        r#"
[[routes]]
path = "/api/"
upstream = "http://127.0.0.1:9000"
auth = "none"
body_limt = "1MiB" #!
"#,
        Some("routes[0].body_limt"),
    ));
}

#[test]
fn check_reports_an_unsupported_upstream_scheme() {
    assert_check_refuses(&Broken::new(
        r#"
[[routes]]
path = "/"
upstream = "http://127.0.0.1:9000"
auth = "none"

[[routes]]
path = "/files/"
upstream = "ftp://127.0.0.1:21" #!
auth = "none"
"#,
        Some("routes[1].upstream"),
    ));
}

#[test]
fn check_refuses_passkeys_with_an_ip_address_public_url() {
    // HEAD's public_url is http://127.0.0.1: an IP address cannot be a WebAuthn
    // relying-party id.
    assert_check_refuses(&Broken::new(
        r#"
[mfa]
passkeys = true #!
"#,
        Some("mfa.passkeys"),
    ));
}

#[test]
fn check_reports_a_route_path_without_a_leading_slash() {
    assert_check_refuses(&Broken::new(
        r#"
[[routes]]
path = "api/" #!
upstream = "http://127.0.0.1:9000"
auth = "none"
"#,
        Some("routes[0].path"),
    ));
}

#[test]
fn check_reports_a_duplicate_route() {
    assert_check_refuses(&Broken::new(
        r#"
[[routes]]
path = "/api/"
upstream = "http://127.0.0.1:9000"
auth = "none"

[[routes]]
path = "/api" #!
upstream = "http://127.0.0.1:9001"
auth = "none"
"#,
        Some("routes[1].path"),
    ));
}

#[test]
fn check_reports_a_duration_without_a_unit() {
    assert_check_refuses(&Broken::new(
        r#"
[[routes]]
path = "/api/"
upstream = "http://127.0.0.1:9000"
auth = "none"
connect_timeout = "5" #!
"#,
        Some("routes[0].connect_timeout"),
    ));
}

#[test]
fn check_reports_a_bad_listen_address() {
    let broken = Broken {
        text: r#"[server]
listen = "localhost" #!
public_url = "http://127.0.0.1"

[server.tls]
mode = "off"
"#
        .to_owned(),
        key: Some("server.listen"),
    };
    assert_check_refuses(&broken);
}

#[test]
fn check_reports_a_toml_syntax_error_with_its_line() {
    assert_check_refuses(&Broken::new(
        r#"
[[routes]]
path = "/api/ #!
upstream = "http://127.0.0.1:9000"
auth = "none"
"#,
        None,
    ));
}

#[test]
fn serve_refuses_what_check_refuses_with_the_same_message() {
    let cases = [
        unknown_server_key(),
        Broken::new(
            "\n[[routes]]\npath = \"/\"\nupstream = \"ftp://127.0.0.1:21\" #!\nauth = \"none\"\n",
            Some("routes[0].upstream"),
        ),
        Broken::new(
            "\n[[routes]]\npath = \"/\"\nupstream = \"http://127.0.0.1:9\"\nauth = \"none\"\nresponse_timeout = \"5\" #!\n",
            Some("routes[0].response_timeout"),
        ),
    ];
    for broken in cases {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = broken.write(dir.path());
        let path_arg = path.to_str().expect("utf-8 path");
        let check = authgate(dir.path(), &["check", "--config", path_arg], &[]);
        let serve = authgate(dir.path(), &["serve", "--config", path_arg], &[]);
        assert_eq!(
            serve.status.code(),
            Some(2),
            "serve exit code: {}",
            stderr(&serve)
        );
        assert!(
            stderr(&serve).contains(&broken.expected_prefix(&path)),
            "{}",
            stderr(&serve)
        );
        assert_eq!(stderr(&serve), stderr(&check), "serve and check disagree");
        assert!(
            !dir.path().join("data").exists(),
            "serve did something before refusing"
        );
    }
}

#[test]
fn authgate_config_environment_variable_works_as_the_config_flag() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        format!("{HEAD}\n[[routes]]\npath = \"/\"\nupstream = \"static://204\"\nauth = \"none\"\n"),
    )
    .expect("write");
    let output = authgate(
        dir.path(),
        &["check"],
        &[("AUTHGATE_CONFIG", good.to_str().expect("utf-8"))],
    );
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    assert!(stdout(&output).contains("1 route"), "{}", stdout(&output));

    let broken = Broken::new(
        "\n[[routes]]\npath = \"nope\" #!\nupstream = \"static://204\"\nauth = \"none\"\n",
        Some("routes[0].path"),
    );
    let path = broken.write(dir.path());
    let output = authgate(
        dir.path(),
        &["check"],
        &[("AUTHGATE_CONFIG", path.to_str().expect("utf-8"))],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains(&broken.expected_prefix(&path)),
        "{}",
        stderr(&output)
    );

    // The flag wins over the environment.
    let output = authgate(
        dir.path(),
        &["check", "--config", good.to_str().expect("utf-8")],
        &[("AUTHGATE_CONFIG", path.to_str().expect("utf-8"))],
    );
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
}

#[test]
fn config_defaults_to_gateway_toml_in_the_working_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("gateway.toml"),
        format!("{HEAD}\n[[routes]]\npath = \"/\"\nupstream = \"whoami://\"\nauth = \"none\"\n"),
    )
    .expect("write");
    let output = authgate(dir.path(), &["check"], &[]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));

    let empty = tempfile::tempdir().expect("temp dir");
    let output = authgate(empty.path(), &["check"], &[]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "a missing file is a bad configuration"
    );
    assert!(
        stderr(&output).contains("gateway.toml"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn bad_arguments_exit_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = authgate(dir.path(), &["check", "--no-such-flag"], &[]);
    assert_eq!(output.status.code(), Some(2));
    let output = authgate(dir.path(), &["no-such-command"], &[]);
    assert_eq!(output.status.code(), Some(2));
}

/// RFC 9700 §4.1 and the mix-up defences: a registered redirect URI must not already carry a
/// parameter the authorization response adds, in any spelling a client's parser would read.
#[test]
fn check_refuses_a_redirect_uri_whose_query_holds_a_response_parameter() {
    for name in [
        "code",
        "state",
        "iss",
        "error",
        "error_description",
        "error_uri",
        "access_token",
        "%63ode",
        "STATE",
    ] {
        let broken = Broken::new(
            &format!(
                r#"
[[clients]]
id = "app"
type = "public"
redirect_uris = ["https://app.example/cb?tenant=a&{name}=1"] #!
"#
            ),
            Some("clients[0].redirect_uris[0]"),
        );
        assert_check_refuses(&broken);
    }
}

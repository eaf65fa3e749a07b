//! The administration commands run as the real binary: `hash-password`, `client add | list |
//! remove | rotate-secret`, `user add | list | remove` and `token inspect`, on configuration
//! files in temporary directories, passwords and tokens piped on standard input.
//!
//! Beyond each command's result, every test checks what the contract promises around it:
//! exit codes (0, 2 for bad configuration or arguments, 1 otherwise), comments kept, nothing
//! written that `check` would reject, and no password or secret printed except a new client
//! secret, once.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use argon2::{PasswordHash, PasswordVerifier};
use authgate::tokens::jwt::{self, AccessClaims};
use authgate::tokens::keyring::SigningKey;
use authgate::tokens::opaque::TokenHash;

const CONFIG: &str = r#"# Test gateway: every comment here must survive the CLI's edits.
[server]
listen = "127.0.0.1:0"                 # any free port
public_url = "https://gw.example.com"  # the issuer

[server.tls]
mode = "self-signed"

[tokens]
signing_key = "file:signing.key"       # written by the test when it needs one

[scopes]
app = "Use the app"
"api:read" = "Read the API"

# People.
[[users]]
name = "alice"   # the first user
password = "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
scopes = ["app"]

# Clients.

# The browser app.
[[clients]]
id = "spa"
type = "public"
redirect_uris = ["http://127.0.0.1:5173/callback"]
scopes = ["api:read"]

# Routes last.
[[routes]]
path = "/"
upstream = "whoami://"
auth = "none"
"#;

/// A temporary directory holding `gateway.toml`.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(text: &str) -> Setup {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("gateway.toml"), text).expect("write config");
        Setup { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("gateway.toml")
    }

    fn text(&self) -> String {
        std::fs::read_to_string(self.path()).expect("read config")
    }

    /// `authgate ARGS --config gateway.toml` in the directory, with `stdin` piped in.
    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--config", "gateway.toml"]);
        authgate(self.dir.path(), &all, stdin, &[])
    }

    /// The names in the directory other than gateway.toml and the signing key: leftovers.
    fn stray_files(&self) -> Vec<String> {
        std::fs::read_dir(self.dir.path())
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n != "gateway.toml" && n != "signing.key" && n != "real.toml")
            .collect()
    }
}

/// Runs the binary to completion (30 s at most), stdin piped (or closed), in `dir`.
fn authgate(dir: &Path, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_authgate"));
    command
        .current_dir(dir)
        .args(args)
        .env_remove("AUTHGATE_CONFIG")
        .env_remove("RUST_LOG")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("run authgate");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        // The child may exit without reading (a refusal before the prompt): ignore EPIPE.
        let _ = pipe.write_all(input.as_bytes());
    }
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

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[track_caller]
fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "exit code; stdout: {}; stderr: {}",
        stdout(output),
        stderr(output)
    );
}

/// `client_secret: ...` from a command's output.
fn printed_secret(output: &Output) -> String {
    let out = stdout(output);
    let secrets: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("client_secret: "))
        .collect();
    assert_eq!(secrets.len(), 1, "one secret, once: {out}");
    assert!(out.contains("cannot be shown again"), "{out}");
    secrets[0].to_owned()
}

fn check_accepts(setup: &Setup) {
    let output = setup.run(&["check"], None);
    assert_exit(&output, 0);
}

fn verifies(phc: &str, password: &str) -> bool {
    let parsed = PasswordHash::new(phc).expect("PHC string");
    assert_eq!(parsed.algorithm.as_str(), "argon2id");
    argon2::Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

#[test]
fn hash_password_reads_one_line_from_a_pipe() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = authgate(
        dir.path(),
        &["hash-password"],
        Some(" pass phrase with spaces \nsecond line\n"),
        &[],
    );
    assert_exit(&output, 0);
    let out = stdout(&output);
    assert_eq!(out.lines().count(), 1, "{out}");
    let phc = out.trim_end();
    assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    assert!(verifies(phc, " pass phrase with spaces "));
    assert!(!verifies(phc, "pass phrase with spaces"));
    assert!(!out.contains("pass phrase") && !stderr(&output).contains("pass phrase"));
}

#[test]
fn hash_password_refuses_an_empty_password() {
    let dir = tempfile::tempdir().expect("temp dir");
    for input in [Some("\n"), Some(""), None] {
        let output = authgate(dir.path(), &["hash-password"], input, &[]);
        assert_exit(&output, 2);
        assert_eq!(stdout(&output), "");
        assert!(stderr(&output).contains("empty"), "{}", stderr(&output));
    }
}

#[test]
fn client_add_confidential_prints_the_secret_once_and_stores_its_hash() {
    let setup = Setup::new(CONFIG);
    std::fs::set_permissions(setup.path(), std::fs::Permissions::from_mode(0o640)).unwrap();
    let output = setup.run(
        &[
            "client",
            "add",
            "billing-worker",
            "--type",
            "confidential",
            "--scope",
            "api:read",
            "--name",
            "Billing worker",
        ],
        None,
    );
    assert_exit(&output, 0);
    let secret = printed_secret(&output);
    assert!(secret.len() >= 43, "256-bit secret: {secret}");
    assert!(!stderr(&output).contains(&secret));

    let text = setup.text();
    assert!(!text.contains(&secret), "the file keeps only the hash");
    assert!(text.contains(&format!(
        "secret = \"sha256:{}\"",
        TokenHash::of(&secret).to_hex()
    )));
    // Every line of the original is still there, in order, with its comments.
    let mut rest = text.as_str();
    for line in CONFIG.lines() {
        let at = rest
            .find(line)
            .unwrap_or_else(|| panic!("lost {line:?}:\n{text}"));
        rest = &rest[at + line.len()..];
    }
    let mode = std::fs::metadata(setup.path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640, "permissions kept");
    assert!(setup.stray_files().is_empty(), "{:?}", setup.stray_files());
    check_accepts(&setup);

    let list = setup.run(&["client", "list"], None);
    assert_exit(&list, 0);
    let listed = stdout(&list);
    assert!(listed.contains("billing-worker"), "{listed}");
    assert!(listed.contains("client_credentials"), "{listed}");
    assert!(
        !listed.contains(&secret) && !listed.contains("sha256"),
        "{listed}"
    );
}

#[test]
fn client_add_public_prints_no_secret() {
    let setup = Setup::new(CONFIG);
    let output = setup.run(
        &[
            "client",
            "add",
            "cli-app",
            "--type",
            "public",
            "--redirect-uri",
            "http://127.0.0.1/callback",
            "--redirect-uri",
            "com.example.app:/oauth2redirect",
            "--grant",
            "authorization_code",
            "--first-party",
        ],
        None,
    );
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "");
    assert!(stderr(&output).contains("added client `cli-app`"));
    let text = setup.text();
    assert!(text.contains(
        "redirect_uris = [\"http://127.0.0.1/callback\", \"com.example.app:/oauth2redirect\"]"
    ));
    assert!(text.contains("first_party = true"));
    assert!(!text.contains("sha256"));
    check_accepts(&setup);
}

#[test]
fn client_add_refuses_an_existing_id_and_leaves_the_file_alone() {
    let setup = Setup::new(CONFIG);
    let output = setup.run(&["client", "add", "spa", "--type", "confidential"], None);
    assert_exit(&output, 2);
    assert_eq!(stdout(&output), "", "no secret for a refused client");
    assert!(
        stderr(&output).contains("exists already"),
        "{}",
        stderr(&output)
    );
    assert_eq!(setup.text(), CONFIG);
    // A client id may not equal a user name either (both name a token's subject).
    let output = setup.run(&["client", "add", "alice", "--type", "confidential"], None);
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("user"), "{}", stderr(&output));
    assert_eq!(setup.text(), CONFIG);
}

#[test]
fn client_add_refuses_what_check_would_reject() {
    let setup = Setup::new(CONFIG);
    let output = setup.run(
        &[
            "client",
            "add",
            "web",
            "--type",
            "confidential",
            "--grant",
            "authorization_code",
            "--redirect-uri",
            "http://app.example.com/callback",
        ],
        None,
    );
    assert_exit(&output, 2);
    assert_eq!(stdout(&output), "", "no secret for a refused client");
    let err = stderr(&output);
    // FILE:LINE: key: message, the line being the new entry's redirect_uris in the new text.
    let prefix = "authgate: gateway.toml:";
    assert!(err.starts_with(prefix), "{err}");
    let (line, rest) = err[prefix.len()..].split_once(':').unwrap();
    let last_client = CONFIG.lines().position(|l| l == "id = \"spa\"").unwrap() + 1;
    assert!(line.parse::<usize>().unwrap() > last_client, "{err}");
    assert!(
        rest.starts_with(" clients[1].redirect_uris[0]: http:// is allowed only for loopback"),
        "{err}"
    );
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(setup.text(), CONFIG);
    assert!(setup.stray_files().is_empty());

    // An undeclared scope, likewise.
    let output = setup.run(
        &[
            "client",
            "add",
            "w",
            "--type",
            "confidential",
            "--scope",
            "nope",
        ],
        None,
    );
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("clients[1].scopes[0]: `nope` is not declared"));
    assert_eq!(setup.text(), CONFIG);
}

#[test]
fn client_commands_refuse_a_broken_file() {
    let broken = CONFIG.replace("auth = \"none\"", "auth = \"nobody\"");
    let setup = Setup::new(&broken);
    let output = setup.run(&["client", "add", "x", "--type", "confidential"], None);
    assert_exit(&output, 2);
    assert_eq!(stdout(&output), "");
    let line = broken.lines().position(|l| l.contains("nobody")).unwrap() + 1;
    assert!(
        stderr(&output).contains(&format!("gateway.toml:{line}: routes[0].auth:")),
        "{}",
        stderr(&output)
    );
    assert_eq!(setup.text(), broken);
    let list = setup.run(&["client", "list"], None);
    assert_exit(&list, 2);

    let setup = Setup::new("[server\nlisten = 1\n");
    let output = setup.run(&["client", "remove", "x"], None);
    assert_exit(&output, 2);
    assert!(
        stderr(&output).starts_with("authgate: gateway.toml:1:"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn client_rotate_secret_replaces_the_hash() {
    let setup = Setup::new(CONFIG);
    let first = printed_secret(&setup.run(&["client", "add", "w", "--type", "confidential"], None));
    let output = setup.run(&["client", "rotate-secret", "w"], None);
    assert_exit(&output, 0);
    let second = printed_secret(&output);
    assert_ne!(first, second);
    let text = setup.text();
    assert!(!text.contains(&TokenHash::of(&first).to_hex()));
    assert!(text.contains(&TokenHash::of(&second).to_hex()));
    check_accepts(&setup);

    let public = setup.run(&["client", "rotate-secret", "spa"], None);
    assert_exit(&public, 2);
    assert_eq!(stdout(&public), "");
    let unknown = setup.run(&["client", "rotate-secret", "nobody"], None);
    assert_exit(&unknown, 2);
    assert_eq!(setup.text(), text);
}

#[test]
fn client_remove_keeps_the_section_comment() {
    let setup = Setup::new(CONFIG);
    let output = setup.run(&["client", "remove", "spa"], None);
    assert_exit(&output, 0);
    let text = setup.text();
    assert!(
        !text.contains("spa") && !text.contains("# The browser app."),
        "{text}"
    );
    assert!(
        text.contains("# Clients.\n\n# Routes last.\n[[routes]]"),
        "{text}"
    );
    check_accepts(&setup);
    let list = setup.run(&["client", "list"], None);
    assert_exit(&list, 0);
    assert_eq!(stdout(&list), "");

    let again = setup.run(&["client", "remove", "spa"], None);
    assert_exit(&again, 2);
    assert!(stderr(&again).contains("no client with id `spa`"));
}

#[test]
fn the_config_flag_defaults_and_the_environment_variable() {
    let setup = Setup::new(CONFIG);
    // Default ./gateway.toml.
    let output = authgate(setup.dir.path(), &["client", "list"], None, &[]);
    assert_exit(&output, 0);
    assert!(stdout(&output).contains("spa"));
    // AUTHGATE_CONFIG, from another directory.
    let elsewhere = tempfile::tempdir().unwrap();
    let path = setup.path();
    let output = authgate(
        elsewhere.path(),
        &["client", "add", "env-client", "--type", "confidential"],
        None,
        &[("AUTHGATE_CONFIG", path.to_str().unwrap())],
    );
    assert_exit(&output, 0);
    assert!(setup.text().contains("id = \"env-client\""));
}

#[test]
fn a_symlinked_config_stays_a_symlink() {
    let setup = Setup::new("");
    std::fs::remove_file(setup.path()).unwrap();
    let real = setup.dir.path().join("real.toml");
    std::fs::write(&real, CONFIG).unwrap();
    std::os::unix::fs::symlink("real.toml", setup.path()).unwrap();
    let output = setup.run(&["client", "add", "w", "--type", "confidential"], None);
    assert_exit(&output, 0);
    assert!(std::fs::symlink_metadata(setup.path())
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(std::fs::read_to_string(&real)
        .unwrap()
        .contains("id = \"w\""));
}

#[test]
fn user_add_hashes_the_piped_password() {
    let setup = Setup::new(CONFIG);
    let output = setup.run(
        &[
            "user", "add", "bob", "--scope", "app", "--scope", "api:read",
        ],
        Some("Bob's long password\n"),
    );
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "");
    assert!(!stderr(&output).contains("Bob's long password"));
    let text = setup.text();
    assert!(!text.contains("Bob's long password"));
    let phc = text
        .lines()
        .skip_while(|l| !l.contains("name = \"bob\""))
        .find_map(|l| l.strip_prefix("password = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .expect("bob's password line");
    assert!(verifies(phc, "Bob's long password"));
    assert!(text.contains("scopes = [\"app\", \"api:read\"]"));
    assert!(text.contains("name = \"alice\"   # the first user"));
    check_accepts(&setup);

    let list = setup.run(&["user", "list"], None);
    assert_exit(&list, 0);
    assert!(stdout(&list).contains("bob"), "{}", stdout(&list));
    assert!(!stdout(&list).contains("argon2"));
}

#[test]
fn user_add_refusals_leave_the_file_alone() {
    let setup = Setup::new(CONFIG);
    for (args, stdin, says) in [
        (vec!["user", "add", "alice"], Some("pw\n"), "exists already"),
        (vec!["user", "add", "bob"], Some("\n"), "empty"),
        (vec!["user", "add", "bob"], None, "empty"),
        (
            vec!["user", "add", "bob", "--scope", "api:wrtie"],
            Some("pw\n"),
            "users[1].scopes[0]: `api:wrtie` is not declared",
        ),
        (
            vec!["user", "add", "spa"],
            Some("pw\n"),
            "client ids and user names must differ",
        ),
        (
            vec!["user", "add", "no spaces"],
            Some("pw\n"),
            "users[1].name",
        ),
    ] {
        let output = setup.run(&args, stdin);
        assert_exit(&output, 2);
        assert!(
            stderr(&output).contains(says),
            "{args:?}: {}",
            stderr(&output)
        );
        assert_eq!(stdout(&output), "");
        assert_eq!(setup.text(), CONFIG, "{args:?}");
    }
}

#[test]
fn user_remove() {
    let setup = Setup::new(CONFIG);
    let output = setup.run(&["user", "remove", "alice"], None);
    assert_exit(&output, 0);
    let text = setup.text();
    assert!(
        !text.contains("alice") && !text.contains("# People."),
        "{text}"
    );
    check_accepts(&setup);
    let again = setup.run(&["user", "remove", "alice"], None);
    assert_exit(&again, 2);
}

#[allow(
    clippy::disallowed_methods,
    reason = "the CLI under test is a separate process on the wall clock: its times are compared with this one"
)]
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims() -> AccessClaims {
    AccessClaims {
        amr: Vec::new(),
        acr: None,
        auth_time: None,
        iss: "https://gw.example.com".into(),
        aud: "https://gw.example.com".into(),
        sub: "alice".into(),
        client_id: "spa".into(),
        scope: "api:read".into(),
        iat: now(),
        exp: now() + 900,
        jti: "jti-1".into(),
        nbf: None,
    }
}

const KEY: [u8; 32] = [42; 32];

fn with_key(setup: &Setup) {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(KEY);
    std::fs::write(setup.dir.path().join("signing.key"), format!("{encoded}\n")).unwrap();
}

#[test]
fn token_inspect_prints_the_claims_of_a_valid_token() {
    let setup = Setup::new(CONFIG);
    with_key(&setup);
    let claims = claims();
    let token = jwt::sign(&claims, &SigningKey::new(&KEY).unwrap());
    for (args, stdin) in [
        (vec!["token", "inspect", token.as_str()], None),
        (vec!["token", "inspect"], Some(format!("{token}\n"))),
        (vec!["token", "inspect", "-"], Some(token.clone())),
    ] {
        let output = setup.run(&args, stdin.as_deref());
        assert_exit(&output, 0);
        let printed: AccessClaims = serde_json::from_str(&stdout(&output)).expect("JSON claims");
        assert_eq!(printed, claims);
    }
}

#[test]
fn token_inspect_says_why_a_token_is_invalid() {
    let setup = Setup::new(CONFIG);
    with_key(&setup);
    let key = SigningKey::new(&KEY).unwrap();
    let mut expired = claims();
    expired.iat -= 7200;
    expired.exp = now() - 3600;
    let mut other_audience = claims();
    other_audience.aud = "https://other.example.com".into();
    let good = jwt::sign(&claims(), &key);
    let mut flipped = good.clone().into_bytes();
    let last = flipped.len() - 2;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    for (token, why) in [
        (jwt::sign(&expired, &key), "expired"),
        (jwt::sign(&other_audience, &key), "another audience"),
        (
            jwt::sign(&claims(), &SigningKey::new(&[1; 32]).unwrap()),
            "unknown key",
        ),
        (flipped, "signature"),
        ("garbage".to_owned(), "malformed"),
    ] {
        let output = setup.run(&["token", "inspect", &token], None);
        assert_exit(&output, 1);
        let err = stderr(&output);
        assert!(err.contains(why), "{why}: {err}");
        assert!(!err.contains(&token), "the token is never echoed: {err}");
        assert_eq!(stdout(&output), "");
    }
}

#[test]
fn token_inspect_without_a_signing_key() {
    let setup = Setup::new(CONFIG);
    let token = jwt::sign(&claims(), &SigningKey::new(&KEY).unwrap());
    let output = setup.run(&["token", "inspect", &token], None);
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("no signing key yet"),
        "{}",
        stderr(&output)
    );
    assert!(!stderr(&output).contains(&token));
}

#[test]
fn every_flag_has_help() {
    let dir = tempfile::tempdir().unwrap();
    for (args, flags) in [
        (
            vec!["--help"],
            vec!["hash-password", "client", "user", "token"],
        ),
        (
            vec!["client", "add", "--help"],
            vec![
                "--type",
                "--redirect-uri",
                "--scope",
                "--grant",
                "--name",
                "--first-party",
                "--config",
                "AUTHGATE_CONFIG",
            ],
        ),
        (
            vec!["client", "--help"],
            vec!["add", "list", "remove", "rotate-secret"],
        ),
        (vec!["user", "add", "--help"], vec!["--scope", "--config"]),
        (
            vec!["token", "inspect", "--help"],
            vec!["TOKEN", "--config"],
        ),
        (vec!["hash-password", "--help"], vec!["argon2id"]),
    ] {
        let output = authgate(dir.path(), &args, None, &[]);
        assert_exit(&output, 0);
        let help = stdout(&output);
        for flag in flags {
            assert!(help.contains(flag), "{args:?} lacks {flag}: {help}");
        }
    }
    // A bad value for --type or --grant is a usage error: exit 2.
    let output = authgate(
        dir.path(),
        &["client", "add", "x", "--type", "secret-ish"],
        None,
        &[],
    );
    assert_exit(&output, 2);
}

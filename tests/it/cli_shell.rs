//! The command line as Rust users expect it, run as the real binary: `--version` with the
//! git revision, `completions SHELL`, `man`, and `check --routes` / `check --explain` on the
//! repository's starter `gateway.toml`.

use crate::support::authgate;

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The starter configuration, copied into a fresh folder (its data_dir stays there).
fn starter() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/gateway.toml"))
        .expect("the starter gateway.toml");
    std::fs::write(dir.path().join("gateway.toml"), text).expect("write");
    dir
}

#[test]
fn version_names_the_build_revision() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = authgate(dir.path(), &["--version"], &[]);
    assert_eq!(output.status.code(), Some(0));
    let version = stdout(&output);
    let expected = format!("authgate {} (", env!("CARGO_PKG_VERSION"));
    assert!(version.starts_with(&expected), "{version}");
    let revision = version
        .trim_end()
        .trim_start_matches(&expected)
        .trim_end_matches(')');
    assert!(
        revision == "unknown"
            || (revision.len() == 12 && revision.bytes().all(|b| b.is_ascii_hexdigit())),
        "{version}"
    );
}

#[test]
fn completions_and_the_man_page_come_from_the_binary() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bash = authgate(dir.path(), &["completions", "bash"], &[]);
    assert_eq!(bash.status.code(), Some(0));
    let script = stdout(&bash);
    assert!(script.contains("complete -F _authgate"), "{script}");
    assert!(
        script.contains("hash-password"),
        "every subcommand is offered"
    );
    let zsh = stdout(&authgate(dir.path(), &["completions", "zsh"], &[]));
    assert!(zsh.starts_with("#compdef authgate"), "{zsh}");
    let unknown = authgate(dir.path(), &["completions", "cmd.exe"], &[]);
    assert_eq!(
        unknown.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );

    let man = authgate(dir.path(), &["man"], &[]);
    assert_eq!(man.status.code(), Some(0));
    let page = stdout(&man);
    assert!(page.contains(".TH authgate 1"), "{page}");
    assert!(page.contains("completions"), "{page}");
}

#[test]
fn check_prints_the_starter_route_table_and_explains_a_path() {
    let dir = starter();
    let output = authgate(dir.path(), &["check", "--routes"], &[]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = stdout(&output);
    let table: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("#  host"))
        .collect();
    let columns: Vec<&str> = table[0].split_whitespace().collect();
    assert_eq!(
        columns,
        ["#", "host", "prefix", "auth", "scopes", "upstream"],
        "{text}"
    );
    assert!(table.len() > 1, "the starter has routes: {text}");

    let output = authgate(
        dir.path(),
        &["check", "--explain", "/oauth2/authorize"],
        &[],
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        stdout(&output).contains("/oauth2/authorize: served by the gateway itself"),
        "{}",
        stdout(&output)
    );
    let output = authgate(dir.path(), &["check", "--explain", "/a/./b/../c"], &[]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(stdout(&output).contains("/a/./b/../c is matched as /a/c"));

    let bad = authgate(dir.path(), &["check", "--explain", "/%2e%2e/x"], &[]);
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    let orphan = authgate(dir.path(), &["check", "--host", "a.example"], &[]);
    assert_eq!(orphan.status.code(), Some(2), "--host needs --explain");
}

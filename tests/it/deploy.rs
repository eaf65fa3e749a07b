//! Packaging that works from the repository (issue 18 item 4), checked where no Docker engine
//! runs: every configuration the repository ships passes `authgate check` (the starter, the
//! container image's, the compose file's with the secrets and environment compose gives it);
//! the Dockerfile's build stage copies every path the build reads (read from Cargo.toml, not a
//! hand list), and its image runs a non-root user and a HEALTHCHECK of `authgate healthcheck`;
//! that command against a running gateway; the systemd unit through `systemd-analyze verify`
//! (`deploy/systemd-check.sh`). `deploy/docker-check.sh` builds and runs the image itself.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::process::{authgate, GatewayProcess};
use crate::support::{dead_port, free_port};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The gateway configurations the repository ships: `gateway*.toml` at the top and every
/// `.toml` in `deploy/`.
fn shipped_configurations() -> Vec<PathBuf> {
    let mut found = Vec::new();
    for (dir, all) in [(repo().to_path_buf(), false), (repo().join("deploy"), true)] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".toml") && (all || name.starts_with("gateway")) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// What `compose.yaml` gives its gateways: the files mounted at /etc/authgate/gateway.toml,
/// and `AUTHGATE_REDIS_URL` with compose's `${VAR...}` interpolation filled in.
fn compose_mounts_and_redis_url() -> (Vec<PathBuf>, String) {
    let compose = std::fs::read_to_string(repo().join("deploy/compose.yaml")).unwrap();
    let mounts = compose
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- ./"))
        .filter_map(|mount| mount.strip_suffix(":/etc/authgate/gateway.toml:ro"))
        .map(|file| repo().join("deploy").join(file))
        .collect();
    let url = compose
        .lines()
        .find_map(|line| line.trim().strip_prefix("AUTHGATE_REDIS_URL:"))
        .expect("compose.yaml sets AUTHGATE_REDIS_URL")
        .trim()
        .trim_matches('"')
        .to_owned();
    let url = match (url.find("${"), url.find('}')) {
        (Some(start), Some(end)) => format!("{}password{}", &url[..start], &url[end + 1..]),
        _ => url,
    };
    (mounts, url)
}

/// Every shipped configuration passes `authgate check`, as the image, compose or a reader
/// would run it: `/run/secrets/NAME` (compose secrets) is given throwaway secrets in a
/// temporary directory, everything else is checked as written.
#[test]
fn every_shipped_configuration_passes_check() {
    let configurations = shipped_configurations();
    let names: Vec<String> = configurations
        .iter()
        .map(|p| p.strip_prefix(repo()).unwrap().display().to_string())
        .collect();
    for expected in [
        "gateway.toml",
        "deploy/gateway.redis.toml",
        "deploy/gateway.container.toml",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} is not among {names:?}"
        );
    }
    let (mounts, redis_url) = compose_mounts_and_redis_url();
    assert!(!mounts.is_empty(), "compose.yaml mounts no gateway.toml");
    for mount in &mounts {
        assert!(
            configurations.contains(mount),
            "compose.yaml mounts {}, which is not a shipped configuration",
            mount.display()
        );
    }

    let secrets = tempfile::tempdir().unwrap();
    std::fs::write(
        secrets.path().join("signing_key"),
        "c2lnbmluZy1rZXktZm9yLXRoZS1jaGVjay0wMTIzNDU2Nzg5\n",
    )
    .unwrap();
    std::fs::write(
        secrets.path().join("admin_token"),
        "0123456789abcdef0123456789abcdef0123456789abcdef\n",
    )
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    for config in &configurations {
        let original = std::fs::read_to_string(config).unwrap();
        let adapted = original.replace("/run/secrets/", &format!("{}/", secrets.path().display()));
        // Beside the original's name, so that relative paths and messages read the same.
        let copy = work.path().join(config.file_name().unwrap());
        std::fs::write(&copy, adapted).unwrap();
        let output = authgate(
            work.path(),
            &["check", "--config", &copy.display().to_string()],
            &[("AUTHGATE_REDIS_URL", &redis_url)],
        );
        assert!(
            output.status.success(),
            "{} fails authgate check:\n{}",
            config.display(),
            text(&output)
        );
    }
}

/// The sources of the build stage's `COPY` lines (everything before the second `FROM`).
fn build_stage_copies(dockerfile: &str) -> Vec<String> {
    let mut stages = 0;
    let mut sources = Vec::new();
    for line in dockerfile.lines().map(str::trim) {
        if line.starts_with("FROM ") {
            stages += 1;
        }
        if stages != 1 {
            continue;
        }
        if let Some(rest) = line.strip_prefix("COPY ") {
            let words: Vec<&str> = rest
                .split_whitespace()
                .filter(|w| !w.starts_with("--"))
                .collect();
            if let Some((_, from)) = words.split_last() {
                sources.extend(from.iter().map(|s| s.trim_end_matches('/').to_owned()));
            }
        }
    }
    sources
}

/// The paths `cargo build --release --locked --bin authgate` reads: the manifest, the
/// lockfile, the build script, every target Cargo.toml declares (a missing bench file makes
/// cargo refuse the manifest), and every file `include_str!`/`include_bytes!` pulls into src/
/// outside its unit tests.
fn paths_the_build_reads() -> Vec<String> {
    let manifest: toml::Table = std::fs::read_to_string(repo().join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let mut paths = vec!["Cargo.toml".to_owned(), "Cargo.lock".to_owned()];
    let build = manifest["package"]
        .get("build")
        .and_then(|b| b.as_str())
        .unwrap_or("build.rs");
    if repo().join(build).exists() {
        paths.push(build.to_owned());
    }
    if let Some(path) = manifest
        .get("lib")
        .and_then(|lib| lib.get("path"))
        .and_then(|p| p.as_str())
    {
        paths.push(path.to_owned());
    }
    for kind in ["bin", "bench", "example"] {
        for target in manifest
            .get(kind)
            .and_then(|t| t.as_array())
            .into_iter()
            .flatten()
        {
            if let Some(path) = target.get("path").and_then(|p| p.as_str()) {
                paths.push(path.to_owned());
            }
        }
    }
    fn walk(dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs")
                // Unit tests (`tests.rs`, `#[cfg(test)] mod tests;`) are not in a release build.
                && path.file_name().is_some_and(|n| n != "tests.rs")
            {
                let source = std::fs::read_to_string(&path).unwrap();
                for macro_name in ["include_str!(\"", "include_bytes!(\""] {
                    for piece in source.split(macro_name).skip(1) {
                        let Some((relative, _)) = piece.split_once('"') else {
                            continue;
                        };
                        let included = path.parent().unwrap().join(relative);
                        let included = included.canonicalize().unwrap_or(included);
                        let root = repo().canonicalize().unwrap();
                        if let Ok(inside) = included.strip_prefix(&root) {
                            out.push(inside.display().to_string());
                        }
                    }
                }
            }
        }
    }
    walk(&repo().join("src"), &mut paths);
    paths
}

#[test]
fn the_dockerfile_copies_what_the_build_reads_and_runs_healthy_as_non_root() {
    let dockerfile = std::fs::read_to_string(repo().join("deploy/Dockerfile")).unwrap();
    let copied = build_stage_copies(&dockerfile);
    for must in ["Cargo.toml", "Cargo.lock", "build.rs", "src"] {
        assert!(
            copied.iter().any(|c| c == must),
            "the build stage does not copy {must}: {copied:?}"
        );
    }
    let missing: Vec<String> = paths_the_build_reads()
        .into_iter()
        .filter(|path| {
            !copied
                .iter()
                .any(|c| path == c || path.starts_with(&format!("{c}/")))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "deploy/Dockerfile's build stage does not copy {missing:?}, which the build reads (copies: {copied:?})"
    );

    // The image: a numeric non-root USER, the configuration it carries, and a HEALTHCHECK
    // that runs the binary (distroless has no shell, so the exec form).
    let last_stage = dockerfile.rsplit_once("\nFROM ").unwrap().1;
    let user = last_stage
        .lines()
        .find_map(|l| l.trim().strip_prefix("USER "))
        .expect("the image sets USER");
    let uid = user.split(':').next().unwrap().trim();
    assert!(
        uid.parse::<u32>().is_ok_and(|uid| uid != 0),
        "USER {user}: not a numeric non-root user"
    );
    let healthcheck = last_stage
        .split("\nHEALTHCHECK ")
        .nth(1)
        .expect("the image declares a HEALTHCHECK")
        .replace("\\\n", " ");
    let healthcheck = healthcheck.lines().next().unwrap();
    assert!(
        healthcheck.contains(r#"CMD ["/usr/local/bin/authgate", "healthcheck"]"#),
        "HEALTHCHECK {healthcheck}"
    );
    let config = last_stage
        .lines()
        .find_map(|l| l.trim().strip_prefix("COPY deploy/"))
        .and_then(|rest| rest.strip_suffix(" /etc/authgate/gateway.toml"))
        .expect("the image copies its configuration from deploy/ to /etc/authgate/gateway.toml");
    assert!(
        shipped_configurations().contains(&repo().join("deploy").join(config)),
        "the image's configuration deploy/{config} is not checked by every_shipped_configuration_passes_check"
    );
    // Its HEALTHCHECK can ask it: the admin listener is on (the default) or TLS is off.
    let image_config: toml::Table = std::fs::read_to_string(repo().join("deploy").join(config))
        .unwrap()
        .parse()
        .unwrap();
    let admin_off = image_config
        .get("admin")
        .and_then(|a| a.get("listen"))
        .is_some_and(|l| l.as_str() == Some("off"));
    let tls_off = image_config
        .get("server")
        .and_then(|s| s.get("tls"))
        .and_then(|t| t.get("mode"))
        .is_some_and(|m| m.as_str() == Some("off"));
    assert!(
        !admin_off || tls_off,
        "deploy/{config} turns the admin listener off and keeps TLS: authgate healthcheck cannot ask it"
    );

    // The build context's .dockerignore (keeping target/, data/ and secrets out of it) hides
    // nothing the Dockerfile copies.
    let mut from_context = copied.clone();
    from_context.push(format!("deploy/{config}"));
    let ignore = std::fs::read_to_string(repo().join(".dockerignore")).unwrap();
    let hidden: Vec<(&str, &String)> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .flat_map(|pattern| {
            from_context
                .iter()
                .filter(move |c| {
                    *c == pattern
                        || c.starts_with(&format!("{pattern}/"))
                        || pattern.starts_with(&format!("{c}/"))
                })
                .map(move |c| (pattern, c))
        })
        .collect();
    assert!(
        hidden.is_empty(),
        ".dockerignore hides what the Dockerfile copies: {hidden:?}"
    );
}

/// A configuration for the healthcheck test: `listen`, TLS `tls`, admin listener `admin`.
fn health_config(listen: &str, tls: &str, admin: &str) -> String {
    format!(
        "[server]\nlisten = \"{listen}\"\npublic_url = \"{scheme}://localhost\"\n\
         [server.tls]\nmode = \"{tls}\"\n[log]\nformat = \"json\"\nlevel = \"info\"\n\
         [admin]\nlisten = \"{admin}\"\n\
         [[routes]]\npath = \"/\"\nupstream = \"static://204\"\nauth = \"none\"\n",
        scheme = if tls == "off" { "http" } else { "https" },
    )
}

/// `authgate healthcheck --config CONFIG`, off the async runtime.
async fn healthcheck(config: &Path) -> Output {
    let config = config.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let dir = config.parent().unwrap();
        authgate(
            dir,
            &["healthcheck", "--config", &config.display().to_string()],
            &[],
        )
    })
    .await
    .unwrap()
}

/// `authgate healthcheck` (the image's HEALTHCHECK) against a running gateway: through the
/// admin listener, through the public listener when there is no admin listener and no TLS,
/// and exit 1 when nothing answers or nothing can be asked.
#[tokio::test(flavor = "multi_thread")]
async fn healthcheck_asks_the_running_gateway() {
    let admin = format!("127.0.0.1:{}", free_port());
    let public = format!("127.0.0.1:{}", free_port());
    for (listen, admin, asked) in [
        ("127.0.0.1:0", admin.as_str(), &admin),
        (&public, "off", &public),
    ] {
        let gateway =
            GatewayProcess::start_with_config(|_| health_config(listen, "off", admin)).await;
        let output = healthcheck(gateway.config_path()).await;
        assert!(output.status.success(), "{}", text(&output));
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            format!("{asked}: ok\n")
        );
    }

    // Nothing listening: exit 1, naming the address. TLS on and no admin listener: nothing it
    // can ask, said so.
    let dead = format!("127.0.0.1:{}", dead_port());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.toml");
    for (config, says) in [
        (health_config("127.0.0.1:8443", "off", &dead), dead.as_str()),
        (
            health_config("127.0.0.1:8443", "self-signed", "off"),
            "admin listener",
        ),
    ] {
        std::fs::write(&path, config).unwrap();
        let output = healthcheck(&path).await;
        assert_eq!(output.status.code(), Some(1), "{}", text(&output));
        assert!(
            String::from_utf8_lossy(&output.stderr).contains(says),
            "{}",
            text(&output)
        );
    }
}

/// `deploy/authgate.service` passes `systemd-analyze verify` (any warning fails), with its
/// ExecStart pointed at this build's binary (`deploy/systemd-check.sh`, which installs
/// systemd-analyze when it is missing).
#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    let output = std::process::Command::new(repo().join("deploy/systemd-check.sh"))
        .env("AUTHGATE_BIN", crate::support::process::binary())
        .output()
        .expect("run deploy/systemd-check.sh");
    assert!(output.status.success(), "{}", text(&output));
}

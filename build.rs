//! Build script: the git revision for `authgate --version` (`AUTHGATE_GIT_REVISION`), the
//! commit's 12-digit abbreviation, or `unknown` outside a git checkout (a source archive, a
//! container build without `.git`). Re-run when HEAD or a branch moves. No `-dirty` mark:
//! edits to the working tree do not re-run a build script, so it could be stale.

use std::process::Command;

fn main() {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git").args(args).output().ok()?;
        if !out.status.success() {
            return None;
        }
        let text = String::from_utf8(out.stdout).ok()?;
        let text = text.trim();
        (!text.is_empty()).then(|| text.to_owned())
    };
    let revision =
        git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=AUTHGATE_GIT_REVISION={revision}");
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
        println!("cargo:rerun-if-changed={dir}/refs/heads");
    }
    if let Some(common) = git(&["rev-parse", "--git-common-dir"]) {
        println!("cargo:rerun-if-changed={common}/refs/heads");
    }
    println!("cargo:rerun-if-changed=build.rs");
}

//! `authgate completions SHELL` and `authgate man`: a completion script and the man page,
//! generated from the clap definitions in `crate::cli` (clap_complete, clap_mangen), so
//! they always list the commands and flags this binary has.

use clap::CommandFactory;

use super::{print_out, CommandError};
use crate::cli::Cli;

/// Writes the completion script for `shell` to standard output.
pub fn completions(shell: clap_complete::Shell) -> Result<(), CommandError> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "authgate", &mut out);
    write_out(&out)
}

/// Writes the man page, `authgate(1)` in roff, to standard output.
pub fn man_page() -> Result<(), CommandError> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|e| CommandError::Failed(format!("cannot render the man page: {e}")))?;
    write_out(&out)
}

fn write_out(bytes: &[u8]) -> Result<(), CommandError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| CommandError::Failed("the generated text is not UTF-8".to_owned()))?;
    print_out(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_gets_a_script_naming_the_subcommands() {
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
        ] {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "authgate", &mut out);
            let script = String::from_utf8(out).unwrap();
            for sub in ["serve", "check", "client", "token", "keys", "completions"] {
                assert!(script.contains(sub), "{shell}: {sub}");
            }
        }
    }

    #[test]
    fn the_man_page_documents_the_commands() {
        let mut out = Vec::new();
        clap_mangen::Man::new(Cli::command())
            .render(&mut out)
            .unwrap();
        let page = String::from_utf8(out).unwrap();
        assert!(page.starts_with(".ie \\n(.g .ds Aq"), "{}", &page[..80]);
        assert!(page.contains(".TH authgate 1"), "{page}");
        assert!(page.contains("hash\\-password"), "{page}");
    }

    #[test]
    fn the_version_names_the_revision() {
        let version = crate::cli::VERSION;
        assert!(version.starts_with(env!("CARGO_PKG_VERSION")), "{version}");
        assert!(version.ends_with(')'), "{version}");
    }
}

//! One function per subcommand. Each returns a [`CommandError`] whose kind decides the exit
//! code: 2 for a bad configuration or bad arguments, 1 for anything else.
//!
//! - [`serve`], [`check`]: run or validate the gateway; [`routes`]: the route table and
//!   `check --explain`;
//! - [`hash_password`]: argon2id hashes for `[[users]]`, and the password prompt `user add`
//!   shares;
//! - [`client`], [`user`]: edit `[[clients]]` and `[[users]]` through [`config_file`], which
//!   keeps comments and writes only what `check` accepts;
//! - [`token`]: verify an access token offline; [`token_admin`]: list and revoke live
//!   tokens through the running gateway's admin listener;
//! - [`keys`]: list and rotate the asymmetric signing keys, through the admin listener;
//! - [`healthcheck`]: the running gateway's `/healthz`, for container health checks;
//! - [`shell`]: completion scripts and the man page, generated from the clap definitions.
//!
//! Output discipline: results go to standard output (a hash, a list, claims, a new client
//! secret once), notes about what was done go to standard error. No command prints a
//! password, and only `client add` and `client rotate-secret` print a secret: the one they
//! just generated, once.

pub mod check;
pub mod client;
pub(crate) mod config_file;
pub mod hash_password;
pub mod healthcheck;
pub mod keys;
pub mod routes;
pub mod serve;
pub mod shell;
pub mod token;
pub(crate) mod token_admin;
pub mod user;

use std::fmt;
use std::io::Write;

use crate::config::ConfigError;

/// A subcommand's failure.
#[derive(Debug)]
pub enum CommandError {
    /// The configuration is invalid: exit 2.
    Config(ConfigError),
    /// The arguments or input cannot be acted on (an id that exists already or does not
    /// exist, an empty password): exit 2, like clap's own usage errors.
    BadArguments(String),
    /// Anything else: exit 1.
    Failed(String),
}

impl CommandError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CommandError::Config(_) | CommandError::BadArguments(_) => 2,
            CommandError::Failed(_) => 1,
        }
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Config(err) => err.fmt(f),
            CommandError::BadArguments(message) | CommandError::Failed(message) => {
                f.write_str(message)
            }
        }
    }
}

impl std::error::Error for CommandError {}

impl From<ConfigError> for CommandError {
    fn from(err: ConfigError) -> Self {
        CommandError::Config(err)
    }
}

/// Writes `text` to standard output. Unlike `print!`, a closed pipe (`| head`) is an error
/// to report, not a panic.
pub(crate) fn print_out(text: &str) -> Result<(), CommandError> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| CommandError::Failed(format!("cannot write to standard output: {e}")))
}

/// A note on standard error about what was done. Best effort: the work is done already.
pub(crate) fn note(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "authgate: {text}");
}

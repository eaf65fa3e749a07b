//! One function per subcommand. Each returns a [`CommandError`] whose kind decides the exit
//! code (contract §1): 2 for a bad configuration, 1 for anything else.

pub mod check;
pub mod serve;

use std::fmt;

use crate::config::ConfigError;

/// A subcommand's failure.
#[derive(Debug)]
pub enum CommandError {
    /// The configuration is invalid: exit 2.
    Config(ConfigError),
    /// Anything else: exit 1.
    Failed(String),
}

impl CommandError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CommandError::Config(_) => 2,
            CommandError::Failed(_) => 1,
        }
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Config(err) => err.fmt(f),
            CommandError::Failed(message) => f.write_str(message),
        }
    }
}

impl From<ConfigError> for CommandError {
    fn from(err: ConfigError) -> Self {
        CommandError::Config(err)
    }
}

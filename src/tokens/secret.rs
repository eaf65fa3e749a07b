//! Where a secret lives (`env:NAME` or `file:PATH`, never the configuration file itself),
//! and how it is read. Here, below the configuration, so that the key ring loads its keys
//! from the references the configuration names without importing the configuration.

use std::path::PathBuf;

/// Where a secret lives: never in the file itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// `env:NAME`
    Env(String),
    /// `file:PATH`
    File(PathBuf),
}

impl SecretRef {
    /// Reads the secret's text. Errors name the source, never its content.
    pub fn read(&self) -> Result<String, String> {
        match self {
            SecretRef::Env(name) => std::env::var(name)
                .map_err(|_| format!("env:{name}: the environment variable is not set")),
            SecretRef::File(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("file:{}: cannot read: {e}", path.display())),
        }
    }
}

impl std::fmt::Display for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretRef::Env(name) => write!(f, "env:{name}"),
            SecretRef::File(path) => write!(f, "file:{}", path.display()),
        }
    }
}

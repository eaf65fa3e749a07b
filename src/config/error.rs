//! The one error type of configuration loading: it names the file, the line and the key.
//!
//! Its `Display` is the exact text `authgate check` prints and `serve` refuses to start with:
//! `gateway.toml:14: routes[1].upstream: what is wrong`. Messages never echo a secret value.

use std::fmt;
use std::ops::Range;

/// A configuration that cannot be used, and where it is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file as the operator named it (or `<string>` for in-memory sources).
    pub file: String,
    /// 1-based line, when the error can be placed.
    pub line: Option<usize>,
    /// Dotted key path such as `routes[1].upstream`, when the error belongs to a key.
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": {key}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// The text being parsed, so that byte spans can become line numbers.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

impl Source<'_> {
    /// The 1-based line holding byte offset `at`.
    pub fn line_of(&self, at: usize) -> usize {
        let end = at.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    /// An error at `span` for the key `key`.
    pub fn error(
        &self,
        span: Range<usize>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError {
            file: self.name.to_owned(),
            line: Some(self.line_of(span.start)),
            key: Some(key.into()),
            message: message.into(),
        }
    }

    /// An error about the file as a whole.
    pub fn file_error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.name.to_owned(),
            line: None,
            key: None,
            message: message.into(),
        }
    }
}

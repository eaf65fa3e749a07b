//! The command line, as clap sees it: every subcommand and flag with its help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// authgate: a reverse-proxy authentication gateway with its own OAuth2 authorization server.
#[derive(Debug, Parser)]
#[command(name = "authgate", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway until SIGTERM or SIGINT.
    Serve(ConfigArg),
    /// Validate a configuration without starting anything (exit 0 valid, 2 invalid).
    Check(ConfigArg),
}

/// Where the configuration file is.
#[derive(Debug, Args)]
pub struct ConfigArg {
    /// Path to gateway.toml. Relative paths inside it resolve against its directory.
    #[arg(
        long,
        value_name = "PATH",
        env = "AUTHGATE_CONFIG",
        default_value = "gateway.toml"
    )]
    pub config: PathBuf,
}

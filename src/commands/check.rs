//! `authgate check`: validate without starting anything.

use super::CommandError;
use crate::cli::ConfigArg;
use crate::config::Config;

/// Prints a one-line summary of a valid configuration.
pub fn run(args: &ConfigArg) -> Result<(), CommandError> {
    let config = Config::load(&args.config)?;
    for warning in config.warnings() {
        eprintln!("{}: warning: {warning}", args.config.display());
    }
    println!("{}: ok: {}", args.config.display(), config.summary());
    Ok(())
}

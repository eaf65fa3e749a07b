//! `authgate check`: validate without starting anything; with `--routes` or `--explain`,
//! also show how requests are routed (`super::routes`).

use super::CommandError;
use crate::cli::CheckArgs;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;

/// Prints a one-line summary of a valid configuration.
pub fn run(check: &CheckArgs) -> Result<(), CommandError> {
    let args = &check.config;
    let config = Config::load(&args.config)?;
    for warning in config.warnings() {
        eprintln!("{}: warning: {warning}", args.config.display());
    }
    // A provider that cannot be reached is a warning, not an error: the gateway starts and
    // serves local users (issue 15).
    if !config.providers.is_empty() {
        let federation = crate::endpoints::federation::Federation::new(&config);
        let now = SystemClock.now();
        let problems = super::token_admin::runtime()?.block_on(federation.probe(now));
        for problem in problems {
            eprintln!("{}: warning: {problem}", args.config.display());
        }
    }
    println!("{}: ok: {}", args.config.display(), config.summary());
    if check.routes {
        super::print_out(&super::routes::table(&config))?;
    }
    if let Some(path) = &check.explain {
        let explained = super::routes::explain(&config, path, check.host.as_deref())
            .map_err(CommandError::BadArguments)?;
        super::print_out(&explained)?;
    }
    Ok(())
}

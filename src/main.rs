//! The `authgate` binary: parse the command line, run the subcommand, map the result to an
//! exit code. Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;

use authgate::cli::{Cli, Command};
use authgate::commands::{self, CommandError};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: Result<(), CommandError> = match &cli.command {
        Command::Serve(args) => commands::serve::run(args),
        Command::Check(args) => commands::check::run(args),
        Command::HashPassword => commands::hash_password::run(),
        Command::Client(command) => commands::client::run(command),
        Command::User(command) => commands::user::run(command),
        Command::Token(command) => commands::token::run(command),
        Command::Keys(command) => commands::keys::run(command),
        Command::Completions(args) => commands::shell::completions(args.shell),
        Command::Healthcheck(args) => commands::healthcheck::run(args),
        Command::Man => commands::shell::man_page(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("authgate: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

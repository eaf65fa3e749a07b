//! The `authgate` binary: parse the command line, run the subcommand, map the result to an
//! exit code. Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;

use authgate::cli::{Cli, Command};
use authgate::commands::{self, CommandError};

/// mimalloc instead of the C library's allocator, for the binary only (the library and its
/// tests keep the system's): a proxied request makes about a dozen short-lived allocations
/// (hyper's read buffers, its timers, the request's future), and with mimalloc the gateway
/// serves about 4 % more requests per CPU second (bench/README "Allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

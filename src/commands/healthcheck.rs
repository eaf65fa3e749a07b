//! `authgate healthcheck`: asks the running gateway's `GET /healthz` and exits 0 when it
//! answers 200, 1 otherwise (saying what it answered). The container image's `HEALTHCHECK`
//! runs it: the distroless image has no curl and no shell.
//!
//! It reads the same configuration as `serve` and asks the admin listener (plain HTTP, where
//! `/healthz` needs no credential), or the public listener when the admin listener is off and
//! TLS is off too. A public listener with TLS is not probed: that would mean either checking
//! the certificate against a name the probe cannot know or not checking it at all.

use super::{print_out, token_admin::runtime, CommandError};
use crate::admin::client::{healthz, reachable};
use crate::cli::ConfigArg;
use crate::config::{Config, TlsMode};

pub fn run(args: &ConfigArg) -> Result<(), CommandError> {
    let config = Config::load(&args.config)?;
    let listen =
        match (config.admin.listen, &config.server.tls) {
            (Some(admin), _) => admin,
            (None, TlsMode::Off) => config.server.listen,
            (None, _) => return Err(CommandError::Failed(
                "healthcheck asks the admin listener, which is off ([admin] listen = \"off\"), \
                 and the public listener has TLS: turn the admin listener on"
                    .to_owned(),
            )),
        };
    let addr = reachable(listen);
    let (status, text) = runtime()?
        .block_on(healthz(addr))
        .map_err(CommandError::Failed)?;
    if status != http::StatusCode::OK {
        return Err(CommandError::Failed(format!(
            "the gateway at {addr} is not healthy: {status} {text}"
        )));
    }
    print_out(&format!("{addr}: {text}\n"))
}

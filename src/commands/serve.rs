//! `authgate serve`: load the configuration (refusing what `check` refuses), set up logging,
//! and run the server until SIGTERM or SIGINT.

use super::CommandError;
use crate::cli::ConfigArg;
use crate::config::Config;
use crate::logging;
use crate::server::{signals, Server};

pub fn run(args: &ConfigArg) -> Result<(), CommandError> {
    let config = Config::load(&args.config)?;
    let _log_guard = logging::init(&config.log);
    // On one CPU (a pinned or single-core container) a work-stealing scheduler only adds
    // cross-thread bookkeeping; the single-threaded one serves the same load with less.
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut builder = if cpus == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = builder
        .enable_all()
        .build()
        .map_err(|e| CommandError::Failed(format!("cannot start the runtime: {e}")))?;
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    runtime.block_on(async {
        let server = Server::bind(&config)
            .await
            .map_err(|e| CommandError::Failed(e.to_string()))?;
        let addr = server
            .local_addr()
            .map_err(|e| CommandError::Failed(e.to_string()))?;
        let admin = server
            .admin_addr()
            .map_or_else(|| "off".to_owned(), |a| a.to_string());
        tracing::info!(
            listen = %addr,
            admin = %admin,
            public_url = %config.server.public_url.origin,
            routes = config.routes.len(),
            "authgate listening"
        );
        server.run(signals::shutdown_requested()).await;
        tracing::info!("stopped");
        Ok(())
    })
}

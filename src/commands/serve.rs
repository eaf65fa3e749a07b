//! `authgate serve`: load the configuration (refusing what `check` refuses), set up logging,
//! and run the server until SIGTERM or SIGINT, reloading the configuration on SIGHUP and
//! reopening the access log on SIGUSR1.

use super::CommandError;
use crate::cli::ConfigArg;
use crate::config::Config;
use crate::logging;
use crate::server::reload::Reloader;
use crate::server::{signals, Server};

pub fn run(args: &ConfigArg) -> Result<(), CommandError> {
    let config = Config::load(&args.config)?;
    let _log_guard = logging::init(&config.log);
    crate::middleware::catch_panic::quiet_panic_hook();
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
        let usr1 = signals::reopen_requests();
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
        let reloader = server.reloader();
        let reopener = server.reloader();
        let path = args.config.clone();
        // Reading files and building TLS and upstream clients block: off the runtime threads.
        let hangups = tokio::spawn(signals::on_reload(move || {
            let reloader = reloader.clone();
            let path = path.clone();
            tokio::task::spawn_blocking(move || reload(&reloader, &path));
        }));
        // Opening the file blocks too.
        let reopens = usr1.map(|usr1| {
            tokio::spawn(signals::on_reopen(usr1, move || {
                let reopener = reopener.clone();
                tokio::task::spawn_blocking(move || {
                    if let Err(err) = reopener.reopen_access_log() {
                        tracing::error!(error = %err, "access log not reopened; it goes on as it was");
                    }
                });
            }))
        });
        server.run(signals::shutdown_requested()).await;
        hangups.abort();
        if let Some(reopens) = reopens {
            reopens.abort();
        }
        tracing::info!("stopped");
        Ok(())
    })
}

/// Loads the file again and swaps it in, or says why not (and keeps the running one).
fn reload(reloader: &Reloader, path: &std::path::Path) {
    match reloader.reload_file(path) {
        Ok(done) => {
            for warning in done.warnings.iter().chain(&done.ignored) {
                tracing::warn!("{warning}");
            }
            tracing::info!(routes = done.routes, "configuration reloaded");
        }
        Err(err) => tracing::error!(
            error = %err,
            "configuration refused; the running one stays in force"
        ),
    }
}

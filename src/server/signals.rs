//! The signals `serve` acts on: SIGTERM (service managers) and SIGINT (Ctrl-C) end it;
//! SIGHUP reloads the configuration (and reopens the access log); SIGUSR1 reopens the access
//! log only (logrotate's `postrotate`).

/// Resolves when the process is asked to stop. If the handlers cannot be installed the
/// gateway would be unstoppable by its supervisor, so that is logged loudly.
pub async fn shutdown_requested() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(err) => {
            tracing::error!(error = %err, "cannot listen for SIGTERM");
            return std::future::pending().await;
        }
    };
    let mut int = match signal(SignalKind::interrupt()) {
        Ok(s) => s,
        Err(err) => {
            tracing::error!(error = %err, "cannot listen for SIGINT");
            return std::future::pending().await;
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!(signal = "SIGTERM", "shutting down"),
        _ = int.recv() => tracing::info!(signal = "SIGINT", "shutting down"),
    }
}

/// Calls `reload` on every SIGHUP, until the process ends.
pub async fn on_reload(mut reload: impl FnMut()) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(err) => {
            tracing::error!(error = %err, "cannot listen for SIGHUP: configuration reload is off");
            return;
        }
    };
    while hup.recv().await.is_some() {
        tracing::info!(signal = "SIGHUP", "reloading the configuration");
        reload();
    }
}

/// Starts listening for SIGUSR1, whose default action ends the process: called before the
/// gateway says it listens, so that a logrotate run right after the start cannot kill it.
/// `None` (logged) when the handler cannot be installed.
pub fn reopen_requests() -> Option<tokio::signal::unix::Signal> {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::user_defined1()) {
        Ok(s) => Some(s),
        Err(err) => {
            tracing::error!(error = %err, "cannot listen for SIGUSR1: the access log is not reopened on it");
            None
        }
    }
}

/// Calls `reopen` on every SIGUSR1 `usr1` receives, until the process ends.
pub async fn on_reopen(mut usr1: tokio::signal::unix::Signal, mut reopen: impl FnMut()) {
    while usr1.recv().await.is_some() {
        tracing::info!(signal = "SIGUSR1", "reopening the access log");
        reopen();
    }
}

//! The signals `serve` acts on: SIGTERM (service managers) and SIGINT (Ctrl-C) end it;
//! SIGHUP reloads the configuration.

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

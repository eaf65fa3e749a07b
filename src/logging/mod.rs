//! Logging: the tracing set-up (text or JSON lines on standard error through a non-blocking
//! writer, so a slow terminal or pipe never stalls request handling; `RUST_LOG` overrides
//! `[log] level`), and the access log ([`access`]), which has its own path and destination.
//!
//! What may be logged is decided where events are written (see `middleware::access_log`):
//! never a header value, a query string, a token, a secret or a cookie.
//!
//! Every line written while a request is handled carries its `request_id`
//! ([`request_scope`]).

pub mod access;
pub mod request_scope;

use std::io::IsTerminal;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::fmt::format;
use tracing_subscriber::EnvFilter;

use request_scope::{LineShape, WithRequestId};

use crate::config::{LogConfig, LogFormat};

/// rustls logs a warning per handshake for things any client can send (an IP address as
/// SNI): left at `warn`, every client could write to the log at will. Unless the operator's
/// filter names rustls itself, only its errors are shown.
fn quiet_dependencies(level: &str) -> String {
    if level.contains("rustls") {
        level.to_owned()
    } else {
        format!("{level},rustls=error")
    }
}

/// Installs the global subscriber. Keep the guard alive: dropping it flushes the writer.
pub fn init(config: &LogConfig) -> Option<WorkerGuard> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(quiet_dependencies(&config.level)))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::stderr().is_terminal();
    let (writer, guard) = tracing_appender::non_blocking(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    let installed = match config.format {
        LogFormat::Json => builder
            .json()
            .event_format(WithRequestId::new(
                format().json().flatten_event(true),
                LineShape::Json,
            ))
            .try_init(),
        LogFormat::Text => builder
            .event_format(WithRequestId::new(
                format().with_ansi(ansi),
                LineShape::Text,
            ))
            .try_init(),
    };
    installed.ok().map(|()| guard)
}

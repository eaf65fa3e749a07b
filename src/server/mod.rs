//! The public listener: bind, accept, TLS, serve HTTP/1.1 and HTTP/2, shut down gracefully.
//!
//! Limits applied here, before any request reaches the stack: at most `max_connections`
//! connections at once; the TLS handshake and each request's header block must arrive within
//! `header_timeout` (which also bounds idle keep-alive); a header block larger than
//! `header_bytes` is answered 431 by hyper; HTTP/2 streams, header lists and reset floods
//! are capped. On shutdown the listener closes first, then connections finish their
//! in-flight requests within `shutdown_grace`.

pub mod signals;
pub mod stack;
pub mod tls;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower::Service;

use crate::clock::{Clock, SystemClock};
use crate::config::{Config, Limits};
use crate::dispatch::{ConnectionInfo, Gateway};
use crate::oauth::AuthServer;
use crate::store::memory::MemoryStore;
use crate::store::Store;
use crate::tokens::keyring::{KeyError, KeyRing};

/// Why the server could not start.
#[derive(Debug)]
pub enum ServeError {
    Bind(SocketAddr, std::io::Error),
    Tls(tls::TlsError),
    Upstream(crate::proxy::forward::UpstreamSetupError),
    Keys(KeyError),
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::Bind(addr, err) => write!(f, "cannot listen on {addr}: {err}"),
            ServeError::Tls(err) => write!(f, "TLS: {err}"),
            ServeError::Upstream(err) => write!(f, "upstream: {err}"),
            ServeError::Keys(err) => write!(f, "signing keys: {err}"),
        }
    }
}

impl std::error::Error for ServeError {}

/// A gateway bound to its listener, ready to run.
pub struct Server {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    gateway: Arc<Gateway>,
    access_log: bool,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// `[session]` idle and absolute limits, in seconds, for the sweeper.
    session_limits: (u64, u64),
    limits: Limits,
    shutdown_grace: Duration,
}

impl Server {
    /// Builds everything a configuration needs and binds the listener.
    pub async fn bind(config: &Config) -> Result<Server, ServeError> {
        Server::bind_with(config, Arc::new(SystemClock), Arc::new(MemoryStore::new())).await
    }

    /// [`Server::bind`] with a given clock, by which tokens, codes, sign-in flows and sessions
    /// are timed and the store is swept, and a given token store. Tests pass a
    /// [`crate::clock::ManualClock`] to move time forward instead of sleeping, and keep a
    /// handle on the store to act as the administrator would (revoke a user).
    pub async fn bind_with(
        config: &Config,
        clock: Arc<dyn Clock>,
        store: Arc<dyn Store>,
    ) -> Result<Server, ServeError> {
        let tls = tls::server_config(&config.server)
            .map_err(ServeError::Tls)?
            .map(TlsAcceptor::from);
        let keys = KeyRing::load(
            &config.tokens.signing_key,
            &config.tokens.previous_keys,
            true,
        )
        .map_err(ServeError::Keys)?
        .ok_or_else(|| ServeError::Keys(KeyError("no signing key".to_owned())))?;
        let auth = Arc::new(AuthServer::new(config, keys, store.clone(), clock.clone()));
        let gateway = Gateway::new(config, auth).map_err(ServeError::Upstream)?;
        let listen = config.server.listen;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| ServeError::Bind(listen, e))?;
        Ok(Server {
            listener,
            tls,
            gateway: Arc::new(gateway),
            access_log: config.log.access,
            store,
            clock,
            session_limits: (
                config.session.idle_timeout.as_secs(),
                config.session.max_lifetime.as_secs(),
            ),
            limits: config.server.limits.clone(),
            shutdown_grace: config.server.shutdown_grace,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves, then drains within the grace period.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let builder = Arc::new(http_builder(&self.limits));
        let graceful = GracefulShutdown::new();
        let slots = Arc::new(Semaphore::new(self.limits.max_connections));
        let header_timeout = self.limits.header_timeout;
        let sweeper = tokio::spawn(sweep_forever(
            self.store.clone(),
            self.clock.clone(),
            self.session_limits.0,
            self.session_limits.1,
        ));
        tokio::pin!(shutdown);

        loop {
            let permit = tokio::select! {
                _ = &mut shutdown => break,
                permit = slots.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_closed) => break,
                },
            };
            let (stream, peer) = tokio::select! {
                _ = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        tracing::warn!(error = %err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let connection = Connection {
                stream,
                peer,
                tls: self.tls.clone(),
                gateway: self.gateway.clone(),
                access_log: self.access_log,
                builder: builder.clone(),
                header_timeout,
            };
            let watcher = graceful.watcher();
            tokio::spawn(async move {
                connection.serve(watcher).await;
                drop(permit);
            });
        }

        drop(self.listener);
        sweeper.abort();
        tracing::info!(
            grace_s = self.shutdown_grace.as_secs(),
            "listener closed; draining connections"
        );
        if tokio::time::timeout(self.shutdown_grace, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("grace period over; closing the remaining connections");
        }
    }
}

/// Drops expired codes, tokens and sessions once a minute.
async fn sweep_forever(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    session_idle: u64,
    session_max: u64,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        if let Err(err) = store.sweep(clock.now(), session_idle, session_max).await {
            tracing::warn!(error = %err, "store sweep failed");
        }
    }
}

/// hyper's connection settings, from `[server.limits]`.
fn http_builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.header_bytes)
        .max_headers(100)
        .writev(false)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.header_bytes).unwrap_or(u32::MAX))
        .max_concurrent_streams(256)
        .max_pending_accept_reset_streams(Some(50))
        .max_local_error_reset_streams(Some(256))
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    builder
}

/// One accepted connection.
struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    gateway: Arc<Gateway>,
    access_log: bool,
    builder: Arc<auto::Builder<TokioExecutor>>,
    header_timeout: Duration,
}

impl Connection {
    async fn serve(self, watcher: hyper_util::server::graceful::Watcher) {
        let info = ConnectionInfo::new(self.peer, self.tls.is_some());
        let stack = stack::build(self.gateway, self.access_log, info);
        let first_request = Arc::new(FirstRequest::default());
        let seen = first_request.clone();
        let service = hyper::service::service_fn(move |req: http::Request<Incoming>| {
            seen.arrived();
            let mut stack = stack.clone();
            async move { Ok::<_, Infallible>(unwrap_infallible(stack.call(req).await)) }
        });
        let result = match self.tls {
            None => {
                let conn = self
                    .builder
                    .serve_connection_with_upgrades(TokioIo::new(self.stream), service);
                tokio::select! {
                    result = watcher.watch(conn.into_owned()) => result,
                    () = first_request.missed(self.header_timeout) => {
                        tracing::debug!(peer = %self.peer, "no request within header_timeout");
                        return;
                    }
                }
            }
            Some(acceptor) => {
                let handshake =
                    tokio::time::timeout(self.header_timeout, acceptor.accept(self.stream)).await;
                let stream = match handshake {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(err)) => {
                        tracing::debug!(peer = %self.peer, error = %err, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(peer = %self.peer, "TLS handshake timed out");
                        return;
                    }
                };
                let conn = self
                    .builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service);
                tokio::select! {
                    result = watcher.watch(conn.into_owned()) => result,
                    () = first_request.missed(self.header_timeout) => {
                        tracing::debug!(peer = %self.peer, "no request within header_timeout");
                        return;
                    }
                }
            }
        };
        if let Err(err) = result {
            tracing::debug!(peer = %self.peer, error = %err, "connection ended with an error");
        }
    }
}

/// Whether a connection has brought its first request yet.
///
/// hyper's `header_read_timeout` only runs once HTTP/1 parsing has begun; before that, the
/// auto builder waits without a limit for the bytes that tell HTTP/1 from HTTP/2, so a client
/// that connects and sends nothing (or half an HTTP/2 preface) would hold a connection slot
/// forever. `header_timeout` bounds that wait too.
#[derive(Default)]
struct FirstRequest {
    seen: std::sync::atomic::AtomicBool,
    notify: tokio::sync::Notify,
}

impl FirstRequest {
    fn arrived(&self) {
        use std::sync::atomic::Ordering;
        if !self.seen.load(Ordering::Relaxed) {
            self.seen.store(true, Ordering::Relaxed);
            // `notify_one` keeps a permit, so a waiter that comes later still sees it.
            self.notify.notify_one();
        }
    }

    /// Resolves when no request came within `limit`; never resolves once one has.
    async fn missed(&self, limit: Duration) {
        if tokio::time::timeout(limit, self.notify.notified())
            .await
            .is_ok()
        {
            std::future::pending::<()>().await;
        }
    }
}

fn unwrap_infallible<T>(result: Result<T, Infallible>) -> T {
    match result {
        Ok(value) => value,
        Err(never) => match never {},
    }
}

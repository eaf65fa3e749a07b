//! The public listener: bind, accept, TLS, serve HTTP/1.1 and HTTP/2, shut down gracefully.
//!
//! Limits applied here, before any request reaches the stack: at most `max_connections`
//! connections at once; the TLS handshake and each request's header block must arrive within
//! `header_timeout` (which also bounds idle keep-alive: `header_timeout.rs`); a header block
//! larger than `header_bytes` is answered 431 by hyper; HTTP/2 streams, header lists and reset
//! floods are capped. On shutdown the listener closes first, then connections finish their
//! in-flight requests within `shutdown_grace`, then the access log writes every line it
//! still holds.

mod header_timeout;
pub(crate) mod reload;
pub(crate) mod signals;
pub(crate) mod stack;
pub(crate) mod tls;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use header_timeout::{BusyBody, HeaderTimeout};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::Service;

use arc_swap::ArcSwap;

use crate::admin::{self, AdminListener, AdminState};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, Limits};
use crate::dispatch::ConnectionInfo;
use crate::logging::access::{self, AccessSink};
use crate::metrics::Metrics;
use crate::oauth::login::PasswordChecker;
use crate::oauth::Lasting;
use crate::store::Store;
use crate::tokens::keyring::KeyError;
use reload::{Live, Reloader};

/// Why the server could not start.
#[derive(Debug)]
pub enum ServeError {
    Bind(SocketAddr, std::io::Error),
    Tls(tls::TlsError),
    Upstream(crate::proxy::forward::UpstreamSetupError),
    Keys(KeyError),
    Store(crate::store::StoreError),
    Admin(String),
    AccessLog(String),
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::Bind(addr, err) => write!(f, "cannot listen on {addr}: {err}"),
            ServeError::Tls(err) => write!(f, "TLS: {err}"),
            ServeError::Upstream(err) => write!(f, "upstream: {err}"),
            ServeError::Keys(err) => write!(f, "signing keys: {err}"),
            ServeError::Store(err) => write!(f, "{err}"),
            ServeError::Admin(err) => write!(f, "admin listener: {err}"),
            ServeError::AccessLog(err) => write!(f, "access log: {err}"),
        }
    }
}

impl std::error::Error for ServeError {}

/// A gateway bound to its listener, ready to run.
pub struct Server {
    listener: TcpListener,
    live: Arc<ArcSwap<Live>>,
    reloader: Arc<Reloader>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    limits: Limits,
    shutdown_grace: Duration,
    admin: Option<AdminListener>,
    access: Arc<AccessSink>,
}

impl Server {
    /// Builds everything a configuration needs and binds the listener.
    pub async fn bind(config: &Config) -> Result<Server, ServeError> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store = crate::store::open(config, clock.clone())
            .await
            .map_err(ServeError::Store)?;
        Server::bind_with(config, clock, store).await
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
        let metrics =
            Arc::new(Metrics::new().map_err(|e| ServeError::Admin(format!("metrics: {e}")))?);
        let signing = Arc::new(load_signing_keys(config, store.as_ref(), clock.now()).await?);
        let factor_key = crate::mfa::seal::FactorKey::load(&config.mfa.secret_key, true)
            .map_err(|e| ServeError::Keys(KeyError(format!("mfa.secret_key: {e}"))))?;
        let lasting = Lasting {
            store: store.clone(),
            clock: clock.clone(),
            metrics: metrics.clone(),
            login: Arc::new(PasswordChecker::new()),
            signing,
            factor_key: Arc::new(factor_key),
        };
        store.set_session_limits(
            config.session.idle_timeout.as_secs(),
            config.session.max_lifetime.as_secs(),
        );
        let resumption = tls::Resumption::new().map_err(ServeError::Tls)?;
        let access_file = config.log.access_file.as_deref();
        let access = AccessSink::start(access_file, metrics.access_log_dropped())
            .map(Arc::new)
            .map_err(|e| {
                let name = access_file.map_or_else(|| "stdout".into(), |f| f.display().to_string());
                ServeError::AccessLog(format!("cannot open {name}: {e}"))
            })?;
        let live = Arc::new(ArcSwap::from_pointee(reload::build(
            config,
            &lasting,
            &resumption,
            &access,
        )?));
        let reloader = Arc::new(Reloader::new(
            live.clone(),
            lasting,
            resumption,
            access.clone(),
            config.clone(),
        ));
        let listen = config.server.listen;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| ServeError::Bind(listen, e))?;
        let admin = match config.admin.listen {
            None => None,
            Some(addr) => {
                let token = admin::credential::load_or_create(&config.admin.token)
                    .map_err(ServeError::Admin)?;
                let state = AdminState {
                    store: store.clone(),
                    clock: clock.clone(),
                    metrics,
                    token,
                    access_ttl_secs: config.tokens.access_ttl.as_secs(),
                    auth: Some(current_auth(live.clone())),
                };
                let admin = AdminListener::bind(addr, state)
                    .await
                    .map_err(|e| ServeError::Bind(addr, e))?;
                Some(admin)
            }
        };
        Ok(Server {
            listener,
            live,
            reloader,
            store,
            clock,
            limits: config.server.limits.clone(),
            shutdown_grace: config.server.shutdown_grace,
            admin,
            access,
        })
    }

    /// Swaps in new configurations while the server runs (SIGHUP).
    pub fn reloader(&self) -> Arc<Reloader> {
        self.reloader.clone()
    }

    /// The admin listener's address, when it is on.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().and_then(|a| a.local_addr().ok())
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
            self.live.clone(),
        ));
        let key_refresher = tokio::spawn(refresh_keys_forever(self.live.clone()));
        let admin = self.admin.map(|admin| tokio::spawn(admin.run()));
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
                live: self.live.clone(),
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
        key_refresher.abort();
        if let Some(admin) = &admin {
            admin.abort();
        }
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
        // Connection and background tasks hold the store: wait until they are gone, so that
        // when `run` returns the store is released (its directory lock too) and a gateway
        // started next on the same data_dir can open it. A connection task gives its slot
        // back only after dropping everything it held.
        let all = u32::try_from(self.limits.max_connections).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(Duration::from_secs(1), slots.acquire_many(all)).await;
        // Every finished request has formatted its line by now: write them all (waiting at
        // most `CLOSE_WAIT` for a blocked destination).
        let sink = self.access.clone();
        let _ = tokio::task::spawn_blocking(move || sink.close(access::CLOSE_WAIT)).await;
        let _ = sweeper.await;
        let _ = key_refresher.await;
        if let Some(admin) = admin {
            let _ = admin.await;
        }
    }
}

/// Drops expired codes, tokens and sessions once a minute, sessions by the `[session]` limits
/// of the configuration in force at each sweep (a reload may have changed them).
async fn sweep_forever(store: Arc<dyn Store>, clock: Arc<dyn Clock>, live: Arc<ArcSwap<Live>>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        sweep_once(store.as_ref(), clock.as_ref(), &live).await;
    }
}

async fn sweep_once(store: &dyn Store, clock: &dyn Clock, live: &ArcSwap<Live>) {
    let (idle, max) = live.load().gateway.session_limits();
    if let Err(err) = store.sweep(clock.now(), idle, max).await {
        tracing::warn!(error = %err, "store sweep failed");
    }
}

/// The deployment's asymmetric signing keys, from the store (generated into it on first
/// start, but for the keys generated just after it: `signing_keys::AFTER_START`), sealed
/// under the `[tokens]` HMAC key (generated first if it is a missing file), with the keys
/// `[tokens]` names Current for their algorithms.
async fn load_signing_keys(
    config: &Config,
    store: &dyn Store,
    now: u64,
) -> Result<crate::tokens::jose::Keys, ServeError> {
    let seal = crate::tokens::jose::SealKeys::from_ring(&reload::key_ring(config)?);
    let configured = reload::configured_keys(config)?;
    let later = crate::store::signing_keys::AFTER_START;
    let set = crate::store::signing_keys::KeyStore { store, seal: &seal }
        .load(now, &configured, &later)
        .await
        .map_err(|e| ServeError::Keys(KeyError(format!("asymmetric keys: {e}"))))?;
    Ok(crate::tokens::jose::Keys::new(set))
}

/// The authorization server of the configuration in force, for the admin listener.
fn current_auth(live: Arc<ArcSwap<Live>>) -> admin::CurrentAuth {
    Arc::new(move || live.load().gateway.auth().clone())
}

/// Generates the keys the start left for later, then reads the signing keys back from the
/// store every [`crate::store::signing_keys::REFRESH_SECS`], so that a rotation on another
/// gateway reaches this one, and drops retired keys past their retention.
async fn refresh_keys_forever(live: Arc<ArcSwap<Live>>) {
    let auth = live.load().gateway.auth().clone();
    if let Err(err) = auth.settle_signing_keys().await {
        tracing::warn!(error = %err, "cannot complete the signing keys");
    }
    drop(auth);
    let period = Duration::from_secs(crate::store::signing_keys::REFRESH_SECS);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        tick.tick().await;
        let auth = live.load().gateway.auth().clone();
        if let Err(err) = auth.refresh_signing_keys().await {
            tracing::warn!(error = %err, "cannot refresh the signing keys from the store");
        }
    }
}

/// hyper's connection settings, from `[server.limits]`.
fn http_builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        // The header timeout is the connection's own (`header_timeout.rs`): hyper's would arm
        // a timer per request.
        .header_read_timeout(None)
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
    live: Arc<ArcSwap<Live>>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    header_timeout: Duration,
}

impl Connection {
    async fn serve(self, watcher: hyper_util::server::graceful::Watcher) {
        // TLS is decided once per connection; the rest of the configuration per request, so
        // that a reload reaches keep-alive connections on their next request.
        let tls = self.live.load().tls.clone();
        let Connection {
            stream,
            peer,
            live,
            builder,
            header_timeout,
        } = self;
        let parts = HttpParts {
            peer,
            live,
            builder,
            header_timeout,
        };
        let Some(acceptor) = tls else {
            return parts.http(stream, false, watcher).await;
        };
        match tokio::time::timeout(header_timeout, acceptor.accept(stream)).await {
            Ok(Ok(stream)) => parts.http(stream, true, watcher).await,
            Ok(Err(err)) => tracing::debug!(peer = %peer, error = %err, "TLS handshake failed"),
            Err(_) => tracing::debug!(peer = %peer, "TLS handshake timed out"),
        }
    }
}

/// What serving HTTP on a connection needs besides its bytes.
struct HttpParts {
    peer: SocketAddr,
    live: Arc<ArcSwap<Live>>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    header_timeout: Duration,
}

impl HttpParts {
    /// HTTP over one connection's bytes, plain or TLS alike: until the connection ends, or
    /// until it breaks the header timeout ([`HeaderTimeout`]).
    async fn http<I>(self, io: I, tls: bool, watcher: hyper_util::server::graceful::Watcher)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let info = Arc::new(ConnectionInfo::new(self.peer, tls));
        let live = self.live;
        let clock = HeaderTimeout::start();
        let requests = clock.clone();
        let service = hyper::service::service_fn(move |req: http::Request<Incoming>| {
            let busy = requests.request(req.version());
            let mut stack = live.load().stack(&info);
            async move {
                let response = unwrap_infallible(stack.call(req).await);
                Ok::<_, Infallible>(response.map(|body| BusyBody::new(body, busy)))
            }
        });
        let conn = self
            .builder
            .serve_connection_with_upgrades(TokioIo::new(io), service);
        let result = tokio::select! {
            // The connection first: a header block that came with the deadline counts.
            biased;
            result = watcher.watch(conn.into_owned()) => result,
            () = clock.expired(self.header_timeout) => {
                tracing::debug!(peer = %self.peer, "no complete request header within header_timeout");
                return;
            }
        };
        if let Err(err) = result {
            tracing::debug!(peer = %self.peer, error = %err, "connection ended with an error");
        }
    }
}

fn unwrap_infallible<T>(result: Result<T, Infallible>) -> T {
    match result {
        Ok(value) => value,
        Err(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::store::memory::MemoryStore;
    use crate::store::SessionRecord;
    use crate::tokens::opaque::TokenHash;

    fn config(dir: &std::path::Path, idle: &str) -> Config {
        Config::from_toml_str(&format!(
            "[server]\nlisten = \"127.0.0.1:0\"\npublic_url = \"https://gw.example\"\n\
             data_dir = \"{}\"\n[server.tls]\nmode = \"off\"\n[admin]\nlisten = \"off\"\n\
             [session]\nidle_timeout = \"{idle}\"\nmax_lifetime = \"7d\"\n",
            dir.display()
        ))
        .unwrap()
    }

    /// Regression (issue 13): the sweeper kept the session limits it was started with,
    /// so after a reload that lengthened `idle_timeout` it deleted sessions the configuration
    /// in force said were alive.
    #[tokio::test]
    async fn a_reload_that_lengthens_the_idle_timeout_reaches_the_sweep() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(1_000_000));
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let lasting = Lasting {
            store: store.clone(),
            clock: clock.clone(),
            metrics: Arc::new(Metrics::new().unwrap()),
            login: Arc::new(PasswordChecker::new()),
            signing: Arc::new(crate::tokens::jose::Keys::empty()),
            factor_key: Arc::new(crate::mfa::seal::FactorKey::from_bytes(&[5; 32])),
        };
        let first = config(dir.path(), "1h");
        let resumption = tls::Resumption::new().unwrap();
        let counter = prometheus::IntCounter::new("dropped", "dropped").unwrap();
        let sink =
            Arc::new(AccessSink::start(Some(&dir.path().join("access.log")), counter).unwrap());
        let live = Arc::new(ArcSwap::from_pointee(
            reload::build(&first, &lasting, &resumption, &sink).unwrap(),
        ));
        let reloader = Reloader::new(live.clone(), lasting, resumption, sink, first);

        let now = clock.now();
        let record = |user: &str| SessionRecord {
            sign_in: None,
            factor_tries: 0,
            user: user.to_owned(),
            created_at: now,
            last_seen: now,
            scope: String::new(),
            family: None,
            person: None,
        };
        let id = TokenHash::of("session");
        store.put_session(id, record("alice")).await.unwrap();

        reloader.reload(config(dir.path(), "8h")).unwrap();
        clock.advance(2 * 3600);
        sweep_once(store.as_ref(), clock.as_ref(), &live).await;
        let alive = store
            .touch_session(&id, clock.now(), 8 * 3600, 7 * 86_400)
            .await
            .unwrap();
        assert!(alive.is_some(), "swept by the limits of before the reload");

        // And a reload that shortens it is followed as well.
        reloader.reload(config(dir.path(), "30m")).unwrap();
        clock.advance(3600);
        sweep_once(store.as_ref(), clock.as_ref(), &live).await;
        let stats = store.stats().await.unwrap();
        let sessions = stats
            .entries
            .iter()
            .find(|(kind, _)| *kind == "session")
            .map(|(_, n)| *n);
        assert_eq!(sessions, Some(0), "{:?}", stats.entries);
    }
}

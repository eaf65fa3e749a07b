//! Upstream servers on hyper (HTTP/1.1, port 0) that record every request head they receive,
//! so a test can tell both what an upstream saw and that it saw nothing.
//!
//! Behaviours: echo (what arrived, as JSON), fixed status, silent (never answers), fixed
//! response headers, a download held after its first chunk until the test releases it, an
//! upload sink that reports its first bytes and its total, a large generated download, and a
//! gate that holds a request until the test releases it.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify};
use tokio::task::{JoinHandle, JoinSet};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Every upstream response body.
pub type TestBody = UnsyncBoxBody<Bytes, BoxError>;

type Handler = Arc<
    dyn Fn(Request<Incoming>) -> Pin<Box<dyn Future<Output = Response<TestBody>> + Send>>
        + Send
        + Sync,
>;

/// A request head as an upstream received it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// In arrival order, names lower case (as hyper gives them), duplicates kept.
    pub headers: Vec<(String, String)>,
}

impl Seen {
    fn of<B>(req: &Request<B>) -> Seen {
        Seen {
            method: req.method().to_string(),
            path: req.uri().path().to_owned(),
            query: req.uri().query().map(str::to_owned),
            headers: req
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
        }
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` (case-insensitive).
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Header names, lower case.
    pub fn header_names(&self) -> Vec<String> {
        self.headers
            .iter()
            .map(|(k, _)| k.to_ascii_lowercase())
            .collect()
    }

    /// `path?query`, as the upstream received it.
    pub fn target(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.clone(),
        }
    }
}

/// The echo upstream's answer: which upstream, what it saw, and how many body bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Echoed {
    pub upstream: String,
    #[serde(flatten)]
    pub seen: Seen,
    pub body_bytes: u64,
}

impl std::ops::Deref for Echoed {
    type Target = Seen;
    fn deref(&self) -> &Seen {
        &self.seen
    }
}

/// An upstream server. Dropping it stops it and closes its connections.
pub struct TestUpstream {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    connections: Arc<Connections>,
    task: JoinHandle<()>,
}

/// Counts the upstream's TCP connections, to wait until the gateway has let go of them.
#[derive(Default)]
struct Connections {
    opened: AtomicU64,
    closed: AtomicU64,
    changed: Notify,
}

impl Drop for TestUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestUpstream {
    /// Serves `handler` on a fresh port.
    pub async fn serve<F, Fut>(handler: F) -> TestUpstream
    where
        F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response<TestBody>> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |req| Box::pin(handler(req)));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind upstream");
        let addr = listener.local_addr().expect("upstream addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(Connections::default());
        let task = tokio::spawn(accept_loop(
            listener,
            handler,
            seen.clone(),
            connections.clone(),
        ));
        TestUpstream {
            addr,
            seen,
            connections,
            task,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, for a route's `upstream`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request head received so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen lock").clone()
    }

    /// How many requests have arrived.
    pub fn hits(&self) -> usize {
        self.seen.lock().expect("seen lock").len()
    }

    /// How many TCP connections the upstream has accepted.
    pub fn connections_opened(&self) -> u64 {
        self.connections.opened.load(Ordering::SeqCst)
    }

    /// Waits (bounded by `limit`) until at least one connection was accepted and every
    /// accepted connection has closed: the gateway is done with this upstream.
    pub async fn all_connections_closed(&self, limit: Duration) {
        let c = &self.connections;
        super::within(limit, "the upstream's connections to close", async {
            loop {
                let changed = c.changed.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                let opened = c.opened.load(Ordering::SeqCst);
                if opened > 0 && c.closed.load(Ordering::SeqCst) == opened {
                    return;
                }
                changed.await;
            }
        })
        .await;
    }

    /// The last request head received (panics when none arrived).
    pub fn last(&self) -> Seen {
        self.requests()
            .pop()
            .expect("the upstream received no request")
    }

    /// Answers 200 with JSON [`Echoed`]: `name`, and what it received.
    pub async fn echo(name: &str) -> TestUpstream {
        let name: Arc<str> = Arc::from(name);
        TestUpstream::serve(move |req| echo_response(name.clone(), req)).await
    }

    /// Answers `status` with a short body.
    pub async fn status(status: u16) -> TestUpstream {
        TestUpstream::serve(move |_req| async move {
            let mut res = Response::new(full(format!("status {status} from upstream\n")));
            *res.status_mut() = StatusCode::from_u16(status).expect("status");
            res
        })
        .await
    }

    /// Accepts connections and reads requests, but never answers.
    pub async fn silent() -> TestUpstream {
        TestUpstream::serve(|_req| std::future::pending::<Response<TestBody>>()).await
    }

    /// Answers 200 `ok` with these response headers (names may repeat).
    pub async fn with_response_headers(headers: &[(&str, &str)]) -> TestUpstream {
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        TestUpstream::serve(move |_req| {
            let headers = headers.clone();
            async move {
                let mut res = Response::new(full("ok"));
                for (k, v) in headers {
                    res.headers_mut().append(
                        http::HeaderName::from_bytes(k.as_bytes()).expect("header name"),
                        http::HeaderValue::from_str(&v).expect("header value"),
                    );
                }
                res
            }
        })
        .await
    }

    /// A download (no Content-Length, so chunked) that sends `first`, then waits until
    /// [`Release::release`] before sending `rest`.
    pub async fn held_download(first: Bytes, rest: Vec<Bytes>) -> (TestUpstream, Release) {
        let release = Release(Arc::new(Notify::new()));
        let gate = release.0.clone();
        let upstream = TestUpstream::serve(move |_req| {
            let gate = gate.clone();
            let first = first.clone();
            let rest = rest.clone();
            async move {
                let (tx, rx) = mpsc::channel::<Bytes>(4);
                tokio::spawn(async move {
                    if tx.send(first).await.is_err() {
                        return;
                    }
                    gate.notified().await;
                    for chunk in rest {
                        if tx.send(chunk).await.is_err() {
                            return;
                        }
                    }
                });
                Response::new(ChannelBody(rx).boxed_unsync())
            }
        })
        .await;
        (upstream, release)
    }

    /// A download of `total` generated bytes (`Content-Length` set), in 64 KiB chunks.
    pub async fn large_download(total: u64) -> TestUpstream {
        TestUpstream::serve(move |_req| async move {
            Response::new(RepeatBody::new(total).boxed_unsync())
        })
        .await
    }

    /// Reads request bodies frame by frame and answers JSON `{"bytes": N}` at their end.
    /// The [`UploadProbe`] tells when the first bytes arrived, how many have, and how the
    /// body ended.
    pub async fn upload_sink() -> (TestUpstream, UploadProbe) {
        let probe = UploadProbe {
            inner: Arc::new(ProbeInner {
                first_bytes: Notify::new(),
                finished: Notify::new(),
                received: AtomicU64::new(0),
                outcome: Mutex::new(None),
            }),
        };
        let shared = probe.inner.clone();
        let upstream = TestUpstream::serve(move |req| {
            let shared = shared.clone();
            async move {
                let mut body = req.into_body();
                let mut total: u64 = 0;
                let outcome = loop {
                    match body.frame().await {
                        None => break Ok(total),
                        Some(Err(err)) => break Err(err.to_string()),
                        Some(Ok(frame)) => {
                            if let Some(data) = frame.data_ref() {
                                if total == 0 && !data.is_empty() {
                                    shared.first_bytes.notify_one();
                                }
                                total += data.len() as u64;
                                shared.received.store(total, Ordering::SeqCst);
                            }
                        }
                    }
                };
                *shared.outcome.lock().expect("outcome lock") = Some(outcome.clone());
                shared.finished.notify_one();
                match outcome {
                    Ok(n) => json_response(&serde_json::json!({ "bytes": n })),
                    Err(_) => {
                        let mut res = Response::new(full("body failed"));
                        *res.status_mut() = StatusCode::BAD_REQUEST;
                        res
                    }
                }
            }
        })
        .await;
        (upstream, probe)
    }

    /// Holds each request until [`Gate::release`], then echoes it as `name`.
    pub async fn gated(name: &str) -> (TestUpstream, Gate) {
        let gate = Gate {
            arrived: Arc::new(Notify::new()),
            release: Arc::new(Notify::new()),
        };
        let (arrived, release) = (gate.arrived.clone(), gate.release.clone());
        let name: Arc<str> = Arc::from(name);
        let upstream = TestUpstream::serve(move |req| {
            let (arrived, release, name) = (arrived.clone(), release.clone(), name.clone());
            async move {
                arrived.notify_one();
                release.notified().await;
                echo_response(name, req).await
            }
        })
        .await;
        (upstream, gate)
    }
}

async fn accept_loop(
    listener: TcpListener,
    handler: Handler,
    seen: Arc<Mutex<Vec<Seen>>>,
    counter: Arc<Connections>,
) {
    // Owning the connections here means aborting this task closes them all.
    let mut connections = JoinSet::new();
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => continue,
        };
        while connections.try_join_next().is_some() {}
        let handler = handler.clone();
        let seen = seen.clone();
        let counter = counter.clone();
        counter.opened.fetch_add(1, Ordering::SeqCst);
        counter.changed.notify_waiters();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                seen.lock().expect("seen lock").push(Seen::of(&req));
                let response = handler(req);
                async move { Ok::<_, Infallible>(response.await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
            counter.closed.fetch_add(1, Ordering::SeqCst);
            counter.changed.notify_waiters();
        });
    }
}

async fn echo_response(name: Arc<str>, req: Request<Incoming>) -> Response<TestBody> {
    let seen = Seen::of(&req);
    let mut body = req.into_body();
    let mut body_bytes = 0u64;
    while let Some(Ok(frame)) = body.frame().await {
        if let Some(data) = frame.data_ref() {
            body_bytes += data.len() as u64;
        }
    }
    json_response(&Echoed {
        upstream: name.to_string(),
        seen,
        body_bytes,
    })
}

fn json_response(value: &impl Serialize) -> Response<TestBody> {
    let mut res = Response::new(full(serde_json::to_vec(value).expect("json")));
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    res
}

/// A fixed body.
pub fn full(bytes: impl Into<Bytes>) -> TestBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// Lets a [`TestUpstream::held_download`] send the rest of its body.
#[derive(Clone)]
pub struct Release(Arc<Notify>);

impl Release {
    pub fn release(&self) {
        self.0.notify_one();
    }
}

/// Holds [`TestUpstream::gated`] requests.
#[derive(Clone)]
pub struct Gate {
    arrived: Arc<Notify>,
    release: Arc<Notify>,
}

impl Gate {
    /// Waits until a request has reached the upstream.
    pub async fn arrived(&self) {
        super::within(
            super::WAIT,
            "request to reach the gated upstream",
            self.arrived.notified(),
        )
        .await;
    }

    /// Lets one held request be answered.
    pub fn release(&self) {
        self.release.notify_one();
    }
}

struct ProbeInner {
    first_bytes: Notify,
    finished: Notify,
    received: AtomicU64,
    outcome: Mutex<Option<Result<u64, String>>>,
}

/// What a [`TestUpstream::upload_sink`] has received.
#[derive(Clone)]
pub struct UploadProbe {
    inner: Arc<ProbeInner>,
}

impl UploadProbe {
    /// Resolves once the first body bytes have arrived.
    pub async fn first_bytes(&self) {
        self.inner.first_bytes.notified().await;
    }

    /// Body bytes received so far.
    pub fn received(&self) -> u64 {
        self.inner.received.load(Ordering::SeqCst)
    }

    /// Waits (bounded by `limit`) until the body has ended: `Ok(total)` when it completed,
    /// `Err(reason)` when it broke off.
    pub async fn finished(&self, limit: Duration) -> Result<u64, String> {
        let notified = self.inner.finished.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if let Some(outcome) = self.inner.outcome.lock().expect("outcome lock").clone() {
            return outcome;
        }
        super::within(limit, "upload body to end at the upstream", notified).await;
        self.inner
            .outcome
            .lock()
            .expect("outcome lock")
            .clone()
            .expect("outcome set before notify")
    }
}

/// A response body fed through a channel.
struct ChannelBody(mpsc::Receiver<Bytes>);

impl HttpBody for ChannelBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|b| Ok(Frame::data(b))))
    }
}

/// `total` bytes of a repeating pattern, in chunks of [`CHUNK`], with an exact size.
pub struct RepeatBody {
    chunk: Bytes,
    remaining: u64,
}

/// The chunk size of generated bodies.
pub const CHUNK: usize = 64 * 1024;

impl RepeatBody {
    pub fn new(total: u64) -> RepeatBody {
        let pattern: Vec<u8> = (0..CHUNK).map(|i| (i % 251) as u8).collect();
        RepeatBody {
            chunk: Bytes::from(pattern),
            remaining: total,
        }
    }
}

impl HttpBody for RepeatBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let n = self.remaining.min(self.chunk.len() as u64) as usize;
        self.remaining -= n as u64;
        Poll::Ready(Some(Ok(Frame::data(self.chunk.slice(..n)))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

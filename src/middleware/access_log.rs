//! The access log layer: one line per request, written when its response body has been sent
//! (or abandoned), so that `bytes` and `duration_ms` are the real totals for a streamed body.
//! The line itself is formatted and written by `logging::access`.
//!
//! Fields: `method`, `path` (never the query, which may carry codes or tokens), `status`,
//! `route`, `upstream`, `reason` (why the gateway answered itself), `peer`, `bytes`,
//! `duration_ms`, `complete`, `request_id`. Header values are never logged, so neither
//! `Authorization` nor `Cookie` can appear.
//!
//! Nothing here allocates per request: the URI, the request id and the peer's text (made
//! once per connection) are kept by reference count until the line is written. The route
//! that served the response comes from the dispatcher through [`hand_over`], not the
//! response's extensions, whose map would be allocated (and freed) for that one entry on
//! every request: about 800 instructions of the line's cost (issue 17). The request id is
//! the one `middleware::request_id` lends the thread while it polls the request
//! (`logging::request_scope`), taken when the response is ready, rather than looked up
//! again in the request's headers (about 190 instructions).

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body::{Body as HttpBody, Frame, SizeHint};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::logging::access::{AccessLogger, Entry};
use crate::logging::request_scope;
use crate::rescue::RejectionReason;

/// Which route served a response, handed over by the dispatcher ([`hand_over`]).
#[derive(Debug, Clone)]
pub struct RouteLabel {
    pub route: Arc<str>,
    pub upstream: Arc<str>,
    /// Both need no quoting or escaping in a line (`logging::access::plain`), checked once
    /// here rather than on every line.
    plain: bool,
}

impl RouteLabel {
    pub fn new(route: Arc<str>, upstream: Arc<str>) -> RouteLabel {
        let plain =
            crate::logging::access::plain(&route) && crate::logging::access::plain(&upstream);
        RouteLabel {
            route,
            upstream,
            plain,
        }
    }
}

thread_local! {
    /// The label of the response the dispatcher is returning on this thread, between
    /// [`hand_over`] and the access log's [`ResponseFuture::poll`] that sees the response.
    static HANDED_OVER: RefCell<Option<RouteLabel>> = const { RefCell::new(None) };
}

/// Tells the access log which route served the response being returned, in the same poll
/// that returns it (the dispatcher's last step, with no `.await` after it). The access log's
/// future clears the slot before it polls the request and takes it when the response is
/// ready: everything between is one synchronous call, so the label it takes can only have
/// been set by this request's dispatch (no other request runs on the thread meanwhile).
pub fn hand_over(label: &RouteLabel) {
    HANDED_OVER.with(|slot| *slot.borrow_mut() = Some(label.clone()));
}

fn take_handed_over() -> Option<RouteLabel> {
    HANDED_OVER.with(|slot| slot.borrow_mut().take())
}

/// Adds the access log around a service.
#[derive(Debug, Clone)]
pub struct AccessLogLayer {
    /// `None`: the access log is off.
    logger: Option<AccessLogger>,
    peer: Option<Arc<str>>,
}

impl AccessLogLayer {
    pub fn new(logger: Option<AccessLogger>) -> Self {
        AccessLogLayer { logger, peer: None }
    }

    /// The client connection's address as text (`ConnectionInfo::peer_text`, formatted
    /// once per connection), logged as `peer`.
    pub fn peer(mut self, peer: Arc<str>) -> Self {
        self.peer = Some(peer);
        self
    }
}

impl<S> Layer<S> for AccessLogLayer {
    type Service = AccessLog<S>;

    fn layer(&self, inner: S) -> AccessLog<S> {
        AccessLog {
            inner,
            logger: self.logger.clone(),
            peer: self.peer.clone(),
        }
    }
}

/// The access-log service.
#[derive(Debug, Clone)]
pub struct AccessLog<S> {
    inner: S,
    logger: Option<AccessLogger>,
    peer: Option<Arc<str>>,
}

impl<S, B, ResBody> Service<Request<B>> for AccessLog<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    ResBody: HttpBody,
{
    type Response = Response<LoggedBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let pending = self.logger.clone().map(|logger| Pending {
            logger,
            method: req.method().clone(),
            uri: req.uri().clone(),
            peer: self.peer.clone(),
            start: Instant::now(),
        });
        ResponseFuture {
            inner: self.inner.call(req),
            pending,
        }
    }
}

/// What is known of a request before its response.
struct Pending {
    logger: AccessLogger,
    method: Method,
    /// The whole URI, shared with the request (a reference count, no copy); only its path
    /// is logged.
    uri: Uri,
    peer: Option<Arc<str>>,
    start: Instant,
}

pin_project! {
    /// Resolves to the inner response with its body wrapped for counting.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        pending: Option<Pending>,
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: HttpBody,
{
    type Output = Result<Response<LoggedBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if this.pending.is_none() {
            return Poll::Ready(ready!(this.inner.poll(cx)).map(|response| {
                response.map(|inner| LoggedBody {
                    inner,
                    record: None,
                })
            }));
        }
        // Only a label handed over while the request is polled counts (see `hand_over`).
        drop(take_handed_over());
        let polled = this.inner.poll(cx);
        let label = take_handed_over();
        let response = ready!(polled)?;
        let record = this.pending.take().map(|p| Record {
            logger: p.logger,
            // Lent by `SetRequestId`, whose poll this one runs in.
            request_id: request_scope::current(),
            method: p.method,
            uri: p.uri,
            peer: p.peer,
            start: p.start,
            status: response.status(),
            label,
            reason: response.extensions().get::<RejectionReason>().map(|r| r.0),
            bytes: 0,
        });
        Poll::Ready(Ok(response.map(|inner| LoggedBody { inner, record })))
    }
}

/// Everything the log line holds.
struct Record {
    logger: AccessLogger,
    request_id: Option<HeaderValue>,
    method: Method,
    uri: Uri,
    peer: Option<Arc<str>>,
    start: Instant,
    status: StatusCode,
    label: Option<RouteLabel>,
    reason: Option<&'static str>,
    bytes: u64,
}

impl Record {
    fn emit(&self, complete: bool) {
        let (route, upstream, label_plain) = match &self.label {
            Some(l) => (&*l.route, &*l.upstream, l.plain),
            None => ("-", "-", true),
        };
        let elapsed = self.start.elapsed();
        let duration_us = elapsed
            .as_secs()
            .saturating_mul(1_000_000)
            .saturating_add(u64::from(elapsed.subsec_nanos() + 500) / 1000);
        self.logger.log(&Entry {
            time: crate::clock::log_timestamp(),
            method: &self.method,
            path: self.uri.path(),
            status: self.status.as_u16(),
            route,
            upstream,
            label_plain,
            reason: self.reason.unwrap_or("-"),
            peer: self.peer.as_deref().unwrap_or("-"),
            bytes: self.bytes,
            duration_us,
            complete,
            request_id: self.request_id.as_ref().map_or(&[], HeaderValue::as_bytes),
        });
    }
}

pin_project! {
    /// A response body that counts its bytes and writes the log line at its end.
    pub struct LoggedBody<B: HttpBody> {
        #[pin]
        inner: B,
        record: Option<Record>,
    }

    impl<B: HttpBody> PinnedDrop for LoggedBody<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(record) = this.record.take() {
                // An empty body is complete without ever being polled.
                record.emit(this.inner.is_end_stream());
            }
        }
    }
}

impl<B> HttpBody for LoggedBody<B>
where
    B: HttpBody<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        if let Some(record) = this.record.as_mut() {
            match &frame {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        record.bytes += data.len() as u64;
                    }
                }
                Some(Err(_)) => {
                    if let Some(record) = this.record.take() {
                        record.emit(false);
                    }
                }
                None => {
                    if let Some(record) = this.record.take() {
                        record.emit(true);
                    }
                }
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

//! The panic boundary of the request path. A panic while a request is handled (a bug: the
//! crate denies `unwrap`, `expect`, `panic!` and string slicing outside tests, and the fuzz
//! targets look for the rest) would otherwise unwind out of hyper's connection task: the
//! client gets an empty reply, and neither the access log nor `/metrics` hears of it. Here it
//! becomes `rescue(Rejection::Panic)`, a 500 that closes the connection, one `error` log line
//! and `authgate_panics_total`, and the gateway goes on serving.
//!
//! tower-http's `CatchPanic` does the same; this one answers through `rescue` like every other
//! refusal. The panic's message is never logged: it can quote the input that caused it (a
//! slicing panic prints the string), and input may hold a credential. [`quiet_panic_hook`]
//! keeps the default hook from printing it to standard error too.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::CatchUnwind;
use futures_util::FutureExt;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::http::body::Body;
use crate::metrics::Metrics;
use crate::rescue::{rescue, Rejection};

/// Adds the panic boundary around a service.
#[derive(Debug, Clone)]
pub struct CatchPanicLayer {
    metrics: Arc<Metrics>,
}

impl CatchPanicLayer {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        CatchPanicLayer { metrics }
    }
}

impl<S> Layer<S> for CatchPanicLayer {
    type Service = CatchPanic<S>;

    fn layer(&self, inner: S) -> CatchPanic<S> {
        CatchPanic {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The panic-boundary service.
#[derive(Debug, Clone)]
pub struct CatchPanic<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S, B> Service<Request<B>> for CatchPanic<S>
where
    S: Service<Request<B>, Response = Response<Body>>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let inner = &mut self.inner;
        // A panic in `call` itself leaves no future: `None`, answered at the first poll. Its
        // payload is dropped unread (see the module doc).
        let future = std::panic::catch_unwind(AssertUnwindSafe(move || inner.call(req)))
            .ok()
            .map(|future| AssertUnwindSafe(future).catch_unwind());
        ResponseFuture {
            future,
            metrics: self.metrics.clone(),
        }
    }
}

pin_project! {
    /// The inner response, or the 500 of a caught panic.
    pub struct ResponseFuture<F> {
        #[pin]
        future: Option<CatchUnwind<AssertUnwindSafe<F>>>,
        metrics: Arc<Metrics>,
    }
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<Body>, E>>,
{
    type Output = Result<Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(future) = this.future.as_pin_mut() {
            match future.poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(result)) => return Poll::Ready(result),
                // Dropped unread: see the module doc.
                Poll::Ready(Err(_payload)) => {}
            }
        }
        this.metrics.panicked();
        tracing::error!(reason = "panic", "a request handler panicked; answered 500");
        Poll::Ready(Ok(rescue(Rejection::Panic)))
    }
}

/// A panic hook that logs where a panic happened but never what it says (the message can
/// quote request input). Installed by `serve` for the life of the process.
pub fn quiet_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(%location, "panic (message withheld: it may quote request input)");
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    #[allow(clippy::panic)]
    async fn panics(_req: Request<()>) -> Result<Response<Body>, Infallible> {
        panic!("secret-looking input");
    }

    #[tokio::test]
    async fn a_panicking_handler_becomes_a_500_that_closes_and_is_counted() {
        let metrics = Arc::new(Metrics::new().unwrap());
        let mut service = CatchPanicLayer::new(metrics.clone()).layer(tower::service_fn(panics));
        let response = service.call(Request::new(())).await.unwrap();
        assert_eq!(response.status(), 500);
        assert_eq!(response.headers()[http::header::CONNECTION], "close");
        let text = metrics.render(None);
        assert!(text.contains("authgate_panics_total 1"), "{text}");
        assert!(
            text.contains(r#"authgate_requests_total{route="(gateway)",status="500"} 1"#),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_panic_in_call_itself_is_caught_too() {
        #[derive(Clone)]
        struct PanicsInCall;
        impl Service<Request<()>> for PanicsInCall {
            type Response = Response<Body>;
            type Error = Infallible;
            type Future = std::future::Ready<Result<Response<Body>, Infallible>>;
            fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
                Poll::Ready(Ok(()))
            }
            #[allow(clippy::panic)]
            fn call(&mut self, _: Request<()>) -> Self::Future {
                panic!("in call");
            }
        }
        let metrics = Arc::new(Metrics::new().unwrap());
        let mut service = CatchPanicLayer::new(metrics).layer(PanicsInCall);
        let response = service.call(Request::new(())).await.unwrap();
        assert_eq!(response.status(), 500);
    }

    #[tokio::test]
    async fn an_answer_passes_through_unchanged() {
        async fn ok(_req: Request<()>) -> Result<Response<Body>, Infallible> {
            Ok(crate::http::response::text(
                http::StatusCode::IM_A_TEAPOT,
                "t",
            ))
        }
        let metrics = Arc::new(Metrics::new().unwrap());
        let mut service = CatchPanicLayer::new(metrics).layer(tower::service_fn(ok));
        assert_eq!(service.call(Request::new(())).await.unwrap().status(), 418);
    }
}

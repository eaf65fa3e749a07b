//! Counts every answered request into [`Metrics`]: by route and status, its time to the
//! response headers, and the upstream failures among them. Reads what the dispatcher put in
//! the response's extensions ([`RouteLabel`], [`RejectionReason`]); requests the gateway
//! answers itself are counted under [`GATEWAY_ROUTE`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::metrics::{Metrics, GATEWAY_ROUTE};
use crate::middleware::access_log::RouteLabel;
use crate::rescue::RejectionReason;

#[derive(Debug, Clone)]
pub struct MetricsLayer {
    metrics: Arc<Metrics>,
}

impl MetricsLayer {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        MetricsLayer { metrics }
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = Measured<S>;

    fn layer(&self, inner: S) -> Measured<S> {
        Measured {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Measured<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S, B, ResBody> Service<Request<B>> for Measured<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = MeasuredFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        MeasuredFuture {
            inner: self.inner.call(req),
            metrics: self.metrics.clone(),
            start: Instant::now(),
        }
    }
}

pin_project! {
    pub struct MeasuredFuture<F> {
        #[pin]
        inner: F,
        metrics: Arc<Metrics>,
        start: Instant,
    }
}

impl<F, ResBody, E> Future for MeasuredFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let Ok(response) = &result {
            let seconds = this.start.elapsed().as_secs_f64();
            let route = response
                .extensions()
                .get::<RouteLabel>()
                .map_or(GATEWAY_ROUTE, |l| &l.route);
            this.metrics
                .request(route, response.status().as_u16(), seconds);
            if let Some(RejectionReason(reason)) = response.extensions().get::<RejectionReason>() {
                if let Some(kind) = reason.strip_prefix("upstream_") {
                    this.metrics.upstream_error(route, kind);
                }
            }
        }
        Poll::Ready(result)
    }
}

//! The body types on the request path.
//!
//! Responses carry [`Body`], one boxed type for proxied streams, built-in pages and errors
//! alike, so that the layers above need not be generic over where a response came from.
//! Request bodies are never boxed: the upstream receives the client's stream inside
//! [`RequestBody`], whose [`http_body_util::Limited`] makes a body larger than the route
//! allows fail as it streams, with nothing buffered.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as _, Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, Limited};
use tokio::sync::oneshot;

/// The error type of every body.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Every response body.
pub type Body = UnsyncBoxBody<Bytes, BoxError>;

/// What a proxied request's body is: the client's own stream, bounded by the route's limit,
/// and telling when it has been sent in full (the upstream's response timer starts then, so a
/// long upload is not mistaken for a silent upstream).
pub struct RequestBody {
    inner: Limited<hyper::body::Incoming>,
    sent: Option<oneshot::Sender<()>>,
}

impl RequestBody {
    /// Wraps `body`; the receiver resolves once it has ended, failed or been dropped. A body
    /// that is empty from the start (most requests) needs no receiver and gets none.
    pub fn new(body: hyper::body::Incoming, limit: usize) -> (Self, Option<oneshot::Receiver<()>>) {
        let inner = Limited::new(body, limit);
        if inner.is_end_stream() {
            return (RequestBody { inner, sent: None }, None);
        }
        let (tx, rx) = oneshot::channel();
        (
            RequestBody {
                inner,
                sent: Some(tx),
            },
            Some(rx),
        )
    }

    fn mark_sent(&mut self) {
        if let Some(tx) = self.sent.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for RequestBody {
    fn drop(&mut self) {
        self.mark_sent();
    }
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let frame = std::task::ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if !matches!(frame, Some(Ok(_))) {
            self.mark_sent();
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

/// A body of fixed bytes.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// An empty body.
pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// Whether `err` (or anything in its source chain) is a body that outgrew its limit.
pub fn is_length_limit(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(err);
    while let Some(e) = current {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        current = e.source();
    }
    false
}

/// A response body from an upstream that fails when the upstream goes silent mid-stream for
/// longer than `idle` (nginx's `proxy_read_timeout`), so a stalled upstream never holds the
/// client forever.
pub struct IdleTimeoutBody<B> {
    inner: B,
    idle: std::time::Duration,
    /// Created the first time the upstream makes us wait (most bodies arrive whole and never
    /// need a timer-wheel entry), re-armed at each later wait.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    armed: bool,
}

/// The upstream sent nothing for longer than the route's `response_timeout`.
#[derive(Debug)]
pub struct UpstreamBodyTimeout;

impl std::fmt::Display for UpstreamBodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the upstream went silent in the middle of its response body")
    }
}

impl std::error::Error for UpstreamBodyTimeout {}

impl<B> IdleTimeoutBody<B> {
    pub fn new(inner: B, idle: std::time::Duration) -> Self {
        IdleTimeoutBody {
            inner,
            idle,
            timer: None,
            armed: false,
        }
    }
}

impl<B> http_body::Body for IdleTimeoutBody<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                // Progress: the silence starts again from the next wait.
                this.armed = false;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let idle = this.idle;
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                if !this.armed {
                    timer.as_mut().reset(tokio::time::Instant::now() + idle);
                    this.armed = true;
                }
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(UpstreamBodyTimeout)))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Why [`read_bounded`] gave no body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyReadError {
    /// The declared `Content-Length` (known before any byte is read) or the bytes that arrived
    /// are more than the limit.
    TooLarge,
    /// The whole body did not arrive in time.
    TimedOut,
    /// The body broke off or was malformed (a connection reset, bad chunked framing).
    Broken,
}

impl std::fmt::Display for BodyReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BodyReadError::TooLarge => "the request body is larger than the limit",
            BodyReadError::TimedOut => "the request body did not arrive in time",
            BodyReadError::Broken => "the request body could not be read",
        })
    }
}

impl std::error::Error for BodyReadError {}

/// Reads a whole request body of at most `max` bytes within `timeout`: the one bounded
/// reader of the gateway's own endpoints and the admin listener.
///
/// A body whose declared length (`Content-Length`, which hyper reports as the exact size hint)
/// is above `max` is refused before any byte of it is read, so a client that declares a huge
/// body and never sends it gets its answer at once rather than after `timeout`.
pub async fn read_bounded<B>(
    body: B,
    max: usize,
    timeout: std::time::Duration,
) -> Result<Bytes, BodyReadError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let max_len = u64::try_from(max).unwrap_or(u64::MAX);
    if body.size_hint().lower() > max_len {
        return Err(BodyReadError::TooLarge);
    }
    match tokio::time::timeout(timeout, Limited::new(body, max).collect()).await {
        Err(_) => Err(BodyReadError::TimedOut),
        Ok(Err(err)) if is_length_limit(&*err) => Err(BodyReadError::TooLarge),
        Ok(Err(_)) => Err(BodyReadError::Broken),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A body that declares `declared` bytes and then never sends any.
    struct Silent {
        declared: u64,
    }

    impl http_body::Body for Silent {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Pending
        }

        fn size_hint(&self) -> SizeHint {
            SizeHint::with_exact(self.declared)
        }
    }

    /// A body that fails at once, as a reset connection does.
    struct Breaks;

    impl http_body::Body for Breaks {
        type Data = Bytes;
        type Error = BoxError;

        fn poll_frame(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Ready(Some(Err("connection reset".into())))
        }
    }

    const WAIT: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn a_declared_length_over_the_limit_is_refused_without_waiting() {
        let started = std::time::Instant::now();
        let got = read_bounded(
            Silent {
                declared: 100 << 20,
            },
            16,
            WAIT,
        )
        .await;
        assert_eq!(got, Err(BodyReadError::TooLarge));
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn a_body_that_never_comes_times_out() {
        let got = read_bounded(Silent { declared: 8 }, 16, Duration::from_millis(50)).await;
        assert_eq!(got, Err(BodyReadError::TimedOut));
    }

    #[tokio::test]
    async fn streamed_bytes_over_the_limit_are_too_large() {
        // No declared length: the limit is found while reading.
        let body = http_body_util::StreamBody::new(futures_util::stream::iter(vec![
            Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from_static(b"0123456789"))),
            Ok(Frame::data(Bytes::from_static(b"0123456789"))),
        ]));
        assert_eq!(
            read_bounded(body, 16, WAIT).await,
            Err(BodyReadError::TooLarge)
        );
    }

    #[tokio::test]
    async fn a_broken_body_is_broken_not_too_large() {
        assert_eq!(
            read_bounded(Breaks, 16, WAIT).await,
            Err(BodyReadError::Broken)
        );
    }

    #[tokio::test]
    async fn a_body_within_the_limit_is_read_whole() {
        let got = read_bounded(Full::new(Bytes::from_static(b"grant_type=x")), 16, WAIT).await;
        assert_eq!(got.as_deref(), Ok(&b"grant_type=x"[..]));
        // Exactly at the limit is allowed.
        let got = read_bounded(Full::new(Bytes::from_static(b"0123456789abcdef")), 16, WAIT).await;
        assert_eq!(got.map(|b| b.len()), Ok(16));
    }
}

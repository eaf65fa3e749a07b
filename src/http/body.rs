//! The body types on the request path.
//!
//! Responses carry [`Body`], one boxed type for proxied streams, built-in pages and errors
//! alike, so that the layers above need not be generic over where a response came from.
//! Request bodies are never boxed: the upstream receives the client's stream inside
//! [`RequestBody`], whose [`http_body_util::Limited`] makes a body larger than the route
//! allows fail as it streams, with nothing buffered.

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
    /// Wraps `body`; the receiver resolves once it has ended, failed or been dropped.
    pub fn new(body: hyper::body::Incoming, limit: usize) -> (Self, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        let mut body = RequestBody {
            inner: Limited::new(body, limit),
            sent: Some(tx),
        };
        if body.inner.is_end_stream() {
            body.mark_sent();
        }
        (body, rx)
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

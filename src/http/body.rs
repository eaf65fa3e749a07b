//! The body types on the request path.
//!
//! Responses carry [`Body`], one boxed type for proxied streams, built-in pages and errors
//! alike, so that the layers above need not be generic over where a response came from.
//! Request bodies are never boxed: the upstream receives the client's stream behind a
//! [`http_body_util::Limited`] wrapper, so a body larger than the route allows fails as it
//! streams, with nothing buffered.

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, Limited};

/// The error type of every body.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Every response body.
pub type Body = UnsyncBoxBody<Bytes, BoxError>;

/// What a proxied request's body is: the client's own stream, bounded.
pub type RequestBody = Limited<hyper::body::Incoming>;

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

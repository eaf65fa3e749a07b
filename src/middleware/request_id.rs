//! Request ids: every request gets one, so that its access line, the decisions logged while
//! it was handled (a refused token, a failed sign-in) and the upstream's own logs can be
//! joined. The outermost layer, as tower-http's `SetRequestId` + `PropagateRequestId`.
//!
//! - The id is 32 hex digits: a random per-process prefix and a counter, unique across
//!   gateways and restarts without a random draw per request. It is no secret and grants
//!   nothing.
//! - An `X-Request-Id` the client sent is kept only from a peer in `trusted_proxies` (a load
//!   balancer that made one), and only when it is 1 to 128 characters of `A-Z a-z 0-9 . _ : -`;
//!   from anyone else it is replaced, so a client can neither forge another request's id in
//!   the logs nor inject text into them.
//! - The id replaces the request's `X-Request-Id` header; header hygiene keeps it for the
//!   upstream (a client's `Connection: x-request-id` cannot remove it), the access log
//!   writes it (lent while the request is polled, below), and the response carries it
//!   (unless the upstream set its own).
//! - The decision logs of a request (a refused token, a failed sign-in) carry the id too: the
//!   response future lends it to the log formatter while it polls the request
//!   (`logging::request_scope`).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::task::{Context, Poll};

use http::header::{HeaderName, HeaderValue};
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::logging::request_scope;

/// `X-Request-Id`.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Gives each request its id.
#[derive(Debug, Clone, Copy)]
pub struct RequestIdLayer {
    trust_incoming: bool,
}

impl RequestIdLayer {
    /// `trust_incoming`: the peer is a trusted proxy, whose `X-Request-Id` is kept.
    pub fn new(trust_incoming: bool) -> Self {
        RequestIdLayer { trust_incoming }
    }
}

impl<S> Layer<S> for RequestIdLayer {
    type Service = SetRequestId<S>;

    fn layer(&self, inner: S) -> SetRequestId<S> {
        SetRequestId {
            inner,
            trust_incoming: self.trust_incoming,
        }
    }
}

/// The request-id service.
#[derive(Debug, Clone)]
pub struct SetRequestId<S> {
    inner: S,
    trust_incoming: bool,
}

impl<S, B, ResBody> Service<Request<B>> for SetRequestId<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        // Looked up only for a trusted peer: from anyone else it is replaced unread.
        let incoming = if self.trust_incoming {
            req.headers()
                .get(&X_REQUEST_ID)
                .filter(|v| acceptable(v.as_bytes()))
                .cloned()
        } else {
            None
        };
        let id = incoming.unwrap_or_else(new_id);
        // In the request's own headers, not its extensions: their map would be allocated for
        // this one entry on every request.
        req.headers_mut().insert(X_REQUEST_ID.clone(), id.clone());
        ResponseFuture {
            inner: self.inner.call(req),
            id: Some(id),
        }
    }
}

pin_project! {
    /// The inner response, with the id added.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        id: Option<HeaderValue>,
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let inner = this.inner;
        let polled = request_scope::lend(this.id, || inner.poll(cx));
        let mut response = std::task::ready!(polled)?;
        if let Some(id) = this.id.take() {
            // One lookup: the upstream's own id, if it set one, stays.
            if let http::header::Entry::Vacant(slot) = response.headers_mut().entry(&X_REQUEST_ID) {
                slot.insert(id);
            }
        }
        Poll::Ready(Ok(response))
    }
}

/// Whether an incoming id is one to keep: short, and of characters no log format escapes.
fn acceptable(id: &[u8]) -> bool {
    (1..=128).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// A fresh id: the process's random prefix, then a counter, as 32 hex digits. The prefix's
/// 16 digits are written once per process; a request writes only the counter's.
fn new_id() -> HeaderValue {
    static PREFIX: OnceLock<[u8; 16]> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut out = [0u8; 32];
    let (prefix, counter) = out.split_at_mut(16);
    prefix.copy_from_slice(PREFIX.get_or_init(|| hex16(rand::random::<u64>())));
    counter.copy_from_slice(&hex16(NEXT.fetch_add(1, Ordering::Relaxed)));
    // Owned by the value's shared storage from the start (one allocation, no copy): the id is
    // cloned into the request, the upstream request and the response, and a clone of a
    // copied-in value would first move it to shared storage (a second allocation).
    HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(out))
        .unwrap_or_else(|_| HeaderValue::from_static("-"))
}

/// `n` as 16 lower-case hex digits.
fn hex16(n: u64) -> [u8; 16] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 16];
    for (i, digit) in out.iter_mut().enumerate() {
        let nibble = (n >> (60 - 4 * i)) & 0xf;
        *digit = HEX[nibble as usize];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    async fn echo_id(req: Request<()>) -> Result<Response<String>, Infallible> {
        let id = req.headers().get(&X_REQUEST_ID);
        let id = id.map(|v| v.to_str().unwrap().to_owned());
        Ok(Response::new(id.unwrap_or_default()))
    }

    async fn run(trusted: bool, sent: Option<&str>) -> (String, String) {
        let mut service = RequestIdLayer::new(trusted).layer(tower::service_fn(echo_id));
        let mut req = Request::new(());
        if let Some(sent) = sent {
            req.headers_mut()
                .insert(X_REQUEST_ID.clone(), HeaderValue::from_str(sent).unwrap());
        }
        let res = service.call(req).await.unwrap();
        let header = res.headers()[&X_REQUEST_ID].to_str().unwrap().to_owned();
        (res.into_body(), header)
    }

    #[tokio::test]
    async fn every_request_gets_a_fresh_id_in_its_headers_and_its_response() {
        let (a, a_header) = run(false, None).await;
        let (b, _) = run(false, None).await;
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(a, a_header);
        assert_ne!(a, b);
    }

    #[test]
    fn ids_are_the_prefix_then_the_counter_in_hex() {
        assert_eq!(&hex16(0x0123_4567_89ab_cdef), b"0123456789abcdef");
        assert_eq!(&hex16(1), b"0000000000000001");
        let (a, b) = (new_id(), new_id());
        let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
        assert_eq!(a[..16], b[..16], "one prefix per process");
        let counter = |id: &str| u64::from_str_radix(&id[16..], 16).unwrap();
        assert!(counter(b) > counter(a));
    }

    #[tokio::test]
    async fn a_client_id_is_kept_only_from_a_trusted_proxy_and_only_when_plain() {
        assert_ne!(run(false, Some("lb-123")).await.0, "lb-123");
        assert_eq!(run(true, Some("lb-123")).await.0, "lb-123");
        for bad in ["a b", "x\"y", "", &"a".repeat(129), "a\u{7f}"] {
            if let Ok(value) = HeaderValue::from_str(bad) {
                let _ = value;
                let (kept, _) = run(true, Some(bad)).await;
                assert_ne!(kept, bad, "{bad:?}");
                assert_eq!(kept.len(), 32);
            }
        }
    }
}

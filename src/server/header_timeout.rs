//! The header timeout of one client connection (`[server.limits] header_timeout`), kept with
//! one timer per connection instead of one per request.
//!
//! The rule: a connection brings each request's complete header block within
//! `header_timeout` of the moment it went quiet, which is when it was accepted (after TLS) or
//! when its last response body ended. That one rule cuts off a client that sends its headers
//! too slowly, one that connects and sends nothing (or half an HTTP/2 preface), and an idle
//! keep-alive connection. A request whose response is still streaming is not held to it, and
//! neither is an HTTP/2 connection once its first request came: HTTP/2 keeps itself alive with
//! pings, and its streams have limits of their own.
//!
//! hyper's `header_read_timeout` keeps the same rule for HTTP/1, but arms a new timer for
//! every request. It boxes a sleep, registers it in tokio's timer wheel while it waits for the
//! next head, and takes it out again when the head arrives: about 950 instructions per request
//! on the proxy's path (issue 17, `bench/README.md`). Here the timer stays armed for the connection's life, as
//! nginx keeps its timers armed lazily. A request costs two counter updates and a clock read
//! when its response ends. When the timer fires it reads the counters and sets itself for the
//! connection's real deadline, so it fires about once per `header_timeout`, not per request.
//!
//! The connection's task polls the timer after the connection itself (the `biased` select in
//! [`HttpParts::http`]), so a head that arrived with the deadline is counted before the
//! deadline is looked at.
//!
//! [`HttpParts::http`]: super::HttpParts::http

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use http::Version;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio::time::Instant;

/// What the header timeout knows of one connection's requests.
#[derive(Debug)]
pub struct HeaderTimeout {
    /// When the connection began; `quiet_since` counts from here.
    opened: Instant,
    /// Nanoseconds from `opened` to the end of the last response body (0 before the first).
    quiet_since: AtomicU64,
    /// Responses begun whose bodies have not ended. HTTP/1 has one at a time.
    open_responses: AtomicUsize,
    /// An HTTP/2 request came: the rule no longer applies.
    http2: AtomicBool,
}

impl HeaderTimeout {
    /// The clock of a connection that begins now.
    pub fn start() -> Arc<HeaderTimeout> {
        Arc::new(HeaderTimeout {
            opened: Instant::now(),
            quiet_since: AtomicU64::new(0),
            open_responses: AtomicUsize::new(0),
            http2: AtomicBool::new(false),
        })
    }

    /// A request's header block is complete. The connection is busy until the returned
    /// guard is dropped with its response body (`None` for HTTP/2, which the rule leaves).
    pub fn request(self: &Arc<Self>, version: Version) -> Option<Busy> {
        if version == Version::HTTP_2 {
            self.http2.store(true, Ordering::Release);
            return None;
        }
        self.open_responses.fetch_add(1, Ordering::AcqRel);
        Some(Busy(self.clone()))
    }

    fn response_ended(&self) {
        let nanos = u64::try_from(self.opened.elapsed().as_nanos()).unwrap_or(u64::MAX);
        // Before the count goes down, so that a count of 0 is never read with an older time.
        self.quiet_since.store(nanos.max(1), Ordering::Release);
        self.open_responses.fetch_sub(1, Ordering::AcqRel);
    }

    /// When the rule would cut the connection off, as of `now`.
    fn due(&self, now: Instant, limit: Duration) -> Deadline {
        if self.http2.load(Ordering::Acquire) {
            return Deadline::Never;
        }
        if self.open_responses.load(Ordering::Acquire) > 0 {
            // Looked at again one limit from now: at the earliest, this response ends now.
            return Deadline::At(now + limit);
        }
        let quiet = Duration::from_nanos(self.quiet_since.load(Ordering::Acquire));
        Deadline::At(self.opened + quiet + limit)
    }

    /// Resolves once the connection has been quiet for `limit` without bringing a request's
    /// complete header block; never on an HTTP/2 connection that has had a request.
    pub fn expired(&self, limit: Duration) -> Expired<'_> {
        Expired {
            clock: self,
            limit,
            sleep: tokio::time::sleep_until(self.opened + limit),
            armed: None,
            stood_down: false,
        }
    }
}

pin_project! {
    /// The future of [`HeaderTimeout::expired`].
    ///
    /// The connection's task polls it each time it runs, two or three times a request. Once
    /// the timer holds this task's waker, a poll only asks whether it has fired (a load),
    /// instead of polling it again (about 100 instructions each time).
    pub struct Expired<'a> {
        clock: &'a HeaderTimeout,
        limit: Duration,
        #[pin]
        sleep: tokio::time::Sleep,
        // The waker the timer was last polled with, when that poll registered it.
        armed: Option<Waker>,
        // The rule no longer applies (HTTP/2).
        stood_down: bool,
    }
}

impl Future for Expired<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        if *this.stood_down {
            return Poll::Pending;
        }
        loop {
            if let Some(waker) = this.armed.as_ref() {
                if !this.sleep.is_elapsed() && waker.will_wake(cx.waker()) {
                    return Poll::Pending;
                }
            }
            // A poll out of budget returns early without handing the timer the waker.
            let registers = tokio::task::coop::has_budget_remaining();
            if this.sleep.as_mut().poll(cx).is_pending() {
                *this.armed = registers.then(|| cx.waker().clone());
                return Poll::Pending;
            }
            *this.armed = None;
            let now = Instant::now();
            match this.clock.due(now, *this.limit) {
                // Still polled with the rest of the connection, but never woken again.
                Deadline::Never => {
                    *this.stood_down = true;
                    return Poll::Pending;
                }
                Deadline::At(due) if due <= now => return Poll::Ready(()),
                Deadline::At(due) => this.sleep.as_mut().reset(due),
            }
        }
    }
}

enum Deadline {
    Never,
    At(Instant),
}

/// A response under way on an HTTP/1 connection; dropping it makes the connection quiet.
#[derive(Debug)]
pub struct Busy(Arc<HeaderTimeout>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.response_ended();
    }
}

pin_project! {
    /// A response body that keeps its connection busy until hyper drops it, which it does
    /// once the body has ended or the connection has failed.
    pub struct BusyBody<B> {
        #[pin]
        inner: B,
        busy: Option<Busy>,
    }
}

impl<B> BusyBody<B> {
    pub fn new(inner: B, busy: Option<Busy>) -> Self {
        BusyBody { inner, busy }
    }
}

impl<B> Body for BusyBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Duration = Duration::from_secs(10);

    async fn expires_within(clock: &HeaderTimeout, wait: Duration) -> bool {
        tokio::time::timeout(wait, clock.expired(LIMIT))
            .await
            .is_ok()
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_sends_nothing_expires_at_the_limit() {
        let clock = HeaderTimeout::start();
        assert!(!expires_within(&clock, LIMIT - Duration::from_millis(1)).await);
        let clock = HeaderTimeout::start();
        assert!(expires_within(&clock, LIMIT + Duration::from_millis(1)).await);
    }

    #[tokio::test(start_paused = true)]
    async fn a_streaming_response_is_not_held_to_the_limit_and_quiet_counts_from_its_end() {
        let clock = HeaderTimeout::start();
        let busy = clock.request(Version::HTTP_11);
        let watch = clock.expired(LIMIT);
        tokio::pin!(watch);
        // Three limits pass with the response still streaming.
        let streaming = tokio::time::timeout(3 * LIMIT, watch.as_mut()).await;
        assert!(streaming.is_err(), "cut off while its response streamed");
        drop(busy);
        let ended = Instant::now();
        watch.as_mut().await;
        let quiet = ended.elapsed();
        assert!(
            quiet >= LIMIT && quiet <= LIMIT + Duration::from_millis(1),
            "{quiet:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn each_response_end_moves_the_deadline() {
        let clock = HeaderTimeout::start();
        let watch = clock.expired(LIMIT);
        tokio::pin!(watch);
        for _ in 0..5 {
            // A request every 6 s: never 10 s quiet.
            let waited = tokio::time::timeout(Duration::from_secs(6), watch.as_mut()).await;
            assert!(waited.is_err());
            drop(clock.request(Version::HTTP_11));
        }
        let last = Instant::now();
        watch.as_mut().await;
        assert_eq!(last.elapsed(), LIMIT);
    }

    #[tokio::test(start_paused = true)]
    async fn an_http2_connection_with_a_request_never_expires() {
        let clock = HeaderTimeout::start();
        assert!(clock.request(Version::HTTP_2).is_none());
        assert!(!expires_within(&clock, 100 * LIMIT).await);
    }

    #[tokio::test(start_paused = true)]
    async fn the_body_ends_the_busy_time_when_it_is_dropped() {
        let clock = HeaderTimeout::start();
        let body = BusyBody::new(
            http_body_util::Full::new(Bytes::from_static(b"ok")),
            clock.request(Version::HTTP_11),
        );
        assert_eq!(clock.open_responses.load(Ordering::Acquire), 1);
        assert_eq!(body.size_hint().exact(), Some(2));
        drop(body);
        assert_eq!(clock.open_responses.load(Ordering::Acquire), 0);
        assert!(clock.quiet_since.load(Ordering::Acquire) > 0);
    }
}

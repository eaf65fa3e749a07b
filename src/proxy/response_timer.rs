//! The response timeout of a proxied request (the route's `response_timeout`, counted from
//! the end of the request body to the response headers), with its timer kept from one
//! request of a client connection to the next.
//!
//! A new `tokio::time::Sleep` per request would be registered in tokio's timer wheel when the
//! exchange first waits and taken out again when the answer comes: about 500 instructions
//! on every proxied request (issue 17), for a timer that almost never fires. Instead each
//! client connection keeps one boxed timer ([`ResponseTimer`], in the connection's
//! `ConnectionInfo`). A request takes it, and gives it back when it is done. While it stays
//! armed for a deadline no later than the request's own, it is left alone. When it fires
//! early, the request sets it again for its own deadline. So it is registered about once
//! per `response_timeout` per connection, not once per request. A timer that fires while
//! no request holds it wakes the connection's task once, for nothing.
//!
//! HTTP/1 sends a connection's requests one at a time, so its requests find the timer there.
//! Concurrent HTTP/2 streams find it taken, and make one of their own that they then offer
//! back.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::sync::oneshot;
use tokio::time::{Instant, Sleep};

use super::forward::{SendError, UpstreamError};

/// One client connection's spare response timer.
#[derive(Debug, Default)]
pub struct ResponseTimer {
    spare: Mutex<Option<Pin<Box<Sleep>>>>,
}

impl ResponseTimer {
    /// A timer that fires at `due` at the latest (perhaps earlier).
    fn take(&self, due: Instant) -> Pin<Box<Sleep>> {
        let spare = self
            .spare
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match spare {
            Some(mut sleep) => {
                if sleep.is_elapsed() || sleep.deadline() > due {
                    sleep.as_mut().reset(due);
                }
                sleep
            }
            None => Box::pin(tokio::time::sleep_until(due)),
        }
    }

    fn give_back(&self, sleep: Pin<Box<Sleep>>) {
        let mut spare = self.spare.lock().unwrap_or_else(PoisonError::into_inner);
        if spare.is_none() {
            *spare = Some(sleep);
        }
    }
}

struct Armed {
    sleep: Pin<Box<Sleep>>,
    due: Instant,
}

pin_project! {
    /// An exchange with its response timeout, which starts when the request body has been
    /// sent (at once without one). A future of its own rather than a `select!` in an `async
    /// fn`: it is on every proxied request's path, where each `async` layer holds the whole
    /// exchange once more and moves it once more per request.
    pub struct Deadline<'a, F> {
        #[pin]
        exchange: F,
        body_sent: Option<oneshot::Receiver<()>>,
        timeout: Duration,
        timers: &'a ResponseTimer,
        armed: Option<Armed>,
    }

    impl<F> PinnedDrop for Deadline<'_, F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(armed) = this.armed.take() {
                this.timers.give_back(armed.sleep);
            }
        }
    }
}

impl<'a, F> Deadline<'a, F> {
    /// `exchange` within `timeout` of `body_sent` (`None`: of now), with a timer from `timers`.
    pub fn new(
        exchange: F,
        body_sent: Option<oneshot::Receiver<()>>,
        timeout: Duration,
        timers: &'a ResponseTimer,
    ) -> Self {
        Deadline {
            exchange,
            body_sent,
            timeout,
            timers,
            armed: None,
        }
    }
}

impl<F, T> Future for Deadline<'_, F>
where
    F: Future<Output = Result<T, SendError>>,
{
    type Output = Result<T, SendError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // The exchange first: an answer that is in wins over a timer that also ran out.
        if let Poll::Ready(result) = this.exchange.poll(cx) {
            return Poll::Ready(result);
        }
        if let Some(body_sent) = this.body_sent {
            // Sent, or the body was dropped (its error is the exchange's to report).
            if Pin::new(body_sent).poll(cx).is_pending() {
                return Poll::Pending;
            }
            *this.body_sent = None;
        }
        let (timers, timeout) = (*this.timers, *this.timeout);
        let armed = this.armed.get_or_insert_with(|| {
            let due = Instant::now() + timeout;
            Armed {
                sleep: timers.take(due),
                due,
            }
        });
        loop {
            if armed.sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            // Fired: perhaps at the earlier deadline the timer was kept armed for.
            if Instant::now() >= armed.due {
                return Poll::Ready(Err(UpstreamError::Timeout.into()));
            }
            let due = armed.due;
            armed.sleep.as_mut().reset(due);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(10);

    /// An exchange that answers after `after`, or never.
    async fn exchange(after: Option<Duration>) -> Result<(), SendError> {
        match after {
            Some(after) => tokio::time::sleep(after).await,
            None => std::future::pending().await,
        }
        Ok(())
    }

    /// How long a request that gets no answer takes to time out.
    async fn time_to_timeout(timers: &ResponseTimer, timeout: Duration) -> Duration {
        let started = Instant::now();
        let result = Deadline::new(exchange(None), None, timeout, timers).await;
        assert_eq!(result, Err(UpstreamError::Timeout.into()));
        started.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_without_an_answer_times_out_at_its_deadline() {
        let timers = ResponseTimer::default();
        assert_eq!(time_to_timeout(&timers, TIMEOUT).await, TIMEOUT);
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_in_time_is_returned_and_the_timer_is_kept() {
        let timers = ResponseTimer::default();
        let result = Deadline::new(exchange(Some(TIMEOUT / 2)), None, TIMEOUT, &timers).await;
        assert_eq!(result, Ok(()));
        assert!(timers.spare.lock().unwrap().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn a_kept_timer_armed_for_an_earlier_deadline_does_not_cut_the_next_request_short() {
        let timers = ResponseTimer::default();
        // Answered after 3 s: the timer stays armed for 10 s after the first request began.
        let first = Deadline::new(
            exchange(Some(Duration::from_secs(3))),
            None,
            TIMEOUT,
            &timers,
        );
        assert_eq!(first.await, Ok(()));
        // The next request still has its whole 10 s, not the 7 s left on the kept timer.
        assert_eq!(time_to_timeout(&timers, TIMEOUT).await, TIMEOUT);
    }

    #[tokio::test(start_paused = true)]
    async fn a_kept_timer_armed_for_a_later_deadline_is_brought_forward() {
        let timers = ResponseTimer::default();
        let long = Duration::from_secs(60);
        let first = Deadline::new(exchange(Some(Duration::from_secs(1))), None, long, &timers);
        assert_eq!(first.await, Ok(()));
        let short = Duration::from_secs(2);
        assert_eq!(time_to_timeout(&timers, short).await, short);
    }

    #[tokio::test(start_paused = true)]
    async fn a_kept_timer_that_fired_while_spare_is_armed_again() {
        let timers = ResponseTimer::default();
        let first = Deadline::new(
            exchange(Some(Duration::from_secs(1))),
            None,
            TIMEOUT,
            &timers,
        );
        assert_eq!(first.await, Ok(()));
        tokio::time::sleep(3 * TIMEOUT).await;
        assert_eq!(time_to_timeout(&timers, TIMEOUT).await, TIMEOUT);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_requests_each_keep_their_own_deadline() {
        let timers = ResponseTimer::default();
        let (a, b) = tokio::join!(
            time_to_timeout(&timers, TIMEOUT),
            time_to_timeout(&timers, 2 * TIMEOUT)
        );
        assert_eq!((a, b), (TIMEOUT, 2 * TIMEOUT));
    }

    #[tokio::test(start_paused = true)]
    async fn the_timeout_counts_from_the_end_of_the_request_body() {
        let timers = ResponseTimer::default();
        let (sent, body_sent) = oneshot::channel();
        let started = Instant::now();
        let deadline = Deadline::new(exchange(None), Some(body_sent), TIMEOUT, &timers);
        let sending = async {
            tokio::time::sleep(3 * TIMEOUT).await;
            let _ = sent.send(());
        };
        let (result, ()) = tokio::join!(deadline, sending);
        assert_eq!(result, Err(UpstreamError::Timeout.into()));
        assert_eq!(started.elapsed(), 4 * TIMEOUT);
    }
}

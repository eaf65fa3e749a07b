//! The idle keep-alive connections to one upstream, and the response body that gives its
//! connection back.
//!
//! A connection is lent to one request at a time. It comes back only when its response body
//! has reached its end (so the next request never waits behind an unread body) and never
//! after a `101 Switching Protocols`, whose connection now belongs to the WebSocket tunnel. The
//! most recently returned connection is lent first; connections found closed, not ready, or
//! idle longer than the idle timeout are dropped on the way, and a sweeper task (one per pool,
//! started with the first return) closes idle connections that nobody asks for. At most
//! `max_idle` connections wait in the pool; more are closed when they come back.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use super::connect::Sender;

/// Idle connections to one upstream.
pub struct Pool {
    shared: Arc<Shared>,
}

struct Shared {
    idle: Mutex<Idle>,
    idle_timeout: Duration,
    max_idle: usize,
}

#[derive(Default)]
struct Idle {
    /// Oldest first: lent from the back, swept from the front.
    connections: Vec<(Sender, Instant)>,
    sweeping: bool,
}

impl Pool {
    pub fn new(idle_timeout: Duration, max_idle: usize) -> Self {
        Pool {
            shared: Arc::new(Shared {
                idle: Mutex::new(Idle::default()),
                idle_timeout,
                max_idle,
            }),
        }
    }

    /// An idle connection ready for a request, if there is one.
    pub fn checkout(&self) -> Option<Sender> {
        let now = Instant::now();
        let mut idle = self.shared.lock();
        while let Some((sender, since)) = idle.connections.pop() {
            if sender.is_ready() && now.saturating_duration_since(since) < self.shared.idle_timeout
            {
                return Some(sender);
            }
        }
        None
    }

    /// Wraps `response` so that its connection comes back to the pool when the body ends.
    pub fn lend(&self, response: Response<Incoming>, sender: Sender) -> Response<PooledBody> {
        let give_back = (response.status() != StatusCode::SWITCHING_PROTOCOLS).then(|| GiveBack {
            sender,
            pool: self.shared.clone(),
        });
        response.map(|inner| PooledBody {
            inner,
            ended: false,
            give_back,
        })
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Idle> {
        // The lists stay consistent at every step, so a panic elsewhere leaves nothing broken.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn put(self: &Arc<Self>, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.lock();
        if idle.connections.len() >= self.max_idle {
            return;
        }
        idle.connections.push((sender, Instant::now()));
        if !idle.sweeping {
            idle.sweeping = true;
            drop(idle);
            spawn_sweeper(Arc::downgrade(self), self.idle_timeout);
        }
    }

    /// Closes the connections idle for longer than the timeout.
    fn sweep(&self) {
        let now = Instant::now();
        let mut idle = self.lock();
        idle.connections.retain(|(sender, since)| {
            !sender.is_closed() && now.saturating_duration_since(*since) < self.idle_timeout
        });
    }
}

/// Sweeps the pool every `every` until the pool is gone.
fn spawn_sweeper(pool: Weak<Shared>, every: Duration) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            match pool.upgrade() {
                Some(pool) => pool.sweep(),
                None => return,
            }
        }
    });
}

struct GiveBack {
    sender: Sender,
    pool: Arc<Shared>,
}

/// An upstream response body that returns its connection to the pool once it has ended.
pub struct PooledBody {
    inner: Incoming,
    /// A chunked body ends with `None`; one with a length is over once it is all read.
    ended: bool,
    give_back: Option<GiveBack>,
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let frame = std::task::ready!(Pin::new(&mut self.inner).poll_frame(cx));
        match &frame {
            None => self.ended = true,
            Some(Err(_)) => self.give_back = None,
            Some(Ok(_)) => {}
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for PooledBody {
    fn drop(&mut self) {
        if let Some(give_back) = self.give_back.take() {
            // A body dropped before its end leaves the connection mid-message: it closes.
            if self.ended || self.inner.is_end_stream() {
                give_back.pool.put(give_back.sender);
            }
        }
    }
}

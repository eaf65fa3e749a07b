//! The revocation feed: a background task that keeps [`RevocationCache`] in step with Redis.
//!
//! Each round subscribes to the revocations channel *first*, then loads the full deny list and
//! cut-offs (so nothing published in between is missed: it waits in the subscription), marks
//! the cache trusted and applies announcements as they come. A PING every half second on the
//! subscription notices a Redis that went silent without closing the connection. When the
//! subscription fails the cache is marked untrusted at once, and the task retries until Redis
//! is back, then reloads everything (announcements made meanwhile were missed). The task ends
//! when the store is dropped.

use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use tokio::sync::watch;

use super::cache::RevocationCache;
use super::keys::Keys;

/// How often the subscription is checked with a PING.
const HEARTBEAT: Duration = Duration::from_millis(500);
/// How long one step (connect, subscribe, load, PING) may take before Redis counts as gone.
const STEP_TIMEOUT: Duration = Duration::from_secs(1);
/// The longest pause between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// What the feed needs; `ready` goes `true` once the first load is in.
pub struct Feed {
    pub client: redis::Client,
    pub manager: ConnectionManager,
    pub keys: Keys,
    pub cache: Weak<RevocationCache>,
    pub ready: watch::Sender<bool>,
    /// The Redis address without credentials, for the log.
    pub shown_url: String,
}

/// Why a round ended.
enum Outage {
    /// The store is gone: stop.
    Dropped,
    /// Redis failed or went silent.
    Lost(String),
}

impl Feed {
    pub async fn run(self) {
        let mut backoff = Duration::from_millis(100);
        // Log an outage once, when it starts, not on every retry.
        let mut outage_logged = false;
        loop {
            let mut went_live = false;
            let Outage::Lost(reason) = self.round(&mut went_live).await else {
                return;
            };
            let Some(cache) = self.cache.upgrade() else {
                return;
            };
            cache.set_trusted(false);
            if went_live {
                outage_logged = false;
                backoff = Duration::from_millis(100);
            }
            if outage_logged {
                tracing::debug!(redis = %self.shown_url, reason = %reason, "redis still unreachable");
            } else {
                tracing::error!(
                    redis = %self.shown_url,
                    reason = %reason,
                    "redis revocation feed down; retrying (bearer checks fail closed unless fail_open)"
                );
                outage_logged = true;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    async fn round(&self, went_live: &mut bool) -> Outage {
        let pubsub = match step(self.client.get_async_pubsub()).await {
            Ok(p) => p,
            Err(reason) => return Outage::Lost(reason),
        };
        let (mut sink, mut stream) = pubsub.split();
        if let Err(reason) = step(sink.subscribe(self.keys.channel())).await {
            return Outage::Lost(reason);
        }
        let (denied, cutoffs) = match self.load().await {
            Ok(loaded) => loaded,
            Err(reason) => return Outage::Lost(reason),
        };
        {
            let Some(cache) = self.cache.upgrade() else {
                return Outage::Dropped;
            };
            if let Err(err) = cache.merge(denied, cutoffs) {
                return Outage::Lost(err.to_string());
            }
            cache.set_trusted(true);
            tracing::info!(
                redis = %self.shown_url,
                denied = cache.denied_len(),
                "redis revocation feed is live"
            );
        }
        *went_live = true;
        self.ready.send_replace(true);

        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        loop {
            tokio::select! {
                message = stream.next() => {
                    let Some(message) = message else {
                        return Outage::Lost("the subscription closed".to_owned());
                    };
                    let Some(cache) = self.cache.upgrade() else {
                        return Outage::Dropped;
                    };
                    let text = String::from_utf8_lossy(message.get_payload_bytes());
                    match cache.apply(&text) {
                        Ok(0) => {}
                        Ok(bad) => tracing::warn!(lines = bad, "ignored revocation lines it could not read"),
                        Err(err) => return Outage::Lost(err.to_string()),
                    }
                }
                _ = heartbeat.tick() => {
                    if self.cache.strong_count() == 0 {
                        return Outage::Dropped;
                    }
                    if let Err(reason) = step(sink.ping::<redis::Value>()).await {
                        return Outage::Lost(reason);
                    }
                }
            }
        }
    }

    /// The full deny list and cut-offs.
    async fn load(&self) -> Result<(Vec<(String, u64)>, Vec<(String, u64)>), String> {
        let mut conn = self.manager.clone();
        let denied: Vec<(String, f64)> = step(
            redis::cmd("ZRANGE")
                .arg(self.keys.denied())
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES")
                .query_async(&mut conn),
        )
        .await?;
        let cutoffs: Vec<(String, u64)> = step(
            redis::cmd("HGETALL")
                .arg(self.keys.cutoffs())
                .query_async(&mut conn),
        )
        .await?;
        let denied = denied
            .into_iter()
            .map(|(jti, exp)| (jti, exp as u64))
            .collect();
        Ok((denied, cutoffs))
    }
}

/// One Redis step under [`STEP_TIMEOUT`].
async fn step<T>(
    fut: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Result<T, String> {
    match tokio::time::timeout(STEP_TIMEOUT, fut).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err(format!("no answer within {STEP_TIMEOUT:?}")),
    }
}

/// Starts the feed; the returned receiver turns `true` once the cache was first loaded.
pub fn spawn(
    client: redis::Client,
    manager: ConnectionManager,
    keys: Keys,
    cache: &Arc<RevocationCache>,
    shown_url: String,
) -> watch::Receiver<bool> {
    let (ready, ready_rx) = watch::channel(false);
    let feed = Feed {
        client,
        manager,
        keys,
        cache: Arc::downgrade(cache),
        ready,
        shown_url,
    };
    tokio::spawn(feed.run());
    ready_rx
}

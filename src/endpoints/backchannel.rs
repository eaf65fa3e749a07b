//! Delivering Back-Channel Logout 1.0 logout tokens (`oauth::backchannel` signs them): each
//! is POSTed as `application/x-www-form-urlencoded` `logout_token=…` to its client's
//! `backchannel_logout_uri`, in a task of its own, so a slow or dead relying party never
//! holds up the logout that caused it.
//!
//! Bounds: at most [`CONCURRENCY`] deliveries at once and [`MAX_PENDING`] waiting (past it a
//! notice is dropped, with a warning); each attempt (connect, TLS, request, response head)
//! within [`ATTEMPT_TIMEOUT`]; [`ATTEMPTS`] attempts, a second and five seconds apart, while
//! the relying party is unreachable or answers 5xx, 408 or 429 (a 2xx is done; another 4xx
//! means it refused the token, which a retry would not change). Connections are opened by
//! the proxy's `Connector` (`https` checked against the public web roots); `http` is only accepted on loopback by `check` and
//! registration. The token never appears in a log line; the client id does.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST};
use http::{Request, StatusCode, Uri};
use http_body_util::Full;
use tokio::sync::Semaphore;

use crate::oauth::backchannel::LogoutNotice;
use crate::proxy::connect::Connector;

/// Deliveries in flight at once.
pub const CONCURRENCY: usize = 8;
/// Deliveries waiting or in flight at most.
pub const MAX_PENDING: usize = 1000;
/// Attempts per logout token.
pub const ATTEMPTS: usize = 3;
/// One attempt's limit.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
const RETRY_AFTER: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(5)];

struct Delivery {
    permits: Semaphore,
    pending: AtomicUsize,
}

fn delivery() -> &'static Delivery {
    static DELIVERY: OnceLock<Delivery> = OnceLock::new();
    DELIVERY.get_or_init(|| Delivery {
        permits: Semaphore::new(CONCURRENCY),
        pending: AtomicUsize::new(0),
    })
}

/// Starts delivering `notices`; returns at once.
pub fn send(notices: Vec<LogoutNotice>) {
    let delivery = delivery();
    for notice in notices {
        if delivery.pending.fetch_add(1, Ordering::Relaxed) >= MAX_PENDING {
            delivery.pending.fetch_sub(1, Ordering::Relaxed);
            tracing::warn!(client_id = %notice.client_id, reason = "too_many_pending", "back-channel logout dropped");
            continue;
        }
        tokio::spawn(async move {
            if let Ok(_permit) = delivery.permits.acquire().await {
                deliver(&notice).await;
            }
            delivery.pending.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

async fn deliver(notice: &LogoutNotice) {
    let client_id = notice.client_id.as_str();
    for attempt in 1..=ATTEMPTS {
        let outcome = tokio::time::timeout(ATTEMPT_TIMEOUT, post(notice)).await;
        let retry = match outcome {
            Ok(Ok(status)) if status.is_success() => {
                tracing::info!(client_id, attempt, "back-channel logout delivered");
                return;
            }
            Ok(Ok(status)) => {
                let again = status.is_server_error()
                    || status == StatusCode::REQUEST_TIMEOUT
                    || status == StatusCode::TOO_MANY_REQUESTS;
                tracing::warn!(
                    client_id,
                    attempt,
                    status = status.as_u16(),
                    "back-channel logout answered with an error"
                );
                again
            }
            Ok(Err(reason)) => {
                tracing::warn!(
                    client_id,
                    attempt,
                    reason,
                    "back-channel logout not delivered"
                );
                true
            }
            Err(_) => {
                tracing::warn!(
                    client_id,
                    attempt,
                    reason = "timeout",
                    "back-channel logout not delivered"
                );
                true
            }
        };
        let Some(pause) = RETRY_AFTER.get(attempt - 1).filter(|_| retry) else {
            return;
        };
        tokio::time::sleep(*pause).await;
    }
}

/// One POST of the notice; the response's status.
async fn post(notice: &LogoutNotice) -> Result<StatusCode, &'static str> {
    let uri: Uri = notice.uri.parse().map_err(|_| "bad_uri")?;
    let connector = Connector::for_uri(&uri, ATTEMPT_TIMEOUT).map_err(|_| "bad_uri")?;
    let authority = uri.authority().ok_or("bad_uri")?;
    let target = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("logout_token", &notice.token)
        .finish();
    let request = Request::post(target)
        .header(HOST, authority.as_str())
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(body)))
        .map_err(|_| "bad_uri")?;
    let mut sender = connector
        .connect::<Full<Bytes>>()
        .await
        .map_err(|_| "connect")?;
    // The answer's body is not read: the status is all that counts. Dropping the response
    // and the sender closes the connection.
    let response = sender.send_request(request).await.map_err(|_| "request")?;
    Ok(response.status())
}

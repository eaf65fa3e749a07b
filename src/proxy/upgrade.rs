//! WebSocket upgrades (RFC 6455 over HTTP/1.1): the only upgrade the gateway forwards.
//!
//! The handshake goes through the same routing, authentication and header hygiene as any
//! request; only when the upstream answers 101 are the two connections joined and bytes
//! copied both ways until either side closes. `h2c` and every other upgrade are dropped as
//! ordinary hop-by-hop headers, so a client cannot smuggle a protocol past the gateway.

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Version};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use super::headers::connection_has;

/// Whether the client asks for a WebSocket upgrade.
pub fn is_websocket(method: &Method, version: Version, headers: &HeaderMap) -> bool {
    version == Version::HTTP_11
        && method == Method::GET
        && connection_has(headers, "upgrade")
        && headers
            .get(header::UPGRADE)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"))
}

/// Puts back the two headers an upgrade needs after hop-by-hop removal took them.
pub fn restore_upgrade_headers(headers: &mut HeaderMap) {
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
}

/// Joins the client and upstream connections once both upgrades complete.
pub fn tunnel(client: OnUpgrade, upstream: OnUpgrade) {
    tokio::spawn(async move {
        let (client, upstream) = match tokio::try_join!(client, upstream) {
            Ok(both) => both,
            Err(err) => {
                tracing::debug!(error = %err, "websocket upgrade failed");
                return;
            }
        };
        let mut client = TokioIo::new(client);
        let mut upstream = TokioIo::new(upstream);
        if let Err(err) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
            tracing::debug!(error = %err, "websocket tunnel closed with an error");
        }
    });
}

/// Whether a WebSocket handshake riding a session cookie comes from the gateway's own origin
/// (browsers always send `Origin` on WebSocket handshakes; a missing one is not a browser).
pub fn origin_allowed(headers: &HeaderMap, public_origin: &str) -> bool {
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(origin) => origin.eq_ignore_ascii_case(public_origin),
        None => true,
    }
}

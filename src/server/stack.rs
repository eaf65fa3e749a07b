//! THE layer order of the request path, written down once. A stack is built per client
//! connection, so that what is known of the connection (peer, TLS) needs no per-request
//! extension.
//!
//! ```text
//! connection (hyper: header size + time limits, HTTP/1.1 or HTTP/2)
//!   └─ AccessLog          one line per request, after its body is sent
//!        └─ GatewayService  normalise, endpoints, route, gate, forward (dispatch.rs)
//! ```

use std::sync::Arc;

use tower::Layer;

use crate::dispatch::{ConnectionInfo, Gateway, GatewayService};
use crate::middleware::access_log::{AccessLog, AccessLogLayer};

/// The composed service every connection runs.
pub type Stack = AccessLog<GatewayService>;

/// Builds the stack around `gateway` for one client connection.
pub fn build(gateway: Arc<Gateway>, access_log: bool, conn: ConnectionInfo) -> Stack {
    AccessLogLayer::new(access_log)
        .peer(conn.peer)
        .layer(GatewayService::new(gateway, conn))
}

//! THE layer order of the request path, written down once. A stack is put together per
//! request from the configuration in force (cheap: reference counts), so that what is known
//! of the connection (peer, TLS) needs no per-request extension and a reload reaches
//! keep-alive connections on their next request.
//!
//! The layers, outermost first, are those [`build`] composes; the crate docs (`src/lib.rs`)
//! draw them in the whole request path, and dispatch's own steps are listed in
//! `dispatch/mod.rs`.

use std::sync::Arc;

use tower::Layer;

use crate::dispatch::{ConnectionInfo, Gateway, GatewayService};
use crate::logging::access::AccessLogger;
use crate::middleware::access_log::{AccessLog, AccessLogLayer};
use crate::middleware::catch_panic::{CatchPanic, CatchPanicLayer};
use crate::middleware::request_id::{RequestIdLayer, SetRequestId};

/// The composed service a request runs through.
pub type Stack = SetRequestId<AccessLog<CatchPanic<GatewayService>>>;

/// Builds the stack around `gateway` for a request on the connection `conn`.
pub fn build(
    gateway: Arc<Gateway>,
    access_log: Option<AccessLogger>,
    conn: Arc<ConnectionInfo>,
) -> Stack {
    let request_id = RequestIdLayer::new(gateway.is_trusted(conn.peer));
    let access_log = AccessLogLayer::new(access_log).peer(conn.peer_text.clone());
    let catch_panic = CatchPanicLayer::new(gateway.metrics().clone());
    // Outermost first: an id per request (request header, every log line, response header); one access
    // line per request, after its body is sent; a panic below becomes a 500, a log line and a
    // metric; dispatch, last.
    request_id.layer(access_log.layer(catch_panic.layer(GatewayService::new(gateway, conn))))
}

//! THE layer order of the request path, written down once.
//!
//! ```text
//! connection (hyper: header size + time limits, HTTP/1.1 or HTTP/2)
//!   └─ AccessLog          one line per request, after its body is sent
//!        └─ GatewayService  normalise, endpoints, route, gate, forward (dispatch.rs)
//! ```

use std::sync::Arc;

use tower::Layer;

use crate::dispatch::{Gateway, GatewayService};
use crate::middleware::access_log::{AccessLog, AccessLogLayer};

/// The composed service every connection runs.
pub type Stack = AccessLog<GatewayService>;

/// Builds the stack around `gateway`.
pub fn build(gateway: Arc<Gateway>, access_log: bool) -> Stack {
    AccessLogLayer::new(access_log).layer(GatewayService(gateway))
}

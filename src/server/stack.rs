//! THE layer order of the request path, written down once.
//!
//! ```text
//! connection (hyper: header size + time limits, HTTP/1.1 or HTTP/2)
//!   └─ AccessLog          one line per request, after its body is sent
//!        └─ Measured        metrics: requests by route and status, latency, upstream errors
//!             └─ GatewayService  normalise, endpoints, route, gate, forward (dispatch.rs)
//! ```

use std::sync::Arc;

use tower::Layer;

use crate::dispatch::{Gateway, GatewayService};
use crate::metrics::Metrics;
use crate::middleware::access_log::{AccessLog, AccessLogLayer};
use crate::middleware::metrics::{Measured, MetricsLayer};

/// The composed service every connection runs.
pub type Stack = AccessLog<Measured<GatewayService>>;

/// Builds the stack around `gateway`.
pub fn build(gateway: Arc<Gateway>, access_log: bool, metrics: Arc<Metrics>) -> Stack {
    AccessLogLayer::new(access_log).layer(MetricsLayer::new(metrics).layer(GatewayService(gateway)))
}

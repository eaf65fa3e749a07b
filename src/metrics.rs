//! What the gateway counts, for `GET /metrics` on the admin listener (Prometheus text format).
//!
//! One [`Metrics`] per server, shared by the request path, the authorization server and the
//! admin listener, and kept across configuration reloads. Labels are only ever route paths
//! from the configuration, status codes and fixed reason names: nothing a client sends, so a
//! client cannot grow the series without bound, and no credential can appear.
//!
//! - `authgate_requests_total{route,status}` and `authgate_request_duration_seconds{route}`
//!   (to the response headers; a streamed body's length is in the access log);
//! - `authgate_upstream_errors_total{route,reason}`: unreachable, timeout, failed;
//! - `authgate_tokens_issued_total{grant}` and `authgate_tokens_refused_total{reason}` (the
//!   RFC 6749 error code);
//! - `authgate_logins_failed_total{reason}`;
//! - `authgate_panics_total`: requests whose handling panicked (a bug), answered 500 by the
//!   catch-panic layer; each is also a `(gateway)` 500 in `authgate_requests_total`;
//! - `authgate_store_entries{kind}`: read from the store when scraped;
//! - `authgate_access_log_dropped_total`: access lines dropped because their destination did
//!   not keep up or failed (`logging::access`: a slow log never stalls a request).

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::store::StoreStats;

/// The route label of answers the gateway gives itself (OAuth endpoints, health, no route).
pub const GATEWAY_ROUTE: &str = "(gateway)";

/// Latency buckets, in seconds: a proxy's range, from 0.5 ms to 10 s.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    upstream_errors: IntCounterVec,
    tokens_issued: IntCounterVec,
    tokens_refused: IntCounterVec,
    logins_failed: IntCounterVec,
    panics: prometheus::IntCounter,
    store_entries: IntGaugeVec,
    access_log_dropped: prometheus::IntCounter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn counter(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntCounterVec> {
    let vec = IntCounterVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(vec.clone()))?;
    Ok(vec)
}

impl Metrics {
    /// Registers every series. Fails only on an invalid or repeated name, which would be a
    /// bug here, never on anything at run time.
    pub fn new() -> prometheus::Result<Metrics> {
        let registry = Registry::new();
        let requests = counter(
            &registry,
            "authgate_requests_total",
            "Requests answered, by route and status.",
            &["route", "status"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "authgate_request_duration_seconds",
                "Time from the request to its response headers, by route.",
            )
            .buckets(BUCKETS.to_vec()),
            &["route"],
        )?;
        registry.register(Box::new(duration.clone()))?;
        let upstream_errors = counter(
            &registry,
            "authgate_upstream_errors_total",
            "Requests the upstream failed, by route and reason (unreachable, timeout, failed).",
            &["route", "reason"],
        )?;
        let tokens_issued = counter(
            &registry,
            "authgate_tokens_issued_total",
            "Token responses issued at the token endpoint, by grant type.",
            &["grant"],
        )?;
        let tokens_refused = counter(
            &registry,
            "authgate_tokens_refused_total",
            "Token requests refused, by OAuth error code.",
            &["reason"],
        )?;
        let logins_failed = counter(
            &registry,
            "authgate_logins_failed_total",
            "Failed sign-ins, by reason.",
            &["reason"],
        )?;
        let panics = prometheus::IntCounter::new(
            "authgate_panics_total",
            "Requests whose handling panicked (a bug), answered 500.",
        )?;
        registry.register(Box::new(panics.clone()))?;
        let store_entries = IntGaugeVec::new(
            Opts::new(
                "authgate_store_entries",
                "Entries in the token store, by kind.",
            ),
            &["kind"],
        )?;
        registry.register(Box::new(store_entries.clone()))?;
        let access_log_dropped = prometheus::IntCounter::new(
            "authgate_access_log_dropped_total",
            "Access log lines dropped because their destination did not keep up or failed.",
        )?;
        registry.register(Box::new(access_log_dropped.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            duration,
            upstream_errors,
            tokens_issued,
            tokens_refused,
            logins_failed,
            panics,
            store_entries,
            access_log_dropped,
        })
    }

    /// The series of one route, resolved once (a lookup by label values hashes them under a
    /// lock; the request path should not, for every request).
    pub fn route(&self, route: &str) -> RouteSeries {
        let common = COMMON_STATUSES
            .iter()
            .filter_map(|status| {
                let digits = itoa_status(*status);
                let text = std::str::from_utf8(&digits).ok()?;
                let counter = self
                    .requests
                    .get_metric_with_label_values(&[route, text])
                    .ok()?;
                Some((*status, counter))
            })
            .collect();
        RouteSeries {
            route: route.to_owned(),
            duration: self.duration.get_metric_with_label_values(&[route]).ok(),
            common,
        }
    }

    pub fn upstream_error(&self, route: &str, reason: &str) {
        if let Ok(c) = self
            .upstream_errors
            .get_metric_with_label_values(&[route, reason])
        {
            c.inc();
        }
    }

    pub fn token_issued(&self, grant: &str) {
        if let Ok(c) = self.tokens_issued.get_metric_with_label_values(&[grant]) {
            c.inc();
        }
    }

    pub fn token_refused(&self, reason: &str) {
        if let Ok(c) = self.tokens_refused.get_metric_with_label_values(&[reason]) {
            c.inc();
        }
    }

    pub fn login_failed(&self, reason: &str) {
        if let Ok(c) = self.logins_failed.get_metric_with_label_values(&[reason]) {
            c.inc();
        }
    }

    /// A request whose handling panicked: counted here and as a `(gateway)` 500.
    pub fn panicked(&self) {
        self.panics.inc();
        if let Ok(c) = self
            .requests
            .get_metric_with_label_values(&[GATEWAY_ROUTE, "500"])
        {
            c.inc();
        }
    }

    /// The counter of dropped access lines, for the access log's writer to count into.
    pub fn access_log_dropped(&self) -> prometheus::IntCounter {
        self.access_log_dropped.clone()
    }

    /// The Prometheus text exposition, with the store's sizes as of now.
    pub fn render(&self, store: Option<&StoreStats>) -> String {
        if let Some(stats) = store {
            for (kind, count) in &stats.entries {
                if let Ok(g) = self.store_entries.get_metric_with_label_values(&[kind]) {
                    g.set(i64::try_from(*count).unwrap_or(i64::MAX));
                }
            }
        }
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Statuses whose counters a [`RouteSeries`] holds ready.
const COMMON_STATUSES: &[u16] = &[
    101, 200, 201, 202, 204, 206, 301, 302, 303, 304, 307, 308, 400, 401, 403, 404, 405, 409, 413,
    429, 431, 500, 502, 503, 504,
];

/// One route's request series, resolved ahead of time.
#[derive(Debug, Clone)]
pub struct RouteSeries {
    route: String,
    duration: Option<prometheus::Histogram>,
    common: Vec<(u16, prometheus::IntCounter)>,
}

impl RouteSeries {
    pub fn name(&self) -> &str {
        &self.route
    }

    /// One answered request on this route.
    pub fn request(&self, metrics: &Metrics, status: u16, seconds: f64) {
        match self.common.iter().find(|(s, _)| *s == status) {
            Some((_, counter)) => counter.inc(),
            None => {
                let digits = itoa_status(status);
                let text = std::str::from_utf8(&digits).unwrap_or("0");
                if let Ok(c) = metrics
                    .requests
                    .get_metric_with_label_values(&[&self.route, text])
                {
                    c.inc();
                }
            }
        }
        if let Some(h) = &self.duration {
            h.observe(seconds);
        }
    }
}

/// A status code's three digits, without allocating.
fn itoa_status(status: u16) -> [u8; 3] {
    let s = status.min(999);
    [
        b'0' + (s / 100) as u8,
        b'0' + (s / 10 % 10) as u8,
        b'0' + (s % 10) as u8,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_what_was_counted() {
        let m = Metrics::new().unwrap();
        let api = m.route("/api/");
        api.request(&m, 200, 0.002);
        api.request(&m, 200, 0.004);
        m.route(GATEWAY_ROUTE).request(&m, 404, 0.0001);
        m.upstream_error("/api/", "timeout");
        m.token_issued("client_credentials");
        m.token_refused("invalid_grant");
        m.login_failed("bad_credentials");
        let text = m.render(Some(&StoreStats {
            entries: vec![("refresh_token", 7)],
        }));
        assert!(
            text.contains("authgate_requests_total{route=\"/api/\",status=\"200\"} 2"),
            "{text}"
        );
        assert!(text.contains("authgate_requests_total{route=\"(gateway)\",status=\"404\"} 1"));
        assert!(text
            .contains("authgate_request_duration_seconds_bucket{route=\"/api/\",le=\"0.005\"} 2"));
        assert!(
            text.contains("authgate_upstream_errors_total{reason=\"timeout\",route=\"/api/\"} 1")
        );
        assert!(text.contains("authgate_tokens_issued_total{grant=\"client_credentials\"} 1"));
        assert!(text.contains("authgate_tokens_refused_total{reason=\"invalid_grant\"} 1"));
        assert!(text.contains("authgate_logins_failed_total{reason=\"bad_credentials\"} 1"));
        assert!(text.contains("authgate_store_entries{kind=\"refresh_token\"} 7"));
        assert!(text.contains("# TYPE authgate_request_duration_seconds histogram"));
        m.access_log_dropped().inc_by(3);
        let text = m.render(None);
        assert!(
            text.contains("authgate_access_log_dropped_total 3"),
            "{text}"
        );
    }

    #[test]
    fn resolved_route_series_count_like_lookups() {
        let m = Metrics::new().unwrap();
        let series = m.route("/app/");
        series.request(&m, 200, 0.001);
        series.request(&m, 599, 0.001);
        // A second resolution of the same route counts into the same series.
        m.route("/app/").request(&m, 200, 0.001);
        let text = m.render(None);
        assert!(
            text.contains("authgate_requests_total{route=\"/app/\",status=\"200\"} 2"),
            "{text}"
        );
        assert!(text.contains("authgate_requests_total{route=\"/app/\",status=\"599\"} 1"));
        assert!(text.contains("authgate_request_duration_seconds_count{route=\"/app/\"} 3"));
    }

    #[test]
    fn status_digits() {
        assert_eq!(&itoa_status(200), b"200");
        assert_eq!(&itoa_status(503), b"503");
        assert_eq!(&itoa_status(42), b"042");
    }
}

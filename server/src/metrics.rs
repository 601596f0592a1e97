//! Prometheus metrics of one instance: requests and their latency by route, authorization
//! outcomes by decline code, the webhook backlog and how late it runs, and how busy
//! SQLite's writer thread is. `ops/prometheus/alerts.yml` alerts on them.
//! Labels are closed sets (route templates, decline codes), never ids or raw paths, so
//! no client can grow the series without bound and no card data can reach a label.
//!
//! Counters live in memory and start at zero with the process, as Prometheus expects; the
//! webhook backlog is read from the database at each scrape, so every instance on one
//! PostgreSQL reports the same shared backlog.

use crate::processors::{Outcome, ProcessorError};
use crate::store::WriterStats;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The exposition format served at `/metrics`.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Request latency buckets, in seconds: a confirm under load sits around 10–30 ms.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LatencyLabels {
    method: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AuthorizationLabels {
    mode: &'static str,
    outcome: &'static str,
    decline_code: &'static str,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<LatencyLabels, Histogram, fn() -> Histogram>,
    authorizations: Family<AuthorizationLabels, Counter>,
    webhook_backlog: Gauge,
    webhook_overdue: Gauge,
    database_up: Gauge,
}

impl Metrics {
    /// `writer`: the SQLite writer thread's counters, where the store has one.
    pub fn new(writer: Option<Arc<WriterStats>>) -> Metrics {
        let mut registry = Registry::with_prefix("payframe");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            requests.clone(),
        );
        let latency = Family::<LatencyLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from receiving a request to its response, by method and route template",
            latency.clone(),
        );
        let authorizations = Family::<AuthorizationLabels, Counter>::default();
        registry.register(
            "authorizations",
            "Processor answers to authorizations, by mode (test or live), outcome \
             (approved, declined, timeout, error) and decline code",
            authorizations.clone(),
        );
        let webhook_backlog = Gauge::default();
        registry.register(
            "webhook_backlog",
            "Webhook deliveries not yet delivered, failed for good or canceled (all instances)",
            webhook_backlog.clone(),
        );
        let webhook_overdue = Gauge::default();
        registry.register(
            "webhook_overdue_seconds",
            "How long the pending delivery furthest past its scheduled attempt has waited since \
             (all instances); 0 when none is due. Growing: no worker is delivering",
            webhook_overdue.clone(),
        );
        let database_up = Gauge::default();
        registry.register(
            "database_up",
            "1 if the last scrape's read of the database (the webhook backlog) worked, else 0",
            database_up.clone(),
        );
        if let Some(stats) = writer {
            registry.register_collector(Box::new(WriterCollector(stats)));
        }
        Metrics {
            registry,
            requests,
            latency,
            authorizations,
            webhook_backlog,
            webhook_overdue,
            database_up,
        }
    }

    /// Counts a request answered. `route` is the matched route template, or `None` when
    /// no route matched (one series for every such path).
    pub fn request(
        &self,
        method: &axum::http::Method,
        route: Option<String>,
        status: u16,
        took: Duration,
    ) {
        let method = method_label(method);
        let labels = LatencyLabels {
            method,
            route: route.unwrap_or_else(|| "unmatched".to_owned()),
        };
        self.latency
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route: labels.route,
                status,
            })
            .inc();
    }

    /// Counts the processor's answer to an authorization request.
    pub fn authorization(&self, livemode: bool, answer: &Result<Outcome, ProcessorError>) {
        let (outcome, decline_code) = match answer {
            Ok(Outcome::Approved { .. }) => ("approved", ""),
            Ok(Outcome::Declined { decline_code, .. }) => ("declined", decline_code.as_str()),
            Err(ProcessorError::Timeout) => ("timeout", ""),
            Err(_) => ("error", ""),
        };
        self.authorizations
            .get_or_create(&AuthorizationLabels {
                mode: if livemode { "live" } else { "test" },
                outcome,
                decline_code,
            })
            .inc();
    }

    /// Sets the webhook backlog read from the database: how many deliveries are pending,
    /// and how far the most overdue of them is behind its schedule.
    pub fn set_webhook_backlog(&self, pending: i64, overdue_seconds: i64) {
        self.webhook_backlog.set(pending);
        self.webhook_overdue.set(overdue_seconds.max(0));
    }

    pub fn set_database_up(&self, up: bool) {
        self.database_up.set(i64::from(up));
    }

    /// Every metric in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(8 * 1024);
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

/// HTTP methods as a closed set: an extension method a client invents is "other".
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Reads the writer thread's counters at each scrape: the writes it committed, the group
/// commits they took, and the seconds it spent running groups (statements, commit and
/// its sync). The busy seconds' rate is the writer's utilisation: near 1, every write of
/// the instance queues behind it. They are wall-clock seconds, so they include time the
/// thread waited for a CPU: on a machine short of cores that is much of it (BENCHMARKS.md).
#[derive(Debug)]
struct WriterCollector(Arc<WriterStats>);

impl Collector for WriterCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let stats = &self.0;
        let counters: [(&str, &str, ConstCounter<f64>); 3] = [
            (
                "sqlite_writer_writes",
                "Writes the SQLite writer thread committed.",
                ConstCounter::new(stats.writes.load(Ordering::Relaxed) as f64),
            ),
            (
                "sqlite_writer_commits",
                "Group commits (transactions, each with one sync) of the SQLite writer thread.",
                ConstCounter::new(stats.commits.load(Ordering::Relaxed) as f64),
            ),
            (
                "sqlite_writer_busy_seconds",
                "Seconds the SQLite writer thread spent running groups, their commit and sync included (wall time: waits for a CPU count too).",
                ConstCounter::new(stats.busy_nanos.load(Ordering::Relaxed) as f64 / 1e9),
            ),
        ];
        // The registry ends the other metrics' help with a period; collectors write their own.
        for (name, help, counter) in counters {
            let metric = encoder.encode_descriptor(name, help, None, counter.metric_type())?;
            counter.encode(metric)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processors::DeclineCode;
    use axum::http::Method;

    #[test]
    fn requests_are_counted_by_route_template_and_unknown_methods_share_one_label() {
        let metrics = Metrics::new(None);
        let route = || Some("/v1/payments/{id}".to_owned());
        metrics.request(&Method::GET, route(), 200, Duration::from_millis(3));
        metrics.request(&Method::GET, route(), 200, Duration::from_millis(30));
        metrics.request(
            &Method::from_bytes(b"BREW").unwrap(),
            None,
            405,
            Duration::ZERO,
        );
        let text = metrics.encode();
        assert!(
            text.contains(
                r#"payframe_http_requests_total{method="GET",route="/v1/payments/{id}",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(text.contains(
            r#"payframe_http_requests_total{method="other",route="unmatched",status="405"} 1"#
        ));
        // 3 ms and 30 ms: one at or under 5 ms, both at or under 50 ms.
        assert!(text.contains(
            r#"payframe_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/v1/payments/{id}"} 1"#
        ), "{text}");
        assert!(text.contains(
            r#"payframe_http_request_duration_seconds_bucket{le="0.05",method="GET",route="/v1/payments/{id}"} 2"#
        ));
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn authorizations_are_counted_by_outcome_and_decline_code() {
        let metrics = Metrics::new(None);
        let approved = Ok(Outcome::Approved {
            processor_reference: "ref".into(),
        });
        metrics.authorization(false, &approved);
        metrics.authorization(true, &approved);
        metrics.authorization(
            false,
            &Ok(Outcome::Declined {
                decline_code: DeclineCode::InsufficientFunds,
                response_code: crate::processors::ResponseCode::InsufficientFunds,
            }),
        );
        metrics.authorization(false, &Err(ProcessorError::Timeout));
        let text = metrics.encode();
        for line in [
            r#"payframe_authorizations_total{mode="test",outcome="approved",decline_code=""} 1"#,
            r#"payframe_authorizations_total{mode="live",outcome="approved",decline_code=""} 1"#,
            r#"payframe_authorizations_total{mode="test",outcome="declined",decline_code="insufficient_funds"} 1"#,
            r#"payframe_authorizations_total{mode="test",outcome="timeout",decline_code=""} 1"#,
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
    }

    #[test]
    fn the_writer_threads_counters_are_read_at_each_scrape() {
        let stats = Arc::new(WriterStats::default());
        let metrics = Metrics::new(Some(Arc::clone(&stats)));
        stats.writes.store(14, Ordering::Relaxed);
        stats.commits.store(2, Ordering::Relaxed);
        stats.busy_nanos.store(1_500_000_000, Ordering::Relaxed);
        let text = metrics.encode();
        assert!(
            text.contains("payframe_sqlite_writer_writes_total 14"),
            "{text}"
        );
        assert!(text.contains("payframe_sqlite_writer_commits_total 2"));
        assert!(text.contains("payframe_sqlite_writer_busy_seconds_total 1.5"));
    }
}

/// The bearer token a scraper must send to `/metrics`, when the operator sets one. Compared
/// in constant time, and never printed.
#[derive(Clone)]
pub struct MetricsToken(String);

impl MetricsToken {
    /// `None` for an empty value: an empty token would protect nothing.
    pub fn new(token: String) -> Option<MetricsToken> {
        (!token.is_empty()).then_some(MetricsToken(token))
    }

    pub fn matches(&self, given: &str) -> bool {
        use subtle::ConstantTimeEq;
        self.0.len() == given.len() && bool::from(self.0.as_bytes().ct_eq(given.as_bytes()))
    }
}

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsToken(<redacted>)")
    }
}

//! The server's Prometheus metrics (issue 18): one registry of the `prometheus-client` crate,
//! every metric declared here with its help text, and the exposition (`encode`) that `/metrics`
//! answers with. The edges and the service record into it; the gauges that describe stored state
//! (outbox depth, event-log size, blob-store size) are set by the service from the database just
//! before each scrape, so they are never stale and cost nothing between scrapes.
//!
//! Why one registry per process (a `LazyLock`) and not one per `Service`: the store, the blob
//! store, the HTTP edge and the service all record into it, and the store and the blob store sit
//! below the service and are built before it. A process runs one server; tests that run several
//! in one process compare values before and after what they do, never absolute counts.
//!
//! Label values are bounded: HTTP routes are templates (`MatchedPath`, and the `/v2` catch-all
//! by operation), outcomes and pools are fixed words, and an import's registry is its host
//! (`host[:port]`, the operator's allow-list bounds which may be reached).
//!
//! Must not: know anything above it (it names no other module of this crate), or format the
//! exposition by hand.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use std::sync::LazyLock;
use std::time::Duration;

/// `method`, `route` (a template) and `status` of an HTTP request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

/// The route of an HTTP request (the latency histogram is per route and method, not status:
/// fewer series, and a slow 500 and a slow 200 are one problem).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

/// One looked-up image of an import: which registry and how it ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ImportLabels {
    pub registry: String,
    /// `success` or `failure`.
    pub outcome: String,
}

/// A registry of an import request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RegistryLabels {
    pub registry: String,
}

/// How something ended: a fixed word.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

/// Which database pool: `writer` or `reader`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    pub pool: &'static str,
}

/// Registry traffic: `served` (to clients), `pulled_through` (from upstreams), `mirrored` (into
/// the blob store from a pull-through), `pushed` (into the blob store by clients).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DirectionLabels {
    pub direction: &'static str,
}

/// A prune or garbage-collection run: what kind, and how it ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RunLabels {
    /// `prune` (`prune images`, server or namespace), `retention` (a namespace's policy, on
    /// schedule or "run now"), `gc` (the blob store's garbage collection).
    pub kind: &'static str,
    /// `dry_run`, `success` or `failure`.
    pub outcome: &'static str,
}

/// Every metric of the server. Field docs are the help texts.
pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_duration: Family<RouteLabels, Histogram>,
    pub http_in_flight: Gauge,
    pub imports: Family<ImportLabels, Counter>,
    pub import_duration: Family<RegistryLabels, Histogram>,
    pub webhook_deliveries: Family<OutcomeLabels, Counter>,
    pub webhook_duration: Family<OutcomeLabels, Histogram>,
    pub webhook_outbox: Gauge,
    pub watchers: Gauge,
    pub live_pages: Gauge,
    pub event_log: Gauge,
    pub db_pool_wait: Family<PoolLabels, Histogram>,
    pub db_transaction: Histogram,
    pub registry_bytes: Family<DirectionLabels, Counter>,
    pub blob_store_bytes: Gauge,
    pub blob_store_blobs: Gauge,
    pub runs: Family<RunLabels, Counter>,
    pub draining: Gauge,
}

/// Latency buckets from 1 ms to about 33 s (doubling): requests, imports, deliveries.
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// Short waits: 50 µs to about 1.6 s (doubling): pool waits and transactions.
fn short() -> Histogram {
    Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("imagestreams");
        let m = Metrics {
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(latency),
            http_in_flight: Gauge::default(),
            imports: Family::default(),
            import_duration: Family::new_with_constructor(latency),
            webhook_deliveries: Family::default(),
            webhook_duration: Family::new_with_constructor(latency),
            webhook_outbox: Gauge::default(),
            watchers: Gauge::default(),
            live_pages: Gauge::default(),
            event_log: Gauge::default(),
            db_pool_wait: Family::new_with_constructor(short),
            db_transaction: short(),
            registry_bytes: Family::default(),
            blob_store_bytes: Gauge::default(),
            blob_store_blobs: Gauge::default(),
            runs: Family::default(),
            draining: Gauge::default(),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register("http_requests", "HTTP requests answered, by method, route template and status", m.http_requests.clone());
        r.register_with_unit(
            "http_request_duration",
            "Time from a request's arrival to its response head (a watch's or a download's body is not counted), by method and route template",
            Unit::Seconds,
            m.http_duration.clone(),
        );
        r.register("http_requests_in_flight", "HTTP requests being answered now", m.http_in_flight.clone());
        r.register("imports", "Images looked up by imports, by source registry and outcome (success, failure)", m.imports.clone());
        r.register_with_unit(
            "import_duration",
            "Duration of import requests (lookups and storing), by source registry",
            Unit::Seconds,
            m.import_duration.clone(),
        );
        r.register(
            "webhook_deliveries",
            "Webhook delivery attempts, by outcome (delivered, retry, failed: the last attempt failed)",
            m.webhook_deliveries.clone(),
        );
        r.register_with_unit(
            "webhook_delivery_duration",
            "Latency of webhook delivery attempts (the receiver's answer), by outcome",
            Unit::Seconds,
            m.webhook_duration.clone(),
        );
        r.register("webhook_outbox_depth", "Webhook deliveries queued (pending) in the outbox", m.webhook_outbox.clone());
        r.register("watchers", "Open watches of the image API (?watch=1)", m.watchers.clone());
        r.register("live_pages", "Open live-update streams of web pages (server-sent events)", m.live_pages.clone());
        r.register("watch_event_log_events", "Events in the watch event log (what watches replay from)", m.event_log.clone());
        r.register_with_unit(
            "db_pool_wait",
            "Time spent waiting for a database connection, by pool (writer, reader)",
            Unit::Seconds,
            m.db_pool_wait.clone(),
        );
        r.register_with_unit(
            "db_transaction_duration",
            "Duration of write transactions, from begin to commit or rollback",
            Unit::Seconds,
            m.db_transaction.clone(),
        );
        r.register_with_unit(
            "registry",
            "Bytes through the integrated registry, by direction: served (blobs and manifests to clients), pulled_through (from upstream registries), mirrored (pulled-through content written to the blob store), pushed (uploaded by clients)",
            Unit::Bytes,
            m.registry_bytes.clone(),
        );
        r.register_with_unit(
            "blob_store",
            "Size of the content recorded in the registry's blob store",
            Unit::Bytes,
            m.blob_store_bytes.clone(),
        );
        r.register("blob_store_blobs", "Blobs recorded in the registry's blob store", m.blob_store_blobs.clone());
        r.register(
            "maintenance_runs",
            "Prune, retention and garbage-collection runs, by kind (prune, retention, gc) and outcome (success, dry_run, failure)",
            m.runs.clone(),
        );
        r.register("draining", "1 while the server shuts down (readyz answers 503), else 0", m.draining.clone());
        Metrics { registry, ..m }
    }

    /// The exposition: the OpenMetrics text format (which Prometheus scrapes), ending in `# EOF`.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Counts an answered HTTP request.
    pub fn http_request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let (method, route) = (method.to_string(), route.to_string());
        self.http_requests.get_or_create(&HttpLabels { method: method.clone(), route: route.clone(), status }).inc();
        self.http_duration.get_or_create(&RouteLabels { method, route }).observe(took.as_secs_f64());
    }

    /// Counts a finished prune, retention or garbage-collection run.
    pub fn run(&self, kind: &'static str, outcome: &'static str) {
        self.runs.get_or_create(&RunLabels { kind, outcome }).inc();
    }

    /// Adds registry traffic.
    pub fn add_registry_bytes(&self, direction: &'static str, bytes: u64) {
        self.registry_bytes.get_or_create(&DirectionLabels { direction }).inc_by(bytes);
    }

    /// A gauge held up while the guard lives (an open watch, a live page).
    pub fn hold(gauge: &Gauge) -> GaugeGuard {
        gauge.inc();
        GaugeGuard(gauge.clone())
    }
}

/// Holds a gauge one higher until dropped.
pub struct GaugeGuard(Gauge);

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

/// The content type of `Metrics::encode`.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_names_every_metric_with_the_prefix() {
        let m = metrics();
        m.http_request("GET", "/healthz", 200, Duration::from_millis(3));
        m.run("gc", "success");
        m.add_registry_bytes("served", 10);
        let text = m.encode();
        for name in [
            "imagestreams_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"}",
            "imagestreams_http_request_duration_seconds_bucket",
            "imagestreams_maintenance_runs_total{kind=\"gc\",outcome=\"success\"}",
            "imagestreams_registry_bytes_total{direction=\"served\"}",
            "imagestreams_watchers ",
            "imagestreams_db_transaction_duration_seconds_count",
        ] {
            assert!(text.contains(name), "{name} missing from\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}

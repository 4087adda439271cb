//! Metrics for the monitoring stack, in Prometheus' text format, through the `metrics`
//! facade and its Prometheus recorder (installed once per process). Counters and
//! histograms are recorded where things happen (requests, email sends); gauges of the
//! shop's state are read from the database when `/metrics` is scraped (`web::metrics`).
//!
//! Every name starts with `backorder_`. The series (README, "Metrics and health"):
//! - `backorder_http_requests_total{method,route,status}` and
//!   `backorder_http_request_duration_seconds{method,route,status}` (a histogram), by the
//!   route's pattern (`/orders/{number}`), never the raw path;
//! - `backorder_db_pool_connections{pool,state}` (`in_use`, `idle`),
//!   `backorder_db_pool_max_connections{pool}`, `backorder_db_pool_waiting{pool}`;
//! - `backorder_outbox_messages{status}`, `backorder_outbox_oldest_queued_age_seconds`,
//!   `backorder_email_send_results_total{result}`;
//! - `backorder_waiting_lines`, `backorder_waiting_units`;
//! - `backorder_promises_due_30d`, `backorder_promises_kept_30d`,
//!   `backorder_promises_kept_ratio_30d`;
//! - `backorder_database_reachable` (0 when the figures above could not be read);
//! - with a replica, `backorder_replica_lag_seconds` and `backorder_replica_in_use`.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const REQUESTS: &str = "backorder_http_requests_total";
pub const REQUEST_SECONDS: &str = "backorder_http_request_duration_seconds";
pub const EMAIL_RESULTS: &str = "backorder_email_send_results_total";

/// Seconds: a page is fast under 0.1 s; a receipt of 10,000 units takes about 1.5 s.
const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The process's recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(REQUEST_SECONDS.to_owned()), &LATENCY_BUCKETS)
            .map(PrometheusBuilder::build_recorder)
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!(
                "another metrics recorder was installed first; /metrics shows only its own"
            );
        }
        describe();
        // Histograms are drained into their buckets by upkeep; without a listener of the
        // exporter's own, that is ours to run.
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new()
            .name("metrics-upkeep".to_owned())
            .spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                }
            });
        handle
    })
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        REQUESTS,
        "HTTP requests answered, by route pattern and status"
    );
    describe_histogram!(
        REQUEST_SECONDS,
        Unit::Seconds,
        "Time to answer an HTTP request, by route pattern and status"
    );
    describe_counter!(
        EMAIL_RESULTS,
        "Email send attempts by result: sent, retry (a temporary failure), failed, dead, unreachable"
    );
    describe_gauge!(
        "backorder_db_pool_connections",
        "Database connections of this process's pool, in use or idle"
    );
    describe_gauge!(
        "backorder_db_pool_max_connections",
        "The pool's size (DATABASE_POOL_SIZE)"
    );
    describe_gauge!(
        "backorder_db_pool_waiting",
        "Requests of this process waiting for a database connection"
    );
    describe_gauge!(
        "backorder_outbox_messages",
        "Emails in the outbox by status"
    );
    describe_gauge!(
        "backorder_outbox_oldest_queued_age_seconds",
        Unit::Seconds,
        "Age of the oldest queued email (0 when none is queued)"
    );
    describe_gauge!("backorder_waiting_lines", "Order lines waiting for stock");
    describe_gauge!("backorder_waiting_units", "Units waiting for stock");
    describe_gauge!(
        "backorder_promises_due_30d",
        "Lines whose promised date fell in the last 30 days"
    );
    describe_gauge!(
        "backorder_promises_kept_30d",
        "Of those, lines shipped by their promised date"
    );
    describe_gauge!(
        "backorder_promises_kept_ratio_30d",
        "Promises kept over promises due, last 30 days"
    );
}

/// One answered request.
pub fn record_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    handle();
    let labels = [
        ("method", method.to_owned()),
        ("route", route.to_owned()),
        ("status", status.to_string()),
    ];
    metrics::counter!(REQUESTS, &labels).increment(1);
    metrics::histogram!(REQUEST_SECONDS, &labels).record(elapsed.as_secs_f64());
}

/// One email's send attempt, by what became of it: `sent`, `retry` (a temporary
/// failure), `failed`, `dead` or `unreachable` (no server answered). A message put back
/// untried is no attempt.
pub fn record_email_result(outcome: &crate::email::outbox::Outcome) {
    use crate::email::outbox::Outcome;
    let result = match outcome {
        Outcome::Sent { .. } => "sent",
        Outcome::Retry { .. } => "retry",
        Outcome::Failed { .. } => "failed",
        Outcome::Dead { .. } => "dead",
        Outcome::Deferred { error: Some(_), .. } => "unreachable",
        Outcome::Deferred { error: None, .. } => return,
    };
    handle();
    metrics::counter!(EMAIL_RESULTS, "result" => result).increment(1);
}

/// Requests waiting for a connection, per pool; see `db::blocking`.
pub static PRIMARY_WAITING: AtomicI64 = AtomicI64::new(0);
pub static REPLICA_WAITING: AtomicI64 = AtomicI64::new(0);

/// Counts the caller as waiting for a connection while `get` runs.
pub fn waiting_for<T>(waiting: &AtomicI64, get: impl FnOnce() -> T) -> T {
    waiting.fetch_add(1, Ordering::Relaxed);
    let got = get();
    waiting.fetch_sub(1, Ordering::Relaxed);
    got
}

/// A pool's state as gauges.
pub fn record_pool(name: &'static str, pool: &crate::db::PgPool, waiting: &AtomicI64) {
    handle();
    let state = pool.state();
    let in_use = state.connections.saturating_sub(state.idle_connections);
    metrics::gauge!("backorder_db_pool_connections", "pool" => name, "state" => "in_use")
        .set(f64::from(in_use));
    metrics::gauge!("backorder_db_pool_connections", "pool" => name, "state" => "idle")
        .set(f64::from(state.idle_connections));
    metrics::gauge!("backorder_db_pool_max_connections", "pool" => name)
        .set(f64::from(pool.max_size()));
    metrics::gauge!("backorder_db_pool_waiting", "pool" => name)
        .set(waiting.load(Ordering::Relaxed).max(0) as f64);
}

/// Everything recorded, as Prometheus text.
pub fn render() -> String {
    let handle = handle();
    handle.run_upkeep();
    handle.render()
}

//! `/metrics` as Prometheus scrapes it: the text is parsed into series (name and labels)
//! and checked for everything the monitoring stack is promised, with an API token on the
//! main address and without one on `METRICS_ADDR`.

use std::collections::BTreeMap;
use std::time::Duration;

use backorder_desk::db::audit::Actor;
use backorder_desk::email::worker::{Mailer, WorkerConfig};
use backorder_desk::services::admin::api_tokens;
use reqwest::StatusCode;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::shop;

/// The recorder is one per process and gauges hold the last scrape's figures: tests that
/// compare gauges with their own shop scrape one at a time.
static SCRAPES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses Prometheus' text format (0.0.4): `# HELP`/`# TYPE` lines and samples
/// `name{label="value",...} value`.
fn parse(text: &str) -> (Vec<Sample>, BTreeMap<String, String>) {
    let mut samples = Vec::new();
    let mut types = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            types.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            other => other
                .parse()
                .unwrap_or_else(|_| panic!("a number in {line:?}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series.to_owned(), BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect("labels end with }");
                let mut labels = BTreeMap::new();
                for pair in split_labels(body) {
                    let (key, value) = pair.split_once('=').expect("label=value");
                    let value = value
                        .strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .expect("a quoted label value");
                    labels.insert(key.to_owned(), value.replace("\\\"", "\""));
                }
                (name.to_owned(), labels)
            }
        };
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "a metric name: {name}"
        );
        samples.push(Sample {
            name,
            labels,
            value,
        });
    }
    (samples, types)
}

/// Splits `a="x",b="y,z"` at the commas between labels.
fn split_labels(body: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in body.chars() {
        match c {
            '\\' if quoted && !escaped => escaped = true,
            '"' if !escaped => quoted = !quoted,
            ',' if !quoted => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => escaped = false,
        }
        current.push(c);
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

struct Scrape {
    samples: Vec<Sample>,
    types: BTreeMap<String, String>,
}

impl Scrape {
    fn find(&self, name: &str, labels: &[(&str, &str)]) -> Option<&Sample> {
        self.samples.iter().find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    }

    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.find(name, labels)
            .unwrap_or_else(|| panic!("no series {name} {labels:?}"))
            .value
    }
}

async fn scrape(url: &str, token: Option<&str>) -> Scrape {
    let client = reqwest::Client::new();
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("scrape");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let (samples, types) = parse(&response.text().await.unwrap());
    Scrape { samples, types }
}

fn token(app: &TestApp) -> String {
    api_tokens::create(&mut app.conn(), &Actor::System, "prometheus").unwrap()
}

#[tokio::test]
async fn the_main_address_wants_an_api_token() {
    let app = spawn_app().await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "a valid API token is required");
    let response = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("bd_not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let text = scrape(&app.url("/metrics"), Some(&token(&app))).await;
    assert!(text.find("backorder_database_reachable", &[]).is_some());
}

#[tokio::test]
async fn a_scrape_shows_requests_pools_outbox_queue_and_promises() {
    let app = spawn_app().await;
    // Two customers wait for 3 and 2 units of a product with nothing on the shelf.
    shop::product(&app, "KET-001", 0, 3_499);
    shop::purchase_order(&app, "PO-1", "KET-001", 10, 7);
    shop::order(&app, "SO-1", "ana@example.com", "Ana", "KET-001", 3, 2);
    shop::order(&app, "SO-2", "ben@example.com", "Ben", "KET-001", 2, 1);
    // One of the two backorder notices goes out (to an .eml file: no SMTP here).
    shop::sql(
        &app,
        "UPDATE messages SET next_attempt_at = now() + interval '1 hour' WHERE recipient = 'ben@example.com'",
    );
    let mailer = Mailer::new(app.pool.clone(), &app.settings, WorkerConfig::default()).unwrap();
    mailer
        .deliver_due(10, Duration::from_secs(1))
        .await
        .unwrap();
    shop::sql(
        &app,
        "UPDATE messages SET created_at = now() - interval '90 seconds' WHERE status = 'queued'",
    );
    // A line promised for yesterday that shipped on time, and one that did not.
    shop::product(&app, "MUG-001", 5, 900);
    shop::order(&app, "SO-3", "cy@example.com", "Cy", "MUG-001", 1, 3);
    shop::order(&app, "SO-4", "di@example.com", "Di", "MUG-001", 1, 3);
    shop::sql(
        &app,
        "UPDATE order_lines SET promised_on = CURRENT_DATE - 1 WHERE product_id = (SELECT id FROM products WHERE sku = 'MUG-001')",
    );
    shop::sql(
        &app,
        "UPDATE order_lines SET shipped = qty, allocated = 0, completed_at = now() - interval '2 days'
          WHERE order_id = (SELECT id FROM orders WHERE number = 'SO-3')",
    );
    // Requests to count: a page that redirects, a probe, a route that matches nothing.
    assert_eq!(
        app.get("/orders/SO-1").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    assert_eq!(
        app.get("/no/such/page").await.status(),
        StatusCode::NOT_FOUND
    );
    let token = token(&app);

    let _one_at_a_time = SCRAPES.lock().await;
    let s = scrape(&app.url("/metrics"), Some(&token)).await;

    // Requests by route pattern, method and status; latency as a histogram.
    let redirect = [
        ("method", "GET"),
        ("route", "/orders/{number}"),
        ("status", "303"),
    ];
    assert!(s.value("backorder_http_requests_total", &redirect) >= 1.0);
    assert!(
        s.find(
            "backorder_http_requests_total",
            &[("route", "/orders/SO-1")]
        )
        .is_none(),
        "raw paths are not labels"
    );
    assert!(
        s.value(
            "backorder_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        ) >= 1.0
    );
    assert_eq!(
        s.types["backorder_http_request_duration_seconds"],
        "histogram"
    );
    let probe = [("route", "/healthz"), ("status", "200")];
    assert!(s.value("backorder_http_request_duration_seconds_count", &probe) >= 1.0);
    assert!(
        s.find(
            "backorder_http_request_duration_seconds_bucket",
            &[("route", "/healthz"), ("le", "0.1")]
        )
        .is_some()
    );
    assert!(
        s.find("backorder_http_request_duration_seconds_sum", &probe)
            .is_some()
    );

    // The pool: this scrape holds one connection while it reads the figures.
    let pool = app.settings.pool_size as f64;
    assert_eq!(
        s.value("backorder_db_pool_max_connections", &[("pool", "primary")]),
        pool
    );
    let in_use = s.value(
        "backorder_db_pool_connections",
        &[("pool", "primary"), ("state", "in_use")],
    );
    let idle = s.value(
        "backorder_db_pool_connections",
        &[("pool", "primary"), ("state", "idle")],
    );
    assert!(
        in_use + idle <= pool && in_use + idle >= 1.0,
        "{in_use} + {idle}"
    );
    assert_eq!(
        s.value("backorder_db_pool_waiting", &[("pool", "primary")]),
        0.0
    );

    // The outbox by status (every status, none left out), the oldest queued email, and
    // what the worker's sends came to.
    assert_eq!(
        s.value("backorder_outbox_messages", &[("status", "sent")]),
        1.0
    );
    assert_eq!(
        s.value("backorder_outbox_messages", &[("status", "queued")]),
        1.0
    );
    assert_eq!(
        s.value("backorder_outbox_messages", &[("status", "failed")]),
        0.0
    );
    assert_eq!(
        s.value("backorder_outbox_messages", &[("status", "dead")]),
        0.0
    );
    let oldest = s.value("backorder_outbox_oldest_queued_age_seconds", &[]);
    assert!((90.0..600.0).contains(&oldest), "{oldest}");
    assert!(s.value("backorder_email_send_results_total", &[("result", "sent")]) >= 1.0);

    // What waits, and promises kept over the last 30 days.
    assert_eq!(s.value("backorder_waiting_lines", &[]), 2.0);
    assert_eq!(s.value("backorder_waiting_units", &[]), 5.0);
    assert_eq!(s.value("backorder_promises_due_30d", &[]), 2.0);
    assert_eq!(s.value("backorder_promises_kept_30d", &[]), 1.0);
    assert_eq!(s.value("backorder_promises_kept_ratio_30d", &[]), 0.5);
    assert_eq!(s.value("backorder_database_reachable", &[]), 1.0);
}

#[tokio::test]
async fn metrics_addr_serves_them_without_a_token() {
    let app = spawn_app_with(|settings| {
        settings.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    shop::product(&app, "KET-001", 0, 3_499);
    shop::purchase_order(&app, "PO-1", "KET-001", 10, 7);
    shop::order(&app, "SO-1", "ana@example.com", "Ana", "KET-001", 4, 2);
    let open = app
        .metrics_address
        .clone()
        .expect("a METRICS_ADDR listener");

    // The main address still wants a token.
    assert_eq!(app.get("/metrics").await.status(), StatusCode::UNAUTHORIZED);

    let _one_at_a_time = SCRAPES.lock().await;
    let s = scrape(&format!("{open}/metrics"), None).await;
    assert_eq!(s.value("backorder_waiting_units", &[]), 4.0);
    // That refusal is counted among the requests.
    assert!(
        s.value(
            "backorder_http_requests_total",
            &[("route", "/metrics"), ("status", "401")]
        ) >= 1.0
    );
    // And the metrics address serves nothing else.
    let other = reqwest::get(format!("{open}/orders")).await.unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
}

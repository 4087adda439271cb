//! Under faults (issue 8): PostgreSQL going away under a running server, played by a TCP
//! proxy the test cuts the way a restart does (every open connection closed, new ones
//! dropped), and two servers with their delivery workers on one database behind a
//! round-robin. `bench/faults` does the same with a real restart and real processes.

use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use backorder_desk::db::users::Role;
use backorder_desk::db::{self, PgPool};
use backorder_desk::email::worker::{self, WorkerConfig};
use backorder_desk::services::messages;
use backorder_desk::startup::Application;
use diesel::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use crate::api::{Api, order_body};
use crate::engine_db::broken_invariants;
use crate::helpers::{
    PASSWORD, TestApp, TestDatabase, csrf_in, server_url, spawn_app, spawn_app_on,
};
use crate::shop::{self, sql, text_of, today};
use crate::smtp_sink::Sink;

// --- A PostgreSQL that can go away ---

/// A TCP proxy in front of PostgreSQL. Cut, it closes every connection it carries and
/// drops new ones as soon as they arrive; restored, it forwards again. To the app this
/// is a server restart.
struct DbProxy {
    port: u16,
    links: Arc<Mutex<Links>>,
    accepting: JoinHandle<()>,
}

#[derive(Default)]
struct Links {
    cut: bool,
    open: JoinSet<()>,
}

impl DbProxy {
    async fn start() -> Self {
        let server = url::Url::parse(&server_url()).expect("TEST_DATABASE_URL is a URL");
        let upstream = format!(
            "{}:{}",
            server.host_str().unwrap_or("127.0.0.1"),
            server.port().unwrap_or(5432)
        );
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let port = listener.local_addr().unwrap().port();
        let links = Arc::new(Mutex::new(Links::default()));
        let accepting = tokio::spawn({
            let links = links.clone();
            async move {
                loop {
                    let Ok((client, _)) = listener.accept().await else {
                        continue;
                    };
                    let mut links = links.lock().unwrap();
                    while links.open.try_join_next().is_some() {}
                    if links.cut {
                        continue; // `client` is dropped: closed before a byte is read
                    }
                    let upstream = upstream.clone();
                    links.open.spawn(async move {
                        let mut client = client;
                        if let Ok(mut server) = TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                }
            }
        });
        Self {
            port,
            links,
            accepting,
        }
    }

    /// `url` (a database on the test server) reached through the proxy.
    fn url_for(&self, url: &str) -> String {
        let mut url = url::Url::parse(url).expect("a database URL");
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(self.port)).unwrap();
        url.to_string()
    }

    fn cut(&self) {
        let mut links = self.links.lock().unwrap();
        links.cut = true;
        links.open.abort_all();
    }

    fn restore(&self) {
        self.links.lock().unwrap().cut = false;
    }
}

impl Drop for DbProxy {
    fn drop(&mut self) {
        self.accepting.abort();
        self.links.lock().unwrap().open.abort_all();
    }
}

/// The app on a fresh database, reaching PostgreSQL only through `proxy`. The test's own
/// checks use `database.connect()`, which does not go through it.
async fn spawn_app_behind(proxy: &DbProxy) -> TestApp {
    let database = TestDatabase::new();
    let url = proxy.url_for(&database.url);
    spawn_app_on(database, |settings| settings.database_url = url).await
}

fn count(conn: &mut PgConnection, query: &str) -> i64 {
    diesel::dsl::sql::<BigInt>(query)
        .get_result(conn)
        .unwrap_or_else(|e| panic!("{query}: {e}"))
}

/// Backends other than `conn`'s own on its database: the app's connections.
fn app_backends(conn: &mut PgConnection, waiting_on_advisory_lock: bool) -> i64 {
    count(
        conn,
        &format!(
            "SELECT count(*) FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid() {}",
            if waiting_on_advisory_lock {
                "AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
            } else {
                ""
            }
        ),
    )
}

async fn wait_for(what: &str, seconds: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !done() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen in {seconds} s"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Status, content type, `Retry-After` and body of a GET.
struct Answer {
    path: &'static str,
    status: StatusCode,
    content_type: String,
    retry_after: Option<String>,
    body: String,
    seconds: f64,
}

async fn fetch(api: &Api, path: &'static str) -> Answer {
    let started = Instant::now();
    let response = api
        .app
        .client
        .get(api.app.url(path))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (status, content_type, retry_after) = (
        response.status(),
        header("content-type").unwrap_or_default(),
        header("retry-after"),
    );
    Answer {
        path,
        status,
        content_type,
        retry_after,
        body: response.text().await.unwrap(),
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// Pages, API routes and probes, all at once.
async fn fetch_all(api: &Arc<Api>, paths: &[&'static str]) -> Vec<Answer> {
    let mut requests = JoinSet::new();
    for &path in paths {
        let api = api.clone();
        requests.spawn(async move { fetch(&api, path).await });
    }
    let mut answers = requests.join_all().await;
    answers.sort_by_key(|a| paths.iter().position(|p| *p == a.path));
    answers
}

const PAGES: [&str; 5] = ["/", "/queue", "/orders/W-1", "/inventory", "/messages"];
const API_ROUTES: [&str; 2] = ["/api/v1/products/KETTLE/availability", "/api/v1/orders/W-1"];

fn everything() -> Vec<&'static str> {
    let mut paths = PAGES.to_vec();
    paths.extend(API_ROUTES);
    paths.extend(["/readyz", "/healthz"]);
    paths
}

#[track_caller]
fn assert_all_ok(answers: &[Answer]) {
    for answer in answers {
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{}: {}",
            answer.path,
            answer.body
        );
    }
}

/// What a person sees while the database is away: a page that says so, not a trace.
#[track_caller]
fn assert_unavailable_page(answer: &Answer) {
    let path = answer.path;
    assert_eq!(answer.status, 503, "{path}: {}", answer.body);
    assert!(answer.content_type.starts_with("text/html"), "{path}");
    assert_eq!(answer.retry_after.as_deref(), Some("5"), "{path}");
    let text = text_of(&answer.body);
    assert!(
        text.contains("Temporarily unavailable")
            && text
                .contains("The database is not reachable right now; please try again in a moment"),
        "{path}: {text}"
    );
    for internal in ["diesel", "r2d2", "server closed", "timed out", "panicked"] {
        assert!(
            !answer.body.contains(internal),
            "{path} shows {internal:?}: {text}"
        );
    }
}

/// What a program sees: the API's JSON error with 503.
#[track_caller]
fn assert_unavailable_json(status: StatusCode, retry_after: Option<&str>, body: &Value) {
    assert_eq!(status, 503, "{body}");
    assert_eq!(retry_after, Some("5"), "{body}");
    assert_eq!(
        body["error"],
        "the database is not reachable right now; please try again in a moment"
    );
    assert_eq!(body["details"], serde_json::json!([]));
}

async fn post_order(api: &Api, body: &Value) -> (StatusCode, Option<String>, Value) {
    let response = api
        .app
        .client
        .post(api.app.url("/api/v1/orders"))
        .bearer_auth(&api.token)
        .json(body)
        .send()
        .await
        .expect("POST /api/v1/orders");
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("a JSON body with {status}, got {text:?}"));
    (status, retry_after, json)
}

/// Rows of one order: (orders, lines, stock movements, messages, audit entries).
fn footprint_of(conn: &mut PgConnection, number: &str) -> [i64; 5] {
    let order = format!("(SELECT id FROM orders WHERE number = '{number}')");
    [
        count(
            conn,
            &format!("SELECT count(*) FROM orders WHERE number = '{number}'"),
        ),
        count(
            conn,
            &format!("SELECT count(*) FROM order_lines WHERE order_id = {order}"),
        ),
        count(
            conn,
            &format!("SELECT count(*) FROM stock_movements WHERE reference = '{number}'"),
        ),
        count(
            conn,
            &format!("SELECT count(*) FROM messages WHERE order_id = {order}"),
        ),
        count(
            conn,
            &format!("SELECT count(*) FROM audit_log WHERE entity_id = '{number}'"),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_postgresql_is_away_pages_and_api_answer_503_and_the_same_server_recovers() {
    let proxy = DbProxy::start().await;
    let api = Arc::new(Api::for_app(spawn_app_behind(&proxy).await));
    let mut check = api.app.database.connect();
    api.backorderable("KETTLE", 3, 14).await;
    api.order("W-1", "KETTLE", 1, 10).await;
    api.app.login_as(Role::Manager).await;
    assert_all_ok(&fetch_all(&api, &everything()).await);
    let allocated_before = count(&mut check, "SELECT sum(allocated) FROM products");

    // An order is being written when PostgreSQL goes away: its transaction has stored the
    // order, its lines, the allocation, the stock movement and the customer's email, and
    // waits (on a lock the test holds) in the audit entry, its last statement.
    diesel::sql_query(
        "CREATE FUNCTION wait_for_the_test() RETURNS trigger LANGUAGE plpgsql AS
         $$ BEGIN PERFORM pg_advisory_xact_lock(4711); RETURN NULL; END $$",
    )
    .execute(&mut check)
    .unwrap();
    diesel::sql_query(
        "CREATE TRIGGER wait_for_the_test AFTER INSERT ON audit_log
         FOR EACH STATEMENT EXECUTE FUNCTION wait_for_the_test()",
    )
    .execute(&mut check)
    .unwrap();
    let mut holder = api.app.database.connect();
    diesel::sql_query("SELECT pg_advisory_lock(4711)")
        .execute(&mut holder)
        .unwrap();
    let in_flight = order_body("W-2", "KETTLE", 4, 5);
    let writing = tokio::spawn({
        let (api, body) = (api.clone(), in_flight.clone());
        async move { post_order(&api, &body).await }
    });
    wait_for(
        "the order's transaction reaching its last statement",
        10,
        || app_backends(&mut check, true) == 1,
    )
    .await;

    proxy.cut();
    let (status, retry_after, body) = writing.await.unwrap();
    assert_unavailable_json(status, retry_after.as_deref(), &body);
    // The server side of the cut connection finishes its statement, finds its client gone
    // and ends: the transaction is rolled back, never committed.
    drop(holder);
    wait_for("the cut connection's backend ending", 10, || {
        app_backends(&mut check, false) == 0
    })
    .await;
    diesel::sql_query("DROP TRIGGER wait_for_the_test ON audit_log")
        .execute(&mut check)
        .unwrap();
    assert_eq!(
        footprint_of(&mut check, "W-2"),
        [0; 5],
        "nothing of W-2 is stored"
    );

    // While it is away: people get a page that says so, programs a JSON error, the load
    // balancer a failing readiness probe and a live process; each in a couple of seconds.
    let answers = fetch_all(&api, &everything()).await;
    for answer in &answers {
        assert!(
            answer.seconds < 4.0,
            "{} took {:.1} s to answer",
            answer.path,
            answer.seconds
        );
        match answer.path {
            "/healthz" => assert_eq!(answer.status, 200),
            "/readyz" => {
                assert_eq!(answer.status, 503);
                assert_eq!(answer.body, "database unreachable");
            }
            path if path.starts_with("/api/") => assert_unavailable_json(
                answer.status,
                answer.retry_after.as_deref(),
                &serde_json::from_str(&answer.body).expect("a JSON body"),
            ),
            _ => assert_unavailable_page(answer),
        }
    }
    let later = order_body("W-3", "KETTLE", 1, 1);
    let (status, retry_after, body) = post_order(&api, &later).await;
    assert_unavailable_json(status, retry_after.as_deref(), &body);
    assert_eq!(footprint_of(&mut check, "W-3"), [0; 5]);

    // Back: the same server answers again within seconds, without a restart.
    proxy.restore();
    let restored = Instant::now();
    loop {
        let answers = fetch_all(&api, &everything()).await;
        if answers.iter().all(|a| a.status == StatusCode::OK) {
            break;
        }
        assert!(
            restored.elapsed() < Duration::from_secs(10),
            "still failing 10 s after PostgreSQL came back: {:?}",
            answers
                .iter()
                .filter(|a| a.status != StatusCode::OK)
                .map(|a| (a.path, a.status))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "answering again {:.2} s after PostgreSQL came back",
        restored.elapsed().as_secs_f64()
    );
    for _ in 0..3 {
        assert_all_ok(&fetch_all(&api, &everything()).await);
    }

    // Nothing half-written: every invariant holds, and the storefront's retries store each
    // order once.
    let broken = broken_invariants(&mut check);
    assert!(
        broken.is_empty(),
        "invariants broken:\n{}",
        broken.join("\n")
    );
    assert_eq!(
        count(&mut check, "SELECT sum(allocated) FROM products"),
        allocated_before
    );
    let (status, _, body) = post_order(&api, &in_flight).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _, body) = post_order(&api, &later).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _, body) = post_order(&api, &in_flight).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the same order again is the stored one: {body}"
    );
    let [orders, lines, movements, mails, audits] = footprint_of(&mut check, "W-2");
    assert_eq!(
        (orders, lines, movements, mails, audits),
        (1, 1, 1, 1, 1),
        "W-2 once, whole"
    );
    let broken = broken_invariants(&mut check);
    assert!(
        broken.is_empty(),
        "invariants broken:\n{}",
        broken.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_blip_no_request_is_given_a_dead_connection() {
    let proxy = DbProxy::start().await;
    let api = Arc::new(Api::for_app(spawn_app_behind(&proxy).await));
    api.backorderable("KETTLE", 3, 14).await;
    api.order("W-1", "KETTLE", 1, 10).await;
    api.app.login_as(Role::Manager).await;
    // Every connection of the pool open and idle when PostgreSQL restarts, with no request
    // in between to find out.
    let pool = api.app.pool.clone();
    let size = api.app.settings.pool_size;
    tokio::task::spawn_blocking(move || {
        let all: Vec<_> = (0..size)
            .map(|_| pool.get().expect("a connection"))
            .collect();
        drop(all);
    })
    .await
    .unwrap();
    assert_eq!(api.app.pool.state().idle_connections, size);

    proxy.cut();
    tokio::time::sleep(Duration::from_millis(200)).await;
    proxy.restore();

    for _ in 0..3 {
        let paths: Vec<&'static str> = API_ROUTES.iter().chain(&PAGES[..2]).copied().collect();
        let answers = fetch_all(&api, &paths).await;
        assert_all_ok(&answers);
    }
}

// --- Two servers and the delivery workers on one database ---

/// One more `serve` on the app's database with the same settings (so the same session
/// secret); returns its address.
fn second_server(app: &TestApp) -> (String, PgPool) {
    let pool = db::connect(&app.settings.database_url, app.settings.pool_size).expect("pool");
    let server = Application::build(app.settings.clone(), pool.clone()).expect("build the app");
    let address = format!("http://127.0.0.1:{}", server.port());
    tokio::spawn(server.run_until_stopped());
    (address, pool)
}

/// A browser behind the simplest load balancer: each request goes to the next server.
struct RoundRobin {
    client: reqwest::Client,
    servers: Vec<String>,
    next: Mutex<usize>,
}

impl RoundRobin {
    fn new(client: reqwest::Client, servers: Vec<String>) -> Self {
        Self {
            client,
            servers,
            next: Mutex::new(0),
        }
    }

    /// The server the next request goes to.
    fn server(&self) -> String {
        let mut next = self.next.lock().unwrap();
        let server = self.servers[*next % self.servers.len()].clone();
        *next += 1;
        server
    }

    /// (which server answered, the response)
    async fn get(&self, path: &str) -> (String, reqwest::Response) {
        let server = self.server();
        let response = self
            .client
            .get(format!("{server}{path}"))
            .send()
            .await
            .expect("GET");
        (server, response)
    }

    /// Reads the CSRF token from `page` on one server and posts the form to the next.
    async fn post_form(
        &self,
        page: &str,
        path: &str,
        fields: &[(&str, &str)],
    ) -> (String, String, reqwest::Response) {
        let (page_server, response) = self.get(page).await;
        let html = response.text().await.unwrap();
        let token = csrf_in(&html).unwrap_or_else(|| panic!("a CSRF token on {page}: {html}"));
        let mut form = fields.to_vec();
        form.push(("csrf_token", &token));
        let post_server = self.server();
        let response = self
            .client
            .post(format!("{post_server}{path}"))
            .form(&form)
            .send()
            .await
            .expect("POST");
        (page_server, post_server, response)
    }
}

#[tokio::test]
async fn behind_a_round_robin_a_session_and_its_csrf_token_work_on_both_servers() {
    let app = spawn_app().await;
    let (second, _pool) = second_server(&app);
    shop::product(&app, "KETTLE", 0, 2_500);
    shop::purchase_order(&app, "PO-1", "KETTLE", 10, 5);
    shop::order(&app, "W-1", "ada@example.com", "Ada", "KETTLE", 2, 0);
    let email = app.add_user(Role::Rep);
    let name = format!("Test {}", Role::Rep.label());
    let browser = RoundRobin::new(app.client.clone(), vec![app.address.clone(), second]);

    let (form_from, posted_to, response) = browser
        .post_form(
            "/login",
            "/login",
            &[("email", &email), ("password", PASSWORD)],
        )
        .await;
    assert_ne!(form_from, posted_to);
    assert_eq!(response.status(), 303, "signing in on the other server");
    for _ in 0..4 {
        let (server, response) = browser.get("/").await;
        assert_eq!(response.status(), 200, "the daily review on {server}");
        let page = response.text().await.unwrap();
        assert!(
            page.contains("<h1>Daily review</h1>") && page.contains(&name),
            "{page}"
        );
    }

    let (form_from, posted_to, response) = browser
        .post_form(
            "/orders/W-1",
            "/orders/W-1/notes",
            &[("body", "Customer called; happy to wait.")],
        )
        .await;
    assert_ne!(form_from, posted_to);
    assert_eq!(response.status(), 303, "a note posted on the other server");
    let (_, response) = browser.get("/orders/W-1").await;
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Customer called; happy to wait.")
    );

    // The token is checked on both: a made-up one is refused wherever it lands.
    for _ in 0..2 {
        let server = browser.server();
        let response = browser
            .client
            .post(format!("{server}/orders/W-1/notes"))
            .form(&[("body", "forged"), ("csrf_token", "not-the-token")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "a forged token on {server}");
    }
    let (_, response) = browser.get("/orders/W-1").await;
    assert!(!response.text().await.unwrap().contains("forged"));

    let (_, _, response) = browser.post_form("/", "/logout", &[]).await;
    assert_eq!(response.status(), 303);
    for _ in 0..2 {
        let (server, response) = browser.get("/").await;
        assert_eq!(response.status(), 303, "signed out on {server} too");
    }
}

/// What `serve` and `worker` run, made quick: polls every 20 ms, periodic jobs every 100 ms.
fn quick_worker(app: &TestApp, pool: PgPool, sink: &Sink) -> tokio::sync::watch::Sender<bool> {
    let mut settings = app.settings.clone();
    settings.smtp_url = Some(sink.url());
    let config = WorkerConfig {
        idle_poll: Duration::from_millis(20),
        periodic_every: Duration::from_millis(100),
        periodic: Some(backorder_desk::services::messages::periodic::periodic_jobs),
        render_at_sending: Some(
            backorder_desk::services::messages::restock_mail::render_at_sending,
        ),
        ..WorkerConfig::default()
    };
    let (stop, _running) = worker::spawn(pool, &settings, config).expect("start a worker");
    stop
}

/// Orders whose customers heard nothing for 9 days: due for a status update.
fn quiet_orders(app: &TestApp, numbers: &[&str]) {
    for number in numbers {
        let email = format!("{}@example.com", number.to_lowercase());
        shop::order(app, number, &email, "Quiet Customer", "KETTLE", 1, 9);
    }
    sql(
        app,
        "UPDATE order_lines SET waiting_since = now() - interval '9 days'",
    );
    sql(
        app,
        "UPDATE messages SET created_at = now() - interval '9 days'",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_and_their_workers_send_each_email_once_and_run_the_periodic_jobs_once() {
    let app = spawn_app().await;
    let (second, second_pool) = second_server(&app);
    shop::product(&app, "KETTLE", 0, 2_500);
    shop::purchase_order(&app, "PO-1", "KETTLE", 100, 5);
    let quiet = ["Q-1", "Q-2", "Q-3", "Q-4"];
    quiet_orders(&app, &quiet);
    let sink = Sink::start().await;
    // Each `serve` runs a delivery worker, and so does `backorder-desk worker`.
    let worker_pool = db::connect(&app.settings.database_url, 3).expect("pool");
    let _workers = [
        quick_worker(&app, app.pool.clone(), &sink),
        quick_worker(&app, second_pool, &sink),
        quick_worker(&app, worker_pool, &sink),
    ];

    let storefront = Api::for_app(app);
    let app = &storefront.app;
    let servers = [app.address.clone(), second.clone()];
    for (i, number) in ["W-1", "W-2", "W-3", "W-4", "W-5", "W-6"]
        .iter()
        .enumerate()
    {
        let server = &servers[i % 2];
        let response = app
            .client
            .post(format!("{server}/api/v1/orders"))
            .bearer_auth(&storefront.token)
            .json(&order_body(number, "KETTLE", 1, 0))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{number} on {server}");
    }
    let rep = app.add_user(Role::Rep);
    let browser = RoundRobin::new(app.client.clone(), servers.to_vec());
    let (_, _, response) = browser
        .post_form(
            "/login",
            "/login",
            &[("email", &rep), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(response.status(), 303);
    for number in ["W-1", "W-2"] {
        let (_, posted_to, response) = browser
            .post_form(
                &format!("/orders/{number}"),
                &format!("/orders/{number}/eta-update"),
                &[],
            )
            .await;
        assert_eq!(
            response.status(),
            303,
            "an update for {number} on {posted_to}"
        );
    }

    // 6 backorder notices, 2 updates sent by hand, 4 status updates from the periodic jobs,
    // and the 4 quiet orders' own backorder notices, still queued.
    let mut check = app.database.connect();
    let expected = 6 + 2 + 4 + 4;
    let received = sink.wait_for(expected, 20).await;
    // Several more rounds of every worker's periodic jobs and polls: nothing more goes out.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let received_now = sink.received();
    assert_eq!(received_now.len(), expected, "no email twice");
    assert_eq!(received.len(), expected);
    let mut ids: Vec<String> = received_now
        .iter()
        .map(|m| m.header("Message-ID").expect("a Message-ID"))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), expected, "each message once");
    assert_eq!(
        count(&mut check, "SELECT count(*) FROM messages"),
        expected as i64
    );
    assert_eq!(
        count(
            &mut check,
            "SELECT count(*) FROM messages WHERE status = 'sent' AND attempts = 1"
        ),
        expected as i64
    );
    for number in quiet {
        let email = format!("{}@example.com", number.to_lowercase());
        let updates = received_now
            .iter()
            .filter(|m| m.to == [email.clone()] && m.subject().contains("where your items are"))
            .count();
        assert_eq!(updates, 1, "one status update for {number}");
    }
}

#[tokio::test]
async fn two_instances_ticking_at_once_queue_each_status_update_once() {
    let app = spawn_app().await;
    let (_second, second_pool) = second_server(&app);
    shop::product(&app, "KETTLE", 0, 2_500);
    shop::purchase_order(&app, "PO-1", "KETTLE", 100, 5);
    let quiet: Vec<String> = (1..=20).map(|i| format!("Q-{i}")).collect();
    quiet_orders(&app, &quiet.iter().map(String::as_str).collect::<Vec<_>>());

    let tick_at_once = |pools: [PgPool; 2]| {
        let start = Arc::new(Barrier::new(2));
        let ticks: Vec<_> = pools
            .into_iter()
            .map(|pool| {
                let start = start.clone();
                std::thread::spawn(move || {
                    let mut conn = pool.get().expect("a connection");
                    start.wait();
                    messages::periodic::run_periodic(&mut conn, today()).expect("the periodic jobs")
                })
            })
            .collect();
        let mut queued: Vec<usize> = ticks.into_iter().map(|t| t.join().unwrap()).collect();
        queued.sort();
        queued
    };
    assert_eq!(
        tick_at_once([app.pool.clone(), second_pool.clone()]),
        [0, 20],
        "one instance does the round"
    );
    assert_eq!(
        tick_at_once([app.pool.clone(), second_pool]),
        [0, 0],
        "and the next round has nothing to do"
    );
    assert_eq!(
        count(
            &mut app.database.connect(),
            "SELECT count(*) FROM messages WHERE kind = 'status_update'"
        ),
        20
    );
    assert_eq!(
        count(
            &mut app.database.connect(),
            "SELECT count(DISTINCT order_id) FROM messages WHERE kind = 'status_update'"
        ),
        20
    );
}

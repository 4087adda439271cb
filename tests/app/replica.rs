//! A real streaming replica: the test makes its own PostgreSQL primary (initdb, with
//! replication allowed) and a standby of it (`pg_basebackup -R` into a temporary
//! directory, a second `postgres` on another port), points the app at both, and checks
//! what people see: read-only pages served by the replica (shown by pausing its replay:
//! a row written meanwhile is not there), a change visible to its author at once, a
//! replica lagging past the setting bypassed, and a stopped replica changing nothing.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use backorder_desk::db::audit::Actor;
use backorder_desk::db::users::Role;
use backorder_desk::services::admin::api_tokens;
use diesel::prelude::*;
use reqwest::StatusCode;

use crate::helpers::{PASSWORD, TestApp, TestDatabase, spawn_app_on, test_settings};
use crate::shop;

/// The PostgreSQL server programs: `PG_BIN`, or the newest under /usr/lib/postgresql.
fn pg_bin() -> PathBuf {
    if let Ok(dir) = std::env::var("PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect(
            "PostgreSQL's programs in /usr/lib/postgresql (Debian's postgresql package), or PG_BIN",
        )
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("pg_basebackup").exists())
        .collect();
    versions.sort_by_key(|path| {
        path.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    versions
        .pop()
        .expect("initdb, pg_ctl and pg_basebackup under /usr/lib/postgresql/*/bin")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// PostgreSQL refuses to run as root: as root, the servers run as `postgres`.
fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(mut command: Command, what: &str) -> String {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A primary and its standby in a temporary directory; both stopped and removed on drop.
struct Pair {
    bin: PathBuf,
    dir: PathBuf,
    primary_port: u16,
    standby_port: u16,
}

impl Pair {
    fn start() -> Self {
        let bin = pg_bin();
        let mut mktemp = as_postgres(Path::new("mktemp"));
        mktemp.args(["-d", "/tmp/bd-replica-XXXXXX"]);
        let dir = PathBuf::from(run(mktemp, "mktemp").trim());
        let pair = Self {
            bin,
            primary_port: free_port(),
            standby_port: free_port(),
            dir,
        };
        let primary = pair.dir.join("primary");
        let mut initdb = as_postgres(&pair.bin.join("initdb"));
        initdb
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "-N",
                "-D",
            ])
            .arg(&primary);
        run(initdb, "initdb");
        let config = format!(
            "listen_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{}'\n\
             wal_level = replica\nmax_wal_senders = 4\nfsync = off\nmax_connections = 60\n\
             shared_buffers = 32MB\n",
            pair.primary_port,
            pair.dir.display()
        );
        append(&primary.join("postgresql.conf"), &config);
        append(
            &primary.join("pg_hba.conf"),
            "host replication all 127.0.0.1/32 trust\n",
        );
        pair.pg_ctl("primary", "start");
        pair
    }

    fn pg_ctl(&self, server: &str, action: &str) {
        let mut command = as_postgres(&self.bin.join("pg_ctl"));
        command
            .arg("-D")
            .arg(self.dir.join(server))
            .arg("-l")
            .arg(self.dir.join(format!("{server}.log")))
            .args(["-w", "-t", "60"]);
        if action == "stop" {
            command.args(["-m", "immediate"]);
        }
        command.arg(action);
        run(command, &format!("pg_ctl {action} {server}"));
    }

    /// The standby: a base backup of the primary that follows it (`-R`), on its own port.
    fn start_standby(&self) {
        let standby = self.dir.join("standby");
        let mut backup = as_postgres(&self.bin.join("pg_basebackup"));
        backup
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
            ])
            .args(["-p", &self.primary_port.to_string(), "-D"])
            .arg(&standby);
        run(backup, "pg_basebackup");
        append(
            &standby.join("postgresql.conf"),
            &format!("port = {}\n", self.standby_port),
        );
        self.pg_ctl("standby", "start");
    }

    fn url(&self, port: u16, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{port}/{database}")
    }

    fn sql_on_standby(&self, database: &str, statement: &str) {
        let mut conn = PgConnection::establish(&self.url(self.standby_port, database))
            .expect("connect to the standby");
        diesel::sql_query(statement)
            .execute(&mut conn)
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for server in ["standby", "primary"] {
            if self.dir.join(server).join("postmaster.pid").exists() {
                let mut command = as_postgres(&self.bin.join("pg_ctl"));
                command
                    .arg("-D")
                    .arg(self.dir.join(server))
                    .args(["-m", "immediate", "stop"]);
                let _ = command.output();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    file.write_all(text.as_bytes()).unwrap();
}

/// A signed-in person with a browser of their own (their own cookies).
struct Person {
    client: reqwest::Client,
}

impl Person {
    async fn sign_in(app: &TestApp, email: &str) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .unwrap();
        let body = client
            .get(app.url("/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = crate::helpers::csrf_in(&body).unwrap();
        let response = client
            .post(app.url("/login"))
            .form(&[
                ("email", email),
                ("password", PASSWORD),
                ("csrf_token", &csrf),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        Self { client }
    }

    async fn get(&self, app: &TestApp, path: &str) -> reqwest::Response {
        self.client.get(app.url(path)).send().await.unwrap()
    }

    /// True when the order search finds `number` (it then goes straight to the order).
    async fn finds(&self, app: &TestApp, number: &str) -> bool {
        let response = self.get(app, &format!("/orders?q={number}")).await;
        match response.status() {
            StatusCode::SEE_OTHER => true,
            StatusCode::OK => {
                let text = response.text().await.unwrap();
                assert!(text.contains("No order matches"), "{text}");
                false
            }
            other => panic!("order search answered {other}"),
        }
    }

    async fn add_note(&self, app: &TestApp, number: &str) {
        let page = self
            .get(app, &format!("/orders/{number}"))
            .await
            .text()
            .await
            .unwrap();
        let csrf = crate::helpers::csrf_in(&page).unwrap();
        let response = self
            .client
            .post(app.url(&format!("/orders/{number}/notes")))
            .form(&[("body", "Customer called."), ("csrf_token", &csrf)])
            .send()
            .await
            .unwrap();
        assert!(response.status().is_redirection() || response.status().is_success());
    }
}

async fn available(app: &TestApp, token: &str, sku: &str) -> i64 {
    let response = app
        .client
        .get(app.url(&format!("/api/v1/products/{sku}/availability")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    body["available"].as_i64().unwrap()
}

/// `backorder_replica_in_use` and `backorder_replica_lag_seconds`, as Prometheus sees them.
async fn replica_gauges(app: &TestApp, token: &str) -> (bool, f64) {
    let text = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no {name} in /metrics"))
            .parse()
            .unwrap()
    };
    (
        value("backorder_replica_in_use") == 1.0,
        value("backorder_replica_lag_seconds"),
    )
}

async fn until(what: &str, seconds: u64, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !check().await {
        assert!(Instant::now() < deadline, "waited {seconds} s for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn reads_go_to_a_real_replica_and_nobody_notices_when_it_lags_or_stops() {
    let pair = Pair::start();
    let name = format!("bd_replica_{}", hex::encode(rand::random::<[u8; 4]>()));
    let database = TestDatabase {
        name: name.clone(),
        url: pair.url(pair.primary_port, &name),
    };
    // Created and migrated like a first run, on the primary; then the standby copies it.
    backorder_desk::startup::prepare_database(&test_settings(&database)).expect("migrate");
    pair.start_standby();
    let max_lag = Duration::from_secs(8);
    let replica_url = pair.url(pair.standby_port, &name);
    let app = spawn_app_on(database, |settings| {
        settings.database_replica_url = Some(replica_url);
        settings.replica_max_lag = max_lag;
    })
    .await;
    shop::product(&app, "KET-001", 0, 3_499);
    shop::product(&app, "MUG-001", 5, 900);
    shop::purchase_order(&app, "PO-1", "KET-001", 10, 7);
    shop::order(&app, "R-100", "ana@example.com", "Ana", "KET-001", 2, 3);
    let token = api_tokens::create(&mut app.conn(), &Actor::System, "storefront").unwrap();
    let rep = Person::sign_in(&app, &app.add_user(Role::Rep)).await;
    let manager = Person::sign_in(&app, &app.add_user(Role::Manager)).await;
    until("the replica to be in use", 30, async || {
        replica_gauges(&app, &token).await.0
    })
    .await;
    // Signing in was a change: each person reads from the primary for a moment after.
    tokio::time::sleep(max_lag + Duration::from_secs(2)).await;
    assert!(rep.finds(&app, "R-100").await);

    // Hold the replica still; a new order and a stock change reach only the primary.
    pair.sql_on_standby(&name, "SELECT pg_wal_replay_pause()");
    shop::order(&app, "R-200", "ben@example.com", "Ben", "KET-001", 1, 0);
    shop::product(&app, "MUG-001", 9, 900);
    let paused_at = Instant::now();
    // Read-only pages and the availability API answer from the replica: not there yet.
    assert!(
        !rep.finds(&app, "R-200").await,
        "the search read the replica"
    );
    assert!(!manager.finds(&app, "R-200").await);
    let queue = rep.get(&app, "/queue").await.text().await.unwrap();
    assert!(queue.contains("R-100") && !queue.contains("R-200"));
    assert_eq!(available(&app, &token, "MUG-001").await, 5);

    // The manager changes something: from then on they read the primary, at once.
    manager.add_note(&app, "R-100").await;
    assert!(manager.finds(&app, "R-200").await, "read-your-writes");
    let queue = manager.get(&app, "/queue").await.text().await.unwrap();
    assert!(queue.contains("R-200"));
    // The rep changed nothing: still the replica.
    assert!(!rep.finds(&app, "R-200").await);
    assert!(
        paused_at.elapsed() < max_lag,
        "the checks above must run while the replica's lag is within the limit"
    );

    // Past the allowed lag the replica is bypassed: everyone sees the new order.
    until("the lagging replica to be bypassed", 30, async || {
        rep.finds(&app, "R-200").await
    })
    .await;
    let (in_use, lag) = replica_gauges(&app, &token).await;
    assert!(!in_use && lag > max_lag.as_secs_f64(), "lag {lag}");
    assert_eq!(available(&app, &token, "MUG-001").await, 9);

    // Replay resumes: the replica catches up and serves again (shown by pausing once
    // more: a later order is again missing from the rep's search).
    pair.sql_on_standby(&name, "SELECT pg_wal_replay_resume()");
    until("the replica to catch up", 30, async || {
        replica_gauges(&app, &token).await.0
    })
    .await;
    pair.sql_on_standby(&name, "SELECT pg_wal_replay_pause()");
    shop::order(&app, "R-300", "cy@example.com", "Cy", "KET-001", 1, 0);
    assert!(!rep.finds(&app, "R-300").await, "the replica serves again");
    pair.sql_on_standby(&name, "SELECT pg_wal_replay_resume()");

    // The replica stops dead. Every read-only page still answers, with today's data.
    pair.pg_ctl("standby", "stop");
    shop::order(&app, "R-400", "di@example.com", "Di", "KET-001", 1, 0);
    for _ in 0..3 {
        assert!(rep.finds(&app, "R-400").await);
        for path in [
            "/queue",
            "/",
            "/inventory?q=KET",
            "/queue.csv",
            "/inventory.csv",
        ] {
            let response = rep.get(&app, path).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let text = response.text().await.unwrap();
            if path.starts_with("/queue") {
                assert!(text.contains("R-400"), "{path}: {text}");
            }
        }
        assert_eq!(available(&app, &token, "MUG-001").await, 9);
    }
    let (in_use, _) = replica_gauges(&app, &token).await;
    assert!(!in_use);
}

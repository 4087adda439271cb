//! The real binary logs one line per request, with its request id, and no secrets.

use std::io::{BufReader, Read};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{TempDir, TestDatabase, csrf_in};

/// `backorder-desk serve` on a free port, logging at `info`, answering on `/healthz`.
struct Server {
    child: Child,
    port: u16,
    _database: TestDatabase,
    _workdir: TempDir,
}

impl Server {
    async fn start() -> Self {
        let database = TestDatabase::new();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let workdir = TempDir::new("bd-logs");
        let child = Command::new(env!("CARGO_BIN_EXE_backorder-desk"))
            .arg("serve")
            .current_dir(workdir.path())
            .env("DATABASE_URL", &database.url)
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "info")
            .env_remove("SMTP_URL")
            .env_remove("TRUSTED_PROXIES")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start backorder-desk serve");
        let client = reqwest::Client::new();
        let url = format!("http://127.0.0.1:{port}/healthz");
        let start = Instant::now();
        loop {
            if client
                .get(&url)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
            {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the server never answered"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Self {
            child,
            port,
            _database: database,
            _workdir: workdir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Stops the server; returns everything it logged.
    async fn stop(mut self) -> String {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = self.child.kill();
        let mut stderr = String::new();
        BufReader::new(self.child.stderr.take().unwrap())
            .read_to_string(&mut stderr)
            .unwrap();
        let _ = self.child.wait();
        stderr
    }
}

#[tokio::test]
async fn every_request_is_logged_with_a_request_id() {
    let server = Server::start().await;
    let response = reqwest::Client::new()
        .get(server.url("/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let stderr = server.stop().await;

    let login_lines: Vec<&str> = stderr.lines().filter(|l| l.contains("/login")).collect();
    assert_eq!(login_lines.len(), 1, "one line for the request:\n{stderr}");
    let line = login_lines[0];
    assert!(line.contains("request_id="), "{line}");
    assert!(
        line.contains("http.method=GET") && line.contains("http.status_code=200"),
        "{line}"
    );
}

/// Issue 14: a token in an address (a self-service link's, a CSRF token sent where it
/// does not belong, anything called a token) or in a header never reaches the log.
#[tokio::test]
async fn tokens_never_reach_the_request_log() {
    let server = Server::start().await;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = client
        .get(server.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_in(&page).expect("a CSRF token");
    let link_token = "SECRETLINKTOKENaaaa.bbbb";
    let unsubscribe_token = "SECRETUNSUBSCRIBEcccc";
    let query_token = "SECRETQUERYTOKENdddd";
    let bearer = "bd_SECRETBEARERTOKENeeee";

    let requests = [
        client.get(server.url(&format!("/l/{link_token}"))),
        client.head(server.url(&format!("/l/{link_token}"))),
        client.post(server.url(&format!("/l/{link_token}"))),
        client.get(server.url(&format!("/unsubscribe/{unsubscribe_token}?from=email"))),
        client
            .post(server.url(&format!("/login?csrf_token={csrf}")))
            .form(&[("email", "a@example.com"), ("password", "wrong-password")]),
        client.get(server.url(&format!("/queue?token={query_token}&page=2"))),
        client
            .get(server.url("/api/v1/orders/SO-1"))
            .bearer_auth(bearer),
    ];
    for request in requests {
        request.send().await.expect("a request");
    }
    let stderr = server.stop().await;

    for secret in [
        link_token,
        unsubscribe_token,
        query_token,
        bearer,
        csrf.as_str(),
    ] {
        assert!(
            !stderr.contains(secret),
            "the log holds {secret}:\n{stderr}"
        );
    }
    for target in [
        "http.target=/l/[redacted]",
        "http.target=/unsubscribe/[redacted]?from=email",
        "http.target=/login?csrf_token=[redacted]",
        "http.target=/queue?token=[redacted]&page=2",
    ] {
        assert!(stderr.contains(target), "no {target} line:\n{stderr}");
    }
    assert!(
        stderr.contains("refused a request without a valid CSRF token"),
        "{stderr}"
    );
}

//! The real binary logs one line per request, with its request id.

use std::io::{BufReader, Read};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{TempDir, TestDatabase};

#[tokio::test]
async fn every_request_is_logged_with_a_request_id() {
    let database = TestDatabase::new();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let workdir = TempDir::new("bd-logs");
    let mut child = Command::new(env!("CARGO_BIN_EXE_backorder-desk"))
        .arg("serve")
        .current_dir(workdir.path())
        .env("DATABASE_URL", &database.url)
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "info")
        .env_remove("SMTP_URL")
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
    let response = client
        .get(format!("http://127.0.0.1:{port}/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = child.kill();
    let mut stderr = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_to_string(&mut stderr)
        .unwrap();
    let _ = child.wait();

    let login_lines: Vec<&str> = stderr.lines().filter(|l| l.contains("/login")).collect();
    assert_eq!(login_lines.len(), 1, "one line for the request:\n{stderr}");
    let line = login_lines[0];
    assert!(line.contains("request_id="), "{line}");
    assert!(
        line.contains("http.method=GET") && line.contains("http.status_code=200"),
        "{line}"
    );
}

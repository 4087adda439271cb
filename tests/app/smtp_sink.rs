//! A small SMTP server for the email tests: it speaks enough SMTP for lettre, keeps what
//! it receives, and on demand answers 4xx (a number of times) or 5xx, or stops listening
//! altogether and comes back on the same port.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

impl Received {
    fn headers_and_body(text: &str) -> (String, String) {
        let text = text.replace("\r\n", "\n");
        match text.split_once("\n\n") {
            Some((h, b)) => (h.replace("\n ", " ").replace("\n\t", " "), b.to_owned()),
            None => (text, String::new()),
        }
    }

    pub fn header(&self, name: &str) -> Option<String> {
        let (headers, _) = Self::headers_and_body(&self.data);
        headers.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    }

    pub fn subject(&self) -> String {
        self.header("Subject").unwrap_or_default()
    }

    /// The decoded text/plain and text/html parts (inside a multipart/mixed message too).
    pub fn parts(&self) -> (String, String) {
        let mut text = String::new();
        let mut html = String::new();
        for (headers, decoded) in Self::leaves(&self.data) {
            let headers = headers.to_ascii_lowercase();
            if headers.contains("content-disposition: attachment") {
                continue;
            }
            if headers.contains("content-type: text/plain") {
                text = decoded;
            } else if headers.contains("content-type: text/html") {
                html = decoded;
            }
        }
        (text, html)
    }

    /// The attached files: each one's name and decoded content.
    pub fn attachments(&self) -> Vec<(String, String)> {
        Self::leaves(&self.data)
            .into_iter()
            .filter(|(headers, _)| {
                headers
                    .to_ascii_lowercase()
                    .contains("content-disposition: attachment")
            })
            .map(|(headers, decoded)| {
                let name = headers
                    .split("filename=")
                    .nth(1)
                    .map(|n| {
                        n.trim_matches('"')
                            .split(['"', ';'])
                            .next()
                            .unwrap_or_default()
                    })
                    .unwrap_or_default()
                    .to_owned();
                (name, decoded)
            })
            .collect()
    }

    /// Every non-multipart part of a message (its headers, its body decoded),
    /// multipart parts opened recursively.
    fn leaves(data: &str) -> Vec<(String, String)> {
        let (headers, body) = Self::headers_and_body(data);
        let lower = headers.to_ascii_lowercase();
        let Some(boundary) = lower
            .contains("content-type: multipart/")
            .then(|| headers.split("boundary=").nth(1))
            .flatten()
            .map(|b| {
                b.trim_matches('"')
                    .split(['"', ';', '\n'])
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_owned()
            })
        else {
            let decoded = if lower.contains("content-transfer-encoding: base64") {
                String::from_utf8(
                    base64::engine::general_purpose::STANDARD
                        .decode(body.split_whitespace().collect::<String>())
                        .expect("base64"),
                )
                .expect("utf-8")
            } else if lower.contains("content-transfer-encoding: quoted-printable") {
                quoted_printable(&body)
            } else {
                body
            };
            return vec![(headers, decoded)];
        };
        let mut leaves = Vec::new();
        for part in body.split(&format!("--{boundary}")).skip(1) {
            let part = part.trim_start_matches('\n');
            if part.starts_with("--") || part.trim().is_empty() {
                continue;
            }
            leaves.extend(Self::leaves(part));
        }
        leaves
    }
}

fn quoted_printable(text: &str) -> String {
    let joined = text.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            if let Ok(byte) = u8::from_str_radix(&joined[i + 1..i + 3], 16) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    refuse_temporarily: usize,
    refuse_permanently: bool,
    refusals_given: usize,
}

pub struct Sink {
    pub port: u16,
    state: Arc<Mutex<State>>,
    task: Option<JoinHandle<()>>,
}

impl Sink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the sink");
        let port = listener.local_addr().unwrap().port();
        let mut sink = Self {
            port,
            state: Arc::new(Mutex::new(State::default())),
            task: None,
        };
        sink.serve(listener);
        sink
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn serve(&mut self, listener: TcpListener) {
        let state = self.state.clone();
        self.task = Some(tokio::spawn(async move {
            let mut sessions = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = state.clone();
                sessions.spawn(async move {
                    let _ = session(stream, state).await;
                });
            }
        }));
    }

    /// Stops listening and drops every open connection: the server is down.
    pub fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    /// Listens again on the same port.
    pub async fn restart(&mut self) {
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(listener) => break listener,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        self.serve(listener);
    }

    pub fn refuse_temporarily(&self, times: usize) {
        self.state.lock().unwrap().refuse_temporarily = times;
    }

    pub fn refuse_permanently(&self, refuse: bool) {
        self.state.lock().unwrap().refuse_permanently = refuse;
    }

    pub fn refusals_given(&self) -> usize {
        self.state.lock().unwrap().refusals_given
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// Waits until `count` messages have arrived (or panics after `seconds`).
    pub async fn wait_for(&self, count: usize, seconds: u64) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the sink got {} of {count} messages in {seconds} s",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn session(stream: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink.test ESMTP ready\r\n").await?;
    let mut from = String::new();
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        let answer: String = if upper.starts_with("EHLO") {
            "250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8".to_owned()
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            "250 OK".to_owned()
        } else if upper.starts_with("RSET") {
            from.clear();
            to.clear();
            "250 OK".to_owned()
        } else if upper.starts_with("MAIL FROM:") {
            let mut s = state.lock().unwrap();
            if s.refuse_permanently {
                s.refusals_given += 1;
                "550 5.7.1 Delivery not authorized, message refused".to_owned()
            } else if s.refuse_temporarily > 0 {
                s.refuse_temporarily -= 1;
                s.refusals_given += 1;
                "451 4.3.0 Temporary failure, try again later".to_owned()
            } else {
                from = command[10..].trim().trim_matches(['<', '>']).to_owned();
                "250 2.1.0 OK".to_owned()
            }
        } else if upper.starts_with("RCPT TO:") {
            to.push(command[8..].trim().trim_matches(['<', '>']).to_owned());
            "250 2.1.5 OK".to_owned()
        } else if upper == "DATA" {
            write
                .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(
                    line.strip_prefix('.')
                        .filter(|_| line.starts_with(".."))
                        .unwrap_or(&line),
                );
            }
            let mut s = state.lock().unwrap();
            s.received.push(Received {
                from: std::mem::take(&mut from),
                to: std::mem::take(&mut to),
                data,
            });
            format!("250 2.0.0 Ok: queued as SINK{}", s.received.len())
        } else if upper.starts_with("QUIT") {
            write.write_all(b"221 2.0.0 Bye\r\n").await?;
            return Ok(());
        } else {
            "502 5.5.2 Command not recognized".to_owned()
        };
        write.write_all(format!("{answer}\r\n").as_bytes()).await?;
    }
}

//! Real Chromium, driven through chromedriver (WebDriver), for the walks a person takes
//! through the pages. Elements are found as a person finds them: a field by its label's
//! text, a button by its words.
//!
//! Where Chromium or chromedriver is missing, `Browser::start` says so loudly and returns
//! `None` (the test skips); with `REQUIRE_BROWSER=1` that is a failure instead.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::helpers::TempDir;

const WAIT: Duration = Duration::from_secs(15);

/// A headless Chromium of its own (fresh profile), and the chromedriver that runs it.
pub struct Browser {
    pub client: Client,
    driver_url: String,
    _processes: Processes,
}

/// chromedriver and the Chromium it starts: ended when dropped, even after a failed start.
struct Processes {
    driver: Child,
    profile: TempDir,
}

fn browser_required() -> bool {
    std::env::var("REQUIRE_BROWSER").is_ok_and(|value| value.trim() == "1")
}

fn find_on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

fn find_chromium() -> Option<PathBuf> {
    let debian = Path::new("/usr/bin/chromium");
    if debian.is_file() {
        return Some(debian.to_owned());
    }
    find_on_path(&["chromium", "chromium-browser"])
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// Quotes `text` as an XPath string literal.
fn xpath_literal(text: &str) -> String {
    if !text.contains('\'') {
        format!("'{text}'")
    } else if !text.contains('"') {
        format!("\"{text}\"")
    } else {
        let parts: Vec<String> = text.split('\'').map(|part| format!("'{part}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}

impl Browser {
    /// Starts Chromium, or returns `None` (skip) after saying why on stderr; panics
    /// instead when `REQUIRE_BROWSER=1`.
    pub async fn start() -> Option<Self> {
        let chromium = find_chromium();
        let chromedriver = find_on_path(&["chromedriver"]);
        let (Some(chromium), Some(chromedriver)) = (chromium.clone(), chromedriver.clone()) else {
            let missing = match (chromium, chromedriver) {
                (None, None) => "Chromium and chromedriver are",
                (None, Some(_)) => "Chromium is",
                _ => "chromedriver is",
            };
            let why = format!("{missing} not installed");
            if browser_required() {
                panic!("REQUIRE_BROWSER=1 but {why}: apt-get install -y chromium chromium-driver");
            }
            // Straight to the process's stderr: the test harness would swallow eprintln!.
            let _ = writeln!(
                std::io::stderr(),
                "\n{bar}\nSKIPPED: browser test not run: {why}.\n\
                 Install them with `apt-get install -y chromium chromium-driver`;\n\
                 set REQUIRE_BROWSER=1 to make this a failure.\n{bar}\n",
                bar = "!".repeat(72)
            );
            return None;
        };

        let port = free_port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
        let processes = Processes {
            driver,
            profile: TempDir::new("bd-chromium"),
        };
        let driver_url = format!("http://127.0.0.1:{port}");
        let client =
            connect_when_ready(&driver_url, port, &chromium, processes.profile.path()).await;
        let browser = Self {
            client,
            driver_url,
            _processes: processes,
        };
        browser
            .client
            .set_window_size(1280, 900)
            .await
            .expect("size the window");
        Some(browser)
    }

    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// The form field whose `<label>` reads `label`.
    pub async fn field(&self, label: &str) -> Element {
        let xpath = format!("//label[normalize-space()={}]", xpath_literal(label));
        let label_element = self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("no label {label:?} on the page: {e}"));
        let id = label_element
            .attr("for")
            .await
            .expect("read the label's for")
            .unwrap_or_else(|| panic!("the label {label:?} names no field"));
        self.client
            .find(Locator::Id(&id))
            .await
            .unwrap_or_else(|e| panic!("no field #{id} for the label {label:?}: {e}"))
    }

    /// Types `value` into the field labelled `label`, replacing what was there.
    pub async fn fill_in(&self, label: &str, value: &str) {
        let field = self.field(label).await;
        field.clear().await.expect("clear the field");
        field.send_keys(value).await.expect("type into the field");
    }

    /// Clicks the button that reads `text`.
    pub async fn press(&self, text: &str) {
        let xpath = format!(
            "//button[normalize-space()={0}] | //input[@type='submit' and @value={0}]",
            xpath_literal(text)
        );
        let button = self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("no button {text:?} on the page: {e}"));
        button.click().await.expect("click the button");
    }

    /// Waits for a heading (`h1` to `h3`) that reads `text`.
    pub async fn heading(&self, text: &str) -> Element {
        let xpath = format!(
            "//*[self::h1 or self::h2 or self::h3][normalize-space()={}]",
            xpath_literal(text)
        );
        match self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::XPath(&xpath))
            .await
        {
            Ok(element) => element,
            Err(e) => {
                let url = self.client.current_url().await.map(|u| u.to_string());
                let source = self.client.source().await.unwrap_or_default();
                panic!("no heading {text:?} on {url:?} ({e}):\n{source}")
            }
        }
    }

    /// The visible text of the whole page, or `None` when the page was replaced while it
    /// was read (a navigation between finding the body and reading it).
    pub async fn try_text(&self) -> Option<String> {
        let body = self.client.find(Locator::Css("body")).await.ok()?;
        body.text().await.ok()
    }

    /// The visible text of the whole page.
    pub async fn text(&self) -> String {
        self.client
            .find(Locator::Css("body"))
            .await
            .expect("the body")
            .text()
            .await
            .expect("the page's text")
    }

    /// Errors the page logged to the console (script errors, Content-Security-Policy
    /// violations, failed loads) since the last call.
    pub async fn console_errors(&self) -> Vec<String> {
        let response: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/se/log", self.session_url().await))
            .json(&json!({ "type": "browser" }))
            .send()
            .await
            .expect("ask chromedriver for the console log")
            .json()
            .await
            .expect("chromedriver's log as JSON");
        response["value"]
            .as_array()
            .unwrap_or_else(|| panic!("no log entries in {response}"))
            .iter()
            .filter(|entry| entry["level"] == "SEVERE" || entry["level"] == "WARNING")
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// chromedriver's address for this session's own commands.
    async fn session_url(&self) -> String {
        let session = self
            .client
            .session_id()
            .await
            .expect("the session id")
            .expect("a session");
        format!("{}/session/{session}", self.driver_url)
    }

    /// A chromedriver command of Chrome's own (DevTools), for what WebDriver cannot do.
    async fn devtools(&self, command: &str, params: serde_json::Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/goog/cdp/execute", self.session_url().await))
            .json(&json!({ "cmd": command, "params": params }))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{command}: {e}"));
        assert!(
            response.status().is_success(),
            "{command}: {}",
            response.text().await.unwrap_or_default()
        );
    }

    /// Makes the page `width` x `height` CSS pixels, as a desktop window or a phone's
    /// screen of that size. Not the phone's wider "layout viewport": a page too wide for
    /// the width shows as `document.documentElement.scrollWidth > innerWidth`.
    pub async fn viewport(&self, width: u32, height: u32) {
        self.devtools(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        )
        .await;
    }

    /// (`document.documentElement.scrollWidth`, `innerWidth`) of the page.
    pub async fn widths(&self) -> (i64, i64) {
        let value = self
            .client
            .execute(
                "return [document.documentElement.scrollWidth, window.innerWidth];",
                vec![],
            )
            .await
            .expect("measure the page");
        (
            value[0].as_i64().expect("scrollWidth"),
            value[1].as_i64().expect("innerWidth"),
        )
    }

    /// axe-core's violations on the page as (rule, impact, help, first targets). The
    /// vendored `axe.min.js` (tests/fixtures, see the README) is injected each time.
    pub async fn axe(&self) -> Vec<(String, String, String, Vec<String>)> {
        const AXE: &str = include_str!("../fixtures/axe-core-4.14.1.min.js");
        self.client
            .execute(
                &format!("{AXE}\n;return typeof axe.run === 'function';"),
                vec![],
            )
            .await
            .expect("inject axe-core");
        let found = self
            .client
            .execute_async(
                "var done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] }).then(function (r) {
                   done(r.violations.map(function (v) {
                     return [v.id, v.impact || '', v.help,
                             v.nodes.slice(0, 4).map(function (n) { return n.target.join(' '); })];
                   }));
                 }, function (e) { done([['axe-failed', 'critical', String(e), []]]); });",
                vec![],
            )
            .await
            .expect("run axe-core");
        serde_json::from_value(found).expect("axe's violations")
    }

    /// Takes a PNG of what the page shows now.
    pub async fn screenshot(&self, path: &Path) {
        let png = self.client.screenshot().await.expect("a screenshot");
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// Ends the browser session cleanly (Chromium quits); dropping kills whatever is left.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

/// Waits for chromedriver to listen, then opens a session with headless Chromium.
async fn connect_when_ready(
    driver_url: &str,
    port: u16,
    chromium: &Path,
    profile: &Path,
) -> Client {
    let deadline = Instant::now() + WAIT;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not listen on port {port}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                format!("--user-data-dir={}", profile.display()),
            ],
        },
        "goog:loggingPrefs": { "browser": "ALL" },
    });
    let serde_json::Value::Object(capabilities) = capabilities else {
        unreachable!()
    };
    // Plain HTTP to a local chromedriver: no TLS, so no crypto provider to choose.
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(driver_url)
        .await
        .unwrap_or_else(|e| panic!("cannot start Chromium through chromedriver: {e}"))
}

impl Processes {
    /// Processes started with this browser's own profile directory (and only those).
    fn chromium_pids(&self) -> Vec<String> {
        let marker = format!("--user-data-dir={}", self.profile.path().display());
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter(|entry| {
                let name = entry.file_name();
                let is_pid = name.to_string_lossy().bytes().all(|b| b.is_ascii_digit());
                let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
                is_pid
                    && cmdline
                        .split(|byte| *byte == 0)
                        .any(|arg| arg == marker.as_bytes())
            })
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect()
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // Chromium outlives a killed chromedriver: end it, wait until it is gone, then
        // remove its profile (which it writes to until the end).
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let pids = self.chromium_pids();
            if pids.is_empty() || Instant::now() > deadline {
                break;
            }
            let _ = Command::new("kill")
                .arg("-9")
                .args(&pids)
                .stderr(Stdio::null())
                .status();
            std::thread::sleep(Duration::from_millis(50));
        }
        for _ in 0..20 {
            if std::fs::remove_dir_all(self.profile.path()).is_ok() || !self.profile.path().exists()
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

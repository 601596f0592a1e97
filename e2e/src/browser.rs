//! A private headless Chromium for one test, driven through its own ChromeDriver.
//!
//! This module owns the lifecycle of both processes (start, readiness, teardown), the
//! profile directory they write to, and the waiting/frame/script helpers the end-to-end tests
//! share. Every wait is bounded, so a broken page fails a test instead of hanging it.

use std::io;
use std::net::{Ipv4Addr, TcpListener as StdTcpListener};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::error::CmdError;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use rustix::process::{Pid, Signal, kill_process_group};
use serde_json::{Map, Value, json};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::time::{sleep, timeout};

/// How long the `wait_*` helpers wait unless [`Browser::set_wait_timeout`] says otherwise.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(20);

/// ChromeDriver itself starts in well under a second; the slack is for a loaded 2-core CI box.
const DRIVER_READY_DEADLINE: Duration = Duration::from_secs(20);
const DRIVER_POLL: Duration = Duration::from_millis(50);
/// Opening a session launches Chromium, which is the slowest step by far on a cold cache.
const SESSION_DEADLINE: Duration = Duration::from_secs(60);
const CLOSE_DEADLINE: Duration = Duration::from_secs(10);
const WAIT_POLL: Duration = Duration::from_millis(100);
/// A probe that outlives its wait budget (say, a script blocked by an alert) still gets this
/// long, so a deadline that is nearly spent does not turn every last probe into a timeout.
const MIN_PROBE_BUDGET: Duration = Duration::from_secs(2);
/// The free port is found by binding and releasing it, so another process can grab it before
/// ChromeDriver does; a couple of fresh tries make that race harmless.
const PORT_ATTEMPTS: usize = 3;
const LOG_TAIL_LINES: usize = 40;

/// The flags every session gets. The machine has no network beyond loopback, so everything
/// that would phone home is switched off rather than left to time out in the background.
const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
];

/// What went wrong in the harness or in the browser.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// ChromeDriver could not be spawned, exited, or never answered on its port.
    #[error("chromedriver did not start: {reason}{}", log_section(.log_tail))]
    DriverStart { reason: String, log_tail: String },
    /// ChromeDriver answered but could not open a Chromium session.
    #[error("could not open a Chromium session: {reason}{}", log_section(.log_tail))]
    Session { reason: String, log_tail: String },
    /// A WebDriver command failed (bad selector, script exception, lost connection, ...).
    #[error("WebDriver command failed: {0}")]
    Command(#[from] CmdError),
    /// A bounded wait ran out; `last` is what the page showed on the final check.
    #[error("timed out after {waited:.1?} waiting for {what} (last seen: {last})")]
    Timeout {
        what: String,
        waited: Duration,
        last: String,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    /// The driver answered a command with something the harness cannot read.
    #[error("unexpected WebDriver response: {0}")]
    Unexpected(String),
}

fn log_section(tail: &str) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!("\n--- chromedriver log (last {LOG_TAIL_LINES} lines) ---\n{tail}")
    }
}

fn io_error(context: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

/// Where the binaries are and how the session is set up; [`BrowserConfig::from_env`] is what
/// [`Browser::start`] uses.
#[derive(Debug, Clone)]
pub struct BrowserConfig {
    pub chromedriver: PathBuf,
    pub chromium: PathBuf,
    /// Appended after the built-in flags, so a test can add or override one.
    pub extra_args: Vec<String>,
    pub wait_timeout: Duration,
}

impl BrowserConfig {
    /// Reads `CHROMEDRIVER` and `PAYFRAME_CHROMIUM`, falling back to the Debian package paths.
    pub fn from_env() -> Self {
        let path_from = |var: &str, default: &str| {
            std::env::var_os(var)
                .filter(|v| !v.is_empty())
                .map_or_else(|| PathBuf::from(default), PathBuf::from)
        };
        Self {
            chromedriver: path_from("CHROMEDRIVER", "/usr/bin/chromedriver"),
            chromium: path_from("PAYFRAME_CHROMIUM", "/usr/bin/chromium"),
            extra_args: Vec::new(),
            wait_timeout: DEFAULT_WAIT,
        }
    }
}

/// One entry of the browser console, as ChromeDriver reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleEntry {
    /// `SEVERE` for errors, `WARNING`, `INFO` for `console.log`, ...
    pub level: String,
    /// Includes the source location, e.g. `http://127.0.0.1:1234/ 5:12 "text"`.
    pub message: String,
    /// Milliseconds since the Unix epoch.
    pub timestamp: u64,
}

/// A headless Chromium session with its own ChromeDriver and throwaway profile.
///
/// Dropping it kills both processes; [`Browser::close`] shuts the session down politely first
/// and should be preferred at the end of a passing test.
pub struct Browser {
    client: Client,
    driver: Driver,
    wait_timeout: Duration,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("port", &self.driver.port)
            .field("dir", &self.driver.dir.as_ref().map(TempDir::path))
            .finish_non_exhaustive()
    }
}

impl Browser {
    /// Starts ChromeDriver and Chromium as configured by the environment.
    pub async fn start() -> Result<Self, Error> {
        Self::start_with(BrowserConfig::from_env()).await
    }

    pub async fn start_with(config: BrowserConfig) -> Result<Self, Error> {
        let driver = Driver::spawn(&config).await?;
        let profile = driver.dir().join("profile");
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities(&config, &profile));
        let url = format!("http://127.0.0.1:{}", driver.port);
        let client = match timeout(SESSION_DEADLINE, builder.connect(&url)).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => {
                return Err(Error::Session {
                    reason: e.to_string(),
                    log_tail: driver.log_tail(),
                });
            }
            Err(_) => {
                return Err(Error::Session {
                    reason: format!("no session after {SESSION_DEADLINE:?}"),
                    log_tail: driver.log_tail(),
                });
            }
        };
        Ok(Self {
            client,
            driver,
            wait_timeout: config.wait_timeout,
        })
    }

    /// The underlying WebDriver client, for anything the helpers below do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Changes how long the `wait_*` helpers (and [`Browser::switch_to_frame`]) wait.
    pub fn set_wait_timeout(&mut self, wait: Duration) {
        self.wait_timeout = wait;
    }

    pub async fn goto(&self, url: &str) -> Result<(), Error> {
        Ok(self.client.goto(url).await?)
    }

    /// Waits until an element matching `css` exists in the current frame.
    pub async fn wait_for(&self, css: &str) -> Result<Element, Error> {
        let started = Instant::now();
        self.client
            .wait()
            .at_most(self.wait_timeout)
            .every(WAIT_POLL)
            .for_element(Locator::Css(css))
            .await
            .map_err(|e| match e {
                CmdError::WaitTimeout => Error::Timeout {
                    what: format!("element `{css}`"),
                    waited: started.elapsed(),
                    last: "no such element".into(),
                },
                other => other.into(),
            })
    }

    /// Waits until the trimmed `textContent` of the first element matching `css` equals
    /// `expected` (trimmed too).
    pub async fn wait_for_text(&self, css: &str, expected: &str) -> Result<(), Error> {
        const SCRIPT: &str = "const e = document.querySelector(arguments[0]);\
                              return e === null ? null : e.textContent;";
        let expected = expected.trim();
        self.poll_until(format!("`{css}` to read {expected:?}"), async || {
            let seen = self.eval(SCRIPT, vec![json!(css)]).await?;
            Ok(match seen.as_str().map(str::trim) {
                Some(text) if text == expected => Probe::Ready(()),
                Some(text) => Probe::NotYet(format!("{text:?}")),
                None => Probe::NotYet("no such element".into()),
            })
        })
        .await
    }

    /// Re-runs `js` (a function body, as for [`Browser::eval`]) until it returns a truthy value,
    /// and returns that value.
    pub async fn wait_until(&self, js: &str, args: Vec<Value>) -> Result<Value, Error> {
        self.poll_until(
            format!("script to be truthy: {}", abbreviate(js)),
            async || {
                let seen = self.eval(js, args.clone()).await?;
                Ok(if truthy(&seen) {
                    Probe::Ready(seen)
                } else {
                    Probe::NotYet(seen.to_string())
                })
            },
        )
        .await
    }

    /// Runs `js` as the body of a function in the current frame; `arguments[i]` are `args`.
    pub async fn eval(&self, js: &str, args: Vec<Value>) -> Result<Value, Error> {
        Ok(self.client.execute(js, args).await?)
    }

    /// Like [`Browser::eval`], but the script finishes by calling the callback passed as its
    /// last argument, e.g. `arguments[arguments.length - 1](result)`.
    pub async fn eval_async(&self, js: &str, args: Vec<Value>) -> Result<Value, Error> {
        Ok(self.client.execute_async(js, args).await?)
    }

    /// Saves a PNG of the viewport, creating parent directories as needed.
    pub async fn screenshot(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        let path = path.as_ref();
        let png = self.client.screenshot().await?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(io_error(format!("creating {}", parent.display())))?;
        }
        tokio::fs::write(path, png)
            .await
            .map_err(io_error(format!("writing {}", path.display())))
    }

    /// Waits for the `<iframe>` matching `css` and makes it the current frame, so later
    /// lookups and scripts run inside it (across origins too).
    pub async fn switch_to_frame(&self, css: &str) -> Result<(), Error> {
        let frame = self.wait_for(css).await?;
        Ok(frame.enter_frame().await?)
    }

    /// Returns to the frame that contains the current one.
    pub async fn switch_to_parent(&self) -> Result<(), Error> {
        Ok(self.client.enter_parent_frame().await?)
    }

    /// Console messages logged since the previous call (ChromeDriver hands each out once),
    /// from the page and its frames.
    pub async fn console_log(&self) -> Result<Vec<ConsoleEntry>, Error> {
        let value = self.client.issue_cmd(BrowserLog).await?;
        let Value::Array(entries) = value else {
            return Err(Error::Unexpected(format!("browser log: {value}")));
        };
        Ok(entries
            .iter()
            .map(|e| ConsoleEntry {
                level: e["level"].as_str().unwrap_or_default().to_owned(),
                message: e["message"].as_str().unwrap_or_default().to_owned(),
                timestamp: e["timestamp"].as_u64().unwrap_or_default(),
            })
            .collect())
    }

    /// The end of ChromeDriver's own log, worth printing when a test fails mysteriously.
    pub fn driver_log_tail(&self) -> String {
        self.driver.log_tail()
    }

    /// Ends the WebDriver session (Chromium exits cleanly), then stops ChromeDriver and
    /// removes the profile. Cleanup happens even if ending the session fails.
    pub async fn close(self) -> Result<(), Error> {
        let Self {
            client, mut driver, ..
        } = self;
        let ended = match timeout(CLOSE_DEADLINE, client.close()).await {
            Ok(result) => result.map_err(Error::from),
            Err(_) => Err(Error::Session {
                reason: format!("session did not end within {CLOSE_DEADLINE:?}"),
                log_tail: driver.log_tail(),
            }),
        };
        driver.kill();
        // Reaping here rather than leaving it to tokio keeps a zombie from outliving the test.
        let _ = timeout(CLOSE_DEADLINE, driver.child.wait()).await;
        ended
    }

    async fn poll_until<T>(
        &self,
        what: String,
        mut probe: impl AsyncFnMut() -> Result<Probe<T>, Error>,
    ) -> Result<T, Error> {
        let started = Instant::now();
        let deadline = started + self.wait_timeout;
        loop {
            let budget = deadline
                .saturating_duration_since(Instant::now())
                .max(MIN_PROBE_BUDGET);
            let last = match timeout(budget, probe()).await {
                Ok(Ok(Probe::Ready(value))) => return Ok(value),
                Ok(Ok(Probe::NotYet(seen))) => seen,
                Ok(Err(e)) => return Err(e),
                Err(_) => format!("a check still running after {budget:?}"),
            };
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(Error::Timeout {
                    what,
                    waited: started.elapsed(),
                    last,
                });
            }
            sleep(remaining.min(WAIT_POLL)).await;
        }
    }
}

enum Probe<T> {
    Ready(T),
    /// Not there yet; the string says what was seen instead, for the timeout message.
    NotYet(String),
}

/// JavaScript's notion of truthiness, as far as JSON can carry it.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

fn abbreviate(js: &str) -> String {
    let flat = js.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(80) {
        Some((cut, _)) => format!("{}...", &flat[..cut]),
        None => flat,
    }
}

fn capabilities(config: &BrowserConfig, profile: &Path) -> Map<String, Value> {
    let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| (*a).to_owned()).collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    args.extend(config.extra_args.iter().cloned());
    let mut caps = Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert(
        "goog:chromeOptions".into(),
        json!({ "binary": config.chromium.to_string_lossy(), "args": args }),
    );
    // Without this ChromeDriver keeps only warnings and errors, and console_log misses
    // plain console.log lines.
    caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
    caps
}

/// ChromeDriver's legacy log endpoint. It is not part of W3C WebDriver, but ChromeDriver still
/// serves it in W3C mode, and it is the only way to read the console without CDP.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.to_owned()))
    }
}

/// The ChromeDriver process, the Chromium it launches, and the directory holding the profile
/// and the driver log. Dropping it kills them all and removes the directory.
struct Driver {
    child: Child,
    /// ChromeDriver leads its own process group, and Chromium inherits it. Killing only
    /// ChromeDriver would leave Chromium running, so teardown signals the whole group.
    group: Option<Pid>,
    port: u16,
    dir: Option<TempDir>,
    log_path: PathBuf,
}

enum NotReady {
    Exited(ExitStatus),
    Silent,
}

impl Driver {
    async fn spawn(config: &BrowserConfig) -> Result<Self, Error> {
        let mut attempt = 1;
        loop {
            let mut driver = Self::spawn_once(config)?;
            let reason = match driver.wait_ready().await {
                Ok(()) => return Ok(driver),
                Err(NotReady::Exited(_)) if attempt < PORT_ATTEMPTS => {
                    // Most likely lost the race for the port; a fresh one usually works.
                    attempt += 1;
                    continue;
                }
                Err(NotReady::Exited(status)) => format!("exited early with {status}"),
                Err(NotReady::Silent) => format!(
                    "no answer on port {} within {DRIVER_READY_DEADLINE:?}",
                    driver.port
                ),
            };
            return Err(Error::DriverStart {
                reason: format!("{}: {reason}", config.chromedriver.display()),
                log_tail: driver.log_tail(),
            });
        }
    }

    fn spawn_once(config: &BrowserConfig) -> Result<Self, Error> {
        let dir = tempfile::Builder::new()
            .prefix("payframe-e2e-")
            .tempdir()
            .map_err(io_error("creating the browser's temp dir"))?;
        let log_path = dir.path().join("chromedriver.log");
        let log = std::fs::File::create(&log_path)
            .map_err(io_error(format!("creating {}", log_path.display())))?;
        let log_too = log
            .try_clone()
            .map_err(io_error("duplicating the log handle"))?;
        let port = free_port()?;
        let child = Command::new(&config.chromedriver)
            .arg(format!("--port={port}"))
            // Default is WARNING, which says nothing about why a session failed.
            .arg("--log-level=INFO")
            .stdin(Stdio::null())
            .stdout(log_too)
            .stderr(log)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Error::DriverStart {
                reason: format!("spawning {}: {e}", config.chromedriver.display()),
                log_tail: String::new(),
            })?;
        let group = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .and_then(Pid::from_raw);
        Ok(Self {
            child,
            group,
            port,
            dir: Some(dir),
            log_path,
        })
    }

    async fn wait_ready(&mut self) -> Result<(), NotReady> {
        let deadline = Instant::now() + DRIVER_READY_DEADLINE;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(NotReady::Exited(status));
            }
            if status_ok(self.port).await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(NotReady::Silent);
            }
            sleep(DRIVER_POLL).await;
        }
    }

    fn dir(&self) -> &Path {
        self.dir
            .as_ref()
            .map_or_else(|| Path::new(""), TempDir::path)
    }

    fn log_tail(&self) -> String {
        let Ok(log) = std::fs::read(&self.log_path) else {
            return String::new();
        };
        let log = String::from_utf8_lossy(&log);
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
    }

    fn kill(&mut self) {
        // Only while ChromeDriver is unreaped: its pid, and so the group id, cannot have been
        // reused by an unrelated process yet.
        if self.child.id().is_some()
            && let Some(group) = self.group
        {
            let _ = kill_process_group(group, Signal::KILL);
        }
        let _ = self.child.start_kill();
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.kill();
        let Some(dir) = self.dir.take() else { return };
        // Killed processes may still be finishing a write into the profile, which makes a
        // single remove_dir_all fail with "directory not empty"; retry briefly.
        let path = dir.keep();
        for _ in 0..20 {
            match std::fs::remove_dir_all(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                _ => return,
            }
        }
    }
}

fn free_port() -> Result<u16, Error> {
    let listener = StdTcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(io_error("binding 127.0.0.1:0 to find a free port"))?;
    let port = listener
        .local_addr()
        .map_err(io_error("reading the bound port"))?
        .port();
    Ok(port)
}

/// Whether ChromeDriver answers `GET /status` with 200. Plain HTTP/1.1 over a socket keeps
/// this free of an HTTP client dependency. Only the status line is read: ChromeDriver replies
/// `Connection: close` but leaves the socket open, so reading to EOF would stall.
async fn status_ok(port: u16) -> bool {
    let probe = async {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await?;
        let request =
            format!("GET /status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut head = Vec::new();
        let mut chunk = [0u8; 256];
        while !head.contains(&b'\n') {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&chunk[..n]);
        }
        Ok::<_, io::Error>(head)
    };
    match timeout(Duration::from_secs(2), probe).await {
        Ok(Ok(head)) => head.starts_with(b"HTTP/1.1 200"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;
    use tokio::task::JoinHandle;

    const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

    /// Serves `routes` (path, HTML) on a fresh loopback port; anything else is a 404.
    /// Hand-written HTTP/1.1 is enough for a browser fetching a page or two.
    async fn serve(routes: Vec<(&'static str, String)>) -> (u16, JoinHandle<()>) {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let routes = std::sync::Arc::new(routes);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let routes = routes.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16384 {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let request = String::from_utf8_lossy(&request);
                    let path = request.split_whitespace().nth(1).unwrap_or("/");
                    let (status, body) = match routes.iter().find(|(p, _)| *p == path) {
                        Some((_, html)) => ("200 OK", html.as_str()),
                        None => ("404 Not Found", "not found"),
                    };
                    let response = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        (port, task)
    }

    #[test]
    fn truthiness_follows_javascript() {
        for falsy in [json!(null), json!(false), json!(0), json!(0.0), json!("")] {
            assert!(!truthy(&falsy), "{falsy} should be falsy");
        }
        for truthy_value in [json!(true), json!(1), json!("0"), json!([]), json!({})] {
            assert!(truthy(&truthy_value), "{truthy_value} should be truthy");
        }
    }

    #[test]
    fn abbreviate_flattens_and_cuts() {
        assert_eq!(abbreviate("return\n   1;"), "return 1;");
        let long = "x".repeat(200);
        assert_eq!(abbreviate(&long), format!("{}...", "x".repeat(80)));
    }

    #[tokio::test]
    async fn missing_chromedriver_is_a_clear_start_error() {
        let config = BrowserConfig {
            chromedriver: "/nonexistent/chromedriver".into(),
            ..BrowserConfig::from_env()
        };
        let err = Browser::start_with(config).await.unwrap_err();
        assert!(matches!(err, Error::DriverStart { .. }), "{err}");
        assert!(
            err.to_string().contains("/nonexistent/chromedriver"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn broken_chromium_reports_the_driver_log() {
        let config = BrowserConfig {
            chromium: "/bin/false".into(),
            ..BrowserConfig::from_env()
        };
        let err = Browser::start_with(config).await.unwrap_err();
        assert!(matches!(err, Error::Session { .. }), "{err}");
        assert!(
            err.to_string().contains("--- chromedriver log"),
            "the error should carry the driver log: {err}"
        );
    }

    /// Alive means present in /proc and not a zombie; the container's init may reap late.
    fn alive(pid: u64) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            stat.rsplit(')')
                .next()
                .is_some_and(|s| !s.trim_start().starts_with('Z'))
        })
    }

    #[tokio::test]
    async fn dropping_without_close_stops_chromium_and_removes_the_profile() {
        let browser = Browser::start().await.expect("browser starts");
        let chromium = browser
            .client()
            .capabilities()
            .and_then(|caps| caps.get("goog:processID"))
            .and_then(Value::as_u64)
            .expect("ChromeDriver reports Chromium's pid");
        let dir = browser.driver.dir().to_path_buf();
        assert!(alive(chromium) && dir.exists());

        drop(browser);

        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(chromium) && Instant::now() < deadline {
            sleep(Duration::from_millis(50)).await;
        }
        assert!(!alive(chromium), "Chromium {chromium} survived the drop");
        assert!(!dir.exists(), "{} survived the drop", dir.display());
    }

    #[tokio::test]
    async fn drives_a_page_and_an_iframe_from_another_origin() {
        // A second port is a second origin, like the payment frame inside a merchant page.
        let (frame_port, frame_server) = serve(vec![(
            "/frame",
            "<!doctype html><p id=inner>inside</p>\
             <script>console.log('frame-ready')</script>"
                .to_owned(),
        )])
        .await;
        let page = format!(
            "<!doctype html><title>harness</title>\
             <input id=in><p id=out></p>\
             <iframe id=frame src='http://127.0.0.1:{frame_port}/frame'></iframe>\
             <script>\
               document.getElementById('in').addEventListener('input', e => {{\
                 document.getElementById('out').textContent = e.target.value;\
               }});\
               console.log('page-ready');\
             </script>"
        );
        let (page_port, page_server) = serve(vec![("/", page)]).await;

        let mut browser = Browser::start().await.expect("browser starts");
        browser
            .goto(&format!("http://127.0.0.1:{page_port}/"))
            .await
            .unwrap();

        let input = browser.wait_for("#in").await.unwrap();
        input.send_keys("hello").await.unwrap();
        browser.wait_for_text("#out", "hello").await.unwrap();

        let sum = browser.eval("return arguments[0] + 1", vec![json!(41)]);
        assert_eq!(sum.await.unwrap(), json!(42));
        let later = browser.eval_async(
            "const done = arguments[arguments.length - 1];\
             setTimeout(() => done(document.title), 10);",
            vec![],
        );
        assert_eq!(later.await.unwrap(), json!("harness"));

        browser.switch_to_frame("#frame").await.unwrap();
        browser.wait_for_text("#inner", "inside").await.unwrap();
        let origin = browser.eval("return location.port", vec![]).await.unwrap();
        assert_eq!(origin, json!(frame_port.to_string()));
        browser.switch_to_parent().await.unwrap();
        browser.wait_for_text("#out", "hello").await.unwrap();

        // The waits must be able to fail, and say what they saw instead.
        browser.set_wait_timeout(Duration::from_millis(300));
        let err = browser.wait_for_text("#out", "goodbye").await.unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{err}");
        assert!(err.to_string().contains("\"hello\""), "{err}");
        let err = browser.wait_for("#missing").await.unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{err}");
        let err = browser
            .wait_until("return false", vec![])
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{err}");
        browser.set_wait_timeout(DEFAULT_WAIT);

        let shot = tempfile::tempdir().unwrap();
        let shot_path = shot.path().join("nested/page.png");
        browser.screenshot(&shot_path).await.unwrap();
        let png = std::fs::read(&shot_path).unwrap();
        assert!(png.starts_with(PNG_SIGNATURE), "not a PNG");

        let messages: Vec<String> = browser
            .console_log()
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.message)
            .collect();
        for expected in ["page-ready", "frame-ready"] {
            assert!(
                messages.iter().any(|m| m.contains(expected)),
                "{expected} missing from console log: {messages:?}"
            );
        }

        browser.close().await.unwrap();
        page_server.abort();
        frame_server.abort();
    }
}

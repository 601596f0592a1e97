//! Starts the whole system on loopback for a browser test: the gateway (served as
//! `http://localhost:<port>`) and the demo shop (`http://127.0.0.1:<port>`), two origins.
//! Everything the gateway logs and every request body it receives is kept for inspection.
// Shared by several test binaries; each uses only part of it.
#![allow(dead_code)]

pub mod checkout;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::BodyExt;
use payframe_e2e::Browser;
use payframe_server::master_key::MasterKey;
use payframe_server::{Settings, build_state, system_clock};
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

/// Every log line of the process, at the most verbose level.
static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() -> Arc<Mutex<Vec<u8>>> {
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = LogWriter(buffer.clone());
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        buffer
    })
    .clone()
}

/// axe-core's source: `PAYFRAME_AXE_JS` (set by scripts/setup.sh), else where setup puts it.
pub fn axe_source() -> String {
    let path = std::env::var("PAYFRAME_AXE_JS").unwrap_or_else(|_| {
        let pins = std::fs::read_to_string(workspace_root().join("tools.versions")).unwrap();
        let version = pins
            .lines()
            .find_map(|l| l.strip_prefix("AXE_CORE_NPM_VERSION="))
            .expect("AXE_CORE_NPM_VERSION in tools.versions");
        let cache = std::env::var("PAYFRAME_TOOLS").unwrap_or_else(|_| {
            format!(
                "{}/.cache/payframe-tools",
                std::env::var("HOME").unwrap_or_default()
            )
        });
        format!("{cache}/axe-core-{version}/node_modules/axe-core/axe.min.js")
    });
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "axe-core not found at {path} ({e}): run `source scripts/setup.sh && setup_test_tools`"
        )
    })
}

/// Runs axe on the current document; returns the violations as `[{id, impact, nodes}]`.
pub async fn axe_violations(browser: &Browser, axe: &str) -> Value {
    let loaded = browser
        .eval(&format!("{axe}\nreturn typeof axe;"), vec![])
        .await
        .unwrap();
    assert_eq!(loaded, "object", "axe-core did not load in the frame");
    browser
        .eval_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] })
               .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact,
                 nodes: v.nodes.map(n => n.target.join(' ')) }))))
               .catch(e => done([{ id: 'axe-error', impact: String(e), nodes: [] }]));",
            vec![],
        )
        .await
        .unwrap()
}

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub struct Stack {
    pub shop_url: String,
    pub gateway_url: String,
    /// The demo shop's secret key (test mode): what its merchant signs in to the dashboard with.
    pub secret_key: String,
    pub data_dir: tempfile::TempDir,
    _background: payframe_server::Background,
    bodies: Arc<Mutex<Vec<(String, Bytes)>>>,
    logs: Arc<Mutex<Vec<u8>>>,
}

impl Stack {
    pub async fn start() -> Stack {
        let logs = capture_logs();
        let dist = workspace_root().join("dist");
        assert!(
            dist.join("index.html").exists(),
            "the frame is not built: run `trunk build --release` (scripts/test.sh does)"
        );
        let data_dir = tempfile::tempdir().unwrap();
        let gateway_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let shop_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gateway_url = format!(
            "http://localhost:{}",
            gateway_listener.local_addr().unwrap().port()
        );
        let shop_url = format!(
            "http://127.0.0.1:{}",
            shop_listener.local_addr().unwrap().port()
        );

        let settings = Settings::new(gateway_url.clone(), dist, workspace_root().join("public"));
        let db = format!("sqlite://{}", data_dir.path().join("payframe.db").display());
        let master = MasterKey::load(None, data_dir.path()).unwrap();
        let state = build_state(&db, master, settings, system_clock())
            .await
            .unwrap();
        let merchant = payframe_server::merchants::create(
            &state.store,
            &state.master,
            "Demo shop",
            std::slice::from_ref(&shop_url),
            Some(&format!("{shop_url}/webhooks")),
            false,
            state.now(),
        )
        .await
        .unwrap();

        // Webhook deliveries to the shop, as a serving gateway makes them.
        let background = payframe_server::spawn_background(&state);
        let bodies: Arc<Mutex<Vec<(String, Bytes)>>> = Arc::default();
        let recorder = bodies.clone();
        let gateway =
            payframe_server::app(state).layer(axum::middleware::from_fn(move |req, next| {
                record_body(recorder.clone(), req, next)
            }));
        tokio::spawn(async move { axum::serve(gateway_listener, gateway).await.unwrap() });
        let shop = demo_shop::app_with_webhooks(
            demo_shop::ShopConfig {
                gateway_url: gateway_url.clone(),
                secret_key: merchant.secret_key.clone(),
            },
            Some(merchant.webhook_secret),
        );
        tokio::spawn(async move { axum::serve(shop_listener, shop).await.unwrap() });
        Stack {
            shop_url,
            gateway_url,
            secret_key: merchant.secret_key,
            data_dir,
            _background: background,
            bodies,
            logs,
        }
    }

    /// `(path, body)` of every request the gateway received.
    pub fn bodies(&self) -> Vec<(String, Bytes)> {
        self.bodies.lock().unwrap().clone()
    }

    pub fn logs(&self) -> String {
        String::from_utf8_lossy(&self.logs.lock().unwrap()).into_owned()
    }

    /// The bytes of every file the gateway keeps on disk (database, WAL, key file).
    pub fn disk_bytes(&self) -> Vec<(PathBuf, Vec<u8>)> {
        std::fs::read_dir(self.data_dir.path())
            .unwrap()
            .flatten()
            .map(|e| (e.path(), std::fs::read(e.path()).unwrap_or_default()))
            .collect()
    }
}

async fn record_body(sink: Arc<Mutex<Vec<(String, Bytes)>>>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    sink.lock()
        .unwrap()
        .push((parts.uri.path().to_owned(), bytes.clone()));
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// Every run of `len` consecutive digits of `pan`, the ways it could leak in part.
pub fn digit_runs(pan: &str, len: usize) -> Vec<String> {
    let digits: Vec<char> = pan.chars().filter(char::is_ascii_digit).collect();
    digits.windows(len).map(|w| w.iter().collect()).collect()
}

/// How a card number may be searched for.
pub enum Search {
    /// The whole number, plain and grouped in fours.
    Whole,
    /// Also every run of 8 of its digits. Not for stores that keep the permitted BIN and
    /// last four side by side: with a repetitive number such as 4242… they form a run.
    Runs,
}

/// Fails with the place and the run found, if `pan` appears in `haystack`.
pub fn assert_no_pan(what: &str, haystack: &[u8], pan: &str, search: Search) {
    let groups: Vec<String> = pan
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    let mut needles = vec![pan.to_owned(), groups.join(" ")];
    if let Search::Runs = search {
        needles.extend(digit_runs(pan, 8));
    }
    for needle in needles {
        assert!(
            !haystack
                .windows(needle.len())
                .any(|w| w == needle.as_bytes()),
            "{what} contains the card number (or the run {needle:?} of its digits)"
        );
    }
}

/// Serves `html` at `/` from a third origin (`http://127.0.0.1:<new port>`, neither the
/// gateway's nor the shop's), for pages that must not be trusted; returns its URL.
pub async fn serve_foreign_page(html: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || async move { axum::response::Html(html) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[cfg(test)]
mod detector_tests {
    use super::{Search, assert_no_pan};

    fn caught(haystack: &str, search: Search) -> bool {
        std::panic::catch_unwind(|| {
            assert_no_pan("test", haystack.as_bytes(), "4000056655665556", search)
        })
        .is_err()
    }

    #[test]
    fn finds_the_number_whole_grouped_or_in_part() {
        assert!(caught(r#"{"number":"4000056655665556"}"#, Search::Whole));
        assert!(caught("card 4000 0566 5566 5556 typed", Search::Whole));
        assert!(caught("pan=05665566", Search::Runs));
        assert!(!caught("last4=5556 bin=400005", Search::Runs));
        assert!(!caught(
            r#"{"envelope":{"ct":"q83vEjRWeJA"}}"#,
            Search::Runs
        ));
    }
}

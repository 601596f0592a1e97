//! The real gateway on a fresh SQLite database (`payframe.db`, WAL) in a temp directory,
//! with a clock the test sets. It keeps every response it receives — status line, header
//! values and body — and hands over the bytes of every file in its data directory.

use crate::common::{Checkout, NOW};
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use payframe_core::Envelope;
use payframe_core::api::EncryptionKey;
use payframe_server::master_key::MasterKey;
use payframe_server::{AppState, Settings};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use tempfile::TempDir;
use tower::ServiceExt;

/// The database file's name in the data directory, as `payframe serve` names it.
pub const DB_FILE: &str = "payframe.db";

pub struct Gateway {
    app: Router,
    /// Held so the pool — and with it the WAL — stays open until the test has read it.
    state: AppState,
    clock: Arc<AtomicI64>,
    dir: TempDir,
    /// Every response received, in order.
    transcript: Vec<u8>,
    responses: usize,
}

/// A response as the test sees it: status and body (JSON, or `Null` if the body is not).
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

/// One file of the data directory and its bytes.
pub struct DataFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

impl Gateway {
    pub async fn start() -> Gateway {
        let dir = tempfile::tempdir().expect("temp dir");
        let clock = Arc::new(AtomicI64::new(NOW));
        let reader = clock.clone();
        let mut settings = Settings::new(
            "http://gateway.test".into(),
            dir.path().join("no-frame"),
            dir.path().join("no-public"),
        );
        // One unknown client confirming the test cards many times: the defaults would
        // refuse it (the rate limits have tests of their own).
        settings.rate_limits = payframe_server::api::rate_limit::RateLimitSettings::off();
        let state = payframe_server::build_state(
            &db_url(&dir),
            MasterKey::from_bytes([7; 32]),
            settings,
            Arc::new(move || reader.load(Ordering::SeqCst)),
        )
        .await
        .expect("gateway state");
        Gateway {
            app: payframe_server::app(state.clone()),
            state,
            clock,
            dir,
            transcript: Vec::new(),
            responses: 0,
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.load(Ordering::SeqCst)
    }

    pub fn set_now(&self, now: i64) {
        self.clock.store(now, Ordering::SeqCst);
    }

    /// Registers a test-mode merchant (there is no HTTP route for it: the CLI's code path);
    /// returns its secret key.
    pub async fn merchant(&self) -> String {
        payframe_server::merchants::create(
            &self.state.store,
            &self.state.master,
            "Leak Shop",
            &["https://shop.example".to_owned()],
            None,
            false,
            self.now(),
        )
        .await
        .expect("merchant created")
        .secret_key
    }

    /// Sends `request` through the router and records the response.
    pub async fn send(&mut self, request: Request<Body>) -> Reply {
        let response = self
            .app
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("response body").to_bytes();
        self.transcript
            .extend_from_slice(format!("HTTP {}\n", parts.status).as_bytes());
        for (name, value) in &parts.headers {
            self.transcript.extend_from_slice(name.as_str().as_bytes());
            self.transcript.extend_from_slice(b": ");
            self.transcript.extend_from_slice(value.as_bytes());
            self.transcript.push(b'\n');
        }
        self.transcript.push(b'\n');
        self.transcript.extend_from_slice(&bytes);
        self.transcript.extend_from_slice(b"\n\n");
        self.responses += 1;
        Reply {
            status: parts.status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// A POST with the body and content type the test chooses, to send what a client should not.
    pub async fn post_raw(
        &mut self,
        path: &str,
        key: Option<&str>,
        content_type: Option<&str>,
        body: impl Into<Body>,
    ) -> Reply {
        let mut builder = Request::builder().method(Method::POST).uri(path);
        if let Some(key) = key {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {key}"));
        }
        if let Some(content_type) = content_type {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        self.send(builder.body(body.into()).expect("valid request"))
            .await
    }

    pub async fn get(&mut self, path: &str) -> Reply {
        let request = Request::builder()
            .method(Method::GET)
            .uri(path)
            .body(Body::empty())
            .expect("valid request");
        self.send(request).await
    }

    /// A request of the merchant API without a body (GET, DELETE) with the secret key.
    pub async fn merchant_call(&mut self, method: Method, path: &str, key: &str) -> Reply {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .body(Body::empty())
            .expect("valid request");
        self.send(request).await
    }

    /// `POST /v1/sessions` for 19.99 BRL, then the frame's view of it; returns the session
    /// and the key to seal to.
    pub async fn open_checkout(&mut self, merchant_key: &str) -> (Checkout, EncryptionKey) {
        let body = json!({"amount": 1999, "currency": "brl", "reference": "order-1"});
        self.open_checkout_with(merchant_key, body).await
    }

    /// `POST /v1/sessions` with `body`, then the frame's view of it.
    pub async fn open_checkout_with(
        &mut self,
        merchant_key: &str,
        body: Value,
    ) -> (Checkout, EncryptionKey) {
        let created = self
            .post_raw(
                "/v1/sessions",
                Some(merchant_key),
                Some("application/json"),
                body.to_string(),
            )
            .await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.body);
        let checkout = Checkout {
            id: created.body["id"].as_str().expect("id").to_owned(),
            client_secret: created.body["client_secret"]
                .as_str()
                .expect("client_secret")
                .to_owned(),
        };
        let view = self
            .get(&format!(
                "/v1/frame/sessions/{}?client_secret={}",
                checkout.id, checkout.client_secret
            ))
            .await;
        assert_eq!(view.status, StatusCode::OK, "{}", view.body);
        let key =
            serde_json::from_value(view.body["encryption_key"].clone()).expect("encryption_key");
        (checkout, key)
    }

    /// Posts `envelope` to `session_id`'s confirm endpoint with `client_secret`.
    pub async fn confirm_as(
        &mut self,
        session_id: &str,
        client_secret: &str,
        envelope: &Envelope,
    ) -> Reply {
        let body = json!({"client_secret": client_secret, "envelope": envelope});
        self.post_raw(
            &confirm_path(session_id),
            None,
            Some("application/json"),
            body.to_string(),
        )
        .await
    }

    /// Posts `envelope` as the frame of `checkout` would.
    pub async fn confirm(&mut self, checkout: &Checkout, envelope: &Envelope) -> Reply {
        self.confirm_as(&checkout.id, &checkout.client_secret, envelope)
            .await
    }

    /// Every response received so far, and how many there were.
    pub fn transcript(&self) -> (&[u8], usize) {
        (&self.transcript, self.responses)
    }

    /// Every file in the data directory (the database, its WAL and shared-memory index),
    /// read while the gateway's pool is open, so the WAL has not been checkpointed away.
    pub fn data_files(&self) -> Vec<DataFile> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .expect("read the data directory")
            .map(|entry| entry.expect("directory entry").path())
            .filter(|path| path.is_file())
            .collect();
        paths.sort();
        paths
            .into_iter()
            .map(|path| DataFile {
                name: path
                    .file_name()
                    .expect("file name")
                    .to_string_lossy()
                    .into_owned(),
                bytes: std::fs::read(&path).expect("read a data file"),
            })
            .collect()
    }

    /// Copies every page in the WAL into the main database file and empties the WAL
    /// (`PRAGMA wal_checkpoint(TRUNCATE)`), through a connection of the test's own.
    pub async fn checkpoint(&self) {
        let pool = sqlx::SqlitePool::connect(&db_url(&self.dir))
            .await
            .expect("open the test database");
        let (busy, _wal_frames, _checkpointed): (i64, i64, i64) =
            sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(&pool)
                .await
                .expect("checkpoint");
        assert_eq!(busy, 0, "the checkpoint could not complete");
        pool.close().await;
    }
}

pub fn confirm_path(session_id: &str) -> String {
    format!("/v1/frame/sessions/{session_id}/confirm")
}

fn db_url(dir: &TempDir) -> String {
    format!("sqlite://{}/{DB_FILE}", dir.path().display())
}

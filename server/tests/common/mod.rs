//! A gateway for integration tests: the real router over a fresh database of the run's
//! backend (a SQLite file in a temp directory, or a new PostgreSQL database), a clock the test moves by hand, and request helpers that check the error shape
//! of every failed response.
// Shared by several test binaries; each uses only part of it.
#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use payframe_core::api::EncryptionKey;
use payframe_core::{CardPayload, Envelope};
use payframe_server::master_key::MasterKey;
use payframe_server::testing::TestDatabase;
use payframe_server::{AppState, Settings};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use tempfile::TempDir;
use tower::ServiceExt;

/// 2026-11-18 (UTC): cards expiring 10/2026 are expired, 12/2030 are valid.
pub const NOW: i64 = 1_795_000_000;

/// The test card. Responses may show its last four digits, never more.
pub const PAN: &str = "4242424242424242";

pub struct Gateway {
    app: Router,
    state: AppState,
    clock: Arc<AtomicI64>,
    db: TestDatabase,
    _dir: TempDir,
}

/// A session as the frame knows it: its id and client secret.
pub struct Checkout {
    pub id: String,
    pub client_secret: String,
}

impl Checkout {
    /// The checkout of a session object as `POST /v1/sessions` answers it.
    pub fn of(session: &Value) -> Checkout {
        Checkout {
            id: session["id"].as_str().expect("id").to_owned(),
            client_secret: session["client_secret"]
                .as_str()
                .expect("client_secret")
                .to_owned(),
        }
    }
}

impl Gateway {
    pub async fn start() -> Gateway {
        Gateway::start_with(|_| {}).await
    }

    /// A gateway whose settings `configure` may change first.
    pub async fn start_with(configure: impl FnOnce(&mut Settings)) -> Gateway {
        // Server-side errors show in a failing test's output (RUST_LOG=debug for more).
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "warn".into()),
            )
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().expect("temp dir");
        let db = TestDatabase::create(dir.path()).await;
        let clock = Arc::new(AtomicI64::new(NOW));
        let reader = clock.clone();
        let mut settings = test_settings(dir.path());
        configure(&mut settings);
        let state = payframe_server::build_state(
            &db.url,
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
            db,
            _dir: dir,
        }
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The test's clock, for another instance on the same database.
    pub fn clock(&self) -> payframe_server::Clock {
        let clock = self.clock.clone();
        Arc::new(move || clock.load(Ordering::SeqCst))
    }

    /// Another gateway instance (as after a restart, or beside this one) on the same
    /// database, master key and clock, with settings `configure` may change.
    pub async fn instance(&self, configure: impl FnOnce(&mut Settings)) -> AppState {
        let mut settings = test_settings(self._dir.path());
        configure(&mut settings);
        payframe_server::build_state(
            &self.db.url,
            MasterKey::from_bytes([7; 32]),
            settings,
            self.clock(),
        )
        .await
        .expect("another instance")
    }

    pub fn db_url(&self) -> &str {
        &self.db.url
    }

    /// A connection pool of the test's own on the gateway's database.
    pub async fn raw_pool(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        sqlx::AnyPool::connect(&self.db.url)
            .await
            .expect("open the test database")
    }

    pub fn now(&self) -> i64 {
        self.clock.load(Ordering::SeqCst)
    }

    pub fn set_now(&self, now: i64) {
        self.clock.store(now, Ordering::SeqCst);
    }

    /// Registers a test-mode merchant embedding from `origins`; returns its secret key.
    pub async fn merchant(&self, name: &str, origins: &[&str]) -> String {
        self.merchant_in_mode(name, origins, false).await
    }

    /// A merchant with a live key (`sk_live_…`), whose sessions are paid through the
    /// configured live processor.
    #[allow(dead_code)]
    pub async fn live_merchant(&self, name: &str, origins: &[&str]) -> String {
        self.merchant_in_mode(name, origins, true).await
    }

    async fn merchant_in_mode(&self, name: &str, origins: &[&str], livemode: bool) -> String {
        let origins: Vec<String> = origins.iter().map(|o| o.to_string()).collect();
        let state = &self.state;
        payframe_server::merchants::create(
            &state.store,
            &state.master,
            name,
            &origins,
            None,
            livemode,
            self.now(),
        )
        .await
        .expect("merchant created")
        .secret_key
    }

    /// Sends `request` through the router; returns the whole response (headers included).
    pub async fn send(&self, request: Request<Body>) -> axum::response::Response {
        self.app
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible")
    }

    /// Sends `request` through the router; returns the status and the body as text.
    pub async fn call(&self, request: Request<Body>) -> (StatusCode, String) {
        let response = self
            .app
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("response body")
            .to_bytes();
        (
            status,
            String::from_utf8(bytes.to_vec()).expect("UTF-8 body"),
        )
    }

    async fn call_json(&self, request: Request<Body>) -> (StatusCode, Value) {
        let (status, text) = self.call(request).await;
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{status}: body is not JSON ({e}): {text}"));
        if status.is_client_error() || status.is_server_error() {
            assert_error_shape(&body);
        }
        (status, body)
    }

    pub async fn get(&self, path: &str, key: Option<&str>) -> (StatusCode, Value) {
        self.call_json(request(Method::GET, path, key, None, Body::empty()))
            .await
    }

    pub async fn delete(&self, path: &str, key: Option<&str>) -> (StatusCode, Value) {
        self.call_json(request(Method::DELETE, path, key, None, Body::empty()))
            .await
    }

    pub async fn post_json(
        &self,
        path: &str,
        key: Option<&str>,
        body: &Value,
    ) -> (StatusCode, Value) {
        self.post_raw(path, key, Some("application/json"), body.to_string())
            .await
    }

    /// A POST whose body and content type the test chooses, to send what a client should not.
    pub async fn post_raw(
        &self,
        path: &str,
        key: Option<&str>,
        content_type: Option<&str>,
        body: String,
    ) -> (StatusCode, Value) {
        self.call_json(request(
            Method::POST,
            path,
            key,
            content_type,
            Body::from(body),
        ))
        .await
    }

    /// Creates a session for 19.99 BRL; panics unless it succeeds.
    pub async fn create_session(&self, key: &str) -> Checkout {
        let body = json!({"amount": 1999, "currency": "brl", "reference": "order-1"});
        let (status, session) = self.post_json("/v1/sessions", Some(key), &body).await;
        assert_eq!(status, StatusCode::OK, "{session}");
        Checkout::of(&session)
    }

    /// The session's status as its merchant sees it.
    pub async fn session_status(&self, key: &str, id: &str) -> String {
        let (status, session) = self.get(&format!("/v1/sessions/{id}"), Some(key)).await;
        assert_eq!(status, StatusCode::OK, "{session}");
        session["status"].as_str().expect("status").to_owned()
    }

    /// What the frame loads: `GET /v1/frame/sessions/{id}?client_secret=…`.
    pub async fn frame_view(
        &self,
        checkout: &Checkout,
        client_secret: &str,
    ) -> (StatusCode, Value) {
        self.get(
            &format!(
                "/v1/frame/sessions/{}?client_secret={client_secret}",
                checkout.id
            ),
            None,
        )
        .await
    }

    /// The key the frame would seal to.
    pub async fn encryption_key(&self, checkout: &Checkout) -> EncryptionKey {
        let (status, view) = self.frame_view(checkout, &checkout.client_secret).await;
        assert_eq!(status, StatusCode::OK, "{view}");
        serde_json::from_value(view["encryption_key"].clone()).expect("encryption_key")
    }

    /// Posts `envelope` to the session's confirm endpoint, checking that the answer, whatever
    /// it is, does not carry the test card's number.
    pub async fn confirm(&self, checkout: &Checkout, envelope: &Envelope) -> (StatusCode, Value) {
        let body =
            json!({"client_secret": checkout.client_secret, "envelope": envelope}).to_string();
        let path = format!("/v1/frame/sessions/{}/confirm", checkout.id);
        let (status, text) = self
            .call(request(
                Method::POST,
                &path,
                None,
                Some("application/json"),
                Body::from(body),
            ))
            .await;
        assert_no_pan(&text);
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {text}"));
        if !status.is_success() {
            assert_error_shape(&body);
        }
        (status, body)
    }

    /// Seals `number` (expiry 12/2030, CVC 123) to the session's key, as the frame does,
    /// and confirms it.
    #[allow(dead_code)]
    pub async fn pay(&self, checkout: &Checkout, number: &str) -> (StatusCode, Value) {
        let envelope = sealed(
            &self.encryption_key(checkout).await,
            &checkout.id,
            &card(number, 12, 2030, "123", self.now()),
        );
        self.confirm(checkout, &envelope).await
    }

    /// Rows in one of the gateway's tables, read through a connection of the test's own.
    pub async fn count(&self, table: &str) -> i64 {
        let pool = self.raw_pool().await;
        let count = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&pool)
            .await
            .expect("count rows");
        pool.close().await;
        count
    }
}

/// Rate limits are off: every request here comes from one unknown client (no connection),
/// and many tests pay with the same card; `tests/rate_limits.rs` switches on the ones it
/// tests through `Gateway::start_with`.
fn test_settings(dir: &std::path::Path) -> Settings {
    let mut settings = Settings::new(
        "http://gateway.test".into(),
        dir.join("no-frame"),
        dir.join("no-public"),
    );
    settings.rate_limits = payframe_server::api::rate_limit::RateLimitSettings::off();
    settings
}

fn request(
    method: Method,
    path: &str,
    key: Option<&str>,
    content_type: Option<&str>,
    body: Body,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(key) = key {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {key}"));
    }
    if let Some(content_type) = content_type {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    builder.body(body).expect("valid request")
}

/// A card as the browser reads it from the form, sealed at `sealed_at`.
pub fn card(number: &str, exp_month: u32, exp_year: u32, cvc: &str, sealed_at: i64) -> CardPayload {
    CardPayload {
        number: number.into(),
        exp_month,
        exp_year,
        cvc: cvc.into(),
        sealed_at,
        name: None,
        postal_code: None,
    }
}

/// Seals `card` for `session_id` exactly as the frame does.
pub fn sealed(key: &EncryptionKey, session_id: &str, card: &CardPayload) -> Envelope {
    payframe_core::seal(&key.public_key, &key.kid, session_id, card).expect("seal")
}

/// Every error is `{"error":{"type","code","message",…}}` with string values.
pub fn assert_error_shape(body: &Value) {
    let error = body["error"]
        .as_object()
        .unwrap_or_else(|| panic!("no error object: {body}"));
    for field in ["type", "code", "message"] {
        assert!(
            error.get(field).is_some_and(Value::is_string),
            "error.{field} missing: {body}"
        );
    }
}

/// Checks status, `error.code` and `error.param` (`None`: no param) of an error response.
#[track_caller]
pub fn assert_error(
    response: &(StatusCode, Value),
    status: StatusCode,
    code: &str,
    param: Option<&str>,
) {
    let (got, body) = response;
    assert_eq!(*got, status, "{body}");
    assert_error_shape(body);
    assert_eq!(body["error"]["code"], code, "{body}");
    assert_eq!(body["error"]["param"].as_str(), param, "{body}");
}

/// Neither the number nor its middle digits; the last four ("4242") may be shown.
#[track_caller]
pub fn assert_no_pan(text: &str) {
    assert!(
        !text.contains(PAN) && !text.contains("42424242"),
        "card number in a response: {text}"
    );
}

impl Gateway {
    /// A JSON POST with an `Idempotency-Key`.
    pub async fn post_json_idempotent(
        &self,
        path: &str,
        key: &str,
        idempotency_key: &str,
        body: &Value,
    ) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .header(header::CONTENT_TYPE, "application/json")
            .header("idempotency-key", idempotency_key)
            .body(Body::from(body.to_string()))
            .expect("valid request");
        self.call_json(request).await
    }
}

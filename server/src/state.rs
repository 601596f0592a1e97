//! Shared application state and the settings handlers read.

use crate::keys::Keyring;
use crate::master_key::MasterKey;
use crate::store::Store;
use crate::vault::Vault;
use std::path::PathBuf;
use std::sync::Arc;

/// Declined confirms after which a session locks (against card testing).
pub const MAX_DECLINED_ATTEMPTS: i64 = 5;

/// Unix seconds; injected so tests control time.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("the system clock is after 1970")
            .as_secs() as i64
    })
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// The origin the frame is served from, e.g. `http://127.0.0.1:8080`.
    pub public_url: String,
    /// Trunk's release output (`dist/`), served under `/frame/`.
    pub frame_dir: PathBuf,
    /// Static files shipped as they are (`embed.js`).
    pub public_dir: PathBuf,
    pub session_ttl_seconds: i64,
    /// How old a sealed envelope may be when it arrives.
    pub envelope_max_age_seconds: i64,
    /// How long a retired encryption key still opens envelopes.
    pub key_grace_seconds: i64,
    /// Database connections and timeouts.
    pub pool: crate::store::PoolSettings,
    /// A processor service for test mode (`payframe simulator`); `None`: in-process.
    pub test_processor_url: Option<String>,
    /// The processor service live mode uses; `None`: live payments are refused.
    pub live_processor_url: Option<String>,
    /// How long a processor call may take before it counts as a timeout.
    pub processor_timeout: std::time::Duration,
    /// A webhook delivery counts only if the endpoint answers 2xx within this.
    pub webhook_timeout: std::time::Duration,
    /// How long a worker holds the deliveries it claimed; longer than `webhook_timeout`, so
    /// a lease only expires when its instance is gone.
    pub webhook_lease_seconds: i64,
    /// Deliveries claimed per pass.
    pub webhook_batch: i64,
    /// How often the worker looks for due deliveries when nothing wakes it.
    pub webhook_poll_interval: std::time::Duration,
    /// Rate limits (per IP, session, card fingerprint, API key) and trusted proxies.
    pub rate_limits: crate::api::rate_limit::RateLimitSettings,
    /// The bearer token `/metrics` requires; `None`: it answers anyone who reaches it.
    pub metrics_token: Option<crate::metrics::MetricsToken>,
}

impl Settings {
    pub fn new(public_url: String, frame_dir: PathBuf, public_dir: PathBuf) -> Settings {
        Settings {
            public_url: public_url.trim_end_matches('/').to_owned(),
            frame_dir,
            public_dir,
            session_ttl_seconds: 30 * 60,
            envelope_max_age_seconds: 10 * 60,
            key_grace_seconds: 24 * 60 * 60,
            pool: crate::store::PoolSettings::default(),
            test_processor_url: None,
            live_processor_url: None,
            processor_timeout: std::time::Duration::from_secs(30),
            webhook_timeout: crate::webhooks::delivery::DEFAULT_TIMEOUT,
            webhook_lease_seconds: 60,
            webhook_batch: 32,
            webhook_poll_interval: std::time::Duration::from_secs(5),
            rate_limits: crate::api::rate_limit::RateLimitSettings::default(),
            metrics_token: None,
        }
    }
}

/// What every handler shares. Cloned for each request (axum's `State`) and into spawned
/// tasks, so it is one reference count rather than one per field.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub store: Store,
    pub master: Arc<MasterKey>,
    pub keyring: Arc<Keyring>,
    pub vault: Arc<Vault>,
    pub settings: Arc<Settings>,
    pub clock: Clock,
    pub frame_page: Arc<crate::api::frame_page::FramePage>,
    /// The in-process simulator (card network and issuing banks); test mode uses it
    /// unless `test_processor` points at a shared one.
    pub simulator: Arc<crate::processors::simulator::Simulator>,
    /// Test-mode payments go here: the in-process simulator, or a shared simulator
    /// service when several instances must see the same authorizations.
    pub test_processor: Arc<dyn crate::processors::Connector>,
    /// Live-mode payments go here; without one, live payments are refused.
    pub live_processor: Option<Arc<dyn crate::processors::Connector>>,
    pub payment_locks: Arc<crate::locks::KeyedLocks>,
    /// Webhook delivery: this instance's lease identity and HTTP clients.
    pub webhooks: Arc<crate::webhooks::Runtime>,
    /// This instance's rate limiters (in memory; per instance).
    pub rate_limits: Arc<crate::api::rate_limit::RateLimits>,
    /// This instance's Prometheus metrics (`/metrics`).
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl Shared {
    pub fn now(&self) -> i64 {
        (self.clock)()
    }
}

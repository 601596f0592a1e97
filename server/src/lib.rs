//! The Payframe gateway as a library: `build_state` wires storage, keys and the vault;
//! `api::app` is the HTTP router. The `payframe` binary (main.rs) is a thin CLI over it.

pub mod api;
pub mod customers;
pub mod dashboard;
pub mod ids;
pub mod keys;
pub mod locks;
pub mod master_key;
pub mod merchants;
pub mod metrics;
pub mod payments;
pub mod processors;
pub mod rotation;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod testing;
pub mod vault;
pub mod webhooks;

pub use api::app;
pub use state::{AppState, Clock, Settings, system_clock};

use std::sync::Arc;
use std::time::Duration;

/// How soon a key rotation made elsewhere (CLI, another instance) reaches this instance.
pub const KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// How often an instance sweeps expired sessions and old idempotency keys.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(60);
/// Rows one sweep changes at most, so a sweep never holds locks for long.
pub const SWEEP_BATCH: i64 = 500;

/// Background tasks of a serving instance; `shutdown` stops them.
pub struct Background {
    webhook_worker: tokio::task::JoinHandle<()>,
    stop_webhooks: tokio::sync::watch::Sender<bool>,
    state: AppState,
}

impl Background {
    /// Stops the webhook worker — letting the pass under way finish, at most the delivery
    /// timeout and a little more — and gives back any delivery it still holds, so another
    /// instance takes it at once (an attempt cut short is sent again: at least once).
    pub async fn shutdown(mut self) {
        let _ = self.stop_webhooks.send(true);
        let grace = self.state.settings.webhook_timeout + Duration::from_secs(5);
        if tokio::time::timeout(grace, &mut self.webhook_worker)
            .await
            .is_err()
        {
            self.webhook_worker.abort();
        }
        match webhooks::release_leases(&self.state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(released = n, "webhook deliveries handed back"),
            Err(err) => {
                tracing::warn!(error = %err, "could not release webhook leases; they expire on their own")
            }
        }
    }
}

/// Background work of a serving instance: reloads the encryption keys, sweeps expired
/// rows and delivers webhooks. Every instance runs it; sweeps and deliveries claim
/// disjoint rows.
pub fn spawn_background(state: &AppState) -> Background {
    let (stop_webhooks, stop) = tokio::sync::watch::channel(false);
    let background = Background {
        webhook_worker: webhooks::delivery::spawn_worker(state.clone(), stop),
        stop_webhooks,
        state: state.clone(),
    };
    let keys = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(KEY_REFRESH_INTERVAL);
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(err) = keys.keyring.reload(&keys.store, &keys.master).await {
                tracing::warn!(error = %err, "reloading encryption keys failed; keeping the current set");
            }
        }
    });
    let limits = state.rate_limits.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(api::rate_limit::EVICT_INTERVAL);
        loop {
            tick.tick().await;
            limits.retain_recent();
        }
    });
    let sweeper = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_INTERVAL);
        loop {
            tick.tick().await;
            match sweep_once(&sweeper).await {
                Ok(report) if report != store::SweepReport::default() => {
                    tracing::info!(?report, "swept expired rows");
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "sweep failed; retrying later"),
            }
        }
    });
    background
}

/// One sweep at the state's clock: expires stale sessions, forgets idempotency keys past
/// their time to live.
pub async fn sweep_once(state: &AppState) -> Result<store::SweepReport, store::StoreError> {
    let now = state.now();
    state
        .store
        .sweep(now, now - api::idempotency::KEY_TTL_SECONDS, SWEEP_BATCH)
        .await
}

/// Opens the database, loads (or creates) the encryption keys and the frame's files.
pub async fn build_state(
    database_url: &str,
    master: master_key::MasterKey,
    settings: Settings,
    clock: Clock,
) -> anyhow::Result<AppState> {
    if let Some(url) = &settings.live_processor_url {
        processors::remote::check_live_url(url).map_err(anyhow::Error::msg)?;
    }
    let store = store::Store::connect_with(database_url, &settings.pool).await?;
    let master = Arc::new(master);
    let keyring = keys::Keyring::load(&store, &master, settings.key_grace_seconds, clock()).await?;
    let vault = vault::Vault::load(&store, master.clone(), clock()).await?;
    // Reading and compressing the frame's files is CPU work for a blocking thread.
    let (frame_dir, public_dir) = (settings.frame_dir.clone(), settings.public_dir.clone());
    let frame_page = tokio::task::spawn_blocking(move || {
        api::frame_page::FramePage::load(&frame_dir, &public_dir)
    })
    .await?;
    let simulator = Arc::new(processors::simulator::Simulator::default());
    let remote = |url: &str| -> Arc<dyn processors::Connector> {
        Arc::new(processors::remote::RemoteConnector::new(
            url,
            settings.processor_timeout,
        ))
    };
    let test_processor = match &settings.test_processor_url {
        Some(url) => remote(url),
        None => simulator.clone(),
    };
    let live_processor = settings.live_processor_url.as_deref().map(remote);
    let webhooks = Arc::new(webhooks::Runtime::new(&settings)?);
    let rate_limits = Arc::new(api::rate_limit::RateLimits::new(&settings.rate_limits));
    let metrics = Arc::new(metrics::Metrics::new(store.writer_stats()));
    Ok(AppState::new(state::Shared {
        metrics,
        rate_limits,
        webhooks,
        store,
        vault: Arc::new(vault),
        master,
        keyring: Arc::new(keyring),
        settings: Arc::new(settings),
        clock,
        frame_page: Arc::new(frame_page),
        simulator,
        test_processor,
        live_processor,
        payment_locks: Arc::new(locks::KeyedLocks::default()),
    }))
}

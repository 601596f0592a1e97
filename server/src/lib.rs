//! The Payframe gateway as a library: `build_state` wires storage, keys and the vault;
//! `api::app` is the HTTP router. The `payframe` binary (main.rs) is a thin CLI over it.

pub mod api;
pub mod customers;
pub mod ids;
pub mod keys;
pub mod locks;
pub mod master_key;
pub mod merchants;
pub mod payments;
pub mod processors;
pub mod rotation;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod testing;
pub mod vault;

pub use api::app;
pub use state::{AppState, Clock, Settings, system_clock};

use std::sync::Arc;
use std::time::Duration;

/// How soon a key rotation made elsewhere (CLI, another instance) reaches this instance.
pub const KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// Background work of a serving instance: reloads the encryption keys periodically.
pub fn spawn_background(state: &AppState) {
    let state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(KEY_REFRESH_INTERVAL);
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(err) = state.keyring.reload(&state.store, &state.master).await {
                tracing::warn!(error = %err, "reloading encryption keys failed; keeping the current set");
            }
        }
    });
}

/// Opens the database, loads (or creates) the encryption keys and the frame's files.
pub async fn build_state(
    database_url: &str,
    master: master_key::MasterKey,
    settings: Settings,
    clock: Clock,
) -> anyhow::Result<AppState> {
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
    Ok(AppState {
        store,
        vault: Arc::new(vault),
        master,
        keyring: Arc::new(keyring),
        settings: Arc::new(settings),
        clock,
        frame_page: Arc::new(frame_page),
        simulator: Arc::new(processors::simulator::Simulator::default()),
        payment_locks: Arc::new(locks::KeyedLocks::default()),
    })
}

//! The Payframe gateway as a library: `build_state` wires storage, keys and the vault;
//! `api::app` is the HTTP router. The `payframe` binary (main.rs) is a thin CLI over it.

pub mod api;
pub mod ids;
pub mod keys;
pub mod master_key;
pub mod merchants;
pub mod rotation;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod vault;

pub use api::app;
pub use state::{AppState, Clock, Settings, system_clock};

use std::sync::Arc;

/// Opens the database, loads (or creates) the encryption keys and the frame's files.
pub async fn build_state(
    database_url: &str,
    master: master_key::MasterKey,
    settings: Settings,
    clock: Clock,
) -> anyhow::Result<AppState> {
    let store = store::Store::connect(database_url).await?;
    let master = Arc::new(master);
    let keyring = keys::Keyring::load(&store, &master, settings.key_grace_seconds, clock()).await?;
    let vault = vault::Vault::load(&store, master.clone(), clock()).await?;
    let frame_page = api::frame_page::FramePage::load(&settings.frame_dir, &settings.public_dir);
    Ok(AppState {
        store,
        vault: Arc::new(vault),
        master,
        keyring: Arc::new(keyring),
        settings: Arc::new(settings),
        clock,
        frame_page: Arc::new(frame_page),
    })
}

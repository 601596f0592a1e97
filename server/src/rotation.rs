//! Master-key rotation: every blob wrapped by the old master key (HPKE private keys, card
//! data keys, webhook secrets, stored secrets) is unwrapped and wrapped again under the new
//! one in a single transaction. Card numbers are never decrypted: only their data keys
//! move, so no PAN exists in memory during a rotation.

use crate::master_key::{MasterKey, MasterKeyError};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a stored secret could not be unwrapped with the current master key: {0}")]
    Unwrap(#[from] MasterKeyError),
}

/// Re-wraps everything under `new`; returns how many blobs moved. Atomic: on any error
/// nothing changes.
pub async fn rotate_master(
    store: &Store,
    old: &MasterKey,
    new: &MasterKey,
) -> Result<u64, RotationError> {
    let moved = store
        .rewrap_all(new.id(), |purpose, blob| {
            let plain = old.unwrap(purpose, blob)?;
            Ok::<_, MasterKeyError>(new.wrap(purpose, &plain))
        })
        .await??;
    Ok(moved)
}

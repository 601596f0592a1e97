//! The gateway's HPKE key pairs: each has a `kid`, its private half is stored wrapped by
//! the master key, one is current (published to the frame) and retired ones still open
//! envelopes for a grace period after rotation.

use crate::master_key::{MasterKey, MasterKeyError, purpose};
use crate::store::{Store, StoreError};
use payframe_core::api::EncryptionKey;
use payframe_core::{CardPayload, Envelope, EnvelopeError, KeyPair};
use std::sync::{Arc, RwLock};

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    MasterKey(#[from] MasterKeyError),
    #[error("stored encryption key {0} is corrupt")]
    Corrupt(String),
}

/// Why an envelope could not be opened.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("unknown or expired key id")]
    UnknownKey,
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
}

struct Entry {
    kid: String,
    pair: KeyPair,
    retired_at: Option<i64>,
}

pub struct Keyring {
    entries: RwLock<Arc<Vec<Entry>>>,
    grace_seconds: i64,
}

impl Keyring {
    /// Loads every stored key, creating the first one on a fresh database.
    pub async fn load(
        store: &Store,
        master: &MasterKey,
        grace_seconds: i64,
        now: i64,
    ) -> Result<Keyring, KeyringError> {
        let ring = Keyring {
            entries: RwLock::new(Arc::new(Vec::new())),
            grace_seconds,
        };
        ring.reload(store, master).await?;
        if ring.snapshot().iter().all(|e| e.retired_at.is_some()) {
            ring.rotate(store, master, now).await?;
        }
        Ok(ring)
    }

    pub async fn reload(&self, store: &Store, master: &MasterKey) -> Result<(), KeyringError> {
        let mut entries = Vec::new();
        for stored in store.encryption_keys().await? {
            let private = master.unwrap(purpose::HPKE_PRIVATE_KEY, &stored.private_key_wrapped)?;
            let pair = KeyPair::from_private(&private)
                .map_err(|_| KeyringError::Corrupt(stored.kid.clone()))?;
            entries.push(Entry {
                kid: stored.kid,
                pair,
                retired_at: stored.retired_at,
            });
        }
        *self.entries.write().expect("keyring lock poisoned") = Arc::new(entries);
        Ok(())
    }

    /// Generates a new current key; the previous one stays usable for the grace period.
    pub async fn rotate(
        &self,
        store: &Store,
        master: &MasterKey,
        now: i64,
    ) -> Result<String, KeyringError> {
        let pair = KeyPair::generate();
        let kid = crate::ids::new_id("kid");
        let wrapped = master.wrap(purpose::HPKE_PRIVATE_KEY, pair.private_bytes());
        store
            .insert_current_key(&kid, pair.public_bytes(), &wrapped, master.id(), now)
            .await?;
        self.reload(store, master).await?;
        Ok(kid)
    }

    fn snapshot(&self) -> Arc<Vec<Entry>> {
        self.entries.read().expect("keyring lock poisoned").clone()
    }

    /// The key the frame should seal to.
    pub fn current(&self) -> EncryptionKey {
        let entries = self.snapshot();
        let current = entries
            .iter()
            .rev()
            .find(|e| e.retired_at.is_none())
            .expect("the keyring always holds a current key after load");
        EncryptionKey {
            kid: current.kid.clone(),
            public_key: current.pair.public_b64(),
        }
    }

    /// Opens `envelope` with the key it names, if that key is current or still in grace.
    pub fn open(
        &self,
        session_id: &str,
        envelope: &Envelope,
        now: i64,
    ) -> Result<CardPayload, OpenError> {
        let entries = self.snapshot();
        let entry = entries
            .iter()
            .find(|e| e.kid == envelope.kid)
            .filter(|e| e.retired_at.is_none_or(|t| now < t + self.grace_seconds))
            .ok_or(OpenError::UnknownKey)?;
        Ok(entry.pair.open(session_id, envelope)?)
    }
}

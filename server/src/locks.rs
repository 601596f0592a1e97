//! Per-key async locks (one per payment id), so two requests on one payment in this
//! instance take turns between reading it, asking the processor and saving it. Across
//! instances the payment's version column refuses the slower writer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

#[derive(Default)]
pub struct KeyedLocks {
    locks: Mutex<HashMap<String, Arc<AsyncMutex<()>>>>,
}

pub struct KeyGuard {
    _guard: OwnedMutexGuard<()>,
}

impl KeyedLocks {
    pub async fn lock(&self, key: &str) -> KeyGuard {
        let lock = {
            let mut locks = self.locks.lock().expect("lock map poisoned");
            // Forget locks nobody holds or waits for, so the map stays small.
            locks.retain(|_, l| Arc::strong_count(l) > 1);
            locks.entry(key.to_owned()).or_default().clone()
        };
        KeyGuard {
            _guard: lock.lock_owned().await,
        }
    }
}

//! The card vault's cryptography: each PAN encrypted with AES-256-GCM under its own data
//! key, the data key wrapped by the master key (envelope encryption), and a keyed
//! fingerprint (HMAC-SHA256) to recognise the same card without decrypting it.

use crate::master_key::{MasterKey, MasterKeyError, aes_open, aes_seal, purpose};
use crate::store::{Store, StoreError};
use hmac::{Hmac, Mac};
use payframe_core::{CardError, Pan};
use sha2::Sha256;
use std::sync::Arc;
use zeroize::Zeroizing;

const PAN_AAD: &[u8] = b"payframe/pan";
/// Name of the stored secret the fingerprint key comes from. It is random and wrapped by
/// the master key (not derived from it), so fingerprints survive a master-key rotation.
const FINGERPRINT_SECRET: &str = "card-fingerprint";

pub struct Vault {
    master: Arc<MasterKey>,
    fingerprint_key: Zeroizing<[u8; 32]>,
}

/// What the vault stores for a card number.
pub struct SealedPan {
    pub pan_ciphertext: Vec<u8>,
    pub data_key_wrapped: Vec<u8>,
    pub fingerprint: [u8; 32],
    pub master_key_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error(transparent)]
    MasterKey(#[from] MasterKeyError),
    #[error("vaulted card data could not be decrypted")]
    Decrypt,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Vault {
    /// Loads the fingerprint secret, creating it on a fresh database.
    pub async fn load(
        store: &Store,
        master: Arc<MasterKey>,
        now: i64,
    ) -> Result<Vault, VaultError> {
        let candidate = crate::ids::random_bytes::<32>();
        let wrapped = master.wrap(purpose::STORED_SECRET, &candidate);
        // Insert-if-absent then read back, so concurrent first starts agree on one secret.
        store
            .insert_stored_secret(FINGERPRINT_SECRET, &wrapped, master.id(), now)
            .await?;
        let wrapped = store
            .stored_secret(FINGERPRINT_SECRET)
            .await?
            .ok_or(VaultError::Decrypt)?;
        let secret = master.unwrap(purpose::STORED_SECRET, &wrapped)?;
        Ok(Vault::with_fingerprint_secret(master, &secret))
    }

    /// A vault whose fingerprints are keyed by `secret` (through HKDF-SHA256).
    pub fn with_fingerprint_secret(master: Arc<MasterKey>, secret: &[u8]) -> Vault {
        let hk = hkdf::Hkdf::<Sha256>::new(Some(b"payframe/v1"), secret);
        let mut fingerprint_key = Zeroizing::new([0u8; 32]);
        hk.expand(b"card-fingerprint", &mut fingerprint_key[..])
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Vault {
            master,
            fingerprint_key,
        }
    }

    pub fn seal(&self, pan: &Pan) -> SealedPan {
        let data_key = Zeroizing::new(crate::ids::random_bytes::<32>());
        SealedPan {
            pan_ciphertext: aes_seal(&data_key, PAN_AAD, pan.expose().as_bytes()),
            data_key_wrapped: self.master.wrap(purpose::CARD_DATA_KEY, &data_key[..]),
            fingerprint: self.fingerprint(pan),
            master_key_id: self.master.id().to_owned(),
        }
    }

    pub fn fingerprint(&self, pan: &Pan) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.fingerprint_key[..])
            .expect("HMAC accepts any key length");
        mac.update(pan.expose().as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Detokenisation: only for a processor call inside the server.
    pub fn reveal(
        &self,
        pan_ciphertext: &[u8],
        data_key_wrapped: &[u8],
    ) -> Result<Pan, VaultError> {
        let data_key = self
            .master
            .unwrap(purpose::CARD_DATA_KEY, data_key_wrapped)?;
        let data_key: &[u8; 32] = data_key
            .as_slice()
            .try_into()
            .map_err(|_| VaultError::Decrypt)?;
        let digits = aes_open(data_key, PAN_AAD, pan_ciphertext).ok_or(VaultError::Decrypt)?;
        let digits = std::str::from_utf8(&digits).map_err(|_| VaultError::Decrypt)?;
        Pan::parse(digits).map_err(|_: CardError| VaultError::Decrypt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_reveals_and_fingerprints() {
        let vault =
            Vault::with_fingerprint_secret(Arc::new(MasterKey::from_bytes([9; 32])), &[1; 32]);
        let pan = Pan::parse("4242424242424242").unwrap();
        let sealed = vault.seal(&pan);
        let haystack = [&sealed.pan_ciphertext[..], &sealed.data_key_wrapped[..]].concat();
        assert!(!haystack.windows(16).any(|w| w == b"4242424242424242"));
        assert_eq!(
            vault
                .reveal(&sealed.pan_ciphertext, &sealed.data_key_wrapped)
                .unwrap(),
            pan
        );
        assert_eq!(vault.seal(&pan).fingerprint, sealed.fingerprint);
        let other = Pan::parse("5555555555554444").unwrap();
        assert_ne!(vault.fingerprint(&other), sealed.fingerprint);
        let other_master =
            Vault::with_fingerprint_secret(Arc::new(MasterKey::from_bytes([8; 32])), &[1; 32]);
        assert!(
            other_master
                .reveal(&sealed.pan_ciphertext, &sealed.data_key_wrapped)
                .is_err()
        );
    }
}

//! The card vault's cryptography: each PAN encrypted with AES-256-GCM under its own data
//! key, the data key wrapped by the master key (envelope encryption), and a keyed
//! fingerprint (HMAC-SHA256) to recognise the same card without decrypting it.

use crate::master_key::{MasterKey, MasterKeyError, aes_open, aes_seal};
use hmac::{Hmac, Mac};
use payframe_core::{CardError, Pan};
use sha2::Sha256;
use std::sync::Arc;
use zeroize::Zeroizing;

const DATA_KEY_PURPOSE: &str = "payframe/card-data-key";
const PAN_AAD: &[u8] = b"payframe/pan";

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
}

impl Vault {
    pub fn new(master: Arc<MasterKey>) -> Vault {
        let fingerprint_key = master.derive("card-fingerprint");
        Vault {
            master,
            fingerprint_key,
        }
    }

    pub fn seal(&self, pan: &Pan) -> SealedPan {
        let data_key = Zeroizing::new(crate::ids::random_bytes::<32>());
        SealedPan {
            pan_ciphertext: aes_seal(&data_key, PAN_AAD, pan.expose().as_bytes()),
            data_key_wrapped: self.master.wrap(DATA_KEY_PURPOSE, &data_key[..]),
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
        let data_key = self.master.unwrap(DATA_KEY_PURPOSE, data_key_wrapped)?;
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
        let vault = Vault::new(Arc::new(MasterKey::from_bytes([9; 32])));
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
        let other_master = Vault::new(Arc::new(MasterKey::from_bytes([8; 32])));
        assert!(
            other_master
                .reveal(&sealed.pan_ciphertext, &sealed.data_key_wrapped)
                .is_err()
        );
    }
}

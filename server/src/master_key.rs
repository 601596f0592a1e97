//! The master key: from `PAYFRAME_MASTER_KEY` or a 0600 key file in the data directory,
//! never in the database or a log. It wraps (AES-256-GCM) every other secret the gateway
//! stores: HPKE private keys, card data keys, webhook secrets, the fingerprint secret.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::Path;
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    #[error("the master key must be base64 of exactly 32 bytes")]
    Malformed,
    #[error(
        "the master key file {0} is readable by group or others; run `chmod 600` on it (refusing to start)"
    )]
    Permissions(String),
    #[error("cannot read or create the master key file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("data sealed under the master key could not be opened (wrong key or corrupted)")]
    Unwrap,
    #[error(
        "{0} exists: a master-key rotation was interrupted. If `payframe keys rotate-master` \
         reported success, replace master.key with it; otherwise delete it and run the rotation again"
    )]
    InterruptedRotation(String),
}

pub const KEY_FILE: &str = "master.key";
/// Where `keys rotate-master` puts the new key until the database has been re-wrapped.
pub const NEXT_KEY_FILE: &str = "master.key.next";

/// What each blob wrapped by the master key is for; bound as associated data so a blob
/// wrapped for one use cannot be replayed as another.
pub mod purpose {
    pub const HPKE_PRIVATE_KEY: &str = "payframe/hpke-private-key";
    pub const CARD_DATA_KEY: &str = "payframe/card-data-key";
    pub const WEBHOOK_SECRET: &str = "payframe/webhook-secret";
    pub const STORED_SECRET: &str = "payframe/stored-secret";
    pub const IDEMPOTENT_RESPONSE: &str = "payframe/idempotent-response";
}

pub struct MasterKey {
    key: Zeroizing<[u8; 32]>,
    id: String,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({})", self.id)
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: [u8; 32]) -> MasterKey {
        // The id names the key in stored rows without revealing it.
        let digest = Sha256::digest([b"payframe/master-key-id".as_slice(), &bytes].concat());
        let id = format!("mk_{}", hex_prefix(&digest[..6]));
        MasterKey {
            key: Zeroizing::new(bytes),
            id,
        }
    }

    pub fn from_base64(text: &str) -> Result<MasterKey, MasterKeyError> {
        let decoded = Zeroizing::new(
            STANDARD
                .decode(text.trim())
                .map_err(|_| MasterKeyError::Malformed)?,
        );
        let bytes: [u8; 32] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| MasterKeyError::Malformed)?;
        Ok(MasterKey::from_bytes(bytes))
    }

    /// `PAYFRAME_MASTER_KEY` when given, else `<data_dir>/master.key`, created on first run.
    pub fn load(env_value: Option<&str>, data_dir: &Path) -> Result<MasterKey, MasterKeyError> {
        match env_value {
            Some(text) => MasterKey::from_base64(text),
            None => MasterKey::load_or_create_file(&data_dir.join(KEY_FILE)),
        }
    }

    fn load_or_create_file(path: &Path) -> Result<MasterKey, MasterKeyError> {
        use std::os::unix::fs::PermissionsExt;
        let io = |source| MasterKeyError::Io {
            path: path.display().to_string(),
            source,
        };
        let next = path.with_file_name(NEXT_KEY_FILE);
        if next.exists() {
            return Err(MasterKeyError::InterruptedRotation(
                next.display().to_string(),
            ));
        }
        match std::fs::metadata(path) {
            Ok(meta) => {
                if meta.permissions().mode() & 0o077 != 0 {
                    return Err(MasterKeyError::Permissions(path.display().to_string()));
                }
                let text = Zeroizing::new(std::fs::read_to_string(path).map_err(io)?);
                MasterKey::from_base64(&text)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(io)?;
                }
                let key = MasterKey::from_bytes(crate::ids::random_bytes::<32>());
                key.write_new_file(path)?;
                Ok(key)
            }
            Err(e) => Err(io(e)),
        }
    }

    /// Writes the key (base64) to a file that must not exist yet, readable by the owner only.
    pub fn write_new_file(&self, path: &Path) -> Result<(), MasterKeyError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let io = |source| MasterKeyError::Io {
            path: path.display().to_string(),
            source,
        };
        let text = Zeroizing::new(STANDARD.encode(&self.key[..]));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        file.write_all(text.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)
    }

    /// A new random master key (for `keys rotate-master`).
    pub fn generate() -> MasterKey {
        MasterKey::from_bytes(crate::ids::random_bytes::<32>())
    }

    /// The key as base64, to hand to an operator who keeps it in `PAYFRAME_MASTER_KEY`.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(&self.key[..]))
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Seals `plaintext` under the master key; `purpose` is bound as associated data so a
    /// blob wrapped for one use cannot be replayed as another.
    pub fn wrap(&self, purpose: &str, plaintext: &[u8]) -> Vec<u8> {
        aes_seal(&self.key, purpose.as_bytes(), plaintext)
    }

    pub fn unwrap(
        &self,
        purpose: &str,
        wrapped: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, MasterKeyError> {
        aes_open(&self.key, purpose.as_bytes(), wrapped).ok_or(MasterKeyError::Unwrap)
    }
}

const NONCE_LEN: usize = 12;

/// AES-256-GCM with a random nonce, output `nonce || ciphertext+tag`.
pub fn aes_seal(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.into());
    let nonce = crate::ids::random_bytes::<NONCE_LEN>();
    let ct = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .expect("AES-GCM encryption of a small buffer cannot fail");
    [nonce.as_slice(), &ct].concat()
}

pub fn aes_open(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if sealed.len() < NONCE_LEN {
        return None;
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    Aes256Gcm::new(key.into())
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
        .ok()
        .map(Zeroizing::new)
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn key_file_is_created_0600_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let first = MasterKey::load(None, dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = MasterKey::load(None, dir.path()).unwrap();
        assert_eq!(first.id(), again.id());
        let wrapped = first.wrap("test", b"secret");
        assert_eq!(&again.unwrap("test", &wrapped).unwrap()[..], b"secret");
        assert!(again.unwrap("other-purpose", &wrapped).is_err());
    }

    #[test]
    fn refuses_a_key_file_others_can_read() {
        let dir = tempfile::tempdir().unwrap();
        MasterKey::load(None, dir.path()).unwrap();
        let path = dir.path().join(KEY_FILE);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            MasterKey::load(None, dir.path()),
            Err(MasterKeyError::Permissions(_))
        ));
    }

    #[test]
    fn env_key_must_be_32_bytes() {
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
        let key = MasterKey::from_base64(&STANDARD.encode([7u8; 32])).unwrap();
        assert!(key.id().starts_with("mk_"));
        assert!(!format!("{key:?}").contains("BwcH"));
    }
}

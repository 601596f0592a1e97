//! The master key: from `PAYFRAME_MASTER_KEY` or a 0600 key file in the data directory,
//! never in the database or a log. It wraps (AES-256-GCM) every other secret the gateway
//! stores and derives the card fingerprint key.

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
}

pub const KEY_FILE: &str = "master.key";

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
        use std::io::Write;
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let io = |source| MasterKeyError::Io {
            path: path.display().to_string(),
            source,
        };
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
                let bytes = crate::ids::random_bytes::<32>();
                let text = Zeroizing::new(STANDARD.encode(bytes));
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(io)?;
                file.write_all(text.as_bytes()).map_err(io)?;
                file.sync_all().map_err(io)?;
                Ok(MasterKey::from_bytes(bytes))
            }
            Err(e) => Err(io(e)),
        }
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

    /// A sub-key for one purpose (HKDF-SHA256), so the master key itself is used only to wrap.
    pub fn derive(&self, label: &str) -> Zeroizing<[u8; 32]> {
        let hk = hkdf::Hkdf::<Sha256>::new(Some(b"payframe/v1"), &self.key[..]);
        let mut out = Zeroizing::new([0u8; 32]);
        hk.expand(label.as_bytes(), &mut out[..])
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        out
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

//! Envelope v1: card data sealed in the browser to the gateway's public key with HPKE
//! (RFC 9180) base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM.
//!
//! Normative, so other clients can seal cards too:
//! - `info` = `"payframe/v1:" + session_id`, so an envelope opens only for its session;
//! - `aad` = the bytes of `kid`, so the key id cannot be swapped;
//! - plaintext = JSON [`CardPayload`];
//! - wire = JSON `{"v":1,"kid","enc","ct"}`, `enc` and `ct` base64url without padding.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use serde::{Deserialize, Serialize};
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// The suite of Envelope v1, public so the known-answer test checks exactly these.
pub type Kem = hpke::kem::X25519HkdfSha256;
pub type Kdf = hpke::kdf::HkdfSha256;
pub type Aead = hpke::aead::AesGcm256;

pub const VERSION: u8 = 1;
const INFO_PREFIX: &str = "payframe/v1:";

/// The sealed card as it travels: `{"v":1,"kid":"…","enc":"…","ct":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// The envelope version: `1`.
    pub v: u8,
    /// The id of the gateway key the card was sealed to.
    pub kid: String,
    /// base64url (no padding) of the HPKE encapsulated key.
    pub enc: String,
    /// base64url (no padding) of the AES-256-GCM ciphertext of the card data.
    pub ct: String,
}

/// The plaintext inside an envelope. Redacted in `Debug`, wiped on drop.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct CardPayload {
    pub number: String,
    pub exp_month: u32,
    pub exp_year: u32,
    pub cvc: String,
    /// Unix seconds when the browser sealed it; the gateway refuses stale envelopes.
    pub sealed_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
}

impl fmt::Debug for CardPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardPayload")
            .field("number", &"[redacted]")
            .field("exp_month", &self.exp_month)
            .field("exp_year", &self.exp_year)
            .field("cvc", &"[redacted]")
            .field("sealed_at", &self.sealed_at)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("Unsupported envelope version.")]
    UnsupportedVersion,
    #[error("The envelope's `{0}` is not valid base64url.")]
    MalformedField(&'static str),
    #[error("The public key is not a valid X25519 key.")]
    MalformedKey,
    #[error("The envelope could not be opened.")]
    OpenFailed,
    #[error("The sealed card data is not valid.")]
    MalformedPayload,
    #[error("The card data could not be sealed.")]
    SealFailed,
}

fn info(session_id: &str) -> Vec<u8> {
    let mut info = Vec::with_capacity(INFO_PREFIX.len() + session_id.len());
    info.extend_from_slice(INFO_PREFIX.as_bytes());
    info.extend_from_slice(session_id.as_bytes());
    info
}

/// A gateway HPKE key pair. The private half never leaves the server and is wiped on drop.
pub struct KeyPair {
    private: Zeroizing<[u8; 32]>,
    public: [u8; 32],
}

impl KeyPair {
    pub fn generate() -> KeyPair {
        let (sk, pk) = Kem::gen_keypair();
        let mut private = Zeroizing::new([0u8; 32]);
        private.copy_from_slice(&sk.to_bytes());
        let mut public = [0u8; 32];
        public.copy_from_slice(&pk.to_bytes());
        KeyPair { private, public }
    }

    /// Rebuilds a key pair from its stored private key.
    pub fn from_private(bytes: &[u8]) -> Result<KeyPair, EnvelopeError> {
        let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(bytes)
            .map_err(|_| EnvelopeError::MalformedKey)?;
        let mut private = Zeroizing::new([0u8; 32]);
        private.copy_from_slice(bytes);
        let mut public = [0u8; 32];
        public.copy_from_slice(&Kem::sk_to_pk(&sk).to_bytes());
        Ok(KeyPair { private, public })
    }

    pub fn private_bytes(&self) -> &[u8; 32] {
        &self.private
    }

    pub fn public_bytes(&self) -> &[u8; 32] {
        &self.public
    }

    /// The public key as published to clients: base64url of its 32 bytes.
    pub fn public_b64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.public)
    }

    /// Opens an envelope addressed to this key for `session_id`. The caller has already
    /// picked this key by the envelope's `kid`.
    pub fn open(
        &self,
        session_id: &str,
        envelope: &Envelope,
    ) -> Result<CardPayload, EnvelopeError> {
        if envelope.v != VERSION {
            return Err(EnvelopeError::UnsupportedVersion);
        }
        let enc = URL_SAFE_NO_PAD
            .decode(&envelope.enc)
            .map_err(|_| EnvelopeError::MalformedField("enc"))?;
        let ct = URL_SAFE_NO_PAD
            .decode(&envelope.ct)
            .map_err(|_| EnvelopeError::MalformedField("ct"))?;
        let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&enc)
            .map_err(|_| EnvelopeError::MalformedField("enc"))?;
        let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(&self.private[..])
            .map_err(|_| EnvelopeError::MalformedKey)?;
        let plaintext = Zeroizing::new(
            hpke::single_shot_open::<Aead, Kdf, Kem>(
                &OpModeR::Base,
                &sk,
                &enc,
                &info(session_id),
                &ct,
                envelope.kid.as_bytes(),
            )
            .map_err(|_| EnvelopeError::OpenFailed)?,
        );
        serde_json::from_slice(&plaintext).map_err(|_| EnvelopeError::MalformedPayload)
    }
}

/// Seals `payload` for `session_id` to the public key `public_b64` (base64url, 32 bytes)
/// published under `kid`.
pub fn seal(
    public_b64: &str,
    kid: &str,
    session_id: &str,
    payload: &CardPayload,
) -> Result<Envelope, EnvelopeError> {
    let pk = URL_SAFE_NO_PAD
        .decode(public_b64)
        .map_err(|_| EnvelopeError::MalformedKey)?;
    let pk =
        <Kem as hpke::Kem>::PublicKey::from_bytes(&pk).map_err(|_| EnvelopeError::MalformedKey)?;
    let plaintext =
        Zeroizing::new(serde_json::to_vec(payload).map_err(|_| EnvelopeError::SealFailed)?);
    let (enc, ct) = hpke::single_shot_seal::<Aead, Kdf, Kem>(
        &OpModeS::Base,
        &pk,
        &info(session_id),
        &plaintext,
        kid.as_bytes(),
    )
    .map_err(|_| EnvelopeError::SealFailed)?;
    Ok(Envelope {
        v: VERSION,
        kid: kid.to_owned(),
        enc: URL_SAFE_NO_PAD.encode(enc.to_bytes()),
        ct: URL_SAFE_NO_PAD.encode(ct),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload() -> CardPayload {
        CardPayload {
            number: "4242424242424242".into(),
            exp_month: 12,
            exp_year: 2030,
            cvc: "123".into(),
            sealed_at: 1_795_000_000,
            name: None,
            postal_code: None,
        }
    }

    #[test]
    fn seal_then_open_round_trips() {
        let keys = KeyPair::generate();
        let env = seal(&keys.public_b64(), "k1", "cs_a", &payload()).unwrap();
        assert_eq!(env.v, 1);
        assert_eq!(keys.open("cs_a", &env).unwrap(), payload());
        let wire = serde_json::to_string(&env).unwrap();
        assert!(wire.starts_with(r#"{"v":1,"kid":"k1","enc":""#), "{wire}");
        assert!(!wire.contains('=') && !wire.contains('+') && !wire.contains('/'));
    }

    #[test]
    fn plaintext_is_the_normative_json() {
        let json = serde_json::to_string(&payload()).unwrap();
        assert_eq!(
            json,
            r#"{"number":"4242424242424242","exp_month":12,"exp_year":2030,"cvc":"123","sealed_at":1795000000}"#
        );
    }

    #[test]
    fn refuses_other_session_kid_tampering_and_bad_base64() {
        let keys = KeyPair::generate();
        let env = seal(&keys.public_b64(), "k1", "cs_a", &payload()).unwrap();
        assert_eq!(keys.open("cs_b", &env), Err(EnvelopeError::OpenFailed));
        let relabelled = Envelope {
            kid: "k2".into(),
            ..env.clone()
        };
        assert_eq!(
            keys.open("cs_a", &relabelled),
            Err(EnvelopeError::OpenFailed)
        );
        let mut ct = URL_SAFE_NO_PAD.decode(&env.ct).unwrap();
        ct[3] ^= 1;
        let flipped = Envelope {
            ct: URL_SAFE_NO_PAD.encode(ct),
            ..env.clone()
        };
        assert_eq!(keys.open("cs_a", &flipped), Err(EnvelopeError::OpenFailed));
        let mut enc = URL_SAFE_NO_PAD.decode(&env.enc).unwrap();
        enc[0] ^= 1;
        let flipped = Envelope {
            enc: URL_SAFE_NO_PAD.encode(enc),
            ..env.clone()
        };
        assert_eq!(keys.open("cs_a", &flipped), Err(EnvelopeError::OpenFailed));
        let bad = Envelope {
            ct: "not base64!".into(),
            ..env.clone()
        };
        assert_eq!(
            keys.open("cs_a", &bad),
            Err(EnvelopeError::MalformedField("ct"))
        );
        let v2 = Envelope { v: 2, ..env };
        assert_eq!(
            keys.open("cs_a", &v2),
            Err(EnvelopeError::UnsupportedVersion)
        );
    }

    #[test]
    fn debug_redacts_card_data() {
        let shown = format!("{:?}", payload());
        assert!(!shown.contains("4242") && !shown.contains("123"), "{shown}");
    }
}

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

/// The plaintext's JSON, byte for byte what `serde_json::to_vec` makes of [`CardPayload`]
/// (a test below holds them equal), written out here so that sealing in the browser does
/// not pull a JSON serializer into the frame's wasm. The buffer is sized for the worst
/// case up front, so no partial copy of the card is left behind by a reallocation.
fn payload_json(p: &CardPayload) -> Zeroizing<Vec<u8>> {
    let strings = [
        Some(&p.number),
        Some(&p.cvc),
        p.name.as_ref(),
        p.postal_code.as_ref(),
    ];
    // At most 6 bytes per byte of text (`\u00XX`); keys, quotes and numbers fit in 160.
    let capacity = 160 + strings.iter().flatten().map(|s| 6 * s.len()).sum::<usize>();
    let mut out = Zeroizing::new(Vec::with_capacity(capacity));
    out.extend_from_slice(b"{\"number\":");
    json_string(&mut out, &p.number);
    out.extend_from_slice(b",\"exp_month\":");
    json_integer(&mut out, p.exp_month.into());
    out.extend_from_slice(b",\"exp_year\":");
    json_integer(&mut out, p.exp_year.into());
    out.extend_from_slice(b",\"cvc\":");
    json_string(&mut out, &p.cvc);
    out.extend_from_slice(b",\"sealed_at\":");
    json_integer(&mut out, p.sealed_at);
    if let Some(name) = &p.name {
        out.extend_from_slice(b",\"name\":");
        json_string(&mut out, name);
    }
    if let Some(postal_code) = &p.postal_code {
        out.extend_from_slice(b",\"postal_code\":");
        json_string(&mut out, postal_code);
    }
    out.push(b'}');
    out
}

/// A JSON string as serde_json writes it: `"` and `\\` escaped, control characters as
/// `\b \t \n \f \r` or `\u00xx`, everything else (all of UTF-8) as is.
fn json_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0..=0x1f => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// A JSON integer: decimal digits, `-` when negative.
fn json_integer(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    let mut digits = [0u8; 20];
    let mut rest = n.unsigned_abs();
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

/// Seals `payload` for `session_id` to the public key `public_b64` (base64url, 32 bytes)
/// published under `kid`.
pub fn seal(
    public_b64: &str,
    kid: &str,
    session_id: &str,
    payload: &CardPayload,
) -> Result<Envelope, EnvelopeError> {
    let pk = decode_key(public_b64).ok_or(EnvelopeError::MalformedKey)?;
    let pk =
        <Kem as hpke::Kem>::PublicKey::from_bytes(&pk).map_err(|_| EnvelopeError::MalformedKey)?;
    let plaintext = payload_json(payload);
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
        enc: encode_b64url(&enc.to_bytes()),
        ct: encode_b64url(&ct),
    })
}

// Sealing runs in the browser: these two do by hand what `URL_SAFE_NO_PAD` does for it
// (tests below hold them equal), as the base64 crate's generic engine would cost the
// frame's wasm several KB. The gateway's side (`open`, `public_b64`) keeps the crate.

const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without padding, as `URL_SAFE_NO_PAD.encode`.
fn encode_b64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(B64URL[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

/// The 32 bytes of a key in base64url without padding: exactly what
/// `URL_SAFE_NO_PAD.decode` accepts and decodes to 32 bytes (43 characters of the
/// alphabet, the last one's 2 spare bits zero).
fn decode_key(text: &str) -> Option<[u8; 32]> {
    let text = text.as_bytes();
    if text.len() != 43 {
        return None;
    }
    let mut key = [0u8; 32];
    let mut acc = 0u32;
    let mut bits = 0;
    let mut at = 0;
    for &c in text {
        let v = B64URL.iter().position(|&a| a == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            key[at] = (acc >> bits) as u8;
            at += 1;
            acc &= (1 << bits) - 1;
        }
    }
    (acc == 0).then_some(key)
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
    fn plaintext_is_written_exactly_as_serde_json_writes_it() {
        let tricky = "A \"Shopper\" \\ ção 张伟 😀\u{0}\u{8}\t\n\u{b}\u{c}\r\u{1f}\u{7f}/";
        let changed = |change: &dyn Fn(&mut CardPayload)| {
            let mut p = payload();
            change(&mut p);
            p
        };
        let payloads = [
            payload(),
            changed(&|p| {
                p.name = Some(tricky.into());
                p.postal_code = Some("01310-100".into());
                p.exp_month = 0;
                p.exp_year = u32::MAX;
                p.sealed_at = i64::MIN;
            }),
            changed(&|p| {
                p.number = String::new();
                p.cvc = tricky.into();
                p.postal_code = Some(String::new());
                p.sealed_at = i64::MAX;
            }),
            changed(&|p| p.sealed_at = -7),
        ];
        for p in &payloads {
            assert_eq!(
                String::from_utf8(payload_json(p).to_vec()).unwrap(),
                serde_json::to_string(p).unwrap()
            );
        }
    }

    #[test]
    fn base64url_matches_the_base64_crate() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for len in 0..100 {
            let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            assert_eq!(encode_b64url(&bytes), URL_SAFE_NO_PAD.encode(&bytes));
        }
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=.";
        let alphabet = alphabet.as_bytes();
        for i in 0..20_000 {
            let len = 42 + (i % 3);
            let mut text: Vec<u8> = (0..len).map(|_| alphabet[(next() % 64) as usize]).collect();
            if i % 10 == 0 {
                let at = (next() % len as u64) as usize;
                text[at] = alphabet[64 + (next() % 4) as usize];
            }
            let text = String::from_utf8(text).unwrap();
            let expected = URL_SAFE_NO_PAD.decode(&text).ok().filter(|k| k.len() == 32);
            assert_eq!(decode_key(&text).map(|k| k.to_vec()), expected, "{text}");
        }
        let keys = KeyPair::generate();
        assert_eq!(decode_key(&keys.public_b64()), Some(*keys.public_bytes()));
        assert_eq!(decode_key(&format!("{}=", keys.public_b64())), None);
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

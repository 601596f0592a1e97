//! Webhook signatures, shared by the gateway (which signs deliveries) and merchants (who
//! verify them). The header is
//! `Payframe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
//!
//! The HMAC key is the webhook secret exactly as the gateway shows it (`whsec_…`), taken as
//! its UTF-8 bytes, prefix included. `<body>` is the raw request body, byte for byte: verify
//! before parsing, since re-serialised JSON rarely has the same bytes. While a secret
//! rotates the gateway may send several `v1=` entries (one per secret); one match is
//! enough. Schemes other than `v1` (say `v0=`) are ignored, so new ones can be added
//! without breaking existing verifiers.

use core::time::Duration;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "Payframe-Signature";

/// How far the signed timestamp may be from the verifier's clock, either way. Bounds how
/// long a captured delivery can be replayed; tolerates ordinary clock skew.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

type HmacSha256 = Hmac<Sha256>;

/// Why a webhook failed verification. The variants are stable; treat every one as "do not
/// trust this request" and answer 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The header is not `t=<digits>,v1=<64 hex digits>[,…]`; the text says what is wrong.
    #[error("malformed signature header: {0}")]
    MalformedHeader(&'static str),
    /// The header has a timestamp but no `v1=` signature.
    #[error("no v1 signature in the header")]
    NoSignature,
    /// The signature matches, but the timestamp is further than the tolerance from now
    /// (a replay of an old delivery, a timestamp in the future, or a badly wrong clock).
    #[error("timestamp {timestamp} is outside the tolerance of {tolerance_secs} s (now {now})")]
    TimestampOutsideTolerance {
        timestamp: i64,
        now: i64,
        tolerance_secs: u64,
    },
    /// No `v1=` signature matches this secret and body.
    #[error("no signature matches the body and secret")]
    SignatureMismatch,
}

/// The full `Payframe-Signature` value for `body` signed at `timestamp` (unix seconds, not
/// negative) with `secret`: `t=<timestamp>,v1=<hex>`.
pub fn sign(secret: impl AsRef<[u8]>, timestamp: i64, body: &[u8]) -> String {
    sign_with_secrets(&[secret], timestamp, body)
}

/// Like [`sign`], with one `v1=` entry per secret, in order: what the gateway sends while a
/// webhook secret rotates, so merchants holding either secret can verify.
pub fn sign_with_secrets<S: AsRef<[u8]>>(secrets: &[S], timestamp: i64, body: &[u8]) -> String {
    let t = timestamp.to_string();
    let mut header = format!("t={t}");
    for secret in secrets {
        let tag = mac(secret.as_ref(), &t, body).finalize().into_bytes();
        header.push_str(",v1=");
        header.push_str(&hex::encode(tag));
    }
    header
}

/// Checks a `Payframe-Signature` header against the raw `body` and the webhook `secret`,
/// with `now` in unix seconds. Returns the signed timestamp.
///
/// Accepts the delivery when any `v1=` entry is the HMAC of `"<t>.<body>"` (compared in
/// constant time) and `t` is within `tolerance` of `now` in either direction.
pub fn verify(
    secret: impl AsRef<[u8]>,
    header: &str,
    body: &[u8],
    now: i64,
    tolerance: Duration,
) -> Result<i64, VerifyError> {
    let parsed = parse(header)?;
    if parsed.signatures.is_empty() {
        return Err(VerifyError::NoSignature);
    }
    // The body is hashed once; each candidate finishes a copy of that state. The MAC runs
    // over the timestamp text as sent: it is what the gateway signed.
    let state = mac(secret.as_ref(), parsed.timestamp_text, body);
    let matched = parsed
        .signatures
        .iter()
        .any(|tag| state.clone().verify_slice(tag).is_ok());
    if !matched {
        return Err(VerifyError::SignatureMismatch);
    }
    let tolerance_secs = tolerance.as_secs();
    if now.abs_diff(parsed.timestamp) > tolerance_secs {
        return Err(VerifyError::TimestampOutsideTolerance {
            timestamp: parsed.timestamp,
            now,
            tolerance_secs,
        });
    }
    Ok(parsed.timestamp)
}

/// [`verify`] against the system clock with [`DEFAULT_TOLERANCE`]: what a merchant's server
/// calls. Not on wasm32, which has no system clock to read.
#[cfg(not(target_arch = "wasm32"))]
pub fn verify_now(secret: impl AsRef<[u8]>, header: &str, body: &[u8]) -> Result<i64, VerifyError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    verify(secret, header, body, now, DEFAULT_TOLERANCE)
}

fn mac(secret: &[u8], timestamp: &str, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

struct Parsed<'a> {
    timestamp: i64,
    timestamp_text: &'a str,
    signatures: Vec<[u8; 32]>,
}

fn parse(header: &str) -> Result<Parsed<'_>, VerifyError> {
    let mut timestamp: Option<(&str, i64)> = None;
    let mut signatures = Vec::new();
    for item in header.split(',') {
        let (key, value) = item
            .trim()
            .split_once('=')
            .ok_or(VerifyError::MalformedHeader("an entry is not key=value"))?;
        match key {
            "t" => {
                if timestamp.is_some() {
                    return Err(VerifyError::MalformedHeader("more than one t"));
                }
                // Digits only: no sign, no spaces, so the text the MAC covers is unambiguous.
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(VerifyError::MalformedHeader("t is not unix seconds"));
                }
                let seconds = value
                    .parse()
                    .map_err(|_| VerifyError::MalformedHeader("t is out of range"))?;
                timestamp = Some((value, seconds));
            }
            "v1" => {
                let mut tag = [0u8; 32];
                hex::decode_to_slice(value, &mut tag)
                    .map_err(|_| VerifyError::MalformedHeader("v1 is not 64 hex digits"))?;
                signatures.push(tag);
            }
            // Other schemes are for other verifiers; ignoring them keeps upgrades painless.
            _ => {}
        }
    }
    let (timestamp_text, timestamp) =
        timestamp.ok_or(VerifyError::MalformedHeader("no t (timestamp)"))?;
    Ok(Parsed {
        timestamp,
        timestamp_text,
        signatures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_3kTwP9mQ2xVb7nLc4RfYh8Jd6GsZ1AeU";
    const BODY: &[u8] = br#"{"id":"evt_1","object":"event","type":"payment.captured"}"#;
    const T: i64 = 1_767_225_600;

    fn check(header: &str, now: i64) -> Result<i64, VerifyError> {
        verify(SECRET, header, BODY, now, DEFAULT_TOLERANCE)
    }

    #[test]
    fn known_answer_matches_an_independent_hmac() {
        // python3: hmac.new(SECRET.encode(), b"1767225600." + BODY, hashlib.sha256).hexdigest()
        let expected = "t=1767225600,\
            v1=34715acd3b53351c53da1eeef607031bbf30a542ffe351cacd9ae0e36424fe9e";
        assert_eq!(sign(SECRET, T, BODY), expected);
        assert_eq!(check(expected, T), Ok(T));
    }

    #[test]
    fn round_trip_with_str_string_and_byte_secrets() {
        let header = sign(SECRET.as_bytes(), T, BODY);
        assert_eq!(check(&header, T + 10), Ok(T));
        // What a merchant holds after reading the secret from its environment.
        let owned = String::from(SECRET);
        assert_eq!(verify(&owned, &header, BODY, T, DEFAULT_TOLERANCE), Ok(T));
    }

    #[test]
    fn tampered_body_is_refused() {
        let header = sign(SECRET, T, BODY);
        let tampered = br#"{"id":"evt_1","object":"event","type":"payment.captured "}"#;
        assert_eq!(
            verify(SECRET, &header, tampered, T, DEFAULT_TOLERANCE),
            Err(VerifyError::SignatureMismatch)
        );
    }

    #[test]
    fn tampered_signature_or_wrong_secret_is_refused() {
        let header = sign(SECRET, T, BODY);
        let last = header.chars().last().unwrap();
        let flipped = if last == '0' { '1' } else { '0' };
        let tampered = format!("{}{flipped}", &header[..header.len() - 1]);
        assert_eq!(check(&tampered, T), Err(VerifyError::SignatureMismatch));
        let other = sign("whsec_other", T, BODY);
        assert_eq!(check(&other, T), Err(VerifyError::SignatureMismatch));
    }

    #[test]
    fn timestamp_is_signed_too() {
        let header = sign(SECRET, T, BODY).replace("t=1767225600", "t=1767225601");
        assert_eq!(check(&header, T), Err(VerifyError::SignatureMismatch));
    }

    #[test]
    fn stale_timestamp_is_refused() {
        let header = sign(SECRET, T, BODY);
        assert_eq!(check(&header, T + 300), Ok(T), "the edge is still inside");
        assert_eq!(
            check(&header, T + 301),
            Err(VerifyError::TimestampOutsideTolerance {
                timestamp: T,
                now: T + 301,
                tolerance_secs: 300
            })
        );
        assert!(verify(SECRET, &header, BODY, T + 3600, Duration::from_secs(7200)).is_ok());
    }

    #[test]
    fn future_timestamp_is_refused() {
        let header = sign(SECRET, T, BODY);
        assert_eq!(check(&header, T - 300), Ok(T));
        assert!(matches!(
            check(&header, T - 301),
            Err(VerifyError::TimestampOutsideTolerance { .. })
        ));
    }

    #[test]
    fn any_v1_entry_may_match_during_rotation() {
        let old = "whsec_old";
        let both = sign_with_secrets(&[SECRET, old], T, BODY);
        assert_eq!(both.matches(",v1=").count(), 2);
        assert_eq!(check(&both, T), Ok(T), "new secret");
        assert_eq!(
            verify(old, &both, BODY, T, DEFAULT_TOLERANCE),
            Ok(T),
            "old secret"
        );
        assert_eq!(
            verify("whsec_neither", &both, BODY, T, DEFAULT_TOLERANCE),
            Err(VerifyError::SignatureMismatch)
        );
    }

    #[test]
    fn unknown_schemes_and_spaces_are_ignored() {
        let v1 = sign(SECRET, T, BODY);
        let header = format!("v0=deadbeef, {v1}, v2=whatever");
        assert_eq!(check(&header, T), Ok(T));
    }

    #[test]
    fn malformed_headers_are_refused() {
        let sig = "34715acd3b53351c53da1eeef607031bbf30a542ffe351cacd9ae0e36424fe9e";
        let malformed = |header: &str| {
            assert!(
                matches!(check(header, T), Err(VerifyError::MalformedHeader(_))),
                "{header:?} → {:?}",
                check(header, T)
            );
        };
        malformed("");
        malformed(&format!("v1={sig}")); // missing t
        malformed(&format!("t=,v1={sig}"));
        malformed(&format!("t=abc,v1={sig}"));
        malformed(&format!("t=-1767225600,v1={sig}"));
        malformed(&format!("t=+1767225600,v1={sig}"));
        malformed(&format!("t=99999999999999999999,v1={sig}"));
        malformed(&format!("t=1767225600,t=1767225600,v1={sig}")); // duplicate t
        malformed(&format!("t=1767225600,v1={}", &sig[1..])); // odd hex
        malformed(&format!("t=1767225600,v1={}", &sig[2..])); // short
        malformed(&format!("t=1767225600,v1={sig}00")); // long
        malformed(&format!("t=1767225600,v1={}", sig.replace('a', "g")));
        malformed(&format!("t=1767225600,v1={sig},"));
        malformed(&format!("t=1767225600;v1={sig}"));
        assert_eq!(check("t=1767225600", T), Err(VerifyError::NoSignature));
        assert_eq!(
            check("t=1767225600,v0=abcd", T),
            Err(VerifyError::NoSignature)
        );
    }

    #[test]
    fn upper_case_hex_is_accepted() {
        let header = sign(SECRET, T, BODY);
        let (t, v1) = header.split_once(",v1=").unwrap();
        let upper = format!("{t},v1={}", v1.to_ascii_uppercase());
        assert_eq!(check(&upper, T), Ok(T));
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn verify_now_uses_the_system_clock() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert_eq!(verify_now(SECRET, &sign(SECRET, now, BODY), BODY), Ok(now));
        assert!(verify_now(SECRET, &sign(SECRET, now - 3600, BODY), BODY).is_err());
    }
}

//! Identifiers and secrets with Stripe-style prefixes (`cs_`, `tok_`, `sk_test_`): object ids
//! that sort by creation time and are unguessable, and secrets that are random throughout.

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `len` base62 characters from the OS CSPRNG (rejection sampling keeps them uniform).
pub fn random_base62(len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        getrandom::fill(&mut buf).expect("the OS random number generator failed");
        for &b in &buf {
            // 248 = 4 * 62: bytes above it would bias the first characters.
            if b < 248 && out.len() < len {
                out.push(ALPHABET[usize::from(b % 62)] as char);
            }
        }
    }
    out
}

/// A new object id such as `pay_0Lq4bW1x9fT…`: 7 base62 characters of the creation time in
/// milliseconds, then 17 random ones (≈ 101 bits). Ids made later sort after earlier ones
/// (the alphabet is in ASCII order), so a new row's key lands beside the last one in every
/// B-tree index instead of on a random page: a group commit writes a few pages per index,
/// not one per row. The time is no secret — objects show their `created` anyway.
pub fn new_id(prefix: &str) -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{prefix}_{}{}", base62_fixed(millis, 7), random_base62(17))
}

/// `value` in `width` base62 digits, most significant first (the low digits if it is wider).
fn base62_fixed(mut value: u128, width: usize) -> String {
    let mut digits = vec![b'0'; width];
    for digit in digits.iter_mut().rev() {
        *digit = ALPHABET[(value % 62) as usize];
        value /= 62;
    }
    String::from_utf8(digits).expect("base62 digits are ASCII")
}

/// Fills a fresh array with OS randomness (keys, nonces).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).expect("the OS random number generator failed");
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_prefixed_and_distinct() {
        let a = super::new_id("tok");
        let b = super::new_id("tok");
        assert!(a.starts_with("tok_") && a.len() == 28);
        assert_ne!(a, b);
        assert!(a[4..].bytes().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn ids_sort_by_creation_time() {
        let earlier = super::new_id("pay");
        let start = std::time::Instant::now();
        // The next millisecond, measured by the clock rather than slept for.
        let mut later = super::new_id("pay");
        while later[4..11] == earlier[4..11] {
            assert!(start.elapsed().as_secs() < 5, "the clock did not move");
            later = super::new_id("pay");
        }
        assert!(later > earlier, "{later} should sort after {earlier}");
    }

    #[test]
    fn base62_digits_keep_numeric_order() {
        assert_eq!(super::base62_fixed(0, 3), "000");
        assert_eq!(super::base62_fixed(61, 3), "00z");
        assert_eq!(super::base62_fixed(62, 3), "010");
        let mut previous = String::new();
        for n in (0..200_000u128).step_by(997) {
            let digits = super::base62_fixed(n, 7);
            assert!(digits > previous);
            previous = digits;
        }
    }
}

//! Random, unguessable identifiers and secrets with Stripe-style prefixes (`cs_`, `tok_`, `sk_test_`).

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

/// A new object id such as `cs_3kTw…` (24 characters ≈ 143 bits after the prefix).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", random_base62(24))
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
}

//! Identifiers and secrets with Stripe-style prefixes (`cs_`, `tok_`, `sk_test_`): object ids
//! that sort by creation time and are unguessable, and secrets that are random throughout.

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `len` base62 characters from the OS CSPRNG (rejection sampling keeps them uniform). For
/// secrets: nothing of them exists before the call.
pub fn random_base62(len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        getrandom::fill(&mut buf).expect("the OS random number generator failed");
        push_base62(&mut out, &buf, len);
    }
    out
}

/// Appends base62 characters made of `bytes` to `out`, up to `len` characters.
fn push_base62(out: &mut String, bytes: &[u8], len: usize) {
    for &b in bytes {
        // 248 = 4 * 62: bytes above it would bias the first characters.
        if b < 248 && out.len() < len {
            out.push(ALPHABET[usize::from(b % 62)] as char);
        }
    }
}

/// `len` base62 characters for an object id: OS randomness too, but drawn 4 KiB at a time
/// into a buffer of the thread's, one system call per ~150 ids instead of one each (a
/// confirm makes half a dozen ids). Ids are not secrets, so holding their randomness a
/// little ahead is fine; secrets use [`random_base62`].
fn id_base62(len: usize) -> String {
    struct Pool {
        bytes: [u8; 4096],
        used: usize,
    }
    thread_local! {
        static POOL: std::cell::RefCell<Pool> =
            const { std::cell::RefCell::new(Pool { bytes: [0; 4096], used: 4096 }) };
    }
    POOL.with_borrow_mut(|pool| {
        let mut out = String::with_capacity(len);
        while out.len() < len {
            if pool.used == pool.bytes.len() {
                getrandom::fill(&mut pool.bytes).expect("the OS random number generator failed");
                pool.used = 0;
            }
            let take = (pool.bytes.len() - pool.used).min(len - out.len());
            let chunk = &mut pool.bytes[pool.used..pool.used + take];
            push_base62(&mut out, chunk, len);
            // Used bytes are not kept around.
            chunk.fill(0);
            pool.used += take;
        }
        out
    })
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
    format!("{prefix}_{}{}", base62_fixed(millis, 7), id_base62(17))
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
    fn id_randomness_is_uniform_over_the_alphabet() {
        let mut counts = [0u32; 62];
        for _ in 0..6_000 {
            for c in super::id_base62(17).bytes() {
                let i = super::ALPHABET.iter().position(|&a| a == c).unwrap();
                counts[i] += 1;
            }
        }
        // 102,000 characters: about 1,645 each; a character never or twice as often as
        // the rest would show a bias or a stuck buffer.
        let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(*min > 1_300 && *max < 2_000, "{counts:?}");
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

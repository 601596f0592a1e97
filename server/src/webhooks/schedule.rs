//! When a failed delivery is tried again: exponential backoff with jitter, about three days
//! in all, then the delivery is marked failed.
//!
//! | after attempt | next attempt in (±10 %) |
//! |---|---|
//! | 1 | 1 minute |
//! | 2 | 5 minutes |
//! | 3 | 30 minutes |
//! | 4 | 2 hours |
//! | 5 | 5 hours |
//! | 6 | 10 hours |
//! | 7 | 12 hours |
//! | 8 | 18 hours |
//! | 9 | 24 hours |
//! | 10 | — (failed) |
//!
//! Ten attempts over ≈ 71 h 36 min. The jitter spreads the retries of many deliveries that
//! failed together (an endpoint that was down) so they do not all arrive at once when it
//! comes back.

/// Seconds to wait after the n-th failed attempt (index n - 1), before the jitter.
pub const RETRY_DELAYS: [i64; 9] = [
    60,
    5 * 60,
    30 * 60,
    2 * 3600,
    5 * 3600,
    10 * 3600,
    12 * 3600,
    18 * 3600,
    24 * 3600,
];

/// Attempts in all: the first and one per retry delay.
pub const MAX_ATTEMPTS: i64 = RETRY_DELAYS.len() as i64 + 1;

/// The jitter, in tenths of a per cent either way (100 = ±10 %).
const JITTER_PER_MILLE: i64 = 100;

/// The shortest and longest wait after failed attempt number `attempts` (1-based), or
/// `None` once no attempt is left.
pub fn delay_bounds(attempts: i64) -> Option<(i64, i64)> {
    let base = *RETRY_DELAYS.get(usize::try_from(attempts - 1).ok()?)?;
    let spread = base * JITTER_PER_MILLE / 1000;
    Some((base - spread, base + spread))
}

/// The wait after failed attempt number `attempts`, placed within its bounds by `unit`
/// (a random number in [0, 1)); `None` when the delivery has had all its attempts.
pub fn delay(attempts: i64, unit: f64) -> Option<i64> {
    let (low, high) = delay_bounds(attempts)?;
    let unit = unit.clamp(0.0, 1.0);
    Some(low + ((high - low) as f64 * unit).round() as i64)
}

/// A uniform random number in [0, 1) from the OS generator, for [`delay`].
pub fn random_unit() -> f64 {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).expect("the OS random number generator failed");
    f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_spans_about_three_days_in_ten_attempts() {
        assert_eq!(MAX_ATTEMPTS, 10);
        let total: i64 = RETRY_DELAYS.iter().sum();
        assert_eq!(total, 71 * 3600 + 36 * 60);
        assert!(RETRY_DELAYS.windows(2).all(|w| w[0] < w[1]), "grows");
    }

    #[test]
    fn jitter_stays_within_ten_per_cent() {
        assert_eq!(delay_bounds(1), Some((54, 66)));
        assert_eq!(delay(1, 0.0), Some(54));
        assert_eq!(delay(1, 0.999_999), Some(66));
        assert_eq!(delay(4, 0.5), Some(7200));
        for attempt in 1..MAX_ATTEMPTS {
            let (low, high) = delay_bounds(attempt).unwrap();
            for _ in 0..50 {
                let d = delay(attempt, random_unit()).unwrap();
                assert!((low..=high).contains(&d), "{attempt}: {d}");
            }
        }
    }

    #[test]
    fn no_retry_after_the_last_attempt() {
        assert_eq!(delay(MAX_ATTEMPTS, 0.5), None);
        assert_eq!(delay(0, 0.5), None);
        assert!(delay(MAX_ATTEMPTS - 1, 0.5).is_some());
    }
}

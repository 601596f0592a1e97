//! What a run measured: per-request outcomes folded into counts by status and latency
//! percentiles (nearest rank over a sorted `Vec<Duration>`, reported in whole µs).

use std::collections::BTreeMap;
use std::time::Duration;

/// How one request ended: an HTTP status, or no response at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Status(u16),
    /// Connect, write or read failed: no status to show.
    Transport,
    /// `--seal inline` could not seal the card, so nothing was sent.
    SealFailed,
}

impl Outcome {
    pub fn label(self) -> String {
        match self {
            Outcome::Status(code) => code.to_string(),
            Outcome::Transport => "transport".to_owned(),
            Outcome::SealFailed => "seal_failed".to_owned(),
        }
    }
}

/// Latency percentiles in µs, of the requests that succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Percentiles {
    pub p50: u128,
    pub p90: u128,
    pub p99: u128,
    pub max: u128,
}

/// The summary of one timed phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub requests: usize,
    pub ok: usize,
    /// Every outcome other than the expected status, with its count.
    pub errors: BTreeMap<Outcome, usize>,
    pub latency: Percentiles,
}

impl Summary {
    pub fn error_count(&self) -> usize {
        self.errors.values().sum()
    }

    /// `none`, or `409:3 transport:1`.
    pub fn errors_label(&self) -> String {
        if self.errors.is_empty() {
            return "none".to_owned();
        }
        self.errors
            .iter()
            .map(|(outcome, n)| format!("{}:{n}", outcome.label()))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The value at nearest rank `ceil(pct/100 · n)` of an ascending slice (`pct` in 1..=100).
pub fn nearest_rank(sorted: &[Duration], pct: u32) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let n = sorted.len();
    let rank = (pct as usize * n).div_ceil(100).clamp(1, n);
    sorted[rank - 1]
}

/// Folds outcomes into a summary; latencies count only for `expected` responses.
pub fn summarize(results: Vec<(Outcome, Duration)>, expected: u16) -> Summary {
    let requests = results.len();
    let mut errors = BTreeMap::new();
    let mut latencies = Vec::with_capacity(requests);
    for (outcome, elapsed) in results {
        if outcome == Outcome::Status(expected) {
            latencies.push(elapsed);
        } else {
            *errors.entry(outcome).or_insert(0) += 1;
        }
    }
    latencies.sort_unstable();
    let us = |pct| nearest_rank(&latencies, pct).as_micros();
    Summary {
        requests,
        ok: latencies.len(),
        errors,
        latency: Percentiles {
            p50: us(50),
            p90: us(90),
            p99: us(99),
            max: latencies.last().map_or(0, Duration::as_micros),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(v: u64) -> Duration {
        Duration::from_micros(v)
    }

    #[test]
    fn nearest_rank_of_one_to_a_hundred_is_the_percentile_itself() {
        let sorted: Vec<Duration> = (1..=100).map(us).collect();
        assert_eq!(nearest_rank(&sorted, 50), us(50));
        assert_eq!(nearest_rank(&sorted, 99), us(99));
        assert_eq!(nearest_rank(&sorted, 100), us(100));
        assert_eq!(nearest_rank(&sorted, 1), us(1));
    }

    #[test]
    fn nearest_rank_rounds_the_rank_up_and_handles_tiny_inputs() {
        let sorted = [us(10), us(20), us(30)];
        // ceil(0.5 · 3) = 2, ceil(0.99 · 3) = 3
        assert_eq!(nearest_rank(&sorted, 50), us(20));
        assert_eq!(nearest_rank(&sorted, 99), us(30));
        assert_eq!(nearest_rank(&[us(7)], 50), us(7));
        assert_eq!(nearest_rank(&[], 99), Duration::ZERO);
    }

    #[test]
    fn summary_counts_errors_by_status_and_times_only_successes() {
        let results = vec![
            (Outcome::Status(200), us(300)),
            (Outcome::Status(200), us(100)),
            (Outcome::Status(409), us(5)),
            (Outcome::Transport, us(1)),
            (Outcome::Status(200), us(200)),
            (Outcome::Status(409), us(6)),
        ];
        let summary = summarize(results, 200);
        assert_eq!(summary.requests, 6);
        assert_eq!(summary.ok, 3);
        assert_eq!(summary.error_count(), 3);
        assert_eq!(summary.errors_label(), "409:2 transport:1");
        assert_eq!(
            summary.latency,
            Percentiles {
                p50: 200,
                p90: 300,
                p99: 300,
                max: 300
            }
        );
    }

    #[test]
    fn a_clean_run_says_none() {
        let summary = summarize(vec![(Outcome::Status(200), us(1))], 200);
        assert_eq!(summary.errors_label(), "none");
    }
}

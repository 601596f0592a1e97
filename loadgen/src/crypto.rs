//! The crypto-only ceiling of the confirm path: Envelope v1 opens per second with
//! `KeyPair::open` (HPKE X25519 + AES-256-GCM, then the card JSON) on N threads at once,
//! each opening envelopes sealed before the clock starts. A confirm cannot go faster than
//! this on the same cores, since the gateway opens one envelope per confirm.

use payframe_core::envelope::{CardPayload, Envelope, KeyPair, seal};
use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

/// Distinct envelopes (one per fake session) each thread cycles through.
const ENVELOPES_PER_THREAD: usize = 64;

pub struct Ceiling {
    pub threads: usize,
    pub opens: u64,
    pub wall: Duration,
    /// Cores the hypervisor took away while the opens ran (`None` without `/proc`).
    pub steal: Option<f64>,
}

impl Ceiling {
    pub fn opens_per_second(&self) -> f64 {
        self.opens as f64 / self.wall.as_secs_f64()
    }

    /// Mean time of one open on one thread, in µs.
    pub fn micros_per_open_per_thread(&self) -> u128 {
        let per_thread = (self.opens / self.threads as u64).max(1);
        self.wall.as_micros() / u128::from(per_thread)
    }
}

pub fn test_card(sealed_at: i64) -> CardPayload {
    CardPayload {
        number: "4242424242424242".into(),
        exp_month: 12,
        exp_year: 2030,
        cvc: "123".into(),
        sealed_at,
        name: None,
        postal_code: None,
    }
}

/// Opens `iterations` envelopes on each of `threads` threads; the clock runs from when all
/// threads are ready until the last one finishes.
pub fn measure(threads: usize, iterations: u64) -> anyhow::Result<Ceiling> {
    let key = KeyPair::generate();
    let public = key.public_b64();
    let kid = "kid_ceiling";
    let now = crate::unix_now();
    let mut sets: Vec<Vec<(String, Envelope)>> = Vec::with_capacity(threads);
    for t in 0..threads {
        let mut set = Vec::with_capacity(ENVELOPES_PER_THREAD);
        for i in 0..ENVELOPES_PER_THREAD {
            let session = format!("cs_ceiling_{t}_{i}");
            let envelope = seal(&public, kid, &session, &test_card(now))
                .map_err(|e| anyhow::anyhow!("sealing: {e}"))?;
            set.push((session, envelope));
        }
        sets.push(set);
    }
    let barrier = Barrier::new(threads + 1);
    let key = &key;
    let barrier = &barrier;
    let (wall, failures, machine_before) = std::thread::scope(|scope| {
        let workers: Vec<_> = sets
            .iter()
            .map(|set| {
                scope.spawn(move || {
                    barrier.wait();
                    let mut failures = 0u64;
                    for i in 0..iterations {
                        let (session, envelope) = &set[i as usize % set.len()];
                        match key.open(session, envelope) {
                            Ok(card) => {
                                black_box(&card);
                            }
                            Err(_) => failures += 1,
                        }
                    }
                    failures
                })
            })
            .collect();
        let machine_before = crate::cpu::machine();
        barrier.wait();
        let started = Instant::now();
        let failures: u64 = workers
            .into_iter()
            .map(|w| w.join().expect("ceiling thread panicked"))
            .sum();
        let wall = started.elapsed();
        (wall, failures, machine_before)
    });
    let steal = crate::cpu::steal_between(machine_before.as_ref(), crate::cpu::machine().as_ref());
    anyhow::ensure!(failures == 0, "{failures} envelopes failed to open");
    Ok(Ceiling {
        threads,
        opens: iterations * threads as u64,
        wall,
        steal,
    })
}

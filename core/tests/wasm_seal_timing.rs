//! How long sealing one card takes in the browser: Envelope v1 `seal` compiled to wasm32 and
//! run in headless Chromium, timed call by call with `performance.now()`. Prints the median
//! and p99 in microseconds; asserts only that the envelopes are right, never a time.
//!
//! The figure means something only in release mode with enough iterations:
//!     PAYFRAME_SEAL_ITERATIONS=500 cargo test --release --target wasm32-unknown-unknown \
//!         -p payframe-core --test wasm_seal_timing
//! (`scripts/bench.sh` does this). In the debug run of `scripts/test.sh` it is a quick
//! smoke test of a few dozen seals.
#![cfg(target_arch = "wasm32")]

use payframe_core::envelope::{CardPayload, KeyPair, seal};
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// Timed seals; set at compile time so that the test run stays quick and bench.sh can ask
/// for more.
const DEFAULT_ITERATIONS: usize = 20;
const WARM_UP: usize = 50;

fn iterations() -> usize {
    match option_env!("PAYFRAME_SEAL_ITERATIONS") {
        Some(n) => n
            .parse()
            .expect("PAYFRAME_SEAL_ITERATIONS must be a positive integer"),
        None => DEFAULT_ITERATIONS,
    }
}

/// The value at quantile `q` of sorted samples (nearest rank).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[wasm_bindgen_test]
fn seal_timing_in_the_browser() {
    let performance = web_sys::window()
        .expect("a browser window")
        .performance()
        .expect("window.performance");
    let keys = KeyPair::generate();
    let public = keys.public_b64();
    // As the frame seals it: 16-digit PAN, name and postal code filled in.
    let payload = CardPayload {
        number: "4242424242424242".into(),
        exp_month: 12,
        exp_year: 2030,
        cvc: "123".into(),
        sealed_at: 1_795_000_000,
        name: Some("Maria Oliveira Santos".into()),
        postal_code: Some("01310-100".into()),
    };
    let (kid, session) = (
        "kid_3kTwq9ZbX2mN7pLr4sVy8cHd",
        "cs_9fQe2Lm7Tx4Kb8Wn1Zr5Yv3J",
    );

    // Warm-up: the first calls pay for JIT tier-up of the wasm and the first getrandom call.
    for _ in 0..WARM_UP {
        seal(&public, kid, session, &payload).expect("seal");
    }

    let n = iterations();
    assert!(n > 0, "PAYFRAME_SEAL_ITERATIONS must be positive");
    let mut micros = Vec::with_capacity(n);
    let mut last = None;
    let loop_start = performance.now();
    for _ in 0..n {
        let start = performance.now();
        let envelope = seal(&public, kid, session, &payload).expect("seal");
        micros.push((performance.now() - start) * 1000.0);
        last = Some(envelope);
    }
    // The mean over the whole loop does not depend on the timer's granularity.
    let mean = (performance.now() - loop_start) * 1000.0 / n as f64;
    micros.sort_by(f64::total_cmp);
    // Chromium coarsens performance.now() to 100 us unless the page is cross-origin isolated
    // (then 5 us); wasm-bindgen-test-runner serves COOP/COEP headers, so it should be.
    let isolated = js_sys::Reflect::get(&js_sys::global(), &"crossOriginIsolated".into())
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    console_log!(
        "wasm seal ({build}, n={n}, crossOriginIsolated={isolated}): median {:.1} us, \
         p99 {:.1} us, min {:.1} us, max {:.1} us, mean {mean:.1} us",
        quantile(&micros, 0.5),
        quantile(&micros, 0.99),
        micros[0],
        micros[n - 1],
    );

    // The only assertion: what was timed is a valid envelope for this session.
    let envelope = last.expect("at least one seal");
    assert_eq!(keys.open(session, &envelope).expect("open"), payload);
}

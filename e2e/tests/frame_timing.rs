//! Start-up of the frame, measured (not asserted): from the iframe's navigation start to
//! the frame's `ready` (fields rendered, key fetched), median of 20 loads with a cold cache
//! (a fresh browser profile per load) and a warm one (reloads in one browser). Run with
//! `cargo test --release -p payframe-e2e --test frame_timing -- --ignored --nocapture`.

mod support;

use payframe_e2e::Browser;
use support::Stack;
use support::checkout::open_checkout;

const LOADS: usize = 20;

/// Milliseconds from the frame's navigation start to its `payframe-ready` mark.
async fn time_to_ready(browser: &Browser, shop_url: &str) -> f64 {
    open_checkout(browser, shop_url).await;
    browser.switch_to_frame("#card iframe").await.unwrap();
    let ms = browser
        .wait_until(
            "const m = performance.getEntriesByName('payframe-ready')[0]; return m ? m.startTime : null",
            vec![],
        )
        .await
        .unwrap();
    browser.switch_to_parent().await.unwrap();
    ms.as_f64().unwrap()
}

fn summary(mut samples: Vec<f64>) -> String {
    samples.sort_by(f64::total_cmp);
    let at = |q: usize| samples[(samples.len() - 1) * q / 100];
    format!(
        "median {:.0} ms, min {:.0} ms, p90 {:.0} ms (n={})",
        at(50),
        samples[0],
        at(90),
        samples.len()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement for BENCHMARKS.md; run with --ignored --nocapture"]
async fn frame_time_to_ready() {
    let stack = Stack::start().await;
    let mut cold = Vec::new();
    for _ in 0..LOADS {
        let browser = Browser::start().await.unwrap();
        cold.push(time_to_ready(&browser, &stack.shop_url).await);
        browser.close().await.unwrap();
    }
    let browser = Browser::start().await.unwrap();
    time_to_ready(&browser, &stack.shop_url).await;
    let mut warm = Vec::new();
    for _ in 0..LOADS {
        warm.push(time_to_ready(&browser, &stack.shop_url).await);
    }
    browser.close().await.unwrap();
    println!("frame start-up, cold cache: {}", summary(cold));
    println!("frame start-up, warm cache: {}", summary(warm));
}

//! Screenshots of the checkout for people to look at (not an assertion of looks):
//! `cargo test -p payframe-e2e --test screenshots -- --ignored` writes PNGs of the demo
//! shop's checkout — empty, with an invalid number, paid — to `target/screenshots/`.

mod support;

use payframe_e2e::Browser;
use support::{Stack, workspace_root};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes screenshots for review; run with --ignored"]
async fn checkout_screenshots() {
    let stack = Stack::start().await;
    let out = workspace_root().join("target/screenshots");
    let browser = Browser::start().await.unwrap();
    browser.goto(&stack.shop_url).await.unwrap();
    browser.wait_for("#pay:not([disabled])").await.unwrap();
    browser
        .screenshot(out.join("checkout-empty.png"))
        .await
        .unwrap();

    browser.switch_to_frame("#card iframe").await.unwrap();
    browser
        .wait_for("#pf-number")
        .await
        .unwrap()
        .send_keys("4242424242424241")
        .await
        .unwrap();
    browser.wait_for("#pf-number-error").await.unwrap();
    browser.switch_to_parent().await.unwrap();
    browser
        .screenshot(out.join("checkout-invalid.png"))
        .await
        .unwrap();

    browser.switch_to_frame("#card iframe").await.unwrap();
    let number = browser.wait_for("#pf-number").await.unwrap();
    number.clear().await.unwrap();
    number.send_keys("4242424242424242").await.unwrap();
    browser
        .wait_for("#pf-expiry")
        .await
        .unwrap()
        .send_keys("1230")
        .await
        .unwrap();
    browser
        .wait_for("#pf-cvc")
        .await
        .unwrap()
        .send_keys("123")
        .await
        .unwrap();
    browser.switch_to_parent().await.unwrap();
    browser
        .screenshot(out.join("checkout-filled.png"))
        .await
        .unwrap();
    browser
        .wait_for("#pay")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_until("return !!window.lastPaymentResult", vec![])
        .await
        .unwrap();
    browser
        .screenshot(out.join("checkout-paid.png"))
        .await
        .unwrap();
    browser.close().await.unwrap();
}

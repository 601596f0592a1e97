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

/// The form in each theme, language and a phone's width, with an error showing, for a
/// person to look at: `target/screenshots/frame-<variant>.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes screenshots for review; run with --ignored"]
async fn frame_variant_screenshots() {
    let stack = Stack::start().await;
    let out = workspace_root().join("target/screenshots");
    let browser = Browser::start().await.unwrap();
    // (file name, shop query, window width, with the name and postal code fields)
    let variants = [
        ("light-en", "?locale=en", 1280, false),
        ("night-en", "?locale=en&theme=night", 1280, false),
        ("flat-en", "?locale=en&theme=flat", 1280, false),
        ("light-pt-BR", "?locale=pt-BR", 1280, true),
        ("light-zh-CN", "?locale=zh-CN", 1280, true),
        ("night-zh-CN", "?locale=zh-CN&theme=night", 1280, false),
        ("phone-320-pt-BR", "?locale=pt-BR", 320, true),
        ("phone-312-en", "?locale=en&theme=flat", 312, false),
    ];
    for (name, query, width, optional_fields) in variants {
        browser.client().set_window_size(width, 900).await.unwrap();
        browser
            .goto(&format!("{}/{query}", stack.shop_url))
            .await
            .unwrap();
        browser.wait_for("#pay:not([disabled])").await.unwrap();
        if optional_fields {
            browser
                .eval(
                    "window.payframeCard.update({ fields: { name: true, postalCode: true } })",
                    vec![],
                )
                .await
                .unwrap();
        }
        browser.switch_to_frame("#card iframe").await.unwrap();
        if optional_fields {
            browser.wait_for("#pf-postal").await.unwrap();
        }
        // An invalid number shows its error; the expiry gets focus.
        browser
            .wait_for("#pf-number")
            .await
            .unwrap()
            .send_keys("4242424242424241")
            .await
            .unwrap();
        browser
            .wait_for("#pf-expiry")
            .await
            .unwrap()
            .send_keys("12")
            .await
            .unwrap();
        browser
            .wait_until(
                "return document.querySelector('#pf-number-error').textContent !== ''",
                vec![],
            )
            .await
            .unwrap();
        browser
            .wait_until(
                "return document.body.offsetHeight <= window.innerHeight",
                vec![],
            )
            .await
            .unwrap();
        browser.switch_to_parent().await.unwrap();
        browser
            .screenshot(out.join(format!("frame-{name}.png")))
            .await
            .unwrap();
    }
    browser.close().await.unwrap();
}

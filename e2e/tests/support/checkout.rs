//! The demo shop's checkout as a shopper drives it: open the page, type a card into the
//! frame, press Pay and read how `submit()` settled.

use payframe_e2e::Browser;
use serde_json::Value;

/// Loads the shop's checkout and waits until the frame says it is ready.
pub async fn open_checkout(browser: &Browser, shop_url: &str) {
    browser.goto(shop_url).await.unwrap();
    browser.wait_for("#pay:not([disabled])").await.unwrap();
}

/// Types the card into the frame's fields, then returns to the shop page.
pub async fn type_card(browser: &Browser, number: &str, expiry: &str, cvc: &str) {
    browser.switch_to_frame("#card iframe").await.unwrap();
    for (field, value) in [
        ("#pf-number", number),
        ("#pf-expiry", expiry),
        ("#pf-cvc", cvc),
    ] {
        browser
            .wait_for(field)
            .await
            .unwrap()
            .send_keys(value)
            .await
            .unwrap();
    }
    browser.switch_to_parent().await.unwrap();
}

/// Clicks the shop's Pay button and waits for the promise of `submit()` to settle:
/// `{ok: result}` or `{err: {code, declineCode, message}}`.
pub async fn pay(browser: &Browser) -> Value {
    browser
        .wait_for("#pay")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_until(
            "return window.lastPaymentResult ? {ok: window.lastPaymentResult} \
             : window.lastPaymentError ? {err: window.lastPaymentError} : null",
            vec![],
        )
        .await
        .unwrap()
}

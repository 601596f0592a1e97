//! Each test card of DESIGN.md through the real frame in Chromium: the shop page's
//! `submit()` resolves for the approved cards and rejects with `card_declined` and the
//! issuer's decline code for the others, and the frame tells the shopper.

mod support;

use payframe_e2e::Browser;
use serde_json::Value;
use support::Stack;
use support::checkout::{open_checkout, pay, type_card};

async fn pay_with(browser: &Browser, shop: &str, number: &str, cvc: &str) -> Value {
    open_checkout(browser, shop).await;
    type_card(browser, number, "12 / 30", cvc).await;
    pay(browser).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_test_card_has_its_outcome_through_the_frame() {
    let stack = Stack::start().await;
    let browser = Browser::start().await.unwrap();
    for (number, cvc, brand) in [
        ("4242 4242 4242 4242", "123", "visa"),
        ("5555 5555 5555 4444", "123", "mastercard"),
        ("3782 822463 10005", "1234", "amex"),
    ] {
        let outcome = pay_with(&browser, &stack.shop_url, number, cvc).await;
        assert_eq!(
            outcome["ok"]["payment_method"]["brand"], brand,
            "{number}: {outcome}"
        );
        assert_eq!(
            outcome["ok"]["payment"]["status"], "captured",
            "{number}: {outcome}"
        );
    }
    for (number, decline) in [
        ("4000 0000 0000 0002", "do_not_honor"),
        ("4000 0000 0000 9995", "insufficient_funds"),
        ("4000 0000 0000 0069", "expired_card"),
        ("4000 0000 0000 0127", "incorrect_cvc"),
        ("4000 0000 0000 0119", "processing_error"),
    ] {
        let outcome = pay_with(&browser, &stack.shop_url, number, "123").await;
        assert_eq!(
            outcome["err"]["code"], "card_declined",
            "{number}: {outcome}"
        );
        assert_eq!(
            outcome["err"]["declineCode"], decline,
            "{number}: {outcome}"
        );
        // The shopper reads why in the frame, not only the merchant's page.
        browser.switch_to_frame("#card iframe").await.unwrap();
        let shown = browser
            .wait_until(
                "const o = document.querySelector('.pf-outcome'); return o && o.textContent.trim()",
                vec![],
            )
            .await
            .unwrap();
        assert!(!shown.as_str().unwrap_or_default().is_empty(), "{number}");
        browser.switch_to_parent().await.unwrap();
    }
    browser.close().await.unwrap();
}

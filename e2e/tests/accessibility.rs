//! axe-core (npm, pinned in tools.versions) run inside the frame in Chromium: no
//! violations in each language and theme, with the form empty and with errors showing.

mod support;

use payframe_e2e::Browser;
use support::checkout::open_checkout;
use support::{Stack, axe_source, axe_violations};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_frame_has_no_axe_violations_in_any_language_or_theme() {
    let stack = Stack::start().await;
    let axe = axe_source();
    let browser = Browser::start().await.unwrap();
    for (locale, theme) in [("en", "default"), ("pt-BR", "night"), ("zh-CN", "flat")] {
        open_checkout(
            &browser,
            &format!("{}/?locale={locale}&theme={theme}", stack.shop_url),
        )
        .await;
        browser.switch_to_frame("#card iframe").await.unwrap();
        browser.wait_for("#pf-number").await.unwrap();
        let empty = axe_violations(&browser, &axe).await;
        assert_eq!(empty, serde_json::json!([]), "{locale}/{theme}, empty form");

        // With errors showing (invalid number, then leave the field).
        browser
            .wait_for("#pf-number")
            .await
            .unwrap()
            .send_keys("4242424242424241")
            .await
            .unwrap();
        browser
            .wait_for("#pf-cvc")
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        browser
            .wait_until(
                "return document.querySelector('#pf-number[aria-invalid=true]')",
                vec![],
            )
            .await
            .unwrap();
        let with_errors = axe_violations(&browser, &axe).await;
        assert_eq!(
            with_errors,
            serde_json::json!([]),
            "{locale}/{theme}, errors shown"
        );
        browser.switch_to_parent().await.unwrap();
    }
    browser.close().await.unwrap();
}

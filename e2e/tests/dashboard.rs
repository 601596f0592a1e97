//! The merchant dashboard in Chromium, after a shopper has paid on the demo shop: the
//! merchant signs in with the shop's secret key through the real form, reads the
//! overview's figures, visits the refunds, opens a payment, and signs out; axe-core finds no
//! violations on any of the pages; the key is in no log line and no file of the gateway.
//! `-- --ignored` also writes screenshots to `target/screenshots/`.

mod support;

use payframe_e2e::Browser;
use serde_json::json;
use support::checkout::{open_checkout, pay, type_card};
use support::{Stack, axe_source, axe_violations, workspace_root};

/// One payment authorized and captured, one declined for insufficient funds.
async fn two_payments(stack: &Stack, browser: &Browser) {
    for (number, outcome) in [("4242424242424242", "ok"), ("4000000000009995", "err")] {
        open_checkout(browser, &stack.shop_url).await;
        type_card(browser, number, "1230", "123").await;
        let settled = pay(browser).await;
        assert!(settled.get(outcome).is_some(), "{number}: {settled}");
    }
}

/// Signs in through the form and waits for the overview.
async fn sign_in(stack: &Stack, browser: &Browser) {
    browser
        .goto(&format!("{}/dashboard", stack.gateway_url))
        .await
        .unwrap();
    // Not signed in: the dashboard sends the browser to its sign-in form.
    browser
        .wait_for("#api_key")
        .await
        .unwrap()
        .send_keys(&stack.secret_key)
        .await
        .unwrap();
    browser
        .wait_for("form button[type=submit]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.wait_for_text("main h1", "Overview").await.unwrap();
}

/// Opens the first payment of the overview's latest payments and waits for its page.
async fn open_latest_payment(browser: &Browser) {
    browser
        .wait_for("main table a[href^='/dashboard/payments/pay_']")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.wait_for("dl.facts").await.unwrap();
}

/// The trimmed text of the first element matching `css`.
async fn text(browser: &Browser, css: &str) -> String {
    browser
        .eval(
            "return document.querySelector(arguments[0]).textContent.trim();",
            vec![json!(css)],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_signs_in_reads_the_overview_opens_a_payment_and_signs_out() {
    let stack = Stack::start().await;
    let axe = axe_source();
    let browser = Browser::start().await.unwrap();
    two_payments(&stack, &browser).await;

    browser
        .goto(&format!("{}/dashboard", stack.gateway_url))
        .await
        .unwrap();
    browser.wait_for("#api_key").await.unwrap();
    assert_eq!(axe_violations(&browser, &axe).await, json!([]), "sign-in");
    sign_in(&stack, &browser).await;

    assert_eq!(text(&browser, ".tile:nth-child(1) .figure").await, "2");
    assert_eq!(text(&browser, ".tile:nth-child(2) .figure").await, "50.0 %");
    assert_eq!(
        text(&browser, ".tile:nth-child(3) .figure").await,
        "49.90 BRL"
    );
    let declines = text(&browser, "section:nth-of-type(2) table tbody").await;
    assert!(declines.contains("insufficient_funds"), "{declines}");
    assert_eq!(axe_violations(&browser, &axe).await, json!([]), "overview");
    // The stylesheet loaded under the page's CSP (a blocked one leaves tables unstyled).
    let collapsed = browser
        .eval(
            "return getComputedStyle(document.querySelector('table')).borderCollapse;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(collapsed, "collapse");

    browser
        .wait_for("header nav a[href='/dashboard/refunds']")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.wait_for_text("main h1", "Refunds").await.unwrap();
    assert_eq!(axe_violations(&browser, &axe).await, json!([]), "refunds");
    browser
        .goto(&format!("{}/dashboard", stack.gateway_url))
        .await
        .unwrap();
    browser.wait_for_text("main h1", "Overview").await.unwrap();

    // The newest payment: the declined one.
    open_latest_payment(&browser).await;
    let facts = text(&browser, "dl.facts").await;
    assert!(
        facts.contains("insufficient_funds") && facts.contains("•••• 9995"),
        "{facts}"
    );
    assert_eq!(axe_violations(&browser, &axe).await, json!([]), "payment");

    browser
        .wait_for("header form button")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.wait_for("#api_key").await.unwrap();
    browser
        .goto(&format!("{}/dashboard", stack.gateway_url))
        .await
        .unwrap();
    browser.wait_for("#api_key").await.unwrap();
    browser.close().await.unwrap();

    // The key typed into the form is in no log line (at trace level) and on no file of
    // the gateway's data directory.
    assert!(
        !stack.logs().contains(&stack.secret_key),
        "the key was logged"
    );
    for (path, bytes) in stack.disk_bytes() {
        let key = stack.secret_key.as_bytes();
        assert!(
            !bytes.windows(key.len()).any(|w| w == key),
            "the key is in {}",
            path.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes screenshots for review; run with --ignored"]
async fn dashboard_screenshots() {
    let stack = Stack::start().await;
    let out = workspace_root().join("target/screenshots");
    let browser = Browser::start().await.unwrap();
    two_payments(&stack, &browser).await;
    browser
        .goto(&format!("{}/dashboard/sign-in", stack.gateway_url))
        .await
        .unwrap();
    browser.wait_for("#api_key").await.unwrap();
    browser
        .screenshot(out.join("dashboard-sign-in.png"))
        .await
        .unwrap();
    sign_in(&stack, &browser).await;
    browser
        .screenshot(out.join("dashboard-overview.png"))
        .await
        .unwrap();
    open_latest_payment(&browser).await;
    browser
        .screenshot(out.join("dashboard-payment.png"))
        .await
        .unwrap();
    browser
        .goto(&format!(
            "{}/dashboard/payments?status=failed",
            stack.gateway_url
        ))
        .await
        .unwrap();
    browser.wait_for("main table").await.unwrap();
    browser
        .screenshot(out.join("dashboard-declined.png"))
        .await
        .unwrap();
    browser.close().await.unwrap();
}

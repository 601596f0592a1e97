//! The thin real path, in a real headless Chromium: a shopper on the demo shop
//! (http://127.0.0.1:…) types a card into the frame served by the gateway
//! (http://localhost:…), the frame seals it in WebAssembly, and the shop page gets a token.

mod support;

use payframe_e2e::Browser;
use serde_json::Value;
use support::checkout::{self, pay, type_card};
use support::{Search, Stack, assert_no_pan};

const PAN: &str = "4242424242424242";

async fn open_checkout(stack: &Stack) -> Browser {
    let browser = Browser::start().await.expect("start Chromium");
    checkout::open_checkout(&browser, &stack.shop_url).await;
    browser
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shopper_pays_and_the_pan_never_leaves_the_frame_in_clear() {
    let stack = Stack::start().await;
    let browser = open_checkout(&stack).await;

    // The merchant page cannot read the frame's document: different origins.
    let access = browser
        .eval(
            "const f = document.querySelector('#card iframe');
             let doc = null; try { doc = f.contentDocument; } catch (e) {}
             try { f.contentWindow.document.title; return doc ? 'readable' : 'blocked'; }
             catch (e) { return doc ? 'readable' : 'blocked:' + e.name; }",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        access, "blocked:SecurityError",
        "the shop page could read the frame"
    );
    let frame_src = browser
        .eval("return document.querySelector('#card iframe').src", vec![])
        .await
        .unwrap();
    assert!(
        frame_src
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/frame/", stack.gateway_url))
    );

    type_card(&browser, "4242 4242 4242 4242", "12 / 30", "123").await;
    let outcome = pay(&browser).await;
    let result = &outcome["ok"];
    assert!(
        result["token"]
            .as_str()
            .is_some_and(|t| t.starts_with("tok_")),
        "{outcome}"
    );
    assert_eq!(result["payment_method"]["last4"], "4242");
    assert_eq!(result["payment_method"]["brand"], "visa");
    assert_eq!(result["payment_method"]["exp_year"], 2030);
    browser
        .wait_for_text("#outcome", "Paid with visa ending in 4242.")
        .await
        .unwrap();
    // The shop marks its order paid only when the gateway's signed webhook arrives and
    // verifies — not on the browser's word.
    let orders = browser
        .wait_until(
            "const x = new XMLHttpRequest(); x.open('GET', '/orders', false); x.send();
             return x.responseText.includes('<td>paid</td>') ? x.responseText : null;",
            vec![],
        )
        .await
        .unwrap();
    assert!(orders.as_str().unwrap().contains("pay_"), "{orders}");

    browser.switch_to_frame("#card iframe").await.unwrap();
    browser
        .wait_for_text(".pf-done", "Card ending in 4242 accepted.")
        .await
        .unwrap();
    // The gateway sent the frame's wasm compressed (brotli for Chromium).
    let wasm = browser
        .eval(
            "const e = performance.getEntriesByType('resource').find(r => r.name.endsWith('.wasm'));
             return e ? [e.encodedBodySize, e.decodedBodySize] : null",
            vec![],
        )
        .await
        .unwrap();
    let (encoded, decoded) = (wasm[0].as_u64().unwrap(), wasm[1].as_u64().unwrap());
    assert!(
        encoded * 2 < decoded,
        "wasm not compressed: {encoded} of {decoded} bytes"
    );
    browser.switch_to_parent().await.unwrap();

    // What the gateway received: a sealed envelope, never the number.
    let bodies = stack.bodies();
    let confirm = bodies
        .iter()
        .find(|(path, _)| path.ends_with("/confirm"))
        .expect("the gateway received the confirm request");
    let confirm: Value = serde_json::from_slice(&confirm.1).unwrap();
    assert_eq!(confirm["envelope"]["v"], 1);
    for (path, body) in &bodies {
        assert_no_pan(&format!("the body of {path}"), body, PAN, Search::Runs);
    }
    let logs = stack.logs();
    assert!(
        logs.contains("card tokenized"),
        "log capture is not working"
    );
    assert_no_pan("the gateway's log", logs.as_bytes(), PAN, Search::Runs);
    for (path, bytes) in stack.disk_bytes() {
        assert_no_pan(&path.display().to_string(), &bytes, PAN, Search::Whole);
    }
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_card_rejects_the_promise_with_a_code_and_tells_the_shopper() {
    let stack = Stack::start().await;
    let browser = open_checkout(&stack).await;
    type_card(&browser, "4242 4242 4242 4241", "12 / 30", "123").await;
    let outcome = pay(&browser).await;
    assert_eq!(outcome["err"]["code"], "validation_error", "{outcome}");
    browser.switch_to_frame("#card iframe").await.unwrap();
    browser
        .wait_for_text("#pf-number-error", "The card number is invalid.")
        .await
        .unwrap();
    let invalid = browser
        .eval(
            "return document.querySelector('#pf-number').getAttribute('aria-invalid')",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(invalid, "true");
    browser.close().await.unwrap();
}

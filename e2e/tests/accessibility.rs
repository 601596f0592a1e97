//! axe-core (npm, pinned in tools.versions) run inside the frame in Chromium: no
//! violations in each language and theme, with the form empty and with errors showing.

mod support;

use payframe_e2e::Browser;
use serde_json::Value;
use support::checkout::open_checkout;
use support::{Stack, workspace_root};

/// axe-core's source: `PAYFRAME_AXE_JS` (set by scripts/setup.sh), else where setup puts it.
fn axe_source() -> String {
    let path = std::env::var("PAYFRAME_AXE_JS").unwrap_or_else(|_| {
        let pins = std::fs::read_to_string(workspace_root().join("tools.versions")).unwrap();
        let version = pins
            .lines()
            .find_map(|l| l.strip_prefix("AXE_CORE_NPM_VERSION="))
            .expect("AXE_CORE_NPM_VERSION in tools.versions");
        let cache = std::env::var("PAYFRAME_TOOLS").unwrap_or_else(|_| {
            format!(
                "{}/.cache/payframe-tools",
                std::env::var("HOME").unwrap_or_default()
            )
        });
        format!("{cache}/axe-core-{version}/node_modules/axe-core/axe.min.js")
    });
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "axe-core not found at {path} ({e}): run `source scripts/setup.sh && setup_test_tools`"
        )
    })
}

/// Runs axe on the current document; returns the violations as `[{id, impact, nodes}]`.
async fn violations(browser: &Browser, axe: &str) -> Value {
    let loaded = browser
        .eval(&format!("{axe}\nreturn typeof axe;"), vec![])
        .await
        .unwrap();
    assert_eq!(loaded, "object", "axe-core did not load in the frame");
    browser
        .eval_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] })
               .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact,
                 nodes: v.nodes.map(n => n.target.join(' ')) }))))
               .catch(e => done([{ id: 'axe-error', impact: String(e), nodes: [] }]));",
            vec![],
        )
        .await
        .unwrap()
}

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
        let empty = violations(&browser, &axe).await;
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
        let with_errors = violations(&browser, &axe).await;
        assert_eq!(
            with_errors,
            serde_json::json!([]),
            "{locale}/{theme}, errors shown"
        );
        browser.switch_to_parent().await.unwrap();
    }
    browser.close().await.unwrap();
}

//! How the card form behaves for a shopper and a merchant, in a real headless Chromium:
//! grouping and caret, paste, brand, when errors show, focus moving on, languages,
//! autofill attributes, live `update()`, several instances on one page, and what a page
//! or a message of another origin can (not) do. No sleeps: every wait is on a condition.

mod support;

use payframe_e2e::Browser;
use serde_json::{Value, json};
use support::{Stack, serve_foreign_page};

const BACKSPACE: &str = "\u{E003}";

async fn open_shop(browser: &Browser, stack: &Stack, query: &str) {
    browser
        .goto(&format!("{}/{query}", stack.shop_url))
        .await
        .unwrap();
    browser.wait_for("#pay:not([disabled])").await.unwrap();
}

async fn js(browser: &Browser, script: &str) -> Value {
    browser.eval(script, vec![]).await.unwrap()
}

async fn value_of(browser: &Browser, css: &str) -> String {
    browser
        .eval(
            "return document.querySelector(arguments[0]).value",
            vec![json!(css)],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn active_id(browser: &Browser) -> Value {
    js(
        browser,
        "return document.activeElement && document.activeElement.id",
    )
    .await
}

/// Types `keys` into the field, first selecting all it holds so the keys replace it.
async fn replace_text(browser: &Browser, css: &str, keys: &str) {
    browser
        .eval(
            "const e = document.querySelector(arguments[0]); e.focus(); e.select();",
            vec![json!(css)],
        )
        .await
        .unwrap();
    browser
        .wait_for(css)
        .await
        .unwrap()
        .send_keys(keys)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_grouping_caret_paste_brand_focus_and_error_timing() {
    let stack = Stack::start().await;
    let browser = Browser::start().await.unwrap();
    open_shop(&browser, &stack, "").await;
    browser.switch_to_frame("#card iframe").await.unwrap();
    let number = browser.wait_for("#pf-number").await.unwrap();

    // Grouped while typing; no error while an incomplete number is typed.
    number.send_keys("42424242").await.unwrap();
    assert_eq!(value_of(&browser, "#pf-number").await, "4242 4242");
    browser.wait_for_text("#pf-number-error", "").await.unwrap();
    assert_eq!(
        js(
            &browser,
            "return document.querySelector('#pf-number').getAttribute('aria-invalid')"
        )
        .await,
        "false"
    );
    // Shown once the field is left.
    browser
        .wait_for("#pf-expiry")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_for_text("#pf-number-error", "The card number is incomplete.")
        .await
        .unwrap();
    // The merchant's page hears about it through `change`.
    browser.switch_to_parent().await.unwrap();
    let change = browser
        .wait_until(
            "const c = window.lastChange; return c && c.error && c.error.code === 'incomplete_number' && c",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(change["brand"], "visa");
    assert_eq!(change["complete"], false);
    assert_eq!(change["error"]["message"], "The card number is incomplete.");
    browser.switch_to_frame("#card iframe").await.unwrap();

    // A complete valid number moves focus to the expiry.
    replace_text(&browser, "#pf-number", "4242424242424242").await;
    assert_eq!(
        value_of(&browser, "#pf-number").await,
        "4242 4242 4242 4242"
    );
    browser.wait_for_text("#pf-number-error", "").await.unwrap();
    assert_eq!(active_id(&browser).await, "pf-expiry");

    // A digit inserted in the middle: regrouped, caret right after it, focus stays.
    js(
        &browser,
        "const e = document.querySelector('#pf-number'); e.focus(); e.setSelectionRange(5, 5);",
    )
    .await;
    browser
        .wait_for("#pf-number")
        .await
        .unwrap()
        .send_keys("1")
        .await
        .unwrap();
    assert_eq!(
        value_of(&browser, "#pf-number").await,
        "4242 1424 2424 2424 2"
    );
    assert_eq!(
        js(
            &browser,
            "return document.querySelector('#pf-number').selectionStart"
        )
        .await,
        6
    );
    assert_eq!(active_id(&browser).await, "pf-number");
    // Backspace right after a group's space deletes the digit before it.
    js(
        &browser,
        "document.querySelector('#pf-number').setSelectionRange(10, 10);",
    )
    .await;
    browser
        .wait_for("#pf-number")
        .await
        .unwrap()
        .send_keys(BACKSPACE)
        .await
        .unwrap();
    assert_eq!(
        value_of(&browser, "#pf-number").await,
        "4242 1422 4242 4242"
    );
    assert_eq!(
        js(
            &browser,
            "return document.querySelector('#pf-number').selectionStart"
        )
        .await,
        8
    );

    // Pasting a number written with dashes.
    js(
        &browser,
        "const e = document.querySelector('#pf-number'); e.focus(); e.select();
         document.execCommand('insertText', false, '4242-4242 4242 4242');",
    )
    .await;
    assert_eq!(
        value_of(&browser, "#pf-number").await,
        "4242 4242 4242 4242"
    );
    browser
        .wait_for(".pf-brand[data-brand=visa]")
        .await
        .unwrap();

    // The brand follows the number, and so does the grouping.
    replace_text(&browser, "#pf-number", "378282246310005").await;
    assert_eq!(value_of(&browser, "#pf-number").await, "3782 822463 10005");
    browser
        .wait_for(".pf-brand[data-brand=amex]")
        .await
        .unwrap();
    browser.wait_for_text(".pf-brand", "Amex").await.unwrap();

    // Expiry: complete and valid moves on to the CVC; a past date errs at once.
    let expiry = browser.wait_for("#pf-expiry").await.unwrap();
    replace_text(&browser, "#pf-expiry", "0120").await;
    assert_eq!(value_of(&browser, "#pf-expiry").await, "01 / 20");
    browser
        .wait_for_text("#pf-expiry-error", "The card has expired.")
        .await
        .unwrap();
    assert_eq!(active_id(&browser).await, "pf-expiry");
    replace_text(&browser, "#pf-expiry", "1230").await;
    browser.wait_for_text("#pf-expiry-error", "").await.unwrap();
    assert_eq!(active_id(&browser).await, "pf-cvc");
    // An Amex CVC has four digits: three are not yet an error.
    let cvc = browser.wait_for("#pf-cvc").await.unwrap();
    cvc.send_keys("123").await.unwrap();
    browser.wait_for_text("#pf-cvc-error", "").await.unwrap();
    cvc.send_keys("4").await.unwrap();
    drop(expiry);

    browser.switch_to_parent().await.unwrap();
    let change = browser
        .wait_until(
            "const c = window.lastChange; return c && c.complete && c",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(change["brand"], "amex");
    assert_eq!(change["error"], Value::Null);
    browser.close().await.unwrap();
}

/// The label texts and iframe title of each language.
const LANGUAGES: &[(&str, [&str; 4])] = &[
    (
        "en",
        [
            "Card number",
            "Expiry date",
            "Security code",
            "Secure card payment form",
        ],
    ),
    (
        "pt-BR",
        [
            "Número do cartão",
            "Validade",
            "Código de segurança",
            "Formulário seguro de pagamento com cartão",
        ],
    ),
    (
        "zh-CN",
        ["卡号", "有效期", "安全码", "安全的银行卡支付表单"],
    ),
];

async fn assert_labels(browser: &Browser, labels: &[&str; 4]) {
    browser.switch_to_frame("#card iframe").await.unwrap();
    for (field, label) in ["pf-number", "pf-expiry", "pf-cvc"].iter().zip(labels) {
        browser
            .wait_for_text(&format!("label[for={field}]"), label)
            .await
            .unwrap();
    }
    assert_eq!(
        js(browser, "return document.title").await,
        labels[3],
        "the frame's document title"
    );
    browser.switch_to_parent().await.unwrap();
    assert_eq!(
        js(
            browser,
            "return document.querySelector('#card iframe').title"
        )
        .await,
        labels[3]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn languages_autofill_optional_fields_and_live_updates() {
    let stack = Stack::start().await;
    let browser = Browser::start().await.unwrap();
    for (locale, labels) in LANGUAGES {
        open_shop(&browser, &stack, &format!("?locale={locale}")).await;
        assert_labels(&browser, labels).await;
    }

    // Live: the shop's picker calls `update({locale})`.
    open_shop(&browser, &stack, "?locale=en").await;
    js(
        &browser,
        "const s = document.querySelector('#locale'); s.value = 'zh-CN';
         s.dispatchEvent(new Event('change'));",
    )
    .await;
    assert_labels(&browser, &LANGUAGES[2].1).await;
    // Errors speak the language too.
    browser.switch_to_frame("#card iframe").await.unwrap();
    browser
        .wait_for("#pf-number")
        .await
        .unwrap()
        .send_keys("4242424242424241")
        .await
        .unwrap();
    browser
        .wait_for_text("#pf-number-error", "卡号无效。")
        .await
        .unwrap();
    browser.switch_to_parent().await.unwrap();

    // The merchant turns on the name and postal code fields, in Portuguese.
    js(
        &browser,
        "window.payframeCard.update({ locale: 'pt-BR', fields: { name: true, postalCode: true } });",
    )
    .await;
    browser.switch_to_frame("#card iframe").await.unwrap();
    browser
        .wait_for_text("label[for=pf-name]", "Nome impresso no cartão")
        .await
        .unwrap();
    browser
        .wait_for_text("label[for=pf-postal]", "CEP")
        .await
        .unwrap();
    browser
        .wait_for_text("#pf-number-error", "O número do cartão é inválido.")
        .await
        .unwrap();
    let attributes = js(
        &browser,
        "return [...document.querySelectorAll('input')].map(e =>
           [e.id, e.getAttribute('autocomplete'), e.getAttribute('name'), e.getAttribute('inputmode')]);",
    )
    .await;
    assert_eq!(
        attributes,
        json!([
            ["pf-number", "cc-number", "cardnumber", "numeric"],
            ["pf-expiry", "cc-exp", "exp-date", "numeric"],
            ["pf-cvc", "cc-csc", "cvc", "numeric"],
            ["pf-name", "cc-name", "ccname", "text"],
            ["pf-postal", "postal-code", "postal", "text"]
        ])
    );
    // The iframe grows with the form: the frame never scrolls.
    browser
        .wait_until(
            "return document.body.offsetHeight <= window.innerHeight",
            vec![],
        )
        .await
        .unwrap();
    // A full CVC moves focus on to the name.
    replace_text(&browser, "#pf-number", "4242424242424242").await;
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
    assert_eq!(active_id(&browser).await, "pf-name");
    browser.switch_to_parent().await.unwrap();
    // The name and postal code are required once shown.
    js(&browser, "document.querySelector('#pay').click()").await;
    let outcome = browser
        .wait_until("return window.lastPaymentError", vec![])
        .await
        .unwrap();
    assert_eq!(outcome["code"], "validation_error");
    assert_eq!(outcome["message"], "Informe o nome impresso no cartão.");

    // Appearance: a theme, an accepted color, and values the frame must drop.
    js(
        &browser,
        "window.payframeCard.update({ appearance: { theme: 'night', variables: {
            colorPrimary: '#ff0000', colorBackground: 'url(https://evil.example/x)',
            fontFamily: 'x; color: red', borderRadius: '2px}' } } });",
    )
    .await;
    browser.switch_to_frame("#card iframe").await.unwrap();
    let style = browser
        .wait_until(
            "const r = document.documentElement, s = r.style;
             return r.dataset.theme === 'night' && [
               s.getPropertyValue('--pf-color-primary'), s.getPropertyValue('--pf-color-background'),
               s.getPropertyValue('--pf-font-family'), s.getPropertyValue('--pf-radius'),
               getComputedStyle(r).colorScheme, r.getAttribute('style')];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        style,
        json!([
            "#ff0000",
            "",
            "",
            "",
            "dark",
            "--pf-color-primary: #ff0000;"
        ])
    );
    browser.close().await.unwrap();
}

/// Mounts a second card form on the shop page (its own session) into `#card2`.
async fn mount_second(browser: &Browser) {
    browser
        .eval_async(
            "const done = arguments[arguments.length - 1];
             fetch('/api/checkout', { method: 'POST' }).then(r => r.json()).then(order => {
               const div = document.createElement('div');
               div.id = 'card2';
               document.querySelector('main').appendChild(div);
               window.second = Payframe.mount('#card2', { clientSecret: order.clientSecret });
               window.second.on('ready', () => done(true));
             });",
            vec![],
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_page_stay_independent() {
    let stack = Stack::start().await;
    let browser = Browser::start().await.unwrap();
    open_shop(&browser, &stack, "").await;
    mount_second(&browser).await;
    let channels = js(
        &browser,
        "return [...document.querySelectorAll('iframe')].map(f => new URLSearchParams(
           new URL(f.src).hash.slice(1)).get('channel'));",
    )
    .await;
    assert_ne!(channels[0], channels[1], "{channels}");

    browser.switch_to_frame("#card2 iframe").await.unwrap();
    browser
        .wait_for("#pf-number")
        .await
        .unwrap()
        .send_keys("5555")
        .await
        .unwrap();
    browser.switch_to_parent().await.unwrap();

    browser.switch_to_frame("#card iframe").await.unwrap();
    for (field, keys) in [
        ("#pf-number", "4242424242424242"),
        ("#pf-expiry", "1230"),
        ("#pf-cvc", "123"),
    ] {
        browser
            .wait_for(field)
            .await
            .unwrap()
            .send_keys(keys)
            .await
            .unwrap();
    }
    browser.switch_to_parent().await.unwrap();
    let result = browser
        .eval_async(
            "const done = arguments[arguments.length - 1];
             window.payframeCard.submit().then(r => done({ ok: r }), e => done({ err: e.code }));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(result["ok"]["payment_method"]["last4"], "4242", "{result}");

    // The second form kept its own state: its digits still there, no outcome, and only
    // the error its own blur caused (a submit would have flagged the empty CVC too).
    browser.switch_to_frame("#card2 iframe").await.unwrap();
    assert_eq!(value_of(&browser, "#pf-number").await, "5555");
    assert_eq!(
        js(
            &browser,
            "return [...document.querySelectorAll('.pf-error')].map(e => e.textContent)"
        )
        .await,
        json!(["The card number is incomplete.", "", ""])
    );
    assert_eq!(
        js(&browser, "return !!document.querySelector('.pf-done')").await,
        false
    );
    browser.switch_to_parent().await.unwrap();
    // And answers its own submit for itself.
    let second = browser
        .eval_async(
            "const done = arguments[arguments.length - 1];
             window.second.submit().then(r => done({ ok: r }), e => done({ err: e.code }));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(second, json!({ "err": "validation_error" }));
    let confirms = stack
        .bodies()
        .iter()
        .filter(|(path, _)| path.ends_with("/confirm"))
        .count();
    assert_eq!(confirms, 1);
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_on_a_wrong_channel_or_from_another_origin_are_ignored() {
    let stack = Stack::start().await;
    let mut browser = Browser::start().await.unwrap();
    browser.set_wait_timeout(std::time::Duration::from_secs(20));
    let foreign = serve_foreign_page("<!doctype html><title>Elsewhere</title>".into()).await;
    browser.goto(&foreign).await.unwrap();
    let foreign_window = browser.client().window().await.unwrap();
    // The foreign page opens the shop, so it holds a handle on the shop's frame window.
    browser
        .eval(
            "window.shop = window.open(arguments[0]);",
            vec![json!(stack.shop_url)],
        )
        .await
        .unwrap();
    browser
        .wait_until("return window.shop.frames.length === 1", vec![])
        .await
        .unwrap();
    let handles = browser.client().windows().await.unwrap();
    let shop_window = handles
        .into_iter()
        .find(|h| *h != foreign_window)
        .expect("the shop's window");
    browser
        .client()
        .switch_to_window(shop_window.clone())
        .await
        .unwrap();
    browser.wait_for("#pay:not([disabled])").await.unwrap();
    browser.switch_to_frame("#card iframe").await.unwrap();
    for (field, keys) in [
        ("#pf-number", "4242424242424242"),
        ("#pf-expiry", "1230"),
        ("#pf-cvc", "123"),
    ] {
        browser
            .wait_for(field)
            .await
            .unwrap()
            .send_keys(keys)
            .await
            .unwrap();
    }
    browser.switch_to_parent().await.unwrap();
    let channel = js(
        &browser,
        "return new URLSearchParams(new URL(document.querySelector('#card iframe').src)
           .hash.slice(1)).get('channel')",
    )
    .await;

    // The shop's own page on a wrong channel.
    js(
        &browser,
        "const f = document.querySelector('#card iframe');
         const to = new URL(f.src).origin;
         f.contentWindow.postMessage({ type: 'payframe:submit', id: 1, channel: 'wrong' }, to);
         f.contentWindow.postMessage({ type: 'payframe:update', channel: 'wrong',
           options: { locale: 'zh-CN' } }, to);",
    )
    .await;
    // Another origin with the right channel.
    browser
        .client()
        .switch_to_window(foreign_window.clone())
        .await
        .unwrap();
    browser
        .eval(
            "window.shop.frames[0].postMessage({ type: 'payframe:submit', id: 1, channel: arguments[0] }, '*');
             window.shop.frames[0].postMessage({ type: 'payframe:update', channel: arguments[0],
               options: { locale: 'zh-CN' } }, '*');",
            vec![channel],
        )
        .await
        .unwrap();
    browser
        .client()
        .switch_to_window(shop_window)
        .await
        .unwrap();

    // A genuine message sent after them: once it shows, they were handled (and ignored).
    js(&browser, "window.payframeCard.update({ locale: 'pt-BR' });").await;
    browser.switch_to_frame("#card iframe").await.unwrap();
    browser
        .wait_for_text("label[for=pf-number]", "Número do cartão")
        .await
        .unwrap();
    // No submit started: the fields are not disabled, still filled, no outcome.
    let state = js(
        &browser,
        "const n = document.querySelector('#pf-number');
         return [n.disabled, n.value, !!document.querySelector('.pf-done')];",
    )
    .await;
    assert_eq!(state, json!([false, "4242 4242 4242 4242", false]));
    browser.switch_to_parent().await.unwrap();
    assert!(
        !stack
            .bodies()
            .iter()
            .any(|(path, _)| path.ends_with("/confirm")),
        "a confirm request was made"
    );
    let seen = js(
        &browser,
        "return window.lastPaymentResult || window.lastPaymentError || null",
    )
    .await;
    assert_eq!(seen, Value::Null);
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_of_another_origin_cannot_show_the_frame() {
    let stack = Stack::start().await;
    let browser = Browser::start().await.unwrap();
    open_shop(&browser, &stack, "").await;
    // A fresh session, as the shop's server would create it.
    let secret = browser
        .eval_async(
            "const done = arguments[arguments.length - 1];
             fetch('/api/checkout', { method: 'POST' }).then(r => r.json())
               .then(o => done(o.clientSecret));",
            vec![],
        )
        .await
        .unwrap();
    let secret = secret.as_str().unwrap().to_owned();
    let session = secret.split("_secret_").next().unwrap().to_owned();

    // 1. The frame's own check: on the shop's page (which the CSP allows) an iframe that
    //    claims another parent origin refuses to render, in the shopper's language.
    let foreign = serve_foreign_page(format!(
        "<!doctype html><title>Elsewhere</title><div id=card></div>
         <script src='{gateway}/embed.js'></script>
         <script>
           const f = Payframe.mount('#card', {{ clientSecret: location.hash.slice(1) }});
           f.on('ready', () => window.frameReady = true);
           document.querySelector('#card iframe').addEventListener('load', () => window.frameLoaded = true);
         </script>",
        gateway = stack.gateway_url
    ))
    .await;
    browser
        .eval(
            "const f = document.createElement('iframe');
             f.id = 'liar';
             f.src = arguments[0] + '/frame/?session=' + arguments[1] + '#secret=' + arguments[2]
               + '&origin=' + encodeURIComponent(arguments[3]) + '&channel=c1';
             document.querySelector('main').appendChild(f);",
            vec![
                json!(stack.gateway_url),
                json!(session),
                json!(secret),
                json!(foreign),
            ],
        )
        .await
        .unwrap();
    browser.switch_to_frame("#liar").await.unwrap();
    browser
        .wait_for_text(".pf-refused", "This payment form cannot be shown here.")
        .await
        .unwrap();
    assert_eq!(
        js(&browser, "return document.querySelectorAll('input').length").await,
        0
    );
    browser.switch_to_parent().await.unwrap();

    // 2. A page of another origin embedding the frame with a valid secret: the gateway's
    //    CSP `frame-ancestors` keeps the frame's document from loading at all.
    browser.goto(&format!("{foreign}/#{secret}")).await.unwrap();
    browser
        .wait_until("return window.frameLoaded === true", vec![])
        .await
        .unwrap();
    browser.switch_to_frame("#card iframe").await.unwrap();
    let href = js(&browser, "return location.href").await;
    assert!(
        !href.as_str().unwrap_or("").starts_with(&stack.gateway_url),
        "the frame loaded in a foreign page: {href}"
    );
    assert_eq!(
        js(&browser, "return document.querySelectorAll('input').length").await,
        0
    );
    browser.switch_to_parent().await.unwrap();
    assert_eq!(
        js(&browser, "return window.frameReady === true").await,
        false
    );
    let fetched = stack
        .bodies()
        .iter()
        .filter(|(path, _)| path == &format!("/v1/frame/sessions/{session}"))
        .count();
    assert_eq!(fetched, 0, "the blocked frame fetched its session");
    browser.close().await.unwrap();
}

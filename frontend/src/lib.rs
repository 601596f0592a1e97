//! The hosted card form. It runs inside an iframe on the merchant's page, fetches the
//! session's public data and the gateway's encryption key, seals the card in the browser
//! (Envelope v1, from `payframe-core`) and talks to the embedding page only through
//! `postMessage` aimed at the session's registered origin.

pub mod appearance;
pub mod bridge;
pub mod caret;
pub mod field;
pub mod fields;
pub mod form;
pub mod http;
pub mod i18n;
pub mod options;
pub mod params;

#[cfg(test)]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

pub fn start() {
    leptos::mount::mount_to_body(form::Frame);
}

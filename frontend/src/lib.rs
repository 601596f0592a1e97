//! The hosted card form. It runs inside an iframe on the merchant's page, fetches the
//! session's public data and the gateway's encryption key, seals the card in the browser
//! (Envelope v1, from `payframe-core`) and talks to the embedding page only through
//! `postMessage` aimed at the session's registered origin.

pub mod api;
pub mod appearance;
pub mod bridge;
pub mod caret;
pub mod dom;
pub mod field;
pub mod fields;
pub mod form;
pub mod http;
pub mod i18n;
pub mod json;
pub mod options;
pub mod params;

/// The frame's allocator: Talc instead of the standard library's dlmalloc, for a smaller
/// wasm. The frame's wasm is single-threaded (no `atomics`), as Talc's cell requires.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

#[cfg(test)]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

pub fn start() {
    leptos::mount::mount_to_body(form::Frame);
}

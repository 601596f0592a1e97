//! The mounted form in a real browser page: without the parameters embed.js puts in its
//! URL (session, secret, parent origin, channel) the frame shows no card fields at all.

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn refuses_to_render_fields_without_a_session() {
    let document = window().document().unwrap();
    let host = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&host).unwrap();
    let handle = leptos::mount::mount_to(
        host.clone().unchecked_into(),
        payframe_frontend::form::Frame,
    );
    assert!(
        host.query_selector("input").unwrap().is_none(),
        "card fields rendered"
    );
    let alert = host
        .query_selector("[role=alert]")
        .unwrap()
        .expect("a refusal message");
    assert_eq!(
        alert.text_content().unwrap(),
        "This payment form cannot be shown here."
    );
    drop(handle);
}

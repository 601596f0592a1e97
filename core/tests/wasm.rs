//! Envelope v1 and the card types compiled to wasm32 and run in headless Chromium, as the
//! frame runs them: the browser's CSPRNG seals (getrandom's `wasm_js` backend), and the
//! result opens with the same code the gateway uses.
#![cfg(target_arch = "wasm32")]

use payframe_core::envelope::{CardPayload, KeyPair, seal};
use payframe_core::{Brand, Pan};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn seals_in_the_browser_and_opens_for_the_session_only() {
    let keys = KeyPair::generate();
    let payload = CardPayload {
        number: "5555555555554444".into(),
        exp_month: 1,
        exp_year: 2031,
        cvc: "321".into(),
        sealed_at: 1_795_000_000,
        name: Some("A Shopper".into()),
        postal_code: None,
    };
    let first = seal(&keys.public_b64(), "kid_1", "cs_a", &payload).unwrap();
    let second = seal(&keys.public_b64(), "kid_1", "cs_a", &payload).unwrap();
    assert_ne!(
        first.enc, second.enc,
        "each seal must use a fresh ephemeral key"
    );
    assert_eq!(keys.open("cs_a", &first).unwrap(), payload);
    assert!(keys.open("cs_b", &first).is_err());
}

#[wasm_bindgen_test]
fn card_types_behave_the_same_in_wasm() {
    let pan = Pan::parse("3782 822463 10005").unwrap();
    assert_eq!(pan.brand(), Some(Brand::Amex));
    assert_eq!(format!("{pan:?}"), "Pan(***********0005)");
    assert!(Pan::parse("4242 4242 4242 4241").is_err());
}

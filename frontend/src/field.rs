//! One input of the form with its label and error, wired for autofill and screen
//! readers. It reformats what the shopper types while keeping the caret in place, and
//! moves focus to the next field once its value is complete and valid.
//!
//! Every reactive part of the view is a [`Text`], a `Signal` of one value type, rather than
//! a closure of its own: Leptos compiles its rendering code once per signal value type but
//! once per closure type, so this keeps the frame's wasm small.

use crate::bridge::Bridge;
use crate::{caret, dom};
use leptos::prelude::*;
use wasm_bindgen::JsValue;

/// A reactive text or attribute value (`None`: nothing shown, no attribute). Owned even
/// for the frame's own `&'static str` texts, so that all of them are one type.
pub type Text = Signal<Option<String>>;

/// What the field is and how it behaves; the texts are reactive, for live locale changes.
#[derive(Clone, Copy)]
pub struct Field {
    pub id: &'static str,
    pub label: Text,
    pub placeholder: Text,
    /// `name` and `autocomplete` are what browsers' autofill keys on.
    pub name: &'static str,
    pub autocomplete: &'static str,
    pub inputmode: &'static str,
    pub value: RwSignal<String>,
    pub format: fn(&str) -> String,
    /// The characters that count when placing the caret (digits, for card fields).
    pub keep: fn(char) -> bool,
    pub touched: RwSignal<bool>,
    /// The error text to show now, if any.
    pub error: Text,
    pub disabled: RwSignal<bool>,
    /// Whether a value is complete and valid, so focus may move on: `(value, card number)`.
    pub done: fn(&str, &str) -> bool,
    /// The id of the field to focus then.
    pub next: Text,
    /// The card number, which `done` is given (the CVC's length depends on it).
    pub number: RwSignal<String>,
    /// Where focus and blur are told, with this field name (`number`, `postalCode`, …).
    pub bridge: &'static Bridge,
    pub event_name: &'static str,
}

/// The field's view. `brand`, for the card number, is `(data-brand, brand name)` of the
/// badge shown after the input.
pub fn card_field(field: Field, brand: Option<(Text, Text)>) -> AnyView {
    let Field {
        id,
        label,
        placeholder,
        name,
        autocomplete,
        inputmode,
        value,
        format,
        keep,
        touched,
        error,
        disabled,
        done,
        next,
        number,
        bridge,
        event_name,
    } = field;
    let notify = move |focused: bool| {
        let kind = if focused { "focus" } else { "blur" };
        bridge.post(kind, &[("field", JsValue::from_str(event_name))]);
    };
    let error_id = [id, "-error"].concat();
    let on_input = move |ev: web_sys::Event| {
        // The event's target is this field's `<input>`.
        let input: JsValue = ev.target().into();
        let Some(raw) = dom::string(&input, "value") else {
            return;
        };
        let caret = dom::get(&input, "selectionStart")
            .as_f64()
            .map_or(raw.encode_utf16().count(), |c| c as usize);
        let backward = dom::string(&ev, "inputType").as_deref() == Some("deleteContentBackward");
        let (raw, caret) = if backward {
            caret::backspace_over_separator(&value.get_untracked(), &raw, caret, keep)
        } else {
            (raw, caret)
        };
        let (shown, caret) = caret::reformat(&raw, caret, format, keep);
        // Set the value here, not only through the signal, so the caret can be placed
        // now; the later render writes the same value, which leaves the caret alone.
        if dom::string(&input, "value").as_deref() != Some(shown.as_str()) {
            dom::set(&input, "value", &JsValue::from_str(&shown));
        }
        let caret_at = JsValue::from_f64(caret as f64);
        let _ = dom::call(&input, "setSelectionRange", &caret_at, &caret_at);
        let at_end = caret == shown.encode_utf16().count();
        value.set(shown.clone());
        // Only when typing at the end: an edit in the middle must not jump away.
        if at_end
            && number.with_untracked(|n| done(&shown, n))
            && let Some(next) = next.get_untracked()
        {
            focus(&next);
        }
    };
    let invalid: Text = Signal::derive(move || {
        Some(
            if error.with(Option::is_some) {
                "true"
            } else {
                "false"
            }
            .to_owned(),
        )
    });
    let brand = brand.map(|(kind, name)| {
        view! { <span class="pf-brand" data-brand=kind aria-hidden="true">{name}</span> }
    });
    view! {
        <div class="pf-field">
            <label for=id>{label}</label>
            <div class="pf-input-wrap">
                <input
                    id=id
                    name=name
                    type="text"
                    autocomplete=autocomplete
                    inputmode=inputmode
                    placeholder=placeholder
                    spellcheck="false"
                    prop:value=value
                    prop:disabled=disabled
                    on:input=on_input
                    on:focus=move |_| notify(true)
                    on:blur=move |_| {
                        touched.set(true);
                        notify(false);
                    }
                    aria-invalid=invalid
                    aria-describedby=error_id.clone()
                />
                {brand}
            </div>
            <p id=error_id class="pf-error">{error}</p>
        </div>
    }
    .into_any()
}

/// Focuses the element with this id, if there is one.
pub fn focus(id: &str) {
    if let Ok(element) = dom::call1(&dom::document(), "getElementById", &JsValue::from_str(id))
        && element.is_object()
    {
        let _ = dom::call1(&element, "focus", &JsValue::UNDEFINED);
    }
}

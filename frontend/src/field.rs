//! One input of the form with its label and error, wired for autofill and screen
//! readers. It reformats what the shopper types while keeping the caret in place, and
//! moves focus to the next field once its value is complete and valid.

use crate::caret;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{HtmlElement, HtmlInputElement};

/// What the field is and how it behaves; the texts are reactive, for live locale changes.
#[component]
pub fn CardField(
    id: &'static str,
    label: Signal<&'static str>,
    placeholder: Signal<&'static str>,
    /// `name` and `autocomplete` are what browsers' autofill keys on.
    name: &'static str,
    autocomplete: &'static str,
    inputmode: &'static str,
    value: RwSignal<String>,
    format: fn(&str) -> String,
    /// The characters that count when placing the caret (digits, for card fields).
    keep: fn(char) -> bool,
    touched: RwSignal<bool>,
    /// The error text to show now, if any.
    error: Signal<Option<&'static str>>,
    disabled: RwSignal<bool>,
    /// Whether a value is complete and valid, so focus may move on.
    done: Callback<String, bool>,
    /// The id of the field to focus then.
    next: Signal<Option<&'static str>>,
    /// Told `true` on focus, `false` on blur.
    on_focus: Callback<bool>,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    let error_id = format!("{id}-error");
    let on_input = move |ev: web_sys::Event| {
        let Some(input) = ev
            .target()
            .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
        else {
            return;
        };
        let raw = input.value();
        let caret = input
            .selection_start()
            .ok()
            .flatten()
            .map_or(raw.encode_utf16().count(), |c| c as usize);
        let backward = ev
            .dyn_ref::<web_sys::InputEvent>()
            .is_some_and(|e| e.input_type() == "deleteContentBackward");
        let (raw, caret) = if backward {
            caret::backspace_over_separator(&value.get_untracked(), &raw, caret, keep)
        } else {
            (raw, caret)
        };
        let (shown, caret) = caret::reformat(&raw, caret, format, keep);
        // Set the value here, not only through the signal, so the caret can be placed
        // now; the later render writes the same value, which leaves the caret alone.
        if input.value() != shown {
            input.set_value(&shown);
        }
        let _ = input.set_selection_range(caret as u32, caret as u32);
        let at_end = caret == shown.encode_utf16().count();
        value.set(shown.clone());
        // Only when typing at the end: an edit in the middle must not jump away.
        if at_end
            && done.run(shown)
            && let Some(next) = next.get_untracked()
        {
            focus(next);
        }
    };
    view! {
        <div class="pf-field">
            <label for=id>{move || label.get()}</label>
            <div class="pf-input-wrap">
                <input
                    id=id
                    name=name
                    type="text"
                    autocomplete=autocomplete
                    inputmode=inputmode
                    placeholder=move || placeholder.get()
                    spellcheck="false"
                    prop:value=move || value.get()
                    prop:disabled=move || disabled.get()
                    on:input=on_input
                    on:focus=move |_| on_focus.run(true)
                    on:blur=move |_| {
                        touched.set(true);
                        on_focus.run(false);
                    }
                    aria-invalid=move || if error.get().is_some() { "true" } else { "false" }
                    aria-describedby=error_id.clone()
                />
                {children.map(|c| c())}
            </div>
            <p id=error_id class="pf-error">{move || error.get()}</p>
        </div>
    }
}

/// Focuses the element with this id, if there is one.
pub fn focus(id: &str) {
    let element = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(id))
        .and_then(|e| e.dyn_into::<HtmlElement>().ok());
    if let Some(element) = element {
        let _ = element.focus();
    }
}

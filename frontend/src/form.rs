//! The card form component: loads the session, renders the fields in the shopper's
//! language and the merchant's appearance, tells embed.js how the form changes, and on a
//! `submit` command seals the card and confirms it, answering the parent page.

use crate::api::{self, Confirmed, Session};
use crate::bridge::Bridge;
use crate::dom;
use crate::field::{Field, Text, card_field};
use crate::fields::{self, FieldError};
use crate::http::{self, CallError};
use crate::i18n::{self, Key, Locale, t};
use crate::json;
use crate::options::OptionsPatch;
use crate::params::{self, FrameParams};
use leptos::prelude::*;
use leptos::task::spawn_local;
use payframe_core::envelope::{CardPayload, seal};
use std::cell::RefCell;
use std::sync::{PoisonError, RwLock};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

fn now_unix() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

#[derive(Clone)]
enum Stage {
    Loading,
    Ready,
    /// The frame will not show a form: a reason for the shopper.
    Refused(Key),
    /// The card was accepted (its last four digits); the fields give way to a confirmation.
    Done(String),
}

/// The browser's preferred languages, best first.
fn browser_languages() -> Vec<String> {
    let navigator = dom::get(&dom::window(), "navigator");
    let languages = dom::get(&navigator, "languages");
    let mut tags: Vec<String> = if js_sys::Array::is_array(&languages) {
        let languages: js_sys::Array = languages.unchecked_into();
        languages.iter().filter_map(|v| v.as_string()).collect()
    } else {
        Vec::new()
    };
    tags.extend(dom::string(&navigator, "language"));
    tags
}

fn choose_locale(option: Option<&str>, browser: &[String]) -> Locale {
    Locale::choose(option, browser.iter().map(String::as_str))
}

/// The text for a failed call: the frame's own words when it knows the code, otherwise
/// the gateway's message, which is English.
fn call_message(locale: Locale, e: &CallError) -> String {
    match i18n::call_error(&e.code, e.decline_code.as_deref()) {
        Some(key) => t(locale, key).to_owned(),
        None if locale == Locale::En => e.message.clone(),
        None => t(locale, Key::PaymentFailed).to_owned(),
    }
}

/// A one-line message in place of the form (loading, refused, done). All of them, and the
/// refusal outside the form, share this one view type, so Leptos renders them with one
/// piece of code.
fn message(
    class: &'static str,
    role: Option<&'static str>,
    busy: Option<&'static str>,
    text: Text,
) -> AnyView {
    view! { <p class=class role=role aria-busy=busy>{text}</p> }.into_any()
}

fn refusal(locale: Locale) -> AnyView {
    let text = Signal::stored(Some(t(locale, Key::Refused).to_owned()));
    message("pf-refused", Some("alert"), None, text)
}

/// The `Done` text with the card's last four digits in place of `{last4}`.
/// (Not `str::replace`: a substring search would add its own code to the wasm.)
fn done_text(template: &str, last4: &str) -> String {
    let parts = template
        .split_once('{')
        .and_then(|(before, rest)| Some((before, rest.strip_prefix("last4}")?)));
    match parts {
        Some((before, after)) => [before, last4, after].concat(),
        None => template.to_owned(),
    }
}

#[component]
pub fn Frame() -> impl IntoView {
    let location = dom::get(&dom::window(), "location");
    let languages = browser_languages();
    let parsed = params::parse(
        &dom::string(&location, "search").unwrap_or_default(),
        &dom::string(&location, "hash").unwrap_or_default(),
    );
    let Some(params) = parsed else {
        return refusal(choose_locale(None, &languages));
    };
    let options = OptionsPatch::parse_text(params.options.as_deref());
    // Chromium and Safari tell the frame who really embeds it; trust that over the URL.
    if let Some(actual) = first_ancestor_origin(&location)
        && actual != params.parent_origin
    {
        let option = options.locale.flatten();
        return refusal(choose_locale(option.as_deref(), &languages));
    }
    card_form(params, options, languages)
}

/// `location.ancestorOrigins[0]` where the browser has it (web-sys does not bind it).
fn first_ancestor_origin(location: &JsValue) -> Option<String> {
    dom::string(&dom::get(location, "ancestorOrigins"), "0")
}

/// A value the view shows, kept beside a `bool` signal that stands for its changes: a
/// signal of its own type would make Leptos compile all of its signal code once more (for
/// `Stage` and the call outcome, a few KB of the frame's wasm). Reading it tracks the
/// signal, setting it notifies, as with a signal.
struct Watched<T: 'static> {
    value: &'static RwLock<T>,
    changed: RwSignal<bool>,
}

impl<T> Clone for Watched<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Watched<T> {}

impl<T: Clone + Send + Sync> Watched<T> {
    /// Lives as long as the page, like the form that makes it.
    fn new(value: T) -> Self {
        Watched {
            value: Box::leak(Box::new(RwLock::new(value))),
            changed: RwSignal::new(false),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        self.changed.track();
        f(&self.value.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn get(&self) -> T {
        self.with(T::clone)
    }

    fn set(&self, value: T) {
        *self.value.write().unwrap_or_else(PoisonError::into_inner) = value;
        self.changed.set(true);
    }
}

/// Sets a flag only when it changes, so a view that shows on it is not rebuilt for nothing.
fn set_flag(flag: RwSignal<bool>, on: bool) {
    if flag.get_untracked() != on {
        flag.set(on);
    }
}

/// An optional field: shown while `when` is on. One function for both optional fields, so
/// its reactive view is compiled once.
fn optional_field(when: RwSignal<bool>, field: Field) -> impl IntoView {
    move || when.get().then(|| card_field(field, None))
}

fn card_form(params: FrameParams, options: OptionsPatch, languages: Vec<String>) -> AnyView {
    // The form lives as long as the frame's page: what its handlers share is leaked once
    // rather than cloned into each of them.
    let languages: &'static [String] = languages.leak();
    let params: &'static FrameParams = Box::leak(Box::new(params));
    let bridge: &'static Bridge = Box::leak(Box::new(Bridge {
        origin: params.parent_origin.clone(),
        channel: params.channel.clone(),
    }));
    let session: &'static RefCell<Option<Session>> = Box::leak(Box::default());

    // The merchant's `locale` option, empty for none (an empty tag names no locale anyway):
    // a `String` signal like the fields' values, so Leptos compiles one kind less.
    let locale_option = RwSignal::new(options.locale.clone().flatten().unwrap_or_default());
    // Cheap to work out, so not memoized: one kind of reactive node less in the wasm.
    let locale = move || locale_option.with(|o| choose_locale(Some(o), languages));
    let locale_now = move || locale_option.with_untracked(|o| choose_locale(Some(o), languages));
    let fields_on = options.fields.clone().unwrap_or_default();
    let [show_name, show_postal, busy] =
        [fields_on.name, fields_on.postal_code, false].map(RwSignal::new);
    options.appearance.unwrap_or_default().apply();

    let stage = Watched::new(Stage::Loading);
    let outcome = Watched::new(None::<CallError>);
    // Number, expiry, CVC, name, postal code: the values and whether each was left once.
    let values: [RwSignal<String>; FIELDS] = std::array::from_fn(|_| RwSignal::new(String::new()));
    let touched: [RwSignal<bool>; FIELDS] = std::array::from_fn(|_| RwSignal::new(false));
    let [number, expiry, cvc, name, postal] = values;

    // Field `i`'s check, and whether its value is complete.
    let check = move |i: usize, value: &str| -> (Result<(), FieldError>, bool) {
        let card = |r: Result<(), payframe_core::CardError>| r.map_err(FieldError::from);
        match i {
            NUMBER => (
                card(fields::check_number(value)),
                fields::number_complete(value),
            ),
            EXPIRY => (
                card(fields::check_expiry(value, now_unix())),
                fields::expiry_parts(value).is_some(),
            ),
            CVC => number.with(|n| {
                (
                    card(fields::check_cvc(value, n)),
                    fields::cvc_complete(value, n),
                )
            }),
            NAME => (fields::check_name(value), false),
            _ => (fields::check_postal(value), false),
        }
    };
    // The error field `i` shows now, if any.
    let error = move |i: usize| {
        let (result, complete) = values[i].with(|v| check(i, v));
        fields::visible_error(result, touched[i].get(), complete)
    };
    let shown = move |i: usize| match i {
        NAME => show_name.get(),
        POSTAL => show_postal.get(),
        _ => true,
    };
    // Every check of the enabled fields, first failure first.
    let check_all = move || -> Result<(), FieldError> {
        (0..FIELDS)
            .filter(|&i| shown(i))
            .try_for_each(|i| values[i].with(|v| check(i, v).0))
    };
    let first_visible_error = move || (0..FIELDS).filter(|&i| shown(i)).find_map(error);
    let error_text = move |e: FieldError| t(locale(), i18n::field_error(e));

    // One effect (each kind of effect adds to the wasm) for two jobs: the shopper's language
    // for the document too (screen readers, the tab title), and `change` for the merchant
    // (complete, empty, brand and the error shown, if any) whenever that summary changes.
    Effect::new(move |previous: Option<(Locale, Summary)>| {
        let locale = locale();
        if previous.as_ref().is_none_or(|(l, _)| *l != locale) {
            let title = JsValue::from_str(t(locale, Key::FrameTitle));
            dom::set(&dom::document(), "title", &title);
            dom::set_attribute(&dom::root(), "lang", locale.tag());
        }
        let empty = values.iter().all(|v| v.with(String::is_empty));
        let brand = number
            .with(|n| fields::brand(n))
            .map_or("unknown", |b| b.as_str());
        let error = first_visible_error().map(|e| (e.code(), error_text(e)));
        let summary = (check_all().is_ok(), empty, brand, error);
        // The first run only subscribes: nothing has changed yet.
        if let Some((_, before)) = previous
            && before != summary
        {
            let (complete, empty, brand, error) = summary;
            let error = error.map_or(JsValue::NULL, |(code, message)| {
                json::object(&[
                    ("code", JsValue::from_str(code)),
                    ("message", JsValue::from_str(message)),
                ])
            });
            bridge.post(
                "change",
                &[
                    ("complete", JsValue::from_bool(complete)),
                    ("empty", JsValue::from_bool(empty)),
                    ("brand", JsValue::from_str(brand)),
                    ("error", error),
                ],
            );
        }
        (locale, summary)
    });

    spawn_local(async move {
        let secret = JsValue::from_str(&params.client_secret);
        let secret = dom::call1(&dom::window(), "encodeURIComponent", &secret)
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or_default();
        let url = [
            "/v1/frame/sessions/",
            &params.session_id,
            "?client_secret=",
            &secret,
        ]
        .concat();
        let loaded = http::get(&url)
            .await
            .and_then(|v| Session::read(&v).ok_or_else(CallError::network));
        match loaded {
            Ok(s) if !s.allowed_origins.contains(&params.parent_origin) => {
                stage.set(Stage::Refused(Key::Refused));
            }
            Ok(s) if s.status != "open" => {
                stage.set(Stage::Refused(Key::NotOpen));
                let error = json::object(&[("code", JsValue::from_str("session_not_open"))]);
                bridge.post("error", &[("error", error)]);
            }
            Ok(s) => {
                *session.borrow_mut() = Some(s);
                stage.set(Stage::Ready);
                bridge.post("ready", &[]);
                // For measuring start-up (BENCHMARKS.md): time since this frame's navigation.
                let performance = dom::get(&dom::window(), "performance");
                let _ = dom::call1(&performance, "mark", &JsValue::from_str("payframe-ready"));
            }
            Err(e) => {
                stage.set(Stage::Refused(Key::LoadFailed));
                let error = json::object(&[
                    ("code", JsValue::from_str(&e.code)),
                    ("message", JsValue::from_str(&e.message)),
                ]);
                bridge.post("error", &[("error", error)]);
            }
        }
    });

    let submit = move |id: u64| {
        // `{id, ok: true, result}` or `{id, ok: false, error: {code, message, ...}}`.
        let answer = move |ok: bool, entry: (&str, JsValue)| {
            let id = ("id", JsValue::from_f64(id as f64));
            bridge.post("result", &[id, ("ok", JsValue::from_bool(ok)), entry]);
        };
        let reply = move |result: Result<JsValue, CallError>| match result {
            Ok(r) => answer(true, ("result", r)),
            Err(e) => {
                let message = call_message(locale_now(), &e);
                let error = json::object(&[
                    ("code", JsValue::from_str(&e.code)),
                    ("message", JsValue::from_str(&message)),
                    ("param", json::string_or_null(e.param.as_deref())),
                    (
                        "decline_code",
                        json::string_or_null(e.decline_code.as_deref()),
                    ),
                ]);
                answer(false, ("error", error))
            }
        };
        let failure = |code: &str| CallError {
            code: code.into(),
            message: String::new(),
            param: None,
            decline_code: None,
        };
        if busy.get_untracked() {
            return;
        }
        let sealed = {
            let s = session.borrow();
            let Some(s) = s.as_ref() else {
                return reply(Err(failure("not_ready")));
            };
            for t in touched {
                t.set(true);
            }
            if let Err(err) = untrack(check_all) {
                let message = t(locale_now(), i18n::field_error(err));
                let error = json::object(&[
                    ("code", JsValue::from_str("validation_error")),
                    ("message", JsValue::from_str(message)),
                    ("param", JsValue::from_str(err.param())),
                ]);
                return answer(false, ("error", error));
            }
            let (n, e) = (number.get_untracked(), expiry.get_untracked());
            let (month, year) = fields::expiry_parts(&e).unwrap_or_default();
            let optional = |on: RwSignal<bool>, value: RwSignal<String>| {
                on.get_untracked()
                    .then(|| value.with_untracked(|v| v.trim().to_owned()))
            };
            let payload = CardPayload {
                number: fields::digits(&n, fields::MAX_PAN_DIGITS),
                exp_month: month,
                exp_year: 2000 + year,
                cvc: cvc.get_untracked(),
                sealed_at: now_unix(),
                name: optional(show_name, name),
                postal_code: optional(show_postal, postal),
            };
            let sealed = seal(&s.public_key, &s.kid, &s.id, &payload);
            drop(payload);
            sealed.map(|envelope| (envelope, s.id.clone()))
        };
        let Ok((envelope, session_id)) = sealed else {
            return reply(Err(failure("seal_failed")));
        };
        busy.set(true);
        outcome.set(None);
        spawn_local(async move {
            let url = ["/v1/frame/sessions/", &session_id, "/confirm"].concat();
            let request = api::confirm_request(&params.client_secret, &envelope);
            let result = http::post(&url, &request)
                .await
                .and_then(|v| Confirmed::read(&v).ok_or_else(CallError::network));
            busy.set(false);
            let result = match result {
                Ok(Confirmed { last4, result }) => {
                    number.set(String::new());
                    cvc.set(String::new());
                    stage.set(Stage::Done(last4));
                    Ok(result)
                }
                Err(e) => {
                    outcome.set(Some(e.clone()));
                    Err(e)
                }
            };
            reply(result);
        });
    };

    // Commands from embed.js; the listener lives as long as the frame's page. (Typed as
    // Leptos's own event listeners are, so the JS glue for them is shared.)
    let on_message = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
        let Some(cmd) = bridge.accept(&event) else {
            return;
        };
        match cmd.kind.as_str() {
            "payframe:submit" => submit(cmd.id),
            "payframe:update" => {
                let patch = OptionsPatch::parse(&cmd.options.unwrap_or(JsValue::NULL));
                if let Some(option) = patch.locale {
                    locale_option.set(option.unwrap_or_default());
                }
                if let Some(appearance) = patch.appearance {
                    appearance.apply();
                }
                if let Some(f) = patch.fields {
                    set_flag(show_name, f.name);
                    set_flag(show_postal, f.postal_code);
                }
            }
            _ => {}
        }
    });
    let _ =
        window().add_event_listener_with_callback("message", on_message.as_ref().unchecked_ref());
    on_message.forget();
    report_height(bridge);

    let label =
        move |key: Key| -> Text { Signal::derive(move || Some(t(locale(), key).to_owned())) };
    let fixed = |text: Option<&str>| -> Text { Signal::stored(text.map(str::to_owned)) };
    let field_error = move |i: usize| -> Text {
        Signal::derive(move || error(i).map(|e| error_text(e).to_owned()))
    };
    let next_after_cvc: Text = Signal::derive(move || {
        let next = if show_name.get() {
            Some("pf-name")
        } else if show_postal.get() {
            Some("pf-postal")
        } else {
            None
        };
        next.map(str::to_owned)
    });
    let brand = move || number.with(|n| fields::brand(n));
    let brand_kind: Text =
        Signal::derive(move || Some(brand().map_or("unknown", |b| b.as_str()).to_owned()));
    let brand_name: Text =
        Signal::derive(move || brand().map(|b| fields::brand_label(b).to_owned()));
    let outcome_text: Text =
        Signal::derive(move || outcome.with(|o| o.as_ref().map(|e| call_message(locale(), e))));
    let live: Text = Signal::derive(move || {
        first_visible_error()
            .map(|e| error_text(e).to_owned())
            .or_else(|| outcome_text.get())
    });
    let failed: Text =
        Signal::derive(move || outcome.with(Option::is_some).then(|| "false".to_owned()));

    let number_field = Field {
        id: "pf-number",
        label: label(Key::NumberLabel),
        placeholder: label(Key::NumberPlaceholder),
        name: "cardnumber",
        autocomplete: "cc-number",
        inputmode: "numeric",
        value: number,
        format: fields::display_number,
        keep: fields::is_digit,
        touched: touched[NUMBER],
        error: field_error(NUMBER),
        disabled: busy,
        done: |n, _| fields::number_complete(n) && fields::check_number(n).is_ok(),
        next: fixed(Some("pf-expiry")),
        number,
        bridge,
        event_name: "number",
    };
    let expiry_field = Field {
        id: "pf-expiry",
        label: label(Key::ExpiryLabel),
        placeholder: label(Key::ExpiryPlaceholder),
        name: "exp-date",
        autocomplete: "cc-exp",
        value: expiry,
        format: fields::display_expiry,
        touched: touched[EXPIRY],
        error: field_error(EXPIRY),
        done: |e, _| fields::check_expiry(e, now_unix()).is_ok(),
        next: fixed(Some("pf-cvc")),
        event_name: "expiry",
        ..number_field
    };
    let cvc_field = Field {
        id: "pf-cvc",
        label: label(Key::CvcLabel),
        placeholder: label(Key::CvcPlaceholder),
        name: "cvc",
        autocomplete: "cc-csc",
        value: cvc,
        format: |s| fields::digits(s, 4),
        touched: touched[CVC],
        error: field_error(CVC),
        done: |c, n| fields::cvc_complete(c, n) && fields::check_cvc(c, n).is_ok(),
        next: next_after_cvc,
        event_name: "cvc",
        ..expiry_field
    };
    let name_field = Field {
        id: "pf-name",
        label: label(Key::NameLabel),
        placeholder: label(Key::NamePlaceholder),
        name: "ccname",
        autocomplete: "cc-name",
        inputmode: "text",
        value: name,
        format: fields::display_name,
        keep: fields::is_any,
        touched: touched[NAME],
        error: field_error(NAME),
        done: |_, _| false,
        next: fixed(None),
        event_name: "name",
        ..number_field
    };
    let postal_field = Field {
        id: "pf-postal",
        label: label(Key::PostalLabel),
        placeholder: label(Key::PostalPlaceholder),
        name: "postal",
        autocomplete: "postal-code",
        value: postal,
        format: fields::display_postal,
        keep: fields::is_postal_char,
        touched: touched[POSTAL],
        error: field_error(POSTAL),
        event_name: "postalCode",
        ..name_field
    };

    let body = move || match stage.get() {
        Stage::Loading => message("pf-loading", None, Some("true"), label(Key::Loading)),
        Stage::Refused(key) => message("pf-refused", Some("alert"), None, label(key)),
        Stage::Done(last4) => {
            let text = Signal::derive(move || Some(done_text(t(locale(), Key::Done), &last4)));
            message("pf-done", Some("status"), None, text)
        }
        Stage::Ready => view! {
            <form class="pf-form" novalidate on:submit=|ev| ev.prevent_default()>
                {card_field(number_field, Some((brand_kind, brand_name)))}
                <div class="pf-row">
                    {card_field(expiry_field, None)}
                    {card_field(cvc_field, None)}
                </div>
                {optional_field(show_name, name_field)}
                {optional_field(show_postal, postal_field)}
                <p class="pf-outcome" data-ok=failed>{outcome_text}</p>
                <div class="pf-sr" role="status" aria-live="polite">{live}</div>
            </form>
        }
        .into_any(),
    };
    // A landmark and a heading, so a screen reader entering the frame knows where it is.
    view! {
        <main class="pf-main">
            <h1 class="pf-sr">{label(Key::FrameTitle)}</h1>
            {body}
        </main>
    }
    .into_any()
}

/// What `change` tells: complete, empty, brand, and the error shown (code, message).
type Summary = (
    bool,
    bool,
    &'static str,
    Option<(&'static str, &'static str)>,
);

/// The form's fields, in order: indexes into its arrays of values and touched flags.
const FIELDS: usize = 5;
const NUMBER: usize = 0;
const EXPIRY: usize = 1;
const CVC: usize = 2;
const NAME: usize = 3;
const POSTAL: usize = 4;

/// Tells the parent the content height so embed.js sizes the iframe and it never scrolls.
fn report_height(bridge: &'static Bridge) {
    let Some(body) = window().document().and_then(|d| d.body()) else {
        return;
    };
    // No arguments (the observer passes some): the same kind of closure as Leptos's own
    // callbacks, so the JS glue for it is shared.
    let observe = Closure::<dyn FnMut()>::new(move || {
        // The body's own height: the root element's never drops below the iframe's.
        let body = dom::get(&dom::document(), "body");
        let height = dom::get(&body, "offsetHeight").as_f64().unwrap_or(0.0);
        bridge.post("resize", &[("height", JsValue::from_f64(height))]);
    });
    if let Ok(observer) = web_sys::ResizeObserver::new(observe.as_ref().unchecked_ref()) {
        let _ = dom::call1(&observer, "observe", &body);
    }
    observe.forget();
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn done_text_fills_in_the_last_four() {
        for locale in Locale::ALL {
            let template = t(locale, Key::Done);
            assert_eq!(
                done_text(template, "4242"),
                template.replace("{last4}", "4242")
            );
        }
        assert_eq!(done_text("a {b} c", "4242"), "a {b} c");
        assert_eq!(done_text("no marker", "4242"), "no marker");
    }
}

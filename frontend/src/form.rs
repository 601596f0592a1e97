//! The card form component: loads the session, renders the fields in the shopper's
//! language and the merchant's appearance, tells embed.js how the form changes, and on a
//! `submit` command seals the card and confirms it, answering the parent page.

use crate::bridge::Bridge;
use crate::field::CardField;
use crate::fields::{self, FieldError};
use crate::http::{self, CallError};
use crate::i18n::{self, Key, Locale, t};
use crate::options::OptionsPatch;
use crate::params::{self, FrameParams};
use leptos::prelude::*;
use leptos::task::spawn_local;
use payframe_core::api::{ConfirmRequest, ConfirmResponse, FrameSession};
use payframe_core::envelope::{CardPayload, seal};
use serde_json::json;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

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
    let navigator = window().navigator();
    let mut tags: Vec<String> = navigator
        .languages()
        .iter()
        .filter_map(|v| v.as_string())
        .collect();
    tags.extend(navigator.language());
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

fn refusal(locale: Locale) -> AnyView {
    view! { <p class="pf-refused" role="alert">{t(locale, Key::Refused)}</p> }.into_any()
}

#[component]
pub fn Frame() -> impl IntoView {
    let location = window().location();
    let languages = browser_languages();
    let parsed = params::parse(
        &location.search().unwrap_or_default(),
        &location.hash().unwrap_or_default(),
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
    card_form(params, options, languages).into_any()
}

/// `location.ancestorOrigins[0]` where the browser has it (web-sys does not bind it).
fn first_ancestor_origin(location: &web_sys::Location) -> Option<String> {
    let list = js_sys::Reflect::get(location, &"ancestorOrigins".into()).ok()?;
    let list: web_sys::DomStringList = list.dyn_into().ok()?;
    list.item(0)
}

fn card_form(params: FrameParams, options: OptionsPatch, languages: Vec<String>) -> impl IntoView {
    let bridge = Bridge {
        origin: params.parent_origin.clone(),
        channel: params.channel.clone(),
    };
    let locale_option = RwSignal::new(options.locale.clone().flatten());
    let locale = Memo::new(move |_| choose_locale(locale_option.get().as_deref(), &languages));
    let fields_on = options.fields.clone().unwrap_or_default();
    let show_name = RwSignal::new(fields_on.name);
    let show_postal = RwSignal::new(fields_on.postal_code);
    options.appearance.unwrap_or_default().apply();

    let stage = RwSignal::new(Stage::Loading);
    let session = RwSignal::new(None::<FrameSession>);
    let number = RwSignal::new(String::new());
    let expiry = RwSignal::new(String::new());
    let cvc = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let postal = RwSignal::new(String::new());
    let number_t = RwSignal::new(false);
    let expiry_t = RwSignal::new(false);
    let cvc_t = RwSignal::new(false);
    let name_t = RwSignal::new(false);
    let postal_t = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let outcome = RwSignal::new(None::<CallError>);

    // The shopper's language for the document too: screen readers and the tab title.
    Effect::new(move |_| {
        let locale = locale.get();
        if let Some(doc) = window().document() {
            doc.set_title(t(locale, Key::FrameTitle));
            if let Some(root) = doc.document_element() {
                let _ = root.set_attribute("lang", locale.tag());
            }
        }
    });

    let number_err = Memo::new(move |_| {
        let n = number.get();
        fields::visible_error(
            fields::check_number(&n).map_err(FieldError::from),
            number_t.get(),
            fields::number_complete(&n),
        )
    });
    let expiry_err = Memo::new(move |_| {
        let e = expiry.get();
        fields::visible_error(
            fields::check_expiry(&e, now_unix()).map_err(FieldError::from),
            expiry_t.get(),
            fields::expiry_parts(&e).is_some(),
        )
    });
    let cvc_err = Memo::new(move |_| {
        let (c, n) = (cvc.get(), number.get());
        fields::visible_error(
            fields::check_cvc(&c, &n).map_err(FieldError::from),
            cvc_t.get(),
            fields::cvc_complete(&c, &n),
        )
    });
    let name_err = Memo::new(move |_| {
        fields::visible_error(fields::check_name(&name.get()), name_t.get(), false)
    });
    let postal_err = Memo::new(move |_| {
        fields::visible_error(fields::check_postal(&postal.get()), postal_t.get(), false)
    });
    let text = move |err: Memo<Option<FieldError>>| {
        Signal::derive(move || err.get().map(|e| t(locale.get(), i18n::field_error(e))))
    };

    // Every check of the enabled fields, first failure first.
    let check_all = move || -> Result<(), FieldError> {
        let n = number.get();
        fields::check_number(&n)?;
        fields::check_expiry(&expiry.get(), now_unix())?;
        fields::check_cvc(&cvc.get(), &n)?;
        if show_name.get() {
            fields::check_name(&name.get())?;
        }
        if show_postal.get() {
            fields::check_postal(&postal.get())?;
        }
        Ok(())
    };
    let first_visible_error = move || {
        [number_err, expiry_err, cvc_err]
            .into_iter()
            .chain(show_name.get().then_some(name_err))
            .chain(show_postal.get().then_some(postal_err))
            .find_map(|e| e.get())
    };

    // `change` for the merchant: complete, empty, brand and the error shown, if any.
    {
        let bridge = bridge.clone();
        let summary = Memo::new(move |_| {
            let empty = [number, expiry, cvc, name, postal]
                .iter()
                .all(|v| v.get().is_empty());
            let brand = fields::brand(&number.get()).map_or("unknown", |b| b.as_str());
            let error =
                first_visible_error().map(|e| (e.code(), t(locale.get(), i18n::field_error(e))));
            (check_all().is_ok(), empty, brand, error)
        });
        Effect::new(move |first: Option<()>| {
            let (complete, empty, brand, error) = summary.get();
            // The first run only subscribes: nothing has changed yet.
            if first.is_some() {
                let error =
                    error.map(|(code, message)| json!({ "code": code, "message": message }));
                bridge.post(
                    "change",
                    json!({ "complete": complete, "empty": empty, "brand": brand, "error": error }),
                );
            }
        });
    }

    {
        let (params, bridge) = (params.clone(), bridge.clone());
        spawn_local(async move {
            let url = format!(
                "/v1/frame/sessions/{}?client_secret={}",
                params.session_id,
                js_sys::encode_uri_component(&params.client_secret)
            );
            match http::get::<FrameSession>(&url).await {
                Ok(s) if !s.allowed_origins.contains(&params.parent_origin) => {
                    stage.set(Stage::Refused(Key::Refused));
                }
                Ok(s) if s.status != "open" => {
                    stage.set(Stage::Refused(Key::NotOpen));
                    bridge.post("error", json!({ "error": { "code": "session_not_open" } }));
                }
                Ok(s) => {
                    session.set(Some(s));
                    stage.set(Stage::Ready);
                    bridge.post("ready", json!({}));
                    // For measuring start-up (BENCHMARKS.md): time since this frame's navigation.
                    if let Some(performance) = window().performance() {
                        let _ = performance.mark("payframe-ready");
                    }
                }
                Err(e) => {
                    stage.set(Stage::Refused(Key::LoadFailed));
                    bridge.post(
                        "error",
                        json!({ "error": { "code": e.code, "message": e.message } }),
                    );
                }
            }
        });
    }

    let submit = {
        let (params, bridge) = (params.clone(), bridge.clone());
        move |id: u64| {
            let reply =
                move |bridge: &Bridge, result: Result<ConfirmResponse, CallError>| match result {
                    Ok(r) => bridge.post("result", json!({ "id": id, "ok": true, "result": r })),
                    Err(e) => bridge.post(
                        "result",
                        json!({ "id": id, "ok": false, "error": {
                            "code": e.code,
                            "message": call_message(locale.get_untracked(), &e),
                            "param": e.param,
                            "decline_code": e.decline_code,
                        } }),
                    ),
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
            let Some(s) = session.get_untracked() else {
                return reply(&bridge, Err(failure("not_ready")));
            };
            for touched in [number_t, expiry_t, cvc_t, name_t, postal_t] {
                touched.set(true);
            }
            if let Err(err) = check_all() {
                return bridge.post(
                    "result",
                    json!({ "id": id, "ok": false, "error": {
                        "code": "validation_error",
                        "message": t(locale.get_untracked(), i18n::field_error(err)),
                        "param": err.param(),
                    } }),
                );
            }
            let (n, e) = (number.get_untracked(), expiry.get_untracked());
            let (month, year) = fields::expiry_parts(&e).unwrap_or_default();
            let optional = |on: RwSignal<bool>, value: RwSignal<String>| {
                on.get_untracked()
                    .then(|| value.get_untracked().trim().to_owned())
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
            let sealed = seal(
                &s.encryption_key.public_key,
                &s.encryption_key.kid,
                &s.id,
                &payload,
            );
            drop(payload);
            let Ok(envelope) = sealed else {
                return reply(&bridge, Err(failure("seal_failed")));
            };
            busy.set(true);
            outcome.set(None);
            let (bridge, secret, session_id) =
                (bridge.clone(), params.client_secret.clone(), s.id.clone());
            spawn_local(async move {
                let url = format!("/v1/frame/sessions/{session_id}/confirm");
                let request = ConfirmRequest {
                    client_secret: secret,
                    envelope,
                };
                let result = http::post::<_, ConfirmResponse>(&url, &request).await;
                busy.set(false);
                match &result {
                    Ok(r) => {
                        number.set(String::new());
                        cvc.set(String::new());
                        stage.set(Stage::Done(r.payment_method.last4.clone()));
                    }
                    Err(e) => outcome.set(Some(e.clone())),
                }
                reply(&bridge, result);
            });
        }
    };

    // Commands from embed.js; the listener lives as long as the frame's page.
    {
        let bridge = bridge.clone();
        let on_message =
            Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
                let Some(cmd) = bridge.accept(&event) else {
                    return;
                };
                match cmd.kind.as_str() {
                    "payframe:submit" => submit(cmd.id),
                    "payframe:update" => {
                        let patch = OptionsPatch::parse(&cmd.options.unwrap_or_default());
                        if let Some(option) = patch.locale {
                            locale_option.set(option);
                        }
                        if let Some(appearance) = patch.appearance {
                            appearance.apply();
                        }
                        if let Some(f) = patch.fields {
                            show_name.set(f.name);
                            show_postal.set(f.postal_code);
                        }
                    }
                    _ => {}
                }
            });
        let _ = window()
            .add_event_listener_with_callback("message", on_message.as_ref().unchecked_ref());
        on_message.forget();
    }
    report_height(bridge.clone());

    // Stored, so that this helper is `Copy` and the view can call it in every branch.
    let bridge = StoredValue::new(bridge);
    let notify = move |field: &'static str| {
        Callback::new(move |focused: bool| {
            let kind = if focused { "focus" } else { "blur" };
            bridge.with_value(|b| b.post(kind, json!({ "field": field })));
        })
    };
    let label = move |key: Key| Signal::derive(move || t(locale.get(), key));
    let next_after_cvc = Signal::derive(move || {
        if show_name.get() {
            Some("pf-name")
        } else if show_postal.get() {
            Some("pf-postal")
        } else {
            None
        }
    });
    let never = Callback::new(|_: String| false);
    let brand = move || fields::brand(&number.get()).map_or("unknown", |b| b.as_str());
    let brand_label = move || fields::brand(&number.get()).map(fields::brand_label);
    let live = move || {
        first_visible_error()
            .map(|e| t(locale.get(), i18n::field_error(e)).to_owned())
            .or_else(|| outcome.get().map(|e| call_message(locale.get(), &e)))
    };

    let body = move || {
        match stage.get() {
        Stage::Loading => {
            view! { <p class="pf-loading" aria-busy="true">{move || t(locale.get(), Key::Loading)}</p> }
                .into_any()
        }
        Stage::Refused(key) => {
            view! { <p class="pf-refused" role="alert">{move || t(locale.get(), key)}</p> }
                .into_any()
        }
        Stage::Done(last4) => view! {
            <p class="pf-done" role="status">
                {move || t(locale.get(), Key::Done).replace("{last4}", &last4)}
            </p>
        }
        .into_any(),
        Stage::Ready => view! {
            <form class="pf-form" novalidate on:submit=|ev| ev.prevent_default()>
                <CardField id="pf-number" label=label(Key::NumberLabel) name="cardnumber"
                    autocomplete="cc-number" inputmode="numeric"
                    placeholder=label(Key::NumberPlaceholder) value=number
                    format=fields::display_number keep=fields::is_digit
                    touched=number_t error=text(number_err) disabled=busy
                    done=Callback::new(|n: String| fields::number_complete(&n) && fields::check_number(&n).is_ok())
                    next=Signal::stored(Some("pf-expiry")) on_focus=notify("number")>
                    <span class="pf-brand" data-brand=brand aria-hidden="true">{brand_label}</span>
                </CardField>
                <div class="pf-row">
                    <CardField id="pf-expiry" label=label(Key::ExpiryLabel) name="exp-date"
                        autocomplete="cc-exp" inputmode="numeric"
                        placeholder=label(Key::ExpiryPlaceholder) value=expiry
                        format=fields::display_expiry keep=fields::is_digit
                        touched=expiry_t error=text(expiry_err) disabled=busy
                        done=Callback::new(|e: String| fields::check_expiry(&e, now_unix()).is_ok())
                        next=Signal::stored(Some("pf-cvc")) on_focus=notify("expiry") />
                    <CardField id="pf-cvc" label=label(Key::CvcLabel) name="cvc"
                        autocomplete="cc-csc" inputmode="numeric"
                        placeholder=label(Key::CvcPlaceholder) value=cvc
                        format=|s| fields::digits(s, 4) keep=fields::is_digit
                        touched=cvc_t error=text(cvc_err) disabled=busy
                        done=Callback::new(move |c: String| {
                            let n = number.get_untracked();
                            fields::cvc_complete(&c, &n) && fields::check_cvc(&c, &n).is_ok()
                        })
                        next=next_after_cvc on_focus=notify("cvc") />
                </div>
                <Show when=move || show_name.get()>
                    <CardField id="pf-name" label=label(Key::NameLabel) name="ccname"
                        autocomplete="cc-name" inputmode="text"
                        placeholder=label(Key::NamePlaceholder) value=name
                        format=fields::display_name keep=fields::is_any
                        touched=name_t error=text(name_err) disabled=busy
                        done=never next=Signal::stored(None) on_focus=notify("name") />
                </Show>
                <Show when=move || show_postal.get()>
                    <CardField id="pf-postal" label=label(Key::PostalLabel) name="postal"
                        autocomplete="postal-code" inputmode="text"
                        placeholder=label(Key::PostalPlaceholder) value=postal
                        format=fields::display_postal keep=fields::is_postal_char
                        touched=postal_t error=text(postal_err) disabled=busy
                        done=never next=Signal::stored(None) on_focus=notify("postalCode") />
                </Show>
                <p class="pf-outcome" data-ok=move || outcome.get().map(|_| "false")>
                    {move || outcome.get().map(|e| call_message(locale.get(), &e))}
                </p>
                <div class="pf-sr" role="status" aria-live="polite">{live}</div>
            </form>
        }
        .into_any(),
    }
    };
    // A landmark and a heading, so a screen reader entering the frame knows where it is.
    view! {
        <main class="pf-main">
            <h1 class="pf-sr">{move || t(locale.get(), Key::FrameTitle)}</h1>
            {body}
        </main>
    }
}

/// Tells the parent the content height so embed.js sizes the iframe and it never scrolls.
fn report_height(bridge: Bridge) {
    let Some(body) = window().document().and_then(|d| d.body()) else {
        return;
    };
    let observe = Closure::<dyn Fn(js_sys::Array)>::new(move |_| {
        // The body's own height: the root element's never drops below the iframe's.
        let height = window()
            .document()
            .and_then(|d| d.body())
            .map_or(0, |b| b.offset_height());
        bridge.post("resize", json!({ "height": height }));
    });
    if let Ok(observer) = web_sys::ResizeObserver::new(observe.as_ref().unchecked_ref()) {
        observer.observe(&body);
    }
    observe.forget();
}

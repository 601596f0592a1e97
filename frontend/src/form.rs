//! The card form component: loads the session, renders the fields, and on a `submit`
//! command from embed.js seals the card and confirms it, answering the parent page.

use crate::bridge::Bridge;
use crate::fields;
use crate::http::{self, CallError};
use crate::params::{self, FrameParams};
use leptos::prelude::*;
use leptos::task::spawn_local;
use payframe_core::CardError;
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
    Refused(String),
    /// The card was accepted; the fields give way to a confirmation.
    Done(String),
}

/// One input with its label and error, wired for autofill and screen readers.
#[component]
fn CardField(
    id: &'static str,
    label: &'static str,
    name: &'static str,
    autocomplete: &'static str,
    placeholder: &'static str,
    value: RwSignal<String>,
    format: fn(&str) -> String,
    touched: RwSignal<bool>,
    error: Memo<Option<CardError>>,
    disabled: RwSignal<bool>,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    let error_id = format!("{id}-error");
    view! {
        <div class="pf-field">
            <label for=id>{label}</label>
            <div class="pf-input-wrap">
                <input
                    id=id
                    name=name
                    type="text"
                    autocomplete=autocomplete
                    inputmode="numeric"
                    placeholder=placeholder
                    spellcheck="false"
                    prop:value=move || value.get()
                    prop:disabled=move || disabled.get()
                    on:input=move |ev| value.set(format(&event_target_value(&ev)))
                    on:blur=move |_| touched.set(true)
                    aria-invalid=move || if error.get().is_some() { "true" } else { "false" }
                    aria-describedby=error_id.clone()
                />
                {children.map(|c| c())}
            </div>
            <p id=error_id class="pf-error">{move || error.get().map(|e| e.to_string())}</p>
        </div>
    }
}

#[component]
pub fn Frame() -> impl IntoView {
    let location = window().location();
    let parsed = params::parse(
        &location.search().unwrap_or_default(),
        &location.hash().unwrap_or_default(),
    );
    let Some(params) = parsed else {
        return view! { <p class="pf-refused" role="alert">"This payment form cannot be shown here."</p> }
            .into_any();
    };
    // Chromium and Safari tell the frame who really embeds it; trust that over the URL.
    if let Some(actual) = first_ancestor_origin(&location)
        && actual != params.parent_origin
    {
        return view! { <p class="pf-refused" role="alert">"This payment form cannot be shown here."</p> }
            .into_any();
    }
    card_form(params).into_any()
}

/// `location.ancestorOrigins[0]` where the browser has it (web-sys does not bind it).
fn first_ancestor_origin(location: &web_sys::Location) -> Option<String> {
    let list = js_sys::Reflect::get(location, &"ancestorOrigins".into()).ok()?;
    let list: web_sys::DomStringList = list.dyn_into().ok()?;
    list.item(0)
}

fn card_form(params: FrameParams) -> impl IntoView {
    let bridge = Bridge {
        origin: params.parent_origin.clone(),
        channel: params.channel.clone(),
    };
    let stage = RwSignal::new(Stage::Loading);
    let session = RwSignal::new(None::<FrameSession>);
    let number = RwSignal::new(String::new());
    let expiry = RwSignal::new(String::new());
    let cvc = RwSignal::new(String::new());
    let number_t = RwSignal::new(false);
    let expiry_t = RwSignal::new(false);
    let cvc_t = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let outcome = RwSignal::new(None::<(bool, String)>);

    let number_err = Memo::new(move |_| {
        let n = number.get();
        fields::visible_error(
            fields::check_number(&n),
            number_t.get(),
            fields::number_complete(&n),
        )
    });
    let expiry_err = Memo::new(move |_| {
        let e = expiry.get();
        fields::visible_error(
            fields::check_expiry(&e, now_unix()),
            expiry_t.get(),
            fields::expiry_parts(&e).is_some(),
        )
    });
    let cvc_err = Memo::new(move |_| {
        let (c, n) = (cvc.get(), number.get());
        let complete = fields::brand(&n).is_some_and(|b| c.len() == b.cvc_length());
        fields::visible_error(fields::check_cvc(&c, &n), cvc_t.get(), complete)
    });
    let live = move || {
        [number_err.get(), expiry_err.get(), cvc_err.get()]
            .into_iter()
            .flatten()
            .next()
            .map(|e| e.to_string())
            .or_else(|| outcome.get().map(|(_, m)| m))
    };

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
                    stage.set(Stage::Refused(
                        "This payment form cannot be shown here.".into(),
                    ));
                }
                Ok(s) if s.status != "open" => {
                    stage.set(Stage::Refused("This checkout is no longer open.".into()));
                    bridge.post("error", json!({ "error": { "code": "session_not_open" } }));
                }
                Ok(s) => {
                    session.set(Some(s));
                    stage.set(Stage::Ready);
                    bridge.post("ready", json!({}));
                }
                Err(e) => {
                    stage.set(Stage::Refused(
                        "The payment form could not be loaded.".into(),
                    ));
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
            let reply = move |bridge: &Bridge, result: Result<ConfirmResponse, CallError>| {
                match result {
                Ok(r) => bridge.post("result", json!({ "id": id, "ok": true, "result": r })),
                Err(e) => bridge.post(
                    "result",
                    json!({ "id": id, "ok": false, "error": { "code": e.code, "message": e.message, "param": e.param } }),
                ),
            }
            };
            if busy.get_untracked() {
                return;
            }
            let Some(s) = session.get_untracked() else {
                return reply(
                    &bridge,
                    Err(CallError {
                        code: "not_ready".into(),
                        message: "The form is still loading.".into(),
                        param: None,
                    }),
                );
            };
            number_t.set(true);
            expiry_t.set(true);
            cvc_t.set(true);
            let (n, e, c) = (
                number.get_untracked(),
                expiry.get_untracked(),
                cvc.get_untracked(),
            );
            let invalid = fields::check_number(&n)
                .and(fields::check_expiry(&e, now_unix()))
                .and(fields::check_cvc(&c, &n));
            if let Err(err) = invalid {
                return reply(
                    &bridge,
                    Err(CallError {
                        code: "validation_error".into(),
                        message: err.to_string(),
                        param: Some(err.param().into()),
                    }),
                );
            }
            let (month, year) = fields::expiry_parts(&e).unwrap_or_default();
            let payload = CardPayload {
                number: fields::digits(&n, fields::MAX_PAN_DIGITS),
                exp_month: month,
                exp_year: 2000 + year,
                cvc: c,
                sealed_at: now_unix(),
                name: None,
                postal_code: None,
            };
            let sealed = seal(
                &s.encryption_key.public_key,
                &s.encryption_key.kid,
                &s.id,
                &payload,
            );
            drop(payload);
            let Ok(envelope) = sealed else {
                return reply(
                    &bridge,
                    Err(CallError {
                        code: "seal_failed".into(),
                        message: "The card could not be encrypted.".into(),
                        param: None,
                    }),
                );
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
                        let last4 = &r.payment_method.last4;
                        stage.set(Stage::Done(format!("Card ending in {last4} accepted.")));
                    }
                    Err(e) => outcome.set(Some((false, e.message.clone()))),
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
                if let Some(cmd) = bridge.accept(&event)
                    && cmd.kind == "payframe:submit"
                {
                    submit(cmd.id);
                }
            });
        let _ = window()
            .add_event_listener_with_callback("message", on_message.as_ref().unchecked_ref());
        on_message.forget();
    }
    report_height(bridge);

    let brand = move || fields::brand(&number.get()).map_or("unknown", |b| b.as_str());
    move || {
        match stage.get() {
        Stage::Loading => view! { <p class="pf-loading" aria-busy="true">"Loading…"</p> }.into_any(),
        Stage::Refused(reason) => view! { <p class="pf-refused" role="alert">{reason}</p> }.into_any(),
        Stage::Done(message) => view! { <p class="pf-done" role="status">{message}</p> }.into_any(),
        Stage::Ready => view! {
            <form class="pf-form" novalidate on:submit=|ev| ev.prevent_default()>
                <CardField id="pf-number" label="Card number" name="cardnumber" autocomplete="cc-number"
                    placeholder="1234 1234 1234 1234" value=number format=fields::display_number
                    touched=number_t error=number_err disabled=busy>
                    <span class="pf-brand" data-brand=brand aria-hidden="true">{brand}</span>
                </CardField>
                <div class="pf-row">
                    <CardField id="pf-expiry" label="Expiry date" name="exp-date" autocomplete="cc-exp"
                        placeholder="MM / YY" value=expiry format=fields::display_expiry
                        touched=expiry_t error=expiry_err disabled=busy />
                    <CardField id="pf-cvc" label="Security code" name="cvc" autocomplete="cc-csc"
                        placeholder="CVC" value=cvc format=|s| fields::digits(s, 4)
                        touched=cvc_t error=cvc_err disabled=busy />
                </div>
                <p class="pf-outcome" data-ok=move || outcome.get().map(|(ok, _)| ok.to_string())>
                    {move || outcome.get().map(|(_, m)| m)}
                </p>
                <div class="pf-sr" role="status" aria-live="polite">{live}</div>
            </form>
        }
        .into_any(),
    }
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

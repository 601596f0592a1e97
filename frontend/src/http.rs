//! Minimal JSON over `fetch` to the gateway (same origin as the frame).

use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// A failed call: the API's stable error code and its message, or `network_error`.
#[derive(Debug, Clone)]
pub struct CallError {
    pub code: String,
    pub message: String,
    pub param: Option<String>,
    /// Why the issuer declined, when it did (`insufficient_funds`, ...).
    pub decline_code: Option<String>,
}

impl CallError {
    fn network() -> CallError {
        CallError {
            code: "network_error".into(),
            message: "The payment service could not be reached.".into(),
            param: None,
            decline_code: None,
        }
    }
}

async fn call(method: &str, url: &str, body: Option<String>) -> Result<(u16, String), CallError> {
    let window = web_sys::window().ok_or_else(CallError::network)?;
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    if let Some(body) = body {
        let headers = web_sys::Headers::new().map_err(|_| CallError::network())?;
        headers
            .set("content-type", "application/json")
            .map_err(|_| CallError::network())?;
        init.set_headers(&headers);
        init.set_body(&JsValue::from_str(&body));
    }
    let response = JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await
        .map_err(|_| CallError::network())?;
    let response: web_sys::Response = response.dyn_into().map_err(|_| CallError::network())?;
    let text = JsFuture::from(response.text().map_err(|_| CallError::network())?)
        .await
        .map_err(|_| CallError::network())?;
    Ok((response.status(), text.as_string().unwrap_or_default()))
}

fn decode<T: DeserializeOwned>(status: u16, text: &str) -> Result<T, CallError> {
    if (200..300).contains(&status) {
        return serde_json::from_str(text).map_err(|_| CallError::network());
    }
    match serde_json::from_str::<payframe_core::api::ErrorBody>(text) {
        Ok(body) => Err(CallError {
            code: body.error.code,
            message: body.error.message,
            param: body.error.param,
            decline_code: body.error.decline_code,
        }),
        Err(_) => Err(CallError::network()),
    }
}

pub async fn get<T: DeserializeOwned>(url: &str) -> Result<T, CallError> {
    let (status, text) = call("GET", url, None).await?;
    decode(status, &text)
}

pub async fn post<B: Serialize, T: DeserializeOwned>(url: &str, body: &B) -> Result<T, CallError> {
    let body = serde_json::to_string(body).map_err(|_| CallError::network())?;
    let (status, text) = call("POST", url, Some(body)).await?;
    decode(status, &text)
}

//! Minimal JSON over `fetch` to the gateway (same origin as the frame).

use crate::{dom, json};
use wasm_bindgen::JsValue;
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
    /// The service could not be reached, or answered with something unexpected.
    pub fn network() -> CallError {
        CallError {
            code: "network_error".into(),
            message: "The payment service could not be reached.".into(),
            param: None,
            decline_code: None,
        }
    }
}

async fn call(method: &str, url: &str, body: Option<String>) -> Result<(u16, String), CallError> {
    // The `RequestInit` as a plain object (`{method, headers, body}`), which `fetch` takes.
    let init = json::object(&[("method", JsValue::from_str(method))]);
    if let Some(body) = body {
        let headers = json::object(&[("content-type", JsValue::from_str("application/json"))]);
        json::set(
            &init,
            &[("headers", headers), ("body", JsValue::from_str(&body))],
        );
    }
    let fetched = dom::call(&dom::window(), "fetch", &JsValue::from_str(url), &init)
        .map_err(|_| CallError::network())?;
    let response = JsFuture::from(js_sys::Promise::from(fetched))
        .await
        .map_err(|_| CallError::network())?;
    let text = dom::call(&response, "text", &JsValue::UNDEFINED, &JsValue::UNDEFINED)
        .map_err(|_| CallError::network())?;
    let text = JsFuture::from(js_sys::Promise::from(text))
        .await
        .map_err(|_| CallError::network())?;
    let status = dom::get(&response, "status").as_f64().unwrap_or_default() as u16;
    Ok((status, text.as_string().unwrap_or_default()))
}

/// A 2xx answer's JSON, or the API's error (`{"error":{type,code,message,param?,…}}`).
fn decode(status: u16, text: &str) -> Result<JsValue, CallError> {
    let value = json::parse(text).ok_or_else(CallError::network)?;
    if (200..300).contains(&status) {
        return Ok(value);
    }
    let error = json::get(&value, "error").ok_or_else(CallError::network)?;
    json::string(&error, "type").ok_or_else(CallError::network)?;
    Err(CallError {
        code: json::string(&error, "code").ok_or_else(CallError::network)?,
        message: json::string(&error, "message").ok_or_else(CallError::network)?,
        param: json::string(&error, "param"),
        decline_code: json::string(&error, "decline_code"),
    })
}

pub async fn get(url: &str) -> Result<JsValue, CallError> {
    let (status, text) = call("GET", url, None).await?;
    decode(status, &text)
}

pub async fn post(url: &str, body: &JsValue) -> Result<JsValue, CallError> {
    let body = json::stringify(body).ok_or_else(CallError::network)?;
    let (status, text) = call("POST", url, Some(body)).await?;
    decode(status, &text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn decodes_answers_and_api_errors() {
        assert!(json::is_object(&decode(200, r#"{"id":"cs_1"}"#).unwrap()));
        assert_eq!(decode(200, "<html>").unwrap_err().code, "network_error");
        let e = decode(
            402,
            r#"{"error":{"type":"card_error","code":"card_declined","message":"Declined.",
                "decline_code":"insufficient_funds","payment":"pay_1"}}"#,
        )
        .unwrap_err();
        assert_eq!(
            (
                e.code.as_str(),
                e.message.as_str(),
                e.param,
                e.decline_code.as_deref()
            ),
            (
                "card_declined",
                "Declined.",
                None,
                Some("insufficient_funds")
            )
        );
        let e = decode(
            400,
            r#"{"error":{"type":"invalid_request_error","code":"invalid_param","message":"M","param":"envelope.kid"}}"#,
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("envelope.kid"));
        for bad in [
            "",
            "{}",
            r#"{"error":{"code":"x","message":"y"}}"#,
            r#"{"error":"x"}"#,
        ] {
            assert_eq!(decode(500, bad).unwrap_err().code, "network_error", "{bad}");
        }
    }
}

//! What the frame reads of the gateway's frame-facing answers and what it sends, mirroring
//! `payframe_core::api` (the gateway's serde types) field for field, read through the
//! browser's JSON (see `json.rs`).

use crate::json;
use payframe_core::Envelope;
use wasm_bindgen::{JsCast, JsValue};

/// 2^32: `u32` fields hold whole numbers below it.
const U32_END: f64 = 4_294_967_296.0;

/// What the frame uses of `GET /v1/frame/sessions/{id}` (`api::FrameSession`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    /// `open`, `processing`, `complete`, `locked` or `expired`.
    pub status: String,
    pub allowed_origins: Vec<String>,
    /// The encryption key's id, for the envelope's `kid`.
    pub kid: String,
    /// base64url of the gateway's X25519 public key.
    pub public_key: String,
}

impl Session {
    pub fn read(value: &JsValue) -> Option<Session> {
        let origins = json::get(value, "allowed_origins")?;
        if !js_sys::Array::is_array(&origins) {
            return None;
        }
        let allowed_origins = origins
            .unchecked_into::<js_sys::Array>()
            .iter()
            .map(|o| o.as_string())
            .collect::<Option<Vec<String>>>()?;
        let key = json::get(value, "encryption_key")?;
        Some(Session {
            id: json::string(value, "id")?,
            status: json::string(value, "status")?,
            allowed_origins,
            kid: json::string(&key, "kid")?,
            public_key: json::string(&key, "public_key")?,
        })
    }
}

/// The body of `POST /v1/frame/sessions/{id}/confirm` (`api::ConfirmRequest`).
pub fn confirm_request(client_secret: &str, envelope: &Envelope) -> JsValue {
    let envelope = json::object(&[
        ("v", JsValue::from_f64(envelope.v.into())),
        ("kid", JsValue::from_str(&envelope.kid)),
        ("enc", JsValue::from_str(&envelope.enc)),
        ("ct", JsValue::from_str(&envelope.ct)),
    ]);
    json::object(&[
        ("client_secret", JsValue::from_str(client_secret)),
        ("envelope", envelope),
    ])
}

/// The confirm answer (`api::ConfirmResponse`): the last four digits for the frame, and
/// `{token, payment_method: {brand, last4, exp_month, exp_year}, payment}` for the page.
pub struct Confirmed {
    pub last4: String,
    pub result: JsValue,
}

impl Confirmed {
    pub fn read(value: &JsValue) -> Option<Confirmed> {
        let token = json::string(value, "token")?;
        let method = json::get(value, "payment_method")?;
        let last4 = json::string(&method, "last4")?;
        let payment_method = json::object(&[
            ("brand", JsValue::from_str(&json::string(&method, "brand")?)),
            ("last4", JsValue::from_str(&last4)),
            (
                "exp_month",
                JsValue::from_f64(json::whole(&method, "exp_month", U32_END)?),
            ),
            (
                "exp_year",
                JsValue::from_f64(json::whole(&method, "exp_year", U32_END)?),
            ),
        ]);
        let result = json::object(&[
            ("token", JsValue::from_str(&token)),
            ("payment_method", payment_method),
            (
                "payment",
                json::get(value, "payment").unwrap_or(JsValue::NULL),
            ),
        ]);
        Some(Confirmed { last4, result })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn reads_a_session() {
        let text = r#"{"id":"cs_1","object":"session","amount":1000,"currency":"brl",
            "status":"open","allowed_origins":["http://a.example","http://b.example"],
            "expires_at":1795000000,"encryption_key":{"kid":"k1","public_key":"pk"}}"#;
        assert_eq!(
            Session::read(&json::parse(text).unwrap()),
            Some(Session {
                id: "cs_1".into(),
                status: "open".into(),
                allowed_origins: vec!["http://a.example".into(), "http://b.example".into()],
                kid: "k1".into(),
                public_key: "pk".into(),
            })
        );
        for bad in [
            r#"{"id":"cs_1","status":"open","allowed_origins":"x","encryption_key":{"kid":"k","public_key":"p"}}"#,
            r#"{"id":"cs_1","status":"open","allowed_origins":[1],"encryption_key":{"kid":"k","public_key":"p"}}"#,
            r#"{"id":"cs_1","status":"open","allowed_origins":[],"encryption_key":{"kid":"k"}}"#,
            r#"{"status":"open","allowed_origins":[],"encryption_key":{"kid":"k","public_key":"p"}}"#,
        ] {
            assert_eq!(Session::read(&json::parse(bad).unwrap()), None, "{bad}");
        }
    }

    #[test]
    fn writes_the_confirm_request() {
        let envelope = Envelope {
            v: 1,
            kid: "k1".into(),
            enc: "ZW5j".into(),
            ct: "Y3Q".into(),
        };
        assert_eq!(
            json::stringify(&confirm_request("cs_1_secret_x", &envelope)).as_deref(),
            Some(
                r#"{"client_secret":"cs_1_secret_x","envelope":{"v":1,"kid":"k1","enc":"ZW5j","ct":"Y3Q"}}"#
            )
        );
    }

    #[test]
    fn reads_the_confirm_answer() {
        let text = r#"{"token":"tok_1","extra":1,"payment_method":{"brand":"visa","last4":"4242",
            "exp_month":12,"exp_year":2030},"payment":{"id":"pay_1","amount":1000}}"#;
        let c = Confirmed::read(&json::parse(text).unwrap()).unwrap();
        assert_eq!(c.last4, "4242");
        assert_eq!(
            json::stringify(&c.result).as_deref(),
            Some(
                r#"{"token":"tok_1","payment_method":{"brand":"visa","last4":"4242","exp_month":12,"exp_year":2030},"payment":{"id":"pay_1","amount":1000}}"#
            )
        );
        let no_payment = r#"{"token":"t","payment_method":{"brand":"visa","last4":"4242","exp_month":1,"exp_year":2030}}"#;
        let c = Confirmed::read(&json::parse(no_payment).unwrap()).unwrap();
        assert!(json::get(&c.result, "payment").unwrap().is_null());
        let bad = r#"{"token":"t","payment_method":{"brand":"visa","last4":"4242","exp_month":-1,"exp_year":2030}}"#;
        assert!(Confirmed::read(&json::parse(bad).unwrap()).is_none());
    }
}

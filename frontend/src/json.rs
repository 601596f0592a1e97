//! The few small JSON objects the frame reads and writes — API answers, the merchant's
//! options, messages to and from embed.js — go through the browser's own `JSON` and plain
//! JS objects rather than serde: a JSON (de)serializer and its generic code would be a
//! large share of the frame's wasm. These helpers read them with JSON's meaning: a key
//! whose value is `undefined` is absent, and an array is not an object.

use js_sys::{Array, JSON, Object, Reflect};
use wasm_bindgen::JsValue;

/// `JSON.parse(text)`, or `None` if it is not JSON.
pub fn parse(text: &str) -> Option<JsValue> {
    JSON::parse(text).ok()
}

/// Whether `value` is a JSON object: not `null`, not an array.
pub fn is_object(value: &JsValue) -> bool {
    value.is_object() && !Array::is_array(value)
}

/// `value[key]` of a JSON object; `None` when `value` is not one or the key is absent.
pub fn get(value: &JsValue, key: &str) -> Option<JsValue> {
    if !is_object(value) {
        return None;
    }
    Reflect::get(value, &JsValue::from_str(key))
        .ok()
        .filter(|v| !v.is_undefined())
}

/// `value[key]` when it is a string.
pub fn string(value: &JsValue, key: &str) -> Option<String> {
    get(value, key)?.as_string()
}

/// `value[key]` when it is a boolean.
pub fn boolean(value: &JsValue, key: &str) -> Option<bool> {
    get(value, key)?.as_bool()
}

/// `value[key]` when it is a whole number from 0 up to, not including, `end`.
pub fn whole(value: &JsValue, key: &str, end: f64) -> Option<f64> {
    get(value, key)?
        .as_f64()
        .filter(|n| (0.0..end).contains(n) && n.fract() == 0.0)
}

/// A string, or `null` for `None`.
pub fn string_or_null(value: Option<&str>) -> JsValue {
    value.map_or(JsValue::NULL, JsValue::from_str)
}

/// A new object with these keys, in this order.
pub fn object(entries: &[(&str, JsValue)]) -> JsValue {
    let object: JsValue = Object::new().into();
    set(&object, entries);
    object
}

/// Sets these keys of an object, in this order.
pub fn set(object: &JsValue, entries: &[(&str, JsValue)]) {
    for (key, value) in entries {
        let _ = Reflect::set(object, &JsValue::from_str(key), value);
    }
}

/// `JSON.stringify(value)`.
pub fn stringify(value: &JsValue) -> Option<String> {
    JSON::stringify(value).ok()?.as_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn reads_with_json_meaning() {
        let v =
            parse(r#"{"s":"x","b":true,"n":12,"f":1.5,"m":-1,"z":null,"a":[1],"o":{}}"#).unwrap();
        assert_eq!(string(&v, "s").as_deref(), Some("x"));
        assert_eq!(string(&v, "b"), None);
        assert_eq!(boolean(&v, "b"), Some(true));
        assert_eq!(whole(&v, "n", 13.0), Some(12.0));
        assert_eq!(whole(&v, "n", 12.0), None);
        assert_eq!(whole(&v, "f", 10.0), None);
        assert_eq!(whole(&v, "m", 10.0), None);
        assert!(get(&v, "z").unwrap().is_null());
        assert!(get(&v, "missing").is_none());
        assert!(!is_object(&get(&v, "a").unwrap()));
        assert!(is_object(&get(&v, "o").unwrap()));
        assert!(get(&get(&v, "a").unwrap(), "length").is_none());
        assert!(get(&JsValue::from_str("text"), "length").is_none());
        assert!(parse("not json").is_none());
    }

    #[test]
    fn writes_objects_in_order() {
        let v = object(&[
            ("b", JsValue::from_f64(1.0)),
            ("a", string_or_null(None)),
            ("c", string_or_null(Some("é\""))),
        ]);
        assert_eq!(
            stringify(&v).as_deref(),
            Some(r#"{"b":1,"a":null,"c":"é\""}"#)
        );
    }
}

//! Browser APIs the frame uses once or twice, read and called by name through `Reflect`
//! and `Function.prototype.call` rather than through a web-sys binding each: every binding
//! is an import of its own, with its own JS glue, and together they were a good part of
//! the frame's download. (Leptos keeps its own bindings; these are the frame's.)

use js_sys::{Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};

/// `object[key]`; `undefined` when there is no such property or `object` is not an object.
pub fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// `object[key]` when it is a string.
pub fn string(object: &JsValue, key: &str) -> Option<String> {
    get(object, key).as_string()
}

/// `object[key] = value`.
pub fn set(object: &JsValue, key: &str, value: &JsValue) {
    let _ = Reflect::set(object, &JsValue::from_str(key), value);
}

/// `object[method](a, b)`; `Err` when it throws or there is no such method. Methods that
/// take fewer arguments are given `undefined` for the rest, which they ignore.
pub fn call(object: &JsValue, method: &str, a: &JsValue, b: &JsValue) -> Result<JsValue, JsValue> {
    get(object, method)
        .dyn_into::<Function>()?
        .call2(object, a, b)
}

/// `object[method](a)`.
pub fn call1(object: &JsValue, method: &str, a: &JsValue) -> Result<JsValue, JsValue> {
    call(object, method, a, &JsValue::UNDEFINED)
}

/// The global `window`.
pub fn window() -> JsValue {
    js_sys::global().into()
}

/// `window.document`.
pub fn document() -> JsValue {
    get(&window(), "document")
}

/// `<html>`, the document's root element.
pub fn root() -> JsValue {
    get(&document(), "documentElement")
}

/// `element.setAttribute(name, value)`.
pub fn set_attribute(element: &JsValue, name: &str, value: &str) {
    let (name, value) = (JsValue::from_str(name), JsValue::from_str(value));
    let _ = call(element, "setAttribute", &name, &value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn reads_sets_and_calls_by_name() {
        let o = js_sys::Object::new().into();
        set(&o, "a", &JsValue::from_str("x"));
        assert_eq!(string(&o, "a").as_deref(), Some("x"));
        assert!(get(&o, "missing").is_undefined());
        assert!(get(&JsValue::UNDEFINED, "a").is_undefined());
        let list = crate::json::parse("[1, 2]").unwrap();
        assert_eq!(
            call1(&list, "indexOf", &JsValue::from_f64(2.0))
                .unwrap()
                .as_f64(),
            Some(1.0)
        );
        let joined = call(&list, "join", &"-".into(), &JsValue::UNDEFINED).unwrap();
        assert_eq!(joined.as_string().as_deref(), Some("1-2"));
        assert!(call1(&list, "noSuchMethod", &JsValue::UNDEFINED).is_err());
        assert!(call1(&JsValue::from_str("text"), "indexOf", &"x".into()).is_err());
        assert!(get(&document(), "body").is_object());
    }
}

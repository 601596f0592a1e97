//! The frame's side of the channel to embed.js: messages go only to the session's
//! registered origin (never `"*"`), and only messages from that origin, from the parent
//! window, on this instance's channel are obeyed.

use crate::{dom, json};
use wasm_bindgen::JsValue;

#[derive(Clone)]
pub struct Bridge {
    pub origin: String,
    pub channel: String,
}

/// A command from the embedding page: `{type, channel, id?, options?}`.
#[derive(Debug)]
pub struct Command {
    pub kind: String,
    pub channel: String,
    /// For `payframe:submit`: echoed in the result; 0 when the page sent none.
    pub id: u64,
    /// For `payframe:update`: the options to change (`null` counts as none).
    pub options: Option<JsValue>,
}

impl Command {
    /// Reads a command; `None` unless `type` and `channel` are strings and `id`, when
    /// present, is a whole number from 0 to 2^64 − 1.
    pub fn read(data: &JsValue) -> Option<Command> {
        let id = match json::get(data, "id") {
            None => 0,
            Some(_) => json::whole(data, "id", 18_446_744_073_709_551_616.0)? as u64,
        };
        Some(Command {
            kind: json::string(data, "type")?,
            channel: json::string(data, "channel")?,
            id,
            options: json::get(data, "options").filter(|o| !o.is_null()),
        })
    }
}

impl Bridge {
    /// Sends `{type: "payframe:<kind>", channel, ...fields}` to the parent page.
    pub fn post(&self, kind: &str, fields: &[(&str, JsValue)]) {
        let parent = dom::get(&dom::window(), "parent");
        let mut kind_tag = String::from("payframe:");
        kind_tag.push_str(kind);
        let message = json::object(&[
            ("type", JsValue::from_str(&kind_tag)),
            ("channel", JsValue::from_str(&self.channel)),
        ]);
        json::set(&message, fields);
        let _ = dom::call(
            &parent,
            "postMessage",
            &message,
            &JsValue::from_str(&self.origin),
        );
    }

    /// The command carried by a `message` event, if it is one this frame must obey.
    pub fn accept(&self, event: &JsValue) -> Option<Command> {
        if dom::string(event, "origin")? != self.origin {
            return None;
        }
        let parent = dom::get(&dom::window(), "parent");
        let source = dom::get(event, "source");
        if !parent.is_object() || !js_sys::Object::is(&source, &parent) {
            return None;
        }
        let command = Command::read(&dom::get(event, "data"))?;
        (command.channel == self.channel).then_some(command)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn read(text: &str) -> Option<Command> {
        Command::read(&json::parse(text).unwrap())
    }

    #[test]
    fn reads_commands() {
        let c = read(r#"{"type":"payframe:submit","channel":"c1","id":7}"#).unwrap();
        assert_eq!(
            (c.kind.as_str(), c.channel.as_str(), c.id),
            ("payframe:submit", "c1", 7)
        );
        assert!(c.options.is_none());
        let c =
            read(r#"{"type":"payframe:update","channel":"c1","options":{"locale":"en"}}"#).unwrap();
        assert_eq!(c.id, 0);
        assert!(json::is_object(&c.options.unwrap()));
        assert!(
            read(r#"{"type":"payframe:update","channel":"c1","options":null}"#)
                .unwrap()
                .options
                .is_none()
        );
        for bad in [
            r#"{"channel":"c1"}"#,
            r#"{"type":"payframe:submit"}"#,
            r#"{"type":1,"channel":"c1"}"#,
            r#"{"type":"payframe:submit","channel":"c1","id":-1}"#,
            r#"{"type":"payframe:submit","channel":"c1","id":1.5}"#,
            r#"{"type":"payframe:submit","channel":"c1","id":"1"}"#,
            r#"{"type":"payframe:submit","channel":"c1","id":null}"#,
            r#""payframe:submit""#,
            "null",
        ] {
            assert!(read(bad).is_none(), "{bad}");
        }
    }
}

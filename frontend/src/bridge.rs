//! The frame's side of the channel to embed.js: messages go only to the session's
//! registered origin (never `"*"`), and only messages from that origin, from the parent
//! window, on this instance's channel are obeyed.

use serde::Deserialize;
use serde_json::{Value, json};
use wasm_bindgen::JsValue;

#[derive(Clone)]
pub struct Bridge {
    pub origin: String,
    pub channel: String,
}

/// A command from the embedding page.
#[derive(Debug, Deserialize)]
pub struct Command {
    #[serde(rename = "type")]
    pub kind: String,
    pub channel: String,
    #[serde(default)]
    pub id: u64,
    /// For `payframe:update`: the options to change.
    #[serde(default)]
    pub options: Option<Value>,
}

impl Bridge {
    /// Sends `{type: "payframe:<kind>", channel, ...fields}` to the parent page.
    pub fn post(&self, kind: &str, fields: Value) {
        let mut message = json!({ "type": format!("payframe:{kind}"), "channel": self.channel });
        if let (Some(m), Value::Object(extra)) = (message.as_object_mut(), fields) {
            m.extend(extra);
        }
        let Some(parent) = web_sys::window().and_then(|w| w.parent().ok().flatten()) else {
            return;
        };
        let Ok(value) = js_sys::JSON::parse(&message.to_string()) else {
            return;
        };
        let _ = parent.post_message(&value, &self.origin);
    }

    /// The command carried by a `message` event, if it is one this frame must obey.
    pub fn accept(&self, event: &web_sys::MessageEvent) -> Option<Command> {
        if event.origin() != self.origin {
            return None;
        }
        let parent = web_sys::window()?.parent().ok().flatten()?;
        let source: JsValue = event.source()?.into();
        if !js_sys::Object::is(&source, &parent) {
            return None;
        }
        let text = js_sys::JSON::stringify(&event.data()).ok()?.as_string()?;
        let command: Command = serde_json::from_str(&text).ok()?;
        (command.channel == self.channel).then_some(command)
    }
}

//! The merchant's display options — `locale`, `appearance`, `fields` — as embed.js passes
//! them: in the frame URL's fragment at mount, then in `payframe:update` messages. Each
//! message is a patch: a key it leaves out keeps its current value.

use crate::appearance::Appearance;
use crate::json;
use wasm_bindgen::JsValue;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OptionalFields {
    pub name: bool,
    pub postal_code: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OptionsPatch {
    /// `Some(None)`: the merchant cleared the locale (back to the browser's language).
    pub locale: Option<Option<String>>,
    pub appearance: Option<Appearance>,
    pub fields: Option<OptionalFields>,
}

impl OptionsPatch {
    pub fn parse(value: &JsValue) -> OptionsPatch {
        if !json::is_object(value) {
            return OptionsPatch::default();
        }
        OptionsPatch {
            locale: json::get(value, "locale").map(|l| l.as_string()),
            appearance: json::get(value, "appearance")
                .filter(json::is_object)
                .map(|a| Appearance::parse(&a)),
            fields: json::get(value, "fields").filter(json::is_object).map(|f| {
                let on = |key: &str| json::boolean(&f, key).unwrap_or(false);
                OptionalFields {
                    name: on("name"),
                    postal_code: on("postalCode"),
                }
            }),
        }
    }

    pub fn parse_text(text: Option<&str>) -> OptionsPatch {
        text.and_then(json::parse)
            .map_or_else(OptionsPatch::default, |v| OptionsPatch::parse(&v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appearance::Theme;
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn reads_a_patch() {
        let p = OptionsPatch::parse_text(Some(
            r#"{
                "locale": "zh-CN",
                "appearance": {"theme": "flat"},
                "fields": {"name": true, "postalCode": "yes"}
            }"#,
        ));
        assert_eq!(p.locale, Some(Some("zh-CN".into())));
        assert_eq!(p.appearance.unwrap().theme, Theme::Flat);
        assert_eq!(
            p.fields,
            Some(OptionalFields {
                name: true,
                postal_code: false
            })
        );
        assert_eq!(
            OptionsPatch::parse_text(Some("not json")),
            OptionsPatch::default()
        );
        assert_eq!(
            OptionsPatch::parse_text(Some(r#"{"locale": null}"#)).locale,
            Some(None)
        );
        // Arrays are not objects: `fields: []` changes nothing.
        assert_eq!(
            OptionsPatch::parse_text(Some(r#"{"fields": [], "appearance": [1]}"#)),
            OptionsPatch::default()
        );
        assert_eq!(
            OptionsPatch::parse_text(Some(r#"["locale"]"#)),
            OptionsPatch::default()
        );
    }
}

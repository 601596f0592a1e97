//! The merchant's display options — `locale`, `appearance`, `fields` — as embed.js passes
//! them: in the frame URL's fragment at mount, then in `payframe:update` messages. Each
//! message is a patch: a key it leaves out keeps its current value.

use crate::appearance::Appearance;
use serde_json::Value;

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
    pub fn parse(value: &Value) -> OptionsPatch {
        let Some(object) = value.as_object() else {
            return OptionsPatch::default();
        };
        OptionsPatch {
            locale: object.get("locale").map(|l| l.as_str().map(str::to_owned)),
            appearance: object
                .get("appearance")
                .filter(|a| a.is_object())
                .map(Appearance::parse),
            fields: object.get("fields").filter(|f| f.is_object()).map(|f| {
                let on = |key: &str| f.get(key).and_then(Value::as_bool).unwrap_or(false);
                OptionalFields {
                    name: on("name"),
                    postal_code: on("postalCode"),
                }
            }),
        }
    }

    pub fn parse_text(text: Option<&str>) -> OptionsPatch {
        text.and_then(|t| serde_json::from_str::<Value>(t).ok())
            .map_or_else(OptionsPatch::default, |v| OptionsPatch::parse(&v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appearance::Theme;
    use serde_json::json;
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn reads_a_patch() {
        let p = OptionsPatch::parse(&json!({
            "locale": "zh-CN",
            "appearance": {"theme": "flat"},
            "fields": {"name": true, "postalCode": "yes"}
        }));
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
            OptionsPatch::parse(&json!({"locale": null})).locale,
            Some(None)
        );
    }
}

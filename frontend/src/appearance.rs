//! The merchant's `appearance` option: a theme and a few CSS variables. The values come
//! from another origin, so each is checked here against a narrow allow-list (colors,
//! lengths, font names) and anything else is dropped; what passes is set through the
//! CSSOM (`style.setProperty('--pf-…')`), which the frame's CSP `style-src 'self'`
//! allows, never as style text.

use crate::{dom, json};
use wasm_bindgen::JsValue;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Theme {
    #[default]
    Default,
    /// Dark colors, `color-scheme: dark`.
    Night,
    /// No borders, filled inputs.
    Flat,
}

impl Theme {
    fn parse(name: &str) -> Theme {
        match name {
            "night" => Theme::Night,
            "flat" => Theme::Flat,
            _ => Theme::Default,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Default => "default",
            Theme::Night => "night",
            Theme::Flat => "flat",
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Color,
    Size,
    Font,
}

/// `(option name, CSS custom property, what the value must be)`.
const VARIABLES: &[(&str, &str, Kind)] = &[
    ("colorPrimary", "--pf-color-primary", Kind::Color),
    ("colorBackground", "--pf-color-background", Kind::Color),
    ("colorText", "--pf-color-text", Kind::Color),
    ("colorDanger", "--pf-color-danger", Kind::Color),
    ("fontFamily", "--pf-font-family", Kind::Font),
    ("fontSizeBase", "--pf-font-size", Kind::Size),
    ("borderRadius", "--pf-radius", Kind::Size),
    ("spacingUnit", "--pf-space", Kind::Size),
];

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Appearance {
    pub theme: Theme,
    /// `(custom property, checked value)`.
    pub variables: Vec<(&'static str, String)>,
}

/// `#rgb`, `#rrggbb`, `#rrggbbaa`, or `rgb()`/`rgba()`/`hsl()`/`hsla()` of numbers only.
pub fn valid_color(value: &str) -> bool {
    if let Some(hex) = value.strip_prefix('#') {
        return matches!(hex.len(), 3 | 6 | 8) && hex.bytes().all(|b| b.is_ascii_hexdigit());
    }
    let Some((name, rest)) = value.split_once('(') else {
        return false;
    };
    let Some(args) = rest.strip_suffix(')') else {
        return false;
    };
    matches!(name, "rgb" | "rgba" | "hsl" | "hsla")
        && value.len() <= 64
        && args.bytes().any(|b| b.is_ascii_digit())
        && args
            .bytes()
            .all(|b| b.is_ascii_digit() || b" .,%/".contains(&b))
}

/// A non-negative number with a `px`, `rem` or `em` unit, e.g. `16px`, `1.25rem`.
pub fn valid_size(value: &str) -> bool {
    let number = ["px", "rem", "em"]
        .iter()
        .find_map(|unit| value.strip_suffix(unit));
    let Some(number) = number else {
        return false;
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, "0"));
    value.len() <= 12
        && !whole.is_empty()
        && !fraction.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// Font names: letters, digits, spaces, commas, quotes and hyphens, quotes balanced.
pub fn valid_font_family(value: &str) -> bool {
    let allowed = |c: char| c.is_alphanumeric() || matches!(c, ' ' | ',' | '"' | '\'' | '-');
    let balanced = |q: char| value.chars().filter(|&c| c == q).count() % 2 == 0;
    !value.trim().is_empty()
        && value.len() <= 200
        && value.chars().all(allowed)
        && balanced('"')
        && balanced('\'')
}

impl Appearance {
    /// Reads `{theme, variables: {...}}`, keeping only the values that pass their check.
    pub fn parse(value: &JsValue) -> Appearance {
        let theme = json::string(value, "theme").map_or(Theme::Default, |t| Theme::parse(&t));
        let given = json::get(value, "variables");
        let variables = VARIABLES
            .iter()
            .filter_map(|&(option, property, kind)| {
                let v = json::string(given.as_ref()?, option)?;
                let v = v.trim();
                let ok = match kind {
                    Kind::Color => valid_color(v),
                    Kind::Size => valid_size(v),
                    Kind::Font => valid_font_family(v),
                };
                ok.then(|| (property, v.to_owned()))
            })
            .collect();
        Appearance { theme, variables }
    }

    /// Sets the theme (`data-theme` on `<html>`, which the stylesheet keys on) and the
    /// variables, first clearing what an earlier call set.
    pub fn apply(&self) {
        let root = dom::root();
        dom::set_attribute(&root, "data-theme", self.theme.as_str());
        let style = dom::get(&root, "style");
        for (_, property, _) in VARIABLES {
            let _ = dom::call1(&style, "removeProperty", &JsValue::from_str(property));
        }
        for (property, value) in &self.variables {
            let (property, value) = (JsValue::from_str(property), JsValue::from_str(value));
            let _ = dom::call(&style, "setProperty", &property, &value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn colors() {
        for ok in [
            "#fff",
            "#0A0b0C",
            "#11223344",
            "rgb(1, 2, 3)",
            "rgba(1,2,3,0.5)",
            "hsl(220 50% 40% / 0.8)",
        ] {
            assert!(valid_color(ok), "{ok}");
        }
        for bad in [
            "#ffff1",
            "red",
            "url(x)",
            "rgb(1,2,3);x:y",
            "rgb(var(--a))",
            "expression(alert(1))",
            "rgb()",
            "rgb(1,2,3)}",
            "#fff;",
            "",
        ] {
            assert!(!valid_color(bad), "{bad}");
        }
    }

    #[test]
    fn sizes() {
        for ok in ["16px", "1.25rem", "0.5em", "0px"] {
            assert!(valid_size(ok), "{ok}");
        }
        for bad in [
            "16",
            "-1px",
            "1e3px",
            "calc(1px)",
            "1px;",
            ".5em",
            "1.px",
            "px",
            "10vh",
        ] {
            assert!(!valid_size(bad), "{bad}");
        }
    }

    #[test]
    fn font_families() {
        for ok in [
            "Inter, system-ui, sans-serif",
            "'Noto Sans SC', \"PingFang SC\"",
            "微软雅黑",
        ] {
            assert!(valid_font_family(ok), "{ok}");
        }
        for bad in ["a;b", "x}", "url(a)", "a\\62", "'unclosed", "a/*b*/", ""] {
            assert!(!valid_font_family(bad), "{bad}");
        }
    }

    #[test]
    fn parse_keeps_only_checked_values() {
        let parse = |text: &str| Appearance::parse(&json::parse(text).unwrap());
        let a = parse(
            r##"{
                "theme": "night",
                "variables": {
                    "colorPrimary": "#0a84ff",
                    "colorText": "url(https://evil.example/x)",
                    "fontSizeBase": "18px",
                    "borderRadius": "4px; background: red",
                    "spacingUnit": 5,
                    "unknown": "#fff"
                }
            }"##,
        );
        assert_eq!(a.theme, Theme::Night);
        assert_eq!(
            a.variables,
            vec![
                ("--pf-color-primary", "#0a84ff".to_owned()),
                ("--pf-font-size", "18px".to_owned())
            ]
        );
        assert_eq!(parse(r#"{"theme": "}"}"#).theme, Theme::Default);
        assert_eq!(
            parse(r#"{"theme": 1, "variables": "x"}"#),
            Appearance::default()
        );
    }

    #[test]
    fn apply_sets_custom_properties_and_clears_old_ones() {
        let root: web_sys::HtmlElement = wasm_bindgen::JsCast::unchecked_into(
            web_sys::window()
                .unwrap()
                .document()
                .unwrap()
                .document_element()
                .unwrap(),
        );
        let given = r##"{"theme": "flat", "variables": {"colorPrimary": "#123456"}}"##;
        Appearance::parse(&json::parse(given).unwrap()).apply();
        assert_eq!(root.get_attribute("data-theme").as_deref(), Some("flat"));
        assert_eq!(
            root.style()
                .get_property_value("--pf-color-primary")
                .unwrap(),
            "#123456"
        );
        Appearance::default().apply();
        assert_eq!(
            root.style()
                .get_property_value("--pf-color-primary")
                .unwrap(),
            ""
        );
    }
}

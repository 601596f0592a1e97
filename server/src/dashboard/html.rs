//! The dashboard's HTML building blocks: escaping (every value that reaches a page goes
//! through [`esc`], since merchant names and ids are data, not markup), the page frame,
//! and how money, times and rates are written for people.

use payframe_core::money::Currency;
use std::fmt::Write;

/// `text` with the five characters that could end an element or an attribute escaped.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `minor` units of the currency `code` as a person reads them: `1,234.56 BRL`, `500 JPY`,
/// `1.250 BHD`. Integer arithmetic only; an unknown code shows the minor units as they are.
pub fn money(minor: i64, code: &str) -> String {
    let Ok(currency) = Currency::parse(code) else {
        return format!("{minor} {}", esc(&code.to_ascii_uppercase()));
    };
    let exponent = u32::from(currency.exponent());
    let scale = 10u64.pow(exponent);
    let units = minor.unsigned_abs();
    let (whole, fraction) = (units / scale, units % scale);
    let mut out = String::new();
    if minor < 0 {
        out.push('-');
    }
    out.push_str(&grouped(whole));
    if exponent > 0 {
        let _ = write!(out, ".{fraction:0width$}", width = exponent as usize);
    }
    let _ = write!(out, " {currency}");
    out
}

/// `1234567` as `1,234,567`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// A Unix time as `2026-12-01 23:05 UTC`.
pub fn time(unix: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(unix) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02} UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        ),
        Err(_) => unix.to_string(),
    }
}

/// Days since 1970-01-01 as `2026-12-01`.
pub fn day(days: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(days.saturating_mul(86_400)) {
        Ok(t) => format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()),
        Err(_) => days.to_string(),
    }
}

/// `part` of `whole` as a percentage with one decimal (`66.7 %`), or `—` with no whole.
pub fn percent(part: i64, whole: i64) -> String {
    if whole <= 0 {
        return "—".to_owned();
    }
    // Tenths of a percent, rounded half up, in integers.
    let tenths = (part * 2000 + whole) / (2 * whole);
    format!("{}.{} %", tenths / 10, tenths % 10)
}

/// The attribute that marks a link as the page being shown, when `here`.
pub fn current_if(here: bool) -> &'static str {
    if here { " aria-current=\"page\"" } else { "" }
}

/// Where a page sits in the dashboard's navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Payments,
    Refunds,
    None,
}

/// Who is signed in, for the page's header.
pub struct Header<'a> {
    pub merchant_name: &'a str,
    pub livemode: bool,
    pub nav: Nav,
}

/// A whole page: `title` (plain text) and `main` (markup, already escaped where it holds
/// data). Without a header the page is the sign-in page's.
pub fn page(title: &str, header: Option<&Header>, main: &str) -> String {
    let mut out = String::with_capacity(main.len() + 2048);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · Payframe dashboard</title>\
         <link rel=\"stylesheet\" href=\"/dashboard/style.css\"></head><body>",
        esc(title)
    );
    if let Some(h) = header {
        let current = |nav: Nav| current_if(h.nav == nav);
        let mode = if h.livemode {
            "<span class=\"mode live\">Live data</span>"
        } else {
            "<span class=\"mode test\">Test data</span>"
        };
        let _ = write!(
            out,
            "<header><p class=\"brand\">Payframe <span>{}</span> {mode}</p>\
             <nav aria-label=\"Dashboard\"><a href=\"/dashboard\"{}>Overview</a>\
             <a href=\"/dashboard/payments\"{}>Payments</a>\
             <a href=\"/dashboard/refunds\"{}>Refunds</a></nav>\
             <form method=\"post\" action=\"/dashboard/sign-out\">\
             <button type=\"submit\">Sign out</button></form></header>",
            esc(h.merchant_name),
            current(Nav::Overview),
            current(Nav::Payments),
            current(Nav::Refunds),
        );
    }
    let _ = write!(out, "<main>{main}</main></body></html>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_characters_are_escaped() {
        assert_eq!(
            esc(r#"<b onclick="x('y')">A & B</b>"#),
            "&lt;b onclick=&quot;x(&#39;y&#39;)&quot;&gt;A &amp; B&lt;/b&gt;"
        );
    }

    #[test]
    fn money_follows_the_currency_exponent_without_floats() {
        assert_eq!(money(123_456, "brl"), "1,234.56 BRL");
        assert_eq!(money(5, "BRL"), "0.05 BRL");
        assert_eq!(money(500, "jpy"), "500 JPY");
        assert_eq!(money(1_250, "bhd"), "1.250 BHD");
        assert_eq!(money(-100_000_000, "usd"), "-1,000,000.00 USD");
        assert_eq!(money(999_999_999_999, "usd"), "9,999,999,999.99 USD");
        assert_eq!(money(12, "<x>"), "12 &lt;X&gt;");
    }

    #[test]
    fn times_and_days_are_utc() {
        assert_eq!(time(0), "1970-01-01 00:00 UTC");
        assert_eq!(time(1_795_000_000), "2026-11-18 11:06 UTC");
        assert_eq!(day(20_424), "2025-12-02");
    }

    #[test]
    fn percentages_round_to_a_tenth_and_need_a_whole() {
        assert_eq!(percent(2, 3), "66.7 %");
        assert_eq!(percent(1, 3), "33.3 %");
        assert_eq!(percent(3, 3), "100.0 %");
        assert_eq!(percent(0, 5), "0.0 %");
        assert_eq!(percent(1, 8), "12.5 %");
        assert_eq!(percent(0, 0), "—");
    }

    #[test]
    fn the_header_escapes_the_merchant_and_marks_the_mode_and_page() {
        let html = page(
            "Overview",
            Some(&Header {
                merchant_name: "<i>Shop</i>",
                livemode: false,
                nav: Nav::Overview,
            }),
            "<p>x</p>",
        );
        assert!(html.contains("&lt;i&gt;Shop&lt;/i&gt;"), "{html}");
        assert!(!html.contains("<i>Shop"));
        assert!(html.contains("Test data"));
        assert!(html.contains("href=\"/dashboard\" aria-current=\"page\""));
        assert!(html.contains("<main><p>x</p></main>"));
    }
}

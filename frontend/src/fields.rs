//! The form's fields as plain functions: what the shopper typed becomes a display value
//! (grouped digits, `MM / YY`) and a validation outcome. An error is shown only once a
//! field was left or its value is complete, never while it is still being typed.

use payframe_core::card::{Brand, format_number, year_month};
use payframe_core::{CardError, Cvc, Expiry, Pan};

pub const MAX_PAN_DIGITS: usize = 19;

pub fn digits(input: &str, max: usize) -> String {
    input
        .chars()
        .filter(char::is_ascii_digit)
        .take(max)
        .collect()
}

/// Card number as displayed while typing: digits grouped as the brand groups them.
pub fn display_number(input: &str) -> String {
    format_number(&digits(input, MAX_PAN_DIGITS))
}

/// Expiry as displayed while typing: `MM / YY`. A leading 2–9 is a month: `4` → `04 / `.
pub fn display_expiry(input: &str) -> String {
    let mut d = digits(input, 4);
    if d.len() == 1 && d.as_bytes()[0] > b'1' {
        d.insert(0, '0');
    }
    // The separator appears with the first year digit, so backspace is never stuck on it.
    if d.len() <= 2 {
        d
    } else {
        format!("{} / {}", &d[..2], &d[2..])
    }
}

/// `(month, two-digit year)` of a complete expiry display value.
pub fn expiry_parts(display: &str) -> Option<(u32, u32)> {
    let d = digits(display, 4);
    (d.len() == 4).then(|| (d[..2].parse().unwrap_or(0), d[2..].parse().unwrap_or(0)))
}

pub fn brand(display: &str) -> Option<Brand> {
    Brand::detect(&digits(display, MAX_PAN_DIGITS))
}

/// Whether the number is as long as its brand's numbers usually are (16 when unknown).
pub fn number_complete(display: &str) -> bool {
    digits(display, MAX_PAN_DIGITS).len() >= brand(display).map_or(16, |b| b.typical_length())
}

pub fn check_number(display: &str) -> Result<(), CardError> {
    Pan::parse(&digits(display, MAX_PAN_DIGITS)).map(drop)
}

pub fn check_expiry(display: &str, now_unix: i64) -> Result<(), CardError> {
    let (month, year) = expiry_parts(display).ok_or(CardError::InvalidExpiry)?;
    Expiry::new(month, year, year_month(now_unix)).map(drop)
}

pub fn check_cvc(cvc: &str, number_display: &str) -> Result<(), CardError> {
    Cvc::parse(cvc, brand(number_display)).map(drop)
}

/// The error to show now: after blur, or as soon as a complete value is invalid.
pub fn visible_error(
    result: Result<(), CardError>,
    touched: bool,
    complete: bool,
) -> Option<CardError> {
    match result {
        Err(e) if touched || complete => Some(e),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // Run in headless Chromium like the frame itself (scripts/test.sh).
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn groups_and_pastes() {
        assert_eq!(display_number("4242-4242 4242 4242"), "4242 4242 4242 4242");
        assert_eq!(display_number("3782822463a10005"), "3782 822463 10005");
        assert_eq!(
            display_number("42424242424242424242"),
            "4242 4242 4242 4242 424"
        );
    }

    #[test]
    fn expiry_display() {
        assert_eq!(display_expiry("4"), "04");
        assert_eq!(display_expiry("12"), "12");
        assert_eq!(display_expiry("1230"), "12 / 30");
        assert_eq!(display_expiry("12 / 3"), "12 / 3");
        assert_eq!(expiry_parts("12 / 30"), Some((12, 30)));
        assert_eq!(expiry_parts("12 / 3"), None);
    }

    #[test]
    fn errors_wait_for_blur_or_completion() {
        let now = 1_795_000_000; // Nov 2026
        assert_eq!(
            visible_error(
                check_number("4242 4242"),
                false,
                number_complete("4242 4242")
            ),
            None
        );
        assert_eq!(
            visible_error(
                check_number("4242 4242 4242 4241"),
                false,
                number_complete("4242 4242 4242 4241")
            ),
            Some(CardError::InvalidNumber)
        );
        assert_eq!(
            visible_error(check_number("4242 4242"), true, false),
            Some(CardError::IncompleteNumber)
        );
        assert_eq!(check_expiry("10 / 26", now), Err(CardError::ExpiredCard));
        assert!(check_expiry("12 / 30", now).is_ok());
        assert!(check_cvc("1234", "3782 822463 10005").is_ok());
        assert_eq!(check_cvc("1234", "4242"), Err(CardError::InvalidCvc));
    }
}

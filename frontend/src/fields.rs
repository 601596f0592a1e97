//! The form's fields as plain functions: what the shopper typed becomes a display value
//! (grouped digits, `MM / YY`) and a validation outcome. An error is shown only once a
//! field was left or its value is complete, never while it is still being typed.
//! The optional name and postal code fields, which the merchant turns on, live here too.

use payframe_core::card::{Brand, year_month};
use payframe_core::{CardError, Cvc, Expiry, Pan};

pub const MAX_PAN_DIGITS: usize = 19;
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_POSTAL_CHARS: usize = 10;

/// Why a field's value is not acceptable: a card rule from core, or one of the optional
/// fields' own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldError {
    Card(CardError),
    MissingName,
    MissingPostal,
    InvalidPostal,
}

impl From<CardError> for FieldError {
    fn from(e: CardError) -> Self {
        FieldError::Card(e)
    }
}

impl FieldError {
    /// Stable code, as embed.js hands it to the merchant.
    pub fn code(self) -> &'static str {
        match self {
            FieldError::Card(e) => e.code(),
            FieldError::MissingName => "incomplete_name",
            FieldError::MissingPostal => "incomplete_postal_code",
            FieldError::InvalidPostal => "invalid_postal_code",
        }
    }

    pub fn param(self) -> &'static str {
        match self {
            FieldError::Card(e) => e.param(),
            FieldError::MissingName => "name",
            FieldError::MissingPostal | FieldError::InvalidPostal => "postal_code",
        }
    }
}

pub fn is_digit(c: char) -> bool {
    c.is_ascii_digit()
}

pub fn is_any(_: char) -> bool {
    true
}

pub fn is_postal_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == ' ' || c == '-'
}

pub fn digits(input: &str, max: usize) -> String {
    input
        .chars()
        .filter(char::is_ascii_digit)
        .take(max)
        .collect()
}

/// Card number as displayed while typing: digits grouped as the brand groups them, as
/// core's `card::format_number` does (a test holds them equal). Written out here without
/// string slicing, whose panic paths would pull text formatting into the frame's wasm.
pub fn display_number(input: &str) -> String {
    let digits = digits(input, MAX_PAN_DIGITS);
    let groups = Brand::detect(&digits).map_or(&[4, 4, 4, 4, 3][..], |b| b.grouping(digits.len()));
    let mut groups = groups.iter();
    let mut out = String::with_capacity(digits.len() + 4);
    // Where the next group starts; digits past the last group run on without a space.
    let mut group_start = 0;
    for (i, c) in digits.chars().enumerate() {
        if i == group_start
            && let Some(&len) = groups.next()
        {
            if i > 0 {
                out.push(' ');
            }
            group_start += len;
        }
        out.push(c);
    }
    out
}

/// Expiry as displayed while typing: `MM / YY`. A leading 2–9 is a month: `4` → `04 / `.
pub fn display_expiry(input: &str) -> String {
    // Autofill may give a four-digit year (`12/2030`): keep its last two digits.
    let long_year = input
        .split_once('/')
        .map(|(m, y)| (digits(m, 2), digits(y, 4)))
        .filter(|(m, y)| !m.is_empty() && y.len() == 4 && y.starts_with("20"));
    // (`get` rather than indexing: the values are ASCII digits, but indexing would still
    // compile in a panic path that formats text.)
    let mut d = match long_year {
        // The month padded to two digits, then the year's last two.
        Some((m, y)) => [
            if m.len() == 1 { "0" } else { "" },
            &m,
            y.get(2..).unwrap_or(""),
        ]
        .concat(),
        None => digits(input, 4),
    };
    if d.len() == 1 && d.as_bytes().first().is_some_and(|&b| b > b'1') {
        d.insert(0, '0');
    }
    // The separator appears with the first year digit, so backspace is never stuck on it.
    match (d.get(..2), d.get(2..)) {
        (Some(month), Some(year)) if !year.is_empty() => [month, " / ", year].concat(),
        _ => d,
    }
}

/// `(month, two-digit year)` of a complete expiry display value.
pub fn expiry_parts(display: &str) -> Option<(u32, u32)> {
    let d = digits(display, 4);
    let two = |a: u8, b: u8| u32::from(a - b'0') * 10 + u32::from(b - b'0');
    match *d.as_bytes() {
        [m1, m2, y1, y2] => Some((two(m1, m2), two(y1, y2))),
        _ => None,
    }
}

/// The brand's name as shoppers know it (the wire name, `diners_club`, is for machines).
pub fn brand_label(brand: Brand) -> &'static str {
    match brand {
        Brand::Visa => "Visa",
        Brand::Mastercard => "Mastercard",
        Brand::Amex => "Amex",
        Brand::Discover => "Discover",
        Brand::DinersClub => "Diners",
        Brand::Jcb => "JCB",
        Brand::UnionPay => "UnionPay",
        Brand::Maestro => "Maestro",
        Brand::Elo => "Elo",
        Brand::Hipercard => "Hipercard",
        Brand::Mir => "Mir",
    }
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

/// Whether the CVC has as many digits as the number's brand uses.
pub fn cvc_complete(cvc: &str, number_display: &str) -> bool {
    brand(number_display).is_some_and(|b| cvc.len() == b.cvc_length())
}

/// The name as typed, capped; leading spaces dropped so an autofilled value starts clean.
pub fn display_name(input: &str) -> String {
    input.trim_start().chars().take(MAX_NAME_CHARS).collect()
}

pub fn check_name(name: &str) -> Result<(), FieldError> {
    if name.trim().is_empty() {
        Err(FieldError::MissingName)
    } else {
        Ok(())
    }
}

/// Postal codes differ by country: letters, digits, spaces and hyphens, upper-cased.
pub fn display_postal(input: &str) -> String {
    input
        .chars()
        .filter(|&c| is_postal_char(c))
        .map(|c| c.to_ascii_uppercase())
        .take(MAX_POSTAL_CHARS)
        .collect()
}

pub fn check_postal(postal: &str) -> Result<(), FieldError> {
    let significant = postal.chars().filter(char::is_ascii_alphanumeric).count();
    match significant {
        0 => Err(FieldError::MissingPostal),
        1..=2 => Err(FieldError::InvalidPostal),
        _ => Ok(()),
    }
}

/// The error to show now: after blur, or as soon as a complete value is invalid.
pub fn visible_error<E>(result: Result<(), E>, touched: bool, complete: bool) -> Option<E> {
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
    fn groups_as_core_does() {
        for input in [
            "",
            "4",
            "4242",
            "42424",
            "4242424242424242",
            "4242424242424242424",
            "378282246310005",
            "3782822463100051234",
            "30569309025904",
            "3056930902590412",
            "6011111111111117",
            "62123456789012345",
            "5555555555554444",
            "2200123456789012",
            "1234567890123456789",
        ] {
            assert_eq!(
                display_number(input),
                payframe_core::card::format_number(input),
                "{input}"
            );
        }
    }

    #[test]
    fn expiry_display() {
        assert_eq!(display_expiry("4"), "04");
        assert_eq!(display_expiry("12"), "12");
        assert_eq!(display_expiry("1230"), "12 / 30");
        assert_eq!(display_expiry("12 / 3"), "12 / 3");
        assert_eq!(expiry_parts("12 / 30"), Some((12, 30)));
        assert_eq!(expiry_parts("12 / 3"), None);
        // Autofill's four-digit years.
        assert_eq!(display_expiry("12/2030"), "12 / 30");
        assert_eq!(display_expiry("3/2031"), "03 / 31");
    }

    #[test]
    fn optional_fields() {
        assert_eq!(display_postal("01310-100"), "01310-100");
        assert_eq!(display_postal("sw1a 1aa;"), "SW1A 1AA");
        assert_eq!(check_postal(""), Err(FieldError::MissingPostal));
        assert_eq!(check_postal("1-"), Err(FieldError::InvalidPostal));
        assert!(check_postal("100000").is_ok());
        assert_eq!(display_name("  Test Shopper"), "Test Shopper");
        assert_eq!(check_name("   "), Err(FieldError::MissingName));
        assert_eq!(FieldError::MissingName.code(), "incomplete_name");
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

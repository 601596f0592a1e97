//! Money at the boundary: `Currency` from ISO 4217 with its minor-unit exponent, and
//! `Amount`, a positive count of minor units. No floats anywhere.

use std::fmt;

/// `(code, exponent)` for the ISO 4217 currencies the gateway accepts.
const CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("BHD", 3),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("MXN", 2),
    ("MYR", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PEN", 2),
    ("PHP", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("RON", 2),
    ("SAR", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TND", 3),
    ("TRY", 2),
    ("TWD", 2),
    ("UAH", 2),
    ("USD", 2),
    ("UYU", 2),
    ("VND", 0),
    ("ZAR", 2),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: &'static str,
    exponent: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("Unknown or unsupported ISO 4217 currency.")]
    UnknownCurrency,
    #[error("The amount must be a positive integer number of minor units.")]
    InvalidAmount,
}

impl Currency {
    /// Parses an ISO 4217 code in any letter case (`"brl"`, `"BRL"`).
    pub fn parse(code: &str) -> Result<Currency, MoneyError> {
        let upper = code.to_ascii_uppercase();
        CURRENCIES
            .iter()
            .find(|(c, _)| *c == upper)
            .map(|&(code, exponent)| Currency { code, exponent })
            .ok_or(MoneyError::UnknownCurrency)
    }

    /// Lower-case code, as the API speaks it (`"brl"`).
    pub fn code(self) -> String {
        self.code.to_ascii_lowercase()
    }

    /// Digits after the decimal point: JPY 0, BRL 2, BHD 3.
    pub fn exponent(self) -> u8 {
        self.exponent
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

/// A positive amount in minor units, below 10^12 so any sum of a few stays far from overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(i64);

impl Amount {
    pub const MAX: i64 = 999_999_999_999;

    pub fn new(minor_units: i64) -> Result<Amount, MoneyError> {
        if (1..=Amount::MAX).contains(&minor_units) {
            Ok(Amount(minor_units))
        } else {
            Err(MoneyError::InvalidAmount)
        }
    }

    pub fn minor_units(self) -> i64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies_carry_their_exponent() {
        assert_eq!(Currency::parse("jpy").unwrap().exponent(), 0);
        assert_eq!(Currency::parse("BRL").unwrap().exponent(), 2);
        assert_eq!(Currency::parse("bhd").unwrap().exponent(), 3);
        assert_eq!(Currency::parse("brl").unwrap().code(), "brl");
        assert_eq!(Currency::parse("xyz"), Err(MoneyError::UnknownCurrency));
        assert_eq!(Currency::parse(""), Err(MoneyError::UnknownCurrency));
    }

    #[test]
    fn amounts_are_positive_minor_units() {
        assert_eq!(Amount::new(1).unwrap().minor_units(), 1);
        assert_eq!(Amount::new(0), Err(MoneyError::InvalidAmount));
        assert_eq!(Amount::new(-5), Err(MoneyError::InvalidAmount));
        assert_eq!(Amount::new(Amount::MAX + 1), Err(MoneyError::InvalidAmount));
    }
}

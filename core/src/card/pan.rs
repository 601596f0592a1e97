//! `Pan` (primary account number) and `Cvc`: parsed once, redacted when printed, zeroized
//! when dropped.

use super::{Brand, CardError};
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A syntactically valid card number: 12–19 digits, Luhn-valid where the brand uses Luhn.
/// Its brand is decided once, at parsing: every later look at it (the vault, the
/// simulator's routing, the CVC's length, the API's view) reads the same answer.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Pan {
    digits: String,
    #[zeroize(skip)]
    brand: Option<Brand>,
}

impl Pan {
    /// Parses what a shopper typed: spaces and dashes are ignored, anything else refused.
    pub fn parse(input: &str) -> Result<Pan, CardError> {
        let mut digits = String::with_capacity(19);
        for c in input.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' => {}
                _ => {
                    digits.zeroize();
                    return Err(CardError::InvalidNumber);
                }
            }
        }
        let brand = Brand::detect(&digits);
        let pan = Pan { digits, brand };
        let len = pan.digits.len();
        if len < 12 {
            return Err(CardError::IncompleteNumber);
        }
        if len > 19 {
            return Err(CardError::InvalidNumber);
        }
        if let Some(b) = brand {
            let max = *b.lengths().iter().max().unwrap_or(&19);
            if len < max && !b.lengths().contains(&len) {
                return Err(CardError::IncompleteNumber);
            }
            if !b.lengths().contains(&len) {
                return Err(CardError::InvalidNumber);
            }
        }
        if brand.is_none_or(Brand::uses_luhn) && !luhn_valid(&pan.digits) {
            return Err(CardError::InvalidNumber);
        }
        Ok(pan)
    }

    /// The digits, for the few places that must see them (sealing, the vault's cipher).
    pub fn expose(&self) -> &str {
        &self.digits
    }

    pub fn brand(&self) -> Option<Brand> {
        self.brand
    }

    pub fn last4(&self) -> &str {
        &self.digits[self.digits.len() - 4..]
    }

    /// The first six digits (the BIN), the most PCI DSS allows beside the last four.
    pub fn bin(&self) -> &str {
        &self.digits[..6]
    }
}

impl fmt::Debug for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pan({self})")
    }
}

impl fmt::Display for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for _ in 0..self.digits.len() - 4 {
            f.write_str("*")?;
        }
        f.write_str(self.last4())
    }
}

/// Luhn (mod 10) check over ASCII digits.
pub fn luhn_valid(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let dd = d * 2;
                if dd > 9 { dd - 9 } else { dd }
            } else {
                d
            }
        })
        .sum();
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// Card security code: 3 or 4 digits as the brand requires. Never stored.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Cvc(String);

impl Cvc {
    /// Parses a CVC; with a known brand its exact length is required, otherwise 3 or 4.
    pub fn parse(input: &str, brand: Option<Brand>) -> Result<Cvc, CardError> {
        let cvc = Cvc(input.trim().to_owned());
        let ok_len = match brand {
            Some(b) => cvc.0.len() == b.cvc_length(),
            None => (3..=4).contains(&cvc.0.len()),
        };
        if !ok_len || !cvc.0.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CardError::InvalidCvc);
        }
        Ok(cvc)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Cvc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cvc(***)")
    }
}

impl fmt::Display for Cvc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_separators_and_redacts() {
        let pan = Pan::parse("4242-4242 4242 4242").unwrap();
        assert_eq!(pan.expose(), "4242424242424242");
        assert_eq!(format!("{pan}"), "************4242");
        assert_eq!(format!("{pan:?}"), "Pan(************4242)");
        assert_eq!(pan.bin(), "424242");
        assert_eq!(pan.brand(), Some(Brand::Visa));
    }

    #[test]
    fn refuses_bad_numbers() {
        assert_eq!(
            Pan::parse("4242 4242 4242 4241"),
            Err(CardError::InvalidNumber)
        );
        assert_eq!(Pan::parse("4242 4242"), Err(CardError::IncompleteNumber));
        assert_eq!(
            Pan::parse("4242 4242 4242 424"),
            Err(CardError::IncompleteNumber)
        );
        assert_eq!(
            Pan::parse("4242x4242424242424"),
            Err(CardError::InvalidNumber)
        );
        assert_eq!(
            Pan::parse("42424242424242424242"),
            Err(CardError::InvalidNumber)
        );
        assert_eq!(Pan::parse(""), Err(CardError::IncompleteNumber));
    }

    #[test]
    fn cvc_length_follows_brand() {
        assert!(Cvc::parse("123", Some(Brand::Visa)).is_ok());
        assert_eq!(
            Cvc::parse("1234", Some(Brand::Visa)),
            Err(CardError::InvalidCvc)
        );
        assert!(Cvc::parse("1234", Some(Brand::Amex)).is_ok());
        assert_eq!(Cvc::parse("12a", None), Err(CardError::InvalidCvc));
        assert_eq!(
            format!("{:?}", Cvc::parse("987", None).unwrap()),
            "Cvc(***)"
        );
    }

    #[test]
    fn luhn() {
        assert!(luhn_valid("79927398713"));
        assert!(!luhn_valid("79927398710"));
    }
}

//! Card brands detected from IIN (issuer identification number) ranges, with each brand's
//! valid lengths, display grouping and CVC length. Where ranges nest (Elo inside Visa's 4,
//! Elo inside Discover's 65), the longest matching prefix wins.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Brand {
    Visa,
    Mastercard,
    Amex,
    Discover,
    DinersClub,
    Jcb,
    UnionPay,
    Maestro,
    Elo,
    Hipercard,
    Mir,
}

/// `(first, last, brand)`: an inclusive range of IIN prefixes, all of the same digit count.
type IinRange = (u32, u32, Brand);

const RANGES: &[IinRange] = &[
    (4, 4, Brand::Visa),
    (51, 55, Brand::Mastercard),
    (2221, 2720, Brand::Mastercard),
    (34, 34, Brand::Amex),
    (37, 37, Brand::Amex),
    (6011, 6011, Brand::Discover),
    (644, 649, Brand::Discover),
    (65, 65, Brand::Discover),
    (300, 305, Brand::DinersClub),
    (3095, 3095, Brand::DinersClub),
    (36, 36, Brand::DinersClub),
    (38, 39, Brand::DinersClub),
    (3528, 3589, Brand::Jcb),
    (62, 62, Brand::UnionPay),
    (81, 81, Brand::UnionPay),
    (5018, 5018, Brand::Maestro),
    (5020, 5020, Brand::Maestro),
    (5038, 5038, Brand::Maestro),
    (5893, 5893, Brand::Maestro),
    (6304, 6304, Brand::Maestro),
    (6759, 6759, Brand::Maestro),
    (6761, 6763, Brand::Maestro),
    (401178, 401179, Brand::Elo),
    (431274, 431274, Brand::Elo),
    (438935, 438935, Brand::Elo),
    (451416, 451416, Brand::Elo),
    (457393, 457393, Brand::Elo),
    (457631, 457632, Brand::Elo),
    (504175, 504175, Brand::Elo),
    (506699, 506778, Brand::Elo),
    (509000, 509999, Brand::Elo),
    (627780, 627780, Brand::Elo),
    (636297, 636297, Brand::Elo),
    (636368, 636368, Brand::Elo),
    (650031, 650033, Brand::Elo),
    (650035, 650051, Brand::Elo),
    (650405, 650439, Brand::Elo),
    (650485, 650538, Brand::Elo),
    (650541, 650598, Brand::Elo),
    (650700, 650718, Brand::Elo),
    (650720, 650727, Brand::Elo),
    (650901, 650978, Brand::Elo),
    (651652, 651679, Brand::Elo),
    (655000, 655019, Brand::Elo),
    (655021, 655058, Brand::Elo),
    (606282, 606282, Brand::Hipercard),
    (384100, 384100, Brand::Hipercard),
    (384140, 384140, Brand::Hipercard),
    (384160, 384160, Brand::Hipercard),
    (637095, 637095, Brand::Hipercard),
    (637568, 637568, Brand::Hipercard),
    (637599, 637599, Brand::Hipercard),
    (637609, 637609, Brand::Hipercard),
    (637612, 637612, Brand::Hipercard),
    (2200, 2204, Brand::Mir),
];

/// The longest prefix a range may have: nine digits always fit a `u32`.
const MAX_PREFIX: usize = 9;

fn digit_count(mut n: u32) -> usize {
    let mut count = 1;
    while n >= 10 {
        n /= 10;
        count += 1;
    }
    count
}

impl Brand {
    /// The brand of a (possibly partial) digit string, once enough digits decide it.
    pub fn detect(digits: &str) -> Option<Brand> {
        // The number's leading 1, 2, … MAX_PREFIX digits as integers, read once for all
        // the ranges (the frame asks on every keystroke, the gateway on every card).
        let mut prefixes = [None; MAX_PREFIX + 1];
        let mut value = 0u32;
        for (i, b) in digits.bytes().take(MAX_PREFIX).enumerate() {
            if !b.is_ascii_digit() {
                break;
            }
            value = value * 10 + u32::from(b - b'0');
            prefixes[i + 1] = Some(value);
        }
        let mut best: Option<(usize, Brand)> = None;
        for &(first, last, brand) in RANGES {
            let width = digit_count(first);
            let Some(&Some(value)) = prefixes.get(width) else {
                continue;
            };
            if (first..=last).contains(&value) && best.is_none_or(|(w, _)| width > w) {
                best = Some((width, brand));
            }
        }
        best.map(|(_, brand)| brand)
    }

    /// Lengths a complete number of this brand may have.
    pub fn lengths(self) -> &'static [usize] {
        match self {
            Brand::Visa => &[13, 16, 19],
            Brand::Mastercard | Brand::Elo | Brand::Hipercard => &[16],
            Brand::Amex => &[15],
            Brand::Discover | Brand::Jcb | Brand::UnionPay | Brand::Mir => &[16, 17, 18, 19],
            Brand::DinersClub => &[14, 15, 16, 17, 18, 19],
            Brand::Maestro => &[12, 13, 14, 15, 16, 17, 18, 19],
        }
    }

    /// The length most numbers of this brand have: a form treats a number this long as
    /// complete (and so shows its error without waiting for blur).
    pub fn typical_length(self) -> usize {
        match self {
            Brand::Amex => 15,
            Brand::DinersClub => 14,
            _ => 16,
        }
    }

    pub fn cvc_length(self) -> usize {
        match self {
            Brand::Amex => 4,
            _ => 3,
        }
    }

    /// Some UnionPay numbers are issued without a Luhn check digit.
    pub fn uses_luhn(self) -> bool {
        self != Brand::UnionPay
    }

    /// Sizes of the digit groups shown while typing a number of `len` digits.
    pub fn grouping(self, len: usize) -> &'static [usize] {
        match (self, len) {
            (Brand::Amex, _) => &[4, 6, 5],
            (Brand::DinersClub, 14) => &[4, 6, 4],
            _ => &[4, 4, 4, 4, 3],
        }
    }

    /// Wire and icon name, e.g. `"visa"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Brand::Visa => "visa",
            Brand::Mastercard => "mastercard",
            Brand::Amex => "amex",
            Brand::Discover => "discover",
            Brand::DinersClub => "diners_club",
            Brand::Jcb => "jcb",
            Brand::UnionPay => "union_pay",
            Brand::Maestro => "maestro",
            Brand::Elo => "elo",
            Brand::Hipercard => "hipercard",
            Brand::Mir => "mir",
        }
    }
}

/// Groups digits for display as the brand does (`4242 4242 4242 4242`, `3782 822463 10005`).
pub fn format_number(digits: &str) -> String {
    let groups = Brand::detect(digits).map_or(&[4, 4, 4, 4, 3][..], |b| b.grouping(digits.len()));
    let mut out = String::with_capacity(digits.len() + 4);
    let mut rest = digits;
    for &g in groups {
        if rest.is_empty() {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        let (head, tail) = rest.split_at(g.min(rest.len()));
        out.push_str(head);
        rest = tail;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::Pan;

    #[test]
    fn every_range_fits_the_prefixes_read() {
        assert!(RANGES.iter().all(|&(first, last, _)| {
            digit_count(first) <= MAX_PREFIX && digit_count(first) == digit_count(last)
        }));
    }

    #[test]
    fn detects_each_brand_with_edges() {
        let cases: &[(&str, Option<Brand>)] = &[
            ("4242424242424242", Some(Brand::Visa)),
            ("4", Some(Brand::Visa)),
            ("5105105105105100", Some(Brand::Mastercard)),
            ("5555555555554444", Some(Brand::Mastercard)),
            ("2221000000000009", Some(Brand::Mastercard)),
            ("2720990000000007", Some(Brand::Mastercard)),
            ("2220990000000000", None),
            ("2721000000000000", None),
            ("378282246310005", Some(Brand::Amex)),
            ("341111111111111", Some(Brand::Amex)),
            ("6011111111111117", Some(Brand::Discover)),
            ("6445644564456445", Some(Brand::Discover)),
            ("30569309025904", Some(Brand::DinersClub)),
            ("36227206271667", Some(Brand::DinersClub)),
            ("3528000000000007", Some(Brand::Jcb)),
            ("3589000000000003", Some(Brand::Jcb)),
            ("3527000000000000", None),
            ("6200000000000005", Some(Brand::UnionPay)),
            ("6759649826438453", Some(Brand::Maestro)),
            ("5018000000000009", Some(Brand::Maestro)),
            ("4011780000000000", Some(Brand::Elo)),
            ("5066991111111118", Some(Brand::Elo)),
            ("6362970000457013", Some(Brand::Elo)),
            ("6500310000000000", Some(Brand::Elo)),
            ("6500340000000000", Some(Brand::Discover)),
            ("6062825624254001", Some(Brand::Hipercard)),
            ("2200000000000004", Some(Brand::Mir)),
            ("2204999999999999", Some(Brand::Mir)),
            ("2205000000000000", None),
            ("9999999999999999", None),
            ("", None),
            ("x4", None),
            ("4x", Some(Brand::Visa)),
            ("6011", Some(Brand::Discover)),
        ];
        for (number, want) in cases {
            assert_eq!(Brand::detect(number), *want, "{number}");
        }
    }

    #[test]
    fn real_format_numbers_parse() {
        for n in [
            "4242424242424242",
            "4000056655665556",
            "5555555555554444",
            "2223003122003222",
            "378282246310005",
            "6011111111111117",
            "30569309025904",
            "3566002020360505",
            "6200000000000005",
            "6759649826438453",
            "5066991111111118",
            "6062825624254001",
            "2200000000000004",
        ] {
            let pan = Pan::parse(n).unwrap_or_else(|e| panic!("{n}: {e}"));
            assert!(pan.brand().is_some(), "{n}");
        }
    }

    #[test]
    fn groups_as_the_brand_does() {
        assert_eq!(format_number("4242424242424242"), "4242 4242 4242 4242");
        assert_eq!(format_number("378282246310005"), "3782 822463 10005");
        assert_eq!(format_number("30569309025904"), "3056 930902 5904");
        assert_eq!(
            format_number("4242424242424242424"),
            "4242 4242 4242 4242 424"
        );
        assert_eq!(format_number("42424"), "4242 4");
        assert_eq!(format_number(""), "");
    }
}

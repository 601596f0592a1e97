//! Customers: the rules for what a customer profile may hold, as types parsed at the API
//! boundary (`Email`, `CountryCode`, `Phone`, bounded text, `Address`, `Metadata`), with no
//! HTTP and no storage. A value of these types is valid; handlers only ever store those.
//!
//! Free text (names, address lines, metadata) is refused when it holds something that parses
//! as a card number, so a merchant's mistake cannot put a PAN where it would be kept in clear.

pub mod country;

use std::collections::BTreeMap;

/// Why an input was refused: a stable `code`, the field (`param`) and a message that never
/// repeats the value (it may be personal data, or a card number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub code: &'static str,
    pub param: &'static str,
    pub message: String,
}

fn refuse(code: &'static str, param: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        code,
        param,
        message: message.into(),
    }
}

pub const MAX_NAME_LEN: usize = 256;
pub const MAX_EMAIL_LEN: usize = 254;
pub const MAX_LINE_LEN: usize = 200;
pub const MAX_CITY_LEN: usize = 100;
pub const MAX_POSTAL_CODE_LEN: usize = 20;
pub const MAX_METADATA_KEYS: usize = 50;
pub const MAX_METADATA_KEY_LEN: usize = 40;
pub const MAX_METADATA_VALUE_LEN: usize = 500;

/// Trimmed text of 1 to `max` characters, without control characters or a card number.
/// An empty (or all-blank) string means "none".
pub fn bounded_text(
    param: &'static str,
    value: &str,
    max: usize,
) -> Result<Option<String>, FieldError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    if value.chars().count() > max {
        return Err(refuse(
            "invalid_length",
            param,
            format!("{param} must be at most {max} characters."),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(refuse(
            "invalid_characters",
            param,
            format!("{param} must not contain control characters."),
        ));
    }
    if crate::api::sessions::contains_card_number(value) {
        return Err(refuse(
            "contains_card_number",
            param,
            format!("{param} looks like it contains a card number; card data never belongs there."),
        ));
    }
    Ok(Some(value.to_owned()))
}

/// An email address: `local@domain`, checked for syntax (not deliverability). Kept as typed
/// apart from surrounding spaces; lookups compare it case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Email, FieldError> {
        let invalid = || {
            refuse(
                "invalid_email",
                "email",
                "email is not a valid email address.",
            )
        };
        let value = input.trim();
        if value.len() > MAX_EMAIL_LEN {
            return Err(invalid());
        }
        let (local, domain) = value.rsplit_once('@').ok_or_else(invalid)?;
        let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c);
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && local
                .split('.')
                .all(|part| !part.is_empty() && part.chars().all(atext));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
            && labels
                .last()
                .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
        if local_ok && domain_ok {
            Ok(Email(value.to_owned()))
        } else {
            Err(invalid())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A country as ISO 3166-1 alpha-2, upper case (`br` is accepted as `BR`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountryCode(String);

impl CountryCode {
    pub fn parse(param: &'static str, input: &str) -> Result<CountryCode, FieldError> {
        let code = input.trim().to_ascii_uppercase();
        if code.len() == 2 && country::is_assigned(&code) {
            Ok(CountryCode(code))
        } else {
            Err(refuse(
                "invalid_country",
                param,
                format!("{param} must be an ISO 3166-1 alpha-2 country code such as BR or PT."),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A phone number in international form: `+`, then 7 to 15 digits (E.164), with optional
/// spaces, dashes, dots or parentheses between them, kept as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(input: &str) -> Result<Phone, FieldError> {
        let value = input.trim();
        let invalid = || {
            refuse(
                "invalid_phone",
                "phone",
                "phone must be in international form, e.g. +55 11 91234 5678.",
            )
        };
        let rest = value.strip_prefix('+').ok_or_else(invalid)?;
        if !rest
            .chars()
            .all(|c| c.is_ascii_digit() || " -.()".contains(c))
        {
            return Err(invalid());
        }
        let digits = rest.chars().filter(char::is_ascii_digit).count();
        if !(7..=15).contains(&digits) || rest.starts_with(['0', ' ', '-', '.']) {
            return Err(invalid());
        }
        Ok(Phone(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A billing address; every part optional, the country checked against ISO 3166-1.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<CountryCode>,
}

/// An address as it arrives, before checking.
#[derive(Debug, Clone, Default)]
pub struct RawAddress<'a> {
    pub line1: Option<&'a str>,
    pub line2: Option<&'a str>,
    pub city: Option<&'a str>,
    pub state: Option<&'a str>,
    pub postal_code: Option<&'a str>,
    pub country: Option<&'a str>,
}

impl Address {
    pub fn parse(raw: &RawAddress<'_>) -> Result<Address, FieldError> {
        let text = |param, value: Option<&str>, max| {
            value.map_or(Ok(None), |v| bounded_text(param, v, max))
        };
        Ok(Address {
            line1: text("address.line1", raw.line1, MAX_LINE_LEN)?,
            line2: text("address.line2", raw.line2, MAX_LINE_LEN)?,
            city: text("address.city", raw.city, MAX_CITY_LEN)?,
            state: text("address.state", raw.state, MAX_CITY_LEN)?,
            postal_code: text("address.postal_code", raw.postal_code, MAX_POSTAL_CODE_LEN)?,
            country: raw
                .country
                .map(|c| CountryCode::parse("address.country", c))
                .transpose()?,
        })
    }

    pub fn is_empty(&self) -> bool {
        *self == Address::default()
    }
}

/// The merchant's own key–value strings about the customer (e.g. their user id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata(BTreeMap<String, String>);

impl Metadata {
    pub fn parse(input: &BTreeMap<String, String>) -> Result<Metadata, FieldError> {
        if input.len() > MAX_METADATA_KEYS {
            return Err(refuse(
                "invalid_metadata",
                "metadata",
                format!("metadata holds at most {MAX_METADATA_KEYS} keys."),
            ));
        }
        let mut out = BTreeMap::new();
        for (key, value) in input {
            let key_ok = !key.is_empty()
                && key.chars().count() <= MAX_METADATA_KEY_LEN
                && !key.chars().any(char::is_control)
                && !crate::api::sessions::contains_card_number(key);
            if !key_ok {
                return Err(refuse(
                    "invalid_metadata",
                    "metadata",
                    format!(
                        "metadata keys are 1 to {MAX_METADATA_KEY_LEN} characters without \
                         control characters or card numbers."
                    ),
                ));
            }
            if value.chars().count() > MAX_METADATA_VALUE_LEN {
                return Err(refuse(
                    "invalid_metadata",
                    "metadata",
                    format!("metadata values are at most {MAX_METADATA_VALUE_LEN} characters."),
                ));
            }
            if crate::api::sessions::contains_card_number(value) {
                return Err(refuse(
                    "contains_card_number",
                    "metadata",
                    "A metadata value looks like it contains a card number; card data never belongs there.",
                ));
            }
            out.insert(key.clone(), value.clone());
        }
        Ok(Metadata(out))
    }

    pub fn from_stored(map: BTreeMap<String, String>) -> Metadata {
        Metadata(map)
    }

    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

/// Everything a customer profile holds, all of it personal data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub name: Option<String>,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub address: Address,
    pub metadata: Metadata,
}

/// A change to a profile: `None` leaves a field alone; `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct ProfilePatch {
    pub name: Option<Option<String>>,
    pub email: Option<Option<Email>>,
    pub phone: Option<Option<Phone>>,
    pub address: Option<Address>,
    pub metadata: Option<Metadata>,
}

impl Profile {
    /// Applies `patch`; returns the names of the fields whose value changed (the audit log
    /// records these names, never the values).
    pub fn apply(&mut self, patch: ProfilePatch) -> Vec<&'static str> {
        let mut changed = Vec::new();
        fn set<T: PartialEq>(
            field: &mut T,
            value: Option<T>,
            name: &'static str,
            changed: &mut Vec<&'static str>,
        ) {
            if let Some(value) = value
                && *field != value
            {
                *field = value;
                changed.push(name);
            }
        }
        set(&mut self.name, patch.name, "name", &mut changed);
        set(&mut self.email, patch.email, "email", &mut changed);
        set(&mut self.phone, patch.phone, "phone", &mut changed);
        set(&mut self.address, patch.address, "address", &mut changed);
        set(&mut self.metadata, patch.metadata, "metadata", &mut changed);
        changed
    }
}

/// Whether `id` has the shape of a customer id (`cus_` and 24 base62 characters). Anything
/// else cannot exist, so it is answered as missing without asking the database.
pub fn is_customer_id(id: &str) -> bool {
    id.strip_prefix("cus_")
        .is_some_and(|rest| rest.len() == 24 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_for_syntax() {
        for good in [
            "ana@example.com",
            " Ana.Silva+shop@Example.COM.br ",
            "o'brien@mail.example.org",
            "x@a-b.io",
        ] {
            assert!(Email::parse(good).is_ok(), "{good}");
        }
        assert_eq!(
            Email::parse(" ana@example.com ").unwrap().as_str(),
            "ana@example.com"
        );
        let long_local = format!("{}@example.com", "a".repeat(65));
        let long = format!("a@{}.com", "b".repeat(250));
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.com",
            "ana@example",
            "ana@@example.com",
            "ana..silva@example.com",
            ".ana@example.com",
            "ana@-example.com",
            "ana@example.c",
            "ana@exa mple.com",
            "ana silva@example.com",
            "ana@example.123",
            long_local.as_str(),
            long.as_str(),
        ] {
            let err = Email::parse(bad).unwrap_err();
            assert_eq!((err.code, err.param), ("invalid_email", "email"), "{bad}");
            assert!(bad.is_empty() || !err.message.contains(bad));
        }
    }

    #[test]
    fn countries_are_iso_3166_alpha_2() {
        assert_eq!(CountryCode::parse("c", "br").unwrap().as_str(), "BR");
        assert_eq!(CountryCode::parse("c", " PT ").unwrap().as_str(), "PT");
        for bad in ["", "B", "BRA", "UK", "XX", "Brazil", "1B"] {
            let err = CountryCode::parse("address.country", bad).unwrap_err();
            assert_eq!(err.code, "invalid_country");
            assert_eq!(err.param, "address.country");
        }
    }

    #[test]
    fn phones_are_international() {
        for good in [
            "+55 11 91234 5678",
            "+351 912 345 678",
            "+1 (415) 555-0100",
            "+4915112345",
        ] {
            assert!(Phone::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "11 91234 5678",
            "+",
            "+123",
            "+55 11 9abc",
            "+0 11 912345",
            "+1234567890123456",
        ] {
            assert_eq!(
                Phone::parse(bad).unwrap_err().code,
                "invalid_phone",
                "{bad}"
            );
        }
    }

    #[test]
    fn text_is_bounded_and_never_a_card_number() {
        assert_eq!(
            bounded_text("name", "  Ana  ", 10).unwrap().as_deref(),
            Some("Ana")
        );
        assert_eq!(bounded_text("name", "   ", 10).unwrap(), None);
        assert_eq!(
            bounded_text("name", &"é".repeat(11), 10).unwrap_err().code,
            "invalid_length"
        );
        assert!(bounded_text("name", &"é".repeat(10), 10).is_ok());
        assert_eq!(
            bounded_text("name", "Ana\u{0}", 10).unwrap_err().code,
            "invalid_characters"
        );
        let err = bounded_text("name", "Ana 4242 4242 4242 4242", 100).unwrap_err();
        assert_eq!((err.code, err.param), ("contains_card_number", "name"));
        assert!(!err.message.contains("4242"));
    }

    #[test]
    fn addresses_check_each_part() {
        let raw = RawAddress {
            line1: Some("Rua Augusta, 1500"),
            city: Some("São Paulo"),
            postal_code: Some("01304-001"),
            country: Some("br"),
            ..RawAddress::default()
        };
        let address = Address::parse(&raw).unwrap();
        assert_eq!(address.country.unwrap().as_str(), "BR");
        let bad_country = RawAddress {
            country: Some("ZZ"),
            ..RawAddress::default()
        };
        assert_eq!(
            Address::parse(&bad_country).unwrap_err().param,
            "address.country"
        );
        let long_postal = "1".repeat(21);
        let bad_postal = RawAddress {
            postal_code: Some(&long_postal),
            ..RawAddress::default()
        };
        assert_eq!(
            Address::parse(&bad_postal).unwrap_err().param,
            "address.postal_code"
        );
        assert!(Address::parse(&RawAddress::default()).unwrap().is_empty());
    }

    #[test]
    fn metadata_is_bounded() {
        let ok: BTreeMap<String, String> = [("user".into(), "u_42".into())].into();
        assert!(Metadata::parse(&ok).is_ok());
        let too_many: BTreeMap<String, String> =
            (0..51).map(|i| (format!("k{i}"), "v".into())).collect();
        assert_eq!(
            Metadata::parse(&too_many).unwrap_err().code,
            "invalid_metadata"
        );
        let long_key: BTreeMap<String, String> = [("k".repeat(41), "v".into())].into();
        assert_eq!(
            Metadata::parse(&long_key).unwrap_err().code,
            "invalid_metadata"
        );
        let empty_key: BTreeMap<String, String> = [(String::new(), "v".into())].into();
        assert_eq!(
            Metadata::parse(&empty_key).unwrap_err().code,
            "invalid_metadata"
        );
        let long_value: BTreeMap<String, String> = [("k".into(), "v".repeat(501))].into();
        assert_eq!(
            Metadata::parse(&long_value).unwrap_err().code,
            "invalid_metadata"
        );
        let card: BTreeMap<String, String> = [("k".into(), "4000056655665556".into())].into();
        assert_eq!(
            Metadata::parse(&card).unwrap_err().code,
            "contains_card_number"
        );
    }

    #[test]
    fn patches_change_only_what_they_name() {
        let mut profile = Profile {
            name: Some("Ana".into()),
            ..Profile::default()
        };
        let changed = profile.apply(ProfilePatch {
            name: Some(Some("Ana".into())),
            email: Some(Some(Email::parse("ana@example.com").unwrap())),
            ..ProfilePatch::default()
        });
        assert_eq!(changed, ["email"]);
        let changed = profile.apply(ProfilePatch {
            name: Some(None),
            ..ProfilePatch::default()
        });
        assert_eq!(changed, ["name"]);
        assert_eq!(profile.name, None);
        assert!(profile.email.is_some());
    }

    #[test]
    fn customer_ids_have_one_shape() {
        assert!(is_customer_id(&crate::ids::new_id("cus")));
        for bad in [
            "",
            "cus_",
            "pay_3kTwaaaaaaaaaaaaaaaaaaaa",
            "cus_short",
            "cus_aaaaaaaaaaaaaaaaaaaaaa/b",
        ] {
            assert!(!is_customer_id(bad), "{bad}");
        }
    }
}

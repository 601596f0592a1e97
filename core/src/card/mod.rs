//! Card data parsed at the boundary into types that cannot leak: a `Pan` or `Cvc` shows at
//! most the last four digits in `Debug`/`Display` and wipes its digits on drop.

mod brand;
mod expiry;
mod pan;

pub use brand::Brand;
pub use brand::format_number;
pub use expiry::{Expiry, year_month};
pub use pan::{Cvc, Pan};

/// Why card input was refused. Each carries the field it is about, so an API error can
/// name it in `param`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("The card number is incomplete.")]
    IncompleteNumber,
    #[error("The card number is invalid.")]
    InvalidNumber,
    #[error("The expiry date is invalid.")]
    InvalidExpiry,
    #[error("The card has expired.")]
    ExpiredCard,
    #[error("The security code is invalid.")]
    InvalidCvc,
}

impl CardError {
    /// Stable machine-readable code, shared by the frame and the API.
    pub fn code(self) -> &'static str {
        match self {
            CardError::IncompleteNumber => "incomplete_number",
            CardError::InvalidNumber => "invalid_number",
            CardError::InvalidExpiry => "invalid_expiry",
            CardError::ExpiredCard => "expired_card",
            CardError::InvalidCvc => "invalid_cvc",
        }
    }

    /// The request field the error is about.
    pub fn param(self) -> &'static str {
        match self {
            CardError::IncompleteNumber | CardError::InvalidNumber => "number",
            CardError::InvalidExpiry | CardError::ExpiredCard => "exp_month",
            CardError::InvalidCvc => "cvc",
        }
    }
}

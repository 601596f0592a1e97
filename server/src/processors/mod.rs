//! Processor connectors: the one small trait every connector (the built-in simulator,
//! later Stripe and others) implements, the requests and results it speaks, and the
//! mapping of ISO 8583 response codes to the gateway's decline codes.
//!
//! Every request carries an idempotency `reference` chosen by the gateway (e.g. the
//! payment or refund id plus the operation). A connector must treat a second call with
//! the same reference as the same operation: it answers the first result again and never
//! places a second hold, capture or refund. That is what makes a retry after a
//! [`ProcessorError::Timeout`] safe, and what [`Connector::status`] looks up.
//!
//! The trait returns boxed futures rather than using `async fn` so that the gateway can
//! hold a `dyn Connector` chosen at run time (test mode → simulator, live → configured).

pub mod remote;
pub mod simulator;

use payframe_core::{Amount, Currency, Cvc, Expiry, Pan};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;

/// ISO 8583 (field 39) response codes the gateway understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseCode {
    /// `00`
    Approved,
    /// `05`
    DoNotHonor,
    /// `14`
    InvalidCardNumber,
    /// `51`
    InsufficientFunds,
    /// `54`
    ExpiredCard,
    /// `82`
    CvcMismatch,
    /// `91`
    IssuerUnavailable,
    /// `96`
    SystemError,
}

const RESPONSE_CODES: &[(ResponseCode, &str)] = &[
    (ResponseCode::Approved, "00"),
    (ResponseCode::DoNotHonor, "05"),
    (ResponseCode::InvalidCardNumber, "14"),
    (ResponseCode::InsufficientFunds, "51"),
    (ResponseCode::ExpiredCard, "54"),
    (ResponseCode::CvcMismatch, "82"),
    (ResponseCode::IssuerUnavailable, "91"),
    (ResponseCode::SystemError, "96"),
];

impl ResponseCode {
    /// The two-digit wire form, e.g. `"05"`.
    pub fn as_str(self) -> &'static str {
        RESPONSE_CODES
            .iter()
            .find(|(c, _)| *c == self)
            .map_or("96", |(_, s)| s)
    }

    /// Parses a two-digit code; `None` for codes the gateway does not know.
    pub fn parse(code: &str) -> Option<ResponseCode> {
        RESPONSE_CODES
            .iter()
            .find(|(_, s)| *s == code)
            .map(|(c, _)| *c)
    }

    /// The decline code a payment records; `None` for `00` (approved).
    pub fn decline_code(self) -> Option<DeclineCode> {
        Some(match self {
            ResponseCode::Approved => return None,
            ResponseCode::DoNotHonor => DeclineCode::DoNotHonor,
            ResponseCode::InvalidCardNumber => DeclineCode::InvalidNumber,
            ResponseCode::InsufficientFunds => DeclineCode::InsufficientFunds,
            ResponseCode::ExpiredCard => DeclineCode::ExpiredCard,
            ResponseCode::CvcMismatch => DeclineCode::IncorrectCvc,
            ResponseCode::IssuerUnavailable => DeclineCode::IssuerUnavailable,
            ResponseCode::SystemError => DeclineCode::ProcessingError,
        })
    }
}

/// Why a card was declined, as the API reports it in `decline_code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclineCode {
    DoNotHonor,
    InvalidNumber,
    InsufficientFunds,
    ExpiredCard,
    IncorrectCvc,
    IssuerUnavailable,
    ProcessingError,
}

impl DeclineCode {
    pub const ALL: [DeclineCode; 7] = [
        DeclineCode::DoNotHonor,
        DeclineCode::InvalidNumber,
        DeclineCode::InsufficientFunds,
        DeclineCode::ExpiredCard,
        DeclineCode::IncorrectCvc,
        DeclineCode::IssuerUnavailable,
        DeclineCode::ProcessingError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeclineCode::DoNotHonor => "do_not_honor",
            DeclineCode::InvalidNumber => "invalid_number",
            DeclineCode::InsufficientFunds => "insufficient_funds",
            DeclineCode::ExpiredCard => "expired_card",
            DeclineCode::IncorrectCvc => "incorrect_cvc",
            DeclineCode::IssuerUnavailable => "issuer_unavailable",
            DeclineCode::ProcessingError => "processing_error",
        }
    }

    /// Parses the wire name (as stored), e.g. `"do_not_honor"`.
    pub fn parse(name: &str) -> Option<DeclineCode> {
        DeclineCode::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// Whether the same card may succeed if tried again later: the issuer or the
    /// processor failed, not the card. The others need another card or shopper action.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            DeclineCode::IssuerUnavailable | DeclineCode::ProcessingError
        )
    }
}

/// The card as it reaches a connector. The CVC is optional because merchant-initiated
/// charges of saved cards have none (it is never stored). `Debug` redacts through
/// `Pan`/`Cvc`.
#[derive(Debug, Clone)]
pub struct Card {
    pub pan: Pan,
    pub expiry: Expiry,
    pub cvc: Option<Cvc>,
}

/// Places a hold of `amount` on the card.
#[derive(Debug, Clone)]
pub struct AuthorizeRequest {
    pub reference: String,
    pub amount: Amount,
    pub currency: Currency,
    pub card: Card,
}

/// Captures `amount` (at most the authorized amount) of the authorization
/// `processor_reference`; the rest of the hold is released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureRequest {
    pub reference: String,
    pub processor_reference: String,
    pub amount: Amount,
}

/// Releases the whole hold of an authorization that was not captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoidRequest {
    pub reference: String,
    pub processor_reference: String,
}

/// Returns `amount` of what was captured on the authorization `processor_reference`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    pub reference: String,
    pub processor_reference: String,
    pub amount: Amount,
}

/// What the processor answered. A decline is an answer, not an error: the operation
/// was decided and nothing was moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `processor_reference` names what was done: for an authorization, the reference
    /// later captures, voids and refunds use.
    Approved { processor_reference: String },
    Declined {
        response_code: ResponseCode,
        decline_code: DeclineCode,
    },
}

/// A call that did not produce an answer, or that the processor refused to consider.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcessorError {
    /// No answer in time. The operation may or may not have happened: retry with the
    /// same reference or ask [`Connector::status`]; never retry with a new reference.
    #[error("The payment processor did not answer in time.")]
    Timeout,
    /// The processor could not be reached or refused the call before doing anything:
    /// safe to retry.
    #[error("The payment processor is unavailable.")]
    Unavailable,
    /// The processor refused the request itself (unknown authorization, amount above
    /// what it can capture or refund, a reference reused for another request).
    #[error("The payment processor refused the request: {0}")]
    InvalidRequest(String),
}

impl ProcessorError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ProcessorError::Timeout => "processor_timeout",
            ProcessorError::Unavailable => "processor_unavailable",
            ProcessorError::InvalidRequest(_) => "processor_invalid_request",
        }
    }

    /// Whether trying again with the same reference may succeed.
    pub fn retryable(&self) -> bool {
        !matches!(self, ProcessorError::InvalidRequest(_))
    }
}

/// What a connector call returns: boxed so that `dyn Connector` works.
pub type ConnectorFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, ProcessorError>> + Send + 'a>>;

/// A payment processor. Each call is idempotent on its request's `reference`.
pub trait Connector: Send + Sync {
    /// Short name for logs and metrics, e.g. `"simulator"`.
    fn name(&self) -> &'static str;
    fn authorize(&self, request: AuthorizeRequest) -> ConnectorFuture<'_, Outcome>;
    fn capture(&self, request: CaptureRequest) -> ConnectorFuture<'_, Outcome>;
    fn void(&self, request: VoidRequest) -> ConnectorFuture<'_, Outcome>;
    fn refund(&self, request: RefundRequest) -> ConnectorFuture<'_, Outcome>;
    /// What became of the operation sent with `reference`: `None` if the processor never
    /// performed it (so sending it again cannot charge twice), otherwise its answer.
    fn status<'a>(&'a self, reference: &'a str) -> ConnectorFuture<'a, Option<Outcome>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_8583_codes_map_to_decline_codes() {
        let cases = [
            ("00", None),
            ("05", Some("do_not_honor")),
            ("14", Some("invalid_number")),
            ("51", Some("insufficient_funds")),
            ("54", Some("expired_card")),
            ("82", Some("incorrect_cvc")),
            ("91", Some("issuer_unavailable")),
            ("96", Some("processing_error")),
        ];
        for (iso, want) in cases {
            let code = ResponseCode::parse(iso).unwrap();
            assert_eq!(code.as_str(), iso);
            assert_eq!(code.decline_code().map(DeclineCode::as_str), want, "{iso}");
        }
        assert_eq!(ResponseCode::parse("43"), None);
        assert_eq!(ResponseCode::parse(""), None);
    }

    #[test]
    fn only_issuer_and_processor_failures_are_retryable() {
        let retryable: Vec<_> = DeclineCode::ALL
            .into_iter()
            .filter(|c| c.retryable())
            .map(DeclineCode::as_str)
            .collect();
        assert_eq!(retryable, ["issuer_unavailable", "processing_error"]);
        for code in DeclineCode::ALL {
            assert_eq!(DeclineCode::parse(code.as_str()), Some(code));
            assert_eq!(
                serde_json::to_string(&code).unwrap(),
                format!("\"{}\"", code.as_str())
            );
        }
        assert_eq!(DeclineCode::parse("nope"), None);
    }

    #[test]
    fn processor_errors_have_stable_codes() {
        assert_eq!(ProcessorError::Timeout.code(), "processor_timeout");
        assert_eq!(ProcessorError::Unavailable.code(), "processor_unavailable");
        let invalid = ProcessorError::InvalidRequest("x".into());
        assert_eq!(invalid.code(), "processor_invalid_request");
        assert!(ProcessorError::Timeout.retryable());
        assert!(ProcessorError::Unavailable.retryable());
        assert!(!invalid.retryable());
    }
}

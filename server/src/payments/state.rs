//! The payment state machine: the `Payment` value, its `Status`, and [`Payment::apply`],
//! the one function through which every change to a payment goes. Pure: no I/O, no
//! clock (the caller passes `now`), no processor calls — the caller talks to the
//! processor first and applies what the processor answered.
//!
//! Legal transitions (anything else is refused with `payment_invalid_state`):
//!
//! | operation                | from                                   | to                                  | amount recorded          |
//! |--------------------------|----------------------------------------|-------------------------------------|--------------------------|
//! | `Submit`                 | `requires_payment_method`              | `processing`                        | the payment amount       |
//! | `ProcessorTimeout`       | `processing`                           | `processing`                        | —                        |
//! | `Authorized`             | `processing`                           | `authorized`                        | the payment amount       |
//! | `Declined { code }`      | `processing`                           | `failed`                            | —                        |
//! | `Capture { amount }`     | `authorized`                           | `captured`                          | captured (≤ amount)      |
//! | `Cancel`                 | `requires_payment_method`              | `canceled`                          | —                        |
//! | `Cancel` (a void)        | `authorized`                           | `canceled`                          | the released hold        |
//! | `Refund { amount }`      | `captured`, `partially_refunded`       | `partially_refunded` or `refunded`  | the refund               |
//!
//! - `failed`, `canceled` and `refunded` are terminal: they accept nothing.
//! - Automatic capture is not a separate path: after `Authorized` the caller applies
//!   `Capture { amount: None }` at once; manual capture waits for the merchant.
//! - One capture per payment (as card networks settle one clearing per authorization):
//!   a partial capture releases the rest of the hold, and `captured` accepts no second
//!   capture. `amount: None` captures, or refunds, everything still available.
//! - Refunds never exceed what was captured: Σ refunds ≤ `amount_captured`. The refund
//!   that brings the sum to `amount_captured` makes the payment `refunded`.
//! - `ProcessorTimeout` keeps the payment `processing` (the processor may have
//!   authorized): only the processor's answer — from a retry with the same idempotency
//!   reference or a status lookup — moves it on, so it can never be charged twice.
//!   Canceling is refused while `processing` for the same reason. Timeouts of capture,
//!   void and refund calls need no state: nothing is applied here until the processor
//!   confirms, and the retry reuses the reference.
//! - A refused operation changes nothing: no field moves and no transition is recorded.

use crate::processors::DeclineCode;
use payframe_core::{Amount, Currency};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a payment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    RequiresPaymentMethod,
    Processing,
    Authorized,
    Captured,
    PartiallyRefunded,
    Refunded,
    Failed,
    Canceled,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::RequiresPaymentMethod,
        Status::Processing,
        Status::Authorized,
        Status::Captured,
        Status::PartiallyRefunded,
        Status::Refunded,
        Status::Failed,
        Status::Canceled,
    ];

    /// Wire and storage name, e.g. `"requires_payment_method"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::RequiresPaymentMethod => "requires_payment_method",
            Status::Processing => "processing",
            Status::Authorized => "authorized",
            Status::Captured => "captured",
            Status::PartiallyRefunded => "partially_refunded",
            Status::Refunded => "refunded",
            Status::Failed => "failed",
            Status::Canceled => "canceled",
        }
    }

    pub fn parse(name: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// No operation is accepted any more.
    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Failed | Status::Canceled | Status::Refunded)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the authorization is captured at once or waits for the merchant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureMethod {
    Automatic,
    Manual,
}

impl CaptureMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            CaptureMethod::Automatic => "automatic",
            CaptureMethod::Manual => "manual",
        }
    }

    pub fn parse(name: &str) -> Option<CaptureMethod> {
        match name {
            "automatic" => Some(CaptureMethod::Automatic),
            "manual" => Some(CaptureMethod::Manual),
            _ => None,
        }
    }
}

/// Who caused a transition, for the audit trail. Stored as its `Display` form:
/// `api_key:<id>`, `frame`, `system`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Actor {
    /// A merchant's server through the API; the id of the key, never the secret.
    ApiKey(String),
    /// The shopper, through the hosted card form.
    Frame,
    /// The gateway itself: automatic capture, processor answers, expiry, reconciliation.
    System,
}

impl Actor {
    /// Parses the stored form; `None` for anything else (including `api_key:` with no id).
    pub fn parse(s: &str) -> Option<Actor> {
        match s {
            "frame" => Some(Actor::Frame),
            "system" => Some(Actor::System),
            _ => s
                .strip_prefix("api_key:")
                .filter(|id| !id.is_empty())
                .map(|id| Actor::ApiKey(id.to_owned())),
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::ApiKey(id) => write!(f, "api_key:{id}"),
            Actor::Frame => f.write_str("frame"),
            Actor::System => f.write_str("system"),
        }
    }
}

/// A change requested of a payment: by the merchant (capture, cancel, refund), by the
/// shopper (submit) or reporting what the processor answered (authorized, declined,
/// timeout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// A payment method was given and the authorization is being sent.
    Submit,
    /// The processor approved the authorization; its reference is kept for capture,
    /// void and refund calls.
    Authorized { processor_reference: String },
    /// The processor or issuer declined.
    Declined { code: DeclineCode },
    /// The authorization call got no answer; the outcome is still unknown.
    ProcessorTimeout,
    /// Capture `amount` (default: all) of the authorization; the rest is released.
    Capture { amount: Option<Amount> },
    /// Cancel before submission, or void an authorization that was not captured.
    Cancel,
    /// Refund `amount` (default: all that remains refundable).
    Refund { amount: Option<Amount> },
}

/// An [`Operation`] without its data, as recorded in the transition log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationKind {
    Submit,
    Authorized,
    Declined,
    ProcessorTimeout,
    Capture,
    Cancel,
    Refund,
}

impl OperationKind {
    pub const ALL: [OperationKind; 7] = [
        OperationKind::Submit,
        OperationKind::Authorized,
        OperationKind::Declined,
        OperationKind::ProcessorTimeout,
        OperationKind::Capture,
        OperationKind::Cancel,
        OperationKind::Refund,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OperationKind::Submit => "submit",
            OperationKind::Authorized => "authorized",
            OperationKind::Declined => "declined",
            OperationKind::ProcessorTimeout => "processor_timeout",
            OperationKind::Capture => "capture",
            OperationKind::Cancel => "cancel",
            OperationKind::Refund => "refund",
        }
    }

    pub fn parse(name: &str) -> Option<OperationKind> {
        OperationKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// For error messages: "cannot be {verb}".
    fn past_participle(self) -> &'static str {
        match self {
            OperationKind::Submit => "submitted",
            OperationKind::Authorized => "authorized",
            OperationKind::Declined => "declined",
            OperationKind::ProcessorTimeout => "marked as timed out",
            OperationKind::Capture => "captured",
            OperationKind::Cancel => "canceled",
            OperationKind::Refund => "refunded",
        }
    }

    /// The legal-transition table of the module doc, in one place, so the log of a stored
    /// payment can be checked against it.
    fn allows(self, from: Status, to: Status) -> bool {
        use Status::*;
        match self {
            OperationKind::Submit => from == RequiresPaymentMethod && to == Processing,
            OperationKind::ProcessorTimeout => from == Processing && to == Processing,
            OperationKind::Authorized => from == Processing && to == Authorized,
            OperationKind::Declined => from == Processing && to == Failed,
            OperationKind::Capture => from == Authorized && to == Captured,
            OperationKind::Cancel => {
                matches!(from, RequiresPaymentMethod | Authorized) && to == Canceled
            }
            OperationKind::Refund => {
                matches!(from, Captured | PartiallyRefunded)
                    && matches!(to, PartiallyRefunded | Refunded)
            }
        }
    }
}

impl Operation {
    pub fn kind(&self) -> OperationKind {
        match self {
            Operation::Submit => OperationKind::Submit,
            Operation::Authorized { .. } => OperationKind::Authorized,
            Operation::Declined { .. } => OperationKind::Declined,
            Operation::ProcessorTimeout => OperationKind::ProcessorTimeout,
            Operation::Capture { .. } => OperationKind::Capture,
            Operation::Cancel => OperationKind::Cancel,
            Operation::Refund { .. } => OperationKind::Refund,
        }
    }
}

/// One entry of a payment's log: every accepted operation adds exactly one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub from: Status,
    pub to: Status,
    pub operation: OperationKind,
    pub actor: Actor,
    /// Unix seconds.
    pub at: i64,
    /// The money the operation is about (see the module doc's table), if any.
    pub amount: Option<Amount>,
}

/// Why an operation was refused. The payment is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("A payment with status `{status}` cannot be {}.", operation.past_participle())]
    InvalidState {
        status: Status,
        operation: OperationKind,
    },
    #[error(
        "The capture amount ({requested}) is larger than the amount that can be captured ({capturable})."
    )]
    AmountTooLarge { requested: i64, capturable: i64 },
    #[error(
        "The refund amount ({requested}) is larger than what remains to refund of the captured amount ({refundable})."
    )]
    RefundExceedsCaptured { requested: i64, refundable: i64 },
    /// Only from [`Payment::from_parts`]: stored data that no sequence of legal
    /// operations could have produced.
    #[error("The stored payment is inconsistent: {0}.")]
    InconsistentRecord(&'static str),
}

impl TransitionError {
    /// Stable machine-readable code for the API's `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            TransitionError::InvalidState { .. } => "payment_invalid_state",
            TransitionError::AmountTooLarge { .. } => "amount_too_large",
            TransitionError::RefundExceedsCaptured { .. } => "refund_exceeds_captured",
            TransitionError::InconsistentRecord(_) => "payment_record_inconsistent",
        }
    }

    /// The request field the error is about, for the API's `error.param`.
    pub fn param(&self) -> Option<&'static str> {
        match self {
            TransitionError::AmountTooLarge { .. }
            | TransitionError::RefundExceedsCaptured { .. } => Some("amount"),
            TransitionError::InvalidState { .. } | TransitionError::InconsistentRecord(_) => None,
        }
    }
}

/// A payment. Its fields are private so that every change goes through
/// [`Payment::apply`]; storage round-trips it through [`PaymentParts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    amount: Amount,
    currency: Currency,
    capture_method: CaptureMethod,
    status: Status,
    amount_captured: i64,
    amount_refunded: i64,
    decline_code: Option<DeclineCode>,
    processor_reference: Option<String>,
    created: i64,
    transitions: Vec<Transition>,
}

/// Every field of a [`Payment`], for storage. [`Payment::from_parts`] checks them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentParts {
    pub amount: Amount,
    pub currency: Currency,
    pub capture_method: CaptureMethod,
    pub status: Status,
    pub amount_captured: i64,
    pub amount_refunded: i64,
    pub decline_code: Option<DeclineCode>,
    pub processor_reference: Option<String>,
    pub created: i64,
    pub transitions: Vec<Transition>,
}

/// What an accepted operation will set; computed in full before anything is assigned,
/// so a refusal cannot leave a half-applied payment.
struct Effect {
    to: Status,
    amount: Option<Amount>,
    captured: i64,
    refunded: i64,
    decline_code: Option<DeclineCode>,
    processor_reference: Option<String>,
}

impl Payment {
    /// A new payment awaiting its payment method. `created` is unix seconds.
    pub fn new(
        amount: Amount,
        currency: Currency,
        capture_method: CaptureMethod,
        created: i64,
    ) -> Payment {
        Payment {
            amount,
            currency,
            capture_method,
            status: Status::RequiresPaymentMethod,
            amount_captured: 0,
            amount_refunded: 0,
            decline_code: None,
            processor_reference: None,
            created,
            transitions: Vec::new(),
        }
    }

    /// Applies `op` on behalf of `actor` at `now` (unix seconds) and records the
    /// transition, or refuses it and changes nothing.
    pub fn apply(
        &mut self,
        op: Operation,
        actor: Actor,
        now: i64,
    ) -> Result<&Transition, TransitionError> {
        let operation = op.kind();
        let effect = self.plan(op)?;
        let from = self.status;
        self.status = effect.to;
        self.amount_captured = effect.captured;
        self.amount_refunded = effect.refunded;
        self.decline_code = effect.decline_code;
        self.processor_reference = effect.processor_reference;
        self.transitions.push(Transition {
            from,
            to: effect.to,
            operation,
            actor,
            at: now,
            amount: effect.amount,
        });
        Ok(&self.transitions[self.transitions.len() - 1])
    }

    fn plan(&self, op: Operation) -> Result<Effect, TransitionError> {
        use Status::*;
        let mut e = Effect {
            to: self.status,
            amount: None,
            captured: self.amount_captured,
            refunded: self.amount_refunded,
            decline_code: self.decline_code,
            processor_reference: self.processor_reference.clone(),
        };
        match (op, self.status) {
            (Operation::Submit, RequiresPaymentMethod) => {
                e.to = Processing;
                e.amount = Some(self.amount);
            }
            (Operation::ProcessorTimeout, Processing) => {}
            (
                Operation::Authorized {
                    processor_reference,
                },
                Processing,
            ) => {
                e.to = Authorized;
                e.amount = Some(self.amount);
                e.processor_reference = Some(processor_reference);
            }
            (Operation::Declined { code }, Processing) => {
                e.to = Failed;
                e.decline_code = Some(code);
            }
            (Operation::Capture { amount }, Authorized) => {
                let amount = amount.unwrap_or(self.amount);
                if amount > self.amount {
                    return Err(TransitionError::AmountTooLarge {
                        requested: amount.minor_units(),
                        capturable: self.amount.minor_units(),
                    });
                }
                e.to = Captured;
                e.amount = Some(amount);
                e.captured = amount.minor_units();
            }
            (Operation::Cancel, RequiresPaymentMethod) => e.to = Canceled,
            (Operation::Cancel, Authorized) => {
                e.to = Canceled;
                e.amount = Some(self.amount);
            }
            (Operation::Refund { amount }, status @ (Captured | PartiallyRefunded)) => {
                let refundable = self.amount_refundable();
                let amount = match amount {
                    Some(amount) => amount,
                    // Positive in these states (checked invariant); refuse rather than panic.
                    None => Amount::new(refundable).map_err(|_| TransitionError::InvalidState {
                        status,
                        operation: OperationKind::Refund,
                    })?,
                };
                if amount.minor_units() > refundable {
                    return Err(TransitionError::RefundExceedsCaptured {
                        requested: amount.minor_units(),
                        refundable,
                    });
                }
                e.refunded += amount.minor_units();
                e.to = if e.refunded == e.captured {
                    Refunded
                } else {
                    PartiallyRefunded
                };
                e.amount = Some(amount);
            }
            (op, status) => {
                return Err(TransitionError::InvalidState {
                    status,
                    operation: op.kind(),
                });
            }
        }
        Ok(e)
    }

    pub fn amount(&self) -> Amount {
        self.amount
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn capture_method(&self) -> CaptureMethod {
        self.capture_method
    }

    pub fn status(&self) -> Status {
        self.status
    }

    /// Minor units captured; 0 until captured.
    pub fn amount_captured(&self) -> i64 {
        self.amount_captured
    }

    /// Minor units refunded so far.
    pub fn amount_refunded(&self) -> i64 {
        self.amount_refunded
    }

    /// What a capture may take now: the whole amount while authorized, else 0.
    pub fn amount_capturable(&self) -> i64 {
        if self.status == Status::Authorized {
            self.amount.minor_units()
        } else {
            0
        }
    }

    /// What a refund may still return.
    pub fn amount_refundable(&self) -> i64 {
        self.amount_captured - self.amount_refunded
    }

    pub fn decline_code(&self) -> Option<DeclineCode> {
        self.decline_code
    }

    /// The processor's reference of the authorization, once authorized.
    pub fn processor_reference(&self) -> Option<&str> {
        self.processor_reference.as_deref()
    }

    /// Unix seconds.
    pub fn created(&self) -> i64 {
        self.created
    }

    pub fn transitions(&self) -> &[Transition] {
        &self.transitions
    }

    pub fn into_parts(self) -> PaymentParts {
        PaymentParts {
            amount: self.amount,
            currency: self.currency,
            capture_method: self.capture_method,
            status: self.status,
            amount_captured: self.amount_captured,
            amount_refunded: self.amount_refunded,
            decline_code: self.decline_code,
            processor_reference: self.processor_reference,
            created: self.created,
            transitions: self.transitions,
        }
    }

    /// Rebuilds a stored payment, refusing data that breaks an invariant (amounts,
    /// status, log) — a damaged or hand-edited row must not become a live payment.
    pub fn from_parts(parts: PaymentParts) -> Result<Payment, TransitionError> {
        let payment = Payment {
            amount: parts.amount,
            currency: parts.currency,
            capture_method: parts.capture_method,
            status: parts.status,
            amount_captured: parts.amount_captured,
            amount_refunded: parts.amount_refunded,
            decline_code: parts.decline_code,
            processor_reference: parts.processor_reference,
            created: parts.created,
            transitions: parts.transitions,
        };
        match payment.inconsistency() {
            Some(reason) => Err(TransitionError::InconsistentRecord(reason)),
            None => Ok(payment),
        }
    }

    /// The first invariant this payment breaks, if any. `apply` keeps them all; the
    /// property test checks them after every step.
    fn inconsistency(&self) -> Option<&'static str> {
        use Status::*;
        let (captured, refunded) = (self.amount_captured, self.amount_refunded);
        if !(0..=self.amount.minor_units()).contains(&captured) {
            return Some("amount_captured is outside 0..=amount");
        }
        if !(0..=captured).contains(&refunded) {
            return Some("amount_refunded is outside 0..=amount_captured");
        }
        let amounts_fit = match self.status {
            RequiresPaymentMethod | Processing | Authorized | Failed | Canceled => {
                captured == 0 && refunded == 0
            }
            Captured => captured > 0 && refunded == 0,
            PartiallyRefunded => 0 < refunded && refunded < captured,
            Refunded => captured > 0 && refunded == captured,
        };
        if !amounts_fit {
            return Some("the captured and refunded amounts do not fit the status");
        }
        if self.decline_code.is_some() != (self.status == Failed) {
            return Some("a decline code belongs to failed payments only");
        }
        let reference_fits = match self.status {
            RequiresPaymentMethod | Processing | Failed => self.processor_reference.is_none(),
            Authorized | Captured | PartiallyRefunded | Refunded => {
                self.processor_reference.is_some()
            }
            Canceled => true,
        };
        if !reference_fits {
            return Some("the processor reference does not fit the status");
        }
        let mut at = RequiresPaymentMethod;
        let (mut logged_captured, mut logged_refunded) = (0i64, 0i64);
        for t in &self.transitions {
            if t.from != at {
                return Some("the transition log is not a chain");
            }
            if !t.operation.allows(t.from, t.to) {
                return Some("the transition log holds an illegal transition");
            }
            let amount = t.amount.map_or(0, Amount::minor_units);
            match t.operation {
                OperationKind::Capture => logged_captured += amount,
                OperationKind::Refund => logged_refunded += amount,
                _ => {}
            }
            at = t.to;
        }
        if at != self.status {
            return Some("the transition log does not end at the status");
        }
        if logged_captured != captured || logged_refunded != refunded {
            return Some("the transition log does not add up to the amounts");
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const AMOUNT: i64 = 10_000;

    fn amount(minor: i64) -> Amount {
        Amount::new(minor).unwrap()
    }

    fn brl() -> Currency {
        Currency::parse("brl").unwrap()
    }

    fn new_payment(total: i64) -> Payment {
        Payment::new(amount(total), brl(), CaptureMethod::Manual, 1_000)
    }

    fn authorized_op() -> Operation {
        Operation::Authorized {
            processor_reference: "sim_auth_1".into(),
        }
    }

    /// Applies `ops` as the system, panicking on a refusal: the path to a state.
    fn drive(ops: &[Operation]) -> Payment {
        let mut p = new_payment(AMOUNT);
        for (i, op) in ops.iter().enumerate() {
            p.apply(op.clone(), Actor::System, 1_000 + i as i64)
                .unwrap_or_else(|e| panic!("{op:?}: {e}"));
        }
        p
    }

    /// A payment in `status`, reached through legal operations only.
    fn in_status(status: Status) -> Payment {
        use Operation::*;
        let path: Vec<Operation> = match status {
            Status::RequiresPaymentMethod => vec![],
            Status::Processing => vec![Submit],
            Status::Authorized => vec![Submit, authorized_op()],
            Status::Captured => vec![Submit, authorized_op(), Capture { amount: None }],
            Status::PartiallyRefunded => vec![
                Submit,
                authorized_op(),
                Capture { amount: None },
                Refund {
                    amount: Some(amount(1)),
                },
            ],
            Status::Refunded => vec![
                Submit,
                authorized_op(),
                Capture { amount: None },
                Refund { amount: None },
            ],
            Status::Failed => vec![
                Submit,
                Declined {
                    code: DeclineCode::DoNotHonor,
                },
            ],
            Status::Canceled => vec![Cancel],
        };
        let p = drive(&path);
        assert_eq!(p.status(), status);
        p
    }

    fn sample_op(kind: OperationKind) -> Operation {
        match kind {
            OperationKind::Submit => Operation::Submit,
            OperationKind::Authorized => authorized_op(),
            OperationKind::Declined => Operation::Declined {
                code: DeclineCode::InsufficientFunds,
            },
            OperationKind::ProcessorTimeout => Operation::ProcessorTimeout,
            OperationKind::Capture => Operation::Capture {
                amount: Some(amount(100)),
            },
            OperationKind::Cancel => Operation::Cancel,
            OperationKind::Refund => Operation::Refund {
                amount: Some(amount(1)),
            },
        }
    }

    /// Every (status, operation) pair: the legal ones of the module doc's table succeed
    /// and land where the table says; every other pair is refused with
    /// `payment_invalid_state` and leaves the payment untouched.
    #[test]
    fn every_status_and_operation_pair_follows_the_table() {
        use OperationKind as K;
        use Status::*;
        let legal: &[(Status, OperationKind, Status)] = &[
            (RequiresPaymentMethod, K::Submit, Processing),
            (RequiresPaymentMethod, K::Cancel, Canceled),
            (Processing, K::ProcessorTimeout, Processing),
            (Processing, K::Authorized, Authorized),
            (Processing, K::Declined, Failed),
            (Authorized, K::Capture, Captured),
            (Authorized, K::Cancel, Canceled),
            (Captured, K::Refund, PartiallyRefunded),
            (PartiallyRefunded, K::Refund, PartiallyRefunded),
        ];
        for from in Status::ALL {
            for kind in OperationKind::ALL {
                let mut p = in_status(from);
                let before = p.clone();
                let result = p.apply(sample_op(kind), Actor::Frame, 5_000).cloned();
                let expected = legal
                    .iter()
                    .find(|(f, k, _)| *f == from && *k == kind)
                    .map(|(_, _, to)| *to);
                match (expected, result) {
                    (Some(to), Ok(t)) => {
                        assert_eq!((t.from, t.to, t.operation), (from, to, kind));
                        assert_eq!((t.actor.clone(), t.at), (Actor::Frame, 5_000));
                        assert_eq!(p.status(), to);
                        assert_eq!(p.transitions().len(), before.transitions().len() + 1);
                    }
                    (None, Err(e)) => {
                        assert_eq!(
                            e,
                            TransitionError::InvalidState {
                                status: from,
                                operation: kind
                            }
                        );
                        assert_eq!(e.code(), "payment_invalid_state");
                        assert_eq!(p, before, "{from} {kind:?} changed the payment");
                    }
                    (want, got) => panic!("{from} {kind:?}: expected {want:?}, got {got:?}"),
                }
                assert_eq!(p.inconsistency(), None);
            }
        }
    }

    #[test]
    fn happy_path_with_automatic_capture_records_every_step() {
        let mut p = Payment::new(amount(2_500), brl(), CaptureMethod::Automatic, 10);
        let frame = Actor::Frame;
        p.apply(Operation::Submit, frame.clone(), 11).unwrap();
        p.apply(authorized_op(), Actor::System, 12).unwrap();
        p.apply(Operation::Capture { amount: None }, Actor::System, 12)
            .unwrap();
        assert_eq!(p.status(), Status::Captured);
        assert_eq!(p.amount_captured(), 2_500);
        assert_eq!(p.processor_reference(), Some("sim_auth_1"));
        let log: Vec<_> = p
            .transitions()
            .iter()
            .map(|t| (t.from, t.to, t.actor.to_string(), t.at, t.amount))
            .collect();
        assert_eq!(
            log,
            [
                (
                    Status::RequiresPaymentMethod,
                    Status::Processing,
                    "frame".to_string(),
                    11,
                    Some(amount(2_500))
                ),
                (
                    Status::Processing,
                    Status::Authorized,
                    "system".to_string(),
                    12,
                    Some(amount(2_500))
                ),
                (
                    Status::Authorized,
                    Status::Captured,
                    "system".to_string(),
                    12,
                    Some(amount(2_500))
                ),
            ]
        );
    }

    #[test]
    fn partial_capture_takes_part_and_releases_the_rest() {
        let mut p = in_status(Status::Authorized);
        assert_eq!(p.amount_capturable(), AMOUNT);
        let t = p
            .apply(
                Operation::Capture {
                    amount: Some(amount(4_000)),
                },
                Actor::ApiKey("key_1".into()),
                2_000,
            )
            .unwrap();
        assert_eq!(t.amount, Some(amount(4_000)));
        assert_eq!(t.actor.to_string(), "api_key:key_1");
        assert_eq!(p.status(), Status::Captured);
        assert_eq!(p.amount_captured(), 4_000);
        assert_eq!(p.amount_capturable(), 0);
        assert_eq!(p.amount_refundable(), 4_000);
        // One capture per authorization: the released remainder cannot be captured later.
        let again = p.apply(Operation::Capture { amount: None }, Actor::System, 2_001);
        assert_eq!(again.unwrap_err().code(), "payment_invalid_state");
    }

    #[test]
    fn capture_of_exactly_the_amount_is_allowed_and_one_more_is_refused() {
        let mut p = in_status(Status::Authorized);
        let before = p.clone();
        let err = p
            .apply(
                Operation::Capture {
                    amount: Some(amount(AMOUNT + 1)),
                },
                Actor::System,
                2_000,
            )
            .unwrap_err();
        assert_eq!(
            err,
            TransitionError::AmountTooLarge {
                requested: AMOUNT + 1,
                capturable: AMOUNT
            }
        );
        assert_eq!(err.code(), "amount_too_large");
        assert_eq!(err.param(), Some("amount"));
        assert_eq!(
            err.to_string(),
            "The capture amount (10001) is larger than the amount that can be captured (10000)."
        );
        assert_eq!(p, before);
        p.apply(
            Operation::Capture {
                amount: Some(amount(AMOUNT)),
            },
            Actor::System,
            2_001,
        )
        .unwrap();
        assert_eq!(p.amount_captured(), AMOUNT);
    }

    #[test]
    fn refunds_add_up_to_the_captured_amount_and_no_further() {
        let mut p = drive(&[
            Operation::Submit,
            authorized_op(),
            Operation::Capture {
                amount: Some(amount(6_000)),
            },
        ]);
        let refund = |minor| Operation::Refund {
            amount: Some(amount(minor)),
        };
        p.apply(refund(1_000), Actor::System, 3_000).unwrap();
        assert_eq!(
            (p.status(), p.amount_refunded()),
            (Status::PartiallyRefunded, 1_000)
        );
        p.apply(refund(2_000), Actor::System, 3_001).unwrap();
        assert_eq!(
            (p.status(), p.amount_refunded()),
            (Status::PartiallyRefunded, 3_000)
        );

        // More than the 3_000 that remain of what was captured (not of the amount).
        let before = p.clone();
        let err = p.apply(refund(3_001), Actor::System, 3_002).unwrap_err();
        assert_eq!(
            err,
            TransitionError::RefundExceedsCaptured {
                requested: 3_001,
                refundable: 3_000
            }
        );
        assert_eq!(err.code(), "refund_exceeds_captured");
        assert_eq!(p, before);

        // `None` refunds what remains and completes the refund.
        let t = p
            .apply(Operation::Refund { amount: None }, Actor::System, 3_003)
            .unwrap();
        assert_eq!(t.amount, Some(amount(3_000)));
        assert_eq!(
            (p.status(), p.amount_refunded(), p.amount_refundable()),
            (Status::Refunded, 6_000, 0)
        );
        let err = p.apply(refund(1), Actor::System, 3_004).unwrap_err();
        assert_eq!(err.code(), "payment_invalid_state");
        assert_eq!(
            err.to_string(),
            "A payment with status `refunded` cannot be refunded."
        );
    }

    #[test]
    fn a_single_refund_of_everything_goes_straight_to_refunded() {
        let mut p = in_status(Status::Captured);
        p.apply(
            Operation::Refund {
                amount: Some(amount(AMOUNT)),
            },
            Actor::System,
            4_000,
        )
        .unwrap();
        assert_eq!(p.status(), Status::Refunded);
        assert_eq!(p.transitions().last().unwrap().from, Status::Captured);
    }

    #[test]
    fn refund_larger_than_captured_on_a_fresh_capture_is_refused() {
        let mut p = in_status(Status::Captured);
        let before = p.clone();
        let err = p
            .apply(
                Operation::Refund {
                    amount: Some(amount(AMOUNT + 1)),
                },
                Actor::System,
                4_000,
            )
            .unwrap_err();
        assert_eq!(err.code(), "refund_exceeds_captured");
        assert_eq!(p, before);
    }

    #[test]
    fn a_decline_fails_the_payment_and_records_its_code() {
        let mut p = in_status(Status::Processing);
        let t = p
            .apply(
                Operation::Declined {
                    code: DeclineCode::InsufficientFunds,
                },
                Actor::System,
                2_000,
            )
            .unwrap();
        assert_eq!(
            (t.from, t.to, t.amount),
            (Status::Processing, Status::Failed, None)
        );
        assert_eq!(p.decline_code(), Some(DeclineCode::InsufficientFunds));
        assert!(p.status().is_terminal());
    }

    #[test]
    fn a_processor_timeout_keeps_processing_and_is_resolved_by_the_answer() {
        let mut p = in_status(Status::Processing);
        let t = p
            .apply(Operation::ProcessorTimeout, Actor::System, 2_000)
            .unwrap();
        assert_eq!(
            (t.from, t.to, t.operation),
            (
                Status::Processing,
                Status::Processing,
                OperationKind::ProcessorTimeout
            )
        );
        // A second timeout on the retry is recorded too.
        p.apply(Operation::ProcessorTimeout, Actor::System, 2_030)
            .unwrap();
        // Canceling now could leave an authorization behind: refused.
        let err = p
            .apply(Operation::Cancel, Actor::System, 2_031)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "A payment with status `processing` cannot be canceled."
        );
        // Submitting again would start a second authorization: refused.
        assert!(p.apply(Operation::Submit, Actor::Frame, 2_032).is_err());
        // The status lookup's answer resolves it.
        p.apply(authorized_op(), Actor::System, 2_060).unwrap();
        assert_eq!(p.status(), Status::Authorized);
        assert_eq!(p.transitions().len(), 4);
    }

    #[test]
    fn cancel_voids_an_authorization_and_records_the_released_hold() {
        let mut p = in_status(Status::Authorized);
        let t = p.apply(Operation::Cancel, Actor::System, 2_000).unwrap();
        assert_eq!(t.amount, Some(amount(AMOUNT)));
        assert_eq!(p.status(), Status::Canceled);
        assert_eq!(p.amount_captured(), 0);
        assert_eq!(p.amount_capturable(), 0);

        let mut unsubmitted = new_payment(500);
        let t = unsubmitted
            .apply(Operation::Cancel, Actor::ApiKey("k".into()), 2_000)
            .unwrap();
        assert_eq!(t.amount, None);
    }

    #[test]
    fn terminal_states_accept_nothing() {
        for status in Status::ALL.into_iter().filter(|s| s.is_terminal()) {
            for kind in OperationKind::ALL {
                let mut p = in_status(status);
                let before = p.clone();
                for op in [
                    sample_op(kind),
                    Operation::Refund { amount: None },
                    Operation::Capture { amount: None },
                ] {
                    assert!(p.apply(op, Actor::System, 9_000).is_err());
                }
                assert_eq!(p, before);
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        assert_eq!(
            Status::RequiresPaymentMethod.as_str(),
            "requires_payment_method"
        );
        assert_eq!(Status::PartiallyRefunded.as_str(), "partially_refunded");
        for k in OperationKind::ALL {
            assert_eq!(OperationKind::parse(k.as_str()), Some(k));
        }
        for m in [CaptureMethod::Automatic, CaptureMethod::Manual] {
            assert_eq!(CaptureMethod::parse(m.as_str()), Some(m));
        }
        for a in [Actor::ApiKey("key_9".into()), Actor::Frame, Actor::System] {
            assert_eq!(Actor::parse(&a.to_string()), Some(a));
        }
        assert_eq!(Actor::parse("api_key:"), None);
        assert_eq!(Actor::parse("root"), None);
    }

    #[test]
    fn parts_round_trip_and_inconsistent_records_are_refused() {
        let p = in_status(Status::PartiallyRefunded);
        assert_eq!(Payment::from_parts(p.clone().into_parts()), Ok(p.clone()));

        let refuse = |edit: &dyn Fn(&mut PaymentParts)| {
            let mut parts = p.clone().into_parts();
            edit(&mut parts);
            let err = Payment::from_parts(parts).unwrap_err();
            assert_eq!(err.code(), "payment_record_inconsistent");
        };
        refuse(&|x| x.amount_refunded = x.amount_captured + 1);
        refuse(&|x| x.amount_captured = AMOUNT + 1);
        refuse(&|x| x.status = Status::Refunded);
        refuse(&|x| x.decline_code = Some(DeclineCode::DoNotHonor));
        refuse(&|x| x.processor_reference = None);
        refuse(&|x| {
            x.transitions.pop();
        });
        refuse(&|x| x.transitions[0].from = Status::Processing);
        refuse(&|x| x.transitions[3].amount = Some(amount(2)));
        refuse(&|x| x.transitions[2].operation = OperationKind::Refund);
    }

    // ----- property test -------------------------------------------------------------

    /// Amounts around the interesting edges of a payment of `total`: the smallest, one
    /// below, exactly, one above, anything up to a bit above, and the largest.
    fn arb_amount(total: i64) -> impl Strategy<Value = Option<Amount>> {
        let pick = |m: i64| Some(Amount::new(m.clamp(1, Amount::MAX)).unwrap());
        prop_oneof![
            Just(None),
            Just(pick(1)),
            Just(pick(total - 1)),
            Just(pick(total)),
            Just(pick(total + 1)),
            (1..=total.saturating_add(2)).prop_map(pick),
            (1..=total / 2 + 1).prop_map(pick),
            Just(pick(Amount::MAX)),
        ]
    }

    fn arb_op(total: i64) -> impl Strategy<Value = Operation> {
        prop_oneof![
            2 => Just(Operation::Submit),
            2 => "[a-z0-9]{1,8}".prop_map(|r| Operation::Authorized { processor_reference: r }),
            1 => proptest::sample::select(DeclineCode::ALL.to_vec())
                .prop_map(|code| Operation::Declined { code }),
            1 => Just(Operation::ProcessorTimeout),
            3 => arb_amount(total).prop_map(|amount| Operation::Capture { amount }),
            1 => Just(Operation::Cancel),
            4 => arb_amount(total).prop_map(|amount| Operation::Refund { amount }),
        ]
    }

    fn arb_actor() -> impl Strategy<Value = Actor> {
        prop_oneof![
            Just(Actor::System),
            Just(Actor::Frame),
            "[a-z0-9]{1,6}".prop_map(Actor::ApiKey),
        ]
    }

    fn arb_case() -> impl Strategy<Value = (i64, Vec<(Operation, Actor)>)> {
        prop_oneof![Just(1i64), Just(2i64), 1i64..=20_000, Just(Amount::MAX)].prop_flat_map(
            |total| {
                (
                    Just(total),
                    proptest::collection::vec((arb_op(total), arb_actor()), 0..40),
                )
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn random_operation_sequences_keep_the_invariants((total, ops) in arb_case()) {
            let mut p = Payment::new(Amount::new(total).unwrap(), brl(), CaptureMethod::Manual, 0);
            for (i, (op, actor)) in ops.into_iter().enumerate() {
                let now = i as i64;
                let before = p.clone();
                let result = p.apply(op.clone(), actor.clone(), now).cloned();
                match result {
                    Err(_) => prop_assert_eq!(&p, &before, "a refused {:?} changed the payment", op),
                    Ok(t) => {
                        prop_assert!(!before.status().is_terminal(), "{} accepted {:?}", before.status(), op);
                        prop_assert_eq!(p.transitions().len(), before.transitions().len() + 1);
                        prop_assert_eq!((t.from, t.to), (before.status(), p.status()));
                        prop_assert_eq!((t.operation, t.actor, t.at), (op.kind(), actor, now));
                        match op {
                            Operation::Capture { amount } => {
                                let want = amount.map_or(total, Amount::minor_units);
                                prop_assert_eq!(p.amount_captured(), want);
                            }
                            Operation::Refund { amount } => {
                                let want = amount.map_or(before.amount_refundable(), Amount::minor_units);
                                prop_assert_eq!(p.amount_refunded() - before.amount_refunded(), want);
                                prop_assert_eq!(p.amount_captured(), before.amount_captured());
                            }
                            _ => prop_assert_eq!(
                                (p.amount_captured(), p.amount_refunded()),
                                (before.amount_captured(), before.amount_refunded())
                            ),
                        }
                    }
                }

                let (captured, refunded) = (p.amount_captured(), p.amount_refunded());
                prop_assert!(0 <= refunded && refunded <= captured && captured <= total);
                prop_assert_eq!(p.status() == Status::Refunded, refunded == captured && captured > 0);
                prop_assert_eq!(
                    p.status() == Status::PartiallyRefunded,
                    0 < refunded && refunded < captured
                );
                prop_assert_eq!(
                    matches!(p.status(), Status::Captured | Status::PartiallyRefunded | Status::Refunded),
                    captured > 0
                );
                prop_assert_eq!(p.decline_code().is_some(), p.status() == Status::Failed);
                let last_to = p.transitions().last().map_or(Status::RequiresPaymentMethod, |t| t.to);
                prop_assert_eq!(last_to, p.status());
                for pair in p.transitions().windows(2) {
                    prop_assert_eq!(pair[1].from, pair[0].to);
                }
                prop_assert_eq!(p.inconsistency(), None);
            }
        }
    }
}

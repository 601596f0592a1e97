//! Payments: the domain core of a payment's life — its state machine, amounts and audit
//! trail of transitions — as plain values, with no HTTP and no storage. The API and the
//! store wire it in; processor calls live in `crate::processors`.

pub mod flow;
pub mod state;
pub mod view;

pub use state::{
    Actor, CaptureMethod, Operation, OperationKind, Payment, PaymentParts, Status, Transition,
    TransitionError,
};

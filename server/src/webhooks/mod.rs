//! Webhooks: merchants' endpoints (`endpoints`), the events payment changes cause
//! (`events`, written in the payment's transaction by the store), and their delivery from
//! the durable outbox (`delivery`) on the retry schedule of `schedule`. No HTTP handlers
//! here: `api::webhooks` and `api::events` are thin shells over these.

pub mod delivery;
pub mod endpoints;
pub mod events;
pub mod schedule;

pub use delivery::{DeliveryError, DeliveryReport, Runtime, deliver_due, release_leases};

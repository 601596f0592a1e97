//! payframe-core: what the hosted frame (wasm32) and the gateway (native) must agree on
//! bit for bit — card types, the sealed envelope format (Envelope v1) and the API wire types.
//! No I/O lives here.

pub mod api;
pub mod card;
pub mod envelope;
pub mod money;
pub mod webhook;

pub use card::{Brand, CardError, Cvc, Expiry, Pan};
pub use envelope::{CardPayload, Envelope, EnvelopeError, KeyPair, seal};
pub use money::{Amount, Currency, MoneyError};

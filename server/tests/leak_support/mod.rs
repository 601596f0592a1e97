//! Helpers for `tests/leak.rs`: capturing every log line and panic message
//! ([`capture`]), a gateway that keeps every response and can hand over its database
//! files ([`harness`]), and the search for card data in all of it ([`search`]).

pub mod capture;
pub mod harness;
pub mod search;

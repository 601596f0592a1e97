//! Test support for driving headless Chromium through ChromeDriver.
//!
//! This crate owns the harness that the end-to-end tests in `tests/` share: [`Browser`] starts a
//! private ChromeDriver and Chromium, and cleans both up even when a test panics.

pub mod browser;

pub use browser::{Browser, BrowserConfig, ConsoleEntry, DEFAULT_WAIT, Error};
// Re-exported so tests can name elements and locators without depending on fantoccini directly,
// and so they always get the same version the harness was built against.
pub use fantoccini::{self, Client, Locator, elements::Element};

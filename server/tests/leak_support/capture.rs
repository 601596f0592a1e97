//! Everything the process says while the leak test runs: every `tracing` event and span
//! (and `log` record) at TRACE level for every target, and every panic message.

use std::io;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use tracing_subscriber::fmt::format::FmtSpan;

/// An append-only byte buffer shared between writers.
#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl SharedBuf {
    fn append(&self, bytes: &[u8]) {
        // A panic while the lock was held must not hide what was written before it.
        let mut buf = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        buf.extend_from_slice(bytes);
    }

    fn snapshot(&self) -> Vec<u8> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl io::Write for SharedBuf {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.append(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[derive(Default)]
pub struct Capture {
    logs: SharedBuf,
    panics: SharedBuf,
}

static CAPTURE: OnceLock<Capture> = OnceLock::new();

/// Installs the process-wide log subscriber and panic hook once, and returns the capture.
///
/// The subscriber is the global default (not a thread-local one) so that events from
/// other threads — sqlx's SQLite worker threads, for one — are captured too. Its level is
/// fixed at TRACE for every target, independent of `RUST_LOG`/`PAYFRAME_LOG` (the gateway's
/// library installs no subscriber or filter of its own; only its binary does). Timestamps,
/// colours, thread ids and source line numbers are left out: they are noise, not data.
pub fn install() -> &'static Capture {
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        let writer = capture.logs.clone();
        // `try_init` also installs the `log` → `tracing` bridge, so `log` records count too.
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .without_time()
            .with_target(true)
            .with_span_events(FmtSpan::FULL)
            .with_writer(move || writer.clone())
            .try_init()
            .expect("the leak test installs the only global subscriber of its binary");

        let panics = capture.panics.clone();
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = info
                .payload_as_str()
                .unwrap_or("(a panic whose payload is not a string)");
            panics.append(message.as_bytes());
            panics.append(b"\n");
            default_hook(info);
        }));
        capture
    })
}

impl Capture {
    /// Every log line written so far.
    pub fn logs(&self) -> Vec<u8> {
        self.logs.snapshot()
    }

    /// Every panic message recorded so far, one per line.
    pub fn panics(&self) -> Vec<u8> {
        self.panics.snapshot()
    }
}

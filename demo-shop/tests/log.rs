//! The demo shop's log, read from a pipe (as `scripts/run.sh`'s user or a log file gets it),
//! is plain text.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// Kills the shop when the test ends, passed or not.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_shop_writing_its_log_to_a_pipe_writes_plain_text() {
    let child = Command::new(env!("CARGO_BIN_EXE_demo-shop"))
        .env("DEMO_SHOP_LISTEN", "127.0.0.1:0")
        .env("DEMO_SHOP_SECRET_KEY", "sk_test_logCheck")
        .env("PAYFRAME_URL", "http://127.0.0.1:9")
        .env_remove("DEMO_SHOP_WEBHOOK_SECRET")
        .env_remove("NO_COLOR")
        .stdout(Stdio::piped())
        .spawn()
        .expect("the demo shop starts");
    let mut shop = Running(child);
    let stdout = shop.0.stdout.take().expect("piped stdout");
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("a line of the log");
        let listening = line.contains("demo shop listening");
        lines.push(line);
        if listening {
            break;
        }
    }
    assert!(
        lines
            .last()
            .is_some_and(|line| line.contains("demo shop listening")),
        "the shop stopped before listening: {lines:?}"
    );
    // The warning about the missing webhook secret comes first, then the listening line.
    assert!(
        lines
            .iter()
            .any(|line| line.contains("webhooks will be refused")),
        "{lines:?}"
    );
    for line in &lines {
        assert!(
            !line.contains('\u{1b}'),
            "escape codes in the log: {line:?}"
        );
    }
}

#!/usr/bin/env bash
# The one command that runs every test: formatting, clippy (native and wasm32), the release
# frame build, native tests (unit, API, end-to-end in headless Chromium), and the wasm
# tests in headless Chromium. Installs what it needs first (scripts/setup.sh), so it works
# on a fresh machine and is fast the second time. .ci/run runs exactly this.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh
setup_test_tools

step() { printf '\n==> %s\n' "$*" >&2; }
results=$(mktemp)
trap 'rm -f "$results"' EXIT
# Shows cargo's output as it is and keeps a copy for the total at the end.
tally() { tee -a "$results"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "clippy (native, -D warnings)"
cargo clippy --locked --all-targets -- -D warnings
step "clippy (frame, wasm32, -D warnings)"
cargo clippy --locked -p payframe-frontend --target wasm32-unknown-unknown --all-targets -- -D warnings

step "build the frame (release, offline)"
trunk build --release --skip-version-check

step "native tests (unit, API, end-to-end in Chromium)"
cargo test --locked 2>&1 | tally

step "integration suite again on PostgreSQL (a fresh database per test)"
PAYFRAME_TEST_BACKEND=postgres cargo test --locked -p payframe-server 2>&1 | tally

step "wasm tests in headless Chromium"
export WASM_BINDGEN_TEST_WEBDRIVER_JSON="$PWD/scripts/webdriver.json"
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
    cargo test --locked --target wasm32-unknown-unknown -p payframe-core -p payframe-frontend 2>&1 | tally

step "all checks passed"
# One closing line for every test runner above (cargo prints one line per test binary).
awk '/test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$results"

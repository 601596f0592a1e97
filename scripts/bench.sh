#!/usr/bin/env bash
# Reproduces the "Card crypto" table of BENCHMARKS.md: the criterion benches of Envelope v1
# (seal, open, wire JSON; payframe-core) and of the card vault (Vault::seal, the fingerprint,
# and a vault write committed to SQLite; payframe-server), then Envelope v1 seal timed call
# by call in headless Chromium (wasm32, `release` and the frame's `frame-release` profile).
# Ends with a Markdown summary of the medians. Timings depend on what else the machine is
# doing, so the load average before and after is printed with them.
#
# Usage: scripts/bench.sh   (PAYFRAME_SEAL_ITERATIONS=N for more or fewer browser seals)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh
setup_test_tools
command -v jq >/dev/null || _setup_apt_install jq

step() { printf '\n==> %s\n' "$*" >&2; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
log=$(mktemp)
run=$(mktemp)
trap 'rm -f "$log" "$run"' EXIT

criterion_dir="${CARGO_TARGET_DIR:-target}/criterion"
groups=(envelope_v1 envelope_v1_parts vault vault_write)
# Stale results would otherwise show in the summary if a bench was renamed or skipped, and
# criterion would compare against an old run made under different load.
for group in "${groups[@]}"; do
    rm -rf "${criterion_dir:?}/$group"
done

load_before=$(load)
step "criterion: Envelope v1 (payframe-core)"
cargo bench --locked -p payframe-core --bench envelope
step "criterion: vault (payframe-server)"
cargo bench --locked -p payframe-server --bench vault

iterations=${PAYFRAME_SEAL_ITERATIONS:-500}
export WASM_BINDGEN_TEST_WEBDRIVER_JSON="$PWD/scripts/webdriver.json"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
# Read at compile time by tests/wasm_seal_timing.rs (option_env!), so cargo rebuilds the
# test when it changes.
export PAYFRAME_SEAL_ITERATIONS=$iterations
for profile in release frame-release; do
    step "browser: Envelope v1 seal in headless Chromium, profile $profile, $iterations seals"
    cargo test --locked --profile "$profile" --target wasm32-unknown-unknown \
        -p payframe-core --test wasm_seal_timing -- --nocapture 2>&1 | tee "$run"
    # The test prints one line with its figures (console_log!, shown with --nocapture).
    grep -F 'wasm seal (' "$run" | sed "s/^/$profile: /" >>"$log"
done
load_after=$(load)

# One row per criterion bench: median and its 95% confidence interval from criterion's
# estimates.json, and how many per second one core does at the median.
row() { # group bench label
    local file="$criterion_dir/$1/$2/new/estimates.json"
    [[ -r $file ]] || { printf '| %s | (no result: %s missing) | | |\n' "$3" "$file"; return; }
    jq -r '.median | [.point_estimate, .confidence_interval.lower_bound,
            .confidence_interval.upper_bound] | @tsv' "$file" |
        awk -F'\t' -v label="$3" '
            function fmt(ns) {
                if (ns >= 1e6) return sprintf("%.2f ms", ns / 1e6)
                if (ns >= 1e3) return sprintf("%.2f µs", ns / 1e3)
                return sprintf("%.0f ns", ns)
            }
            { printf "| %s | %s | [%s, %s] | %.0f |\n", label, fmt($1), fmt($2), fmt($3), 1e9 / $1 }'
}

step "summary"
printf 'nproc %s; load average before %s, after %s\n\n' "$(nproc)" "$load_before" "$load_after"
echo "| operation | median | 95% CI of the median | ops/s per core |"
echo "|---|---:|---:|---:|"
row envelope_v1 seal "Envelope v1 seal (native)"
row envelope_v1 open "Envelope v1 open (native)"
row envelope_v1 wire_to_json "wire envelope to JSON"
row envelope_v1 wire_from_json "wire envelope from JSON"
row envelope_v1_parts x25519_public_from_private "part: X25519 public key from private (fixed base)"
row envelope_v1_parts kem_encap "part: HPKE KEM encap alone"
row vault seal "Vault::seal"
row vault fingerprint "Vault::fingerprint"
row vault_write seal_and_commit_sqlite "vault write: Vault::seal + SQLite commit"
echo
cat "$log"

#!/usr/bin/env bash
# Counts the CPU instructions of the confirm path with valgrind's callgrind, so that two
# builds can be compared on a machine whose speed drifts (BENCHMARKS.md, "Instructions per
# confirm"). Instruction counts repeat for the same binary and load whatever else the
# machine is doing; seconds do not.
#
# 1. The crypto-only ceiling's unit: `loadgen --crypto-ceiling --threads 1` under callgrind,
#    instructions of `KeyPair::open` per open.
# 2. The confirm path: the release gateway under callgrind (SQLite in a fresh temporary
#    data directory, the simulator at zero latency, rate limits off, log `info`) with
#    instrumentation switched on once the load generator has created its sessions and
#    sealed its envelopes, and dumped once it has finished: what is counted is the confirms
#    and nothing else. Instructions per confirm, in all and by part: the envelope's open,
#    the SQLite writer thread, and everything else (HTTP, JSON, the session read, the
#    vault, the simulator, logging, Tokio).
#
# What it does not count: the kernel (system calls, the network stack, fsync) and time
# lost to cache misses, so it is a floor on the CPU a confirm costs, not the CPU itself.
# valgrind runs the program's threads one at a time, so the writer's groups are smaller
# than in a real run. valgrind also does not emulate the CPU's SHA extensions, so SHA-256
# (HKDF inside HPKE, HMACs) falls back to the portable code and counts more instructions
# than it executes natively.
#
# Usage: scripts/confirm-instructions.sh
# Knobs (environment): CONFIRM_INSTRUCTIONS_REQUESTS=2000 (confirms counted),
#   CONFIRM_INSTRUCTIONS_OPENS=2000 (opens counted for the ceiling),
#   CONFIRM_INSTRUCTIONS_BIN=dir (use the `payframe` and `loadgen` already built there, e.g.
#   an older commit's, instead of building this tree's),
#   CONFIRM_INSTRUCTIONS_PROFILE=file (keep the gateway's callgrind profile there, for
#   callgrind_annotate).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/loadtest-common.sh
source scripts/loadtest-common.sh

requests=${CONFIRM_INSTRUCTIONS_REQUESTS:-2000}
opens=${CONFIRM_INSTRUCTIONS_OPENS:-2000}
command -v valgrind >/dev/null || {
    echo "valgrind is needed (Debian: apt-get install valgrind)" >&2
    exit 1
}

step() { printf '\n==> %s\n' "$*" >&2; }
# Inclusive instructions of the first function whose name contains $1, in profile $2.
inclusive() {
    # No match is an empty answer, for the check below to name, not a silent exit.
    callgrind_annotate --inclusive=yes --threshold=100 "$2" 2>/dev/null |
        { grep -F -- "$1" || true; } | head -n 1 | awk '{ gsub(",", "", $1); print $1 }'
}
total() {
    callgrind_annotate --threshold=100 "$1" 2>/dev/null |
        awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
}

if [[ -n ${CONFIRM_INSTRUCTIONS_BIN:-} ]]; then
    bin=$CONFIRM_INSTRUCTIONS_BIN
else
    step "build (release): payframe, loadgen"
    cargo build --release --locked -p payframe-server -p payframe-loadgen
    bin="${CARGO_TARGET_DIR:-target}/release"
fi

scratch=$(mktemp -d)
gateway_pid=""
cleanup() {
    if [[ -n $gateway_pid ]]; then
        kill "$gateway_pid" 2>/dev/null || true
        wait "$gateway_pid" 2>/dev/null || true
    fi
    rm -rf "$scratch"
}
trap cleanup EXIT

step "crypto-only ceiling under callgrind: $opens opens on 1 thread"
valgrind --tool=callgrind --callgrind-out-file="$scratch/ceiling.out" \
    "$bin/loadgen" --crypto-ceiling --threads 1 --iterations "$opens" >/dev/null 2>"$scratch/ceiling.log"
open_ir=$(inclusive 'payframe_core::envelope::KeyPair::open ' "$scratch/ceiling.out")
[[ -n $open_ir ]] || {
    echo "no KeyPair::open in the ceiling's profile" >&2
    exit 1
}

step "gateway under callgrind: $requests confirms at concurrency 64"
data="$scratch/data"
mkdir "$data"
secret_key=$(loadtest_merchant "$bin/payframe" "$data")
loadtest_rate_limits_off
port=$("$bin/loadgen" --free-port)
url="http://127.0.0.1:$port"
PAYFRAME_LOG=info valgrind --tool=callgrind --instr-atstart=no \
    --callgrind-out-file="$scratch/gateway.out" \
    "$bin/payframe" serve --listen "127.0.0.1:$port" --data-dir "$data" --public-url "$url" \
    >"$scratch/gateway.log" 2>&1 &
gateway_pid=$!
if ! "$bin/loadgen" --url "$url" --wait-healthz 120; then
    tail -n 40 "$scratch/gateway.log" >&2
    exit 1
fi
# The load generator says when its sessions and envelopes are ready, just before the first
# confirm; counting starts there.
PAYFRAME_SECRET_KEY=$secret_key "$bin/loadgen" --url "$url" --requests "$requests" \
    --warmup 0 --concurrency 64 --kv 2>"$scratch/loadgen.err" >"$scratch/load" &
loadgen_pid=$!
until grep -q '^setup: sealed' "$scratch/loadgen.err" 2>/dev/null; do
    if ! kill -0 "$loadgen_pid" 2>/dev/null; then
        cat "$scratch/loadgen.err" >&2
        exit 1
    fi
    sleep 0.05
done
callgrind_control -i on "$gateway_pid" >/dev/null 2>&1
wait "$loadgen_pid"
callgrind_control -d "$gateway_pid" >/dev/null 2>&1
kill "$gateway_pid"
wait "$gateway_pid" 2>/dev/null || true
gateway_pid=""

profile="$scratch/gateway.out.1"
[[ -f $profile ]] || profile=$(ls -S "$scratch"/gateway.out.* | head -n 1)
if [[ -n ${CONFIRM_INSTRUCTIONS_PROFILE:-} ]]; then
    cp "$profile" "$CONFIRM_INSTRUCTIONS_PROFILE"
fi
ok=$(sed -n 's/^ok=//p' "$scratch/load")
errors=$(sed -n 's/^errors=//p' "$scratch/load")
all=$(total "$profile")
confirm_open=$(inclusive 'payframe_core::envelope::KeyPair::open ' "$profile")
writer=$(inclusive 'payframe_server::store::writer::run ' "$profile")
[[ ${ok:-0} -gt 0 && -n $all && -n $confirm_open && -n $writer ]] || {
    echo "the gateway's profile lacks a figure (confirms: ${ok:-none})" >&2
    exit 1
}
per() { awk -v a="$1" -v n="$ok" 'BEGIN { printf "%.0f", a / n }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
per_confirm=$(per "$all")
per_open=$(awk -v a="$open_ir" -v n="$opens" 'BEGIN { printf "%.0f", a / n }')
rest=$((all - confirm_open - writer))
cat <<EOF

| figure (instructions, user space) | value |
|---|---:|
| confirms counted (errors) | $ok ($errors) |
| per confirm, all of the gateway | $per_confirm |
| — the envelope's open (\`KeyPair::open\`) | $(per "$confirm_open") |
| — the SQLite writer thread | $(per "$writer") |
| — everything else | $(per "$rest") |
| per open in the ceiling (\`loadgen --crypto-ceiling\`) | $per_open |
| a confirm in opens (half the ceiling needs at most 2, load generator and kernel included) | $(ratio "$per_confirm" "$per_open") |
EOF

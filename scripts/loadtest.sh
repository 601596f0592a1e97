#!/usr/bin/env bash
# Reproduces the "Confirm path under load" section of BENCHMARKS.md: builds the release
# gateway (`payframe`) and load generator (`loadgen`), starts the gateway on a free loopback
# port with a fresh temporary data directory (SQLite, WAL, synchronous = FULL; the simulator
# answers at once), creates a test merchant, waits for /healthz, measures the crypto-only
# ceiling (Envelope v1 opens per second on two threads), then drives the confirm path: a
# warm-up, then the timed confirms at the given concurrency, each on its own session with a
# freshly sealed envelope. Stops the gateway on exit and prints a Markdown table.
#
# The gateway and the load generator share the machine's cores, and anything else running
# shows in the "other CPU" figure, so read the numbers together with it. On a virtual machine
# the host may also run someone else on our cores ("stolen by the hypervisor"), one reason
# the same binary's figures drift between runs.
#
# Usage: scripts/loadtest.sh
# Knobs (environment):
#   LOADTEST_REQUESTS=20000    timed confirms
#   LOADTEST_WARMUP=2000       confirms before the clock starts
#   LOADTEST_CONCURRENCY=64    requests in flight
#   LOADTEST_SEAL=ahead        `ahead`: all envelopes sealed before the clock; `inline`: each
#                              sealed in the timed loop (the client's HPKE then shares the cores)
#   LOADTEST_DATA_PARENT=/tmp  where the data directory is made (/dev/shm: no fsync cost)
#   LOADTEST_CEILING_ITERATIONS=20000  opens per thread for the crypto ceiling
#   PAYFRAME_LOG=info          the gateway's log filter (its default is info)
#   LOADTEST_BACKEND=sqlite    `postgres`: a fresh database on LOADTEST_POSTGRES_URL's server
#   LOADTEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test   (dropped afterwards)
#   LOADTEST_INSTANCES=1       2: two gateways on one database (PostgreSQL only) sharing one
#                              `payframe simulator` service; the load is split between them
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/loadtest-common.sh
source scripts/loadtest-common.sh

requests=${LOADTEST_REQUESTS:-20000}
warmup=${LOADTEST_WARMUP:-2000}
concurrency=${LOADTEST_CONCURRENCY:-64}
seal=${LOADTEST_SEAL:-ahead}
data_parent=${LOADTEST_DATA_PARENT:-${TMPDIR:-/tmp}}
ceiling_iterations=${LOADTEST_CEILING_ITERATIONS:-20000}
log_filter=${PAYFRAME_LOG:-info}
backend=${LOADTEST_BACKEND:-sqlite}
postgres_admin=${LOADTEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
instances=${LOADTEST_INSTANCES:-1}
if [[ $instances == 2 && $backend != postgres ]]; then
    echo "two instances need LOADTEST_BACKEND=postgres (SQLite is one process's file)" >&2
    exit 1
fi

step() { printf '\n==> %s\n' "$*" >&2; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
# The value of `key=` in a loadgen --kv output file.
kv() { sed -n "s/^$1=//p" "$2"; }

step "build (release): payframe, loadgen"
cargo build --release --locked -p payframe-server -p payframe-loadgen
bin="${CARGO_TARGET_DIR:-target}/release"

data=$(mktemp -d "$data_parent/payframe-loadtest.XXXXXX")
scratch=$(mktemp -d)
gateway_pid=""
pids=()
database=""
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ -n $database ]]; then
        psql "$postgres_admin" -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)" || true
    fi
    rm -rf "$data" "$scratch"
}
trap cleanup EXIT

if [[ $backend == postgres ]]; then
    database="payframe_loadtest_$$"
    psql "$postgres_admin" -qc "CREATE DATABASE $database"
    export DATABASE_URL="${postgres_admin%/*}/$database"
    # Each instance's pool: enough for its share of the concurrency.
    export PAYFRAME_DB_MAX_CONNECTIONS=${PAYFRAME_DB_MAX_CONNECTIONS:-16}
else
    unset DATABASE_URL
fi

step "merchant and gateway (data dir $data)"
secret_key=$(loadtest_merchant "$bin/payframe" "$data")
loadtest_rate_limits_off
processor_args=()
if [[ $instances == 2 ]]; then
    sim_port=$("$bin/loadgen" --free-port)
    "$bin/payframe" simulator --listen "127.0.0.1:$sim_port" >"$scratch/simulator.log" 2>&1 &
    pids+=($!)
    processor_args=(--test-processor-url "http://127.0.0.1:$sim_port")
fi
urls=()
for i in $(seq "$instances"); do
    port=$("$bin/loadgen" --free-port)
    url="http://127.0.0.1:$port"
    PAYFRAME_LOG=$log_filter "$bin/payframe" serve --listen "127.0.0.1:$port" --data-dir "$data" \
        --public-url "$url" "${processor_args[@]}" >"$scratch/gateway$i.log" 2>&1 &
    pids+=($!)
    urls+=("$url")
    if ! "$bin/loadgen" --url "$url" --wait-healthz 30; then
        echo "gateway $i did not become healthy; its log:" >&2
        tail -n 40 "$scratch/gateway$i.log" >&2
        exit 1
    fi
done
gateway_pid=${pids[-1]}
url=${urls[0]}

load_before=$(load)
step "crypto-only ceiling: Envelope v1 opens on 2 threads"
"$bin/loadgen" --crypto-ceiling --threads 2 --iterations "$ceiling_iterations" --kv |
    tee "$scratch/ceiling"

step "confirm path ($backend, $instances instance(s)): $warmup warm-up, then $requests confirms at concurrency $concurrency"
if [[ $instances == 1 ]]; then
    PAYFRAME_SECRET_KEY=$secret_key "$bin/loadgen" --url "$url" --requests "$requests" \
        --warmup "$warmup" --concurrency "$concurrency" --seal "$seal" \
        --gateway-pid "$gateway_pid" --kv | tee "$scratch/load"
else
    # One load generator per instance, each with half the load, started together; the
    # figures below are the first one's, and the total is the sum of both.
    for i in 1 2; do
        PAYFRAME_SECRET_KEY=$secret_key "$bin/loadgen" --url "${urls[$((i - 1))]}" \
            --requests $((requests / 2)) --warmup $((warmup / 2)) \
            --concurrency $((concurrency / 2)) --seal "$seal" \
            --gateway-pid "${pids[$i]}" --kv >"$scratch/load$i" &
        loaders[i]=$!
    done
    wait "${loaders[1]}" "${loaders[2]}"
    cp "$scratch/load1" "$scratch/load"
    cat "$scratch/load1" "$scratch/load2"
    total=$(awk -v a="$(kv throughput_rps "$scratch/load1")" -v b="$(kv throughput_rps "$scratch/load2")" \
        'BEGIN { printf "%.0f", a + b }')
    sed -i "s/^throughput_rps=.*/throughput_rps=$total/" "$scratch/load"
fi
load_after=$(load)

for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
done
pids=()
log_lines=$(cat "$scratch"/gateway*.log | wc -l)
fs_type=$(df -T "$data" | awk 'NR == 2 { print $2 }')

throughput=$(kv throughput_rps "$scratch/load")
ceiling=$(kv ceiling_opens_per_s "$scratch/ceiling")
ratio=$(awk -v t="$throughput" -v c="$ceiling" 'BEGIN { printf "%.1f %%", 100 * t / c }')
# What a confirm cost the whole machine, in µs of CPU and in opens of the ceiling; half the
# ceiling leaves a confirm two opens' worth of CPU on these cores, for everything.
cpu_per_confirm=$(awk -v b="$(kv cpu_busy "$scratch/load")" -v t="$throughput" \
    -v o="$(kv ceiling_us_per_open "$scratch/ceiling")" \
    'BEGIN { if (t > 0 && o > 0) printf "%.0f µs = %.1f opens", 1e6 * b / t, 1e6 * b / t / o; else print "n/a" }')
cat <<EOF

| figure | value |
|---|---:|
| confirms/s (timed phase: $(kv ok "$scratch/load") ok in $(kv wall_ms "$scratch/load") ms) | $throughput |
| latency p50 / p90 / p99 / max | $(kv p50_us "$scratch/load") / $(kv p90_us "$scratch/load") / $(kv p99_us "$scratch/load") / $(kv max_us "$scratch/load") µs |
| errors (by status) | $(kv errors "$scratch/load") ($(kv errors_by_status "$scratch/load")) |
| crypto-only ceiling: Envelope v1 opens/s on 2 threads | $ceiling ($(kv ceiling_us_per_open "$scratch/ceiling") µs per open per thread; $(kv ceiling_cpu_steal "$scratch/ceiling") cores stolen by the hypervisor meanwhile) |
| confirms/s ÷ ceiling | $ratio |
| machine CPU a confirm (busy ÷ confirms/s), in opens of the ceiling (half the ceiling allows 2) | $cpu_per_confirm |
| CPU in the timed phase, cores of $(kv cores "$scratch/load"): gateway / loadgen / other | $(kv cpu_gateway "$scratch/load") / $(kv cpu_loadgen "$scratch/load") / $(kv cpu_other "$scratch/load") |
| machine busy / iowait / stolen by the hypervisor (cores) | $(kv cpu_busy "$scratch/load") / $(kv cpu_iowait "$scratch/load") / $(kv cpu_steal "$scratch/load") |
| other processes, top by CPU (cores) | $(kv top_others "$scratch/load") |
| SQLite writer thread: busy share of the timed phase, writes per group commit (from /metrics) | $(kv writer_busy "$scratch/load"), $(kv writer_writes_per_commit "$scratch/load") |
| SQLite writer thread: share of the timed phase on a core / runnable but waiting for a core (its schedstat) | $(kv writer_on_cpu "$scratch/load") / $(kv writer_waiting_for_cpu "$scratch/load") |
| concurrency, sealing | $concurrency, $seal |
| backend, instances | $backend, $instances |
| data dir filesystem, PAYFRAME_LOG (gateway log lines) | $fs_type, $log_filter ($log_lines) |
| load average before → after | $load_before → $load_after |
EOF

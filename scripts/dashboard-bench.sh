#!/usr/bin/env bash
# How fast the merchant dashboard answers for a busy merchant: a release gateway on SQLite
# whose merchant has DASHBOARD_BENCH_PAYMENTS payments (default 100,000) spread over the
# last 30 days (with declines, refunds and a second merchant's payments beside them),
# signed in through the real form; then wrk (one connection, so it is latency, not a
# throughput figure) on the overview for 30 and 90 days, the payment list (all, and the
# declined ones) and the refunds.
# Needs python3 (to write the rows) and wrk (`apt-get install wrk`). BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

payments=${DASHBOARD_BENCH_PAYMENTS:-100000}
seconds=${DASHBOARD_BENCH_SECONDS:-10}
command -v wrk >/dev/null || { echo "dashboard-bench: needs wrk (apt-get install wrk)" >&2; exit 1; }

cargo build --locked --release -p payframe-server >&2
dir=$(mktemp -d)
pid=
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
export PAYFRAME_DATA_DIR=$dir PAYFRAME_LOG=warn
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port

target/release/payframe migrate >&2
json() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"; }
created=$(target/release/payframe merchant create --name "Busy shop" --origin https://shop.example --json)
other=$(target/release/payframe merchant create --name "Other shop" --origin https://other.example --json)
key=$(json secret_key <<<"$created")

echo "==> writing $payments payments of the merchant, and as many of another, over 30 days" >&2
python3 - "$dir/payframe.db" "$(json id <<<"$created")" "$(json id <<<"$other")" "$payments" <<'PY'
import random, sqlite3, sys, time
db, merchant, other, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
now = int(time.time())
rng = random.Random(7)
declines = ["insufficient_funds"] * 5 + ["do_not_honor"] * 3 + ["incorrect_cvc", "expired_card"]
conn = sqlite3.connect(db)
payments, refunds = [], []
for owner in (merchant, other):
    for i in range(n):
        created = now - 30 * 86400 + (i * 30 * 86400) // n
        amount = rng.randrange(500, 50000)
        currency = "brl" if rng.random() < 0.8 else "usd"
        roll = rng.random()
        status, captured, refunded, code = "captured", amount, 0, None
        if roll < 0.10:
            status, captured, code = "failed", 0, rng.choice(declines)
        elif roll < 0.15:
            status, captured = "authorized", 0
        elif roll < 0.17:
            status, captured = "canceled", 0
        elif roll < 0.20:
            status, refunded = "refunded", amount
        pid = f"pay_bench{owner[-6:]}{i:09d}"
        payments.append((pid, owner, "visa", "4242", 12, 2030, amount, currency, "automatic",
                         status, captured, refunded, code, 0, 1, created))
        if refunded:
            refunds.append((f"re_bench{owner[-6:]}{i:09d}", pid, refunded, "succeeded", created + 3600))
with conn:
    conn.executemany(
        "INSERT INTO payments (id, merchant_id, brand, last4, exp_month, exp_year, amount, currency,"
        " capture_method, status, amount_captured, amount_refunded, decline_code, livemode, version,"
        " created_at) VALUES (" + ", ".join("?" * 16) + ")", payments)
    conn.executemany("INSERT INTO refunds (id, payment_id, amount, status, created_at) VALUES (?, ?, ?, ?, ?)", refunds)
conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
conn.close()
PY

PAYFRAME_LISTEN=127.0.0.1:$port PAYFRAME_PUBLIC_URL=$url target/release/payframe serve &
pid=$!
for _ in $(seq 1 100); do curl -fsS "$url/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
cookie=$(curl -sS -o /dev/null -D - -H "Origin: $url" --data-urlencode "api_key=$key" "$url/dashboard/sign-in" |
    sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p')
[[ -n $cookie ]] || { echo "dashboard-bench: sign-in failed" >&2; exit 1; }

for path in "/dashboard?days=30" "/dashboard?days=90" "/dashboard/payments" "/dashboard/payments?status=failed" "/dashboard/refunds"; do
    echo "==> GET $path"
    curl -sS -o /dev/null -H "Cookie: $cookie" -w "first answer: %{http_code}, %{size_download} bytes in %{time_total} s\n" "$url$path"
    wrk -t1 -c1 -d"${seconds}s" --latency -H "Cookie: $cookie" "$url$path" | sed -n '/Latency/,/Requests\/sec/p'
done

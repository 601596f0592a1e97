#!/usr/bin/env bash
# Runs the whole system: builds the frame in release mode, starts the gateway on
# http://127.0.0.1:8080 (SQLite in ./data) and the demo shop on http://127.0.0.1:3000,
# another origin whose page embeds the frame. Creates the demo merchant on first run.
# Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh
setup_build_tools

export PAYFRAME_DATA_DIR="${PAYFRAME_DATA_DIR:-./data}"
export PAYFRAME_LISTEN="${PAYFRAME_LISTEN:-127.0.0.1:8080}"
export PAYFRAME_PUBLIC_URL="${PAYFRAME_PUBLIC_URL:-http://$PAYFRAME_LISTEN}"
shop_listen="${DEMO_SHOP_LISTEN:-127.0.0.1:3000}"
shop_origin="http://$shop_listen"

echo "==> building the frame (release) and the binaries" >&2
trunk build --release --skip-version-check
cargo build --locked --release -p payframe-server -p demo-shop

mkdir -p "$PAYFRAME_DATA_DIR"
merchant_file="$PAYFRAME_DATA_DIR/demo-merchant.json"
if [[ ! -s $merchant_file ]]; then
    echo "==> creating the demo merchant (origin $shop_origin)" >&2
    (umask 077 && target/release/payframe merchant create --name "Demo shop" \
        --origin "$shop_origin" --webhook-url "$shop_origin/webhooks" --json >"$merchant_file.tmp")
    mv "$merchant_file.tmp" "$merchant_file"
fi
secret_key=$(sed -n 's/.*"secret_key":"\([^"]*\)".*/\1/p' "$merchant_file")
webhook_secret=$(sed -n 's/.*"webhook_secret":"\([^"]*\)".*/\1/p' "$merchant_file")

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

target/release/payframe serve &
pids+=($!)
PAYFRAME_URL="$PAYFRAME_PUBLIC_URL" DEMO_SHOP_SECRET_KEY="$secret_key" \
    DEMO_SHOP_WEBHOOK_SECRET="$webhook_secret" DEMO_SHOP_LISTEN="$shop_listen" target/release/demo-shop &
pids+=($!)

for _ in $(seq 1 100); do
    curl -fsS "$PAYFRAME_PUBLIC_URL/healthz" >/dev/null 2>&1 && curl -fsS "$shop_origin/" >/dev/null 2>&1 && break
    sleep 0.1
done

cat <<MSG

  Payframe gateway   $PAYFRAME_PUBLIC_URL   (frame: $PAYFRAME_PUBLIC_URL/frame/, SDK: $PAYFRAME_PUBLIC_URL/embed.js)
  Demo shop          $shop_origin
  Merchant dashboard $PAYFRAME_PUBLIC_URL/dashboard  (sign in with the secret_key in $merchant_file)

  Open the demo shop and pay with the test card 4242 4242 4242 4242,
  any future expiry (e.g. 12 / 30) and any CVC (e.g. 123).
  Ctrl-C stops both.

MSG
wait -n "${pids[@]}"

#!/usr/bin/env bash
# Reproduces the "bytes a merchant page loads for a card form" comparison in BENCHMARKS.md:
# bundles (esbuild, minified) what a merchant page imports from braintree-web (client +
# hosted-fields) and @adyen/adyen-web (AdyenCheckout + Card, plus its CSS), from npm, and
# prints raw / gzip -9 / brotli -q 11 beside Payframe's embed.js and frame (scripts/sizes.sh).
# The providers' own iframe contents come from their servers and cannot be measured here.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
braintree=${BRAINTREE_WEB_VERSION:-3.144.0}
adyen=${ADYEN_WEB_VERSION:-6.45.2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
command -v brotli >/dev/null || { echo "needs brotli (apt-get install brotli)" >&2; exit 1; }
(cd "$work" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund \
    esbuild "braintree-web@$braintree" "@adyen/adyen-web@$adyen" >/dev/null 2>&1)
cat >"$work/bt.js" <<'JS'
import client from 'braintree-web/client';
import hostedFields from 'braintree-web/hosted-fields';
window.bt = { client, hostedFields };
JS
cat >"$work/ad.js" <<'JS'
import { AdyenCheckout, Card } from '@adyen/adyen-web';
window.ad = { AdyenCheckout, Card };
JS
for entry in bt ad; do
    (cd "$work" && npx esbuild "$entry.js" --bundle --minify --format=iife --outfile="$entry.min.js" --log-level=warning)
done
cp "$work/node_modules/@adyen/adyen-web/dist/es/adyen.css" "$work/ad.css"
row() { printf '| %s | %s | %s | %s |\n' "$1" "$(wc -c <"$2")" "$(gzip -9c "$2" | wc -c)" "$(brotli -q 11 -c "$2" | wc -c)"; }
echo "| what the merchant page loads | raw | gzip -9 | brotli -q 11 |"
echo "|---|---:|---:|---:|"
row "braintree-web $braintree: client + hosted-fields (JS)" "$work/bt.min.js"
row "@adyen/adyen-web $adyen: AdyenCheckout + Card (JS)" "$work/ad.min.js"
row "@adyen/adyen-web $adyen: adyen.css" "$work/ad.css"
row "Payframe embed.js" public/embed.js

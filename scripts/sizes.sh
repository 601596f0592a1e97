#!/usr/bin/env bash
# Reproduces the size table of BENCHMARKS.md: builds the frame in release mode and prints
# the raw, gzip (-9) and brotli (-q 11) sizes of each file the frame loads, and of embed.js.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh
setup_build_tools
command -v brotli >/dev/null || _setup_apt_install brotli
trunk build --release --skip-version-check >&2

row() { # name file
    printf '| %s | %s | %s | %s |\n' "$1" "$(wc -c <"$2")" "$(gzip -9c "$2" | wc -c)" "$(brotli -q 11 -c "$2" | wc -c)"
}
total=(0 0 0)
echo "| file | raw bytes | gzip -9 | brotli -q 11 |"
echo "|---|---:|---:|---:|"
for f in dist/index.html dist/*.js dist/*.wasm dist/*.css; do
    row "frame: ${f#dist/}" "$f"
    total[0]=$((total[0] + $(wc -c <"$f")))
    total[1]=$((total[1] + $(gzip -9c "$f" | wc -c)))
    total[2]=$((total[2] + $(brotli -q 11 -c "$f" | wc -c)))
done
printf '| **frame total** | **%s** | **%s** | **%s** |\n' "${total[@]}"
row "embed.js" public/embed.js

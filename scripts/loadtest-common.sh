#!/usr/bin/env bash
# Sourced by scripts/loadtest.sh and scripts/confirm-instructions.sh: what every
# confirm-path measurement sets up before it starts its gateway.

# Creates a test merchant in data directory $2 with the gateway binary $1 and prints its
# secret key, and nothing else of what `merchant create` printed.
loadtest_merchant() {
    local merchant key
    merchant=$("$1" merchant create --data-dir "$2" --name loadtest \
        --origin https://shop.example --json)
    key=$(printf '%s\n' "$merchant" | sed -n 's/.*"secret_key":"\([^"]*\)".*/\1/p')
    if [[ -z $key ]]; then
        echo "payframe merchant create printed no secret key" >&2
        return 1
    fi
    printf '%s\n' "$key"
}

# One client address and one test card drive every confirm: the card-testing limits would
# (rightly) refuse almost all of them, so they are off for the measurement.
loadtest_rate_limits_off() {
    export PAYFRAME_RATE_LIMIT_FRAME_IP=0 PAYFRAME_RATE_LIMIT_CONFIRM_IP=0 \
        PAYFRAME_RATE_LIMIT_CONFIRM_SESSION=0 PAYFRAME_RATE_LIMIT_CARD=0 \
        PAYFRAME_RATE_LIMIT_API_KEY=0
}

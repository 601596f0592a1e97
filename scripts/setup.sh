# shellcheck shell=bash
#
# scripts/setup.sh: installs the machine-level tools Payframe needs and skips
# whatever is already in place, so a second run takes seconds.
#
# This file owns:
#   setup_build_tools  the wasm32 Rust target, Trunk, wasm-bindgen-cli and
#                      wasm-opt, everything needed to build the frame;
#   setup_test_tools   the above plus Chromium, ChromeDriver, axe-core, promtool and a
#                      PostgreSQL database for the tests.
# Pinned versions come from tools.versions at the repo root; the wasm-bindgen
# version comes from Cargo.lock.
#
# Meant to be sourced, so that the PATH and the variables it exports reach the
# caller:
#     source scripts/setup.sh
#     setup_test_tools
# Running it as `bash scripts/setup.sh [function...]` also works, but then
# only the installs remain, not the exports.
#
# The functions return non-zero after a "setup: ERROR: ..." line instead of
# calling exit, so a shell that sourced this file interactively survives while
# a caller under `set -e` still stops. Nothing here relies on `set -e`, since
# bash ignores it inside a function that is called from an `if` or `||`.

_setup_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

_setup_log() { printf 'setup: %s\n' "$*" >&2; }

_setup_fail() {
    printf 'setup: ERROR: %s\n' "$*" >&2
    return 1
}

# Reads one KEY=value line of tools.versions without sourcing the file, so
# that its keys do not leak into the caller's shell.
_setup_pin() {
    local key=$1 file="$_setup_root/tools.versions" value
    [[ -r $file ]] || { _setup_fail "cannot read $file"; return 1; }
    value=$(sed -n "s/^[[:space:]]*$key=//p" "$file" | tail -n 1 | tr -d "\"'[:space:]")
    [[ -n $value ]] || { _setup_fail "$key is not set in $file"; return 1; }
    printf '%s\n' "$value"
}

_setup_as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        _setup_fail "need root (or sudo) to run: $*"
    fi
}

# Long installs write to a log file so that progress on stderr stays one line
# per step; on failure the end of the log is shown, since that is where the
# reason is.
_setup_run_logged() {
    local name=$1 logdir log
    shift
    logdir="${PAYFRAME_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/payframe-tools}/logs"
    mkdir -p "$logdir" || { _setup_fail "cannot create $logdir"; return 1; }
    log="$logdir/$name.log"
    # Without backtraces, the tail of a failed rustup or cargo run shows
    # the error message itself.
    if (export RUST_BACKTRACE=0 && "$@") >"$log" 2>&1; then
        return 0
    fi
    printf '%s\n' "setup: --- last lines of $log ---" >&2
    tail -n 30 "$log" >&2
    _setup_fail "'$*' failed (full log: $log)"
}

_setup_apt_updated=
_setup_apt_install() {
    command -v apt-get >/dev/null 2>&1 ||
        { _setup_fail "apt-get not found; install these by hand: $*"; return 1; }
    # A fresh machine's package lists may be empty or stale, so update once
    # per shell before the first install.
    if [[ -z $_setup_apt_updated ]]; then
        _setup_run_logged apt-update _setup_as_root apt-get update || return 1
        _setup_apt_updated=1
    fi
    # The lock timeout makes a concurrent apt/dpkg run a wait, not a failure.
    _setup_run_logged apt-install _setup_as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get -o DPkg::Lock::Timeout=600 install -y "$@" ||
        { _setup_fail "apt-get install $* failed"; return 1; }
}

# Puts a directory first on PATH (unless it already is first).
_setup_path_prepend() {
    case ":$PATH:" in
        ":$1:"*) ;;
        *) PATH="$1:$PATH" ;;
    esac
    export PATH
    # bash remembers where it found each command; forget, so the new
    # directory wins for commands already run in this shell.
    hash -r
}

# --- build tools -------------------------------------------------------------

_setup_rust_target() {
    local installed
    command -v rustup >/dev/null 2>&1 ||
        { _setup_fail "rustup not found: this machine has no Rust toolchain manager"; return 1; }
    # Ask from the repo root so that rustup answers for the toolchain pinned
    # in rust-toolchain.toml, not for the user's default one.
    if ! installed=$(cd "$_setup_root" && rustup target list --installed 2>/dev/null); then
        # rustup does not fetch a missing pinned toolchain by itself when
        # RUSTUP_AUTO_INSTALL=0, and then every cargo command in the repo fails.
        _setup_log "installing the Rust toolchain pinned by rust-toolchain.toml"
        (cd "$_setup_root" && _setup_run_logged rustup-toolchain rustup toolchain install) ||
            { _setup_fail "the toolchain pinned in $_setup_root/rust-toolchain.toml is not installed and could not be installed (installed: $(rustup toolchain list | paste -sd ';' -))"; return 1; }
        installed=$(cd "$_setup_root" && rustup target list --installed) ||
            { _setup_fail "rustup target list failed in $_setup_root"; return 1; }
    fi
    if grep -qx 'wasm32-unknown-unknown' <<<"$installed"; then
        _setup_log "rust target wasm32-unknown-unknown present"
        return 0
    fi
    _setup_log "installing rust target wasm32-unknown-unknown"
    (cd "$_setup_root" && _setup_run_logged rustup-target rustup target add wasm32-unknown-unknown) || return 1
}

# Runs `cargo install` from / so that no rust-toolchain.toml or
# .cargo/config.toml of a project (a wasm32 build target, say) applies to the
# host tools; they build with the machine's default toolchain.
_setup_cargo_install() {
    local name=$1
    shift
    (cd / && _setup_run_logged "cargo-install-$name" cargo install "$@") || return 1
    hash -r
}

_setup_trunk() {
    local want have
    want=$(_setup_pin TRUNK_VERSION) || return 1
    have=$(trunk --version 2>/dev/null || true)
    if [[ $have == "trunk $want" ]]; then
        _setup_log "trunk $want present"
        return 0
    fi
    _setup_log "installing trunk $want with cargo (about 8 minutes on 2 cores; found: ${have:-none})"
    # --force because cargo skips a version it has on record even when the
    # binary was removed or broken since.
    _setup_cargo_install trunk --locked --force trunk --version "$want" || return 1
    have=$(trunk --version 2>/dev/null || true)
    [[ $have == "trunk $want" ]] ||
        { _setup_fail "trunk on PATH ($(command -v trunk || echo none)) reports '${have:-nothing}', expected 'trunk $want'"; return 1; }
    _setup_log "trunk $want installed"
}

# Prints the version of the wasm-bindgen package recorded in Cargo.lock.
_setup_lock_wasm_bindgen() {
    local lock="$_setup_root/Cargo.lock" versions count
    [[ -r $lock ]] ||
        { _setup_fail "$lock not found: the wasm-bindgen-cli version is read from it (run 'cargo generate-lockfile' first)"; return 1; }
    versions=$(awk '
        /^\[\[package\]\]/ { name = ""; next }
        /^name = /         { name = $3; gsub(/"/, "", name) }
        /^version = / && name == "wasm-bindgen" { v = $3; gsub(/"/, "", v); print v }
    ' "$lock")
    count=$(grep -c . <<<"$versions" || true)
    [[ $count -eq 1 ]] ||
        { _setup_fail "expected one wasm-bindgen package in $lock, found $count${versions:+: $(tr '\n' ' ' <<<"$versions")}"; return 1; }
    printf '%s\n' "$versions"
}

_setup_wasm_bindgen() {
    local want have runner
    want=$(_setup_lock_wasm_bindgen) || return 1
    have=$(wasm-bindgen --version 2>/dev/null || true)
    runner=$(wasm-bindgen-test-runner --version 2>/dev/null || true)
    # The CLI must match the library in Cargo.lock exactly: wasm-bindgen
    # refuses to process a module built with a different library version.
    if [[ $have == "wasm-bindgen $want" && $runner == "wasm-bindgen-test-runner $want" ]]; then
        _setup_log "wasm-bindgen-cli $want present"
    else
        _setup_log "installing wasm-bindgen-cli $want with cargo (a few minutes; found: ${have:-none})"
        # No --locked: the crate's own lock file pins a crate that the
        # registry no longer has.
        _setup_cargo_install wasm-bindgen-cli --force wasm-bindgen-cli --version "$want" || return 1
        have=$(wasm-bindgen --version 2>/dev/null || true)
        runner=$(wasm-bindgen-test-runner --version 2>/dev/null || true)
        [[ $have == "wasm-bindgen $want" && $runner == "wasm-bindgen-test-runner $want" ]] ||
            { _setup_fail "after installing wasm-bindgen-cli $want, PATH gives '${have:-no wasm-bindgen}' and '${runner:-no wasm-bindgen-test-runner}' ($(command -v wasm-bindgen || echo none))"; return 1; }
        _setup_log "wasm-bindgen-cli $want installed"
    fi
    export PAYFRAME_WASM_BINDGEN_VERSION=$want
}

_setup_wasm_opt() {
    local want dir bin found have tmp
    want=$(_setup_pin BINARYEN_NPM_VERSION) || return 1
    # Binaryen comes from npm, not Debian: Debian's binaryen (108) emits a
    # broken module for this frame, and npm serves the pinned version.
    dir="$PAYFRAME_TOOLS/binaryen-$want"
    bin="$dir/node_modules/.bin"
    if [[ -x $bin/wasm-opt ]]; then
        _setup_log "binaryen $want present in $dir"
    else
        if ! command -v npm >/dev/null 2>&1; then
            _setup_log "installing nodejs and npm with apt (npm fetches binaryen)"
            _setup_apt_install nodejs npm || return 1
        fi
        _setup_log "installing binaryen@$want from npm into $dir"
        mkdir -p "$dir" || { _setup_fail "cannot create $dir"; return 1; }
        (cd "$dir" && _setup_run_logged "npm-binaryen-$want" npm install --prefix "$dir" \
            --no-audit --no-fund "binaryen@$want") || return 1
        [[ -x $bin/wasm-opt ]] ||
            { _setup_fail "npm package binaryen@$want did not provide $bin/wasm-opt"; return 1; }
    fi
    # In front of everything, so that a /usr/bin/wasm-opt cannot win.
    _setup_path_prepend "$bin"
    found=$(command -v wasm-opt || true)
    [[ $found == "$bin/wasm-opt" ]] ||
        { _setup_fail "wasm-opt on PATH is '${found:-none}', expected $bin/wasm-opt"; return 1; }
    have=$(wasm-opt --version 2>&1 || true)
    [[ $have == "wasm-opt version $want "* ]] ||
        { _setup_fail "$bin/wasm-opt reports '${have:-nothing}', expected version $want (is node working? delete $dir to reinstall)"; return 1; }
    # The version line alone does not prove the JS build runs on this node,
    # so optimise an empty module too.
    tmp=$(mktemp -d) || { _setup_fail "mktemp failed"; return 1; }
    printf '\0asm\1\0\0\0' >"$tmp/in.wasm"
    if ! wasm-opt -Oz "$tmp/in.wasm" -o "$tmp/out.wasm" >"$tmp/log" 2>&1 || [[ ! -s $tmp/out.wasm ]]; then
        cat "$tmp/log" >&2
        rm -rf "$tmp"
        _setup_fail "$bin/wasm-opt failed to optimise an empty module"
        return 1
    fi
    rm -rf "$tmp"
    _setup_log "wasm-opt reports: $have"
    # Trunk compares this with the second word of `wasm-opt --version`.
    export PAYFRAME_WASM_OPT_VERSION="version_$want"
}

# axe-core (npm) for the accessibility checks the end-to-end tests run inside the frame.
_setup_axe() {
    local want dir file
    want=$(_setup_pin AXE_CORE_NPM_VERSION) || return 1
    dir="$PAYFRAME_TOOLS/axe-core-$want"
    file="$dir/node_modules/axe-core/axe.min.js"
    if [[ -s $file ]]; then
        _setup_log "axe-core $want present in $dir"
    else
        command -v npm >/dev/null 2>&1 || _setup_apt_install nodejs npm || return 1
        _setup_log "installing axe-core@$want from npm into $dir"
        mkdir -p "$dir" || { _setup_fail "cannot create $dir"; return 1; }
        (cd "$dir" && _setup_run_logged "npm-axe-core-$want" npm install --prefix "$dir" \
            --no-audit --no-fund "axe-core@$want") || return 1
        [[ -s $file ]] || { _setup_fail "npm package axe-core@$want did not provide $file"; return 1; }
    fi
    export PAYFRAME_AXE_JS=$file
}

# promtool, which unit-tests the shipped Prometheus alert rules (ops/prometheus). Taken
# out of Debian's prometheus package without installing it: installing would also set up
# a Prometheus server as a service, which the tests do not want running.
_setup_promtool() {
    local dir="$PAYFRAME_TOOLS/promtool" bin deb
    bin="$dir/usr/bin/promtool"
    if [[ -x $bin ]] && "$bin" --version >/dev/null 2>&1; then
        _setup_log "promtool present in $dir"
    else
        command -v apt-get >/dev/null 2>&1 ||
            { _setup_fail "apt-get not found; install promtool and set PAYFRAME_PROMTOOL"; return 1; }
        _setup_log "fetching Debian's prometheus package for its promtool (not installed) into $dir"
        rm -rf "$dir" && mkdir -p "$dir/download" || { _setup_fail "cannot create $dir"; return 1; }
        if ! (cd "$dir/download" && _setup_run_logged apt-download-prometheus apt-get download prometheus); then
            # The package lists may be missing or stale on a fresh machine.
            _setup_run_logged apt-update _setup_as_root apt-get update || return 1
            (cd "$dir/download" && _setup_run_logged apt-download-prometheus apt-get download prometheus) || return 1
        fi
        deb=$(ls "$dir"/download/prometheus_*.deb 2>/dev/null | head -n 1)
        [[ -n $deb ]] || { _setup_fail "apt-get download prometheus left no .deb in $dir/download"; return 1; }
        dpkg-deb -x "$deb" "$dir" || { _setup_fail "cannot unpack $deb"; return 1; }
        rm -rf "$dir/download"
        "$bin" --version >/dev/null 2>&1 || { _setup_fail "$bin does not run"; return 1; }
    fi
    export PAYFRAME_PROMTOOL=$bin
}

setup_build_tools() {
    export PAYFRAME_TOOLS="${PAYFRAME_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/payframe-tools}"
    mkdir -p "$PAYFRAME_TOOLS" || { _setup_fail "cannot create $PAYFRAME_TOOLS"; return 1; }
    # cargo install puts binaries here; a fresh non-login shell may lack it.
    local cargo_bin=${CARGO_HOME:-$HOME/.cargo}/bin
    if [[ -d $cargo_bin && :$PATH: != *":$cargo_bin:"* ]]; then
        _setup_path_prepend "$cargo_bin"
    fi
    command -v cargo >/dev/null 2>&1 || { _setup_fail "cargo not found on PATH"; return 1; }
    _setup_rust_target || return 1
    # Before Trunk, so that a missing Cargo.lock fails fast rather than
    # after an eight-minute build.
    _setup_wasm_bindgen || return 1
    _setup_trunk || return 1
    _setup_wasm_opt || return 1
}

# --- test tools --------------------------------------------------------------

_setup_browser() {
    local chromium=${PAYFRAME_CHROMIUM:-/usr/bin/chromium}
    local driver=${CHROMEDRIVER:-/usr/bin/chromedriver}
    # A path chosen by the caller is theirs to provide; apt cannot help.
    if [[ -n ${PAYFRAME_CHROMIUM:-} && ! -x $chromium ]]; then
        _setup_fail "PAYFRAME_CHROMIUM=$chromium is not an executable"
        return 1
    fi
    if [[ -n ${CHROMEDRIVER:-} && ! -x $driver ]]; then
        _setup_fail "CHROMEDRIVER=$driver is not an executable"
        return 1
    fi
    if [[ -x $chromium && -x $driver ]]; then
        _setup_log "chromium and chromedriver present"
    else
        # Debian's pair, because a browser download from elsewhere cannot be
        # fetched here and the two versions must match.
        _setup_log "installing chromium and chromium-driver with apt"
        _setup_apt_install chromium chromium-driver || return 1
        [[ -x $chromium && -x $driver ]] ||
            { _setup_fail "apt installed chromium and chromium-driver, yet $chromium or $driver is missing"; return 1; }
    fi
    # The frame speaks Simplified Chinese; without a CJK font its screenshots show boxes.
    if ! fc-list 2>/dev/null | grep -qi 'wenquanyi\|noto sans cjk'; then
        _setup_log "installing a CJK font (fonts-wqy-microhei) with apt"
        _setup_apt_install fonts-wqy-microhei || return 1
    fi
    export PAYFRAME_CHROMIUM=$chromium CHROMEDRIVER=$driver
}

# Shows a database URL without its password.
_setup_redact_url() { sed -E 's#(://[^:/@]*):[^@]*@#\1:***@#' <<<"$1"; }

_setup_wait_pg() {
    local i
    for ((i = 0; i < 150; i++)); do
        pg_isready -q "$@" && return 0
        sleep 0.2
    done
    return 1
}

_setup_as_postgres() {
    # cd / because psql complains when it cannot enter root's home directory.
    if [[ $(id -u) -eq 0 ]]; then
        (cd / && runuser -u postgres -- "$@")
    elif command -v sudo >/dev/null 2>&1; then
        (cd / && sudo -u postgres "$@")
    else
        _setup_fail "need root (or sudo) to act as the postgres user"
    fi
}

# Runs SQL as the superuser: over TCP where trust already allows it,
# otherwise through the local socket as the postgres OS user (Debian's
# default peer rule).
_setup_pg_admin_sql() {
    psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -w -Atqc "$1" 2>/dev/null ||
        _setup_as_postgres psql -p 5432 -d postgres -Atqc "$1"
}

# Prints "version name" of the cluster on port 5432, creating one if there is
# no cluster at all.
_setup_pg_cluster() {
    local cluster ver
    cluster=$(pg_lsclusters -h 2>/dev/null | awk '$3 == 5432 { print $1, $2; exit }' || true)
    if [[ -z $cluster ]]; then
        if [[ -n $(pg_lsclusters -h 2>/dev/null) ]]; then
            _setup_fail "PostgreSQL clusters exist but none on port 5432 (see pg_lsclusters); set PAYFRAME_TEST_DATABASE_URL"
            return 1
        fi
        ver=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -V | tail -n 1 || true)
        [[ -n $ver ]] || { _setup_fail "no PostgreSQL server under /usr/lib/postgresql"; return 1; }
        _setup_log "creating PostgreSQL cluster $ver main on port 5432"
        _setup_run_logged pg-createcluster _setup_as_root pg_createcluster --port 5432 "$ver" main || return 1
        cluster="$ver main"
    fi
    printf '%s\n' "$cluster"
}

_setup_postgres() {
    local url=postgres://postgres@127.0.0.1:5432/test cluster ver name hba rule i
    if [[ -n ${PAYFRAME_TEST_DATABASE_URL:-} ]]; then
        url=$PAYFRAME_TEST_DATABASE_URL
        command -v psql >/dev/null 2>&1 || _setup_apt_install postgresql-client || return 1
        if ! _setup_wait_pg -d "$url" || ! psql "$url" -w -Atqc 'select 1' >/dev/null; then
            _setup_fail "PAYFRAME_TEST_DATABASE_URL ($(_setup_redact_url "$url")) does not answer"
            return 1
        fi
        _setup_log "postgres at $(_setup_redact_url "$url") (from PAYFRAME_TEST_DATABASE_URL) answers"
        export PAYFRAME_TEST_DATABASE_URL
        return 0
    fi

    if psql "$url" -w -Atqc 'select 1' >/dev/null 2>&1; then
        _setup_log "postgres at $url present"
        export PAYFRAME_TEST_DATABASE_URL=$url
        return 0
    fi

    if ! command -v pg_ctlcluster >/dev/null 2>&1 || [[ ! -d /usr/lib/postgresql ]]; then
        _setup_log "installing postgresql with apt"
        _setup_apt_install postgresql || return 1
    fi
    cluster=$(_setup_pg_cluster) || return 1
    read -r ver name <<<"$cluster"

    # A cluster that is already online may just be starting up (apt's
    # postinst starts it), so only an offline one is started.
    if ! pg_isready -q -h 127.0.0.1 -p 5432 &&
        ! pg_lsclusters -h 2>/dev/null | awk -v v="$ver" -v n="$name" \
            '$1 == v && $2 == n && $4 == "online" { up = 1 } END { exit !up }'; then
        _setup_log "starting PostgreSQL cluster $ver $name"
        # Containers have no systemd, hence --skip-systemctl-redirect.
        _setup_run_logged pg-start _setup_as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start ||
            { _setup_fail "could not start cluster $ver $name (see /var/log/postgresql/postgresql-$ver-$name.log)"; return 1; }
    fi
    _setup_wait_pg -h 127.0.0.1 -p 5432 ||
        { _setup_fail "cluster $ver $name does not accept connections on 127.0.0.1:5432 after 30 s (is it running? does listen_addresses in /etc/postgresql/$ver/$name/postgresql.conf include localhost?)"; return 1; }

    if [[ $(_setup_pg_admin_sql "select 1 from pg_database where datname = 'test'") != 1 ]]; then
        _setup_log "creating database test"
        _setup_pg_admin_sql 'create database test' >/dev/null ||
            { _setup_fail "could not create database test"; return 1; }
    fi

    if ! psql "$url" -w -Atqc 'select 1' >/dev/null 2>&1; then
        # Debian's pg_hba.conf asks for a scram password on TCP. This is a
        # throwaway test server, so trust the postgres user on loopback for
        # the test database only; the line goes first because the first
        # matching rule wins.
        hba=$(_setup_as_postgres psql -p 5432 -d postgres -Atqc 'show hba_file') ||
            { _setup_fail "could not find pg_hba.conf of cluster $ver $name"; return 1; }
        rule='host    test    postgres    127.0.0.1/32    trust'
        # Once only: if the rule is there and login still fails, another
        # copy would not help, and the error below says so.
        if ! _setup_as_root grep -qxF "$rule" "$hba"; then
            _setup_log "adding a trust rule for postgres@127.0.0.1 on database test to $hba"
            _setup_as_root sed -i "1i # Added by Payframe scripts/setup.sh: test-only server, password-less TCP login for the tests.\\n$rule" "$hba" ||
                { _setup_fail "could not edit $hba"; return 1; }
        fi
        _setup_run_logged pg-reload _setup_as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" reload || return 1
        # The server rereads pg_hba.conf asynchronously after the signal.
        for ((i = 0; i < 50; i++)); do
            psql "$url" -w -Atqc 'select 1' >/dev/null 2>&1 && break
            sleep 0.2
        done
        psql "$url" -w -Atqc 'select 1' >/dev/null ||
            { _setup_fail "cannot connect to $url even after adding the trust rule to $hba"; return 1; }
    fi
    _setup_log "postgres at $url ready"
    export PAYFRAME_TEST_DATABASE_URL=$url
}

setup_test_tools() {
    setup_build_tools || return 1
    _setup_browser || return 1
    _setup_axe || return 1
    _setup_promtool || return 1
    _setup_postgres || return 1
}

# Executed rather than sourced: run the named functions (default: all).
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -euo pipefail
    if [[ $# -eq 0 ]]; then
        set -- setup_test_tools
    fi
    for _setup_fn in "$@"; do
        case $_setup_fn in
            setup_build_tools | setup_test_tools) "$_setup_fn" ;;
            *) _setup_fail "unknown function '$_setup_fn' (expected setup_build_tools or setup_test_tools)"; exit 2 ;;
        esac
    done
fi

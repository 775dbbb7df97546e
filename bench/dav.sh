#!/usr/bin/env bash
# WebDAV benchmark: shelf against Apache httpd with mod_dav_fs on 127.0.0.1, listing the same
# 1,000-entry folder with PROPFIND (Depth: 1, allprop), as a mounted drive does. One command:
#
#   bench/dav.sh                       # ROUNDS=3 DURATION=5s CONNS=16
#   ROUNDS=1 DURATION=2s bench/dav.sh  # quick smoke run
#
# Both servers must answer the request with 207 and a multistatus of ENTRIES + 1 responses;
# a server that does not is not measured, the table says why, and the script exits 1.
# See bench/README.md ("PROPFIND against Apache") for what is measured and how to read it.
set -euo pipefail

# ---------------------------------------------------------------------------- knobs

ROUNDS=${ROUNDS:-3}             # interleaved rounds (shelf, apache, shelf, apache, ...)
DURATION=${DURATION:-5s}        # wrk -d of one measurement
THREADS=${THREADS:-2}           # wrk -t: the machine this was written for has 2 cores
CONNS=${CONNS:-16}              # wrk -c
ENTRIES=${ENTRIES:-1000}        # entries of the listed folder
WRK_TIMEOUT=${WRK_TIMEOUT:-10s} # wrk --timeout
KEEP_WORK=${KEEP_WORK:-0}       # 1: keep the temp dir (configs, logs, wrk output, answers)

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export BENCH_DIR                # bench/propfind.lua loads report.lua from there
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
HELPER=(python3 "$BENCH_DIR/bench.py")
RESULTS_FILE="$BENCH_DIR/results-dav-latest.txt"
FOLDER=/dav1000/                # the listed folder's URL path (trailing slash: no redirect)

WORK=""
LOAD_AT_START=""
APACHE_PID=""
SHELF_PID=""
APACHE_BIN=""
SHELF_BIN=""
declare -A PORT=()              # server name -> port
declare -A FAILED=()            # server name -> why it is not measured

log() { printf '[bench/dav] %s\n' "$*" >&2; }
die() {
    printf '[bench/dav] error: %s\n' "$*" >&2
    exit 1
}
warn() {
    log "warning: $*"
    [[ -n $WORK ]] && echo "$*" >>"$WORK/warnings.txt"
    return 0
}

# ---------------------------------------------------------------------------- clean-up

# Stop one process by PID: TERM, a moment, then KILL. Never by name, so a developer's own
# Apache (or another shelf) on this machine is left alone.
stop_pid() {
    local pid=$1
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    # Apache's parent takes its children down with it on TERM.
    stop_pid "$APACHE_PID"
    stop_pid "$SHELF_PID"
    wait 2>/dev/null || true
    if [[ -n $WORK && -d $WORK ]]; then
        if [[ $KEEP_WORK == 1 || $rc != 0 ]]; then
            log "work dir kept: $WORK"
        else
            rm -rf "$WORK"
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------- setup

# apache2 lives in /usr/sbin, which is not on every user's PATH.
find_apache() {
    command -v apache2 2>/dev/null || { [[ -x /usr/sbin/apache2 ]] && echo /usr/sbin/apache2; } || true
}

# Debian's module folder (the apache2 package's); other layouts are not supported here.
MODULES=/usr/lib/apache2/modules

# CI machines start fresh: install what is missing, and only then touch apt-get.
install_tools() {
    local missing=()
    [[ -n $(find_apache) && -f $MODULES/mod_dav_fs.so ]] || missing+=(apache2)
    command -v wrk >/dev/null || missing+=(wrk)
    command -v curl >/dev/null || missing+=(curl)
    if ((${#missing[@]})); then
        log "installing ${missing[*]} with apt-get"
        local sudo=()
        if [[ $(id -u) != 0 ]]; then
            command -v sudo >/dev/null || die "${missing[*]} missing and not root (no sudo): install them first"
            sudo=(sudo)
        fi
        command -v apt-get >/dev/null || die "${missing[*]} missing and no apt-get here: install them first"
        # policy-rc.d in Docker images keeps the packaged apache2 service from starting;
        # elsewhere it may start on port 80, which this benchmark neither uses nor stops.
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null \
            || die "apt-get update failed: install ${missing[*]} by hand"
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null \
            || die "apt-get install ${missing[*]} failed: install them by hand"
    fi
    APACHE_BIN=$(find_apache)
    [[ -n $APACHE_BIN ]] || die "apache2 still not found after installing"
    [[ -f $MODULES/mod_dav_fs.so ]] || die "no $MODULES/mod_dav_fs.so (Debian's apache2 package has it)"
    command -v wrk >/dev/null || die "wrk still not found after installing"
    command -v python3 >/dev/null || die "python3 is needed for bench/bench.py"
    command -v cargo >/dev/null || die "cargo is needed to build shelf"
}

# Build shelf in release and locate the binary where cargo really put it.
build_shelf() {
    log "building shelf (cargo build --release)"
    (cd "$REPO_ROOT" && cargo build --release --quiet) || die "cargo build --release failed"
    local target
    target=$(cd "$REPO_ROOT" && cargo metadata --format-version 1 --no-deps | "${HELPER[@]}" target-dir)
    SHELF_BIN="$target/release/shelf"
    [[ -x $SHELF_BIN ]] || die "no shelf binary at $SHELF_BIN"
}

make_fixtures() {
    log "making a folder of $ENTRIES entries in $WORK/root$FOLDER"
    "${HELPER[@]}" dav-fixtures "$WORK/root$FOLDER" "$ENTRIES"
    # Apache started as root serves as www-data: the tree must be readable by others.
    chmod -R a+rX "$WORK"
}

free_port() { "${HELPER[@]}" free-port; }

# Wait until a server answers anything on its port (it is up) or its process died.
wait_ready() {
    local name=$1 pid=$2 port=$3
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || die "$name exited at start (see $WORK/$name.log)"
        curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/" && return 0
        sleep 0.1
    done
    die "$name did not answer on 127.0.0.1:$port within 10 s (see $WORK/$name.log)"
}

# Apache as a WebDAV server is configured like this in the wild: mpm_event, mod_dav +
# mod_dav_fs on the folder, mod_mime for getcontenttype, no access log (as shelf here), stock
# MPM sizes, keep-alive without a request limit (as shelf).
start_apache() {
    PORT[apache]=$(free_port)
    mkdir -p "$WORK/apache/lock" "$WORK/apache/run"
    local user=""
    if [[ $(id -u) == 0 ]]; then
        # Apache refuses to serve as root: its children become www-data, which must be able
        # to write the lock database.
        user=$'User www-data\nGroup www-data'
        chown www-data "$WORK/apache/lock"
    fi
    cat >"$WORK/apache/httpd.conf" <<EOF
ServerRoot $WORK/apache
ServerName localhost
Listen 127.0.0.1:${PORT[apache]}
PidFile $WORK/apache/run/httpd.pid
DefaultRuntimeDir $WORK/apache/run
ErrorLog $WORK/apache/error.log
LogLevel warn
$user

LoadModule mpm_event_module $MODULES/mod_mpm_event.so
LoadModule authz_core_module $MODULES/mod_authz_core.so
LoadModule mime_module $MODULES/mod_mime.so
LoadModule dav_module $MODULES/mod_dav.so
LoadModule dav_fs_module $MODULES/mod_dav_fs.so

TypesConfig /etc/mime.types
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 60

DocumentRoot $WORK/root
DavLockDB $WORK/apache/lock/DavLock
<Directory $WORK/root>
    Dav On
    AllowOverride None
    Require all granted
</Directory>
EOF
    "$APACHE_BIN" -f "$WORK/apache/httpd.conf" -DFOREGROUND >"$WORK/apache.log" 2>&1 &
    APACHE_PID=$!
    wait_ready apache "$APACHE_PID" "${PORT[apache]}"
    log "$("$APACHE_BIN" -v | sed -n 's/^Server version: //p') pid $APACHE_PID on 127.0.0.1:${PORT[apache]}"
}

start_shelf() {
    PORT[shelf]=$(free_port)
    mkdir -p "$WORK/shelf"
    # PROPFIND is a read: no [[acl]] rule and no user are needed for it.
    cat >"$WORK/shelf/config.toml" <<EOF
[server]
listen = "127.0.0.1:${PORT[shelf]}"
root = "$WORK/root"
keep_alive_s = 60

[webdav]
enabled = true

[log]
access = false
level = "warn"
EOF
    "$SHELF_BIN" --config "$WORK/shelf/config.toml" >"$WORK/shelf.log" 2>&1 &
    SHELF_PID=$!
    wait_ready shelf "$SHELF_PID" "${PORT[shelf]}"
    log "shelf $(git -C "$REPO_ROOT" rev-parse --short HEAD) pid $SHELF_PID on 127.0.0.1:${PORT[shelf]}"
}

# ---------------------------------------------------------------------------- measuring

# Send the benchmark's request once with curl and check the answer: 207, a well-formed
# multistatus with one response per entry plus the folder, each href once. A server that
# answers otherwise goes into FAILED with the reason, and is not measured.
check_answer() {
    local server=$1
    local body="$WORK/probe-$server.xml" status counts responses hrefs bytes
    local want=$((ENTRIES + 1))
    status=$(curl -s -o "$body" -w '%{http_code}' --max-time 30 -X PROPFIND -H 'Depth: 1' \
        -H 'Content-Type: application/xml; charset="utf-8"' --data-binary @"$WORK/propfind.xml" \
        "http://127.0.0.1:${PORT[$server]}$FOLDER") || status=000
    if [[ $status != 207 ]]; then
        local reason
        reason=$(status_text "$status")
        FAILED[$server]="answered $status$reason, not 207"
        warn "$server answered $status$reason to PROPFIND $FOLDER (Depth 1): not measured"
        return
    fi
    if ! counts=$("${HELPER[@]}" multistatus "$body" 2>"$WORK/probe-$server.err"); then
        FAILED[$server]="207 with a body that is no multistatus"
        warn "$server: $(cat "$WORK/probe-$server.err"): not measured"
        return
    fi
    read -r responses hrefs bytes <<<"$counts"
    if ((responses != want || hrefs != want)); then
        FAILED[$server]="207 with $responses responses ($hrefs hrefs), not $want"
        warn "$server: multistatus of $responses responses with $hrefs distinct hrefs, expected $want: not measured"
        return
    fi
    record "KiB/response" "$server" "$(awk -v b="$bytes" 'BEGIN { printf "%.3f", b / 1024 }')" KiB
    log "$server: 207, $responses responses, $bytes bytes"
}

# " Not Implemented" for 501 and so on: what a reader of the table needs to see.
status_text() {
    case $1 in
        000) echo " (no answer)" ;;
        301) echo " Moved Permanently" ;;
        401) echo " Unauthorized" ;;
        403) echo " Forbidden" ;;
        404) echo " Not Found" ;;
        405) echo " Method Not Allowed" ;;
        500) echo " Internal Server Error" ;;
        501) echo " Not Implemented" ;;
        *) echo "" ;;
    esac
}

# One wrk run; prints the BENCH line fields. wrk's output is kept in the work dir, and errors
# in it become warnings.
run_wrk() {
    local server=$1 round=$2
    local out="$WORK/wrk/$server-$round.txt"
    timeout --kill-after=5 "$WRK_TIME_LIMIT" \
        wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --timeout "$WRK_TIMEOUT" \
        -s "$BENCH_DIR/propfind.lua" "http://127.0.0.1:${PORT[$server]}$FOLDER" >"$out" 2>&1 \
        || die "wrk failed for $server (see $out)"
    local line kv
    line=$("${HELPER[@]}" wrk-line "$out")
    local -A f=()
    for kv in $line; do f[${kv%%=*}]=${kv#*=}; done
    local errors=$((f[connect] + f[read] + f[write] + f[timeout]))
    if ((errors > 0)); then
        warn "$server round $round socket errors: connect ${f[connect]}, read ${f[read]}, write ${f[write]}, timeout ${f[timeout]} (of ${f[requests]} requests)"
    fi
    if ((f[status] > 0)); then
        warn "$server round $round: ${f[status]} responses with status >= 400 (of ${f[requests]})"
    fi
    echo "$line"
}

field() { # field NAME "k=v k=v ..."
    local kv
    for kv in $2; do [[ ${kv%%=*} == "$1" ]] && { echo "${kv#*=}"; return; }; done
}

record() { printf '%s\t%s\t%s\t%s\n' "$@" >>"$WORK/results.tsv"; }
note() { printf '%s\t-\t-\t%s\n' "$1" "$2" >>"$WORK/results.tsv"; }

# ROUNDS interleaved runs of the servers that answered correctly; the table shows medians.
measure() {
    local name="propfind-$ENTRIES" round server line value
    log "scenario $name: $ROUNDS round(s) of $DURATION, $CONNS connections"
    for server in shelf apache; do
        [[ -n ${FAILED[$server]:-} ]] && note "$name" "$server ${FAILED[$server]}: not measured"
    done
    for round in $(seq "$ROUNDS"); do
        for server in shelf apache; do
            [[ -n ${FAILED[$server]:-} ]] && continue
            line=$(run_wrk "$server" "$round")
            value=$(awk -v r="$(field requests "$line")" -v us="$(field duration_us "$line")" \
                'BEGIN { printf "%.3f", r / (us / 1e6) }')
            record "$name" "$server" "$value" req/s
            log "  round $round $server: $value req/s"
        done
    done
}

machine_header() {
    local commit
    commit=$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    git -C "$REPO_ROOT" diff --quiet HEAD 2>/dev/null || commit="$commit (+ uncommitted changes)"
    echo "shelf vs Apache mod_dav_fs: PROPFIND Depth 1, allprop, a folder of $ENTRIES entries, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "shelf commit $commit; $("$APACHE_BIN" -v | sed -n 's/^Server version: //p') (mpm_event); $(wrk -v 2>&1 | head -1 | awk '{ print $1, $2 }')"
    echo "cpu: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
    echo "load average (1/5/15 min): $LOAD_AT_START at start, $(cut -d' ' -f1-3 /proc/loadavg) at end"
    echo "rounds $ROUNDS x $DURATION per server, interleaved; wrk -t$THREADS -c$CONNS; medians shown"
    echo
}

# ---------------------------------------------------------------------------- main

main() {
    local secs
    case $DURATION in
        *s) secs=${DURATION%s} ;; *m) secs=$((${DURATION%m} * 60)) ;; *[0-9]) secs=$DURATION ;;
        *) die "DURATION=$DURATION: use e.g. 5s or 1m" ;;
    esac
    [[ $secs =~ ^[0-9]+$ && $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "bad DURATION=$DURATION or ROUNDS=$ROUNDS"
    [[ $ENTRIES =~ ^[1-9][0-9]*$ && $CONNS =~ ^[1-9][0-9]*$ ]] || die "bad ENTRIES=$ENTRIES or CONNS=$CONNS"
    WRK_TIME_LIMIT=$((secs + 30))

    install_tools
    build_shelf
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/shelf-bench-dav.XXXXXX")
    mkdir -p "$WORK/wrk"
    : >"$WORK/results.tsv"
    # The body bench/propfind.lua sends, for curl's check.
    printf '%s\n%s\n' '<?xml version="1.0" encoding="utf-8"?>' \
        '<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>' >"$WORK/propfind.xml"
    make_fixtures
    start_apache
    start_shelf

    LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
    check_answer shelf
    check_answer apache
    measure

    local rows table
    rows=$("${HELPER[@]}" report "$WORK/results.tsv" shelf apache) \
        || die "bench.py report failed on $WORK/results.tsv"
    table=$(
        machine_header
        echo "$rows"
        if [[ -s $WORK/warnings.txt ]]; then
            echo
            echo "warnings:"
            sed 's/^/  /' "$WORK/warnings.txt"
        fi
    )
    echo
    echo "$table"
    echo "$table" >"$RESULTS_FILE"
    log "table written to $RESULTS_FILE"
    if ((${#FAILED[@]})); then
        local server
        for server in "${!FAILED[@]}"; do
            log "error: $server ${FAILED[$server]}: no ratio (see the table's warnings)"
        done
        exit 1
    fi
}

main "$@"

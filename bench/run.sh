#!/usr/bin/env bash
# Side-by-side benchmark of shelf against nginx on 127.0.0.1. One command:
#
#   bench/run.sh                      # ROUNDS=3 DURATION=5s
#   ROUNDS=1 DURATION=2s bench/run.sh # quick smoke run
#
# See bench/README.md for what each scenario means and how to read the numbers.
set -euo pipefail

# ---------------------------------------------------------------------------- knobs

ROUNDS=${ROUNDS:-3}            # interleaved rounds per scenario (shelf, nginx, shelf, nginx, ...)
DURATION=${DURATION:-5s}       # wrk -d of one measurement
THREADS=${THREADS:-2}          # wrk -t: the machine this was written for has 2 cores
WRK_TIMEOUT=${WRK_TIMEOUT:-10s} # wrk --timeout: generous, a shared box stalls now and then
IDLE_CONNS=${IDLE_CONNS:-1000} # connections of the idle-RSS measurement
GZIP_LEVEL=${GZIP_LEVEL:-6}    # gzip level of both servers (shelf's [compression] default is 6)
KEEP_WORK=${KEEP_WORK:-0}      # 1: keep the temp dir (configs, logs, wrk output) for a look

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
HELPER=(python3 "$BENCH_DIR/bench.py")
RESULTS_FILE="$BENCH_DIR/results-latest.txt"

WORK=""                        # temp dir, made in main
LOAD_AT_START=""               # /proc/loadavg when the measurements began
NGINX_PID=""
SHELF_PID=""
NGINX_BIN=""
SHELF_BIN=""
declare -A PORT=()             # server name -> port

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }
# Warnings go to a file, not a variable: many are raised inside $(...) subshells.
warn() {
    log "warning: $*"
    [[ -n $WORK ]] && echo "$*" >>"$WORK/warnings.txt"
    return 0
}

# ---------------------------------------------------------------------------- clean-up

# Stop one process by PID: TERM, give it a moment, then KILL. Never by name, so a developer's
# own nginx (or another shelf) on this machine is left alone.
stop_pid() {
    local pid=$1 i
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    # nginx's master takes its workers down with it on TERM (fast shutdown).
    stop_pid "$NGINX_PID"
    stop_pid "$SHELF_PID"
    wait 2>/dev/null || true
    if [[ -n $WORK && -d $WORK ]]; then
        if [[ $KEEP_WORK == 1 || $rc != 0 ]]; then
            log "work dir kept: $WORK"
            # The 64 MiB fixture is the only big thing in it; the logs are what matters.
            rm -f "$WORK/root/big.bin"
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

# nginx lives in /usr/sbin, which is not on every user's PATH.
find_nginx() {
    command -v nginx 2>/dev/null || { [[ -x /usr/sbin/nginx ]] && echo /usr/sbin/nginx; } || true
}

# CI machines start fresh: install what is missing, and only then touch apt-get.
install_tools() {
    local missing=()
    [[ -n $(find_nginx) ]] || missing+=(nginx)
    command -v wrk >/dev/null || missing+=(wrk)
    command -v curl >/dev/null || missing+=(curl)
    command -v openssl >/dev/null || missing+=(openssl)
    if ((${#missing[@]})); then
        log "installing ${missing[*]} with apt-get"
        local sudo=()
        if [[ $(id -u) != 0 ]]; then
            command -v sudo >/dev/null || die "${missing[*]} missing and not root (no sudo): install them first"
            sudo=(sudo)
        fi
        command -v apt-get >/dev/null || die "${missing[*]} missing and no apt-get here: install them first"
        # policy-rc.d in Docker images keeps the packaged nginx service from starting; elsewhere
        # it may start on port 80, which this benchmark neither uses nor stops.
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null \
            || die "apt-get update failed: install ${missing[*]} by hand"
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null \
            || die "apt-get install ${missing[*]} failed: install them by hand"
    fi
    NGINX_BIN=$(find_nginx)
    [[ -n $NGINX_BIN ]] || die "nginx still not found after installing"
    command -v wrk >/dev/null || die "wrk still not found after installing"
    command -v python3 >/dev/null || die "python3 is needed for bench/bench.py"
    command -v cargo >/dev/null || die "cargo is needed to build shelf"
}

# Build shelf in release and locate the binary where cargo really put it: CARGO_TARGET_DIR or
# a [build] target-dir in a cargo config may move it away from ./target.
build_shelf() {
    log "building shelf (cargo build --release)"
    (cd "$REPO_ROOT" && cargo build --release --quiet) || die "cargo build --release failed"
    local target
    target=$(cd "$REPO_ROOT" && cargo metadata --format-version 1 --no-deps | "${HELPER[@]}" target-dir)
    SHELF_BIN="$target/release/shelf"
    [[ -x $SHELF_BIN ]] || die "no shelf binary at $SHELF_BIN"
}

# 1,000 idle connections plus the client's sockets need more descriptors than the common
# default of 1024; nginx and shelf inherit this limit from us.
raise_fd_limit() {
    local want=8192
    if (($(ulimit -n) < want)); then
        ulimit -n "$want" 2>/dev/null \
            || die "cannot raise 'ulimit -n' to $want (hard limit $(ulimit -Hn)); raise it and re-run"
    fi
}

make_fixtures() {
    log "making fixtures in $WORK/root"
    "${HELPER[@]}" fixtures "$WORK/root" "$WORK/mixed-paths.txt"
    # nginx started as root runs its workers as 'nobody': the tree must be world-readable.
    chmod -R a+rX "$WORK"
}

free_port() { "${HELPER[@]}" free-port; }

# Wait until a server answers anything on its port (it is up) or its process died.
wait_ready() {
    local name=$1 pid=$2 port=$3 i
    for i in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || die "$name exited at start (see $WORK/$name.log)"
        if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/1k.bin"; then
            return 0
        fi
        sleep 0.1
    done
    die "$name did not answer on 127.0.0.1:$port within 10 s (see $WORK/$name.log)"
}

# One certificate for both servers (ECDSA P-256, as is usual), so the HTTPS scenario compares
# the servers and not the key types.
make_tls_cert() {
    mkdir -p "$WORK/tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$WORK/tls/key.pem" -out "$WORK/tls/cert.pem" >"$WORK/tls/openssl.log" 2>&1 \
        || die "openssl could not make the test certificate (see $WORK/tls/openssl.log)"
}

# The base URL of a server for a scenario: https-* scenarios use the TLS listeners.
base_url() {
    local scenario=$1 server=$2
    if [[ $scenario == https-* ]]; then
        echo "https://127.0.0.1:${PORT[$server-tls]}"
    else
        echo "http://127.0.0.1:${PORT[$server]}"
    fi
}

start_nginx() {
    PORT[nginx]=$(free_port)
    PORT[nginx-tls]=$(free_port)
    mkdir -p "$WORK/nginx"
    # Matched to shelf where shelf has a knob: the same gzip level (GZIP_LEVEL), the 256-byte
    # minimum and compressible types of shelf's [compression] defaults, 60 s keep-alive on both.
    # nginx compresses every response anew (no gzip_static, no cache): that is stock nginx.
    cat >"$WORK/nginx/nginx.conf" <<EOF
daemon off;
worker_processes auto;
worker_rlimit_nofile 8192;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;

events {
    worker_connections 4096;
}

http {
    types {
        text/html               html;
        text/css                css;
        application/javascript  js;
        application/json        json;
        image/png               png;
        text/plain              txt;
    }
    default_type application/octet-stream;

    sendfile on;
    tcp_nopush on;
    access_log off;
    keepalive_timeout 60s;
    keepalive_requests 1000000;

    gzip on;
    gzip_comp_level $GZIP_LEVEL;
    gzip_min_length 256;
    gzip_types text/css text/plain application/javascript application/json application/xml image/svg+xml;

    # Temp files in the work dir, not /var/lib/nginx (may be missing or not ours).
    client_body_temp_path $WORK/nginx/client_body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;

    server {
        listen 127.0.0.1:${PORT[nginx]};
        server_name _;
        root $WORK/root;
    }

    server {
        listen 127.0.0.1:${PORT[nginx-tls]} ssl;
        server_name _;
        root $WORK/root;
        ssl_certificate $WORK/tls/cert.pem;
        ssl_certificate_key $WORK/tls/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
    }
}
EOF
    # -e: the error log before the config is read (else /var/log/nginx/error.log).
    "$NGINX_BIN" -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" \
        >"$WORK/nginx.log" 2>&1 &
    NGINX_PID=$!
    wait_ready nginx "$NGINX_PID" "${PORT[nginx]}"
    log "nginx $("$NGINX_BIN" -v 2>&1 | sed 's/.*\///') pid $NGINX_PID on 127.0.0.1:${PORT[nginx]}"
}

start_shelf() {
    PORT[shelf]=$(free_port)
    PORT[shelf-tls]=$(free_port)
    mkdir -p "$WORK/shelf"
    # max_connections above 256 wrk + 1,000 idle; keep_alive_s as nginx's keepalive_timeout.
    # [compression] (but its level) and [cache] stay at their defaults (min 256 B, 64 MiB cache).
    cat >"$WORK/shelf/config.toml" <<EOF
[server]
listen = "127.0.0.1:${PORT[shelf]}"
root = "$WORK/root"
max_connections = 4096
keep_alive_s = 60

[tls]
listen = "127.0.0.1:${PORT[shelf-tls]}"
cert = "$WORK/tls/cert.pem"
key = "$WORK/tls/key.pem"

[compression]
level = $GZIP_LEVEL

[log]
access = false
level = "warn"
EOF
    "$SHELF_BIN" --config "$WORK/shelf/config.toml" >"$WORK/shelf.log" 2>&1 &
    SHELF_PID=$!
    wait_ready shelf "$SHELF_PID" "${PORT[shelf]}"
    log "shelf $(git -C "$REPO_ROOT" rev-parse --short HEAD) pid $SHELF_PID on 127.0.0.1:${PORT[shelf]}"
}

# Every process that serves for a server: shelf is one process; nginx is a master + workers.
server_pids() {
    case $1 in
        shelf) echo "$SHELF_PID" ;;
        nginx) echo "$NGINX_PID" $("${HELPER[@]}" children "$NGINX_PID") ;;
    esac
}

# ---------------------------------------------------------------------------- measuring

# The status (and Content-Encoding) one request gets, as "200 gzip" or "206 -".
probe() {
    local url=$1
    shift
    curl -s -k -o /dev/null -D - --max-time 10 "$@" "$url" | tr -d '\r' | awk '
        NR == 1 { status = $2 }
        tolower($1) == "content-encoding:" { encoding = $2 }
        END { print (status == "" ? "000" : status), (encoding == "" ? "-" : encoding) }'
}

# Check a server answers a scenario as a fast server should; a mismatch is a warning row, and
# the scenario is still measured (shelf does not do ranges or gzip yet).
check_answer() {
    local scenario=$1 server=$2 want_status=$3 want_encoding=$4 path=$5
    shift 5
    local got status encoding
    got=$(probe "$(base_url "$scenario" "$server")$path" "$@") || got="000 -"
    read -r status encoding <<<"$got"
    # $header is the request header that makes the scenario, if any (for the notes).
    local header=${2:-}
    header=${header%%:*}
    if [[ $status != "$want_status" ]]; then
        warn "$scenario: $server answered $status (expected $want_status) to GET $path $*"
        note "$scenario" "$server answered $status${header:+ to $header}"
    fi
    if [[ $want_encoding != "-" && $encoding != "$want_encoding" ]]; then
        warn "$scenario: $server sent Content-Encoding '$encoding' (expected $want_encoding) to GET $path $*"
        note "$scenario" "$server sent no $want_encoding"
    fi
}

# One wrk run; prints the BENCH line fields (requests=... bytes=... ...). wrk's full output
# is kept in the work dir, and errors in it become warnings.
run_wrk() {
    local scenario=$1 server=$2 round=$3 conns=$4 path=$5
    shift 5
    local out="$WORK/wrk/$scenario-$server-$round.txt"
    local script="$BENCH_DIR/report.lua"
    [[ $scenario == mixed ]] && script="$BENCH_DIR/mixed.lua"
    # `timeout` bounds a wrk that hangs (it should stop by itself after -d).
    BENCH_DIR=$BENCH_DIR BENCH_PATHS="$WORK/mixed-paths.txt" \
        timeout --kill-after=5 "$WRK_TIME_LIMIT" \
        wrk -t"$THREADS" -c"$conns" -d"$DURATION" --timeout "$WRK_TIMEOUT" -s "$script" "$@" \
        "$(base_url "$scenario" "$server")$path" >"$out" 2>&1 \
        || die "wrk failed for $scenario/$server (see $out)"
    local line
    line=$("${HELPER[@]}" wrk-line "$out")
    local -A f=()
    local kv
    for kv in $line; do f[${kv%%=*}]=${kv#*=}; done
    local errors=$((f[connect] + f[read] + f[write] + f[timeout]))
    if ((errors > 0)); then
        warn "$scenario: $server round $round socket errors: connect ${f[connect]}, read ${f[read]}, write ${f[write]}, timeout ${f[timeout]} (of ${f[requests]} requests)"
    fi
    if ((f[status] > 0)); then
        warn "$scenario: $server round $round: ${f[status]} responses with status >= 400 (of ${f[requests]})"
    fi
    echo "$line"
}

field() { # field NAME "k=v k=v ..."
    local kv
    for kv in $2; do [[ ${kv%%=*} == "$1" ]] && { echo "${kv#*=}"; return; }; done
}

# Rows for bench.py report: a measurement (one per round) or a note shown beside a scenario.
record() { printf '%s\t%s\t%s\t%s\n' "$@" >>"$WORK/results.tsv"; }
note() { printf '%s\t-\t-\t%s\n' "$1" "$2" >>"$WORK/results.tsv"; }

# One scenario: check both servers, then ROUNDS interleaved wrk runs (shelf, nginx, shelf,
# nginx, ...) so slow drifts of a shared machine hit both alike; the table shows medians.
# For 1k-64c the CPU time the server used is sampled around each run, for cpu/req.
scenario() {
    local name=$1 conns=$2 path=$3 want_status=$4 want_encoding=$5 unit=$6
    shift 6
    log "scenario $name: $ROUNDS round(s) of $DURATION, $conns connections"
    local server
    for server in shelf nginx; do
        check_answer "$name" "$server" "$want_status" "$want_encoding" "$path" "$@"
    done
    local round line value cpu_before cpu_after requests
    for round in $(seq "$ROUNDS"); do
        for server in shelf nginx; do
            if [[ $name == 1k-64c ]]; then
                cpu_before=$("${HELPER[@]}" cpu $(server_pids "$server"))
            fi
            line=$(run_wrk "$name" "$server" "$round" "$conns" "$path" "$@")
            requests=$(field requests "$line")
            if [[ $unit == MiB/s ]]; then
                value=$(awk -v b="$(field bytes "$line")" -v us="$(field duration_us "$line")" \
                    'BEGIN { printf "%.3f", b / 1048576 / (us / 1e6) }')
            else
                value=$(awk -v r="$requests" -v us="$(field duration_us "$line")" \
                    'BEGIN { printf "%.3f", r / (us / 1e6) }')
            fi
            record "$name" "$server" "$value" "$unit"
            if [[ $name == 1k-64c ]]; then
                cpu_after=$("${HELPER[@]}" cpu $(server_pids "$server"))
                record "cpu/req 1k" "$server" \
                    "$(awk -v a="$cpu_before" -v b="$cpu_after" -v n="$requests" \
                        'BEGIN { printf "%.3f", (n > 0 ? (b - a) * 1e6 / n : 0) }')" us
            fi
            log "  round $round $server: $value $unit"
        done
    done
}

# RSS of each server holding IDLE_CONNS idle keep-alive connections (one request served on
# each). Measured first, on fresh servers, so heaps grown by the load runs do not count.
idle_rss() {
    local server out rss alive
    for server in shelf nginx; do
        # The RSS before, so the table also shows what the idle connections themselves cost.
        record rss-start "$server" \
            "$(awk -v k="$("${HELPER[@]}" rss $(server_pids "$server"))" 'BEGIN { printf "%.3f", k / 1024 }')" MiB
        log "idle RSS: $IDLE_CONNS keep-alive connections to $server"
        out=$(timeout 120 "${HELPER[@]}" idle-rss "${PORT[$server]}" "$IDLE_CONNS" /1k.bin \
            $(server_pids "$server")) || { warn "rss-idle: $server: idle connections failed"; continue; }
        read -r rss alive <<<"$out"
        ((alive == IDLE_CONNS)) \
            || warn "rss-idle: $server kept only $alive of $IDLE_CONNS idle connections open"
        record "rss-$IDLE_CONNS-idle" "$server" "$(awk -v k="$rss" 'BEGIN { printf "%.3f", k / 1024 }')" MiB
    done
}

machine_header() {
    local commit
    commit=$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    git -C "$REPO_ROOT" diff --quiet HEAD 2>/dev/null || commit="$commit (+ uncommitted changes)"
    echo "shelf vs nginx, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "shelf commit $commit; $("$NGINX_BIN" -v 2>&1 | sed 's/.*: //'); $(wrk -v 2>&1 | head -1 | awk '{ print $1, $2 }')"
    echo "cpu: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
    # The load average says how much else ran on the machine (others compiling...).
    echo "load average (1/5/15 min): $LOAD_AT_START at start, $(cut -d' ' -f1-3 /proc/loadavg) at end"
    echo "rounds $ROUNDS x $DURATION per server, interleaved; wrk -t$THREADS; medians shown"
    echo
}

# ---------------------------------------------------------------------------- main

main() {
    # wrk gets DURATION plus a margin before `timeout` ends it.
    local secs
    case $DURATION in
        *s) secs=${DURATION%s} ;; *m) secs=$((${DURATION%m} * 60)) ;; *[0-9]) secs=$DURATION ;;
        *) die "DURATION=$DURATION: use e.g. 5s or 1m" ;;
    esac
    [[ $secs =~ ^[0-9]+$ && $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "bad DURATION=$DURATION or ROUNDS=$ROUNDS"
    WRK_TIME_LIMIT=$((secs + 30))

    install_tools
    raise_fd_limit
    build_shelf
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/shelf-bench.XXXXXX")
    mkdir -p "$WORK/wrk"
    : >"$WORK/results.tsv"
    make_fixtures
    make_tls_cert
    start_nginx
    start_shelf

    LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
    idle_rss

    local first_mixed
    first_mixed=$(head -1 "$WORK/mixed-paths.txt")
    #        name          conns path          status enc  unit   extra wrk/curl args
    scenario 1k-64c        64    /1k.bin       200    -    req/s
    scenario 1k-256c       256   /1k.bin       200    -    req/s
    scenario js-gzip       64    /app.js       200    gzip req/s  -H 'Accept-Encoding: gzip'
    scenario big-8c        8     /big.bin      200    -    MiB/s
    scenario range         64    /big.bin      206    -    req/s  -H 'Range: bytes=1000-1999'
    scenario mixed         64    "$first_mixed" 200   -    req/s
    scenario conn-per-req  64    /1k.bin       200    -    req/s  -H 'Connection: close'
    scenario https-1k-64c  64    /1k.bin       200    -    req/s

    local rows table
    rows=$("${HELPER[@]}" report "$WORK/results.tsv") || die "bench.py report failed on $WORK/results.tsv"
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
}

main "$@"

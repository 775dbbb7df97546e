#!/usr/bin/env bash
# The replicas test: two shelf processes on one shared folder behind nginx, clients writing and
# reading through it while one replica is SIGKILLed and restarted, then a rolling restart of
# both. One command:
#
#   contrib/replicas/run.sh                 # DURATION=30 CLIENTS=16
#   DURATION=15 contrib/replicas/run.sh     # shorter
#
# Exit 0: pass, 1: fail (or could not run). See contrib/replicas/README.md.
set -euo pipefail

# ---------------------------------------------------------------------------- knobs

DURATION=${DURATION:-30}       # seconds of client load (at least 10)
CLIENTS=${CLIENTS:-16}         # client threads, each with its own keys
ROLL_PAUSE=${ROLL_PAUSE:-3}    # seconds between the two replicas of the rolling restart; keep it
                               # above nginx's fail_timeout (2 s), see README.md
KEEP_WORK=${KEEP_WORK:-0}      # 1: keep the temp dir (configs, logs, shared folder) for a look

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$HERE/../.." && pwd)
DRIVER=(python3 "$HERE/replicas.py")

WORK=""                        # temp dir, made in main
PIDS_FILE=""                   # "PID BINARY" of every process the driver started
NGINX_BIN=""
SHELF_BIN=""
MIGRATE_SYSCTL=net.ipv4.tcp_migrate_req
MIGRATE_OLD=""                 # its value before the run, when we changed it
MIGRATE_STATUS="not tried"

log() { printf '[replicas] %s\n' "$*" >&2; }
die() { printf '[replicas] error: %s\n' "$*" >&2; exit 1; }

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

# The driver stops what it started; this catches what an interrupted driver left. A PID is
# only signalled while it still runs the binary recorded for it (a PID may have been reused).
stop_recorded() {
    [[ -n $PIDS_FILE && -s $PIDS_FILE ]] || return 0
    local pid bin
    while read -r pid bin; do
        if [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "$(readlink -f "$bin")" ]]; then
            stop_pid "$pid"
        fi
    done <"$PIDS_FILE"
    return 0
}

restore_migrate() {
    [[ -n $MIGRATE_OLD ]] || return 0
    set_sysctl "$MIGRATE_SYSCTL=$MIGRATE_OLD" || log "warning: could not restore $MIGRATE_SYSCTL=$MIGRATE_OLD"
    MIGRATE_OLD=""
}

cleanup() {
    local rc=$?
    set +e # clean up as much as possible, whatever fails
    stop_recorded
    restore_migrate
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

# nginx lives in /usr/sbin, which is not on every user's PATH.
find_nginx() {
    command -v nginx 2>/dev/null || { [[ -x /usr/sbin/nginx ]] && echo /usr/sbin/nginx; } || true
}

# CI machines start fresh: install what is missing, and only then touch apt-get.
install_tools() {
    local missing=()
    [[ -n $(find_nginx) ]] || missing+=(nginx)
    if ((${#missing[@]})); then
        log "installing ${missing[*]} with apt-get"
        local sudo=()
        if [[ $(id -u) != 0 ]]; then
            command -v sudo >/dev/null || die "${missing[*]} missing and not root (no sudo): install them first"
            sudo=(sudo)
        fi
        command -v apt-get >/dev/null || die "${missing[*]} missing and no apt-get here: install them first"
        # policy-rc.d in Docker images keeps the packaged nginx service from starting; elsewhere
        # it may start on port 80, which this test neither uses nor stops.
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null \
            || die "apt-get update failed: install ${missing[*]} by hand"
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null \
            || die "apt-get install ${missing[*]} failed: install them by hand"
    fi
    NGINX_BIN=$(find_nginx)
    [[ -n $NGINX_BIN ]] || die "nginx still not found after installing"
    command -v python3 >/dev/null || die "python3 (3.11 or later) is needed for replicas.py"
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "python3 is older than 3.11"
    command -v cargo >/dev/null || die "cargo is needed to build shelf"
}

# Build shelf in release and locate the binary where cargo really put it: CARGO_TARGET_DIR or
# a [build] target-dir in a cargo config may move it away from ./target.
build_shelf() {
    log "building shelf (cargo build --release)"
    (cd "$REPO_ROOT" && cargo build --release --quiet) || die "cargo build --release failed"
    local target
    target=$(cd "$REPO_ROOT" && cargo metadata --format-version 1 --no-deps | "${DRIVER[@]}" target-dir)
    SHELF_BIN="$target/release/shelf"
    [[ -x $SHELF_BIN ]] || die "no shelf binary at $SHELF_BIN"
}

# 16 clients, nginx's two sides and two replicas stay far below 1024 descriptors; raise the
# soft limit anyway when it is lower, as some CI images set 256.
raise_fd_limit() {
    local want=4096
    if (($(ulimit -n) < want)); then
        ulimit -n "$want" 2>/dev/null || log "warning: cannot raise 'ulimit -n' to $want"
    fi
}

set_sysctl() {
    if [[ $(id -u) == 0 ]]; then
        sysctl -q -w "$1" >/dev/null 2>&1
    else
        command -v sudo >/dev/null && sudo -n sysctl -q -w "$1" >/dev/null 2>&1
    fi
}

# With net.ipv4.tcp_migrate_req = 1 (Linux 5.14+) connections queued on an old process's
# SO_REUSEPORT socket when it closes move to the new one instead of being reset: set it for the
# run when we may, restore it after (the trap), and tell the driver what happened.
set_migrate_req() {
    local file=/proc/sys/net/ipv4/tcp_migrate_req old
    if [[ ! -r $file ]]; then
        MIGRATE_STATUS="not set: $file does not exist (kernel before 5.14?)"
        return
    fi
    old=$(cat "$file")
    if [[ $old == 1 ]]; then
        MIGRATE_STATUS="already 1, left as it was"
    elif command -v sysctl >/dev/null && set_sysctl "$MIGRATE_SYSCTL=1" && [[ $(cat "$file") == 1 ]]; then
        MIGRATE_OLD=$old
        MIGRATE_STATUS="set to 1 for the run (was $old; restored after)"
    else
        MIGRATE_STATUS="not set: not writable here (still $old); queued connections of a closing old process may be reset, nginx retries them"
    fi
}

# ---------------------------------------------------------------------------- main

main() {
    [[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 10 ]] || die "DURATION=$DURATION: whole seconds, at least 10"
    [[ $CLIENTS =~ ^[1-9][0-9]*$ ]] || die "CLIENTS=$CLIENTS: a positive number"
    [[ $ROLL_PAUSE =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "ROLL_PAUSE=$ROLL_PAUSE: seconds"

    install_tools
    "${DRIVER[@]}" self-test >&2 || die "replicas.py self-test failed"
    raise_fd_limit
    build_shelf
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/shelf-replicas.XXXXXX")
    # nginx started as root runs its workers as nobody: they must reach their temp folders
    # inside (mktemp makes the folder 0700).
    chmod 755 "$WORK"
    PIDS_FILE="$WORK/pids"
    : >"$PIDS_FILE"
    set_migrate_req
    log "tcp_migrate_req: $MIGRATE_STATUS"

    local commit
    commit=$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    git -C "$REPO_ROOT" diff --quiet HEAD 2>/dev/null || commit="$commit (+ uncommitted changes)"
    log "running: $CLIENTS clients for $DURATION s (about $((DURATION + 15)) s in all)"
    local rc=0
    "${DRIVER[@]}" run \
        --shelf "$SHELF_BIN" --nginx "$NGINX_BIN" --work "$WORK/run" --pids "$PIDS_FILE" \
        --duration "$DURATION" --clients "$CLIENTS" --roll-pause "$ROLL_PAUSE" \
        --migrate-req "$MIGRATE_STATUS" \
        --commit "commit $commit" --nginx-version "$("$NGINX_BIN" -v 2>&1 | sed 's/.*: //')" \
        || rc=$?
    restore_migrate
    return "$rc"
}

main "$@"

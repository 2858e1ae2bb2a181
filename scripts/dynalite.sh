#!/usr/bin/env bash
# dynalite.sh — a throwaway DynamoDB-compatible server (dynalite, in memory)
# for the tests of the fs_dynamodb foreign data wrapper.
#
#   scripts/dynalite.sh start    start dynalite in the background and wait until
#                                it answers (reuses the recorded one if it still does)
#   scripts/dynalite.sh stop     stop it and remove its state file (harmless if none)
#   scripts/dynalite.sh status   say whether it runs (exit 0 if so, 3 if not)
#   scripts/dynalite.sh env      print the state file (source it to reach dynalite)
#
# dynalite comes from the repository's node_modules (npm ci; scripts/setup.sh
# runs it).  Its own CLI listens on every interface, so this script starts it
# through a few lines of node that listen on 127.0.0.1 only, on the first free
# port from 8000 up.  Data lives in memory and is gone when it stops.  It may
# run as root: it is not PostgreSQL.
#
# Environment:
#   FS_DYNALITE_ENV   state file (default /tmp/feature_store_dynalite.env); it holds
#                     export FS_DYNALITE_ENDPOINT=http://127.0.0.1:PORT
#                     Beside it: .pid (the server's pid), .log, .lck.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_FILE="${FS_DYNALITE_ENV:-/tmp/feature_store_dynalite.env}"
PID_FILE="$STATE_FILE.pid"
LOG_FILE="$STATE_FILE.log"
PORT_FIRST=8000
PORT_LAST=8099

die() { echo "dynalite: $*" >&2; exit 1; }

# The server: listen on 127.0.0.1, trying ports FIRST..LAST in turn (binding
# is the only race-free test of a free port), then write "PORT PID" to the
# ready file.  Tables leave CREATING after 100 ms instead of 500 ms.
# shellcheck disable=SC2016
SERVER_JS='
const [dir, first, last, ready] = process.argv.slice(1);
const fs = require("fs");
const dynalite = require(dir + "/node_modules/dynalite");
let port = Number(first);
function attempt() {
    const server = dynalite({ createTableMs: 100, deleteTableMs: 100, updateTableMs: 100 });
    server.once("error", (err) => {
        if (err.code === "EADDRINUSE" && port < Number(last)) { port++; attempt(); return; }
        console.error("dynalite: cannot listen on 127.0.0.1:" + port + ": " + err.message);
        process.exit(1);
    });
    server.listen(port, "127.0.0.1", () => {
        fs.writeFileSync(ready + ".tmp", port + " " + process.pid + "\n");
        fs.renameSync(ready + ".tmp", ready);
        console.log("dynalite listening on 127.0.0.1:" + port);
    });
}
for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(sig, () => process.exit(0));
attempt();
'

# Load ENDPOINT and PID from the state and pid files; returns 1 if none.
read_state() {
    [ -f "$STATE_FILE" ] || return 1
    ENDPOINT="$(sed -n 's/.*FS_DYNALITE_ENDPOINT=\([^ ]*\).*/\1/p' "$STATE_FILE" | tail -n 1)"
    PID="$(cat "$PID_FILE" 2>/dev/null || true)"
    [ -n "$ENDPOINT" ]
}

# True when $1 is a live process started by this script (a node serving dynalite).
is_ours() {
    local pid="$1"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'node_modules/dynalite'
}

# True when the endpoint $1 answers a DynamoDB ListTables request.
answers() {
    curl -sS -m 2 -o /dev/null -w '%{http_code}' -X POST "$1/" \
        -H 'Content-Type: application/x-amz-json-1.0' \
        -H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
        -H 'X-Amz-Date: 20200101T000000Z' \
        -H 'Authorization: AWS4-HMAC-SHA256 Credential=fs/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0' \
        -d '{}' 2>/dev/null | grep -qx 200
}

cmd_start() {
    local ready node pid port n
    if read_state; then
        if is_ours "$PID" && answers "$ENDPOINT"; then
            echo "dynalite: reusing running dynalite at $ENDPOINT (pid $PID)"
            cat "$STATE_FILE"
            return 0
        fi
        echo "dynalite: recorded dynalite is not running; starting a new one"
        is_ours "$PID" && kill "$PID" 2>/dev/null || true
        rm -f -- "$STATE_FILE" "$PID_FILE"
    fi

    node="$(command -v node || command -v nodejs || true)"
    [ -n "$node" ] || die "node not found (run scripts/setup.sh)"
    [ -f "$REPO/node_modules/dynalite/index.js" ] ||
        die "$REPO/node_modules/dynalite missing (run: npm ci, in $REPO; scripts/setup.sh does)"
    command -v curl >/dev/null 2>&1 || die "curl not found"

    ready="$(mktemp "${STATE_FILE}.ready.XXXXXX")"
    rm -f -- "$ready"
    # Its own session, so a terminal's ^C or the caller's exit leaves it be;
    # no lock fd (9), no stdin.
    ( cd "$REPO" && exec setsid -w nohup "$node" -e "$SERVER_JS" "$REPO" "$PORT_FIRST" "$PORT_LAST" "$ready" \
            </dev/null >"$LOG_FILE" 2>&1 9>&- ) &
    n=0
    until [ -s "$ready" ]; do
        n=$((n + 1))
        if [ "$n" -gt 300 ] || ! kill -0 $! 2>/dev/null && [ ! -s "$ready" ]; then
            cat "$LOG_FILE" >&2 2>/dev/null || true
            rm -f -- "$ready" "$ready.tmp"
            die "dynalite did not start (log above, $LOG_FILE)"
        fi
        sleep 0.1
    done
    read -r port pid <"$ready"
    rm -f -- "$ready"
    echo "$pid" >"$PID_FILE"

    n=0
    until answers "http://127.0.0.1:$port"; do
        n=$((n + 1))
        if [ "$n" -gt 100 ] || ! is_ours "$pid"; then
            cat "$LOG_FILE" >&2 2>/dev/null || true
            is_ours "$pid" && kill "$pid" 2>/dev/null || true
            rm -f -- "$PID_FILE"
            die "dynalite on 127.0.0.1:$port does not answer ListTables"
        fi
        sleep 0.1
    done

    umask 022
    printf 'export FS_DYNALITE_ENDPOINT=http://127.0.0.1:%s\n' "$port" >"$STATE_FILE.tmp"
    mv -f -- "$STATE_FILE.tmp" "$STATE_FILE"
    echo "dynalite: started dynalite $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' \
        "$REPO/node_modules/dynalite/package.json" | head -n 1) on 127.0.0.1:$port (pid $pid, log $LOG_FILE)"
    cat "$STATE_FILE"
}

cmd_stop() {
    local n
    if ! read_state && [ ! -f "$PID_FILE" ]; then
        echo "dynalite: no dynalite recorded in $STATE_FILE"
        return 0
    fi
    PID="${PID:-$(cat "$PID_FILE" 2>/dev/null || true)}"
    if is_ours "$PID"; then
        kill "$PID" 2>/dev/null || true
        n=0
        while is_ours "$PID" && [ "$n" -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
        is_ours "$PID" && kill -KILL "$PID" 2>/dev/null || true
        echo "dynalite: stopped dynalite at ${ENDPOINT:-?} (pid $PID)"
    else
        echo "dynalite: recorded dynalite was not running"
    fi
    rm -f -- "$STATE_FILE" "$PID_FILE"
}

cmd_status() {
    if read_state && is_ours "$PID" && answers "$ENDPOINT"; then
        echo "dynalite: running at $ENDPOINT (pid $PID)"
        return 0
    fi
    echo "dynalite: not running"
    return 3
}

cmd_env() {
    [ -f "$STATE_FILE" ] || die "no dynalite recorded in $STATE_FILE (run: $0 start)"
    cat "$STATE_FILE"
}

# Serialise start/stop so two callers never race on the state file.
with_lock() {
    exec 9>"$STATE_FILE.lck"
    flock -w 60 9 || die "could not lock $STATE_FILE.lck"
    "$@"
}

case "${1:-}" in
    start)  with_lock cmd_start ;;
    stop)   with_lock cmd_stop ;;
    status) cmd_status ;;
    env)    cmd_env ;;
    *)      echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# run_stream.sh — the streaming part of `make bench` (run by test/bench/run.sh;
# BENCH_ONLY=stream runs it alone).
#
# For each configuration (store, entities, worker settings) it pushes
# BENCH_STREAM_RATE events/s for BENCH_STREAM_SECONDS from BENCH_STREAM_CLIENTS
# connections (pgbench -R with test/bench/stream_push.sql: fs_push, one event
# per transaction, autocommit) into a fresh feature view, while
# test/bench/stream_observer.c measures from a connection of its own how long
# a pushed value takes, from the push's commit, to be served by
# fs_get_features, and samples fs_stream_status every second.  Then it
# prints, per configuration and in a summary: events/s achieved, freshness
# p50/p95/p99, the queue's depth, and the targets (p95 <= 1 s; the queue not
# growing over the last 10 s of pushing) as PASS/FAIL.
#
# It needs the stream worker, hence a cluster of its own: scripts/pgcluster.sh
# with a private state file and FS_PG_EXTRA_CONF (feature_store in
# shared_preload_libraries, a worker that never leaves for idleness,
# track_commit_timestamp = on for the pushes' commit times), the database
# fs_bench_stream, and, for the dynamodb store, dynalite of its own
# (test/bench/dynalite_bench.js, which also counts the requests it answers).
# All of them are stopped or dropped on exit, also on failure or interrupt.
# The extension must be installed (run.sh runs scripts/setup.sh first).
#
# Environment (all optional):
#   BENCH_STREAM_CONFIGS   the configurations, in order, each
#                          STORE:ENTITIES[:FLUSH_INTERVAL_MS[:BATCH_SIZE[:RATE[:WRITE_CONNECTIONS]]]]
#                          with STORE embedded, history (embedded, with
#                          fs_enable_history on the view), dynamodb or canned (the
#                          canned responder, test/bench/canned_responder.js
#                          --keep-writes, a benchmark fixture that answers
#                          after BENCH_STREAM_CANNED_LATENCY_MS, as a store
#                          with real latency would); the worker's settings
#                          default to the server's (50 ms, 1000 events,
#                          feature_store.max_write_connections 256), RATE to
#                          BENCH_STREAM_RATE; an empty field keeps the
#                          default (canned:100000:::5000:16); default:
#                          embedded:100000 history:100000 dynamodb:100000 embedded:1000
#                          dynamodb:1000 dynamodb:1000:50:100000
#                          dynamodb:100:50:10000 dynamodb:100000:50:1000:500
#   BENCH_STREAM_RATE (5000)      events/s offered, all connections together
#   BENCH_STREAM_SECONDS (60)     pushing time per configuration
#   BENCH_STREAM_CLIENTS (4)      pushing connections (pgbench -c; -j is 2)
#   BENCH_STREAM_SAMPLE (100)     the observer follows one push in N
#   BENCH_STREAM_DRAIN (30)       seconds the observer waits after the pushes
#   BENCH_STREAM_INTERVAL_MS (10) the observer's loop
#   BENCH_STREAM_CANNED_LATENCY_MS (20)  the canned store's latency, every answer
#   BENCH_STREAM_DURABLE (0)      1: the cluster runs with fsync = on and
#                                 synchronous_commit = on (the throwaway
#                                 cluster's defaults are off)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BENCH="$ROOT/test/bench"
BUILD="$BENCH/build"
DB=fs_bench_stream

CONFIGS="${BENCH_STREAM_CONFIGS:-embedded:100000 history:100000 dynamodb:100000 embedded:1000 dynamodb:1000 dynamodb:1000:50:100000 dynamodb:100:50:10000 dynamodb:100000:50:1000:500}"
RATE="${BENCH_STREAM_RATE:-5000}"
SECONDS_PUSH="${BENCH_STREAM_SECONDS:-60}"
CLIENTS="${BENCH_STREAM_CLIENTS:-4}"
SAMPLE="${BENCH_STREAM_SAMPLE:-100}"
DRAIN="${BENCH_STREAM_DRAIN:-30}"
INTERVAL_MS="${BENCH_STREAM_INTERVAL_MS:-10}"
THREADS=2
[ "$CLIENTS" -lt 2 ] && THREADS=1

say() { printf '== %s\n' "$*"; }
die() { echo "run_stream: $*" >&2; exit 1; }

for v in RATE SECONDS_PUSH CLIENTS SAMPLE DRAIN INTERVAL_MS; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, not '${!v}'"
done
for c in $CONFIGS; do
    [[ "$c" =~ ^(embedded|history|dynamodb|canned):[1-9][0-9]*(:([1-9][0-9]*)?(:([1-9][0-9]*)?(:([1-9][0-9]*)?(:[1-9][0-9]*)?)?)?)?$ ]] ||
        die "a configuration is STORE:ENTITIES[:FLUSH_INTERVAL_MS[:BATCH_SIZE[:RATE[:WRITE_CONNECTIONS]]]] with STORE embedded, history, dynamodb or canned, not '$c'"
done
CANNED_LATENCY_MS="${BENCH_STREAM_CANNED_LATENCY_MS:-20}"
[[ "$CANNED_LATENCY_MS" =~ ^[0-9]+$ ]] || die "BENCH_STREAM_CANNED_LATENCY_MS must be an integer, not '$CANNED_LATENCY_MS'"
DURABLE_CONF=""
[ "${BENCH_STREAM_DURABLE:-0}" = 1 ] && DURABLE_CONF="
fsync = on
synchronous_commit = on"
command -v pgbench >/dev/null 2>&1 || die "pgbench not found (postgresql-client)"

cd "$ROOT"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
CODE="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- src sql 2>/dev/null || echo ' (with uncommitted changes in src/ or sql/)')"
WORK="$(mktemp -d /tmp/feature_store_bench_stream.XXXXXX)"
CLUSTER_STARTED=0
DYN_PID=""
CAN_PID=""
OBS_PID=""
PGB_PID=""
cleanup() {
    [ -z "$PGB_PID" ] || kill "$PGB_PID" 2>/dev/null || true
    [ -z "$OBS_PID" ] || kill "$OBS_PID" 2>/dev/null || true
    if [ -n "$DYN_PID" ]; then
        kill "$DYN_PID" 2>/dev/null || true
        wait "$DYN_PID" 2>/dev/null || true
    fi
    if [ -n "$CAN_PID" ]; then
        kill "$CAN_PID" 2>/dev/null || true
        wait "$CAN_PID" 2>/dev/null || true
    fi
    if [ "$CLUSTER_STARTED" = 1 ]; then
        PGOPTIONS="-c client_min_messages=warning" \
            psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
        FS_CLUSTER_ENV="$WORK/cluster.env" bash "$ROOT/scripts/pgcluster.sh" stop >/dev/null || true
    fi
    rm -rf -- "$WORK"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# 1. The observer.
mkdir -p "$BUILD"
cc -O2 -Wall -Wextra -I"$(pg_config --includedir)" -o "$BUILD/stream_observer" "$BENCH/stream_observer.c" \
   -L"$(pg_config --libdir)" -lpq -lm

# 2. A cluster of our own, with the stream worker.
say "starting a cluster with the stream worker (feature_store in shared_preload_libraries)"
CLUSTER_STARTED=1
# The worker stays between the runs (no idle timeout), so that none of them
# pays for a worker's start.
FS_CLUSTER_ENV="$WORK/cluster.env" FS_PG_EXTRA_CONF="shared_preload_libraries = 'feature_store'
feature_store.stream_idle_timeout_ms = '1d'
track_commit_timestamp = on$DURABLE_CONF" bash scripts/pgcluster.sh start >/dev/null
# shellcheck disable=SC1091
. "$WORK/cluster.env"
export PGDATABASE=postgres
psql -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $DB"
export PGDATABASE="$DB"
PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION feature_store'
[ "$(psql -X -At -c "SELECT count(*) FROM pg_proc WHERE proname = 'fs_push'")" = 1 ] ||
    die "the installed extension has no fs_push (run scripts/setup.sh)"
# CREATE EXTENSION called a worker into the database.
for _ in $(seq 1 150); do
    [ -n "$(psql -X -At -c 'SELECT worker_pid FROM fs_stream_status')" ] && break
    sleep 0.1
done
[ -n "$(psql -X -At -c 'SELECT worker_pid FROM fs_stream_status')" ] ||
    die "the stream worker does not run (log: $FS_CLUSTER_DIR/postgres.log)"

# 3. dynalite, if a configuration wants it.
HAVE_DDB=0
DDB_WHY=""
if [[ " $CONFIGS" == *" dynamodb:"* ]]; then
    if [ "$(psql -X -At -c "SELECT count(*) FROM pg_foreign_data_wrapper WHERE fdwname = 'fs_dynamodb'")" != 1 ]; then
        DDB_WHY="the installed extension has no fs_dynamodb foreign data wrapper"
    elif ! command -v node >/dev/null 2>&1 || [ ! -f "$ROOT/node_modules/dynalite/index.js" ]; then
        DDB_WHY="node or node_modules/dynalite missing (scripts/setup.sh)"
    else
        ready="$WORK/dynalite.ready"
        setsid node "$BENCH/dynalite_bench.js" "$ready" </dev/null >"$WORK/dynalite.log" 2>&1 &
        DYN_PID=$!
        for _ in $(seq 1 100); do
            [ -s "$ready" ] && break
            kill -0 "$DYN_PID" 2>/dev/null || break
            sleep 0.1
        done
        [ -s "$ready" ] || { cat "$WORK/dynalite.log" >&2; die "dynalite did not start"; }
        read -r API_PORT CTL_PORT _ <"$ready"
        ENDPOINT="http://127.0.0.1:$API_PORT"
        CONTROL="http://127.0.0.1:$CTL_PORT"
        HAVE_DDB=1
        say "dynalite $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$ROOT/node_modules/dynalite/package.json" | head -n 1)" \
            "(test/bench/dynalite_bench.js) on $ENDPOINT, pid $DYN_PID, in memory, ours alone"
    fi
fi

# 3b. the canned responder, if a configuration wants it.
HAVE_CANNED=0
if [[ " $CONFIGS" == *" canned:"* ]]; then
    if [ "$(psql -X -At -c "SELECT count(*) FROM pg_foreign_data_wrapper WHERE fdwname = 'fs_dynamodb'")" != 1 ]; then
        DDB_WHY="the installed extension has no fs_dynamodb foreign data wrapper"
    elif ! command -v node >/dev/null 2>&1; then
        DDB_WHY="node missing"
    else
        ready="$WORK/canned.ready"
        setsid node "$BENCH/canned_responder.js" "$ready" --keep-writes --latency-ms "$CANNED_LATENCY_MS" \
            </dev/null >"$WORK/canned.log" 2>&1 &
        CAN_PID=$!
        for _ in $(seq 1 100); do
            [ -s "$ready" ] && break
            kill -0 "$CAN_PID" 2>/dev/null || break
            sleep 0.1
        done
        [ -s "$ready" ] || { cat "$WORK/canned.log" >&2; die "the canned responder did not start"; }
        CANNED_ENDPOINT="http://127.0.0.1:$(head -n 1 "$ready")"
        HAVE_CANNED=1
        say "canned responder (test/bench/canned_responder.js --keep-writes, a benchmark fixture) on" \
            "$CANNED_ENDPOINT, pid $CAN_PID, answering every request after $CANNED_LATENCY_MS ms"
    fi
fi

# dynalite's requests since the last call, and the time it had one in flight.
window() { node -e 'require("http").get(process.argv[1] + "/window", r => { let b = ""; r.on("data", d => b += d);
                    r.on("end", () => { const w = JSON.parse(b); console.log(w.requests + " " + w.busy_ms.toFixed(0) + " " + w.peak); }); })' "$CONTROL"; }

# The value of key=... in a RESULT line.
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }

SUMMARY=()
n=0
for c in $CONFIGS; do
    IFS=: read -r store entities flush_ms batch rate wconn <<<"$c"
    rate="${rate:-$RATE}"
    n=$((n + 1))
    view="bench_stream_${n}_${store}"
    if { [ "$store" = dynamodb ] && [ "$HAVE_DDB" != 1 ]; } || { [ "$store" = canned ] && [ "$HAVE_CANNED" != 1 ]; }; then
        say "configuration $n ($c) skipped: $DDB_WHY"
        continue
    fi
    echo
    # The worker's settings: the server's defaults unless the configuration names them.
    {
        if [ -n "$flush_ms" ]; then echo "ALTER SYSTEM SET feature_store.stream_flush_interval_ms = $flush_ms;"
        else echo "ALTER SYSTEM RESET feature_store.stream_flush_interval_ms;"; fi
        if [ -n "$batch" ]; then echo "ALTER SYSTEM SET feature_store.stream_batch_size = $batch;"
        else echo "ALTER SYSTEM RESET feature_store.stream_batch_size;"; fi
        if [ -n "$wconn" ]; then echo "ALTER SYSTEM SET feature_store.max_write_connections = $wconn;"
        else echo "ALTER SYSTEM RESET feature_store.max_write_connections;"; fi
        echo "SELECT pg_reload_conf();"
    } | psql -X -q -v ON_ERROR_STOP=1 >/dev/null
    sleep 0.5
    read -r cur_flush cur_batch cur_wconn <<<"$(psql -X -q -At -F' ' -c "LOAD 'feature_store'" \
        -c "SELECT current_setting('feature_store.stream_flush_interval_ms'), current_setting('feature_store.stream_batch_size'), current_setting('feature_store.max_write_connections')")"
    settings="flush interval $cur_flush, batch of $cur_batch events, max_write_connections $cur_wconn"
    say "configuration $n: $store store, $entities entities, worker: $settings;" \
        "$rate events/s for $SECONDS_PUSH s from $CLIENTS connections"

    args=(-v view="$view" -v store="$store")
    [ "$store" = dynamodb ] && args+=(-v endpoint="$ENDPOINT")
    [ "$store" = canned ] && args=(-v view="$view" -v store=dynamodb -v endpoint="$CANNED_ENDPOINT")
    psql -X -q -v ON_ERROR_STOP=1 "${args[@]}" -f "$BENCH/stream_setup.sql"

    rm -f -- "$WORK/observer.ready"
    "$BUILD/stream_observer" --view "$view" --sample "$SAMPLE" --interval-ms "$INTERVAL_MS" \
        --drain-s "$DRAIN" --rate "$rate" --ready-file "$WORK/observer.ready" >"$WORK/observer.out" 2>&1 &
    OBS_PID=$!
    for _ in $(seq 1 100); do
        [ -s "$WORK/observer.ready" ] && break
        kill -0 "$OBS_PID" 2>/dev/null || break
        sleep 0.1
    done
    [ -s "$WORK/observer.ready" ] || { cat "$WORK/observer.out" >&2; die "the observer did not start"; }
    [ "$store" = dynamodb ] && window >/dev/null

    PGB=(pgbench -n -M prepared -c "$CLIENTS" -j "$THREADS" -T "$SECONDS_PUSH" -R "$rate" -P 10
         -D view="$view" -D entities="$entities" -f "$BENCH/stream_push.sql")
    "${PGB[@]}" >"$WORK/pgbench.out" 2>&1 &
    PGB_PID=$!
    wait "$PGB_PID" || { cat "$WORK/pgbench.out" >&2; die "pgbench failed"; }
    PGB_PID=""
    kill -USR1 "$OBS_PID"
    ddb_window=""
    [ "$store" = dynamodb ] && ddb_window="$(window)"
    wait "$OBS_PID" || { cat "$WORK/observer.out" >&2; die "the observer failed"; }
    OBS_PID=""

    echo "pushers: ${PGB[*]}"
    { grep -E '^progress:' "$WORK/pgbench.out" || true; } | sed 's/^/  /'
    processed="$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/pgbench.out")"
    tps="$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$WORK/pgbench.out")"
    lag="$(sed -n 's/^rate limit schedule lag: avg \([0-9.]*\) (max \([0-9.]*\)) ms/\1 ms avg, \2 ms max/p' "$WORK/pgbench.out")"
    echo "  $processed events pushed, $(printf '%.0f' "$tps") events/s achieved (offered $rate);" \
         "pgbench's schedule lag (how late pushes started against the Poisson schedule): $lag"
    grep -v '^RESULT' "$WORK/observer.out"
    result="$(grep '^RESULT' "$WORK/observer.out")"
    store_line=""
    if [ -n "$ddb_window" ]; then
        read -r reqs busy_ms peak <<<"$ddb_window"
        push_s="$(field "$result" push_s)"
        gets="$(field "$result" observer_gets)"
        store_line="$(awk -v r="$reqs" -v b="$busy_ms" -v s="$push_s" -v g="$gets" -v p="$peak" 'BEGIN {
            printf "%.0f requests/s (%.0f of them the observer'"'"'s BatchGetItem, the rest the worker'"'"'s UpdateItem), at least one in flight %.0f%% of the time, at most %d at once", r / s, g / s, 100 * b / (s * 1000), p }')"
        echo "dynalite while pushing: $store_line"
    fi
    p95="$(field "$result" p95_ms)"
    fresh_ok=FAIL
    [[ "$p95" =~ ^[0-9]+$ ]] && [ "$p95" -le 1000 ] && fresh_ok=PASS
    queue_ok=PASS
    [ "$(field "$result" growing)" = 1 ] && queue_ok=FAIL
    aim=""
    [[ "$p95" =~ ^[0-9]+$ ]] && [ "$p95" -le 250 ] && aim=" (within the 250 ms aim)"
    echo "targets: freshness p95 <= 1 s: $fresh_ok$aim; queue not growing over the last 10 s: $queue_ok"
    SUMMARY+=("$(printf '%-2s %-8s %8s %6s %6s %6s %7s %8.0f %7s %7s %7s %7s %7s %6s %-4s %-4s' \
        "$n" "$store" "$entities" "$cur_flush" "$cur_batch" "$cur_wconn" "$rate" "$tps" \
        "$(field "$result" p50_ms)" "$p95" "$(field "$result" p99_ms)" \
        "$(field "$result" depth_max)" "$(field "$result" depth_last)" "$(field "$result" trend)" \
        "$fresh_ok" "$queue_ok")")
done

echo
say "summary (freshness in ms from the push's commit to the first fs_get_features serving it;" \
    "queue depth from fs_stream_status every second while pushing; trend: events/s over the last 10 s)"
printf '%-2s %-8s %8s %6s %6s %6s %7s %8s %7s %7s %7s %7s %7s %6s %-4s %-4s\n' \
    '#' store entities flush batch wconn offered achieved p50 p95 p99 'q max' 'q last' trend p95 queue
for line in "${SUMMARY[@]}"; do echo "$line"; done
echo "targets: freshness p95 <= 1 s (aim 250 ms); the queue not growing (the trend of the last 10 s, less twice" \
     "its standard error, at most 1% of the offered rate)"
echo
echo "machine:  $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)," \
     "$(uname -sr); load average $LOAD_BEFORE before the part, $(cut -d' ' -f1-3 /proc/loadavg) after"
echo "server:   $(psql -X -At -c 'SELECT version()' | sed 's/ on .*//'), the cluster of scripts/pgcluster.sh" \
     "(fsync = $(psql -X -At -c 'SHOW fsync'), synchronous_commit = $(psql -X -At -c 'SHOW synchronous_commit')," \
     "shared_buffers = $(psql -X -At -c 'SHOW shared_buffers')) with the stream worker"
[ "$HAVE_DDB" = 1 ] && echo "store:    dynalite $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$ROOT/node_modules/dynalite/package.json" | head -n 1)," \
     "node $(node --version), fs_dynamodb server options at their defaults"
echo "code:     $CODE (the checkout when the part started)"
echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "command:  BENCH_ONLY=stream make bench  (that is: BENCH_STREAM_CONFIGS='$CONFIGS' BENCH_STREAM_RATE=$RATE" \
     "BENCH_STREAM_SECONDS=$SECONDS_PUSH BENCH_STREAM_CLIENTS=$CLIENTS bash test/bench/run_stream.sh)"

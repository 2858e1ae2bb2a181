#!/usr/bin/env bash
# run_remote_write.sh — issue 14's remote write benchmark (run by
# test/bench/run.sh with BENCH_ONLY=remote_write; a benchmark, not a test).
#
# The write lanes against a store with real latency: the canned responder
# (test/bench/canned_responder.js, a benchmark fixture) answers every request
# after BENCH_CANNED_LATENCY_MS (20 ms), writes included, as DynamoDB answers
# a write in a few ms to tens of ms.  Before (feature_store.max_write_connections
# = 16, which is what the writes had before: max_connections) and after (the
# setting's default) alternate, BENCH_REMOTE_WRITE_ROUNDS times:
#
#   ingest  fs_ingest of BENCH_REMOTE_WRITE_ROWS (1,000,000) changed entities
#           of 20 float8 features into a foreign table of fs_dynamodb on the
#           responder (test/bench/remote_write.sql), and of
#           BENCH_REMOTE_WRITE_BEFORE_ROWS (100,000) with 16 write connections
#           (at the old rate a million would take 23 minutes); writes/s =
#           online_writes / gold time.  Target: >= 3,400 writes/s (a million
#           in <= 5 min).  The responder keeps nothing (there is no read-back
#           of the values: fs_ingest's correctness is the tests' business);
#           the script checks that every entity was acknowledged.
#   stream  the stream worker (test/bench/run_stream.sh, store "canned", the
#           responder with --keep-writes, so that the observer reads back what
#           the worker wrote) at BENCH_STREAM_RATE (5,000) events/s over
#           100,000 entities for BENCH_STREAM_SECONDS (60) s, with 16 write
#           connections and with the default.  Targets: the queue flat,
#           freshness p95 <= 1 s.
#
# Each part runs on a cluster of its own (scripts/pgcluster.sh) with
# fsync = on and synchronous_commit = on, not the throwaway cluster's off.
#
# Environment (all optional):
#   BENCH_REMOTE_WRITE_PARTS (ingest,stream)   the parts to run
#   BENCH_REMOTE_WRITE_ROUNDS (1)              alternations before/after
#   BENCH_REMOTE_WRITE_ROWS (1000000)          entities of an "after" ingest
#   BENCH_REMOTE_WRITE_BEFORE_ROWS (100000)    entities of a "before" ingest
#   BENCH_REMOTE_WRITE_BEFORE (16)             max_write_connections before
#   BENCH_CANNED_LATENCY_MS (20)               the responder's latency
#   BENCH_STREAM_*                             see test/bench/run_stream.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BENCH="$ROOT/test/bench"

PARTS="${BENCH_REMOTE_WRITE_PARTS:-ingest,stream}"
ROUNDS="${BENCH_REMOTE_WRITE_ROUNDS:-1}"
ROWS="${BENCH_REMOTE_WRITE_ROWS:-1000000}"
BEFORE_ROWS="${BENCH_REMOTE_WRITE_BEFORE_ROWS:-100000}"
BEFORE="${BENCH_REMOTE_WRITE_BEFORE:-16}"
LATENCY="${BENCH_CANNED_LATENCY_MS:-20}"
DB=fs_bench_remote_write

say() { printf '== %s\n' "$*"; }
die() { echo "run_remote_write: $*" >&2; exit 1; }

for v in ROUNDS ROWS BEFORE_ROWS BEFORE; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, not '${!v}'"
done
[[ "$LATENCY" =~ ^[0-9]+$ ]] || die "BENCH_CANNED_LATENCY_MS must be an integer, not '$LATENCY'"
command -v node >/dev/null 2>&1 || die "node not found"

cd "$ROOT"
CODE="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- src sql 2>/dev/null || echo ' (with uncommitted changes in src/ or sql/)')"
WORK="$(mktemp -d /tmp/feature_store_bench_remote_write.XXXXXX)"
CLUSTER_STARTED=0
CAN_PID=""
cleanup() {
    if [ -n "$CAN_PID" ]; then
        kill "$CAN_PID" 2>/dev/null || true
        wait "$CAN_PID" 2>/dev/null || true
    fi
    if [ "$CLUSTER_STARTED" = 1 ]; then
        FS_CLUSTER_ENV="$WORK/cluster.env" bash "$ROOT/scripts/pgcluster.sh" stop >/dev/null || true
    fi
    rm -rf -- "$WORK"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

INGEST_SUMMARY=""
if [[ ",$PARTS," == *",ingest,"* ]]; then
    say "ingest: a cluster of its own, fsync = on, synchronous_commit = on"
    CLUSTER_STARTED=1
    FS_CLUSTER_ENV="$WORK/cluster.env" FS_PG_EXTRA_CONF="fsync = on
synchronous_commit = on" bash scripts/pgcluster.sh start >/dev/null
    # shellcheck disable=SC1091
    . "$WORK/cluster.env"
    export PGHOST PGPORT PGUSER
    export PGDATABASE=postgres
    SETTINGS="fsync = $(psql -X -At -c 'SHOW fsync'), synchronous_commit = $(psql -X -At -c 'SHOW synchronous_commit'), shared_buffers = $(psql -X -At -c 'SHOW shared_buffers')"
    psql -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $DB"
    export PGDATABASE="$DB"

    ready="$WORK/canned.ready"
    BENCH_CANNED_TABLE=fs_bench_remote_write setsid node "$BENCH/canned_responder.js" "$ready" \
        --latency-ms "$LATENCY" </dev/null >"$WORK/canned.log" 2>&1 &
    CAN_PID=$!
    for _ in $(seq 1 100); do
        [ -s "$ready" ] && break
        kill -0 "$CAN_PID" 2>/dev/null || break
        sleep 0.1
    done
    [ -s "$ready" ] || { cat "$WORK/canned.log" >&2; die "the canned responder did not start"; }
    ENDPOINT="http://127.0.0.1:$(head -n 1 "$ready")"
    say "canned responder (a benchmark fixture) on $ENDPOINT, answering every request after $LATENCY ms"

    PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -v setup=1 \
        -v endpoint="$ENDPOINT" -f "$BENCH/remote_write.sql"
    DEFAULT="$(psql -X -q -At -c "LOAD 'feature_store'" -c 'SHOW feature_store.max_write_connections')"
    run=0
    RESULTS=()
    for r in $(seq 1 "$ROUNDS"); do
        for side in before after; do
            run=$((run + 1))
            if [ "$side" = before ]; then n="$BEFORE_ROWS"; m="$BEFORE"; else n="$ROWS"; m=default; fi
            say "round $r, $side: fs_ingest of $n changed entities, max_write_connections $m"
            line="$(psql -X -q -At -v ON_ERROR_STOP=1 -v rows="$n" -v run="$run" -v mwc="$m" \
                        -v label="$side" -f "$BENCH/remote_write.sql" 2>"$WORK/ingest.err")" ||
                { cat "$WORK/ingest.err" >&2; die "the ingest run failed"; }
            echo "  $line"
            RESULTS+=("$line")
        done
    done
    field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }
    INGEST_SUMMARY="$(
        printf '%-6s %5s %4s %9s %9s %8s %8s %9s %s\n' side round mwc rows writes gold_s total_s writes/s 'target >= 3,400 writes/s'
        i=0
        for line in "${RESULTS[@]}"; do
            i=$((i + 1))
            wps="$(field "$line" writes_per_s)"
            verdict=FAIL
            [ "${wps:-0}" -ge 3400 ] 2>/dev/null && verdict=PASS
            printf '%-6s %5s %4s %9s %9s %8s %8s %9s %s\n' "$(field "$line" label)" $(((i + 1) / 2)) \
                "$(field "$line" mwc)" "$(field "$line" rows)" "$(field "$line" writes)" \
                "$(field "$line" gold_s)" "$(field "$line" total_s)" "$wps" "$verdict"
        done)"
    echo
    say "ingest summary (writes/s = online_writes / gold time; the store answers after $LATENCY ms)"
    echo "$INGEST_SUMMARY"
    echo "settings: $SETTINGS; feature_store.max_write_connections default $DEFAULT," \
         "max_connections $(psql -X -q -At -c "LOAD 'feature_store'" -c 'SHOW feature_store.max_connections')"

    kill "$CAN_PID" 2>/dev/null || true
    wait "$CAN_PID" 2>/dev/null || true
    CAN_PID=""
    PGDATABASE=postgres psql -X -q -c "DROP DATABASE $DB" >/dev/null
    FS_CLUSTER_ENV="$WORK/cluster.env" bash scripts/pgcluster.sh stop >/dev/null
    CLUSTER_STARTED=0
fi

if [[ ",$PARTS," == *",stream,"* ]]; then
    echo
    CONFIGS=""
    for _ in $(seq 1 "$ROUNDS"); do
        CONFIGS="$CONFIGS canned:100000:::${BENCH_STREAM_RATE:-5000}:$BEFORE canned:100000"
    done
    say "stream: before (max_write_connections $BEFORE) and after (the default), alternating"
    BENCH_STREAM_DURABLE=1 BENCH_STREAM_CANNED_LATENCY_MS="$LATENCY" BENCH_STREAM_CONFIGS="${CONFIGS# }" \
        bash "$BENCH/run_stream.sh"
fi

if [ -n "$INGEST_SUMMARY" ]; then
    echo
    say "ingest summary, again"
    echo "$INGEST_SUMMARY"
fi
echo
echo "machine:  $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "code:     $CODE"
echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "command:  BENCH_ONLY=remote_write make bench  (that is: BENCH_REMOTE_WRITE_PARTS=$PARTS" \
     "BENCH_REMOTE_WRITE_ROUNDS=$ROUNDS BENCH_REMOTE_WRITE_ROWS=$ROWS BENCH_REMOTE_WRITE_BEFORE_ROWS=$BEFORE_ROWS" \
     "BENCH_REMOTE_WRITE_BEFORE=$BEFORE BENCH_CANNED_LATENCY_MS=$LATENCY bash test/bench/run_remote_write.sh)"

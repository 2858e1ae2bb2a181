#!/usr/bin/env bash
# run_canned.sh — the canned-responder part of `make bench` (run by
# test/bench/run.sh; BENCH_ONLY=canned runs it alone).  Issue 12's baseline:
# our own serving overhead against a store that costs almost nothing.
#
# Needs the cluster in the PG* variables (run.sh sets them) and
# test/bench/build/bench_serving (run.sh compiles it).  It
#
#   1. skips, with a message and status 0, when the installed extension has
#      no fs_dynamodb wrapper, or node / node_modules are missing;
#   2. starts test/bench/canned_responder.js (a benchmark fixture, not a
#      store: pre-serialized items, BENCH_CANNED_ENTITIES of them, answered
#      after BENCH_CANNED_LATENCY_MS) on a free loopback port, and stops it
#      on exit;
#   3. points the foreign table / feature view bench_canned at it
#      (setup_canned.sql) and checks, before any timing, that fs_get_features
#      returns every cell PRESENT with the value the responder generated
#      (check_canned.sql); a wrong answer fails the bench;
#   4. runs bench_serving with the methods ddb-count (SELECT count(*) FROM
#      fs_get_features), ddb-scan (SELECT count(*) FROM bench_canned WHERE
#      user_id = ANY($1); the FDW asks the store for the key alone),
#      ddb-scan-all (SELECT count(t) FROM bench_canned t WHERE ...: the same
#      scan needing all 22 attributes), ddb-matrix (SELECT fs_get_feature_matrix
#      of the 20 features, its float8[] fetched in binary format and checked
#      once for its 1,000 x 20 shape before timing), sdk (the AWS SDK v3) and plain (plain Node.js
#      keep-alive HTTP + JSON.parse), alternating in each iteration, the two
#      Node.js clients through ddb_sdk.mjs serve, the same 10 BatchGetItem
#      requests of 100 keys each;
#   5. with perf (and BENCH_PERF != 0), profiles the backend over
#      BENCH_PERF_CALLS count(*) of fs_get_features calls: its CPU per call,
#      where it goes, and the time spent parsing and decoding per answer.
#
# Environment (all optional):
#   BENCH_CANNED_ITERATIONS (200)  BENCH_CANNED_WARMUP (10)
#   BENCH_CANNED_ENTITIES (1000)   entities in the table, and ids per call
#   BENCH_CANNED_LATENCY_MS (0)    the responder's service latency
#   BENCH_CANNED_METHODS (ddb-count,ddb-scan,ddb-scan-all,ddb-matrix,sdk,plain)
#   BENCH_SEED (42)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BENCH="$ROOT/test/bench"
BUILD="$BENCH/build"
TABLE=fs_bench_canned
ENTITIES="${BENCH_CANNED_ENTITIES:-1000}"
LATENCY="${BENCH_CANNED_LATENCY_MS:-0}"

say() { printf '== %s\n' "$*"; }
skip() { say "canned-responder benchmark skipped: $*"; exit 0; }

cd "$ROOT"
[ -x "$BUILD/bench_serving" ] || { echo "run_canned: $BUILD/bench_serving missing (run test/bench/run.sh)" >&2; exit 1; }
[[ "$ENTITIES" =~ ^[1-9][0-9]*$ ]] || { echo "run_canned: BENCH_CANNED_ENTITIES must be a positive integer" >&2; exit 2; }
[[ "$LATENCY" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "run_canned: BENCH_CANNED_LATENCY_MS must be a number of ms" >&2; exit 2; }

# 1. What it needs.
psql -X -q -v ON_ERROR_STOP=1 -c 'SET client_min_messages = warning' \
     -c 'CREATE EXTENSION IF NOT EXISTS feature_store' >/dev/null
if [ "$(psql -X -At -c "SELECT count(*) FROM pg_foreign_data_wrapper WHERE fdwname = 'fs_dynamodb'")" != 1 ]; then
    skip "the installed extension has no fs_dynamodb foreign data wrapper"
fi
NODE="$(command -v node || command -v nodejs || true)"
[ -n "$NODE" ] || skip "node not found (scripts/setup.sh installs it)"
[ -d "$ROOT/node_modules/@aws-sdk/client-dynamodb" ] || skip "node_modules lacks @aws-sdk/client-dynamodb (npm ci)"

# 2. The responder, ours alone, on a free loopback port.
TMP="$(mktemp -d /tmp/feature_store_bench_canned.XXXXXX)"
RESP_PID=""
stop_responder() {
    if [ -n "$RESP_PID" ]; then
        kill "$RESP_PID" 2>/dev/null || true
        wait "$RESP_PID" 2>/dev/null || true
    fi
    rm -rf -- "$TMP"
}
trap stop_responder EXIT
BENCH_CANNED_ENTITIES="$ENTITIES" BENCH_CANNED_TABLE="$TABLE" BENCH_CANNED_PORT=0 \
    "$NODE" "$BENCH/canned_responder.js" "$TMP/ready" --dump "$TMP/cells.csv" --latency-ms "$LATENCY" \
    </dev/null >"$TMP/responder.log" 2>&1 &
RESP_PID=$!
n=0
until [ -s "$TMP/ready" ]; do
    n=$((n + 1))
    if [ "$n" -gt 100 ] || ! kill -0 "$RESP_PID" 2>/dev/null; then
        cat "$TMP/responder.log" >&2 || true
        echo "run_canned: the canned responder did not start" >&2
        exit 1
    fi
    sleep 0.1
done
read -r PORT <"$TMP/ready"
ENDPOINT="http://127.0.0.1:$PORT"
say "canned responder (test/bench/canned_responder.js, a benchmark fixture) on $ENDPOINT, pid $RESP_PID:" \
    "$ENTITIES items x 20 float features, service latency $LATENCY ms"

# 3. The foreign table, and the check that the fixture answers correctly.
psql -X -q -v ON_ERROR_STOP=1 -v endpoint="$ENDPOINT" -v table="$TABLE" -f "$BENCH/setup_canned.sql"
psql -X -q -v ON_ERROR_STOP=1 -f "$BENCH/check_canned.sql" <"$TMP/cells.csv" ||
    { echo "run_canned: fs_get_features does not return what the canned responder serves: no benchmark" >&2; exit 1; }

# 4. The run.
CMD=(env "BENCH_ITERATIONS=${BENCH_CANNED_ITERATIONS:-200}" "BENCH_WARMUP=${BENCH_CANNED_WARMUP:-10}"
     "BENCH_ENTITIES=$ENTITIES" "BENCH_ROWS=$ENTITIES" "BENCH_ABSENT_PCT=0"
     "BENCH_SEED=${BENCH_SEED:-42}" "BENCH_DDB_VIEW=bench_canned"
     "BENCH_METHODS=${BENCH_CANNED_METHODS:-ddb-count,ddb-scan,ddb-scan-all,ddb-matrix,sdk,plain}"
     "BENCH_SDK_HELPER=BENCH_DDB_TABLE=$TABLE $NODE test/bench/ddb_sdk.mjs serve"
     "$BUILD/bench_serving")
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
say "running the benchmark (load average before: $LOAD_BEFORE)"
echo
FS_DYNALITE_ENDPOINT="$ENDPOINT" "${CMD[@]}"
echo
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"

# 5. Where the backend's CPU goes, and what parsing and decoding cost per answer.
if [ "${BENCH_PERF:-1}" != 0 ] && command -v perf >/dev/null 2>&1; then
    say "profiling the backend over ${BENCH_PERF_CALLS:-30} count(*) of fs_get_features calls (perf)"
    # shellcheck source=perf_backend.sh
    . "$BENCH/perf_backend.sh"
    perf_backend "${BENCH_PERF_CALLS:-30}" $(( (ENTITIES + 99) / 100 )) \
        "fs_get_features:the function (everything below)|fs_ddb_lookup:  remote lookup (requests, parsing, decoding)|fs_ddb_run:    fs_ddb_run: sending, waiting, receiving (libcurl)|fs_jparse:    fs_jparse: parsing the answers (simdjson)|json_loadb:    json_loadb: parsing the answers (jansson, before issue 12)|json_delete:    json_delete: freeing them (jansson, before issue 12)|lookup_item:    lookup_item: AttributeValue -> Datum|fs_ddb_decode:      of which fs_ddb_decode|fs_value_to_jsonb:  Datum -> jsonb value|tuplestore_putvalues:  rows into the tuplestore" \
        -- "BENCH_ENTITIES=$ENTITIES" "BENCH_ROWS=$ENTITIES" BENCH_ABSENT_PCT=0 "BENCH_SEED=${BENCH_SEED:-42}" \
        BENCH_DDB_VIEW=bench_canned BENCH_METHODS=ddb-count "FS_DYNALITE_ENDPOINT=$ENDPOINT" "$BUILD/bench_serving"
    echo
fi

echo "load:     $LOAD_BEFORE before, $LOAD_AFTER after (1, 5, 15 min)"
echo "machine:  $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)," \
     "$(uname -sr), $(. /etc/os-release && echo "$PRETTY_NAME")"
echo "server:   $(psql -X -At -c 'SELECT version()'); node $("$NODE" --version)," \
     "@aws-sdk/client-dynamodb $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$ROOT/node_modules/@aws-sdk/client-dynamodb/package.json" | head -n 1)"
echo "settings: feature_store.max_connections=$(psql -X -q -At -c "LOAD 'feature_store'" -c "SHOW feature_store.max_connections")," \
     "server options: $(psql -X -At -c "SELECT array_to_string(srvoptions, ' ') FROM pg_foreign_server WHERE srvname = 'bench_canned_server'")"
echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "command:  BENCH_ONLY=canned make bench  (that is: PGHOST=$PGHOST PGPORT=$PGPORT PGUSER=$PGUSER" \
     "PGDATABASE=$PGDATABASE FS_DYNALITE_ENDPOINT=$ENDPOINT ${CMD[*]:1})"

#!/usr/bin/env bash
# run_dynamodb.sh — the DynamoDB part of `make bench` (run by test/bench/run.sh,
# after the embedded part; BENCH_ONLY=dynamodb runs it alone).
#
# Needs the cluster in the PG* variables (run.sh sets them) and
# test/bench/build/bench_serving (run.sh compiles it).  It
#
#   1. skips, with a message and status 0, when the installed extension has
#      no fs_dynamodb wrapper, or node / node_modules are missing;
#   2. starts dynalite_bench.js (dynalite plus a counter of requests in
#      flight) on 127.0.0.1, and stops it on exit;
#   3. loads BENCH_DDB_ROWS items with the AWS SDK (ddb_sdk.mjs load), and
#      registers the foreign table as the feature view bench_ddb
#      (setup_dynamodb.sql);
#   4. runs bench_serving with the methods ddb, sdk, ddb-count, alternating
#      in each iteration, the SDK through ddb_sdk.mjs serve;
#   5. with perf (and BENCH_PERF != 0), profiles the backend over
#      BENCH_PERF_CALLS fs_get_features calls and prints where its CPU goes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BENCH="$ROOT/test/bench"
BUILD="$BENCH/build"
DYN_ENV="${BENCH_DYNALITE_ENV:-/tmp/feature_store_bench_dynalite.env}"
DDB_ROWS="${BENCH_DDB_ROWS:-20000}"
DDB_TABLE=fs_bench_ddb

say() { printf '== %s\n' "$*"; }
skip() { say "DynamoDB benchmark skipped: $*"; exit 0; }

cd "$ROOT"
[ -x "$BUILD/bench_serving" ] || { echo "run_dynamodb: $BUILD/bench_serving missing (run test/bench/run.sh)" >&2; exit 1; }

# 1. What it needs.
psql -X -q -v ON_ERROR_STOP=1 -c 'SET client_min_messages = warning' \
     -c 'CREATE EXTENSION IF NOT EXISTS feature_store' >/dev/null
if [ "$(psql -X -At -c "SELECT count(*) FROM pg_foreign_data_wrapper WHERE fdwname = 'fs_dynamodb'")" != 1 ]; then
    skip "the installed extension has no fs_dynamodb foreign data wrapper"
fi
NODE="$(command -v node || command -v nodejs || true)"
[ -n "$NODE" ] || skip "node not found (scripts/setup.sh installs it)"
[ -f "$ROOT/node_modules/dynalite/index.js" ] && [ -d "$ROOT/node_modules/@aws-sdk/client-dynamodb" ] ||
    skip "node_modules lacks dynalite or @aws-sdk/client-dynamodb (npm ci)"

# 2. dynalite, instrumented, ours alone.
if [ -f "$DYN_ENV.pid" ]; then
    old="$(cat "$DYN_ENV.pid" 2>/dev/null || true)"
    if [[ "$old" =~ ^[0-9]+$ ]] && tr '\0' ' ' <"/proc/$old/cmdline" 2>/dev/null | grep -q dynalite_bench.js; then
        kill "$old" 2>/dev/null || true
    fi
    rm -f -- "$DYN_ENV" "$DYN_ENV.pid"
fi
ready="$DYN_ENV.ready"
rm -f -- "$ready" "$ready.tmp"
setsid "$NODE" "$BENCH/dynalite_bench.js" "$ready" </dev/null >"$DYN_ENV.log" 2>&1 &
DYN_PID=$!
echo "$DYN_PID" >"$DYN_ENV.pid"
stop_dynalite() {
    kill "$DYN_PID" 2>/dev/null || true
    wait "$DYN_PID" 2>/dev/null || true
    rm -f -- "$DYN_ENV" "$DYN_ENV.pid"
}
trap stop_dynalite EXIT
n=0
until [ -s "$ready" ]; do
    n=$((n + 1))
    if [ "$n" -gt 100 ] || ! kill -0 "$DYN_PID" 2>/dev/null; then
        cat "$DYN_ENV.log" >&2 || true
        echo "run_dynamodb: dynalite did not start" >&2
        exit 1
    fi
    sleep 0.1
done
read -r API_PORT CTL_PORT _ <"$ready"
rm -f -- "$ready"
export FS_DYNALITE_ENDPOINT="http://127.0.0.1:$API_PORT"
export BENCH_DDB_CONTROL="http://127.0.0.1:$CTL_PORT"
printf 'export FS_DYNALITE_ENDPOINT=%s BENCH_DDB_CONTROL=%s\n' \
    "$FS_DYNALITE_ENDPOINT" "$BENCH_DDB_CONTROL" >"$DYN_ENV"
say "dynalite $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$ROOT/node_modules/dynalite/package.json" | head -n 1)" \
    "(instrumented) on $FS_DYNALITE_ENDPOINT, pid $DYN_PID"

# 3. The data.
say "loading $DDB_ROWS items into $DDB_TABLE with the AWS SDK (BatchWriteItem)"
BENCH_DDB_TABLE="$DDB_TABLE" BENCH_DDB_ROWS="$DDB_ROWS" "$NODE" "$BENCH/ddb_sdk.mjs" load
psql -X -q -v ON_ERROR_STOP=1 -v endpoint="$FS_DYNALITE_ENDPOINT" -v table="$DDB_TABLE" \
     -f "$BENCH/setup_dynamodb.sql"

# 4. The run.
HELPER="BENCH_DDB_TABLE=$DDB_TABLE '$NODE' '$BENCH/ddb_sdk.mjs' serve"
CMD=(env "BENCH_ITERATIONS=${BENCH_DDB_ITERATIONS:-100}" "BENCH_WARMUP=${BENCH_DDB_WARMUP:-5}"
     "BENCH_ENTITIES=${BENCH_ENTITIES:-1000}" "BENCH_ROWS=$DDB_ROWS" "BENCH_ABSENT_PCT=0"
     "BENCH_SEED=${BENCH_SEED:-42}" "BENCH_METHODS=${BENCH_DDB_METHODS:-ddb,sdk,ddb-count}"
     "BENCH_SDK_HELPER=$HELPER" "$BUILD/bench_serving")
say "running the DynamoDB benchmark"
echo
"${CMD[@]}"
echo

# 5. Where the backend's CPU goes.
if [ "${BENCH_PERF:-1}" != 0 ] && command -v perf >/dev/null 2>&1; then
    say "profiling the backend over ${BENCH_PERF_CALLS:-30} fs_get_features calls (perf)"
    # shellcheck source=perf_backend.sh
    . "$BENCH/perf_backend.sh"
    perf_backend "${BENCH_PERF_CALLS:-30}" 0 \
        "fs_get_features:the function (everything below)|fs_ddb_lookup:  remote lookup (requests, parsing, decoding)|fs_ddb_run:    fs_ddb_run: sending, waiting, receiving (libcurl)|fs_jparse:    fs_jparse: parsing the responses (simdjson)|lookup_item:    lookup_item: AttributeValue -> Datum|fs_ddb_decode:      of which fs_ddb_decode|fs_value_to_jsonb:  Datum -> jsonb value|tuplestore_putvalues:  rows into the tuplestore|OutputFunctionCall:output functions (rows to text)|secure_write:sending rows to the client" \
        -- BENCH_ROWS="$DDB_ROWS" BENCH_ABSENT_PCT=0 BENCH_SEED=7 BENCH_METHODS=ddb "$BUILD/bench_serving"
    echo
fi

echo "machine:  $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)," \
     "$(uname -sr), $(. /etc/os-release && echo "$PRETTY_NAME")"
echo "server:   $(psql -X -At -c 'SELECT version()'); node $("$NODE" --version)," \
     "dynalite $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$ROOT/node_modules/dynalite/package.json" | head -n 1)," \
     "@aws-sdk/client-dynamodb $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$ROOT/node_modules/@aws-sdk/client-dynamodb/package.json" | head -n 1)"
echo "settings: feature_store.max_connections=$(psql -X -q -At -c "LOAD 'feature_store'" -c "SHOW feature_store.max_connections")," \
     "server options: $(psql -X -At -c "SELECT array_to_string(srvoptions, ' ') FROM pg_foreign_server WHERE srvname = 'bench_ddb_server'")"
echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "command:  BENCH_ONLY=dynamodb make bench  (that is: PGHOST=$PGHOST PGPORT=$PGPORT PGUSER=$PGUSER" \
     "PGDATABASE=$PGDATABASE FS_DYNALITE_ENDPOINT=$FS_DYNALITE_ENDPOINT BENCH_DDB_CONTROL=$BENCH_DDB_CONTROL ${CMD[*]:1})"

#!/usr/bin/env bash
# run.sh — the serving benchmark behind `make bench` (a benchmark, not a test).
#
# Builds and installs the extension (scripts/setup.sh), starts the throwaway
# cluster (scripts/pgcluster.sh) unless one is already running, compiles
# bench_serving.c, and runs these benchmarks:
#
#   embedded  loads the benchmark tables (test/bench/setup.sql: two views of
#             1,000,000 rows, kept across runs while the cluster lives) and
#             times fs_get_features against the hand-written SQL, and
#             fs_get_feature_matrix (14 numeric features, result in binary
#             format) against the hand-written unnest LEFT JOIN of the same
#             cells (methods matrix and hand-join), fs_get_feature_vectors
#             against the hand-written join of all 20 features (hand-join-all),
#             fs_get_features against SELECT * of a table holding exactly its
#             rows (table), and the calls/s of vectors and hand-join-all from
#             4 clients at once;
#   stats     issue 13, the cost of the serving statistics: fs_get_features
#             (methods features-count and features) on the embedded store
#             with feature_store in shared_preload_libraries and without it,
#             BENCH_STATS_ROUNDS rounds of both states, each after a restart
#             of the cluster (ALTER SYSTEM, scripts/pgcluster.sh restart) and
#             a prewarm; checks in each state that fs_stats counted the calls
#             (or, without the preload, that it is empty with its NOTICE);
#             prints the medians and the ratio preloaded / not (target:
#             within 2%) (test/bench/run_stats.sh).  It restarts the cluster,
#             even a reused one, and sets shared_preload_libraries back at
#             the end, whatever happens; about 4 minutes;
#   dynamodb  starts an instrumented dynalite (test/bench/dynalite_bench.js),
#             loads a remote table of BENCH_DDB_ROWS items with the AWS SDK
#             (test/bench/ddb_sdk.mjs load), registers it as the feature view
#             bench_ddb (test/bench/setup_dynamodb.sql), then times, alternating,
#             fs_get_features over it and the AWS SDK for JavaScript v3 sending
#             the same BatchGetItem requests at once; then profiles the backend
#             with perf (when available).  Skipped, with a message, when the
#             installed extension has no fs_dynamodb wrapper or node_modules is
#             missing.
#   ingest    a 1,000,000-row snapshot of 20 features ingested with fs_ingest
#             into an empty view, then again with 1% of the entities changed
#             (test/bench/ingest.sql, in the database fs_bench_ingest, dropped
#             afterwards), for each store in turn: embedded (about a minute),
#             then dynamodb, a foreign table of fs_dynamodb over a dynalite of
#             its own (scripts/dynalite.sh, stopped afterwards; about a quarter
#             of an hour, most of it the first load).  The dynamodb store is
#             skipped, with a message, like the dynamodb part.
#   ingest_scale  issue 14, the batch lane at scale (test/bench/run_ingest_scale.sh):
#             a CSV file of BENCH_SCALE_ROWS (10,000,000) entities x 20 float8
#             features, COPY into the staging table + fs_ingest, first into an
#             empty view, then with 1% changed, alternating with a plain COPY
#             of the same file into an UNLOGGED all-text table (the yardstick);
#             the ratio, the stages, change detection, the backend's memory,
#             temporary files; fsync and synchronous_commit on.  About a
#             quarter of an hour at 10,000,000.
#   canned    issue 12's baseline: a canned responder (test/bench/canned_responder.js,
#             a benchmark fixture that answers BatchGetItem from pre-serialized
#             items, so the store costs almost nothing) behind the foreign
#             table bench_canned (1,000 ids x 20 float features); after a check
#             that fs_get_features returns exactly what it serves, times,
#             alternating, count(*) of fs_get_features, count(*) of the FDW
#             scan key = ANY($1), the AWS SDK v3 and plain Node.js sending the
#             same 10 BatchGetItem requests at once (test/bench/run_canned.sh).
#             Skipped, with a message, like the dynamodb part.
#   cache     issue 13, the hot-entity cache (test/bench/run_cache.sh): a
#             dynalite of its own with 20,000 items of 20 float8 features
#             (test/bench/setup_cache.sql), 1,000 Zipf ids (s = 1) a call;
#             open loop at 10 calls/s, phases of cache_ttl_ms 0 and 1000
#             alternating (2 rounds, 30 s each): p50/p95 from when each call
#             was due, the hit ratio; the same with 200 writes/s to the hot
#             ids, each checked right after it returned (violations must be
#             0); then 8 clients in a closed loop, calls/s and the clients'
#             waits on the cache's LWLock (test/bench/bench_cache.c).  Needs
#             feature_store preloaded; skipped, with a message, like the
#             dynamodb part; about 6 minutes;
#   stream    the streaming lane (test/bench/run_stream.sh): fs_push at
#             5,000 events/s for 60 s from 4 connections into an embedded
#             view and into a view in dynalite, with 100,000 and with 1,000
#             entities; freshness from push to served, the queue's depth.  It
#             needs the stream worker, so it starts a cluster of its own
#             (and dynalite), whatever FS_CLUSTER_ENV says, and stops them
#             afterwards; about 12 minutes.
#   remote_write  issue 14, the write lanes against a store with 20 ms of
#             latency (test/bench/run_remote_write.sh): fs_ingest of 1,000,000
#             changed entities into a foreign table on the canned responder,
#             and the stream worker at 5,000 events/s over 100,000 entities
#             for 60 s, each with feature_store.max_write_connections = 16
#             (the old behaviour) and the default, alternating; clusters of
#             its own with fsync and synchronous_commit on; about 15 minutes.
#
# It prints the figures, the machine and the exact commands; it exits non-zero
# only when something is broken, never because a target is missed.
#
# Environment (all optional):
#   BENCH_ITERATIONS (300)  BENCH_WARMUP (20)  BENCH_ENTITIES (1000)
#   BENCH_ROWS (1000000)    BENCH_SEED (42)
#   BENCH_METHODS (features,hand,vectors,features-count,hand-count,matrix,hand-join,
#                  hand-join-all,table)
#   BENCH_CLIENTS (4) BENCH_ROUNDS (6) BENCH_SECONDS (5)  the embedded part's
#                           throughput phase: vectors against hand-join-all from
#                           BENCH_CLIENTS connections at once (1 skips it)
#   BENCH_SKIP_SETUP=1      skip scripts/setup.sh (the extension is installed)
#   BENCH_ONLY              embedded | stats | dynamodb | canned | ingest | ingest_scale |
#                           training | history | cache | stream | remote_write: run only
#                           that part (default: all)
#   BENCH_STATS_ROUNDS (4)  BENCH_STATS_ITERATIONS (400)  BENCH_STATS_WARMUP (40)
#                           the stats part's rounds, and its timed and untimed
#                           iterations per state and round
#   BENCH_INGEST_ROWS (1000000)  entities of the ingestion benchmark
#   BENCH_INGEST_STORE (both)    embedded | dynamodb | both: the ingestion
#                           benchmark's stores
#   BENCH_DDB_ITERATIONS (100)  BENCH_DDB_WARMUP (5)  BENCH_DDB_ROWS (20000)
#   BENCH_DDB_METHODS (ddb,sdk,ddb-count)
#   BENCH_PERF (1)          0 skips the perf profiles of the DynamoDB and canned parts
#   BENCH_PERF_CALLS (30)   calls profiled (fs_get_features; its count(*) in the canned part)
#   BENCH_CANNED_*          see test/bench/run_canned.sh
#   BENCH_TRAINING_*        see test/bench/run_training.sh
#   BENCH_CACHE_*           see test/bench/run_cache.sh
#   BENCH_STREAM_*          see test/bench/run_stream.sh
#   BENCH_REMOTE_WRITE_*    see test/bench/run_remote_write.sh
#   FS_CLUSTER_ENV          the cluster's state file (default /tmp/feature_store_cluster.env)
#   BENCH_DYNALITE_ENV      the benchmark dynalite's state file
#                           (default /tmp/feature_store_bench_dynalite.env)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BENCH="$ROOT/test/bench"
BUILD="$BENCH/build"
CLUSTER_ENV="${FS_CLUSTER_ENV:-/tmp/feature_store_cluster.env}"
export FS_CLUSTER_ENV="$CLUSTER_ENV"
BENCH_ROWS="${BENCH_ROWS:-1000000}"
export BENCH_ROWS

BENCH_ONLY="${BENCH_ONLY:-}"
case "$BENCH_ONLY" in
    ''|embedded|stats|dynamodb|canned|ingest|ingest_scale|training|history|cache|stream|remote_write) ;;
    *) echo "run.sh: BENCH_ONLY must be embedded, stats, dynamodb, canned, ingest, ingest_scale, training, history, cache, stream or remote_write, not '$BENCH_ONLY'" >&2; exit 2 ;;
esac

INGEST_STORE="${BENCH_INGEST_STORE:-both}"
case "$INGEST_STORE" in
    embedded|dynamodb|both) ;;
    *) echo "run.sh: BENCH_INGEST_STORE must be embedded, dynamodb or both, not '$INGEST_STORE'" >&2; exit 2 ;;
esac
INGEST_ROWS="${BENCH_INGEST_ROWS:-1000000}"
# 1% of the entities change, so at least a hundred.
[[ "$INGEST_ROWS" =~ ^[1-9][0-9]{2,}$ ]] ||
    { echo "run.sh: BENCH_INGEST_ROWS must be an integer of at least 100, not '$INGEST_ROWS'" >&2; exit 2; }

cd "$ROOT"
say() { printf '== %s\n' "$*"; }

# Cleanups, run in reverse order on exit.
CLEANUPS=()
cleanup() {
    local i
    for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do eval "${CLEANUPS[i]}" || true; done
}
trap cleanup EXIT
# A signal ends the script through exit, so that the cleanups run.
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# 1. The extension, built and installed.
if [ "${BENCH_SKIP_SETUP:-0}" = 1 ]; then
    say "skipping setup (BENCH_SKIP_SETUP=1)"
elif [ -f scripts/setup.sh ]; then
    say "bash scripts/setup.sh"
    bash scripts/setup.sh
else
    say "make && make install"
    make -s
    make -s install
fi

# The streaming part brings its own cluster.
if [ "$BENCH_ONLY" = stream ]; then
    echo
    bash "$BENCH/run_stream.sh"
    exit 0
fi
# So does the remote write part.
if [ "$BENCH_ONLY" = remote_write ]; then
    echo
    bash "$BENCH/run_remote_write.sh"
    exit 0
fi

# 2. A cluster: reuse a running one (and leave it running), else start one
#    with room for both tables and their indexes in shared_buffers, and
#    feature_store preloaded.
if bash scripts/pgcluster.sh status >/dev/null 2>&1; then
    say "reusing the running cluster"
else
    say "starting a cluster"
    # The preload too (pgcluster.sh's default, which this line replaces):
    # the cache part needs it, and the stats part sets it as it needs.
    FS_PG_EXTRA_CONF="${FS_PG_EXTRA_CONF:-shared_buffers = 1GB
shared_preload_libraries = 'feature_store'}" bash scripts/pgcluster.sh start >/dev/null
    CLEANUPS+=('bash "$ROOT/scripts/pgcluster.sh" stop >/dev/null')
fi
# shellcheck disable=SC1090
. "$CLUSTER_ENV"

# 3. The client.
mkdir -p "$BUILD"
PG_INC="$(pg_config --includedir)"
PG_LIB="$(pg_config --libdir)"
cc -O2 -Wall -Wextra -I"$PG_INC" -o "$BUILD/bench_serving" "$BENCH/bench_serving.c" \
   -L"$PG_LIB" -lpq
cc -O2 -Wall -Wextra -I"$PG_INC" -o "$BUILD/bench_cache" "$BENCH/bench_cache.c" \
   -L"$PG_LIB" -lpq -lpthread -lm

run_embedded() {
# 4. The data.
say "loading the benchmark tables (built once per cluster, $BENCH_ROWS rows each)"
psql -X -q -v ON_ERROR_STOP=1 -v rows="$BENCH_ROWS" -f "$BENCH/setup.sql"

# 5. The run.
CMD=(env "BENCH_ITERATIONS=${BENCH_ITERATIONS:-300}" "BENCH_WARMUP=${BENCH_WARMUP:-20}"
     "BENCH_ENTITIES=${BENCH_ENTITIES:-1000}" "BENCH_ROWS=$BENCH_ROWS"
     "BENCH_SEED=${BENCH_SEED:-42}" "BENCH_METHODS=${BENCH_METHODS:-features,hand,vectors,features-count,hand-count,matrix,hand-join,hand-join-all,table}"
     "BENCH_CLIENTS=${BENCH_CLIENTS:-4}" "BENCH_ROUNDS=${BENCH_ROUNDS:-6}" "BENCH_SECONDS=${BENCH_SECONDS:-5}"
     "$BUILD/bench_serving")
say "running the benchmark"
echo
"${CMD[@]}"
echo
echo "machine:  $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)," \
     "$(uname -sr), $(. /etc/os-release && echo "$PRETTY_NAME")"
echo "server:   $(psql -X -At -c 'SELECT version()')"
echo "settings: (server defaults; the client sets jit=off) $(psql -X -At -c "SELECT 'shared_buffers=' || current_setting('shared_buffers')
                                       || ' jit=' || current_setting('jit')")"
echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "command:  make bench  (that is: PGHOST=$PGHOST PGPORT=$PGPORT PGUSER=$PGUSER PGDATABASE=$PGDATABASE ${CMD[*]:1})"
}

# The ingestion benchmark's database, dropped however the script ends.
INGEST_DB=fs_bench_ingest
drop_ingest_db() {
    PGOPTIONS="-c client_min_messages=warning" \
        psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $INGEST_DB WITH (FORCE)"
}

# The ingestion benchmark on one store (embedded or dynamodb), in a fresh
# database; dynamodb against a dynalite of its own.
run_ingest_store() {
    local store="$1" dyn_dir="" dyn_env="" start fdw
    local args=(-v rows="$INGEST_ROWS" -v store="$store")

    drop_ingest_db
    psql -X -q -c "CREATE DATABASE $INGEST_DB"
    if [ "$store" = dynamodb ]; then
        fdw="$(PGDATABASE="$INGEST_DB" psql -X -q -At -v ON_ERROR_STOP=1 -c 'SET client_min_messages = warning' \
                   -c 'CREATE EXTENSION feature_store' \
                   -c "SELECT count(*) FROM pg_foreign_data_wrapper WHERE fdwname = 'fs_dynamodb'")"
        if [ "$fdw" != 1 ]; then
            say "ingestion into dynamodb skipped: the installed extension has no fs_dynamodb foreign data wrapper"
            drop_ingest_db
            return 0
        fi
        if ! command -v node >/dev/null 2>&1 || [ ! -f "$ROOT/node_modules/dynalite/index.js" ]; then
            say "ingestion into dynamodb skipped: node or node_modules/dynalite missing (scripts/setup.sh)"
            drop_ingest_db
            return 0
        fi
        dyn_dir="$(mktemp -d /tmp/feature_store_bench_ingest.XXXXXX)"
        dyn_env="$dyn_dir/dynalite.env"
        CLEANUPS+=("if [ -d '$dyn_dir' ]; then FS_DYNALITE_ENV='$dyn_env' bash '$ROOT/scripts/dynalite.sh' stop >/dev/null; rm -rf -- '$dyn_dir'; fi")
        FS_DYNALITE_ENV="$dyn_env" bash scripts/dynalite.sh start >/dev/null
        # shellcheck disable=SC1090
        FS_DYNALITE_ENDPOINT="$(. "$dyn_env" && echo "$FS_DYNALITE_ENDPOINT")"
        args+=(-v endpoint="$FS_DYNALITE_ENDPOINT")
        say "dynalite $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$ROOT/node_modules/dynalite/package.json" | head -n 1)" \
            "on $FS_DYNALITE_ENDPOINT, pid $(cat "$dyn_env.pid") (in memory, ours alone)"
    fi

    say "ingestion, $store store: a snapshot of $INGEST_ROWS entities, ingested twice (database $INGEST_DB)"
    start=$SECONDS
    if ! PGDATABASE="$INGEST_DB" PGOPTIONS="-c client_min_messages=warning" \
            psql -X -v ON_ERROR_STOP=1 "${args[@]}" -f "$BENCH/ingest.sql"; then
        if [ -n "$dyn_env" ]; then
            echo "run.sh: the end of dynalite's log ($dyn_env.log):" >&2
            tail -n 20 "$dyn_env.log" >&2 2>/dev/null || true
        fi
        return 1
    fi
    echo "seconds:  $((SECONDS - start)) for the part (building the staging table included)"
    if [ "$store" = dynamodb ]; then
        echo "store:    dynalite $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$ROOT/node_modules/dynalite/package.json" | head -n 1)," \
             "node $(node --version), peak memory of dynalite $(awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' "/proc/$(cat "$dyn_env.pid")/status" 2>/dev/null || echo '?')"
        FS_DYNALITE_ENV="$dyn_env" bash scripts/dynalite.sh stop >/dev/null
        rm -rf -- "$dyn_dir"
    fi
    drop_ingest_db
    echo "machine:  $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)," \
         "$(uname -sr); $(psql -X -At -c 'SELECT version()' | sed 's/ on .*//')"
    echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "command:  BENCH_ONLY=ingest BENCH_INGEST_STORE=$store BENCH_INGEST_ROWS=$INGEST_ROWS make bench" \
         "(that is: PGDATABASE=$INGEST_DB psql -X -v ON_ERROR_STOP=1 ${args[*]} -f test/bench/ingest.sql)"
}

run_ingest() {
    CLEANUPS+=('drop_ingest_db')
    if [ "$INGEST_STORE" != dynamodb ]; then run_ingest_store embedded; fi
    if [ "$INGEST_STORE" = both ]; then echo; fi
    if [ "$INGEST_STORE" != embedded ]; then run_ingest_store dynamodb; fi
}

if [ -z "$BENCH_ONLY" ] || [ "$BENCH_ONLY" = embedded ]; then run_embedded; fi
if [ -z "$BENCH_ONLY" ] || [ "$BENCH_ONLY" = stats ]; then echo; bash "$BENCH/run_stats.sh"; fi
if [ -z "$BENCH_ONLY" ] || [ "$BENCH_ONLY" = ingest ]; then echo; run_ingest; fi
if [ -z "$BENCH_ONLY" ] || [ "$BENCH_ONLY" = ingest_scale ]; then echo; bash "$BENCH/run_ingest_scale.sh"; fi
if [ -z "$BENCH_ONLY" ] || [ "$BENCH_ONLY" = training ]; then echo; bash "$BENCH/run_training.sh"; fi
if [ -z "$BENCH_ONLY" ] || [ "$BENCH_ONLY" = history ]; then echo; bash "$BENCH/run_history.sh"; fi
if [ -z "$BENCH_ONLY" ] || [ "$BENCH_ONLY" = dynamodb ]; then echo; bash "$BENCH/run_dynamodb.sh"; fi
if [ -z "$BENCH_ONLY" ] || [ "$BENCH_ONLY" = canned ]; then echo; bash "$BENCH/run_canned.sh"; fi
if [ -z "$BENCH_ONLY" ] || [ "$BENCH_ONLY" = cache ]; then echo; bash "$BENCH/run_cache.sh"; fi
if [ -z "$BENCH_ONLY" ]; then echo; bash "$BENCH/run_stream.sh"; fi
if [ -z "$BENCH_ONLY" ]; then echo; bash "$BENCH/run_remote_write.sh"; fi

#!/usr/bin/env bash
# run_cache.sh — the cache part of `make bench` (issue 13; run by
# test/bench/run.sh, BENCH_ONLY=cache runs it alone).
#
# Needs the cluster in the PG* variables, with feature_store preloaded (the
# cache lives in shared memory), and test/bench/build/bench_cache (run.sh
# compiles it).  It
#
#   1. skips, with a message and status 0, when the installed extension has
#      no fs_dynamodb wrapper, the cache is off (no preload, or
#      feature_store.cache_size = 0), or node / node_modules lack dynalite;
#   2. starts a dynalite of its own (scripts/dynalite.sh, state file
#      BENCH_CACHE_DYNALITE_ENV), stopped on exit, and writes BENCH_CACHE_ROWS
#      items of 20 float8 features into it through the extension, the feature
#      view bench_cache (test/bench/setup_cache.sql);
#   3. open loop, BENCH_CACHE_RATE calls/s of BENCH_CACHE_IDS Zipf ids (s = 1,
#      drawn with replacement) x 20 features (fs_get_feature_matrix), each
#      phase BENCH_CACHE_SECONDS long, BENCH_CACHE_ROUNDS rounds of
#      cache_ttl_ms 0 and BENCH_CACHE_TTL_MS, the order alternating by round,
#      fs_cache_reset() before each cached phase: p50/p95 per phase (from
#      when each call was due) and the hit ratio (fs_stats deltas);
#   4. the same with writers alongside: fs_write_features to the
#      BENCH_CACHE_HOT most frequent ids at BENCH_CACHE_WRITES/s in all, from
#      BENCH_CACHE_WRITERS threads (each its own ids and two connections),
#      each write checked by a read from another connection right after it
#      returned (violations must be 0);
#   5. closed loop, BENCH_CACHE_CLIENTS clients as fast as they can,
#      BENCH_CACHE_CLOSED_SECONDS per state and round: calls/s, and the
#      clients' wait events sampled every BENCH_CACHE_SAMPLE_MS ms (LWLock
#      "feature_store cache" counted apart).
#
# Targets (informational, never the exit status): cached p95 <= 0.25x
# uncached (step 3), <= 0.35x with writes (step 4), 0 violations.  About
# 6 minutes with the defaults.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BENCH="$ROOT/test/bench"
BUILD="$BENCH/build"
DYN_ENV="${BENCH_CACHE_DYNALITE_ENV:-/tmp/feature_store_bench_cache_dynalite.env}"
ROWS="${BENCH_CACHE_ROWS:-20000}"
IDS="${BENCH_CACHE_IDS:-1000}"
RATE="${BENCH_CACHE_RATE:-10}"
SECS="${BENCH_CACHE_SECONDS:-30}"
ROUNDS="${BENCH_CACHE_ROUNDS:-2}"
TTL="${BENCH_CACHE_TTL_MS:-1000}"
WRITES="${BENCH_CACHE_WRITES:-200}"
WRITERS="${BENCH_CACHE_WRITERS:-2}"
HOT="${BENCH_CACHE_HOT:-20}"
CLIENTS="${BENCH_CACHE_CLIENTS:-8}"
CSECS="${BENCH_CACHE_CLOSED_SECONDS:-15}"
SAMPLE_MS="${BENCH_CACHE_SAMPLE_MS:-10}"
SEED="${BENCH_CACHE_SEED:-42}"

say() { printf '== %s\n' "$*"; }
skip() { say "cache benchmark skipped: $*"; exit 0; }

cd "$ROOT"
[ -x "$BUILD/bench_cache" ] || { echo "run_cache: $BUILD/bench_cache missing (run test/bench/run.sh)" >&2; exit 1; }

# 1. What it needs.
psql -X -q -v ON_ERROR_STOP=1 -c 'SET client_min_messages = warning' \
     -c 'CREATE EXTENSION IF NOT EXISTS feature_store' >/dev/null
if [ "$(psql -X -At -c "SELECT count(*) FROM pg_foreign_data_wrapper WHERE fdwname = 'fs_dynamodb'")" != 1 ]; then
    skip "the installed extension has no fs_dynamodb foreign data wrapper"
fi
if [ "$(psql -X -q -At -c 'SET client_min_messages = warning' -c 'SELECT count(*) FROM fs_cache_status')" != 1 ]; then
    skip "the cache is off (feature_store not in shared_preload_libraries, or feature_store.cache_size = 0)"
fi
command -v node >/dev/null 2>&1 || skip "node not found (scripts/setup.sh installs it)"
[ -f "$ROOT/node_modules/dynalite/index.js" ] || skip "node_modules lacks dynalite (npm ci)"

# 2. dynalite, ours alone, and the data.
stop_dynalite() { FS_DYNALITE_ENV="$DYN_ENV" bash "$ROOT/scripts/dynalite.sh" stop >/dev/null 2>&1 || true; }
trap stop_dynalite EXIT
FS_DYNALITE_ENV="$DYN_ENV" bash scripts/dynalite.sh start >/dev/null
# shellcheck disable=SC1090
ENDPOINT="$(. "$DYN_ENV" && echo "$FS_DYNALITE_ENDPOINT")"
say "dynalite $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$ROOT/node_modules/dynalite/package.json" | head -n 1)" \
    "on $ENDPOINT, pid $(cat "$DYN_ENV.pid") (in memory, ours alone)"
say "writing $ROWS items of 20 features through the extension (INSERT into the foreign table)"
psql -X -v ON_ERROR_STOP=1 -v endpoint="$ENDPOINT" -v rows="$ROWS" -f "$BENCH/setup_cache.sql"
# A store slowed down by the neighbours must not fail the run: the limit
# is far above any call's latency here.
psql -X -q -v ON_ERROR_STOP=1 -c "ALTER SERVER bench_cache_server OPTIONS (ADD request_timeout_ms '30s')"

COMMON=(BENCH_CACHE_ROWS="$ROWS" BENCH_CACHE_IDS="$IDS" BENCH_CACHE_SEED="$SEED")

# The view's figures and the cache's, as one line of numbers.
figures() {
    psql -X -At -F ' ' -c "SELECT s.cache_hits, s.cache_misses, s.store_requests, c.evictions, c.invalidations
                             FROM fs_stats s, fs_cache_status c WHERE s.feature_view = 'bench_cache'"
}
# The value after the word $1 in the line $2.
field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) { print $(i + 1); exit } }' <<<"$2"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print (r <= t) ? "PASS" : "MISS" }'; }

# Set the ttl (and empty the cache before a cached phase).
set_ttl() {
    psql -X -q -v ON_ERROR_STOP=1 -c "ALTER FOREIGN TABLE bench_cache OPTIONS (SET cache_ttl_ms '$1')"
    if [ "$1" != 0 ]; then psql -X -q -At -c 'SELECT fs_cache_reset()' >/dev/null; fi
}

# One phase: $1 label, $2 ttl, then the client's mode and environment.
# Prints its line and leaves it in LAST, the client's line in LINE.
LAST="" LINE=""
phase() {
    local label="$1" ttl="$2" before h m r e i hit
    shift 2
    set_ttl "$ttl"
    read -r h m r e i <<<"$(figures)"
    before=("$h" "$m" "$r" "$e" "$i")
    LINE="$(env "${COMMON[@]}" "$@")"
    read -r h m r e i <<<"$(figures)"
    h=$((h - before[0])) m=$((m - before[1])) r=$((r - before[2])) e=$((e - before[3])) i=$((i - before[4]))
    hit="$(awk -v h="$h" -v m="$m" 'BEGIN { printf "%.3f", (h + m) ? h / (h + m) : 0 }')"
    LAST="$label ttl=$ttl hit_ratio=$hit hits=$h misses=$m requests=$r evictions=$e invalidations=$i | $LINE"
    echo "  $LAST"
}

# Steps 3 and 4: open-loop rounds; $1 the writes per second (0: none).
P50_OFF=() P95_OFF=() P50_ON=() P95_ON=() HIT_ON=() VIOL=0
open_rounds() {
    local writes="$1" round order state ttl
    P50_OFF=() P95_OFF=() P50_ON=() P95_ON=() HIT_ON=() VIOL=0
    for ((round = 1; round <= ROUNDS; round++)); do
        if ((round % 2)); then order="off on"; else order="on off"; fi
        for state in $order; do
            if [ "$state" = on ]; then ttl="$TTL"; else ttl=0; fi
            phase "round $round $([ "$state" = on ] && echo cached || echo uncached)" "$ttl" \
                BENCH_CACHE_RATE="$RATE" BENCH_CACHE_SECONDS="$SECS" BENCH_CACHE_WRITES="$writes" \
                BENCH_CACHE_WRITERS="$WRITERS" BENCH_CACHE_HOT="$HOT" "$BUILD/bench_cache" open
            if [ "$state" = on ]; then
                P50_ON+=("$(field p50 "$LINE")") P95_ON+=("$(field p95 "$LINE")")
                HIT_ON+=("$(sed 's/.*hit_ratio=\([0-9.]*\).*/\1/' <<<"$LAST")")
            else
                P50_OFF+=("$(field p50 "$LINE")") P95_OFF+=("$(field p95 "$LINE")")
            fi
            if [ "$writes" != 0 ]; then VIOL=$((VIOL + $(field violations "$LINE"))); fi
        done
    done
}
# The medians of a run of open rounds against the target $1.
open_summary() {
    local target="$1" m50off m95off m50on m95on r50 r95
    m50off="$(printf '%s\n' "${P50_OFF[@]}" | median)" m95off="$(printf '%s\n' "${P95_OFF[@]}" | median)"
    m50on="$(printf '%s\n' "${P50_ON[@]}" | median)" m95on="$(printf '%s\n' "${P95_ON[@]}" | median)"
    r50="$(ratio "$m50on" "$m50off")" r95="$(ratio "$m95on" "$m95off")"
    echo "  medians over $ROUNDS rounds, ms: uncached p50 $m50off p95 $m95off; cached p50 $m50on p95 $m95on;" \
         "hit ratio (cached phases) $(printf '%s\n' "${HIT_ON[@]}" | median)"
    echo "  ratio cached / uncached: p50 ${r50}x  p95 ${r95}x  (target p95 <= ${target}x: $(verdict "$r95" "$target"))"
}

echo
say "1. open loop: $RATE calls/s x $IDS Zipf ids (s = 1, with replacement) x 20 features, ${SECS}s per phase"
open_rounds 0
open_summary 0.25

echo
say "2. open loop with $WRITES writes/s (fs_write_features, $WRITERS writers) to the $HOT hottest ids, each checked right after"
open_rounds "$WRITES"
open_summary 0.35
echo "  violations (a checked read that did not serve the value just written): $VIOL" \
     "($([ "$VIOL" = 0 ] && echo PASS || echo FAIL))"

echo
say "3. closed loop: $CLIENTS clients, ${CSECS}s per state and round; wait events sampled every ${SAMPLE_MS} ms"
CPS_OFF=() CPS_ON=() LOCK_OFF=0 LOCK_ON=0 SAMPLES=0
for ((round = 1; round <= ROUNDS; round++)); do
    if ((round % 2)); then order="off on"; else order="on off"; fi
    for state in $order; do
        if [ "$state" = on ]; then ttl="$TTL"; else ttl=0; fi
        phase "round $round $([ "$state" = on ] && echo cached || echo uncached)" "$ttl" \
            BENCH_CACHE_CLIENTS="$CLIENTS" BENCH_CACHE_SECONDS="$CSECS" BENCH_CACHE_SAMPLE_MS="$SAMPLE_MS" \
            "$BUILD/bench_cache" closed
        if [ "$state" = on ]; then
            CPS_ON+=("$(field calls_per_s "$LINE")") LOCK_ON=$((LOCK_ON + $(field cache_lock "$LINE")))
        else
            CPS_OFF+=("$(field calls_per_s "$LINE")") LOCK_OFF=$((LOCK_OFF + $(field cache_lock "$LINE")))
        fi
        SAMPLES=$((SAMPLES + $(field samples "$LINE")))
    done
done
c_off="$(printf '%s\n' "${CPS_OFF[@]}" | median)" c_on="$(printf '%s\n' "${CPS_ON[@]}" | median)"
echo "  medians, calls/s: uncached $c_off, cached $c_on; ratio cached / uncached $(ratio "$c_on" "$c_off")x"
echo "  samples waiting on LWLock \"feature_store cache\": cached $LOCK_ON, uncached $LOCK_OFF, of $SAMPLES in all"
echo "  (samples: one per client per sampling; waiting: any wait but ClientRead;" \
     "Extension:Extension is the wait on the store)"

echo
echo "machine:  $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)," \
     "$(uname -sr), load average $(cut -d ' ' -f 1-3 /proc/loadavg)"
echo "server:   $(psql -X -At -c 'SELECT version()' | sed 's/ on .*//'); node $(node --version)," \
     "feature_store.cache_size=$(psql -X -At -c 'SHOW feature_store.cache_size')"
echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "command:  BENCH_ONLY=cache make bench  (that is: psql -f test/bench/setup_cache.sql," \
     "then for each phase ALTER FOREIGN TABLE bench_cache OPTIONS (SET cache_ttl_ms ...) [SELECT fs_cache_reset()];" \
     "PGHOST=$PGHOST PGPORT=$PGPORT ${COMMON[*]} BENCH_CACHE_RATE=$RATE BENCH_CACHE_SECONDS=$SECS" \
     "BENCH_CACHE_WRITES=0|$WRITES BENCH_CACHE_WRITERS=$WRITERS BENCH_CACHE_HOT=$HOT test/bench/build/bench_cache open;" \
     "BENCH_CACHE_CLIENTS=$CLIENTS BENCH_CACHE_SECONDS=$CSECS BENCH_CACHE_SAMPLE_MS=$SAMPLE_MS test/bench/build/bench_cache closed)"

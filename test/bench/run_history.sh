#!/usr/bin/env bash
# run_history.sh — what history costs the batch lane (issue 15; BENCH_ONLY=history,
# run by test/bench/run.sh, which builds, installs and starts the cluster).
#
# A staging table of BENCH_HISTORY_ROWS (1,000,000) entities with 10 features
# (text, as after a COPY) is ingested with fs_ingest into a fresh embedded
# view twice: a first load, then a rerun with 1% of the entities changed.
# Each round does this for a view without history and one with
# fs_enable_history, in alternating order, and prints each time; then the
# medians, the ratio with history to without (target <= 1.25 for both runs),
# and the history's size: bytes per version on disk (table and index), and
# what a retention keeps.  Last, the stream worker's pace draining a backlog
# of BENCH_HISTORY_DRAIN events queued at once, into a view without history
# and one with it, alternating (needs the worker: the cluster of run.sh
# preloads it).  The stream lane under load is run_stream.sh's
# configuration history:100000 (BENCH_ONLY=stream).
#
# Environment (all optional):
#   BENCH_HISTORY_ROWS (1000000)   entities
#   BENCH_HISTORY_ROUNDS (3)       rounds of both views (ingest, and the drain)
#   BENCH_HISTORY_DRAIN (100000)   events of each backlog drained
set -euo pipefail

ROWS="${BENCH_HISTORY_ROWS:-1000000}"
ROUNDS="${BENCH_HISTORY_ROUNDS:-3}"
DRAIN="${BENCH_HISTORY_DRAIN:-100000}"
DB=fs_bench_history
for v in ROWS ROUNDS DRAIN; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] ||
        { echo "run_history.sh: BENCH_HISTORY_$v must be a positive integer, not '${!v}'" >&2; exit 2; }
done
: "${FS_CLUSTER_ENV:?run_history.sh: FS_CLUSTER_ENV must name the state file of the cluster (run.sh sets it)}"
. "$FS_CLUSTER_ENV"
export PGHOST PGPORT PGUSER

say() { printf '== %s\n' "$*"; }
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
cleanup() {
    PGOPTIONS="-c client_min_messages=warning" psql -X -q -d postgres \
        -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

PGOPTIONS="-c client_min_messages=warning" psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
psql -X -q -d postgres -c "CREATE DATABASE $DB"

say "data: a staging table of $ROWS entities x 10 features (text)"
q -v rows="$ROWS" >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION feature_store;
SELECT fs_register_entity('bench_user', 'user_id');
SELECT setseed(0.5);
CREATE TABLE hb_staging AS
SELECT g::text AS user_id, '2026-01-01 00:00:00+00' AS event_time,
       (g % 1000)::text AS f1, round(random()::numeric, 6)::text AS f2, (g % 7)::text AS f3,
       round(random()::numeric, 6)::text AS f4, (g % 13)::text AS f5, round(random()::numeric, 6)::text AS f6,
       (g % 101)::text AS f7, round(random()::numeric, 6)::text AS f8, (g % 3)::text AS f9,
       round(random()::numeric, 6)::text AS f10
  FROM generate_series(1, :rows) g;
VACUUM ANALYZE hb_staging;
SQL

# One view, fresh: its table, registration and (with history) its history.
fresh_view() {
    local v=$1 hist=$2
    q >/dev/null <<SQL
SET client_min_messages = warning;
SELECT fs_disable_history('$v', drop_history => true) FROM fs_feature_view WHERE name = '$v';
SELECT fs_drop_feature_view('$v') FROM fs_feature_view WHERE name = '$v';
DROP TABLE IF EXISTS $v;
CREATE TABLE $v (user_id bigint PRIMARY KEY, event_time timestamptz NOT NULL,
    f1 int, f2 float8, f3 int, f4 float8, f5 int, f6 float8, f7 int, f8 float8, f9 int, f10 float8);
SELECT fs_register_feature_view('$v', '$v', 'bench_user');
$( [ "$hist" = on ] && echo "SELECT fs_enable_history('$v');" )
CHECKPOINT;
SQL
}
# One fs_ingest, timed in the server's session (commit included): milliseconds.
ingest_ms() {
    q <<SQL | tail -1
SET client_min_messages = warning;
SELECT clock_timestamp() AS t0 \gset
SELECT FROM fs_ingest('$1', 'hb_staging');
SELECT round(extract(epoch FROM clock_timestamp() - :'t0') * 1000);
SQL
}

say "timing: $ROUNDS rounds, each of a view without history and one with it (alternating): a first load, then a rerun with 1% changed"
declare -A FIRST RERUN
for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then order="off on"; else order="on off"; fi
    for mode in $order; do
        v="hb_$mode"
        fresh_view "$v" "$mode"
        f=$(ingest_ms "$v")
        q -c "UPDATE hb_staging SET f1 = (f1::int + 1)::text, event_time = '2026-01-02 00:00:00+00'
               WHERE user_id::bigint % 100 = $r" >/dev/null
        re=$(ingest_ms "$v")
        q -c "UPDATE hb_staging SET f1 = (f1::int - 1)::text, event_time = '2026-01-01 00:00:00+00'
               WHERE user_id::bigint % 100 = $r" >/dev/null
        FIRST[$mode]="${FIRST[$mode]:-} $f"
        RERUN[$mode]="${RERUN[$mode]:-} $re"
        echo "   round $r, history $mode: first load $f ms, rerun (1% changed) $re ms"
    done
done
read -r versions bytes <<<"$(q -F ' ' -c "SELECT count(*), pg_total_relation_size('hb_on_history') FROM hb_on_history")"

median() { printf '%s\n' $@ | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
f_off=$(median ${FIRST[off]}); f_on=$(median ${FIRST[on]})
r_off=$(median ${RERUN[off]}); r_on=$(median ${RERUN[on]})
echo
echo "fs_ingest of $ROWS entities x 10 features, embedded store (median of $ROUNDS):"
awk -v a="$f_off" -v b="$f_on" -v c="$r_off" -v d="$r_on" 'BEGIN {
    printf "  first load:          without history %8.0f ms, with history %8.0f ms: %.2fx (target <= 1.25): %s\n",
           a, b, b / a, (b / a <= 1.25 ? "met" : "MISSED")
    printf "  rerun, 1%% changed:   without history %8.0f ms, with history %8.0f ms: %.2fx (target <= 1.25): %s\n",
           c, d, d / c, (d / c <= 1.25 ? "met" : "MISSED") }'
awk -v n="$versions" -v b="$bytes" 'BEGIN {
    printf "  history after the last round: %d versions, %.0f bytes per version (table and index)\n", n, b / n }'

# What a retention keeps: versions spread over 60 days, 10 per entity of a
# tenth of the entities; purged with a retention of 30 days.
say "retention: 10 versions per entity over 60 days, purged with a retention of 30 days"
q <<'SQL' | sed 's/^/  /'
SET client_min_messages = warning;
CREATE TABLE hb_ret (user_id bigint PRIMARY KEY, event_time timestamptz NOT NULL, f1 int);
SELECT FROM fs_register_feature_view('hb_ret', 'hb_ret', 'bench_user');
SELECT FROM fs_enable_history('hb_ret', '30 days');
INSERT INTO hb_ret_history (user_id, event_time, f1)
SELECT e, now() - (60 - n * 6) * interval '1 day', n
  FROM generate_series(1, 100000) e, generate_series(0, 9) n;
SELECT count(*) AS before FROM hb_ret_history \gset
SELECT fs_purge_history('hb_ret') AS purged \gset
SELECT format('%s versions before, %s purged, %s kept (%s per entity: those of the last 30 days, and the one that answers for the start of the window)',
              :before, :purged, count(*), round(count(*) / 100000.0, 1))
  FROM hb_ret_history;
SQL

# The stream worker's own pace, with no pusher competing for the cores: a
# backlog of DRAIN events over 100,000 entities queued by one transaction,
# timed from its commit until the queue is empty, for a view without
# history and one with it, alternating.  The version check of each round
# reads a history one version deeper than the round before.
say "the stream worker draining a backlog: $DRAIN events at once, $ROUNDS rounds of a view without history and one with it (alternating)"
if [ "$(q -c "SELECT worker_state FROM fs_stream_status")" = off ]; then
    echo "  skipped: no stream worker (feature_store is not in shared_preload_libraries)"
else
    q <<'SQL'
SET client_min_messages = warning;
CREATE TABLE hb_drain_plain (user_id text PRIMARY KEY, event_time timestamptz NOT NULL, f1 float8, f2 float8, f3 text);
CREATE TABLE hb_drain_hist (user_id text PRIMARY KEY, event_time timestamptz NOT NULL, f1 float8, f2 float8, f3 text);
SELECT FROM fs_register_feature_view('hb_drain_plain', 'hb_drain_plain', 'bench_user');
SELECT FROM fs_register_feature_view('hb_drain_hist', 'hb_drain_hist', 'bench_user');
SELECT FROM fs_enable_history('hb_drain_hist');
SQL
    drain() {
        local view=$1 t0 t1 empty=f
        q -v view="$view" -v n="$DRAIN" <<'SQL' || exit 1
INSERT INTO fs_stream_queue (feature_view, entity_id, features, event_time)
SELECT :'view', (1 + (g::bigint * 7919) % 100000)::text,
       jsonb_build_object('f1', g, 'f2', g * 2, 'f3', 'x' || g),
       now() + g * interval '1 microsecond'
  FROM generate_series(1, :n) g;
SQL
        t0=$(date +%s.%N)
        for _ in $(seq 1 6000); do
            empty="$(q -c 'SELECT NOT EXISTS (SELECT FROM fs_stream_queue)')"
            [ "$empty" = t ] && break
            sleep 0.1
        done
        t1=$(date +%s.%N)
        if [ "$empty" != t ]; then
            echo "run_history.sh: the stream worker left events queued for 10 minutes: $(q -c 'SELECT * FROM fs_stream_status')" >&2
            return 1
        fi
        awk -v a="$t0" -v b="$t1" -v n="$DRAIN" 'BEGIN { printf "%.0f", n / (b - a) }'
    }
    D_PLAIN=(); D_HIST=()
    for r in $(seq 1 "$ROUNDS"); do
        if [ $((r % 2)) = 1 ]; then
            p=$(drain hb_drain_plain) || exit 1
            h=$(drain hb_drain_hist) || exit 1
        else
            h=$(drain hb_drain_hist) || exit 1
            p=$(drain hb_drain_plain) || exit 1
        fi
        D_PLAIN+=("$p"); D_HIST+=("$h")
        echo "  round $r: without history $p events/s, with history $h events/s"
    done
    echo "  drained (median of $ROUNDS): without history $(median "${D_PLAIN[@]}") events/s, with history $(median "${D_HIST[@]}") events/s;" \
         "rejected: $(q -c 'SELECT count(*) FROM fs_stream_rejects')"
fi
echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "command:  BENCH_ONLY=history BENCH_HISTORY_ROWS=$ROWS BENCH_HISTORY_ROUNDS=$ROUNDS BENCH_HISTORY_DRAIN=$DRAIN make bench"

#!/usr/bin/env bash
# run_training.sh — point-in-time training sets (issue 15; BENCH_ONLY=training,
# run by test/bench/run.sh, which builds, installs and starts the cluster).
#
# The data: a spine of BENCH_TRAINING_SPINE (1,000,000) labelled rows
# (spine_id, user_id, event_timestamp, label) over BENCH_TRAINING_ENTITIES
# (100,000) entities and 1% more that have no history, at times spread over
# 30 days; two history tables, bench_hist_a (f1..f10, the view's ttl 7 days)
# and bench_hist_b (g1..g10, no ttl), of 10 versions per entity at times
# spread over the same 30 days (so some spine rows come before any version),
# each with its event time, the time it was recorded, whether it says the
# entity was deleted (one version of every 97th entity), NULL features (5%
# of f3 and g3), and for every 50th entity two versions at the same event
# time (the one recorded last wins).  Every table is generated from
# setseed(), so every run has the same data.
#
# The yardstick is the hand-written baseline, test/bench/training_baseline.sql
# (a view: LATERAL ... ORDER BY event_time DESC, recorded_at DESC LIMIT 1 over
# an index on (user_id, event_time DESC, recorded_at DESC), one probe per
# spine row and view), committed before fs_create_training_view and left
# unchanged.  It is checked first against a brute-force reading of the same
# rule (every version of the entity, ranked) on the spine rows of the
# entities with equal event times, a delete or no history, and every
# 1,000th, and for one row per spine row; a difference ends the run with an
# error.  Then,
# for BENCH_TRAINING_ROUNDS (3) rounds: SELECT count(*) of it, and COPY (SELECT
# * ...) TO '/dev/null'; it prints each time, the median, spine rows per
# second (the issue's target, >= 150,000 rows/s and no slower than this
# baseline, is the training view's), the plan of the count, and the
# history's bytes per version.
#
# Environment (all optional):
#   BENCH_TRAINING_SPINE (1000000)   spine rows
#   BENCH_TRAINING_ENTITIES (100000) entities with history
#   BENCH_TRAINING_ROUNDS (3)        timed rounds
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BENCH="$ROOT/test/bench"
SPINE="${BENCH_TRAINING_SPINE:-1000000}"
ENTITIES="${BENCH_TRAINING_ENTITIES:-100000}"
ROUNDS="${BENCH_TRAINING_ROUNDS:-3}"
DB=fs_bench_training
for v in SPINE ENTITIES ROUNDS; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] ||
        { echo "run_training.sh: BENCH_TRAINING_$v must be a positive integer, not '${!v}'" >&2; exit 2; }
done
[ "$SPINE" -ge 1000 ] || { echo "run_training.sh: BENCH_TRAINING_SPINE must be at least 1000" >&2; exit 2; }
: "${FS_CLUSTER_ENV:?run_training.sh: FS_CLUSTER_ENV must name the state file of the cluster (run.sh sets it)}"
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

say "data: a spine of $SPINE rows, two history tables of $ENTITIES entities x 10 versions"
t0=$(date +%s.%N)
q -v spine="$SPINE" -v entities="$ENTITIES" >/dev/null <<'SQL'
SET client_min_messages = warning;
SELECT setseed(0.15);
CREATE TABLE bench_spine AS
SELECT g::bigint AS spine_id,
       1 + floor(random() * (:entities * 1.01))::bigint AS user_id,
       timestamptz '2026-01-01 00:00:00+00' + random() * interval '30 days' AS event_timestamp,
       (random() < 0.1)::int AS label
  FROM generate_series(1, :spine) g;

-- Version n of entity e of each view (bench_a's features f1..f10,
-- bench_b's g1..g10, each from a seed of its own); then versions 9 and 10
-- of every 50th entity share an event time (10 recorded later), and
-- version 10 of every 97th is a delete (no values).
CREATE FUNCTION pg_temp.history(v text, f text, seed float8, entities int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    cols text;
    nulls text;
BEGIN
    SELECT string_agg(CASE WHEN i = 3 THEN format('CASE WHEN random() < 0.05 THEN NULL ELSE random() END AS %s%s', f, i)
                           ELSE format('random() AS %s%s', f, i) END, ', ' ORDER BY i),
           string_agg(format('%s%s = NULL', f, i), ', ' ORDER BY i)
      INTO cols, nulls FROM generate_series(1, 10) i;
    PERFORM setseed(seed);
    EXECUTE format($q$
        CREATE TABLE bench_hist_%1$s AS
        SELECT user_id, n, event_time, event_time + lag AS recorded_at, false AS deleted, %2$s
          FROM (SELECT e::bigint AS user_id, n,
                       timestamptz '2026-01-01 00:00:00+00' + random() * interval '30 days' AS event_time,
                       random() * interval '1 hour' AS lag
                  FROM generate_series(1, %3$s) e, generate_series(1, 10) n) v$q$, v, cols, entities);
    EXECUTE format($q$
        UPDATE bench_hist_%1$s h SET event_time = p.event_time, recorded_at = p.recorded_at + interval '1 second'
          FROM bench_hist_%1$s p WHERE h.user_id %% 50 = 0 AND h.n = 10 AND p.user_id = h.user_id AND p.n = 9$q$, v);
    EXECUTE format('UPDATE bench_hist_%s SET deleted = true, %s WHERE user_id %% 97 = 0 AND n = 10', v, nulls);
    EXECUTE format('CREATE INDEX ON bench_hist_%s (user_id, event_time DESC, recorded_at DESC)', v);
END $$;
SELECT pg_temp.history('a', 'f', 0.25, :entities);
SELECT pg_temp.history('b', 'g', 0.35, :entities);
VACUUM ANALYZE bench_spine, bench_hist_a, bench_hist_b;
SQL
echo "   $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"

q -f "$BENCH/training_baseline.sql"

# The baseline against a brute-force reading of the rule: every version of
# the row's entity at or before its timestamp, ranked by event time, then
# recorded time; the first one's values unless it is a delete or (bench_a)
# older than 7 days.  The spine rows of the entities with equal event
# times, with a delete or without history, and every 1,000th; and every
# spine row once.
say "checking the baseline against a brute-force model (a sample of the spine)"
read -r sampled differing <<<"$(q -F ' ' -v entities="$ENTITIES" <<'SQL'
WITH sample AS (SELECT * FROM bench_spine
                 WHERE user_id % 50 = 0 OR user_id % 97 = 0 OR user_id > :entities OR spine_id % 1000 = 0),
model AS (
    SELECT s.spine_id,
           (SELECT CASE WHEN NOT r.deleted AND r.event_time >= s.event_timestamp - interval '7 days'
                        THEN ARRAY[r.f1, r.f2, r.f3, r.f4, r.f5, r.f6, r.f7, r.f8, r.f9, r.f10] END
              FROM (SELECT h.*, rank() OVER (ORDER BY h.event_time DESC, h.recorded_at DESC) AS rk
                      FROM bench_hist_a h
                     WHERE h.user_id = s.user_id AND h.event_time <= s.event_timestamp) r
             WHERE r.rk = 1) AS a,
           (SELECT CASE WHEN NOT r.deleted
                        THEN ARRAY[r.g1, r.g2, r.g3, r.g4, r.g5, r.g6, r.g7, r.g8, r.g9, r.g10] END
              FROM (SELECT h.*, rank() OVER (ORDER BY h.event_time DESC, h.recorded_at DESC) AS rk
                      FROM bench_hist_b h
                     WHERE h.user_id = s.user_id AND h.event_time <= s.event_timestamp) r
             WHERE r.rk = 1) AS b
      FROM sample s)
SELECT count(*),
       count(*) FILTER (WHERE
           m.a IS DISTINCT FROM CASE WHEN num_nulls(t.bench_a__f1, t.bench_a__f2, t.bench_a__f4) < 3
                                     THEN ARRAY[t.bench_a__f1, t.bench_a__f2, t.bench_a__f3, t.bench_a__f4,
                                                t.bench_a__f5, t.bench_a__f6, t.bench_a__f7, t.bench_a__f8,
                                                t.bench_a__f9, t.bench_a__f10] END
           OR m.b IS DISTINCT FROM CASE WHEN num_nulls(t.bench_b__g1, t.bench_b__g2, t.bench_b__g4) < 3
                                        THEN ARRAY[t.bench_b__g1, t.bench_b__g2, t.bench_b__g3, t.bench_b__g4,
                                                   t.bench_b__g5, t.bench_b__g6, t.bench_b__g7, t.bench_b__g8,
                                                   t.bench_b__g9, t.bench_b__g10] END)
  FROM model m JOIN bench_training_baseline t USING (spine_id);
SQL
)"
read -r rows distinct_ids <<<"$(q -F ' ' -c 'SELECT count(*), count(DISTINCT spine_id) FROM bench_training_baseline')"
echo "   $sampled sampled rows, $differing differing from the model; $rows rows for $SPINE spine rows ($distinct_ids distinct)"
if [ "$differing" != 0 ] || [ "$rows" != "$SPINE" ] || [ "$distinct_ids" != "$SPINE" ]; then
    echo "run_training.sh: the baseline does not give the model's rows" >&2
    exit 1
fi
read -r with_a with_b <<<"$(q -F ' ' -c 'SELECT count(bench_a__f1), count(bench_b__g1) FROM bench_training_baseline')"
echo "   spine rows with values: $with_a of bench_a (ttl 7 days), $with_b of bench_b"

# The same versions in the history tables of two feature views, in the
# order they were recorded (which fs_version keeps), and the training view.
say "the training view: fs_create_training_view over the same versions"
t0=$(date +%s.%N)
q >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION feature_store;
SELECT fs_register_entity('user', 'user_id');
CREATE TABLE bench_a (user_id bigint PRIMARY KEY, event_time timestamptz NOT NULL,
    f1 float8, f2 float8, f3 float8, f4 float8, f5 float8, f6 float8, f7 float8, f8 float8, f9 float8, f10 float8);
CREATE TABLE bench_b (user_id bigint PRIMARY KEY, event_time timestamptz NOT NULL,
    g1 float8, g2 float8, g3 float8, g4 float8, g5 float8, g6 float8, g7 float8, g8 float8, g9 float8, g10 float8);
SELECT fs_register_feature_view('bench_a', 'bench_a', 'user', ttl => '7 days');
SELECT fs_register_feature_view('bench_b', 'bench_b', 'user');
SELECT fs_enable_history('bench_a'), fs_enable_history('bench_b');
INSERT INTO bench_a_history (user_id, event_time, fs_recorded_at, fs_deleted, f1, f2, f3, f4, f5, f6, f7, f8, f9, f10)
SELECT user_id, event_time, recorded_at, deleted, f1, f2, f3, f4, f5, f6, f7, f8, f9, f10
  FROM bench_hist_a ORDER BY recorded_at;
INSERT INTO bench_b_history (user_id, event_time, fs_recorded_at, fs_deleted, g1, g2, g3, g4, g5, g6, g7, g8, g9, g10)
SELECT user_id, event_time, recorded_at, deleted, g1, g2, g3, g4, g5, g6, g7, g8, g9, g10
  FROM bench_hist_b ORDER BY recorded_at;
VACUUM ANALYZE bench_a_history, bench_b_history;
SELECT fs_create_training_view('bench_training', 'bench_spine', ARRAY['bench_a:*', 'bench_b:*']);
SQL
echo "   $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
read -r extra missing <<<"$(q -F ' ' <<'SQL'
SELECT (SELECT count(*) FROM (TABLE bench_training EXCEPT ALL TABLE bench_training_baseline) d),
       (SELECT count(*) FROM (TABLE bench_training_baseline EXCEPT ALL TABLE bench_training) d);
SQL
)"
echo "   training view against the baseline: $extra rows only in the view, $missing only in the baseline"
if [ "$extra" != 0 ] || [ "$missing" != 0 ]; then
    echo "run_training.sh: the training view does not give the baseline's rows" >&2
    exit 1
fi

# Both sides' tables all-visible before timing, so each count is the index-only
# scan its plan says: a VACUUM run while autovacuum's ANALYZE of a table just
# loaded holds back the horizon leaves pages not all-visible (the first runs
# of this benchmark timed the training view with 850,000 heap fetches a view
# and the baseline with most of its own).
say "VACUUM until the spine and the history tables are all-visible"
for try in $(seq 1 20); do
    q -c 'VACUUM bench_spine, bench_hist_a, bench_hist_b, bench_a_history, bench_b_history'
    visible="$(q -c "SELECT string_agg(format('%s %s/%s', relname, relallvisible, relpages), ', ' ORDER BY relname),
                            bool_and(relallvisible = relpages)
                       FROM pg_class WHERE relname IN ('bench_spine', 'bench_hist_a', 'bench_hist_b',
                                                       'bench_a_history', 'bench_b_history')")"
    [ "${visible##*|}" = t ] && break
    sleep 3
done
echo "   all-visible pages: ${visible%|*} (after $try VACUUM)"
[ "${visible##*|}" = t ] ||
    echo "   (not every page all-visible after $try VACUUM: the counts below fetch the heap for the others)"

say "plan of SELECT count(*) FROM bench_training_baseline"
q -c 'EXPLAIN (COSTS OFF) SELECT count(*) FROM bench_training_baseline' | sed 's/^/   /'
say "plan of SELECT count(*) FROM bench_training (the training view)"
q -c 'EXPLAIN (COSTS OFF) SELECT count(*) FROM bench_training' | sed 's/^/   /'
say "plan of COPY (SELECT * FROM bench_training)"
q -c 'EXPLAIN (COSTS OFF) SELECT * FROM bench_training' | sed 's/^/   /'

# One statement, timed in the server's session: milliseconds.
timed() {
    q <<SQL | tail -1
SELECT clock_timestamp() AS t0 \gset
$1;
SELECT round(extract(epoch FROM clock_timestamp() - :'t0') * 1000);
SQL
}
say "timing: $ROUNDS rounds, each of the baseline and the training view in turn: SELECT count(*) and COPY ... TO '/dev/null' (after one untimed count of each)"
q -c 'SELECT count(*) FROM bench_training_baseline' >/dev/null
q -c 'SELECT count(*) FROM bench_training' >/dev/null
B_COUNT=(); B_COPY=(); T_COUNT=(); T_COPY=()
for r in $(seq 1 "$ROUNDS"); do
    bc=$(timed 'SELECT count(*) FROM bench_training_baseline')
    tc=$(timed 'SELECT count(*) FROM bench_training')
    tp=$(timed "COPY (SELECT * FROM bench_training) TO '/dev/null'")
    bp=$(timed "COPY (SELECT * FROM bench_training_baseline) TO '/dev/null'")
    B_COUNT+=("$bc"); B_COPY+=("$bp"); T_COUNT+=("$tc"); T_COPY+=("$tp")
    echo "   round $r: count(*) baseline $bc ms, training view $tc ms; COPY baseline $bp ms, training view $tp ms"
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
report() {
    local what=$1 ms=$2
    awk -v what="$what" -v ms="$ms" -v n="$SPINE" 'BEGIN {
        printf "  %-40s %8.0f ms  %10.0f spine rows/s\n", what, ms, n / (ms / 1000.0) }'
}
# The targets: >= 150,000 spine rows/s, and no slower than the baseline.
verdict() {
    local what=$1 ms=$2 base=$3
    awk -v what="$what" -v ms="$ms" -v base="$base" -v n="$SPINE" 'BEGIN {
        rate = n / (ms / 1000.0); ratio = ms / base
        printf "  %-40s %.2fx the time of the baseline (target <= 1.00): %s; %.0f spine rows/s (target >= 150000): %s\n",
               what, ratio, (ratio <= 1.0 ? "met" : "MISSED"), rate, (rate >= 150000 ? "met" : "MISSED") }'
}
b_count=$(median "${B_COUNT[@]}"); b_copy=$(median "${B_COPY[@]}")
t_count=$(median "${T_COUNT[@]}"); t_copy=$(median "${T_COPY[@]}")
echo
echo "training set of $SPINE spine rows, two views of 10 features, $ENTITIES entities x 10 versions (median of $ROUNDS):"
report "baseline, SELECT count(*)" "$b_count"
report "training view, SELECT count(*)" "$t_count"
report "baseline, COPY TO '/dev/null'" "$b_copy"
report "training view, COPY TO '/dev/null'" "$t_copy"
verdict "training view, SELECT count(*):" "$t_count" "$b_count"
verdict "training view, COPY:" "$t_copy" "$b_copy"
q -c "SELECT format('history: %s versions a view, %s bytes per version (table and index) in a view''s history table, %s in the baseline''s',
                    count(*), round(pg_total_relation_size('bench_a_history') / count(*)::numeric),
                    round(pg_total_relation_size('bench_hist_a') / count(*)::numeric))
        FROM bench_a_history" | sed 's/^/  /'
echo "settings: $(q -c "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings
                          WHERE name IN ('shared_buffers', 'work_mem', 'max_parallel_workers_per_gather', 'jit')")"
echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "command:  BENCH_ONLY=training BENCH_TRAINING_SPINE=$SPINE BENCH_TRAINING_ENTITIES=$ENTITIES BENCH_TRAINING_ROUNDS=$ROUNDS make bench"

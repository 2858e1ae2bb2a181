#!/usr/bin/env bash
# run_ingest_scale.sh — the batch lane at scale (BENCH_ONLY=ingest_scale;
# run by test/bench/run.sh, which builds, installs and starts the cluster).
#
# From a CSV file on disk to the online store, embedded store: a snapshot of
# BENCH_SCALE_ROWS entities (default 10,000,000) with 20 float8 features,
# first into an empty view, then again with 1% of the entities changed
# (every 100th: a new f7 and a newer event time).  Each run is the user's
# two statements: a server-side COPY of the file into the view's staging
# table (fs_create_staging_table: UNLOGGED, all text), then fs_ingest; the
# 1%-changed run is also made (and undone) straight from the file, through
# a foreign table of file_fdw, with no staging copy, and (undone) from
# staging without a parallel worker (max_parallel_maintenance_workers = 0).
# The yardstick, measured in the same run and alternating with them, is a
# plain server-side COPY of the same file into an UNLOGGED all-text table
# without indexes; and, once, a COPY of the first file into a logged table shaped
# like the view (typed, with its primary key): with the plain COPY, a first
# load's floor (what writing the view alone costs, with no state and no
# deduplication).  It prints per run: COPY and fs_ingest times, fs_ingest's stages
# (silver = read, cast, validate, digest, compare; gold = write the changed
# rows and their state), change detection (rows_read / silver time), the
# ratio to the plain COPY, the memory of the processes running fs_ingest
# (the largest "Grand total" of pg_log_backend_memory_contexts of the
# backend and its parallel worker, sampled every second, which is what
# pg_backend_memory_contexts shows, not RSS), the
# temporary files written, and the state's size per entity.  A wrong count
# of writes, or sampled values that differ from the file, end it with an
# error after the figures; a missed target does not.
#
# Durability as in production: it sets fsync, synchronous_commit and
# full_page_writes on (ALTER SYSTEM, reload) and puts back the values they
# had on exit, also on failure or interrupt.  The files go to a temporary
# directory the server can write (removed on exit): about 300 bytes per row
# each, two files.
#
# Environment (all optional):
#   BENCH_SCALE_ROWS (10000000)   entities
#   BENCH_SCALE_MODE (upsert)     fs_ingest's mode: upsert or snapshot
#   BENCH_SCALE_DIR               where the files go (default: a new /tmp dir)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ROWS="${BENCH_SCALE_ROWS:-10000000}"
MODE="${BENCH_SCALE_MODE:-upsert}"
DB=fs_bench_scale
[[ "$ROWS" =~ ^[1-9][0-9]{2,}$ ]] ||
    { echo "run_ingest_scale.sh: BENCH_SCALE_ROWS must be an integer of at least 100, not '$ROWS'" >&2; exit 2; }
case "$MODE" in upsert|snapshot) ;; *)
    echo "run_ingest_scale.sh: BENCH_SCALE_MODE must be upsert or snapshot, not '$MODE'" >&2; exit 2 ;;
esac
: "${FS_CLUSTER_ENV:?run_ingest_scale.sh: FS_CLUSTER_ENV must name the state file of the cluster (run.sh sets it)}"
. "$FS_CLUSTER_ENV"
export PGHOST PGPORT PGUSER
LOG="$FS_CLUSTER_DIR/postgres.log"

say() { printf '== %s\n' "$*"; }
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

DIR="${BENCH_SCALE_DIR:-}"
OWN_DIR=0
if [ -z "$DIR" ]; then
    DIR="$(mktemp -d /tmp/fs_bench_scale.XXXXXX)"
    OWN_DIR=1
fi
[ "$(id -u)" -eq 0 ] && chown fs_pg "$DIR"
SAMPLER=""
OLD_SETTINGS="$(psql -X -At -d postgres -c "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name)
                                              FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes')")"
# What puts them back (scripts/pgcluster.sh keeps its settings in
# postgresql.auto.conf, so RESET would lose them): ALTER SYSTEM SET to the
# values they had.
RESTORE=(-c 'SELECT pg_reload_conf()')
for kv in $OLD_SETTINGS; do RESTORE=(-c "ALTER SYSTEM SET ${kv%%=*} = '${kv#*=}'" "${RESTORE[@]}"); done
cleanup() {
    [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null || true
    psql -X -q -d postgres "${RESTORE[@]}" >/dev/null 2>&1 || true
    PGOPTIONS="-c client_min_messages=warning" psql -X -q -d postgres \
        -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    if [ "$OWN_DIR" = 1 ]; then rm -rf -- "$DIR"; else rm -f -- "$DIR"/run1.csv "$DIR"/run2.csv; fi
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

psql -X -q -d postgres -c 'ALTER SYSTEM SET fsync = on' -c 'ALTER SYSTEM SET synchronous_commit = on' \
     -c 'ALTER SYSTEM SET full_page_writes = on' -c 'SELECT pg_reload_conf()' >/dev/null
sleep 1
PGOPTIONS="-c client_min_messages=warning" psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
psql -X -q -d postgres -c "CREATE DATABASE $DB"

say "setup: view bench_scale (bigint key, 20 float8 features), its staging table, the plain table"
q <<'SQL' >/dev/null
SET client_min_messages = warning;
CREATE EXTENSION feature_store;
SELECT format('CREATE TABLE bench_scale (user_id bigint PRIMARY KEY, event_time timestamptz, %s)',
              string_agg(format('f%s float8', i), ', ' ORDER BY i))
  FROM generate_series(1, 20) i \gexec
SELECT format('CREATE UNLOGGED TABLE plain_copy (user_id text, event_time text, %s)',
              string_agg(format('f%s text', i), ', ' ORDER BY i))
  FROM generate_series(1, 20) i \gexec
SELECT format('CREATE TABLE typed_copy (user_id bigint PRIMARY KEY, event_time timestamptz, %s)',
              string_agg(format('f%s float8', i), ', ' ORDER BY i))
  FROM generate_series(1, 20) i \gexec
SELECT fs_register_entity('bench_user', 'user_id');
SELECT fs_register_feature_view('bench_scale', 'bench_scale', 'bench_user');
SELECT fs_create_staging_table('bench_scale');
CREATE EXTENSION file_fdw;
CREATE SERVER bench_files FOREIGN DATA WRAPPER file_fdw;
SELECT format('CREATE FOREIGN TABLE bench_scale_file (user_id text, event_time text, %s)
                 SERVER bench_files OPTIONS (filename %L, format %L, header %L)',
              string_agg(format('f%s text', i), ', ' ORDER BY i), '/nonexistent', 'csv', 'true')
  FROM generate_series(1, 20) i \gexec
SQL

say "writing the files: $ROWS rows each, run2.csv with every 100th entity changed ($DIR)"
t0=$(now)
q -v rows="$ROWS" -v dir="$DIR" <<'SQL'
SELECT format($$COPY (SELECT g AS user_id, '2026-01-01 00:00:00+00' AS event_time, %s FROM generate_series(1, %s) g)
                TO %L (FORMAT csv, HEADER)$$,
              string_agg(format('((g * %s) %% 10007 / 7.0)::float8 AS f%s', i, i), ', ' ORDER BY i),
              :rows, :'dir' || '/run1.csv')
  FROM generate_series(1, 20) i \gexec
SELECT format($$COPY (SELECT g AS user_id,
                               CASE WHEN g %% 100 = 0 THEN '2026-01-02 00:00:00+00' ELSE '2026-01-01 00:00:00+00' END
                               AS event_time, %s
                        FROM generate_series(1, %s) g)
                TO %L (FORMAT csv, HEADER)$$,
              string_agg(CASE WHEN i = 7 THEN 'CASE WHEN g % 100 = 0 THEN -1 ELSE ((g * 7) % 10007 / 7.0)::float8 END AS f7'
                              ELSE format('((g * %s) %% 10007 / 7.0)::float8 AS f%s', i, i) END, ', ' ORDER BY i),
              :rows, :'dir' || '/run2.csv')
  FROM generate_series(1, 20) i \gexec
SQL
echo "   $(secs "$t0" "$(now)") s, $(du -h "$DIR/run1.csv" | cut -f1) per file"

# The plain COPY: the yardstick.
plain_copy() {
    local file="$1" t
    q -c 'TRUNCATE plain_copy' -c 'CHECKPOINT'
    t=$(now)
    q -c "COPY plain_copy FROM '$DIR/$file' (FORMAT csv, HEADER)"
    secs "$t" "$(now)"
}

# A first load's floor: a plain COPY of the file straight into a table shaped
# like the view's (typed, logged, with its primary key), emptied after.
typed_copy() {
    local file="$1" t s
    q -c 'TRUNCATE typed_copy' -c 'CHECKPOINT'
    t=$(now)
    q -c "COPY typed_copy FROM '$DIR/$file' (FORMAT csv, HEADER)"
    s=$(secs "$t" "$(now)")
    q -c 'TRUNCATE typed_copy'
    echo "$s"
}

# Sample the memory of the processes running fs_ingest (the backend and its
# parallel worker, which shows the same query) until $DIR/sampling goes.
sample_memory() {
    local pids=""
    while [ -f "$DIR/sampling" ]; do
        pids="$(psql -X -At -d "$DB" -c "SELECT pid FROM pg_stat_activity
                                          WHERE datname = current_database() AND query ~ 'fs_ingest\\('
                                            AND pid <> pg_backend_pid()" 2>/dev/null || true)"
        for pid in $pids; do
            psql -X -q -At -d "$DB" -c "SELECT pg_log_backend_memory_contexts($pid)" >/dev/null 2>&1 || true
        done
        sleep 1
    done
}

# One run: COPY the file into the staging table, then fs_ingest from it
# (source staging); or fs_ingest straight from the file through file_fdw
# (source file), undone afterwards so that the staging run after it finds
# the same state; or as staging, but by the run's process alone, without a
# parallel worker (source serial), undone too.  Keeps the figures in
# R[label.*].
declare -A R
pipeline() {
    local file="$1" label="$2" source="$3" t0 t1 t2 logstart temp0 temp1 src end=COMMIT workers=2
    q -c 'TRUNCATE bench_scale_staging' -c 'CHECKPOINT'
    temp0="$(q -c "SELECT temp_bytes FROM pg_stat_database WHERE datname = current_database()")"
    logstart=$(stat -c %s "$LOG")
    t0=$(now)
    if [ "$source" != file ]; then
        q -c "COPY bench_scale_staging FROM '$DIR/$file' (FORMAT csv, HEADER MATCH)"
        src=bench_scale_staging
        if [ "$source" = serial ]; then
            workers=0
            end=ROLLBACK
        fi
    else
        q -c "ALTER FOREIGN TABLE bench_scale_file OPTIONS (SET filename '$DIR/$file')"
        src=bench_scale_file
        end=ROLLBACK
    fi
    t1=$(now)
    touch "$DIR/sampling"
    sample_memory &
    SAMPLER=$!
    q -F ' ' -c "SET client_min_messages = warning" -c "SET max_parallel_maintenance_workers = $workers" -c BEGIN \
      -c "SELECT run_id FROM fs_ingest('bench_scale', '$src', '$MODE')" \
      -c "SELECT silver_ms, gold_ms, write_ms, rows_read, online_writes FROM fs_ingest_runs
           WHERE run_id = (SELECT max(run_id) FROM fs_ingest_runs)" \
      -c "$end" > "$DIR/run_out"
    t2=$(now)
    rm -f "$DIR/sampling"
    wait "$SAMPLER" || true
    SAMPLER=""
    sleep 1
    temp1="$(q -c "SELECT pg_stat_force_next_flush()" -c "SELECT pg_stat_clear_snapshot()" \
               -c "SELECT temp_bytes FROM pg_stat_database WHERE datname = current_database()" | tail -1)"
    R[$label.copy]=$(secs "$t0" "$t1")
    R[$label.ingest]=$(secs "$t1" "$t2")
    R[$label.total]=$(secs "$t0" "$t2")
    read -r R[$label.silver] R[$label.gold] R[$label.write] R[$label.rows] R[$label.writes] < <(sed -n 2p "$DIR/run_out")
    R[$label.mem]=$(tail -c +"$((logstart + 1))" "$LOG" | sed -n 's/.*Grand total: \([0-9]*\) bytes.*/\1/p' |
                    sort -n | tail -1)
    R[$label.temp]=$((temp1 - temp0))
}

say "alternating: plain COPY, typed COPY, first run, plain COPY, 1% changed from the file (undone), 1% changed alone (undone), 1% changed, plain COPY"
B1=$(plain_copy run1.csv); echo "   plain COPY: $B1 s"
TYPED=$(typed_copy run1.csv); echo "   typed COPY (the view's shape, logged): $TYPED s"
pipeline run1.csv first staging; echo "   first run: COPY ${R[first.copy]} s + fs_ingest ${R[first.ingest]} s"
B2=$(plain_copy run2.csv); echo "   plain COPY: $B2 s"
pipeline run2.csv file file; echo "   1% changed, from the file: fs_ingest ${R[file.ingest]} s"
pipeline run2.csv serial serial; echo "   1% changed, without a parallel worker: COPY ${R[serial.copy]} s + fs_ingest ${R[serial.ingest]} s"
pipeline run2.csv second staging; echo "   1% changed: COPY ${R[second.copy]} s + fs_ingest ${R[second.ingest]} s"
B3=$(plain_copy run2.csv); echo "   plain COPY: $B3 s"
BASE=$(printf '%s\n' "$B1" "$B2" "$B3" | sort -n | sed -n 2p)

echo
for label in first second serial file; do
    q -v total="${R[$label.total]}" -v copy="${R[$label.copy]}" -v ingest="${R[$label.ingest]}" \
      -v base="$BASE" -v typed="$TYPED" -v mem="${R[$label.mem]:-0}" -v temp="${R[$label.temp]}" -v label="$label" -v rows="$ROWS" \
      -v silver="${R[$label.silver]}" -v gold="${R[$label.gold]}" -v write="${R[$label.write]}" \
      -v read="${R[$label.rows]}" -v writes="${R[$label.writes]}" -v mode="$MODE" <<'SQL'
SELECT format(E'%s (%s, %s entities):\n'
              '  end to end         %s s = %s fs_ingest %s s\n'
              '  plain COPY         %s s (median of 3)   ratio %s   %s\n'
              '%s'
              '  fs_ingest stages   silver %s s, gold %s s, write %s s\n'
              '  change detection   %s rows/s   target >= 500,000: %s\n'
              '  online writes      %s   expected %s: %s\n'
              '  backend memory     %s MB (largest sampled, of any of its processes)   target <= 256 MB: %s\n'
              '  temporary files    %s MB',
              CASE :'label' WHEN 'first' THEN 'first run, COPY into staging + fs_ingest'
                            WHEN 'second' THEN '1% changed, COPY into staging + fs_ingest'
                            WHEN 'serial' THEN '1% changed, as above without a parallel worker (max_parallel_maintenance_workers = 0), undone'
                            ELSE '1% changed, fs_ingest from the file (file_fdw), undone' END,
              :'mode', to_char(:rows, 'FM999,999,999'),
              :'total', CASE WHEN :'label' = 'file' THEN '' ELSE format('COPY into staging %s s +', :'copy') END,
              :'ingest', :'base', round(:total / :base, 2),
              CASE WHEN :'label' = 'first'
                   THEN 'target <= 90 s: ' || CASE WHEN :total <= 90 THEN 'PASS' ELSE 'FAIL' END
                   ELSE 'target <= 1.5: ' || CASE WHEN :total / :base <= 1.5 THEN 'PASS' ELSE 'FAIL' END END,
              CASE WHEN :'label' = 'first'
                   THEN format(E'  first load floor   %s s: the plain COPY %s s + a typed COPY of the file into a logged table\n'
                               '                     shaped like the view, with its primary key, %s s (no state, no deduplication)\n',
                               round(:base + :typed, 1), :'base', :'typed')
                   ELSE '' END,
              round(:silver / 1000.0, 1), round(:gold / 1000.0, 1), round(:write / 1000.0, 1),
              to_char(round(:read / nullif(:silver / 1000.0, 0)), 'FM999,999,999'),
              CASE WHEN :read / nullif(:silver / 1000.0, 0) >= 500000 THEN 'PASS' ELSE 'FAIL' END,
              to_char(:writes, 'FM999,999,999'),
              to_char(CASE WHEN :'label' = 'first' THEN :rows ELSE :rows / 100 END, 'FM999,999,999'),
              CASE WHEN :writes = CASE WHEN :'label' = 'first' THEN :rows ELSE :rows / 100 END
                   THEN 'PASS' ELSE 'FAIL' END,
              round(:mem / 1048576.0), CASE WHEN :mem <= 256 * 1048576 AND :mem > 0 THEN 'PASS' ELSE 'FAIL' END,
              round(:temp / 1048576.0));
SQL
done

q <<'SQL'
SELECT format(E'state: %s rows, %s bytes per entity (table and index); view table: %s bytes per entity',
              to_char(count(*), 'FM999,999,999'),
              pg_total_relation_size('fs_ingest_state') / greatest(count(*), 1),
              pg_total_relation_size('bench_scale') / greatest(count(*), 1))
  FROM fs_ingest_state WHERE feature_view = 'bench_scale';
SQL

# Sampled entities against the file: the changed ones and others.
BAD="$(q -v rows="$ROWS" <<'SQL'
SELECT count(*) FROM generate_series(1, :rows, greatest(:rows / 2000, 1)) g
  JOIN bench_scale v ON v.user_id = g
 WHERE v.f7 IS DISTINCT FROM CASE WHEN g % 100 = 0 THEN -1 ELSE ((g * 7) % 10007 / 7.0)::float8 END
    OR v.f3 IS DISTINCT FROM ((g * 3) % 10007 / 7.0)::float8
    OR v.event_time <> CASE WHEN g % 100 = 0 THEN '2026-01-02 00:00:00+00' ELSE '2026-01-01 00:00:00+00' END::timestamptz
SQL
)"
echo "sampled entities differing from the file: $BAD"
echo "settings: $(psql -X -At -d "$DB" -c "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ' ' ORDER BY name)
                                           FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes',
                                             'shared_buffers', 'maintenance_work_mem', 'work_mem', 'max_wal_size')")"
echo "          (before: $OLD_SETTINGS, put back on exit)"
echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "command:  BENCH_ONLY=ingest_scale BENCH_SCALE_ROWS=$ROWS BENCH_SCALE_MODE=$MODE make bench"
WRONG=0
[ "${R[first.writes]}" = "$ROWS" ] || WRONG=1
[ "${R[second.writes]}" = "$((ROWS / 100))" ] || WRONG=1
[ "${R[file.writes]}" = "$((ROWS / 100))" ] || WRONG=1
if [ "$WRONG" != 0 ] || [ "$BAD" != 0 ]; then
    echo "run_ingest_scale.sh: WRONG ANSWER (see FAIL above)" >&2
    exit 1
fi

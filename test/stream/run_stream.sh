#!/usr/bin/env bash
# run_stream.sh — the streaming lane end to end: fs_push and plain INSERT/COPY
# into fs_stream_queue, drained by the stream worker into an embedded view and
# (with FS_DYNALITE_ENDPOINT) a view in dynalite, then served.
#
#   (a) push then serve, on both stores; a plain INSERT and a COPY into the
#       queue are drained too, and the queue stamps who queued an event;
#   (b) an older event after a newer one changes nothing;
#   (c) counters ('add') exact: 10 concurrent pushers; and a flush that fails
#       after its writes reached the store, before the queue's commit
#       (feature_store.stream_fail_after_write), is retried without adding
#       twice;
#   (d) events queued while the store is down stay queued (fs_stream_status
#       shows the error), tried more often than stream_max_attempts and not
#       set aside, while another view's events are written; drained once it
#       is back; the same for a view whose remote table is missing, until
#       the table is made;
#   (e) events queued across a server restart (immediate stop) are drained
#       after it;
#   (f) errors of fs_push; events the worker cannot write (queued by INSERT,
#       or refused by the table's CHECK) go to fs_stream_rejects with the
#       reason, alone: the other events of their flush are written; a
#       reason shows no row values its producer may not read;
#   (i) one view's trouble stays its own: while a view's trigger raises
#       40001, or a row of a view is locked, other views' events are
#       written; the trigger's events are set aside after
#       stream_max_attempts, the locked entity's wait as long as it takes,
#       and the view's later events wait behind it, in order;
#       the view's error shows only to roles that may read the view;
#       set-aside events are requeued or discarded by their producer only,
#       through functions (PUBLIC cannot DELETE from or LOCK the table);
#   (g) every database with the extension has its queue drained, with no
#       setting: a worker comes with CREATE EXTENSION and with each commit
#       of events, leaves an idle queue, and fs_stream_status shows the
#       database's own worker and counts; CREATE DATABASE ... TEMPLATE,
#       ALTER DATABASE ... RENAME and DROP DATABASE of a database whose
#       worker is connected succeed;
#   (h) on a cluster of its own without the preload, fs_push and INSERT into
#       the queue warn that nothing drains it.
#   (j) events of one entity named differently ('Bob' and 'bob' of a citext
#       key) are merged into one write: the later event wins.
#   (k) events pushed while the store hangs (timeouts), then while it is
#       stopped, and after it came back empty on the same endpoint (the
#       remote table gone) stay queued past stream_max_attempts, never set
#       aside; once fs_create_online_table makes the table again, all are
#       written.
#
# Needs the cluster of scripts/pgcluster.sh (FS_CLUSTER_ENV) with feature_store
# in shared_preload_libraries (scripts/test.sh starts it so); most checks run
# in database "postgres" and drop the extension at the end.  Waits poll, up
# to 20 s each; how long values took to be served is shown as "# " lines,
# never checked.  Prints "ok - name" / "not ok - name" and, last, "N passed,
# N failed".
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"

DB=postgres
REMOTE=0
CITEXT_MADE=0
PREFIX="fs_stream_$$"
TABLE="${PREFIX}_items"         # the remote table in dynalite
PIDS=()

# Stop the pushers, drop what the checks made in $DB (on exit).
drop_stream_objects() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    psql -X -q -d "$DB" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'fs_lock_holder'" \
        >/dev/null 2>&1 || true
    psql -X -q -d "$DB" -c "SET client_min_messages = warning" \
         -c "DROP EXTENSION IF EXISTS feature_store CASCADE" \
         -c "DROP TABLE IF EXISTS stream_local, stream_ci, stream_local_history, stream_remote_history" -c "DROP SCHEMA IF EXISTS mallory CASCADE" \
         -c "DROP ROLE IF EXISTS regress_fs_producer" -c "DROP ROLE IF EXISTS regress_fs_mallory" \
         -c "DROP ROLE IF EXISTS regress_fs_stranger" >/dev/null 2>&1 || true
    psql -X -q -d "$DB" -c "SET client_min_messages = warning" \
         -c "DROP TABLE IF EXISTS poison_t, calm_t" -c "DROP FUNCTION IF EXISTS poison()" \
         -c "DROP OWNED BY regress_fs_pusher, regress_fs_reader" \
         -c "DROP ROLE IF EXISTS regress_fs_pusher, regress_fs_reader" >/dev/null 2>&1 || true
    psql -X -q -d "$DB" -c "SET client_min_messages = warning" \
         -c "DROP OWNED BY regress_fs_colprod, regress_fs_tableprod" \
         -c "DROP ROLE IF EXISTS regress_fs_colprod, regress_fs_tableprod" >/dev/null 2>&1 || true
    if [ "$CITEXT_MADE" = 1 ]; then
        psql -X -q -d "$DB" -c "SET client_min_messages = warning" \
             -c "DROP EXTENSION IF EXISTS citext CASCADE" >/dev/null 2>&1 || true
    fi
}
make_work fs_stream
at_exit drop_stream_objects

export PGOPTIONS="${PGOPTIONS:-} -c timezone=UTC"

served() {  # served VIEW ENTITY FEATURE: the value fs_get_features serves
    q "SELECT coalesce(value::text, status) FROM fs_get_features(ARRAY['$2'], ARRAY['$1:$3'])"
}

# --- preconditions ----------------------------------------------------------

need_psql
[ -n "${FS_CLUSTER_ENV:-}" ] || FS_CLUSTER_ENV=/tmp/feature_store_cluster.env
drop_stream_objects     # what a run that was cut short left
out="$(q "CREATE EXTENSION feature_store")"
[ -z "$out" ] || die "CREATE EXTENSION feature_store failed: $out"

check "the stream worker runs (feature_store in shared_preload_libraries)" "running" \
    "$(wait_for "SELECT worker_state FROM fs_stream_status" running)"
[ "$(q "SELECT worker_state FROM fs_stream_status")" = running ] ||
    { echo "# without the worker nothing else can be checked"; finish; }

setup_sql "$DB" <<'EOF'
SET client_min_messages = warning;
CREATE TABLE stream_local (user_id text PRIMARY KEY, event_time timestamptz,
                           clicks bigint, score float8, label text, tags text[]);
SELECT FROM fs_register_entity('user', 'user_id');
SELECT FROM fs_register_feature_view('local', 'stream_local', 'user');
CREATE ROLE regress_fs_producer;
EOF
if [ -n "${FS_DYNALITE_ENDPOINT:-}" ]; then
    drop_remote_on_exit "$PREFIX"
    setup_sql "the remote view" <<EOF
SET client_min_messages = warning;
$(dynamodb_server stream_srv "$FS_DYNALITE_ENDPOINT" "max_retries '1'")
CREATE FOREIGN TABLE stream_remote (user_id text, event_time timestamptz,
  clicks bigint, score float8, label text, tags text[])
  SERVER stream_srv OPTIONS (table '$TABLE', key 'user_id');
SELECT fs_create_online_table('stream_remote');
SELECT FROM fs_register_feature_view('remote', 'stream_remote', 'user');
EOF
    REMOTE=1
    VIEWS="local remote"
else
    echo "# FS_DYNALITE_ENDPOINT is unset: the embedded store only"
    VIEWS="local"
fi

# --- (a) push then serve ------------------------------------------------------
echo "# (a) push then serve"
for v in $VIEWS; do
    id="$(q "SELECT fs_push('$v', 'u1', '{\"clicks\": 5, \"label\": \"new\", \"tags\": [\"a\", \"b\"]}', '2026-01-01 00:00:00+00')")"
    check_true "$v: fs_push returns the event's queue id" "$([[ "$id" =~ ^[0-9]+$ ]] && echo t || echo f)" "$id"
    out="$(wait_for "SELECT string_agg(coalesce(value::text, status), ',' ORDER BY feature_ref) FROM fs_get_features(ARRAY['u1'], ARRAY['$v:clicks', '$v:label', '$v:score', '$v:tags'])" \
        '5,"new",NULL_VALUE,["a", "b"]')"
    check "$v: the pushed values are served; the feature not pushed is NULL" '5,"new",NULL_VALUE,["a", "b"]' "$out"
    echo "# $v: served after $(cat "$WORK/waited") ms (polling every 50 ms)"
    check "$v: served with the event's time" "2026-01-01 00:00:00+00" \
        "$(q "SELECT DISTINCT event_time FROM fs_get_features(ARRAY['u1'], ARRAY['$v:clicks'])")"
done
q "INSERT INTO fs_stream_queue (feature_view, entity_id, features, event_time) VALUES ('local', 'u2', '{\"score\": 2.5}', '2026-01-01')" >/dev/null
printf 'local\tu3\t{"score": 3.5}\t2026-01-01 00:00:00+00\n' >"$WORK/copy.tsv"
psql -X -q -d "$DB" -c "\\copy fs_stream_queue (feature_view, entity_id, features, event_time) FROM '$WORK/copy.tsv'" >/dev/null 2>&1
check "a plain INSERT and a COPY into the queue are drained and served" "2.5,3.5" \
    "$(wait_for "SELECT string_agg(coalesce(value::text, status), ',' ORDER BY entity_id) FROM fs_get_features(ARRAY['u2', 'u3'], ARRAY['local:score'])" "2.5,3.5")"
out="$(psql -X -q -At -v VERBOSITY=sqlstate -d "$DB" 2>&1 <<'EOF'
SET ROLE regress_fs_producer;
INSERT INTO fs_stream_queue (feature_view, entity_id, features, pushed_by)
VALUES ('local', 'u9', '{"score": 9}', 'postgres');
RESET ROLE;
EOF
)"
check "the queue stamps the role that queued an event, whatever the INSERT says" "regress_fs_producer" \
    "$(wait_for "SELECT pushed_by FROM fs_stream_rejects WHERE entity_id = 'u9'" regress_fs_producer)"
check "an event queued by a role without privilege on the view is set aside, not written" "t|NOT_FOUND" \
    "$(q "SELECT reason ~ 'permission denied' FROM fs_stream_rejects WHERE entity_id = 'u9'")|$(served local u9 score)"

# --- (b) older after newer -----------------------------------------------------
echo "# (b) an older event after a newer one"
for v in $VIEWS; do
    # One transaction: both events land in one flush, merged, and the merge
    # must not carry the older event's value past the stored newer one.
    q "SELECT fs_push('$v', 'u1', '{\"clicks\": 1}', '2025-12-31 00:00:00+00'), fs_push('$v', 'u1', '{\"label\": \"after\"}', '2026-01-02 00:00:00+00')" >/dev/null
    out="$(wait_for "SELECT string_agg(coalesce(value::text, status), ',' ORDER BY feature_ref) FROM fs_get_features(ARRAY['u1'], ARRAY['$v:clicks', '$v:label'])" '5,"after"')"
    check "$v: the older event's value is not served; a newer event with it is" '5,"after"' "$out"
    check "$v: the older event counts as stale" "t" "$(q "SELECT events_stale > 0 FROM fs_stream_status")"
done

# --- (c) counters ----------------------------------------------------------------
echo "# (c) counters"
for v in $VIEWS; do
    for p in $(seq 1 10); do
        psql -X -q -d "$DB" -c "SELECT count(fs_push('$v', 'c1', '{\"clicks\": 1}', now(), 'add')) FROM generate_series(1, 100)" \
            >"$WORK/push.$v.$p.log" 2>&1 &
        PIDS+=("$!")
    done
    wait "${PIDS[@]}" 2>/dev/null || true
    PIDS=()
    check "$v: 10 concurrent pushers of 100 adds each: the counter is 1000" "1000" \
        "$(wait_for "SELECT value::text FROM fs_get_features(ARRAY['c1'], ARRAY['$v:clicks'])" 1000)"
done

for v in $VIEWS; do
    q "SELECT fs_push('$v', 'c3', '{\"clicks\": 100}', '2030-01-01 00:00:00+00')" >/dev/null
    wait_for "SELECT value::text FROM fs_get_features(ARRAY['c3'], ARRAY['$v:clicks'])" 100 >/dev/null
    q "SELECT fs_push('$v', 'c3', '{\"clicks\": 5}', '2026-01-01 00:00:00+00', 'add')" >/dev/null
    check "$v: an add older than the stored event time still counts, and the event time stays" \
        "105|2030-01-01 00:00:00+00" \
        "$(wait_for "SELECT value::text || '|' || event_time FROM fs_get_features(ARRAY['c3'], ARRAY['$v:clicks'])" "105|2030-01-01 00:00:00+00")"
done

q "GRANT SELECT, INSERT, UPDATE ON stream_local TO regress_fs_producer" >/dev/null
[ "$REMOTE" = 0 ] || q "GRANT SELECT, INSERT, UPDATE ON stream_remote TO regress_fs_producer" >/dev/null
for v in $VIEWS; do
    out="$(psql -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -d "$DB" 2>&1 <<EOF
BEGIN;
SET LOCAL ROLE regress_fs_producer;
SELECT fs_push('$v', 'c4', '{"clicks": 1}', now(), 'add') > 0;
RESET ROLE;
SELECT fs_push('$v', 'c4', '{"clicks": 10}', now(), 'add') > 0;
COMMIT;
EOF
)"
    check "$v: a role that is not superuser pushes; two roles' adds to one entity in one flush both count" \
        "t|t|11" "$(tr '\n' '|' <<<"$out")$(wait_for "SELECT value::text FROM fs_get_features(ARRAY['c4'], ARRAY['$v:clicks'])" 11)"
    q "SELECT fs_push('$v', 'c5', '{\"clicks\": 100}', '2026-01-01'), fs_push('$v', 'c5', '{\"clicks\": 5}', '2026-01-02', 'add'), fs_push('$v', 'c5', '{\"clicks\": 0}', '2026-01-03'), fs_push('$v', 'c5', '{\"clicks\": 2}', '2026-01-04', 'add')" >/dev/null
    check "$v: in one flush, an add before a set is overwritten by it, an add after it counts" "2" \
        "$(wait_for "SELECT value::text FROM fs_get_features(ARRAY['c5'], ARRAY['$v:clicks'])" 2)"
done

# History (docs/training.md): the worker's writes are versions, in the flush's
# transaction, so a flush retried after failing leaves one version of it.
q "SELECT fs_enable_history('local')" >/dev/null
hist_before="$(q "SELECT coalesce(max(fs_version), 0) FROM stream_local_history")"
if [ "$REMOTE" = 1 ]; then
    # The store keeps a failed flush's writes; the retry's are duplicates it
    # refuses, whose entities are read back: their versions are recorded then.
    q "SELECT fs_enable_history('remote')" >/dev/null
    remote_hist_before="$(q "SELECT coalesce(max(fs_version), 0) FROM stream_remote_history")"
fi
before="$(q "SELECT failed_flushes FROM fs_stream_status")"
q "ALTER SYSTEM SET feature_store.stream_fail_after_write = 2" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
for v in $VIEWS; do
    q "SELECT fs_push('$v', 'c2', '{\"clicks\": 7}', now(), 'add'), fs_push('$v', 'c2', '{\"clicks\": 3}', now(), 'add')" >/dev/null
done
check "two flushes failed after their writes, before their commit" "2" \
    "$(wait_for "SELECT failed_flushes - $before FROM fs_stream_status" 2)"
for v in $VIEWS; do
    check "$v: after the retried flush the counter is exactly 10 (not 20 or 30)" "10" \
        "$(wait_for "SELECT value::text FROM fs_get_features(ARRAY['c2'], ARRAY['$v:clicks'])" 10)"
done
check "fs_stream_status shows the injected failure as the last error" "t" \
    "$(q "SELECT last_error ~ 'stream_fail_after_write' FROM fs_stream_status")"
check "local: the retried flushes left their versions in the view's history once each, the last at 10" "true|10" \
    "$(q "SELECT (count(*) BETWEEN 1 AND 2 AND count(*) = count(DISTINCT clicks)) || '|' || max(clicks) FROM stream_local_history WHERE user_id = 'c2' AND fs_version > $hist_before")"
[ "$REMOTE" = 0 ] || check "remote: the retried flushes left their versions in the view's history once each, the last at 10" "true|10" \
    "$(q "SELECT (count(*) BETWEEN 1 AND 2 AND count(*) = count(DISTINCT clicks)) || '|' || max(clicks) FROM stream_remote_history WHERE user_id = 'c2' AND fs_version > $remote_hist_before")"
if [ "$REMOTE" = 1 ]; then
    # One failure, of a flush of the remote view alone: the store keeps its
    # write, the retry's is a duplicate, and the version is recorded by it.
    before="$(q "SELECT failed_flushes FROM fs_stream_status")"
    q "ALTER SYSTEM SET feature_store.stream_fail_after_write = 1" >/dev/null
    q "SELECT pg_reload_conf()" >/dev/null
    sleep 0.5
    q "SELECT fs_push('remote', 'c6', '{\"clicks\": 6}', '2026-01-06')" >/dev/null
    check "remote: a flush failed after its write, once" "1" \
        "$(wait_for "SELECT failed_flushes - $before FROM fs_stream_status" 1)"
    check "remote: its retry recorded the version the failed flush lost, once" "1|6" \
        "$(wait_for "SELECT count(*) || '|' || max(clicks) FROM stream_remote_history WHERE user_id = 'c6'" "1|6")"
    q "ALTER SYSTEM RESET feature_store.stream_fail_after_write" >/dev/null
    q "SELECT pg_reload_conf()" >/dev/null
fi
q "ALTER SYSTEM RESET feature_store.stream_fail_after_write" >/dev/null
# Flush ids never go back (the extension made again, a restore): adds still count.
q "SELECT pg_catalog.setval('fs_stream_flush_seq', 1)" >/dev/null
for v in $VIEWS; do
    q "SELECT fs_push('$v', 'c2', '{\"clicks\": 5}', now(), 'add')" >/dev/null
    check "$v: after the flush sequence went back, an add still counts" "15" \
        "$(wait_for "SELECT value::text FROM fs_get_features(ARRAY['c2'], ARRAY['$v:clicks'])" 15)"
done
q "SELECT pg_reload_conf()" >/dev/null

# --- (d) the store down ---------------------------------------------------------
if [ "$REMOTE" = 1 ]; then
    echo "# (d) the store down, then back; a missing remote table"
    # Store outages are waited out for ever: they never count as attempts.
    q "ALTER SYSTEM SET feature_store.stream_max_attempts = 2" >/dev/null
    q "SELECT pg_reload_conf()" >/dev/null
    before="$(q "SELECT failed_flushes FROM fs_stream_status")"
    q "ALTER SERVER stream_srv OPTIONS (SET endpoint 'http://127.0.0.1:9')" >/dev/null
    q "SELECT fs_push('remote', 'd1', '{\"clicks\": 11}'), fs_push('remote', 'd2', '{\"clicks\": 12}', now(), 'add'), fs_push('local', 'd3', '{\"clicks\": 13}')" >/dev/null
    check "while the store is down, the events of a view of another store are written" "13" \
        "$(wait_for "SELECT value::text FROM fs_get_features(ARRAY['d3'], ARRAY['local:clicks'])" 13)"
    check "while the store is down the events stay queued and the error shows" "2|1" \
        "$(wait_for "SELECT queue_depth || '|' || (last_error_at > now() - interval '10 s' AND last_error ~ 'DynamoDB')::int FROM fs_stream_status" "2|1")"
    check "tried more often than stream_max_attempts, they are not set aside" "2|0" \
        "$(wait_for "SELECT queue_depth || '|' || (SELECT count(*) FROM fs_stream_rejects WHERE entity_id IN ('d1', 'd2')) FROM fs_stream_status WHERE failed_flushes >= $before + 4" "2|0")"
    q "ALTER SERVER stream_srv OPTIONS (SET endpoint '$FS_DYNALITE_ENDPOINT')" >/dev/null
    check "once the store is back they are drained and served" "11,12|0" \
        "$(wait_for "SELECT string_agg(value::text, ',' ORDER BY entity_id) || '|' || (SELECT queue_depth FROM fs_stream_status) FROM fs_get_features(ARRAY['d1', 'd2'], ARRAY['remote:clicks'])" "11,12|0")"
    setup_sql "a view whose remote table is missing" <<EOF
CREATE FOREIGN TABLE stream_ghost (user_id text, event_time timestamptz, clicks bigint)
  SERVER stream_srv OPTIONS (table '${PREFIX}_ghost', key 'user_id');
SELECT FROM fs_register_feature_view('ghost', 'stream_ghost', 'user');
EOF
    before="$(q "SELECT failed_flushes FROM fs_stream_status")"
    q "SELECT fs_push('ghost', 'g1', '{\"clicks\": 21}')" >/dev/null
    check "events of a view whose remote table is missing stay queued, never set aside" "1|0|1" \
        "$(wait_for "SELECT queue_depth || '|' || (SELECT count(*) FROM fs_stream_rejects WHERE entity_id = 'g1') || '|' || (last_error ~ 'does not exist')::int FROM fs_stream_status WHERE failed_flushes >= $before + 4" "1|0|1")"
    q "SELECT fs_create_online_table('stream_ghost')" >/dev/null
    check "once the remote table exists they are written" "21" \
        "$(wait_for "SELECT value::text FROM fs_get_features(ARRAY['g1'], ARRAY['ghost:clicks'])" 21)"
    q "SELECT fs_drop_feature_view('ghost')" >/dev/null
    q "ALTER SYSTEM RESET feature_store.stream_max_attempts" >/dev/null
    q "SELECT pg_reload_conf()" >/dev/null
fi

# --- (e) a server restart with queued events -------------------------------------
echo "# (e) a restart with events queued"
# A worker that stays in the database (it would leave an idle queue) and
# then flushes only once a minute: the next events stay queued.
q "ALTER SYSTEM SET feature_store.stream_idle_timeout_ms = '1h'" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
q "SELECT fs_push('local', 'r0', '{\"clicks\": 20}')" >/dev/null
wait_for "SELECT value::text || '|' || (SELECT worker_state FROM fs_stream_status) FROM fs_get_features(ARRAY['r0'], ARRAY['local:clicks'])" "20|running" >/dev/null
q "ALTER SYSTEM SET feature_store.stream_flush_interval_ms = 60000" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
sleep 0.3
# (The test cluster runs with synchronous_commit off; these commits must be on disk.)
q "SET synchronous_commit = on; SELECT fs_push('local', 'r1', '{\"clicks\": 21}'), fs_push('local', 'r2', '{\"clicks\": 22}', now(), 'add')" >/dev/null
sleep 0.3
queued="$(q "SELECT queue_depth FROM fs_stream_status")"
check_true "events are queued before the restart" "$([[ "$queued" =~ ^[0-9]+$ ]] && [ "$queued" -ge 1 ] && echo t || echo f)" "queued: $queued"
q "ALTER SYSTEM RESET feature_store.stream_flush_interval_ms" >/dev/null
q "ALTER SYSTEM RESET feature_store.stream_idle_timeout_ms" >/dev/null
out="$(bash "$REPO/scripts/pgcluster.sh" crash-restart 2>&1)" || not_ok "the cluster restarts" "$out"
check "after the restart the queued events are drained and served" "21,22" \
    "$(wait_for "SELECT string_agg(coalesce(value::text, status), ',' ORDER BY entity_id) FROM fs_get_features(ARRAY['r1', 'r2'], ARRAY['local:clicks'])" "21,22")"

# --- (f) errors ---------------------------------------------------------------------
echo "# (f) errors"
check "fs_push to an unknown view: 42704" "ERROR:  42704" "$(q "SELECT fs_push('nope', 'u1', '{\"clicks\": 1}')")"
check "fs_push of an unknown feature: 42703" "ERROR:  42703" "$(q "SELECT fs_push('local', 'u1', '{\"nope\": 1}')")"
check "fs_push of a value its type refuses: 22P02" "ERROR:  22P02" "$(q "SELECT fs_push('local', 'u1', '{\"clicks\": \"many\"}')")"
check "fs_push with an unknown mode: 22023" "ERROR:  22023" "$(q "SELECT fs_push('local', 'u1', '{\"clicks\": 1}', now(), 'mul')")"
check "fs_push adding to a text feature: 42804" "ERROR:  42804" "$(q "SELECT fs_push('local', 'u1', '{\"label\": 1}', now(), 'add')")"
check "fs_push with a NULL entity id: 22004" "ERROR:  22004" "$(q "SELECT fs_push('local', NULL, '{\"clicks\": 1}')")"
check "fs_push with an empty entity id: 22023" "ERROR:  22023" "$(q "SELECT fs_push('local', '', '{\"clicks\": 1}')")"
q "SELECT fs_push('local', 'w1', '{\"clicks\": 1}')" >/dev/null
wait_for "SELECT queue_depth = 0 AND worker_pid IS NOT NULL FROM fs_stream_status" t >/dev/null
pid="$(q "SELECT worker_pid FROM fs_stream_status")"
q "SELECT pg_cancel_backend($pid)" >/dev/null
sleep 0.5
check "a cancel of the idle worker does not stop it" "$pid" "$(q "SELECT worker_pid FROM fs_stream_status")"
check "a refused fs_push queues nothing" "0" "$(q "SELECT queue_depth FROM fs_stream_status")"
q "INSERT INTO fs_stream_queue (feature_view, entity_id, features) VALUES ('local', 'x1', '{\"nope\": 1}'), ('gone', 'x2', '{\"clicks\": 1}'), ('local', 'x3', '{\"clicks\": 3}')" >/dev/null
check "bad events queued by INSERT are set aside with the reason; the good one is written" "x1:42703,x2:42704|3" \
    "$(wait_for "SELECT string_agg(entity_id || ':' || substring(reason FROM 'SQLSTATE ([0-9A-Z]{5})'), ',' ORDER BY entity_id) || '|' || (SELECT value::text FROM fs_get_features(ARRAY['x3'], ARRAY['local:clicks'])) FROM fs_stream_rejects WHERE entity_id IN ('x1', 'x2')" "x1:42703,x2:42704|3")"
# (The worker's counts start again with the restart.)
q "ALTER TABLE stream_local ADD CONSTRAINT clicks_not_negative CHECK (clicks >= 0)" >/dev/null
q "SELECT fs_push('local', 'p1', '{\"clicks\": -5}'), fs_push('local', 'p2', '{\"clicks\": 7}'), fs_push('local', 'p3', '{\"label\": \"ok\"}')" >/dev/null
check "an event the table refuses (CHECK) is set aside alone; the others of its flush are written" "p1:23514|7,\"ok\"" \
    "$(wait_for "SELECT string_agg(entity_id || ':' || substring(reason FROM 'SQLSTATE ([0-9A-Z]{5})'), ',') || '|' || (SELECT string_agg(value::text, ',' ORDER BY entity_id) FROM fs_get_features(ARRAY['p2', 'p3'], ARRAY['local:clicks', 'local:label']) WHERE status = 'PRESENT') FROM fs_stream_rejects WHERE entity_id = 'p1'" "p1:23514|7,\"ok\"")"
# A producer that may not read every column sees no detail built with the
# table owner's rights: the CHECK's "Failing row contains (...)" would show
# the label it cannot SELECT.  One that may read the table sees the detail.
q "INSERT INTO stream_local (user_id, event_time, clicks, label) VALUES ('s1', '2020-01-01', 1, 'secret-label'), ('s2', '2020-01-01', 1, 'open-label')" >/dev/null
out="$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" 2>&1 <<'EOF'
SET client_min_messages = warning;
CREATE ROLE regress_fs_colprod;
GRANT INSERT (user_id, event_time, clicks), UPDATE (user_id, event_time, clicks),
      SELECT (user_id, event_time, clicks) ON stream_local TO regress_fs_colprod;
CREATE ROLE regress_fs_tableprod;
GRANT SELECT, INSERT, UPDATE ON stream_local TO regress_fs_tableprod;
SET ROLE regress_fs_colprod;
SELECT fs_push('local', 's1', '{"clicks": -5}') > 0;
SET ROLE regress_fs_tableprod;
SELECT fs_push('local', 's2', '{"clicks": -6}') > 0;
RESET ROLE;
EOF
)"
check "producers with column and with table grants push events the CHECK refuses" "$(printf 't\nt')" "$out"
check "a producer without SELECT on the label: the reason keeps the error, not the row's values" \
    "23514|false|true" "$(wait_for "SELECT substring(reason FROM 'SQLSTATE ([0-9A-Z]{5})') || '|' || (reason ~ 'secret-label') || '|' || (reason ~ 'not shown') FROM fs_stream_rejects WHERE entity_id = 's1'" "23514|false|true")"
check "a producer that may read the table: the reason has the detail" \
    "23514|true" "$(wait_for "SELECT substring(reason FROM 'SQLSTATE ([0-9A-Z]{5})') || '|' || (reason ~ 'Failing row contains') FROM fs_stream_rejects WHERE entity_id = 's2'" "23514|true")"
q "DROP OWNED BY regress_fs_colprod, regress_fs_tableprod; DROP ROLE regress_fs_colprod, regress_fs_tableprod" >/dev/null
# A producer's trigger that changes the session's search_path must not reach
# the worker's own queries (which would then run the producer's min()).
out="$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" 2>&1 <<'EOF'
SET client_min_messages = warning;
CREATE ROLE regress_fs_mallory;
CREATE SCHEMA mallory AUTHORIZATION regress_fs_mallory;
SET ROLE regress_fs_mallory;
CREATE TABLE mallory.t (user_id text PRIMARY KEY, event_time timestamptz, x bigint);
CREATE FUNCTION mallory.escalate(bigint) RETURNS bigint LANGUAGE plpgsql AS $f$
BEGIN
    EXECUTE 'ALTER ROLE regress_fs_mallory SUPERUSER';
    RETURN $1;
END $f$;
CREATE AGGREGATE mallory.min(bigint) (SFUNC = int8larger, STYPE = bigint, FINALFUNC = mallory.escalate);
CREATE FUNCTION mallory.plant() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
    PERFORM pg_catalog.set_config('search_path', 'mallory, pg_catalog', false);
    RETURN NEW;
END $f$;
CREATE TRIGGER plant BEFORE INSERT OR UPDATE ON mallory.t FOR EACH ROW EXECUTE FUNCTION mallory.plant();
SELECT FROM fs_register_feature_view('mallory', 'mallory.t', 'user');
SELECT fs_push('mallory', 'm1', '{"x": 1}') > 0;
RESET ROLE;
EOF
)"
check "a producer's trigger cannot change the worker's search_path (no escalation)" "1|f" \
    "$(wait_for "SELECT x FROM mallory.t WHERE user_id = 'm1'" 1)|$(sleep 0.3; q "SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_fs_mallory'")"
q "SELECT fs_drop_feature_view('mallory'); DROP SCHEMA mallory CASCADE; DROP ROLE regress_fs_mallory" >/dev/null

# --- (j) one entity, however its id is written -------------------------------------
echo "# (j) entities by the join key type's equality"
if [ "$(q "SELECT count(*) FROM pg_extension WHERE extname = 'citext'")" = 0 ]; then
    CITEXT_MADE=1
    q "SET client_min_messages = warning; CREATE EXTENSION citext" >/dev/null
fi
setup_sql "a view with a citext key" <<'EOF'
SET client_min_messages = warning;
CREATE TABLE stream_ci (name citext PRIMARY KEY, event_time timestamptz, label text);
SELECT FROM fs_register_entity('person', 'name');
SELECT FROM fs_register_feature_view('ci', 'stream_ci', 'person');
EOF
# Two events at one time in one flush: the later one wins.  Merged per text,
# 'Bob' and 'bob' would be two writes applied in an order of their own, the
# same in both flushes: one of the two checks would see the earlier event win.
q "SELECT fs_push('ci', 'Bob', '{\"label\": \"first\"}', '2026-01-01'), fs_push('ci', 'bob', '{\"label\": \"second\"}', '2026-01-01')" >/dev/null
check "'Bob' then 'bob' in one flush: one entity, the later event wins" '"second"' \
    "$(wait_for "SELECT value FROM fs_get_features(ARRAY['BOB'], ARRAY['ci:label'])" '"second"')"
q "SELECT fs_push('ci', 'bob', '{\"label\": \"third\"}', '2026-01-02'), fs_push('ci', 'Bob', '{\"label\": \"fourth\"}', '2026-01-02')" >/dev/null
check "'bob' then 'Bob' in one flush: one entity, the later event wins" '"fourth"' \
    "$(wait_for "SELECT value FROM fs_get_features(ARRAY['BOB'], ARRAY['ci:label'])" '"fourth"')"
check "one row, no event set aside" "1|0" \
    "$(q "SELECT (SELECT count(*) FROM stream_ci) || '|' || (SELECT count(*) FROM fs_stream_rejects WHERE feature_view = 'ci')")"
q "SELECT fs_drop_feature_view('ci'); DROP TABLE stream_ci" >/dev/null

check "fs_stream_status counts what the worker set aside and flushed" "t|t|0" \
    "$(q "SELECT events_rejected >= 2, events_flushed >= 3, queue_depth FROM fs_stream_status")"

# --- (i) one view's trouble stays its own -------------------------------------------
echo "# (i) one view's trouble stays its own"
q "ALTER SYSTEM SET feature_store.stream_max_attempts = 3" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
setup_sql "the views of (i)" <<'EOF'
SET client_min_messages = warning;
CREATE TABLE poison_t (user_id text PRIMARY KEY, event_time timestamptz, x bigint);
CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
    IF NEW.user_id LIKE 'bad%' THEN
        RAISE EXCEPTION 'poisoned entity %', NEW.user_id USING ERRCODE = '40001';
    END IF;
    RETURN NEW;
END $f$;
CREATE TRIGGER poison BEFORE INSERT OR UPDATE ON poison_t FOR EACH ROW EXECUTE FUNCTION poison();
SELECT FROM fs_register_feature_view('poison', 'poison_t', 'user');
CREATE TABLE calm_t (user_id text PRIMARY KEY, event_time timestamptz, x bigint);
SELECT FROM fs_register_feature_view('calm', 'calm_t', 'user');
CREATE ROLE regress_fs_pusher;
GRANT SELECT, INSERT, UPDATE ON poison_t, calm_t TO regress_fs_pusher;
CREATE ROLE regress_fs_reader;
GRANT SELECT ON calm_t TO regress_fs_reader;
EOF
out="$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" 2>&1 <<'EOF'
SET ROLE regress_fs_pusher;
BEGIN;
SELECT fs_push('poison', 'bad1', '{"x": 1}') > 0, fs_push('poison', 'good1', '{"x": 2}') > 0,
       fs_push('calm', 'c1', '{"x": 3}') > 0;
COMMIT;
EOF
)"
check "a producer pushes to a view whose trigger raises 40001 for some entities, and to another view" "t|t|t" "$out"
check "the other view's event is written while the poisoned view's events are retried" "3" \
    "$(wait_for "SELECT value::text FROM fs_get_features(ARRAY['c1'], ARRAY['calm:x'])" 3)"
check "after stream_max_attempts the entity the trigger refuses is set aside, the others of its view are written" \
    "1|1|2" \
    "$(wait_for "SELECT (reason ~ 'poisoned entity bad1')::int || '|' || (reason ~ 'SQLSTATE 40001.*set aside after 3 attempts')::int || '|' || (SELECT value::text FROM fs_get_features(ARRAY['good1'], ARRAY['poison:x'])) FROM fs_stream_rejects WHERE entity_id = 'bad1'" "1|1|2")"
check "the poisoned view's error is shown to a role that may read the view" "t" \
    "$(psql -X -q -At -d "$DB" -c "SET ROLE regress_fs_pusher" -c "SELECT last_error ~ 'feature view \"poison\": poisoned entity' FROM fs_stream_status" 2>&1)"
check "and not to a role that may not" "t" \
    "$(psql -X -q -At -d "$DB" -c "SET ROLE regress_fs_reader" -c "SELECT coalesce(last_error, '') !~ 'poison' FROM fs_stream_status" 2>&1)"

# A row lock held on an entity: its view waits, for as long as it takes,
# and never sets the events aside; the other views go on.
PGAPPNAME=fs_lock_holder psql -X -q -d "$DB" -c "BEGIN" -c "SELECT FROM calm_t WHERE user_id = 'c1' FOR UPDATE" \
    -c "SELECT pg_sleep(120)" >/dev/null 2>&1 &
PIDS+=("$!")
release_lock() { q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'fs_lock_holder'" >/dev/null; }
wait_for "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'fs_lock_holder' AND query ~ 'pg_sleep'" 1 >/dev/null
before="$(q "SELECT failed_flushes FROM fs_stream_status")"
q "SELECT fs_push('calm', 'c1', '{\"x\": 4}'), fs_push('local', 'k1', '{\"clicks\": 5}')" >/dev/null
check "while a row of one view is locked, another view's event is written" "5" \
    "$(wait_for "SELECT value::text FROM fs_get_features(ARRAY['k1'], ARRAY['local:clicks'])" 5)"
check "the locked entity's event waits, tried more often than stream_max_attempts, and is not set aside" "1|0|3" \
    "$(wait_for "SELECT queue_depth || '|' || (SELECT count(*) FROM fs_stream_rejects WHERE entity_id = 'c1') || '|' || (SELECT value::text FROM fs_get_features(ARRAY['c1'], ARRAY['calm:x'])) FROM fs_stream_status WHERE failed_flushes >= $before + 5" "1|0|3")"
# A later event of the view, of an entity not locked, waits behind the
# group in flight: a view's events are written in the order queued.
q "SELECT fs_push('calm', 'c9', '{\"x\": 9}')" >/dev/null
before="$(q "SELECT failed_flushes FROM fs_stream_status")"
check "a later event of the view, of another entity, waits unclaimed while the view's earlier group is retried" "2|NOT_FOUND|true" \
    "$(wait_for "SELECT queue_depth || '|' || (SELECT status FROM fs_get_features(ARRAY['c9'], ARRAY['calm:x'])) || '|' || (SELECT flush_id IS NULL FROM fs_stream_queue WHERE entity_id = 'c9') FROM fs_stream_status WHERE failed_flushes >= $before + 2" "2|NOT_FOUND|true")"
release_lock
check "once the lock is released the event is written" "4" \
    "$(wait_for "SELECT value::text FROM fs_get_features(ARRAY['c1'], ARRAY['calm:x'])" 4)"
check "and the later event after it" "9" \
    "$(wait_for "SELECT value::text FROM fs_get_features(ARRAY['c9'], ARRAY['calm:x'])" 9)"

# Set-aside events go back to the queue, or away, through functions that
# check the caller: PUBLIC cannot delete from fs_stream_rejects (nor LOCK it).
q "DROP TRIGGER poison ON poison_t" >/dev/null
psql -X -q -d "$DB" -c "SET ROLE regress_fs_pusher" \
    -c "INSERT INTO fs_stream_queue (feature_view, entity_id, features) VALUES ('calm', 'z1', '{\"nope\": 1}')" >/dev/null 2>&1
wait_for "SELECT count(*) FROM fs_stream_rejects WHERE entity_id = 'z1'" 1 >/dev/null
check "another role can neither requeue nor discard a producer's rejects" "0|0|2" \
    "$(psql -X -q -At -d "$DB" -c "SET ROLE regress_fs_reader" -c "SELECT fs_stream_requeue_rejects()" -c "SELECT fs_stream_discard_rejects()" 2>&1 | tr '\n' '|')$(q "SELECT count(*) FROM fs_stream_rejects WHERE entity_id IN ('bad1', 'z1')")"
check "PUBLIC may not delete from fs_stream_rejects, nor lock it" "ERROR:  42501|ERROR:  42501" \
    "$(psql -X -q -At -v VERBOSITY=sqlstate -d "$DB" -c "SET ROLE regress_fs_pusher" -c "DELETE FROM fs_stream_rejects" 2>&1)|$(psql -X -q -At -v VERBOSITY=sqlstate -d "$DB" -c "SET ROLE regress_fs_pusher" -c "BEGIN" -c "LOCK TABLE fs_stream_rejects IN ACCESS EXCLUSIVE MODE" 2>&1 | grep ERROR)"
check "a requeued event keeps the role that queued it" "1|regress_fs_pusher" \
    "$(psql -X -q -At -d "$DB" -c "BEGIN" -c "SELECT fs_stream_requeue_rejects(ids => (SELECT array_agg(id) FROM fs_stream_rejects WHERE entity_id = 'z1'))" \
        -c "SELECT pushed_by FROM fs_stream_queue WHERE entity_id = 'z1'" -c "ROLLBACK" 2>&1 | tr '\n' '|' | sed 's/|$//')"
check "the producer requeues its rejects of a view, which are written" "1|1" \
    "$(psql -X -q -At -d "$DB" -c "SET ROLE regress_fs_pusher" -c "SELECT fs_stream_requeue_rejects('poison')" 2>&1)|$(wait_for "SELECT value::text FROM fs_get_features(ARRAY['bad1'], ARRAY['poison:x'])" 1)"
check "the producer discards its rejects" "1|0" \
    "$(psql -X -q -At -d "$DB" -c "SET ROLE regress_fs_pusher" -c "SELECT fs_stream_discard_rejects(ids => (SELECT array_agg(id) FROM fs_stream_rejects WHERE entity_id = 'z1'))" 2>&1)|$(q "SELECT count(*) FROM fs_stream_rejects WHERE entity_id IN ('bad1', 'z1')")"
q "SELECT fs_drop_feature_view('poison'), fs_drop_feature_view('calm')" >/dev/null
q "DROP TABLE poison_t, calm_t; DROP FUNCTION poison(); DROP OWNED BY regress_fs_pusher, regress_fs_reader; DROP ROLE regress_fs_pusher, regress_fs_reader" >/dev/null
q "ALTER SYSTEM RESET feature_store.stream_max_attempts" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null

# --- (g) every database -------------------------------------------------------------
echo "# (g) every database with the extension"
DB_A="fs_stream_a_$$"
DB_B="fs_stream_b_$$"
DB_C="fs_stream_c_$$"
DB_D="fs_stream_d_$$"
SCRATCH_DBS+=("$DB_C" "$DB_D")
# The worker connected to the current database, as pg_stat_activity sees it.
OWN_WORKER="(SELECT pid FROM pg_stat_activity WHERE backend_type = 'feature_store stream worker' AND datname = current_database())"
check "no setting names the databases that are drained" "" "$(q "SHOW feature_store.stream_database")"
q "CREATE ROLE regress_fs_stranger CREATEDB" >/dev/null
for d in "$DB_A" "$DB_B"; do
    new_db "$d"
    out="$(q_in "$d" "SET client_min_messages = warning; CREATE EXTENSION feature_store;
        CREATE TABLE t (user_id text PRIMARY KEY, event_time timestamptz, clicks bigint);
        SELECT FROM fs_register_entity('user', 'user_id'); SELECT FROM fs_register_feature_view('v', 't', 'user')")"
    [ -z "$(tr -d '\n' <<<"$out")" ] || die "cannot set up $d: $out"
done
check "CREATE EXTENSION in new databases calls a worker into each, without a restart" "running|running" \
    "$(wait_in "$DB_A" "SELECT worker_state FROM fs_stream_status" running)|$(wait_in "$DB_B" "SELECT worker_state FROM fs_stream_status" running)"
q_in "$DB_A" "SELECT count(fs_push('v', 'a' || i, jsonb_build_object('clicks', i))) FROM generate_series(1, 3) i" >/dev/null
q_in "$DB_B" "SELECT count(fs_push('v', 'b' || i, jsonb_build_object('clicks', i))) FROM generate_series(1, 2) i" >/dev/null
check "both databases' queues are drained" "3|2" \
    "$(wait_in "$DB_A" "SELECT count(*) FROM t" 3)|$(wait_in "$DB_B" "SELECT count(*) FROM t" 2)"
check "fs_stream_status shows the database's own worker and counts only" "t|3|t|2" \
    "$(q_in "$DB_A" "SELECT worker_pid = $OWN_WORKER, events_flushed FROM fs_stream_status")|$(q_in "$DB_B" "SELECT worker_pid = $OWN_WORKER, events_flushed FROM fs_stream_status")"

# Commands that need the database to themselves: its worker leaves first.
check "the worker of the first database is connected" "t" \
    "$(wait_in "$DB_A" "SELECT $OWN_WORKER IS NOT NULL" t)"
check "CREATE DATABASE ... TEMPLATE of a database whose worker is connected succeeds" "" \
    "$(q "CREATE DATABASE $DB_C TEMPLATE $DB_A")"
q_in "$DB_A" "SELECT fs_push('v', 'a7', '{\"clicks\": 7}')" >/dev/null
q_in "$DB_C" "SELECT fs_push('v', 'c1', '{\"clicks\": 1}')" >/dev/null
check "then the template's worker comes back, and the copy has one too" "7|1" \
    "$(wait_in "$DB_A" "SELECT clicks FROM t WHERE user_id = 'a7'" 7)|$(wait_in "$DB_C" "SELECT clicks FROM t WHERE user_id = 'c1'" 1)"
check "ALTER DATABASE ... RENAME of a database whose worker is connected succeeds" "t|" \
    "$(wait_in "$DB_C" "SELECT $OWN_WORKER IS NOT NULL" t)|$(q "ALTER DATABASE $DB_C RENAME TO $DB_D")"
q_in "$DB_B" "SELECT fs_push('v', 'b3', '{\"clicks\": 3}')" >/dev/null
wait_in "$DB_B" "SELECT $OWN_WORKER IS NOT NULL FROM t WHERE user_id = 'b3'" t >/dev/null
pid_b="$(q_in "$DB_B" "SELECT $OWN_WORKER")"
check "DROP DATABASE by a role that does not own the database fails, and does not move its worker" \
    "ERROR:  42501|$pid_b" \
    "$(psql -X -q -At -v VERBOSITY=sqlstate -d "$DB" -c "SET ROLE regress_fs_stranger" -c "DROP DATABASE $DB_B" 2>&1)|$(q_in "$DB_B" "SELECT $OWN_WORKER")"
check "DROP DATABASE of a database whose worker is connected succeeds" "t|" \
    "$(wait_in "$DB_A" "SELECT $OWN_WORKER IS NOT NULL" t)|$(q "DROP DATABASE $DB_A")"
q_in "$DB_D" "SELECT fs_push('v', 'd1', '{\"clicks\": 2}')" >/dev/null
check "the renamed database is drained as before" "2" \
    "$(wait_in "$DB_D" "SELECT clicks FROM t WHERE user_id = 'd1'" 2)"

# An idle worker leaves (at once, here); a commit of events calls one back,
# whoever queues them.
q "ALTER SYSTEM SET feature_store.stream_idle_timeout_ms = 0" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
check "a worker leaves the database when its queue is empty" "idle|" \
    "$(wait_in "$DB_B" "SELECT worker_state || '|' || coalesce($OWN_WORKER::text, '') FROM fs_stream_status" "idle|")"
q_in "$DB_B" "INSERT INTO fs_stream_queue (feature_view, entity_id, features) VALUES ('v', 'b4', '{\"clicks\": 4}')" >/dev/null
check "an event queued by INSERT calls a worker back, which drains it" "4" \
    "$(wait_in "$DB_B" "SELECT clicks FROM t WHERE user_id = 'b4'" 4)"
wait_in "$DB_B" "SELECT worker_state FROM fs_stream_status" idle >/dev/null
q_in "$DB_B" "SELECT fs_push('v', 'b5', '{\"clicks\": 5}')" >/dev/null
check "an event queued by fs_push calls a worker back, which drains it" "5" \
    "$(wait_in "$DB_B" "SELECT clicks FROM t WHERE user_id = 'b5'" 5)"
q "ALTER SYSTEM RESET feature_store.stream_idle_timeout_ms" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null

# One worker for two databases, one of them kept busy by a role that only
# inserts into its queue: the busy worker yields its slot after its turn,
# and the other database is drained too.
q "ALTER SYSTEM SET feature_store.stream_max_workers = 1" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
BUSY_STOP="$WORK/busy.stop"
( while [ ! -e "$BUSY_STOP" ]; do
      q_in "$DB_B" "INSERT INTO fs_stream_queue (feature_view, entity_id, features)
                    SELECT 'v', 'busy' || i, '{\"clicks\": 1}' FROM generate_series(1, 20) i" >/dev/null 2>&1
      sleep 0.02
  done ) &
BUSY_PID=$!
check "the busy database has the one worker" "t" \
    "$(wait_in "$DB_B" "SELECT $OWN_WORKER IS NOT NULL" t)"
q_in "$DB_D" "SELECT fs_push('v', 'd2', '{\"clicks\": 9}')" >/dev/null
check "a database whose events wait gets the slot of a busy one in turn" "9" \
    "$(wait_in "$DB_D" "SELECT clicks FROM t WHERE user_id = 'd2'" 9)"
touch "$BUSY_STOP"
wait "$BUSY_PID" 2>/dev/null || true
q "ALTER SYSTEM RESET feature_store.stream_max_workers" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null

# --- (h) without the preload ------------------------------------------------------------
echo "# (h) without the preload"
NOPRELOAD_ENV="${FS_CLUSTER_ENV%.env}.nopreload.env"
stop_nopreload() { FS_CLUSTER_ENV="$NOPRELOAD_ENV" bash "$REPO/scripts/pgcluster.sh" stop >/dev/null 2>&1; }
at_exit stop_nopreload
if out="$(FS_CLUSTER_ENV="$NOPRELOAD_ENV" FS_PG_EXTRA_CONF= bash "$REPO/scripts/pgcluster.sh" start 2>&1)"; then
    out="$(
        # shellcheck disable=SC1090
        . "$NOPRELOAD_ENV"
        psql -X -q -At -v ON_ERROR_STOP=1 -d postgres 2>"$WORK/nopreload.err" <<'EOF'
SET client_min_messages = warning;
CREATE EXTENSION feature_store;
CREATE TABLE t (user_id text PRIMARY KEY, event_time timestamptz, clicks bigint);
SELECT FROM fs_register_entity('user', 'user_id');
SELECT FROM fs_register_feature_view('v', 't', 'user');
SELECT fs_push('v', 'u1', '{"clicks": 1}') > 0;
INSERT INTO fs_stream_queue (feature_view, entity_id, features) VALUES ('v', 'u2', '{"clicks": 2}');
SELECT queue_depth || '|' || worker_state FROM fs_stream_status;
EOF
    )"
    check "without the preload, fs_push and INSERT into the queue warn that nothing drains it" \
        "t|2|off|2" \
        "$(grep -x 't\|2|off' <<<"$out" | tr '\n' '|')$(grep -c '^WARNING:  no stream worker drains the queue of this database$' "$WORK/nopreload.err")"
else
    not_ok "a cluster without the preload starts" "$out"
fi
stop_nopreload

# --- (k) the store back empty after an outage -----------------------------------------
# The store of this section is a dynalite of its own, which it hangs, stops
# and starts again, empty, on the same port (the shared one serves the other
# sections and scripts).
OWN_DYN_PID=
OWN_DYN_PORT=0
# start_own_dynalite: start an empty dynalite on 127.0.0.1:$OWN_DYN_PORT (0:
# any free port, which it then keeps); sets OWN_DYN_PID and OWN_DYN_PORT.
start_own_dynalite() {
    local log line _
    NFAULT=$((NFAULT + 1))
    log="$WORK/own_dynalite.$NFAULT.log"
    # shellcheck disable=SC2016
    node -e '
const [dir, port] = process.argv.slice(1);
const dynalite = require(dir + "/node_modules/dynalite");
let tries = 0;
function attempt() {
    const s = dynalite({ createTableMs: 100, deleteTableMs: 100, updateTableMs: 100 });
    s.once("error", (err) => {
        if (err.code === "EADDRINUSE" && ++tries < 100) { setTimeout(attempt, 100); return; }
        console.error("cannot listen: " + err.message); process.exit(1);
    });
    s.listen(Number(port), "127.0.0.1", () => console.log("listening " + s.address().port));
}
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));
attempt();' "$REPO" "$OWN_DYN_PORT" >"$log" 2>&1 &
    OWN_DYN_PID=$!
    for _ in $(seq 1 200); do
        line="$(head -n 1 "$log" 2>/dev/null || true)"
        case "$line" in
            "listening "[0-9]*) OWN_DYN_PORT="${line#listening }"; return 0 ;;
        esac
        kill -0 "$OWN_DYN_PID" 2>/dev/null || break
        sleep 0.05
    done
    die "a dynalite of its own did not start: $(head -n 3 "$log" | tr '\n' '|')"
}
# stop_own_dynalite: stop it (hung or not) and wait until it is gone.
stop_own_dynalite() {
    [ -n "$OWN_DYN_PID" ] || return 0
    kill -CONT "$OWN_DYN_PID" 2>/dev/null || true
    kill "$OWN_DYN_PID" 2>/dev/null || true
    wait "$OWN_DYN_PID" 2>/dev/null || true
    OWN_DYN_PID=
}
# own_stuck N TEXT: queue depth, set-aside events of view "again", and
# whether the last error matches TEXT, once N more flushes have failed.
own_stuck() {
    wait_for "SELECT queue_depth || '|' || (SELECT count(*) FROM fs_stream_rejects WHERE feature_view = 'again') || '|' || (last_error ~ '$2')::int FROM fs_stream_status WHERE failed_flushes >= $before + 4" "$1"
}
if [ "$REMOTE" = 1 ]; then
    echo "# (k) events pushed while the store is away, which comes back empty"
    at_exit stop_own_dynalite
    need_node
    start_own_dynalite
    # No option key: the worker asks DescribeTable for it, of a table that
    # will be missing.  Requests time out after 300 ms, and go once only.
    setup_sql "a view in a dynalite of its own" <<EOF
SET client_min_messages = warning;
$(dynamodb_server stream_own "http://127.0.0.1:$OWN_DYN_PORT" "max_retries '0'" "request_timeout_ms '300'")
CREATE FOREIGN TABLE stream_again (user_id text, event_time timestamptz, clicks bigint)
  SERVER stream_own OPTIONS (table '${PREFIX}_again');
SELECT fs_create_online_table('stream_again');
SELECT FROM fs_register_feature_view('again', 'stream_again', 'user');
EOF
    q "ALTER SYSTEM SET feature_store.stream_max_attempts = 2" >/dev/null
    q "SELECT pg_reload_conf()" >/dev/null
    q "SELECT fs_push('again', 'k1', '{\"clicks\": 1}')" >/dev/null
    check "a pushed event is served from the store" "1" \
        "$(wait_for "SELECT value::text FROM fs_get_features(ARRAY['k1'], ARRAY['again:clicks'])" 1)"
    # The store hangs: every request times out (08006).
    kill -STOP "$OWN_DYN_PID"
    before="$(q "SELECT failed_flushes FROM fs_stream_status")"
    q "SELECT fs_push('again', 'k2', '{\"clicks\": 2}'), fs_push('again', 'k3', '{\"clicks\": 3}', now(), 'add')" >/dev/null
    check "while the store does not answer, the events stay queued, tried more often than stream_max_attempts, not set aside" \
        "2|0|1" "$(own_stuck "2|0|1" 'did not answer')"
    # The store stops: connections are refused.
    stop_own_dynalite
    before="$(q "SELECT failed_flushes FROM fs_stream_status")"
    q "SELECT fs_push('again', 'k4', '{\"clicks\": 4}'), fs_push('again', 'k3', '{\"clicks\": 30}', now(), 'add')" >/dev/null
    check "while the store is stopped, they stay queued, not set aside" \
        "4|0|1" "$(own_stuck "4|0|1" 'could not connect')"
    # A new store on the same endpoint, empty: the remote table is missing.
    start_own_dynalite
    before="$(q "SELECT failed_flushes FROM fs_stream_status")"
    check "the store back empty (no remote table): they stay queued, tried more often than stream_max_attempts, not set aside" \
        "4|0|1" "$(own_stuck "4|0|1" 'does not exist')"
    q "SELECT fs_create_online_table('stream_again')" >/dev/null
    check "once the remote table is made again, every queued event is written and served (the store lost the one before)" \
        "k1:NOT_FOUND,k2:2,k3:33,k4:4|0|0" \
        "$(wait_for "SELECT string_agg(entity_id || ':' || coalesce(value::text, status), ',' ORDER BY entity_id) || '|' || (SELECT queue_depth FROM fs_stream_status) || '|' || (SELECT count(*) FROM fs_stream_rejects WHERE feature_view = 'again') FROM fs_get_features(ARRAY['k1', 'k2', 'k3', 'k4'], ARRAY['again:clicks'])" "k1:NOT_FOUND,k2:2,k3:33,k4:4|0|0")"
    q "SELECT fs_drop_feature_view('again')" >/dev/null
    q "ALTER SYSTEM RESET feature_store.stream_max_attempts" >/dev/null
    q "SELECT pg_reload_conf()" >/dev/null
    stop_own_dynalite
fi

finish

#!/usr/bin/env bash
# run_cache.sh — the hot-entity cache across backends and under pressure, on
# a cluster of its own (preloaded, feature_store.cache_size = 1MB: about 480
# entries) reading dynalite:
#
#   (a) for every write lane (fs_write_features; the foreign table's
#       UPDATE, DELETE, INSERT of a row and of many (BatchWriteItem);
#       fs_ingest upsert and snapshot; fs_push, written by the stream
#       worker): one backend caches a key, another writes it, and the next
#       call, from a third backend, serves what was written;
#   (b) bounded: 10x more keys than fit are served right, and the cache
#       holds no more entries and bytes than its size;
#   (c) eviction: calls of 50 hot keys and 200 cold ones, 20 in a row (8x
#       the cache in cold keys): after the first, every hot key is a hit;
#   (d) 3 backends serving and checking values in a loop while a fourth is
#       terminated (pg_terminate_backend) or cancelled (statement_timeout)
#       20 times in the middle of its calls: the others serve every value
#       right and finish, and the cache is consistent (no entry beyond its
#       slots, serving still hits);
#   (e) a backend killed with SIGKILL: the postmaster re-initialises shared
#       memory; serving resumes, with an empty cache.
#
# The server reads with consistent_read on, so that what a call puts right
# after a write is kept; eventually consistent reads, whose puts wait 2 s
# after a write, are checked in sql/dynamodb_cache.sql.
#
# Needs FS_DYNALITE_ENDPOINT (on loopback), PG_CONFIG (or PostgreSQL 15's
# default) and `make install` done; the suite's cluster is not touched.
# Prints "ok - name" / "not ok - name" and, last, "N passed, N failed".
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"

command -v psql >/dev/null 2>&1 || die "psql not found"
need_dynalite
make_work fs_cache FS_CACHE_KEEP
PGCLUSTER="$REPO/scripts/pgcluster.sh"
CLUSTER_STATE="$WORK/cluster.env"

out="$(FS_CLUSTER_ENV="$CLUSTER_STATE" \
       FS_PG_EXTRA_CONF="shared_preload_libraries = 'feature_store'
feature_store.cache_size = '1MB'" bash "$PGCLUSTER" start 2>&1)" ||
    die "cannot start a cluster: $out"
stop_cluster() { FS_CLUSTER_ENV="$CLUSTER_STATE" bash "$PGCLUSTER" stop >/dev/null 2>&1 || true; }
at_exit stop_cluster
# Everything below talks to this cluster.
# shellcheck disable=SC1090
. "$CLUSTER_STATE"
export PGHOST PGPORT PGUSER PGDATABASE
need_psql

scratch_db fs_cache_test
REMOTE="fs_cache_$$_$RANDOM"
drop_remote_on_exit "fs_cache_$$"

setup_sql "the cached view" <<EOF
$(dynamodb_server cache_srv "$FS_DYNALITE_ENDPOINT" "consistent_read 'true'")
CREATE FOREIGN TABLE items (user_id text, event_time timestamptz, v bigint, w float8)
    SERVER cache_srv OPTIONS (table '$REMOTE', key 'user_id', cache_ttl_ms '10min');
SELECT fs_create_online_table('items');
INSERT INTO items SELECT 'k' || i, now(), i, i / 2.0 FROM generate_series(1, 5000) i;
SELECT FROM fs_register_entity('user', 'user_id');
SELECT FROM fs_register_feature_view('items', 'items', 'user');
EOF

# --- (a) every write lane, from another backend ------------------------------
echo "# (a) one backend caches, another writes, a third serves"
q "SELECT count(*) FROM fs_get_features(ARRAY['k1', 'k2'], ARRAY['items:v'])" >/dev/null
q "SELECT count(*) FROM fs_get_features(ARRAY['k1', 'k2'], ARRAY['items:v'])" >/dev/null
check "a second call of the same keys is answered by the cache" \
    "2" "$(q "SELECT cache_hits FROM fs_stats WHERE feature_view = 'items'")"
q "CREATE TABLE src (user_id text, event_time text, v text, w text)" >/dev/null
# lane NAME KEY SQL EXPECTED: KEY cached by one backend, SQL run by another,
# then a third serves KEY's v (or its status).
lane() {
    q "SELECT count(*) FROM fs_get_features(ARRAY['$2'], ARRAY['items:v'])" >/dev/null
    q "SELECT count(*) FROM fs_get_features(ARRAY['$2'], ARRAY['items:v'])" >/dev/null
    q "$3" >/dev/null
    check "$1: the next call, from another backend, serves what it wrote" \
        "$4" "$(q "SELECT coalesce(value::text, status) FROM fs_get_features(ARRAY['$2'], ARRAY['items:v'])")"
}
lane "fs_write_features" k1 "SELECT fs_write_features('items', 'k1', '{\"v\": 1001}')" 1001
lane "UPDATE of the foreign table" k2 "UPDATE items SET v = 1002 WHERE user_id = 'k2'" 1002
lane "DELETE of the foreign table" k3 "DELETE FROM items WHERE user_id = 'k3'" NOT_FOUND
lane "INSERT of one row" k3 "INSERT INTO items VALUES ('k3', now(), 1003, 0)" 1003
lane "INSERT of many rows (BatchWriteItem)" k4 \
    "INSERT INTO items SELECT 'k' || i, now(), 1000 + i, 0 FROM generate_series(4, 40) i" 1004
lane "fs_ingest (upsert)" k5 \
    "INSERT INTO src VALUES ('k5', now()::text, '1005', '0'), ('k6', now()::text, '1006', '0');
     SELECT fs_ingest('items', 'src')" 1005
lane "fs_ingest (snapshot: deletes what it wrote that the source no longer has)" k6 \
    "DELETE FROM src WHERE user_id = 'k6'; SELECT fs_ingest('items', 'src', 'snapshot')" NOT_FOUND
q "SELECT count(*) FROM fs_get_features(ARRAY['k7'], ARRAY['items:v'])" >/dev/null
q "SELECT count(*) FROM fs_get_features(ARRAY['k7'], ARRAY['items:v'])" >/dev/null
q "SELECT fs_push('items', 'k7', '{\"v\": 2007}')" >/dev/null
check "the stream worker's flush (its own backend): the next calls serve what it wrote" \
    "2007" "$(wait_for "SELECT value FROM fs_get_features(ARRAY['k7'], ARRAY['items:v'])" "2007")"
# Put every value back as it was for what follows.
q "INSERT INTO items SELECT 'k' || i, now(), i, i / 2.0 FROM generate_series(1, 40) i" >/dev/null

# --- (b) bounded ---------------------------------------------------------------
echo "# (b) ten times more keys than fit"
slots="$(q "SELECT size_bytes / 2048 FROM fs_cache_status")"
check "every value of 5,000 keys, in 5 calls of 1,000, is served right" \
    "5000" \
    "$(q "SELECT count(*) FROM generate_series(0, 4) c,
                 LATERAL fs_get_features(array(SELECT 'k' || i FROM generate_series(c * 1000 + 1, c * 1000 + 1000) i),
                                         ARRAY['items:v']) f
           WHERE f.value::text::bigint = substr(f.entity_id, 2)::bigint")"
check_true "the cache holds no more entries than its slots ($slots), nor bytes than its size" \
    "$(q "SELECT entries <= $slots AND entries > 0 AND used_bytes <= size_bytes AND evictions > 0 FROM fs_cache_status")" \
    "$(q "SELECT * FROM fs_cache_status")"

# --- (c) eviction keeps the hot set -------------------------------------------
echo "# (c) a scan of cold keys alongside hot ones"
q "SELECT fs_cache_reset(), fs_stats_reset()" >/dev/null
q "SELECT count(*) FROM generate_series(1, 20) c,
          LATERAL fs_get_features(array(SELECT 'k' || i FROM generate_series(1, 50) i
                                        UNION ALL
                                        SELECT 'k' || (1000 + c * 200 + i) FROM generate_series(1, 200) i),
                                  ARRAY['items:v'])" >/dev/null
# Hot keys are hits in calls 2..20 (19 x 50); cold keys are new in each call.
check "every hot key is a hit after the first call, though 4,000 cold keys went through a cache of about 480" \
    "950" "$(q "SELECT cache_hits FROM fs_stats WHERE feature_view = 'items'")"

# --- (d) terminated and cancelled in the middle -------------------------------
echo "# (d) backends terminated and cancelled while others serve"
serve_loop() {
    # 30 calls of 1,000 keys (half cached), each checking every value.
    psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "
        DO \$\$
        DECLARE bad bigint;
        BEGIN
            FOR c IN 1 .. 30 LOOP
                SELECT count(*) INTO bad
                  FROM fs_get_features(array(SELECT 'k' || (1 + (i * 7 + c * 131) % 5000) FROM generate_series(1, 1000) i),
                                       ARRAY['items:v']) f
                 WHERE f.status <> 'PRESENT' OR f.value::text::bigint <> substr(f.entity_id, 2)::bigint;
                IF bad > 0 THEN RAISE EXCEPTION '% wrong values', bad; END IF;
            END LOOP;
        END \$\$" >"$WORK/serve_$1.out" 2>&1
}
victim() {
    psql -X -q -At -d "$DB" -c "SET application_name = 'fs_cache_victim'" \
        -c "SELECT count(*) FROM generate_series(1, 100) c,
                   LATERAL fs_get_features(array(SELECT 'k' || (1 + (i * 13 + c * 17) % 5000) FROM generate_series(1, 1000) i),
                                           ARRAY['items:v', 'items:w'])" >/dev/null 2>&1 || true
}
pids=()
for s in 1 2 3; do serve_loop "$s" & pids+=("$!"); done
kills=0
for round in $(seq 1 20); do
    victim &
    vpid=$!
    sleep 0.$((RANDOM % 3 + 1))
    if [ $((round % 2)) -eq 0 ]; then
        n="$(q "SELECT count(*) FROM pg_stat_activity, pg_terminate_backend(pid) WHERE application_name = 'fs_cache_victim'")"
    else
        n="$(q "SELECT count(*) FROM pg_stat_activity, pg_cancel_backend(pid) WHERE application_name = 'fs_cache_victim'")"
    fi
    kills=$((kills + ${n:-0}))
    wait "$vpid" || true
done
rcs=""
for p in "${pids[@]}"; do if wait "$p"; then rcs="${rcs}0"; else rcs="${rcs}1"; fi; done
check "3 backends served 30 calls of 1,000 values each, every value right, while another was stopped $kills times" \
    "000" "$rcs"
[ "$kills" -gt 0 ] || not_ok "the victim was running when stopped (no stop reached it)"
check_true "afterwards the cache is consistent and serving hits it" \
    "$(q "SELECT count(*) FROM fs_get_features(ARRAY['k3', 'k4'], ARRAY['items:v']);
          SELECT count(*) FROM fs_get_features(ARRAY['k3', 'k4'], ARRAY['items:v']);
          SELECT entries <= $slots AND hits > 0 FROM fs_cache_status" | tail -n 1)" \
    "$(cat "$WORK"/serve_*.out)"

# --- (e) a crashed backend ----------------------------------------------------
echo "# (e) a backend killed with SIGKILL"
victim &
vpid=$!
sleep 0.3
bpid="$(q "SELECT pid FROM pg_stat_activity WHERE application_name = 'fs_cache_victim'")"
if [ -n "$bpid" ]; then
    kill -KILL "$bpid" 2>/dev/null || true
fi
wait "$vpid" || true
[ -n "$bpid" ] || not_ok "the victim was running when killed" "no backend named fs_cache_victim"
after="$(wait_for "SELECT count(*) FROM fs_get_features(ARRAY['k5'], ARRAY['items:v'])" "1")"
check "after the postmaster re-initialised shared memory, serving resumes" "1" "$after"
check "with an empty cache: one entry (that call's miss), no hit since" \
    "1|0" "$(q "SELECT entries || '|' || hits FROM fs_cache_status")"

finish

#!/usr/bin/env bash
# run_ingest_faults.sh — fs_ingest into a view stored in dynalite, through a
# proxy of ours (test/dynamodb/fault_server.js, proxy modes) that fails on cue:
#
#   (a) the store goes down mid-run (after 250 of 600 writes): the run fails
#       with the store's error and leaves no run and no state; the store holds
#       the 250 acknowledged items; the rerun, with the store back, writes
#       exactly the 350 missing ones (counted once: 350 UpdateItem requests
#       reach the store, and no PutItem, which would replace whole items),
#       counts the 250 as unchanged, and the store then holds the source
#       exactly; a third run writes nothing.  Every BatchGetItem of those
#       runs asks for ConsistentRead (what is stored decides what is
#       written); serving's reads do so only under the server option
#       consistent_read 'true' (the foreign table's too).
#   (b) the statement is cancelled (statement_timeout) while writes are slow:
#       57014; the rerun writes exactly the entities the store does not hold
#       yet, and the store then holds the new values exactly.
#   (c) another lane stores a newer value after fs_ingest read the item (the
#       proxy hides stored items from BatchGetItem): the conditional write is
#       refused, the row counts as stale, the newer value stays and the
#       state does not claim the write.
#   (d) the remote table deleted and made again, empty (as by a store that
#       lost its data): the rerun of an unchanged source writes every row
#       again, with a NOTICE saying why, and the next one nothing; items
#       deleted from a table kept are written again after
#       fs_forget_ingest_state.
#   (e) requests in flight, against a store that answers every request after
#       100 ms (fault_server.js slow-peak) and logs the most requests it held
#       at once: fs_ingest's 100 UpdateItem of a chunk reach exactly the
#       server option max_write_connections (6) at once, over as many
#       connections, not max_connections (2); then exactly the setting
#       feature_store.max_write_connections (5); a read of 1,000 keys
#       (10 BatchGetItem) from the foreign table reaches exactly
#       max_connections (2), whatever max_write_connections says.
#
# The proxy points at FS_DYNALITE_ENDPOINT; a second server reaches dynalite
# directly, to see what the store holds.  Skips (nothing counted) when
# FS_DYNALITE_ENDPOINT is unset or the extension has no fs_dynamodb.  Prints
# "ok - name" / "not ok - name" per check and, last, "N passed, N failed".
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"

PREFIX="fs_ingest_faults_$$"
TABLE="${PREFIX}_items"         # the remote table on dynalite
N=600

export PGOPTIONS="${PGOPTIONS:-} -c timezone=UTC"

# point RETRIES READS [WRITES]: point server "faulty" at the current fault
# server, with max_retries RETRIES, max_connections READS and
# max_write_connections WRITES (default READS: the checks of (a) to (d) count
# on a few writes in flight).
point() {
    local out
    out="$(q "ALTER SERVER faulty OPTIONS (SET endpoint 'http://127.0.0.1:$FPORT', SET max_retries '$1', SET max_connections '$2', SET max_write_connections '${3:-$2}')")"
    [ -z "$out" ] || die "cannot point server faulty at the fault server: $out"
}

# Item writes (UpdateItem or PutItem requests) the current fault server saw,
# by the status it gave them; and its PutItem requests alone.
puts() { grep -E 'target=DynamoDB_20120810.(UpdateItem|PutItem)' "$FLOG" | grep -c "status=$1" || true; }
putitems() { grep -c 'target=DynamoDB_20120810.PutItem' "$FLOG" || true; }
# The ConsistentRead of the current fault server's BatchGetItem requests
# (yes, no, mixed), each value once.
consistent() { grep -oE 'consistent=[a-z]+' "$FLOG" | sort -u | sed 's/consistent=//' | tr '\n' ' ' | sed 's/ $//'; }

# The store's items equal to the source (by the direct foreign table), and
# the store's item count.
SAME_AS_SOURCE="SELECT count(*) FROM direct d JOIN src s ON s.user_id = d.user_id
                 WHERE d.event_time = s.event_time::timestamptz AND d.clicks = s.clicks::bigint
                   AND d.ctr = s.ctr::float8"
STORED="SELECT count(*) FROM direct"
INGEST="SELECT rows_read, rows_stale, rows_unchanged, rows_inserted, rows_updated, online_writes
          FROM fs_ingest('fv', 'src')"

# --- preconditions ----------------------------------------------------------

need_psql
need_node
need_dynalite
make_work fs_ingest_faults FS_FAULTS_KEEP
scratch_db "fs_ingest_faults_$$"
need_fs_dynamodb
export FS_FAULT_UPSTREAM="$FS_DYNALITE_ENDPOINT"

drop_remote_on_exit "$PREFIX"
setup_sql "$DB" <<EOF
SET client_min_messages = warning;
$(dynamodb_server faulty 'http://127.0.0.1:9' "max_retries '1'" "max_connections '16'" "max_write_connections '16'")
$(dynamodb_server store "$FS_DYNALITE_ENDPOINT")
CREATE FOREIGN TABLE fv_online (user_id text, event_time timestamptz, clicks bigint, ctr float8)
  SERVER faulty OPTIONS (table '$TABLE', key 'user_id');
CREATE FOREIGN TABLE direct (user_id text, event_time timestamptz, clicks bigint, ctr float8)
  SERVER store OPTIONS (table '$TABLE', key 'user_id');
SELECT fs_create_online_table('direct');
SELECT FROM fs_register_entity('user', 'user_id');
SELECT FROM fs_register_feature_view('fv', 'fv_online', 'user');
SELECT fs_create_staging_table('fv', 'src');
INSERT INTO src SELECT 'u' || i, '2026-01-01 00:00:00+00', (i * 3)::text, (i / 8.0)::text
  FROM generate_series(1, $N) i;
EOF

# --- (a) the store goes down mid-run ----------------------------------------
echo "# (a) the store goes down after 250 writes"
start_fault proxy-outage-after:250
point 1 16
out="$(q "$INGEST")"
check "outage: the run fails with the store's error (HV000, retries exhausted)" "ERROR:  HV000" "$out"
check "outage: no run and no state are left behind" "0|0" \
    "$(q "SELECT (SELECT count(*) FROM fs_ingest_runs), (SELECT count(*) FROM fs_ingest_state)")"
check "outage: 250 writes reached the store, the rest were refused" "250|t" \
    "$(puts forwarded)|$([ "$(puts 500)" -gt 0 ] && echo t || echo f)"
sleep 1                         # forwarded writes have all been applied
check "outage: the store holds exactly the 250 acknowledged items, as in the source" "250|250" \
    "$(q "$STORED")|$(q "$SAME_AS_SOURCE")"
stop_fault

start_fault proxy
point 1 16
check "outage, rerun: 350 written, the 250 already stored counted unchanged" \
    "$N|0|250|350|0|350" "$(q "$INGEST")"
check "outage, rerun: exactly 350 item writes reached the store (nothing written twice), none a PutItem" \
    "350|0" "$(puts forwarded)|$(putitems)"
check "outage, rerun: the store holds the source exactly" "$N|$N" "$(q "$STORED")|$(q "$SAME_AS_SOURCE")"
check "outage, rerun: one succeeded run, and a state row per entity" "1|succeeded|$N" \
    "$(q "SELECT count(*), min(status), (SELECT count(*) FROM fs_ingest_state) FROM fs_ingest_runs")"
check "outage, third run: nothing to write" "$N|0|$N|0|0|0" "$(q "$INGEST")"
check "fs_ingest reads what is stored with ConsistentRead, in every BatchGetItem" "yes" "$(consistent)"
stop_fault
start_fault proxy
point 1 16
check "serving reads eventually consistent by default" "$N|no" \
    "$(q "SELECT count(*) FROM fs_get_features(ARRAY(SELECT user_id FROM src), ARRAY['fv:clicks']) WHERE status = 'PRESENT'")|$(consistent)"
stop_fault
start_fault proxy
point 1 16
q "ALTER SERVER faulty OPTIONS (ADD consistent_read 'true')" >/dev/null
check "serving and the foreign table read with ConsistentRead under the server option consistent_read 'true'" "$N|$N|yes" \
    "$(q "SELECT count(*) FROM fs_get_features(ARRAY(SELECT user_id FROM src), ARRAY['fv:clicks']) WHERE status = 'PRESENT'")|$(q "SELECT count(*) FROM fv_online WHERE user_id = ANY (ARRAY(SELECT user_id FROM src))")|$(consistent)"
q "ALTER SERVER faulty OPTIONS (DROP consistent_read)" >/dev/null
stop_fault

# --- (b) cancelled mid-run --------------------------------------------------
echo "# (b) statement_timeout while writes are slow"
q "UPDATE src SET event_time = '2026-02-01 00:00:00+00', clicks = (clicks::bigint + 1)::text" >/dev/null
start_fault proxy-slow-puts:300
point 1 4
out="$(psql -X -q -At -v VERBOSITY=sqlstate -d "$DB" -c "SET statement_timeout = '2s'" -c "$INGEST" 2>&1 || true)"
check "cancel: the run is cancelled (57014)" "ERROR:  57014" "$out"
stop_fault
sleep 1                         # writes the proxy had delayed have landed
k="$(q "$SAME_AS_SOURCE")"
check_true "cancel: some, not all, new values reached the store" \
    "$([[ "$k" =~ ^[0-9]+$ ]] && [ "$k" -gt 0 ] && [ "$k" -lt "$N" ] && echo t || echo f)" "stored: $k"
check "cancel: the state still describes the old values" "$N|1" \
    "$(q "SELECT count(*), count(DISTINCT event_time) FROM fs_ingest_state WHERE event_time = '2026-01-01 00:00:00+00'")"
start_fault proxy
point 1 16
check "cancel, rerun: writes exactly the $((N - k)) missing, counts $k unchanged" \
    "$N|0|$k|0|$((N - k))|$((N - k))" "$(q "$INGEST")"
check "cancel, rerun: exactly that many item writes reached the store" "$((N - k))" "$(puts forwarded)"
check "cancel, rerun: the store holds the new values exactly" "$N|$N" "$(q "$STORED")|$(q "$SAME_AS_SOURCE")"
stop_fault

# --- (c) a newer value stored by another lane between read and write --------
echo "# (c) another lane's newer value, stored after fs_ingest read the item"
setup_sql "(c)" <<'EOF'
INSERT INTO direct VALUES ('u1', '2030-01-01 00:00:00+00', 999, 9.5);
UPDATE src SET event_time = '2026-03-01 00:00:00+00', clicks = '70' WHERE user_id IN ('u1', 'u2');
DELETE FROM src WHERE user_id NOT IN ('u1', 'u2');
EOF
start_fault proxy-hide-items
point 1 16
check "race: u1's write is refused by its condition and counts as stale; u2 is written" \
    "2|1|1" "$(q "SELECT rows_read, rows_stale, online_writes FROM fs_ingest('fv', 'src')")"
check "race: the newer value of u1 stays; u2 has the new value" \
    "u1|999|2030-01-01 00:00:00+00,u2|70|2026-03-01 00:00:00+00" \
    "$(q "SELECT string_agg(user_id || '|' || clicks || '|' || event_time, ',' ORDER BY user_id) FROM direct WHERE user_id IN ('u1', 'u2')")"
check "race: the state claims u2's write, not u1's" "u1|2026-02-01 00:00:00+00,u2|2026-03-01 00:00:00+00" \
    "$(q "SELECT string_agg(entity_id || '|' || event_time, ',' ORDER BY entity_id) FROM fs_ingest_state WHERE entity_id IN ('u1', 'u2')")"
stop_fault

# --- (d) the remote table made again, empty --------------------------------------
# A store that lost its data (dynalite restarted in memory, a table deleted
# and made again) holds nothing of what fs_ingest_state says was written:
# fs_ingest asks DescribeTable for the table's creation time on every run and,
# finding another, forgets the view's state; fs_forget_ingest_state does so by
# hand, for data lost otherwise.
echo "# (d) the remote table made again: every row written again"
AGAIN="${PREFIX}_again"
setup_sql "(d)" <<EOF
SET client_min_messages = warning;
CREATE FOREIGN TABLE again_online (user_id text, event_time timestamptz, clicks bigint, ctr float8)
  SERVER store OPTIONS (table '${AGAIN}_items');
SELECT fs_create_online_table('again_online');
SELECT FROM fs_register_feature_view('again', 'again_online', 'user');
SELECT fs_create_staging_table('again', 'src_again');
INSERT INTO src_again SELECT 'a' || i, '2026-01-01 00:00:00+00', i::text, (i / 4.0)::text
  FROM generate_series(1, $N) i;
EOF
AGAIN_INGEST="SELECT rows_read, rows_unchanged, rows_inserted, online_writes FROM fs_ingest('again', 'src_again')"
# again_run: the counts of a run, then "notice" if it said that the table
# was made again.
again_run() {
    local out
    out="$(psql -X -At -v ON_ERROR_STOP=1 -d "$DB" -c "$AGAIN_INGEST" 2>&1 || true)"
    grep -v '^NOTICE\|^DETAIL' <<<"$out" | tr '\n' ' ' | sed 's/ $//'
    grep -q '^NOTICE:  remote table "'"${AGAIN}"'_items" of feature view "again" was created again since the last fs_ingest$' <<<"$out" &&
        echo "|notice" || echo "|quiet"
}
check "a first run writes every row, and records the remote table's creation time" \
    "$N|0|$N|$N|quiet|1" "$(again_run | tr -d '\n')|$(q "SELECT count(*) FROM fs_ingest_remote_table r JOIN fs_feature_view v USING (view_id) WHERE v.name = 'again' AND r.remote_table = '${AGAIN}_items'")"
check "an unchanged rerun on the same table writes nothing" "$N|$N|0|0|quiet" "$(again_run | tr -d '\n')"
AGAIN_CREATED="SELECT r.created_at FROM fs_ingest_remote_table r JOIN fs_feature_view v USING (view_id) WHERE v.name = 'again'"
created="$(q "$AGAIN_CREATED")"
node "$INTEROP_JS" cleanup "$AGAIN" >/dev/null 2>&1 || die "cannot delete remote table ${AGAIN}_items"
made=
for _ in $(seq 1 100); do
    out="$(q "SELECT fs_create_online_table('again_online')")"
    [ -z "$out" ] && { made=1; break; }
    sleep 0.1
done
[ -n "$made" ] || die "cannot make remote table ${AGAIN}_items again: $out"
check "the table made again, empty, the store holds nothing" "0" "$(q "SELECT count(*) FROM again_online")"
check "an unchanged rerun on the table made again writes every row, and says why" \
    "$N|0|$N|$N|notice" "$(again_run | tr -d '\n')"
check "the store holds the source again; the new creation time is recorded" "$N|t" \
    "$(q "SELECT count(*) FROM again_online a JOIN src_again s ON s.user_id = a.user_id AND s.clicks::bigint = a.clicks")|$(q "SELECT created_at > '$created' FROM ($AGAIN_CREATED) r")"
check "the next rerun writes nothing again" "$N|$N|0|0|quiet" "$(again_run | tr -d '\n')"
check "a role that does not own the view's table may not check it, nor write the record" "ERROR:  42501|ERROR:  42501" \
    "$(psql -X -q -At -v VERBOSITY=sqlstate -d "$DB" -c "CREATE ROLE regress_fs_stranger_$$" -c "SET ROLE regress_fs_stranger_$$" \
        -c "SELECT fs_ingest_check_remote('again')" 2>&1)|$(psql -X -q -At -v VERBOSITY=sqlstate -d "$DB" -c "SET ROLE regress_fs_stranger_$$" \
        -c "DELETE FROM fs_ingest_remote_table" 2>&1; q "DROP ROLE regress_fs_stranger_$$" >/dev/null)"
# Items lost with the table kept (deleted by another client): nothing tells
# fs_ingest; fs_forget_ingest_state makes the next run compare every row.
q "DELETE FROM again_online" >/dev/null
check "items deleted by another client: the rerun trusts the state and writes nothing" \
    "$N|$N|0|0|quiet" "$(again_run | tr -d '\n')"
check "fs_forget_ingest_state forgets every entity of the view" "$N|0" \
    "$(q "SELECT fs_forget_ingest_state('again')")|$(q "SELECT count(*) FROM fs_ingest_state WHERE feature_view = 'again'")"
check "after fs_forget_ingest_state the rerun writes every row again" "$N|0|$N|$N|quiet" "$(again_run | tr -d '\n')"
check "the state forgotten while the store holds every item: the rerun compares, and writes nothing" \
    "$N|$N|0|0" "$(q "SELECT fs_forget_ingest_state('again')" >/dev/null; again_run | cut -d'|' -f1-4 | tr -d '\n')"

# --- (e) requests in flight: writes up to max_write_connections ----------------
echo "# (e) requests in flight: max_write_connections for writes, max_connections for reads"
setup_sql "(e)" <<'EOF'
SET client_min_messages = warning;
CREATE FOREIGN TABLE wide_online (user_id text, event_time timestamptz, clicks bigint, ctr float8)
  SERVER faulty OPTIONS (table 'wide_items', key 'user_id');
SELECT FROM fs_register_feature_view('wide', 'wide_online', 'user');
SELECT fs_create_staging_table('wide', 'src_wide');
INSERT INTO src_wide SELECT 'w' || i, '2026-01-01 00:00:00+00', i::text, (i / 4.0)::text
  FROM generate_series(1, 100) i;
EOF
# The highest count of requests (or connections) the fault server held at once.
peak() { sed -n "s/^peak $1=//p" "$FLOG" | sort -n | tail -n 1; }
WIDE_INGEST="SELECT online_writes FROM fs_ingest('wide', 'src_wide')"
start_fault slow-peak:100
point 0 2 6
check "in flight: fs_ingest's 100 writes reach the server option max_write_connections (6) at once, not max_connections (2)" \
    "100|6|6" "$(q "$WIDE_INGEST")|$(peak requests)|$(peak connections)"
stop_fault
q "UPDATE src_wide SET event_time = '2026-02-01 00:00:00+00', clicks = (clicks::bigint + 1)::text" >/dev/null
start_fault slow-peak:100
point 0 2
q "ALTER SERVER faulty OPTIONS (DROP max_write_connections)" >/dev/null
check "in flight: without the option, the setting feature_store.max_write_connections (5)" \
    "100|5|5" "$(q "SET feature_store.max_write_connections = 5; $WIDE_INGEST")|$(peak requests)|$(peak connections)"
stop_fault
start_fault slow-peak:100
q "ALTER SERVER faulty OPTIONS (ADD max_write_connections '6')" >/dev/null
point 0 2 6
check "in flight: a read of 1,000 keys (10 BatchGetItem) reaches max_connections (2) at once, not max_write_connections" \
    "0|10|2" "$(q "SELECT count(*) FROM wide_online WHERE user_id = ANY (ARRAY(SELECT 'w' || i FROM generate_series(1, 1000) i))")|$(grep -c 'BatchGetItem' "$FLOG")|$(peak requests)"
stop_fault

finish

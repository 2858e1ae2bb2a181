#!/usr/bin/env bash
# run_extra.sh — end-to-end checks that need a shell around PostgreSQL:
#
#   1. pg_dump round trip: the catalog (entities, views, services) and what
#      it serves survive pg_dump | psql into a fresh database.
#   2. the same with the extension in a schema other than public, and the
#      view's table in a third schema.
#   3. the scripts of test/dynamodb/: interoperability with the AWS SDK,
#      faults of the store, and batch ingestion through a failing store;
#      test/stats/run_metrics.sh, fs_metrics' text checked against the
#      Prometheus exposition format and fs_stats;
#      test/upgrade/run_upgrade.sh, the upgrade from 0.1.0;
#      test/stream/run_stream.sh, the streaming lane; and
#      test/cluster/run_cluster.sh, scripts/pgcluster.sh and ALTER SYSTEM
#      on clusters of its own.
#
# Run by scripts/test.sh with the cluster's PGHOST/PGPORT/PGUSER exported.
# Prints "ok - name" / "not ok - name" per check and, last, "N passed, N
# failed".  Exits 0 when it could run (whatever failed), non-zero otherwise.
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SUFFIX="$$"

# psql_in DB SQL: one query, unaligned, tuples only; errors, whole, to stdout
# as well; psql's exit status.
psql_in() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2" 2>&1; }

need_psql
command -v pg_dump >/dev/null 2>&1 || die "pg_dump not found"
make_work fs_extra FS_EXTRA_KEEP
if [ -x /usr/lib/postgresql/15/bin/pg_dump ]; then
    PG_DUMP=/usr/lib/postgresql/15/bin/pg_dump
    PG_RESTORE=/usr/lib/postgresql/15/bin/pg_restore
else
    PG_DUMP=pg_dump
    PG_RESTORE=pg_restore
fi

# What a database serves and registers, schema-qualified by $2, into file $3.
snapshot() {
    local db="$1" s="$2" out="$3"
    psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" >"$out" 2>&1 <<EOF || true
SET timezone = 'UTC';
\echo registry
SELECT * FROM $s.feature_registry;
\echo entities
SELECT name, join_key, description, registered_by, created_at FROM $s.fs_entity ORDER BY name;
\echo views
SELECT name, relation, entity, ttl, event_time_column, description, owner, tags, registered_by, created_at
  FROM $s.fs_feature_view ORDER BY name;
\echo services
SELECT name, feature_refs, description, registered_by, created_at FROM $s.fs_feature_service ORDER BY name;
\echo features
SELECT * FROM $s.fs_get_features(ARRAY['u1', 'u2', 'u3', NULL], ARRAY['ranking', 'stats:*']);
\echo vectors
SELECT * FROM $s.fs_get_feature_vectors(ARRAY['u2', 'u1'], ARRAY['ranking']);
\echo items
SELECT * FROM $s.fs_get_features(ARRAY['7', '8'], ARRAY['items:*']);
\echo history
SELECT feature_view, history, retention, enabled_by, enabled_at FROM $s.fs_feature_history ORDER BY 1;
SELECT * FROM $d.user_stats_history ORDER BY fs_version;
SELECT * FROM $s.fs_get_features_as_of(ARRAY['u1', 'u2'], ARRAY['stats:*'], '2026-01-01 12:00:00+00');
\echo training
SELECT * FROM $d.training ORDER BY event_timestamp;
EOF
}

# Build a source database with the extension in schema $2 and the data in
# schema $3, dump it, restore it into a fresh database, compare.
dump_round_trip() {
    local label="$1" ext_schema="$2" data_schema="$3"
    local src="fs_extra_src_${label}_$SUFFIX" dst="fs_extra_dst_${label}_$SUFFIX"
    local s d
    s="$(psql_in postgres "SELECT quote_ident('$ext_schema')")"
    d="$(psql_in postgres "SELECT quote_ident('$data_schema')")"
    new_db "$src"
    new_db "$dst"

    if ! psql -X -q -v ON_ERROR_STOP=1 -d "$src" >"$WORK/$label.setup.log" 2>&1 <<EOF
CREATE SCHEMA IF NOT EXISTS $s;
CREATE SCHEMA IF NOT EXISTS $d;
CREATE EXTENSION feature_store SCHEMA $s;
SET search_path = pg_catalog;
CREATE TABLE $d.user_stats (user_id text PRIMARY KEY, event_time timestamptz,
                            clicks bigint, ctr float8, tags text[]);
COMMENT ON COLUMN $d.user_stats.ctr IS 'click-through rate';
INSERT INTO $d.user_stats VALUES
    ('u1', '2026-01-01 00:00:00+00', 10, 0.5, '{a,b}'),
    ('u2', '1900-01-01 00:00:00+00', 20, 0.25, NULL);
CREATE TABLE $d.user_profile (user_id text PRIMARY KEY, updated timestamptz, segment text);
INSERT INTO $d.user_profile VALUES ('u1', '2026-02-01 00:00:00+00', 'pro'), ('u3', NULL, 'new');
CREATE TABLE $d.items (item_id int PRIMARY KEY, event_time timestamptz, price numeric);
INSERT INTO $d.items VALUES (7, '2026-03-01 00:00:00+00', 9.99);
SELECT FROM $s.fs_register_entity('user', 'user_id', 'a person');
SELECT FROM $s.fs_register_entity('item', 'item_id');
SELECT FROM $s.fs_register_feature_view('stats', '$d.user_stats', 'user', ttl => '36500 days',
        description => 'engagement', owner => 'team-a', tags => '{"tier": "gold"}');
SELECT FROM $s.fs_register_feature_view('profile', '$d.user_profile', 'user', event_time_column => 'updated');
SELECT FROM $s.fs_register_feature_view('items', '$d.items', 'item');
SELECT FROM $s.fs_register_feature_service('ranking', ARRAY['profile:segment', 'stats:ctr'], 'model v1');
SELECT FROM $s.fs_enable_history('stats', '30 days');
UPDATE $d.user_stats SET clicks = 11, event_time = '2026-01-02 00:00:00+00' WHERE user_id = 'u1';
CREATE TABLE $d.spine (user_id text, event_timestamp timestamptz, label int);
INSERT INTO $d.spine VALUES ('u1', '2026-01-01 12:00:00+00', 1), ('u1', '2026-01-03 00:00:00+00', 0);
SELECT FROM $s.fs_create_training_view('$d.training', '$d.spine', ARRAY['stats:clicks', 'stats:ctr']);
EOF
    then
        not_ok "$label: set up the source database" "$(tr '\n' '|' <"$WORK/$label.setup.log")"
        return
    fi
    ok "$label: set up the source database"

    if ! "$PG_DUMP" -d "$src" -f "$WORK/$label.dump.sql" 2>"$WORK/$label.dump.log"; then
        not_ok "$label: pg_dump" "$(tr '\n' '|' <"$WORK/$label.dump.log")"
        return
    fi
    ok "$label: pg_dump"
    if grep -q 'fs_feature_view' "$WORK/$label.dump.sql" &&
       grep -q 'COPY .*fs_feature_view' "$WORK/$label.dump.sql"; then
        ok "$label: the dump holds the catalog's rows"
    else
        not_ok "$label: the dump holds the catalog's rows" "no COPY of fs_feature_view in the dump"
    fi

    if ! psql -X -q -v ON_ERROR_STOP=1 -d "$dst" -f "$WORK/$label.dump.sql" \
            >"$WORK/$label.restore.log" 2>&1; then
        not_ok "$label: restore with psql" "$(head -n 5 "$WORK/$label.restore.log" | tr '\n' '|')"
        return
    fi
    ok "$label: restore with psql, no error"

    snapshot "$src" "$s" "$WORK/$label.src.out"
    snapshot "$dst" "$s" "$WORK/$label.dst.out"
    check_same "$label: feature_registry, catalog rows and served values are the same after restore" \
        "$WORK/$label.src.out" "$WORK/$label.dst.out"
    # The snapshot must hold real content, not the same error twice.
    check "$label: the restored database serves the registered values" \
        'u1|profile:segment|"pro"|2026-02-01 00:00:00+00|PRESENT' \
        "$(psql_in "$dst" "SET timezone = 'UTC'; SELECT * FROM $s.fs_get_features(ARRAY['u1'], ARRAY['ranking']) LIMIT 1")"
    check "$label: the restored views point at the restored tables" \
        "items|$d.items profile|$d.user_profile stats|$d.user_stats" \
        "$(psql_in "$dst" "SET search_path = pg_catalog; SELECT string_agg(name || '|' || relation::text, ' ' ORDER BY name) FROM $s.fs_feature_view")"
    check "$label: the restored extension lives in its schema" \
        "$ext_schema" \
        "$(psql_in "$dst" "SELECT extnamespace::regnamespace FROM pg_extension WHERE extname = 'feature_store'" | tr -d '"')"
    # The restored database keeps working: register, serve, drop.
    check "$label: the restored registry accepts new registrations" \
        "profile:segment" \
        "$(psql_in "$dst" "SELECT FROM $s.fs_register_feature_service('second', ARRAY['profile:segment']); SELECT feature_ref FROM $s.fs_resolve_refs(ARRAY['second'])" | tail -n 1)"
    check "$label: the restored registry still refuses a drop in use" \
        "2BP01" \
        "$(psql -X -q -At -d "$dst" -c "\\set VERBOSITY sqlstate" -c "SELECT $s.fs_drop_feature_view('stats')" 2>&1 | sed -E 's/^ERROR: +//')"

    check "$label: the restored database holds the history and the training view" \
        "3|10 11" \
        "$(psql_in "$dst" "SELECT count(*) FROM $d.user_stats_history")|$(psql_in "$dst" "SELECT string_agg(stats__clicks::text, ' ' ORDER BY event_timestamp) FROM $d.training")"

    # The custom format through pg_restore gives the same.
    local dst3="fs_extra_dst3_${label}_$SUFFIX"
    new_db "$dst3"
    if "$PG_DUMP" -Fc -d "$src" -f "$WORK/$label.dump.custom" 2>/dev/null &&
       "$PG_RESTORE" --exit-on-error -d "$dst3" "$WORK/$label.dump.custom" >"$WORK/$label.restore3.log" 2>&1; then
        snapshot "$dst3" "$s" "$WORK/$label.dst3.out"
        check_same "$label: pg_dump -Fc and pg_restore give the same" "$WORK/$label.src.out" "$WORK/$label.dst3.out"
        check "$label: in the database pg_restore made, a write is one version (the triggers restored once)" \
            "1" \
            "$(psql_in "$dst3" "UPDATE $d.user_stats SET clicks = 12 WHERE user_id = 'u2'; SELECT count(*) FROM $d.user_stats_history WHERE clicks = 12")"
    else
        not_ok "$label: pg_dump -Fc and pg_restore give the same" "$(head -n 5 "$WORK/$label.restore3.log" | tr '\n' '|')"
    fi

    # A second round trip of the restored database gives the same dump data.
    local dst2="fs_extra_dst2_${label}_$SUFFIX"
    new_db "$dst2"
    psql_in "$dst" "SELECT $s.fs_drop_feature_service('second')" >/dev/null || true
    if "$PG_DUMP" -d "$dst" -f "$WORK/$label.dump2.sql" 2>/dev/null &&
       psql -X -q -v ON_ERROR_STOP=1 -d "$dst2" -f "$WORK/$label.dump2.sql" >/dev/null 2>&1; then
        snapshot "$dst2" "$s" "$WORK/$label.dst2.out"
        check_same "$label: a second dump and restore changes nothing" "$WORK/$label.src.out" "$WORK/$label.dst2.out"
    else
        not_ok "$label: a second dump and restore changes nothing" "dump or restore failed"
    fi
}

echo "# 1. pg_dump round trip, extension in public"
dump_round_trip public public public
echo "# 2. pg_dump round trip, extension in another schema, tables in a third"
dump_round_trip schema "Feature Store" "Online Data"

# run_part NAME SCRIPT: run another test script (SCRIPT relative to the
# repository) and count its checks as ours; its own count line is shown as
# "# NAME: ...".  If it does not run to the end, that is one failure.
run_part() {
    local name="$1" script="$2" log="$WORK/$1.log" rc last
    set +e
    bash "$(dirname "${BASH_SOURCE[0]}")/../$script" 2>&1 | tee "$log" |
        sed -E "s/^([0-9]+ passed, [0-9]+ failed)\$/# $name: \\1/"
    rc=${PIPESTATUS[0]}
    set -e
    last="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1 || true)"
    if [ "$rc" -eq 0 ] && [ -n "$last" ]; then
        PASS=$((PASS + $(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$last")))
        FAIL=$((FAIL + $(sed -E 's/.* ([0-9]+) failed$/\1/' <<<"$last")))
    else
        not_ok "$name: $script ran to the end" "exit status $rc" "$(tail -n 5 "$log")"
    fi
}

# ===========================================================================
# DynamoDB interoperability (test/dynamodb/run_interop.sh: the AWS SDK for
# JavaScript v3 and fs_dynamodb read and write the same items).  Runs when
# FS_DYNALITE_ENDPOINT is set (scripts/test.sh starts dynalite); it skips by
# itself, counting nothing, while the extension has no fs_dynamodb wrapper.
# Its checks count here; its own count line is shown as "# interop: ...".
# ===========================================================================
if [ -z "${FS_DYNALITE_ENDPOINT:-}" ]; then
    echo "# skipped: DynamoDB interop (FS_DYNALITE_ENDPOINT is not set)"
else
    run_part interop test/dynamodb/run_interop.sh
fi

# ===========================================================================
# DynamoDB faults (test/dynamodb/run_faults.sh: fs_dynamodb against
# test/dynamodb/fault_server.js — refused, never answering, 5xx, throttling,
# garbage, error answers — and backend memory over many calls, against
# dynalite when FS_DYNALITE_ENDPOINT is set).  It skips by itself, counting
# nothing, while the extension has no fs_dynamodb wrapper.  Its checks count
# here; its own count line is shown as "# faults: ...".
# ===========================================================================
run_part faults test/dynamodb/run_faults.sh

# ===========================================================================
# Batch ingestion into dynalite through a proxy that fails on cue
# (test/dynamodb/run_ingest_faults.sh: an outage mid-run, a cancelled run,
# another lane's newer value).  Skips by itself without FS_DYNALITE_ENDPOINT.
# Its own count line is shown as "# ingest_faults: ...".
# ===========================================================================
run_part ingest_faults test/dynamodb/run_ingest_faults.sh

# ===========================================================================
# The hot-entity cache across backends and under pressure
# (test/dynamodb/run_cache.sh, on a cluster of its own with a 1MB cache:
# writes seen from other backends, bounded with 10x the keys, the hot set
# kept under a cold scan, backends terminated and cancelled mid-call while
# others serve, a crashed backend).  Skips by itself without
# FS_DYNALITE_ENDPOINT.  Its own count line is shown as "# cache: ...".
# ===========================================================================
run_part cache test/dynamodb/run_cache.sh

# ===========================================================================
# Serving statistics in the Prometheus text format (test/stats/run_metrics.sh:
# in a database of its own, fs_metrics() after known calls passes
# test/stats/check_metrics.mjs — the npm package parse-prometheus-text-format
# and a line-by-line check of the format's rules — and its figures equal
# fs_stats'; the checker rejects broken variants).  Needs the preloaded
# library; skips by itself, counting nothing, without it.  Its own count
# line is shown as "# metrics: ...".
# ===========================================================================
run_part metrics test/stats/run_metrics.sh

# ===========================================================================
# The upgrade from 0.1.0 (test/upgrade/run_upgrade.sh: a database in use on
# 0.1.0, with events queued, is updated; it serves the same, its queue is
# drained, and its extension objects equal a fresh install's).  Needs the
# preloaded library.  Its own count line is shown as "# upgrade: ...".
# ===========================================================================
run_part upgrade test/upgrade/run_upgrade.sh

# ===========================================================================
# The streaming lane (test/stream/run_stream.sh: fs_push and the queue's
# worker, on both stores; counters, a failed flush retried, the store down,
# a restart).  Needs feature_store in shared_preload_libraries (scripts/test.sh
# starts the cluster so); it restarts the cluster once.
# ===========================================================================
run_part stream test/stream/run_stream.sh

# ===========================================================================
# The getting-started path (test/cluster/run_cluster.sh: scripts/pgcluster.sh
# preloads the library unless FS_PG_EXTRA_CONF says otherwise, restart and
# crash-restart, and ALTER SYSTEM SET feature_store.* as docs/settings.md
# gives it, with and without the preload).  It starts clusters of its own,
# one at a time.  Its own count line is shown as "# cluster: ...".
# ===========================================================================
run_part cluster test/cluster/run_cluster.sh

finish

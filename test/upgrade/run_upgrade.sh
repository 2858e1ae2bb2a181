#!/usr/bin/env bash
# run_upgrade.sh — ALTER EXTENSION feature_store UPDATE from 0.1.0, the first
# release, to the current version:
#
#   1. a database on 0.1.0 (the installed 0.1.0 script) registers an entity,
#      views (embedded; with FS_DYNALITE_ENDPOINT one in dynalite too) and a
#      service, ingests a batch, writes directly and queues streamed events
#      with INSERT, which call no worker on 0.1.0 (its queue has no trigger
#      for that), so they stay queued; another database on 0.1.0 has its
#      fs_push drained by the new library's worker;
#   2. what it serves is kept, the extension is updated, and it must serve the
#      same, and find the batch it ingested unchanged; the update calls a
#      worker, which must drain the queued events into the views, with no
#      setting;
#   3. its extension objects (test/upgrade/objects.sql: every member with its
#      definition, columns, constraints, indexes, triggers, policies, grants,
#      comments) must equal those of a fresh install of the current version
#      in another database; and the comparison must see a changed member.
#
# Needs the cluster of scripts/pgcluster.sh with feature_store preloaded (for
# the stream worker) and `make install` done (both scripts installed).
# Prints "ok - name" / "not ok - name" and, last, "N passed, N failed".
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"

SUFFIX="$$"
OLD="fs_upgrade_old_$SUFFIX"	# installed at 0.1.0, then updated
NEW="fs_upgrade_new_$SUFFIX"	# a fresh install of the current version
PUSHED="fs_upgrade_pushed_$SUFFIX"	# at 0.1.0, pushing
PREFIX="fs_upgrade_$SUFFIX"
TABLE="${PREFIX}_items"		# the remote table in dynalite
REMOTE=0
WAIT_SECONDS=30                 # for the worker to drain $OLD

export PGOPTIONS="${PGOPTIONS:-} -c timezone=UTC -c client_min_messages=warning"

make_work fs_upgrade

# The queries of what a database serves.
served_sql() {
    cat <<'EOF'
SELECT entity_id, feature_ref, value, event_time, status
  FROM fs_get_features(ARRAY['u1', 'u2', 'u3', 'u4', NULL], ARRAY['ranking', 'stats:*']);
SELECT * FROM fs_get_feature_vectors(ARRAY['u2', 'u1'], ARRAY['ranking']);
EOF
    if [ "$REMOTE" = 1 ]; then
        echo "SELECT entity_id, feature_ref, value, event_time, status
                FROM fs_get_features(ARRAY['u1', 'u2', 'u9'], ARRAY['online:*']);"
    fi
}

# What a database serves, as text.
served() { served_sql | psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" 2>&1 || true; }

objects() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -f "$HERE/objects.sql" >"$2" 2>&1 || true; }

# --- preconditions ----------------------------------------------------------

need_psql
CURRENT="$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$REPO/feature_store.control")"
[ -n "$CURRENT" ] || die "no default_version in feature_store.control"
[ "$(q_in postgres "SELECT current_setting('shared_preload_libraries') ~ 'feature_store'")" = t ] ||
    skip_all "feature_store is not preloaded (no stream worker)"
new_db "$OLD"
new_db "$NEW"
new_db "$PUSHED"

check "an update path from 0.1.0 to $CURRENT is installed" "t" \
    "$(q_in postgres "SELECT path IS NOT NULL FROM pg_extension_update_paths('feature_store')
                       WHERE source = '0.1.0' AND target = '$CURRENT'")"

# --- 1. a database on 0.1.0, in use -----------------------------------------

out="$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$OLD" 2>&1 <<'EOF'
\o /dev/null
CREATE EXTENSION feature_store VERSION '0.1.0';
CREATE TABLE user_stats (user_id text PRIMARY KEY, event_time timestamptz,
                         clicks bigint, ctr float8, tags text[]);
CREATE TABLE user_profile (user_id text PRIMARY KEY, event_time timestamptz, segment text);
INSERT INTO user_profile VALUES ('u1', '2026-02-01 00:00:00+00', 'pro'),
                                ('u3', '2026-02-01 00:00:00+00', 'new');
SELECT fs_register_entity('user', 'user_id', 'a person');
SELECT fs_register_feature_view('stats', 'user_stats', 'user', ttl => '36500 days',
                                description => 'engagement', tags => '{"tier": "gold"}');
SELECT fs_register_feature_view('profile', 'user_profile', 'user');
SELECT fs_register_feature_service('ranking', ARRAY['profile:segment', 'stats:ctr']);
SELECT fs_create_staging_table('stats', 'stats_staging');
\o
INSERT INTO stats_staging (user_id, event_time, clicks, ctr, tags) VALUES
    ('u1', '2026-01-01 00:00:00+00', '10', '0.5', '{a,b}'),
    ('u2', '2026-01-01 00:00:00+00', '20', '0.25', NULL),
    ('u3', '2026-01-01 00:00:00+00', 'many', '0.1', NULL);
SELECT rows_read, rows_rejected, rows_inserted FROM fs_ingest('stats', 'stats_staging');
SELECT fs_write_features('stats', 'u4', '{"clicks": 4, "ctr": 0.125}', '2026-01-02 00:00:00+00');
SELECT extversion FROM pg_extension WHERE extname = 'feature_store';
EOF
)"
check "0.1.0: install, register, ingest (one row rejected), write directly" \
    "$(printf '3|1|2\nWRITTEN\n0.1.0')" "$out"

if [ -n "${FS_DYNALITE_ENDPOINT:-}" ]; then
    drop_remote_on_exit "$PREFIX"
    out="$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$OLD" 2>&1 <<EOF
\\o /dev/null
$(dynamodb_server upgrade_srv "$FS_DYNALITE_ENDPOINT" "max_retries '1'")
CREATE FOREIGN TABLE user_online (user_id text, event_time timestamptz, score float8, label text)
  SERVER upgrade_srv OPTIONS (table '$TABLE', key 'user_id');
SELECT fs_create_online_table('user_online');
SELECT fs_register_feature_view('online', 'user_online', 'user');
\\o
SELECT fs_write_features('online', 'u1', '{"score": 1.5, "label": "a"}', '2026-01-01 00:00:00+00');
EOF
)"
    REMOTE=1
    check "0.1.0: a view in dynalite, written directly" "WRITTEN" "$out"
else
    echo "# FS_DYNALITE_ENDPOINT is unset: the embedded store only"
fi

# A view name used twice: runs of the first view must not become the
# second's when the update ties runs to views by view_id.
out="$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$OLD" 2>&1 <<'EOF'
\o /dev/null
CREATE TABLE first_t (user_id text PRIMARY KEY, event_time timestamptz, n int);
CREATE TABLE second_t (user_id text PRIMARY KEY, event_time timestamptz, n int);
SELECT fs_register_feature_view('reused', 'first_t', 'user');
CREATE TABLE reused_src (user_id text, event_time text, n text);
INSERT INTO reused_src VALUES ('u1', '2026-01-01 00:00:00+00', 'secret'),
                              ('u2', '2026-01-01 00:00:00+00', '5');
SELECT fs_ingest('reused', 'reused_src');
SELECT fs_drop_feature_view('reused');
SELECT fs_register_feature_view('reused', 'second_t', 'user');
SELECT fs_ingest('reused', 'reused_src');
\o
SELECT count(*) FROM fs_ingest_runs WHERE feature_view = 'reused';
EOF
)"
check "0.1.0: a view name dropped and registered again, a run into each" "2" "$out"

# 0.1.0 let any role record a run under any view's name: such a run must
# not become the view's.
FORGER="fs_upgrade_forger_$SUFFIX"
drop_forger() { q_in postgres "DROP ROLE IF EXISTS $FORGER" >/dev/null 2>&1 || true; }
at_exit drop_forger
check "0.1.0: a role without privileges records a run under the name of another's view" "1" \
    "$(q_in "$OLD" "CREATE ROLE $FORGER; SET ROLE $FORGER;
                    INSERT INTO fs_ingest_runs (feature_view, source, mode) VALUES ('stats', 'forged', 'upsert');
                    RESET ROLE; SELECT count(*) FROM fs_ingest_runs WHERE source = 'forged'")"

# A view whose key is a domain with a CHECK that changes a setting when
# armed: the update reads the view's state keys (to hash them) as the
# table's owner, and what that owner's code sets must not outlive the read
# in the session that runs the update.
out="$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$OLD" 2>&1 <<'EOF'
\o /dev/null
CREATE TABLE armed (x int);
CREATE FUNCTION tamper(text) RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN
    IF EXISTS (SELECT FROM public.armed) THEN
        PERFORM set_config('application_name', 'tampered', false);
    END IF;
    RETURN true;
END $f$;
CREATE DOMAIN tkey AS text CHECK (public.tamper(VALUE));
CREATE TABLE tk_t (user_id tkey PRIMARY KEY, event_time timestamptz, n int);
SELECT fs_register_feature_view('tk', 'tk_t', 'user');
CREATE TABLE tk_src (user_id text, event_time text, n text);
INSERT INTO tk_src VALUES ('u1', '2026-01-01 00:00:00+00', '1');
\o
SELECT rows_inserted FROM fs_ingest('tk', 'tk_src');
INSERT INTO armed VALUES (1);
EOF
)"
check "0.1.0: a view keyed by a domain whose CHECK changes a setting once armed" "1" "$out"

# Events queued by INSERT: on 0.1.0 nothing calls a worker for them, and
# no worker has come to this database (it was created after the server
# started, and nothing else here called one), so they stay queued.
q_in "$OLD" "INSERT INTO fs_stream_queue (feature_view, entity_id, features, event_time, mode) VALUES
               ('stats', 'u1', '{\"clicks\": 11}', '2026-03-01 00:00:00+00', 'set'),
               ('stats', 'u5', '{\"ctr\": 0.75}', '2026-03-01 00:00:00+00', 'set'),
               ('stats', 'u2', '{\"clicks\": 1}', '2026-03-01 00:00:00+00', 'add')" >/dev/null
if [ "$REMOTE" = 1 ]; then
    q_in "$OLD" "INSERT INTO fs_stream_queue (feature_view, entity_id, features, event_time)
                 VALUES ('online', 'u2', '{\"score\": 2.5}', '2026-03-01 00:00:00+00')" >/dev/null
fi
served "$OLD" >"$WORK/served.before"
check_true "0.1.0: events are queued, not drained" \
    "$(q_in "$OLD" "SELECT count(*) >= 3 FROM fs_stream_queue")"

# The new library's worker drains a database still on 0.1.0: fs_push calls it.
out="$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$PUSHED" 2>&1 <<'EOF'
\o /dev/null
CREATE EXTENSION feature_store VERSION '0.1.0';
CREATE TABLE user_stats (user_id text PRIMARY KEY, event_time timestamptz, clicks bigint);
SELECT fs_register_entity('user', 'user_id');
SELECT fs_register_feature_view('stats', 'user_stats', 'user');
\o
SELECT fs_push('stats', 'u1', '{"clicks": 3}') > 0;
EOF
)"
check "0.1.0: fs_push queues an event" "t" "$out"
check "0.1.0: the new library's worker drains the queue of a database not yet updated" "3|0" \
    "$(wait_in "$PUSHED" "SELECT (SELECT clicks FROM user_stats WHERE user_id = 'u1') || '|' || (SELECT count(*) FROM fs_stream_queue)" "3|0")"

# --- 2. the update ----------------------------------------------------------

# What it serves is read in the update's transaction: its commit calls the
# worker, which drains the queued events at once.
{ echo "BEGIN;"; echo "ALTER EXTENSION feature_store UPDATE;"; served_sql; echo "COMMIT;"
  echo "\\o $WORK/session.after"; echo "SELECT current_setting('application_name');"; } |
    psql -X -q -At -v ON_ERROR_STOP=1 -d "$OLD" >"$WORK/served.after" 2>&1 || true
check "a view owner's code run by the update leaves the update's session as it was" "psql" \
    "$(cat "$WORK/session.after" 2>&1)"
check "ALTER EXTENSION feature_store UPDATE reaches $CURRENT" "$CURRENT" \
    "$(q_in "$OLD" "SELECT extversion FROM pg_extension WHERE extname = 'feature_store'")"
check "the update ties each run to its view, no run to a later view of its name, and no forged run" \
    "$(printf 'stats|t\nreused|f\nreused|t\nstats|f\ntk|t')" \
    "$(q_in "$OLD" "SELECT r.feature_view, r.view_id IS NOT DISTINCT FROM
                            (SELECT v.view_id FROM fs_feature_view v WHERE v.name = r.feature_view)
                      FROM fs_ingest_runs r ORDER BY r.run_id")"
check_same "after the update the same values are served" "$WORK/served.before" "$WORK/served.after"
grep -q '^u1|stats:clicks|10|' "$WORK/served.after" &&
    ok "what is compared holds the ingested values" ||
    not_ok "what is compared holds the ingested values" "$(head -n 5 "$WORK/served.after")"
# 0.1.0's state rows get the hash 0.2.0 finds entities by, and keep their
# digests: the same batch again is unchanged, nothing is written.  (A view
# no streamed event touches: the update's commit drains the queue into
# stats, whose rows are then newer than its batch.)
check "after the update the state still knows what was ingested: the same batch writes nothing" \
    "1|1|0" \
    "$(q_in "$OLD" "SELECT rows_unchanged || '|' || rows_rejected || '|' || online_writes
                     FROM fs_ingest('reused', 'reused_src')")"

check "the events queued before the update are drained after it, with no setting" "0" \
    "$(wait_in "$OLD" "SELECT count(*) FROM fs_stream_queue" 0)"
check "the drained events are served" '0.75,21,11' \
    "$(q_in "$OLD" "SELECT string_agg(coalesce(value::text, status), ',' ORDER BY entity_id DESC)
                     FROM fs_get_features(ARRAY['u1', 'u5', 'u2'], ARRAY['stats:clicks', 'stats:ctr'])
                    WHERE (entity_id, feature_ref) IN (('u1', 'stats:clicks'), ('u5', 'stats:ctr'),
                                                       ('u2', 'stats:clicks'))")"
if [ "$REMOTE" = 1 ]; then
    check "the event queued for dynalite is drained and served" '2.5' \
        "$(wait_in "$OLD" "SELECT value FROM fs_get_features(ARRAY['u2'], ARRAY['online:score'])" 2.5)"
fi
check "no event was set aside" "0" "$(q_in "$OLD" "SELECT count(*) FROM fs_stream_rejects")"

# The objects the update adds work on the data 0.1.0 left: history, as of a
# time, a training view (docs/training.md).
check "after the update a view of 0.1.0 keeps history, answers as of a time and in a training view" \
    'user_stats_history|t|11|11' \
    "$(q_in "$OLD" "SELECT fs_enable_history('stats')" | tr -d '"')|$(q_in "$OLD" "SELECT history FROM feature_registry WHERE feature_view = 'stats' LIMIT 1")|$(q_in "$OLD" "SELECT value FROM fs_get_features_as_of(ARRAY['u1'], ARRAY['stats:clicks'], now())")|$(q_in "$OLD" "CREATE TABLE spine_t AS SELECT 'u1'::text AS user_id, now() AS event_timestamp" >/dev/null; q_in "$OLD" "SELECT fs_create_training_view('training_t', 'spine_t', ARRAY['stats:clicks'])" >/dev/null; q_in "$OLD" "SELECT stats__clicks FROM training_t")"

# --- 3. the same objects as a fresh install ---------------------------------

out="$(q_in "$NEW" "CREATE EXTENSION feature_store; SELECT extversion FROM pg_extension WHERE extname = 'feature_store'")"
check "a fresh install is version $CURRENT" "$CURRENT" "$out"
objects "$OLD" "$WORK/objects.updated"
objects "$NEW" "$WORK/objects.fresh"
check_true "the object listing covers functions, columns, policies, triggers, indexes, grants, comments and dumped tables" \
    "$(awk '/^function .*: CREATE OR REPLACE FUNCTION/ {f++} /^column / {c++} /^policy / {p++}
            /^trigger / {t++} /^index / {i++} /^dumped: / {d++} /acl \{/ {g++}
            /^comment on function / {cf++} /^comment on table / {ct++} /^comment on trigger / {cg++}
            END {print (f >= 20 && c >= 30 && p >= 5 && t >= 3 && i >= 5 && d >= 3 && g >= 1 &&
                        cf >= 20 && ct >= 3 && cg >= 3) ? "t" : "f"}' \
            "$WORK/objects.fresh")" \
    "$(grep -c . "$WORK/objects.fresh") lines" "$(head -n 3 "$WORK/objects.fresh")"
check_same "the updated database's extension objects equal a fresh install's" \
    "$WORK/objects.fresh" "$WORK/objects.updated"

# The comparison must notice a changed member: change one, compare again.
q_in "$NEW" "COMMENT ON FUNCTION fs_push(text, text, jsonb, timestamptz, text) IS 'changed'" >/dev/null
objects "$NEW" "$WORK/objects.changed"
check_differ "the comparison sees a changed comment" "$WORK/objects.fresh" "$WORK/objects.changed"
q_in "$NEW" "ALTER TABLE fs_ingest_runs ALTER COLUMN error SET DEFAULT 'none'" >/dev/null
objects "$NEW" "$WORK/objects.changed2"
check_differ "the comparison sees a changed column default" "$WORK/objects.changed" "$WORK/objects.changed2"

# --- 4. rejects across the update -------------------------------------------

# The reject of the 0.1.0 run (recorded by the new library into a table
# without source_row) is kept, with no source row; a run after the update
# records every bad value of a row, each with the row's place in the source.
check "0.1.0's reject has no source row; after the update each bad value has its row's" \
    "$(printf 'clicks|many|\nclicks|bad|2\nctr|0,5|2\n1|1')" \
    "$(q_in "$OLD" "CREATE TABLE later_src (user_id text, event_time text, clicks text, ctr text, tags text);
                    INSERT INTO later_src VALUES ('u7', '2026-04-01 00:00:00+00', '7', '0.5', NULL),
                                                 ('u8', '2026-04-01 00:00:00+00', 'bad', '0,5', NULL);
                    CREATE TEMP TABLE run AS SELECT * FROM fs_ingest('stats', 'later_src');
                    SELECT j.\"column\", j.raw_value, j.source_row FROM fs_ingest_rejects j
                      JOIN fs_ingest_runs r USING (run_id)
                     WHERE r.feature_view = 'stats' AND r.source <> 'forged'
                     ORDER BY j.run_id, j.\"column\";
                    SELECT rows_inserted || '|' || rows_rejected FROM run")"

finish

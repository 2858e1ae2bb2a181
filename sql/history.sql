--
-- history: fs_enable_history / fs_disable_history, the versions each lane
-- writes into a view's history table (in the transaction of the write),
-- fs_get_features_as_of, fs_create_training_view's refusals, retention and
-- privileges.  history_model checks the answers against a model on
-- randomized data.
--
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_store CASCADE;
DROP TABLE IF EXISTS hs_stats, hs_stats_history, hs_clicks, hs_clicks_history, hs_staging,
    hs_spine, hs_spine_naive, hs_other, hs_other_history, hs_wide, hs_wide_history,
    hs_undated, hs_undated_history CASCADE;
DROP SCHEMA IF EXISTS "HS Schema" CASCADE;
DROP ROLE IF EXISTS regress_hs_owner, regress_hs_reader, regress_hs_columns, regress_hs_writer,
    regress_hs_other;
RESET client_min_messages;
CREATE EXTENSION feature_store;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never

-- SQLSTATE and message of a statement's error, or 'no error'.
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN EXECUTE q; RETURN 'no error'; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;
GRANT EXECUTE ON FUNCTION pg_temp.err(text) TO PUBLIC;
CREATE FUNCTION pg_temp.hint(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE h text;
BEGIN EXECUTE q; RETURN 'no error';
EXCEPTION WHEN OTHERS THEN GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT; RETURN h; END $$;
GRANT EXECUTE ON FUNCTION pg_temp.hint(text) TO PUBLIC;

-- The versions of a history table, in the order recorded, without what
-- changes from run to run (a version that says the entity is gone is
-- stamped with the time of the change: history_model checks it).
CREATE FUNCTION pg_temp.versions(h regclass) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE format(
        'SELECT concat_ws('' | '', x.user_id, CASE WHEN x.fs_deleted THEN ''gone'' ELSE x.event_time::text END,
                 (to_jsonb(x) - ''user_id'' - ''event_time'' - ''fs_recorded_at'' - ''fs_version'' - ''fs_deleted'')::text)
           FROM %s x ORDER BY x.fs_version', h);
END $$;

SELECT (fs_register_entity('user', 'user_id')).name;
CREATE TABLE hs_stats (user_id text PRIMARY KEY, event_time timestamptz NOT NULL,
                       clicks bigint, ctr float8, tags jsonb);
CREATE TABLE hs_clicks (user_id text PRIMARY KEY, event_time timestamptz NOT NULL, clicks_1h int);
SELECT name FROM fs_register_feature_view('hs_stats', 'hs_stats', 'user', ttl => '7 days');
SELECT name FROM fs_register_feature_view('hs_clicks', 'hs_clicks', 'user');
INSERT INTO hs_stats VALUES ('u1', '2026-01-01', 1, 0.5, '{"a": 1}'), ('u2', '2026-01-01', 2, NULL, NULL);

-- The signatures docs/training.md gives.
SELECT p.proname, pg_get_function_arguments(p.oid) AS arguments, pg_get_function_result(p.oid) AS result
  FROM pg_proc p
 WHERE p.proname IN ('fs_enable_history', 'fs_disable_history', 'fs_get_features_as_of',
                     'fs_create_training_view', 'fs_purge_history')
 ORDER BY p.proname;

--
-- Turning history on
--
SELECT pg_temp.err($$SELECT fs_enable_history('nope')$$);
SELECT pg_temp.err($$SELECT fs_enable_history('hs_stats', '-1 day')$$);
SELECT pg_temp.err($$SELECT fs_get_features_as_of(ARRAY['u1'], ARRAY['hs_stats:clicks'], now())$$);
SELECT pg_temp.hint($$SELECT fs_get_features_as_of(ARRAY['u1'], ARRAY['hs_stats:clicks'], now())$$);
-- a table in the way of the history table's name
CREATE TABLE hs_stats_history (x int);
SELECT pg_temp.err($$SELECT fs_enable_history('hs_stats')$$);
DROP TABLE hs_stats_history;
-- one of the right shape, but with a trigger of someone's
CREATE TABLE hs_stats_history (user_id text, event_time timestamptz, fs_recorded_at timestamptz,
                               fs_version bigint, fs_deleted boolean);
CREATE FUNCTION pg_temp.noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER someones AFTER INSERT ON hs_stats_history EXECUTE FUNCTION pg_temp.noop();
SELECT pg_temp.err($$SELECT fs_enable_history('hs_stats')$$);
DROP TABLE hs_stats_history;
-- returns the history table, beside the view's table; the rows already there are its first versions
SELECT fs_enable_history('hs_stats');
SELECT fs_enable_history('hs_clicks', '30 days');
SELECT * FROM pg_temp.versions('hs_stats_history');
\d hs_stats_history
SELECT feature_view, feature, history, history_retention FROM feature_registry ORDER BY 1, 2;
-- the table's triggers
SELECT tgname, pg_get_triggerdef(oid) LIKE '%FOR EACH STATEMENT%' AS per_statement
  FROM pg_trigger WHERE tgrelid = 'hs_stats'::regclass ORDER BY tgname;
-- calling it again adds no version
SELECT fs_enable_history('hs_stats');
SELECT count(*) FROM hs_stats_history;

--
-- Versions, by any writer
--
INSERT INTO hs_stats VALUES ('u3', '2026-01-02', 3, 0.1, '[]');
UPDATE hs_stats SET clicks = 11, event_time = '2026-01-03' WHERE user_id = 'u1';
-- an update that changes nothing writes no version
UPDATE hs_stats SET clicks = clicks;
-- an upsert: one row inserted, one updated
INSERT INTO hs_stats VALUES ('u4', '2026-01-02', 4, NULL, NULL), ('u2', '2026-01-04', 22, 0.2, NULL)
    ON CONFLICT (user_id) DO UPDATE SET event_time = excluded.event_time, clicks = excluded.clicks, ctr = excluded.ctr;
-- a key that changes: the old one is gone, the new one is there
UPDATE hs_stats SET user_id = 'u5' WHERE user_id = 'u4';
DELETE FROM hs_stats WHERE user_id = 'u3';
SELECT * FROM pg_temp.versions('hs_stats_history');
-- a rolled-back write leaves no version
BEGIN;
INSERT INTO hs_stats VALUES ('u9', '2026-01-02', 9, NULL, NULL);
ROLLBACK;
SELECT count(*) AS versions_of_u9 FROM hs_stats_history WHERE user_id = 'u9';

-- direct writes: a written one is a version with every feature after it, a stale one none
TRUNCATE hs_stats_history;
SELECT fs_write_features('hs_stats', 'u1', '{"ctr": 0.75}', '2026-01-05');
SELECT fs_write_features('hs_stats', 'u1', '{"ctr": 0.25}', '2026-01-01');
BEGIN;
SELECT fs_write_features('hs_stats', 'u2', '{"clicks": 99}', '2026-01-06');
ROLLBACK;
SELECT * FROM pg_temp.versions('hs_stats_history');
-- a direct write the same as the latest version by event time is none, even
-- after a version without an event time (a plain UPDATE made it); and a
-- feature named n or o (the trigger's names for the new and old rows)
CREATE TABLE hs_undated (user_id text PRIMARY KEY, event_time timestamptz, n int, o int);
SELECT name FROM fs_register_feature_view('hs_undated', 'hs_undated', 'user');
SELECT fs_enable_history('hs_undated');
SELECT fs_write_features('hs_undated', 'u1', '{"n": 1}', '2026-01-05');
UPDATE hs_undated SET event_time = NULL, n = 2;
UPDATE hs_undated SET event_time = '2026-01-05', n = 1;
SELECT fs_write_features('hs_undated', 'u1', '{"n": 1}', '2026-01-05');
SELECT * FROM pg_temp.versions('hs_undated_history');
DROP TABLE hs_undated, hs_undated_history;

-- fs_ingest: only changed rows are versions; a rerun writes none; snapshot deletes are versions
TRUNCATE hs_stats_history;
SELECT fs_create_staging_table('hs_stats', 'hs_staging');
INSERT INTO hs_staging (user_id, event_time, clicks, ctr, tags) VALUES
    ('u1', '2026-01-05', '11', '0.75', '{"a": 1}'),   -- unchanged
    ('u2', '2026-01-07', '23', '0.2', NULL),          -- changed
    ('u6', '2026-01-07', '6', NULL, NULL);            -- new
SELECT rows_unchanged, rows_inserted, rows_updated, rows_deleted FROM fs_ingest('hs_stats', 'hs_staging');
SELECT * FROM pg_temp.versions('hs_stats_history');
SELECT rows_unchanged, rows_inserted, rows_updated FROM fs_ingest('hs_stats', 'hs_staging');
SELECT count(*) AS versions_after_rerun FROM hs_stats_history;
DELETE FROM hs_staging WHERE user_id = 'u6';
SELECT rows_unchanged, rows_deleted FROM fs_ingest('hs_stats', 'hs_staging', 'snapshot');
SELECT * FROM pg_temp.versions('hs_stats_history');
-- a rolled-back ingest leaves no version
UPDATE hs_staging SET clicks = '1000', event_time = '2026-01-08';
BEGIN;
SELECT rows_updated FROM fs_ingest('hs_stats', 'hs_staging');
ROLLBACK;
SELECT count(*) AS versions_after_rollback FROM hs_stats_history;

-- TRUNCATE of the view's table: every entity is gone from then on
TRUNCATE hs_stats_history;
TRUNCATE hs_stats;
SELECT * FROM pg_temp.versions('hs_stats_history');
-- session_replication_role = replica: the triggers do not fire, nothing is recorded
SET session_replication_role = replica;
INSERT INTO hs_stats VALUES ('u7', '2026-01-09', 7, NULL, NULL);
RESET session_replication_role;
SELECT count(*) AS versions_of_u7 FROM hs_stats_history WHERE user_id = 'u7';
-- fs_enable_history again records what the history does not end with
SELECT fs_enable_history('hs_stats');
SELECT * FROM pg_temp.versions('hs_stats_history') v WHERE v LIKE 'u7%';

--
-- As of a time
--
TRUNCATE hs_stats, hs_stats_history;
INSERT INTO hs_stats VALUES ('u1', '2026-01-01', 1, 0.5, '{"a": 1}');
UPDATE hs_stats SET event_time = '2026-01-05', clicks = 5;
-- equal event times: the version recorded last wins
UPDATE hs_stats SET clicks = 6;
INSERT INTO hs_stats VALUES ('u2', '2026-01-02', NULL, 0.25, NULL);
DELETE FROM hs_stats WHERE user_id = 'u2';
INSERT INTO hs_clicks VALUES ('u1', '2026-01-03', 10);
SELECT * FROM fs_get_features_as_of(ARRAY['u1', 'u2', 'u1', NULL, 'u3'],
                                    ARRAY['hs_stats:clicks', 'hs_stats:ctr', 'hs_clicks:clicks_1h'],
                                    '2026-01-04');
-- at the second version's event time, and past the ttl (7 days) of hs_stats
SELECT entity_id, feature_ref, value, status
  FROM fs_get_features_as_of(ARRAY['u1'], ARRAY['hs_stats:clicks', 'hs_clicks:clicks_1h'], '2026-01-05');
SELECT entity_id, feature_ref, value, status
  FROM fs_get_features_as_of(ARRAY['u1'], ARRAY['hs_stats:clicks', 'hs_clicks:clicks_1h'], '2026-01-12 00:00:01');
-- before any version
SELECT entity_id, feature_ref, status
  FROM fs_get_features_as_of(ARRAY['u1'], ARRAY['hs_stats:clicks'], '2025-12-31');
-- now: as fs_get_features serves (u2 was deleted)
SELECT a.entity_id, a.status, a.value IS NOT DISTINCT FROM f.value AS same_value, a.status = f.status AS same_status
  FROM fs_get_features_as_of(ARRAY['u1', 'u2'], ARRAY['hs_stats:clicks', 'hs_stats:ctr'], now()) WITH ORDINALITY a
  JOIN fs_get_features(ARRAY['u1', 'u2'], ARRAY['hs_stats:clicks', 'hs_stats:ctr']) WITH ORDINALITY f USING (ordinality);
-- serving's errors
SELECT pg_temp.err($$SELECT fs_get_features_as_of(ARRAY['u1'], ARRAY['hs_stats:nope'], now())$$);
SELECT pg_temp.err($$SELECT fs_get_features_as_of(ARRAY['u1'], ARRAY['hs_stats'], now())$$);
-- a history table without its index
ALTER INDEX hs_clicks_history_user_id_event_time_fs_version_idx RENAME TO hs_keep;
CREATE INDEX hs_other_idx ON hs_clicks_history (user_id, event_time);
DROP INDEX hs_keep;
SELECT pg_temp.err($$SELECT fs_get_features_as_of(ARRAY['u1'], ARRAY['hs_clicks:clicks_1h'], now())$$);
CREATE INDEX ON hs_clicks_history (user_id, event_time DESC, fs_version DESC);
SELECT value FROM fs_get_features_as_of(ARRAY['u1'], ARRAY['hs_clicks:clicks_1h'], now());

--
-- ALTER TABLE of the view's table
--
ALTER TABLE hs_stats ADD COLUMN score real;
UPDATE hs_stats SET score = 1.5, event_time = '2026-01-06';
-- the new feature is not kept until fs_enable_history adds it
SELECT pg_temp.err($$SELECT fs_get_features_as_of(ARRAY['u1'], ARRAY['hs_stats:score'], now())$$);
SELECT pg_temp.hint($$SELECT fs_get_features_as_of(ARRAY['u1'], ARRAY['hs_stats:score'], now())$$);
SELECT fs_enable_history('hs_stats');
SELECT value, status FROM fs_get_features_as_of(ARRAY['u1'], ARRAY['hs_stats:score'], now());
-- a dropped feature stays in the history; what is left is still recorded
ALTER TABLE hs_stats DROP COLUMN tags;
UPDATE hs_stats SET clicks = 7, event_time = '2026-01-07';
SELECT clicks, tags, score FROM hs_stats_history ORDER BY fs_version DESC LIMIT 1;

--
-- Training views: the refusals (history_model checks the answers)
--
CREATE TABLE hs_spine (user_id text, event_timestamp timestamptz, label int, "hs_stats__ctr" int);
CREATE TABLE hs_spine_naive (id text, ts timestamp, label int);
SELECT pg_temp.err($$SELECT fs_create_training_view('hs_t', 'hs_spine', ARRAY['hs_stats:clicks'], entity_column => 'nope')$$);
SELECT pg_temp.err($$SELECT fs_create_training_view('hs_t', 'hs_spine_naive', ARRAY['hs_stats:clicks'])$$);
SELECT pg_temp.err($$SELECT fs_create_training_view('hs_t', 'hs_spine', ARRAY['hs_stats:clicks'], timestamp_column => 'label')$$);
SELECT pg_temp.err($$SELECT fs_create_training_view('hs_t', 'hs_spine_naive', ARRAY['hs_stats:clicks'], entity_column => 'id', timestamp_column => 'ts')$$);
SELECT pg_temp.hint($$SELECT fs_create_training_view('hs_t', 'hs_spine_naive', ARRAY['hs_stats:clicks'], entity_column => 'id', timestamp_column => 'ts')$$);
SELECT pg_temp.err($$SELECT fs_create_training_view('hs_t', 'hs_spine', ARRAY['hs_stats:ctr'])$$);
SELECT pg_temp.err($$SELECT fs_create_training_view('hs_t', 'hs_spine', ARRAY['hs_stats:nope'])$$);
SELECT pg_temp.err($$SELECT fs_create_training_view('hs_t', 'hs_spine', ARRAY['hs_stats:clicks'], timestamp_column => 'event_time')$$);
-- a generated name too long
CREATE TABLE hs_wide (user_id text PRIMARY KEY, event_time timestamptz NOT NULL,
                      a_feature_whose_name_is_long_enough_to_overflow_the_limit int);
SELECT name FROM fs_register_feature_view('hs_wide', 'hs_wide', 'user');
SELECT fs_enable_history('hs_wide') IS NOT NULL AS enabled;
SELECT pg_temp.err($$SELECT fs_create_training_view('hs_t', 'hs_spine', ARRAY['hs_wide:*'])$$);
-- refs of two entities
SELECT (fs_register_entity('item', 'item_id')).name;
CREATE TABLE hs_other (item_id text PRIMARY KEY, event_time timestamptz NOT NULL, price numeric);
SELECT name FROM fs_register_feature_view('hs_other', 'hs_other', 'item');
SELECT pg_temp.err($$SELECT fs_create_training_view('hs_t', 'hs_spine', ARRAY['hs_stats:clicks', 'hs_other:price'])$$);
-- a view without history
SELECT pg_temp.err($$SELECT fs_create_training_view('hs_t', 'hs_spine', ARRAY['hs_other:price'], entity_column => 'user_id')$$);
SELECT pg_temp.hint($$SELECT fs_create_training_view('hs_t', 'hs_spine', ARRAY['hs_other:price'], entity_column => 'user_id')$$);
-- a name that is not one
SELECT pg_temp.err($$SELECT fs_create_training_view('a.b.c.d', 'hs_spine', ARRAY['hs_stats:clicks'])$$);
-- created in the schema named, or the first of the search path
CREATE SCHEMA "HS Schema";
SELECT fs_create_training_view('"HS Schema".train', 'hs_spine', ARRAY['hs_stats:clicks', 'hs_clicks:*']);
SELECT fs_create_training_view('hs_train', 'hs_spine', ARRAY['hs_stats:clicks', 'hs_stats:clicks']);
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = '"HS Schema".train'::regclass AND attnum > 0 ORDER BY attnum;
SELECT reloptions FROM pg_class WHERE oid = 'hs_train'::regclass;

--
-- Privileges: history is readable by whoever may read the view's table
--
CREATE ROLE regress_hs_owner;
CREATE ROLE regress_hs_reader;
CREATE ROLE regress_hs_columns;
CREATE ROLE regress_hs_writer;
CREATE ROLE regress_hs_other;
GRANT CREATE ON SCHEMA public TO regress_hs_owner;
SET ROLE regress_hs_owner;
CREATE TABLE hs_owned (user_id text PRIMARY KEY, event_time timestamptz NOT NULL, a int, b int);
GRANT SELECT ON hs_owned TO regress_hs_reader;
GRANT SELECT (user_id, event_time, a) ON hs_owned TO regress_hs_columns;
GRANT INSERT, UPDATE ON hs_owned TO regress_hs_writer;
SELECT name FROM fs_register_feature_view('hs_owned', 'hs_owned', 'user');
RESET ROLE;
-- only its owner turns history on
SET ROLE regress_hs_other;
SELECT pg_temp.err($$SELECT fs_enable_history('hs_owned')$$);
SELECT pg_temp.err($$SELECT fs_record_history('hs_owned', 'hs_stats_history', NULL)$$);
RESET ROLE;
SET ROLE regress_hs_owner;
SELECT fs_enable_history('hs_owned');
RESET ROLE;
SELECT relname, pg_get_userbyid(relowner) AS owner, relacl FROM pg_class WHERE relname = 'hs_owned_history';
SELECT attname, attacl FROM pg_attribute
 WHERE attrelid = 'hs_owned_history'::regclass AND attacl IS NOT NULL ORDER BY attnum;
-- a writer's writes are recorded (as the history's owner), and the writer
-- can neither read the history nor write a version of its own into it
SET ROLE regress_hs_writer;
INSERT INTO hs_owned VALUES ('u1', '2026-01-01', 1, 2);
SELECT pg_temp.err($$SELECT count(*) FROM hs_owned_history$$);
SELECT pg_temp.err($$INSERT INTO hs_owned_history (user_id, event_time, a) VALUES ('u1', '2030-01-01', 99)$$);
RESET ROLE;
-- a direct write by a role with column privileges only is recorded
GRANT SELECT (user_id, event_time), INSERT (user_id, event_time, a), UPDATE (event_time, a)
    ON hs_owned TO regress_hs_columns;
SET ROLE regress_hs_columns;
SELECT fs_write_features('hs_owned', 'u5', '{"a": 5}', '2026-01-05');
RESET ROLE;
SELECT user_id, a, b FROM hs_owned_history WHERE user_id = 'u5';
DELETE FROM hs_owned_history WHERE user_id = 'u5';
DELETE FROM hs_owned WHERE user_id = 'u5';
DELETE FROM hs_owned_history WHERE user_id = 'u5';
REVOKE INSERT, UPDATE ON hs_owned FROM regress_hs_columns;
REVOKE SELECT ON hs_owned FROM regress_hs_columns;
GRANT SELECT (user_id, event_time, a) ON hs_owned TO regress_hs_columns;
SELECT user_id, a, b FROM hs_owned_history;
SET ROLE regress_hs_reader;
SELECT value FROM fs_get_features_as_of(ARRAY['u1'], ARRAY['hs_owned:b'], now());
RESET ROLE;
SET ROLE regress_hs_columns;
SELECT value FROM fs_get_features_as_of(ARRAY['u1'], ARRAY['hs_owned:a'], now());
SELECT pg_temp.err($$SELECT value FROM fs_get_features_as_of(ARRAY['u1'], ARRAY['hs_owned:b'], now())$$);
SELECT pg_temp.err($$SELECT b FROM hs_owned_history$$);
SELECT a FROM hs_owned_history;
RESET ROLE;
SET ROLE regress_hs_other;
SELECT pg_temp.err($$SELECT value FROM fs_get_features_as_of(ARRAY['u1'], ARRAY['hs_owned:a'], now())$$);
SELECT pg_temp.err($$SELECT count(*) FROM hs_owned_history$$);
RESET ROLE;
-- a training view is security_invoker: its reader needs SELECT on the history
SET ROLE regress_hs_owner;
CREATE TABLE hs_owned_spine (user_id text, event_timestamp timestamptz);
INSERT INTO hs_owned_spine VALUES ('u1', '2026-01-02');
GRANT SELECT ON hs_owned_spine TO regress_hs_columns, regress_hs_other;
SELECT fs_create_training_view('hs_owned_train_a', 'hs_owned_spine', ARRAY['hs_owned:a']);
SELECT fs_create_training_view('hs_owned_train_b', 'hs_owned_spine', ARRAY['hs_owned:b']);
GRANT SELECT ON hs_owned_train_a, hs_owned_train_b TO regress_hs_columns, regress_hs_other;
RESET ROLE;
SET ROLE regress_hs_columns;
SELECT * FROM hs_owned_train_a;
SELECT pg_temp.err($$SELECT * FROM hs_owned_train_b$$);
RESET ROLE;
SET ROLE regress_hs_other;
SELECT pg_temp.err($$SELECT * FROM hs_owned_train_a$$);
RESET ROLE;
-- a grant made later reaches the history with fs_enable_history
SET ROLE regress_hs_owner;
GRANT SELECT ON hs_owned TO regress_hs_other;
SELECT fs_enable_history('hs_owned');
RESET ROLE;
SET ROLE regress_hs_other;
SELECT * FROM hs_owned_train_a;
RESET ROLE;

--
-- Retention
--
TRUNCATE hs_clicks, hs_clicks_history;
INSERT INTO hs_clicks VALUES ('u1', now() - interval '50 days', 1);
UPDATE hs_clicks SET event_time = now() - interval '40 days', clicks_1h = 2;
UPDATE hs_clicks SET event_time = now() - interval '35 days', clicks_1h = 3;
UPDATE hs_clicks SET event_time = now() - interval '1 day', clicks_1h = 4;
INSERT INTO hs_clicks VALUES ('u2', now() - interval '45 days', 20);
DELETE FROM hs_clicks WHERE user_id = 'u2';
INSERT INTO hs_clicks VALUES ('u3', now() - interval '45 days', 30);
UPDATE hs_clicks SET event_time = now() - interval '44 days', clicks_1h = 31 WHERE user_id = 'u3';
-- u4 was gone 40 days ago (written by hand, as only time makes such a version)
INSERT INTO hs_clicks_history (user_id, event_time, clicks_1h) VALUES ('u4', now() - interval '50 days', 40);
INSERT INTO hs_clicks_history (user_id, event_time, fs_deleted) VALUES ('u4', now() - interval '40 days', true);
-- the deletion of u2 happened now(): it stays
SELECT count(*) AS versions_before FROM hs_clicks_history;
CREATE TEMP TABLE hs_answers AS
SELECT d, a.* FROM generate_series(0, 30) d,
       fs_get_features_as_of(ARRAY['u1', 'u2', 'u3', 'u4'], ARRAY['hs_clicks:clicks_1h'], now() - d * interval '1 day') a;
SELECT fs_purge_history('hs_clicks');
-- u1 keeps its version of 35 days ago and of yesterday, u2 both, u3 its version
-- of 44 days ago, and u4 none: it was gone before the window
SELECT user_id, clicks_1h, fs_deleted FROM hs_clicks_history ORDER BY fs_version;
SELECT count(*) AS answers_changed FROM (
    SELECT d, a.* FROM generate_series(0, 30) d,
           fs_get_features_as_of(ARRAY['u1', 'u2', 'u3', 'u4'], ARRAY['hs_clicks:clicks_1h'], now() - d * interval '1 day') a
    EXCEPT ALL TABLE hs_answers) x;
-- a view that keeps everything purges nothing; one without history is an error
SELECT fs_purge_history('hs_stats');
SELECT pg_temp.err($$SELECT fs_purge_history('hs_other')$$);

--
-- Turning history off, and dropping
--
SELECT pg_temp.err($$SELECT fs_drop_feature_view('hs_wide')$$);
SELECT pg_temp.hint($$SELECT fs_drop_feature_view('hs_wide')$$);
SELECT fs_disable_history('hs_wide', drop_history => true);
SELECT to_regclass('hs_wide_history') AS history_table,
       (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'hs_wide'::regclass) AS triggers;
SELECT fs_disable_history('hs_wide');
SELECT fs_drop_feature_view('hs_wide');
-- the history table dropped by hand: the view keeps no history from then on
SET client_min_messages = notice;
DROP TABLE hs_owned_history CASCADE;
RESET client_min_messages;
SELECT feature_view FROM fs_feature_history ORDER BY 1;
INSERT INTO hs_owned VALUES ('u2', '2026-01-01', 1, 2);
-- kept, not dropped
SELECT fs_disable_history('hs_clicks');
SELECT to_regclass('hs_clicks_history') IS NOT NULL AS kept,
       (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'hs_clicks'::regclass) AS triggers;
INSERT INTO hs_clicks VALUES ('u8', now(), 8);
SELECT count(*) AS versions_of_u8 FROM hs_clicks_history WHERE user_id = 'u8';

DROP TABLE hs_owned, hs_owned_spine CASCADE;
DROP OWNED BY regress_hs_owner, regress_hs_reader, regress_hs_columns, regress_hs_writer, regress_hs_other;
DROP ROLE regress_hs_owner, regress_hs_reader, regress_hs_columns, regress_hs_writer, regress_hs_other;

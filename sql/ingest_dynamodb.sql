--
-- ingest_dynamodb: the batch lane into a feature view stored in fs_dynamodb
-- (dynalite at FS_DYNALITE_ENDPOINT).  Silver as for embedded views; gold
-- reads what the store holds, writes each changed row with a condition on
-- the event time, and advances fs_ingest_state only for what the store
-- acknowledged or already held.
--
\getenv dynalite_endpoint FS_DYNALITE_ENDPOINT
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_store CASCADE;
DROP TABLE IF EXISTS stats_staging, stats_before, bad_rows, nokey_src, odd_src;
DROP ROLE IF EXISTS regress_fs_remote_ingester;
RESET client_min_messages;
CREATE EXTENSION feature_store;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never

-- SQLSTATE and message of a statement's error, or 'no error'.
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN EXECUTE q; RETURN 'no error'; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;
GRANT EXECUTE ON FUNCTION pg_temp.err(text) TO PUBLIC;

-- dynalite lives as long as the test run; a fresh table name keeps reruns apart.
SELECT 'ingest_' || substr(md5(random()::text), 1, 12) AS remote_table \gset

-- dynalite is one node process: on a busy 2-core machine it can stall for
-- seconds, beyond the 2 s default a request may take.  This test is about
-- what a run writes; timeouts are tested against a misbehaving server of
-- our own (test/dynamodb/run_faults.sh).
CREATE SERVER ingest_srv FOREIGN DATA WRAPPER fs_dynamodb
    OPTIONS (endpoint :'dynalite_endpoint', region 'us-east-1', request_timeout_ms '20000');
CREATE USER MAPPING FOR PUBLIC SERVER ingest_srv
    OPTIONS (access_key_id 'test', secret_access_key 'test');
CREATE FOREIGN TABLE stats_online (user_id bigint, event_time timestamptz,
    clicks int, ctr float8, segment text, emb real[])
    SERVER ingest_srv OPTIONS (table :'remote_table', key 'user_id');
SELECT fs_create_online_table('stats_online');
SELECT name FROM fs_register_entity('user', 'user_id');
SELECT name FROM fs_register_feature_view('stats', 'stats_online', 'user');
SELECT feature, type, store FROM feature_registry WHERE feature_view = 'stats' ORDER BY feature;
SELECT fs_create_staging_table('stats');

-- A run's counts without its run_id.
CREATE FUNCTION pg_temp.ingest(mode text DEFAULT 'upsert')
RETURNS TABLE (rows_read bigint, rows_rejected bigint, rows_stale bigint, rows_unchanged bigint,
               rows_inserted bigint, rows_updated bigint, rows_deleted bigint, online_writes bigint)
LANGUAGE sql AS $$
    SELECT rows_read, rows_rejected, rows_stale, rows_unchanged, rows_inserted, rows_updated,
           rows_deleted, online_writes
      FROM fs_ingest('stats', 'stats_staging', mode)
$$;

-- The source: 3000 users, but the rows of users 7 and 13 and one without an
-- id are bad.  bad_rows lists the ids of the source's bad rows, and "truth"
-- is what the rest of the source says, typed.
CREATE TABLE bad_rows (user_id text PRIMARY KEY);
INSERT INTO bad_rows VALUES (''), ('7'), ('13');
CREATE TEMP VIEW truth AS
SELECT user_id::bigint, event_time::timestamptz, clicks::int, ctr::float8, segment, emb::real[]
  FROM stats_staging WHERE user_id NOT IN (SELECT user_id FROM bad_rows);

INSERT INTO stats_staging
SELECT g::text, '2026-01-01 00:00:00+00', (g * 10)::text, (g / 1000.0)::text, 'seg' || (g % 5),
       format('{%s,%s}', g / 4.0, -g)
  FROM generate_series(1, 3000) g WHERE g NOT IN (7, 13);
INSERT INTO stats_staging VALUES
    ('7', '2026-01-01 00:00:00+00', '7x', '0.007', 'seg2', '{1,2}'),
    ('', '2026-01-01 00:00:00+00', '1', '0.5', 'seg1', '{1,2}'),
    ('13', '2026-01-01 00:00:00+00', '130', '0.013', 'seg3', '{1,x}');

-- 1. First load: every valid row written, the bad ones rejected, the run goes on.
SELECT * FROM pg_temp.ingest();
SELECT entity_id, "column", raw_value, reason FROM fs_ingest_rejects
 WHERE run_id = (SELECT max(run_id) FROM fs_ingest_runs) ORDER BY entity_id;
-- The store holds exactly the valid rows of the source (a Scan).
SELECT (SELECT count(*) FROM stats_online) AS stored,
       (SELECT count(*) FROM (SELECT * FROM stats_online EXCEPT SELECT * FROM truth) d) AS not_in_source,
       (SELECT count(*) FROM (SELECT * FROM truth EXCEPT SELECT * FROM stats_online) d) AS not_in_store;
-- Served as ingested: every feature of every entity, values and event times.
CREATE TEMP VIEW served_truth AS
SELECT t.user_id::text AS entity_id, 'stats:' || f.feature AS feature_ref, f.value, t.event_time
  FROM truth t,
       LATERAL (VALUES ('clicks', to_jsonb(t.clicks)), ('ctr', to_jsonb(t.ctr)),
                       ('segment', to_jsonb(t.segment)), ('emb', to_jsonb(t.emb))) f(feature, value);
CREATE TEMP VIEW served AS
SELECT entity_id, feature_ref, value, event_time, status
  FROM fs_get_features(array(SELECT g::text FROM generate_series(1, 3000) g), ARRAY['stats:*']);
SELECT status, count(*) FROM served GROUP BY status ORDER BY status;
SELECT (SELECT count(*) FROM (SELECT entity_id, feature_ref, value, event_time FROM served
                               WHERE status = 'PRESENT'
                              EXCEPT SELECT * FROM served_truth) d) AS served_not_in_source,
       (SELECT count(*) FROM (SELECT * FROM served_truth
                              EXCEPT SELECT entity_id, feature_ref, value, event_time FROM served) d) AS not_served;
SELECT string_agg(DISTINCT entity_id, ',') AS not_found FROM served WHERE status <> 'PRESENT';
SELECT count(*) AS state_rows, count(*) FILTER (WHERE event_time = '2026-01-01') AS at_source_time
  FROM fs_ingest_state WHERE feature_view = 'stats';

-- 2. The same source again: nothing changed, nothing written, no request.
SELECT * FROM pg_temp.ingest();

-- 3. One entity in a hundred changed, with a newer event time: exactly those
-- are written, and the store differs from before in exactly those entities.
CREATE TABLE stats_before AS SELECT * FROM stats_online;
UPDATE stats_staging
   SET event_time = '2026-01-02 00:00:00+00', clicks = (-user_id::int)::text, segment = 'changed'
 WHERE user_id ~ '^[0-9]+$' AND user_id::int % 100 = 0;
SELECT * FROM pg_temp.ingest();
SELECT count(*) AS changed_entities, bool_and(user_id % 100 = 0) AS all_hundreds,
       bool_and(event_time = '2026-01-02' AND segment = 'changed' AND clicks = -user_id) AS new_values
  FROM (SELECT * FROM stats_online EXCEPT SELECT * FROM stats_before) d;
SELECT count(*) AS replaced_entities, bool_and(user_id % 100 = 0) AS all_hundreds
  FROM (SELECT * FROM stats_before EXCEPT SELECT * FROM stats_online) d;
SELECT (SELECT count(*) FROM (SELECT * FROM stats_online EXCEPT SELECT * FROM truth) d) AS not_in_source,
       (SELECT count(*) FROM (SELECT * FROM truth EXCEPT SELECT * FROM stats_online) d) AS not_in_store;
SELECT entity_id, value, event_time FROM fs_get_features(ARRAY['300', '301'], ARRAY['stats:clicks']);

-- 4. Rejects of every run are kept with their reasons.
SELECT count(DISTINCT run_id) AS runs, count(*) AS rejects,
       count(*) FILTER (WHERE reason = 'missing entity id') AS missing_id
  FROM fs_ingest_rejects;

-- 5a. Stale against the state: a row older than what an earlier run wrote
-- is not sent to the store.
UPDATE stats_staging SET event_time = '2025-12-31 00:00:00+00', clicks = '1' WHERE user_id = '100';
SELECT * FROM pg_temp.ingest();
SELECT user_id, event_time, clicks FROM stats_online WHERE user_id = 100;
UPDATE stats_staging SET event_time = '2026-01-02 00:00:00+00', clicks = '-100' WHERE user_id = '100';

-- 5b. Stale against the store: another lane wrote a newer value straight to
-- the store; an older change of the source is not written over it, and the
-- state does not advance.
INSERT INTO stats_online VALUES (200, '2026-02-01 00:00:00+00', 999, 0.999, 'lane', '{9}');
UPDATE stats_staging SET event_time = '2026-01-03 00:00:00+00', clicks = '2000' WHERE user_id = '200';
SELECT * FROM pg_temp.ingest();
SELECT user_id, event_time, clicks, segment FROM stats_online WHERE user_id = 200;
SELECT entity_id, event_time FROM fs_ingest_state WHERE feature_view = 'stats' AND entity_id = '200';
-- The store now differs from the source only there.
SELECT user_id FROM (SELECT * FROM stats_online EXCEPT SELECT * FROM truth) d ORDER BY 1;

-- 6a. The state lost, the store intact: nothing is written, the rows are
-- unchanged (200 still stale) and the state is back.
DELETE FROM fs_ingest_state WHERE feature_view = 'stats';
SELECT * FROM pg_temp.ingest();
SELECT count(*) AS state_rows, count(*) FILTER (WHERE entity_id = '200') AS has_200
  FROM fs_ingest_state WHERE feature_view = 'stats';

-- 6b. A run rolled back by the caller: its writes stay in the store, but
-- its run, rejects and state are gone.  The next run writes nothing and
-- counts those entities unchanged.
INSERT INTO stats_staging
SELECT g::text, '2026-01-05 00:00:00+00', g::text, '0.5', 'late', '{}'
  FROM generate_series(3001, 3200) g;
SELECT count(*) AS runs_before FROM fs_ingest_runs \gset
BEGIN;
SELECT * FROM pg_temp.ingest();
ROLLBACK;
SELECT count(*) AS late_stored, bool_and(segment = 'late') AS late_values
  FROM stats_online WHERE user_id BETWEEN 3001 AND 3200;
SELECT count(*) - :runs_before AS new_runs FROM fs_ingest_runs;
SELECT count(*) AS late_state FROM fs_ingest_state
 WHERE feature_view = 'stats' AND entity_id::int BETWEEN 3001 AND 3200;
SELECT * FROM pg_temp.ingest();
SELECT count(*) AS late_state FROM fs_ingest_state
 WHERE feature_view = 'stats' AND entity_id::int BETWEEN 3001 AND 3200;

-- 7. Snapshot: entities the batch lane wrote that the source no longer has
-- are deleted from the store and the state; an entity whose row is rejected
-- is kept; an item another lane wrote for an entity the batch lane never
-- wrote is kept too: a snapshot deletes from what fs_ingest_state knows,
-- not by a Scan of the whole remote table.
DELETE FROM stats_staging WHERE user_id ~ '^[0-9]+$' AND user_id::int BETWEEN 2901 AND 3200;
INSERT INTO bad_rows VALUES ('42');
UPDATE stats_staging SET clicks = 'x42' WHERE user_id = '42';
INSERT INTO stats_online VALUES (9000, '2026-01-01 00:00:00+00', 9, 0.9, 'lane', '{9}');
SELECT * FROM pg_temp.ingest('snapshot');
SELECT entity_id, "column", raw_value FROM fs_ingest_rejects
 WHERE run_id = (SELECT max(run_id) FROM fs_ingest_runs) ORDER BY entity_id;
SELECT count(*) AS stored, count(*) FILTER (WHERE user_id > 2900) AS above_2900,
       count(*) FILTER (WHERE user_id = 9000) AS lane_9000
  FROM stats_online;
-- Stored but not as in the source: 42 (rejected, kept as it was) and 200 (newer).
SELECT user_id, clicks FROM (SELECT * FROM stats_online EXCEPT SELECT * FROM truth) d ORDER BY 1;
-- In the source but not so in the store: only 200's older row.
SELECT user_id, clicks FROM (SELECT * FROM truth EXCEPT SELECT * FROM stats_online) d ORDER BY 1;
-- The state follows the store (200 was never acknowledged).
SELECT (SELECT count(*) FROM (SELECT entity_id FROM fs_ingest_state WHERE feature_view = 'stats'
                              EXCEPT SELECT user_id::text FROM stats_online) d) AS state_not_stored,
       (SELECT string_agg(entity_id, ',' ORDER BY entity_id) FROM (SELECT user_id::text FROM stats_online
                              EXCEPT SELECT entity_id FROM fs_ingest_state WHERE feature_view = 'stats') d(entity_id))
           AS stored_not_in_state;
SELECT entity_id, status FROM fs_get_features(ARRAY['42', '2900', '2901', '9000'], ARRAY['stats:clicks']);

-- 8. Errors: no run is started.
SELECT count(*) AS runs_before FROM fs_ingest_runs \gset
SELECT pg_temp.err($$SELECT fs_ingest('stats', 'stats_staging', 'append')$$);
CREATE TABLE nokey_src (id text, event_time text, clicks text, ctr text, segment text, emb text);
SELECT pg_temp.err($$SELECT fs_ingest('stats', 'nokey_src')$$);
CREATE ROLE regress_fs_remote_ingester;
GRANT SELECT ON stats_staging TO regress_fs_remote_ingester;
SET ROLE regress_fs_remote_ingester;
SELECT pg_temp.err($$SELECT fs_ingest('stats', 'stats_staging')$$);
RESET ROLE;
SELECT count(*) - :runs_before AS new_runs FROM fs_ingest_runs;

-- 9. The runs: all succeeded; those that reached the store made requests,
-- those whose rows were all settled by the state made none.
SELECT row_number() OVER (ORDER BY run_id) AS n, mode, status, rows_read, online_writes,
       store_requests > 0 AS asked_store, store_wait_ms >= 0 AS waited,
       finished_at >= started_at AS finished, run_by = current_user AS by_me
  FROM fs_ingest_runs WHERE feature_view = 'stats' ORDER BY run_id;

-- 10. A second view, for values the store keeps in its own way.
SELECT 'ingest_' || substr(md5(random()::text), 1, 12) AS odd_table \gset
CREATE FOREIGN TABLE odd_online (id int, event_time timestamptz, amt numeric, meta jsonb, x float8)
    SERVER ingest_srv OPTIONS (table :'odd_table', key 'id');
SELECT fs_create_online_table('odd_online');
SELECT name FROM fs_register_entity('thing', 'id');
SELECT name FROM fs_register_feature_view('odd', 'odd_online', 'thing');
CREATE TABLE odd_src (id text, event_time text, amt text, meta text, x text);
INSERT INTO odd_src VALUES
    ('1', '2026-01-01', '1.5', '{"x": 1}', '1'),
    ('2', '2026-01-01', '1.50', NULL, '2'),
    ('3', '2026-01-01', '-0.000', '{"x": 1.0}', '3'),
    ('4', '2026-01-01', '4', 'null', '4'),
    ('5', '2026-01-01', '5', NULL, 'NaN'),
    ('6', '2026-01-01', '6', NULL, '1e300');
-- NaN and 1e300 are not DynamoDB numbers: those rows are rejected, the rest written.
SELECT rows_read, rows_rejected, online_writes FROM fs_ingest('odd', 'odd_src');
SELECT entity_id, "column", raw_value, reason ~ 'DynamoDB' AS store_reason
  FROM fs_ingest_rejects
 WHERE run_id = (SELECT max(run_id) FROM fs_ingest_runs WHERE feature_view = 'odd')
 ORDER BY entity_id;
SELECT id, amt, meta, x FROM odd_online ORDER BY id;
-- The state lost: the store gives 1.50 back as 1.5, -0.000 as 0, {"x": 1.0}
-- as {"x": 1} and JSON null as NULL, and still counts as holding the values.
DELETE FROM fs_ingest_state WHERE feature_view = 'odd';
DELETE FROM odd_src WHERE id IN ('5', '6');
SELECT rows_read, rows_unchanged, online_writes FROM fs_ingest('odd', 'odd_src');
-- An item without an event time (another client's) is overwritten.
INSERT INTO odd_online (id, event_time, amt) VALUES (10, NULL, 100);
INSERT INTO odd_src VALUES ('10', '2026-01-01', '5', NULL, '5');
SELECT rows_stale, rows_updated, online_writes FROM fs_ingest('odd', 'odd_src');
SELECT id, event_time, amt FROM odd_online WHERE id = 10;
DELETE FROM odd_online;
DROP TABLE odd_src;

-- A snapshot of one entity deletes every other one the batch lane wrote
-- (9000 and the newer 200 stay); an empty snapshot is refused before
-- anything is deleted.
TRUNCATE stats_staging;
INSERT INTO stats_staging (user_id, event_time, clicks, ctr, segment, emb)
VALUES ('1', '2026-06-01 00:00:00+00', '1', '0.5', 'a', '{1,2}');
SELECT * FROM pg_temp.ingest('snapshot');
SELECT (SELECT count(*) FROM stats_online) AS stored,
       (SELECT count(*) FROM fs_ingest_state WHERE feature_view = 'stats') AS state_rows;
TRUNCATE stats_staging;
SELECT pg_temp.err($$SELECT fs_ingest('stats', 'stats_staging', 'snapshot')$$);
SELECT count(*) AS stored FROM stats_online;
-- Clean up dynalite.
DELETE FROM stats_online;
SELECT count(*) AS stored FROM stats_online;

-- A snapshot whose source has more keys than maintenance_work_mem holds
-- (10,000 text keys against 1MB: two parts) deletes exactly the entities
-- it no longer has, as in one part: each part's keys are compared with the
-- state rows of that part only.
SELECT 'ingest_parts_' || substr(md5(random()::text), 1, 12) AS parts_table \gset
CREATE FOREIGN TABLE parts_online (acct text, event_time timestamptz, n int)
    SERVER ingest_srv OPTIONS (table :'parts_table', key 'acct');
SELECT fs_create_online_table('parts_online');
SELECT name FROM fs_register_entity('parts_acct', 'acct');
SELECT name FROM fs_register_feature_view('parts', 'parts_online', 'parts_acct');
CREATE TABLE parts_src (acct text, event_time text, n text);
INSERT INTO parts_src SELECT 'acct-' || g, '2026-01-01 00:00:00+00', g FROM generate_series(1, 10010) g;
SELECT rows_inserted FROM fs_ingest('parts', 'parts_src');
DELETE FROM parts_src WHERE acct IN (SELECT 'acct-' || g FROM generate_series(1, 10010, 1001) g);
SET maintenance_work_mem = '1MB';
SET client_min_messages = warning;  -- silver's NOTICE of parts: its estimate varies
SELECT rows_read, rows_unchanged, rows_deleted FROM fs_ingest('parts', 'parts_src', 'snapshot');
RESET client_min_messages;
RESET maintenance_work_mem;
SELECT count(*) AS state_rows,
       count(*) FILTER (WHERE entity_id IN (SELECT acct FROM parts_src)) AS of_the_source
  FROM fs_ingest_state WHERE feature_view = 'parts';
SELECT acct, n FROM parts_online WHERE acct IN ('acct-1', 'acct-2', 'acct-1002', 'acct-10010') ORDER BY acct;
SELECT fs_drop_feature_view('parts');
SELECT fs_drop_entity('parts_acct');
DELETE FROM parts_online;
DROP FOREIGN TABLE parts_online;
DROP TABLE parts_src;

DROP VIEW served, served_truth, truth;
DROP TABLE stats_staging, stats_before, bad_rows, nokey_src;
SET client_min_messages = warning;
DROP EXTENSION feature_store CASCADE;
RESET client_min_messages;
DROP ROLE regress_fs_remote_ingester;

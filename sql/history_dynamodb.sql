--
-- history_dynamodb: the history of a view stored in fs_dynamodb (dynalite
-- at FS_DYNALITE_ENDPOINT).  Every lane's write is read back from the store
-- and recorded, in the transaction of the write, when it differs from the
-- version the history ends with: INSERT, UPDATE and DELETE through the
-- foreign table, fs_write_features, fs_ingest (upsert, snapshot, and a rerun
-- after a rolled-back run whose writes stayed in the store).
--
\getenv dynalite_endpoint FS_DYNALITE_ENDPOINT
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_store CASCADE;
DROP TABLE IF EXISTS hd_staging, hd_remote_history, hd_spine;
RESET client_min_messages;
CREATE EXTENSION feature_store;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never

-- The versions of the history, in the order recorded (a deletion's event
-- time is the time it was seen: not shown).
CREATE FUNCTION pg_temp.versions() RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY
    SELECT concat_ws(' | ', h.user_id, CASE WHEN h.fs_deleted THEN 'gone' ELSE h.event_time::text END,
                     h.clicks, h.score, h.segment)
      FROM hd_remote_history h ORDER BY h.fs_version;
END $$;

-- dynalite lives as long as the test run; a fresh table name keeps reruns apart.
SELECT 'hist_' || substr(md5(random()::text), 1, 12) AS remote_table \gset
CREATE SERVER hd_srv FOREIGN DATA WRAPPER fs_dynamodb
    OPTIONS (endpoint :'dynalite_endpoint', region 'us-east-1');
CREATE USER MAPPING FOR PUBLIC SERVER hd_srv
    OPTIONS (access_key_id 'test', secret_access_key 'test');
CREATE FOREIGN TABLE hd_remote (user_id text, event_time timestamptz,
    clicks int, score float8, segment text)
    SERVER hd_srv OPTIONS (table :'remote_table', key 'user_id');
SELECT fs_create_online_table('hd_remote');
SELECT name FROM fs_register_entity('user', 'user_id');
SELECT name FROM fs_register_feature_view('remote', 'hd_remote', 'user', ttl => '30 days');

-- What the store holds when history is turned on is its first versions.
INSERT INTO hd_remote VALUES ('u1', '2026-01-01', 1, 0.5, 'a');
SELECT fs_enable_history('remote');
SELECT tgname, pg_get_triggerdef(oid) LIKE '%FOR EACH ROW%' AS per_row
  FROM pg_trigger WHERE tgrelid = 'hd_remote'::regclass ORDER BY tgname;
SELECT * FROM pg_temp.versions();

--
-- Through the foreign table
--
TRUNCATE hd_remote_history;
INSERT INTO hd_remote VALUES ('u2', '2026-01-02', 2, NULL, 'b');
UPDATE hd_remote SET clicks = 11, event_time = '2026-01-03' WHERE user_id = 'u1';
-- an update that changes nothing is no version
UPDATE hd_remote SET clicks = clicks WHERE user_id = 'u1';
DELETE FROM hd_remote WHERE user_id = 'u2';
SELECT * FROM pg_temp.versions();
-- the deletion of an entity whose history has no version is none
INSERT INTO hd_remote VALUES ('u6', '2026-01-02', 6, NULL, 'f');
DELETE FROM hd_remote_history WHERE user_id = 'u6';
DELETE FROM hd_remote WHERE user_id = 'u6';
SELECT count(*) AS versions_of_u6 FROM hd_remote_history WHERE user_id = 'u6';

--
-- Direct writes: every feature after the write; a stale one is none; a
-- rolled-back one is none (the store keeps its value: the next write of
-- the entity records what the store holds then)
--
TRUNCATE hd_remote_history;
SELECT fs_write_features('remote', 'u1', '{"score": 0.75}', '2026-01-04');
SELECT fs_write_features('remote', 'u1', '{"score": 0.25}', '2026-01-01');
BEGIN;
SELECT fs_write_features('remote', 'u3', '{"clicks": 3}', '2026-01-04');
ROLLBACK;
SELECT * FROM pg_temp.versions();
SELECT fs_write_features('remote', 'u3', '{"segment": "c"}', '2026-01-05');
SELECT * FROM pg_temp.versions() v WHERE v LIKE 'u3%';

--
-- fs_ingest
--
TRUNCATE hd_remote_history;
SELECT fs_create_staging_table('remote', 'hd_staging');
INSERT INTO hd_staging (user_id, event_time, clicks, score, segment) VALUES
    ('u1', '2026-01-04', '11', '0.75', 'a'),     -- as stored
    ('u4', '2026-01-06', '4', '0.4', 'd'),
    ('u5', '2026-01-06', '5', NULL, 'e');
SELECT rows_unchanged, rows_inserted, rows_updated FROM fs_ingest('remote', 'hd_staging');
SELECT * FROM pg_temp.versions();
-- a rerun writes nothing, and records nothing
SELECT rows_unchanged, online_writes FROM fs_ingest('remote', 'hd_staging');
SELECT count(*) AS versions_after_rerun FROM hd_remote_history;
-- a run rolled back after its writes reached the store: its versions went
-- with it; the next run finds the items unchanged, and records them then
UPDATE hd_staging SET clicks = '44', event_time = '2026-01-07' WHERE user_id = 'u4';
BEGIN;
SELECT rows_updated, online_writes FROM fs_ingest('remote', 'hd_staging');
ROLLBACK;
SELECT count(*) AS versions_after_rollback FROM hd_remote_history;
SELECT clicks AS stored_clicks FROM hd_remote WHERE user_id = 'u4';
SELECT rows_unchanged, online_writes FROM fs_ingest('remote', 'hd_staging');
SELECT * FROM pg_temp.versions() v WHERE v LIKE 'u4%';
-- snapshot: what the source no longer has is gone
DELETE FROM hd_staging WHERE user_id = 'u5';
SELECT rows_deleted FROM fs_ingest('remote', 'hd_staging', 'snapshot');
SELECT * FROM pg_temp.versions() v WHERE v LIKE 'u5%';

--
-- Reading it: as of a time, and a training view
--
SELECT entity_id, feature_ref, value, status
  FROM fs_get_features_as_of(ARRAY['u4', 'u5'], ARRAY['remote:clicks'], '2026-01-06 12:00');
SELECT entity_id, feature_ref, value, status
  FROM fs_get_features_as_of(ARRAY['u4', 'u5'], ARRAY['remote:clicks'], now());
CREATE TABLE hd_spine (user_id text, event_timestamp timestamptz);
INSERT INTO hd_spine VALUES ('u4', '2026-01-06 12:00'), ('u4', '2026-01-08'), ('u4', '2026-01-01');
SELECT fs_create_training_view('hd_training', 'hd_spine', ARRAY['remote:clicks', 'remote:segment']);
SELECT * FROM hd_training ORDER BY event_timestamp;

-- off: the triggers go, the history table stays
SELECT fs_disable_history('remote');
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'hd_remote'::regclass;
SELECT count(*) > 0 AS kept FROM hd_remote_history;
SELECT fs_write_features('remote', 'u9', '{"clicks": 9}', '2026-01-09');
SELECT count(*) AS versions_of_u9 FROM hd_remote_history WHERE user_id = 'u9';

DROP VIEW hd_training;
SET client_min_messages = warning;
DROP EXTENSION feature_store CASCADE;   -- its wrapper, the server and the foreign table go with it
DROP TABLE hd_staging, hd_remote_history, hd_spine;

--
-- ingest_lanes: lanes that share a view never erase each other.  A view has
-- one event time per row; a batch source may carry a subset of the view's
-- features, and a run writes and compares only those, on the embedded store
-- and on fs_dynamodb (dynalite at FS_DYNALITE_ENDPOINT), where it updates
-- those attributes of the item only.  A snapshot deletes an absent entity's
-- whole row or item, whichever lanes wrote it.  And fs_create_staging_table:
-- a subset of features, replace => true, its errors, COPY ... HEADER MATCH.
--
\getenv dynalite_endpoint FS_DYNALITE_ENDPOINT
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_store CASCADE;
DROP SCHEMA IF EXISTS regress_fs_lanes_s CASCADE;
DROP SCHEMA IF EXISTS "Regress Lanes" CASCADE;
DROP TABLE IF EXISTS lanes_t;
DROP ROLE IF EXISTS regress_fs_lanes_other;
RESET client_min_messages;
CREATE EXTENSION feature_store;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never

-- SQLSTATE and message of a statement's error, or 'no error'.
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN EXECUTE q; RETURN 'no error'; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;
-- The same, with the detail (if any) and the hint.
CREATE FUNCTION pg_temp.err_hint(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE d text; h text;
BEGIN EXECUTE q; RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
    RETURN SQLSTATE || ': ' || SQLERRM || CASE WHEN d <> '' THEN E'\nDETAIL: ' || d ELSE '' END
           || E'\nHINT: ' || h;
END $$;
-- Wait until the stream worker has drained the queue (true), for a minute at most.
CREATE FUNCTION pg_temp.drained() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..600 LOOP
        IF NOT EXISTS (SELECT FROM fs_stream_queue) THEN RETURN true; END IF;
        PERFORM pg_sleep(0.1);
    END LOOP;
    RETURN false;
END $$;
-- A run's counts without its run_id.
CREATE FUNCTION pg_temp.ingest(v text, src regclass, mode text DEFAULT 'upsert')
RETURNS TABLE (rows_read bigint, rows_stale bigint, rows_unchanged bigint,
               rows_inserted bigint, rows_updated bigint, rows_deleted bigint, online_writes bigint)
LANGUAGE sql AS $$
    SELECT rows_read, rows_stale, rows_unchanged, rows_inserted, rows_updated,
           rows_deleted, online_writes
      FROM fs_ingest(v, src, mode)
$$;

SELECT name FROM fs_register_entity('user', 'user_id');

--
-- 1. The embedded store.  clicks and views have one type, so that only
-- their names tell a source of clicks from a source of views.
--
CREATE TABLE lanes_t (user_id text PRIMARY KEY, event_time timestamptz,
                      clicks int, views int, category text, llm_score float8,
                      clicks2 int GENERATED ALWAYS AS (clicks * 2) STORED);
SELECT name FROM fs_register_feature_view('lanes', 'lanes_t', 'user');

-- A staging table of a subset: the join key, the event time, then the
-- features in the order given; COPY ... HEADER MATCH checks the file's header.
SELECT fs_create_staging_table('lanes', 'batch_in', features => ARRAY['category', 'clicks']);
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'batch_in'::regclass AND attnum > 0 ORDER BY attnum;
COPY batch_in FROM STDIN WITH (FORMAT csv, HEADER MATCH);
user_id,event_time,category,clicks
u1,2026-01-02 00:00:00+00,a,5
u2,2026-01-02 00:00:00+00,b,7
\.
-- A file whose columns are in another order is refused, not loaded askew.
COPY batch_in FROM STDIN WITH (FORMAT csv, HEADER MATCH);
user_id,event_time,clicks,category
u3,2026-01-02 00:00:00+00,9,c
\.
SELECT count(*) AS staged FROM batch_in;

-- A direct write of llm_score, then the batch of clicks and category: the
-- score survives, and the row takes the batch's event time (one per row).
SELECT fs_write_features('lanes', 'u1', '{"llm_score": 0.9}', '2026-01-01 00:00:00+00');
SELECT * FROM pg_temp.ingest('lanes', 'batch_in');
SELECT * FROM lanes_t ORDER BY user_id;
-- The same source again writes nothing.
SELECT * FROM pg_temp.ingest('lanes', 'batch_in');

-- Another subset: u1's clicks alone.  The digest covers which features a
-- source carries, so it is not that of the source of clicks and category:
-- u1 is written again, with the same values.
CREATE TABLE clicks_in (user_id text, event_time text, clicks text);
INSERT INTO clicks_in VALUES ('u1', '2026-01-02 00:00:00+00', '5');
SELECT * FROM pg_temp.ingest('lanes', 'clicks_in');
-- And views alone, with the same text and type as those clicks: views = 5
-- is a change, not mistaken for the unchanged clicks = 5.
CREATE TABLE views_in (user_id text, event_time text, views text);
INSERT INTO views_in VALUES ('u1', '2026-01-02 00:00:00+00', '5');
SELECT * FROM pg_temp.ingest('lanes', 'views_in');
SELECT user_id, clicks, views, category, llm_score FROM lanes_t WHERE user_id = 'u1';
SELECT * FROM pg_temp.ingest('lanes', 'views_in');
-- The first subset again: its digest is no longer the state's, so u1 is
-- written again (with the same values), u2 is unchanged.
SELECT * FROM pg_temp.ingest('lanes', 'batch_in');

-- Stale as a whole: a newer direct write of llm_score makes the batch's
-- older row of u1 stale, its clicks included; a newer batch row wins as a
-- whole, and still sets only what it carries.
SELECT fs_write_features('lanes', 'u1', '{"llm_score": 0.95}', '2026-01-05 00:00:00+00');
UPDATE batch_in SET clicks = '50', event_time = '2026-01-03 00:00:00+00' WHERE user_id = 'u1';
SELECT * FROM pg_temp.ingest('lanes', 'batch_in');
SELECT user_id, event_time, clicks, llm_score FROM lanes_t WHERE user_id = 'u1';
UPDATE batch_in SET event_time = '2026-01-06 00:00:00+00', category = NULL WHERE user_id = 'u1';
SELECT * FROM pg_temp.ingest('lanes', 'batch_in');
SELECT user_id, event_time, clicks, clicks2, views, category, llm_score FROM lanes_t WHERE user_id = 'u1';

-- A streamed add and set change only what they carry too.
SELECT fs_push('lanes', 'u2', '{"views": 2}', '2026-01-07 00:00:00+00', 'add') > 0 AS pushed;
SELECT fs_push('lanes', 'u2', '{"views": 3}', '2026-01-07 00:00:00+00', 'add') > 0 AS pushed;
SELECT fs_push('lanes', 'u2', '{"llm_score": 0.5}', '2026-01-07 00:00:00+00') > 0 AS pushed;
SELECT pg_temp.drained();
SELECT user_id, event_time, clicks, views, category, llm_score FROM lanes_t WHERE user_id = 'u2';

-- A source without a single feature column is refused, before any run.
CREATE TABLE nofeat_in (user_id text, event_time text, comment text);
SELECT pg_temp.err_hint($$SELECT fs_ingest('lanes', 'nofeat_in')$$);

-- Snapshot: the source says which entities exist.  u3, which only a
-- direct write made, and u2, which three lanes wrote, are deleted whole.
SELECT fs_write_features('lanes', 'u3', '{"llm_score": 0.3}', '2026-01-08 00:00:00+00');
CREATE TABLE snap_in (user_id text, event_time text, clicks text);
INSERT INTO snap_in VALUES ('u1', '2026-01-06 00:00:00+00', '5');
SELECT * FROM pg_temp.ingest('lanes', 'snap_in', 'snapshot');
SELECT user_id, clicks, views, category, llm_score FROM lanes_t ORDER BY user_id;
SELECT entity_id FROM fs_ingest_state WHERE feature_view = 'lanes' ORDER BY 1;

--
-- 2. fs_create_staging_table.
--
-- The view's table gains a column: the staging table is made again only
-- when asked, and then has it.
ALTER TABLE lanes_t ADD COLUMN country text;
SELECT fs_create_staging_table('lanes') AS staging;
SELECT pg_temp.err_hint($$SELECT fs_create_staging_table('lanes')$$);
INSERT INTO lanes_staging (user_id) VALUES ('lost');
SELECT fs_create_staging_table('lanes', replace => true) AS staging;
SELECT string_agg(attname, ', ' ORDER BY attnum) AS columns, (SELECT count(*) FROM lanes_staging) AS rows
  FROM pg_attribute WHERE attrelid = 'lanes_staging'::regclass AND attnum > 0;
-- replace drops only a plain table, and only the owner's, and never
-- what depends on it.
CREATE VIEW lanes_staging_ids AS SELECT user_id FROM lanes_staging;
SELECT pg_temp.err_hint($$SELECT fs_create_staging_table('lanes', replace => true)$$);
DROP VIEW lanes_staging_ids;
CREATE VIEW lanes_view_staging AS SELECT 1 AS x;
SELECT pg_temp.err($$SELECT fs_create_staging_table('lanes', 'lanes_view_staging', replace => true)$$);
CREATE ROLE regress_fs_lanes_other;
GRANT CREATE ON SCHEMA public TO regress_fs_lanes_other;
SET ROLE regress_fs_lanes_other;
SELECT pg_temp.err($$SELECT fs_create_staging_table('lanes', replace => true)$$);
RESET ROLE;
-- A view in another schema: the staging table goes there, and the result
-- names it with its schema.
CREATE SCHEMA regress_fs_lanes_s;
CREATE SCHEMA "Regress Lanes";
CREATE TABLE regress_fs_lanes_s.remote_like (user_id text PRIMARY KEY, event_time timestamptz, x int);
SELECT name FROM fs_register_feature_view('other_schema', 'regress_fs_lanes_s.remote_like', 'user');
SELECT fs_create_staging_table('other_schema') AS staging;
-- A role that may not create tables there is told where it may.
SET ROLE regress_fs_lanes_other;
SELECT pg_temp.err_hint($$SELECT fs_create_staging_table('other_schema', 'mine')$$);
SELECT pg_temp.err($$SELECT fs_create_staging_table('other_schema', 'nowhere.mine')$$);
SELECT pg_temp.err($$SELECT fs_create_staging_table('other_schema', '"Regress Lanes".mine')$$);
SELECT fs_create_staging_table('other_schema', 'pg_temp.mine') IS NOT NULL AS temp_created;
RESET ROLE;
DROP TABLE pg_temp.mine;
-- Errors: an unknown view lists the registered ones; bad features.
SELECT pg_temp.err_hint($$SELECT fs_create_staging_table('lane')$$);
SELECT pg_temp.err_hint($$SELECT fs_create_staging_table('lanes', 'x_in', features => ARRAY['clicks', 'click', 'score'])$$);
SELECT pg_temp.err_hint($$SELECT fs_create_staging_table('lanes', 'x_in', features => ARRAY[]::text[])$$);
SELECT pg_temp.err($$SELECT fs_create_staging_table('lanes', 'x_in', features => ARRAY['clicks', NULL])$$);
SELECT pg_temp.err($$SELECT fs_create_staging_table('lanes', 'x_in', features => ARRAY['user_id', 'clicks'])$$);
SELECT pg_temp.err($$SELECT fs_create_staging_table('lanes', 'x_in', features => ARRAY['event_time'])$$);
SELECT pg_temp.err($$SELECT fs_create_staging_table('lanes', 'x_in', features => ARRAY['clicks', 'views', 'clicks'])$$);
SELECT pg_temp.err($$SELECT fs_create_staging_table('lanes', 'x_in', features => ARRAY['clicks2'])$$);
SELECT to_regclass('x_in') AS none_created;
DROP VIEW lanes_view_staging;
DROP SCHEMA regress_fs_lanes_s CASCADE;
DROP SCHEMA "Regress Lanes";
SELECT pg_temp.err_hint($$SELECT fs_create_staging_table('lanes_t')$$);

--
-- 3. fs_dynamodb: the batch lane updates the attributes it carries, and
-- keeps what the direct and streaming lanes set (fs_seq included).
--
SELECT 'lanes_' || substr(md5(random()::text), 1, 12) AS remote_table \gset
CREATE SERVER lanes_srv FOREIGN DATA WRAPPER fs_dynamodb
    OPTIONS (endpoint :'dynalite_endpoint', region 'us-east-1');
CREATE USER MAPPING FOR PUBLIC SERVER lanes_srv
    OPTIONS (access_key_id 'test', secret_access_key 'test');
CREATE FOREIGN TABLE lanes_online (user_id text, event_time timestamptz,
    clicks int, views int, category text, llm_score float8)
    SERVER lanes_srv OPTIONS (table :'remote_table', key 'user_id');
SELECT fs_create_online_table('lanes_online');
-- The same items as another client reads them, with the streaming lane's seq.
CREATE FOREIGN TABLE lanes_items (user_id text, fs_seq bigint, clicks int, views int,
    category text, llm_score float8)
    SERVER lanes_srv OPTIONS (table :'remote_table', key 'user_id');
SELECT name FROM fs_register_feature_view('rlanes', 'lanes_online', 'user');

SELECT fs_write_features('rlanes', 'u1', '{"llm_score": 0.9}', '2026-01-01 00:00:00+00');
SELECT fs_push('rlanes', 'u1', '{"views": 3}', '2026-01-01 12:00:00+00', 'add') > 0 AS pushed;
SELECT pg_temp.drained();
SELECT user_id, views, llm_score, fs_seq IS NOT NULL AS has_seq FROM lanes_items ORDER BY user_id;
SELECT fs_seq AS seq_before FROM lanes_items WHERE user_id = 'u1' \gset

SELECT fs_create_staging_table('rlanes', 'rbatch_in', features => ARRAY['clicks', 'category']);
INSERT INTO rbatch_in VALUES ('u1', '2026-01-02 00:00:00+00', '5', 'a'),
                             ('u2', '2026-01-02 00:00:00+00', '7', 'b');
SELECT * FROM pg_temp.ingest('rlanes', 'rbatch_in');
SELECT user_id, event_time, clicks, views, category, llm_score FROM lanes_online ORDER BY user_id;
SELECT user_id, fs_seq = :seq_before AS seq_kept FROM lanes_items WHERE user_id = 'u1';
-- The same source again: nothing written, no request.
SELECT * FROM pg_temp.ingest('rlanes', 'rbatch_in');
SELECT store_requests FROM fs_ingest_runs ORDER BY run_id DESC LIMIT 1;
-- The state forgotten: the run compares with the items on the carried
-- attributes only, and finds them unchanged though they hold more.
SELECT fs_forget_ingest_state('rlanes');
SELECT * FROM pg_temp.ingest('rlanes', 'rbatch_in');
-- u2's clicks alone: the store holds them already (unchanged), and the
-- state takes this source's digest.  Then its views alone, with the same
-- text: written.
CREATE TABLE rclicks_in (user_id text, event_time text, clicks text);
INSERT INTO rclicks_in VALUES ('u2', '2026-01-02 00:00:00+00', '7');
SELECT * FROM pg_temp.ingest('rlanes', 'rclicks_in');
CREATE TABLE rviews_in (user_id text, event_time text, views text);
INSERT INTO rviews_in VALUES ('u2', '2026-01-02 00:00:00+00', '7');
SELECT * FROM pg_temp.ingest('rlanes', 'rviews_in');
-- A NULL the source carries removes that attribute only.
UPDATE rbatch_in SET category = NULL, event_time = '2026-01-03 00:00:00+00' WHERE user_id = 'u1';
SELECT * FROM pg_temp.ingest('rlanes', 'rbatch_in');
SELECT user_id, event_time, clicks, views, category, llm_score FROM lanes_online ORDER BY user_id;
SELECT user_id, fs_seq = :seq_before AS seq_kept FROM lanes_items WHERE user_id = 'u1';
-- Stale as a whole against the store: a newer direct write of u2's score.
SELECT fs_write_features('rlanes', 'u2', '{"llm_score": 0.7}', '2026-01-05 00:00:00+00');
UPDATE rbatch_in SET clicks = '70', event_time = '2026-01-04 00:00:00+00' WHERE user_id = 'u2';
SELECT * FROM pg_temp.ingest('rlanes', 'rbatch_in');
SELECT user_id, event_time, clicks, llm_score FROM lanes_online WHERE user_id = 'u2';
-- A streamed set of u1's score keeps the batch's attributes and fs_seq (a
-- set carries no seq: writing it twice does no harm).
SELECT fs_push('rlanes', 'u1', '{"llm_score": 0.99}', '2026-01-06 00:00:00+00') > 0 AS pushed;
SELECT pg_temp.drained();
SELECT user_id, event_time, clicks, views, category, llm_score FROM lanes_online ORDER BY user_id;
SELECT user_id, fs_seq = :seq_before AS seq_kept FROM lanes_items WHERE user_id = 'u1';

-- Snapshot: u2, which the batch lane wrote and a direct write changed since,
-- is deleted whole; u3, which only a direct write made, is not in the
-- state, and a snapshot does not Scan the remote table: it stays.
SELECT fs_write_features('rlanes', 'u3', '{"llm_score": 0.3}', '2026-01-05 00:00:00+00');
CREATE TABLE rsnap_in (user_id text, event_time text, clicks text);
INSERT INTO rsnap_in VALUES ('u1', '2026-01-06 00:00:00+00', '5');
SELECT * FROM pg_temp.ingest('rlanes', 'rsnap_in', 'snapshot');
SELECT user_id, clicks, views, category, llm_score FROM lanes_online ORDER BY user_id;
SELECT entity_id FROM fs_ingest_state WHERE feature_view = 'rlanes' ORDER BY 1;
DELETE FROM lanes_online;

DROP TABLE batch_in, clicks_in, views_in, nofeat_in, snap_in, lanes_staging, rbatch_in, rclicks_in, rviews_in, rsnap_in;
SET client_min_messages = warning;
DROP EXTENSION feature_store CASCADE;
RESET client_min_messages;
DROP TABLE lanes_t;
REVOKE CREATE ON SCHEMA public FROM regress_fs_lanes_other;
DROP ROLE regress_fs_lanes_other;

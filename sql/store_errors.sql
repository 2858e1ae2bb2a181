-- Errors of the DynamoDB-compatible store that say what to do (issue 11,
-- item 7): serving from a view whose remote table is missing names the
-- view, the remote table and the fs_create_online_table call that makes
-- it; a key column whose type is not the remote key's gets a hint on the
-- types.  And a store failure during fs_ingest shows no internal SQL (item 8).
\getenv dynalite_endpoint FS_DYNALITE_ENDPOINT
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_store CASCADE;
CREATE EXTENSION feature_store;
RESET client_min_messages;
SET timezone = 'UTC';
\set VERBOSITY default
\set SHOW_CONTEXT errors

-- dynalite lives as long as the test run; fresh table names keep reruns apart.
SELECT 'errs_' || substr(md5(random()::text), 1, 12) AS prefix \gset

CREATE SERVER store FOREIGN DATA WRAPPER fs_dynamodb
    OPTIONS (endpoint :'dynalite_endpoint', region 'us-east-1');
CREATE USER MAPPING FOR PUBLIC SERVER store
    OPTIONS (access_key_id 'test', secret_access_key 'test');
SELECT name FROM fs_register_entity('user', 'user_id');

-- A view whose remote table was never created, its key given as an option
-- (no DescribeTable before serving), and one whose key comes from
-- DescribeTable.
SELECT :'prefix' || '_missing' AS missing_table \gset
CREATE FOREIGN TABLE stats_online (user_id text, event_time timestamptz, clicks bigint)
    SERVER store OPTIONS (table :'missing_table', key 'user_id');
SELECT name FROM fs_register_feature_view('stats', 'stats_online', 'user');
CREATE FOREIGN TABLE scores_online (user_id text, event_time timestamptz, score float8)
    SERVER store OPTIONS (table :'missing_table');
SELECT name FROM fs_register_feature_view('scores', 'scores_online', 'user');

-- Remote table names vary from run to run: show them as <prefix>.
CREATE FUNCTION pg_temp.show_error(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    msg text; det text; hin text; st text;
BEGIN
    EXECUTE q;
    RETURN NEXT 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
        det = PG_EXCEPTION_DETAIL, hin = PG_EXCEPTION_HINT;
    RETURN NEXT 'SQLSTATE: ' || st;
    RETURN NEXT 'ERROR:    ' || regexp_replace(msg, 'errs_[0-9a-f]{12}', '<prefix>', 'g');
    RETURN NEXT 'DETAIL:   ' || coalesce(regexp_replace(det, 'errs_[0-9a-f]{12}', '<prefix>', 'g'), '');
    RETURN NEXT 'HINT:     ' || coalesce(regexp_replace(hin, 'errs_[0-9a-f]{12}', '<prefix>', 'g'), '');
END
$$;

SELECT pg_temp.show_error($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['stats:*'])$$);
SELECT pg_temp.show_error($$SELECT * FROM fs_get_feature_vectors(ARRAY['u1'], ARRAY['stats:clicks'])$$);
SELECT pg_temp.show_error($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['scores:*'])$$);

-- With an existing view of the same server in the call: the store refuses
-- the whole request, and the missing table is still the one named.
SELECT :'prefix' || '_present' AS present_table \gset
CREATE FOREIGN TABLE present_online (user_id text, event_time timestamptz, level int)
    SERVER store OPTIONS (table :'present_table', key 'user_id');
SELECT fs_create_online_table('present_online');
SELECT name FROM fs_register_feature_view('present', 'present_online', 'user');
SELECT pg_temp.show_error($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['present:*', 'stats:*'])$$);

-- With on_store_error = 'unavailable': UNAVAILABLE rows, and warnings
-- that say the same (over a table that no run creates, so that its name
-- can show).
CREATE FOREIGN TABLE never_online (user_id text, event_time timestamptz, clicks bigint)
    SERVER store OPTIONS (table 'fs_regress_never_created', key 'user_id');
SELECT name FROM fs_register_feature_view('never', 'never_online', 'user');
SET feature_store.on_store_error = 'unavailable';
SELECT feature_ref, status FROM fs_get_features(ARRAY['u1'], ARRAY['never:*']);
SELECT feature_ref, status FROM fs_get_features(ARRAY['u1'], ARRAY['present:*', 'never:*']);
RESET feature_store.on_store_error;
-- As psql shows the error.
SELECT feature_ref, status FROM fs_get_features(ARRAY['u1'], ARRAY['present:*', 'never:*']);

-- A view whose key comes from DescribeTable, over a missing table: under
-- 'unavailable' the same warning and hint, and the other views of the call
-- (remote and local) are served; under 'error' the error, as before.
CREATE FOREIGN TABLE never_nokey_online (user_id text, event_time timestamptz, clicks bigint)
    SERVER store OPTIONS (table 'fs_regress_never_created');
SELECT name FROM fs_register_feature_view('never_nokey', 'never_nokey_online', 'user');
CREATE TABLE local_levels (user_id text PRIMARY KEY, event_time timestamptz, level int);
INSERT INTO local_levels VALUES ('u1', now(), 7);
SELECT name FROM fs_register_feature_view('local_levels', 'local_levels', 'user');
SET feature_store.on_store_error = 'unavailable';
SELECT feature_ref, status, value
  FROM fs_get_features(ARRAY['u1'], ARRAY['local_levels:*', 'present:*', 'never_nokey:*']);
RESET feature_store.on_store_error;
SELECT feature_ref, status FROM fs_get_features(ARRAY['u1'], ARRAY['local_levels:*', 'never_nokey:*']);

-- The hint works as written: the view serves once its table exists.
SELECT fs_create_online_table('stats_online');
SELECT feature_ref, status FROM fs_get_features(ARRAY['u1'], ARRAY['stats:*']);

-- A text key column over a remote table whose key is a number (N).
SELECT :'prefix' || '_numeric' AS numeric_table \gset
CREATE FOREIGN TABLE items_num (user_id bigint, event_time timestamptz, price float8)
    SERVER store OPTIONS (table :'numeric_table');
SELECT fs_create_online_table('items_num');
CREATE FOREIGN TABLE items_text (user_id text, event_time timestamptz, price float8)
    SERVER store OPTIONS (table :'numeric_table', key 'user_id');
SELECT name FROM fs_register_feature_view('items', 'items_text', 'user');
SELECT pg_temp.show_error($$SELECT * FROM fs_get_features(ARRAY['7'], ARRAY['items:*'])$$);
SET feature_store.on_store_error = 'unavailable';
\set VERBOSITY terse
SELECT feature_ref, status FROM fs_get_features(ARRAY['7'], ARRAY['items:*']);
\set VERBOSITY default
RESET feature_store.on_store_error;
-- The foreign table itself: a hint on the key types too.
SELECT pg_temp.show_error($$SELECT * FROM items_text WHERE user_id = '7'$$);
SELECT pg_temp.show_error($$INSERT INTO items_text VALUES ('7', now(), 1.5)$$);
-- The hint works as written.
ALTER FOREIGN TABLE items_text ALTER COLUMN user_id TYPE bigint;
SELECT feature_ref, status FROM fs_get_features(ARRAY['7'], ARRAY['items:*']);

-- A store failure during fs_ingest: the error, no internal SQL or
-- PL/pgSQL lines.
CREATE TABLE never_src (user_id text, event_time text, clicks text);
INSERT INTO never_src VALUES ('u1', '2026-01-01 00:00:00+00', '1');
SELECT * FROM fs_ingest('never', 'never_src');
\echo :LAST_ERROR_SQLSTATE
-- The run was not recorded as succeeded (it rolled back with the error).
SELECT count(*) FROM fs_ingest_runs WHERE feature_view = 'never';

SET client_min_messages = warning;
DROP EXTENSION feature_store CASCADE;
DROP TABLE never_src;

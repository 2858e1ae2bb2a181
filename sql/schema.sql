--
-- schema: the extension installed in a schema other than public works
-- schema-qualified, with that schema off the search_path.
--
-- pg_regress may have loaded the extension already; start from scratch.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_store CASCADE;
RESET client_min_messages;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
\set SHOW_CONTEXT never

-- SQLSTATE and message of a statement's error, or 'no error'.
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN EXECUTE q; RETURN 'no error'; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;

CREATE SCHEMA fs;
CREATE EXTENSION feature_store SCHEMA fs;
SET search_path = public;

-- everything of the extension is in fs, nothing in public
SELECT n.nspname, count(*) > 0 AS has_functions
  FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
  JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'feature_store')
   AND d.deptype = 'e'
 GROUP BY 1;
SELECT n.nspname, c.relname, c.relkind
  FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'feature_store')
   AND d.deptype = 'e'
   AND c.relname IN ('fs_entity', 'fs_feature_view', 'fs_feature_service', 'feature_registry')
 ORDER BY 2;
SELECT unnest(extconfig)::regclass AS config_table
  FROM pg_extension WHERE extname = 'feature_store' ORDER BY 1::text;
-- unqualified, nothing is found
SELECT pg_temp.err($$SELECT name FROM fs_register_entity('user', 'user_id')$$);

-- decoys in public named like the catalog must not be touched
CREATE TABLE public.fs_entity (name text, join_key text);
CREATE TABLE public.fs_feature_view (name text);
CREATE TABLE public.fs_feature_service (name text);

CREATE TABLE public.user_stats_t (user_id text PRIMARY KEY, event_time timestamptz, clicks int, country text);
INSERT INTO user_stats_t VALUES ('u1', '2026-01-01 00:00:00+00', 5, 'FR'), ('u2', '1900-01-01 00:00:00+00', 6, NULL);
CREATE TABLE public.item_t (item_id bigint PRIMARY KEY, event_time timestamptz, price numeric);
INSERT INTO item_t VALUES (1, '2026-01-01 00:00:00+00', 2.5);

SELECT name FROM fs.fs_register_entity('user', 'user_id');
SELECT name FROM fs.fs_register_entity('item', 'item_id');
SELECT name FROM fs.fs_register_feature_view('user_stats', 'user_stats_t', 'user', ttl => '36500 days',
                                   description => 'in schema fs');
SELECT name FROM fs.fs_register_feature_view('items', 'item_t', 'item');
SELECT name FROM fs.fs_register_feature_service('svc', ARRAY['user_stats:country', 'user_stats:clicks']);
SELECT name, relation, entity FROM fs.fs_feature_view ORDER BY name;
SELECT name, feature_refs FROM fs.fs_feature_service;
SELECT count(*) AS decoy_rows FROM public.fs_entity;
SELECT * FROM fs.feature_registry;
SELECT * FROM fs.fs_resolve_refs(ARRAY['svc', 'user_stats:*']);

SELECT * FROM fs.fs_get_features(ARRAY['u1', 'u2', 'u3', NULL], ARRAY['svc']);
SELECT * FROM fs.fs_get_feature_vectors(ARRAY['u2', 'u1'], ARRAY['user_stats:*']);
SELECT * FROM fs.fs_get_features(ARRAY['1', '2'], ARRAY['items:price']);

-- errors are the same
SELECT fs.fs_get_features(ARRAY['u1'], ARRAY['nope:x']);
SELECT pg_temp.err($$SELECT * FROM fs.fs_get_features(ARRAY['u1'], ARRAY['user_stats:nope'])$$);
SELECT pg_temp.err($$SELECT * FROM fs.fs_get_features(ARRAY['u1'], ARRAY['svc', 'items:price'])$$);
SELECT pg_temp.err($$SELECT * FROM fs.fs_get_features(ARRAY['x'], ARRAY['items:price'])$$);
SELECT pg_temp.err($$SELECT name FROM fs.fs_register_feature_view('bad', 'user_stats_t', 'nobody')$$);
SELECT pg_temp.err($$SELECT fs.fs_drop_entity('user')$$);
SELECT pg_temp.err($$SELECT fs.fs_drop_feature_view('user_stats')$$);

-- invalidation works the same
ALTER TABLE user_stats_t ADD COLUMN score float8 DEFAULT 0.5;
SELECT feature_ref, value FROM fs.fs_get_features(ARRAY['u1'], ARRAY['user_stats:*']);
ALTER TABLE user_stats_t DROP COLUMN country;
SELECT pg_temp.err($$SELECT * FROM fs.fs_get_features(ARRAY['u1'], ARRAY['svc'])$$);

-- with fs on the search_path too, after public
SET search_path = public, fs;
SELECT feature_ref, value FROM fs_get_features(ARRAY['u1'], ARRAY['user_stats:clicks']);
SET search_path = public;

-- drops
SELECT fs.fs_drop_feature_service('svc');
SELECT fs.fs_drop_feature_view('user_stats');
SELECT fs.fs_drop_feature_view('items');
SELECT fs.fs_drop_entity('user');
SELECT fs.fs_drop_entity('item');
SELECT count(*) FROM fs.fs_entity;
SELECT count(*) FROM fs.feature_registry;
DROP EXTENSION feature_store;
DROP SCHEMA fs;

-- a schema whose name must be quoted
CREATE SCHEMA "Feature Store";
CREATE EXTENSION feature_store SCHEMA "Feature Store";
SELECT name FROM "Feature Store".fs_register_entity('user', 'user_id');
SELECT name FROM "Feature Store".fs_register_feature_view('user_stats', 'user_stats_t', 'user');
SELECT name FROM "Feature Store".fs_register_feature_service('svc', ARRAY['user_stats:clicks']);
SELECT * FROM "Feature Store".fs_get_features(ARRAY['u1'], ARRAY['svc', 'user_stats:score']);
SELECT * FROM "Feature Store".fs_get_feature_vectors(ARRAY['u1'], ARRAY['user_stats:*']);
SELECT feature_view, feature, relation FROM "Feature Store".feature_registry;
-- batch ingestion finds its catalog and its C half in the quoted schema
SELECT "Feature Store".fs_create_staging_table('user_stats', 'pg_temp.quoted_staging');
INSERT INTO pg_temp.quoted_staging (user_id, event_time, clicks, score)
VALUES ('u9', '2026-03-01 00:00:00+00', '9', '0.9'), ('u9', '2026-02-01 00:00:00+00', 'x', '0');
SELECT run_id, rows_read, rows_rejected, rows_stale, rows_inserted, online_writes
  FROM "Feature Store".fs_ingest('user_stats', 'pg_temp.quoted_staging');
SELECT run_id, online_writes FROM "Feature Store".fs_ingest('user_stats', 'pg_temp.quoted_staging');
SELECT "column", raw_value FROM "Feature Store".fs_ingest_rejects;
-- history, as of a time and a training view, from the quoted schema
SELECT "Feature Store".fs_enable_history('user_stats');
UPDATE user_stats_t SET clicks = 10, event_time = '2026-03-02 00:00:00+00' WHERE user_id = 'u9';
SELECT feature_ref, value, status
  FROM "Feature Store".fs_get_features_as_of(ARRAY['u9'], ARRAY['user_stats:clicks'], '2026-03-01 12:00:00+00');
CREATE TEMP TABLE quoted_spine (user_id text, event_timestamp timestamptz);
INSERT INTO quoted_spine VALUES ('u9', '2026-03-01 12:00:00+00'), ('u9', '2026-03-03 00:00:00+00');
SELECT "Feature Store".fs_create_training_view('pg_temp.quoted_training', 'pg_temp.quoted_spine', ARRAY['user_stats:clicks']);
SELECT * FROM pg_temp.quoted_training ORDER BY event_timestamp;
SELECT "Feature Store".fs_purge_history('user_stats');
DROP VIEW pg_temp.quoted_training;
SELECT "Feature Store".fs_disable_history('user_stats', drop_history => true);
SELECT to_regclass('user_stats_t_history') AS dropped;
-- the table dropped: its registration goes with it
DROP TABLE user_stats_t;
SELECT count(*) FROM "Feature Store".fs_feature_view;
DROP EXTENSION feature_store;
DROP SCHEMA "Feature Store";

DROP TABLE public.fs_entity, public.fs_feature_view, public.fs_feature_service, item_t;
RESET search_path;

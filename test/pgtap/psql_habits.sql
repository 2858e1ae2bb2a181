-- What psql users see: every object of the extension explains itself (\df+,
-- \dt+, \dv+, \dew+, \dd), and the registry functions return the catalog row
-- they wrote.  The extension lives in a schema other than public here, so
-- the row types of the results are found wherever the extension is.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE SCHEMA "fs x";
CREATE EXTENSION feature_store SCHEMA "fs x";
SELECT plan(14);

-- every member of the extension has a comment: a new function, table, view,
-- sequence or trigger without one fails here, named
SELECT is_empty($$
    SELECT pg_describe_object(d.classid, d.objid, d.objsubid)
      FROM pg_depend d
     WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
       AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'feature_store')
       AND NOT EXISTS (SELECT FROM pg_description de
                        WHERE de.classoid = d.classid AND de.objoid = d.objid
                          AND de.objsubid = 0)
     ORDER BY 1$$,
    'every object of the extension has a comment');
SELECT is_empty($$
    SELECT t.tgname || ' on ' || t.tgrelid::regclass
      FROM pg_trigger t JOIN pg_depend d ON d.objid = t.tgrelid
     WHERE d.classid = 'pg_class'::regclass AND d.deptype = 'e'
       AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'feature_store')
       AND NOT t.tgisinternal
       AND obj_description(t.oid, 'pg_trigger') IS NULL$$,
    'every trigger of the extension''s tables has a comment (\dd)');
SELECT ok(obj_description('"fs x".fs_get_features(text[], text[])'::regprocedure, 'pg_proc') ~ 'one row per entity and feature',
          'fs_get_features explains itself in \df+');
SELECT alike(obj_description('"fs x".fs_ingest_silver(bigint, text, regclass, regclass, regclass, text, text, timestamptz)'::regprocedure, 'pg_proc'),
            'Internal: %called by fs_ingest',
            'an internal function says so, and who calls it');

-- the functions not marked internal are the interface that
-- docs/reference.md ("Every function of the extension") lists
SELECT set_eq($$
    SELECT p.proname::text
      FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
     WHERE d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
       AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'feature_store')
       AND coalesce(obj_description(p.oid, 'pg_proc'), '') NOT LIKE 'Internal:%'$$,
    ARRAY['fs_register_entity', 'fs_register_feature_view', 'fs_register_feature_service',
          'fs_alter_feature_view', 'fs_drop_feature_view', 'fs_drop_feature_service',
          'fs_drop_entity', 'fs_resolve_refs', 'fs_get_features', 'fs_get_feature_vectors',
          'fs_get_feature_matrix',
          'fs_ingest', 'fs_create_staging_table', 'fs_forget_ingest_state',
          'fs_write_features', 'fs_push', 'fs_stream_requeue_rejects',
          'fs_stream_discard_rejects', 'fs_create_online_table', 'fs_stats_reset', 'fs_metrics', 'fs_cache_reset',
          'fs_enable_history', 'fs_disable_history', 'fs_purge_history', 'fs_get_features_as_of',
          'fs_create_training_view'],
    'the functions not marked internal are those docs/reference.md lists as the interface');

-- the registry functions return their catalog table's row type
SELECT is(pg_get_function_result('"fs x".fs_register_entity(text, text, text)'::regprocedure),
          '"fs x".fs_entity', 'fs_register_entity returns an fs_entity row');
SELECT is(pg_get_function_result('"fs x".fs_register_feature_view(text, regclass, text, interval, name, text, text, jsonb)'::regprocedure),
          '"fs x".fs_feature_view', 'fs_register_feature_view returns an fs_feature_view row');
SELECT is(pg_get_function_result('"fs x".fs_register_feature_service(text, text[], text)'::regprocedure),
          '"fs x".fs_feature_service', 'fs_register_feature_service returns an fs_feature_service row');
SELECT is(pg_get_function_result('"fs x".fs_alter_feature_view(text, interval, text, text, jsonb, text[])'::regprocedure),
          '"fs x".fs_feature_view', 'fs_alter_feature_view returns an fs_feature_view row');

-- ... and the row they return is the row the catalog holds
CREATE TABLE user_stats (user_id text PRIMARY KEY, event_time timestamptz, clicks bigint);
CREATE TEMP TABLE got (what text, r text);
INSERT INTO got SELECT 'entity', r::text
  FROM "fs x".fs_register_entity('user', 'user_id', 'a person') r;
INSERT INTO got SELECT 'view', r::text
  FROM "fs x".fs_register_feature_view('stats', 'user_stats', 'user', ttl => '1 day',
                                      description => 'engagement', tags => '{"tier": "gold"}') r;
INSERT INTO got SELECT 'service', r::text
  FROM "fs x".fs_register_feature_service('ranking', ARRAY['stats:clicks'], 'model v1') r;
SELECT is((SELECT r FROM got WHERE what = 'entity'),
          (SELECT e::text FROM "fs x".fs_entity e WHERE e.name = 'user'),
          'fs_register_entity returns the row it created');
SELECT is((SELECT r FROM got WHERE what = 'view'),
          (SELECT v::text FROM "fs x".fs_feature_view v WHERE v.name = 'stats'),
          'fs_register_feature_view returns the row it created');
SELECT is((SELECT r FROM got WHERE what = 'service'),
          (SELECT s::text FROM "fs x".fs_feature_service s WHERE s.name = 'ranking'),
          'fs_register_feature_service returns the row it created');
INSERT INTO got SELECT 'altered', r::text
  FROM "fs x".fs_alter_feature_view('stats', owner => 'team-a', reset => '{ttl}') r;
SELECT is((SELECT r FROM got WHERE what = 'altered'),
          (SELECT v::text FROM "fs x".fs_feature_view v WHERE v.name = 'stats'),
          'fs_alter_feature_view returns the row as altered');
SELECT is((SELECT (r::"fs x".fs_feature_view).ttl IS NULL
                  AND (r::"fs x".fs_feature_view).owner = 'team-a'
                  AND (r::"fs x".fs_feature_view).description = 'engagement'
             FROM got WHERE what = 'altered'),
          true, 'the altered row shows the change and keeps the rest');

SELECT * FROM finish();
ROLLBACK;

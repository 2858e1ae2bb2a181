-- The public API as docs/reference.md, docs/ingestion.md and docs/streaming.md
-- state it: objects, exact signatures, parameter names and defaults, result
-- columns, naming, and the catalog under pg_dump.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION feature_store;
SELECT plan(60);

-- catalog tables and the view
SELECT has_table('fs_entity');
SELECT has_table('fs_feature_view');
SELECT has_table('fs_feature_service');
SELECT has_view('feature_registry');
SELECT columns_are('feature_registry',
    ARRAY['feature_view', 'feature', 'type', 'entity', 'join_key', 'store',
          'relation', 'ttl', 'description', 'owner', 'tags',
          'history', 'history_retention'],
    'feature_registry has the columns docs/reference.md lists, in order');
SELECT is(array(SELECT attname::text FROM pg_attribute
                 WHERE attrelid = 'feature_registry'::regclass AND attnum > 0 ORDER BY attnum),
          ARRAY['feature_view', 'feature', 'type', 'entity', 'join_key', 'store',
                'relation', 'ttl', 'description', 'owner', 'tags',
          'history', 'history_retention'],
          'feature_registry columns are in the order docs/reference.md lists');
SELECT col_type_is('feature_registry', 'ttl', 'interval');
SELECT col_type_is('feature_registry', 'tags', 'jsonb');

-- registry functions, with exact argument types
SELECT has_function('fs_register_entity', ARRAY['text', 'text', 'text']);
SELECT has_function('fs_register_feature_view',
    ARRAY['text', 'regclass', 'text', 'interval', 'name', 'text', 'text', 'jsonb']);
SELECT has_function('fs_register_feature_service', ARRAY['text', 'text[]', 'text']);
SELECT has_function('fs_drop_feature_view', ARRAY['text']);
SELECT has_function('fs_drop_feature_service', ARRAY['text']);
SELECT has_function('fs_drop_entity', ARRAY['text']);
SELECT has_function('fs_resolve_refs', ARRAY['text[]']);

-- history and training sets, as docs/training.md gives them
SELECT is(pg_get_function_arguments('fs_enable_history(text,interval)'::regprocedure)
          || ' -> ' || pg_get_function_result('fs_enable_history(text,interval)'::regprocedure),
          'feature_view text, retention interval DEFAULT NULL::interval -> regclass',
          'fs_enable_history parameters and result');
SELECT is(pg_get_function_arguments('fs_disable_history(text,boolean)'::regprocedure),
          'feature_view text, drop_history boolean DEFAULT false', 'fs_disable_history parameters');
SELECT is(pg_get_function_arguments('fs_purge_history(text)'::regprocedure)
          || ' -> ' || pg_get_function_result('fs_purge_history(text)'::regprocedure),
          'feature_view text DEFAULT NULL::text -> bigint', 'fs_purge_history parameters and result');
SELECT is(pg_get_function_arguments('fs_get_features_as_of(text[],text[],timestamptz)'::regprocedure)
          || ' -> ' || pg_get_function_result('fs_get_features_as_of(text[],text[],timestamptz)'::regprocedure),
          'entity_ids text[], feature_refs text[], as_of timestamp with time zone -> TABLE(entity_id text, feature_ref text, value jsonb, event_time timestamp with time zone, status text)',
          'fs_get_features_as_of parameters and result');
SELECT is(pg_get_function_arguments('fs_create_training_view(text,regclass,text[],name,name)'::regprocedure)
          || ' -> ' || pg_get_function_result('fs_create_training_view(text,regclass,text[],name,name)'::regprocedure),
          'name text, spine regclass, feature_refs text[], entity_column name DEFAULT NULL::name, timestamp_column name DEFAULT ''event_timestamp''::name -> regclass',
          'fs_create_training_view parameters and result');

-- the ingestion lanes of docs/ingestion.md and docs/streaming.md, with exact
-- signatures and results
SELECT is(pg_get_function_arguments('fs_ingest(text,regclass,text)'::regprocedure),
          'feature_view text, source regclass, mode text DEFAULT ''upsert''::text',
          'fs_ingest parameters');
SELECT is(pg_get_function_arguments('fs_write_features(text,text,jsonb,timestamptz)'::regprocedure)
          || ' -> ' || pg_get_function_result('fs_write_features(text,text,jsonb,timestamptz)'::regprocedure),
          'feature_view text, entity_id text, features jsonb, event_time timestamp with time zone DEFAULT now() -> text',
          'fs_write_features parameters and result');
SELECT is(pg_get_function_arguments('fs_push(text,text,jsonb,timestamptz,text)'::regprocedure)
          || ' -> ' || pg_get_function_result('fs_push(text,text,jsonb,timestamptz,text)'::regprocedure),
          'feature_view text, entity_id text, features jsonb, event_time timestamp with time zone DEFAULT now(), mode text DEFAULT ''set''::text -> bigint',
          'fs_push parameters and result');
SELECT has_view('fs_stream_status');
SELECT columns_are('fs_stream_status',
    ARRAY['queue_depth', 'oldest_event_age', 'events_per_second', 'last_flush', 'last_error',
          'last_error_at', 'worker_pid', 'events_flushed', 'events_stale', 'events_rejected',
          'failed_flushes', 'worker_state'],
    'fs_stream_status shows queue depth, oldest age, events per second, last flush, last error, worker state');

-- the serving statistics of docs/operations.md
SELECT has_view('fs_stats');
SELECT columns_are('fs_stats',
    ARRAY['feature_view', 'calls', 'entities', 'present', 'null_value', 'not_found',
          'outside_max_age', 'unavailable', 'store_requests', 'retries', 'throttles',
          'store_errors', 'cache_hits', 'cache_misses', 'total_ms', 'p50_ms', 'p95_ms', 'p99_ms',
          'stats_reset'],
    'fs_stats has the columns docs/reference.md lists');
SELECT is(pg_get_function_result('fs_metrics()'::regprocedure), 'text', 'fs_metrics returns text');
SELECT has_view('fs_cache_status');
SELECT columns_are('fs_cache_status',
    ARRAY['size_bytes', 'used_bytes', 'entries', 'hits', 'misses', 'evictions', 'invalidations'],
    'fs_cache_status has the columns docs/dynamodb.md lists');
SELECT ok(NOT has_function_privilege('public', 'fs_cache_reset()', 'EXECUTE')
          AND has_table_privilege('public', 'fs_cache_status', 'SELECT'),
          'everyone may read the cache''s figures; only whom a superuser grants it may reset it');
SELECT is(pg_get_function_result('fs_stats_reset()'::regprocedure), 'bigint', 'fs_stats_reset returns bigint');
SELECT ok(NOT has_function_privilege('public', 'fs_stats_reset()', 'EXECUTE')
          AND has_function_privilege('public', 'fs_metrics()', 'EXECUTE')
          AND has_table_privilege('public', 'fs_stats', 'SELECT'),
          'everyone may read the statistics; only whom a superuser grants it may reset them');

-- parameter names and defaults: callers use named notation
SELECT is(pg_get_function_arguments('fs_register_entity(text,text,text)'::regprocedure),
          'name text, join_key text, description text DEFAULT NULL::text',
          'fs_register_entity parameters');
SELECT is(pg_get_function_arguments('fs_register_feature_view(text,regclass,text,interval,name,text,text,jsonb)'::regprocedure),
          'name text, relation regclass, entity text, ttl interval DEFAULT NULL::interval, '
          'event_time_column name DEFAULT ''event_time''::name, description text DEFAULT NULL::text, '
          'owner text DEFAULT NULL::text, tags jsonb DEFAULT ''{}''::jsonb',
          'fs_register_feature_view parameters');
SELECT is(pg_get_function_arguments('fs_register_feature_service(text,text[],text)'::regprocedure),
          'name text, feature_refs text[], description text DEFAULT NULL::text',
          'fs_register_feature_service parameters');
SELECT is(pg_get_function_arguments('fs_drop_feature_view(text)'::regprocedure), 'name text',
          'fs_drop_feature_view parameters');
SELECT is(pg_get_function_arguments('fs_drop_feature_service(text)'::regprocedure), 'name text',
          'fs_drop_feature_service parameters');
SELECT is(pg_get_function_arguments('fs_drop_entity(text)'::regprocedure), 'name text',
          'fs_drop_entity parameters');

-- serving functions
SELECT has_function('fs_get_features', ARRAY['text[]', 'text[]']);
SELECT has_function('fs_get_feature_vectors', ARRAY['text[]', 'text[]']);
SELECT function_returns('fs_get_features', ARRAY['text[]', 'text[]'], 'setof record');
SELECT is(pg_get_function_arguments('fs_get_features(text[],text[])'::regprocedure),
          'entity_ids text[], feature_refs text[]', 'fs_get_features parameters');
SELECT is(pg_get_function_result('fs_get_features(text[],text[])'::regprocedure),
          'TABLE(entity_id text, feature_ref text, value jsonb, event_time timestamp with time zone, status text)',
          'fs_get_features result columns');
SELECT is(pg_get_function_arguments('fs_get_feature_vectors(text[],text[])'::regprocedure),
          'entity_ids text[], feature_refs text[]', 'fs_get_feature_vectors parameters');
SELECT is(pg_get_function_result('fs_get_feature_vectors(text[],text[])'::regprocedure),
          'TABLE(entity_id text, features jsonb)',
          'fs_get_feature_vectors result columns');
SELECT has_function('fs_get_feature_matrix', ARRAY['text[]', 'text[]']);
SELECT is(pg_get_function_arguments('fs_get_feature_matrix(text[],text[])'::regprocedure),
          'entity_ids text[], feature_refs text[]', 'fs_get_feature_matrix parameters');
SELECT is(pg_get_function_result('fs_get_feature_matrix(text[],text[])'::regprocedure),
          'double precision[]', 'fs_get_feature_matrix returns double precision[]');

-- named notation works with the parameter names docs/reference.md gives
CREATE TABLE api_t (user_id text PRIMARY KEY, ts timestamptz, x int);
SELECT lives_ok($$SELECT name FROM fs_register_entity(name => 'user', join_key => 'user_id', description => 'd')$$,
                'fs_register_entity in named notation');
SELECT lives_ok($$SELECT name FROM fs_register_feature_view(name => 'v', relation => 'api_t', entity => 'user',
                    ttl => '1 day', event_time_column => 'ts', description => 'd', owner => 'o',
                    tags => '{"k": 1}')$$,
                'fs_register_feature_view in named notation');
SELECT lives_ok($$SELECT name FROM fs_register_feature_service(name => 's', feature_refs => ARRAY['v:x'], description => 'd')$$,
                'fs_register_feature_service in named notation');
SELECT is((SELECT count(*)::int FROM fs_get_features(entity_ids => ARRAY['a'], feature_refs => ARRAY['s'])), 1,
          'fs_get_features in named notation');

-- every name is prefixed fs_, except feature_registry
SELECT is(array(SELECT pg_describe_object(classid, objid, objsubid)
                  FROM pg_depend
                 WHERE refclassid = 'pg_extension'::regclass
                   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'feature_store')
                   AND deptype = 'e'
                   AND pg_describe_object(classid, objid, objsubid) !~ '^[a-z -]+ fs_'
                 ORDER BY 1),
          ARRAY['view feature_registry'],
          'every extension object but feature_registry is named fs_*');

-- the catalog tables are dumped by pg_dump
SELECT set_eq($$SELECT unnest(extconfig)::regclass::text FROM pg_extension WHERE extname = 'feature_store'$$,
              ARRAY['fs_entity', 'fs_feature_view', 'fs_feature_view_view_id_seq', 'fs_feature_service',
                    'fs_feature_history',
                    'fs_ingest_runs', 'fs_ingest_runs_run_id_seq', 'fs_ingest_rejects', 'fs_ingest_state',
                    'fs_ingest_remote_table',
                    'fs_stream_queue', 'fs_stream_queue_id_seq', 'fs_stream_flush_seq', 'fs_stream_rejects'],
              'the catalog tables are extension configuration');

-- everyone may read the catalog
SELECT ok(has_table_privilege('public', 'fs_feature_view', 'SELECT')
          AND has_table_privilege('public', 'fs_entity', 'SELECT')
          AND has_table_privilege('public', 'fs_feature_service', 'SELECT')
          AND has_table_privilege('public', 'feature_registry', 'SELECT'),
          'PUBLIC may read the catalog');
-- ... and write none of it: a privilege to write a table is one to LOCK it,
-- which would let any role hold up DROP TABLE, registrations and ingestion.
-- The queue takes producers' inserts, numbered by its sequence (ROW
-- EXCLUSIVE conflicts with no lock the extension takes on the queue).
SELECT is_empty($$SELECT c.relname || ' ' || p.privilege_type
                    FROM pg_depend d JOIN pg_class c ON c.oid = d.objid,
                         aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a,
                         LATERAL (SELECT a.privilege_type) p
                   WHERE d.classid = 'pg_class'::regclass AND d.deptype = 'e'
                     AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'feature_store')
                     AND a.grantee = 0 AND a.privilege_type NOT IN ('SELECT')
                     AND NOT (c.relname = 'fs_stream_queue' AND a.privilege_type = 'INSERT')
                     AND NOT (c.relname = 'fs_stream_queue_id_seq' AND a.privilege_type = 'USAGE')$$,
                'PUBLIC may write no catalog table but the stream queue');
SELECT has_function('fs_alter_feature_view', ARRAY['text', 'interval', 'text', 'text', 'jsonb', 'text[]']);
SELECT is(pg_get_function_arguments('fs_alter_feature_view(text,interval,text,text,jsonb,text[])'::regprocedure),
          'name text, ttl interval DEFAULT NULL::interval, description text DEFAULT NULL::text, owner text DEFAULT NULL::text, tags jsonb DEFAULT NULL::jsonb, reset text[] DEFAULT ''{}''::text[]',
          'fs_alter_feature_view parameters');
-- the extension is not relocatable, but is installed where CREATE EXTENSION says
SELECT is((SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'feature_store'),
          current_schema()::text, 'installed in the current schema by default');

SELECT * FROM finish();
ROLLBACK;

-- demo.sql — feature_store on the embedded store, as a new user meets it.
-- Run by scripts/demo.sh in a fresh database (psql -X -v ON_ERROR_STOP=1).
-- Two feature tables of 100,000 users each, registered as feature views,
-- grouped into a feature service, then served.
--
-- With the psql variable ddb_endpoint set (FS_STORE=dynamodb bash
-- scripts/demo.sh sets it to a dynalite it starts), user_activity is a
-- foreign table of fs_dynamodb instead, in the DynamoDB-compatible store at
-- that URL, and both tables hold 10,000 users: every row goes through
-- BatchWriteItem (25 rows a request, one request at a time), and 100,000 rows
-- took dynalite about 15 s on a 2-core machine.  Every later step is the
-- same SQL; one fs_get_features call serves both stores.

\set QUIET on
\pset null '(null)'
\pset linestyle unicode
\pset border 1
\pset footer off
SET client_min_messages = warning;
\if :{?ddb_endpoint}
\set n_users 10000
\else
\set n_users 100000
\endif

\echo
\echo '== 1. Install the extension'
\echo 'CREATE EXTENSION feature_store;'
CREATE EXTENSION feature_store;

\if :{?ddb_endpoint}
\echo
\echo '== 2. user_profile is an ordinary table; user_activity lives in a DynamoDB-compatible store'
\echo '(10,000 users instead of 100,000: every row is written with BatchWriteItem, and 100,000 take dynalite about 15 s)'
\else
\echo
\echo '== 2. Two ordinary tables hold the latest feature values, one row per user'
\endif
CREATE TABLE user_profile (
    user_id    text PRIMARY KEY,
    event_time timestamptz NOT NULL,
    age        int,
    country    text,
    premium    bool,
    ltv        numeric
);
\if :{?ddb_endpoint}
-- The store, the credentials (dynalite and DynamoDB Local accept any), and a
-- foreign table whose remote table is created with the partition key user_id.
\echo
\set ECHO queries
CREATE SERVER online FOREIGN DATA WRAPPER fs_dynamodb
  OPTIONS (endpoint :'ddb_endpoint', region 'us-east-1');
CREATE USER MAPPING FOR PUBLIC SERVER online
  OPTIONS (access_key_id 'demo', secret_access_key 'demo');
CREATE FOREIGN TABLE user_activity (
    user_id    text,
    event_time timestamptz,
    clicks_7d  bigint,
    ctr        float8,
    last_query text,
    embedding  real[]
) SERVER online OPTIONS (table 'user_activity', key 'user_id');
\set ECHO none
-- CreateTable, then wait until the table is ACTIVE.  A store that outlives
-- the database (a reused dynalite, compose) keeps the table: reuse it, the
-- INSERT below replaces every item.
CREATE FUNCTION pg_temp.create_online(t regclass) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fs_create_online_table(t);
    RETURN 'created';
EXCEPTION WHEN duplicate_table THEN
    RETURN 'exists already: reused, the INSERT below replaces its items';
END $$;
SELECT pg_temp.create_online('user_activity') AS created \gset
\echo 'SELECT fs_create_online_table(''user_activity'');  -- remote table user_activity:' :created
\echo 'INSERT INTO user_activity SELECT ...;  -- BatchWriteItem, 25 rows per request'
\else
CREATE TABLE user_activity (
    user_id    text PRIMARY KEY,
    event_time timestamptz,
    clicks_7d  bigint,
    ctr        float8,
    last_query text,
    embedding  real[]
);
\endif

-- Deterministic sample data.  Profiles: users u1..u<n_users>; every 50th has no
-- country.  Activity: no row for users u99, u199, ... (NOT_FOUND); every
-- 500th user, from u42 on, was last seen 10 days ago (stale against the 7-day
-- ttl); every 10th has no last query.
INSERT INTO user_profile
SELECT 'u' || i,
       now() - (i % 30) * interval '1 day',
       18 + i % 60,
       CASE WHEN i % 50 = 0 THEN NULL
            ELSE (ARRAY['US', 'DE', 'FR', 'BR', 'IN', 'JP'])[1 + i % 6] END,
       i % 7 = 0,
       round((i % 1000) * 1.37, 2)
FROM generate_series(1, :n_users) AS i;

INSERT INTO user_activity
SELECT 'u' || i,
       CASE WHEN i % 500 = 42 THEN now() - interval '10 days'
            ELSE now() - (i % 48) * interval '1 hour' END,
       (i * 7) % 500,
       round((i % 97) / 97.0, 4)::float8,
       CASE WHEN i % 10 = 3 THEN NULL ELSE 'query ' || (i % 1000) END,
       ARRAY[(i % 10) / 10.0, (i * 3 % 10) / 10.0, (i * 7 % 10) / 10.0, (i * 9 % 10) / 10.0]::real[]
FROM generate_series(1, :n_users) AS i
WHERE i % 100 <> 99;

ANALYZE user_profile;
\if :{?ddb_endpoint}
\else
ANALYZE user_activity;
\endif

SELECT 'user_profile' AS "table", count(*) AS "rows" FROM user_profile
UNION ALL
SELECT 'user_activity', count(*) FROM user_activity;
\if :{?ddb_endpoint}

\echo
\echo 'The foreign table answers SQL too: a key restriction becomes BatchGetItem, anything else a Scan.'
\echo 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)'
\echo '  SELECT user_id, ctr FROM user_activity WHERE user_id = ANY(ARRAY[''u1'', ''u2'', ''u99'']);'
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT user_id, ctr FROM user_activity WHERE user_id = ANY(ARRAY['u1', 'u2', 'u99']);
\endif

\echo
\echo '== 3. Register the entity, the two feature views and a feature service'
\o /dev/null
SELECT fs_register_entity('user', 'user_id', 'A signed-in user');
SELECT fs_register_feature_view('user_profile', 'user_profile', 'user',
                                description => 'Account profile',
                                owner => 'growth',
                                tags => '{"source": "accounts"}');
SELECT fs_register_feature_view('user_activity', 'user_activity', 'user', ttl => '7 days');
SELECT fs_register_feature_service('ranking_v1',
                                   ARRAY['user_profile:age', 'user_profile:country', 'user_activity:*']);
\o
\echo 'SELECT fs_register_entity(''user'', ''user_id'', ''A signed-in user'');'
\echo 'SELECT fs_register_feature_view(''user_profile'', ''user_profile'', ''user'','
\echo '                                description => ''Account profile'', owner => ''growth'','
\echo '                                tags => ''{"source": "accounts"}'');'
\echo 'SELECT fs_register_feature_view(''user_activity'', ''user_activity'', ''user'', ttl => ''7 days'');'
\echo 'SELECT fs_register_feature_service(''ranking_v1'','
\echo '           ARRAY[''user_profile:age'', ''user_profile:country'', ''user_activity:*'']);'

\echo
\echo '== 4. The catalog: one row per feature'
\echo 'SELECT * FROM feature_registry;'
SELECT * FROM feature_registry;

\echo
\echo '== 4b. The batch lane: COPY into a staging table, fs_ingest writes only what changed'
\echo 'SELECT fs_create_staging_table(''user_profile'');   -- all-text columns, ready for COPY'
SELECT fs_create_staging_table('user_profile') IS NOT NULL AS staging_created \gset
-- As COPY user_profile_staging FROM 'profiles.csv' (csv) would: every value as text.
INSERT INTO user_profile_staging SELECT * FROM user_profile;
\echo 'First run over the same rows: every entity is compared with nothing yet, and recorded.'
\echo 'SELECT * FROM fs_ingest(''user_profile'', ''user_profile_staging'');'
SELECT rows_read, rows_rejected, rows_unchanged, rows_inserted, rows_updated, online_writes
  FROM fs_ingest('user_profile', 'user_profile_staging');
\echo 'Next batch: 1% of the users changed, one value is not a number.'
UPDATE user_profile_staging SET age = (age::int + 1)::text, event_time = now()::text
 WHERE user_id LIKE '%00';
UPDATE user_profile_staging SET age = 'forty-two' WHERE user_id = 'u5';
SELECT rows_read, rows_rejected, rows_unchanged, rows_inserted, rows_updated, online_writes
  FROM fs_ingest('user_profile', 'user_profile_staging');
\echo 'SELECT entity_id, "column", raw_value, reason FROM fs_ingest_rejects ...;'
SELECT entity_id, "column", raw_value, reason
  FROM fs_ingest_rejects
 WHERE run_id = (SELECT max(run_id) FROM fs_ingest_runs);
\echo 'The same batch again writes nothing:'
SELECT rows_read, rows_rejected, rows_unchanged, online_writes
  FROM fs_ingest('user_profile', 'user_profile_staging');

\echo
\echo '== 5. Serve features: one row per (entity, feature)'
\echo 'u1 is fresh, u42''s activity is older than the 7-day ttl, u_missing does not exist.'
\echo 'SELECT * FROM fs_get_features(ARRAY[''u1'', ''u42'', ''u_missing''], ARRAY[''ranking_v1'']);'
SELECT entity_id, feature_ref, value,
       to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') AS "event_time (UTC)",
       status
FROM fs_get_features(ARRAY['u1', 'u42', 'u_missing'], ARRAY['ranking_v1']);

\echo
\echo '== 6. Serve feature vectors: one JSON object per entity'
\echo 'u3 has no last query, u50 no country, u99 no activity row.'
\echo 'SELECT * FROM fs_get_feature_vectors(ARRAY[''u1'', ''u3'', ''u50'', ''u99''], ARRAY[''ranking_v1'']);'
SELECT * FROM fs_get_feature_vectors(ARRAY['u1', 'u3', 'u50', 'u99'], ARRAY['ranking_v1']);

\echo
\echo '== 7. How the statuses add up over 1,000 users'
SELECT status, count(*) AS "values"
FROM fs_get_features(ARRAY(SELECT 'u' || i FROM generate_series(1, 1000) AS i),
                     ARRAY['user_profile:*', 'user_activity:*'])
GROUP BY status ORDER BY status;

\echo
\echo '== 8. Latency: 1,000 random users x every feature of both views, in one call'
\if :{?ddb_endpoint}
\echo '(user_activity: 10 BatchGetItem requests of 100 keys, sent at once)'
\endif
SELECT count(*) AS n_features FROM feature_registry \gset
SELECT ARRAY(SELECT 'u' || (1 + (i * 7919) % :n_users) FROM generate_series(1, 1000) AS i)::text AS ids \gset
-- Server-side time of one warm call (the first call above loaded the caches).
CREATE FUNCTION pg_temp.time_call(ids text[], refs text[]) RETURNS numeric
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
    n  bigint;
BEGIN
    SELECT count(*) INTO n FROM fs_get_features(ids, refs);
    RETURN round(extract(epoch FROM clock_timestamp() - t0) * 1000, 1);
END $$;
SELECT pg_temp.time_call(:'ids', ARRAY['user_profile:*', 'user_activity:*']) AS ms \gset
\echo '1000 entities x' :n_features 'features:' :ms 'ms (server side)'
\echo
\echo 'The same call from psql, as a client sees it (\\timing on):'
\timing on
SELECT count(*) AS "values returned"
FROM fs_get_features(:'ids', ARRAY['user_profile:*', 'user_activity:*']);
\timing off

\echo
\echo '== 8b. The fast lanes: a direct write, and streamed events'
\echo 'A precomputed score, written before the call returns (older event times are refused as STALE):'
\echo 'SELECT fs_write_features(''user_activity'', ''u7'', ''{"ctr": 0.42, "last_query": "running shoes"}'');'
SELECT fs_write_features('user_activity', 'u7', '{"ctr": 0.42, "last_query": "running shoes"}') AS status;
SELECT feature_ref, value, status FROM fs_get_features(ARRAY['u7'], ARRAY['user_activity:ctr', 'user_activity:last_query']);
\echo 'A user clicks: the event goes to the durable queue, the stream worker writes it.'
-- With the preload, the push's commit calls a stream worker into this database.
SELECT worker_state <> 'off' AS stream_worker FROM fs_stream_status \gset
SELECT value AS clicks_before FROM fs_get_features(ARRAY['u7'], ARRAY['user_activity:clicks_7d']) \gset
\echo 'SELECT fs_push(''user_activity'', ''u7'', ''{"clicks_7d": 1}'', now(), ''add'');'
SELECT fs_push('user_activity', 'u7', '{"clicks_7d": 1}', now(), 'add') AS queued_event_id;
\if :stream_worker
-- Poll until the pushed click is served (the push above has committed).
CREATE FUNCTION pg_temp.wait_served(entity text, ref text, expected jsonb, OUT ms numeric)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
BEGIN
    LOOP
        EXIT WHEN (SELECT value FROM fs_get_features(ARRAY[entity], ARRAY[ref])) = expected
               OR clock_timestamp() - t0 > interval '5 s';
        PERFORM pg_sleep(0.005);
    END LOOP;
    ms := round(extract(epoch FROM clock_timestamp() - t0) * 1000, 1);
END $$;
SELECT pg_temp.wait_served('u7', 'user_activity:clicks_7d',
                           to_jsonb(coalesce(:'clicks_before'::bigint, 0) + 1)) AS ms \gset
SELECT :'clicks_before' AS clicks_7d_before, value AS clicks_7d_now
  FROM fs_get_features(ARRAY['u7'], ARRAY['user_activity:clicks_7d']);
\echo 'served' :ms 'ms after the push committed'
SELECT queue_depth, events_per_second, last_flush IS NOT NULL AS flushed, last_error FROM fs_stream_status;
\else
\echo 'The stream worker is not running on this cluster (feature_store is not in shared_preload_libraries):'
\echo 'the event waits in fs_stream_queue until one runs.'
SELECT queue_depth FROM fs_stream_status;
\endif

\echo
\echo '== 9. Mistakes are explained: each error has a SQLSTATE and says what exists'
\echo 'SELECT * FROM fs_get_features(ARRAY[''u1''], ARRAY[<feature_refs>]) with a typo:'
CREATE FUNCTION pg_temp.try(query text, OUT err_code text, OUT err_message text,
                            OUT err_hint text, OUT err_detail text)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE query;
    err_message := 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS err_code = RETURNED_SQLSTATE,
                            err_message = MESSAGE_TEXT,
                            err_hint = PG_EXCEPTION_HINT,
                            err_detail = PG_EXCEPTION_DETAIL;
END $$;
SELECT q.refs AS "feature_refs", r.err_code AS "SQLSTATE", r.err_message AS "error", coalesce(nullif(r.err_hint, ''), r.err_detail) AS "hint or detail"
FROM (VALUES (1, 'user_profile:agee'), (2, 'user_profil:age'), (3, 'ranking_v2'), (4, 'user_profile:')) AS q(n, refs),
     LATERAL pg_temp.try(format('SELECT * FROM fs_get_features(ARRAY[''u1''], ARRAY[%L])', q.refs)) AS r
ORDER BY q.n;

\echo
\echo '== 10. History and a point-in-time training set (docs/training.md)'
\echo 'SELECT fs_enable_history(''user_profile'');  -- every version of its rows, from now on'
SELECT fs_enable_history('user_profile') AS history_table;
\echo 'u1 upgrades to premium (event time: 12 hours ago), then moves (event time: now):'
UPDATE user_profile SET premium = true, event_time = now() - interval '12 hours' WHERE user_id = 'u1';
SELECT fs_write_features('user_profile', 'u1', '{"country": "PT"}');
\echo 'A spine of labelled events (did the user buy?) and its training view:'
CREATE TABLE purchases (user_id text, event_timestamp timestamptz, bought boolean);
INSERT INTO purchases VALUES ('u1', now() - interval '1 hour', true),
                             ('u1', now() - interval '36 hours', false),
                             ('u2', now() - interval '1 hour', false);
SELECT fs_create_training_view('purchases_training', 'purchases',
                               ARRAY['user_profile:premium', 'user_profile:country']) AS training_view;
\echo 'Each row sees the features as they were at its own timestamp (none from later):'
SELECT user_id, date_trunc('second', now() - event_timestamp) AS how_long_ago, bought,
       user_profile__premium, user_profile__country
  FROM purchases_training ORDER BY user_id, event_timestamp;
\echo 'And one entity as of a past time, as fs_get_features would have answered then:'
SELECT entity_id, feature_ref, value, status
  FROM fs_get_features_as_of(ARRAY['u1'], ARRAY['user_profile:premium', 'user_profile:country'],
                             now() - interval '2 hours');
\echo 'Export: \\copy (SELECT * FROM purchases_training) TO ''training.csv'' WITH (FORMAT csv, HEADER)'

\echo
\echo 'Done.  Explore with psql: \\df fs_*, SELECT * FROM feature_registry, ...'

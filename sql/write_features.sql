--
-- write_features: direct writes (fs_write_features) into an embedded view
-- ("local") and into an fs_dynamodb view ("remote", dynalite at
-- FS_DYNALITE_ENDPOINT).  Both views have the same columns, and most checks
-- run against both in one query, side by side.
--
\getenv dynalite_endpoint FS_DYNALITE_ENDPOINT
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_store CASCADE;
DROP TABLE IF EXISTS wf_local, wf_gen, wf_staging, wf_remote_staging;
DROP SCHEMA IF EXISTS "WF Schema" CASCADE;
DROP ROLE IF EXISTS regress_fs_writer, regress_fs_inserter, regress_fs_columns, regress_fs_keyonly;
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

-- What serving returns for an entity of a view: its event time and every
-- feature, keys without the view's name, so that both views compare.
CREATE FUNCTION pg_temp.served(v text, id text) RETURNS TABLE (event_time timestamptz, features jsonb)
LANGUAGE sql AS $$
    SELECT (SELECT max(f.event_time) FROM fs_get_features(ARRAY[id], ARRAY[v || ':*']) f),
           (SELECT jsonb_object_agg(split_part(e.key, ':', 2), e.value)
              FROM fs_get_feature_vectors(ARRAY[id], ARRAY[v || ':*']) fv, jsonb_each(fv.features) e)
$$;
GRANT EXECUTE ON FUNCTION pg_temp.served(text, text) TO PUBLIC;

-- The signature docs/streaming.md gives ("Direct writes").
SELECT pg_get_function_arguments('fs_write_features'::regproc) AS arguments,
       pg_get_function_result('fs_write_features'::regproc) AS result,
       p.provolatile, p.proisstrict
  FROM pg_proc p WHERE p.oid = 'fs_write_features'::regproc;

CREATE TABLE wf_local (user_id bigint PRIMARY KEY, event_time timestamptz,
    clicks int, total bigint, ctr float8, score numeric, segment text, active boolean,
    emb real[], tags text[], doc jsonb, seen timestamptz, raw bytea);

-- dynalite lives as long as the test run; a fresh table name keeps reruns apart.
SELECT 'write_' || substr(md5(random()::text), 1, 12) AS remote_table \gset
CREATE SERVER wf_srv FOREIGN DATA WRAPPER fs_dynamodb
    OPTIONS (endpoint :'dynalite_endpoint', region 'us-east-1');
CREATE USER MAPPING FOR PUBLIC SERVER wf_srv
    OPTIONS (access_key_id 'test', secret_access_key 'test');
CREATE FOREIGN TABLE wf_remote (user_id bigint, event_time timestamptz,
    clicks int, total bigint, ctr float8, score numeric, segment text, active boolean,
    emb real[], tags text[], doc jsonb, seen timestamptz, raw bytea)
    SERVER wf_srv OPTIONS (table :'remote_table', key 'user_id');
SELECT fs_create_online_table('wf_remote');

SELECT name FROM fs_register_entity('user', 'user_id');
SELECT name FROM fs_register_feature_view('local', 'wf_local', 'user');
SELECT name FROM fs_register_feature_view('remote', 'wf_remote', 'user');
CREATE TEMP TABLE views (v text);
INSERT INTO views VALUES ('local'), ('remote');
GRANT SELECT ON views TO PUBLIC;

-- 1. A new entity: the given features are written, the others are NULL.
SELECT v, fs_write_features(v, '1', '{"clicks": 3, "segment": "a"}', '2026-01-01 00:00:00+00')
  FROM views ORDER BY v;
SELECT v, s.* FROM views, pg_temp.served(v, '1') s ORDER BY v;

-- 2. A partial write changes only its features, and moves the event time.
SELECT v, fs_write_features(v, '1', '{"ctr": 0.5, "active": true}', '2026-01-02 00:00:00+00')
  FROM views ORDER BY v;
SELECT v, s.* FROM views, pg_temp.served(v, '1') s ORDER BY v;

-- 3. An older event time is stale and changes nothing.
SELECT v, fs_write_features(v, '1', '{"clicks": 100, "segment": "old"}', '2026-01-01 12:00:00+00')
  FROM views ORDER BY v;
SELECT v, s.* FROM views, pg_temp.served(v, '1') s ORDER BY v;

-- 4. The same event time is written (as by fs_ingest: stored <= new).
SELECT v, fs_write_features(v, '1', '{"clicks": 4}', '2026-01-02 00:00:00+00')
  FROM views ORDER BY v;
SELECT v, s.* FROM views, pg_temp.served(v, '1') s ORDER BY v;

-- 5. JSON null sets a feature to NULL (remote: the attribute is removed).
SELECT v, fs_write_features(v, '1', '{"segment": null, "active": false}', '2026-01-03 00:00:00+00')
  FROM views ORDER BY v;
SELECT v, s.* FROM views, pg_temp.served(v, '1') s ORDER BY v;
SELECT entity_id, feature_ref, value, status FROM fs_get_features(ARRAY['1'], ARRAY['local:segment', 'local:active']);
SELECT entity_id, feature_ref, value, status FROM fs_get_features(ARRAY['1'], ARRAY['remote:segment', 'remote:active']);

-- The event time defaults to now(): a write at now() then one an hour ago.
BEGIN;
SELECT v, fs_write_features(v, '9', '{"clicks": 1}'),
       fs_write_features(v, '9', '{"clicks": 2}', now() - interval '1 hour')
  FROM views ORDER BY v;
SELECT v, s.event_time = now() AS at_now, s.features->'clicks' AS clicks
  FROM views, pg_temp.served(v, '9') s ORDER BY v;
COMMIT;

-- 6. Values round trip: what is written is what fs_get_features serves, for
-- every type, and what is served writes back to the same values.
CREATE TEMP TABLE sample AS SELECT jsonb_build_object(
    'clicks', -7, 'total', 9007199254740993, 'ctr', 0.1, 'score', 12345678901234567890.5,
    'segment', 'café ☕', 'active', true, 'emb', '[0.1, 1.5, -3.25e-7, null]'::jsonb,
    'tags', '["x", "y z", null]'::jsonb, 'doc', '{"a": [1, {"b": null}], "c": "d"}'::jsonb,
    'seen', '2026-01-01T10:00:00.123456+00:00', 'raw', 'AAEC/w==') AS f;
SELECT v, fs_write_features(v, '2', f, '2026-01-05 00:00:00+00') FROM views, sample ORDER BY v;
SELECT v, s.features = f AS same, s.features FROM views, sample, pg_temp.served(v, '2') s ORDER BY v;
SELECT v, fs_write_features(v, '3', s.features, '2026-01-05 00:00:00+00')
  FROM views, pg_temp.served(v, '2') s ORDER BY v;
SELECT v, s3.features = s2.features AS served_back_the_same
  FROM views, pg_temp.served(v, '2') s2, pg_temp.served(v, '3') s3 ORDER BY v;
-- The rows themselves, typed.
SELECT user_id, clicks, total, ctr, score, segment, active, emb, tags, doc, seen, raw
  FROM wf_local WHERE user_id IN (2, 3) ORDER BY user_id;
SELECT user_id, clicks, total, ctr, score, segment, active, emb, tags, doc, seen, raw
  FROM wf_remote WHERE user_id IN (2, 3) ORDER BY user_id;
-- Lenient where PostgreSQL is: numbers as strings, strings from numbers,
-- bytea as hex, arrays as array literals; jsonb takes any JSON value.
SELECT v, fs_write_features(v, '4', '{"clicks": "42", "segment": 17, "raw": "\\x0aff",
                                      "emb": "{1,2}", "doc": "just text", "tags": []}', '2026-01-05')
  FROM views ORDER BY v;
SELECT v, s.features->'clicks' AS clicks, s.features->'segment' AS segment, s.features->'raw' AS raw,
       s.features->'emb' AS emb, s.features->'doc' AS doc, s.features->'tags' AS tags
  FROM views, pg_temp.served(v, '4') s ORDER BY v;
-- Floats that JSON cannot hold are served as strings, and read back from them
-- (the embedded store only: DynamoDB has no NaN).
SELECT fs_write_features('local', '5', '{"ctr": "NaN", "emb": ["Infinity", "-Infinity"]}', '2026-01-05');
SELECT s.features->'ctr' AS ctr, s.features->'emb' AS emb FROM pg_temp.served('local', '5') s;
SELECT pg_temp.err($$SELECT fs_write_features('remote', '5', '{"ctr": "NaN"}', '2026-01-05')$$);

-- 7. Errors, on both stores alike; nothing is written.
SELECT v, pg_temp.err(format('SELECT fs_write_features(%L, %L, %L)', v, id, f)) AS error
  FROM views, (VALUES (1, '1', '{"clicks": "7x"}'),
                      (2, '1', '{"clicks": 99999999999}'),
                      (3, '1', '{"clicks": 1.5}'),
                      (4, '1', '{"clicks": {"n": 1}}'),
                      (5, '1', '{"active": "maybe"}'),
                      (6, '1', '{"emb": [[1, 2], [3]]}'),
                      (7, '1', '{"emb": [1, "x"]}'),
                      (8, '1', '{"raw": "not base64!"}'),
                      (9, '1', '{"seen": "yesterday-ish"}'),
                      (10, '1', '{"nope": 1}'),
                      (11, '1', '{"user_id": 2}'),
                      (12, '1', '{"event_time": "2026-01-01"}'),
                      (13, '1', '{}'),
                      (14, '1', '[1, 2]'),
                      (15, 'x1', '{"clicks": 1}'),
                      (16, '', '{"clicks": 1}')) c(n, id, f)
 ORDER BY n, v;
SELECT v, pg_temp.err(q) AS error
  FROM views, LATERAL (VALUES (1, format('SELECT fs_write_features(NULL, %L, %L)', '1', '{"clicks": 1}')),
                              (2, format('SELECT fs_write_features(%L, NULL, %L)', v, '{"clicks": 1}')),
                              (3, format('SELECT fs_write_features(%L, %L, NULL)', v, '1')),
                              (4, format('SELECT fs_write_features(%L, %L, %L, NULL)', v, '1', '{"clicks": 1}')),
                              (5, format('SELECT fs_write_features(%L, %L, %L, %L)', v, '1', '{"clicks": 1}', 'infinity'))) q(n, q)
 ORDER BY n, v;
SELECT pg_temp.err($$SELECT fs_write_features('nope', '1', '{"clicks": 1}')$$);
SELECT v, s.* FROM views, pg_temp.served(v, '1') s ORDER BY v;

-- A store error is raised: here the remote table does not exist.
CREATE FOREIGN TABLE wf_missing (user_id bigint, event_time timestamptz, clicks int)
    SERVER wf_srv OPTIONS (table 'write_no_such_table', key 'user_id');
SELECT name FROM fs_register_feature_view('missing', 'wf_missing', 'user');
SELECT pg_temp.err($$SELECT fs_write_features('missing', '1', '{"clicks": 1}')$$);

-- A generated column is computed by its table, never written.
CREATE TABLE wf_gen (user_id bigint PRIMARY KEY, event_time timestamptz, clicks int,
    doubled int GENERATED ALWAYS AS (clicks * 2) STORED);
SELECT name FROM fs_register_feature_view('gen', 'wf_gen', 'user');
SELECT fs_write_features('gen', '1', '{"clicks": 21}', '2026-01-01');
SELECT pg_temp.err($$SELECT fs_write_features('gen', '1', '{"doubled": 1}')$$);
SELECT * FROM wf_gen;

-- 8. The embedded store writes in the caller's transaction.
BEGIN;
SELECT fs_write_features('local', '6', '{"clicks": 6}', '2026-01-01');
ROLLBACK;
SELECT count(*) AS rolled_back FROM wf_local WHERE user_id = 6;

-- 9. A direct write makes batch change detection forget the entity: its
-- fs_ingest_state digest is emptied (the row stays, so that a snapshot still
-- knows the entity), and the next fs_ingest writes the source's row again
-- if it is newer.
SELECT fs_create_staging_table('local', 'wf_staging');
SELECT fs_create_staging_table('remote', 'wf_remote_staging');
INSERT INTO wf_staging (user_id, event_time, clicks, segment)
VALUES ('10', '2026-01-01', '1', 'batch'), ('11', '2026-01-01', '1', 'batch');
INSERT INTO wf_remote_staging SELECT * FROM wf_staging;
SELECT rows_inserted FROM fs_ingest('local', 'wf_staging');
SELECT rows_inserted FROM fs_ingest('remote', 'wf_remote_staging');
SELECT feature_view, entity_id FROM fs_ingest_state ORDER BY 1, 2;
-- A stale write keeps the digest, a written one empties it.
SELECT v, fs_write_features(v, '10', '{"segment": "old"}', '2025-01-01'),
       fs_write_features(v, '11', '{"segment": "direct"}', '2026-01-02')
  FROM views ORDER BY v;
SELECT feature_view, entity_id, length(digest) AS digest_bytes FROM fs_ingest_state ORDER BY 1, 2;
-- The batch's newer row of 11 is written again: the direct write's value
-- does not hide behind an old digest.
UPDATE wf_staging SET event_time = '2026-01-03';
UPDATE wf_remote_staging SET event_time = '2026-01-03';
SELECT rows_unchanged, rows_inserted + rows_updated AS written FROM fs_ingest('local', 'wf_staging');
SELECT rows_unchanged, rows_inserted + rows_updated AS written FROM fs_ingest('remote', 'wf_remote_staging');
SELECT v, s.features->'segment' AS segment FROM views, pg_temp.served(v, '11') s ORDER BY v;

-- 10. Privileges: INSERT and UPDATE on the table, SELECT on the join key and
-- event time (the write compares with the stored event time: STALE would
-- tell a writer without SELECT what is stored).  A writer who does not own
-- the view still makes change detection forget.
CREATE ROLE regress_fs_writer;
CREATE ROLE regress_fs_inserter;
CREATE ROLE regress_fs_columns;
CREATE ROLE regress_fs_keyonly;
GRANT SELECT, INSERT, UPDATE ON wf_local, wf_remote TO regress_fs_writer;
GRANT INSERT, UPDATE ON wf_local, wf_remote TO regress_fs_inserter;
GRANT INSERT (user_id, event_time, clicks), UPDATE (event_time, clicks), SELECT (user_id, event_time)
    ON wf_local, wf_remote TO regress_fs_columns;
GRANT INSERT, UPDATE, SELECT (user_id) ON wf_local, wf_remote TO regress_fs_keyonly;
SET ROLE regress_fs_writer;
SELECT v, fs_write_features(v, '10', '{"segment": "by writer"}', '2026-02-01') FROM views ORDER BY v;
RESET ROLE;
SELECT feature_view, entity_id, length(digest) AS digest_bytes FROM fs_ingest_state ORDER BY 1, 2;
SET ROLE regress_fs_inserter;
SELECT v, pg_temp.err(format('SELECT fs_write_features(%L, %L, %L)', v, '10', '{"clicks": 1}')) AS error
  FROM views ORDER BY v;
-- the hint names the GRANT, on either store, for fs_write_features and fs_push
SELECT v, pg_temp.hint(format('SELECT fs_write_features(%L, %L, %L)', v, '10', '{"clicks": 1}')) AS hint
  FROM views ORDER BY v;
SELECT v, pg_temp.hint(format('SELECT fs_push(%L, %L, %L, now(), %L)', v, '10', '{"clicks": 1}', 'add')) AS hint
  FROM views ORDER BY v;
SET ROLE regress_fs_columns;
SELECT v, pg_temp.err(format('SELECT fs_write_features(%L, %L, %L, %L)', v, '10', f, '2026-02-02')) AS result
  FROM views, (VALUES (1, '{"clicks": 1}'), (2, '{"clicks": 2, "segment": "no"}')) c(n, f)
 ORDER BY n, v;
SELECT v, pg_temp.hint(format('SELECT fs_write_features(%L, %L, %L, %L)', v, '10', '{"clicks": 2, "segment": "no"}', '2026-02-02')) AS hint
  FROM views ORDER BY v;
-- INSERT and UPDATE on the table and SELECT on the key only: the event time
-- cannot be read, so a write is refused on both stores (nothing is written)
SET ROLE regress_fs_keyonly;
SELECT v, pg_temp.err(format('SELECT fs_write_features(%L, %L, %L, %L)', v, '777', '{"clicks": 5}', '2026-02-03')) AS error
  FROM views ORDER BY v;
SELECT v, pg_temp.hint(format('SELECT fs_write_features(%L, %L, %L, %L)', v, '777', '{"clicks": 5}', '2026-02-03')) AS hint
  FROM views ORDER BY v;
RESET ROLE;
SELECT v, s.event_time, s.features FROM views, pg_temp.served(v, '777') s ORDER BY v;
SELECT v, s.features->'clicks' AS clicks, s.features->'segment' AS segment
  FROM views, pg_temp.served(v, '10') s ORDER BY v;

-- 11. The table changes under cached statements: a renamed table, a new
-- column, a column of another type, a dropped column.
ALTER TABLE wf_local RENAME TO wf_local_renamed;
SELECT fs_write_features('local', '1', '{"clicks": 5}', '2026-03-01');
ALTER TABLE wf_local_renamed ADD COLUMN fresh int;
SELECT fs_write_features('local', '1', '{"clicks": 6, "fresh": 1}', '2026-03-02');
ALTER TABLE wf_local_renamed ALTER COLUMN clicks TYPE numeric;
SELECT fs_write_features('local', '1', '{"clicks": 6.5}', '2026-03-03');
ALTER TABLE wf_local_renamed DROP COLUMN fresh;
SELECT pg_temp.err($$SELECT fs_write_features('local', '1', '{"clicks": 7, "fresh": 2}', '2026-03-04')$$);
SELECT user_id, event_time, clicks FROM wf_local_renamed WHERE user_id = 1;

-- A view in another schema, with names that need quoting.
CREATE SCHEMA "WF Schema";
CREATE TABLE "WF Schema"."Odd Table" ("User Id" text PRIMARY KEY, "When" timestamptz, "Click Count" int);
SELECT name FROM fs_register_entity('odd', 'User Id');
SELECT name FROM fs_register_feature_view('odd', '"WF Schema"."Odd Table"', 'odd', event_time_column => 'When');
SELECT fs_write_features('odd', 'a''b', '{"Click Count": 1}', '2026-01-01'),
       fs_write_features('odd', 'a''b', '{"Click Count": 2}', '2025-01-01');
SELECT * FROM "WF Schema"."Odd Table";

DROP SCHEMA "WF Schema" CASCADE;
DROP OWNED BY regress_fs_writer, regress_fs_inserter, regress_fs_columns, regress_fs_keyonly;
DROP ROLE regress_fs_writer, regress_fs_inserter, regress_fs_columns, regress_fs_keyonly;

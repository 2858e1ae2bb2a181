-- Serving feature views whose online values live in a DynamoDB-compatible
-- store (dynalite in tests), mixed with embedded views in one call.
\getenv dynalite_endpoint FS_DYNALITE_ENDPOINT
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_store CASCADE;
CREATE EXTENSION feature_store;
RESET client_min_messages;
SET timezone = 'UTC';

-- dynalite lives as long as the test run; fresh table names keep reruns apart.
SELECT 'serving_' || substr(md5(random()::text), 1, 12) AS remote_table,
       'serving_big_' || substr(md5(random()::text), 1, 12) AS remote_big \gset

CREATE SERVER ddb_srv FOREIGN DATA WRAPPER fs_dynamodb
    OPTIONS (endpoint :'dynalite_endpoint', region 'us-east-1');
CREATE USER MAPPING FOR PUBLIC SERVER ddb_srv
    OPTIONS (access_key_id 'test', secret_access_key 'test');
CREATE FOREIGN TABLE activity_online (user_id text, event_time timestamptz,
    clicks bigint, ctr float8, query text, emb real[], flags jsonb)
    SERVER ddb_srv OPTIONS (table :'remote_table', key 'user_id');
SELECT fs_create_online_table('activity_online');
INSERT INTO activity_online VALUES
    ('u1', '2026-01-01 00:00:00+00', 10, 0.5, 'shoes', '{0.1,0.25}', '{"a": [1, true]}'),
    ('u2', '2000-01-01 00:00:00+00', 20, 0.25, 'hats', NULL, NULL),
    ('u3', '2026-01-01 00:00:00+00', NULL, NULL, NULL, NULL, NULL);

CREATE TABLE profile (user_id text PRIMARY KEY, event_time timestamptz NOT NULL, age int);
INSERT INTO profile VALUES ('u1', '2026-01-01 00:00:00+00', 31), ('u2', '2026-01-01 00:00:00+00', 42);

SELECT name FROM fs_register_entity('user', 'user_id');
SELECT name FROM fs_register_feature_view('profile', 'profile', 'user');
SELECT name FROM fs_register_feature_view('activity', 'activity_online', 'user', ttl => '10 years');
SELECT feature_view, feature, type, store FROM feature_registry ORDER BY feature_view, feature;

-- One call, both stores: every status, duplicates and NULL ids.
SELECT entity_id, feature_ref, value, event_time, status
  FROM fs_get_features(ARRAY['u1', 'u2', 'u3', 'u4', NULL, 'u1'],
                       ARRAY['profile:age', 'activity:*']);

SELECT entity_id, features
  FROM fs_get_feature_vectors(ARRAY['u1', 'u3', 'u4'], ARRAY['profile:age', 'activity:clicks', 'activity:emb']);

-- Keys holding what a request's JSON must escape, asked for and read back.
INSERT INTO activity_online (user_id, event_time, clicks) VALUES
    ('q"uote', '2026-01-01 00:00:00+00', 1), ('back\slash', '2026-01-01 00:00:00+00', 2),
    (E'new\nline\ttab', '2026-01-01 00:00:00+00', 3), ('é😀', '2026-01-01 00:00:00+00', 4);
SELECT entity_id, value, status
  FROM fs_get_features(ARRAY['q"uote', 'back\slash', E'new\nline\ttab', 'é😀'], ARRAY['activity:clicks']);
SELECT CASE WHEN user_id = E'new\nline\ttab' THEN '(new line, tab)' ELSE user_id END, clicks
  FROM activity_online WHERE user_id = ANY (ARRAY['q"uote', 'back\slash', E'new\nline\ttab', 'é😀'])
 ORDER BY clicks;
DELETE FROM activity_online WHERE clicks <= 4;

-- More keys than one BatchGetItem takes (100), with 16 kB items: 1.6 MB per
-- request, past what the store answers at once, so it leaves keys unprocessed
-- and they are asked again; every key is still answered.
CREATE FOREIGN TABLE big_online (user_id text, event_time timestamptz, payload text)
    SERVER ddb_srv OPTIONS (table :'remote_big', key 'user_id');
SELECT fs_create_online_table('big_online');
INSERT INTO big_online
SELECT 'b' || g, '2026-01-01 00:00:00+00', repeat(md5(g::text), 500) FROM generate_series(1, 300) g;
SELECT name FROM fs_register_feature_view('big', 'big_online', 'user');
SELECT count(*) AS rows, count(*) FILTER (WHERE status = 'PRESENT') AS present,
       sum(length(value #>> '{}')) AS payload_chars,
       bool_and(value #>> '{}' = repeat(md5(substr(entity_id, 2)), 500)) FILTER (WHERE status = 'PRESENT') AS all_right
  FROM fs_get_features(array(SELECT 'b' || g FROM generate_series(1, 320) g), ARRAY['big:payload']);

-- An integer key: ids that differ as text but are one key are all served,
-- from one request for that key.
SELECT 'serving_items_' || substr(md5(random()::text), 1, 12) AS remote_items \gset
CREATE FOREIGN TABLE items_online (item_id int, event_time timestamptz, price float8)
    SERVER ddb_srv OPTIONS (table :'remote_items', key 'item_id');
SELECT fs_create_online_table('items_online');
INSERT INTO items_online VALUES (7, '2026-01-01 00:00:00+00', 9.5);
SELECT name FROM fs_register_entity('item', 'item_id');
SELECT name FROM fs_register_feature_view('items', 'items_online', 'item');
SELECT entity_id, value, status FROM fs_get_features(ARRAY['7', '007', '+7', '8'], ARRAY['items:price']);

-- A store that cannot be reached: an error by default, UNAVAILABLE on request.
CREATE SERVER ddb_dead FOREIGN DATA WRAPPER fs_dynamodb
    OPTIONS (endpoint 'http://127.0.0.1:1', region 'us-east-1', max_retries '0');
CREATE USER MAPPING FOR PUBLIC SERVER ddb_dead
    OPTIONS (access_key_id 'test', secret_access_key 'test');
CREATE FOREIGN TABLE dead_online (user_id text, event_time timestamptz, clicks bigint)
    SERVER ddb_dead OPTIONS (table 'dead', key 'user_id');
SELECT name FROM fs_register_feature_view('dead', 'dead_online', 'user');
SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['profile:age', 'dead:clicks']);
DO $$
BEGIN
    PERFORM * FROM fs_get_features(ARRAY['u1'], ARRAY['dead:clicks']);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'SQLSTATE %', SQLSTATE;
END $$;
SET feature_store.on_store_error = 'unavailable';
SELECT entity_id, feature_ref, value, status
  FROM fs_get_features(ARRAY['u1', 'u2'], ARRAY['profile:age', 'dead:clicks', 'activity:clicks']);
RESET feature_store.on_store_error;

-- The join key must be the remote table's partition key.
CREATE FOREIGN TABLE wrong_key (user_id text, event_time timestamptz, query text)
    SERVER ddb_srv OPTIONS (table 'wrong_key', key 'query');
SELECT name FROM fs_register_feature_view('wrong', 'wrong_key', 'user');
SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['wrong:query']);

-- The view's event time must be the column the wrapper writes as one.
CREATE FOREIGN TABLE other_ts (user_id text, updated_at timestamptz, clicks bigint)
    SERVER ddb_srv OPTIONS (table 'other_ts', key 'user_id');
SELECT name FROM fs_register_feature_view('other_ts', 'other_ts', 'user', event_time_column => 'updated_at');
ALTER FOREIGN TABLE other_ts OPTIONS (ADD event_time_column 'updated_at');
SELECT name FROM fs_register_feature_view('other_ts', 'other_ts', 'user', event_time_column => 'updated_at');

-- The caller needs SELECT on the foreign table.
CREATE ROLE ddb_reader;
GRANT USAGE ON SCHEMA public TO ddb_reader;
SET ROLE ddb_reader;
SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['activity:clicks']);
RESET ROLE;
GRANT SELECT ON activity_online TO ddb_reader;
SET ROLE ddb_reader;
SELECT entity_id, value, status FROM fs_get_features(ARRAY['u1'], ARRAY['activity:clicks']);
RESET ROLE;
REVOKE ALL ON activity_online FROM ddb_reader;
REVOKE ALL ON SCHEMA public FROM ddb_reader;
DROP ROLE ddb_reader;

SET client_min_messages = warning;
DROP EXTENSION feature_store CASCADE;
DROP TABLE IF EXISTS profile;

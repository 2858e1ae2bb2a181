--
-- The foreign data wrapper fs_dynamodb against dynalite (FS_DYNALITE_ENDPOINT):
-- options, fs_create_online_table, the item layout round trip, reads by key
-- (BatchGetItem) and by Scan, writes, EXPLAIN, errors from the store and the
-- UnprocessedKeys retry loop.
--
\getenv dynalite_endpoint FS_DYNALITE_ENDPOINT
SET client_min_messages = warning;
SET timezone = 'UTC';

-- Options are checked where they are given.
CREATE SERVER ddb_bad FOREIGN DATA WRAPPER fs_dynamodb OPTIONS (endpoint '127.0.0.1:8000');
CREATE SERVER ddb_bad FOREIGN DATA WRAPPER fs_dynamodb OPTIONS (host 'x');
CREATE SERVER ddb_bad FOREIGN DATA WRAPPER fs_dynamodb OPTIONS (max_retries '-1');
-- Requests in flight: for reads (max_connections) and for writes only
-- (max_write_connections, 1 .. 1024 like its setting), both refused with
-- HV024 when out of range, as the settings refuse theirs with 22023.
CREATE SERVER ddb_bad FOREIGN DATA WRAPPER fs_dynamodb OPTIONS (max_connections '0');
\echo :LAST_ERROR_SQLSTATE
CREATE SERVER ddb_bad FOREIGN DATA WRAPPER fs_dynamodb OPTIONS (max_write_connections '0');
\echo :LAST_ERROR_SQLSTATE
CREATE SERVER ddb_bad FOREIGN DATA WRAPPER fs_dynamodb OPTIONS (max_write_connections '1025');
CREATE SERVER ddb_bad FOREIGN DATA WRAPPER fs_dynamodb OPTIONS (max_write_connections 'many');
CREATE SERVER ddb_bad FOREIGN DATA WRAPPER fs_dynamodb OPTIONS (max_write_connections '');
SET feature_store.max_connections = 0;
\echo :LAST_ERROR_SQLSTATE
SET feature_store.max_write_connections = 0;
\echo :LAST_ERROR_SQLSTATE
SET feature_store.max_write_connections = 1025;
SHOW feature_store.max_write_connections;
CREATE SERVER ddb_bad FOREIGN DATA WRAPPER fs_dynamodb OPTIONS (request_timeout_ms '0');
-- Time options take the settings' units (a bare number is ms), nothing else.
CREATE SERVER ddb_bad FOREIGN DATA WRAPPER fs_dynamodb OPTIONS (request_timeout_ms '5 parsecs');
CREATE SERVER ddb_bad FOREIGN DATA WRAPPER fs_dynamodb OPTIONS (connect_timeout_ms '5kB');
CREATE SERVER ddb_bad FOREIGN DATA WRAPPER fs_dynamodb OPTIONS (connect_timeout_ms '0.1ms');
CREATE SERVER ddb_bad FOREIGN DATA WRAPPER fs_dynamodb OPTIONS (request_timeout_ms '-1s');
CREATE SERVER ddb_bad FOREIGN DATA WRAPPER fs_dynamodb OPTIONS (request_timeout_ms '30d');
CREATE SERVER ddb_units FOREIGN DATA WRAPPER fs_dynamodb
  OPTIONS (request_timeout_ms '5s', connect_timeout_ms '500ms');
ALTER SERVER ddb_units OPTIONS (SET request_timeout_ms '1min', SET connect_timeout_ms '1500');
ALTER SERVER ddb_units OPTIONS (SET request_timeout_ms '1.5 s', SET connect_timeout_ms '2500us');
-- The store deadline too, as its setting takes them.
ALTER SERVER ddb_units OPTIONS (ADD store_deadline_ms '300ms');
ALTER SERVER ddb_units OPTIONS (ADD max_write_connections '1024', ADD max_connections '1');
ALTER SERVER ddb_units OPTIONS (DROP max_write_connections, DROP max_connections);
ALTER SERVER ddb_units OPTIONS (SET store_deadline_ms '1s');
SELECT srvoptions FROM pg_foreign_server WHERE srvname = 'ddb_units';
DROP SERVER ddb_units;
CREATE SERVER ddb_bad FOREIGN DATA WRAPPER fs_dynamodb OPTIONS (consistent_read 'maybe');
CREATE SERVER ddb_bad FOREIGN DATA WRAPPER fs_dynamodb OPTIONS (table 't');
CREATE SERVER ddb_noendpoint FOREIGN DATA WRAPPER fs_dynamodb;
CREATE FOREIGN TABLE ddb_noendpoint_t (id text) SERVER ddb_noendpoint OPTIONS (key 'id');
SELECT * FROM ddb_noendpoint_t;
\echo :LAST_ERROR_SQLSTATE
DROP SERVER ddb_noendpoint CASCADE;

CREATE SERVER ddb FOREIGN DATA WRAPPER fs_dynamodb
  OPTIONS (endpoint :'dynalite_endpoint', region 'us-east-1', max_retries '10');
CREATE USER MAPPING FOR PUBLIC SERVER ddb
  OPTIONS (access_key_id 'AKIDEXAMPLE', secret_access_key 'secret');
CREATE USER MAPPING FOR CURRENT_USER SERVER ddb OPTIONS (endpoint 'http://x');
CREATE FOREIGN TABLE ddb_opt (id text OPTIONS (region 'x')) SERVER ddb;

-- The item layout: every row of the table in docs/dynamodb.md ("Item layout"),
-- written through the FDW and read back, equal to a local copy.
CREATE FOREIGN TABLE layout_online (
    user_id    text,
    event_time timestamptz,
    f_int2     smallint,
    f_int4     integer,
    f_int8     bigint,
    f_real     real,
    f_double   double precision,
    f_numeric  numeric,
    f_text     text,
    f_varchar  varchar(20),
    f_bool     boolean,
    f_bytea    bytea,
    f_emb      real[],
    f_nums     numeric[],
    f_tags     text[],
    f_jsonb    jsonb,
    f_seen     timestamptz,
    "select"   text                 -- a reserved word of DynamoDB expressions
) SERVER ddb OPTIONS (table 'fs_regress_layout');
SELECT fs_create_online_table('layout_online');

CREATE TABLE layout_local (LIKE layout_online);
INSERT INTO layout_local VALUES
  ('u1', '2024-05-01 12:34:56.123456+00', 1, 2, 9007199254740993, 1.5, 2.25,
   12345678901234567890123456789.123456789, 'héllo "quoted"', 'short', true,
   '\x00ff10', '{0.25,-1.5,3}', '{1,2.5,-3}', '{a,"b c",""}',
   '{"m": {"x": 1}, "l": [1, "two", true, null], "s": "str", "n": 1.5, "b": false, "z": null}',
   '2023-12-31 23:59:59.5+00', 'kw'),
  ('u2', '1970-01-01 00:00:00+00', -32768, -2147483648, -9223372036854775808, -0.5, 1e100,
   -0.000001, '', 'v', false, '\x', '{}', '{}', '{}', '[]', '2000-02-29 00:00:00+00', NULL),
  ('u3', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL),
  ('u4', '2030-01-01 00:00:00.000001+00', 0, 0, 0, 0, 0, 0, 'x', 'y', true, '\xdeadbeef',
   '{1}', '{0}', '{z}', '"just a string"', '2030-01-01 00:00:00+00', 'w'),
  ('u5', '2024-01-01 00:00:00+00', 7, 7, 7, 7, 7, 7, 't', 'v', false, '\x01', '{2,3}', '{4}',
   '{q}', '42', '2024-01-01 00:00:00+00', 'z'),
  ('u6', '2024-01-01 00:00:00+00', 1, 1, 1, 1, 1, 1, 't', 'v', true, '\x02', '{1}', '{1}',
   '{p}', 'true', '2024-01-01 00:00:00+00', NULL),
  ('u7', '2024-01-01 00:00:00+00', 1, 1, 1, 1, 1, 1, 't', 'v', true, '\x03', '{1}', '{1}',
   '{p}', 'null', '2024-01-01 00:00:00+00', NULL);
INSERT INTO layout_online SELECT * FROM layout_local;
-- A jsonb null is stored as NULL:true, which reads as SQL NULL
-- (docs/dynamodb.md, "Item layout").
UPDATE layout_local SET f_jsonb = NULL WHERE f_jsonb = 'null';
-- What DynamoDB cannot hold is refused, naming column and entity.
INSERT INTO layout_online (user_id, f_double) VALUES ('u8', 'NaN');
\echo :LAST_ERROR_SQLSTATE

-- Both ways: nothing read back differs from what was written.
SELECT count(*) AS rows_read FROM layout_online;
(SELECT * FROM layout_online EXCEPT SELECT * FROM layout_local)
UNION ALL
(SELECT * FROM layout_local EXCEPT SELECT * FROM layout_online);
SELECT user_id, event_time, f_numeric, f_emb, f_tags, f_jsonb, f_seen
  FROM layout_online WHERE user_id = ANY('{u1,u2,u3}') ORDER BY user_id;
SELECT user_id, f_jsonb IS NULL AS sql_null, f_jsonb
  FROM layout_online WHERE user_id IN ('u6', 'u7') ORDER BY user_id;

-- fs_create_online_table refuses what it cannot do.
SELECT fs_create_online_table('layout_online');
SELECT fs_create_online_table('layout_local');
\echo :LAST_ERROR_SQLSTATE
CREATE FOREIGN TABLE badkey_online (k timestamptz, v text) SERVER ddb;
SELECT fs_create_online_table('badkey_online');
CREATE ROLE fs_regress_fdw_user;
GRANT SELECT ON layout_online TO fs_regress_fdw_user;
SET ROLE fs_regress_fdw_user;
SELECT fs_create_online_table('layout_online');
SELECT user_id FROM layout_online WHERE user_id = 'u1';
RESET ROLE;

-- An integer key, the key column not first, attribute names of our own.
CREATE FOREIGN TABLE counts_online (
    clicks  bigint OPTIONS (attribute 'c'),
    id      integer OPTIONS (attribute 'pk'),
    label   text
) SERVER ddb OPTIONS (table 'fs_regress_counts', key 'pk');
SELECT fs_create_online_table('counts_online');
INSERT INTO counts_online SELECT i * 10, i, 'label ' || i FROM generate_series(1, 1000) i;
SELECT count(*), sum(clicks), sum(id) FROM counts_online;

-- Without the option 'key', the key comes from DescribeTable.
CREATE FOREIGN TABLE counts_described (id integer OPTIONS (attribute 'pk'), c bigint)
  SERVER ddb OPTIONS (table 'fs_regress_counts');
SELECT id, c FROM counts_described WHERE id = 42;

-- Reads: key = const, = ANY, parameters, joins; everything else is a Scan.
EXPLAIN (COSTS OFF) SELECT * FROM counts_online WHERE id = 7;
SELECT * FROM counts_online WHERE id = 7;
EXPLAIN (COSTS OFF) SELECT label FROM counts_online WHERE id IN (1, 2, 3, NULL, 999999);
SELECT label FROM counts_online WHERE id IN (1, 2, 3, 3, NULL, 999999) ORDER BY label;
SELECT count(*) FROM counts_online WHERE id = ANY(ARRAY(SELECT generate_series(1, 1000, 3)));
EXPLAIN (COSTS OFF) SELECT count(*) FROM counts_online WHERE clicks > 9900;
SELECT count(*) FROM counts_online WHERE clicks > 9900;
EXPLAIN (COSTS OFF) SELECT * FROM counts_online WHERE id = 7 OR id = 8;
SELECT id FROM counts_online WHERE id = 7 OR id = 8 ORDER BY id;
SELECT count(*) FROM counts_online WHERE id = NULL;

PREPARE by_key(int) AS SELECT id, clicks FROM counts_online WHERE id = $1;
PREPARE by_keys(int[]) AS SELECT id, clicks FROM counts_online WHERE id = ANY($1) ORDER BY id;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE by_key(5);
EXECUTE by_key(5);
EXECUTE by_key(6);
EXPLAIN (COSTS OFF) EXECUTE by_keys('{1,2}');
EXECUTE by_keys('{1,2,1000,1001}');
EXECUTE by_keys('{}');
RESET plan_cache_mode;

CREATE TABLE wanted (id int);
INSERT INTO wanted VALUES (3), (5), (8), (2000);
ANALYZE wanted;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
EXPLAIN (COSTS OFF)
  SELECT w.id, c.clicks FROM wanted w JOIN counts_online c ON c.id = w.id;
SELECT w.id, c.clicks FROM wanted w JOIN counts_online c ON c.id = w.id ORDER BY w.id;
SELECT w.id, c.clicks FROM wanted w LEFT JOIN counts_online c ON c.id = w.id ORDER BY w.id;
RESET enable_hashjoin;
RESET enable_mergejoin;

-- EXPLAIN ANALYZE counts requests, retries and throttles.
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT label FROM counts_online WHERE id = 7;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT label FROM counts_online WHERE id = ANY(ARRAY(SELECT generate_series(1, 250)));

-- Writes.
EXPLAIN (COSTS OFF) INSERT INTO counts_online VALUES (1, 1001, 'x');
EXPLAIN (COSTS OFF) INSERT INTO counts_online VALUES (1, 1001, 'x') RETURNING id;
INSERT INTO counts_online VALUES (1, 1001, 'first'), (2, 1001, 'second'), (3, 1002, 'third');
SELECT * FROM counts_online WHERE id IN (1001, 1002) ORDER BY id;
INSERT INTO counts_online VALUES (5, 1003, 'returned') RETURNING id, label;
EXPLAIN (COSTS OFF) UPDATE counts_online SET label = 'changed' WHERE id = 1001;
UPDATE counts_online SET label = 'changed', clicks = clicks + 1 WHERE id = 1001;
WITH u AS (UPDATE counts_online SET label = NULL WHERE id IN (1002, 1003) RETURNING id, label)
SELECT * FROM u ORDER BY id;
UPDATE counts_online SET label = 'none' WHERE id = 424242;
SELECT * FROM counts_online WHERE id BETWEEN 1001 AND 1003 ORDER BY id;
EXPLAIN (COSTS OFF) DELETE FROM counts_online WHERE id = 1001;
DELETE FROM counts_online WHERE id = 1001;
DELETE FROM counts_online WHERE id = 1001;
WITH d AS (DELETE FROM counts_online WHERE id IN (1002, 1003) RETURNING *)
SELECT * FROM d ORDER BY id;
DELETE FROM counts_online WHERE clicks >= 9990;
SELECT count(*) FROM counts_online;

-- Write errors.
INSERT INTO counts_online VALUES (1, NULL, 'no key');
\echo :LAST_ERROR_SQLSTATE
UPDATE counts_online SET id = 1 WHERE id = 2;
INSERT INTO counts_online VALUES (1, 1, 'x') ON CONFLICT DO NOTHING;

-- Errors from the store, with the remote table named.
CREATE FOREIGN TABLE missing_online (id text, v text) SERVER ddb OPTIONS (table 'fs_regress_missing');
SELECT * FROM missing_online WHERE id = 'a';
\echo :LAST_ERROR_SQLSTATE
CREATE FOREIGN TABLE missing_keyed (id text, v text) SERVER ddb
  OPTIONS (table 'fs_regress_missing', key 'id');
SELECT * FROM missing_keyed WHERE id = 'a';
SELECT * FROM missing_keyed;
INSERT INTO missing_keyed VALUES ('a', 'b');
-- A text column over a number key: the store's ValidationException.
CREATE FOREIGN TABLE mistyped (pk text, c bigint) SERVER ddb
  OPTIONS (table 'fs_regress_counts', key 'pk');
SELECT * FROM mistyped WHERE pk = '7';
\echo :LAST_ERROR_SQLSTATE
INSERT INTO mistyped VALUES ('7', 1);
-- No column for the key attribute.
CREATE FOREIGN TABLE keyless (id integer, c bigint) SERVER ddb OPTIONS (table 'fs_regress_counts');
SELECT * FROM keyless;
\echo :LAST_ERROR_SQLSTATE

-- UnprocessedKeys: ~2 MB of items asked in one statement; dynalite answers
-- about 1.4 MB per response and returns the rest as UnprocessedKeys, which
-- are resent until every key is answered.
CREATE FOREIGN TABLE blobs_online (id integer, payload text)
  SERVER ddb OPTIONS (table 'fs_regress_blobs');
SELECT fs_create_online_table('blobs_online');
INSERT INTO blobs_online SELECT i, repeat(md5(i::text), 625) FROM generate_series(1, 100) i;
SELECT count(*), sum(length(payload)), count(DISTINCT payload)
  FROM blobs_online WHERE id = ANY(ARRAY(SELECT generate_series(1, 100)));

-- The counters vary with the store's cut; show the stable lines only.
CREATE FUNCTION explain_retries(query text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || query LOOP
        IF line ~ 'Requests: ' THEN
            RETURN NEXT regexp_replace(line, 'Requests: \d+  Retries: (\d+).*',
                         CASE WHEN (regexp_match(line, 'Retries: (\d+)'))[1]::int > 0
                              THEN 'Retries: more than none' ELSE 'Retries: none' END);
        ELSE
            RETURN NEXT line;
        END IF;
    END LOOP;
END
$$;
SELECT * FROM explain_retries(
  'SELECT count(payload) FROM blobs_online WHERE id = ANY(ARRAY(SELECT generate_series(1, 100)))');

-- Time options with units are read as the validator reads them.
ALTER SERVER ddb OPTIONS (ADD request_timeout_ms '10s', ADD connect_timeout_ms '2s');
SELECT count(*) FROM blobs_online WHERE id = ANY(ARRAY[1, 2, 3]);
ALTER SERVER ddb OPTIONS (DROP request_timeout_ms, DROP connect_timeout_ms);

-- Retries run out: the keys left are an error.
ALTER SERVER ddb OPTIONS (SET max_retries '0');
SELECT count(payload) FROM blobs_online WHERE id = ANY(ARRAY(SELECT generate_series(1, 100)));
\echo :LAST_ERROR_SQLSTATE
ALTER SERVER ddb OPTIONS (SET max_retries '10');

DROP FUNCTION explain_retries(text);
DROP TABLE wanted, layout_local;
DROP SERVER ddb CASCADE;
DROP ROLE fs_regress_fdw_user;

--
-- values: how each column type is served as jsonb, by fs_get_features and by
-- fs_get_feature_vectors (the two must agree).
--
-- pg_regress may have loaded the extension already; start from scratch.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_store CASCADE;
RESET client_min_messages;
CREATE EXTENSION feature_store;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
\set SHOW_CONTEXT never

CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE DOMAIN positive_int AS integer CHECK (VALUE > 0);
CREATE TABLE vals (
    id          text PRIMARY KEY,
    event_time  timestamptz,
    f_int2      smallint,
    f_int4      integer,
    f_int8      bigint,
    f_float4    real,
    f_float8    double precision,
    f_numeric   numeric,
    f_text      text,
    f_varchar   varchar(10),
    f_bool      boolean,
    f_real_arr  real[],
    f_text_arr  text[],
    f_int_arr   integer[],
    f_int_2d    integer[],
    f_int8_arr  bigint[],
    f_ts        timestamptz,
    f_ts_arr    timestamptz[],
    f_bytea     bytea,
    f_jsonb     jsonb,
    f_json      json,
    f_uuid      uuid,
    f_date      date,
    f_timestamp timestamp,
    f_interval  interval,
    f_mood      mood,
    f_domain    positive_int
);
-- typical values
INSERT INTO vals VALUES ('typical', '2026-01-01 00:00:00+00',
    12, 123456, 9007199254740993,
    0.1, 0.1::float8 + 0.2::float8, 123.4500,
    'héllo "world"\n', 'varchar', true,
    '{0.1,0.25,-1.5}', '{a,NULL,"b c"}', '{1,NULL,3}', '{{1,2},{3,4}}', '{9007199254740993,-1}',
    '2026-01-01 12:34:56.789+02', '{"2026-01-01 00:00:00+00","2026-06-30 23:59:59.5-03"}',
    '\x010203',
    '{"a": 1, "b": [1, "x", null], "c": {"d": true}}',
    '{"z": 1, "a": [2]}',
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2026-01-01', '2026-01-01 12:00:00',
    '1 day 02:00:00', 'happy', 7);
-- the edges of each type
INSERT INTO vals VALUES ('edges', '2026-01-01 00:00:00+00',
    -32768, -2147483648, -9223372036854775808,
    'NaN', 'Infinity', 'NaN',
    '', '', false,
    '{}', '{}', '{NULL}', '{{NULL,2},{3,NULL}}', '{9223372036854775807}',
    'infinity', '{}',
    '\x',
    '[1, "x"]',
    '"just a string"',
    '00000000-0000-0000-0000-000000000000', 'infinity', '-infinity',
    '-1 month', 'sad', 1);
INSERT INTO vals (id, event_time, f_float4, f_float8, f_numeric, f_jsonb, f_json, f_bytea, f_int8)
VALUES ('more', '2026-01-01 00:00:00+00', '-Infinity', '-Infinity', 'Infinity', '42', 'null',
        '\xff', 9223372036854775807),
       ('more2', '2026-01-01 00:00:00+00', 3.4028235e38, 1e-320, 12345678901234567890.123456789,
        'null', '[]', decode(repeat('ab', 100), 'hex'), -9007199254740993);
-- floats: the shortest decimal that reads back as the same float
INSERT INTO vals (id, event_time, f_float4, f_float8, f_real_arr)
VALUES ('tiny', '2026-01-01 00:00:00+00', 1e-07, '-0', '{1e-07,-0,1.5e-05}'),
       ('huge', '2026-01-01 00:00:00+00', 1.2345678e20, 1.2345678901234568e20, '{1e22,16777217}'),
       ('odd', '2026-01-01 00:00:00+00', -1.25, -2.5e-3, '{0.3,2.5e-3}');
-- every feature NULL
INSERT INTO vals (id, event_time) VALUES ('nulls', '2026-01-01 00:00:00+00');

SELECT name FROM fs_register_entity('thing', 'id');
SELECT name FROM fs_register_feature_view('v', 'vals', 'thing');

SELECT feature_ref, value, jsonb_typeof(value) AS json_type, status
  FROM fs_get_features(ARRAY['typical'], ARRAY['v:*']);
SELECT feature_ref, value, jsonb_typeof(value) AS json_type, status
  FROM fs_get_features(ARRAY['edges'], ARRAY['v:*']);
SELECT feature_ref, value, jsonb_typeof(value) AS json_type, status
  FROM fs_get_features(ARRAY['more'], ARRAY['v:f_float4', 'v:f_float8', 'v:f_numeric', 'v:f_jsonb', 'v:f_json', 'v:f_bytea', 'v:f_int8']);
SELECT feature_ref, value, jsonb_typeof(value) AS json_type, status
  FROM fs_get_features(ARRAY['more2'], ARRAY['v:f_float4', 'v:f_numeric', 'v:f_jsonb', 'v:f_json', 'v:f_int8']);
SELECT entity_id, feature_ref, value, jsonb_typeof(value) AS json_type
  FROM fs_get_features(ARRAY['tiny', 'huge', 'odd'], ARRAY['v:f_float4', 'v:f_float8', 'v:f_real_arr']);
SELECT value::numeric = 1.2345678901234568e20 AS exact_f8
  FROM fs_get_features(ARRAY['huge'], ARRAY['v:f_float8']);
-- a subnormal double is a JSON number equal to it
SELECT jsonb_typeof(value), value::numeric = 1e-320::numeric AS exact
  FROM fs_get_features(ARRAY['more2'], ARRAY['v:f_float8']);
-- NULL features are NULL_VALUE with an SQL NULL value, not a JSON null
SELECT feature_ref, value IS NULL AS sql_null, status
  FROM fs_get_features(ARRAY['nulls'], ARRAY['v:*']);

-- bigint is exact: not rounded through a double
SELECT value::text = '9007199254740993' AS exact,
       (value::numeric - 9007199254740992) AS minus_2_pow_53
  FROM fs_get_features(ARRAY['typical'], ARRAY['v:f_int8']);
-- double precision keeps its shortest exact decimal form
SELECT value::text AS f8, (value::numeric = 0.30000000000000004) AS exact
  FROM fs_get_features(ARRAY['typical'], ARRAY['v:f_float8']);
-- a long bytea is one base64 string, without line breaks, that decodes back
SELECT length(value #>> '{}') AS b64_length, (value #>> '{}') ~ '\n' AS has_newline,
       decode(value #>> '{}', 'base64') = (SELECT f_bytea FROM vals WHERE id = 'more2') AS round_trips
  FROM fs_get_features(ARRAY['more2'], ARRAY['v:f_bytea']);
-- timestamptz is ISO 8601 in UTC whatever the session's time zone
SET timezone = 'America/New_York';
SELECT feature_ref, value FROM fs_get_features(ARRAY['typical'], ARRAY['v:f_ts', 'v:f_ts_arr']);
SET timezone = 'UTC';

-- where to_jsonb has an opinion, serving agrees with it (bigint, numeric,
-- strings, booleans, arrays of numbers and strings, jsonb, json)
SELECT r.feature_ref
  FROM vals,
       LATERAL fs_get_features(ARRAY[vals.id],
           ARRAY['v:f_int2', 'v:f_int4', 'v:f_int8', 'v:f_numeric', 'v:f_text', 'v:f_varchar',
                 'v:f_bool', 'v:f_text_arr', 'v:f_int_arr', 'v:f_int_2d', 'v:f_int8_arr',
                 'v:f_jsonb', 'v:f_json', 'v:f_domain']) WITH ORDINALITY AS r(entity_id, feature_ref, value, event_time, status, n)
 WHERE r.value IS DISTINCT FROM (to_jsonb(vals) -> split_part(r.feature_ref, ':', 2))
   AND NOT (r.status = 'NULL_VALUE' AND to_jsonb(vals) -> split_part(r.feature_ref, ':', 2) = 'null')
 ORDER BY vals.id, r.n;

-- fs_get_feature_vectors gives the same values, with null for SQL NULL
SELECT entity_id, jsonb_pretty(features) FROM fs_get_feature_vectors(ARRAY['typical'], ARRAY['v:*']);
SELECT entity_id, features FROM fs_get_feature_vectors(ARRAY['more', 'more2'], ARRAY['v:f_jsonb', 'v:f_json', 'v:f_float4', 'v:f_numeric']);
SELECT f.entity_id, f.feature_ref
  FROM vals,
       LATERAL fs_get_features(ARRAY[vals.id], ARRAY['v:*']) f,
       LATERAL fs_get_feature_vectors(ARRAY[vals.id], ARRAY['v:*']) v
 WHERE v.features -> f.feature_ref IS DISTINCT FROM coalesce(f.value, 'null'::jsonb)
 ORDER BY 1, 2;
SELECT entity_id, features FROM fs_get_feature_vectors(ARRAY['nulls'], ARRAY['v:f_int4', 'v:f_jsonb', 'v:f_text_arr']);

-- a json value jsonb cannot hold (\u0000, a number beyond numeric) is an
-- error naming the feature and the entity, from both functions, whatever
-- on_store_error says: a data error, not a store that cannot answer
INSERT INTO vals (id, event_time, f_json) VALUES
    ('nul', '2026-01-01 00:00:00+00', '{"a": "\u0000"}'),
    ('big', '2026-01-01 00:00:00+00', '[1e1000000]');
SET feature_store.on_store_error = 'unavailable';
\set SHOW_CONTEXT errors
SELECT * FROM fs_get_features(ARRAY['typical', 'nul'], ARRAY['v:f_int4', 'v:f_json']);
SELECT * FROM fs_get_feature_vectors(ARRAY['big'], ARRAY['v:f_json']);
\set SHOW_CONTEXT never
RESET feature_store.on_store_error;
SELECT count(*) FROM fs_get_features(ARRAY['nul', 'big'], ARRAY['v:f_int4']);
DELETE FROM vals WHERE id IN ('nul', 'big');

-- arrays of every kind of element, ranges and other types as strings
CREATE DOMAIN doc AS jsonb;
CREATE TABLE more_vals (
    id         uuid PRIMARY KEY,
    event_time timestamptz,
    f_jsonb_arr jsonb[],
    f_json_arr  json[],
    f_bytea_arr bytea[],
    f_f8_arr    float8[],
    f_num_arr   numeric[],
    f_bool_arr  boolean[],
    f_lower0    integer[],
    f_range     int4range,
    f_money     money,
    f_char      "char",
    f_name      name,
    f_doc       doc,
    f_ts_wo_arr timestamp[]
);
INSERT INTO more_vals VALUES ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2026-01-01 00:00:00+00',
    ARRAY['{"a": 1}', '[1, 2]', '3', 'null']::jsonb[], ARRAY['{"b": 2}']::json[],
    ARRAY['\x01'::bytea, NULL], '{Infinity,-Infinity,NaN,-0,1.5}', '{NaN,1.10,-0.0}',
    '{t,f,NULL}', '[0:2]={7,8,9}', '[1,5)', 1.5, 'z', 'a name', '{"k": [1]}',
    ARRAY['2026-01-01 10:00:00']::timestamp[]);
SELECT name FROM fs_register_entity('doc', 'id');
SELECT name FROM fs_register_feature_view('m', 'more_vals', 'doc');
-- a uuid key: ids in any case convert to the same key
SELECT entity_id, feature_ref, value, jsonb_typeof(value) AS json_type
  FROM fs_get_features(ARRAY['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'], ARRAY['m:*']);
SELECT count(*) FILTER (WHERE status = 'PRESENT') AS present
  FROM fs_get_features(ARRAY['A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'], ARRAY['m:*']);
SELECT entity_id, features FROM fs_get_feature_vectors(ARRAY['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'], ARRAY['m:f_jsonb_arr', 'm:f_doc', 'm:f_lower0']);

DROP EXTENSION feature_store;
DROP TABLE vals, more_vals;
DROP DOMAIN doc;
DROP TYPE mood;
DROP DOMAIN positive_int;

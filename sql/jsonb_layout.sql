--
-- jsonb_layout: the jsonb that serving writes directly in jsonb's on-disk
-- form (fs_get_feature_vectors' objects, arrays served by fs_get_features)
-- is the jsonb PostgreSQL itself builds from the same values: equal, the
-- same text, the same size as its text read back, and readable by every
-- jsonb operator (which find keys and elements through the offsets).
--
-- pg_regress may have loaded the extension already; start from scratch.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_store CASCADE;
RESET client_min_messages;
CREATE EXTENSION feature_store;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

CREATE TABLE lay (
    id          text PRIMARY KEY,
    event_time  timestamptz,
    f_int       integer,
    f_float8    double precision,
    f_float4    real,
    f_numeric   numeric,
    f_text      text,
    f_bool      boolean,
    f_real_arr  real[],
    f_int_2d    integer[],
    f_text_arr  text[],
    f_jsonb     jsonb,
    f_jsonb_arr jsonb[],
    f_json      json,
    f_ts        timestamptz,
    f_bytea     bytea
);
INSERT INTO lay VALUES
  ('a', '2026-01-01', 7, 0.1::float8 + 0.2::float8, 0.1, 123.4500, 'héllo', true,
   '{0.5,-1.25,1e-07}', '{{1,NULL},{3,4}}', '{x,NULL,"y z"}',
   '{"k": [1, {"n": 1.50}], "a": null}', ARRAY['{"b": 2}', '3', '"s"', '[1, 2]']::jsonb[],
   '{"z": 1, "a": [2]}', '2026-01-01 12:34:56.789+02', '\x0102'),
  -- every element count past jsonb's offset stride (32), for arrays
  ('long', '2026-01-01', -1, 'NaN', '-Infinity', 'NaN', '', false,
   (SELECT array_agg(i / 8.0)::real[] FROM generate_series(1, 40) i),
   (SELECT array_agg(ARRAY[i, i * 1000000]) FROM generate_series(1, 35) i),
   (SELECT array_agg(repeat('x', i)) FROM generate_series(1, 33) i),
   (SELECT jsonb_agg(i) FROM generate_series(1, 50) i), '{}', '"s"', '2026-01-01', '\x'),
  ('empty', '2026-01-01', 0, '-0', 0, 0, NULL, NULL, '{}', '{}', '{}', '[]', '{}', '{}', NULL, NULL);
INSERT INTO lay (id, event_time) VALUES ('nulls', '2026-01-01');

SELECT name FROM fs_register_entity('thing', 'id');
SELECT name FROM fs_register_feature_view('lay', 'lay', 'thing');

-- a view of 40 features: more keys than jsonb's offset stride
SELECT format('CREATE TABLE wide (id text PRIMARY KEY, event_time timestamptz, %s)',
              string_agg(format('w%s double precision', i), ', ' ORDER BY i))
  FROM generate_series(1, 40) i \gexec
INSERT INTO wide (id, event_time) VALUES ('a', '2026-01-01');
SELECT format('INSERT INTO wide VALUES (%L, %L, %s)', 'b', '2026-01-01',
              string_agg(CASE WHEN i % 7 = 0 THEN 'NULL' ELSE (i * 1.5)::text END, ', ' ORDER BY i))
  FROM generate_series(1, 40) i \gexec
SELECT name FROM fs_register_feature_view('wide', 'wide', 'thing');

-- The vectors against an object built by jsonb_object_agg from the rows of
-- fs_get_features, for every entity (absent and NULL ones too), both views,
-- with a ref named twice.
CREATE FUNCTION check_layout(ids text[], refs text[]) RETURNS TABLE (
    entity_id text, equal bool, same_text bool, canonical_size bool,
    keys_found bool, pairs int)
LANGUAGE sql AS $$
  WITH v AS (
    SELECT n, v.entity_id, v.features
      FROM fs_get_feature_vectors(ids, refs) WITH ORDINALITY AS v(entity_id, features, n)),
  f AS (
    SELECT (n - 1) / cardinality(refs) AS e,
           feature_ref, value
      FROM fs_get_features(ids, refs) WITH ORDINALITY AS f(entity_id, feature_ref, value, t, s, n)),
  agg AS (
    SELECT e, jsonb_object_agg(feature_ref, coalesce(value, 'null')) AS obj FROM f GROUP BY e)
  SELECT v.entity_id,
         v.features = agg.obj,
         v.features::text = agg.obj::text,
         pg_column_size(ARRAY[v.features]) = pg_column_size(ARRAY[v.features::text::jsonb]),
         (SELECT bool_and(v.features -> k = agg.obj -> k AND v.features ? k)
            FROM jsonb_object_keys(agg.obj) k),
         (SELECT count(*)::int FROM jsonb_each(v.features))
    FROM v JOIN agg ON agg.e = v.n - 1
   ORDER BY v.n
$$;

SELECT * FROM check_layout(ARRAY['a', 'long', 'empty', 'nulls', 'absent', NULL],
                           ARRAY['lay:f_int', 'lay:f_float8', 'lay:f_float4', 'lay:f_numeric',
                                 'lay:f_text', 'lay:f_bool', 'lay:f_real_arr', 'lay:f_int_2d',
                                 'lay:f_text_arr', 'lay:f_jsonb', 'lay:f_jsonb_arr', 'lay:f_json',
                                 'lay:f_ts', 'lay:f_bytea']);
SELECT * FROM check_layout(ARRAY['a', 'b', 'absent'],
                           (SELECT array_agg(format('wide:w%s', i) ORDER BY i DESC)
                              FROM generate_series(1, 40) i));

-- the same object whatever the order of the refs, and a ref named twice is one key
SELECT a.features = b.features AS same, a.features::text = b.features::text AS same_text,
       (SELECT count(*) FROM jsonb_object_keys(a.features)) AS keys
  FROM fs_get_feature_vectors(ARRAY['a'], ARRAY['lay:f_int', 'lay:f_text', 'lay:f_int', 'lay:f_jsonb']) a,
       fs_get_feature_vectors(ARRAY['a'], ARRAY['lay:f_jsonb', 'lay:f_text', 'lay:f_int']) b;

-- what the operators read: keys and elements found through the offsets
SELECT features -> 'lay:f_real_arr' -> 39 AS arr_39,
       features -> 'lay:f_int_2d' -> 34 ->> 1 AS arr2d_34_1,
       features -> 'lay:f_text_arr' ->> 32 AS text_32,
       features -> 'lay:f_jsonb' -> 49 AS jsonb_49,
       jsonb_array_length(features -> 'lay:f_real_arr') AS n,
       features @> '{"lay:f_bool": false, "lay:f_jsonb": [50]}' AS contains
  FROM fs_get_feature_vectors(ARRAY['long'], ARRAY['lay:*']);
SELECT features -> 'lay:f_jsonb' -> 'k' -> 1 ->> 'n' AS nested,
       features -> 'lay:f_jsonb_arr' -> 0 -> 'b' AS elem_obj,
       features #> '{lay:f_int_2d,0}' AS row0,
       features -> 'wide:w40' AS absent_key
  FROM fs_get_feature_vectors(ARRAY['a'], ARRAY['lay:*']);
SELECT features -> 'wide:w1' AS w1, features -> 'wide:w33' AS w33, features -> 'wide:w40' AS w40,
       features -> 'wide:w35' AS w35_null, features ? 'wide:w35' AS has_w35
  FROM fs_get_feature_vectors(ARRAY['b'], ARRAY['wide:*']);

-- arrays served by fs_get_features: the jsonb PostgreSQL builds from their
-- text (sizes compared inside arrays, which give every value a full header)
SELECT feature_ref, value = (value::text)::jsonb AS equal,
       pg_column_size(ARRAY[value]) = pg_column_size(ARRAY[(value::text)::jsonb]) AS canonical_size,
       jsonb_array_length(value) AS n
  FROM fs_get_features(ARRAY['a', 'long', 'empty'],
                       ARRAY['lay:f_real_arr', 'lay:f_int_2d', 'lay:f_text_arr', 'lay:f_jsonb_arr']);
SELECT value FROM fs_get_features(ARRAY['a'], ARRAY['lay:f_real_arr', 'lay:f_int_2d', 'lay:f_jsonb_arr']);
SELECT features FROM fs_get_feature_vectors(ARRAY['a', 'empty', 'nulls'], ARRAY['lay:*']);

-- floats: the numeric written for each is the one PostgreSQL reads from the
-- float's text (to_jsonb goes through float8out and numeric_in): the same
-- value, text and size, over many magnitudes, both float widths
SET extra_float_digits = 1;
SELECT setseed(0.5);
CREATE TABLE floats (id text PRIMARY KEY, event_time timestamptz, d double precision, r real);
INSERT INTO floats
  SELECT 'x' || i, '2026-01-01',
         CASE i % 5
           WHEN 0 THEN (random() - 0.5) * 10 ^ (random() * 600 - 300)
           WHEN 1 THEN round((random() - 0.5) * 10 ^ (random() * 22))
           WHEN 2 THEN round(random() * 100000) / 10 ^ (i % 9)
           WHEN 3 THEN 10 ^ ((i / 5) % 40 - 20)
           ELSE (random() - 0.5) * 10 ^ (random() * 40 - 20)
         END,
         ((random() - 0.5) * 10 ^ (random() * 70 - 35))::real
    FROM generate_series(1, 5000) i;
INSERT INTO floats VALUES ('edge', '2026-01-01', 1.7976931348623157e308, 3.4028235e38),
                          ('tiny', '2026-01-01', 5e-324, 1e-45),
                          ('zero', '2026-01-01', '-0', '-0'),
                          ('mid', '2026-01-01', 123456789012345680000, 0.0001234);
SELECT name FROM fs_register_feature_view('floats', 'floats', 'thing');
SELECT count(*) AS values_checked,
       count(*) FILTER (WHERE f.value IS DISTINCT FROM j.canon) AS not_equal,
       count(*) FILTER (WHERE f.value::text IS DISTINCT FROM j.canon::text) AS other_text,
       count(*) FILTER (WHERE pg_column_size(ARRAY[f.value]) IS DISTINCT FROM
                              pg_column_size(ARRAY[j.canon])) AS other_size
  FROM floats t, fs_get_features(ARRAY[t.id], ARRAY['floats:d', 'floats:r']) f,
       LATERAL (SELECT CASE f.feature_ref WHEN 'floats:d' THEN to_jsonb(t.d)
                                          ELSE to_jsonb(t.r) END AS canon) j;
SELECT id, features FROM floats t, fs_get_feature_vectors(ARRAY[t.id], ARRAY['floats:*'])
 WHERE id IN ('edge', 'tiny', 'zero', 'mid') ORDER BY id;
RESET extra_float_digits;

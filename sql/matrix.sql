--
-- matrix: fs_get_feature_matrix, numeric and boolean features as one float8
-- array [entity][feature], on the embedded store and on fs_dynamodb
-- (dynalite): order, duplicates, every status as NULL, types, precision,
-- errors, privileges, expansion, equality with fs_get_features, size.
--
\getenv dynalite_endpoint FS_DYNALITE_ENDPOINT
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_store CASCADE;
DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'regress_fs_matrix') THEN DROP OWNED BY regress_fs_matrix; DROP ROLE regress_fs_matrix; END IF; END $$;
RESET client_min_messages;
CREATE EXTENSION feature_store;
SET timezone = 'UTC';
\set SHOW_CONTEXT never

-- SQLSTATE and message of a statement's error, or 'no error'.
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN EXECUTE q; RETURN 'no error'; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;

-- stats: every numeric type and a boolean; a ttl of 100 years
CREATE TABLE stats_t (
    user_id    text PRIMARY KEY,
    event_time timestamptz,
    s          smallint,
    i          integer,
    b          bigint,
    r          real,
    d          double precision,
    n          numeric,
    ok         boolean,
    label      text,
    tags       text[],
    doc        jsonb,
    seen       timestamptz
);
INSERT INTO stats_t VALUES
    ('u1', '2026-01-01', 1, 10, 100, 0.5, 0.25, 0.1, true, 'a', '{x}', '{}', '2026-01-01'),
    ('u2', '2026-01-01', -2, NULL, 9007199254740993, 1.5, -0.75, 123456.789, false, NULL, NULL, NULL, NULL),
    ('u3', '1900-01-01', 3, 30, 300, 3.5, 3.25, 3, true, 'c', NULL, NULL, NULL);  -- older than the ttl
CREATE DOMAIN score AS numeric CHECK (VALUE >= 0);
CREATE TABLE profile_t (user_id text PRIMARY KEY, event_time timestamptz, age int, sc score);
INSERT INTO profile_t VALUES ('u1', '2026-01-01', 31, 0.5), ('u4', NULL, 44, 4);
SELECT name FROM fs_register_entity('user', 'user_id');
SELECT name FROM fs_register_feature_view('stats', 'stats_t', 'user', ttl => '36500 days');
SELECT name FROM fs_register_feature_view('profile', 'profile_t', 'user');
SELECT name FROM fs_register_feature_service('svc', ARRAY['profile:age', 'stats:i']);

-- Rows in input order, duplicates repeated; NULL for NOT_FOUND (u9, a NULL
-- id), OUTSIDE_MAX_AGE (u3) and NULL_VALUE (u2's i); booleans 0/1.
SELECT fs_get_feature_matrix(ARRAY['u2', 'u1', 'u9', NULL, 'u3', 'u1'],
                             ARRAY['stats:i', 'stats:ok', 'profile:age']);
-- The same cells as fs_get_features gives: NULL exactly where not PRESENT.
SELECT entity_id, feature_ref, status FROM fs_get_features(ARRAY['u2', 'u9', 'u3'], ARRAY['stats:i']);
SELECT array_dims(fs_get_feature_matrix(ARRAY['u2', 'u1', 'u9', NULL, 'u3', 'u1'],
                                        ARRAY['stats:i', 'stats:ok', 'profile:age']));

-- Every numeric type; numeric 0.1 is float8 0.1, a domain over numeric by its base type.
SELECT m[1][1] AS s, m[1][2] AS i, m[1][3] AS b, m[1][4] AS r, m[1][5] AS d,
       m[1][6] AS n, m[1][6] = 0.1::float8 AS n_exact, m[1][7] AS sc,
       m[2][3] AS big, m[2][3] = 9007199254740993::bigint::float8 AS big_exact,
       m[2][6] AS n2, m[2][1] AS neg
  FROM fs_get_feature_matrix(ARRAY['u1', 'u2'],
                             ARRAY['stats:s', 'stats:i', 'stats:b', 'stats:r', 'stats:d',
                                   'stats:n', 'profile:sc']) AS m;
SELECT pg_typeof(fs_get_feature_matrix(ARRAY['u1'], ARRAY['stats:s']));

-- Services and 'view:*' expand as in fs_get_features (here without the text columns).
SELECT fs_get_feature_matrix(ARRAY['u1', 'u4'], ARRAY['svc', 'profile:*']);
SELECT array_agg(feature_ref ORDER BY ord) FROM fs_get_features(ARRAY['u1'], ARRAY['svc', 'profile:*'])
  WITH ORDINALITY AS t(entity_id, feature_ref, value, event_time, status, ord);

-- Any other type is 42804 naming the feature.
SELECT pg_temp.err($$SELECT fs_get_feature_matrix(ARRAY['u1'], ARRAY['stats:i', 'stats:label'])$$);
SELECT pg_temp.err($$SELECT fs_get_feature_matrix(ARRAY['u1'], ARRAY['stats:tags'])$$);
SELECT pg_temp.err($$SELECT fs_get_feature_matrix(ARRAY['u1'], ARRAY['stats:doc'])$$);
SELECT pg_temp.err($$SELECT fs_get_feature_matrix(ARRAY['u1'], ARRAY['stats:seen'])$$);
-- ... even with no entity, and 'view:*' of a view with text columns too.
SELECT pg_temp.err($$SELECT fs_get_feature_matrix('{}', ARRAY['stats:*'])$$);
SELECT fs_get_feature_matrix(ARRAY['u1'], ARRAY['stats:doc']);
\echo :LAST_ERROR_SQLSTATE
-- Unknown references fail as in fs_get_features.
SELECT pg_temp.err($$SELECT fs_get_feature_matrix(ARRAY['u1'], ARRAY['stats:nope'])$$)
     = pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['stats:nope'])$$) AS same_error;

-- Empty entity ids: '{}'; NULL arguments: NULL (strict).
SELECT fs_get_feature_matrix('{}', ARRAY['stats:i']);
SELECT fs_get_feature_matrix(NULL, ARRAY['stats:i']) IS NULL AS strict;

-- A numeric beyond double precision: 22003 naming the feature and the entity.
CREATE TABLE huge_t (user_id text PRIMARY KEY, event_time timestamptz, n numeric);
INSERT INTO huge_t VALUES ('h1', NULL, 1e400), ('h2', NULL, 1e-400), ('h3', NULL, 'NaN'), ('h4', NULL, '-Infinity');
SELECT name FROM fs_register_feature_view('huge', 'huge_t', 'user');
SELECT pg_temp.err($$SELECT fs_get_feature_matrix(ARRAY['h2', 'h1'], ARRAY['huge:n'])$$);
SELECT fs_get_feature_matrix(ARRAY['h2', 'h3', 'h4'], ARRAY['huge:n']);

-- Privileges: the same error as fs_get_features.
CREATE ROLE regress_fs_matrix;
GRANT SELECT (user_id, event_time, i) ON stats_t TO regress_fs_matrix;
SET ROLE regress_fs_matrix;
SELECT fs_get_feature_matrix(ARRAY['u1'], ARRAY['stats:i']);
SELECT pg_temp.err($$SELECT fs_get_feature_matrix(ARRAY['u1'], ARRAY['stats:b'])$$);
SELECT pg_temp.err($$SELECT fs_get_feature_matrix(ARRAY['u1'], ARRAY['stats:b'])$$)
     = pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['stats:b'])$$) AS same_error;
SELECT pg_temp.err($$SELECT fs_get_feature_matrix(ARRAY['u1'], ARRAY['profile:age'])$$);
SELECT pg_temp.err($$SELECT fs_get_feature_matrix(ARRAY['u1'], ARRAY['profile:age'])$$)
     = pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['profile:age'])$$) AS same_error;
RESET ROLE;

-- Equal to fs_get_features' PRESENT values, NULL elsewhere, for 500 ids
-- (some missing, some repeated) and every numeric feature.
CREATE TABLE wide_t (user_id text PRIMARY KEY, event_time timestamptz,
                     a int, b float8, c numeric, d boolean, e real);
INSERT INTO wide_t
SELECT 'w' || g, '2026-01-01',
       CASE WHEN g % 7 = 0 THEN NULL ELSE g END, g / 3.0, round(g / 7.0, 5), g % 2 = 0, g * 0.1
  FROM generate_series(1, 400) g;
SELECT name FROM fs_register_feature_view('wide', 'wide_t', 'user');
CREATE TEMP TABLE ids AS
SELECT array_agg('w' || ((g * 37) % 450 + 1) ORDER BY g) AS ids FROM generate_series(1, 500) g;
WITH m AS (SELECT fs_get_feature_matrix(ids, ARRAY['wide:*', 'stats:i']) AS m FROM ids),
     f AS (SELECT ord, feature_ref, value, status
             FROM ids, fs_get_features(ids, ARRAY['wide:*', 'stats:i'])
                  WITH ORDINALITY AS t(entity_id, feature_ref, value, event_time, status, ord))
SELECT count(*) AS cells,
       count(*) FILTER (WHERE f.status = 'PRESENT') AS present,
       count(*) FILTER (WHERE m.m[(f.ord - 1) / 6 + 1][(f.ord - 1) % 6 + 1] IS DISTINCT FROM
                              CASE WHEN f.status <> 'PRESENT' THEN NULL
                                   WHEN jsonb_typeof(f.value) = 'boolean'
                                   THEN CASE WHEN f.value::boolean THEN 1 ELSE 0 END
                                   WHEN f.feature_ref = 'wide:e' THEN f.value::text::real::float8
                                   ELSE f.value::text::float8 END) AS differ
  FROM m, f;

-- 10,000 entities by 50 features: dimensions and a checksum.
CREATE TABLE big_t (user_id text PRIMARY KEY, event_time timestamptz,
                    f01 float8, f02 float8, f03 float8, f04 float8, f05 float8,
                    f06 float8, f07 float8, f08 float8, f09 float8, f10 float8);
INSERT INTO big_t SELECT 'b' || g, '2026-01-01', g, g, g, g, g, g, g, g, g, g
  FROM generate_series(1, 10000) g;
SELECT name FROM fs_register_feature_view('big', 'big_t', 'user');
SELECT array_dims(m), array_length(m, 1) * array_length(m, 2) AS cells,
       (SELECT sum(x) FROM unnest(m) x) AS checksum,
       (SELECT count(*) FROM unnest(m) x WHERE x IS NULL) AS nulls,
       m[1][1] AS first, m[10000][50] AS last
  FROM (SELECT fs_get_feature_matrix(ARRAY(SELECT 'b' || g FROM generate_series(1, 10000) g ORDER BY g),
                                     ARRAY['big:*', 'big:*', 'big:*', 'big:*', 'big:*']) AS m) s;

--
-- fs_dynamodb (dynalite): the same values as fs_get_features, local and
-- remote views in one call, and a store that cannot be reached.
--
SELECT 'matrix_' || substr(md5(random()::text), 1, 12) AS remote_table \gset
CREATE SERVER ddb_srv FOREIGN DATA WRAPPER fs_dynamodb
    OPTIONS (endpoint :'dynalite_endpoint', region 'us-east-1');
CREATE USER MAPPING FOR PUBLIC SERVER ddb_srv
    OPTIONS (access_key_id 'test', secret_access_key 'test');
CREATE FOREIGN TABLE activity_online (user_id text, event_time timestamptz,
    clicks bigint, ctr float8, n numeric, ok boolean, small smallint, query text)
    SERVER ddb_srv OPTIONS (table :'remote_table', key 'user_id');
SELECT fs_create_online_table('activity_online');
INSERT INTO activity_online VALUES
    ('u1', '2026-01-01 00:00:00+00', 10, 0.5, 0.1, true, 7, 'shoes'),
    ('u2', '2000-01-01 00:00:00+00', 20, 0.25, 123456.789, false, -1, 'hats'),
    ('u3', '2026-01-01 00:00:00+00', NULL, NULL, NULL, NULL, NULL, NULL);
SELECT name FROM fs_register_feature_view('activity', 'activity_online', 'user', ttl => '10 years');
SELECT fs_get_feature_matrix(ARRAY['u1', 'u2', 'u3', 'u9', NULL, 'u1'],
                             ARRAY['activity:clicks', 'activity:ctr', 'activity:n',
                                   'activity:ok', 'activity:small']);
SELECT m[1][3] = 0.1::float8 AS n_exact
  FROM fs_get_feature_matrix(ARRAY['u1'], ARRAY['activity:clicks', 'activity:ctr', 'activity:n']) AS m;
SELECT pg_temp.err($$SELECT fs_get_feature_matrix(ARRAY['u1'], ARRAY['activity:query'])$$);
-- Both stores in one call, equal to fs_get_features.
SELECT fs_get_feature_matrix(ARRAY['u1', 'u4', 'u2'], ARRAY['profile:age', 'activity:clicks', 'stats:ok']);
WITH m AS (SELECT fs_get_feature_matrix(ARRAY['u1', 'u2', 'u3', 'u4'],
                                        ARRAY['profile:age', 'activity:clicks', 'activity:ctr', 'activity:n']) AS m),
     f AS (SELECT ord, value, status
             FROM fs_get_features(ARRAY['u1', 'u2', 'u3', 'u4'],
                                  ARRAY['profile:age', 'activity:clicks', 'activity:ctr', 'activity:n'])
                  WITH ORDINALITY AS t(entity_id, feature_ref, value, event_time, status, ord))
SELECT count(*) AS cells, count(*) FILTER (WHERE status = 'PRESENT') AS present,
       count(*) FILTER (WHERE m.m[(ord - 1) / 4 + 1][(ord - 1) % 4 + 1] IS DISTINCT FROM
                              CASE WHEN status = 'PRESENT' THEN value::text::float8 END) AS differ
  FROM m, f;

-- A store that cannot be reached: its error by default; NULL cells and a
-- WARNING under on_store_error = 'unavailable'.
CREATE SERVER ddb_dead FOREIGN DATA WRAPPER fs_dynamodb
    OPTIONS (endpoint 'http://127.0.0.1:1', region 'us-east-1', max_retries '0');
CREATE USER MAPPING FOR PUBLIC SERVER ddb_dead
    OPTIONS (access_key_id 'test', secret_access_key 'test');
CREATE FOREIGN TABLE dead_online (user_id text, event_time timestamptz, clicks bigint)
    SERVER ddb_dead OPTIONS (table 'dead', key 'user_id');
SELECT name FROM fs_register_feature_view('dead', 'dead_online', 'user');
SELECT fs_get_feature_matrix(ARRAY['u1'], ARRAY['profile:age', 'dead:clicks']);
SET feature_store.on_store_error = 'unavailable';
SELECT fs_get_feature_matrix(ARRAY['u1', 'u2'], ARRAY['profile:age', 'dead:clicks', 'activity:clicks']);
RESET feature_store.on_store_error;

DROP EXTENSION feature_store CASCADE;
DROP TABLE stats_t, profile_t, huge_t, wide_t, big_t;
DROP DOMAIN score;
DROP OWNED BY regress_fs_matrix;
DROP ROLE regress_fs_matrix;

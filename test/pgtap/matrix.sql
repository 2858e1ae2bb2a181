-- fs_get_feature_matrix, unit by unit: its shape, each numeric type's
-- conversion to float8, NULL for every status but PRESENT, and every error
-- with its SQLSTATE (embedded store; sql/matrix.sql covers fs_dynamodb).
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION feature_store;
SELECT plan(20);

CREATE TABLE m_t (user_id text PRIMARY KEY, event_time timestamptz,
                  s smallint, i int, b bigint, r real, d float8, n numeric, ok boolean,
                  label text, tags int[], doc jsonb, seen timestamptz);
INSERT INTO m_t VALUES
    ('u1', now(), 1, 2, 3, 0.5, 0.25, 0.1, true, 'x', '{1}', '{}', now()),
    ('u2', now(), NULL, NULL, NULL, NULL, NULL, NULL, false, NULL, NULL, NULL, NULL),
    ('old', '2000-01-01', 9, 9, 9, 9, 9, 9, true, NULL, NULL, NULL, NULL);
CREATE TABLE big_n (user_id text PRIMARY KEY, event_time timestamptz, n numeric);
INSERT INTO big_n VALUES ('h', NULL, 1e400);
SELECT name FROM fs_register_entity('user', 'user_id');
SELECT name FROM fs_register_feature_view('m', 'm_t', 'user', ttl => '1 year');
SELECT name FROM fs_register_feature_view('bn', 'big_n', 'user');

SELECT is(fs_get_feature_matrix(ARRAY['u1'], ARRAY['m:s', 'm:i', 'm:b', 'm:r', 'm:d', 'm:n']),
          '{{1,2,3,0.5,0.25,0.1}}'::float8[], 'every numeric type converts to float8');
SELECT is((fs_get_feature_matrix(ARRAY['u1'], ARRAY['m:n']))[1][1], 0.1::float8,
          'numeric 0.1 is float8 0.1 (correctly rounded)');
SELECT is(fs_get_feature_matrix(ARRAY['u1', 'u2'], ARRAY['m:ok']), '{{1},{0}}'::float8[],
          'booleans are 1 and 0');
SELECT is((fs_get_feature_matrix(ARRAY['u2'], ARRAY['m:i']))[1][1], NULL::float8, 'NULL_VALUE is NULL');
SELECT is((fs_get_feature_matrix(ARRAY['nobody'], ARRAY['m:i']))[1][1], NULL::float8, 'NOT_FOUND is NULL');
SELECT is((fs_get_feature_matrix(ARRAY['old'], ARRAY['m:i']))[1][1], NULL::float8, 'OUTSIDE_MAX_AGE is NULL');
SELECT is(fs_get_feature_matrix(ARRAY[NULL, 'u1'], ARRAY['m:i']), '{{NULL},{2}}'::float8[],
          'a NULL id gives a row of NULLs');
SELECT is(array_dims(fs_get_feature_matrix(ARRAY['u1', 'u2', 'u1'], ARRAY['m:i', 'm:i'])), '[1:3][1:2]',
          'one row per input position, one column per reference, duplicates kept');
SELECT is(fs_get_feature_matrix(ARRAY['u2', 'u1', 'u2'], ARRAY['m:ok', 'm:i']),
          '{{0,NULL},{1,2},{0,NULL}}'::float8[], 'rows in input order, columns in reference order');
SELECT is(fs_get_feature_matrix('{}', ARRAY['m:i']), '{}'::float8[], 'no entity: the empty array');
SELECT is(fs_get_feature_matrix(ARRAY['u1'], '{}'), '{}'::float8[], 'no reference: the empty array');
SELECT is(fs_get_feature_matrix(NULL, ARRAY['m:i']), NULL::float8[], 'a NULL argument: NULL (strict)');

SELECT throws_ok($$SELECT fs_get_feature_matrix(ARRAY['u1'], ARRAY['m:label'])$$, '42804',
                 'feature "m:label" is of type text, not a number or boolean', 'text: 42804');
SELECT throws_ok($$SELECT fs_get_feature_matrix(ARRAY['u1'], ARRAY['m:tags'])$$, '42804',
                 'feature "m:tags" is of type integer[], not a number or boolean', 'arrays: 42804');
SELECT throws_ok($$SELECT fs_get_feature_matrix(ARRAY['u1'], ARRAY['m:doc'])$$, '42804',
                 'feature "m:doc" is of type jsonb, not a number or boolean', 'jsonb: 42804');
SELECT throws_ok($$SELECT fs_get_feature_matrix(ARRAY['u1'], ARRAY['m:seen'])$$, '42804',
                 'feature "m:seen" is of type timestamp with time zone, not a number or boolean',
                 'timestamptz: 42804');
SELECT throws_ok($$SELECT fs_get_feature_matrix('{}', ARRAY['m:*'])$$, '42804', NULL,
                 'checked before any lookup, even with no entity');
SELECT throws_ok($$SELECT fs_get_feature_matrix(ARRAY['h'], ARRAY['bn:n'])$$, '22003',
                 'value of feature "bn:n" for entity "h" is out of range for type double precision',
                 'a numeric beyond float8: 22003 naming feature and entity');
SELECT throws_ok($$SELECT fs_get_feature_matrix(ARRAY['u1'], ARRAY['nope:x'])$$, '42704', NULL,
                 'an unknown view fails as in fs_get_features');
SELECT is(fs_get_feature_matrix(ARRAY['u1'], ARRAY['m:n', 'm:n']), '{{0.1,0.1}}'::float8[],
          'a repeated reference repeats its column');

SELECT * FROM finish();
ROLLBACK;

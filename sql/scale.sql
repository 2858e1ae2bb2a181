--
-- scale: one call for 10,000 entities x 50 features, every row checked for
-- its position, status and value.
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

-- f01..f20 integer (g * k), f21..f35 double precision (g + k / 8),
-- f36..f50 text ('e<g>_<k>'); entity e<g> for g in 1..10000 except
-- multiples of 1000 (absent); f01 is NULL when g is a multiple of 7.
DO $$
BEGIN
    EXECUTE 'CREATE TABLE wide_t (entity text PRIMARY KEY, event_time timestamptz NOT NULL, '
         || (SELECT string_agg(format('f%s %s', lpad(k::text, 2, '0'),
                                      CASE WHEN k <= 20 THEN 'integer'
                                           WHEN k <= 35 THEN 'double precision'
                                           ELSE 'text' END), ', ' ORDER BY k)
               FROM generate_series(1, 50) k)
         || ')';
    EXECUTE 'INSERT INTO wide_t SELECT ''e'' || g, ''2026-01-01 00:00:00+00'', '
         || (SELECT string_agg(CASE WHEN k = 1 THEN 'CASE WHEN g % 7 = 0 THEN NULL ELSE g END'
                                    WHEN k <= 20 THEN format('g * %s', k)
                                    WHEN k <= 35 THEN format('g + %s / 8.0::float8', k)
                                    ELSE format('''e'' || g || ''_%s''', k) END, ', ' ORDER BY k)
               FROM generate_series(1, 50) k)
         || ' FROM generate_series(1, 10000) g WHERE g % 1000 <> 0';
END $$;
SELECT count(*) AS rows, count(f01) AS f01_not_null FROM wide_t;

SELECT name FROM fs_register_entity('ent', 'entity');
SELECT name FROM fs_register_feature_view('wide', 'wide_t', 'ent', ttl => '36500 days');

CREATE TEMP TABLE served AS
SELECT t.*
  FROM fs_get_features(array(SELECT 'e' || g FROM generate_series(1, 10000) g), ARRAY['wide:*'])
       WITH ORDINALITY AS t(entity_id, feature_ref, value, event_time, status, ord);

SELECT count(*) AS rows,
       count(*) FILTER (WHERE status = 'PRESENT') AS present,
       count(*) FILTER (WHERE status = 'NULL_VALUE') AS null_value,
       count(*) FILTER (WHERE status = 'NOT_FOUND') AS not_found,
       count(DISTINCT entity_id) AS entities,
       count(DISTINCT feature_ref) AS features
  FROM served;

-- every row at its place: entity-major, features in column order
SELECT count(*) AS misplaced
  FROM served
 WHERE entity_id <> 'e' || ((ord - 1) / 50 + 1)
    OR feature_ref <> 'wide:f' || lpad(((ord - 1) % 50 + 1)::text, 2, '0');

-- every value what was stored, every status what it should be
WITH expect AS (
    SELECT s.*, (ord - 1) / 50 + 1 AS g, (ord - 1) % 50 + 1 AS k FROM served s
)
SELECT count(*) AS wrong
  FROM expect
 WHERE status IS DISTINCT FROM
           CASE WHEN g % 1000 = 0 THEN 'NOT_FOUND'
                WHEN k = 1 AND g % 7 = 0 THEN 'NULL_VALUE'
                ELSE 'PRESENT' END
    OR value IS DISTINCT FROM
           CASE WHEN g % 1000 = 0 OR (k = 1 AND g % 7 = 0) THEN NULL
                WHEN k <= 20 THEN to_jsonb(g * k)
                WHEN k <= 35 THEN to_jsonb(g + k / 8.0::float8)
                ELSE to_jsonb('e' || g || '_' || k) END
    OR event_time IS DISTINCT FROM
           CASE WHEN g % 1000 = 0 THEN NULL ELSE '2026-01-01 00:00:00+00'::timestamptz END;

-- a few positions, spelled out
SELECT ord, entity_id, feature_ref, value, status
  FROM served
 WHERE ord IN (1, 20, 21, 36, 50, 301, 49951, 61636, 250000, 499999, 500000)
 ORDER BY ord;

-- fs_get_feature_vectors: one row per entity, 50 keys each
CREATE TEMP TABLE vectors AS
SELECT t.*
  FROM fs_get_feature_vectors(array(SELECT 'e' || g FROM generate_series(1, 10000) g), ARRAY['wide:*'])
       WITH ORDINALITY AS t(entity_id, features, ord);
SELECT count(*) AS rows,
       count(*) FILTER (WHERE entity_id <> 'e' || ord) AS misplaced,
       min((SELECT count(*) FROM jsonb_object_keys(features))) AS min_keys,
       max((SELECT count(*) FROM jsonb_object_keys(features))) AS max_keys,
       sum((SELECT count(*) FROM jsonb_each(features) e WHERE e.value <> 'null')) AS non_null_values
  FROM vectors;
SELECT ord, entity_id, features -> 'wide:f01' AS f01, features -> 'wide:f02' AS f02,
       features -> 'wide:f21' AS f21, features -> 'wide:f50' AS f50
  FROM vectors WHERE ord IN (1, 7, 1000, 1233, 10000) ORDER BY ord;
-- the vectors agree with the rows
SELECT count(*) AS disagreeing
  FROM served s JOIN vectors v ON v.ord = (s.ord - 1) / 50 + 1
 WHERE v.features -> s.feature_ref IS DISTINCT FROM coalesce(s.value, 'null');

-- duplicates at scale: the same 100 entities 100 times over
SELECT count(*) AS rows, count(DISTINCT entity_id) AS entities,
       count(*) FILTER (WHERE status = 'PRESENT') AS present
  FROM fs_get_features(array(SELECT 'e' || (g % 100 + 1) FROM generate_series(1, 10000) g),
                       ARRAY['wide:f02', 'wide:f50']);

-- a hint about a view of 50 features names the first 20 and the count
SELECT * FROM fs_get_features(ARRAY['e1'], ARRAY['wide:f51']);

DROP EXTENSION feature_store;
DROP TABLE wide_t;

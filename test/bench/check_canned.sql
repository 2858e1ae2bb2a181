-- The canned benchmark's check, before any timing (test/bench/run_canned.sh):
-- fs_get_features over bench_canned returns, for all the responder's
-- entities, every cell PRESENT with the value the responder generated
-- (its --dump file, "user_id,feature,value", on standard input).  A mismatch fails the bench.
--
--   psql -X -v ON_ERROR_STOP=1 -f test/bench/check_canned.sql < dump.csv

\set QUIET on
SET client_min_messages = warning;
CREATE TEMP TABLE canned_expected (user_id text, feature text, value float8);
\copy canned_expected FROM pstdin WITH (FORMAT csv)

SELECT array_agg(DISTINCT user_id) AS ids FROM canned_expected \gset
WITH got AS (
    SELECT entity_id, split_part(feature_ref, ':', 2) AS feature, value, status
      FROM fs_get_features(:'ids'::text[], ARRAY['bench_canned:*'])
)
SELECT (SELECT count(*) FROM canned_expected) AS expected_cells,
       count(*) AS cells,
       count(*) FILTER (WHERE g.status = 'PRESENT') AS present,
       count(*) FILTER (WHERE g.status = 'PRESENT' AND (g.value)::float8 = e.value) AS same_value
  FROM got g LEFT JOIN canned_expected e ON e.user_id = g.entity_id AND e.feature = g.feature \gset
SELECT :expected_cells > 0 AND :cells = :expected_cells AND :present = :expected_cells
       AND :same_value = :expected_cells AS canned_ok \gset
\if :canned_ok
\echo canned check: fs_get_features returned :present PRESENT cells of :expected_cells, every value the responder generated
\else
\echo canned check FAILED: :cells cells, :present PRESENT, :same_value with the value served, of :expected_cells expected
SELECT 1/0 AS canned_check_failed;
\endif

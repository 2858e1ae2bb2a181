--
-- stats: serving statistics (fs_stats, fs_stats_reset, fs_metrics) on the
-- embedded store: exact counts per status from each serving function, a
-- call serving two views counts for each, a call that raised is not a call,
-- percentiles in order, reset, privileges, the metric lines and their label
-- escaping.  (Store figures are checked against a failing store in
-- test/dynamodb/run_faults.sh, the exposition format by an npm parser in
-- test/stats/run_metrics.sh.)
--
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_store CASCADE;
DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'regress_fs_stats') THEN DROP OWNED BY regress_fs_stats; DROP ROLE regress_fs_stats; END IF; END $$;
RESET client_min_messages;
CREATE EXTENSION feature_store;
SET timezone = 'UTC';
\set SHOW_CONTEXT never

-- SQLSTATE and message of a statement's error, or 'no error'.
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN EXECUTE q; RETURN 'no error'; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;

-- Statistics outlive the extension (they are kept by database and view
-- name): start from none.
SELECT fs_stats_reset() >= 0 AS reset;
SELECT count(*) AS views_counted FROM fs_stats;

CREATE TABLE st_a (user_id text PRIMARY KEY, event_time timestamptz, x int, y float8);
CREATE TABLE st_b (user_id text PRIMARY KEY, event_time timestamptz, z boolean, t text);
INSERT INTO st_a VALUES ('u1', now(), 1, 0.5), ('u2', now(), NULL, 1.5),
                        ('u3', now() - interval '2 days', 3, 2.5);
INSERT INTO st_b VALUES ('u1', now(), true, 'a'), ('u2', now(), NULL, 'b');
SELECT name FROM fs_register_entity('user', 'user_id');
SELECT name FROM fs_register_feature_view('st_a', 'st_a', 'user', ttl => interval '1 day');
SELECT name FROM fs_register_feature_view('st_b', 'st_b', 'user');

-- A view not served yet has no row.
SELECT count(*) AS views_counted FROM fs_stats;

-- 6 ids (a duplicate, an unknown, a NULL) x 3 refs (one twice) of st_a:
-- u1 3 present twice, u2 1 null twice and 1 present, u3 3 outside the ttl,
-- u4 and NULL 3 not found each.
SELECT status, count(*)
  FROM fs_get_features(ARRAY['u1', 'u2', 'u3', 'u4', NULL, 'u1'], ARRAY['st_a:x', 'st_a:y', 'st_a:x'])
 GROUP BY status ORDER BY status;
SELECT feature_view, calls, entities, present, null_value, not_found, outside_max_age, unavailable,
       store_requests, retries, throttles, store_errors
  FROM fs_stats ORDER BY feature_view;

-- Two views in one call: each counts the call and its own values.
SELECT entity_id, features FROM fs_get_feature_vectors(ARRAY['u1', 'u2'], ARRAY['st_a:x', 'st_b:z']);
SELECT fs_get_feature_matrix(ARRAY['u1', 'u9'], ARRAY['st_b:z']);
-- No entity: a call of no entity.
SELECT count(*) FROM fs_get_features('{}', ARRAY['st_a:x']);
-- Calls that raised are not calls (the matrix refuses text before any lookup).
SELECT pg_temp.err($$SELECT fs_get_feature_matrix(ARRAY['u1'], ARRAY['st_b:t'])$$);
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['st_b:nope'])$$);
SELECT feature_view, calls, entities, present, null_value, not_found, outside_max_age, unavailable,
       store_requests, retries, throttles, store_errors
  FROM fs_stats ORDER BY feature_view;
-- every value served has a status counted: entities x refs, per view
SELECT feature_view,
       present + null_value + not_found + outside_max_age + unavailable AS values_counted
  FROM fs_stats ORDER BY feature_view;

-- Call times: percentiles in order, each within the histogram's 9.1% of a
-- real call time, and a reset time in the past.  With at most 100 calls the
-- p99 is the longest call's: no call, so no total, exceeds calls x p99
-- (a call of 20,000 ids among short ones makes that tell); the p50 is a
-- call's, so no more than the total.
SELECT count(*) FROM fs_get_features(array(SELECT 'u' || i FROM generate_series(1, 20000) i),
                                     ARRAY['st_a:x']);
SELECT feature_view, p50_ms > 0 AND p50_ms <= p95_ms AND p95_ms <= p99_ms AS in_order,
       total_ms <= calls * p99_ms * 1.0906 AS p99_is_the_longest,
       p50_ms <= total_ms * 1.0906 AS p50_within_total, stats_reset <= now() AS reset_in_past
  FROM fs_stats ORDER BY feature_view;

-- A call in a transaction that rolls back still happened.
BEGIN;
SELECT count(*) FROM fs_get_features(ARRAY['u1'], ARRAY['st_b:z']);
ROLLBACK;
SELECT calls FROM fs_stats WHERE feature_view = 'st_b';

-- fs_metrics: the same figures, one line per family and view.
SELECT line
  FROM regexp_split_to_table(fs_metrics(), E'\n') WITH ORDINALITY AS l(line, n)
 WHERE line LIKE '%{view="st_b"%' AND line NOT LIKE '%duration_seconds%'
 ORDER BY n;
SELECT line
  FROM regexp_split_to_table(fs_metrics(), E'\n') WITH ORDINALITY AS l(line, n)
 WHERE line LIKE 'feature_store_serving_call_duration_seconds_%{view="st_b"%'
   AND line !~ '_sum|le="0'
 ORDER BY n;
-- the histogram: cumulative, and its count is the calls'
SELECT bool_and(c >= lag_c) AS cumulative, max(c) = (SELECT calls FROM fs_stats WHERE feature_view = 'st_a') AS all_counted
  FROM (SELECT c, coalesce(lag(c) OVER (ORDER BY n), 0) AS lag_c
          FROM (SELECT n, substring(line FROM ' (\d+)$')::bigint AS c
                  FROM regexp_split_to_table(fs_metrics(), E'\n') WITH ORDINALITY AS l(line, n)
                 WHERE line LIKE 'feature_store_serving_call_duration_seconds_bucket{view="st_a"%') b) d;
-- each family is announced once, before its samples
SELECT count(*) FILTER (WHERE line LIKE '# TYPE %') = count(DISTINCT split_part(line, ' ', 3))
           FILTER (WHERE line LIKE '# TYPE %') AS one_type_line_each,
       count(*) FILTER (WHERE line LIKE '# HELP %') = count(*) FILTER (WHERE line LIKE '# TYPE %')
           AS one_help_line_each
  FROM regexp_split_to_table(fs_metrics(), E'\n') AS line;

-- A view's name is a label value: backslash, double quote and newline escaped.
CREATE TABLE st_c (user_id text PRIMARY KEY, event_time timestamptz, x int);
SELECT name = E'st "c\\\nx' AS registered
  FROM fs_register_feature_view(E'st "c\\\nx', 'st_c', 'user');
SELECT count(*) FROM fs_get_features(ARRAY['u1'], ARRAY[E'st "c\\\nx:x']);
SELECT line
  FROM regexp_split_to_table(fs_metrics(), E'\n') AS line
 WHERE line LIKE 'feature_store_serving_calls_total%' ORDER BY line COLLATE "C";

-- Everyone may read the figures (names and counts, never values); only a
-- superuser (or whom one grants it) may reset them.
CREATE ROLE regress_fs_stats;
SET ROLE regress_fs_stats;
SELECT count(*) AS views_seen FROM fs_stats;
SELECT fs_metrics() LIKE '%feature_store_serving_calls_total{view="st_a"} 4%' AS metrics_seen;
SELECT pg_temp.err($$SELECT fs_stats_reset()$$);
RESET ROLE;

-- A dropped view's figures are no longer shown.
SELECT fs_drop_feature_view(E'st "c\\\nx');
SELECT feature_view FROM fs_stats ORDER BY feature_view;

-- The reset forgets this database's figures (the dropped view's too).
SELECT fs_stats_reset() AS views_forgotten;
SELECT count(*) AS views_counted FROM fs_stats;
SELECT count(*) FROM regexp_split_to_table(fs_metrics(), E'\n') AS line
 WHERE line LIKE 'feature_store_serving_%{view=%';

DROP ROLE regress_fs_stats;

-- Batch ingestion benchmark: a snapshot of :rows entities (default 1,000,000)
-- with 20 features, ingested twice with fs_ingest: first into an empty view,
-- then again with 1% of the entities changed.  The view is stored in the
-- embedded store (a table) or, with -v store=dynamodb, in a foreign table of
-- fs_dynamodb whose remote table this script creates at -v endpoint.
--
--   psql -X -v ON_ERROR_STOP=1 [-v rows=N] [-v store=embedded] -f test/bench/ingest.sql
--   psql -X -v ON_ERROR_STOP=1 [-v rows=N] -v store=dynamodb \
--        -v endpoint=http://127.0.0.1:PORT -f test/bench/ingest.sql
--
-- Run it in a database of its own (run.sh creates and drops fs_bench_ingest)
-- and, for dynamodb, against a store of its own: it recreates the extension,
-- so that the run uses the installed version, the view bench_ingest and the
-- table bench_ingest_staging, and creates the remote table fs_bench_ingest.
-- The staging table holds text, as after a COPY of a CSV file.
--
-- Change detection is the silver pass (cast, validate, deduplicate, compare
-- with fs_ingest_state): its rate is rows_read / silver_ms.  Then, per run:
-- online_writes against the number of entities that changed, the time end to
-- end (the fs_ingest statement, commit included), and, for dynamodb, the
-- requests sent to the store and the time spent waiting on it.  After the
-- second run a sample of changed and of unchanged entities is read back from
-- the view and compared with the source.  A wrong count or a wrong value
-- ends the script with an error, after the figures; a missed target does not.

\set QUIET on
\if :{?rows}
\else
\set rows 1000000
\endif
\if :{?store}
\else
\set store embedded
\endif
\if :{?sample}
\else
\set sample 1000
\endif
SELECT :'store' = 'dynamodb' AS ddb, :'store' IN ('embedded', 'dynamodb') AS store_ok \gset
\if :store_ok
\else
\echo 'ingest.sql: store must be embedded or dynamodb, not' :'store'
SELECT 1/0 AS bad_store;
\endif
\if :ddb
\if :{?endpoint}
\else
\echo 'ingest.sql: store=dynamodb needs -v endpoint=http://127.0.0.1:PORT'
SELECT 1/0 AS no_endpoint;
\endif
\endif

SET client_min_messages = warning;
\o /dev/null
DROP EXTENSION IF EXISTS feature_store CASCADE;
DROP TABLE IF EXISTS bench_ingest, bench_ingest_staging;
CREATE EXTENSION feature_store;
SELECT name FROM fs_register_entity('bench_user', 'user_id');
\if :ddb
CREATE SERVER bench_ingest_server FOREIGN DATA WRAPPER fs_dynamodb
    OPTIONS (endpoint :'endpoint', region 'us-east-1');
CREATE USER MAPPING FOR PUBLIC SERVER bench_ingest_server
    OPTIONS (access_key_id 'bench', secret_access_key 'bench-secret');
SELECT format($$CREATE FOREIGN TABLE bench_ingest (user_id bigint, event_time timestamptz, %s)
                SERVER bench_ingest_server OPTIONS (table 'fs_bench_ingest', key 'user_id')$$,
              string_agg(format('f%s float8', i), ', ' ORDER BY i))
  FROM generate_series(1, 20) i \gexec
SELECT fs_create_online_table('bench_ingest');
\else
SELECT format('CREATE TABLE bench_ingest (user_id bigint PRIMARY KEY, event_time timestamptz, %s)',
              string_agg(format('f%s float8', i), ', ' ORDER BY i))
  FROM generate_series(1, 20) i \gexec
\endif
SELECT name FROM fs_register_feature_view('bench_ingest', 'bench_ingest', 'bench_user');
SELECT fs_create_staging_table('bench_ingest');
SELECT format($$INSERT INTO bench_ingest_staging
                SELECT g::text, '2026-01-01 00:00:00+00', %s FROM generate_series(1, %s) g$$,
              string_agg(format('((g * %s) %% 10007 / 7.0)::float8::text', i), ', ' ORDER BY i), :rows)
  FROM generate_series(1, 20) i \gexec
VACUUM ANALYZE bench_ingest_staging;
\o

-- Progress (every 100,000 rows) goes to stderr.
SET client_min_messages = notice;
\echo
\echo 'first run: the snapshot into an empty view, store' :store
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT run_id AS run1 FROM fs_ingest('bench_ingest', 'bench_ingest_staging', 'snapshot') \gset
SELECT round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 1) AS run1_s \gset

-- 1% of the entities get a new value and a newer event time.
SET client_min_messages = warning;
UPDATE bench_ingest_staging SET f7 = '-1', event_time = '2026-01-02 00:00:00+00'
 WHERE user_id::bigint % 100 = 0;
VACUUM ANALYZE bench_ingest_staging;
SELECT count(*) AS changed FROM bench_ingest_staging WHERE user_id::bigint % 100 = 0 \gset
SET client_min_messages = notice;
\echo 'second run: the same snapshot with 1% of the entities changed, store' :store
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT run_id AS run2 FROM fs_ingest('bench_ingest', 'bench_ingest_staging', 'snapshot') \gset
SELECT round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 1) AS run2_s \gset
SET client_min_messages = warning;

-- The view holds the source's values: a sample of the changed entities
-- (spread over the id range) and as many unchanged ones, read back through
-- the view's table (for dynamodb: BatchGetItem) and compared column by
-- column with the source, cast as fs_ingest casts it.
SELECT coalesce(array_agg(id ORDER BY id)::text, '{}') AS changed_ids,
       count(*) AS changed_sampled
  FROM (SELECT g * 100 AS id FROM generate_series(1, :rows / 100) g
         WHERE g % greatest(1, (:rows / 100) / :sample) = 0 LIMIT :sample) s \gset
SELECT coalesce(array_agg(id ORDER BY id)::text, '{}') AS unchanged_ids,
       count(*) AS unchanged_sampled
  FROM (SELECT g * 100 - 50 AS id FROM generate_series(1, :rows / 100) g
         WHERE g % greatest(1, (:rows / 100) / :sample) = 0 LIMIT :sample) s \gset
SELECT format('(s.event_time::timestamptz, %s)',
              string_agg(format('s.f%s::float8', i), ', ' ORDER BY i)) AS source_row,
       format('(v.event_time, %s)',
              string_agg(format('v.f%s', i), ', ' ORDER BY i)) AS view_row
  FROM generate_series(1, 20) i \gset
CREATE TEMP TABLE bench_sample AS
SELECT 'changed' AS kind, unnest(:'changed_ids'::bigint[]) AS id
UNION ALL
SELECT 'unchanged', unnest(:'unchanged_ids'::bigint[]);
SELECT (:'changed_ids'::bigint[] || :'unchanged_ids'::bigint[])::text AS sample_ids \gset
\if :ddb
-- Read by key (BatchGetItem), not by a Scan of the whole remote table.
SELECT set_config('bench.sample_ids', :'sample_ids', false) IS NULL AS unused \gset
DO $$
DECLARE
    line   text;
    by_key boolean := false;
BEGIN
    FOR line IN EXECUTE format('EXPLAIN SELECT * FROM bench_ingest WHERE user_id = ANY (%L::bigint[])',
                               current_setting('bench.sample_ids'))
    LOOP
        by_key := by_key OR line ~ 'BatchGetItem';
    END LOOP;
    PERFORM set_config('bench.by_key', by_key::text, false);
END
$$;
SELECT current_setting('bench.by_key')::boolean AS by_key \gset
\endif
CREATE TEMP TABLE bench_view_rows AS
SELECT * FROM bench_ingest WHERE user_id = ANY (:'sample_ids'::bigint[]);
CREATE TEMP TABLE bench_check AS
SELECT k.kind, count(s.user_id) AS in_source, count(v.user_id) AS in_view,
       count(*) FILTER (WHERE :source_row IS DISTINCT FROM :view_row) AS differing,
       min(k.id) FILTER (WHERE :source_row IS DISTINCT FROM :view_row) AS first_differing
  FROM bench_sample k
  LEFT JOIN bench_ingest_staging s ON s.user_id::bigint = k.id
  LEFT JOIN bench_view_rows v ON v.user_id = k.id
 GROUP BY k.kind;

\pset tuples_only on
\pset format unaligned
\echo
\echo 'runs (change detection = rows_read / silver_ms; total = the fs_ingest statement, end to end;'
\echo ' gold = writing the changed rows and their state, for dynamodb also the deletes of a'
\echo ' snapshot; write = the embedded store''s snapshot deletes, whose state the silver step forgets):'
SELECT format(E'%s run (%s):\n'
              '  rows read          %s\n'
              '  change detection   %s rows/s   target >= 500,000 rows/s: %s\n'
              '  online writes      %s   expected %s (%s): %s\n'
              '  total              %s s (silver %s s, gold %s s, write %s s)%s\n'
              '  store requests     %s\n'
              '  store wait         %s ms, %s of the run',
              label, :'store', to_char(r.rows_read, 'FM9,999,999,999'),
              to_char(rate, 'FM9,999,999,999'),
              CASE WHEN rate >= 500000 THEN 'PASS' ELSE 'FAIL' END,
              to_char(r.online_writes, 'FM9,999,999,999'), to_char(expected, 'FM9,999,999,999'),
              CASE WHEN r.run_id = :run1 THEN 'every entity' ELSE 'the changed entities' END,
              CASE WHEN r.online_writes = expected THEN 'PASS' ELSE 'FAIL' END,
              total, round((r.silver_ms / 1000)::numeric, 1), round((r.gold_ms / 1000)::numeric, 1), round((r.write_ms / 1000)::numeric, 1),
              CASE WHEN r.run_id = :run2 AND :'ddb'::boolean
                   THEN format('   target <= 30 s: %s', CASE WHEN total <= 30 THEN 'PASS' ELSE 'FAIL' END)
                   ELSE '' END,
              coalesce(to_char(r.store_requests, 'FM9,999,999,999'), '-'),
              coalesce(to_char(round(r.store_wait_ms), 'FM9,999,999,999'), '-'),
              coalesce(round((100 * r.store_wait_ms / 1000 / total)::numeric) || '%', '-'))
  FROM fs_ingest_runs r,
       LATERAL (SELECT CASE WHEN r.run_id = :run1 THEN 'first' ELSE 'second' END AS label,
                       CASE WHEN r.run_id = :run1 THEN :rows ELSE :changed END AS expected,
                       CASE WHEN r.run_id = :run1 THEN :run1_s ELSE :run2_s END AS total,
                       round((r.rows_read / nullif(r.silver_ms / 1000, 0))::numeric) AS rate) x
 WHERE r.run_id IN (:run1, :run2) ORDER BY r.run_id;
\echo
\echo 'the view after the second run, read back and compared with the source:'
SELECT format('  %-9s %s of %s sampled entities in the view, %s differing%s: %s',
              kind, in_view, in_source, differing,
              CASE WHEN differing > 0 THEN format(' (first: %s)', first_differing) ELSE '' END,
              CASE WHEN in_source = in_view AND differing = 0 AND in_source > 0 THEN 'PASS' ELSE 'FAIL' END)
  FROM bench_check ORDER BY kind;
\if :ddb
SELECT format('  (read by key with BatchGetItem: %s)', CASE WHEN :'by_key'::boolean THEN 'yes' ELSE 'NO, a Scan' END);
\endif
\pset tuples_only off
\pset format aligned

\echo
\echo 'runs, as fs_ingest_runs records them:'
SELECT run_id, rows_read, rows_unchanged, rows_inserted, rows_updated, rows_deleted, online_writes,
       round(silver_ms::numeric) AS silver_ms, round(gold_ms::numeric) AS gold_ms,
       round(write_ms::numeric) AS write_ms, store_requests, round(store_wait_ms::numeric) AS store_wait_ms,
       round(extract(epoch FROM finished_at - started_at)::numeric, 1) AS run_s
  FROM fs_ingest_runs WHERE feature_view = 'bench_ingest' ORDER BY run_id;

-- A wrong answer is an error (the figures above are printed first).
SELECT (SELECT online_writes FROM fs_ingest_runs WHERE run_id = :run1) = :rows
   AND (SELECT online_writes FROM fs_ingest_runs WHERE run_id = :run2) = :changed
   AND (SELECT bool_and(in_source = in_view AND differing = 0 AND in_source > 0) FROM bench_check)
   AND (SELECT count(*) FROM bench_check) = 2 AS all_right \gset
\if :all_right
\else
\echo 'ingest.sql: WRONG ANSWER (see FAIL above)'
SELECT 1/0 AS ingestion_benchmark_wrong_answer;
\endif

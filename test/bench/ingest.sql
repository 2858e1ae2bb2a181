-- Batch ingestion benchmark: a snapshot of :rows entities (default 1,000,000)
-- with 20 features, ingested twice into the embedded store with fs_ingest:
-- first into an empty view, then again with 1% of the entities changed.
--
--   psql -X -v ON_ERROR_STOP=1 [-v rows=N] -f test/bench/ingest.sql
--
-- Run it in a database of its own (run.sh uses fs_bench_ingest): it
-- recreates the extension, so that the run uses the installed version, and
-- the tables bench_ingest and bench_ingest_staging; the staging table holds text, as
-- after a COPY of a CSV file.  Change detection is the silver pass (cast,
-- validate, deduplicate, compare with fs_ingest_state): its rate is
-- rows_read / silver_ms.

\set QUIET on
\if :{?rows}
\else
\set rows 1000000
\endif

SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_store CASCADE;
DROP TABLE IF EXISTS bench_ingest, bench_ingest_staging;
CREATE EXTENSION feature_store;
SELECT fs_register_entity('bench_user', 'user_id');
SELECT format('CREATE TABLE bench_ingest (user_id bigint PRIMARY KEY, event_time timestamptz, %s)',
              string_agg(format('f%s float8', i), ', ' ORDER BY i))
  FROM generate_series(1, 20) i \gexec
SELECT fs_register_feature_view('bench_ingest', 'bench_ingest', 'bench_user');
SELECT fs_create_staging_table('bench_ingest');
SELECT format($$INSERT INTO bench_ingest_staging
                SELECT g::text, '2026-01-01 00:00:00+00', %s FROM generate_series(1, %s) g$$,
              string_agg(format('((g * %s) %% 10007 / 7.0)::float8::text', i), ', ' ORDER BY i), :rows)
  FROM generate_series(1, 20) i \gexec
VACUUM ANALYZE bench_ingest_staging;
RESET client_min_messages;

\set QUIET off
\pset footer off
\echo
\echo 'first run: the snapshot into an empty view'
SELECT rows_read, rows_inserted, online_writes FROM fs_ingest('bench_ingest', 'bench_ingest_staging', 'snapshot');

\set QUIET on
-- 1% of the entities get a new value and a newer event time.
UPDATE bench_ingest_staging SET f7 = '-1', event_time = '2026-01-02 00:00:00+00'
 WHERE user_id::bigint % 100 = 0;
VACUUM ANALYZE bench_ingest_staging;
\set QUIET off
\echo
\echo 'second run: the same snapshot with 1% of the entities changed'
SELECT rows_read, rows_unchanged, rows_updated, online_writes,
       online_writes = (SELECT count(*) FROM bench_ingest_staging WHERE user_id::bigint % 100 = 0)
           AS writes_equal_changed
  FROM fs_ingest('bench_ingest', 'bench_ingest_staging', 'snapshot');

\echo
\echo 'runs: change detection rate = rows_read / silver_ms'
SELECT run_id, rows_read, online_writes,
       round((rows_read / (silver_ms / 1000))::numeric) AS change_detection_rows_per_s,
       round(silver_ms::numeric) AS silver_ms, round(gold_ms::numeric) AS gold_ms,
       round(write_ms::numeric) AS write_ms,
       round(extract(epoch FROM finished_at - started_at)::numeric, 1) AS total_s
  FROM fs_ingest_runs WHERE feature_view = 'bench_ingest' ORDER BY run_id;

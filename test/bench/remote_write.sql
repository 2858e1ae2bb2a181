-- Remote write benchmark, batch lane (run by test/bench/run_remote_write.sh):
-- fs_ingest of :rows changed entities of 20 float8 features into a foreign
-- table of fs_dynamodb on the canned responder (test/bench/canned_responder.js,
-- a benchmark fixture that acknowledges every write after its latency and
-- keeps nothing), with feature_store.max_write_connections = :mwc ('default':
-- the setting as the server has it).
--
--   psql -X -v ON_ERROR_STOP=1 -v setup=1 -v endpoint=http://127.0.0.1:PORT \
--        -f test/bench/remote_write.sql
--   psql -X -v ON_ERROR_STOP=1 -v rows=N -v run=K -v mwc=16|default -v label=before \
--        -f test/bench/remote_write.sql
--
-- With setup=1 it (re)creates the extension, the server, the foreign table
-- bench_remote_write (remote table fs_bench_remote_write, which the
-- responder answers as BENCH_CANNED_TABLE) and its view, and stops.  A run
-- fills the staging table with :rows entities whose values depend on :run,
-- so that every run changes every entity and writes it, then ingests them
-- ('upsert') and prints one line
--   RESULT label=... mwc=... rows=... writes=... requests=... gold_s=... total_s=... writes_per_s=...
-- writes_per_s = online_writes / gold time (the store's part: reads of the
-- stored items, the writes and the state); total_s is the fs_ingest
-- statement end to end (change detection and commit included).
--
-- There is no read-back check of the values: the responder does not keep
-- what is written (writes are "acknowledged, nothing stored").  What is
-- checked is that online_writes is :rows (every entity was acknowledged by
-- the store) and that the run succeeded; the correctness of fs_ingest's
-- writes is the tests' business (test/dynamodb/run_ingest_faults.sh,
-- sql/ingest_dynamodb.sql, against dynalite).

\set QUIET on
SET client_min_messages = warning;
\if :{?setup}
\o /dev/null
DROP EXTENSION IF EXISTS feature_store CASCADE;
DROP TABLE IF EXISTS bench_remote_write_staging;
CREATE EXTENSION feature_store;
SELECT name FROM fs_register_entity('bench_rw_user', 'user_id');
CREATE SERVER bench_rw_server FOREIGN DATA WRAPPER fs_dynamodb
    OPTIONS (endpoint :'endpoint', region 'us-east-1');
CREATE USER MAPPING FOR PUBLIC SERVER bench_rw_server
    OPTIONS (access_key_id 'bench', secret_access_key 'bench-secret');
SELECT format($$CREATE FOREIGN TABLE bench_remote_write (user_id bigint, event_time timestamptz, %s)
                SERVER bench_rw_server OPTIONS (table 'fs_bench_remote_write', key 'user_id')$$,
              string_agg(format('f%s float8', i), ', ' ORDER BY i))
  FROM generate_series(1, 20) i \gexec
SELECT name FROM fs_register_feature_view('bench_remote_write', 'bench_remote_write', 'bench_rw_user');
SELECT fs_create_staging_table('bench_remote_write');
\o
\quit
\endif

\if :{?mwc}
\else
\set mwc default
\endif
\if :{?label}
\else
\set label run
\endif
-- The setting exists once the library is loaded.
LOAD 'feature_store';
SELECT :'mwc' = 'default' AS mwc_default \gset
\if :mwc_default
\else
SET feature_store.max_write_connections = :mwc;
\endif
SELECT current_setting('feature_store.max_write_connections') AS mwc_now \gset

\o /dev/null
TRUNCATE bench_remote_write_staging;
SELECT format($$INSERT INTO bench_remote_write_staging
                SELECT g::text, '2026-01-01 00:00:00+00'::timestamptz + %s * interval '1 s', %s
                  FROM generate_series(1, %s) g$$,
              :run, string_agg(format('((g * %s + %s) %% 10007 / 7.0)::float8::text', i, :run), ', ' ORDER BY i),
              :rows)
  FROM generate_series(1, 20) i \gexec
VACUUM ANALYZE bench_remote_write_staging;
\o

SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT run_id, online_writes FROM fs_ingest('bench_remote_write', 'bench_remote_write_staging') \gset
SELECT round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 1) AS total_s \gset

\pset tuples_only on
\pset format unaligned
SELECT format('RESULT label=%s mwc=%s rows=%s writes=%s requests=%s gold_s=%s total_s=%s writes_per_s=%s',
              :'label', :'mwc_now', :rows, online_writes, store_requests,
              round((gold_ms / 1000)::numeric, 1), :total_s,
              round(online_writes / nullif(gold_ms / 1000, 0)))
  FROM fs_ingest_runs WHERE run_id = :run_id;
SELECT online_writes = :rows AND status = 'succeeded' AS all_right
  FROM fs_ingest_runs WHERE run_id = :run_id \gset
\if :all_right
\else
\echo 'remote_write.sql: WRONG ANSWER: not every entity was written'
SELECT 1/0 AS remote_write_wrong_answer;
\endif

-- Streaming benchmark, one configuration's feature view (run by
-- test/bench/run_stream.sh in the database the stream worker serves):
--
--   psql -X -v ON_ERROR_STOP=1 -v view=NAME -v store=embedded -f test/bench/stream_setup.sql
--   (store=history: the same, with fs_enable_history on the view)
--   psql -X -v ON_ERROR_STOP=1 -v view=NAME -v store=dynamodb \
--        -v endpoint=http://127.0.0.1:PORT -f test/bench/stream_setup.sql
--
-- Empties the queue (what a previous configuration left), then creates the
-- view NAME, empty, of the entity bench_stream_user (key user_id bigint):
-- a table, or a foreign table of fs_dynamodb whose remote table (named like
-- the view) it creates at the endpoint.  Its features are what the pushers
-- send (test/bench/stream_push.sql): ts_us, the push's clock in epoch
-- microseconds; push_xid, the pushing transaction's id (for its commit
-- timestamp); v, a random value.

\set QUIET on
SET client_min_messages = warning;
\o /dev/null
CREATE EXTENSION IF NOT EXISTS feature_store;
SELECT name FROM fs_register_entity('bench_stream_user', 'user_id')
 WHERE NOT EXISTS (SELECT FROM fs_entity WHERE name = 'bench_stream_user');
SELECT :'store' = 'dynamodb' AS ddb \gset
-- The worker waits for its flush's lock; what it claimed is gone with it.
TRUNCATE fs_stream_queue, fs_stream_rejects;
\if :ddb
CREATE SERVER IF NOT EXISTS bench_stream_server FOREIGN DATA WRAPPER fs_dynamodb
    OPTIONS (endpoint :'endpoint', region 'us-east-1');
CREATE USER MAPPING IF NOT EXISTS FOR PUBLIC SERVER bench_stream_server
    OPTIONS (access_key_id 'bench', secret_access_key 'bench-secret');
CREATE FOREIGN TABLE :"view" (user_id bigint, event_time timestamptz,
                              ts_us bigint, push_xid bigint, v float8)
    SERVER bench_stream_server OPTIONS (table :'view', key 'user_id');
SELECT fs_create_online_table(:'view');
\else
CREATE TABLE :"view" (user_id bigint PRIMARY KEY, event_time timestamptz,
                      ts_us bigint, push_xid bigint, v float8);
\endif
SELECT name FROM fs_register_feature_view(:'view', :'view', 'bench_stream_user');
SELECT :'store' = 'history' AS hist \gset
\if :hist
SELECT fs_enable_history(:'view');
\endif
\o

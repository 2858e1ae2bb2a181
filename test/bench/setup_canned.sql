-- Canned-responder serving benchmark, SQL side: the feature view bench_canned
-- over the table that test/bench/canned_responder.js (a benchmark fixture,
-- not a store) serves.
--
--   psql -X -v ON_ERROR_STOP=1 -v endpoint=http://127.0.0.1:PORT \
--        [-v table=fs_bench_canned] -f test/bench/setup_canned.sql
--
-- The server bench_canned_server, its user mapping, the foreign table
-- bench_canned (user_id text, event_time timestamptz, f1 .. f20 double
-- precision) and its registration are created once and kept; a rerun only
-- points the server at the endpoint of this run's responder.

\set QUIET on
\if :{?table}
\else
\set table fs_bench_canned
\endif

SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS feature_store;

SELECT pg_catalog.set_config('bench.endpoint', :'endpoint', false) IS NULL AS unused \gset
SELECT pg_catalog.set_config('bench.table', :'table', false) IS NULL AS unused \gset

DO $$
DECLARE
    ep  text := current_setting('bench.endpoint');
    tbl text := current_setting('bench.table');
BEGIN
    IF NOT EXISTS (SELECT FROM pg_foreign_server WHERE srvname = 'bench_canned_server') THEN
        EXECUTE format('CREATE SERVER bench_canned_server FOREIGN DATA WRAPPER fs_dynamodb'
                       ' OPTIONS (endpoint %L, region %L)', ep, 'us-east-1');
        CREATE USER MAPPING FOR PUBLIC SERVER bench_canned_server
            OPTIONS (access_key_id 'bench', secret_access_key 'bench-secret');
    ELSE
        EXECUTE format('ALTER SERVER bench_canned_server OPTIONS (SET endpoint %L)', ep);
    END IF;

    IF to_regclass('bench_canned') IS NULL THEN
        EXECUTE format($f$
            CREATE FOREIGN TABLE bench_canned (
                user_id    text,
                event_time timestamptz,
                f1  double precision, f2  double precision, f3  double precision, f4  double precision,
                f5  double precision, f6  double precision, f7  double precision, f8  double precision,
                f9  double precision, f10 double precision, f11 double precision, f12 double precision,
                f13 double precision, f14 double precision, f15 double precision, f16 double precision,
                f17 double precision, f18 double precision, f19 double precision, f20 double precision
            ) SERVER bench_canned_server OPTIONS (table %L, key 'user_id')$f$, tbl);
    ELSE
        EXECUTE format('ALTER FOREIGN TABLE bench_canned OPTIONS (SET table %L)', tbl);
    END IF;

    IF NOT EXISTS (SELECT FROM fs_entity e WHERE e.name = 'bench_user') THEN
        PERFORM fs_register_entity('bench_user', 'user_id', 'feature_store benchmark users');
    END IF;
    IF NOT EXISTS (SELECT FROM fs_feature_view v WHERE v.name = 'bench_canned') THEN
        PERFORM fs_register_feature_view('bench_canned', 'bench_canned'::regclass, 'bench_user',
                                         description => 'feature_store benchmark (canned responder)');
    END IF;
END
$$;

-- DynamoDB serving benchmark, SQL side: the feature view bench_ddb over the
-- remote table that test/bench/ddb_sdk.mjs loaded into dynalite.
--
--   psql -X -v ON_ERROR_STOP=1 -v endpoint=http://127.0.0.1:PORT \
--        [-v table=fs_bench_ddb] -f test/bench/setup_dynamodb.sql
--
-- The server bench_ddb_server, its user mapping, the foreign table bench_ddb
-- (user_id text, event_time timestamptz, f1 .. f20: the columns of bench_a
-- and bench_b side by side) and its registration are created once and kept;
-- a rerun only points the server at the endpoint of this run's dynalite.

\set QUIET on
\if :{?table}
\else
\set table fs_bench_ddb
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
    IF NOT EXISTS (SELECT FROM pg_foreign_server WHERE srvname = 'bench_ddb_server') THEN
        EXECUTE format('CREATE SERVER bench_ddb_server FOREIGN DATA WRAPPER fs_dynamodb'
                       ' OPTIONS (endpoint %L, region %L)', ep, 'us-east-1');
        CREATE USER MAPPING FOR PUBLIC SERVER bench_ddb_server
            OPTIONS (access_key_id 'bench', secret_access_key 'bench-secret');
    ELSE
        EXECUTE format('ALTER SERVER bench_ddb_server OPTIONS (SET endpoint %L)', ep);
    END IF;

    IF to_regclass('bench_ddb') IS NULL THEN
        EXECUTE format($f$
            CREATE FOREIGN TABLE bench_ddb (
                user_id    text,
                event_time timestamptz,
                f1  bigint,  f2  double precision, f3  integer, f4  text, f5  boolean,
                f6  real[],  f7  numeric(12,4),    f8  bigint,  f9  double precision,
                f10 integer,
                f11 bigint,  f12 double precision, f13 integer, f14 text, f15 boolean,
                f16 real[],  f17 numeric(12,4),    f18 bigint,  f19 double precision,
                f20 integer
            ) SERVER bench_ddb_server OPTIONS (table %L, key 'user_id')$f$, tbl);
    ELSE
        EXECUTE format('ALTER FOREIGN TABLE bench_ddb OPTIONS (SET table %L)', tbl);
    END IF;

    IF NOT EXISTS (SELECT FROM fs_entity e WHERE e.name = 'bench_user') THEN
        PERFORM fs_register_entity('bench_user', 'user_id', 'feature_store benchmark users');
    END IF;
    IF NOT EXISTS (SELECT FROM fs_feature_view v WHERE v.name = 'bench_ddb') THEN
        PERFORM fs_register_feature_view('bench_ddb', 'bench_ddb'::regclass, 'bench_user',
                                         description => 'feature_store benchmark (DynamoDB)');
    END IF;
END
$$;

-- The remote table answers, with the items the loader wrote.
SELECT count(*) AS ddb_rows,
       count(*) FILTER (WHERE status = 'PRESENT') AS ddb_present
  FROM fs_get_features(ARRAY['u1', 'u2', 'u50'], ARRAY['bench_ddb:*']) \gset
-- u50 has no f9 and no f19 (NULL_VALUE): 60 rows, 58 PRESENT.
SELECT :ddb_rows = 60 AND :ddb_present = 58 AS ddb_ok \gset
\if :ddb_ok
\echo bench_ddb ready: fs_get_features answers from the remote table
\else
\echo bench_ddb: unexpected answer for u1, u2, u50 (:ddb_rows rows, :ddb_present PRESENT)
SELECT 1/0 AS bench_ddb_check_failed;
\endif

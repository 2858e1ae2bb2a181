-- The cache benchmark, SQL side (test/bench/run_cache.sh): the feature view
-- bench_cache over a remote table of :rows items of 20 double precision
-- features in a fresh dynalite, written through the extension.
--
--   psql -X -v ON_ERROR_STOP=1 -v endpoint=http://127.0.0.1:PORT -v rows=20000 \
--        -f test/bench/setup_cache.sql
--
-- The server, its user mapping, the foreign table (cache_ttl_ms 0: phases
-- set it) and the view are made anew each run, since the dynalite is new.

\set QUIET on
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS feature_store;
DO $$ BEGIN
    IF EXISTS (SELECT FROM fs_feature_view WHERE name = 'bench_cache') THEN
        PERFORM fs_drop_feature_view('bench_cache');
    END IF;
END $$;
DROP SERVER IF EXISTS bench_cache_server CASCADE;

CREATE SERVER bench_cache_server FOREIGN DATA WRAPPER fs_dynamodb
    OPTIONS (endpoint :'endpoint', region 'us-east-1');
CREATE USER MAPPING FOR PUBLIC SERVER bench_cache_server
    OPTIONS (access_key_id 'bench', secret_access_key 'bench-secret');
CREATE FOREIGN TABLE bench_cache (
    user_id text, event_time timestamptz,
    f1  float8, f2  float8, f3  float8, f4  float8, f5  float8,
    f6  float8, f7  float8, f8  float8, f9  float8, f10 float8,
    f11 float8, f12 float8, f13 float8, f14 float8, f15 float8,
    f16 float8, f17 float8, f18 float8, f19 float8, f20 float8
) SERVER bench_cache_server
  OPTIONS (table 'fs_bench_cache', key 'user_id', cache_ttl_ms '0');
SELECT fs_create_online_table('bench_cache') IS NULL AS unused \gset

-- Feature k of item i: a number with a few decimals, different per item.
INSERT INTO bench_cache
SELECT 'u' || i, '2026-01-01'::timestamptz + i * interval '1 s',
       ((i * 7919 + 1 * 104729) % 100003) / 1000.0, ((i * 7919 + 2 * 104729) % 100003) / 1000.0,
       ((i * 7919 + 3 * 104729) % 100003) / 1000.0, ((i * 7919 + 4 * 104729) % 100003) / 1000.0,
       ((i * 7919 + 5 * 104729) % 100003) / 1000.0, ((i * 7919 + 6 * 104729) % 100003) / 1000.0,
       ((i * 7919 + 7 * 104729) % 100003) / 1000.0, ((i * 7919 + 8 * 104729) % 100003) / 1000.0,
       ((i * 7919 + 9 * 104729) % 100003) / 1000.0, ((i * 7919 + 10 * 104729) % 100003) / 1000.0,
       ((i * 7919 + 11 * 104729) % 100003) / 1000.0, ((i * 7919 + 12 * 104729) % 100003) / 1000.0,
       ((i * 7919 + 13 * 104729) % 100003) / 1000.0, ((i * 7919 + 14 * 104729) % 100003) / 1000.0,
       ((i * 7919 + 15 * 104729) % 100003) / 1000.0, ((i * 7919 + 16 * 104729) % 100003) / 1000.0,
       ((i * 7919 + 17 * 104729) % 100003) / 1000.0, ((i * 7919 + 18 * 104729) % 100003) / 1000.0,
       ((i * 7919 + 19 * 104729) % 100003) / 1000.0, ((i * 7919 + 20 * 104729) % 100003) / 1000.0
  FROM generate_series(1, :rows) i;

SELECT count(fs_register_entity('bench_cache_user', 'user_id')) AS unused
 WHERE NOT EXISTS (SELECT FROM fs_entity WHERE name = 'bench_cache_user') \gset
SELECT name FROM fs_register_feature_view('bench_cache', 'bench_cache', 'bench_cache_user') \gset

-- Served from the store: every item, 20 features each (u0 has none).
SELECT count(*) FILTER (WHERE status = 'PRESENT') AS present, count(*) AS cells
  FROM fs_get_features(ARRAY['u1', 'u' || :rows, 'u0'], ARRAY['bench_cache:*']) \gset
SELECT :present = 40 AND :cells = 60 AS cache_ok \gset
\if :cache_ok
\echo bench_cache ready: :rows items of 20 features
\else
\echo bench_cache: unexpected answer for u1, u:rows, u0 (:present PRESENT of :cells)
SELECT 1/0 AS bench_cache_check_failed;
\endif

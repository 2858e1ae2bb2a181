--
-- dynamodb_cache: the hot-entity cache in front of fs_dynamodb (dynalite):
-- hits and misses, NOT_FOUND cached, attributes asked beyond an entry's,
-- every write lane through the extension invalidating what it wrote (the
-- stream worker's from its own backend), another client's write seen only
-- once the ttl passes, one user mapping's entries not serving another's,
-- items too large to cache, fs_cache_status and fs_cache_reset.
--
\getenv dynalite_endpoint FS_DYNALITE_ENDPOINT
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_store CASCADE;
DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'regress_fs_cache') THEN DROP OWNED BY regress_fs_cache; DROP ROLE regress_fs_cache; END IF; END $$;
CREATE EXTENSION feature_store;
RESET client_min_messages;
SET timezone = 'UTC';

SELECT 'cache_' || substr(md5(random()::text), 1, 12) AS remote_table \gset

-- Strongly consistent reads: what a read answers after a write is the
-- write's (eventually consistent reads are below).
CREATE SERVER cache_srv FOREIGN DATA WRAPPER fs_dynamodb
    OPTIONS (endpoint :'dynalite_endpoint', consistent_read 'true');
CREATE USER MAPPING FOR PUBLIC SERVER cache_srv OPTIONS (access_key_id 'test', secret_access_key 'test');
CREATE FOREIGN TABLE cached_online (user_id text, event_time timestamptz, clicks bigint, note text)
    SERVER cache_srv OPTIONS (table :'remote_table', key 'user_id', cache_ttl_ms '10min');
SELECT fs_create_online_table('cached_online');
INSERT INTO cached_online VALUES ('u1', now(), 1, 'a'), ('u2', now(), 2, 'b');
SELECT name FROM fs_register_entity('user', 'user_id');
SELECT name FROM fs_register_feature_view('cached', 'cached_online', 'user');

-- The call's cache figures since the last look.
CREATE TABLE last_figures AS SELECT 0::bigint AS hits, 0::bigint AS misses, 0::bigint AS requests;
CREATE FUNCTION pg_temp.figures() RETURNS text LANGUAGE sql AS $$
    WITH now AS (SELECT cache_hits, cache_misses, store_requests FROM fs_stats WHERE feature_view = 'cached'),
         d AS (SELECT n.cache_hits - l.hits AS h, n.cache_misses - l.misses AS m,
                      n.store_requests - l.requests AS r FROM now n, last_figures l),
         u AS (UPDATE last_figures SET hits = n.cache_hits, misses = n.cache_misses,
                                       requests = n.store_requests FROM now n RETURNING 1)
    SELECT format('hits %s, misses %s, requests %s', h, m, r) FROM d, (SELECT count(*) FROM u) x
$$;
SELECT fs_stats_reset() >= 0 AS stats_reset, fs_cache_reset() >= 0 AS cache_reset;

-- First call: every key asked of the store (u3 has no item); the second
-- is answered by the cache, NOT_FOUND included, with no request.
SELECT entity_id, value, status FROM fs_get_features(ARRAY['u1', 'u2', 'u3'], ARRAY['cached:clicks']);
SELECT pg_temp.figures();
SELECT entity_id, value, status FROM fs_get_features(ARRAY['u1', 'u2', 'u3'], ARRAY['cached:clicks']);
SELECT pg_temp.figures();
SELECT entries >= 3 AS entries_kept, hits >= 3 AND misses >= 3 AS counted FROM fs_cache_status;

-- An entry holds the attributes that were asked: asking another is a miss
-- (and the entry then holds what that call asked); asking fewer is a hit.
SELECT entity_id, value FROM fs_get_features(ARRAY['u1'], ARRAY['cached:note']);
SELECT pg_temp.figures();
SELECT entity_id, features FROM fs_get_feature_vectors(ARRAY['u1'], ARRAY['cached:clicks', 'cached:note']);
SELECT pg_temp.figures();
SELECT fs_get_feature_matrix(ARRAY['u1', 'u3'], ARRAY['cached:clicks']);
SELECT pg_temp.figures();

-- Every write through the extension drops what it wrote, before it returns.
INSERT INTO cached_online VALUES ('u3', now(), 3, 'c');                 -- PutItem (NOT_FOUND cached)
SELECT entity_id, value, status FROM fs_get_features(ARRAY['u3'], ARRAY['cached:clicks']);
UPDATE cached_online SET clicks = 10 WHERE user_id = 'u1';              -- UpdateItem
DELETE FROM cached_online WHERE user_id = 'u2';                          -- DeleteItem
SELECT entity_id, value, status FROM fs_get_features(ARRAY['u1', 'u2'], ARRAY['cached:clicks']);
INSERT INTO cached_online SELECT 'u' || i, now(), i, 'm' FROM generate_series(4, 6) i;  -- BatchWriteItem
SELECT entity_id, value, status FROM fs_get_features(ARRAY['u4', 'u5', 'u6'], ARRAY['cached:clicks']);
SELECT fs_write_features('cached', 'u1', '{"clicks": 11}');             -- the direct lane
SELECT entity_id, value FROM fs_get_features(ARRAY['u1'], ARRAY['cached:clicks']);
CREATE TABLE cache_src (user_id text, event_time text, clicks text, note text);
INSERT INTO cache_src VALUES ('u1', now()::text, '12', 'a'), ('u3', now()::text, '3', 'c');
SELECT rows_updated FROM fs_ingest('cached', 'cache_src');              -- batch, upsert
SELECT entity_id, value FROM fs_get_features(ARRAY['u1'], ARRAY['cached:clicks']);
DELETE FROM cache_src WHERE user_id = 'u3';
SELECT rows_deleted FROM fs_ingest('cached', 'cache_src', 'snapshot');  -- batch, snapshot deletes
SELECT entity_id, value, status FROM fs_get_features(ARRAY['u3'], ARRAY['cached:clicks']);
SELECT fs_push('cached', 'u1', '{"clicks": 13}') > 0 AS queued;         -- the stream worker's backend
DO $$
BEGIN
    FOR i IN 1 .. 200 LOOP
        EXIT WHEN (SELECT value FROM fs_get_features(ARRAY['u1'], ARRAY['cached:clicks'])) = '13';
        PERFORM pg_sleep(0.05);
    END LOOP;
END $$;
SELECT entity_id, value FROM fs_get_features(ARRAY['u1'], ARRAY['cached:clicks']);
SELECT invalidations > 0 AS invalidated FROM fs_cache_status;

-- Another client of the store (here: another server object) is seen once
-- the ttl has passed, not before.
CREATE SERVER other_srv FOREIGN DATA WRAPPER fs_dynamodb OPTIONS (endpoint :'dynalite_endpoint');
CREATE USER MAPPING FOR PUBLIC SERVER other_srv OPTIONS (access_key_id 'test', secret_access_key 'test');
CREATE FOREIGN TABLE other_online (user_id text, event_time timestamptz, clicks bigint, note text)
    SERVER other_srv OPTIONS (table :'remote_table', key 'user_id');
SELECT entity_id, value FROM fs_get_features(ARRAY['u4'], ARRAY['cached:clicks']);
UPDATE other_online SET clicks = 99 WHERE user_id = 'u4';
SELECT entity_id, value FROM fs_get_features(ARRAY['u4'], ARRAY['cached:clicks']);
ALTER FOREIGN TABLE cached_online OPTIONS (SET cache_ttl_ms '20ms');
SELECT pg_sleep(0.05);
SELECT entity_id, value FROM fs_get_features(ARRAY['u4'], ARRAY['cached:clicks']);
ALTER FOREIGN TABLE cached_online OPTIONS (SET cache_ttl_ms '10min');

-- One user mapping's entries never answer another's.  (The figures above
-- depend on how long the stream worker took: start counting again.)
SELECT pg_temp.figures() IS NOT NULL AS counting_again;
SELECT fs_get_feature_matrix(ARRAY['u5'], ARRAY['cached:clicks']);
SELECT pg_temp.figures();
SELECT fs_get_feature_matrix(ARRAY['u5'], ARRAY['cached:clicks']);
SELECT pg_temp.figures();
CREATE ROLE regress_fs_cache;
GRANT USAGE ON FOREIGN SERVER cache_srv TO regress_fs_cache;
GRANT SELECT ON cached_online TO regress_fs_cache;
CREATE USER MAPPING FOR regress_fs_cache SERVER cache_srv OPTIONS (access_key_id 'other', secret_access_key 'other');
SET ROLE regress_fs_cache;
SELECT fs_get_feature_matrix(ARRAY['u5'], ARRAY['cached:clicks']);
RESET ROLE;
SELECT pg_temp.figures();

-- An item too large for an entry is served, never cached.
UPDATE cached_online SET note = repeat('x', 3000) WHERE user_id = 'u6';
SELECT length(value #>> '{}') FROM fs_get_features(ARRAY['u6'], ARRAY['cached:note']);
SELECT length(value #>> '{}') FROM fs_get_features(ARRAY['u6'], ARRAY['cached:note']);
SELECT pg_temp.figures();

-- ... nor taken for no item by the foreign table's key lookups.
SELECT user_id, length(note) FROM cached_online WHERE user_id = 'u6';
SELECT user_id, length(note) FROM cached_online WHERE user_id = 'u6';

-- UPDATE computes its writes from the store's values, never the cache's.
SELECT user_id, clicks, note FROM cached_online WHERE user_id = 'u5' AND event_time IS NOT NULL;
UPDATE other_online SET clicks = 60 WHERE user_id = 'u5';
UPDATE cached_online SET clicks = clicks + 1 WHERE user_id = 'u5';
SELECT user_id, clicks FROM other_online WHERE user_id = 'u5';

-- A cursor's read is as old as its fetch, not its DECLARE: an entry past
-- the ttl by then is read again.
ALTER FOREIGN TABLE cached_online OPTIONS (SET cache_ttl_ms '300ms');
SELECT user_id, clicks FROM cached_online WHERE user_id = 'u4';
UPDATE other_online SET clicks = 98 WHERE user_id = 'u4';
BEGIN;
DECLARE c CURSOR FOR SELECT user_id, clicks FROM cached_online WHERE user_id = 'u4';
SELECT pg_sleep(0.4);
FETCH ALL FROM c;
COMMIT;
ALTER FOREIGN TABLE cached_online OPTIONS (SET cache_ttl_ms '10min');

-- The foreign table's own key lookups go through the cache too (EXPLAIN
-- ANALYZE counts hits and misses next to the requests); a Scan never does.
SELECT fs_cache_reset() >= 0 AS reset;
CREATE FUNCTION pg_temp.explain(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
        RETURN NEXT regexp_replace(line, 'cache_[0-9a-f]{12}', 'cache_...');
    END LOOP;
END $$;
SELECT pg_temp.explain($$SELECT user_id, clicks FROM cached_online WHERE user_id = ANY (ARRAY['u4', 'u5', 'nobody'])$$);
SELECT pg_temp.explain($$SELECT user_id, clicks FROM cached_online WHERE user_id = ANY (ARRAY['u4', 'u5', 'nobody'])$$);
SELECT user_id, clicks FROM cached_online WHERE user_id = ANY (ARRAY['u4', 'u5', 'nobody']) ORDER BY 1;
UPDATE cached_online SET clicks = 55 WHERE user_id = 'u5';
SELECT user_id, clicks FROM cached_online WHERE user_id = ANY (ARRAY['u4', 'u5', 'nobody']) ORDER BY 1;
-- serving shares them where it asks no more: here only NOT_FOUND (serving
-- asks the event time too, which the table's query did not)
SELECT fs_get_feature_matrix(ARRAY['u4', 'u5', 'nobody'], ARRAY['cached:clicks']);
SELECT pg_temp.figures();
SELECT pg_temp.explain('SELECT count(*) FROM cached_online');

-- Eventually consistent reads (consistent_read off, the default) may answer
-- the old value for about a second after a write: what they answer is not
-- cached for 2 s after the key was written.
CREATE SERVER eventual_srv FOREIGN DATA WRAPPER fs_dynamodb OPTIONS (endpoint :'dynalite_endpoint');
CREATE USER MAPPING FOR PUBLIC SERVER eventual_srv OPTIONS (access_key_id 'test', secret_access_key 'test');
CREATE FOREIGN TABLE eventual_online (user_id text, event_time timestamptz, clicks bigint, note text)
    SERVER eventual_srv OPTIONS (table :'remote_table', key 'user_id', cache_ttl_ms '10min');
SELECT name FROM fs_register_feature_view('eventual', 'eventual_online', 'user');
UPDATE eventual_online SET clicks = 7 WHERE user_id = 'u1';
SELECT fs_get_feature_matrix(ARRAY['u1'], ARRAY['eventual:clicks']);
SELECT fs_get_feature_matrix(ARRAY['u1'], ARRAY['eventual:clicks']);
SELECT cache_hits, cache_misses FROM fs_stats WHERE feature_view = 'eventual';
SELECT pg_sleep(2.1);
SELECT fs_get_feature_matrix(ARRAY['u1'], ARRAY['eventual:clicks']);
SELECT fs_get_feature_matrix(ARRAY['u1'], ARRAY['eventual:clicks']);
SELECT cache_hits, cache_misses FROM fs_stats WHERE feature_view = 'eventual';

-- A table without cache_ttl_ms (nor its server) is not cached.
SELECT name FROM fs_register_feature_view('other', 'other_online', 'user');
SELECT count(*) FROM fs_get_features(ARRAY['u4'], ARRAY['other:clicks']);
SELECT cache_hits, cache_misses FROM fs_stats WHERE feature_view = 'other';

-- The reset: not for PUBLIC; it empties this database's entries.
SET ROLE regress_fs_cache;
SELECT fs_cache_reset();
RESET ROLE;
SELECT fs_cache_reset() > 0 AS removed;
SELECT fs_get_feature_matrix(ARRAY['u5'], ARRAY['cached:clicks']);
SELECT pg_temp.figures();

-- The option is checked.
ALTER FOREIGN TABLE cached_online OPTIONS (SET cache_ttl_ms 'soon');

DROP USER MAPPING FOR regress_fs_cache SERVER cache_srv;
REVOKE ALL ON cached_online FROM regress_fs_cache;
REVOKE ALL ON FOREIGN SERVER cache_srv FROM regress_fs_cache;
DROP ROLE regress_fs_cache;

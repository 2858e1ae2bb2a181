--
-- invalidation: a change to a registered relation or to the catalog is
-- served at once, in the same session, with nothing stale left in a cache.
--
-- pg_regress may have loaded the extension already; start from scratch.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_store CASCADE;
RESET client_min_messages;
CREATE EXTENSION feature_store;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
\set SHOW_CONTEXT never

-- SQLSTATE and message of a statement's error, or 'no error'.
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN EXECUTE q; RETURN 'no error'; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;

CREATE TABLE inv_t (user_id text PRIMARY KEY, event_time timestamptz, a int, b int);
INSERT INTO inv_t VALUES ('u1', '2026-01-01 00:00:00+00', 1, 10), ('u2', '2026-01-01 00:00:00+00', 2, 20);
SELECT name FROM fs_register_entity('user', 'user_id');
SELECT name FROM fs_register_feature_view('iv', 'inv_t', 'user');
-- serve once: the view is now resolved and cached in this backend
SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['iv:*']);

--
-- ADD COLUMN is served at once; a DEFAULT fills existing rows.
--
ALTER TABLE inv_t ADD COLUMN c text;
SELECT feature_ref, value, status FROM fs_get_features(ARRAY['u1'], ARRAY['iv:*']);
ALTER TABLE inv_t ADD COLUMN d int DEFAULT 7;
ALTER TABLE inv_t ADD COLUMN e text[] DEFAULT '{x,y}';
SELECT entity_id, feature_ref, value, status FROM fs_get_features(ARRAY['u1', 'u2'], ARRAY['iv:d', 'iv:e']);
SELECT * FROM fs_get_feature_vectors(ARRAY['u2'], ARRAY['iv:*']);
UPDATE inv_t SET c = 'set', d = 8 WHERE user_id = 'u2';
SELECT entity_id, feature_ref, value FROM fs_get_features(ARRAY['u2'], ARRAY['iv:c', 'iv:d']);
SELECT feature FROM feature_registry WHERE feature_view = 'iv';

--
-- DROP COLUMN: the dropped feature is an error naming what is left, and
-- 'iv:*' no longer lists it.
--
SELECT name FROM fs_register_feature_service('uses_a', ARRAY['iv:b', 'iv:a']);
ALTER TABLE inv_t DROP COLUMN a;
SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['iv:a']);
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['iv:a'])$$);
SELECT pg_temp.err($$SELECT * FROM fs_get_feature_vectors(ARRAY['u1'], ARRAY['iv:a'])$$);
SELECT feature_ref, value FROM fs_get_features(ARRAY['u1'], ARRAY['iv:*']);
SELECT * FROM fs_get_feature_vectors(ARRAY['u1'], ARRAY['iv:*']);
SELECT feature FROM feature_registry WHERE feature_view = 'iv';
-- a service naming the dropped feature says which service it came from
\set SHOW_CONTEXT errors
SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['uses_a']);
\set SHOW_CONTEXT never
SELECT fs_drop_feature_service('uses_a');

--
-- RENAME COLUMN: the old name is gone, the new one is served.
--
ALTER TABLE inv_t RENAME COLUMN b TO b_renamed;
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['iv:b'])$$);
SELECT feature_ref, value FROM fs_get_features(ARRAY['u1'], ARRAY['iv:b_renamed']);
SELECT feature_ref FROM fs_get_features(ARRAY['u1'], ARRAY['iv:*']);

--
-- ALTER COLUMN TYPE: the new type decides the JSON type.
--
ALTER TABLE inv_t ALTER COLUMN d TYPE text USING 'd=' || d;
SELECT feature_ref, value, jsonb_typeof(value) FROM fs_get_features(ARRAY['u1'], ARRAY['iv:d']);
SELECT fs_resolve_refs(ARRAY['iv:d']);
ALTER TABLE inv_t ALTER COLUMN b_renamed TYPE float8;
SELECT feature_ref, value, jsonb_typeof(value) FROM fs_get_features(ARRAY['u1'], ARRAY['iv:b_renamed']);

--
-- The join key and the event-time column.
--
ALTER TABLE inv_t RENAME COLUMN user_id TO uid;
SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['iv:d']);
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['iv:d'])$$);
ALTER TABLE inv_t RENAME COLUMN uid TO user_id;
SELECT feature_ref, value FROM fs_get_features(ARRAY['u1'], ARRAY['iv:d']);
ALTER TABLE inv_t RENAME COLUMN event_time TO ts;
SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['iv:d']);
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['iv:d'])$$);
-- renamed back, it is the event time again
ALTER TABLE inv_t RENAME COLUMN ts TO event_time;
SELECT feature_ref, value, event_time FROM fs_get_features(ARRAY['u1'], ARRAY['iv:d']);
ALTER TABLE inv_t ALTER COLUMN event_time TYPE timestamp;
SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['iv:d']);
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['iv:d'])$$);
ALTER TABLE inv_t ALTER COLUMN event_time TYPE timestamptz;
SELECT feature_ref, value, event_time FROM fs_get_features(ARRAY['u1'], ARRAY['iv:d']);
-- the join key's type changes (and its index is rebuilt): ids convert anew
ALTER TABLE inv_t ALTER COLUMN user_id TYPE varchar(10);
SELECT feature_ref, value FROM fs_get_features(ARRAY['u1', 'u2'], ARRAY['iv:d']);

--
-- The unique index: dropped, it is a clear error; back, it is served.
--
ALTER TABLE inv_t DROP CONSTRAINT inv_t_pkey;
SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['iv:d']);
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['iv:d'])$$);
CREATE INDEX inv_t_not_unique ON inv_t (user_id);
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['iv:d'])$$);
CREATE UNIQUE INDEX inv_t_unique ON inv_t (user_id);
SELECT feature_ref, value FROM fs_get_features(ARRAY['u1'], ARRAY['iv:d']);
-- rows written meanwhile are found through the new index
INSERT INTO inv_t (user_id, event_time, d) VALUES ('u3', '2026-02-01 00:00:00+00', 'd=3');
SELECT entity_id, value FROM fs_get_features(ARRAY['u3', 'u1'], ARRAY['iv:d']);

--
-- Rewrites of the table (TRUNCATE, VACUUM FULL, CLUSTER, REINDEX) change its
-- files, not what is served.
--
TRUNCATE inv_t;
INSERT INTO inv_t (user_id, event_time, d) VALUES ('u1', '2026-03-03 00:00:00+00', 'after truncate');
SELECT entity_id, value, status FROM fs_get_features(ARRAY['u1', 'u3'], ARRAY['iv:d']);
VACUUM FULL inv_t;
SELECT entity_id, value FROM fs_get_features(ARRAY['u1'], ARRAY['iv:d']);
CLUSTER inv_t USING inv_t_unique;
SELECT entity_id, value FROM fs_get_features(ARRAY['u1'], ARRAY['iv:d']);
REINDEX TABLE inv_t;
SELECT entity_id, value FROM fs_get_features(ARRAY['u1'], ARRAY['iv:d']);
BEGIN;
TRUNCATE inv_t;
SELECT entity_id, value, status FROM fs_get_features(ARRAY['u1'], ARRAY['iv:d']);
ROLLBACK;
SELECT entity_id, value, status FROM fs_get_features(ARRAY['u1'], ARRAY['iv:d']);

--
-- The relation renamed, then dropped.
--
ALTER TABLE inv_t RENAME TO inv_renamed_t;
SELECT entity_id, value FROM fs_get_features(ARRAY['u1'], ARRAY['iv:d']);
SELECT DISTINCT relation FROM feature_registry WHERE feature_view = 'iv';
DROP TABLE inv_renamed_t;
SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['iv:d']);
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['iv:*'])$$);
SELECT count(*) FROM feature_registry WHERE feature_view = 'iv';
-- the registration went with the table; the name can be registered again
-- over a new table
SELECT pg_temp.err($$SELECT fs_drop_feature_view('iv')$$);
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['iv:d'])$$);
CREATE TABLE inv_t (user_id text PRIMARY KEY, event_time timestamptz, d bigint, z bool);
INSERT INTO inv_t VALUES ('u1', '2026-05-05 00:00:00+00', 100, true);
SELECT name FROM fs_register_feature_view('iv', 'inv_t', 'user');
SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['iv:*']);

--
-- Re-registering a view over another relation in the same session.
--
CREATE TABLE inv_other_t (user_id text PRIMARY KEY, event_time timestamptz, d text);
INSERT INTO inv_other_t VALUES ('u1', '2026-06-06 00:00:00+00', 'other');
SELECT fs_drop_feature_view('iv');
SELECT name FROM fs_register_feature_view('iv', 'inv_other_t', 'user', ttl => '36500 days');
SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['iv:*']);
SELECT fs_drop_feature_view('iv');
SELECT name FROM fs_register_feature_view('iv', 'inv_t', 'user');
SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['iv:*']);

--
-- Catalog changes are served at the next call: through fs_alter_feature_view,
-- and by a superuser's direct DML.
--
SELECT name FROM fs_alter_feature_view('iv', ttl => '1 second');
SELECT entity_id, feature_ref, value, status FROM fs_get_features(ARRAY['u1'], ARRAY['iv:d']);
SELECT name FROM fs_alter_feature_view('iv', reset => '{ttl}');
SELECT entity_id, feature_ref, value, status FROM fs_get_features(ARRAY['u1'], ARRAY['iv:d']);
UPDATE fs_feature_view SET ttl = '1 second' WHERE name = 'iv';
SELECT entity_id, feature_ref, value, status FROM fs_get_features(ARRAY['u1'], ARRAY['iv:d']);
UPDATE fs_feature_view SET ttl = NULL WHERE name = 'iv';
SELECT entity_id, feature_ref, value, status FROM fs_get_features(ARRAY['u1'], ARRAY['iv:d']);
SELECT name FROM fs_register_feature_service('svc', ARRAY['iv:z']);
SELECT feature_ref, value FROM fs_get_features(ARRAY['u1'], ARRAY['svc']);
UPDATE fs_feature_service SET feature_refs = ARRAY['iv:d', 'iv:z'] WHERE name = 'svc';
SELECT feature_ref, value FROM fs_get_features(ARRAY['u1'], ARRAY['svc']);
TRUNCATE fs_feature_service;
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['svc'])$$);

--
-- Transactions: a registration is visible to the next statement of its
-- transaction, and gone again after a rollback.
--
CREATE TABLE inv_tx_t (user_id text PRIMARY KEY, event_time timestamptz, t int);
INSERT INTO inv_tx_t VALUES ('u1', '2026-01-01 00:00:00+00', 5);
BEGIN;
SELECT name FROM fs_register_feature_view('txv', 'inv_tx_t', 'user');
SELECT entity_id, feature_ref, value FROM fs_get_features(ARRAY['u1'], ARRAY['txv:t']);
SELECT name FROM fs_register_feature_service('txs', ARRAY['txv:t', 'iv:d']);
SELECT entity_id, feature_ref, value FROM fs_get_features(ARRAY['u1'], ARRAY['txs']);
ALTER TABLE inv_tx_t ADD COLUMN t2 int DEFAULT 6;
SELECT entity_id, feature_ref, value FROM fs_get_features(ARRAY['u1'], ARRAY['txv:*']);
ROLLBACK;
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['txv:t'])$$);
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['txs'])$$);
-- ... and the rolled-back column is not served once the view exists
SELECT name FROM fs_register_feature_view('txv', 'inv_tx_t', 'user');
SELECT feature_ref, value FROM fs_get_features(ARRAY['u1'], ARRAY['txv:*']);
-- a drop rolled back leaves the view served
BEGIN;
SELECT fs_drop_feature_view('txv');
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['txv:t'])$$);
ROLLBACK;
SELECT feature_ref, value FROM fs_get_features(ARRAY['u1'], ARRAY['txv:t']);
-- the same within one statement
DO $$
DECLARE r record;
BEGIN
    PERFORM fs_drop_feature_view('txv');
    CREATE TABLE inv_do_t (user_id text PRIMARY KEY, event_time timestamptz, w text);
    INSERT INTO inv_do_t VALUES ('u1', '2026-01-01 00:00:00+00', 'from DO');
    PERFORM fs_register_feature_view('txv', 'inv_do_t', 'user');
    SELECT * INTO r FROM fs_get_features(ARRAY['u1'], ARRAY['txv:*']);
    RAISE NOTICE '% % %', r.feature_ref, r.value, r.status;
    ALTER TABLE inv_do_t ADD COLUMN w2 int DEFAULT 2;
    FOR r IN SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['txv:*']) LOOP
        RAISE NOTICE '% % %', r.feature_ref, r.value, r.status;
    END LOOP;
END $$;
-- and with savepoints
BEGIN;
SAVEPOINT s1;
SELECT fs_drop_feature_view('txv');
ROLLBACK TO SAVEPOINT s1;
SELECT feature_ref, value FROM fs_get_features(ARRAY['u1'], ARRAY['txv:*']);
SAVEPOINT s2;
ALTER TABLE inv_do_t DROP COLUMN w;
SELECT feature_ref, value FROM fs_get_features(ARRAY['u1'], ARRAY['txv:*']);
ROLLBACK TO SAVEPOINT s2;
SELECT feature_ref, value FROM fs_get_features(ARRAY['u1'], ARRAY['txv:*']);
COMMIT;

DROP EXTENSION feature_store;
DROP TABLE inv_t, inv_other_t, inv_tx_t, inv_do_t;

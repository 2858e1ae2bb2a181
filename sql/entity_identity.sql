--
-- entity_identity: an entity is named by its join key type's equality, in
-- every lane, as the unique index on the key says: '1' and '1.0' of a numeric
-- key, 'Bob' and 'bob' of a citext key, are one entity, one row of the view's
-- table and one row of fs_ingest_state.  And fs_ingest_state is PUBLIC's to
-- read only: the extension's functions write it, checking as the caller.
-- (The stream worker's side is in test/stream/run_stream.sh.)
--
\getenv dynalite_endpoint FS_DYNALITE_ENDPOINT
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_store CASCADE;
DROP EXTENSION IF EXISTS citext CASCADE;
DROP TABLE IF EXISTS nk_t, ck_t, own_t, own_in, nk_staging, ck_staging, rk_staging;
DROP ROLE IF EXISTS regress_fs_nobody;
DROP ROLE IF EXISTS regress_fs_owner;
RESET client_min_messages;
CREATE EXTENSION feature_store;
CREATE EXTENSION citext;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never

-- SQLSTATE and message of a statement's error, or 'no error'.
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN EXECUTE q; RETURN 'no error'; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;
GRANT EXECUTE ON FUNCTION pg_temp.err(text) TO PUBLIC;

-- 1. A numeric key: '1' and '1.0' in one source are one entity, of which the
-- newest row is kept (no "ON CONFLICT DO UPDATE command cannot affect row a
-- second time"); '2.50' and '2.5' at one time: the later row.
CREATE TABLE nk_t (id numeric PRIMARY KEY, event_time timestamptz, v int);
SELECT name FROM fs_register_entity('num', 'id');
SELECT name FROM fs_register_feature_view('nk', 'nk_t', 'num');
SELECT fs_create_staging_table('nk');
INSERT INTO nk_staging VALUES ('1', '2026-01-01', '10'), ('1.0', '2026-01-02', '20'),
                              ('2.50', '2026-01-01', '5'), ('2.5', '2026-01-01', '6');
SELECT rows_read, rows_stale, rows_inserted, rows_updated, online_writes FROM fs_ingest('nk', 'nk_staging');
SELECT id, event_time, v FROM nk_t ORDER BY id;
SELECT entity_id, length(digest) AS digest_bytes FROM fs_ingest_state WHERE feature_view = 'nk' ORDER BY 1;
-- A later source that writes the keys differently finds their state: unchanged.
UPDATE nk_staging SET id = '1.000' WHERE id = '1.0';
UPDATE nk_staging SET id = '2.5000' WHERE id = '2.5';
DELETE FROM nk_staging WHERE id IN ('1', '2.50');
SELECT rows_unchanged, online_writes FROM fs_ingest('nk', 'nk_staging');

-- 2. A direct write of '1.00' makes change detection forget entity 1, whose
-- state is recorded as '1': the batch's newer row, with the values it wrote
-- before, is written again, not counted unchanged and lost.
SELECT fs_write_features('nk', '1.00', '{"v": 99}', '2026-01-03');
SELECT entity_id, length(digest) AS digest_bytes FROM fs_ingest_state WHERE feature_view = 'nk' ORDER BY 1;
UPDATE nk_staging SET event_time = '2026-01-04';
SELECT rows_unchanged, rows_updated FROM fs_ingest('nk', 'nk_staging');
SELECT id, v FROM nk_t ORDER BY id;

-- 3. A snapshot whose source names entity 1 as '1.000' keeps it, in the table
-- and in the state; entity 2.5 is gone from both.
DELETE FROM nk_staging WHERE id = '2.5000';
SELECT rows_deleted, rows_unchanged FROM fs_ingest('nk', 'nk_staging', 'snapshot');
SELECT id, v FROM nk_t ORDER BY id;
SELECT entity_id FROM fs_ingest_state WHERE feature_view = 'nk' ORDER BY 1;

-- 4. A citext key: 'Bob' and 'bob' are one entity in a source, in the state
-- (a later run naming it 'BOB' finds it unchanged), and for direct writes.
CREATE TABLE ck_t (name citext PRIMARY KEY, event_time timestamptz, score int);
SELECT name FROM fs_register_entity('person', 'name');
SELECT name FROM fs_register_feature_view('ck', 'ck_t', 'person');
SELECT fs_create_staging_table('ck');
INSERT INTO ck_staging VALUES ('Bob', '2026-01-01', '1'), ('bob', '2026-01-02', '2'),
                              ('Ann', '2026-01-01', '3');
SELECT rows_read, rows_stale, rows_inserted, online_writes FROM fs_ingest('ck', 'ck_staging');
SELECT name, score FROM ck_t ORDER BY name;
SELECT entity_id FROM fs_ingest_state WHERE feature_view = 'ck' ORDER BY 1;
TRUNCATE ck_staging;
INSERT INTO ck_staging VALUES ('BOB', '2026-01-02', '2'), ('ann', '2026-01-01', '3');
SELECT rows_unchanged, online_writes FROM fs_ingest('ck', 'ck_staging');
SELECT fs_write_features('ck', 'BoB', '{"score": 50}', '2026-01-03');
SELECT entity_id, length(digest) AS digest_bytes FROM fs_ingest_state WHERE feature_view = 'ck' ORDER BY 1;
UPDATE ck_staging SET event_time = '2026-01-04';
SELECT rows_unchanged, rows_updated FROM fs_ingest('ck', 'ck_staging');
SELECT name, score FROM ck_t ORDER BY name;
-- entity_hash is the key type's hash of entity_id.
SELECT entity_id, entity_hash = citext_hash(entity_id::citext) AS key_hash
  FROM fs_ingest_state WHERE feature_view = 'ck' ORDER BY 1;
-- The owner forgets entities by any text that names them.
SELECT fs_forget_ingest_state('ck', ARRAY['ANN', NULL]) AS forgotten;
SELECT entity_id FROM fs_ingest_state WHERE feature_view = 'ck' ORDER BY 1;
SELECT pg_temp.err($$SELECT fs_forget_ingest_state('nk', ARRAY['one'])$$);
SELECT pg_temp.err($$SELECT fs_forget_ingest_state('nope')$$);

-- 5. What the state holds wrongly is put right by the next run.  A row whose
-- entity_hash is not its key's (collation rules changed, a restore on
-- another platform) is missed by a direct write's lookup: its digest cannot
-- be trusted, so the batch's row is written again, and the row gets its
-- hash.
UPDATE fs_ingest_state SET entity_hash = entity_hash # 1 WHERE feature_view = 'ck';
SELECT fs_write_features('ck', 'bob', '{"score": 77}', '2026-01-05');
SELECT length(digest) AS digest_bytes FROM fs_ingest_state WHERE feature_view = 'ck';
UPDATE ck_staging SET event_time = '2026-01-06';
SELECT rows_unchanged, rows_updated, rows_inserted FROM fs_ingest('ck', 'ck_staging');
SELECT name, score FROM ck_t ORDER BY name;
SELECT entity_id, entity_hash = citext_hash(entity_id::citext) AS key_hash
  FROM fs_ingest_state WHERE feature_view = 'ck' ORDER BY 1;
-- Two rows of one entity (0.1.0 kept them by text): one is left, and the
-- entity is compared afresh; a row that is no key of the type is dropped.
INSERT INTO fs_ingest_state
SELECT 'nk', '1.0', digest, event_time, entity_hash FROM fs_ingest_state
 WHERE feature_view = 'nk' AND entity_id = '1';
INSERT INTO fs_ingest_state VALUES ('nk', 'one', '\x00', now(), 0);
SELECT rows_unchanged, rows_updated FROM fs_ingest('nk', 'nk_staging');
SELECT entity_id FROM fs_ingest_state WHERE feature_view = 'nk' ORDER BY 1;

-- 6. PUBLIC may read fs_ingest_state, not write it, nor lock it against
-- every ingestion and every DROP TABLE (the sql_drop trigger deletes from it).
CREATE ROLE regress_fs_nobody;
SET ROLE regress_fs_nobody;
SELECT pg_temp.err($$LOCK TABLE fs_ingest_state IN ACCESS EXCLUSIVE MODE$$);
SELECT pg_temp.err($$LOCK TABLE fs_ingest_state IN ROW EXCLUSIVE MODE$$);
SELECT pg_temp.err($$INSERT INTO fs_ingest_state VALUES ('nk', '7', '\x00', now(), 0)$$);
SELECT pg_temp.err($$UPDATE fs_ingest_state SET digest = '\x'$$);
SELECT pg_temp.err($$DELETE FROM fs_ingest_state$$);
-- Nor through the functions that write it, which check as the caller: not
-- with a forged silver table, nor with a snapshot of no keys.
SELECT pg_temp.err($$SELECT fs_forget_ingest_state('nk')$$);
CREATE TEMP TABLE forged (id numeric, event_time timestamptz, v int, fs_row bigint,
                          fs_digest bytea, fs_entity text, fs_entity_hash integer);
INSERT INTO forged VALUES (7, '2026-01-01', 7, 1, '\x00', '7', 0);
CREATE TEMP TABLE no_keys (id numeric);
CREATE TEMP TABLE forged_written (fs_row bigint);
INSERT INTO forged_written VALUES (1);
SELECT pg_temp.err($$SELECT fs_ingest_record_state('nk', 'forged', 'forged_written')$$);
SELECT pg_temp.err($$SELECT * FROM fs_ingest_silver(1, 'nk', 'nk_staging', 'forged', 'no_keys',
                                                     'id', 'event_time', now())$$);
RESET ROLE;
DROP TABLE forged, forged_written, no_keys;
SELECT entity_id FROM fs_ingest_state WHERE feature_view = 'nk' ORDER BY 1;
-- Even for the view's owner they take their own columns only as the types
-- fs_ingest gives them: a Datum of another type is never read as a text.
CREATE TEMP TABLE odd_silver (id numeric, event_time timestamptz, v int, fs_row bigint,
                              fs_digest bytea, fs_entity bigint, fs_entity_hash integer);
SELECT pg_temp.err($$SELECT * FROM fs_ingest_silver(1, 'nk', 'nk_staging', 'odd_silver', NULL,
                                                     'id', 'event_time', now())$$);

-- A view's owner who is not a superuser ingests, forgets and drops its view.
CREATE ROLE regress_fs_owner;
CREATE TABLE own_t (id numeric PRIMARY KEY, event_time timestamptz, v int);
ALTER TABLE own_t OWNER TO regress_fs_owner;
CREATE TABLE own_in (id text, event_time text, v text);
INSERT INTO own_in VALUES ('1', '2026-01-01', '1'), ('2', '2026-01-01', '2');
GRANT SELECT ON own_in TO regress_fs_owner;
SET ROLE regress_fs_owner;
SELECT name FROM fs_register_feature_view('own', 'own_t', 'num');
SELECT rows_inserted FROM fs_ingest('own', 'own_in');
SELECT rows_unchanged FROM fs_ingest('own', 'own_in');
SELECT fs_forget_ingest_state('own') AS forgotten;
SELECT rows_unchanged, rows_updated FROM fs_ingest('own', 'own_in');
SELECT fs_drop_feature_view('own');
RESET ROLE;
SELECT count(*) AS own_state FROM fs_ingest_state WHERE feature_view = 'own';

-- 7. A view in fs_dynamodb (dynalite) with a numeric key: one entity in a
-- source, found again by a direct write and by a snapshot.
SELECT 'ei_' || substr(md5(random()::text), 1, 12) AS remote_table \gset
CREATE SERVER ei_srv FOREIGN DATA WRAPPER fs_dynamodb
    OPTIONS (endpoint :'dynalite_endpoint', region 'us-east-1');
CREATE USER MAPPING FOR PUBLIC SERVER ei_srv
    OPTIONS (access_key_id 'test', secret_access_key 'test');
CREATE FOREIGN TABLE rk_online (id numeric, event_time timestamptz, v int)
    SERVER ei_srv OPTIONS (table :'remote_table', key 'id');
SELECT fs_create_online_table('rk_online');
SELECT name FROM fs_register_feature_view('rk', 'rk_online', 'num');
SELECT fs_create_staging_table('rk');
INSERT INTO rk_staging VALUES ('1', '2026-01-01', '10'), ('1.0', '2026-01-02', '20'),
                              ('3', '2026-01-01', '30');
SELECT rows_read, rows_stale, rows_inserted, online_writes FROM fs_ingest('rk', 'rk_staging');
SELECT entity_id, feature_ref, value, status
  FROM fs_get_features(ARRAY['1', '1.00', '3'], ARRAY['rk:v']);
SELECT fs_write_features('rk', '1.00', '{"v": 99}', '2026-01-03');
UPDATE rk_staging SET event_time = '2026-01-04';
SELECT rows_unchanged, rows_updated FROM fs_ingest('rk', 'rk_staging');
SELECT entity_id, value FROM fs_get_features(ARRAY['1'], ARRAY['rk:v']);
DELETE FROM rk_staging WHERE id = '3';
UPDATE rk_staging SET id = '1.000';
SELECT rows_deleted, rows_unchanged FROM fs_ingest('rk', 'rk_staging', 'snapshot');
SELECT entity_id, value, status FROM fs_get_features(ARRAY['1', '3'], ARRAY['rk:v']);
SELECT entity_id FROM fs_ingest_state WHERE feature_view = 'rk' ORDER BY 1;
-- The remote gold step writes the state of the view whose table it is given.
CREATE TEMP TABLE fake_silver (id numeric, event_time timestamptz, v int, fs_row bigint,
                               fs_digest bytea, fs_entity text, fs_entity_hash integer);
SELECT pg_temp.err($$SELECT * FROM fs_ingest_remote(1, 'nk', 'rk_online', 'fake_silver', NULL)$$);
SELECT pg_temp.err($$SELECT * FROM fs_ingest_remote(1, 'rk', 'rk_online', 'odd_silver', NULL)$$);

DROP FOREIGN TABLE rk_online;
DROP SERVER ei_srv CASCADE;
-- 6. Registration refuses a unique index that tells keys apart otherwise
-- than the key type does: text_ops on a citext key (two rows for one entity),
-- a case-insensitive collation on a text key (one row for two).
SELECT name FROM fs_register_entity('ci_user', 'name');
CREATE TABLE ci_ops (name citext NOT NULL, event_time timestamptz);
CREATE UNIQUE INDEX ON ci_ops ((name::text));
CREATE UNIQUE INDEX ON ci_ops (name text_ops);
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view('ci_ops', 'ci_ops', 'ci_user')$$);
CREATE COLLATION ci_level2 (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TABLE ci_coll (name text NOT NULL, event_time timestamptz);
CREATE UNIQUE INDEX ON ci_coll (name COLLATE ci_level2);
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view('ci_coll', 'ci_coll', 'ci_user')$$);
-- with the type's own class and the column's collation it is accepted
CREATE UNIQUE INDEX ON ci_ops (name);
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view('ci_ops', 'ci_ops', 'ci_user')$$);
CREATE TABLE vc_t (name varchar(20) PRIMARY KEY, event_time timestamptz);
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view('vc', 'vc_t', 'ci_user')$$);
SELECT fs_drop_feature_view('ci_ops');
SELECT fs_drop_feature_view('vc');
DROP TABLE ci_ops, ci_coll, vc_t;
DROP COLLATION ci_level2;

DROP EXTENSION feature_store CASCADE;
DROP EXTENSION citext CASCADE;
DROP TABLE nk_t, own_t, own_in, nk_staging, ck_staging, rk_staging;
DROP ROLE regress_fs_nobody;
DROP ROLE regress_fs_owner;

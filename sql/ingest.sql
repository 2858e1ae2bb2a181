--
-- ingest: the batch lane into the embedded store.  COPY into a staging
-- table, fs_ingest casts and validates (rejects recorded, duplicates keep the
-- newest), then writes only the entities whose values changed.
--
-- pg_regress may have loaded the extension already; start from scratch.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_store CASCADE;
DROP SCHEMA IF EXISTS regress_fs_ingest_s CASCADE;
DROP ROLE IF EXISTS regress_fs_ingester;
RESET client_min_messages;
CREATE EXTENSION feature_store;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never

-- SQLSTATE and message of a statement's error, or 'no error'.
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN EXECUTE q; RETURN 'no error'; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;
GRANT EXECUTE ON FUNCTION pg_temp.err(text) TO PUBLIC;

CREATE TABLE user_stats (user_id bigint PRIMARY KEY, event_time timestamptz,
                         clicks int, ctr float8, segment text);
SELECT name FROM fs_register_entity('user', 'user_id');
SELECT name FROM fs_register_feature_view('user_stats', 'user_stats', 'user');

-- The staging table: join key, event time and every feature, all text.
SELECT fs_create_staging_table('user_stats');
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'user_stats_staging'::regclass AND attnum > 0 ORDER BY attnum;
SELECT fs_create_staging_table('user_stats', 'public.other_staging');
-- UNLOGGED (COPY into it writes no WAL), but a temporary one is temporary.
SELECT fs_create_staging_table('user_stats', 'pg_temp.temp_staging');
SELECT relname, relpersistence FROM pg_class
 WHERE relname IN ('user_stats_staging', 'other_staging', 'temp_staging') ORDER BY relname;
DROP TABLE pg_temp.temp_staging;

-- 100 users; user 7's clicks are not a number, and one row has no id.
COPY user_stats_staging FROM STDIN (FORMAT csv);
7,2026-01-01 00:00:00+00,7x,0.5,a
,2026-01-01 00:00:00+00,1,0.5,a
\.
INSERT INTO user_stats_staging
SELECT g::text, '2026-01-01 00:00:00+00', (g * 10)::text, (g / 100.0)::text, 'seg' || (g % 3)
  FROM generate_series(1, 100) g WHERE g <> 7;

-- First run: 99 users written, 2 rows rejected.
SELECT * FROM fs_ingest('user_stats', 'user_stats_staging');
SELECT run_id, entity_id, "column", raw_value, reason FROM fs_ingest_rejects ORDER BY run_id, entity_id;
SELECT count(*), sum(clicks) FROM user_stats;
SELECT run_id, feature_view, source, mode, status, rows_read, online_writes,
       silver_ms >= 0 AND gold_ms >= 0 AND write_ms >= 0 AS timed, run_by = current_user AS by_me
  FROM fs_ingest_runs ORDER BY run_id;

-- Served as ingested.
SELECT entity_id, feature_ref, value, event_time, status
  FROM fs_get_features(ARRAY['5', '7'], ARRAY['user_stats:*']);

-- The same source again: nothing changed, nothing written.
SELECT * FROM fs_ingest('user_stats', 'user_stats_staging');

-- One entity in a hundred changed (with a newer event time): exactly that one is written.
UPDATE user_stats SET segment = 'untouched' WHERE user_id = 50;
UPDATE user_stats_staging SET clicks = '-1', event_time = '2026-01-02 00:00:00+00'
 WHERE user_id = '42';
SELECT * FROM fs_ingest('user_stats', 'user_stats_staging');
SELECT user_id, event_time, clicks, segment FROM user_stats WHERE user_id IN (41, 42, 50) ORDER BY 1;

-- A value changed without a newer event time is written too (change detection is on values).
UPDATE user_stats_staging SET segment = 'moved' WHERE user_id = '43';
SELECT * FROM fs_ingest('user_stats', 'user_stats_staging');

-- Stale: a row older than the stored event time is not written.
UPDATE user_stats_staging SET clicks = '-2', event_time = '2025-12-31 00:00:00+00'
 WHERE user_id = '42';
SELECT * FROM fs_ingest('user_stats', 'user_stats_staging');
SELECT user_id, event_time, clicks FROM user_stats WHERE user_id = 42;

-- Duplicates in one source keep the newest row, wherever it comes.
CREATE TABLE dup_src (user_id text, event_time text, clicks text, ctr text, segment text);
INSERT INTO dup_src VALUES
  ('200', '2026-02-02 00:00:00+00', '2', '0.1', 'new'),
  ('200', '2026-02-01 00:00:00+00', '1', '0.1', 'old'),
  ('201', '2026-02-01 00:00:00+00', '1', '0.1', 'old'),
  ('201', '2026-02-03 00:00:00+00', '3', '0.1', 'new'),
  ('202', 'not a time', '1', '0.1', 'x');
SELECT * FROM fs_ingest('user_stats', 'dup_src');
SELECT user_id, event_time, clicks, segment FROM user_stats WHERE user_id >= 200 ORDER BY 1;
SELECT entity_id, "column", raw_value, reason FROM fs_ingest_rejects
 WHERE run_id = (SELECT max(run_id) FROM fs_ingest_runs);

-- A typed source without an event-time column: values convert through text,
-- the event time is the run's start.
CREATE TABLE typed_src (user_id int, clicks bigint, ctr numeric, segment varchar);
INSERT INTO typed_src VALUES (300, 3, 0.25, 'typed');
SELECT * FROM fs_ingest('user_stats', 'typed_src');
SELECT user_id, clicks, ctr, segment, event_time > '2026-01-01' AS stamped
  FROM user_stats WHERE user_id = 300;

-- Snapshot: entities the source no longer has are deleted, from the table and
-- the state; a rejected row's entity is kept.
DELETE FROM user_stats_staging WHERE user_id::int > 90;
INSERT INTO user_stats_staging VALUES ('202', 'not a time', '1', '0.1', 'x');
SELECT * FROM fs_ingest('user_stats', 'user_stats_staging', 'snapshot');
SELECT count(*), min(user_id), max(user_id) FROM user_stats;
SELECT count(*) FROM fs_ingest_state WHERE feature_view = 'user_stats';
SELECT entity_id, status FROM fs_get_features(ARRAY['90', '91', '200'], ARRAY['user_stats:clicks']);

-- A rejected row protects its entity even when its key is written otherwise
-- ('02' for the integer key 2).
CREATE TABLE snap_t (user_id int PRIMARY KEY, event_time timestamptz NOT NULL, x int);
SELECT name FROM fs_register_feature_view('snap', 'snap_t', 'user');
SELECT fs_create_staging_table('snap', 'snap_in') IS NOT NULL AS created;
INSERT INTO snap_in VALUES ('1', '2026-01-01', '1'), ('2', '2026-01-01', '2');
SELECT rows_inserted FROM fs_ingest('snap', 'snap_in', 'snapshot');
TRUNCATE snap_in;
INSERT INTO snap_in VALUES ('1', '2026-01-01', '1'), ('02', '2026-01-02', 'oops');
SELECT rows_rejected, rows_deleted FROM fs_ingest('snap', 'snap_in', 'snapshot');
SELECT user_id, x FROM snap_t ORDER BY user_id;
-- A snapshot of an empty source is refused before anything is deleted (an
-- empty file, most likely); an upsert of it changes nothing.
TRUNCATE snap_in;
SELECT * FROM fs_ingest('snap', 'snap_in', 'snapshot');
SELECT user_id, x FROM snap_t ORDER BY user_id;
SELECT count(*) AS entities_in_state FROM fs_ingest_state WHERE feature_view = 'snap';
SELECT rows_read, online_writes FROM fs_ingest('snap', 'snap_in');
-- A source whose every row is rejected was read: the snapshot goes on,
-- keeping the rejected rows' entities and deleting the others.
INSERT INTO snap_in VALUES ('2', '2026-01-03', 'oops');
SELECT rows_read, rows_rejected, rows_deleted FROM fs_ingest('snap', 'snap_in', 'snapshot');
SELECT user_id, x FROM snap_t ORDER BY user_id;
SELECT fs_drop_feature_view('snap');
DROP TABLE snap_t, snap_in;

-- Never older over newer, even through an unchanged row: values confirmed at
-- a newer time make a later, older change stale.
CREATE TABLE conf_t (user_id int PRIMARY KEY, event_time timestamptz NOT NULL, v int);
SELECT name FROM fs_register_feature_view('conf', 'conf_t', 'user');
SELECT fs_create_staging_table('conf', 'conf_in') IS NOT NULL AS created;
INSERT INTO conf_in VALUES ('1', '2026-01-10', '1');
SELECT online_writes FROM fs_ingest('conf', 'conf_in');
UPDATE conf_in SET event_time = '2026-01-20';
SELECT rows_unchanged, online_writes FROM fs_ingest('conf', 'conf_in');
UPDATE conf_in SET event_time = '2026-01-15', v = '2';
SELECT rows_stale, online_writes FROM fs_ingest('conf', 'conf_in');
SELECT user_id, v FROM conf_t;
SELECT fs_drop_feature_view('conf');
DROP TABLE conf_t, conf_in;

-- A char(n) key: the state matches it, so a rerun writes nothing.
CREATE TABLE pad_t (user_id char(5) PRIMARY KEY, event_time timestamptz NOT NULL, x int);
SELECT name FROM fs_register_feature_view('pad', 'pad_t', 'user');
SELECT fs_create_staging_table('pad', 'pad_in') IS NOT NULL AS created;
INSERT INTO pad_in VALUES ('ab', '2026-01-01', '1'), ('abc', '2026-01-01', '2');
SELECT online_writes FROM fs_ingest('pad', 'pad_in');
SELECT rows_unchanged, online_writes FROM fs_ingest('pad', 'pad_in');
SELECT fs_drop_feature_view('pad');
DROP TABLE pad_t, pad_in;

-- Generated columns are computed by the table, never ingested: the staging
-- table leaves them out, a source need not have them (and one that has them
-- is not read for them), the write does not list them.  The digest covers
-- the ingested features.
CREATE TABLE gen_t (user_id int PRIMARY KEY, event_time timestamptz NOT NULL, clicks int,
                    clicks2 int GENERATED ALWAYS AS (clicks * 2) STORED, segment text);
SELECT name FROM fs_register_feature_view('gen', 'gen_t', 'user');
SELECT fs_create_staging_table('gen', 'gen_in') IS NOT NULL AS created;
SELECT attname FROM pg_attribute WHERE attrelid = 'gen_in'::regclass AND attnum > 0 ORDER BY attnum;
INSERT INTO gen_in VALUES ('1', '2026-01-01', '5', 'a'), ('2', '2026-01-01', '7', 'b');
SELECT * FROM fs_ingest('gen', 'gen_in');
SELECT * FROM gen_t ORDER BY user_id;
SELECT rows_unchanged, online_writes FROM fs_ingest('gen', 'gen_in');
CREATE TABLE gen_src (user_id text, event_time text, clicks text, clicks2 text, segment text);
INSERT INTO gen_src VALUES ('1', '2026-01-02', '6', '999', 'a'), ('2', '2026-01-02', '7', '999', 'b');
SELECT rows_unchanged, rows_updated FROM fs_ingest('gen', 'gen_src', 'snapshot');
SELECT * FROM gen_t ORDER BY user_id;
SELECT feature_ref, value FROM fs_get_features(ARRAY['1'], ARRAY['gen:*']);
SELECT fs_drop_feature_view('gen');
DROP TABLE gen_t, gen_in, gen_src;

-- A row that breaks a constraint of the table (a CHECK, a foreign key) is
-- rejected with the constraint's message and column, and the run goes on:
-- the others are written, and only they get a state.
CREATE TABLE seg_t (name text PRIMARY KEY);
INSERT INTO seg_t VALUES ('a'), ('b');
CREATE TABLE chk_t (user_id int PRIMARY KEY, event_time timestamptz NOT NULL,
                    clicks int CHECK (clicks >= 0), views int,
                    segment text REFERENCES seg_t,
                    CONSTRAINT clicks_within_views CHECK (clicks <= views));
SELECT name FROM fs_register_feature_view('chk', 'chk_t', 'user');
SELECT fs_create_staging_table('chk', 'chk_in') IS NOT NULL AS created;
INSERT INTO chk_in VALUES ('1', '2026-01-01', '1', '5', 'a'), ('2', '2026-01-01', '-1', '5', 'a'),
                          ('3', '2026-01-01', '1', '5', 'z'), ('4', '2026-01-01', '9', '5', 'b'),
                          ('5', '2026-01-01', '2', '5', 'b'), ('6', '2026-01-01', '1', '5', 'a');
-- entity 6: a newer value written by another lane, so its row is stale
INSERT INTO chk_t VALUES (6, '2026-02-01', 0, 5, 'a');
SELECT * FROM fs_ingest('chk', 'chk_in');
SELECT entity_id, "column", raw_value, reason FROM fs_ingest_rejects
 WHERE run_id = (SELECT max(run_id) FROM fs_ingest_runs) ORDER BY entity_id;
SELECT user_id, clicks, segment FROM chk_t ORDER BY user_id;
SELECT entity_id FROM fs_ingest_state WHERE feature_view = 'chk' ORDER BY entity_id;
SELECT rows_rejected, rows_stale, online_writes FROM fs_ingest_runs
 WHERE run_id = (SELECT max(run_id) FROM fs_ingest_runs);
-- Rejected again until the table accepts them; an update that breaks a
-- constraint keeps the stored value, and a snapshot keeps its entity.
INSERT INTO seg_t VALUES ('z');
UPDATE chk_in SET clicks = '-5', event_time = '2026-01-02' WHERE user_id = '1';
SELECT rows_rejected, rows_stale, rows_unchanged, rows_inserted, rows_updated, rows_deleted
  FROM fs_ingest('chk', 'chk_in', 'snapshot');
SELECT user_id, event_time, clicks, segment FROM chk_t ORDER BY user_id;
SELECT entity_id, event_time FROM fs_ingest_state WHERE feature_view = 'chk' ORDER BY entity_id;
-- Many rows, one of them refused: the others are written, counted once.
TRUNCATE chk_in;
INSERT INTO chk_in SELECT g::text, '2026-01-03', CASE WHEN g = 1700 THEN '-1' ELSE '1' END, '5', 'a'
  FROM generate_series(1, 2500) g;
SELECT rows_read, rows_rejected, rows_stale, rows_unchanged, rows_inserted, rows_updated,
       online_writes
  FROM fs_ingest('chk', 'chk_in');
SELECT count(*), sum(clicks) FROM chk_t;
SELECT count(*) AS state FROM fs_ingest_state WHERE feature_view = 'chk';
SELECT entity_id, reason FROM fs_ingest_rejects WHERE run_id = (SELECT max(run_id) FROM fs_ingest_runs);
-- An event time at infinity is rejected, as every lane refuses it: stored,
-- it would make every later write of the entity stale.  The same text on
-- the next row is rejected too (the silver step reuses a repeated time).
TRUNCATE chk_in;
INSERT INTO chk_in VALUES ('7001', 'infinity', '1', '5', 'a'), ('7002', 'infinity', '1', '5', 'a'),
                          ('7003', '-infinity', '1', '5', 'a'), ('7004', '2026-01-04', '1', '5', 'a');
SELECT rows_read, rows_rejected, rows_inserted FROM fs_ingest('chk', 'chk_in');
SELECT entity_id, "column", raw_value, reason FROM fs_ingest_rejects
 WHERE run_id = (SELECT max(run_id) FROM fs_ingest_runs) ORDER BY entity_id;
SELECT user_id, event_time FROM chk_t WHERE user_id > 7000 ORDER BY user_id;
SELECT fs_drop_feature_view('chk');
DROP TABLE chk_t, chk_in, seg_t;

-- Domains whose CHECK runs SQL (an SQL function, a PL/pgSQL one): a value
-- one refuses rejects its row only.  The check runs in a subtransaction, so
-- what the failed function left behind is cleaned up and the rows after it
-- convert as usual (no "division by zero" for valid values, no leaked
-- buffer pins or snapshots).
CREATE FUNCTION dom_sql_ok(v int) RETURNS bool LANGUAGE sql IMMUTABLE AS 'SELECT 100 / (v + 1) >= 0';
CREATE FUNCTION dom_plpgsql_ok(v int) RETURNS bool LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF v = 13 THEN RAISE EXCEPTION 'unlucky %', v USING ERRCODE = '22023'; END IF;
    RETURN (SELECT count(*) FROM pg_class WHERE oid = 'pg_class'::regclass) = 1;
END $$;
CREATE DOMAIN sql_checked AS int CHECK (dom_sql_ok(VALUE));
CREATE DOMAIN plpgsql_checked AS int CHECK (dom_plpgsql_ok(VALUE));
CREATE TABLE dom_t (user_id int PRIMARY KEY, event_time timestamptz, a sql_checked, b plpgsql_checked);
SELECT name FROM fs_register_feature_view('dom', 'dom_t', 'user');
SELECT fs_create_staging_table('dom', 'dom_in') IS NOT NULL AS created;
INSERT INTO dom_in VALUES ('1', '2026-01-01', '1', '1'), ('2', '2026-01-01', '-1', '2'),
                          ('3', '2026-01-01', '3', '13'), ('4', '2026-01-01', '500', '4'),
                          ('5', '2026-01-01', '7', '5');
SELECT rows_read, rows_rejected, rows_inserted FROM fs_ingest('dom', 'dom_in');
SELECT entity_id, "column", raw_value, reason FROM fs_ingest_rejects
 WHERE run_id = (SELECT max(run_id) FROM fs_ingest_runs) ORDER BY entity_id;
SELECT user_id, a, b FROM dom_t ORDER BY user_id;
SELECT fs_drop_feature_view('dom');
DROP TABLE dom_t, dom_in;
DROP DOMAIN sql_checked, plpgsql_checked;
DROP FUNCTION dom_sql_ok(int), dom_plpgsql_ok(int);

-- A run is part of the caller's transaction: rolled back, it leaves no run row and no write.
BEGIN;
SELECT rows_updated FROM fs_ingest('user_stats', 'typed_src');
SELECT status FROM fs_ingest_runs ORDER BY run_id DESC LIMIT 1;
ROLLBACK;
SELECT count(*) AS runs FROM fs_ingest_runs;

-- A run locks its view's catalog row until the transaction ends, so that a
-- second run on the view waits for it (test/isolation/specs/ingest_locks.spec),
-- and takes no advisory lock, which any role could take to stall the view.
BEGIN;
SELECT rows_read FROM fs_ingest('user_stats', 'typed_src');
SELECT xmax = pg_current_xact_id()::xid AS row_locked FROM fs_feature_view WHERE name = 'user_stats';
SELECT count(*) AS advisory_locks FROM pg_locks
 WHERE locktype = 'advisory' AND pid = pg_backend_pid();
ROLLBACK;

-- Errors.
SELECT pg_temp.err($$SELECT fs_ingest('user_stats', 'user_stats_staging', 'append')$$);
SELECT pg_temp.err($$SELECT fs_ingest('nope', 'user_stats_staging')$$);
CREATE TABLE nokey_src (id text, clicks text, ctr text, segment text);
SELECT pg_temp.err($$SELECT fs_ingest('user_stats', 'nokey_src')$$);
CREATE TABLE nofeat_src (user_id text, event_time text, note text);
SELECT pg_temp.err($$SELECT fs_ingest('user_stats', 'nofeat_src')$$);

-- A view over a foreign table of fs_dynamodb whose store is unreachable: the
-- store's error, and no run is left behind (ingest_dynamodb tests the rest).
CREATE SERVER ingest_ddb FOREIGN DATA WRAPPER fs_dynamodb
    OPTIONS (endpoint 'http://127.0.0.1:9', region 'us-east-1');
CREATE FOREIGN TABLE remote_stats (user_id bigint, event_time timestamptz, clicks int)
    SERVER ingest_ddb OPTIONS (key 'user_id');
SELECT name FROM fs_register_feature_view('remote_stats', 'remote_stats', 'user');
SELECT pg_temp.err($$SELECT fs_ingest('remote_stats', 'user_stats_staging')$$);
SELECT count(*) AS remote_runs FROM fs_ingest_runs WHERE feature_view = 'remote_stats';
-- fs_ingest cannot compute a foreign table's generated columns: refused
-- before the store is asked anything.
CREATE FOREIGN TABLE remote_gen (user_id bigint, event_time timestamptz, clicks int,
                                 clicks2 int GENERATED ALWAYS AS (clicks * 2) STORED)
    SERVER ingest_ddb OPTIONS (key 'user_id');
SELECT name FROM fs_register_feature_view('remote_gen', 'remote_gen', 'user');
SELECT pg_temp.err($$SELECT fs_ingest('remote_gen', 'user_stats_staging')$$);
DROP FOREIGN TABLE remote_gen;

-- Only the owner of the view's table may ingest into it.
CREATE ROLE regress_fs_ingester;
GRANT SELECT ON user_stats_staging TO regress_fs_ingester;
SET ROLE regress_fs_ingester;
SELECT pg_temp.err($$SELECT fs_ingest('user_stats', 'user_stats_staging')$$);
SELECT pg_temp.err($$INSERT INTO fs_ingest_state VALUES ('user_stats', '1', '\x00', now())$$);
RESET ROLE;

-- A table's owner who is not a superuser ingests: the extension records its
-- runs, its rejects, the state of its views.  An unqualified staging
-- table goes into the schema of the view's table.
CREATE SCHEMA regress_fs_ingest_s AUTHORIZATION regress_fs_ingester;
SET ROLE regress_fs_ingester;
CREATE TABLE regress_fs_ingest_s.own_t (user_id bigint PRIMARY KEY, event_time timestamptz, x int);
SELECT name FROM fs_register_feature_view('own', 'regress_fs_ingest_s.own_t', 'user');
SELECT fs_create_staging_table('own', 'own_in');
INSERT INTO regress_fs_ingest_s.own_in VALUES ('1', '2026-01-01', '1'), ('2', '2026-01-01', 'bad');
SELECT * FROM fs_ingest('own', 'regress_fs_ingest_s.own_in', 'snapshot');
SELECT rows_unchanged, online_writes FROM fs_ingest('own', 'regress_fs_ingest_s.own_in', 'snapshot');
UPDATE regress_fs_ingest_s.own_in SET user_id = '3';
SELECT rows_inserted, rows_deleted, online_writes FROM fs_ingest('own', 'regress_fs_ingest_s.own_in', 'snapshot');
SELECT entity_id, digest IS NOT NULL AS has_digest FROM fs_ingest_state WHERE feature_view = 'own';
SELECT run_by, rows_rejected FROM fs_ingest_runs WHERE feature_view = 'own' ORDER BY run_id;
-- others' runs stay theirs
SELECT pg_temp.err($$UPDATE fs_ingest_runs SET status = 'failed' WHERE feature_view = 'user_stats'$$),
       (SELECT count(*) FROM fs_ingest_runs WHERE status = 'failed') AS failed;
-- others' state and rejects (entity ids, raw values) are not visible without
-- SELECT on their view's table
SELECT count(*) AS others_state FROM fs_ingest_state WHERE feature_view = 'user_stats';
SELECT count(*) AS others_rejects FROM fs_ingest_rejects r JOIN fs_ingest_runs u USING (run_id)
 WHERE u.feature_view = 'user_stats';
-- the silver step writes only into this session's own scratch tables,
-- never straight into a table (not even one the role owns)
SELECT pg_temp.err($$SELECT * FROM fs_ingest_silver(1, 'own', 'regress_fs_ingest_s.own_in',
                                                     'regress_fs_ingest_s.own_t', NULL, 'user_id',
                                                     'event_time', now())$$);
RESET ROLE;

-- Dropping a view drops its state: registered again, it starts from nothing.
SELECT count(*) > 0 AS had_state FROM fs_ingest_state WHERE feature_view = 'own';
SELECT fs_drop_feature_view('own');
SELECT count(*) AS state_left FROM fs_ingest_state WHERE feature_view = 'own';

-- Change detection reads the source's text: rows written exactly as before
-- are unchanged; the same value written differently is a change; a
-- feature's new type makes every row a change.
CREATE TABLE txt (id int PRIMARY KEY, event_time timestamptz, n numeric, s text);
SELECT name FROM fs_register_entity('txt_thing', 'id');
SELECT name FROM fs_register_feature_view('txt', 'txt', 'txt_thing');
CREATE TABLE txt_src (id text, event_time text, n text, s text);
INSERT INTO txt_src VALUES ('1', '2026-01-01', '1.5', 'a'), ('2', '2026-01-01', '2', 'b'),
                           ('3', '2026-01-01', '3', 'c');
SELECT rows_read, rows_inserted, online_writes FROM fs_ingest('txt', 'txt_src');
UPDATE txt_src SET n = '1.50' WHERE id = '1';
SELECT rows_unchanged, rows_updated, online_writes FROM fs_ingest('txt', 'txt_src');
SELECT id, n FROM txt ORDER BY id;
SELECT rows_unchanged, online_writes FROM fs_ingest('txt', 'txt_src');
ALTER TABLE txt ALTER COLUMN n TYPE float8;
SELECT rows_unchanged, rows_updated, online_writes FROM fs_ingest('txt', 'txt_src');
SELECT id, n FROM txt ORDER BY id;
SELECT rows_unchanged, online_writes FROM fs_ingest('txt', 'txt_src');
SELECT fs_drop_feature_view('txt');
DROP TABLE txt, txt_src;

-- A first load into an empty table writes with plain INSERTs.  A BEFORE
-- trigger keeps a row out: that row is not written and gets no state (the
-- run falls back to the upsert, which knows what it wrote), so the next run,
-- once the trigger is gone, writes it.
CREATE TABLE trg (id int PRIMARY KEY, event_time timestamptz, v int);
CREATE FUNCTION trg_keep_out() RETURNS trigger LANGUAGE plpgsql
    AS $$BEGIN IF NEW.v < 0 THEN RETURN NULL; END IF; RETURN NEW; END$$;
CREATE TRIGGER trg_keep_out BEFORE INSERT ON trg FOR EACH ROW EXECUTE FUNCTION trg_keep_out();
SELECT name FROM fs_register_entity('trg_id', 'id');
SELECT name FROM fs_register_feature_view('trg', 'trg', 'trg_id');
CREATE TABLE trg_src (id text, event_time text, v text);
INSERT INTO trg_src VALUES ('1', '2026-01-01 00:00:00+00', '-1'), ('2', '2026-01-01 00:00:00+00', '2');
SELECT rows_read, rows_stale, rows_inserted, online_writes FROM fs_ingest('trg', 'trg_src');
SELECT id, v FROM trg ORDER BY id;
SELECT entity_id FROM fs_ingest_state WHERE feature_view = 'trg' ORDER BY entity_id;
DROP TRIGGER trg_keep_out ON trg;
SELECT rows_unchanged, rows_inserted FROM fs_ingest('trg', 'trg_src');
SELECT id, v FROM trg ORDER BY id;
SELECT fs_drop_feature_view('trg');
SELECT fs_drop_entity('trg_id');
DROP TABLE trg, trg_src;
DROP FUNCTION trg_keep_out();

DROP TABLE user_stats_staging, other_staging, dup_src, typed_src, nokey_src, nofeat_src;
DROP EXTENSION feature_store CASCADE;
DROP TABLE user_stats;
SET client_min_messages = warning;
DROP SCHEMA regress_fs_ingest_s CASCADE;
RESET client_min_messages;
DROP ROLE regress_fs_ingester;

--
-- ingest_spill: a run whose entities take more memory than
-- maintenance_work_mem holds works in parts, through temporary files, and
-- decides exactly as a run in memory does.  The same runs go into two views
-- of one table shape: "part" with maintenance_work_mem 1MB (several parts,
-- as its NOTICE says), "mem" with the default (one part); then the
-- tables, the runs' counts, the rejects and the state of the two are
-- compared.  Two key types: numeric (passed by reference; '7' and '7.0'
-- are one entity) and text.
--
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_store CASCADE;
DROP VIEW IF EXISTS spill_src_v;
DROP TABLE IF EXISTS spill_mem, spill_part, spill_src, tspill_mem, tspill_part, tspill_src, rls_src, rls_view, miss_src, inh_src CASCADE;
DROP ROLE IF EXISTS spill_rls;
RESET client_min_messages;
CREATE EXTENSION feature_store;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
-- The parts' NOTICE says how many in its DETAIL, which depends on
-- statistics: not shown.
\set VERBOSITY terse

SELECT name FROM fs_register_entity('spill_user', 'id');
CREATE TABLE spill_mem (id numeric PRIMARY KEY, event_time timestamptz, a int, b text);
CREATE TABLE spill_part (LIKE spill_mem INCLUDING ALL);
SELECT name FROM fs_register_feature_view('spill_mem', 'spill_mem', 'spill_user');
SELECT name FROM fs_register_feature_view('spill_part', 'spill_part', 'spill_user');
CREATE TABLE spill_src (id text, event_time text, a text, b text);

-- One run of the source into both views; the "part" run in parts.
CREATE FUNCTION pg_temp.both(mode text, src text DEFAULT 'spill_src') RETURNS TABLE (view text, rows_read bigint,
    rows_rejected bigint, rows_stale bigint, rows_unchanged bigint, rows_inserted bigint,
    rows_updated bigint, rows_deleted bigint)
LANGUAGE plpgsql AS $$
BEGIN
    SET LOCAL maintenance_work_mem = '1MB';
    RETURN QUERY SELECT 'part', r.rows_read, r.rows_rejected, r.rows_stale, r.rows_unchanged,
                        r.rows_inserted, r.rows_updated, r.rows_deleted
                   FROM fs_ingest('spill_part', src::regclass, mode) r;
    RESET maintenance_work_mem;
    RETURN QUERY SELECT 'mem', r.rows_read, r.rows_rejected, r.rows_stale, r.rows_unchanged,
                        r.rows_inserted, r.rows_updated, r.rows_deleted
                   FROM fs_ingest('spill_mem', src::regclass, mode) r;
END $$;

-- What differs between the two views: table rows, rejects of the last
-- runs, state rows.
CREATE FUNCTION pg_temp.differences() RETURNS TABLE (what text, n bigint)
LANGUAGE sql AS $$
    SELECT 'table rows', count(*) FROM (
        (SELECT * FROM spill_mem EXCEPT SELECT * FROM spill_part)
        UNION ALL (SELECT * FROM spill_part EXCEPT SELECT * FROM spill_mem)) d
    UNION ALL
    SELECT 'rejects', count(*) FROM (
        (SELECT source_row, entity_id, "column", raw_value, reason FROM fs_ingest_rejects
          WHERE run_id = (SELECT max(run_id) FROM fs_ingest_runs WHERE feature_view = 'spill_mem')
         EXCEPT SELECT source_row, entity_id, "column", raw_value, reason FROM fs_ingest_rejects
          WHERE run_id = (SELECT max(run_id) FROM fs_ingest_runs WHERE feature_view = 'spill_part'))
        UNION ALL
        (SELECT source_row, entity_id, "column", raw_value, reason FROM fs_ingest_rejects
          WHERE run_id = (SELECT max(run_id) FROM fs_ingest_runs WHERE feature_view = 'spill_part')
         EXCEPT SELECT source_row, entity_id, "column", raw_value, reason FROM fs_ingest_rejects
          WHERE run_id = (SELECT max(run_id) FROM fs_ingest_runs WHERE feature_view = 'spill_mem'))) d
    UNION ALL
    SELECT 'state rows', count(*) FROM (
        (SELECT entity_id, digest, event_time, entity_hash FROM fs_ingest_state WHERE feature_view = 'spill_mem'
         EXCEPT SELECT entity_id, digest, event_time, entity_hash FROM fs_ingest_state WHERE feature_view = 'spill_part')
        UNION ALL
        (SELECT entity_id, digest, event_time, entity_hash FROM fs_ingest_state WHERE feature_view = 'spill_part'
         EXCEPT SELECT entity_id, digest, event_time, entity_hash FROM fs_ingest_state WHERE feature_view = 'spill_mem')) d
$$;

-- Run 1, a snapshot of 30,000 entities: entity g's rows are
--   every g: one at 2026-01-01;
--   g % 7 = 0: a second row, newer (it wins) and written as 'g.0';
--   g % 11 = 0: a second row at the same time, later in the source (it wins);
--   g % 13 = 0: a second row, older (stale);
--   g % 997 = 0: a bad a (rejected), g % 1009 = 0: no id.
INSERT INTO spill_src
SELECT g::text, '2026-01-01', g::text, 'b' || g FROM generate_series(1, 30000) g
UNION ALL SELECT g || '.0', '2026-01-02', (g + 1)::text, 'seven' FROM generate_series(7, 30000, 7) g
UNION ALL SELECT g::text, '2026-01-01', (g + 2)::text, 'tie' FROM generate_series(11, 30000, 11) g
UNION ALL SELECT g::text, '2025-12-31', (g + 3)::text, 'old' FROM generate_series(13, 30000, 13) g
UNION ALL SELECT g::text, '2026-01-03', 'x' || g, 'bad' FROM generate_series(997, 30000, 997) g
UNION ALL SELECT NULL, '2026-01-03', '1', 'no id' FROM generate_series(1009, 30000, 1009) g;
-- Through a view (read by a cursor, not from the heap), whose size is the
-- plan's estimate; the state is empty, so the view's size alone makes parts.
CREATE VIEW spill_src_v AS SELECT * FROM spill_src;
SELECT * FROM pg_temp.both('snapshot', 'spill_src_v') ORDER BY view;
SELECT * FROM pg_temp.differences();

-- Run 2, a snapshot again: 1% changed, the entities g % 5 = 0 gone (they
-- are deleted), except those of a rejected row (kept: a bad feature, or a
-- bad event time, which is rejected before its entity's part is known);
-- the g % 7 entities now written as 'g' (the same entities).
TRUNCATE spill_src;
INSERT INTO spill_src
SELECT g::text, '2026-01-01', g::text, 'b' || g FROM generate_series(1, 30000) g
 WHERE g % 5 <> 0 AND g % 7 <> 0 AND g % 100 <> 1
UNION ALL SELECT g::text, '2026-01-05', (g * 2)::text, 'changed' FROM generate_series(1, 30000, 100) g
UNION ALL SELECT g::text, '2026-01-02', (g + 1)::text, 'seven' FROM generate_series(7, 30000, 7) g
 WHERE g % 5 <> 0 AND g % 100 <> 1
UNION ALL SELECT g::text, '2026-01-05', 'y' || g, 'bad' FROM generate_series(5, 30000, 995) g
UNION ALL SELECT g::text, 'no time', '1', 'bad time' FROM generate_series(10, 30000, 1990) g;
SELECT * FROM pg_temp.both('snapshot') ORDER BY view;
SELECT * FROM pg_temp.differences();
SELECT count(*) AS rows_now, count(*) FILTER (WHERE b = 'changed') AS changed
  FROM spill_part;

-- Run 3, an upsert of the same source: nothing to write.
SELECT * FROM pg_temp.both('upsert') ORDER BY view;
SELECT * FROM pg_temp.differences();

-- A text key, and state rows a run puts right: a second row of one entity
-- (dropped) and a row with a wrong entity_hash (fixed, compared afresh).
SELECT name FROM fs_register_entity('spill_item', 'item');
CREATE TABLE tspill_mem (item text PRIMARY KEY, event_time timestamptz, v float8);
CREATE TABLE tspill_part (LIKE tspill_mem INCLUDING ALL);
SELECT name FROM fs_register_feature_view('tspill_mem', 'tspill_mem', 'spill_item');
SELECT name FROM fs_register_feature_view('tspill_part', 'tspill_part', 'spill_item');
CREATE TABLE tspill_src (item text, event_time text, v text);
INSERT INTO tspill_src SELECT 'item-' || g, '2026-01-01', (g / 3.0)::text FROM generate_series(1, 30000) g;
SELECT count(*) FROM fs_ingest('tspill_mem', 'tspill_src');
SET maintenance_work_mem = '1MB';
SELECT count(*) FROM fs_ingest('tspill_part', 'tspill_src');
RESET maintenance_work_mem;
-- Break the state of both alike (as its owner would; fs_ingest_state is the
-- extension's table).
UPDATE fs_ingest_state SET entity_hash = entity_hash + 1
 WHERE feature_view IN ('tspill_mem', 'tspill_part') AND entity_id IN ('item-10', 'item-20');
INSERT INTO fs_ingest_state (feature_view, entity_id, digest, event_time, entity_hash)
SELECT feature_view, entity_id, '\x00', event_time, entity_hash + 2
  FROM fs_ingest_state WHERE feature_view IN ('tspill_mem', 'tspill_part') AND entity_id = 'item-30';
UPDATE tspill_src SET v = '-1', event_time = '2026-01-02' WHERE item IN ('item-40', 'item-50');
SELECT rows_unchanged, rows_updated FROM fs_ingest('tspill_mem', 'tspill_src');
SET maintenance_work_mem = '1MB';
SELECT rows_unchanged, rows_updated FROM fs_ingest('tspill_part', 'tspill_src');
RESET maintenance_work_mem;
SELECT count(*) AS differing_rows FROM (
    (SELECT * FROM tspill_mem EXCEPT SELECT * FROM tspill_part)
    UNION ALL (SELECT * FROM tspill_part EXCEPT SELECT * FROM tspill_mem)) d;
SELECT feature_view, count(*) AS state_rows,
       count(*) FILTER (WHERE entity_id IN ('item-10', 'item-20', 'item-30')) AS put_right
  FROM fs_ingest_state WHERE feature_view IN ('tspill_mem', 'tspill_part')
 GROUP BY feature_view ORDER BY feature_view;
SELECT count(*) AS differing_state FROM (
    (SELECT entity_id, digest, event_time, entity_hash FROM fs_ingest_state WHERE feature_view = 'tspill_mem'
     EXCEPT SELECT entity_id, digest, event_time, entity_hash FROM fs_ingest_state WHERE feature_view = 'tspill_part')
    UNION ALL
    (SELECT entity_id, digest, event_time, entity_hash FROM fs_ingest_state WHERE feature_view = 'tspill_part'
     EXCEPT SELECT entity_id, digest, event_time, entity_hash FROM fs_ingest_state WHERE feature_view = 'tspill_mem')) d;

-- Second rows of entities with a wrong entity_hash, read before the right
-- ones in an earlier batch of state rows (10,000 apart): the wrong one's
-- rehash would collide with the right one, so it is dropped instead, and
-- the right one stays, whether the source has the entity (item-29,
-- written) or not (item-28).  The state is laid out in that order by hand,
-- in one transaction (what it deletes keeps its place until then).
BEGIN;
CREATE TEMP TABLE tspill_saved ON COMMIT DROP AS
SELECT * FROM fs_ingest_state WHERE feature_view = 'tspill_mem';
DELETE FROM fs_ingest_state WHERE feature_view = 'tspill_mem';
INSERT INTO fs_ingest_state (feature_view, entity_id, digest, event_time, entity_hash)
SELECT feature_view, entity_id, digest, event_time, entity_hash + 3 FROM tspill_saved
 WHERE entity_id IN ('item-28', 'item-29');
INSERT INTO fs_ingest_state (feature_view, entity_id, digest, event_time, entity_hash)
SELECT feature_view, entity_id, digest, event_time, entity_hash FROM tspill_saved
 ORDER BY entity_id IN ('item-28', 'item-29'), entity_id;
COMMIT;
UPDATE tspill_src SET v = '-4', event_time = '2026-01-02' WHERE item = 'item-29';
DELETE FROM tspill_src WHERE item = 'item-28';
SELECT rows_unchanged, rows_updated FROM fs_ingest('tspill_mem', 'tspill_src');
INSERT INTO tspill_src VALUES ('item-28', '2026-01-01', (28 / 3.0)::text);
SELECT count(*) AS item_29_rows, min(v) AS v FROM tspill_mem WHERE item = 'item-29';
SELECT count(*) AS state_rows, count(*) FILTER (WHERE entity_id = 'item-29') AS item_29_state,
       count(*) FILTER (WHERE entity_id = 'item-28') AS item_28_state
  FROM fs_ingest_state WHERE feature_view = 'tspill_mem';

-- Temporary files count against temp_file_limit: a run that needs more is
-- an error (53400), and leaves nothing behind.
SET maintenance_work_mem = '1MB';
SET temp_file_limit = '64kB';
UPDATE tspill_src SET v = '-2', event_time = '2026-01-03';
SELECT count(*) FROM fs_ingest('tspill_part', 'tspill_src');
RESET temp_file_limit;
SELECT count(*) AS failed_runs_recorded FROM fs_ingest_runs
 WHERE feature_view = 'tspill_part' AND finished_at IS NULL;
SELECT count(*) FILTER (WHERE v = -2) AS written FROM tspill_part;
RESET maintenance_work_mem;

-- A table read from its heap, in parts: a row stored before ADD COLUMN ...
-- DEFAULT has the default, also when it is read back from a part's file.
CREATE TABLE miss_src (item text, event_time text);
INSERT INTO miss_src SELECT 'item-' || g, '2026-01-04' FROM generate_series(1, 30000) g;
ALTER TABLE miss_src ADD COLUMN v text DEFAULT '5';
SET maintenance_work_mem = '1MB';
SELECT rows_read, rows_rejected, rows_updated FROM fs_ingest('tspill_part', 'miss_src');
RESET maintenance_work_mem;
SELECT count(*) FILTER (WHERE v = 5) AS fives, count(*) AS items FROM tspill_part WHERE item LIKE 'item-%';
DROP TABLE miss_src;

-- A table with inheritance children: their rows are the source's too.
CREATE TABLE inh_src (item text, event_time text, v text);
CREATE TABLE inh_src_child () INHERITS (inh_src);
INSERT INTO inh_src VALUES ('inh-1', '2026-01-01', '1');
INSERT INTO inh_src_child VALUES ('inh-2', '2026-01-01', '2'), ('inh-3', '2026-01-01', '3');
SELECT rows_read, rows_inserted FROM fs_ingest('tspill_mem', 'inh_src');
DROP TABLE inh_src CASCADE;

-- A plain table is read straight from its heap, unless row-level security
-- applies to the caller: then its policies decide, as for any SELECT (here
-- its owner's own, FORCE ROW LEVEL SECURITY; a superuser bypasses them).
CREATE ROLE spill_rls;
GRANT CREATE ON SCHEMA public TO spill_rls;
SET ROLE spill_rls;
CREATE TABLE rls_view (item text PRIMARY KEY, event_time timestamptz, v float8);
SELECT name FROM fs_register_feature_view('rls_view', 'rls_view', 'spill_item');
CREATE TABLE rls_src (item text, event_time text, v text);
INSERT INTO rls_src SELECT 'rls-' || g, '2026-01-01', g::text FROM generate_series(1, 10) g;
ALTER TABLE rls_src ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY even_only ON rls_src USING (substr(item, 5)::int % 2 = 0);
SELECT rows_read, rows_inserted FROM fs_ingest('rls_view', 'rls_src');
SELECT string_agg(item, ', ' ORDER BY item) AS written FROM rls_view;
SELECT fs_drop_feature_view('rls_view');
DROP TABLE rls_src, rls_view;
RESET ROLE;
REVOKE CREATE ON SCHEMA public FROM spill_rls;
DROP ROLE spill_rls;

DROP VIEW spill_src_v;
DROP TABLE spill_src, tspill_src;

--
-- ingest_parallel: a run over a table read from its heap, of at least
-- min_parallel_table_scan_size, has a parallel worker (as its NOTICE says),
-- and decides exactly as a run alone.  The same runs go into three views of
-- one shape: "alone" with max_parallel_maintenance_workers 0, "par" with a
-- worker and the entities in memory, "parts" with a worker and
-- maintenance_work_mem 1MB (each process in parts, through temporary
-- files).  The tables, the runs' counts, the rejects (with their source
-- rows) and the state of "par" and "parts" are compared with "alone"'s.
--
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_store CASCADE;
DROP TABLE IF EXISTS par_alone, par_par, par_parts, par_src, tpar_alone, tpar_par, tpar_parts,
    tpar_src, big_alone, big_par, big_src, dom_view, dom_src, enum_view, enum_src CASCADE;
DROP DOMAIN IF EXISTS par_positive;
DROP TYPE IF EXISTS par_color;
RESET client_min_messages;
CREATE EXTENSION feature_store;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
-- The parts' NOTICE says how many in its DETAIL, which depends on
-- statistics: not shown.
\set VERBOSITY terse
SET min_parallel_table_scan_size = 0;
SET max_parallel_maintenance_workers = 1;

SELECT name FROM fs_register_entity('par_user', 'id');
CREATE TABLE par_alone (id numeric PRIMARY KEY, event_time timestamptz, a int, b text);
CREATE TABLE par_par (LIKE par_alone INCLUDING ALL);
CREATE TABLE par_parts (LIKE par_alone INCLUDING ALL);
SELECT name FROM fs_register_feature_view('par_alone', 'par_alone', 'par_user');
SELECT name FROM fs_register_feature_view('par_par', 'par_par', 'par_user');
SELECT name FROM fs_register_feature_view('par_parts', 'par_parts', 'par_user');
CREATE TABLE par_src (id text, event_time text, a text, b text);

-- One run of the source into the three views <prefix>_alone, _par, _parts.
CREATE FUNCTION pg_temp.runs(mode text, src text DEFAULT 'par_src', prefix text DEFAULT 'par')
RETURNS TABLE (view text, rows_read bigint, rows_rejected bigint, rows_stale bigint,
               rows_unchanged bigint, rows_inserted bigint, rows_updated bigint,
               rows_deleted bigint)
LANGUAGE plpgsql AS $$
BEGIN
    SET LOCAL max_parallel_maintenance_workers = 0;
    RETURN QUERY SELECT 'alone', r.rows_read, r.rows_rejected, r.rows_stale, r.rows_unchanged,
                        r.rows_inserted, r.rows_updated, r.rows_deleted
                   FROM fs_ingest(prefix || '_alone', src::regclass, mode) r;
    SET LOCAL max_parallel_maintenance_workers = 1;
    RETURN QUERY SELECT 'par', r.rows_read, r.rows_rejected, r.rows_stale, r.rows_unchanged,
                        r.rows_inserted, r.rows_updated, r.rows_deleted
                   FROM fs_ingest(prefix || '_par', src::regclass, mode) r;
    SET LOCAL maintenance_work_mem = '1MB';
    RETURN QUERY SELECT 'parts', r.rows_read, r.rows_rejected, r.rows_stale, r.rows_unchanged,
                        r.rows_inserted, r.rows_updated, r.rows_deleted
                   FROM fs_ingest(prefix || '_parts', src::regclass, mode) r;
END $$;

-- What differs between a view and "alone": table rows, rejects of the
-- last runs, state rows.
CREATE FUNCTION pg_temp.differences(other text, base text DEFAULT 'par_alone')
RETURNS TABLE (what text, n bigint)
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM ((TABLE %I EXCEPT ALL TABLE %I)
                                          UNION ALL (TABLE %I EXCEPT ALL TABLE %I)) d',
                   base, other, other, base) INTO n;
    RETURN QUERY SELECT other || ': table rows', n;
    RETURN QUERY
    WITH r AS (
        SELECT u.feature_view, j.source_row, j.entity_id, j."column", j.raw_value, j.reason
          FROM fs_ingest_rejects j JOIN fs_ingest_runs u USING (run_id)
         WHERE j.run_id IN (SELECT max(run_id) FROM fs_ingest_runs GROUP BY feature_view))
    SELECT other || ': rejects', count(*) FROM (
        (SELECT source_row, entity_id, "column", raw_value, reason FROM r WHERE feature_view = base
         EXCEPT ALL SELECT source_row, entity_id, "column", raw_value, reason FROM r WHERE feature_view = other)
        UNION ALL
        (SELECT source_row, entity_id, "column", raw_value, reason FROM r WHERE feature_view = other
         EXCEPT ALL SELECT source_row, entity_id, "column", raw_value, reason FROM r WHERE feature_view = base)) d;
    RETURN QUERY
    SELECT other || ': state rows', count(*) FROM (
        (SELECT entity_id, digest, event_time, entity_hash FROM fs_ingest_state WHERE feature_view = base
         EXCEPT ALL SELECT entity_id, digest, event_time, entity_hash FROM fs_ingest_state WHERE feature_view = other)
        UNION ALL
        (SELECT entity_id, digest, event_time, entity_hash FROM fs_ingest_state WHERE feature_view = other
         EXCEPT ALL SELECT entity_id, digest, event_time, entity_hash FROM fs_ingest_state WHERE feature_view = base)) d;
END $$;

-- Run 1, a snapshot of 30,000 entities: entity g's rows are
--   every g: one at 2026-01-01;
--   g % 7 = 0: a second row, newer (it wins) and written as 'g.0';
--   g % 11 = 0: a second row at the same time, later in the source (it wins);
--   g % 13 = 0: a second row, older (stale);
--   g % 997 = 0: a bad a (rejected), g % 1009 = 0: no id, g % 1013 = 0: a
--   bad id (both rejected by the run's own process).
INSERT INTO par_src
SELECT g::text, '2026-01-01', g::text, 'b' || g FROM generate_series(1, 30000) g
UNION ALL SELECT g || '.0', '2026-01-02', (g + 1)::text, 'seven' FROM generate_series(7, 30000, 7) g
UNION ALL SELECT g::text, '2026-01-01', (g + 2)::text, 'tie' FROM generate_series(11, 30000, 11) g
UNION ALL SELECT g::text, '2025-12-31', (g + 3)::text, 'old' FROM generate_series(13, 30000, 13) g
UNION ALL SELECT g::text, '2026-01-03', 'x' || g, 'bad' FROM generate_series(997, 30000, 997) g
UNION ALL SELECT NULL, '2026-01-03', '1', 'no id' FROM generate_series(1009, 30000, 1009) g
UNION ALL SELECT 'id-' || g, '2026-01-03', '1', 'bad id' FROM generate_series(1013, 30000, 1013) g;
SELECT * FROM pg_temp.runs('snapshot') ORDER BY view;
SELECT * FROM pg_temp.differences('par_par') UNION ALL SELECT * FROM pg_temp.differences('par_parts');
-- Each process wrote rows, rejects and state: the worker's came through
-- the leader (the entities of each half, by the key type's hash).
SELECT count(DISTINCT hash_numeric(entity_id::numeric) < 0) AS halves, count(*) AS rejects
  FROM fs_ingest_rejects
 WHERE run_id = (SELECT max(run_id) FROM fs_ingest_runs WHERE feature_view = 'par_par')
   AND reason NOT IN ('missing entity id') AND entity_id NOT LIKE 'id-%';
SELECT count(DISTINCT entity_hash < 0) AS halves, count(*) AS state_rows
  FROM fs_ingest_state WHERE feature_view = 'par_par';

-- Run 2, a snapshot again: 1% changed, the entities g % 5 = 0 gone (they
-- are deleted), except those of a rejected row (kept: a bad feature, or a
-- bad event time); the g % 7 entities now written as 'g' (the same
-- entities).
TRUNCATE par_src;
INSERT INTO par_src
SELECT g::text, '2026-01-01', g::text, 'b' || g FROM generate_series(1, 30000) g
 WHERE g % 5 <> 0 AND g % 7 <> 0 AND g % 100 <> 1
UNION ALL SELECT g::text, '2026-01-05', (g * 2)::text, 'changed' FROM generate_series(1, 30000, 100) g
UNION ALL SELECT g::text, '2026-01-02', (g + 1)::text, 'seven' FROM generate_series(7, 30000, 7) g
 WHERE g % 5 <> 0 AND g % 100 <> 1
UNION ALL SELECT g::text, '2026-01-05', 'y' || g, 'bad' FROM generate_series(5, 30000, 995) g
UNION ALL SELECT g::text, 'no time', '1', 'bad time' FROM generate_series(10, 30000, 1990) g;
SELECT * FROM pg_temp.runs('snapshot') ORDER BY view;
SELECT * FROM pg_temp.differences('par_par') UNION ALL SELECT * FROM pg_temp.differences('par_parts');
SELECT count(*) AS rows_now, count(*) FILTER (WHERE b = 'changed') AS changed FROM par_parts;

-- Run 3, an upsert of the same values, every row one day newer: nothing to
-- write, every entity's state advances (a later row older than that is
-- stale).
UPDATE par_src SET event_time = (event_time::date + 1)::text WHERE event_time <> 'no time';
SELECT * FROM pg_temp.runs('upsert') ORDER BY view;
SELECT * FROM pg_temp.differences('par_par') UNION ALL SELECT * FROM pg_temp.differences('par_parts');
SELECT count(*) AS advanced FROM fs_ingest_state
 WHERE feature_view = 'par_parts' AND event_time >= '2026-01-02';
UPDATE par_src SET event_time = '2026-01-01', a = '-1' WHERE event_time <> 'no time';
SELECT * FROM pg_temp.runs('upsert') ORDER BY view;
SELECT * FROM pg_temp.differences('par_par') UNION ALL SELECT * FROM pg_temp.differences('par_parts');

-- A text key, and state rows a run puts right, in both halves: second rows
-- of one entity (dropped), rows with a wrong entity_hash (fixed, compared
-- afresh).
SELECT name FROM fs_register_entity('par_item', 'item');
CREATE TABLE tpar_alone (item text PRIMARY KEY, event_time timestamptz, v float8);
CREATE TABLE tpar_par (LIKE tpar_alone INCLUDING ALL);
CREATE TABLE tpar_parts (LIKE tpar_alone INCLUDING ALL);
SELECT name FROM fs_register_feature_view('tpar_alone', 'tpar_alone', 'par_item');
SELECT name FROM fs_register_feature_view('tpar_par', 'tpar_par', 'par_item');
SELECT name FROM fs_register_feature_view('tpar_parts', 'tpar_parts', 'par_item');
CREATE TABLE tpar_src (item text, event_time text, v text);
INSERT INTO tpar_src SELECT 'item-' || g, '2026-01-01', (g / 3.0)::text FROM generate_series(1, 30000) g;
SELECT view, rows_inserted FROM pg_temp.runs('upsert', 'tpar_src', 'tpar') ORDER BY view;
-- Break the state of the three alike (as its owner would; fs_ingest_state is the
-- extension's table).
UPDATE fs_ingest_state SET entity_hash = entity_hash + 1
 WHERE feature_view IN ('tpar_alone', 'tpar_par', 'tpar_parts') AND entity_id LIKE 'item-1_';
INSERT INTO fs_ingest_state (feature_view, entity_id, digest, event_time, entity_hash)
SELECT feature_view, entity_id, '\x00', event_time, entity_hash + 2
  FROM fs_ingest_state WHERE feature_view IN ('tpar_alone', 'tpar_par', 'tpar_parts') AND entity_id LIKE 'item-2_';
SELECT count(DISTINCT entity_hash < 0) AS halves_broken FROM fs_ingest_state
 WHERE feature_view = 'tpar_par' AND (entity_id LIKE 'item-1_' OR entity_id LIKE 'item-2_');
UPDATE tpar_src SET v = '-1', event_time = '2026-01-02' WHERE item IN ('item-40', 'item-50');
SELECT view, rows_unchanged, rows_updated FROM pg_temp.runs('upsert', 'tpar_src', 'tpar') ORDER BY view;
SELECT * FROM pg_temp.differences('tpar_par', 'tpar_alone')
UNION ALL SELECT * FROM pg_temp.differences('tpar_parts', 'tpar_alone');
SELECT feature_view, count(*) AS state_rows FROM fs_ingest_state
 WHERE feature_view IN ('tpar_alone', 'tpar_par', 'tpar_parts') GROUP BY feature_view ORDER BY feature_view;

-- Each process reads the state rows of its half by their stored
-- entity_hash.  A row whose stored hash is in the other half from its
-- key's (its top bit flipped here) makes the run start again alone, with
-- the same results, the rows put right.
UPDATE fs_ingest_state SET entity_hash = entity_hash # (-2147483648)
 WHERE feature_view IN ('tpar_alone', 'tpar_par', 'tpar_parts') AND entity_id LIKE 'item-3_';
UPDATE tpar_src SET v = '-3', event_time = '2026-01-03' WHERE item IN ('item-31', 'item-60');
SELECT view, rows_unchanged, rows_updated FROM pg_temp.runs('upsert', 'tpar_src', 'tpar') ORDER BY view;
SELECT * FROM pg_temp.differences('tpar_par', 'tpar_alone')
UNION ALL SELECT * FROM pg_temp.differences('tpar_parts', 'tpar_alone');
-- Put right: the next run divides the state again.
SELECT rows_unchanged FROM fs_ingest('tpar_par', 'tpar_src');

-- A bigint key (passed by value), a snapshot with wide rows (more than the
-- worker's queue holds) whose second run drops entities.
SELECT name FROM fs_register_entity('par_big', 'uid');
CREATE TABLE big_alone (uid bigint PRIMARY KEY, event_time timestamptz, w text);
CREATE TABLE big_par (LIKE big_alone INCLUDING ALL);
SELECT name FROM fs_register_feature_view('big_alone', 'big_alone', 'par_big');
SELECT name FROM fs_register_feature_view('big_par', 'big_par', 'par_big');
CREATE TABLE big_src (uid text, event_time text, w text);
INSERT INTO big_src SELECT g::text, '2026-01-01', repeat(md5(g::text), 16) FROM generate_series(1, 20000) g;
CREATE FUNCTION pg_temp.big_runs() RETURNS TABLE (view text, rows_read bigint, rows_unchanged bigint,
    rows_inserted bigint, rows_updated bigint, rows_deleted bigint)
LANGUAGE plpgsql AS $$
BEGIN
    SET LOCAL max_parallel_maintenance_workers = 0;
    RETURN QUERY SELECT 'alone', r.rows_read, r.rows_unchanged, r.rows_inserted, r.rows_updated, r.rows_deleted
                   FROM fs_ingest('big_alone', 'big_src', 'snapshot') r;
    SET LOCAL max_parallel_maintenance_workers = 1;
    RETURN QUERY SELECT 'par', r.rows_read, r.rows_unchanged, r.rows_inserted, r.rows_updated, r.rows_deleted
                   FROM fs_ingest('big_par', 'big_src', 'snapshot') r;
END $$;
SELECT * FROM pg_temp.big_runs() ORDER BY view;
DELETE FROM big_src WHERE uid::int % 9 = 0;
UPDATE big_src SET w = 'changed', event_time = '2026-01-02' WHERE uid::int % 100 = 1;
SELECT * FROM pg_temp.big_runs() ORDER BY view;
SELECT * FROM pg_temp.differences('big_par', 'big_alone');

-- No worker to be had (max_parallel_workers 0): the run is alone, no
-- NOTICE, the same results.
SET max_parallel_workers = 0;
SELECT rows_read, rows_unchanged, rows_deleted FROM fs_ingest('big_par', 'big_src', 'snapshot');
RESET max_parallel_workers;

-- Also alone: a feature of a domain with a constraint (its refusal is
-- caught in a subtransaction, which a worker cannot start), a key whose
-- input reads the catalog (an enum), a SERIALIZABLE transaction.
CREATE DOMAIN par_positive AS int CHECK (VALUE > 0);
CREATE TABLE dom_view (item text PRIMARY KEY, event_time timestamptz, n par_positive);
SELECT name FROM fs_register_feature_view('dom_view', 'dom_view', 'par_item');
CREATE TABLE dom_src (item text, event_time text, n text);
INSERT INTO dom_src VALUES ('d1', '2026-01-01', '1'), ('d2', '2026-01-01', '-1');
SELECT rows_inserted, rows_rejected FROM fs_ingest('dom_view', 'dom_src');
CREATE TYPE par_color AS ENUM ('red', 'green');
SELECT name FROM fs_register_entity('par_color', 'color');
CREATE TABLE enum_view (color par_color PRIMARY KEY, event_time timestamptz, v int);
SELECT name FROM fs_register_feature_view('enum_view', 'enum_view', 'par_color');
CREATE TABLE enum_src (color text, event_time text, v text);
INSERT INTO enum_src VALUES ('red', '2026-01-01', '1'), ('blue', '2026-01-01', '2');
SELECT rows_inserted, rows_rejected FROM fs_ingest('enum_view', 'enum_src');
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT rows_unchanged FROM fs_ingest('tpar_par', 'tpar_src');
COMMIT;

-- Under min_parallel_table_scan_size, or from a temporary table (which a
-- worker cannot read), the run is alone: no NOTICE.
SET min_parallel_table_scan_size = '8MB';
SELECT rows_unchanged FROM fs_ingest('tpar_par', 'tpar_src');
SET min_parallel_table_scan_size = 0;
CREATE TEMP TABLE tpar_tmp AS TABLE tpar_src;
SELECT rows_unchanged FROM fs_ingest('tpar_par', 'tpar_tmp');

-- An error in either process (temporary files beyond temp_file_limit, in
-- parts) ends the run, and leaves nothing behind.
SET maintenance_work_mem = '1MB';
SET temp_file_limit = '64kB';
UPDATE tpar_src SET v = '-2', event_time = '2026-01-03';
SELECT count(*) FROM fs_ingest('tpar_par', 'tpar_src');
RESET temp_file_limit;
RESET maintenance_work_mem;
SELECT count(*) FILTER (WHERE v = -2) AS written FROM tpar_par;
SELECT count(*) AS failed_runs_recorded FROM fs_ingest_runs
 WHERE feature_view = 'tpar_par' AND finished_at IS NULL;
-- The same run afterwards finishes.
SELECT rows_updated FROM fs_ingest('tpar_par', 'tpar_src');


DROP TABLE par_src, tpar_src, big_src, dom_src, enum_src;

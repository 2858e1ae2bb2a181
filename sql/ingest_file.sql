--
-- ingest_file: a CSV file on the server ingested without a staging copy,
-- through a foreign table of file_fdw (docs/ingestion.md, "Reading the
-- source"), as the docs show it: rejects carry the record's place in the
-- file, a second run of a changed file writes only what changed, and a run
-- in parts (maintenance_work_mem 1MB, the file's size as the plan
-- estimates it) decides as one in memory.
--
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_store CASCADE;
DROP EXTENSION IF EXISTS file_fdw CASCADE;
DROP TABLE IF EXISTS file_stats, file_gen;
RESET client_min_messages;
CREATE EXTENSION feature_store;
CREATE EXTENSION file_fdw;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set VERBOSITY terse

CREATE TABLE file_stats (user_id bigint PRIMARY KEY, event_time timestamptz,
                         clicks int, ctr float8, segment text);
SELECT name FROM fs_register_entity('file_user', 'user_id');
SELECT name FROM fs_register_feature_view('file_stats', 'file_stats', 'file_user');

-- The file, written by the server into its data directory: 20,000 users,
-- user 7's clicks are not a number, record 3 has no id.
SELECT current_setting('data_directory') || '/fs_ingest_file_test.csv' AS csvfile \gset
SELECT 'cat ' || :'csvfile' AS catfile \gset
CREATE TABLE file_gen (user_id text, event_time text, clicks text, ctr text, segment text);
INSERT INTO file_gen
SELECT CASE WHEN g = 3 THEN NULL ELSE g::text END, '2026-01-01 00:00:00+00',
       CASE WHEN g = 7 THEN '7x' ELSE (g * 10)::text END, (g / 100.0)::text, 'seg' || (g % 3)
  FROM generate_series(1, 20000) g;
COPY (SELECT * FROM file_gen ORDER BY (CASE WHEN user_id IS NULL THEN 3 ELSE user_id::int END))
  TO :'csvfile' (FORMAT csv, HEADER);

CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
CREATE FOREIGN TABLE file_stats_src (user_id text, event_time text, clicks text, ctr text, segment text)
    SERVER files OPTIONS (filename :'csvfile', format 'csv', header 'true');

SELECT rows_read, rows_rejected, rows_inserted, online_writes FROM fs_ingest('file_stats', 'file_stats_src');
SELECT source_row, entity_id, "column", raw_value, reason FROM fs_ingest_rejects ORDER BY source_row, "column";
SELECT count(*), sum(clicks), min(segment), max(segment) FROM file_stats;

-- The file again, 1% changed (every 100th user: clicks -1, a newer time).
UPDATE file_gen SET clicks = '-1', event_time = '2026-01-02 00:00:00+00' WHERE user_id::int % 100 = 0;
COPY (SELECT * FROM file_gen ORDER BY (CASE WHEN user_id IS NULL THEN 3 ELSE user_id::int END))
  TO :'csvfile' (FORMAT csv, HEADER);
SET maintenance_work_mem = '1MB';
SELECT rows_read, rows_rejected, rows_unchanged, rows_updated, online_writes
  FROM fs_ingest('file_stats', 'file_stats_src');
RESET maintenance_work_mem;
SELECT count(*) FILTER (WHERE clicks = -1) AS changed, count(*) AS users,
       count(*) FILTER (WHERE event_time = '2026-01-02 00:00:00+00') AS newer
  FROM file_stats;

-- The file is read by fs_ingest itself, with COPY's parser, not through
-- file_fdw's scan: the same file read four ways into four views of one
-- shape must decide alike.  "cur" reads it through a view over the
-- foreign table (a cursor: file_fdw's scan), "one" from the file alone,
-- "par" from the file with a parallel worker (both processes read the
-- whole file, as the NOTICE says), "parts" with a worker and
-- maintenance_work_mem 1MB.  The file has 30,000 entities; entity g's rows:
--   every g: one at 2026-01-01, with an empty (NULL) ctr when g % 17 = 0;
--   g % 7 = 0: a second row, newer (it wins);
--   g % 11 = 0: a second row at the same time, later in the file (it wins);
--   g % 13 = 0: a second row, older (stale);
--   g % 997 = 0: bad clicks, g % 1009 = 0: no id, g % 1013 = 0: a bad id.
CREATE TABLE fv_cur (LIKE file_stats INCLUDING ALL);
CREATE TABLE fv_one (LIKE file_stats INCLUDING ALL);
CREATE TABLE fv_par (LIKE file_stats INCLUDING ALL);
CREATE TABLE fv_parts (LIKE file_stats INCLUDING ALL);
SELECT count(fs_register_feature_view(v, v, 'file_user'))
  FROM unnest('{fv_cur,fv_one,fv_par,fv_parts}'::text[]) v;
CREATE VIEW file_stats_cursor AS SELECT * FROM file_stats_src;
CREATE TABLE file_gen2 (n int, user_id text, event_time text, clicks text, ctr text, segment text);
CREATE FUNCTION pg_temp.write_file() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('COPY (SELECT user_id, event_time, clicks, ctr, segment FROM file_gen2 ORDER BY n)
                    TO %L (FORMAT csv, HEADER)', current_setting('data_directory') || '/fs_ingest_file_test.csv');
END $$;
INSERT INTO file_gen2
SELECT g * 10, CASE WHEN g % 1009 = 0 THEN NULL WHEN g % 1013 = 0 THEN 'id-' || g ELSE g::text END,
       '2026-01-01', CASE WHEN g % 997 = 0 THEN 'many' ELSE g::text END,
       CASE WHEN g % 17 = 0 THEN NULL ELSE (g / 100.0)::text END, 'a' || g
  FROM generate_series(1, 30000) g
UNION ALL SELECT g * 10 + 1, g::text, '2026-01-02', (g + 1)::text, '0.5', 'seven' FROM generate_series(7, 30000, 7) g
UNION ALL SELECT g * 10 + 2, g::text, '2026-01-01', (g + 2)::text, '0.25', 'tie' FROM generate_series(11, 30000, 11) g
UNION ALL SELECT g * 10 + 3, g::text, '2025-12-31', (g + 3)::text, '0.125', 'old' FROM generate_series(13, 30000, 13) g;
SELECT pg_temp.write_file();

-- One run of the file into the four views.
CREATE FUNCTION pg_temp.runs(mode text)
RETURNS TABLE (view text, rows_read bigint, rows_rejected bigint, rows_stale bigint,
               rows_unchanged bigint, rows_inserted bigint, rows_updated bigint,
               rows_deleted bigint)
LANGUAGE plpgsql AS $$
BEGIN
    SET LOCAL max_parallel_maintenance_workers = 1;
    SET LOCAL min_parallel_table_scan_size = 0;
    RETURN QUERY SELECT 'cur', r.rows_read, r.rows_rejected, r.rows_stale, r.rows_unchanged,
                        r.rows_inserted, r.rows_updated, r.rows_deleted
                   FROM fs_ingest('fv_cur', 'file_stats_cursor', mode) r;
    SET LOCAL max_parallel_maintenance_workers = 0;
    RETURN QUERY SELECT 'one', r.rows_read, r.rows_rejected, r.rows_stale, r.rows_unchanged,
                        r.rows_inserted, r.rows_updated, r.rows_deleted
                   FROM fs_ingest('fv_one', 'file_stats_src', mode) r;
    SET LOCAL max_parallel_maintenance_workers = 1;
    RETURN QUERY SELECT 'par', r.rows_read, r.rows_rejected, r.rows_stale, r.rows_unchanged,
                        r.rows_inserted, r.rows_updated, r.rows_deleted
                   FROM fs_ingest('fv_par', 'file_stats_src', mode) r;
    SET LOCAL maintenance_work_mem = '1MB';
    RETURN QUERY SELECT 'parts', r.rows_read, r.rows_rejected, r.rows_stale, r.rows_unchanged,
                        r.rows_inserted, r.rows_updated, r.rows_deleted
                   FROM fs_ingest('fv_parts', 'file_stats_src', mode) r;
END $$;

-- What differs from "cur": table rows, rejects of each view's last run,
-- state rows.
CREATE FUNCTION pg_temp.differences(other text)
RETURNS TABLE (what text, n bigint)
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM ((TABLE fv_cur EXCEPT ALL TABLE %1$I)
                                          UNION ALL (TABLE %1$I EXCEPT ALL TABLE fv_cur)) d', other)
       INTO n;
    RETURN QUERY SELECT other || ': table rows', n;
    RETURN QUERY
    WITH r AS (
        SELECT u.feature_view AS v, j.source_row, j.entity_id, j."column", j.raw_value, j.reason
          FROM fs_ingest_rejects j JOIN fs_ingest_runs u USING (run_id)
         WHERE j.run_id IN (SELECT max(run_id) FROM fs_ingest_runs GROUP BY feature_view)),
    a AS (SELECT source_row, entity_id, "column", raw_value, reason FROM r WHERE v = 'fv_cur'),
    b AS (SELECT source_row, entity_id, "column", raw_value, reason FROM r WHERE v = other)
    SELECT other || ': rejects', count(*)
      FROM ((TABLE a EXCEPT ALL TABLE b) UNION ALL (TABLE b EXCEPT ALL TABLE a)) d;
    RETURN QUERY
    WITH a AS (SELECT entity_id, digest, event_time, entity_hash FROM fs_ingest_state WHERE feature_view = 'fv_cur'),
         b AS (SELECT entity_id, digest, event_time, entity_hash FROM fs_ingest_state WHERE feature_view = other)
    SELECT other || ': state rows', count(*)
      FROM ((TABLE a EXCEPT ALL TABLE b) UNION ALL (TABLE b EXCEPT ALL TABLE a)) d;
END $$;
CREATE FUNCTION pg_temp.all_differences() RETURNS TABLE (what text, n bigint)
LANGUAGE sql AS $$
    SELECT * FROM pg_temp.differences('fv_one') UNION ALL SELECT * FROM pg_temp.differences('fv_par')
    UNION ALL SELECT * FROM pg_temp.differences('fv_parts')
$$;

-- Run 1, a snapshot.
SELECT * FROM pg_temp.runs('snapshot');
SELECT * FROM pg_temp.all_differences();
SELECT count(*) AS rows, count(*) FILTER (WHERE segment = 'seven') AS seven,
       count(*) FILTER (WHERE segment = 'tie') AS tie, count(*) FILTER (WHERE segment = 'old') AS old,
       count(*) FILTER (WHERE ctr IS NULL) AS null_ctr
  FROM fv_cur;
SELECT count(*) AS rejects, min(source_row), max(source_row) FROM fs_ingest_rejects
 WHERE run_id = (SELECT max(run_id) FROM fs_ingest_runs WHERE feature_view = 'fv_par');

-- Run 2, a snapshot again: 1% changed (g % 100 = 51: new clicks, a newer
-- time), the entities g % 5 = 0 gone (deleted), a bad event time for g %
-- 1019 = 0 (rejected: the entity stays).
DELETE FROM file_gen2 WHERE user_id ~ '^[0-9]+$' AND user_id::int % 5 = 0;
UPDATE file_gen2 SET clicks = '-1', event_time = '2026-01-03'
 WHERE user_id ~ '^[0-9]+$' AND user_id::int % 100 = 51;
UPDATE file_gen2 SET event_time = 'later' WHERE user_id ~ '^[0-9]+$' AND user_id::int % 1019 = 0;
SELECT pg_temp.write_file();
SELECT * FROM pg_temp.runs('snapshot');
SELECT * FROM pg_temp.all_differences();
SELECT count(*) AS rows, count(*) FILTER (WHERE clicks = -1) AS changed FROM fv_par;

-- Run 3, the same file as an upsert: nothing changed.
SELECT * FROM pg_temp.runs('upsert');
SELECT * FROM pg_temp.all_differences();

-- A table the run cannot read as a file goes through file_fdw's scan, and
-- so has no parallel worker (no NOTICE), with the same results: a column
-- with options, a program, a column that is not text.
DROP VIEW file_stats_cursor;
SET min_parallel_table_scan_size = 0;
SET max_parallel_maintenance_workers = 1;
ALTER FOREIGN TABLE file_stats_src ALTER COLUMN segment OPTIONS (force_not_null 'true');
SELECT rows_read, rows_rejected, rows_unchanged FROM fs_ingest('fv_par', 'file_stats_src', 'upsert');
ALTER FOREIGN TABLE file_stats_src ALTER COLUMN segment OPTIONS (DROP force_not_null);
ALTER FOREIGN TABLE file_stats_src OPTIONS (DROP filename, ADD program :'catfile');
SELECT rows_read, rows_rejected, rows_unchanged FROM fs_ingest('fv_par', 'file_stats_src', 'upsert');
ALTER FOREIGN TABLE file_stats_src OPTIONS (DROP program, ADD filename :'csvfile');
ALTER FOREIGN TABLE file_stats_src ALTER COLUMN segment TYPE name;
SELECT rows_read, rows_rejected, rows_unchanged FROM fs_ingest('fv_par', 'file_stats_src', 'upsert');
ALTER FOREIGN TABLE file_stats_src ALTER COLUMN segment TYPE text;
-- Only the columns the run reads are converted, as by file_fdw's scan: a
-- column it does not read may hold anything.
ALTER FOREIGN TABLE file_stats_src ADD COLUMN unread int;
COPY (SELECT user_id, event_time, clicks, ctr, segment, 'not a number' FROM file_gen2 ORDER BY n)
  TO :'csvfile' (FORMAT csv, HEADER);
SELECT rows_read, rows_rejected, rows_unchanged FROM fs_ingest('fv_par', 'file_stats_src', 'upsert');
ALTER FOREIGN TABLE file_stats_src DROP COLUMN unread;

-- A file in the client's encoding, LATIN1 here (file_fdw reads a file
-- whose table has no encoding option so): both processes read it so,
-- though a parallel worker's own client encoding is the database's.
SET client_encoding = 'LATIN1';
COPY (SELECT g, '2026-02-01', g, 0.5, 'caf' || chr(233) || g FROM generate_series(1, 3000) g)
  TO :'csvfile' (FORMAT csv, HEADER);
SELECT rows_read, rows_rejected, rows_inserted + rows_updated AS written
  FROM fs_ingest('fv_par', 'file_stats_src', 'upsert');
SELECT count(*) FILTER (WHERE segment = 'caf' || chr(233) || user_id) AS read_alike
  FROM fv_par WHERE user_id <= 3000;
RESET client_encoding;

-- The file's own errors are COPY's, with its line, in either process.
COPY (SELECT '1,2026-01-01,1,0.5,a' UNION ALL SELECT '2,2026-01-01,1,0.5,a,extra') TO :'csvfile';
ALTER FOREIGN TABLE file_stats_src OPTIONS (SET header 'false');
\set VERBOSITY default
SELECT rows_read FROM fs_ingest('fv_par', 'file_stats_src', 'upsert');
SET max_parallel_maintenance_workers = 0;
SELECT rows_read FROM fs_ingest('fv_par', 'file_stats_src', 'upsert');
\set VERBOSITY terse
-- A foreign table with inheritance children is read through file_fdw's
-- scan, which reads the children's files too.
SELECT current_setting('data_directory') || '/fs_ingest_file_test2.csv' AS childfile \gset
COPY (SELECT 99999, '2026-01-01', 1, 0.5, 'child') TO :'childfile' (FORMAT csv);
COPY (SELECT 1, '2026-01-01', 1, 0.5, 'parent') TO :'csvfile' (FORMAT csv);
CREATE FOREIGN TABLE file_stats_child () INHERITS (file_stats_src)
    SERVER files OPTIONS (filename :'childfile', format 'csv');
SELECT rows_read, rows_rejected, rows_unchanged, rows_inserted FROM fs_ingest('fv_par', 'file_stats_src', 'upsert');
SELECT segment FROM fv_par WHERE user_id = 99999;
DROP FOREIGN TABLE file_stats_child;
COPY (SELECT WHERE false) TO :'childfile';

RESET min_parallel_table_scan_size;
RESET max_parallel_maintenance_workers;

DROP FOREIGN TABLE file_stats_src;
DROP SERVER files;
DROP TABLE file_gen, file_gen2;
-- The file stays in the data directory, emptied.
COPY (SELECT WHERE false) TO :'csvfile';

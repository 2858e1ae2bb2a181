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

DROP FOREIGN TABLE file_stats_src;
DROP SERVER files;
DROP TABLE file_gen;
-- The file stays in the data directory, emptied.
COPY (SELECT WHERE false) TO :'csvfile';

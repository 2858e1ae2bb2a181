--
-- ingest_rejects: what fs_ingest_rejects tells a user about a source's bad
-- rows.  Every refused value of a row is a reject of its own; each carries
-- the row's ordinal in the source (source_row), which for a table filled by
-- one COPY is the record's place in the file (the line, after the header
-- line when there is one); a reason keeps the error's detail (but not the
-- row a CHECK or NOT NULL of the view's table refused).  The row
-- counts once in rows_rejected.
--
\getenv dynalite_endpoint FS_DYNALITE_ENDPOINT
-- pg_regress may have loaded the extension already; start from scratch.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_store CASCADE;
DROP TABLE IF EXISTS acct, acct_staging, pay, pay_src, prof, prof_src, prof_ages, region, big_src, big_t, far_src;
DROP DOMAIN IF EXISTS small_money;
RESET client_min_messages;
CREATE EXTENSION feature_store;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never

-- SQLSTATE and message of a statement's error, or 'no error'.
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN EXECUTE q; RETURN 'no error'; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;

CREATE TABLE acct (acct_id int PRIMARY KEY, event_time timestamptz NOT NULL,
                   clicks int, ctr numeric(5,2), label varchar(5),
                   score float8 CHECK (score >= 0), tier text NOT NULL);
SELECT name FROM fs_register_entity('account', 'acct_id');
SELECT name FROM fs_register_feature_view('acct', 'acct', 'account');
SELECT fs_create_staging_table('acct') AS staging;

-- A file with a header line, so record n is line n + 1:
--   row 2 (line 3): three bad values, and tier NULL in a NOT NULL column;
--   row 3 (line 4): no id;
--   row 4 (line 5): a bad event time and an integer out of range;
--   row 5 (line 6): a score the table's CHECK refuses (rejected by gold);
--   rows 1, 6, 8 and 9: account 1 three times (row 6 newest, kept);
--   rows 7 and 10: account 7 twice, the newer (row 10) refused by the CHECK.
COPY acct_staging FROM STDIN (FORMAT csv, HEADER MATCH);
acct_id,event_time,clicks,ctr,label,score,tier
1,2026-01-01 00:00:00+00,10,0.50,a,1,gold
2,2026-01-01 00:00:00+00,2x,1234.5,toolong,1,
,2026-01-01 00:00:00+00,3,0.10,c,1,gold
4,not a time,99999999999,0.10,d,1,gold
5,2026-01-01 00:00:00+00,5,0.10,e,-1,gold
1,2026-01-03 00:00:00+00,11,0.60,a2,1,gold
7,2026-01-01 00:00:00+00,7,0.70,g,1,gold
1,2026-01-02 00:00:00+00,12,0.55,a3,1,gold
1,2025-12-31 00:00:00+00,9,0.40,a0,1,gold
7,2026-01-02 00:00:00+00,7,0.70,g,-7,gold
\.

-- Ten rows read; five rejected (rows 2, 3, 4, 5 and 10), each once.
SELECT run_id, rows_read, rows_rejected, rows_stale, rows_inserted, online_writes
  FROM fs_ingest('acct', 'acct_staging');

-- One reject per refused value, each with its source row.
SELECT source_row, source_row + 1 AS line, entity_id, "column", raw_value, reason
  FROM fs_ingest_rejects WHERE run_id = 1
 ORDER BY source_row, "column";

-- rows_rejected counts rows: the distinct source rows of the run's rejects.
SELECT count(*) AS rejects, count(DISTINCT source_row) AS rejected_rows,
       (SELECT rows_rejected FROM fs_ingest_runs WHERE run_id = 1) AS rows_rejected
  FROM fs_ingest_rejects WHERE run_id = 1;

-- Account 1 as its newest row says; account 7 not at all: its newest row was
-- refused, and the older one, superseded, is not written instead.
SELECT acct_id, event_time, clicks, ctr, label FROM acct ORDER BY acct_id;

-- The rejected rows, found again in the source by their ordinal in a scan
-- of it (as fs_ingest read it: a table filled by one COPY and not changed).
SELECT r.source_row, s.acct_id, s.clicks
  FROM (SELECT row_number() OVER () AS source_row, t.* FROM acct_staging t) s
  JOIN (SELECT DISTINCT source_row FROM fs_ingest_rejects WHERE run_id = 1) r USING (source_row)
 ORDER BY r.source_row;

-- A value of a type with constraints (a domain) is read in a subtransaction;
-- every refused value of such a row is listed too, with its detail.
CREATE DOMAIN small_money AS numeric(4,2) CHECK (VALUE >= 0);
CREATE TABLE pay (acct_id int PRIMARY KEY, event_time timestamptz,
                  amount small_money, fee small_money, note varchar(3));
SELECT name FROM fs_register_feature_view('pay', 'pay', 'account');
CREATE TABLE pay_src (acct_id text, event_time text, amount text, fee text, note text);
INSERT INTO pay_src VALUES ('1', '2026-01-01', '1.5', '0.25', 'ok'),
                           ('2', '2026-01-01', '100', '-1', 'long'),
                           ('x', '2026-01-01', '1', '1', 'ok');
SELECT rows_read, rows_rejected, rows_inserted FROM fs_ingest('pay', 'pay_src');
SELECT source_row, entity_id, "column", raw_value, reason
  FROM fs_ingest_rejects WHERE run_id = (SELECT max(run_id) FROM fs_ingest_runs)
 ORDER BY source_row, "column";

-- A row the view's table refuses when gold writes it keeps PostgreSQL's
-- detail when that names the key at fault (a second unique index, a foreign
-- key), not a CHECK's or a NOT NULL's "Failing row contains (...)", which
-- is the row proposed, with NULL for the features the source lacks.
CREATE TABLE region (code text PRIMARY KEY);
INSERT INTO region VALUES ('eu'), ('us');
CREATE TABLE prof (acct_id int PRIMARY KEY, event_time timestamptz,
                   email text UNIQUE, region text REFERENCES region, age int CHECK (age >= 0),
                   tier text NOT NULL);
INSERT INTO prof VALUES (1, '2025-01-01', 'a@x', 'eu', 30, 'gold'),
                        (2, '2025-01-01', 'b@x', 'eu', 40, 'gold'),
                        (3, '2025-01-01', 'c@x', 'us', 50, 'gold'),
                        (4, '2025-01-01', 'd@x', 'us', 60, 'gold');
SELECT name FROM fs_register_feature_view('prof', 'prof', 'account');
CREATE TABLE prof_src (acct_id text, event_time text, email text, region text, age text, tier text);
INSERT INTO prof_src VALUES ('1', '2026-01-01', 'b@x', 'eu', '31', 'gold'),   -- acct 2's email
                            ('2', '2026-01-01', 'b@x', 'mars', '41', 'gold'), -- no such region
                            ('3', '2026-01-01', 'c@x', 'us', '-1', 'gold'),   -- CHECK
                            ('4', '2026-01-01', 'd@x', 'eu', '61', 'free');
SELECT rows_read, rows_rejected, rows_updated FROM fs_ingest('prof', 'prof_src');
SELECT source_row, entity_id, "column", raw_value, reason
  FROM fs_ingest_rejects WHERE run_id = (SELECT max(run_id) FROM fs_ingest_runs)
 ORDER BY source_row;
-- A source without tier: a new entity has none.
CREATE TABLE prof_ages (acct_id text, event_time text, age text);
INSERT INTO prof_ages VALUES ('6', '2026-01-01', '20');
SELECT rows_read, rows_rejected, rows_inserted FROM fs_ingest('prof', 'prof_ages');
SELECT source_row, entity_id, "column", raw_value, reason
  FROM fs_ingest_rejects WHERE run_id = (SELECT max(run_id) FROM fs_ingest_runs);
SELECT acct_id, email, region, age, tier FROM prof ORDER BY acct_id;
SELECT fs_drop_feature_view('prof');
DROP TABLE prof, prof_src, prof_ages, region;

-- fs_ingest_add_reject takes the source row last (NULL when not given);
-- only a running run of the caller's may record.
SELECT pg_get_function_identity_arguments('fs_ingest_add_reject'::regproc);
SELECT pg_temp.err($$SELECT fs_ingest_add_reject(1, '2', 'clicks', '2x', 'again', 2)$$);

-- A large source, read by fs_ingest while another scan of it left the
-- table's synchronized-scan position in its middle: the rows are numbered
-- from the table's start all the same.  One row per page, and more pages
-- than a quarter of shared_buffers (where synchronized scans begin).
CREATE TABLE big_t (acct_id int PRIMARY KEY, event_time timestamptz, n int);
SELECT name FROM fs_register_feature_view('big', 'big_t', 'account');
CREATE TABLE big_src (acct_id text, event_time text, n text, filler text)
    WITH (fillfactor = 10);
ALTER TABLE big_src ALTER COLUMN filler SET STORAGE plain;
SELECT setting::int / 4 + 64 AS big_rows FROM pg_settings WHERE name = 'shared_buffers' \gset
INSERT INTO big_src
SELECT CASE WHEN g = 1 THEN '' ELSE g::text END, '2026-01-01', g::text, repeat('x', 500)
  FROM generate_series(1, :big_rows) g;
SELECT pg_relation_size('big_src') / current_setting('block_size')::int
       > (SELECT setting::int / 4 FROM pg_settings WHERE name = 'shared_buffers') AS synchronized_scans_apply;
BEGIN;
DECLARE half CURSOR FOR SELECT acct_id FROM big_src;
MOVE FORWARD 2000 IN half;
CLOSE half;
COMMIT;
-- (Its size may make the run work in parts: that NOTICE is not shown.)
SET client_min_messages = warning;
SELECT rows_read = :big_rows AS all_read, rows_rejected, rows_inserted = :big_rows - 1 AS rest_written
  FROM fs_ingest('big', 'big_src');
RESET client_min_messages;
SELECT source_row, entity_id, "column", reason
  FROM fs_ingest_rejects WHERE run_id = (SELECT max(run_id) FROM fs_ingest_runs);
SHOW synchronize_seqscans;
DROP TABLE big_src;
SELECT fs_drop_feature_view('big');
DROP TABLE big_t;

-- The remote store: a value it cannot hold (NaN, a number beyond its range)
-- is rejected by the remote gold step, every such value of the row, with
-- the row's place in the source (that of the newest row of its entity) and
-- the store's detail.
SELECT 'rejects_' || substr(md5(random()::text), 1, 12) AS remote_table \gset
CREATE SERVER rejects_srv FOREIGN DATA WRAPPER fs_dynamodb
    OPTIONS (endpoint :'dynalite_endpoint', region 'us-east-1');
CREATE USER MAPPING FOR PUBLIC SERVER rejects_srv
    OPTIONS (access_key_id 'test', secret_access_key 'test');
CREATE FOREIGN TABLE far (acct_id int, event_time timestamptz, x float8, y float8, z int)
    SERVER rejects_srv OPTIONS (table :'remote_table', key 'acct_id');
SELECT fs_create_online_table('far');
SELECT name FROM fs_register_feature_view('far', 'far', 'account');
CREATE TABLE far_src (acct_id text, event_time text, x text, y text, z text);
INSERT INTO far_src VALUES ('1', '2026-01-01', '1', '2', '3'),
                           ('2', '2026-01-01', 'NaN', 'Infinity', '3'),
                           ('3', '2026-01-01', '1', '2', 'zz'),
                           ('2', '2025-01-01', '1', '2', '3'),
                           ('4', '2026-01-01', '1e300', '1', '2');
SELECT rows_read, rows_rejected, rows_stale, rows_inserted
  FROM fs_ingest('far', 'far_src');
SELECT source_row, entity_id, "column", raw_value, reason
  FROM fs_ingest_rejects WHERE run_id = (SELECT max(run_id) FROM fs_ingest_runs)
 ORDER BY source_row, "column";
SELECT acct_id, x, y, z FROM far ORDER BY acct_id;
SELECT fs_drop_feature_view('far');
DROP FOREIGN TABLE far;
DROP TABLE far_src;

-- Errors that say what to do (issue 11, item 10): hints for a timestamp
-- event time, a missing join key (at registration and in an ingest
-- source), a missing column grant, and a view named where a service was
-- expected.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_store CASCADE;
CREATE EXTENSION feature_store;
RESET client_min_messages;
\set VERBOSITY default
\set SHOW_CONTEXT errors

SELECT name FROM fs_register_entity('user', 'user_id');

-- An event time of type timestamp (without time zone): the hint converts it.
CREATE TABLE hint_naive (user_id text PRIMARY KEY, event_time timestamp NOT NULL, clicks bigint);
SELECT name FROM fs_register_feature_view('hint_naive', 'hint_naive', 'user');
\echo :LAST_ERROR_SQLSTATE
-- The hint works as written.
ALTER TABLE public.hint_naive ALTER COLUMN event_time TYPE timestamptz USING event_time AT TIME ZONE 'UTC';
SELECT name FROM fs_register_feature_view('hint_naive', 'hint_naive', 'user');
-- Another type: the hint names the change without a USING it cannot know.
CREATE TABLE hint_dated (user_id text PRIMARY KEY, event_time date NOT NULL, clicks bigint);
SELECT name FROM fs_register_feature_view('hint_dated', 'hint_dated', 'user');

-- A table without the entity's join key: the hint renames its key column.
CREATE TABLE hint_keyed_by_id (id text PRIMARY KEY, event_time timestamptz NOT NULL, clicks bigint);
SELECT name FROM fs_register_feature_view('keyed', 'hint_keyed_by_id', 'user');
\echo :LAST_ERROR_SQLSTATE
ALTER TABLE public.hint_keyed_by_id RENAME COLUMN id TO user_id;
SELECT name FROM fs_register_feature_view('keyed', 'hint_keyed_by_id', 'user');
-- Without a primary key to point at, the hint leaves the column to the user.
CREATE TABLE hint_no_pk (id text UNIQUE, event_time timestamptz NOT NULL, clicks bigint);
SELECT name FROM fs_register_feature_view('hint_no_pk', 'hint_no_pk', 'user');

-- An ingest source without the join key: the hint names it.
CREATE TABLE hint_src (id text, event_time text, clicks text);
SELECT * FROM fs_ingest('keyed', 'hint_src');
\echo :LAST_ERROR_SQLSTATE
ALTER TABLE public.hint_src RENAME COLUMN id TO user_id;
SELECT rows_read FROM fs_ingest('keyed', 'hint_src');

-- A reference without a colon that names a view: the hint gives view:*.
SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['keyed']);
\echo :LAST_ERROR_SQLSTATE
SELECT feature_ref FROM fs_get_features(ARRAY['u1'], ARRAY['keyed:*']);
SELECT * FROM fs_resolve_refs(ARRAY['hint_naive']);

-- Serving a feature whose column the caller may not read: the column, the
-- view and the GRANT that allows it.
INSERT INTO hint_keyed_by_id VALUES ('u1', '2026-01-01 00:00:00+00', 5);
ALTER TABLE hint_keyed_by_id ADD COLUMN secret_score float8;
CREATE ROLE regress_fs_hints_reader;
GRANT SELECT (user_id, event_time, clicks) ON hint_keyed_by_id TO regress_fs_hints_reader;
SET ROLE regress_fs_hints_reader;
SELECT entity_id, feature_ref, value FROM fs_get_features(ARRAY['u1'], ARRAY['keyed:clicks']);
SELECT entity_id, feature_ref, value FROM fs_get_features(ARRAY['u1'], ARRAY['keyed:*']);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
-- The event time and the join key are named the same way.
REVOKE SELECT (event_time) ON hint_keyed_by_id FROM regress_fs_hints_reader;
SET ROLE regress_fs_hints_reader;
SELECT entity_id, feature_ref, value FROM fs_get_features(ARRAY['u1'], ARRAY['keyed:clicks']);
RESET ROLE;
-- With no column granted at all, the table is named, with the GRANT.
REVOKE ALL ON hint_keyed_by_id FROM regress_fs_hints_reader;
SET ROLE regress_fs_hints_reader;
SELECT entity_id, feature_ref, value FROM fs_get_features(ARRAY['u1'], ARRAY['keyed:clicks']);
RESET ROLE;
-- The hint works as written.
GRANT SELECT (secret_score) ON public.hint_keyed_by_id TO regress_fs_hints_reader;
GRANT SELECT (user_id, event_time, clicks) ON hint_keyed_by_id TO regress_fs_hints_reader;
SET ROLE regress_fs_hints_reader;
SELECT entity_id, feature_ref, value FROM fs_get_features(ARRAY['u1'], ARRAY['keyed:*']);
RESET ROLE;

-- Writing, by fs_write_features or fs_push, without the privileges a write
-- needs: the GRANT that allows it, on the table, and the hint works as
-- written.
CREATE ROLE regress_fs_hints_writer;
GRANT SELECT ON hint_keyed_by_id TO regress_fs_hints_writer;
SET ROLE regress_fs_hints_writer;
SELECT fs_write_features('keyed', 'u2', '{"clicks": 1}', '2026-01-02 00:00:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fs_push('keyed', 'u2', '{"clicks": 1}', '2026-01-02 00:00:00+00', 'add');
RESET ROLE;
GRANT INSERT, UPDATE ON public.hint_keyed_by_id TO regress_fs_hints_writer;
SET ROLE regress_fs_hints_writer;
SELECT fs_write_features('keyed', 'u2', '{"clicks": 1}', '2026-01-02 00:00:00+00');
BEGIN;
SELECT fs_push('keyed', 'u2', '{"clicks": 1}', '2026-01-03 00:00:00+00', 'add') > 0 AS queued;
ROLLBACK;
RESET ROLE;
-- A role granted columns one by one: the columns still missing, for each
-- privilege (an added feature is read, as SELECT).
CREATE ROLE regress_fs_hints_columns;
GRANT INSERT (user_id, event_time, clicks), UPDATE (event_time, clicks),
      SELECT (user_id, event_time) ON hint_keyed_by_id TO regress_fs_hints_columns;
SET ROLE regress_fs_hints_columns;
SELECT fs_write_features('keyed', 'u3', '{"clicks": 3}', '2026-01-02 00:00:00+00');
SELECT fs_write_features('keyed', 'u3', '{"clicks": 3, "secret_score": 0.5}', '2026-01-03 00:00:00+00');
SELECT fs_push('keyed', 'u3', '{"clicks": 1}', '2026-01-04 00:00:00+00', 'add');
RESET ROLE;
GRANT INSERT (secret_score), UPDATE (secret_score) ON public.hint_keyed_by_id TO regress_fs_hints_columns;
GRANT SELECT (clicks) ON public.hint_keyed_by_id TO regress_fs_hints_columns;
SET ROLE regress_fs_hints_columns;
SELECT fs_write_features('keyed', 'u3', '{"clicks": 3, "secret_score": 0.5}', '2026-01-03 00:00:00+00');
BEGIN;
SELECT fs_push('keyed', 'u3', '{"clicks": 1}', '2026-01-04 00:00:00+00', 'add') > 0 AS queued;
ROLLBACK;
RESET ROLE;
SELECT user_id, event_time, clicks, secret_score FROM hint_keyed_by_id ORDER BY user_id;

-- Forgetting the state of a view that does not exist lists those that do,
-- and so does ingesting into one; a NULL view is 22004.
SELECT fs_forget_ingest_state('keyd');
SELECT * FROM fs_ingest('keyd', 'hint_src');
SELECT * FROM fs_ingest(NULL, 'hint_src');
\echo :LAST_ERROR_SQLSTATE
SELECT fs_create_staging_table(NULL);
\echo :LAST_ERROR_SQLSTATE

DROP EXTENSION feature_store CASCADE;
DROP TABLE hint_naive, hint_dated, hint_keyed_by_id, hint_no_pk, hint_src;
DROP OWNED BY regress_fs_hints_reader, regress_fs_hints_writer, regress_fs_hints_columns;
DROP ROLE regress_fs_hints_reader, regress_fs_hints_writer, regress_fs_hints_columns;

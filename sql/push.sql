--
-- fs_push queues an event after checking it as fs_write_features would;
-- the worker that drains the queue is tested by test/stream/run_stream.sh.
-- Here: what fs_push returns, and a long-lived session that keeps pushing
-- across DROP EXTENSION and CREATE EXTENSION (its kept statements must not
-- hold on to the dropped queue).  The database's stream worker drains
-- what commits, so the queue is read in the pushing transaction, which is
-- then rolled back.
--
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_store CASCADE;
DROP TABLE IF EXISTS push_t;
RESET client_min_messages;
CREATE EXTENSION feature_store;
CREATE TABLE push_t (user_id text PRIMARY KEY, event_time timestamptz, clicks bigint);
SELECT name FROM fs_register_entity('user', 'user_id');
SELECT name FROM fs_register_feature_view('pushed', 'push_t', 'user');

-- the id fs_push returns is the queued event's
BEGIN;
SELECT fs_push('pushed', 'u1', '{"clicks": 1}', '2026-01-01 00:00:00+00') AS id \gset
SELECT :id = (SELECT max(id) FROM fs_stream_queue) AS same_id;
SELECT entity_id, features, mode FROM fs_stream_queue ORDER BY id;
ROLLBACK;

-- the same session, the extension dropped and created again
SET client_min_messages = warning;
DROP EXTENSION feature_store CASCADE;
RESET client_min_messages;
CREATE EXTENSION feature_store;
SELECT name FROM fs_register_entity('user', 'user_id');
SELECT name FROM fs_register_feature_view('pushed', 'push_t', 'user');
BEGIN;
SELECT fs_push('pushed', 'u2', '{"clicks": 2}', '2026-01-01 00:00:00+00', 'add') AS id \gset
SELECT :id = (SELECT max(id) FROM fs_stream_queue) AS same_id;
SELECT entity_id, features, mode FROM fs_stream_queue ORDER BY id;
ROLLBACK;

-- Producers' own INSERT and COPY into the queue (docs/streaming.md).  A
-- row the queue's constraints would refuse is refused first, by its
-- trigger: the column and the value, what an event needs, no context line
-- and none of the queue's internal columns.
\set VERBOSITY default
\set SHOW_CONTEXT errors
INSERT INTO fs_stream_queue (feature_view, entity_id, features, mode)
VALUES ('pushed', 'u1', '{"clicks": 1}', 'bogus');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO fs_stream_queue (feature_view, entity_id, features)
VALUES ('pushed', NULL, '{"clicks": 1}');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO fs_stream_queue (feature_view, entity_id, features)
VALUES (NULL, 'u1', '{"clicks": 1}');
INSERT INTO fs_stream_queue (feature_view, entity_id, features)
VALUES ('pushed', 'u1', NULL);
INSERT INTO fs_stream_queue (feature_view, entity_id, features, event_time)
VALUES ('pushed', 'u1', '{"clicks": 1}', NULL);
INSERT INTO fs_stream_queue (feature_view, entity_id, features, mode)
VALUES ('pushed', 'u1', '{"clicks": 1}', NULL);
\echo :LAST_ERROR_SQLSTATE
-- a role's good row is numbered and stamped, whatever it says of id,
-- pushed_by, enqueued_at and flush_id; a superuser's values are kept (a
-- restore of a dump), but for flush_id
CREATE ROLE regress_fs_producer;
BEGIN;
SET LOCAL ROLE regress_fs_producer;
INSERT INTO fs_stream_queue (id, feature_view, entity_id, features, mode, enqueued_at, pushed_by, flush_id)
VALUES (-1, 'pushed', 'u4', '{"clicks": 4}', 'add', '2000-01-01 00:00:00+00', 'postgres', 7);
RESET ROLE;
SELECT id = currval('fs_stream_queue_id_seq') AS numbered, pushed_by,
       enqueued_at > '2000-01-01 00:00:00+00' AS stamped, flush_id, entity_id, features, mode
  FROM fs_stream_queue;
INSERT INTO fs_stream_queue (id, feature_view, entity_id, features, enqueued_at, pushed_by, flush_id)
VALUES (-1, 'pushed', 'u5', '{"clicks": 5}', '2000-01-01 00:00:00+00', 'regress_fs_producer', 7);
SELECT id, pushed_by, enqueued_at, flush_id, entity_id FROM fs_stream_queue WHERE id < 0;
-- COPY is stamped too
COPY fs_stream_queue (feature_view, entity_id, features, mode) FROM stdin;
pushed	u6	{"clicks": 6}	set
pushed	u7	{"clicks": 7}	add
\.
SELECT entity_id, features, mode, pushed_by, id > 0 AS numbered, enqueued_at IS NOT NULL AS stamped
  FROM fs_stream_queue ORDER BY entity_id;
ROLLBACK;
DROP ROLE regress_fs_producer;

SET client_min_messages = warning;
DROP EXTENSION feature_store CASCADE;
RESET client_min_messages;
DROP TABLE push_t;
CREATE EXTENSION feature_store;

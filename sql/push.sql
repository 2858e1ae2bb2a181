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

SET client_min_messages = warning;
DROP EXTENSION feature_store CASCADE;
RESET client_min_messages;
DROP TABLE push_t;
CREATE EXTENSION feature_store;

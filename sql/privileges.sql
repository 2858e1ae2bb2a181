--
-- privileges: serving reads only what the caller may read; the registry lets
-- only a relation's owner register or drop a view over it; the catalog
-- itself takes no direct DML but a superuser's.
--
-- pg_regress may have loaded the extension already; start from scratch.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_store CASCADE;
DROP ROLE IF EXISTS regress_fs_owner;
DROP ROLE IF EXISTS regress_fs_reader;
DROP ROLE IF EXISTS regress_fs_other;
RESET client_min_messages;
CREATE EXTENSION feature_store;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
\set SHOW_CONTEXT never

-- SQLSTATE and message of a statement's error, or 'no error'.
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN EXECUTE q; RETURN 'no error'; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;
GRANT EXECUTE ON FUNCTION pg_temp.err(text) TO PUBLIC;

CREATE ROLE regress_fs_owner;       -- owns the tables
CREATE ROLE regress_fs_reader;      -- may read some of them
CREATE ROLE regress_fs_other;       -- may read nothing

CREATE TABLE priv_t (user_id text PRIMARY KEY, event_time timestamptz, score float8, secret text);
INSERT INTO priv_t VALUES ('u1', '2026-01-01 00:00:00+00', 0.5, 's3cr3t');
ALTER TABLE priv_t OWNER TO regress_fs_owner;
CREATE TABLE open_t (user_id text PRIMARY KEY, event_time timestamptz, visible int);
INSERT INTO open_t VALUES ('u1', '2026-01-01 00:00:00+00', 1);
ALTER TABLE open_t OWNER TO regress_fs_owner;
GRANT SELECT ON open_t TO regress_fs_reader;

--
-- The owner registers; registered_by records who did.
--
SET ROLE regress_fs_owner;
SELECT name FROM fs_register_entity('user', 'user_id');
SELECT name FROM fs_register_feature_view('pv', 'priv_t', 'user');
SELECT name FROM fs_register_feature_view('ov', 'open_t', 'user');
SELECT name FROM fs_register_feature_service('owner_svc', ARRAY['pv:score', 'ov:visible']);
SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['pv:*', 'ov:*']);
RESET ROLE;
SELECT name, registered_by FROM fs_entity;
SELECT name, registered_by FROM fs_feature_view ORDER BY name;

--
-- Serving needs SELECT on what it reads: 42501 otherwise.
--
SET ROLE regress_fs_other;
SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['pv:score']);
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['pv:score'])$$);
SELECT pg_temp.err($$SELECT * FROM fs_get_feature_vectors(ARRAY['u1'], ARRAY['pv:score'])$$);
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['ov:visible'])$$);
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['owner_svc'])$$);
-- even with no entity to look up, and even for entities that do not exist
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['nobody'], ARRAY['pv:score'])$$);
-- the catalog itself is readable by everyone
SELECT feature_view, feature FROM feature_registry ORDER BY 1, 2;
RESET ROLE;

-- the reader may read open_t, not priv_t
SET ROLE regress_fs_reader;
SELECT entity_id, feature_ref, value FROM fs_get_features(ARRAY['u1'], ARRAY['ov:*']);
SELECT * FROM fs_get_feature_vectors(ARRAY['u1'], ARRAY['ov:visible']);
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['ov:visible', 'pv:score'])$$);
SELECT pg_temp.err($$SELECT * FROM fs_get_feature_vectors(ARRAY['u1'], ARRAY['owner_svc'])$$);
RESET ROLE;

--
-- Column privileges: features of granted columns only.
--
GRANT SELECT (user_id, event_time, score) ON priv_t TO regress_fs_reader;
SET ROLE regress_fs_reader;
SELECT entity_id, feature_ref, value, status FROM fs_get_features(ARRAY['u1', 'u2'], ARRAY['pv:score']);
SELECT * FROM fs_get_feature_vectors(ARRAY['u1'], ARRAY['pv:score']);
SELECT entity_id, feature_ref, value FROM fs_get_features(ARRAY['u1'], ARRAY['owner_svc']);
SELECT fs_get_features(ARRAY['u1'], ARRAY['pv:secret']);
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['pv:secret'])$$);
SELECT pg_temp.err($$SELECT * FROM fs_get_feature_vectors(ARRAY['u1'], ARRAY['pv:secret'])$$);
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['pv:*'])$$);
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['pv:score', 'pv:secret'])$$);
RESET ROLE;
-- the event time is read too: without it, nothing is served
REVOKE SELECT (event_time) ON priv_t FROM regress_fs_reader;
SET ROLE regress_fs_reader;
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['pv:score'])$$);
RESET ROLE;
-- and so is the join key
GRANT SELECT (event_time) ON priv_t TO regress_fs_reader;
REVOKE SELECT (user_id) ON priv_t FROM regress_fs_reader;
SET ROLE regress_fs_reader;
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['pv:score'])$$);
RESET ROLE;
REVOKE ALL ON priv_t FROM regress_fs_reader;
-- a grant through a role one is a member of counts
GRANT SELECT ON priv_t TO regress_fs_other;
GRANT regress_fs_other TO regress_fs_reader;
SET ROLE regress_fs_reader;
SELECT entity_id, feature_ref, value FROM fs_get_features(ARRAY['u1'], ARRAY['pv:*']);
RESET ROLE;
REVOKE regress_fs_other FROM regress_fs_reader;
REVOKE SELECT ON priv_t FROM regress_fs_other;
-- the privilege is checked at each call, not remembered from the last one
SET ROLE regress_fs_reader;
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['pv:score'])$$);
RESET ROLE;

-- SELECT on a table in a schema one has no USAGE on does not let one read
-- it: nor may serving
CREATE SCHEMA priv_hidden;
GRANT USAGE ON SCHEMA priv_hidden TO regress_fs_owner;
CREATE TABLE priv_hidden.hidden_t (user_id text PRIMARY KEY, event_time timestamptz, h int);
INSERT INTO priv_hidden.hidden_t VALUES ('u1', '2026-01-01 00:00:00+00', 7);
ALTER TABLE priv_hidden.hidden_t OWNER TO regress_fs_owner;
GRANT SELECT ON priv_hidden.hidden_t TO regress_fs_reader;
SET ROLE regress_fs_owner;
SELECT name FROM fs_register_feature_view('hv', 'priv_hidden.hidden_t', 'user');
SELECT entity_id, feature_ref, value FROM fs_get_features(ARRAY['u1'], ARRAY['hv:h']);
RESET ROLE;
SET ROLE regress_fs_reader;
SELECT pg_temp.err($$SELECT count(*) FROM priv_hidden.hidden_t$$);
SELECT left(pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['hv:h'])$$), 5) AS sqlstate;
SELECT left(pg_temp.err($$SELECT * FROM fs_get_feature_vectors(ARRAY['u1'], ARRAY['hv:h'])$$), 5) AS sqlstate;
RESET ROLE;
GRANT USAGE ON SCHEMA priv_hidden TO regress_fs_reader;
SET ROLE regress_fs_reader;
SELECT entity_id, feature_ref, value FROM fs_get_features(ARRAY['u1'], ARRAY['hv:h']);
RESET ROLE;
SELECT fs_drop_feature_view('hv');
DROP SCHEMA priv_hidden CASCADE;

--
-- Only the owner of a relation registers or drops a view over it.
--
SET ROLE regress_fs_other;
SELECT name FROM fs_register_feature_view('stolen', 'priv_t', 'user');
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view('stolen', 'priv_t', 'user')$$);
SELECT pg_temp.err($$SELECT fs_drop_feature_view('pv')$$);
SELECT pg_temp.err($$SELECT fs_drop_feature_service('owner_svc')$$);
SELECT pg_temp.err($$SELECT fs_drop_entity('user')$$);
-- ... nor through the catalog tables directly (PUBLIC may only read them)
INSERT INTO fs_feature_view (name, relation, entity) VALUES ('stolen', 'priv_t', 'user');
SELECT pg_temp.err($$INSERT INTO fs_feature_view (name, relation, entity) VALUES ('stolen', 'priv_t', 'user')$$);
SELECT pg_temp.err($$INSERT INTO fs_entity (name, join_key, registered_by) VALUES ('fake', 'id', 'regress_fs_owner')$$);
SELECT pg_temp.err($$INSERT INTO fs_feature_service (name, feature_refs, registered_by) VALUES ('fake', '{pv:score}', 'regress_fs_owner')$$);
-- nor update or delete their rows
UPDATE fs_feature_view SET ttl = '1 second', relation = 'open_t' WHERE name = 'pv';
DELETE FROM fs_feature_view WHERE name = 'pv';
UPDATE fs_feature_service SET feature_refs = '{ov:visible}' WHERE name = 'owner_svc';
DELETE FROM fs_feature_service;
DELETE FROM fs_entity;
-- what is one's own can be done
SELECT name FROM fs_register_entity('other_entity', 'id');
SELECT fs_drop_entity('other_entity');
RESET ROLE;
SELECT name, relation, ttl FROM fs_feature_view ORDER BY name;
SELECT name, feature_refs FROM fs_feature_service;
SELECT name FROM fs_entity;

-- a table the other role owns, but a view registered by the owner role over
-- it would need membership: refused
CREATE TABLE other_t (user_id text PRIMARY KEY, event_time timestamptz, o int);
ALTER TABLE other_t OWNER TO regress_fs_other;
SET ROLE regress_fs_owner;
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view('others', 'other_t', 'user')$$);
RESET ROLE;
-- the owner of the table may, even on an entity someone else registered
SET ROLE regress_fs_other;
SELECT name FROM fs_register_feature_view('others', 'other_t', 'user');
SELECT name, registered_by FROM fs_feature_view WHERE name = 'others';
-- ... and its own drop of it works
SELECT fs_drop_feature_view('others');
RESET ROLE;
-- members of the owning role act for it
GRANT regress_fs_owner TO regress_fs_reader;
SET ROLE regress_fs_reader;
SELECT fs_drop_feature_service('owner_svc');
SELECT fs_drop_feature_view('ov');
RESET ROLE;
REVOKE regress_fs_owner FROM regress_fs_reader;
-- the owner drops what is left
SET ROLE regress_fs_owner;
SELECT fs_drop_feature_view('pv');
SELECT name FROM fs_register_feature_view('pv', 'priv_t', 'user');
RESET ROLE;

--
-- Row-level security: refused at registration, and at serving if enabled
-- later for anyone it would filter.
--
CREATE TABLE rls_t (user_id text PRIMARY KEY, event_time timestamptz, r int);
INSERT INTO rls_t VALUES ('u1', '2026-01-01 00:00:00+00', 1);
ALTER TABLE rls_t ENABLE ROW LEVEL SECURITY;
SELECT name FROM fs_register_feature_view('rls', 'rls_t', 'user');
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view('rls', 'rls_t', 'user')$$);
ALTER TABLE rls_t DISABLE ROW LEVEL SECURITY;
SELECT name FROM fs_register_feature_view('rls', 'rls_t', 'user');
ALTER TABLE rls_t OWNER TO regress_fs_owner;
GRANT SELECT ON rls_t TO regress_fs_reader;
SET ROLE regress_fs_reader;
SELECT entity_id, feature_ref, value FROM fs_get_features(ARRAY['u1'], ARRAY['rls:r']);
RESET ROLE;
ALTER TABLE rls_t ENABLE ROW LEVEL SECURITY;
CREATE POLICY nothing ON rls_t USING (false);
SET ROLE regress_fs_reader;
SELECT count(*) AS rows_visible FROM rls_t;
SELECT fs_get_features(ARRAY['u1'], ARRAY['rls:r']);
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['rls:r'])$$);
SELECT pg_temp.err($$SELECT * FROM fs_get_feature_vectors(ARRAY['u1'], ARRAY['rls:r'])$$);
RESET ROLE;
-- the table's owner is not subject to its policies: served
SET ROLE regress_fs_owner;
SELECT entity_id, feature_ref, value FROM fs_get_features(ARRAY['u1'], ARRAY['rls:r']);
RESET ROLE;
-- unless they are forced on the owner too
ALTER TABLE rls_t FORCE ROW LEVEL SECURITY;
SET ROLE regress_fs_owner;
SELECT count(*) AS rows_visible FROM rls_t;
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['u1'], ARRAY['rls:r'])$$);
RESET ROLE;
-- a superuser is never subject to row security
SELECT entity_id, feature_ref, value FROM fs_get_features(ARRAY['u1'], ARRAY['rls:r']);

DROP EXTENSION feature_store;
DROP TABLE priv_t, open_t, other_t, rls_t;
DROP ROLE regress_fs_owner;
DROP ROLE regress_fs_reader;
DROP ROLE regress_fs_other;

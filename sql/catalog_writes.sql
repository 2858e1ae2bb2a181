--
-- catalog_writes: PUBLIC may only read the catalog, so no role can lock it
-- against the extension's own work; writes go through the extension's
-- functions, which check as the caller; ingestion's runs and rejects belong
-- to the view they ran into by its identity, not its name.
--
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_store CASCADE;
DROP ROLE IF EXISTS regress_fs_cw_a;
DROP ROLE IF EXISTS regress_fs_cw_b;
DROP ROLE IF EXISTS regress_fs_cw_nobody;
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

CREATE ROLE regress_fs_cw_a;        -- owns a view, then drops it
CREATE ROLE regress_fs_cw_b;        -- registers a view of the same name later
CREATE ROLE regress_fs_cw_nobody;   -- has no privilege at all
GRANT CREATE ON SCHEMA public TO regress_fs_cw_a, regress_fs_cw_b;
SELECT name FROM fs_register_entity('user', 'user_id');

--
-- No role without privileges can lock a catalog table in any mode that
-- would hold up DROP TABLE (the sql_drop event trigger), a registration,
-- an ingestion or serving.
--
SET ROLE regress_fs_cw_nobody;
SELECT t, m, pg_temp.err(format('LOCK TABLE %I IN %s MODE', t, m)) AS err
  FROM unnest(ARRAY['fs_entity', 'fs_feature_view', 'fs_feature_service', 'fs_ingest_runs',
                    'fs_ingest_rejects']) t,
       unnest(ARRAY['ACCESS EXCLUSIVE', 'SHARE', 'ROW EXCLUSIVE']) m
 ORDER BY 1, 2;
-- nor write one directly, nor take the row locks of its rows
SELECT pg_temp.err($$SELECT * FROM fs_feature_view FOR UPDATE$$);
SELECT pg_temp.err($$SELECT * FROM fs_entity FOR KEY SHARE$$);
SELECT pg_temp.err($$INSERT INTO fs_ingest_runs (feature_view, source, mode) VALUES ('x', 'y', 'upsert')$$);
SELECT pg_temp.err($$INSERT INTO fs_ingest_rejects (run_id, reason) VALUES (1, 'x')$$);
SELECT pg_temp.err($$SELECT nextval('fs_ingest_runs_run_id_seq')$$);
-- reading stays open
SELECT count(*) >= 1 AS reads FROM fs_entity;
RESET ROLE;

--
-- Role a registers a view, ingests a raw value that fails its cast, and
-- drops the view; role b registers a view of the same name.
--
SET ROLE regress_fs_cw_a;
CREATE TABLE a_t (user_id text PRIMARY KEY, event_time timestamptz, ssn int);
SELECT name FROM fs_register_feature_view('reused', 'a_t', 'user');
CREATE TABLE a_src (user_id text, event_time text, ssn text);
INSERT INTO a_src VALUES ('u1', '2026-01-01 00:00:00+00', '123-45-6789'),
                         ('u2', '2026-01-01 00:00:00+00', '7');
SELECT run_id, rows_read, rows_rejected, rows_inserted FROM fs_ingest('reused', 'a_src');
SELECT fs_drop_feature_view('reused');
RESET ROLE;

SET ROLE regress_fs_cw_b;
CREATE TABLE b_t (user_id text PRIMARY KEY, event_time timestamptz, ssn int);
SELECT name FROM fs_register_feature_view('reused', 'b_t', 'user');
-- b sees no run or reject of a's view: it is another view, whatever its name
SELECT count(*) AS runs FROM fs_ingest_runs;
SELECT count(*) AS rejects FROM fs_ingest_rejects;
-- b's own run is b's
CREATE TABLE b_src (user_id text, event_time text, ssn text);
INSERT INTO b_src VALUES ('u9', '2026-01-01 00:00:00+00', 'x9');
SELECT run_id, rows_read, rows_rejected FROM fs_ingest('reused', 'b_src');
SELECT run_id, feature_view, run_by FROM fs_ingest_runs ORDER BY run_id;
SELECT run_id, entity_id, raw_value FROM fs_ingest_rejects ORDER BY run_id;
RESET ROLE;

-- a still sees its own run of the view that is gone, and not b's
SET ROLE regress_fs_cw_a;
SELECT run_id, feature_view, run_by FROM fs_ingest_runs ORDER BY run_id;
SELECT run_id, entity_id, raw_value FROM fs_ingest_rejects ORDER BY run_id;
RESET ROLE;

-- whoever may read b's table reads its runs, not the gone view's
GRANT SELECT ON b_t TO regress_fs_cw_nobody;
SET ROLE regress_fs_cw_nobody;
SELECT run_id, feature_view FROM fs_ingest_runs ORDER BY run_id;
SELECT run_id, raw_value FROM fs_ingest_rejects ORDER BY run_id;
RESET ROLE;
REVOKE SELECT ON b_t FROM regress_fs_cw_nobody;

-- a superuser sees all, each run tied to its own view
SELECT r.run_id, r.feature_view, r.view_id = v.view_id AS current_view
  FROM fs_ingest_runs r LEFT JOIN fs_feature_view v ON v.name = r.feature_view
 ORDER BY r.run_id;

--
-- Every write checks as the caller: another's view, entity or run cannot be
-- written, and calling a registry function's check alone writes nothing.
--
SET ROLE regress_fs_cw_a;
SELECT pg_temp.err($$SELECT fs_drop_feature_view('reused')$$);
SELECT pg_temp.err($$SELECT fs_drop_entity('user')$$);
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view('stolen', 'b_t', 'user')$$);
SELECT pg_temp.err($$SELECT fs_check_drop_entity('user')$$);
SELECT fs_check_register_feature_view('checked', 'a_t', 'user', NULL, 'event_time', NULL, NULL, NULL) AS passes;
SELECT count(*) AS registered FROM fs_feature_view WHERE name = 'checked';
-- a temporary table is refused however the registration is asked for
CREATE TEMP TABLE a_tmp (user_id text PRIMARY KEY, event_time timestamptz);
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view('tmp', 'a_tmp', 'user')$$);
SELECT pg_temp.err($$SELECT fs_ingest_begin_run('reused', 'a_src', 'upsert', now())$$);
-- b's run, as a: no reject, no end can be recorded for it
SELECT pg_temp.err(format('SELECT fs_ingest_add_reject(%s, %L, NULL, %L, %L)',
                          (SELECT max(run_id) FROM fs_ingest_runs), 'u1', 'forged', 'forged'));
SELECT pg_temp.err(format('SELECT fs_ingest_end_run(%s, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)',
                          (SELECT max(run_id) FROM fs_ingest_runs)));
-- ... nor for one of a's own that has ended
SELECT pg_temp.err($$SELECT fs_ingest_add_reject(1, 'u1', NULL, 'late', 'late')$$);
RESET ROLE;
-- a run recorded by hand must look like fs_ingest's: a known mode, started
-- now, and counts that are counts
SET ROLE regress_fs_cw_b;
SELECT pg_temp.err($$SELECT fs_ingest_begin_run('reused', 'b_src', 'bogus', now())$$);
SELECT pg_temp.err($$SELECT fs_ingest_begin_run('reused', 'b_src', 'upsert', '-infinity')$$);
BEGIN;
SELECT fs_ingest_begin_run('reused', 'b_src', 'upsert', clock_timestamp()) AS hand_run \gset
SELECT pg_temp.err(format('SELECT fs_ingest_end_run(%s, -1, 0, 0, 0, 0, 0, 0, 0, NULL, NULL, 0, 0, 0)', :hand_run));
SELECT pg_temp.err(format('SELECT fs_ingest_end_run(%s, 1, 0, 0, 0, 0, 0, 0, 0, NULL, NULL, ''NaN'', 0, 0)', :hand_run));
SELECT pg_temp.err(format('SELECT fs_ingest_end_run(%s, 1, 0, 0, 0, 1, 0, 0, 1, NULL, NULL, 0.5, 0, 0)', :hand_run));
ROLLBACK;
RESET ROLE;
SELECT fs_feature_view.name, ttl FROM fs_feature_view;
SELECT count(*) AS forged FROM fs_ingest_rejects WHERE reason IN ('forged', 'late');

--
-- fs_alter_feature_view: changes only what it is given.
--
SET ROLE regress_fs_cw_b;
SELECT name FROM fs_alter_feature_view('reused', ttl => '1 day', description => 'b''s view',
                             owner => 'team-b', tags => '{"tier": "gold", "pii": true}');
SELECT name, ttl, description, owner, tags FROM fs_feature_view WHERE name = 'reused';
-- tags merge key by key; a key given as null goes
SELECT name FROM fs_alter_feature_view('reused', tags => '{"tier": "silver", "pii": null, "new": 1}');
SELECT name, ttl, description, owner, tags FROM fs_feature_view WHERE name = 'reused';
-- the ttl, like the others, is cleared by reset
SELECT name FROM fs_alter_feature_view('reused', reset => '{ttl,owner}');
SELECT name, ttl, description, owner, tags FROM fs_feature_view WHERE name = 'reused';
SELECT name FROM fs_alter_feature_view('reused', reset => '{tags,description}');
SELECT name, ttl, description, owner, tags FROM fs_feature_view WHERE name = 'reused';
-- serving applies a changed ttl at once
INSERT INTO b_t VALUES ('u1', now() - interval '2 hours', 1);
SELECT status FROM fs_get_features(ARRAY['u1'], ARRAY['reused:ssn']);
SELECT name FROM fs_alter_feature_view('reused', ttl => '1 hour');
SELECT status FROM fs_get_features(ARRAY['u1'], ARRAY['reused:ssn']);
-- refusals
SELECT pg_temp.err($$SELECT name FROM fs_alter_feature_view('nope', ttl => '1 hour')$$);
SELECT pg_temp.err($$SELECT name FROM fs_alter_feature_view('reused', ttl => '-1 hour')$$);
SELECT pg_temp.err($$SELECT name FROM fs_alter_feature_view('reused', tags => '[1]')$$);
SELECT pg_temp.err($$SELECT name FROM fs_alter_feature_view('reused', reset => '{entity}')$$);
SELECT pg_temp.err($$SELECT name FROM fs_alter_feature_view('reused', ttl => '1 hour', reset => '{ttl}')$$);
-- a feature service has at most 10000 references
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_service('huge', array_fill('reused:ssn'::text, ARRAY[10001]))$$);
RESET ROLE;
SET ROLE regress_fs_cw_a;
SELECT pg_temp.err($$SELECT name FROM fs_alter_feature_view('reused', ttl => '1 hour')$$);
RESET ROLE;

-- clean up
DROP TABLE a_t, a_src, b_t, b_src, a_tmp;
SELECT fs_drop_entity('user');
REVOKE CREATE ON SCHEMA public FROM regress_fs_cw_a, regress_fs_cw_b;
DROP ROLE regress_fs_cw_a;
DROP ROLE regress_fs_cw_b;
DROP ROLE regress_fs_cw_nobody;

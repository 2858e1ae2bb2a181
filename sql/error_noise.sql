-- Errors of the registry, fs_ingest, fs_create_staging_table and
-- fs_write_features show the error, its detail and hint, and the user's
-- own context, never our PL/pgSQL lines or internal SQL (issue 11, item 8).
-- psql shows CONTEXT lines for errors by default, as here.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_store CASCADE;
CREATE EXTENSION feature_store;
RESET client_min_messages;
\set VERBOSITY default
\set SHOW_CONTEXT errors

CREATE TABLE noise_activity (user_id text PRIMARY KEY, event_time timestamptz NOT NULL,
    clicks bigint CHECK (clicks >= 0), ctr float8);
SELECT name FROM fs_register_entity('user', 'user_id');
SELECT name FROM fs_register_feature_view('activity', 'noise_activity', 'user');

-- The registry: errors of its checks, called directly and from a DO block
-- (whose own lines stay).
SELECT name FROM fs_register_entity('user', 'user_id');
SELECT name FROM fs_register_feature_view('activity', 'noise_activity', 'user');
SELECT name FROM fs_register_feature_view('activity2', 'noise_activity', 'user', ttl => '-1 day');
SELECT name FROM fs_register_feature_service('svc', ARRAY['nope:x']);
SELECT name FROM fs_alter_feature_view('nope', ttl => '1 day');
SELECT fs_drop_feature_view('nope');
SELECT fs_drop_feature_service('nope');
SELECT fs_drop_entity('nope');
DO $$
BEGIN
    PERFORM fs_register_entity('user', 'user_id');
END
$$;

-- fs_ingest: its own errors, an error of the run's SQL, and a user's
-- trigger (whose line stays).
CREATE TABLE noise_src (user_id text, event_time text, clicks text, ctr text);
INSERT INTO noise_src VALUES ('u1', '2026-01-01 00:00:00+00', '3', '0.5');
SELECT * FROM fs_ingest('nope', 'noise_src');
SELECT * FROM fs_ingest('activity', 'noise_src', 'sometimes');
SELECT * FROM fs_ingest('activity', NULL);
DO $$
BEGIN
    PERFORM * FROM fs_ingest('activity', 'noise_src', 'sometimes');
END
$$;
CREATE FUNCTION noise_refuse_u1() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.user_id = 'u1' THEN
        RAISE EXCEPTION 'u1 is frozen' USING ERRCODE = 'P0001';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER noise_refuse_u1 BEFORE INSERT OR UPDATE ON noise_activity
    FOR EACH ROW EXECUTE FUNCTION noise_refuse_u1();
SELECT * FROM fs_ingest('activity', 'noise_src');
DROP TRIGGER noise_refuse_u1 ON noise_activity;
-- It still ingests, and returns its counts as before.
SELECT rows_read, rows_rejected, rows_inserted, online_writes FROM fs_ingest('activity', 'noise_src');
SELECT (fs_ingest('activity', 'noise_src')).rows_unchanged;

-- fs_create_staging_table: its own errors (with their hints), from a DO
-- block (whose own line stays), and those of the DROP TABLE and CREATE
-- TABLE it runs, without that SQL.
SELECT fs_create_staging_table('nope');
SELECT fs_create_staging_table('activity', 'noise_in', features => ARRAY['clicks', 'click']);
SELECT fs_create_staging_table('activity', 'noise_in') AS staging;
SELECT fs_create_staging_table('activity', 'noise_in');
DO $$
BEGIN
    PERFORM fs_create_staging_table('activity', 'noise_in');
END
$$;
-- A function over the staging table's row type: DROP TABLE refuses.
CREATE FUNCTION noise_in_clicks(r noise_in) RETURNS text LANGUAGE sql AS 'SELECT r.clicks';
SELECT fs_create_staging_table('activity', 'noise_in', replace => true);
DROP FUNCTION noise_in_clicks(noise_in);
-- A type of that name: CREATE TABLE refuses.
CREATE TYPE noise_typed AS ENUM ('x');
SELECT fs_create_staging_table('activity', 'noise_typed');
DROP TYPE noise_typed;
-- It still creates and re-creates, and returns the table.
SELECT fs_create_staging_table('activity', 'noise_in', replace => true) AS staging;
SELECT fs_create_staging_table('activity', 'noise_in', ARRAY['ctr'], true) AS staging;
SELECT string_agg(attname, ', ' ORDER BY attnum) AS columns
  FROM pg_attribute WHERE attrelid = 'noise_in'::regclass AND attnum > 0;

-- fs_write_features: a CHECK violation names the view, the entity and the
-- constraint, and shows the features given, not the row proposed.
SELECT fs_write_features('activity', 'u2', '{"clicks": -1}');
SELECT fs_write_features('activity', 'u1', '{"clicks": -1, "ctr": 0.25}');
\echo :LAST_ERROR_SQLSTATE
SELECT user_id, clicks, ctr FROM noise_activity ORDER BY user_id;
-- A CHECK of another table, broken in a user's trigger, is that table's
-- error with the trigger's context, not one of the view's table.
CREATE TABLE noise_audit (clicks bigint CONSTRAINT noise_audit_small CHECK (clicks < 100));
CREATE FUNCTION noise_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO noise_audit VALUES (NEW.clicks);
    RETURN NEW;
END
$$;
CREATE TRIGGER noise_audit BEFORE INSERT OR UPDATE ON noise_activity
    FOR EACH ROW EXECUTE FUNCTION noise_audit();
SELECT fs_write_features('activity', 'u3', '{"clicks": 500}');
DROP TRIGGER noise_audit ON noise_activity;

DROP EXTENSION feature_store CASCADE;
DROP TABLE noise_activity, noise_src, noise_in, noise_audit;
DROP FUNCTION noise_refuse_u1();
DROP FUNCTION noise_audit();

-- Robustness: re-entrance, drops by other roles, temporary tables, cancels
-- inside key conversion, ids that are one key, extreme ttls.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_store CASCADE;
CREATE SCHEMA rb_fs;
CREATE EXTENSION feature_store SCHEMA rb_fs;
RESET client_min_messages;
SET search_path = public, rb_fs;
SET timezone = 'UTC';

SELECT name FROM fs_register_entity('thing', 'id');

-- User code that runs in the middle of a call (a join-key domain's CHECK)
-- changes the catalog and re-enters resolution: the outer call's view must
-- stay intact.
CREATE FUNCTION rb_check(int) RETURNS bool LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT FROM rb_fs.fs_feature_view WHERE name = 'rb_k') THEN
        DELETE FROM rb_fs.fs_feature_service WHERE false;   -- statement trigger: cache stale
        PERFORM count(*) FROM rb_fs.fs_resolve_refs(ARRAY['rb_k:f']);
    END IF;
    RETURN true;
END $$;
CREATE DOMAIN rb_key AS int CHECK (rb_check(VALUE));
CREATE TABLE rb_k (id rb_key PRIMARY KEY, event_time timestamptz, f text);
INSERT INTO rb_k VALUES (1, '2026-01-01 00:00:00+00', 'a'), (2, '2026-01-01 00:00:00+00', 'b');
SELECT name FROM fs_register_feature_view('rb_k', 'rb_k', 'thing');
SELECT entity_id, feature_ref, value, status
  FROM fs_get_features(ARRAY['1', '2', '3'], ARRAY['rb_k:f']);

-- A cancel inside key conversion stays a cancel (57014), not a bad id.
CREATE FUNCTION rb_slow(int) RETURNS bool LANGUAGE sql AS 'SELECT pg_sleep(0.3) IS NOT NULL';
CREATE DOMAIN rb_slowkey AS int CHECK (rb_slow(VALUE));
CREATE TABLE rb_s (id rb_slowkey PRIMARY KEY, event_time timestamptz, f text);
SELECT name FROM fs_register_feature_view('rb_s', 'rb_s', 'thing');
SET statement_timeout = '100ms';
SELECT * FROM fs_get_features(ARRAY['1'], ARRAY['rb_s:f']);
RESET statement_timeout;
-- A value the domain refuses is a bad id.
CREATE DOMAIN rb_poskey AS int CHECK (VALUE > 0);
CREATE TABLE rb_p (id rb_poskey PRIMARY KEY, event_time timestamptz, f text);
SELECT name FROM fs_register_feature_view('rb_p', 'rb_p', 'thing');
SELECT * FROM fs_get_features(ARRAY['-1'], ARRAY['rb_p:f']);

-- Ids that differ as text but are one key are each served.
INSERT INTO rb_p VALUES (7, '2026-01-01 00:00:00+00', 'seven');
SELECT entity_id, value, status FROM fs_get_features(ARRAY['7', '007', ' 7', '8'], ARRAY['rb_p:f']);

-- A ttl past the representable range serves everything.
CREATE TABLE rb_old (id int PRIMARY KEY, event_time timestamptz, f text);
INSERT INTO rb_old VALUES (1, '1990-01-01 00:00:00+00', 'old');
SELECT name FROM fs_register_feature_view('rb_old', 'rb_old', 'thing', ttl => '200000 years');
SELECT entity_id, value, status FROM fs_get_features(ARRAY['1'], ARRAY['rb_old:f']);

-- Temporary tables are refused: their drop fires no event trigger.
CREATE TEMP TABLE rb_tmp (id int PRIMARY KEY, event_time timestamptz, f text);
SELECT name FROM fs_register_feature_view('rb_tmp', 'rb_tmp', 'thing');

-- Roles that cannot see the extension's schema can still drop their tables,
-- and cannot register a view over a relation that does not exist.
CREATE ROLE rb_alice;
GRANT CREATE ON SCHEMA public TO rb_alice;
SET ROLE rb_alice;
CREATE TABLE rb_alice_t (x int);
DROP TABLE rb_alice_t;
CREATE TEMP TABLE rb_alice_tmp (x int);
DROP TABLE rb_alice_tmp;
RESET ROLE;
GRANT USAGE ON SCHEMA rb_fs TO rb_alice;
SET ROLE rb_alice;
INSERT INTO rb_fs.fs_feature_view (name, relation, entity) VALUES ('ghost', 999999, 'thing');
RESET ROLE;

-- Clean up.
REVOKE ALL ON SCHEMA public FROM rb_alice;
REVOKE ALL ON SCHEMA rb_fs FROM rb_alice;
DROP ROLE rb_alice;
SET client_min_messages = warning;
DROP TABLE rb_k, rb_s, rb_p, rb_old;
DROP DOMAIN rb_key, rb_slowkey, rb_poskey;
DROP FUNCTION rb_check(int), rb_slow(int);
DROP EXTENSION feature_store;
DROP SCHEMA rb_fs;

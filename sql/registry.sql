--
-- registry: entities, feature views, feature services, their refusals,
-- drops, the feature_registry view and the catalog under pg_dump.
--
-- pg_regress may have loaded the extension already; start from scratch.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS feature_store CASCADE;
RESET client_min_messages;
CREATE EXTENSION feature_store;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
\set SHOW_CONTEXT never

-- SQLSTATE and message of a statement's error, or 'no error'.
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN EXECUTE q; RETURN 'no error'; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;

-- The catalog tables are extension configuration: pg_dump dumps their rows.
SELECT unnest(extconfig)::regclass AS config_table
  FROM pg_extension WHERE extname = 'feature_store' ORDER BY 1::text;

CREATE TABLE users_t (
    user_id    text PRIMARY KEY,
    event_time timestamptz NOT NULL,
    clicks_7d  bigint,
    ctr        float8,
    country    varchar(2),
    embedding  real[]
);
COMMENT ON COLUMN users_t.ctr IS 'click-through rate over 7 days';
CREATE TABLE items_t (
    item_id integer UNIQUE,         -- a unique constraint serves as well as a key
    ts      timestamptz,
    price   numeric(10,2)
);

--
-- Entities
--
SELECT name FROM fs_register_entity('user', 'user_id', 'a signed-in person');
SELECT name FROM fs_register_entity('item', 'item_id');
SELECT name, join_key, description, registered_by FROM fs_entity ORDER BY name;

-- refusals
SELECT pg_temp.err($$SELECT name FROM fs_register_entity('user', 'uid')$$);
SELECT pg_temp.err($$SELECT name FROM fs_register_entity('us:er', 'user_id')$$);
SELECT pg_temp.err($$SELECT name FROM fs_register_entity('', 'user_id')$$);
SELECT pg_temp.err($$SELECT name FROM fs_register_entity(NULL, 'user_id')$$);
SELECT pg_temp.err($$SELECT name FROM fs_register_entity(repeat('e', 64), 'user_id')$$);
SELECT pg_temp.err($$SELECT name FROM fs_register_entity('shop', '')$$);
SELECT pg_temp.err($$SELECT name FROM fs_register_entity('shop', NULL)$$);
SELECT name FROM fs_register_entity('us:er', 'user_id');
SELECT name FROM fs_register_entity('user', 'uid');
-- nothing was written by the refusals
SELECT count(*) AS entities FROM fs_entity;

--
-- Feature views
--
SELECT name FROM fs_register_feature_view('user_stats', 'users_t', 'user',
                                ttl => '7 days',
                                description => 'engagement of a user',
                                owner => 'ranking-team',
                                tags => '{"tier": "gold", "pii": false}');
SELECT name FROM fs_register_feature_view('item_stats', 'items_t', 'item', event_time_column => 'ts');
SELECT name, relation, entity, ttl, event_time_column, description, owner, tags, registered_by
  FROM fs_feature_view ORDER BY name;

-- feature_registry: one row per feature, in column order; the join key and
-- the event-time column are not features; a column comment overrides the
-- view's description.
SELECT * FROM feature_registry;
SELECT feature_view, count(*) FROM feature_registry GROUP BY 1 ORDER BY 1;

-- relation without a unique index on the join key
CREATE TABLE no_index_t (user_id text, event_time timestamptz, x int);
SELECT name FROM fs_register_feature_view('no_index', 'no_index_t', 'user');
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view('no_index', 'no_index_t', 'user')$$);
-- a plain (non-unique) index does not do
CREATE INDEX ON no_index_t (user_id);
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view('no_index', 'no_index_t', 'user')$$);
-- nor a unique index over more than the key
CREATE UNIQUE INDEX ON no_index_t (user_id, x);
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view('no_index', 'no_index_t', 'user')$$);
-- nor a partial unique index, nor one on an expression
CREATE UNIQUE INDEX ON no_index_t (user_id) WHERE x > 0;
CREATE UNIQUE INDEX ON no_index_t (lower(user_id));
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view('no_index', 'no_index_t', 'user')$$);
-- nor a unique index on another column
CREATE UNIQUE INDEX ON no_index_t (x);
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view('no_index', 'no_index_t', 'user')$$);
-- nor an INVALID unique index, as a failed CREATE UNIQUE INDEX CONCURRENTLY
-- leaves: refused at registration, and by serving a registration made by hand
CREATE TABLE invalid_index_t (user_id text, event_time timestamptz, x int);
INSERT INTO invalid_index_t VALUES ('dup', now(), 1), ('dup', now(), 2);
CREATE UNIQUE INDEX CONCURRENTLY invalid_index_t_key ON invalid_index_t (user_id);
SELECT indisvalid FROM pg_index WHERE indexrelid = 'invalid_index_t_key'::regclass;
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view('invalid_index', 'invalid_index_t', 'user')$$);
INSERT INTO fs_feature_view (name, relation, entity) VALUES ('by_hand', 'invalid_index_t', 'user');
SELECT pg_temp.err($$SELECT * FROM fs_get_features(ARRAY['dup'], ARRAY['by_hand:x'])$$);
DELETE FROM fs_feature_view WHERE name = 'by_hand';
DROP TABLE invalid_index_t;
-- a plain unique index on the key does
CREATE UNIQUE INDEX ON no_index_t (user_id);
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view('no_index', 'no_index_t', 'user')$$);
SELECT fs_drop_feature_view('no_index');

-- missing join-key column
CREATE TABLE no_key_t (id text PRIMARY KEY, event_time timestamptz, x int);
SELECT name FROM fs_register_feature_view('no_key', 'no_key_t', 'user');
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view('no_key', 'no_key_t', 'user')$$);

-- missing event-time column
CREATE TABLE no_ts_t (user_id text PRIMARY KEY, updated_at timestamptz, x int);
SELECT name FROM fs_register_feature_view('no_ts', 'no_ts_t', 'user');
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view('no_ts', 'no_ts_t', 'user', event_time_column => 'updated')$$);
-- naming it works
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view('no_ts', 'no_ts_t', 'user', event_time_column => 'updated_at')$$);
SELECT fs_drop_feature_view('no_ts');

-- event time not timestamptz
CREATE TABLE ts_type_t (user_id text PRIMARY KEY, event_time timestamp, x int);
SELECT name FROM fs_register_feature_view('ts_type', 'ts_type_t', 'user');
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view('ts_type', 'ts_type_t', 'user')$$);
ALTER TABLE ts_type_t ALTER COLUMN event_time TYPE date;
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view('ts_type', 'ts_type_t', 'user')$$);

-- duplicate name
SELECT name FROM fs_register_feature_view('user_stats', 'users_t', 'user');
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view('user_stats', 'items_t', 'item', event_time_column => 'ts')$$);

-- unknown entity: the hint names the registered ones
SELECT name FROM fs_register_feature_view('shop_stats', 'users_t', 'shop');
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view('shop_stats', 'users_t', 'shop')$$);

-- not a table
CREATE VIEW users_v AS SELECT * FROM users_t;
SELECT name FROM fs_register_feature_view('user_view', 'users_v', 'user');
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view('user_view', 'users_v', 'user')$$);
CREATE MATERIALIZED VIEW users_mv AS SELECT * FROM users_t;
CREATE UNIQUE INDEX ON users_mv (user_id);
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view('user_mv', 'users_mv', 'user')$$);
CREATE SEQUENCE some_seq;
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view('seq', 'some_seq', 'user')$$);
-- a relation that does not exist fails in the regclass cast
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view('ghost', 'no_such_table', 'user')$$);

-- ttl must be positive
SELECT name FROM fs_register_feature_view('zero_ttl', 'users_t', 'user', ttl => '0 seconds');
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view('zero_ttl', 'users_t', 'user', ttl => '0 seconds')$$);
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view('neg_ttl', 'users_t', 'user', ttl => '-1 hour')$$);

-- names: no colon, 1 to 63 bytes
SELECT name FROM fs_register_feature_view('user:stats', 'users_t', 'user');
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view('user:stats', 'users_t', 'user')$$);
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view('', 'users_t', 'user')$$);
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view(repeat('v', 64), 'users_t', 'user')$$);
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view(repeat('v', 63), 'users_t', 'user')$$);
SELECT pg_temp.err($$SELECT fs_drop_feature_view(repeat('v', 63))$$);

-- nulls
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view('nulls', NULL, 'user')$$);
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_view('nulls', 'users_t', NULL)$$);

-- tags NULL is stored as '{}'
SELECT name FROM fs_register_feature_view('user_stats2', 'users_t', 'user', tags => NULL);
SELECT name, ttl, event_time_column, description, owner, tags
  FROM fs_feature_view WHERE name = 'user_stats2';
SELECT fs_drop_feature_view('user_stats2');

-- after all the refusals the catalog holds exactly the two views
SELECT name FROM fs_feature_view ORDER BY name;

--
-- Feature services
--
SELECT name FROM fs_register_feature_service('ranking',
    ARRAY['user_stats:ctr', 'user_stats:*'], 'features of the ranking model');
SELECT name FROM fs_register_feature_service('pricing', ARRAY['item_stats:price']);
SELECT name, feature_refs, description, registered_by FROM fs_feature_service ORDER BY name;

-- unknown view, unknown feature: 42704 with hints
SELECT name FROM fs_register_feature_service('bad', ARRAY['nope:ctr']);
SELECT name FROM fs_register_feature_service('bad', ARRAY['user_stats:nope']);
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_service('bad', ARRAY['user_stats:ctr', 'nope:ctr'])$$);
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_service('bad', ARRAY['user_stats:nope'])$$);
-- malformed references: 22023
SELECT name FROM fs_register_feature_service('bad', ARRAY['ranking']);
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_service('bad', ARRAY['ranking'])$$);
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_service('bad', ARRAY[':ctr'])$$);
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_service('bad', ARRAY['user_stats:'])$$);
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_service('bad', ARRAY['user_stats:ctr', NULL])$$);
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_service('bad', ARRAY['']::text[])$$);
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_service('bad', '{}')$$);
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_service('bad', NULL)$$);
-- references of two entities: 22023
SELECT name FROM fs_register_feature_service('bad', ARRAY['user_stats:ctr', 'item_stats:price']);
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_service('bad', ARRAY['user_stats:ctr', 'item_stats:price'])$$);
-- duplicate and malformed names
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_service('ranking', ARRAY['user_stats:ctr'])$$);
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_service('rank:ing', ARRAY['user_stats:ctr'])$$);
SELECT pg_temp.err($$SELECT name FROM fs_register_feature_service('', ARRAY['user_stats:ctr'])$$);
SELECT name FROM fs_feature_service ORDER BY name;

--
-- Drops
--
-- a view used by a service, an entity used by a view: 2BP01
SELECT fs_drop_feature_view('user_stats');
SELECT pg_temp.err($$SELECT fs_drop_feature_view('user_stats')$$);
SELECT fs_drop_entity('user');
SELECT pg_temp.err($$SELECT fs_drop_entity('user')$$);
-- unknown names: 42704
SELECT pg_temp.err($$SELECT fs_drop_feature_view('nope')$$);
SELECT pg_temp.err($$SELECT fs_drop_feature_service('nope')$$);
SELECT pg_temp.err($$SELECT fs_drop_entity('nope')$$);
SELECT pg_temp.err($$SELECT fs_drop_feature_view(NULL)$$);
-- in order, each drop succeeds and removes its rows
SELECT fs_drop_feature_service('ranking');
SELECT name FROM fs_feature_service ORDER BY name;
SELECT fs_drop_feature_view('user_stats');
SELECT name FROM fs_feature_view ORDER BY name;
SELECT DISTINCT feature_view FROM feature_registry;
SELECT fs_drop_entity('user');
SELECT name FROM fs_entity ORDER BY name;
-- dropping again: it is gone
SELECT pg_temp.err($$SELECT fs_drop_entity('user')$$);
-- the name is free again
SELECT name FROM fs_register_entity('user', 'user_id');
SELECT name FROM fs_register_feature_view('user_stats', 'users_t', 'user');
SELECT feature_view, feature, ttl, description, owner, tags
  FROM feature_registry WHERE feature_view = 'user_stats';

-- a relation in a schema off the search_path shows qualified
CREATE SCHEMA elsewhere;
CREATE TABLE elsewhere.users_t (user_id text PRIMARY KEY, event_time timestamptz, score int);
SELECT name FROM fs_register_feature_view('user_scores', 'elsewhere.users_t', 'user');
SELECT feature_view, feature, relation, store FROM feature_registry WHERE feature_view = 'user_scores';

DROP EXTENSION feature_store;
DROP SCHEMA elsewhere CASCADE;
DROP VIEW users_v;
DROP MATERIALIZED VIEW users_mv;
DROP TABLE users_t, items_t, no_index_t, no_key_t, no_ts_t, ts_type_t;
DROP SEQUENCE some_seq;

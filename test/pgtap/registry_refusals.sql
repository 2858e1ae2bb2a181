-- Every refusal of the registry functions, with its SQLSTATE and message,
-- and that a refusal writes nothing.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION feature_store;
SELECT plan(47);

SET LOCAL search_path = public;
CREATE TABLE tap_users (user_id text PRIMARY KEY, event_time timestamptz, clicks int);
CREATE TABLE tap_items (item_id int PRIMARY KEY, event_time timestamptz, price numeric);
CREATE TABLE tap_no_index (user_id text, event_time timestamptz, x int);
CREATE TABLE tap_no_key (id text PRIMARY KEY, event_time timestamptz, x int);
CREATE TABLE tap_no_ts (user_id text PRIMARY KEY, x int);
CREATE TABLE tap_ts_type (user_id text PRIMARY KEY, event_time timestamp, x int);
CREATE TABLE tap_rls (user_id text PRIMARY KEY, event_time timestamptz, x int);
ALTER TABLE tap_rls ENABLE ROW LEVEL SECURITY;
CREATE VIEW tap_view AS SELECT * FROM tap_users;

SELECT lives_ok($$SELECT name FROM fs_register_entity('user', 'user_id')$$, 'register entity user');
SELECT lives_ok($$SELECT name FROM fs_register_entity('item', 'item_id')$$, 'register entity item');
SELECT lives_ok($$SELECT name FROM fs_register_feature_view('users', 'tap_users', 'user')$$, 'register view users');
SELECT lives_ok($$SELECT name FROM fs_register_feature_view('items', 'tap_items', 'item')$$, 'register view items');
SELECT lives_ok($$SELECT name FROM fs_register_feature_service('svc', ARRAY['users:clicks'])$$, 'register service svc');

-- entities
SELECT throws_ok($$SELECT name FROM fs_register_entity('user', 'user_id')$$,
                 '42710', 'entity "user" already exists', 'duplicate entity');
SELECT throws_ok($$SELECT name FROM fs_register_entity('a:b', 'id')$$,
                 '22023', 'invalid entity name ''a:b''', 'entity name with a colon');
SELECT throws_ok($$SELECT name FROM fs_register_entity('', 'id')$$,
                 '22023', 'invalid entity name ''''', 'empty entity name');
SELECT throws_ok($$SELECT name FROM fs_register_entity(NULL, 'id')$$,
                 '22023', 'invalid entity name NULL', 'NULL entity name');
SELECT throws_ok($$SELECT name FROM fs_register_entity(repeat('x', 64), 'id')$$,
                 '22023', NULL, 'entity name of 64 bytes');
SELECT throws_ok($$SELECT name FROM fs_register_entity('shop', '')$$,
                 '22023', 'invalid join key ''''', 'empty join key');

-- feature views
SELECT throws_ok($$SELECT name FROM fs_register_feature_view('x', 'tap_no_index', 'user')$$,
                 '42P10', 'table public.tap_no_index has no unique index on its join key "user_id"',
                 'no unique index on the join key');
SELECT throws_ok($$SELECT name FROM fs_register_feature_view('x', 'tap_no_key', 'user')$$,
                 '42703', 'table public.tap_no_key has no column "user_id", the join key of entity "user"',
                 'missing join-key column');
SELECT throws_ok($$SELECT name FROM fs_register_feature_view('x', 'tap_no_ts', 'user')$$,
                 '42703', 'table public.tap_no_ts has no event-time column "event_time"',
                 'missing event-time column');
SELECT throws_ok($$SELECT name FROM fs_register_feature_view('x', 'tap_users', 'user', event_time_column => 'nope')$$,
                 '42703', 'table public.tap_users has no event-time column "nope"',
                 'named event-time column missing');
SELECT throws_ok($$SELECT name FROM fs_register_feature_view('x', 'tap_ts_type', 'user')$$,
                 '42804', 'event-time column "event_time" of table public.tap_ts_type is of type timestamp without time zone, not timestamp with time zone',
                 'event time not timestamptz');
SELECT throws_ok($$SELECT name FROM fs_register_feature_view('x', 'tap_users', 'user', event_time_column => 'clicks')$$,
                 '42804', NULL, 'an integer event-time column');
SELECT throws_ok($$SELECT name FROM fs_register_feature_view('users', 'tap_users', 'user')$$,
                 '42710', 'feature view "users" already exists', 'duplicate feature view');
SELECT throws_ok($$SELECT name FROM fs_register_feature_view('x', 'tap_users', 'nobody')$$,
                 '42704', 'entity "nobody" does not exist', 'unknown entity');
SELECT throws_ok($$SELECT name FROM fs_register_feature_view('x', 'tap_view', 'user')$$,
                 '42809', '"public.tap_view" is not a table or a foreign table of fs_dynamodb',
                 'a view is not a table');
SELECT throws_ok($$SELECT name FROM fs_register_feature_view('x', 'tap_rls', 'user')$$,
                 '0A000', 'table public.tap_rls has row-level security enabled',
                 'a table under row-level security');
SELECT throws_ok($$SELECT name FROM fs_register_feature_view('x', 'tap_users', 'user', ttl => '0 seconds')$$,
                 '22023', NULL, 'ttl of zero');
SELECT throws_ok($$SELECT name FROM fs_register_feature_view('x', 'tap_users', 'user', ttl => '-1 day')$$,
                 '22023', NULL, 'negative ttl');
SELECT throws_ok($$SELECT name FROM fs_register_feature_view('a:b', 'tap_users', 'user')$$,
                 '22023', 'invalid feature view name ''a:b''', 'view name with a colon');
SELECT throws_ok($$SELECT name FROM fs_register_feature_view('', 'tap_users', 'user')$$,
                 '22023', 'invalid feature view name ''''', 'empty view name');
SELECT throws_ok($$SELECT name FROM fs_register_feature_view('x', NULL, 'user')$$,
                 '22004', NULL, 'NULL relation');

-- feature services
SELECT throws_ok($$SELECT name FROM fs_register_feature_service('s2', ARRAY['nope:clicks'])$$,
                 '42704', 'feature view "nope" does not exist', 'service naming an unknown view');
SELECT throws_ok($$SELECT name FROM fs_register_feature_service('s2', ARRAY['users:nope'])$$,
                 '42704', 'feature view "users" has no feature "nope"', 'service naming an unknown feature');
SELECT throws_ok($$SELECT name FROM fs_register_feature_service('s2', ARRAY['svc'])$$,
                 '22023', 'invalid feature reference ''svc'' in a feature service',
                 'service naming a service');
SELECT throws_ok($$SELECT name FROM fs_register_feature_service('s2', ARRAY[':clicks'])$$,
                 '22023', 'invalid feature reference ":clicks"', 'service with '':clicks''');
SELECT throws_ok($$SELECT name FROM fs_register_feature_service('s2', ARRAY['users:'])$$,
                 '22023', 'invalid feature reference "users:"', 'service with ''users:''');
SELECT throws_ok($$SELECT name FROM fs_register_feature_service('s2', ARRAY['users:clicks', NULL])$$,
                 '22023', NULL, 'service with a NULL reference');
SELECT throws_ok($$SELECT name FROM fs_register_feature_service('s2', '{}')$$,
                 '22023', 'a feature service needs at least one feature reference', 'empty service');
SELECT throws_ok($$SELECT name FROM fs_register_feature_service('s2', ARRAY['users:clicks', 'items:price'])$$,
                 '22023', 'feature references span more than one entity', 'service over two entities');
SELECT throws_ok($$SELECT name FROM fs_register_feature_service('svc', ARRAY['users:clicks'])$$,
                 '42710', 'feature service "svc" already exists', 'duplicate service');
SELECT throws_ok($$SELECT name FROM fs_register_feature_service('s:2', ARRAY['users:clicks'])$$,
                 '22023', 'invalid feature service name ''s:2''', 'service name with a colon');

-- drops
SELECT throws_ok($$SELECT fs_drop_feature_view('users')$$,
                 '2BP01', 'cannot drop feature view "users" because feature services use it',
                 'drop of a view a service uses');
SELECT throws_ok($$SELECT fs_drop_entity('user')$$,
                 '2BP01', 'cannot drop entity "user" because feature views use it',
                 'drop of an entity a view uses');
SELECT throws_ok($$SELECT fs_drop_feature_view('nope')$$,
                 '42704', 'feature view "nope" does not exist', 'drop of an unknown view');
SELECT throws_ok($$SELECT fs_drop_feature_service('nope')$$,
                 '42704', 'feature service "nope" does not exist', 'drop of an unknown service');
SELECT throws_ok($$SELECT fs_drop_entity('nope')$$,
                 '42704', 'entity "nope" does not exist', 'drop of an unknown entity');

-- the refusals wrote nothing
SELECT results_eq($$SELECT name FROM fs_entity ORDER BY name$$, ARRAY['item', 'user'],
                  'only the two entities are registered');
SELECT results_eq($$SELECT name FROM fs_feature_view ORDER BY name$$, ARRAY['items', 'users'],
                  'only the two views are registered');
SELECT results_eq($$SELECT name FROM fs_feature_service ORDER BY name$$, ARRAY['svc'],
                  'only the one service is registered');

-- the catalog's own constraints back the functions up
SELECT throws_ok($$INSERT INTO fs_entity (name, join_key) VALUES ('a:b', 'id')$$,
                 '23514', NULL, 'the catalog refuses a name with a colon');
SELECT throws_ok($$INSERT INTO fs_feature_view (name, relation, entity, ttl) VALUES ('z', 'tap_users', 'user', '-1 day')$$,
                 '23514', NULL, 'the catalog refuses a negative ttl');
SELECT throws_ok($$INSERT INTO fs_feature_view (name, relation, entity) VALUES ('z', 'tap_users', 'nobody')$$,
                 '23503', NULL, 'the catalog refuses an unknown entity');

SELECT * FROM finish();
ROLLBACK;

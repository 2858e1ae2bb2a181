-- fs_resolve_refs: what a list of references expands to, in order, with the
-- errors serving raises.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION feature_store;
SELECT plan(24);

SET LOCAL search_path = public;
CREATE TABLE rr_stats (user_id text PRIMARY KEY, event_time timestamptz,
                       clicks bigint, ctr float8, tags text[], country varchar(2));
CREATE TABLE rr_profile (user_id text PRIMARY KEY, ts timestamptz, age int, segment text);
CREATE TABLE rr_items (item_id int PRIMARY KEY, event_time timestamptz, price numeric(8,2));
CREATE TABLE rr_empty (user_id text PRIMARY KEY, event_time timestamptz);
SELECT name FROM fs_register_entity('user', 'user_id');
SELECT name FROM fs_register_entity('item', 'item_id');
SELECT name FROM fs_register_feature_view('stats', 'rr_stats', 'user');
SELECT name FROM fs_register_feature_view('profile', 'rr_profile', 'user', event_time_column => 'ts');
SELECT name FROM fs_register_feature_view('items', 'rr_items', 'item');
SELECT name FROM fs_register_feature_view('empty', 'rr_empty', 'user');
SELECT name FROM fs_register_feature_service('ranking', ARRAY['profile:segment', 'stats:ctr', 'profile:age']);
SELECT name FROM fs_register_feature_service('all_stats', ARRAY['stats:*']);

SELECT results_eq($$SELECT feature_ref, feature_view, feature, type, entity
                      FROM fs_resolve_refs(ARRAY['stats:ctr'])$$,
                  $$VALUES ('stats:ctr', 'stats', 'ctr', 'double precision', 'user')$$,
                  'one reference');
SELECT results_eq($$SELECT feature_ref, type FROM fs_resolve_refs(ARRAY['stats:*'])$$,
                  $$VALUES ('stats:clicks', 'bigint'), ('stats:ctr', 'double precision'),
                           ('stats:tags', 'text[]'), ('stats:country', 'character varying(2)')$$,
                  'a wildcard expands in column order, without the key and event time');
SELECT results_eq($$SELECT feature_ref FROM fs_resolve_refs(ARRAY['profile:*'])$$,
                  ARRAY['profile:age', 'profile:segment'],
                  'a named event-time column is not a feature');
SELECT results_eq($$SELECT feature_ref FROM fs_resolve_refs(ARRAY['stats:country', 'stats:clicks'])$$,
                  ARRAY['stats:country', 'stats:clicks'],
                  'references keep their order');
SELECT results_eq($$SELECT feature_ref FROM fs_resolve_refs(ARRAY['ranking'])$$,
                  ARRAY['profile:segment', 'stats:ctr', 'profile:age'],
                  'a service expands to its references in order');
SELECT results_eq($$SELECT feature_ref FROM fs_resolve_refs(ARRAY['stats:clicks', 'ranking', 'all_stats'])$$,
                  ARRAY['stats:clicks', 'profile:segment', 'stats:ctr', 'profile:age',
                        'stats:clicks', 'stats:ctr', 'stats:tags', 'stats:country'],
                  'services and references mix, each in place, duplicates kept');
SELECT results_eq($$SELECT feature_ref FROM fs_resolve_refs(ARRAY['empty:*', 'profile:age'])$$,
                  ARRAY['profile:age'],
                  'a view without features expands to nothing');
SELECT is((SELECT count(*)::int FROM fs_resolve_refs('{}')), 0, 'no references, no rows');
SELECT is((SELECT count(*)::int FROM fs_resolve_refs(NULL)), 0, 'NULL references, no rows');
SELECT results_eq($$SELECT feature_ref, type, entity FROM fs_resolve_refs(ARRAY['items:*'])$$,
                  $$VALUES ('items:price', 'numeric(8,2)', 'item')$$,
                  'a view of another entity');

-- errors
SELECT throws_ok($$SELECT * FROM fs_resolve_refs(ARRAY[':x'])$$, '22023',
                 'invalid feature reference ":x"', 'empty view name');
SELECT throws_ok($$SELECT * FROM fs_resolve_refs(ARRAY['stats:'])$$, '22023',
                 'invalid feature reference "stats:"', 'empty feature name');
SELECT throws_ok($$SELECT * FROM fs_resolve_refs(ARRAY[''])$$, '22023',
                 'invalid feature reference ""', 'empty reference');
SELECT throws_ok($$SELECT * FROM fs_resolve_refs(ARRAY['stats:ctr', NULL])$$, '22023',
                 'feature reference must not be null', 'NULL reference');
SELECT throws_ok($$SELECT * FROM fs_resolve_refs(ARRAY['nope:x'])$$, '42704',
                 'feature view "nope" does not exist', 'unknown view');
SELECT throws_ok($$SELECT * FROM fs_resolve_refs(ARRAY['stats:nope'])$$, '42704',
                 'feature view "stats" has no feature "nope"', 'unknown feature');
SELECT throws_ok($$SELECT * FROM fs_resolve_refs(ARRAY['stats:event_time'])$$, '42704',
                 'feature view "stats" has no feature "event_time"', 'the event time is not a feature');
SELECT throws_ok($$SELECT * FROM fs_resolve_refs(ARRAY['stats:user_id'])$$, '42704',
                 'feature view "stats" has no feature "user_id"', 'the join key is not a feature');
SELECT throws_ok($$SELECT * FROM fs_resolve_refs(ARRAY['nope'])$$, '42704',
                 'feature service "nope" does not exist', 'unknown service');
SELECT throws_ok($$SELECT * FROM fs_resolve_refs(ARRAY['stats:ctr', 'items:price'])$$, '22023',
                 'feature references span more than one entity', 'two entities');
SELECT throws_ok($$SELECT * FROM fs_resolve_refs(ARRAY['items:*', 'ranking'])$$, '22023',
                 'feature references span more than one entity', 'two entities through a service');

-- resolution follows the catalog within the transaction
SELECT fs_drop_feature_service('ranking');
SELECT name FROM fs_register_feature_service('ranking', ARRAY['stats:country']);
SELECT results_eq($$SELECT feature_ref FROM fs_resolve_refs(ARRAY['ranking'])$$,
                  ARRAY['stats:country'], 'a service re-registered resolves anew');
ALTER TABLE rr_stats ADD COLUMN score real;
ALTER TABLE rr_stats DROP COLUMN tags;
SELECT results_eq($$SELECT feature_ref, type FROM fs_resolve_refs(ARRAY['stats:*'])$$,
                  $$VALUES ('stats:clicks', 'bigint'), ('stats:ctr', 'double precision'),
                           ('stats:country', 'character varying(2)'), ('stats:score', 'real')$$,
                  'a wildcard follows ALTER TABLE');
SELECT fs_drop_feature_service('all_stats');
SELECT throws_ok($$SELECT * FROM fs_resolve_refs(ARRAY['all_stats'])$$, '42704',
                 'feature service "all_stats" does not exist', 'a dropped service is gone');

SELECT * FROM finish();
ROLLBACK;
